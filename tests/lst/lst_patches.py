"""Synthetic LST patch stores in the layout of :func:`eoml.lst.ingest.extract_patches`.

The fields are built at 250 m and aggregated, as a sensor would see them:

* NDVI (250 m): an agricultural / natural mosaic — Voronoi parcels (a few hundred metres to several
  km across) with a per-parcel NDVI drawn from bare-soil / crop / forest classes, a smooth regional
  greenness modulation and a little pixel noise; clipped to [-0.1, 0.95].
* LST (250 m): ``T0 + slope · (1 + 0.25 s(x)) · (NDVI − 0.5) + parcel offset + smooth field +
  noise`` — the near-linear, negative LST–NDVI relation every NDVI-based sharpener relies on
  (slope −12 to −24 K per NDVI unit per date, varying by ±25 % in space, ``s`` a smooth unit
  field), a per-parcel offset of 1 K std (soil moisture, irrigation, materials) and a smooth field
  of 2–4 K (topography, meteorology) that NDVI cannot explain, and 0.3 K of pixel noise that
  nothing can predict.
* LST (1 km): the 250 m field aggregated radiance-consistently, ``(mean T^4)^(1/4)``.

All patches of one date share ``T0`` and ``slope``; dates are split into train / val as whole
dates (the last ``n_val_dates`` dates are "val"). Deterministic for a given ``seed``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr
from scipy import ndimage
from scipy.spatial import cKDTree

from eoml.core.store import write_store
from eoml.lst.scaling import aggregate_lst

TILE = "h11v05"
NDVI_CLASSES = ((0.15, 0.05), (0.45, 0.12), (0.75, 0.08), (0.85, 0.04))  # soil, crops, green crops, forest


def _smooth_noise(rng: np.random.Generator, size: int, sigma: float) -> np.ndarray:
    """Unit-std Gaussian random field (Gaussian-filtered white noise, wrap-free)."""
    field = ndimage.gaussian_filter(rng.standard_normal((size, size)), sigma, mode="reflect")
    return (field - field.mean()) / (field.std() + 1e-12)


def synthetic_ndvi(rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray]:
    """A ``size x size`` 250 m NDVI mosaic (float64) and its parcel map (parcel number per pixel)."""
    n_parcels = int(rng.integers(size * size // 600, size * size // 150))
    seeds = rng.uniform(0, size, (n_parcels, 2))
    yy, xx = np.mgrid[0:size, 0:size]
    _, owner = cKDTree(seeds).query(np.column_stack([yy.ravel() + 0.5, xx.ravel() + 0.5]))
    classes = rng.integers(0, len(NDVI_CLASSES), n_parcels)
    means = np.array([NDVI_CLASSES[c][0] for c in classes])
    spread = np.array([NDVI_CLASSES[c][1] for c in classes])
    parcel_ndvi = means + spread * rng.standard_normal(n_parcels)
    ndvi = parcel_ndvi[owner].reshape(size, size)
    ndvi += 0.08 * _smooth_noise(rng, size, size / 8) + 0.02 * rng.standard_normal((size, size))
    return np.clip(ndvi, -0.1, 0.95), owner.reshape(size, size)


def synthetic_lst(rng: np.random.Generator, ndvi: np.ndarray, parcels: np.ndarray, t0: float,
                  slope: float) -> np.ndarray:
    """250 m LST (K) linked to ``ndvi`` (see the module docstring)."""
    size = ndvi.shape[-1]
    local_slope = slope * (1.0 + 0.25 * _smooth_noise(rng, size, size / 4))
    offsets = 1.0 * rng.standard_normal(int(parcels.max()) + 1)
    smooth = rng.uniform(2.0, 4.0) * _smooth_noise(rng, size, size / 6)
    return (t0 + local_slope * (ndvi - 0.5) + offsets[parcels] + smooth
            + 0.3 * rng.standard_normal(ndvi.shape))


def make_patch_dataset(
    n_train: int = 24,
    n_val: int = 8,
    patch_size: int = 64,
    factor: int = 4,
    seed: int = 0,
    n_dates: int = 4,
    n_val_dates: int = 1,
    return_fine_lst: bool = False,
) -> xr.Dataset:
    """A patch dataset (``lst`` 1 km K, ``ndvi`` 250 m; coords ``date, tile, row0, col0, split``).

    ``n_train`` patches are spread over the first ``n_dates - n_val_dates`` dates, ``n_val`` over
    the last ``n_val_dates``. With ``return_fine_lst`` the 250 m LST is added as ``lst_fine``
    (not part of the real schema; for checking 250 m predictions).
    """
    if not 1 <= n_val_dates < n_dates:
        raise ValueError("need 1 <= n_val_dates < n_dates")
    rng = np.random.default_rng(seed)
    fine = patch_size * factor
    dates = pd.date_range("2021-07-01", periods=n_dates, freq="2D")
    t0s = rng.uniform(298.0, 318.0, n_dates)
    slopes = rng.uniform(-24.0, -12.0, n_dates)
    train_dates = np.arange(n_dates - n_val_dates)
    val_dates = np.arange(n_dates - n_val_dates, n_dates)
    date_idx = np.concatenate([train_dates[np.arange(n_train) % train_dates.size],
                               val_dates[np.arange(n_val) % val_dates.size]])
    n = date_idx.size
    lst = np.empty((n, patch_size, patch_size), np.float32)
    ndvi = np.empty((n, fine, fine), np.float32)
    lst_fine = np.empty((n, fine, fine), np.float32)
    per_row = 1200 // patch_size
    slot = np.zeros(n_dates, int)
    rows, cols = np.empty(n, np.int32), np.empty(n, np.int32)
    for i, d in enumerate(date_idx):
        nd, parcels = synthetic_ndvi(rng, fine)
        tf = synthetic_lst(rng, nd, parcels, t0s[d], slopes[d])
        ndvi[i] = nd
        lst_fine[i] = tf
        lst[i] = aggregate_lst(tf, factor, "radiance")
        rows[i], cols[i] = divmod(slot[d], per_row)
        slot[d] += 1
    rows *= patch_size
    cols *= patch_size
    split = np.where(np.isin(date_idx, val_dates), "val", "train")
    data_vars = {
        "lst": (("patch", "y", "x"), lst, {"units": "K", "long_name": "1 km land-surface temperature"}),
        "ndvi": (("patch", "yf", "xf"), ndvi, {"units": "1", "long_name": "250 m NDVI"}),
    }
    if return_fine_lst:
        data_vars["lst_fine"] = (("patch", "yf", "xf"), lst_fine,
                                 {"units": "K", "long_name": "synthetic 250 m land-surface temperature"})
    return xr.Dataset(
        data_vars,
        coords={
            "patch": ("patch", np.arange(n, dtype=np.int32), {"units": "1", "long_name": "patch number"}),
            "date": ("patch", dates.values[date_idx], {"long_name": "acquisition date"}),
            "tile": ("patch", np.full(n, TILE, dtype=object), {"units": "1", "long_name": "MODIS tile"}),
            "row0": ("patch", rows, {"units": "1", "long_name": "first 1 km row of the patch in its tile"}),
            "col0": ("patch", cols, {"units": "1", "long_name": "first 1 km column of the patch in its tile"}),
            "split": ("patch", split.astype(object), {"units": "1", "long_name": "train or val"}),
        },
        attrs={"factor": int(factor), "patch_size": int(patch_size),
               "n_train": int(n_train), "n_val": int(n_val)},
    )


def write_patch_store(path: str | Path, **kwargs) -> Path:
    """Write :func:`make_patch_dataset` ``(**kwargs)`` as a Zarr store at ``path``; return ``path``."""
    ds = make_patch_dataset(**kwargs)
    n = ds.sizes["patch"]
    chunks = {"patch": min(n, 64), "y": ds.sizes["y"], "x": ds.sizes["x"],
              "yf": ds.sizes["yf"], "xf": ds.sizes["xf"]}
    return write_store(ds, path, config={"synthetic": True, **{k: v for k, v in kwargs.items()}},
                       chunks=chunks)
