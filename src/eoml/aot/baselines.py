"""aot baselines (CPU): persistence and climatology, written as the models' predictions.

* ``persistence``: the last composite's high-AOT mask is the forecast (probability 0 or 1). Its
  scores are the dataset's time-domain criterion dtc (:mod:`eoml.aot.evaluate`): a model must
  beat it to be of use.
* ``climatology``: the per-pixel frequency of high AOT in the training composites of the same
  8-day period of the year (pooled with ``climatology_halfwidth`` periods on either side); a
  period no training year covers falls back to the frequency over all training composites.
  "Training composites" are the store's frames up to the last training target.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from eoml.aot.ingest import PERIODS_PER_YEAR
from eoml.aot.predictions import scored_targets, write_predictions
from eoml.aot.runs import BASELINES
from eoml.aot.samples import sample_table
from eoml.core.errors import ConfigError
from eoml.core.store import open_store


def persistence(target: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """The previous composite's mask for every target index."""
    return target[np.asarray(indices) - 1].astype(np.float32)


def climatology(target: np.ndarray, periods: np.ndarray, train_end: int, indices: np.ndarray,
                halfwidth: int) -> np.ndarray:
    """Per-pixel exceedance frequency of the same period of the year in frames ``[0, train_end]``."""
    slots = np.asarray(periods) % PERIODS_PER_YEAR
    train = np.arange(int(train_end) + 1)
    overall = target[train].mean(axis=0)
    out = np.empty((len(indices), *target.shape[1:]), np.float32)
    for k, t in enumerate(indices):
        dist = np.abs(slots[train] - slots[t])
        dist = np.minimum(dist, PERIODS_PER_YEAR - dist)  # the year wraps around
        chosen = train[dist <= halfwidth]
        out[k] = target[chosen].mean(axis=0) if chosen.size else overall
    return out


def run_baseline(name: str, store: str | Path, out: str | Path, cfg: Mapping) -> Path:
    """Write the baseline's probability maps for the validation and test targets."""
    if name not in BASELINES:
        raise ConfigError(f"aot baseline {name!r} is not one of {BASELINES}")
    ds = open_store(store).load()
    table = sample_table(ds, cfg)
    target = ds["target"].values
    scored = scored_targets(table)
    idx = scored["index"].to_numpy()
    if name == "persistence":
        prob = persistence(target, idx)
    else:
        train_end = int(table.loc[table["split"] == "train", "index"].max())
        prob = climatology(target, ds["period"].values, train_end, idx, int(cfg["climatology_halfwidth"]))
    return write_predictions(prob, scored, ds, out, {"model": name, "config": name, "seed": -1, "n_frames": 1,
                                                     "batch_size": 0})
