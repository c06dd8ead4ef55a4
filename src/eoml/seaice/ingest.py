"""seaice ingest: one Sentinel-1 GRD product + its ice chart → one scene store at ``resolution_m``.

Steps (one job per scene):

1. :func:`eoml.seaice.readers.read_safe` — thermal-noise-corrected σ0 (linear) for HH and HV and
   the incidence angle on the product's line/pixel grid.
2. Block-average to ``resolution_m`` (default 80 m; EW GRDM has 40 m pixels, so 2 × 2 blocks) **in
   linear power**, then convert to dB — averaging dB values would bias the result low (the mean of
   logs is below the log of the mean) and is not what a multi-looked product is. A block with less
   than half of its pixels valid (noise-masked or border) is NaN.
3. The ice chart is rasterised onto the SAR pixels: each block centre's latitude / longitude comes
   from the annotation's geolocation tie-point grid (bilinear in line / pixel), is projected to
   the chart-raster CRS (``chart_crs``, default NSIDC polar stereographic north EPSG:3413), and
   looks up the chart rasterised there at ``resolution_m`` (nearest). Labels follow SIGRID-3
   (:mod:`eoml.seaice.charts`): 0 water, 1 ice, 255 ignore (land, unknown, outside the chart).
4. The store (Zarr, :func:`eoml.core.store.write_store`): dims ``(y, x)`` (line / pixel blocks),
   ``hh_db``, ``hv_db``, ``incidence_deg``, ``label``, ``latitude``, ``longitude``; attributes
   ``scene_id``, ``time`` (ISO, first line), ``month`` and ``season``.

Seasons, by the state of the ice surface off East Greenland: December–May winter (dry snow), June–
August melt (wet snow, melt ponds: low ice/water contrast), September–November freeze-up (new
ice). Karimzadeh & Pires de Lima call their cold-season (January) scenes "freeze-up"; here they are
"winter".
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from eoml.core.errors import InputFileError
from eoml.core.store import write_store
from eoml.seaice import charts
from eoml.seaice.readers import interpolate_grid, read_safe, to_db

log = logging.getLogger(__name__)

SEASONS = {**dict.fromkeys((12, 1, 2, 3, 4, 5), "winter"), **dict.fromkeys((6, 7, 8), "melt"),
           **dict.fromkeys((9, 10, 11), "freeze-up")}


def season_of(month: int) -> str:
    """The season of a month (1-12) in the study's grouping."""
    return SEASONS[int(month)]


