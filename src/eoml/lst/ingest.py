"""LST ingest: MODIS granule pairs → per-date scene stores → one patch store.

**Scene store** (:func:`ingest_scene`, one job per tile and date). The MOD11A1 LST (1 km) and
the MOD09GQ red/NIR (250 m) of one tile and date are read by :mod:`eoml.lst.readers` and put on
one sinusoidal grid after checking that

* both granules are the same tile and date,
* their top-left corners are equal (to a millimetre) and the 250 m grid is ``factor`` times the
  1 km grid in both directions,
* the valid LST lies in the physical range ``lst_range_k`` (default 250–340 K): pixels outside it
  are flagged invalid, and a granule whose valid pixels are *mostly* outside it is refused (a wrong
  scale factor, a Kelvin/Celsius mix-up),
* NDVI lies in [−1, 1] (outside → invalid).

The store keeps the LST (NaN where unusable: fill, cloud, "not produced", LST error class above
``max_lst_error_k``, out of range), the raw QC byte, the view zenith angle and the 250 m NDVI (NaN
where the MOD09GQ band quality is not "highest", the MODLAND QA says cloud / not produced, or the
reflectances are fill). Water (NDVI ≤ ``water_ndvi_max``) stays in the NDVI but is flagged by
``water``; pixel-class counts (clear, cloud, not produced, low quality, water) are logged and
stored as attributes.

**Patch store** (:func:`extract_patches`, one job). ``patch_size``² windows of the 1 km grid
(64 × 64 by default) every ``patch_stride`` pixels (non-overlapping by default; a smaller stride
gives overlapping patches, i.e. more training samples from few scenes) with their
``factor``-times larger NDVI windows; a patch is kept
only if every LST pixel is usable and every NDVI pixel is usable and not water, i.e. no cloudy,
sea, fill or low-QC pixel. Dates are split into train / validation as whole dates (a seeded random
choice of ``val_fraction`` of the dates, at least one on each side), so no scene contributes to
both. A scene without a single valid patch is logged and skipped. Layout (read by
:mod:`eoml.lst.train` and :mod:`eoml.lst.evaluate`): dims ``patch, y, x, yf, xf``; ``lst(patch, y,
x)`` K, ``ndvi(patch, yf, xf)``; per-patch coordinates ``date, tile, row0, col0, split``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from eoml.core.errors import EomlError, InputFileError
from eoml.core.store import open_store, write_store
from eoml.lst import readers

log = logging.getLogger(__name__)

#: refuse a granule when more than this fraction of its valid LST is outside the physical range
MAX_OUT_OF_RANGE_FRACTION = 0.5
_ALIGN_TOL_M = 1e-3


def _top_left(ds: xr.Dataset) -> tuple[float, float, float, float]:
    x, y = ds["x"].values, ds["y"].values
    dx, dy = float(x[1] - x[0]), float(y[1] - y[0])
    return float(x[0] - dx / 2), float(y[0] - dy / 2), dx, dy


def check_alignment(lst: xr.Dataset, refl: xr.Dataset, factor: int, refl_path: str | Path) -> None:
    """Raise :class:`InputFileError` unless the 250 m grid nests ``factor`` times in the 1 km grid."""
    if lst.attrs.get("tile") != refl.attrs.get("tile") or lst.attrs.get("date") != refl.attrs.get("date"):
        raise InputFileError(
            refl_path,
            f"tile/date {refl.attrs.get('tile')} {refl.attrs.get('date')} do not match the LST granule's "
            f"{lst.attrs.get('tile')} {lst.attrs.get('date')}",
        )
    ny, nx = lst.sizes["y"], lst.sizes["x"]
    if refl.sizes["y"] != factor * ny or refl.sizes["x"] != factor * nx:
        raise InputFileError(
            refl_path,
            f"grid of {refl.sizes['y']}x{refl.sizes['x']} pixels is not {factor} times the LST grid "
            f"of {ny}x{nx}",
        )
    x0, y0, dx, dy = _top_left(lst)
    fx0, fy0, fdx, fdy = _top_left(refl)
    if abs(x0 - fx0) > _ALIGN_TOL_M or abs(y0 - fy0) > _ALIGN_TOL_M:
        raise InputFileError(
            refl_path,
            f"top-left corner ({fx0:.3f}, {fy0:.3f}) m differs from the LST granule's ({x0:.3f}, {y0:.3f}) m",
        )
    if abs(dx - factor * fdx) > _ALIGN_TOL_M or abs(dy - factor * fdy) > _ALIGN_TOL_M:
        raise InputFileError(refl_path, f"pixel size {fdx:.4f} m is not 1/{factor} of the LST's {dx:.4f} m")


def _quality(mod11a1: str | Path, mod09gq: str | Path, cfg: Mapping[str, Any]) -> tuple[xr.Dataset, dict]:
    lst_ds = readers.read_mod11a1(mod11a1, overpass=cfg["overpass"])
    refl = readers.read_mod09gq(mod09gq)
    factor = int(cfg["factor"])
    check_alignment(lst_ds, refl, factor, mod09gq)

    lst = lst_ds["lst"].values.astype(np.float32)
    qc = lst_ds["qc"].values
    flags = readers.decode_lst_qc(qc)
    finite = np.isfinite(lst)
    good_qc = readers.lst_quality_mask(qc, max_lst_error_k=int(cfg["max_lst_error_k"]))
    low, high = (float(v) for v in cfg["lst_range_k"])
    in_range = (lst >= low) & (lst <= high)
    n_finite = int(finite.sum())
    n_out = int((finite & ~in_range).sum())
    if n_finite and n_out > MAX_OUT_OF_RANGE_FRACTION * n_finite:
        raise InputFileError(
            mod11a1,
            f"{n_out} of {n_finite} valid LST pixels lie outside the physical range {low:g}-{high:g} K "
            "(wrong scale factor or units?)",
        )
    usable = finite & good_qc & in_range

    red, nir = refl["red"].values, refl["nir"].values
    ndvi = readers.ndvi_from_reflectance(red, nir).astype(np.float32)
    refl_ok = readers.reflectance_quality_mask(refl["qc_250m"].values)
    ndvi_ok = np.isfinite(ndvi) & refl_ok & (ndvi >= -1.0) & (ndvi <= 1.0)
    water = ndvi_ok & (ndvi <= float(cfg["water_ndvi_max"]))

    counts = {
        "n_lst_pixels": int(lst.size),
        "n_lst_usable": int(usable.sum()),
        "n_lst_cloud": int((flags["mandatory"] == 2).sum()),
        "n_lst_not_produced": int((flags["mandatory"] == 3).sum()),
        "n_lst_low_quality": int((finite & ~good_qc).sum()),
        "n_lst_out_of_range": n_out,
        "n_ndvi_pixels": int(ndvi.size),
        "n_ndvi_usable": int(ndvi_ok.sum()),
        "n_ndvi_water": int(water.sum()),
    }
    grid_vars = ["spatial_ref"] if "spatial_ref" in lst_ds else []
    ds = xr.Dataset(
        {
            "lst": (("y", "x"), np.where(usable, lst, np.nan).astype(np.float32), {
                "units": "K", "long_name": f"{cfg['overpass']}time land-surface temperature (usable pixels)",
                "standard_name": "surface_temperature"}),
            "qc": (("y", "x"), qc, {"units": "1", "long_name": "MOD11A1 QC byte (bits 0-1 mandatory QA, 6-7 LST error)",
                                     "flag_masks": np.array([3, 12, 48, 192], dtype=np.uint8)}),
            "view_angle": (("y", "x"), lst_ds["view_angle"].values.astype(np.float32), {
                "units": "degree", "long_name": "view zenith angle"}),
            "ndvi": (("yf", "xf"), np.where(ndvi_ok, ndvi, np.nan).astype(np.float32), {
                "units": "1", "long_name": "NDVI from MOD09GQ bands 1 and 2 (usable pixels)",
                "standard_name": "normalized_difference_vegetation_index"}),
            "water": (("yf", "xf"), water.astype(np.uint8), {
                "units": "1", "long_name": f"water flag (NDVI <= {cfg['water_ndvi_max']})"}),
        },
        coords={
            "x": lst_ds["x"], "y": lst_ds["y"],
            "xf": ("xf", refl["x"].values, {**refl["x"].attrs}),
            "yf": ("yf", refl["y"].values, {**refl["y"].attrs}),
        },
        attrs={
            "tile": lst_ds.attrs["tile"], "date": lst_ds.attrs["date"], "factor": factor,
            "overpass": cfg["overpass"], **counts,
        },
    )
    for name in grid_vars:
        ds[name] = lst_ds[name]
        for var in ("lst", "qc", "view_angle", "ndvi", "water"):
            ds[var].attrs["grid_mapping"] = name
    return ds, counts


def ingest_scene(mod11a1: str | Path, mod09gq: str | Path, output: str | Path,
                 cfg: Mapping[str, Any]) -> Path | None:
    """Write the scene store of one MOD11A1 + MOD09GQ pair; returns its path.

    ``cfg`` holds the validated ``lst`` keys ``overpass``, ``factor``, ``max_lst_error_k``,
    ``lst_range_k``, ``water_ndvi_max`` and ``on_bad_file`` (the schema fills them in).

    With ``on_bad_file: skip`` a bad granule is logged and an *empty* scene store (no usable
    pixel, attribute ``skipped`` naming the problem) is written so the workflow goes on.
    """
    try:
        ds, counts = _quality(mod11a1, mod09gq, cfg)
    except InputFileError as exc:
        if cfg["on_bad_file"] != "skip":
            raise
        log.warning("skipping %s: %s", exc.path, exc.problem)
        ds = xr.Dataset(attrs={"skipped": str(exc), "tile": "", "date": ""})
        return write_store(ds, output, sources=[mod11a1, mod09gq], config=cfg)
    log.info(
        "%s %s: %d of %d LST pixels usable (cloud %d, not produced %d, low quality %d, out of range %d); "
        "NDVI usable %d of %d, water %d",
        ds.attrs["tile"], ds.attrs["date"], counts["n_lst_usable"], counts["n_lst_pixels"],
        counts["n_lst_cloud"], counts["n_lst_not_produced"], counts["n_lst_low_quality"],
        counts["n_lst_out_of_range"], counts["n_ndvi_usable"], counts["n_ndvi_pixels"], counts["n_ndvi_water"],
    )
    # tiles of 600 x 600 at 1 km and 1200 x 1200 at 250 m (5.8 MB of float32 NDVI per chunk)
    chunks = {"y": 600, "x": 600, "yf": 1200, "xf": 1200}
    return write_store(ds, output, sources=[mod11a1, mod09gq], config=cfg, chunks=chunks)


# --------------------------------------------------------------------------------------------
# patches
# --------------------------------------------------------------------------------------------
def valid_patches(lst: np.ndarray, ndvi: np.ndarray, water: np.ndarray, factor: int,
                  size: int, stride: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Top-left (row, col) 1 km indices of the fully usable patches on a ``stride`` grid.

    A patch is usable when none of its ``size``² LST pixels and none of its ``(factor*size)``²
    NDVI pixels is NaN or water. Counting bad pixels with 2-D cumulative sums makes any stride
    cheap.
    """
    stride = int(stride or size)
    ny, nx = lst.shape
    bad_c = (~np.isfinite(lst)).astype(np.int64)
    bad_f = (~np.isfinite(ndvi) | (water != 0))
    # a 1 km pixel is bad when any of its 250 m pixels is: then a patch test is one window sum
    bad_f = bad_f[: ny * factor, : nx * factor].reshape(ny, factor, nx, factor).any(axis=(1, 3))
    bad = np.pad(np.cumsum(np.cumsum(bad_c + bad_f, axis=0), axis=1), ((1, 0), (1, 0)))
    r0 = np.arange(0, ny - size + 1, stride)
    c0 = np.arange(0, nx - size + 1, stride)
    rr, cc = np.meshgrid(r0, c0, indexing="ij")
    total = bad[rr + size, cc + size] - bad[rr, cc + size] - bad[rr + size, cc] + bad[rr, cc]
    rows, cols = rr[total == 0], cc[total == 0]
    return rows.astype(np.int32), cols.astype(np.int32)


