"""Semantic checks of the ``scenes`` config section (what its JSON schema cannot say)."""

from __future__ import annotations

from eoml.core.errors import ConfigError


def check(sc: dict) -> None:
    from eoml.core.input_sizes import min_input_size
    from eoml.scenes.demo import CLASSES
    from eoml.scenes.experiments import dataset_names, jobs
    from eoml.scenes.ingest import NATIVE

    if sc["source"] == "folders":
        if not sc["datasets"]:
            raise ConfigError("  scenes.datasets: source is `folders`: list at least one {name, root, layout}")
        names = [d["name"] for d in sc["datasets"]]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ConfigError(f"  scenes.datasets: dataset names must be unique: {twice}")
    else:
        unknown = sorted(set(sc["demo"]["classes"]) - set(CLASSES))
        if unknown:
            raise ConfigError(f"  scenes.demo.classes: {unknown} are not generator classes; choose from {list(CLASSES)}")
    split = sc["split"]
    total = split["train"] + split["val"] + split["test"]
    if abs(total - 1.0) > 1e-6 or split["train"] <= 0 or split["val"] <= 0 or split["test"] <= 0:
        raise ConfigError(f"  scenes.split: train, val and test must be positive and sum to 1 (they sum to {total:g})")

    names = set(dataset_names(sc))
    grids = sc["experiments"]
    where = {
        "scenes.experiments.transfer.datasets": grids["transfer"]["datasets"] or [],
        "scenes.experiments.optimizers.dataset": [grids["optimizers"]["dataset"]] if grids["optimizers"]["dataset"] else [],
    }
    if grids["cross"]["enabled"]:
        if not grids["cross"]["source"]:
            raise ConfigError("  scenes.experiments.cross.source: name the dataset the models are first trained on")
        where["scenes.experiments.cross.source"] = [grids["cross"]["source"]]
        where["scenes.experiments.cross.targets"] = grids["cross"]["targets"] or []
        if len(names) < 2:
            raise ConfigError("  scenes.experiments.cross: needs at least two datasets")
    for key, listed in where.items():
        unknown = sorted(set(listed) - names)
        if unknown:
            raise ConfigError(f"  {key}: {unknown} are not configured datasets ({sorted(names)})")
    optimizers = set(sc["optimizers"])
    wanted = [grids["transfer"]["optimizer"], *(grids["optimizers"]["optimizers"] or [])]
    unknown = sorted(set(wanted) - optimizers)
    if unknown:
        raise ConfigError(f"  scenes.experiments: optimisers {unknown} are not in scenes.optimizers ({sorted(optimizers)})")
    for job in jobs(sc):
        if sc["image_size"] != NATIVE and sc["image_size"] < min_input_size(job["backbone"]):
            raise ConfigError(f"  scenes.image_size: {sc['image_size']} px is below {job['backbone']}'s minimum input "
                              f"({min_input_size(job['backbone'])} px)")