def block_mean_power(a: np.ndarray, factor: int, min_valid_fraction: float = 0.5) -> np.ndarray:
    """NaN-aware mean over ``factor x factor`` blocks (trailing rows / columns trimmed).

    A block whose valid fraction is below ``min_valid_fraction`` is NaN.
    """
    factor = int(factor)
    h, w = (a.shape[0] // factor) * factor, (a.shape[1] // factor) * factor
    blocks = a[:h, :w].reshape(h // factor, factor, w // factor, factor)
    valid = np.isfinite(blocks)
    n = valid.sum(axis=(1, 3))
    total = np.where(valid, blocks, 0.0).sum(axis=(1, 3), dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = total / n
    return np.where(n >= min_valid_fraction * factor * factor, mean, np.nan).astype(np.float32)


def _block_factor(ds: xr.Dataset, resolution_m: float, path: str | Path) -> int:
    spacing = ds.attrs.get("range_pixel_spacing")
    if not spacing:
        raise InputFileError(path, "annotation gives no rangePixelSpacing: cannot resample to "
                             f"{resolution_m:g} m")
    factor = resolution_m / float(spacing)
    if factor < 1 or abs(factor - round(factor)) > 1e-6:
        raise InputFileError(path, f"{resolution_m:g} m is not a whole multiple of the {spacing:g} m pixels")
    return int(round(factor))


def chart_labels(chart: Mapping[str, Any], lat: np.ndarray, lon: np.ndarray, resolution_m: float,
                 crs: str = "EPSG:3413") -> np.ndarray:
    """Chart labels at the given latitudes / longitudes (nearest cell of the chart rasterised in ``crs``)."""
    from affine import Affine
    from pyproj import Transformer

    x, y = Transformer.from_crs("EPSG:4326", crs, always_xy=True).transform(lon, lat)
    pad = 2 * resolution_m
    x0, y1 = np.nanmin(x) - pad, np.nanmax(y) + pad
    nx = int(np.ceil((np.nanmax(x) + pad - x0) / resolution_m))
    ny = int(np.ceil((y1 - (np.nanmin(y) - pad)) / resolution_m))
    raster = charts.rasterize_chart(chart, Affine(resolution_m, 0.0, x0, 0.0, -resolution_m, y1), (ny, nx),
                                    crs=crs)
    col = np.clip(((x - x0) / resolution_m).astype(int), 0, nx - 1)
    row = np.clip(((y1 - y) / resolution_m).astype(int), 0, ny - 1)
    return raster[row, col]


def ingest_scene(safe: str | Path, chart: str | Path, output: str | Path, scene_id: str,
                 cfg: Mapping[str, Any]) -> Path:
    """Write the scene store of one SAR product and its chart (see the module docstring).

    ``cfg`` holds the validated ``seaice`` keys ``resolution_m``, ``chart_crs`` and
    ``min_valid_fraction`` (the schema fills them in).
    """
    res = float(cfg["resolution_m"])
    ds = read_safe(safe, ("HH", "HV"), strict=True)
    factor = _block_factor(ds, res, safe)
    frac = float(cfg["min_valid_fraction"])
    hh = block_mean_power(ds["sigma0_HH"].values, factor, frac)
    hv = block_mean_power(ds["sigma0_HV"].values, factor, frac)
    inc = block_mean_power(ds["incidence_deg"].values, factor, 1.0)
    # block centres in original line / pixel coordinates
    rows = (np.arange(hh.shape[0]) + 0.5) * factor - 0.5
    cols = (np.arange(hh.shape[1]) + 0.5) * factor - 0.5
    grid = {"line": ds["gcp_line"].values, "pixel": ds["gcp_pixel"].values,
            "latitude": ds["gcp_latitude"].values, "longitude": ds["gcp_longitude"].values}
    lat = interpolate_grid(grid, "latitude", rows, cols)
    lon = interpolate_grid(grid, "longitude", rows, cols)
    label = chart_labels(charts.read_ice_chart(chart), lat, lon, res, cfg["chart_crs"])
    label = np.where(np.isfinite(hh) & np.isfinite(hv), label, charts.IGNORE).astype(np.uint8)
    time = str(ds.attrs.get("first_line_time") or ds.attrs.get("start_time"))
    month = int(time[5:7])
    counts = np.bincount(label.ravel(), minlength=256)
    out = xr.Dataset(
        {
            "hh_db": (("y", "x"), to_db(hh).astype(np.float32), {"units": "dB", "long_name": "sigma0 HH (noise-corrected)"}),
            "hv_db": (("y", "x"), to_db(hv).astype(np.float32), {"units": "dB", "long_name": "sigma0 HV (noise-corrected)"}),
            "incidence_deg": (("y", "x"), inc, {"units": "degree", "long_name": "incidence angle"}),
            "label": (("y", "x"), label, {"units": "1", "long_name": "ice chart class (0 water, 1 ice, 255 ignore)",
                                          "flag_values": np.array([0, 1, 255], np.uint8),
                                          "flag_meanings": "water ice ignore"}),
            "latitude": (("y", "x"), lat.astype(np.float32), {"units": "degrees_north", "long_name": "latitude"}),
            "longitude": (("y", "x"), lon.astype(np.float32), {"units": "degrees_east", "long_name": "longitude"}),
        },
        coords={
            "y": ("y", rows, {"units": "1", "long_name": "line of the block centre in the GRD image"}),
            "x": ("x", cols, {"units": "1", "long_name": "pixel of the block centre in the GRD image"}),
        },
        attrs={"scene_id": scene_id, "time": time, "month": month, "season": season_of(month),
               "resolution_m": res, "block_factor": factor, "n_water": int(counts[0]),
               "n_ice": int(counts[1]), "n_ignore": int(counts[255]),
               **{k: ds.attrs[k] for k in ("mission", "mode", "product_type", "pass") if k in ds.attrs}},
    )
    log.info("%s (%s, %s): %d x %d at %g m; water %d, ice %d, ignore %d", scene_id, time[:10],
             season_of(month), hh.shape[0], hh.shape[1], res, counts[0], counts[1], counts[255])
    # provenance: every file of a SAFE folder (or the zip) and the chart
    safe = Path(safe)
    sources = sorted(p for p in safe.rglob("*") if p.is_file()) if safe.is_dir() else [safe]
    return write_store(out, output, sources=[*sources, Path(chart)], config=cfg)
