"""seaice evaluation: per-scene segmentation scores, seed statistics and confusion matrices.

Each trained model (one encoder × init × seed) writes a predictions collection
(:func:`eoml.core.store.write_collection`, by :func:`eoml.seaice.train.predict_scenes`): one
group per test scene holding ``pred``, the ``(y, x)`` uint8 class map (0 water, 1 ice, 255 no
prediction), and root attributes ``encoder, init, seed, epochs_run, best_epoch``. :func:`evaluate` scores
every prediction against the chart label of the scene store (``label``: 0 water, 1 ice, 255
ignore) with :func:`eoml.seaice.metrics.scene_scores` — pixels ignored in either the
reference or the prediction are dropped, exactly as scikit-learn's ``f1_score`` /
``jaccard_score`` would score the remaining pixels with ``labels=[0, 1]``.

Outputs (all written atomically):

* ``segmentation.csv`` — one row per (model, test scene):
  ``init, seed, scene, f1_weighted, iou_micro, iou_macro, iou_weighted, epochs``
  (``epochs`` = the file's ``epochs_run``).
* ``summary.csv`` — mean and standard deviation over seeds (sample std, ``ddof=1``; empty when
  there is a single seed) per ``(init, scene)`` (``group = "scene"``) and per ``(init, season)``
  (``group = "season"``, season from the store attribute). For a season the scenes are *pooled*
  first — their confusion counts summed, then scored (:func:`~eoml.core.metrics.
  scores_from_confusion`) — per seed, as the literature reports scores over many scenes; the
  seed statistics are then taken over these pooled scores.
* ``confusion.csv`` — the row-normalised confusion matrices (rows = chart, columns =
  prediction), averaged over seeds per ``(init, scene)``, in long format
  ``init, scene, true, pred, fraction`` with class names ``water`` / ``ice``.

Models are keyed by ``init`` (the study compares ImageNet vs random initialisation of a single
encoder); two files with the same ``(init, seed)`` are refused rather than silently averaged.

References: Karimzadeh & Pires de Lima, ImageNet pre-training vs random initialisation for
Sentinel-1 ice/water segmentation (the study reproduced here); scikit-learn ``sklearn.metrics`` documentation for the score definitions.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from eoml.core.errors import InputFileError
from eoml.core.io import atomic_path
from eoml.core.metrics import scores_from_confusion
from eoml.core.store import open_collection, open_store
from eoml.seaice.metrics import scene_scores

PathLike = str | os.PathLike
PRED_VAR = "pred"
CLASS_NAMES = ("water", "ice")
SCORE_COLUMNS = ("f1_weighted", "iou_micro", "iou_macro", "iou_weighted")
METRIC_COLUMNS = ("init", "seed", "scene", *SCORE_COLUMNS, "epochs")
REQUIRED_ATTRS = ("encoder", "init", "seed", "epochs_run", "best_epoch")


def read_predictions(path: PathLike) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Read a predictions collection → ``(attrs, {scene_id: uint8 (y, x) array})``.

    Raises :class:`InputFileError` naming ``path`` when it is missing or not a collection
    (:func:`eoml.core.store.open_collection`), lacks one of the root attributes ``encoder, init,
    seed, epochs_run, best_epoch``, or has a scene group without a 2-D ``pred`` variable.
    """
    path = Path(path)
    tree = open_collection(path)
    attrs = dict(tree.attrs)
    missing = [a for a in REQUIRED_ATTRS if a not in attrs]
    if missing:
        raise InputFileError(path, f"missing root attribute(s) {missing}")
    preds = {}
    for scene in tree.children:
        if PRED_VAR not in tree[scene]:
            raise InputFileError(path, f"scene group {scene!r} has no {PRED_VAR!r} variable")
        preds[scene] = np.asarray(tree[scene][PRED_VAR].values)
        if preds[scene].ndim != 2:
            raise InputFileError(path, f"scene {scene}: {PRED_VAR} is not 2-D (shape {preds[scene].shape})")
    attrs["seed"] = int(attrs["seed"])
    attrs["epochs_run"] = int(attrs["epochs_run"])
    attrs["init"] = str(attrs["init"])
    return attrs, preds


def _read_scene(path: PathLike) -> tuple[np.ndarray, str]:
    ds = open_store(path)
    if "label" not in ds:
        raise InputFileError(path, "scene store has no 'label' variable")
    season = str(ds.attrs.get("season", "")).strip()
    if not season:
        raise InputFileError(path, "scene store has no 'season' attribute")
    return np.asarray(ds["label"].values), season


