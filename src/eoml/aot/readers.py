"""Readers of the aot study's raw products: 8-day global aerosol optical thickness composites.

Every reader takes one file as the agency publishes it and returns an ``xarray.Dataset`` with one
variable ``aot`` (dims ``lat``, ``lon``; float32; NaN where the product has no retrieval or a
fill value), coordinates ``lat`` (descending: row 0 is the northernmost row) and ``lon``
(ascending from 180 W), both float64 cell centres in degrees, a scalar coordinate ``time``
(``datetime64[ns]``, the first day of the 8-day composite, from the file name), and attributes
``source`` (the file name), ``product`` and ``format``. Anything wrong with a file (missing,
truncated, wrong grid or orientation, missing SDS or attribute, a name without a composite date)
raises :class:`eoml.core.errors.InputFileError`, whose message starts with the file's path.

8-day composites (MODIS convention): a composite is identified by its first day; the periods
start on day-of-year 1, 9, 17, ..., 361 of every year (46 a year, the last one 5 or 6 days long).
A date that is not such a first day is refused.

Products
--------
* :func:`read_neo_geotiff` — NASA Earth Observations (NEO) float GeoTIFF of ``MODAL2_E_AER_OD``
  (MODIS Terra aerosol optical thickness at 550 nm, 8-day), e.g.
  ``MODAL2_E_AER_OD_2020-01-01_rgb_3600x1800.FLOAT.TIFF``: float32 on a global plate carrée grid
  of 3600 x 1800, 1440 x 720, 720 x 360 or 360 x 180 pixels, geotransform with row 0 at 90 N and
  column 0 at 180 W, fill 99999.0 (any value >= 99999, any non-finite value and the file's own
  nodata are unread). Read with rasterio; a file whose geotransform says another orientation or
  extent is refused, never flipped.
* :func:`read_neo_8bit` — NEO 8-bit PNG or GeoTIFF of the same product: palette (or grey) indices
  0..254 scaled linearly onto ``value_range`` (NEO documents 0.0-1.0 for AER_OD), 255 = fill. The
  PNG has no geotransform: the global grid is implied by its shape; a georeferenced TIFF is
  checked like the float one.
* :func:`read_mod08_e3` — MODIS Terra / Aqua level-3 8-day global product MOD08_E3 / MYD08_E3,
  collection 6.1 HDF4 (``MOD08_E3.AYYYYDDD.061.YYYYDDDHHMMSS.hdf``): 1 degree grid of 180 x 360,
  row 0 centred at 89.5 N, column 0 at 179.5 W (the ``YDim`` / ``XDim`` coordinate SDSs are
  checked when present); default SDS ``AOD_550_Dark_Target_Deep_Blue_Combined_Mean_Mean``
  (int16). Values follow the MODIS atmosphere (HDF4 ``SDsetcal``) convention
  ``scale_factor * (stored - add_offset)``; ``scale_factor``, ``add_offset``, ``_FillValue`` and
  ``valid_range`` come from the SDS's attributes (all required); fill and out-of-range are NaN.
  The HDF4 plumbing (truncation check, opening, one SDS, decoding) is core's
  :mod:`eoml.core.hdf4`.

:func:`read_any` dispatches on the configured ``source`` (one of :data:`SOURCES`);
:func:`parse_date` gives a file's composite date from its name alone.

References: NASA Earth Observations, "Aerosol Optical Thickness (MODIS Terra, 8-day)",
https://neo.gsfc.nasa.gov (dataset MODAL2_E_AER_OD); Platnick, S. et al. (2017) MODIS
Atmosphere L3 Gridded Product Algorithm Theoretical Basis Document, Collection 6.1; Hubanks, P.
et al. (2020) MODIS Atmosphere L3 Gridded Product User Guide (C6/6.1).
"""

from __future__ import annotations

import datetime as _dt
import re
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import xarray as xr

from eoml.core.errors import ConfigError, InputFileError
from eoml.core.hdf4 import HDF4File, decode_sds

__all__ = [
    "MOD08_SDS",
    "NEO_FILL",
    "NEO_SHAPES",
    "SOURCES",
    "parse_date",
    "read_any",
    "read_mod08_e3",
    "read_neo_8bit",
    "read_neo_geotiff",
]