def split_dates(dates: Sequence[str], val_fraction: float, seed: int) -> dict[str, str]:
    """``{date: "train" | "val"}``: a seeded random choice of whole dates for validation.

    At least one date goes to each side when there are two or more dates.
    """
    unique = sorted(set(dates))
    if len(unique) < 2:
        raise EomlError(
            f"the train/validation split is by date and needs at least 2 dates with valid patches, got {unique}"
        )
    n_val = min(len(unique) - 1, max(1, int(round(val_fraction * len(unique)))))
    rng = np.random.default_rng(seed)
    val = set(rng.choice(unique, size=n_val, replace=False).tolist())
    return {d: ("val" if d in val else "train") for d in unique}


def extract_patches(scene_stores: Sequence[str | Path], output: str | Path,
                    cfg: Mapping[str, Any]) -> Path:
    """Cut every scene store into valid patches and write the patch store (see module doc)."""
    size = int(cfg["patch_size"])
    stride = size if cfg["patch_stride"] is None else int(cfg["patch_stride"])  # null: patch_size
    factor = int(cfg["factor"])
    split_cfg = cfg["split"]
    lst_parts, ndvi_parts, meta = [], [], []
    raw_names: list[str] = []
    raw_digests: list[str] = []
    for path in scene_stores:
        scene = open_store(path)
        raw_names.extend(scene.attrs.get("source_files", []))
        raw_digests.extend(scene.attrs.get("source_sha256", []))
        if "skipped" in scene.attrs:
            log.warning("%s: skipped at ingest (%s); no patches", path, scene.attrs["skipped"])
            continue
        lst = scene["lst"].values
        ndvi = scene["ndvi"].values
        water = scene["water"].values
        rows, cols = valid_patches(lst, ndvi, water, factor, size, stride)
        tile, date = scene.attrs["tile"], scene.attrs["date"]
        if rows.size == 0:
            log.warning("%s (%s %s): no valid %dx%d patch (clouds, sea, fill or low QC everywhere); skipped",
                        path, tile, date, size, size)
            continue
        fs = size * factor
        lst_parts.append(np.stack([lst[r:r + size, c:c + size] for r, c in zip(rows, cols)]))
        ndvi_parts.append(np.stack([ndvi[r * factor:r * factor + fs, c * factor:c * factor + fs]
                                    for r, c in zip(rows, cols)]))
        x0 = scene["x"].values[cols] - float(scene["x"].values[1] - scene["x"].values[0]) / 2
        y0 = scene["y"].values[rows] - float(scene["y"].values[1] - scene["y"].values[0]) / 2
        meta.append(pd.DataFrame({"tile": tile, "date": date, "row0": rows, "col0": cols,
                                  "x0": x0, "y0": y0}))
        log.info("%s %s: %d valid patches of %d", tile, date, rows.size,
                 len(range(0, lst.shape[0] - size + 1, stride)) * len(range(0, lst.shape[1] - size + 1, stride)))
    if not meta:
        raise EomlError(f"no valid {size}x{size} patch in any of the {len(scene_stores)} scene stores")
    table = pd.concat(meta, ignore_index=True)
    sides = split_dates(table["date"].tolist(), float(split_cfg["val_fraction"]), int(split_cfg["seed"]))
    table["split"] = table["date"].map(sides)
    counts = table.groupby("split").size().to_dict()
    log.info("patches: %d train, %d validation (validation dates %s)", counts.get("train", 0),
             counts.get("val", 0), sorted(d for d, s in sides.items() if s == "val"))
    n = len(table)
    ds = xr.Dataset(
        {
            "lst": (("patch", "y", "x"), np.concatenate(lst_parts).astype(np.float32),
                    {"units": "K", "long_name": "1 km land-surface temperature",
                     "standard_name": "surface_temperature"}),
            "ndvi": (("patch", "yf", "xf"), np.concatenate(ndvi_parts).astype(np.float32),
                     {"units": "1", "long_name": "250 m NDVI"}),
        },
        coords={
            "patch": ("patch", np.arange(n, dtype=np.int32), {"units": "1", "long_name": "patch number"}),
            "date": ("patch", pd.to_datetime(table["date"]).values, {"long_name": "acquisition date"}),
            "tile": ("patch", table["tile"].to_numpy(dtype=str), {"units": "1", "long_name": "MODIS tile"}),
            "row0": ("patch", table["row0"].values.astype(np.int32),
                     {"units": "1", "long_name": "first 1 km row of the patch in its tile"}),
            "col0": ("patch", table["col0"].values.astype(np.int32),
                     {"units": "1", "long_name": "first 1 km column of the patch in its tile"}),
            "x0": ("patch", table["x0"].values, {"units": "m", "long_name": "sinusoidal x of the patch's left edge"}),
            "y0": ("patch", table["y0"].values, {"units": "m", "long_name": "sinusoidal y of the patch's top edge"}),
            "split": ("patch", table["split"].to_numpy(dtype=str), {"units": "1", "long_name": "train or val"}),
        },
        attrs={"factor": factor, "patch_size": size, "patch_stride": stride,
               "n_train": int(counts.get("train", 0)), "n_val": int(counts.get("val", 0))},
    )
    chunks = {"patch": min(n, 64), "y": size, "x": size, "yf": size * factor, "xf": size * factor}
    # provenance: the raw granules behind the scene stores (the stores are folders, not digested)
    return write_store(ds, output, config=dict(cfg), chunks=chunks,
                       extra_attrs={"source_files": raw_names, "source_sha256": raw_digests})
