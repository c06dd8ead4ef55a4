"""The scenes study's experiment grids as one list of training jobs (the workflow's single source).

Three grids, after Pires de Lima & Marfurt (2020), each crossed with ``seeds``:

1. ``optimizers`` — optimisers x backbones x depths on one dataset, from random weights (mode
   ``random``), with the grid's own batch size (the paper's 16);
2. ``transfer`` — datasets x backbones x depths x modes, ``feature_extraction`` and ``fine_tune``
   for each of ``inits`` (ImageNet by default), ``random`` always from random weights;
3. ``cross`` — a ``fine_tune`` model trained on ``source`` (ImageNet start, the transfer grid's
   optimiser) is fine-tuned on each target; the job's ``init`` is the source dataset's name.

A job is ``{dataset, backbone, depth, mode, init, optimizer, batch_size, seed}``; two grids that
ask for the same job share it (one training). :func:`source_job` names the run a cross job starts
from (itself a job of the list).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from eoml.core.errors import ConfigError

__all__ = ["DEMO_DATASET", "JOB_KEYS", "dataset_names", "jobs", "source_job"]

#: dataset name of the generated demo (source = demo)
DEMO_DATASET = "demo"
#: the fields of a job, in path order
JOB_KEYS = ("dataset", "backbone", "depth", "mode", "init", "optimizer", "batch_size", "seed")


def dataset_names(cfg: Mapping[str, Any]) -> list[str]:
    """Names of the configured datasets (``demo`` alone when ``source`` is demo)."""
    if cfg["source"] == "demo":
        return [DEMO_DATASET]
    return [str(d["name"]) for d in cfg["datasets"]]


def _job(dataset, backbone, depth, mode, init, optimizer, batch_size, seed) -> dict[str, Any]:
    return {"dataset": str(dataset), "backbone": str(backbone), "depth": str(depth), "mode": str(mode),
            "init": str(init), "optimizer": str(optimizer), "batch_size": int(batch_size), "seed": int(seed)}


def source_job(job: Mapping[str, Any], cfg: Mapping[str, Any]) -> dict[str, Any] | None:
    """The run a cross-dataset job starts from (its ``init`` names a dataset), else None."""
    if job["init"] in ("imagenet", "random"):
        return None
    return _job(job["init"], job["backbone"], job["depth"], "fine_tune", "imagenet", job["optimizer"],
                job["batch_size"], job["seed"])


def jobs(cfg: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every training job of the enabled grids, without duplicates, in a stable order."""
    names = dataset_names(cfg)
    seeds = [int(s) for s in cfg["seeds"]]
    batch = int(cfg["training"]["batch_size"])
    grids = cfg["experiments"]
    out: list[dict[str, Any]] = []

    opt = grids["optimizers"]
    if opt["enabled"]:
        dataset = opt["dataset"] or names[0]
        for backbone in opt["backbones"]:
            for depth in opt["depths"]:
                for optimizer in opt["optimizers"] or list(cfg["optimizers"]):
                    out += [_job(dataset, backbone, depth, "random", "random", optimizer, opt["batch_size"], s)
                            for s in seeds]

    tr = grids["transfer"]
    if tr["enabled"]:
        for dataset in tr["datasets"] or names:
            for backbone in tr["backbones"]:
                for depth in tr["depths"]:
                    for mode in tr["modes"]:
                        inits = ["random"] if mode == "random" else tr["inits"]
                        out += [_job(dataset, backbone, depth, mode, init, tr["optimizer"], batch, s)
                                for init in inits for s in seeds]

    cross = grids["cross"]
    if cross["enabled"]:
        source = cross["source"]
        for target in cross["targets"] or [n for n in names if n != source]:
            for backbone in cross["backbones"]:
                for depth in cross["depths"]:
                    for s in seeds:
                        job = _job(target, backbone, depth, "fine_tune", source, tr["optimizer"], batch, s)
                        out += [source_job(job, cfg), job]

    unique: dict[tuple, dict[str, Any]] = {}
    for job in out:
        unique.setdefault(tuple(job[k] for k in JOB_KEYS), job)
    if not unique:
        raise ConfigError("scenes.experiments: no grid is enabled (or every grid is empty)")
    return list(unique.values())