SOURCES = ("neo_geotiff", "neo_8bit", "mod08_e3")
#: the MOD08_E3 SDS read as AOT at 550 nm unless told otherwise
MOD08_SDS = "AOD_550_Dark_Target_Deep_Blue_Combined_Mean_Mean"
#: the NEO float GeoTIFF fill value (values >= it are unread)
NEO_FILL = 99999.0
#: the global grids NEO publishes, as (height, width)
NEO_SHAPES = ((1800, 3600), (720, 1440), (360, 720), (180, 360))
#: the 8-bit NEO fill index
NEO_8BIT_FILL = 255
MOD08_SHAPE = (180, 360)

_MOD08_RE = re.compile(r"^(?P<product>M[OY]D08_E3)\.A(?P<year>\d{4})(?P<doy>\d{3})\.(?P<collection>\d{3})"
                       r"\.(?P<production>\d{13})\.hdf$")
_NEO_DATE_RE = re.compile(r"(?<!\d)(?P<date>\d{4}-\d{2}-\d{2})(?!\d)")
# grid edges must lie within this fraction of a pixel of the global grid's
_GRID_TOL_PX = 0.01


def _describe(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


# --------------------------------------------------------------------------------------------
# file names and dates
# --------------------------------------------------------------------------------------------


def _period_start(path: Path, date: _dt.date) -> np.datetime64:
    doy = date.timetuple().tm_yday
    if (doy - 1) % 8:
        raise InputFileError(path, f"date {date.isoformat()} (day-of-year {doy}) is not the first day of a "
                                   "MODIS 8-day composite (day-of-year 1, 9, 17, ..., 361)")
    return np.datetime64(date.isoformat(), "ns")


def _mod08_name(path: Path) -> tuple[str, np.datetime64] | None:
    m = _MOD08_RE.match(path.name)
    if m is None:
        return None
    year, doy = int(m["year"]), int(m["doy"])
    days = 366 if (year % 4 == 0 and year % 100 != 0) or year % 400 == 0 else 365
    if not 1 <= doy <= days:
        raise InputFileError(path, f"day-of-year {doy:03d} in the file name does not exist in {year}")
    return m["product"], _period_start(path, _dt.date(year, 1, 1) + _dt.timedelta(days=doy - 1))


def _neo_name(path: Path) -> tuple[str, np.datetime64]:
    m = _NEO_DATE_RE.search(path.name)
    if m is None:
        raise InputFileError(path, "file name holds no composite date: expected a NEO name such as "
                                   "MODAL2_E_AER_OD_2020-01-01_rgb_3600x1800.FLOAT.TIFF (first YYYY-MM-DD) or "
                                   "a MODIS name MOD08_E3.AYYYYDDD.061.YYYYDDDHHMMSS.hdf")
    try:
        date = _dt.date.fromisoformat(m["date"])
    except ValueError as exc:
        raise InputFileError(path, f"date {m['date']} in the file name is not a calendar date") from exc
    product = path.name[: m.start()].rstrip("_-. ") or "NEO"
    return product, _period_start(path, date)


def parse_date(path: str | Path) -> np.datetime64:
    """First day of the composite held by ``path`` (``datetime64[ns]``), from its name alone.

    MOD08_E3 / MYD08_E3 names give ``AYYYYDDD``; any other name (NEO) its first ``YYYY-MM-DD``.
    A name with neither, a date that does not exist or is not the first day of a MODIS 8-day
    period raises :class:`InputFileError`.
    """
    path = Path(path)
    parsed = _mod08_name(path)
    return (parsed or _neo_name(path))[1]


# --------------------------------------------------------------------------------------------
# the datasets
# --------------------------------------------------------------------------------------------


def _global_coords(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Cell centres of the global grid of ``height`` x ``width``: lat descending, lon ascending."""
    lat = 90.0 - (np.arange(height) + 0.5) * (180.0 / height)
    lon = -180.0 + (np.arange(width) + 0.5) * (360.0 / width)
    return lat, lon


def _dataset(aot: np.ndarray, time: np.datetime64, *, source: str, product: str, fmt: str,
             long_name: str) -> xr.Dataset:
    lat, lon = _global_coords(*aot.shape)
    return xr.Dataset(
        {"aot": (("lat", "lon"), aot.astype(np.float32, copy=False), {"long_name": long_name, "units": "1"})},
        coords={
            "lat": ("lat", lat, {"units": "degrees_north", "long_name": "latitude of the cell centre",
                                 "standard_name": "latitude"}),
            "lon": ("lon", lon, {"units": "degrees_east", "long_name": "longitude of the cell centre",
                                 "standard_name": "longitude"}),
            "time": ((), time, {"long_name": "first day of the 8-day composite"}),
        },
        attrs={"source": source, "product": product, "format": fmt},
    )


# --------------------------------------------------------------------------------------------
# NEO GeoTIFF / PNG
# --------------------------------------------------------------------------------------------


def _check_neo_shape(path: Path, shape: tuple[int, int]) -> None:
    if tuple(shape) not in NEO_SHAPES:
        grids = ", ".join(f"{w} x {h}" for h, w in NEO_SHAPES)
        raise InputFileError(path, f"grid of {shape[1]} x {shape[0]} pixels (width x height) is not a NEO global "
                                   f"grid ({grids})")


def _check_global_transform(path: Path, transform, shape: tuple[int, int], crs) -> None:
    """The geotransform must be the global plate carrée grid: row 0 at 90 N, column 0 at 180 W."""
    height, width = shape
    res = 360.0 / width
    t = transform
    got = f"geotransform (x0 {t.c:g}, dx {t.a:g}, rot {t.b:g}, y0 {t.f:g}, rot {t.d:g}, dy {t.e:g})"
    if crs is not None and not crs.is_geographic:
        raise InputFileError(path, f"coordinate reference system {crs} is not geographic latitude/longitude")
    tol = _GRID_TOL_PX * res
    if abs(t.b) * height > tol or abs(t.d) * width > tol:
        raise InputFileError(path, f"{got} is rotated: not a north-up global grid")
    if t.e > 0:
        raise InputFileError(path, f"{got}: row 0 is the southern edge (south-up); only north-up files are "
                                   "read (row 0 at 90 N), never flipped silently")
    if t.a < 0:
        raise InputFileError(path, f"{got}: column 0 is the eastern edge; only files with column 0 at 180 W are "
                                   "read, never flipped silently")
    if (abs(t.a - res) * width > tol or abs(-t.e - res) * height > tol or abs(t.c + 180.0) > tol
            or abs(t.f - 90.0) > tol):
        raise InputFileError(path, f"{got} is not the global grid of {width} x {height} pixels (expected x0 -180, "
                                   f"dx {res:g}, y0 90, dy {-res:g}: row 0 at 90 N, column 0 at 180 W)")


def _read_band(path: Path, *, georeferenced: bool):
    """Band 1, its dtype, nodata and whether the file carries a geotransform (checked if so)."""
    import rasterio
    from rasterio.errors import NotGeoreferencedWarning, RasterioError

    if not path.is_file():
        raise InputFileError(path, "file does not exist")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            with rasterio.open(path) as src:
                count, shape, nodata = src.count, (src.height, src.width), src.nodata
                transform, crs, dtype = src.transform, src.crs, src.dtypes[0]
                has_transform = not transform.is_identity
                if count != 1:
                    raise InputFileError(path, f"has {count} bands: a NEO data file has one (palette indices or "
                                               "values), not an RGB rendering")
                if georeferenced and not has_transform:
                    raise InputFileError(path, "has no geotransform: cannot check that row 0 is at 90 N and "
                                               "column 0 at 180 W")
                _check_neo_shape(path, shape)
                if has_transform:
                    _check_global_transform(path, transform, shape, crs)
                data = src.read(1)
    except (RasterioError, OSError, ValueError) as exc:
        raise InputFileError(path, f"not a readable image file, truncated or corrupt? ({_describe(exc)})") from exc
    return data, np.dtype(dtype), nodata


def read_neo_geotiff(path: str | Path) -> xr.Dataset:
    """Read one NEO ``MODAL2_E_AER_OD`` float GeoTIFF (8-day AOT at 550 nm).

    NaN where the value is >= 99999 (NEO's fill), non-finite or the file's nodata value.
    """
    path = Path(path)
    product, time = _neo_name(path)
    data, dtype, nodata = _read_band(path, georeferenced=True)
    if dtype.kind != "f":
        raise InputFileError(path, f"holds {dtype} values, not floats: an 8-bit NEO file is read by the neo_8bit "
                                   "source")
    aot = data.astype(np.float32)
    bad = ~np.isfinite(aot) | (aot >= NEO_FILL)
    if nodata is not None and np.isfinite(nodata):
        bad |= data == nodata
    aot[bad] = np.nan
    return _dataset(aot, time, source=path.name, product=product, fmt="neo_geotiff",
                    long_name="aerosol optical thickness at 550 nm (NEO float GeoTIFF)")


def read_neo_8bit(path: str | Path, value_range: Sequence[float]) -> xr.Dataset:
    """Read one NEO 8-bit PNG or GeoTIFF: index ``i`` in 0..254 -> ``lo + i (hi - lo) / 254``; 255 is NaN.

    ``value_range`` ``(lo, hi)`` is the AOT of indices 0 and 254 (NEO's AER_OD legend: 0.0-1.0).
    """
    path = Path(path)
    try:
        lo, hi = (float(v) for v in value_range)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"value_range must be two numbers (lo, hi), got {value_range!r}") from exc
    if not (np.isfinite(lo) and np.isfinite(hi) and hi > lo):
        raise ValueError(f"value_range must be two finite increasing numbers, got {value_range!r}")
    product, time = _neo_name(path)
    data, dtype, _ = _read_band(path, georeferenced=False)
    if dtype != np.uint8:
        raise InputFileError(path, f"holds {dtype} values, not 8-bit indices (a float GeoTIFF is read by the "
                                   "neo_geotiff source)")
    aot = lo + data.astype(np.float64) * ((hi - lo) / 254.0)
    aot[data == NEO_8BIT_FILL] = np.nan
    return _dataset(aot.astype(np.float32), time, source=path.name, product=product, fmt="neo_8bit",
                    long_name=f"aerosol optical thickness at 550 nm (NEO 8-bit, indices 0-254 = {lo:g}-{hi:g})")


# --------------------------------------------------------------------------------------------
# MOD08_E3 HDF4
# --------------------------------------------------------------------------------------------


def _check_mod08_axis(f: HDF4File, name: str, expected: np.ndarray, what: str) -> None:
    if name not in f.datasets:
        return  # the grid is then implied by the data SDS's 180 x 360 shape
    values, _ = f.read_sds(name)
    values = np.asarray(values, dtype=np.float64).ravel()
    if values.shape != expected.shape or not np.allclose(values, expected, rtol=0.0, atol=1e-3):
        first = f"{values[0]:g}" if values.size else "nothing"
        raise InputFileError(f.path, f"coordinate SDS {name!r} ({values.size} values, first {first}) is not the "
                                     f"1 degree global grid's {what}; only this orientation is read")


def read_mod08_e3(path: str | Path, sds: str = MOD08_SDS) -> xr.Dataset:
    """Read SDS ``sds`` of one MOD08_E3 / MYD08_E3 (C6.1) HDF4 granule as AOT on the 1 degree grid.

    ``scale_factor * (stored - add_offset)``, NaN at ``_FillValue`` and outside ``valid_range``.
    """
    path = Path(path)
    parsed = _mod08_name(path)
    if parsed is None:
        raise InputFileError(path, "not a MOD08_E3 / MYD08_E3 granule name (expected "
                                   "MOD08_E3.AYYYYDDD.061.YYYYDDDHHMMSS.hdf)")
    product, time = parsed
    with HDF4File(path, product) as f:
        raw, attrs = f.read_sds(sds)
        if raw.shape != MOD08_SHAPE:
            raise InputFileError(path, f"SDS {sds!r} has dimensions {raw.shape}, not the 1 degree global grid "
                                       f"{MOD08_SHAPE[0]} x {MOD08_SHAPE[1]} (YDim x XDim)")
        lat, lon = _global_coords(*MOD08_SHAPE)
        _check_mod08_axis(f, "YDim", lat, "latitudes 89.5 .. -89.5 (row 0 at 89.5 N)")
        _check_mod08_axis(f, "XDim", lon, "longitudes -179.5 .. 179.5 (column 0 at 179.5 W)")
        aot = decode_sds(raw, attrs, path, sds, convention="scale*(raw-offset)", offset_required=True)
    ds = _dataset(aot, time, source=path.name, product=product, fmt="mod08_e3",
                  long_name=f"aerosol optical thickness at 550 nm ({product} {sds})")
    ds.attrs["sds"] = sds
    return ds


# --------------------------------------------------------------------------------------------
# dispatch
# --------------------------------------------------------------------------------------------


def read_any(path: str | Path, source: str, *, neo_8bit_range: Sequence[float], mod08_sds: str = MOD08_SDS
             ) -> xr.Dataset:
    """Read ``path`` with the reader of ``source`` (one of :data:`SOURCES`)."""
    if source == "neo_geotiff":
        return read_neo_geotiff(path)
    if source == "neo_8bit":
        return read_neo_8bit(path, neo_8bit_range)
    if source == "mod08_e3":
        return read_mod08_e3(path, mod08_sds)
    raise ConfigError(f"aot.source: {source!r} is not a raw-file source ({', '.join(SOURCES)})")
