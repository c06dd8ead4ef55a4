"""Readers for the LST study's raw products: MODIS HDF4-EOS tiles and validation GeoTIFF scenes.

Every reader takes the file(s) as the agencies publish them and returns an ``xarray.Dataset`` in
physical units with NaN wherever the product marks a value as fill or invalid. Anything wrong with
a file (missing, truncated, not HDF4/GeoTIFF, a required SDS or attribute missing, wrong grid)
raises :class:`eoml.core.errors.InputFileError`, whose message starts with the file's path; no
bare ``KeyError``/``HDF4Error``/``RasterioIOError`` escapes. Formats in detail:
``docs/lst_formats.md``.

MODIS (Collection 6.1, HDF4-EOS grids, read with pyhdf; GDAL wheels carry no HDF4 driver)
-------------------------------------------------------------------------------------------
* :func:`read_mod11a1` — MOD11A1/MYD11A1 daily 1 km LST (Wan 2014, MOD11 C6 user guide):
  ``LST_Day_1km``/``LST_Night_1km`` uint16, ``QC_Day``/``QC_Night`` uint8 bit fields,
  ``Day_view_time`` and ``Day_view_angl`` uint8. Scale factors, offsets, fill values and valid
  ranges are read from each SDS's own attributes (absent attributes are an error, never guessed).
  The MODIS land convention ``value = raw * scale_factor + add_offset`` is used — the MOD11 SDSs
  spell it out in a descriptive attribute (``"View_angle data * scale_factor + add_offset"``),
  unlike the HDF4 ``SDsetcal`` convention ``scale * (raw - offset)``; for MOD09 the offset is 0 and
  both agree.
* :func:`read_mod09gq` — MOD09GQ/MYD09GQ daily 250 m surface reflectance, bands 1 (red) and 2
  (NIR) and the 250 m QC word (Vermote et al., MOD09 C6 user guide).
* :func:`decode_lst_qc`, :func:`lst_quality_mask`, :func:`decode_mod09gq_qc`,
  :func:`reflectance_quality_mask` unpack the QC bit fields; :func:`ndvi_from_reflectance`.

Geolocation comes from the ``StructMetadata.0`` ODL text (:func:`parse_struct_metadata`): the
grid's outer corners ``UpperLeftPointMtrs``/``LowerRightMtrs`` on the MODIS sinusoidal projection
(sphere of radius 6 371 007.181 m, GCTP_SNSOID) with ``GridOrigin=HDFE_GD_UL`` and pixel-is-area
registration, so pixel centres lie half a pixel inside the corners (:func:`grid_coords`). The
tile scheme (36 x 18 tiles of 10 degrees at the equator, :func:`tile_bounds`) gives the same corners
to a millimetre. Product, tile and date come from ``CoreMetadata.0`` (SHORTNAME,
RANGEBEGINNINGDATE, HORIZONTAL/VERTICALTILENUMBER) and the file name
(:func:`parse_granule_name`); when both are present they must agree.

The HDF4 plumbing (opening, reading one SDS, decoding scale / offset / fill / valid range) is
core's :mod:`eoml.core.hdf4`. HDF4 files cut short are caught before pyhdf touches them
(:func:`check_hdf4_complete`, re-exported here): pyhdf reads some truncated files silently (the
missing compressed blocks come back as fill) and crashes on others, so the data-descriptor (DD)
blocks are walked and every element must end inside the file.

Validation scenes (GeoTIFF, read with rasterio)
-----------------------------------------------
:func:`read_validation_scene` reads a high-resolution LST band and red/NIR bands: ASTER AST_08
kinetic temperature (uint16, 0.1 K, 0 = fill), Landsat 8/9 TIRS band 10 digital numbers
converted to at-sensor brightness temperature with the MTL constants
(``L = ML * DN + AL``, ``T = K2 / ln(K1 / L + 1)``, :func:`parse_landsat_mtl`; USGS Landsat 8
Data Users Handbook, section 5), or plain Kelvin. Red/NIR may be finer than the LST by an integer
ratio (ASTER VNIR 15 m vs TIR 90 m); they are then averaged in blocks onto the LST grid and the
NDVI is computed from the averaged reflectances (what a coarser sensor would see).

References: Wan, Z. (2014) New refinements and validation of the collection-6 MODIS land-surface
temperature/emissivity product, RSE 140; Vermote, E. et al. (2015) MODIS Surface Reflectance
User's Guide, Collection 6; Wolfe, R. et al. (1998) MODIS land data storage, gridding and
compositing methodology, IEEE TGRS 36(4); HDF4 specification 4.2, chapter "The HDF file format".
"""

from __future__ import annotations

import datetime as _dt
import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from eoml.core.errors import ConfigError, InputFileError
from eoml.core.hdf4 import HDF4File, check_hdf4_complete, decode_sds

__all__ = [
    "EARTH_RADIUS_M",
    "MODIS_SINUSOIDAL_PROJ4",
    "MODIS_SINUSOIDAL_WKT",
    "MODIS_TILE_SIZE_M",
    "MODIS_X0_M",
    "MODIS_Y0_M",
    "GranuleNameError",
    "check_hdf4_complete",
    "decode_lst_qc",
    "decode_mod09gq_qc",
    "grid_coords",
    "lst_quality_mask",
    "ndvi_from_reflectance",
    "parse_core_metadata",
    "parse_granule_name",
    "parse_landsat_mtl",
    "parse_odl",
    "parse_struct_metadata",
    "parse_struct_metadata_grids",
    "read_mod09gq",
    "read_mod11a1",
    "read_validation_scene",
    "reflectance_quality_mask",
    "sinusoidal_crs_wkt",
    "tile_bounds",
]

# --------------------------------------------------------------------------------------------
# MODIS sinusoidal grid
# --------------------------------------------------------------------------------------------

