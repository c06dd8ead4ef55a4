"""A small synthetic aot store (the layout of eoml.aot.ingest) for the aot tests."""

from __future__ import annotations

import numpy as np
import pandas as pd

from eoml.aot.ingest import grid_coords, store_dataset
from eoml.core.store import write_store

CFG = {"history": 2, "split": {"train": 0.6, "val": 0.2, "test": 0.2}, "climatology_halfwidth": 1,
       "threshold": {"method": "max_f1", "value": 0.38}, "criteria": {"pairs": 50, "seed": 0}}


def composite_dates(first_year: int, n: int, skip: tuple[int, ...] = ()) -> list[pd.Timestamp]:
    """The first ``n`` MODIS 8-day composite start dates from ``first_year``, leaving out positions ``skip``."""
    days = []
    year = first_year
    while len(days) < n + len(skip):
        days += [pd.Timestamp(year=year, month=1, day=1) + pd.Timedelta(days=8 * k) for k in range(46)]
        year += 1
    return [d for i, d in enumerate(days[: n + len(skip)]) if i not in skip]


def synthetic_store(path, n: int = 40, resolution: float = 30.0, skip: tuple[int, ...] = (), seed: int = 0):
    """A moving high-AOT blob with noise and unread pixels on a coarse global grid; returns the path."""
    rng = np.random.default_rng(seed)
    lat, lon = grid_coords(resolution)
    times = composite_dates(2001, n, skip)
    aot = np.empty((len(times), lat.size, lon.size), np.float32)
    for t in range(len(times)):
        centre = (t * 2) % lon.size
        dist = np.abs((np.arange(lon.size) - centre + lon.size // 2) % lon.size - lon.size // 2)
        aot[t] = 0.2 + 1.2 * np.exp(-dist**2 / 4.0)[None, :] * np.exp(-np.arange(lat.size) ** 2 / 20.0)[:, None]
        aot[t] += rng.normal(0, 0.1, aot[t].shape)
    aot[rng.random(aot.shape) < 0.05] = np.nan
    write_store(store_dataset(aot, np.array(times, dtype="datetime64[ns]"), lat, lon, 0.8), path)
    return path
