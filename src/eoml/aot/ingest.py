"""aot ingest: raw 8-day AOT composites -> one ``(time, lat, lon)`` Zarr store on the study grid.

Every raw file is read by :mod:`eoml.aot.readers` (NEO float GeoTIFF or 8-bit PNG / TIFF, MOD08_E3
HDF4), averaged onto the global grid of ``grid`` degrees and stacked in time order. The average
is area-weighted (cos latitude) over the *valid* source pixels a target cell overlaps (exact
fractional overlaps, so any source resolution works, e.g. the paper's 3600 x 1800 -> 400 x 200);
a cell without any valid source pixel is NaN (unread).

Store variables: ``aot`` (float32, NaN unread), ``valid`` (bool) and ``target`` (int8: 1 where
AOT > ``threshold_aot``; unread pixels 0, the paper's labelling), chunked by time; coordinates
``time`` (first day of each composite), ``period`` (MODIS 8-day period index, year * 46 + (doy -
1) // 8), ``lat`` (descending), ``lon``. Composites missing from the series are gaps: logged with
their dates, never filled (:mod:`eoml.aot.samples` does not bridge them).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from eoml.core.errors import ConfigError, InputFileError
from eoml.core.store import write_store

log = logging.getLogger(__name__)

PERIODS_PER_YEAR = 46


def period_index(times) -> np.ndarray:
    """MODIS 8-day period index of each composite start date: ``year * 46 + (doy - 1) // 8``."""
    t = pd.DatetimeIndex(np.atleast_1d(times))
    return (t.year * PERIODS_PER_YEAR + (t.day_of_year - 1) // 8).to_numpy(dtype=np.int64)


def grid_shape(resolution: float) -> tuple[int, int]:
    """``(n_lat, n_lon)`` of the global grid of ``resolution`` degrees (it must tile the globe)."""
    n_lat = 180.0 / resolution
    if abs(n_lat - round(n_lat)) > 1e-6:
        raise ConfigError(f"aot.grid: {resolution} degrees does not divide 180 (the grid must tile the globe)")
    return round(n_lat), 2 * round(n_lat)


def grid_coords(resolution: float) -> tuple[np.ndarray, np.ndarray]:
    """Cell-centre latitudes (descending) and longitudes (ascending) of the global grid."""
    n_lat, n_lon = grid_shape(resolution)
    lat = 90.0 - resolution * (np.arange(n_lat) + 0.5)
    lon = -180.0 + resolution * (np.arange(n_lon) + 0.5)
    return lat, lon


def _overlaps(src_edges: np.ndarray, dst_edges: np.ndarray) -> np.ndarray:
    """``(n_dst, n_src)`` overlap lengths of ascending cell edges."""
    lo = np.maximum(dst_edges[:-1, None], src_edges[None, :-1])
    hi = np.minimum(dst_edges[1:, None], src_edges[None, 1:])
    return np.clip(hi - lo, 0.0, None)


def regrid_weights(src_lat: np.ndarray, src_lon: np.ndarray, resolution: float) -> tuple[np.ndarray, np.ndarray]:
    """Area weights ``(W_lat (n_lat, n_src_lat), W_lon (n_lon, n_src_lon))`` from a global source grid
    (cell centres, regular spacing) to the study grid; ``W_lat`` carries cos(latitude)."""
    def edges(centres, start):
        step = abs(float(centres[1] - centres[0])) if centres.size > 1 else 180.0
        return start + step * np.arange(centres.size + 1)

    n_lat, n_lon = grid_shape(resolution)
    # latitudes counted southward from 90 N (both grids descend), longitudes eastward from 180 W
    w_lat = _overlaps(edges(src_lat, 0.0), resolution * np.arange(n_lat + 1))
    w_lat = w_lat * np.cos(np.deg2rad(src_lat))[None, :]
    w_lon = _overlaps(edges(src_lon, 0.0), resolution * np.arange(n_lon + 1))
    return w_lat, w_lon


def regrid(aot: xr.DataArray, resolution: float, weights=None) -> np.ndarray:
    """Area-weighted mean of the valid pixels of a global ``(lat, lon)`` field on the study grid."""
    w_lat, w_lon = weights if weights is not None else regrid_weights(aot["lat"].values, aot["lon"].values, resolution)
    values = aot.values.astype(np.float64)
    valid = np.isfinite(values)
    total = w_lat @ np.where(valid, values, 0.0) @ w_lon.T
    weight = w_lat @ valid.astype(np.float64) @ w_lon.T
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(weight > 0, total / np.where(weight > 0, weight, 1.0), np.nan)
    return out.astype(np.float32)


def missing_periods(periods: np.ndarray) -> list[int]:
    """Period indices absent between the first and the last composite."""
    present = {int(p) for p in periods}
    return [p for p in range(int(periods.min()), int(periods.max()) + 1) if p not in present]


def period_start(period: int) -> str:
    year, k = divmod(int(period), PERIODS_PER_YEAR)
    return str((pd.Timestamp(year=year, month=1, day=1) + pd.Timedelta(days=8 * k)).date())


def store_dataset(aot: np.ndarray, times, lat: np.ndarray, lon: np.ndarray, threshold: float,
                  attrs: Mapping | None = None) -> xr.Dataset:
    """The store's dataset from AOT fields ``(time, lat, lon)`` (NaN unread) on the study grid."""
    times = np.asarray(times, dtype="datetime64[ns]")
    valid = np.isfinite(aot)
    target = (valid & (np.nan_to_num(aot, nan=0.0) > threshold)).astype(np.int8)
    return xr.Dataset(
        {
            "aot": (("time", "lat", "lon"), aot.astype(np.float32),
                    {"long_name": "aerosol optical thickness at 550 nm", "units": "1"}),
            "valid": (("time", "lat", "lon"), valid, {"long_name": "pixel read (at least one valid source pixel)"}),
            "target": (("time", "lat", "lon"), target,
                       {"long_name": f"high AOT: 1 where AOT > {threshold:g} (unread pixels 0)", "units": "1"}),
        },
        coords={
            "time": ("time", times, {"long_name": "first day of the 8-day composite"}),
            "period": ("time", period_index(times), {"long_name": "MODIS 8-day period index (year * 46 + (doy - 1) // 8)",
                                                     "units": "1"}),
            "lat": ("lat", lat, {"long_name": "latitude of the cell centre", "units": "degrees_north"}),
            "lon": ("lon", lon, {"long_name": "longitude of the cell centre", "units": "degrees_east"}),
        },
        attrs={"title": "8-day aerosol optical thickness composites", "threshold_aot": float(threshold),
               **dict(attrs or {})},
    )


def ingest(files: Sequence[str], source: str, out: str | Path, cfg: Mapping) -> Path:
    """Read every raw composite, average it onto the study grid and write the store."""
    from eoml.aot.readers import read_any

    if not files:
        raise ConfigError("aot: no raw files matched (aot.raw / the demo plan)")
    resolution, threshold = float(cfg["grid"]), float(cfg["threshold_aot"])
    lat, lon = grid_coords(resolution)
    fields, times, used, weights, shape = [], [], [], None, None
    for path in files:
        try:
            ds = read_any(path, source, neo_8bit_range=tuple(cfg["neo_8bit_range"]), mod08_sds=cfg["mod08_sds"])
        except InputFileError as exc:
            if cfg["on_bad_file"] != "skip":
                raise
            log.warning("skipping %s (on_bad_file: skip): %s", path, exc)
            continue
        if shape != ds["aot"].shape:  # the weights depend on the source grid only
            shape = ds["aot"].shape
            weights = regrid_weights(ds["lat"].values, ds["lon"].values, resolution)
        fields.append(regrid(ds["aot"], resolution, weights))
        times.append(np.datetime64(ds["time"].values, "ns"))
        used.append(path)
    if not fields:
        raise ConfigError("aot: every raw file was skipped")
    order = np.argsort(np.array(times))
    times = np.array(times)[order]
    used = [used[i] for i in order]
    periods = period_index(times)
    dup = np.flatnonzero(np.diff(periods) == 0)
    if dup.size:
        i = int(dup[0])
        raise InputFileError(used[i + 1], f"holds the same 8-day composite ({period_start(periods[i])}) as {used[i]}")
    gaps = missing_periods(periods)
    if gaps:
        log.warning("%d composite(s) missing from the series (gaps, never bridged): %s", len(gaps),
                    ", ".join(period_start(p) for p in gaps))
    aot = np.stack([fields[i] for i in order])
    ds = store_dataset(aot, times, lat, lon, threshold,
                       {"source_format": source, "grid_deg": resolution, "missing_periods": [period_start(p) for p in gaps]})
    valid = ds["valid"].values
    log.info("%d composites %s .. %s on %d x %d cells; %.1f %% of pixels valid, %.2f %% of valid pixels > %g",
             len(times), str(times[0])[:10], str(times[-1])[:10], lat.size, lon.size, 100 * valid.mean(),
             100 * ds["target"].values.sum() / max(valid.sum(), 1), threshold)
    return write_store(ds, out, sources=used, config=dict(cfg), chunks={"time": 8, "lat": lat.size, "lon": lon.size})