#: radius of the sphere of the MODIS sinusoidal projection (ProjParams[0], SphereCode -1)
EARTH_RADIUS_M = 6371007.181
#: western edge of the MODIS tile grid (-pi R; the rounded -20015109.354 m of the literature)
MODIS_X0_M = -math.pi * EARTH_RADIUS_M
#: northern edge of the MODIS tile grid (pi R / 2 = 10007554.677 m)
MODIS_Y0_M = math.pi * EARTH_RADIUS_M / 2
#: side of one of the 36 x 18 tiles (pi R / 18 = 1111950.519667 m, 10 degrees at the equator)
MODIS_TILE_SIZE_M = math.pi * EARTH_RADIUS_M / 18

MODIS_SINUSOIDAL_PROJ4 = "+proj=sinu +lon_0=0 +x_0=0 +y_0=0 +R=6371007.181 +units=m +no_defs"
#: the WKT GDAL's HDF4 driver reports for MODIS sinusoidal tiles
MODIS_SINUSOIDAL_WKT = (
    'PROJCS["unnamed",GEOGCS["Unknown datum based upon the custom spheroid",'
    'DATUM["Not specified (based on custom spheroid)",SPHEROID["Custom spheroid",6371007.181,0]],'
    'PRIMEM["Greenwich",0],UNIT["degree",0.0174532925199433,AUTHORITY["EPSG","9122"]]],'
    'PROJECTION["Sinusoidal"],PARAMETER["longitude_of_center",0],PARAMETER["false_easting",0],'
    'PARAMETER["false_northing",0],UNIT["Meter",1],AXIS["Easting",EAST],AXIS["Northing",NORTH]]'
)

_GRANULE_RE = re.compile(
    r"^(?P<product>M[OYC]D[0-9A-Z]+)\.A(?P<year>\d{4})(?P<doy>\d{3})\.h(?P<h>\d{2})v(?P<v>\d{2})"
    r"\.(?P<collection>\d{3})\.(?P<production>\d{13})\.hdf$"
)


class GranuleNameError(InputFileError, ValueError):
    """A file name that is not a MODIS tile granule name (also a ``ValueError``)."""


def sinusoidal_crs_wkt() -> str:
    """WKT of the MODIS sinusoidal projection (sphere R = 6 371 007.181 m)."""
    return MODIS_SINUSOIDAL_WKT


def sinusoidal_grid_mapping_attrs(transform: tuple[float, ...] | None = None) -> dict[str, Any]:
    """CF grid-mapping attributes of the MODIS sinusoidal projection (plus GDAL's WKT keys)."""
    attrs: dict[str, Any] = {
        "grid_mapping_name": "sinusoidal",
        "longitude_of_central_meridian": 0.0,
        "false_easting": 0.0,
        "false_northing": 0.0,
        "earth_radius": EARTH_RADIUS_M,
        "crs_wkt": MODIS_SINUSOIDAL_WKT,
        "spatial_ref": MODIS_SINUSOIDAL_WKT,
        "proj4": MODIS_SINUSOIDAL_PROJ4,
        "long_name": "MODIS sinusoidal projection",
    }
    if transform is not None:
        attrs["GeoTransform"] = " ".join(repr(float(v)) for v in transform)
    return attrs


def tile_bounds(h: int, v: int) -> tuple[tuple[float, float], tuple[float, float]]:
    """Nominal ``(upper_left, lower_right)`` corners (m) of MODIS tile ``hHHvVV``.

    ``x = -pi R + h T``, ``y = pi R / 2 - v T`` with ``T = pi R / 18``; these are the
    ``UpperLeftPointMtrs``/``LowerRightMtrs`` of the granules' StructMetadata to < 1 mm.
    """
    h, v = int(h), int(v)
    if not (0 <= h <= 35 and 0 <= v <= 17):
        raise ValueError(f"MODIS tile h{h:02d}v{v:02d} is outside the 36 x 18 tile grid")
    x0 = MODIS_X0_M + h * MODIS_TILE_SIZE_M
    y0 = MODIS_Y0_M - v * MODIS_TILE_SIZE_M
    return (x0, y0), (x0 + MODIS_TILE_SIZE_M, y0 - MODIS_TILE_SIZE_M)


