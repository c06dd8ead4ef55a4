"""aot prediction stores: the one layout every training job and baseline writes and the
evaluation and figures read (no torch: the CPU baselines write it too).

A prediction store holds ``probability (time, lat, lon)`` (float32) of the scored targets — the
validation and test targets of :func:`eoml.aot.samples.sample_table` — with the coordinate
``split(time)`` and the attributes :data:`PREDICTION_ATTRS` (``seed`` -1 for a baseline).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from eoml.core.errors import InputFileError
from eoml.core.store import open_store, write_store

PathLike = str | os.PathLike
PREDICTION_ATTRS = ("model", "config", "seed", "n_frames", "batch_size")


def scored_targets(table: pd.DataFrame) -> pd.DataFrame:
    """The rows of a sample table that are predicted and scored: validation and test targets."""
    return table[table["split"] != "train"].reset_index(drop=True)


def write_predictions(prob: np.ndarray, table: pd.DataFrame, ds: xr.Dataset, out: PathLike,
                      attrs: Mapping) -> Path:
    """``probability (time, lat, lon)`` of the scored targets (val and test) with their ``split``."""
    pred = xr.Dataset(
        {"probability": (("time", "lat", "lon"), prob.astype(np.float32),
                         {"long_name": "forecast probability of AOT above the threshold", "units": "1"})},
        coords={"time": ("time", table["time"].to_numpy(), {"long_name": "first day of the target composite"}),
                "split": ("time", table["split"].to_numpy().astype(str), {"long_name": "sample split"}),
                "lat": ds["lat"], "lon": ds["lon"]},
        attrs={"title": "aot forecast probabilities", **attrs},
    )
    return write_store(pred, out, config=dict(attrs))


@dataclass(frozen=True)
class Prediction:
    """One prediction store: its attributes and the (lazy) dataset."""

    path: Path
    model: str
    config: str
    seed: int
    n_frames: int
    batch_size: int
    ds: xr.Dataset

    @property
    def baseline(self) -> bool:
        return self.seed < 0

    @property
    def label(self) -> str:
        """The configuration id (a baseline's is its name)."""
        return self.config

    @property
    def splits(self) -> np.ndarray:
        """The ``split`` labels as Python strings (Zarr v3 may return numpy's ``StringDType``, which
        ``astype(str)`` cannot cast)."""
        return np.asarray(self.ds["split"].values, dtype=object).astype("U")

    def split(self, store_times: pd.Index, split: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(store indices, target times, probabilities (n, H, W))`` of one split; a target date the
        store does not hold is an :class:`InputFileError` naming this file."""
        sel = self.splits == split
        times = self.ds["time"].values[sel]
        pos = store_times.get_indexer(times)
        if (pos < 0).any():
            raise InputFileError(self.path, "holds target dates that are not in the store (stale predictions?)")
        return pos, times, self.ds["probability"].values[sel]


def read_predictions(paths: Sequence[PathLike]) -> list[Prediction]:
    """Open every prediction store (lazily) and check its layout; a bad one is an
    :class:`InputFileError` naming it."""
    out = []
    for path in paths:
        ds = open_store(path)
        missing = [a for a in PREDICTION_ATTRS if a not in ds.attrs]
        if missing:
            raise InputFileError(path, f"prediction store without the attribute(s) {missing}")
        if "probability" not in ds or "split" not in ds.coords:
            raise InputFileError(path, "prediction store needs a 'probability' variable and a 'split' coordinate")
        a = ds.attrs
        out.append(Prediction(Path(path), str(a["model"]), str(a["config"]), int(a["seed"]), int(a["n_frames"]),
                              int(a["batch_size"]), ds))
    if not out:
        raise ValueError("no prediction store given")
    return out