def _seed_stats(df: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    g = df.groupby(keys, sort=True)
    out = g.size().rename("n_seeds").to_frame()
    for col in SCORE_COLUMNS:
        out[f"{col}_mean"] = g[col].mean()
        out[f"{col}_std"] = g[col].std(ddof=1)
    return out.reset_index()


def evaluate(
    predictions: Sequence[PathLike],
    stores: Mapping[str, PathLike],
    metrics_csv: PathLike,
    summary_csv: PathLike,
    confusion_csv: PathLike | None = None,
) -> pd.DataFrame:
    """Score every prediction file against the scene stores; write the three CSV files.

    ``stores`` maps scene id → scene store path; every test scene of every predictions file must
    be in it, with the same ``(y, x)`` shape. ``confusion_csv`` defaults to ``confusion.csv``
    beside ``summary_csv``. Returns the per-scene table written to ``metrics_csv``.
    """
    if not predictions:
        raise ValueError("evaluate: no predictions files given")
    confusion_csv = (
        Path(summary_csv).with_name("confusion.csv") if confusion_csv is None else Path(confusion_csv)
    )
    scenes: dict[str, tuple[np.ndarray, str]] = {}
    rows: list[dict[str, Any]] = []
    conf_rows: list[dict[str, Any]] = []
    season_counts: dict[tuple[str, int, str], np.ndarray] = {}
    seen: dict[tuple[str, int], Path] = {}
    for pred_path in map(Path, predictions):
        attrs, preds = read_predictions(pred_path)
        init, seed = attrs["init"], attrs["seed"]
        if (init, seed) in seen:
            raise InputFileError(
                pred_path, f"init={init!r} seed={seed} already given by {seen[(init, seed)]}"
            )
        seen[(init, seed)] = pred_path
        for scene in sorted(preds):
            if scene not in stores:
                raise InputFileError(pred_path, f"scene {scene!r} has no scene store to score against")
            if scene not in scenes:
                scenes[scene] = _read_scene(stores[scene])
            label, season = scenes[scene]
            pred = preds[scene]
            if pred.shape != label.shape:
                raise InputFileError(
                    pred_path,
                    f"scene {scene}: {PRED_VAR} has shape {pred.shape}, the store label {label.shape}",
                )
            try:
                s = scene_scores(label, pred)
            except ValueError as exc:
                raise InputFileError(pred_path, f"scene {scene}: {exc}") from exc
            rows.append({"init": init, "seed": seed, "scene": scene,
                         **{c: s[c] for c in SCORE_COLUMNS}, "epochs": attrs["epochs_run"]})
            key = (init, seed, season)
            season_counts[key] = season_counts.get(key, 0) + s["counts"]
            for i, t in enumerate(CLASS_NAMES):
                for j, p in enumerate(CLASS_NAMES):
                    conf_rows.append({"init": init, "seed": seed, "scene": scene,
                                      "true": t, "pred": p, "fraction": s["confusion"][i, j]})

    metrics = pd.DataFrame(rows, columns=list(METRIC_COLUMNS))
    metrics = metrics.sort_values(["init", "seed", "scene"], kind="stable").reset_index(drop=True)

    per_scene = _seed_stats(metrics, ["init", "scene"]).rename(columns={"scene": "name"})
    per_scene.insert(1, "group", "scene")
    season_rows = []
    for (init, seed, season), counts in season_counts.items():
        s = scores_from_confusion(counts)
        season_rows.append({"init": init, "seed": seed, "season": season,
                            **{c: s[c] for c in SCORE_COLUMNS}})
    per_season = _seed_stats(pd.DataFrame(season_rows), ["init", "season"]).rename(
        columns={"season": "name"}
    )
    per_season.insert(1, "group", "season")
    summary = pd.concat([per_scene, per_season], ignore_index=True)

    conf = (
        pd.DataFrame(conf_rows)
        .groupby(["init", "scene", "true", "pred"], sort=False)["fraction"]
        .mean()
        .reset_index()
    )

    for df, path in ((metrics, metrics_csv), (summary, summary_csv), (conf, confusion_csv)):
        with atomic_path(path) as tmp:
            df.to_csv(tmp, index=False, float_format="%.6g")
    return metrics