def grid_coords(upper_left: tuple[float, float], lower_right: tuple[float, float], nx: int,
                ny: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates ``(x, y)`` (m) of an ``ny x nx`` grid between outer corners.

    ``x`` increases eastward, ``y`` decreases southward (first row = northern edge).
    """
    nx, ny = int(nx), int(ny)
    if nx < 1 or ny < 1:
        raise ValueError(f"grid needs at least one pixel, got {ny} x {nx}")
    (x0, y0), (x1, y1) = upper_left, lower_right
    dx, dy = (x1 - x0) / nx, (y1 - y0) / ny
    x = x0 + dx * (np.arange(nx) + 0.5)
    y = y0 + dy * (np.arange(ny) + 0.5)
    return x, y


def parse_granule_name(path: str | Path) -> dict[str, Any]:
    """Fields of a MODIS tile granule name ``MOD11A1.AYYYYDDD.hHHvVV.CCC.YYYYDDDHHMMSS.hdf``.

    Returns ``product``, ``date`` (:class:`datetime.date`), ``tile`` (``"h11v05"``), ``h``,
    ``v``, ``collection`` (``"061"``), ``production`` (the 13-digit production time string).
    Raises :class:`GranuleNameError` (an ``InputFileError`` and ``ValueError``) otherwise.
    """
    name = Path(path).name
    m = _GRANULE_RE.match(name)
    if m is None:
        raise GranuleNameError(path, "file name is not a MODIS tile granule name "
                                     "PRODUCT.AYYYYDDD.hHHvVV.CCC.YYYYDDDHHMMSS.hdf")
    year, doy = int(m["year"]), int(m["doy"])
    days = 366 if (year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)) else 365
    if not 1 <= doy <= days:
        raise GranuleNameError(path, f"day of year {doy} does not exist in {year}")
    h, v = int(m["h"]), int(m["v"])
    if h > 35 or v > 17:
        raise GranuleNameError(path, f"tile h{h:02d}v{v:02d} is outside the MODIS 36 x 18 tile grid")
    return {
        "product": m["product"],
        "date": _dt.date(year, 1, 1) + _dt.timedelta(days=doy - 1),
        "tile": f"h{h:02d}v{v:02d}",
        "h": h,
        "v": v,
        "collection": m["collection"],
        "production": m["production"],
    }


# --------------------------------------------------------------------------------------------
# ODL (StructMetadata.0, CoreMetadata.0, Landsat MTL)
# --------------------------------------------------------------------------------------------

_NUMBER_RE = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def _split_top(text: str) -> list[str]:
    """Split ``a, "b,c", (d)`` at top-level commas (outside quotes and parentheses)."""
    items, depth, quoted, start = [], 0, False, 0
    for i, ch in enumerate(text):
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch == "(":
            depth += 1
        elif not quoted and ch == ")":
            depth -= 1
        elif not quoted and depth == 0 and ch == ",":
            items.append(text[start:i])
            start = i + 1
    items.append(text[start:])
    return [s.strip() for s in items if s.strip()]


def _odl_value(text: str) -> Any:
    text = text.strip()
    if text.startswith("(") and text.endswith(")"):
        return tuple(_odl_value(item) for item in _split_top(text[1:-1]))
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return text[1:-1]
    if _NUMBER_RE.match(text):
        if re.match(r"^[+-]?\d+$", text):
            return int(text)
        return float(text)
    return text


def _balanced(text: str) -> bool:
    depth, quoted = 0, False
    for ch in text:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch == "(":
            depth += 1
        elif not quoted and ch == ")":
            depth -= 1
    return depth <= 0 and not quoted


def _odl_insert(node: dict, key: str, value: Any) -> None:
    if key in node:
        if not isinstance(node[key], list) or not node.get(f"__list__{key}"):
            node[key] = [node[key]]
            node[f"__list__{key}"] = True
        node[key].append(value)
    else:
        node[key] = value


def _odl_clean(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _odl_clean(v) for k, v in node.items() if not k.startswith("__list__")}
    if isinstance(node, list):
        return [_odl_clean(v) for v in node]
    return node


def parse_odl(text: str) -> dict[str, Any]:
    """Parse Object Description Language text (HDF-EOS metadata, Landsat MTL) into nested dicts.

    ``GROUP = NAME`` / ``OBJECT = NAME`` open a nested dict stored under ``NAME``;
    ``END_GROUP``/``END_OBJECT`` close it; ``KEY = VALUE`` lines store the value (quoted strings
    without quotes, integers, floats, parenthesised tuples, other words as strings). A value
    whose parentheses or quotes are not closed on its line continues on the next lines. A name
    that repeats in the same group becomes a list. Parsing stops at ``END``. Raises ``ValueError``
    on unbalanced groups or a line that is not ``KEY = VALUE``.
    """
    root: dict[str, Any] = {}
    stack: list[tuple[str, dict]] = [("", root)]
    lines = text.replace("\x00", "").splitlines()
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        i += 1
        if not line or line.startswith("/*"):
            continue
        if line == "END":
            break
        if "=" not in line:
            raise ValueError(f"ODL line {i} is not KEY = VALUE: {line[:80]!r}")
        key, value = (s.strip() for s in line.split("=", 1))
        while not _balanced(value) and i < len(lines):
            value += "\n" + lines[i].strip()
            i += 1
        if key in ("GROUP", "OBJECT"):
            child: dict[str, Any] = {}
            _odl_insert(stack[-1][1], value, child)
            stack.append((value, child))
        elif key in ("END_GROUP", "END_OBJECT"):
            if len(stack) == 1:
                raise ValueError(f"ODL line {i}: {key} = {value} closes nothing")
            name, _ = stack.pop()
            if value and value != name:
                raise ValueError(f"ODL line {i}: {key} = {value} closes {name}")
        else:
            _odl_insert(stack[-1][1], key, _odl_value(value))
    if len(stack) != 1:
        raise ValueError(f"ODL group {stack[-1][0]} is never closed")
    return _odl_clean(root)


def _odl_find(node: Any, key: str) -> list[Any]:
    """Every value stored under ``key`` anywhere in a parsed ODL tree (depth first)."""
    found = []
    if isinstance(node, dict):
        for k, v in node.items():
            if k == key:
                found.extend(v if isinstance(v, list) else [v])
            found.extend(_odl_find(v, key))
    elif isinstance(node, list):
        for v in node:
            found.extend(_odl_find(v, key))
    return found


def parse_struct_metadata_grids(text: str) -> list[dict[str, Any]]:
    """Every grid of an HDF-EOS ``StructMetadata.0`` text (see :func:`parse_struct_metadata`)."""
    tree = parse_odl(text)
    grid_structure = tree.get("GridStructure")
    if not isinstance(grid_structure, dict):
        raise ValueError("StructMetadata has no GridStructure group")
    grids = []
    for key, grid in grid_structure.items():
        for g in grid if isinstance(grid, list) else [grid]:
            if not (isinstance(g, dict) and key.startswith("GRID_")):
                continue
            try:
                fields = {}
                data_fields = g.get("DataField", {})
                for fkey, field in data_fields.items():
                    for f in field if isinstance(field, list) else [field]:
                        if isinstance(f, dict) and "DataFieldName" in f:
                            dims = f.get("DimList", ())
                            fields[f["DataFieldName"]] = {
                                "data_type": f.get("DataType"),
                                "dim_list": tuple(dims) if isinstance(dims, tuple) else (dims,),
                            }
                grids.append({
                    "grid_name": str(g["GridName"]),
                    "xdim": int(g["XDim"]),
                    "ydim": int(g["YDim"]),
                    "upper_left": tuple(float(v) for v in g["UpperLeftPointMtrs"]),
                    "lower_right": tuple(float(v) for v in g["LowerRightMtrs"]),
                    "projection": str(g["Projection"]),
                    "proj_params": tuple(float(v) for v in g.get("ProjParams", ())),
                    "sphere_code": g.get("SphereCode"),
                    "grid_origin": g.get("GridOrigin", "HDFE_GD_UL"),
                    "pixel_registration": g.get("PixelRegistration", "HDFE_CENTER"),
                    "data_fields": fields,
                })
            except (KeyError, TypeError, ValueError) as exc:
                raise ValueError(f"StructMetadata grid {key} is incomplete ({type(exc).__name__}: {exc})") from exc
    if not grids:
        raise ValueError("StructMetadata declares no grid")
    return grids


def parse_struct_metadata(text: str) -> dict[str, Any]:
    """The FIRST grid of an HDF-EOS ``StructMetadata.0`` text (MODIS tiles have exactly one).

    Keys: ``grid_name``, ``xdim``, ``ydim``, ``upper_left`` ``(x, y)`` and ``lower_right``
    ``(x, y)`` outer corners in metres, ``projection`` (``"GCTP_SNSOID"``), ``proj_params``
    (13 floats, [0] = sphere radius), ``sphere_code``, ``grid_origin``, ``pixel_registration``
    (``HDFE_CENTER`` when not stated, the HDF-EOS default) and ``data_fields``
    (``{name: {"data_type", "dim_list"}}``). All grids: :func:`parse_struct_metadata_grids`.
    Raises ``ValueError`` on text that is not a StructMetadata grid structure.
    """
    return parse_struct_metadata_grids(text)[0]


def parse_core_metadata(text: str) -> dict[str, Any]:
    """The granule identity in an ECS ``CoreMetadata.0`` text.

    Returns ``product`` (SHORTNAME), ``date`` (RANGEBEGINNINGDATE as :class:`datetime.date`),
    ``h``/``v``/``tile`` (HORIZONTAL/VERTICALTILENUMBER additional attributes),
    ``local_granule_id`` — each ``None`` when absent.
    """
    tree = parse_odl(text)

    def first_value(obj: str) -> Any:
        for node in _odl_find(tree, obj):
            if isinstance(node, dict) and "VALUE" in node:
                return node["VALUE"]
        return None

    out: dict[str, Any] = {"product": first_value("SHORTNAME"), "local_granule_id": first_value("LOCALGRANULEID")}
    date = first_value("RANGEBEGINNINGDATE")
    try:
        out["date"] = _dt.date.fromisoformat(str(date)) if date is not None else None
    except ValueError:
        out["date"] = None
    attrs = {}
    for container in _odl_find(tree, "ADDITIONALATTRIBUTESCONTAINER"):
        if not isinstance(container, dict):
            continue
        name = container.get("ADDITIONALATTRIBUTENAME", {}).get("VALUE")
        value = container.get("INFORMATIONCONTENT", {}).get("PARAMETERVALUE", {}).get("VALUE")
        if name is not None:
            attrs[str(name)] = value
    h, v = attrs.get("HORIZONTALTILENUMBER"), attrs.get("VERTICALTILENUMBER")
    try:
        out["h"], out["v"] = (int(h), int(v)) if h is not None and v is not None else (None, None)
    except ValueError:
        out["h"], out["v"] = None, None
    out["tile"] = f"h{out['h']:02d}v{out['v']:02d}" if out["h"] is not None else None
    return out


# --------------------------------------------------------------------------------------------
# MODIS granules
# --------------------------------------------------------------------------------------------

_MOD11A1_SDS = {
    "day": ("LST_Day_1km", "QC_Day", "Day_view_time", "Day_view_angl"),
    "night": ("LST_Night_1km", "QC_Night", "Night_view_time", "Night_view_angl"),
}
_MOD09GQ_SDS = ("sur_refl_b01_1", "sur_refl_b02_1", "QC_250m_1")


def _describe(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class _Granule(HDF4File):
    """An open MODIS HDF4-EOS tile granule (core's :class:`HDF4File`) with the grid and identity checks
    of the tile readers."""

    def grid(self, sds_name: str) -> dict[str, Any]:
        text = self.attrs.get("StructMetadata.0")
        if text is None:
            raise InputFileError(self.path, "no StructMetadata.0 attribute (not an HDF-EOS grid granule)")
        try:
            grids = parse_struct_metadata_grids(str(text))
        except ValueError as exc:
            raise InputFileError(self.path, f"unreadable StructMetadata.0 ({exc})") from exc
        dims = self.datasets.get(sds_name, ((),))[0]
        for g in grids:
            if any(str(d).endswith(":" + g["grid_name"]) for d in dims):
                grid = g
                break
        else:
            grid = grids[0]
        if grid["projection"] != "GCTP_SNSOID":
            raise InputFileError(self.path, f"grid {grid['grid_name']} has projection {grid['projection']}, "
                                            "expected the MODIS sinusoidal GCTP_SNSOID")
        if grid["proj_params"] and abs(grid["proj_params"][0] - EARTH_RADIUS_M) > 1.0:
            raise InputFileError(self.path, f"grid {grid['grid_name']} has sphere radius {grid['proj_params'][0]} m, "
                                            f"expected {EARTH_RADIUS_M} m")
        if str(grid["grid_origin"]) != "HDFE_GD_UL":
            raise InputFileError(self.path, f"grid origin {grid['grid_origin']} is not supported (HDFE_GD_UL only)")
        return grid

    def identity(self) -> dict[str, Any]:
        """Product, tile and date from CoreMetadata.0 and the file name (which must agree)."""
        from_name: dict[str, Any] = {}
        try:
            from_name = parse_granule_name(self.path)
        except GranuleNameError:
            pass
        from_core: dict[str, Any] = {}
        core = self.attrs.get("CoreMetadata.0")
        if core is not None:
            try:
                from_core = {k: v for k, v in parse_core_metadata(str(core)).items() if v is not None}
            except ValueError as exc:
                raise InputFileError(self.path, f"unreadable CoreMetadata.0 ({exc})") from exc
        for key in ("tile", "date"):
            a, b = from_core.get(key), from_name.get(key)
            if a is not None and b is not None and a != b:
                raise InputFileError(self.path, f"{key} {b} in the file name differs from {a} in CoreMetadata.0")
        out = {key: from_core.get(key, from_name.get(key)) for key in ("product", "tile", "date")}
        if out["date"] is None:
            raise InputFileError(self.path, "no acquisition date: neither CoreMetadata.0 RANGEBEGINNINGDATE "
                                            "nor a MODIS granule file name")
        return out


def _decode_sds(raw: np.ndarray, attrs: Mapping[str, Any], path: Path, sds: str) -> np.ndarray:
    """``raw * scale_factor + add_offset`` as float32, NaN at ``_FillValue`` and outside ``valid_range``
    (the MODIS land convention; :func:`eoml.core.hdf4.decode_sds`)."""
    return decode_sds(raw, attrs, path, sds, convention="raw*scale+offset")


def _coords(grid: dict[str, Any]) -> tuple[dict[str, Any], tuple[float, ...]]:
    x, y = grid_coords(grid["upper_left"], grid["lower_right"], grid["xdim"], grid["ydim"])
    dx, dy = float(x[1] - x[0]) if x.size > 1 else 0.0, float(y[1] - y[0]) if y.size > 1 else 0.0
    (x0, y0) = grid["upper_left"]
    transform = (x0, dx, 0.0, y0, 0.0, dy)
    coords = {
        "x": ("x", x, {"units": "m", "long_name": "x coordinate of projection (MODIS sinusoidal), pixel centre",
                        "standard_name": "projection_x_coordinate", "axis": "X"}),
        "y": ("y", y, {"units": "m", "long_name": "y coordinate of projection (MODIS sinusoidal), pixel centre",
                        "standard_name": "projection_y_coordinate", "axis": "Y"}),
        "spatial_ref": ((), np.int32(0), sinusoidal_grid_mapping_attrs(transform)),
    }
    return coords, transform


def read_mod11a1(path: str | Path, *, overpass: str = "day") -> xr.Dataset:
    """Read one MOD11A1/MYD11A1 v061 granule (daily 1 km LST) for the day or night overpass.

    Returns dims ``(y, x)`` (1200 x 1200 for a real tile) with ``lst`` (float32 K),
    ``qc`` (uint8, the raw QC byte, see :func:`decode_lst_qc`), ``view_time`` (float32 h, local
    solar time) and ``view_angle`` (float32 degrees), all NaN at fill / outside the valid range;
    coordinates ``x``/``y`` (sinusoidal metres, pixel centres) and the grid mapping
    ``spatial_ref``. Global attributes: ``product``, ``tile``, ``date`` (ISO), ``source_file``,
    ``overpass``, ``grid_name``.
    """
    if overpass not in _MOD11A1_SDS:
        raise ValueError(f"overpass must be 'day' or 'night', got {overpass!r}")
    lst_name, qc_name, time_name, angle_name = _MOD11A1_SDS[overpass]
    with _Granule(path, "MOD11A1") as g:
        if lst_name not in g.datasets:
            raise InputFileError(g.path, f"missing SDS {lst_name!r} (this is not a MOD11A1 granule?)")
        grid = g.grid(lst_name)
        shape = (grid["ydim"], grid["xdim"])
        raw_lst, a_lst = g.read_sds(lst_name, shape)
        raw_qc, _ = g.read_sds(qc_name, shape)
        raw_time, a_time = g.read_sds(time_name, shape)
        raw_angle, a_angle = g.read_sds(angle_name, shape)
        ident = g.identity()
        lst = _decode_sds(raw_lst, a_lst, g.path, lst_name)
        view_time = _decode_sds(raw_time, a_time, g.path, time_name)
        view_angle = _decode_sds(raw_angle, a_angle, g.path, angle_name)
    coords, _ = _coords(grid)
    gm = {"grid_mapping": "spatial_ref"}
    label = "daytime" if overpass == "day" else "nighttime"
    ds = xr.Dataset(
        {
            "lst": (("y", "x"), lst, {"units": "K", "long_name": f"{label} land-surface temperature ({lst_name})",
                                       "standard_name": "surface_temperature", **gm}),
            "qc": (("y", "x"), raw_qc.astype(np.uint8), {
                "units": "1", "long_name": f"MOD11A1 quality control byte ({qc_name}): bits 0-1 mandatory QA, "
                                           "2-3 data quality, 4-5 emissivity error, 6-7 LST error",
                "flag_masks": np.array([3, 12, 48, 192], dtype=np.uint8), **gm}),
            "view_time": (("y", "x"), view_time, {"units": "h", "long_name": f"local solar time of the {label} "
                                                                            f"observation ({time_name})", **gm}),
            "view_angle": (("y", "x"), view_angle, {
                "units": "degree", "long_name": f"view zenith angle of the {label} observation ({angle_name})", **gm}),
        },
        coords=coords,
        attrs={
            "product": ident["product"] or "MOD11A1",
            "tile": ident["tile"] or _tile_from_corner(grid),
            "date": ident["date"].isoformat(),
            "source_file": g.path.name,
            "overpass": overpass,
            "grid_name": grid["grid_name"],
        },
    )
    return ds


def _tile_from_corner(grid: Mapping[str, Any]) -> str:
    x0, y0 = grid["upper_left"]
    h = round((x0 - MODIS_X0_M) / MODIS_TILE_SIZE_M)
    v = round((MODIS_Y0_M - y0) / MODIS_TILE_SIZE_M)
    return f"h{h:02d}v{v:02d}"


def read_mod09gq(path: str | Path) -> xr.Dataset:
    """Read one MOD09GQ/MYD09GQ v061 granule (daily 250 m surface reflectance, bands 1-2).

    Returns dims ``(y, x)`` (4800 x 4800 for a real tile) with ``red`` (band 1, 620-670 nm) and
    ``nir`` (band 2, 841-876 nm) float32 reflectance (NaN at fill / outside the valid range) and
    ``qc_250m`` (uint16, raw ``QC_250m_1``, see :func:`decode_mod09gq_qc`); same coordinates,
    grid mapping and global attributes as :func:`read_mod11a1` (no ``overpass``).
    """
    red_name, nir_name, qc_name = _MOD09GQ_SDS
    with _Granule(path, "MOD09GQ") as g:
        if red_name not in g.datasets:
            raise InputFileError(g.path, f"missing SDS {red_name!r} (this is not a MOD09GQ granule?)")
        grid = g.grid(red_name)
        shape = (grid["ydim"], grid["xdim"])
        raw_red, a_red = g.read_sds(red_name, shape)
        raw_nir, a_nir = g.read_sds(nir_name, shape)
        raw_qc, _ = g.read_sds(qc_name, shape)
        ident = g.identity()
        red = _decode_sds(raw_red, a_red, g.path, red_name)
        nir = _decode_sds(raw_nir, a_nir, g.path, nir_name)
    coords, _ = _coords(grid)
    gm = {"grid_mapping": "spatial_ref"}
    return xr.Dataset(
        {
            "red": (("y", "x"), red, {"units": "1", "long_name": "surface reflectance, MODIS band 1 (620-670 nm)",
                                       "standard_name": "surface_bidirectional_reflectance", **gm}),
            "nir": (("y", "x"), nir, {"units": "1", "long_name": "surface reflectance, MODIS band 2 (841-876 nm)",
                                       "standard_name": "surface_bidirectional_reflectance", **gm}),
            "qc_250m": (("y", "x"), raw_qc.astype(np.uint16), {
                "units": "1", "long_name": "MOD09GQ 250 m band quality (QC_250m_1): bits 0-1 MODLAND QA, "
                                           "4-7 band 1 quality, 8-11 band 2 quality, 12 atmospheric and 13 adjacency "
                                           "correction", **gm}),
        },
        coords=coords,
        attrs={
            "product": ident["product"] or "MOD09GQ",
            "tile": ident["tile"] or _tile_from_corner(grid),
            "date": ident["date"].isoformat(),
            "source_file": g.path.name,
            "grid_name": grid["grid_name"],
        },
    )


# --------------------------------------------------------------------------------------------
# QC bit fields
# --------------------------------------------------------------------------------------------


def decode_lst_qc(qc: np.ndarray) -> dict[str, np.ndarray]:
    """Unpack the MOD11A1 QC byte (uint8 arrays of the same shape).

    ``mandatory`` bits 0-1 (0 good quality, 1 other quality, 2 not produced due to cloud,
    3 not produced for other reasons), ``data_quality`` bits 2-3 (0 good), ``emissivity_error``
    bits 4-5 (0 <= 0.01, 1 <= 0.02, 2 <= 0.04, 3 > 0.04), ``lst_error`` bits 6-7
    (0 <= 1 K, 1 <= 2 K, 2 <= 3 K, 3 > 3 K).
    """
    q = np.asarray(qc).astype(np.uint8, copy=False)
    return {
        "mandatory": q & 3,
        "data_quality": (q >> 2) & 3,
        "emissivity_error": (q >> 4) & 3,
        "lst_error": (q >> 6) & 3,
    }


def lst_quality_mask(qc: np.ndarray, *, max_lst_error_k: int = 2) -> np.ndarray:
    """True where the LST is usable: mandatory QA 0, or 1 with LST error <= ``max_lst_error_k``.

    ``max_lst_error_k`` is 1, 2 or 3 K (LST error classes <= 0, 1 or 2); 0 accepts only
    mandatory QA 0.
    """
    k = int(max_lst_error_k)
    if k not in (0, 1, 2, 3):
        raise ValueError(f"max_lst_error_k must be 0, 1, 2 or 3 (K), got {max_lst_error_k!r}")
    f = decode_lst_qc(qc)
    ok = f["mandatory"] == 0
    if k > 0:
        ok |= (f["mandatory"] == 1) & (f["lst_error"] <= k - 1)
    return ok


def decode_mod09gq_qc(qc: np.ndarray) -> dict[str, np.ndarray]:
    """Unpack the MOD09GQ ``QC_250m_1`` word (uint16).

    ``modland`` bits 0-1 (0 ideal quality, 1 less than ideal, 2 not produced due to cloud,
    3 not produced for other reasons), ``band1_quality`` bits 4-7 and ``band2_quality`` bits 8-11
    (0 highest quality, 7 noisy detector, 8 dead detector, 11 missing input, 15 not processed ...),
    ``atmos_corr`` bit 12, ``adjacency`` bit 13 (1 = correction performed).
    """
    q = np.asarray(qc).astype(np.uint16, copy=False)
    return {
        "modland": (q & 3).astype(np.uint8),
        "band1_quality": ((q >> 4) & 15).astype(np.uint8),
        "band2_quality": ((q >> 8) & 15).astype(np.uint8),
        "atmos_corr": ((q >> 12) & 1).astype(np.uint8),
        "adjacency": ((q >> 13) & 1).astype(np.uint8),
    }


def reflectance_quality_mask(qc: np.ndarray) -> np.ndarray:
    """True where both 250 m bands are usable: MODLAND QA <= 1 and both band qualities 0."""
    f = decode_mod09gq_qc(qc)
    return (f["modland"] <= 1) & (f["band1_quality"] == 0) & (f["band2_quality"] == 0)


def ndvi_from_reflectance(red: np.ndarray, nir: np.ndarray) -> np.ndarray:
    """``(nir - red) / (nir + red)`` as float32; NaN where either is NaN or ``red + nir <= 0``."""
    red = np.asarray(red, dtype=np.float32)
    nir = np.asarray(nir, dtype=np.float32)
    total = red + nir
    ok = np.isfinite(total) & (total > 0)
    out = np.full(np.broadcast(red, nir).shape, np.nan, dtype=np.float32)
    np.divide(nir - red, total, out=out, where=ok)
    return out


# --------------------------------------------------------------------------------------------
# Validation scenes (GeoTIFF)
# --------------------------------------------------------------------------------------------

LST_KINDS = ("kelvin", "aster_ast08", "landsat_b10")
_MTL_KEYS = {
    "radiance_mult": "RADIANCE_MULT_BAND_10",
    "radiance_add": "RADIANCE_ADD_BAND_10",
    "k1": "K1_CONSTANT_BAND_10",
    "k2": "K2_CONSTANT_BAND_10",
}
_ALIGN_TOL_PX = 1e-6


def parse_landsat_mtl(path: str | Path) -> dict[str, Any]:
    """Parse a Landsat ``*_MTL.txt`` metadata file (ODL ``GROUP = ... / KEY = value / END_GROUP``).

    Returns the nested groups as dicts, e.g. ``mtl["LANDSAT_METADATA_FILE"]
    ["LEVEL1_RADIOMETRIC_RESCALING"]["RADIANCE_MULT_BAND_10"]`` (Collection 2) or
    ``mtl["L1_METADATA_FILE"]["RADIOMETRIC_RESCALING"][...]`` (Collection 1); numbers as int or
    float, quoted strings unquoted. Raises :class:`InputFileError` on an unreadable file.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise InputFileError(path, f"cannot read the MTL file ({_describe(exc)})") from exc
    try:
        tree = parse_odl(text)
    except ValueError as exc:
        raise InputFileError(path, f"not a Landsat MTL file ({exc})") from exc
    if not tree:
        raise InputFileError(path, "not a Landsat MTL file (no GROUP = ... / KEY = value content)")
    return tree


def _mtl_constant(mtl: Mapping[str, Any], key: str, path: Path) -> float:
    values = _odl_find(mtl, key)
    if not values:
        raise InputFileError(path, f"MTL file has no {key}")
    try:
        return float(values[0])
    except (TypeError, ValueError) as exc:
        raise InputFileError(path, f"MTL {key} is not a number: {values[0]!r}") from exc


class _Raster:
    """Band 1 of a north-up GeoTIFF with its grid."""

    def __init__(self, path: Path, role: str):
        import rasterio
        from rasterio.errors import RasterioError

        self.path, self.role = path, role
        if not path.is_file():
            raise InputFileError(path, f"{role} file does not exist")
        try:
            with rasterio.open(path) as src:
                self.data = src.read(1)
                self.transform = src.transform
                self.crs = src.crs
                self.nodata = src.nodata
        except (RasterioError, OSError, ValueError) as exc:
            raise InputFileError(path, f"not a readable GeoTIFF, truncated or corrupt? ({_describe(exc)})") from exc
        if self.crs is None:
            raise InputFileError(path, f"{role} GeoTIFF has no coordinate reference system")
        t = self.transform
        if t.b != 0 or t.d != 0 or t.a <= 0 or t.e >= 0:
            raise InputFileError(path, f"{role} GeoTIFF is not a north-up grid (geotransform {tuple(t)[:6]})")

    def masked(self) -> np.ndarray:
        """Values as float64 with NaN at the nodata value and at non-finite values."""
        out = self.data.astype(np.float64)
        bad = ~np.isfinite(out)
        if self.nodata is not None and np.isfinite(self.nodata):
            bad |= out == self.nodata
        elif self.nodata is not None:
            bad |= np.isnan(out)
        out[bad] = np.nan
        return out


def _resolve(value: Any, base_dir: str | Path | None) -> Path:
    p = Path(str(value))
    if base_dir is not None and not p.is_absolute():
        p = Path(base_dir) / p
    return p


def _onto_lst_grid(band: _Raster, lst: _Raster, values: np.ndarray) -> np.ndarray:
    """Check ``band`` nests in the LST grid by an integer ratio; block-average it onto that grid."""
    if band.crs != lst.crs:
        raise InputFileError(band.path, f"{band.role} band CRS {band.crs} differs from the LST file's {lst.crs}")
    ta, tl = band.transform, lst.transform
    rx, ry = tl.a / ta.a, tl.e / ta.e
    ratio = int(round(rx))
    if ratio < 1 or abs(rx - ratio) > 1e-6 * ratio or abs(ry - ratio) > 1e-6 * ratio:
        raise InputFileError(band.path, f"{band.role} pixel size ({ta.a:g}, {-ta.e:g}) is not the LST pixel size "
                                        f"({tl.a:g}, {-tl.e:g}) divided by one integer")
    off_x, off_y = (ta.c - tl.c) / ta.a, (ta.f - tl.f) / ta.e
    if abs(off_x) > _ALIGN_TOL_PX or abs(off_y) > _ALIGN_TOL_PX:
        raise InputFileError(band.path, f"{band.role} grid origin ({ta.c:.3f}, {ta.f:.3f}) is offset by ({off_x:.4g}, "
                                        f"{off_y:.4g}) pixels from the LST grid origin ({tl.c:.3f}, {tl.f:.3f})")
    ny, nx = lst.data.shape
    if values.shape[0] < ratio * ny or values.shape[1] < ratio * nx:
        raise InputFileError(band.path, f"{band.role} grid of {values.shape[0]} x {values.shape[1]} pixels does not "
                                        f"cover the LST grid ({ny} x {nx} pixels x {ratio})")
    values = values[: ratio * ny, : ratio * nx]
    if ratio == 1:
        return values
    from eoml.lst.scaling import block_mean

    return block_mean(values, ratio)


def _scene_grid_mapping(lst: _Raster) -> dict[str, Any]:
    from pyproj import CRS
    from pyproj.exceptions import CRSError

    wkt = lst.crs.to_wkt()
    attrs: dict[str, Any] = {}
    try:
        cf = CRS.from_wkt(wkt).to_cf()
    except CRSError as exc:
        raise InputFileError(lst.path, f"coordinate reference system not understood ({exc})") from exc
    attrs.update({k: v for k, v in cf.items() if isinstance(v, (str, int, float))})
    # CF has no grid-mapping name for some projections: pyproj then gives only crs_wkt
    attrs.setdefault("grid_mapping_name", "unknown")
    t = lst.transform
    attrs.update({"crs_wkt": wkt, "spatial_ref": wkt, "long_name": "coordinate reference system",
                  "GeoTransform": " ".join(repr(float(v)) for v in (t.c, t.a, t.b, t.f, t.d, t.e))})
    return attrs


def read_validation_scene(entry: Mapping[str, Any], base_dir: str | Path | None = None) -> xr.Dataset:
    """Read a high-resolution validation scene (LST + red + NIR GeoTIFFs) onto the LST grid.

    ``entry`` keys: ``name``, ``lst``, ``red``, ``nir`` (paths; relative ones are taken from
    ``base_dir`` when given), ``lst_kind`` (``kelvin`` | ``aster_ast08`` | ``landsat_b10``),
    ``factor``, optional ``mtl`` or ``radiance_mult``/``radiance_add``/``k1``/``k2``
    (landsat_b10; the MTL file wins when given), ``reflectance_scale`` and ``reflectance_offset``
    (reflectance = value * scale + offset; the schema fills them in with 1 and 0).

    Returns dims ``(y, x)``: ``lst`` (float32 K), ``red``, ``nir``, ``ndvi`` (float32, block
    averages when the bands are finer than the LST) with NaN at nodata/fill; coordinates
    ``x``/``y`` (pixel centres in the file's CRS) and ``spatial_ref``; attributes ``name``,
    ``factor``, ``lst_kind``, ``crs`` and the file names.
    """
    for key in ("name", "lst", "red", "nir", "lst_kind", "factor", "reflectance_scale", "reflectance_offset"):
        if key not in entry:
            scene = f"validation scene {entry['name']!r}" if "name" in entry else "a validation scene"
            raise ConfigError(f"{scene}: missing key {key!r}" + (
                " (the schema fills it in: pass validated entries of lst.validation_scenes)"
                if key.startswith("reflectance_") else ""))
    name, kind = str(entry["name"]), str(entry["lst_kind"])
    if kind not in LST_KINDS:
        raise ConfigError(f"validation scene {name!r}: lst_kind {kind!r} is not one of {', '.join(LST_KINDS)}")
    lst = _Raster(_resolve(entry["lst"], base_dir), "LST")
    extra_attrs: dict[str, Any] = {}
    if kind == "kelvin":
        temp = lst.masked()
    elif kind == "aster_ast08":
        if lst.data.dtype.kind not in "ui":
            raise InputFileError(lst.path, f"AST_08 kinetic temperature must be integer (uint16 x 0.1 K), "
                                           f"found {lst.data.dtype}")
        temp = lst.masked()
        temp[lst.data == 0] = np.nan
        temp *= 0.1
    else:
        if lst.data.dtype.kind not in "ui":
            raise InputFileError(lst.path, f"Landsat band 10 must hold integer digital numbers, found {lst.data.dtype}")
        if entry.get("mtl") is not None:
            mtl_path = _resolve(entry["mtl"], base_dir)
            mtl = parse_landsat_mtl(mtl_path)
            consts = {k: _mtl_constant(mtl, key, mtl_path) for k, key in _MTL_KEYS.items()}
        else:
            missing = [k for k in _MTL_KEYS if entry.get(k) is None]
            if missing:
                raise ConfigError(f"validation scene {name!r}: lst_kind landsat_b10 needs an 'mtl' file or "
                                  f"{', '.join(missing)}")
            consts = {k: float(entry[k]) for k in _MTL_KEYS}
        dn = lst.masked()
        dn[lst.data == 0] = np.nan
        radiance = consts["radiance_mult"] * dn + consts["radiance_add"]
        with np.errstate(invalid="ignore", divide="ignore"):
            temp = consts["k2"] / np.log(consts["k1"] / radiance + 1.0)
        temp[~(radiance > 0)] = np.nan
        extra_attrs = {f"band10_{k}": v for k, v in consts.items()}
    if not np.isfinite(temp).any():
        raise InputFileError(lst.path, "no valid LST pixel (every pixel is nodata/fill)")

    scale, offset = float(entry["reflectance_scale"]), float(entry["reflectance_offset"])
    bands = {}
    for role in ("red", "nir"):
        band = _Raster(_resolve(entry[role], base_dir), role)
        refl = band.masked() * scale + offset
        bands[role] = _onto_lst_grid(band, lst, refl).astype(np.float32)
    ndvi = ndvi_from_reflectance(bands["red"], bands["nir"])

    t = lst.transform
    ny, nx = lst.data.shape
    x = t.c + t.a * (np.arange(nx) + 0.5)
    y = t.f + t.e * (np.arange(ny) + 0.5)
    linear = str(lst.crs.linear_units)
    units = "m" if linear.lower() in ("metre", "meter", "m", "metres", "meters") else linear
    gm = {"grid_mapping": "spatial_ref"}
    ds = xr.Dataset(
        {
            "lst": (("y", "x"), temp.astype(np.float32), {
                "units": "K", "long_name": f"{name}: land-surface (or brightness) temperature from {kind}",
                "standard_name": "surface_temperature", **gm}),
            "red": (("y", "x"), bands["red"], {
                "units": "1", "long_name": f"{name}: red reflectance on the LST grid", **gm}),
            "nir": (("y", "x"), bands["nir"], {
                "units": "1", "long_name": f"{name}: near-infrared reflectance on the LST grid", **gm}),
            "ndvi": (("y", "x"), ndvi, {"units": "1", "long_name": f"{name}: NDVI of the red/NIR on the LST grid",
                                        "standard_name": "normalized_difference_vegetation_index", **gm}),
        },
        coords={
            "x": ("x", x, {"units": units, "long_name": "x coordinate of projection, pixel centre",
                           "standard_name": "projection_x_coordinate", "axis": "X"}),
            "y": ("y", y, {"units": units, "long_name": "y coordinate of projection, pixel centre",
                           "standard_name": "projection_y_coordinate", "axis": "Y"}),
            "spatial_ref": ((), np.int32(0), _scene_grid_mapping(lst)),
        },
        attrs={
            "name": name,
            "factor": int(entry["factor"]),
            "lst_kind": kind,
            "crs": lst.crs.to_string(),
            "lst_file": lst.path.name,
            "red_file": Path(str(entry["red"])).name,
            "nir_file": Path(str(entry["nir"])).name,
            **extra_attrs,
        },
    )
    return ds
