"""aot samples: T previous composites -> the next composite's high-AOT mask.

A target frame ``t`` is usable when the ``history`` composites before it are all present and
consecutive (8-day period indices ``p_t - history ... p_t - 1``): a sample never bridges a gap in
the series, and every run (whatever its input length T <= history) and every baseline is scored
on the same target frames. The usable targets are split chronologically (70 / 10 / 20 by default:
the earliest for training, then validation, the latest for the test).

Inputs (``(C, T, H, W)`` float32, C = 2): the AOT standardised with the mean and standard deviation
of the valid training-period pixels, 0 where unread, and the validity mask (1 read, 0 unread), so
a clean pixel and an unread one never look alike.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import numpy as np
import pandas as pd
import xarray as xr

from eoml.core.errors import ConfigError

log = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")


def usable_targets(periods: np.ndarray, history: int) -> np.ndarray:
    """Indices ``t`` (into the store's time axis) whose ``history`` previous composites are consecutive."""
    periods = np.asarray(periods, dtype=np.int64)
    out = [t for t in range(history, periods.size)
           if periods[t] - periods[t - history] == history and np.all(np.diff(periods[t - history:t + 1]) == 1)]
    return np.asarray(out, dtype=np.int64)


def split_labels(n: int, fractions: Mapping[str, float]) -> np.ndarray:
    """Chronological split labels of ``n`` targets (``train`` first, then ``val``, then ``test``)."""
    n_train = round(fractions["train"] * n)
    n_val = round(fractions["val"] * n)
    labels = np.array(["test"] * n, dtype=object)
    labels[:n_train] = "train"
    labels[n_train:n_train + n_val] = "val"
    counts = {s: int((labels == s).sum()) for s in SPLITS}
    if min(counts.values()) < 1:
        raise ConfigError(f"aot.split: {n} usable targets give {counts}: every split needs at least one target")
    return labels


def sample_table(ds: xr.Dataset, cfg: Mapping) -> pd.DataFrame:
    """One row per usable target: ``index`` (into the store's time axis), ``time``, ``period``, ``split``."""
    periods = ds["period"].values
    history = int(cfg["history"])
    targets = usable_targets(periods, history)
    dropped = periods.size - history - targets.size
    if dropped > 0:
        log.info("%d target(s) left out: their %d previous composites cross a gap in the series", dropped, history)
    if targets.size == 0:
        raise ConfigError(f"aot: no target has {history} consecutive previous composites (aot.history)")
    labels = split_labels(targets.size, cfg["split"])
    table = pd.DataFrame({"index": targets, "time": ds["time"].values[targets], "period": periods[targets],
                          "split": labels})
    log.info("targets: %s", ", ".join(f"{s} {int((labels == s).sum())}" for s in SPLITS))
    return table


def input_stats(aot: np.ndarray, table: pd.DataFrame, history: int) -> tuple[float, float]:
    """Mean and standard deviation of the valid AOT of every frame a training sample reads."""
    frames = sorted({int(i) - k for i in table.loc[table["split"] == "train", "index"] for k in range(1, history + 1)})
    values = aot[frames]
    values = values[np.isfinite(values)]
    std = float(values.std())
    return float(values.mean()), std if std > 0 else 1.0


def input_frames(aot: np.ndarray, mean: float, std: float) -> np.ndarray:
    """``(time, 2, H, W)`` float32: standardised AOT (0 where unread) and the validity mask."""
    valid = np.isfinite(aot)
    x = np.where(valid, (np.nan_to_num(aot) - mean) / std, 0.0)
    return np.stack([x, valid], axis=1).astype(np.float32)


class SequenceDataset:
    """Samples ``{"x": (2, T, H, W), "y": (H, W) float 0 / 1}`` of the given target indices."""

    def __init__(self, frames: np.ndarray, target: np.ndarray, indices: np.ndarray, n_frames: int):
        import torch

        self.frames = torch.from_numpy(np.ascontiguousarray(frames))
        self.target = torch.from_numpy(np.ascontiguousarray(target, dtype=np.float32))
        self.indices = [int(i) for i in indices]
        self.n_frames = int(n_frames)

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int) -> dict:
        t = self.indices[i]
        x = self.frames[t - self.n_frames:t].transpose(0, 1)  # (T, C, H, W) -> (C, T, H, W)
        return {"x": x, "y": self.target[t]}
