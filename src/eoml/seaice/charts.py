"""Ice charts -> ice/water label rasters (SIGRID-3 polygons, AI4Arctic netCDF scenes).

Training labels for SAR ice/water segmentation (Karimzadeh & Pires de Lima) come from operational
ice-service charts: polygons carrying the WMO "egg code" in the SIGRID-3 vector archive format
(JCOMM, "SIGRID-3: a vector archive format for sea ice georeferenced information and data",
WMO/TD-No. 1214, 2014 revision). Only two attributes are needed here:

* ``POLY_TYPE``: ``I`` ice, ``W`` water, ``L`` land, ``N`` no data.
* ``CT``: total ice concentration, a two-character code (table below).

SIGRID-3 concentration codes implemented (:func:`ct_fraction`, value = lower bound, in tenths)::

    "00"  ice free                                    -> 0.0
    "01"  less than 1/10 (open water)                 -> 0.0
    "02"  bergy water                                 -> 0.0
    "10" .. "90"  1/10 .. 9/10                        -> 0.1 .. 0.9
    "91"  9/10 to 10/10 (9+/10)                       -> 0.9
    "92"  10/10                                       -> 1.0
    "XY", 1 <= X < Y <= 9  range X/10 to Y/10 (e.g. "57" = 5-7/10)  -> X/10 (lower value)
    "X1", 2 <= X <= 8  range X/10 to 10/10 (e.g. "81" = 8-10/10)     -> X/10
    "98"  glacier ice                                 -> None (not sea ice: ignored)
    "99"  undetermined / unknown                      -> None (ignored)
    "-9", "", null   not filled                       -> None (missing)

Integer codes (the AI4Arctic tables store ``1`` for ``"01"``) are zero-padded first.

Classification (:func:`classify`, labels ``0`` water, ``1`` ice, ``255`` ignore): ``W`` -> water;
``I`` with CT < 1/10 (codes 00/01/02) -> water; ``I`` with CT >= 1/10 -> ice; ``I`` with CT 98/99
-> ignore; ``I`` without CT (missing/-9) is an error in the chart (:class:`InputFileError` naming
the file and the feature index); ``L``, ``N`` or any other type -> ignore. A feature without
``POLY_TYPE`` is classified from CT alone (ignore if that is missing too).

Formats: GeoJSON (``.geojson``/``.json``, read with :mod:`json`; the legacy ``crs`` member is
honoured, default EPSG:4326). Shapefile/GeoPackage would need fiona or pyogrio, which are not
installed; such files raise :class:`InputFileError` saying so. Polygons are burned with
:func:`rasterio.features.rasterize` (pixel-centre rule, ``all_touched=False``); where polygons
overlap the later feature wins; pixels covered by no polygon are 255.

AI4Arctic (Buus-Hinkler et al. 2022, "AI4Arctic Sea Ice Challenge Dataset"; ASID v2, Saldo et
al. 2020) scenes are netCDF files with ``nersc_sar_primary`` (HH sigma0 in dB, NERSC noise
corrected), ``nersc_sar_secondary`` (HV dB), the incidence angle either full-resolution
(``sar_incidenceangle``) or as tie points (``sar_grid_incidenceangle`` with ``sar_grid_line``,
``sar_grid_sample`` on ``sar_grid_points``), ``polygon_icechart`` (per pixel the id of the chart
polygon) and ``polygon_codes``: a ``;``-separated table whose first row is the header
``id;CT;CA;SA;FA;CB;SB;FB;CC;SC;FC;CN;CD;CF;POLY_TYPE`` and each further row one polygon, stored
as a newline-joined string attribute (global or on ``polygon_icechart``) or as a string variable
with one row per element. Only ``id``, ``CT`` and ``POLY_TYPE`` are used.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from eoml.core.errors import InputFileError

__all__ = [
    "ICE",
    "IGNORE",
    "WATER",
    "MissingConcentration",
    "classify",
    "ct_fraction",
    "feature_labels",
    "parse_polygon_codes",
    "rasterize_chart",
    "read_ai4arctic",
    "read_ice_chart",
]

WATER, ICE, IGNORE = 0, 1, 255
_MISSING = {"", "-9", "-09", "NONE", "NAN", "NULL"}


class MissingConcentration(ValueError):
    """An ice polygon carries no total concentration (CT)."""


def _norm_code(code: Any) -> str:
    if code is None:
        return ""
    if isinstance(code, (int, np.integer)):
        return "-9" if code < 0 else f"{int(code):02d}"
    if isinstance(code, (float, np.floating)):
        if not np.isfinite(code):
            return ""
        return "-9" if code < 0 else f"{round(code):02d}"
    s = str(code).strip()
    if s.isdigit() and len(s) == 1:
        s = "0" + s
    return s


def ct_fraction(code: Any) -> float | None:
    """Lower-bound total ice concentration (0..1) of a SIGRID-3 ``CT`` code; None if unknown,
    missing or glacier ice. Raises ``ValueError`` for a code outside the table."""
    s = _norm_code(code)
    if s.upper() in _MISSING or s in ("98", "99"):
        return None
    if len(s) != 2 or not s.isdigit():
        raise ValueError(f"not a SIGRID-3 concentration code: {code!r}")
    x, y = int(s[0]), int(s[1])
    if s in ("00", "01", "02"):
        return 0.0
    if s == "92":
        return 1.0
    if y == 0 or s == "91":
        return x / 10.0
    if 1 <= x < y <= 9:
        return x / 10.0
    if y == 1 and 2 <= x <= 8:
        return x / 10.0
    raise ValueError(f"not a SIGRID-3 concentration code: {code!r}")


def classify(ct: Any, poly_type: Any) -> int:
    """Label (WATER 0, ICE 1, IGNORE 255) of one chart polygon from its CT and POLY_TYPE.

    Raises :class:`MissingConcentration` for an ice polygon without CT.
    """
    pt = "" if poly_type is None else str(poly_type).strip().upper()
    code = _norm_code(ct)
    if pt == "W":
        return WATER
    if pt not in ("I", ""):
        return IGNORE  # L land, N no data, anything else
    if code.upper() in _MISSING:
        if pt == "I":
            raise MissingConcentration("POLY_TYPE I without CT")
        return IGNORE
    frac = ct_fraction(code)
    if frac is None:
        return IGNORE
    return WATER if frac < 0.1 else ICE


# ------------------------------------------------------------------------------------------------
# vector charts
# ------------------------------------------------------------------------------------------------
def _geojson_crs(obj: Mapping[str, Any]) -> str:
    name = (obj.get("crs") or {}).get("properties", {}).get("name")
    if not name:
        return "EPSG:4326"
    if "EPSG::" in name:  # urn:ogc:def:crs:EPSG::3413
        return "EPSG:" + name.rsplit("::", 1)[1]
    if name.endswith("CRS84"):
        return "EPSG:4326"
    return name


def read_ice_chart(path: str | Path) -> dict[str, Any]:
    """Read a SIGRID-3 ice chart (GeoJSON) into ``{"features": [...], "crs": str, "path": str}``.

    Each feature is a GeoJSON-like dict with ``geometry`` and ``properties`` (keys upper-cased).
    """
    path = Path(path)
    if path.suffix.lower() not in (".geojson", ".json"):
        raise InputFileError(path, f"unsupported ice-chart format {path.suffix!r}: only GeoJSON is "
                             "supported (shapefile/GeoPackage need fiona or pyogrio, not installed)")
    try:
        obj = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputFileError(path, f"not readable GeoJSON: {exc}") from exc
    if not isinstance(obj, dict) or obj.get("type") != "FeatureCollection":
        raise InputFileError(path, "not a GeoJSON FeatureCollection")
    feats = []
    for i, f in enumerate(obj.get("features") or []):
        geom = f.get("geometry") if isinstance(f, dict) else None
        if not geom or geom.get("type") not in ("Polygon", "MultiPolygon"):
            raise InputFileError(path, f"feature {i}: geometry is not a Polygon/MultiPolygon")
        props = {str(k).upper(): v for k, v in (f.get("properties") or {}).items()}
        feats.append({"type": "Feature", "geometry": geom, "properties": props})
    if not feats:
        raise InputFileError(path, "holds no features")
    return {"features": feats, "crs": _geojson_crs(obj), "path": str(path)}


def feature_labels(features: Sequence[Mapping[str, Any]], path: str | Path = "<features>") -> list[int]:
    """SIGRID-3 label of each feature; errors name ``path`` and the feature index."""
    out = []
    for i, f in enumerate(features):
        props = {str(k).upper(): v for k, v in (f.get("properties") or {}).items()}
        try:
            out.append(classify(props.get("CT"), props.get("POLY_TYPE")))
        except MissingConcentration as exc:
            raise InputFileError(path, f"feature {i}: {exc}") from exc
        except ValueError as exc:
            raise InputFileError(path, f"feature {i}: {exc}") from exc
    return out


def rasterize_chart(features: Mapping[str, Any] | Sequence[Mapping[str, Any]], transform,
                    shape: tuple[int, int], crs: Any = None) -> np.ndarray:
    """Burn chart polygons into a uint8 label raster (0 water, 1 ice, 255 ignore/uncovered).

    ``features`` is :func:`read_ice_chart`'s dict or a list of GeoJSON-like features (then
    assumed to be in ``crs``). With ``crs`` given and a chart in another CRS, geometries are
    reprojected with :func:`rasterio.warp.transform_geom`.
    """
    from rasterio.features import rasterize

    if isinstance(features, Mapping):
        feats, src_crs, path = features["features"], features.get("crs"), features.get("path", "<chart>")
    else:
        feats, src_crs, path = list(features), None, "<features>"
    labels = feature_labels(feats, path)
    geoms = [f["geometry"] for f in feats]
    if crs is not None and src_crs is not None:
        from rasterio.crs import CRS
        from rasterio.warp import transform_geom

        if CRS.from_user_input(src_crs) != CRS.from_user_input(crs):
            geoms = [transform_geom(src_crs, crs, g) for g in geoms]
    if not geoms:
        return np.full(shape, IGNORE, np.uint8)
    return rasterize(list(zip(geoms, labels)), out_shape=shape, transform=transform,
                     fill=IGNORE, dtype="uint8", all_touched=False)


# ------------------------------------------------------------------------------------------------
# AI4Arctic netCDF scenes
# ------------------------------------------------------------------------------------------------
def parse_polygon_codes(table: str | Iterable[str], path: str | Path = "<polygon_codes>") -> dict[int, int]:
    """Polygon id -> label from an AI4Arctic ``polygon_codes`` table (header row first)."""
    rows = table.splitlines() if isinstance(table, str) else [str(r) for r in table]
    rows = [r.strip() for r in rows if r and str(r).strip()]
    if not rows:
        raise InputFileError(path, "polygon_codes is empty")
    header = [h.strip().upper() for h in rows[0].split(";")]
    for col in ("ID", "CT", "POLY_TYPE"):
        if col not in header:
            raise InputFileError(path, f"polygon_codes header {rows[0]!r} lacks column {col}")
    i_id, i_ct, i_pt = header.index("ID"), header.index("CT"), header.index("POLY_TYPE")
    out: dict[int, int] = {}
    for k, row in enumerate(rows[1:], start=1):
        cells = [c.strip() for c in row.split(";")]
        if len(cells) != len(header):
            raise InputFileError(path, f"polygon_codes row {k} has {len(cells)} fields, header {len(header)}")
        try:
            pid = int(cells[i_id])
            out[pid] = classify(cells[i_ct], cells[i_pt])
        except MissingConcentration as exc:
            raise InputFileError(path, f"polygon_codes row {k} (polygon {cells[i_id]}): {exc}") from exc
        except ValueError as exc:
            raise InputFileError(path, f"polygon_codes row {k}: {exc}") from exc
    return out


def _codes_text(ds: xr.Dataset) -> str | list[str] | None:
    if "polygon_codes" in ds.variables:
        v = ds["polygon_codes"].values
        return [x.decode() if isinstance(x, bytes) else str(x) for x in np.atleast_1d(v).ravel()]
    for attrs in (ds.attrs, ds["polygon_icechart"].attrs if "polygon_icechart" in ds else {}):
        if "polygon_codes" in attrs:
            return attrs["polygon_codes"]
    return None


def read_ai4arctic(path: str | Path) -> xr.Dataset:
    """Read an AI4Arctic scene: ``hh_db``, ``hv_db``, ``incidence_deg`` (float32, dims
    ``line``/``sample``) and ``label`` (uint8 0 water / 1 ice / 255 ignore) from the chart."""
    from eoml.seaice.readers import interpolate_grid

    path = Path(path)
    try:
        ds = xr.open_dataset(path, mask_and_scale=True)
    except Exception as exc:  # OSError, ValueError from the netCDF engines
        raise InputFileError(path, f"not a readable netCDF file: {exc}") from exc
    with ds:
        for v in ("nersc_sar_primary", "nersc_sar_secondary", "polygon_icechart"):
            if v not in ds:
                raise InputFileError(path, f"missing variable {v}")
        hh = ds["nersc_sar_primary"].values.astype(np.float32)
        if hh.ndim != 2:
            raise InputFileError(path, f"nersc_sar_primary has {hh.ndim} dims, expected 2")
        hv = ds["nersc_sar_secondary"].values.astype(np.float32)
        poly = ds["polygon_icechart"].values
        if hv.shape != hh.shape or poly.shape != hh.shape:
            raise InputFileError(path, f"shapes differ: primary {hh.shape}, secondary {hv.shape}, "
                                 f"polygon_icechart {poly.shape}")
        if "sar_incidenceangle" in ds:
            inc = ds["sar_incidenceangle"].values.astype(np.float32)
        elif all(v in ds for v in ("sar_grid_incidenceangle", "sar_grid_line", "sar_grid_sample")):
            ln = ds["sar_grid_line"].values.astype(float).ravel()
            sm = ds["sar_grid_sample"].values.astype(float).ravel()
            val = ds["sar_grid_incidenceangle"].values.astype(float).ravel()
            lines, samples = np.unique(ln), np.unique(sm)
            if lines.size * samples.size != val.size or lines.size < 2 or samples.size < 2:
                raise InputFileError(path, f"sar_grid_* tie points ({val.size}) do not form a "
                                     f"complete {lines.size} x {samples.size} grid")
            grid = np.full((lines.size, samples.size), np.nan)
            grid[np.searchsorted(lines, ln), np.searchsorted(samples, sm)] = val
            inc = interpolate_grid({"line": lines, "pixel": samples, "incidence_angle": grid},
                                   "incidence_angle", np.arange(hh.shape[0]), np.arange(hh.shape[1]))
            inc = inc.astype(np.float32)
        else:
            raise InputFileError(path, "missing variable sar_incidenceangle or sar_grid_incidenceangle "
                                 "(+ sar_grid_line, sar_grid_sample)")
        table = _codes_text(ds)
        if table is None:
            raise InputFileError(path, "missing polygon_codes (variable or attribute)")
        mapping = parse_polygon_codes(table, path)
        attrs = {k: v for k, v in ds.attrs.items() if k != "polygon_codes" and isinstance(v, (str, int, float))}
    label = np.full(hh.shape, IGNORE, np.uint8)
    valid = np.isfinite(poly)
    ids = np.where(valid, poly, -1).astype(np.int64)
    for pid, lab in mapping.items():
        label[ids == pid] = lab
    label[~np.isfinite(hh) | ~np.isfinite(hv)] = IGNORE
    dims = ("line", "sample")
    return xr.Dataset(
        {"hh_db": (dims, hh, {"units": "dB"}), "hv_db": (dims, hv, {"units": "dB"}),
         "incidence_deg": (dims, inc, {"units": "degree"}),
         "label": (dims, label, {"flag_values": "0 water, 1 ice, 255 ignore"})},
        attrs={**attrs, "source": path.name},
    )
