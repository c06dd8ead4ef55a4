"""scenes baseline: a colour-histogram classifier, the floor that learnt features must beat.

Each image is described by its colour distribution only, with no spatial structure:
the histogram of each RGB band (``bins`` equal bins over 0–255) and of hue, saturation and value
(HSV, ``bins`` equal bins over [0, 1]; :func:`matplotlib.colors.rgb_to_hsv`), each normalised to
fractions of the image's pixels — ``6 × bins`` features (96 with 16 bins). A scikit-learn
classifier is trained on the store's train split:

* ``logistic_regression`` — standardised features, multinomial logistic regression (L-BFGS); the
  inverse regularisation ``C`` is chosen among :data:`C_GRID` on validation accuracy (as a
  training run keeps its best validation epoch), ties going to the stronger regularisation;
* ``random_forest`` — :data:`N_TREES` trees, ``random_state = seed``.

Scenes whose classes share colours (the demo's generator makes them so on purpose; residential
densities, fields vs. meadows) defeat it, while classes that differ in colour (water, beach,
forest) do not: a fine-tuned network must beat it to show that it learnt structure.

Output: a *run directory* exactly like a training run's (:mod:`eoml.scenes.evaluate`):
``predictions.csv`` (``attempt, sample, split, label, pred`` for every sample, attempt 0) and
``run.json`` with ``job = {dataset, backbone: "colour_histogram", depth: "none", mode: "baseline",
optimizer: <classifier>, init: "none", seed}`` and one attempt (``collapsed: false``;
``epochs_run``, ``best_epoch``, ``learning_rate`` and ``seconds_per_epoch`` null, as nothing is
trained by epochs; ``chance_acc`` = the majority-class frequency of the validation labels, as
a training run's;
``best_val_acc``; the chosen ``C``), ``n_parameters`` = ``n_trainable`` = the fitted
coefficients (logistic regression) or tree nodes (random forest). So
:func:`eoml.scenes.evaluate.score_runs` scores it with the same code as the networks, and
``accuracy.csv`` holds its rows (``mode = baseline``, empty ``epochs``) beside theirs.

Reference: Swain & Ballard (1991) "Color indexing", IJCV (colour histograms as image features).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.colors import rgb_to_hsv
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from eoml.core.errors import InputFileError
from eoml.scenes.evaluate import BASELINE_MODE, SPLITS, write_run

log = logging.getLogger(__name__)

BACKBONE = "colour_histogram"
CLASSIFIERS = ("logistic_regression", "random_forest")
C_GRID = (0.01, 0.1, 1.0, 10.0, 100.0)
N_TREES = 300
PIXELS_PER_CHUNK = 2_000_000  # images are read and binned this many pixels at a time


def _binned_counts(q: np.ndarray, bins: int) -> np.ndarray:
    """``q`` int (n, pixels, 3) bin indices in [0, bins) → (n, 3 × bins) pixel fractions."""
    n, pixels, bands = q.shape
    offset = (np.arange(n)[:, None, None] * bands + np.arange(bands)[None, None, :]) * bins
    counts = np.bincount((q + offset).ravel(), minlength=n * bands * bins)
    return counts.reshape(n, bands * bins) / pixels


def colour_histograms(images: np.ndarray, bins: int) -> np.ndarray:
    """uint8 ``(n, y, x, 3)`` RGB images → float ``(n, 6 × bins)``: RGB then HSV histograms."""
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
        raise ValueError(f"images must be uint8 (n, y, x, 3), got {images.dtype} {images.shape}")
    if not 2 <= bins <= 256:
        raise ValueError(f"bins must lie in 2..256, got {bins}")
    n = images.shape[0]
    flat = images.reshape(n, -1, 3)
    rgb = _binned_counts(flat.astype(np.int64) * bins // 256, bins)
    hsv = rgb_to_hsv(flat.astype(np.float64) / 255.0)
    hsv = _binned_counts(np.minimum((hsv * bins).astype(np.int64), bins - 1), bins)
    return np.concatenate([rgb, hsv], axis=1)


def _fit(classifier: str, x: np.ndarray, y: np.ndarray, seed: int, c: float | None):
    if classifier == "logistic_regression":
        model = make_pipeline(StandardScaler(),
                              LogisticRegression(C=c, max_iter=5000, random_state=seed))
    elif classifier == "random_forest":
        model = RandomForestClassifier(n_estimators=N_TREES, random_state=seed, n_jobs=1)
    else:
        raise ValueError(f"classifier must be one of {CLASSIFIERS}, got {classifier!r}")
    return model.fit(x, y)


def _n_parameters(model) -> int:
    if isinstance(model, RandomForestClassifier):
        return int(sum(t.tree_.node_count for t in model.estimators_))
    lr = model[-1]
    return int(lr.coef_.size + lr.intercept_.size)


def fit_histogram_classifier(
    features: np.ndarray,
    labels: np.ndarray,
    splits: Mapping[str, np.ndarray],
    *,
    classifier: str,
    seed: int,
) -> tuple[Any, np.ndarray, dict[str, Any]]:
    """Train on ``splits["train"]`` (``C`` chosen on ``splits["val"]``), predict every sample.

    ``splits`` maps ``train`` / ``val`` / ``test`` to sample positions. Returns the fitted model,
    the predictions of all samples and ``{"C": ..., "best_val_acc": ...}``.
    """
    train, val = np.asarray(splits["train"]), np.asarray(splits["val"])
    if train.size == 0 or np.unique(labels[train]).size < 2:
        raise ValueError("the train split needs samples of at least two classes")
    candidates = C_GRID if classifier == "logistic_regression" else (None,)
    best = None
    for c in candidates:  # ascending C: on a tie the stronger regularisation is kept
        model = _fit(classifier, features[train], labels[train], seed, c)
        val_acc = float(np.mean(model.predict(features[val]) == labels[val])) if val.size else float("nan")
        if best is None or val_acc > best[2]:
            best = (model, c, val_acc)
    model, c, val_acc = best
    return model, model.predict(features), {"C": c, "best_val_acc": val_acc}


def run_baseline(
    store: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    bins: int,
    classifier: str,
    seed: int,
) -> Path:
    """Colour-histogram baseline of one dataset's store → a run directory (see the module doc).

    ``store`` is a scenes store (:func:`eoml.scenes.data.open_scene_store`). Returns ``out_dir``.
    """
    from eoml.scenes.data import class_names, open_scene_store, split_indices

    if classifier not in CLASSIFIERS:
        raise ValueError(f"classifier must be one of {CLASSIFIERS}, got {classifier!r}")
    ds = open_scene_store(store)
    n = ds.sizes["sample"]
    per_image = ds.sizes["y"] * ds.sizes["x"]
    chunk = max(1, PIXELS_PER_CHUNK // per_image)
    features = np.concatenate([
        colour_histograms(np.asarray(ds["image"].isel(sample=slice(s, s + chunk)).values), bins)
        for s in range(0, n, chunk)
    ]) if n else np.zeros((0, 6 * bins))  # fmt: skip
    labels = np.asarray(ds["label"].values).astype(np.int64)
    splits = split_indices(ds)
    try:
        model, pred, info = fit_histogram_classifier(features, labels, splits, classifier=classifier,
                                                     seed=seed)
    except ValueError as exc:
        raise InputFileError(store, str(exc)) from exc
    val = np.asarray(splits["val"])
    chance = float(np.bincount(labels[val]).max() / val.size) if val.size else float("nan")
    split_name = np.full(n, "", dtype=object)
    for name in SPLITS:
        split_name[np.asarray(splits[name])] = name
    keep = split_name != ""
    preds = pd.DataFrame({"attempt": 0, "sample": np.arange(n)[keep], "split": split_name[keep],
                          "label": labels[keep], "pred": pred[keep].astype(np.int64)})
    n_params = _n_parameters(model)
    job = {"dataset": str(ds.attrs["dataset"]), "backbone": BACKBONE,
           "depth": "none", "mode": BASELINE_MODE, "optimizer": classifier, "init": "none",
           "seed": int(seed)}
    attempt = {"attempt": 0, "learning_rate": None, "collapsed": False, "best_epoch": None,
               "epochs_run": None, "best_val_acc": info["best_val_acc"], "chance_acc": chance,
               "seconds_per_epoch": None, "C": info["C"]}
    out = write_run(out_dir, job, [attempt], preds, n_parameters=n_params, n_trainable=n_params,
                    extra={"features": f"RGB + HSV histograms, {bins} bins per band "
                                       f"({6 * bins} features)",
                           "classes": list(class_names(ds))})
    log.info("%s: colour-histogram %s, validation accuracy %.3f (C=%s)", job["dataset"],
             classifier, info["best_val_acc"], info["C"])
    return out
