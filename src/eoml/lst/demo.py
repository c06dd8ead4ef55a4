"""Synthetic LST demo data written in the agencies' real formats.

The workflow's demo runs on data this module GENERATES in the layouts the agencies publish, and
reads it back with the same readers as real downloads (:mod:`eoml.lst.readers`):

* ``MOD11A1/MOD11A1.AYYYYDDD.hHHvVV.061.<production>.hdf`` — one MODIS/Terra daily 1 km LST
  granule per date: HDF4-EOS grid ``MODIS_Grid_Daily_1km_LST``, all 12 SDSs of Collection 6.1
  with the real names, dtypes, dimension names, attribute sets (types and order copied from a
  real granule) and deflate compression; file attributes ``HDFEOSVersion``, ``StructMetadata.0``
  (full GridStructure, real tile corners, padded to 32 000 bytes like the real files),
  ``CoreMetadata.0`` and ``ArchiveMetadata.0`` (ECS ODL), the DOI attributes, and the HDF-EOS
  Vgroups (``GRID`` / ``Data Fields`` / ``Grid Attributes``).
* ``MOD09GQ/MOD09GQ.AYYYYDDD.hHHvVV.061.<production>.hdf`` — one daily 250 m surface reflectance
  granule per date (grid ``MODIS_Grid_2D``, 4800 x 4800): ``num_observations``,
  ``sur_refl_b01_1``, ``sur_refl_b02_1``, ``QC_250m_1``, ``obscov_1``, ``iobs_res_1``,
  ``orbit_pnt_1``, ``granule_pnt_1`` (names and attributes from the LAADS file specification and
  GDAL listings; no real MOD09GQ sample was available, see ``docs/lst_formats.md``).
* ``scenes/aster_demo/`` — an ASTER AST_08-like kinetic temperature GeoTIFF (uint16, 0.1 K,
  0 = fill, 90 m, 480 x 480, UTM 17N) with red and NIR surface reflectance at 15 m (uint16 x 1e-4,
  2880 x 2880), nodata corners of a rotated scene footprint.
* ``scenes/landsat_demo/`` — a Landsat 8 Collection 2 scene: L1TP band 10 digital numbers
  (uint16, 30 m, 600 x 600) with its ``*_MTL.txt`` (GROUP/END_GROUP ODL, ``RADIANCE_MULT_BAND_10
  = 3.3420E-04``, ``RADIANCE_ADD_BAND_10 = 0.10000``, ``K1_CONSTANT_BAND_10 = 774.8853``,
  ``K2_CONSTANT_BAND_10 = 1321.0789``) and L2SP surface reflectance bands 4 and 5 (uint16,
  ``rho = DN * 2.75e-5 - 0.2``, 0 = fill).

Every file says it is synthetic (HDF: global attribute ``eoml_synthetic`` and CoreMetadata
``REPROCESSINGACTUAL``; GeoTIFF: tag ``EOML_SYNTHETIC``; MTL: ``ORIGIN``). :func:`demo_plan`
lists the files without touching the disk (the Snakefile calls it while parsing, so this module
imports only NumPy at top level). :func:`generate_demo` writes them atomically; the same
configuration gives byte-identical files (HDF4 embeds the name the file was created under in its
``CDF0.0`` Vgroup, so granules are created as ``<final name>.temp`` in a private directory — the
real files carry ``<name>.hdf.temp`` there too — and moved into place).

Physics of the synthetic world (see also ``docs/lst_formats.md``)
-------------------------------------------------------------------
One 250 m "truth" world per tile (4800 x 4800 pixels of 231.66 m), built from FFT Gaussian random
fields (power spectrum ``(k^2 + k0^2)^(-beta/2)``) and a warped jittered-grid Voronoi mosaic:

1. **Sea and terrain.** A large-scale field plus a ramp across the tile is thresholded at the
   quantile that makes 10-20 % of the tile sea (drawn from the seed); small-scale power gives an
   irregular coastline, islands and lagoons at 250 m. Elevation rises inland with distance from
   the coast field (0-1 500 m) plus rough terrain.
2. **Land cover** on Voronoi cells of ~6 pixels (~1.4 km, field-sized, edges warped by a smooth
   displacement): forest (large blocks where a regional field and elevation are high, NDVI
   0.74-0.86), towns (clusters of cells, NDVI 0.12-0.30), bare soil (0.06-0.16, more near the
   coast), grassland (0.42-0.62) and crops (0.22-0.85, each field its own stage). Water NDVI is
   -0.1 to -0.005 (higher where a smooth turbidity field is high), land NDVI at least 0.02. A static texture (sigma 0.03) is added. Between dates
   each crop field greens up or senesces (+-0.006 per day) and 6 % are harvested (NDVI -> ~0.2).
3. **Reflectances** are consistent with the NDVI: ``red`` falls from a soil value (0.12 urban,
   0.16 crops/grass, 0.20 bare, +-0.02 texture) to 0.035 with the vegetation cover
   ``g = x (2 - x)``, ``x = (NDVI - 0.1) / 0.75`` clipped to [0, 1];
   ``nir = red (1 + NDVI) / (1 - NDVI)``. Water: red 0.03-0.05.
4. **Daytime LST** (K): ``T = T0(date) + A(x, t) - a(x) NDVI - 6.5 K/km z + 5 K urban + 1.5 K bare
   + 0.4 K noise`` with ``T0 = 303 + 13 cos(2 pi (doy - 200) / 365.25) - 0.35 (|lat| - 35) + N(0,
   1.2)`` (~316 K in July at 35 N), a weather anomaly ``A`` (smooth, sigma 2 K), an NDVI slope
   ``a = 22 (1 + 0.25 m(x))`` K that varies with a smooth soil-moisture field ``m`` (so one global
   LST-NDVI regression, as in TsHARP, is not exact) and a sea surface temperature ``T0 - 16 K
   + A / 2`` (water is much colder than its NDVI would predict). Land values are ~280-330 K.
   **Night LST**: ``T0 - 26 K + A / 2 + 2.5 K NDVI - 4 K/km z + 3 K urban``, sea ``T0 - 16 K``.
5. **MOD11A1 1 km LST** is the radiance-consistent aggregation of the 250 m truth,
   :func:`eoml.lst.scaling.aggregate_lst` (``(mean T^4)^(1/4)`` over 4 x 4 pixels), stored as
   ``round(T / 0.02)``. A 1 km pixel is sea (fill, QC mandatory 3) when more than half of it is
   sea; coastal pixels keep the mixed land/sea LST.
6. **Clouds** per date: cloud systems (a ~100 km-scale random field on a ~250 km-scale
   envelope, so clouds cluster and leave large clear areas) thresholded to a cover of 10-40 %
   (drawn per date) give cloud cores, and a 3 % fringe around them thin cloud. With the 1 km cloud
   fraction ``cf`` (thin cloud counts 1/2): ``cf >= 0.5`` -> LST fill and QC mandatory 2;
   ``0 < cf < 0.5`` -> LST produced but cloud-contaminated, ``T - 12 K cf``, QC mandatory 1 with
   the LST error class of that bias (<= 1, 2, 3 or > 3 K), so QC filtering matters.
   Independently, clear pixels seen at view zenith angles > 45 deg are "other quality" (QC 81:
   emissivity error class 1, LST error <= 2 K) with a smooth error of up to +-1.9 K. The night
   overpass has its own clouds.
7. **View geometry**: Terra's ground tracks cross the tile 2 752 km cos(lat) apart with a
   date-dependent offset and an 8 deg tilt; the view zenith angle follows from the distance to
   the nearest track (705 km orbit, swath +-1 165 km, +-65 deg at the swath edge); local solar
   view time is 10.75 h (day) / 21.9 h (night) plus the track offset in longitude / 15 deg h-1.
   ``Emis_31``/``Emis_32`` (0.970-0.988 / 0.975-0.988, rising with vegetation cover) and the
   clear-sky coverages are set where the LST is produced, fill elsewhere, as in real granules.
8. **MOD09GQ**: the same surface at 250 m. Cloud cores are bright (red 0.45-0.60, NIR 6 % higher),
   thin cloud mixes 40 % cloud into the surface. Real MOD09GQ carries no cloud-state bits in
   ``QC_250m_1`` (the cloud mask is in MOD09GA ``state_1km``); its MODLAND bits do define "not
   produced due to cloud effects" (2), which the demo sets on cloud cores (1, "less than ideal",
   on thin cloud), with bit 12 (atmospheric correction) everywhere and bit 13 (adjacency
   correction) in 1 km cells touched by cloud. Sea reflectances are valid (NDVI < 0). On every
   third date one 40-row scan has two dead detector rows (band quality 8, values interpolated
   from the neighbouring rows, as L1B does), so reflectance QC filtering matters too.

Validation scenes follow the same physics at their own resolution (fields of 300-360 m, rivers
and lakes on 5 % of the scene, towns), so sharpening with NDVI helps there as well: ASTER LST at 90 m is the radiance
aggregation of a 15 m truth; the Landsat band 10 DN invert Planck's law with the MTL constants
(``L = K1 / (exp(K2 / T) - 1)``, ``DN = (L - AL) / ML``), the demo's brightness temperature being
its LST (no emissivity/atmosphere correction).

Cost: the static world of a tile is built once per process (~6-9 s, FFT fields and the Voronoi
mosaic), each date takes ~5-7 s (world, QC, and zlib compression of the two 4800 x 4800 int16
bands, the largest part), the scenes ~3 s; pixel loops run on 480-row blocks, which is several
times faster than whole-array NumPy expressions on this scale, and peak memory stays below 2 GB.

References: Wan, Z. (2014) RSE 140 (MOD11 C6 LST and QC); Vermote, E. et al. (2015) MODIS surface
reflectance user's guide C6 (MOD09 QC); Wolfe, R. et al. (1998) IEEE TGRS 36 (MODIS tile grid and
gridding); Agam, N. et al. (2007) RSE 107 (the NDVI-LST relation TsHARP exploits); USGS (2019)
Landsat 8 Data Users Handbook v5 (band 10 radiance and brightness temperature).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import math
import os
import shutil
import uuid
from collections.abc import Iterator, Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "DEMO_KEYS",
    "DEMO_SCENE_NAMES",
    "MOD09GQ_SDS",
    "MOD11A1_SDS",
    "clear_caches",
    "demo_plan",
    "demo_world",
    "generate_demo",
    "generate_scenes",
    "landsat_mtl_text",
    "mod09gq_arrays",
    "mod11a1_arrays",
    "scene_truth",
    "struct_metadata_text",
    "world_reflectances",
    "write_mod09gq",
    "write_mod11a1",
]

#: the keys of the ``lst.demo`` config section (the schema gives their defaults and meanings)
DEMO_KEYS = ("tile", "start", "n_dates", "step_days", "seed", "scenes")

SYNTHETIC_NOTE = "synthetic granule written by eoml.lst.demo (not NASA data)"

# --------------------------------------------------------------------------------------------
# product layouts
# --------------------------------------------------------------------------------------------
# Each SDS: (name, numpy dtype, default value of an array not given to the writer, attributes).
# Attributes: (name, type, value) in the order of the real files; type "sds" = the SDS's own type.

_F64, _I32, _CHR, _SDS = "float64", "int32", "char8", "sds"


def _lst_attrs(label: str) -> list[tuple[str, str, Any]]:
    return [
        ("long_name", _CHR, f"Daily {label} 1km grid Land-surface Temperature"),
        ("units", _CHR, "K"),
        ("Number Type", _CHR, "uint16"),
        ("valid_range", _SDS, [7500, 65535]),
        ("_FillValue", _SDS, 0),
        ("LST", _CHR, "LST data * scale_factor"),
        ("scale_factor", _F64, 0.02),
        ("scale_factor_err", _F64, 0.0),
        ("add_offset_err", _F64, 0.0),
        ("calibrated_nt", _I32, 5),
    ]


def _qc_attrs(label: str) -> list[tuple[str, str, Any]]:
    return [
        ("long_name", _CHR, f"Quality control for {label} LST and emissivity"),
        ("Number Type", _CHR, "uint8"),
        ("valid_range", _SDS, [0, 255]),
        ("_FillValue", _CHR, "NA\x00"),
    ]


def _time_attrs(label: str, formula: str) -> list[tuple[str, str, Any]]:
    return [
        ("long_name", _CHR, f"Time of {label} Land-surface Temperature observation"),
        ("units", _CHR, "hrs"),
        ("Number Type", _CHR, "uint8"),
        ("valid_range", _SDS, [0, 240]),
        ("_FillValue", _SDS, 255),
        ("View_time", _CHR, formula),
        ("scale_factor", _F64, 0.1),
        ("scale_factor_err", _F64, 0.0),
        ("add_offset_err", _F64, 0.0),
        ("calibrated_nt", _I32, 5),
    ]


def _angle_attrs(label: str) -> list[tuple[str, str, Any]]:
    return [
        ("long_name", _CHR, f"View zenith angle of {label} Land-surface Temperature"),
        ("units", _CHR, "deg"),
        ("Number Type", _CHR, "uint8"),
        ("valid_range", _SDS, [0, 130]),
        ("_FillValue", _SDS, 255),
        ("View_angle", _CHR, "View_angle data * scale_factor + add_offset"),
        ("scale_factor", _F64, 1.0),
        ("add_offset", _F64, -65.0),
        ("scale_factor_err", _F64, 0.0),
        ("add_offset_err", _F64, 0.0),
        ("calibrated_nt", _I32, 5),
    ]


def _emis_attrs(band: int) -> list[tuple[str, str, Any]]:
    return [
        ("long_name", _CHR, f"Band {band} emissivity"),
        ("Number Type", _CHR, "uint8"),
        ("valid_range", _SDS, [1, 255]),
        ("_FillValue", _SDS, 0),
        (f"Emis_{band}", _CHR, f"Emis_{band} data * scale_factor + add_offset"),
        ("scale_factor", _F64, 0.002),
        ("add_offset", _F64, 0.49),
        ("scale_factor_err", _F64, 0.0),
        ("add_offset_err", _F64, 0.0),
        ("calibrated_nt", _I32, 5),
    ]


def _cov_attrs(label: str, key: str, formula: str) -> list[tuple[str, str, Any]]:
    return [
        ("long_name", _CHR, f"{label} clear-sky coverage"),
        ("Number Type", _CHR, "uint16"),
        ("valid_range", _SDS, [1, 65535]),
        ("_FillValue", _SDS, 0),
        (key, _CHR, formula),
        ("scale_factor", _F64, 0.0005),
        ("scale_factor_err", _F64, 0.0),
        ("add_offset_err", _F64, 0.0),
        ("calibrated_nt", _I32, 5),
    ]


#: the 12 SDSs of MOD11A1 v061, in file order: name -> (dtype, default raw value, attributes)
MOD11A1_SDS: dict[str, tuple[str, int, list]] = {
    "LST_Day_1km": ("uint16", 0, _lst_attrs("daytime")),
    "QC_Day": ("uint8", 3, _qc_attrs("daytime")),
    "Day_view_time": ("uint8", 255, _time_attrs("daytime", "View_time data * scale_factor")),
    "Day_view_angl": ("uint8", 255, _angle_attrs("daytime")),
    "LST_Night_1km": ("uint16", 0, _lst_attrs("nighttime")),
    "QC_Night": ("uint8", 3, _qc_attrs("nighttime")),
    "Night_view_time": ("uint8", 255, _time_attrs("nighttime", "View_time data * scale_factor")),
    "Night_view_angl": ("uint8", 255, _angle_attrs("nighttime")),
    "Emis_31": ("uint8", 0, _emis_attrs(31)),
    "Emis_32": ("uint8", 0, _emis_attrs(32)),
    "Clear_day_cov": ("uint16", 0, _cov_attrs("day", "day clear_sky_cov", "day_clear_sky_cov data * scale_factor")),
    "Clear_night_cov": ("uint16", 0, _cov_attrs("night", "night clear_sky_cov",
                                                "nit_clear_sky_cov data * scale_factor")),  # sic
}


def _refl_attrs(band: int, wavelengths: str) -> list[tuple[str, str, Any]]:
    return [
        ("long_name", _CHR, f"250m Surface Reflectance Band {band} ({wavelengths})"),
        ("units", _CHR, "reflectance"),
        ("valid_range", _SDS, [-100, 16000]),
        ("_FillValue", _SDS, -28672),
        ("calibrated_nt", _I32, 5),
        ("scale_factor", _F64, 0.0001),
        ("scale_factor_err", _F64, 0.0),
        ("add_offset", _F64, 0.0),
        ("add_offset_err", _F64, 0.0),
    ]


_QC250_INDEX = (
    "\n\tBits are listed from the MSB (bit 15) to the LSB (bit 0):\n\tBit    Description\n"
    "\t15     spare (unused); \n\t14     spare (unused); \n"
    "\t13     adjacency correction performed; \n\t       1 -- yes\n\t       0 -- no\n"
    "\t12     atmospheric correction performed; \n\t       1 -- yes\n\t       0 -- no\n"
    "\t8-11   band 2 data quality four bit range; \n\t       0000 -- highest quality\n"
    "\t       0111 -- noisy detector\n\t       1000 -- dead detector; data interpolated in L1B\n"
    "\t       1001 -- solar zenith >= 86 degrees\n\t       1010 -- solar zenith >= 85 and < 86 degrees\n"
    "\t       1011 -- missing input\n\t       1100 -- internal constant used in place of climatological "
    "data for at least one atmospheric constant\n\t       1101 -- correction out of bounds pixel "
    "constrained to extreme allowable value\n\t       1110 -- L1B data faulty\n"
    "\t       1111 -- not processed due to deep ocean or clouds\n"
    "\t4-7    band 1 data quality four bit range; \n\t       SAME AS ABOVE\n"
    "\t2-3    spare (unused); \n\t0-1    MODLAND QA bits; \n"
    "\t       00 -- corrected product produced at ideal quality -- all bands\n"
    "\t       01 -- corrected product produced at less than ideal quality -- some or all bands\n"
    "\t       10 -- corrected product not produced due to cloud effects -- all bands\n"
    "\t       11 -- corrected product not produced for other reasons -- some or all bands,\n"
    "\t             may be fill value (Note that a value of [11] overrides a value of [01])\n"
)

#: the SDSs of MOD09GQ v061, in file order: name -> (dtype, default raw value, attributes)
MOD09GQ_SDS: dict[str, tuple[str, int, list]] = {
    "num_observations": ("int8", -1, [
        ("long_name", _CHR, "Number of Observations"), ("units", _CHR, "none"),
        ("valid_range", _SDS, [0, 127]), ("_FillValue", _SDS, -1)]),
    "sur_refl_b01_1": ("int16", -28672, _refl_attrs(1, "620-670 nm")),
    "sur_refl_b02_1": ("int16", -28672, _refl_attrs(2, "841-876 nm")),
    "QC_250m_1": ("uint16", 2995, [
        ("long_name", _CHR, "250m Reflectance Band Quality"), ("units", _CHR, "bit field"),
        ("valid_range", _SDS, [0, 4096]), ("_FillValue", _SDS, 2995), ("QA index", _CHR, _QC250_INDEX)]),
    "obscov_1": ("int8", -1, [
        ("long_name", _CHR, "Observation coverage - first layer"), ("units", _CHR, "percent"),
        ("valid_range", _SDS, [0, 100]), ("_FillValue", _SDS, -1)]),
    "iobs_res_1": ("uint8", 255, [
        ("long_name", _CHR, "Observation number in coarser grid - first layer"), ("units", _CHR, "none"),
        ("valid_range", _SDS, [0, 254]), ("_FillValue", _SDS, 255)]),
    "orbit_pnt_1": ("int8", -1, [
        ("long_name", _CHR, "Orbit pointer - first layer"), ("units", _CHR, "none"),
        ("valid_range", _SDS, [0, 15]), ("_FillValue", _SDS, -1)]),
    "granule_pnt_1": ("uint8", 255, [
        ("long_name", _CHR, "Granule pointer - first layer"), ("units", _CHR, "none"),
        ("valid_range", _SDS, [0, 254]), ("_FillValue", _SDS, 255)]),
}

_PRODUCTS = {
    "MOD11A1": {"grid": "MODIS_Grid_Daily_1km_LST", "sds": MOD11A1_SDS, "shape": (1200, 1200),
                "parameter": "MOD 1KM L3 LST", "pge": "6.5.17", "local_version": "6.4.4AS",
                "day_night": "Both", "long_name": "MODIS/Terra Land Surface Temperature/Emissivity Daily L3 "
                                                  "Global 1km SIN Grid"},
    "MOD09GQ": {"grid": "MODIS_Grid_2D", "sds": MOD09GQ_SDS, "shape": (4800, 4800),
                "parameter": "MOD09GQ", "pge": "6.0.34", "local_version": "6.0.34",
                "day_night": "Day", "long_name": "MODIS/Terra Surface Reflectance Daily L2G Global 250m "
                                                 "SIN Grid"},
}
_DFNT = {"uint8": "DFNT_UINT8", "int8": "DFNT_INT8", "uint16": "DFNT_UINT16", "int16": "DFNT_INT16"}

# --------------------------------------------------------------------------------------------
# small helpers
# --------------------------------------------------------------------------------------------


def _as_date(value: Any) -> _dt.date:
    if isinstance(value, _dt.datetime):
        return value.date()
    if isinstance(value, _dt.date):
        return value
    return _dt.date.fromisoformat(str(value)[:10])


def _parse_tile(tile: str) -> tuple[int, int]:
    import re

    m = re.fullmatch(r"h(\d{2})v(\d{2})", str(tile))
    if m is None or int(m[1]) > 35 or int(m[2]) > 17:
        raise ValueError(f"MODIS tile must be hHHvVV inside the 36 x 18 grid, got {tile!r}")
    return int(m[1]), int(m[2])


def _tile_bounds(h: int, v: int) -> tuple[tuple[float, float], tuple[float, float]]:
    from eoml.lst.readers import tile_bounds

    return tile_bounds(h, v)


def _production_string(date: _dt.date, clock: str) -> str:
    nxt = date + _dt.timedelta(days=1)
    return f"{nxt:%Y}{nxt.timetuple().tm_yday:03d}{clock}"


def _granule_name(product: str, tile: str, date: _dt.date, production: str) -> str:
    return f"{product}.A{date:%Y}{date.timetuple().tm_yday:03d}.{tile}.061.{production}.hdf"


# --------------------------------------------------------------------------------------------
# ECS / HDF-EOS metadata text
# --------------------------------------------------------------------------------------------


def _fmt_value(value: Any) -> str:
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, (tuple, list)):
        return "(" + ", ".join(_fmt_value(v) for v in value) + ")"
    return repr(value) if isinstance(value, float) else str(value)


class _Odl:
    """Emit ECS-style ODL (``GROUP                  = NAME``) with two-space indentation."""

    def __init__(self) -> None:
        self.lines: list[str] = [""]
        self.depth = 0

    def _kv(self, key: str, value: str) -> None:
        self.lines.append(f"{'  ' * self.depth}{key:<23}= {value}")

    def open(self, kind: str, name: str, klass: str | None = None) -> None:
        self._kv(kind, name)
        self.depth += 1
        if klass is not None:
            self._kv("CLASS", f'"{klass}"')
        if kind == "GROUP" and self.depth == 1 and klass is None:
            self._kv("GROUPTYPE", "MASTERGROUP")
        self.lines.append("")

    def close(self, kind: str, name: str) -> None:
        self.depth -= 1
        self._kv(f"END_{kind}", name)
        self.lines.append("")

    def obj(self, name: str, value: Any, klass: str | None = None) -> None:
        self._kv("OBJECT", name)
        self.depth += 1
        if klass is not None:
            self._kv("CLASS", f'"{klass}"')
        n = len(value) if isinstance(value, (tuple, list)) else 1
        self._kv("NUM_VAL", str(n))
        self._kv("VALUE", _fmt_value(value))
        self.depth -= 1
        self._kv("END_OBJECT", name)
        self.lines.append("")

    def text(self) -> str:
        return "\n".join(self.lines) + "\nEND\n"


def _gring(upper_left: tuple[float, float], lower_right: tuple[float, float], shape: tuple[int, int]):
    """Longitudes/latitudes of the outer pixel centres (UL, UR, LR, LL), inverse sinusoidal."""
    from eoml.lst.readers import EARTH_RADIUS_M

    (x0, y0), (x1, y1) = upper_left, lower_right
    dx, dy = (x1 - x0) / shape[1], (y1 - y0) / shape[0]
    left, right, top, bottom = x0 + dx / 2, x1 - dx / 2, y0 + dy / 2, y1 - dy / 2
    pts = [(left, top), (right, top), (right, bottom), (left, bottom)]
    lons, lats = [], []
    for x, y in pts:
        lat = y / EARTH_RADIUS_M
        lons.append(round(math.degrees(x / (EARTH_RADIUS_M * math.cos(lat))), 10))
        lats.append(round(math.degrees(lat), 10))
    return tuple(lons), tuple(lats)


def struct_metadata_text(grid_name: str, shape: tuple[int, int], upper_left: tuple[float, float],
                         lower_right: tuple[float, float], fields: Mapping[str, str]) -> str:
    """HDF-EOS ``StructMetadata.0`` of one sinusoidal grid, laid out like the MODIS granules."""
    lines = ["GROUP=SwathStructure", "END_GROUP=SwathStructure", "GROUP=GridStructure", "\tGROUP=GRID_1",
             f'\t\tGridName="{grid_name}"', f"\t\tXDim={shape[1]}", f"\t\tYDim={shape[0]}",
             f"\t\tUpperLeftPointMtrs=({upper_left[0]:.6f},{upper_left[1]:.6f})",
             f"\t\tLowerRightMtrs=({lower_right[0]:.6f},{lower_right[1]:.6f})",
             "\t\tProjection=GCTP_SNSOID", "\t\tProjParams=(6371007.181000,0,0,0,0,0,0,0,86400,0,0,0,0)",
             "\t\tSphereCode=-1", "\t\tGridOrigin=HDFE_GD_UL", "\t\tGROUP=Dimension", "\t\tEND_GROUP=Dimension",
             "\t\tGROUP=DataField"]
    for i, (name, dtype) in enumerate(fields.items(), start=1):
        lines += [f"\t\t\tOBJECT=DataField_{i}", f'\t\t\t\tDataFieldName="{name}"', f"\t\t\t\tDataType={_DFNT[dtype]}",
                  '\t\t\t\tDimList=("YDim","XDim")', f"\t\t\tEND_OBJECT=DataField_{i}"]
    lines += ["\t\tEND_GROUP=DataField", "\t\tGROUP=MergedFields", "\t\tEND_GROUP=MergedFields", "\tEND_GROUP=GRID_1",
              "END_GROUP=GridStructure", "GROUP=PointStructure", "END_GROUP=PointStructure", "END", ""]
    return "\n".join(lines)


def core_metadata_text(product: str, file_name: str, tile: str, date: _dt.date, production: str,
                       upper_left: tuple[float, float], lower_right: tuple[float, float], shape: tuple[int, int],
                       qa: Mapping[str, float]) -> str:
    """ECS ``CoreMetadata.0`` (INVENTORYMETADATA) of a synthetic tile granule."""
    spec = _PRODUCTS[product]
    h, v = _parse_tile(tile)
    prod_time = _dt.datetime.strptime(production, "%Y%j%H%M%S")
    o = _Odl()
    o.open("GROUP", "INVENTORYMETADATA")
    o.open("GROUP", "ECSDATAGRANULE")
    o.obj("LOCALGRANULEID", file_name)
    o.obj("PRODUCTIONDATETIME", prod_time.strftime("%Y-%m-%dT%H:%M:%S.000Z"))
    o.obj("DAYNIGHTFLAG", spec["day_night"])
    o.obj("REPROCESSINGACTUAL", "synthetic (eoml.lst.demo)")
    o.obj("LOCALVERSIONID", spec["local_version"])
    o.obj("REPROCESSINGPLANNED", "no further update anticipated")
    o.close("GROUP", "ECSDATAGRANULE")
    o.open("GROUP", "MEASUREDPARAMETER")
    o.open("OBJECT", "MEASUREDPARAMETERCONTAINER", "1")
    o.open("GROUP", "QAFLAGS", "1")
    o.obj("SCIENCEQUALITYFLAG", "Not Investigated", "1")
    o.obj("AUTOMATICQUALITYFLAGEXPLANATION", "No automatic quality assessment is performed in the PGE.", "1")
    o.obj("AUTOMATICQUALITYFLAG", "Passed", "1")
    o.close("GROUP", "QAFLAGS")
    o.open("GROUP", "QASTATS", "1")
    o.obj("QAPERCENTMISSINGDATA", 0, "1")
    o.obj("QAPERCENTOUTOFBOUNDSDATA", 0, "1")
    o.obj("QAPERCENTCLOUDCOVER", int(round(qa.get("cloud", 0.0))), "1")
    o.obj("QAPERCENTINTERPOLATEDDATA", 0, "1")
    o.close("GROUP", "QASTATS")
    o.obj("PARAMETERNAME", spec["parameter"], "1")
    o.close("OBJECT", "MEASUREDPARAMETERCONTAINER")
    o.close("GROUP", "MEASUREDPARAMETER")
    o.open("GROUP", "COLLECTIONDESCRIPTIONCLASS")
    o.obj("VERSIONID", 61)
    o.obj("SHORTNAME", product)
    o.close("GROUP", "COLLECTIONDESCRIPTIONCLASS")
    o.open("GROUP", "SPATIALDOMAINCONTAINER")
    o.open("GROUP", "HORIZONTALSPATIALDOMAINCONTAINER")
    o.open("GROUP", "GPOLYGON")
    o.open("OBJECT", "GPOLYGONCONTAINER", "1")
    o.open("GROUP", "GRINGPOINT", "1")
    lons, lats = _gring(upper_left, lower_right, shape)
    o.obj("GRINGPOINTLONGITUDE", lons, "1")
    o.obj("GRINGPOINTLATITUDE", lats, "1")
    o.obj("GRINGPOINTSEQUENCENO", (1, 2, 3, 4), "1")
    o.close("GROUP", "GRINGPOINT")
    o.open("GROUP", "GRING", "1")
    o.obj("EXCLUSIONGRINGFLAG", "N", "1")
    o.close("GROUP", "GRING")
    o.close("OBJECT", "GPOLYGONCONTAINER")
    o.close("GROUP", "GPOLYGON")
    o.close("GROUP", "HORIZONTALSPATIALDOMAINCONTAINER")
    o.close("GROUP", "SPATIALDOMAINCONTAINER")
    o.open("GROUP", "RANGEDATETIME")
    o.obj("RANGEENDINGDATE", date.isoformat())
    o.obj("RANGEENDINGTIME", "23:59:59")
    o.obj("RANGEBEGINNINGDATE", date.isoformat())
    o.obj("RANGEBEGINNINGTIME", "00:00:00")
    o.close("GROUP", "RANGEDATETIME")
    o.open("GROUP", "PGEVERSIONCLASS")
    o.obj("PGEVERSION", spec["pge"])
    o.close("GROUP", "PGEVERSIONCLASS")
    o.open("GROUP", "ASSOCIATEDPLATFORMINSTRUMENTSENSOR")
    o.open("OBJECT", "ASSOCIATEDPLATFORMINSTRUMENTSENSORCONTAINER", "1")
    o.obj("ASSOCIATEDSENSORSHORTNAME", "MODIS", "1")
    o.obj("ASSOCIATEDPLATFORMSHORTNAME", "Terra", "1")
    o.obj("ASSOCIATEDINSTRUMENTSHORTNAME", "MODIS", "1")
    o.close("OBJECT", "ASSOCIATEDPLATFORMINSTRUMENTSENSORCONTAINER")
    o.close("GROUP", "ASSOCIATEDPLATFORMINSTRUMENTSENSOR")
    o.open("GROUP", "ADDITIONALATTRIBUTES")
    extra = [(k, f"{qa[k]:.0f}") for k in ("QAPERCENTGOODQUALITY", "QAPERCENTOTHERQUALITY",
                                            "QAPERCENTNOTPRODUCEDCLOUD", "QAPERCENTNOTPRODUCEDOTHER") if k in qa]
    extra += [("HORIZONTALTILENUMBER", f"{h:02d}"), ("VERTICALTILENUMBER", f"{v:02d}"),
              ("TileID", f"51{h:03d}{v:03d}"), ("identifier_product_doi", f"10.5067/MODIS/{product}.061"),
              ("identifier_product_doi_authority", "http://dx.doi.org")]
    for i, (name, value) in enumerate(extra, start=1):
        c = str(i)
        o.open("OBJECT", "ADDITIONALATTRIBUTESCONTAINER", c)
        o.obj("ADDITIONALATTRIBUTENAME", name, c)
        o.open("GROUP", "INFORMATIONCONTENT", c)
        o.obj("PARAMETERVALUE", value, c)
        o.close("GROUP", "INFORMATIONCONTENT")
        o.close("OBJECT", "ADDITIONALATTRIBUTESCONTAINER")
    o.close("GROUP", "ADDITIONALATTRIBUTES")
    o.close("GROUP", "INVENTORYMETADATA")
    return o.text()


def archive_metadata_text(product: str, upper_left: tuple[float, float], lower_right: tuple[float, float],
                          shape: tuple[int, int]) -> str:
    """ECS ``ArchiveMetadata.0`` (ARCHIVEDMETADATA): bounding rectangle, long name, environment."""
    lons, lats = _gring(upper_left, lower_right, shape)
    o = _Odl()
    o.open("GROUP", "ARCHIVEDMETADATA")
    o.obj("LONGNAME", _PRODUCTS[product]["long_name"])
    o.obj("PROCESSINGENVIRONMENT", "eoml.lst.demo synthetic generator")
    o.obj("CHARACTERISTICBINANGULARSIZE", 30.0 if product == "MOD11A1" else 7.5)
    o.obj("CHARACTERISTICBINSIZE", round(1111950.519667 / shape[0], 6))
    o.obj("DATACOLUMNS", shape[1])
    o.obj("DATAROWS", shape[0])
    o.obj("GLOBALGRIDCOLUMNS", 36 * shape[1])
    o.obj("GLOBALGRIDROWS", 18 * shape[0])
    o.open("GROUP", "BOUNDINGRECTANGLE")
    o.obj("NORTHBOUNDINGCOORDINATE", max(lats))
    o.obj("SOUTHBOUNDINGCOORDINATE", min(lats))
    o.obj("EASTBOUNDINGCOORDINATE", max(lons))
    o.obj("WESTBOUNDINGCOORDINATE", min(lons))
    o.close("GROUP", "BOUNDINGRECTANGLE")
    o.close("GROUP", "ARCHIVEDMETADATA")
    return o.text()


# --------------------------------------------------------------------------------------------
# HDF4-EOS writers
# --------------------------------------------------------------------------------------------


def _hdf_type(sdc, dtype: str) -> int:
    return {"uint8": sdc.UINT8, "int8": sdc.INT8, "uint16": sdc.UINT16, "int16": sdc.INT16,
            "int32": sdc.INT32, "float64": sdc.FLOAT64, "char8": sdc.CHAR8}[dtype]


def _check_array(name: str, values: Any, dtype: str) -> np.ndarray:
    arr = np.asarray(values)
    if arr.dtype.kind not in "uib":
        raise ValueError(f"SDS {name}: raw values must be integers, got dtype {arr.dtype}")
    info = np.iinfo(dtype)
    if arr.size and (arr.min() < info.min or arr.max() > info.max):
        raise ValueError(f"SDS {name}: values {arr.min()}..{arr.max()} do not fit {dtype}")
    return np.ascontiguousarray(arr.astype(dtype, copy=False))


def _write_granule(path: str | Path, product: str, arrays: Mapping[str, np.ndarray], *, tile: str, date: Any,
                   production: str | None, omit: Sequence[str], deflate_level: int,
                   upper_left: tuple[float, float] | None, lower_right: tuple[float, float] | None,
                   qa: Mapping[str, float] | None) -> Path:
    import pyhdf.V  # noqa: F401  (registers HDF.vgstart's V interface)
    from pyhdf.HDF import HC, HDF
    from pyhdf.SD import SD, SDC

    from eoml.core.io import atomic_path

    spec = _PRODUCTS[product]
    layout: dict[str, tuple[str, int, list]] = spec["sds"]
    unknown = sorted(set(arrays) - set(layout))
    if unknown:
        raise ValueError(f"{product} has no SDS {', '.join(unknown)} (SDSs: {', '.join(layout)})")
    bad_omit = sorted(set(omit) - set(layout))
    if bad_omit:
        raise ValueError(f"cannot omit {', '.join(bad_omit)}: not a {product} SDS")
    shapes = {np.shape(a) for a in arrays.values()}
    if len(shapes) > 1:
        raise ValueError(f"{product} arrays have different shapes {sorted(shapes)}")
    shape = tuple(shapes.pop()) if shapes else spec["shape"]
    if len(shape) != 2:
        raise ValueError(f"{product} arrays must be 2-D, got shape {shape}")
    date = _as_date(date)
    h, v = _parse_tile(tile)
    if upper_left is None or lower_right is None:
        upper_left, lower_right = _tile_bounds(h, v)
    if production is None:
        production = _production_string(date, "104512" if product == "MOD11A1" else "033015")
    path = Path(path)
    fields = {name: layout[name][0] for name in layout if name not in omit}
    struct = struct_metadata_text(spec["grid"], shape, upper_left, lower_right, fields)
    core = core_metadata_text(product, path.name, tile, date, production, upper_left, lower_right, shape, qa or {})
    archive = archive_metadata_text(product, upper_left, lower_right, shape)
    grid = spec["grid"]

    with atomic_path(path) as tmp:
        work = tmp.parent / f".{path.name}.work-{uuid.uuid4().hex[:8]}"
        work.mkdir()
        try:
            local = f"{path.name}.temp"  # the name HDF4 records in the file: the same for every run
            with contextlib.chdir(work):
                sd = SD(local, SDC.WRITE | SDC.CREATE | SDC.TRUNC)
                try:
                    sd.attr("HDFEOSVersion").set(SDC.CHAR8, "HDFEOS_V2.19")
                    sd.attr("StructMetadata.0").set(SDC.CHAR8, struct.ljust(32000, "\x00"))
                    sd.attr("CoreMetadata.0").set(SDC.CHAR8, core)
                    sd.attr("ArchiveMetadata.0").set(SDC.CHAR8, archive)
                    sd.attr("identifier_product_doi").set(SDC.CHAR8, f"10.5067/MODIS/{product}.061")
                    sd.attr("identifier_product_doi_authority").set(SDC.CHAR8, "http://dx.doi.org")
                    sd.attr("eoml_synthetic").set(SDC.CHAR8, SYNTHETIC_NOTE)
                    refs = []
                    for name, (dtype, default, attrs) in layout.items():
                        if name in omit:
                            continue
                        if name in arrays:
                            data = _check_array(name, arrays[name], dtype)
                        else:
                            data = np.full(shape, default, dtype=dtype)
                        sds = sd.create(name, _hdf_type(SDC, dtype), shape)
                        sds.dim(0).setname(f"YDim:{grid}")
                        sds.dim(1).setname(f"XDim:{grid}")
                        for aname, atype, avalue in attrs:
                            nt = _hdf_type(SDC, dtype if atype == _SDS else atype)
                            sds.attr(aname).set(nt, avalue)
                        sds.setcompress(SDC.COMP_DEFLATE, value=int(deflate_level))
                        sds[:] = data
                        refs.append(sds.ref())
                        sds.endaccess()
                finally:
                    sd.end()
                hdf = HDF(local, HC.WRITE)
                try:
                    vg = hdf.vgstart()
                    grid_vg = vg.create(grid)
                    grid_vg._class = "GRID"
                    fields_vg = vg.create("Data Fields")
                    fields_vg._class = "GRID Vgroup"
                    for ref in refs:
                        fields_vg.add(HC.DFTAG_NDG, ref)
                    attrs_vg = vg.create("Grid Attributes")
                    attrs_vg._class = "GRID Vgroup"
                    grid_vg.insert(fields_vg)
                    grid_vg.insert(attrs_vg)
                    for g in (fields_vg, attrs_vg, grid_vg):
                        g.detach()
                    vg.end()
                finally:
                    hdf.close()
            os.replace(work / local, tmp)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return path


def write_mod11a1(path: str | Path, arrays: Mapping[str, np.ndarray], *, tile: str, date: Any,
                  production: str | None = None, omit: Sequence[str] = (), deflate_level: int = 1,
                  upper_left: tuple[float, float] | None = None, lower_right: tuple[float, float] | None = None,
                  qa: Mapping[str, float] | None = None) -> Path:
    """Write a MOD11A1 v061 granule in the real layout from RAW SDS values.

    ``arrays`` maps SDS names of :data:`MOD11A1_SDS` to integer arrays of one 2-D shape (raw
    values, e.g. ``LST_Day_1km = round(K / 0.02)``); SDSs not given are written full of their
    fill value (QC: 3, "not produced"), SDSs in ``omit`` are left out (to build broken granules).
    The grid spans tile ``tile`` (or ``upper_left``/``lower_right``) whatever the shape, so small
    arrays give coarse test granules. ``qa`` fills the CoreMetadata QA percentages. Atomic write;
    the same inputs give the same bytes.
    """
    return _write_granule(path, "MOD11A1", arrays, tile=tile, date=date, production=production, omit=omit,
                          deflate_level=deflate_level, upper_left=upper_left, lower_right=lower_right, qa=qa)


def write_mod09gq(path: str | Path, arrays: Mapping[str, np.ndarray], *, tile: str, date: Any,
                  production: str | None = None, omit: Sequence[str] = (), deflate_level: int = 1,
                  upper_left: tuple[float, float] | None = None, lower_right: tuple[float, float] | None = None,
                  qa: Mapping[str, float] | None = None) -> Path:
    """Write a MOD09GQ v061 granule in the real layout from RAW SDS values (see :func:`write_mod11a1`).

    SDSs of :data:`MOD09GQ_SDS`; missing ones are fill (reflectance -28672, QC 2995).
    """
    return _write_granule(path, "MOD09GQ", arrays, tile=tile, date=date, production=production, omit=omit,
                          deflate_level=deflate_level, upper_left=upper_left, lower_right=lower_right, qa=qa)


# --------------------------------------------------------------------------------------------
# random fields and the synthetic landscape
# --------------------------------------------------------------------------------------------


def _rng(seed: int, *keys: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([int(seed) & 0xFFFFFFFF, *[int(k) & 0xFFFFFFFF for k in keys]]))


def _field(shape: tuple[int, int], rng: np.random.Generator, beta: float, outer_px: float,
           reduce: int = 1) -> np.ndarray:
    """Zero-mean unit-variance periodic Gaussian random field (float32).

    Power spectrum ``(k^2 + k0^2)^(-beta/2)`` with ``k0 = 1 / outer_px`` (``k`` in cycles per
    pixel): beta 2-3 gives cloud- and coast-like fields, larger beta smoother ones. With
    ``reduce > 1`` only wavenumbers below the Nyquist frequency of a grid ``reduce`` times coarser
    are drawn (spectral interpolation; for smooth fields, a fraction of the cost).
    """
    from scipy import fft

    ny, nx = shape
    if ny % reduce or nx % reduce:
        raise ValueError(f"shape {shape} is not divisible by {reduce}")
    cy, cx = ny // reduce, nx // reduce
    noise = rng.standard_normal((cy, cx), dtype=np.float32)
    spec = fft.rfft2(noise)
    del noise
    ky = (fft.fftfreq(cy) / reduce).astype(np.float32)[:, None]
    kx = (fft.rfftfreq(cx) / reduce).astype(np.float32)[None, :]
    amp = ky * ky + kx * kx
    amp += np.float32(1.0 / outer_px) ** 2
    amp **= np.float32(-beta / 4.0)
    amp[0, 0] = 0.0
    spec *= amp
    # variance of the field: (1/N) sum over the full spectrum of amp^2 (rfft columns 1..n/2-1 twice)
    weight = np.full(kx.shape, 2.0, np.float64)
    weight[0, 0] = 1.0
    if cx % 2 == 0:
        weight[0, -1] = 1.0
    var = float(((amp.astype(np.float64) ** 2).sum(axis=0) * weight[0]).sum()) / (cy * cx)
    del amp
    if reduce > 1:
        full = np.zeros((ny, nx // 2 + 1), np.complex64)
        h = cy // 2
        full[:h, : cx // 2 + 1] = spec[:h]
        full[ny - (cy - h):, : cx // 2 + 1] = spec[h:]
        spec = full
    out = fft.irfft2(spec, s=shape)
    out *= np.float32((ny * nx) / (cy * cx) / math.sqrt(var))
    return out.astype(np.float32, copy=False)


def _smooth_field(shape: tuple[int, int], rng: np.random.Generator, beta: float, outer_px: float,
                  factor: int) -> np.ndarray:
    """A smooth :func:`_field` drawn on a grid ``factor`` times coarser and enlarged bilinearly
    (for fields without power at scales below ``factor`` pixels; cheaper than a full-size FFT)."""
    ny, nx = shape
    factor = _reduce_for(shape, factor)
    coarse = _field((ny // factor, nx // factor), rng, beta, outer_px=outer_px / factor)
    if factor == 1:
        return coarse
    out = np.empty(shape, np.float32)
    for s in _blocks(ny):
        out[s] = _upsample_rows(coarse, factor, s)
    return out


def _quantile(a: np.ndarray, q: float) -> float:
    """Approximate quantile from a regular subsample (fast, deterministic)."""
    step = max(1, int(math.sqrt(a.size / 250_000)))
    return float(np.quantile(a[::step, ::step], q))


#: rows per block of the chunked pixel loops (a multiple of the aggregation factors 4 and 6):
#: elementwise chains on cache-sized blocks run several times faster than on whole 4800^2 arrays
ROWS = 480


def _blocks(n: int, rows: int = ROWS) -> Iterator[slice]:
    for r0 in range(0, n, rows):
        yield slice(r0, min(n, r0 + rows))


def _voronoi(shape: tuple[int, int], cell: int, rng: np.random.Generator,
             warp: tuple[np.ndarray, np.ndarray] | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Labels of a jittered-grid Voronoi mosaic (cells of ``cell`` pixels), warped by ``warp``.

    Returns ``(labels, seed_y, seed_x)``: int32 labels ``iy * ncx + ix`` and the seed positions
    (pixels) of each cell. The nearest of the 9 seeds around a pixel's cell wins; with a warp
    smaller than half a cell this is the Voronoi mosaic of the warped plane.
    """
    ny, nx = shape
    if ny % cell or nx % cell:
        raise ValueError(f"grid {shape} is not divisible into cells of {cell} pixels")
    ncy, ncx = ny // cell, nx // cell
    sy = ((np.arange(ncy)[:, None] + rng.uniform(0.15, 0.85, (ncy, ncx))) * cell).astype(np.float32)
    sx = ((np.arange(ncx)[None, :] + rng.uniform(0.15, 0.85, (ncy, ncx))) * cell).astype(np.float32)
    offsets = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)]
    shifted = []
    for dy, dx in offsets:  # seeds of the neighbour (dy, dx) of every cell; far away outside the grid
        syk = np.full((ncy, ncx), 1e9, np.float32)
        sxk = np.full((ncy, ncx), 1e9, np.float32)
        ys, yd = slice(max(0, dy), ncy + min(0, dy)), slice(max(0, -dy), ncy + min(0, -dy))
        xs, xd = slice(max(0, dx), ncx + min(0, dx)), slice(max(0, -dx), ncx + min(0, -dx))
        syk[yd, xd], sxk[yd, xd] = sy[ys, xs], sx[ys, xs]
        shifted.append((syk, sxk))
    dyk = np.array([o[0] for o in offsets], np.int32)
    dxk = np.array([o[1] for o in offsets], np.int32)
    labels = np.empty(shape, np.int32)
    px0 = (np.arange(nx, dtype=np.float32).reshape(ncx, cell) + 0.5)[None, None, :, :]
    ix = np.arange(ncx, dtype=np.int32)[None, None, :, None]
    step = max(1, 120 // cell)
    for c0 in range(0, ncy, step):
        c1 = min(ncy, c0 + step)
        nb = c1 - c0
        rows = slice(c0 * cell, c1 * cell)
        py = (np.arange(c0 * cell, c1 * cell, dtype=np.float32).reshape(nb, cell) + 0.5)[:, :, None, None]
        px = px0
        if warp is not None:
            py = py + warp[0][rows].reshape(nb, cell, ncx, cell)
            px = px + warp[1][rows].reshape(nb, cell, ncx, cell)
        full = (nb, cell, ncx, cell)
        best = np.empty(full, np.float32)
        d = np.empty(full, np.float32)
        e = np.empty(full, np.float32)
        closer = np.empty(full, bool)
        arg = np.zeros(full, np.uint8)
        for k, (syk, sxk) in enumerate(shifted):
            target = best if k == 0 else d
            np.subtract(py, syk[c0:c1, None, :, None], out=target)
            np.multiply(target, target, out=target)
            np.subtract(px, sxk[c0:c1, None, :, None], out=e)
            np.multiply(e, e, out=e)
            target += e
            if k:
                np.less(d, best, out=closer)
                np.copyto(best, d, where=closer)
                np.copyto(arg, np.uint8(k), where=closer)
        iy = np.arange(c0, c1, dtype=np.int32)[:, None, None, None]
        labels[rows] = ((iy + dyk[arg]) * ncx + (ix + dxk[arg])).reshape(nb * cell, nx)
    return labels, sy.ravel(), sx.ravel()


# land-cover classes
WATER, CROP, GRASS, FOREST, URBAN, BARE = 0, 1, 2, 3, 4, 5
LAND_COVER_NAMES = {WATER: "water", CROP: "crop", GRASS: "grass", FOREST: "forest", URBAN: "urban", BARE: "bare"}


def _reduce_for(shape: tuple[int, int], wanted: int) -> int:
    """The largest spectral reduction <= ``wanted`` that divides both sides of ``shape``."""
    for r in range(max(1, int(wanted)), 0, -1):
        if shape[0] % r == 0 and shape[1] % r == 0:
            return r
    return 1


def _landscape(shape: tuple[int, int], rng: np.random.Generator, *, cell: int, water_fraction: float,
               coast: bool, scale_px: float) -> dict[str, np.ndarray]:
    """Static surface of one world (see module doc, points 1-3).

    ``scale_px`` is the pixel count of ~100 km (sets the correlation lengths); ``coast`` adds a
    ramp so the water is a sea on one side (else rivers and lakes).
    """
    f32 = np.float32
    ny, nx = shape
    r = lambda k: _reduce_for(shape, k)  # noqa: E731
    big = _smooth_field(shape, rng, 3.2, outer_px=scale_px, factor=8)
    if coast:
        phi = rng.uniform(0, 2 * math.pi)
        yy = np.linspace(-1, 1, ny, dtype=np.float32)[:, None]
        xx = np.linspace(-1, 1, nx, dtype=np.float32)[None, :]
        ramp_y, ramp_x = f32(3.5 * math.sin(phi)) * yy, f32(3.5 * math.cos(phi)) * xx
        detail = _field(shape, rng, 2.0, outer_px=scale_px / 20, reduce=r(2))
        for s in _blocks(ny):
            big[s] += ramp_y[s]
            big[s] += ramp_x
            detail[s] *= f32(0.08)
            detail[s] += big[s]
        water_field = detail
    else:
        # rivers where a smooth field crosses zero, lakes where the large-scale field peaks
        water_field = _smooth_field(shape, rng, 3.5, outer_px=scale_px / 2, factor=4)
        for s in _blocks(ny):
            np.abs(water_field[s], out=water_field[s])
            water_field[s] *= f32(-1.0)
            water_field[s] += f32(0.25) * np.maximum(big[s] - f32(1.8), 0)
    water = water_field < _quantile(water_field, water_fraction)
    del water_field
    # elevation: rises inland from the coast, plus rough terrain
    base = f32(_quantile(big, water_fraction))
    top = f32(max(_quantile(big, 0.995) - base, 1e-6))
    terrain = _smooth_field(shape, rng, 2.6, outer_px=scale_px / 4, factor=4)
    elev = big  # reuse the buffer
    for s in _blocks(ny):
        inland = elev[s] - base
        inland /= top
        np.clip(inland, 0, 1.2, out=inland)
        inland **= f32(1.3)
        inland *= f32(1300.0)
        t = terrain[s] + f32(1.0)
        np.maximum(t, 0, out=t)
        t *= f32(120.0)
        inland += t
        inland[water[s]] = 0
        elev[s] = inland
    del terrain, big
    # land cover on a warped Voronoi mosaic
    warp_amp = f32(0.3 * cell)
    wy = _smooth_field(shape, rng, 3.0, outer_px=cell * 6, factor=3)
    wy *= warp_amp
    wx = _smooth_field(shape, rng, 3.0, outer_px=cell * 6, factor=3)
    wx *= warp_amp
    labels, sy, sx = _voronoi(shape, cell, rng, (wy, wx))
    del wy, wx
    n_cells = sy.size
    cy = np.clip(sy.astype(np.int64), 0, ny - 1)
    cx = np.clip(sx.astype(np.int64), 0, nx - 1)
    cell_shape = (ny // cell, nx // cell)
    regional = _field(cell_shape, rng, 3.5, outer_px=scale_px / 3 / cell).ravel()
    towns = _field(cell_shape, rng, 3.0, outer_px=scale_px / 8 / cell).ravel()
    elev_c = elev[cy, cx] / f32(1500.0)
    klass = np.full(n_cells, CROP, np.uint8)
    forest_score = regional + 1.2 * elev_c + 0.35 * rng.standard_normal(n_cells)
    klass[forest_score > np.quantile(forest_score, 0.70)] = FOREST
    klass[(klass != FOREST) & (rng.uniform(size=n_cells) < 0.22)] = GRASS
    coastal = elev_c < 0.02
    klass[rng.uniform(size=n_cells) < np.where(coastal, 0.30, 0.035)] = BARE
    klass[towns > np.quantile(towns, 0.955)] = URBAN
    ndvi_c = np.empty(n_cells, np.float32)
    for k, (lo, hi) in {CROP: (0.22, 0.85), GRASS: (0.42, 0.62), FOREST: (0.74, 0.86),
                        URBAN: (0.12, 0.30), BARE: (0.06, 0.16)}.items():
        sel = klass == k
        ndvi_c[sel] = rng.uniform(lo, hi, int(sel.sum()))
    rate_c = np.where(klass == CROP, rng.uniform(-0.006, 0.006, n_cells), 0.0).astype(np.float32)
    harvest_c = np.where((klass == CROP) & (rng.uniform(size=n_cells) < 0.06),
                         rng.uniform(0, 16, n_cells), np.inf).astype(np.float32)
    soil_c = np.select([klass == URBAN, klass == BARE], [0.12, 0.20], 0.16).astype(np.float32)
    land_cover = np.empty(shape, np.uint8)
    for s in _blocks(ny):
        lc = klass[labels[s]]
        lc[water[s]] = WATER
        land_cover[s] = lc
    texture = _field(shape, rng, 1.6, outer_px=cell * 2)
    moisture = _smooth_field(shape, rng, 3.5, outer_px=scale_px / 3, factor=8)
    turbid = _smooth_field(shape, rng, 3.0, outer_px=scale_px / 10, factor=4)
    white = rng.standard_normal(shape, dtype=np.float32)
    soil = np.empty(shape, np.float32)
    day_static = np.empty(shape, np.float32)
    night_static = np.empty(shape, np.float32)
    slope = moisture  # reuse the buffer
    for s in _blocks(ny):
        turbid[s] *= f32(0.5)
        turbid[s] += f32(0.5)
        np.clip(turbid[s], 0, 1, out=turbid[s])
        # soil red reflectance of the cell with texture
        soil[s] = soil_c[labels[s]] + f32(0.02) * np.tanh(texture[s])
        # NDVI slope of the LST, 22 K (1 + 0.25 m) with the moisture field m in (-1, 1)
        m = np.tanh(moisture[s])
        m *= f32(0.25 * 22.0)
        m += f32(22.0)
        slope[s] = m
        # static LST terms: lapse rate, urban heat island, bare soil
        elev_km = elev[s] * f32(1e-3)
        urban = land_cover[s] == URBAN
        day_static[s] = f32(-6.5) * elev_km + f32(5.0) * urban + f32(1.5) * (land_cover[s] == BARE)
        night_static[s] = f32(-4.0) * elev_km + f32(3.0) * urban
    return {
        "water": water, "elevation": elev, "labels": labels, "land_cover": land_cover,
        "ndvi_cell": ndvi_c, "rate_cell": rate_c, "harvest_cell": harvest_c,
        "texture": texture, "turbid": turbid, "white": white, "soil": soil, "slope": slope,
        "day_static": day_static, "night_static": night_static,
    }


def _cell_ndvi(land: Mapping[str, np.ndarray], days: float) -> np.ndarray:
    """Per-cell NDVI ``days`` after the first date (crop green-up/senescence and harvests)."""
    cell = land["ndvi_cell"] + land["rate_cell"] * np.float32(days)
    cell = np.where(land["harvest_cell"] <= days, np.float32(0.2), cell)
    return np.clip(cell, 0.05, 0.9).astype(np.float32)


def _ndvi_block(land: Mapping[str, np.ndarray], s: slice, cell_ndvi: np.ndarray,
                out: np.ndarray | None = None) -> np.ndarray:
    """NDVI (float32) of the rows ``s``: the cell's NDVI plus texture; water -0.1..0 (module doc, 2)."""
    f32 = np.float32
    tex = land["texture"][s]
    ndvi = np.take(cell_ndvi, land["labels"][s], out=out)
    ndvi += f32(0.03) * tex
    np.clip(ndvi, 0.02, 0.92, out=ndvi)
    wnd = f32(0.07) * land["turbid"][s]
    wnd += f32(-0.09)
    wnd += f32(0.01) * tex
    np.clip(wnd, -0.1, -0.005, out=wnd)
    np.copyto(ndvi, wnd, where=land["water"][s])
    return ndvi


def _reflectance_block(land: Mapping[str, np.ndarray], s: slice, ndvi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Red and NIR (float32) of the rows ``s`` consistent with their NDVI (module doc, point 3)."""
    f32 = np.float32
    soil = land["soil"][s]
    fc = ndvi - f32(0.1)
    fc *= f32(1.0 / 0.75)
    np.clip(fc, 0, 1, out=fc)
    fc *= f32(2.0) - fc  # concave cover curve g = x (2 - x): red drops fast as vegetation appears
    red = f32(0.035) - soil
    red *= fc
    red += soil
    wred = f32(0.02) * land["turbid"][s]
    wred += f32(0.03)
    np.copyto(red, wred, where=land["water"][s])
    nir = f32(1.0) + ndvi
    nir /= f32(1.0) - ndvi
    nir *= red
    return red, nir


def _lst_block(land: Mapping[str, np.ndarray], s: slice, ndvi: np.ndarray, t0: float, anomaly: np.ndarray,
               noise: np.ndarray, out: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Day and night LST truth (K, float32) of the rows ``s`` (module doc, point 4)."""
    f32 = np.float32
    water = land["water"][s]
    day = np.multiply(land["slope"][s], ndvi, out=out)
    np.subtract(land["day_static"][s], day, out=day)
    day += anomaly
    day += f32(0.4) * noise
    day += f32(t0)
    sst = f32(0.5) * anomaly
    sst += f32(t0 - 16.0)
    np.copyto(day, sst, where=water)
    night = f32(2.5) * ndvi
    night += land["night_static"][s]
    night += f32(0.5) * anomaly
    night += f32(0.3) * noise
    night += f32(t0 - 26.0)
    np.copyto(night, f32(t0 - 16.0) + f32(0.1) * noise, where=water)
    return day, night


def _linear_phases(factor: int) -> list[tuple[int, float]]:
    """For each fine offset ``k`` in a coarse pixel: (coarse neighbour offset, weight of the next one)."""
    phases = []
    for k in range(factor):
        u = (k + 0.5) / factor - 0.5
        base = math.floor(u)
        phases.append((base, u - base))
    return phases


def _upsample_rows(a: np.ndarray, factor: int, s: slice) -> np.ndarray:
    """Rows ``s`` of the bilinear ``factor``-fold enlargement of ``a`` (pixel-area geometry,
    coarse pixel centres at the centres of their fine blocks, edges clamped)."""
    ny, nx = a.shape
    r = np.arange(s.start, s.stop)
    u = (r + 0.5) / factor - 0.5
    i0 = np.floor(u).astype(np.int64)
    w = (u - i0).astype(np.float32)[:, None]
    rows = a[np.clip(i0, 0, ny - 1)] * (1 - w)
    rows += a[np.clip(i0 + 1, 0, ny - 1)] * w
    padded = np.concatenate([rows[:, :1], rows, rows[:, -1:]], axis=1)  # edge-clamped columns
    out = np.empty((rows.shape[0], nx * factor), np.float32)
    for k, (base, wk) in enumerate(_linear_phases(factor)):
        left = padded[:, 1 + base: 1 + base + nx]
        right = padded[:, 2 + base: 2 + base + nx]
        np.multiply(left, np.float32(1 - wk), out=out[:, k::factor])
        out[:, k::factor] += np.float32(wk) * right
    return out


def _radiance_mean(t: np.ndarray, factor: int) -> np.ndarray:
    """``(mean T^4)^(1/4)`` over ``factor x factor`` blocks (float32; within 1e-4 K of
    :func:`eoml.lst.scaling.aggregate_lst` ``mode="radiance"``, which the tests check). Computed
    here because that module imports PyTorch (~500 MB of resident memory, 2 s)."""
    ny, nx = t.shape
    t4 = t * t
    t4 *= t4
    blocks = t4.reshape(ny // factor, factor, nx // factor, factor)
    out = blocks.sum(axis=(1, 3), dtype=np.float64) / (factor * factor)
    return np.sqrt(np.sqrt(out)).astype(np.float32)


def _block_mean(a: np.ndarray, factor: int) -> np.ndarray:
    """Mean over ``factor x factor`` blocks (float32), as :func:`eoml.lst.scaling.block_mean`."""
    ny, nx = a.shape
    blocks = a.astype(np.float32, copy=False).reshape(ny // factor, factor, nx // factor, factor)
    return blocks.sum(axis=(1, 3), dtype=np.float32) * np.float32(1.0 / (factor * factor))


def _t0(date: _dt.date, lat_deg: float, seed: int) -> float:
    """Clear-sky daytime LST of bare ground at sea level (K) for a date and latitude."""
    doy = date.timetuple().tm_yday
    phase = 200 if lat_deg >= 0 else 200 + 182.6
    jitter = _rng(seed, 7, date.toordinal()).normal(0, 1.2)
    return 303.0 + 13.0 * math.cos(2 * math.pi * (doy - phase) / 365.25) - 0.35 * (abs(lat_deg) - 35.0) + jitter


def _readonly(d: dict[str, Any]) -> dict[str, Any]:
    for v in d.values():
        if isinstance(v, np.ndarray):
            v.flags.writeable = False
        elif isinstance(v, dict):
            _readonly(v)
    return d


# --------------------------------------------------------------------------------------------
# the MODIS world
# --------------------------------------------------------------------------------------------

MODIS_FINE = 4800
MODIS_FACTOR = 4
ORBIT_KM = 705.0
SWATH_HALF_KM = 1165.0
TRACK_SPACING_EQ_KM = 2752.0
EARTH_KM = 6371.007181


@lru_cache(maxsize=1)
def _modis_static(tile: str, seed: int) -> dict[str, Any]:
    h, v = _parse_tile(tile)
    rng = _rng(seed, h, v, 1)
    land = _landscape((MODIS_FINE, MODIS_FINE), rng, cell=6, water_fraction=float(rng.uniform(0.10, 0.20)),
                      coast=True, scale_px=430.0)
    land["water_fraction_1km"] = _block_mean(land["water"], MODIS_FACTOR)
    return _readonly(land)


def _view_geometry(tile: str, date: _dt.date, seed: int, night: bool, n: int) -> dict[str, np.ndarray]:
    """View zenith angle (deg, signed), local solar time (h), observation count and orbit index."""
    from eoml.lst.readers import EARTH_RADIUS_M

    h, v = _parse_tile(tile)
    (x0, y0), (x1, y1) = _tile_bounds(h, v)
    rng = _rng(seed, h, v, 3, date.toordinal(), int(night))
    x = x0 + (x1 - x0) * (np.arange(n) + 0.5) / n
    y = y0 + (y1 - y0) * (np.arange(n) + 0.5) / n
    lat = y / EARTH_RADIUS_M
    spacing = TRACK_SPACING_EQ_KM * 1000.0 * np.cos(lat)[:, None]
    yc = 0.5 * (y0 + y1)
    track = 0.5 * (x0 + x1) + rng.uniform(-0.5, 0.5) * spacing + math.tan(math.radians(8.0)) * (y[:, None] - yc)
    d = np.mod(x[None, :] - track + spacing / 2, spacing) - spacing / 2
    d_km = d / 1000.0
    gamma = np.abs(d_km) / EARTH_KM
    scan = np.arctan(EARTH_KM * np.sin(gamma) / (EARTH_KM + ORBIT_KM - EARTH_KM * np.cos(gamma)))
    zenith = np.degrees(scan + gamma) * np.sign(d_km)
    orbit = np.floor((x[None, :] - track + spacing / 2) / spacing).astype(np.int64)
    base = 21.9 if night else 10.75
    lon_offset = d_km / (111.32 * np.cos(lat)[:, None])
    view_time = base + lon_offset / 15.0 + rng.normal(0, 0.05)
    n_obs = np.where(np.abs(d_km) > spacing / 1000.0 - SWATH_HALF_KM, 2, 1)
    return {"zenith": zenith.astype(np.float32), "time": view_time.astype(np.float32),
            "n_obs": n_obs.astype(np.int8), "orbit": np.mod(orbit, 2).astype(np.int8)}


def _rolled_rows(a: np.ndarray, s: slice, shift: tuple[int, int]) -> np.ndarray:
    """Rows ``s`` of ``np.roll(a, shift, axis=(0, 1))`` without rolling the whole array."""
    rows = (np.arange(s.start, s.stop) - shift[0]) % a.shape[0]
    return np.roll(a[rows], shift[1], axis=1)


def _make_world(tile: str, date: _dt.date, seed: int, first: _dt.date) -> dict[str, Any]:
    from eoml.lst.readers import EARTH_RADIUS_M

    f32 = np.float32
    h, v = _parse_tile(tile)
    land = _modis_static(tile, seed)
    n, f = MODIS_FINE, MODIS_FACTOR
    nc = n // f
    rng = _rng(seed, h, v, 2, date.toordinal())
    cell_ndvi = _cell_ndvi(land, float((date - first).days))
    (x0, y0), (x1, y1) = _tile_bounds(h, v)
    t0 = _t0(date, math.degrees(0.5 * (y0 + y1) / EARTH_RADIUS_M), seed)
    shift = (int(rng.integers(0, n)), int(rng.integers(0, n)))
    anomaly = _field((n // 8, n // 8), rng, 4.0, outer_px=75.0)  # weather, ~100 km scales, sigma 2 K
    anomaly *= f32(2.0)
    cover = float(rng.uniform(0.10, 0.40))
    # cloud systems: a 100-km-scale field on a 250-km-scale envelope, so clouds cluster and leave
    # large clear areas, as weather systems do
    cfield = _field((n, n), rng, 3.4, outer_px=400.0, reduce=2)
    envelope = _field((n // 8, n // 8), rng, 4.0, outer_px=125.0)
    envelope *= f32(2.0)
    for s in _blocks(n):
        cfield[s] += _upsample_rows(envelope, 8, s)
    thr = f32(_quantile(cfield, 1.0 - cover))
    thr_thin = f32(_quantile(cfield, max(0.0, 1.0 - cover - 0.03)))
    cover_night = float(rng.uniform(0.10, 0.40))
    nfield = _field((nc, nc), rng, 2.6, outer_px=65.0)
    err_field = np.clip(f32(1.2) * _field((nc, nc), rng, 3.5, outer_px=40.0), -1.9, 1.9)
    emis_noise = rng.uniform(-0.5, 0.5, (nc, nc)).astype(np.float32)
    dead_rows = None
    if date.toordinal() % 3 == 0:  # one 40-row scan with two dead detectors on every third date
        r0 = 40 * int(rng.integers(2, n // 40 - 2))
        dead_rows = (r0 + 11, r0 + 27)
    lst = np.empty((n, n), np.float32)
    ndvi_all = np.empty((n, n), np.float32)
    cloud = cfield > thr
    thin = cfield > thr_thin
    thin &= ~cloud
    optical = np.empty((n, n), np.uint8)
    coarse = {k: np.empty((nc, nc), np.float32) for k in ("lst_1km", "lst_night_1km", "ndvi_1km", "cloud_fraction_1km")}
    for s in _blocks(n):
        s1 = slice(s.start // f, s.stop // f)
        ndvi = _ndvi_block(land, s, cell_ndvi, out=ndvi_all[s])
        day, night = _lst_block(land, s, ndvi, t0, _upsample_rows(anomaly, 8, s), _rolled_rows(land["white"], s, shift),
                                out=lst[s])
        coarse["lst_1km"][s1] = _radiance_mean(day, f)
        coarse["lst_night_1km"][s1] = _radiance_mean(night, f)
        coarse["ndvi_1km"][s1] = _block_mean(ndvi, f)
        opt = cfield[s] - thr
        opt *= f32(255.0 / 1.5)
        np.clip(opt, 0, 255, out=opt)
        optical[s] = opt
        frac = cloud[s].astype(np.float32)
        frac += f32(0.5) * thin[s]
        coarse["cloud_fraction_1km"][s1] = _block_mean(frac, f)
    del cfield
    world = {
        "tile": tile, "date": date.isoformat(), "seed": seed, "t0": t0, "cloud_cover": cover,
        "cloud_cover_night": cover_night, "lst": lst, "ndvi": ndvi_all, **coarse,
        "water": land["water"], "elevation": land["elevation"], "land_cover": land["land_cover"],
        "water_fraction_1km": land["water_fraction_1km"],
        "cloud": cloud, "thin_cloud": thin, "cloud_optical": optical,
        "cloud_night_1km": nfield > f32(_quantile(nfield, 1.0 - cover_night)),
        "lst_error_1km": err_field, "emis_noise_1km": emis_noise, "dead_rows": dead_rows,
        "geometry_day": _view_geometry(tile, date, seed, False, nc),
        "geometry_night": _view_geometry(tile, date, seed, True, nc),
    }
    _readonly(world)
    world["surface"] = land  # the static landscape (read-only already)
    return world


def clear_caches() -> None:
    """Forget the cached static landscape, the last :func:`demo_world` and the scene truths (~1.5 GB)."""
    _modis_static.cache_clear()
    scene_truth.cache_clear()
    _LAST_WORLD[:] = [None, None]


def world_reflectances(world: Mapping[str, Any], rows: slice = slice(None)) -> tuple[np.ndarray, np.ndarray]:
    """Cloud-free red and NIR surface reflectance (float32) of rows ``rows`` of a :func:`demo_world`."""
    s = slice(*rows.indices(world["ndvi"].shape[0]))
    return _reflectance_block(world["surface"], s, world["ndvi"][s])


_LAST_WORLD: list[Any] = [None, None]


def demo_world(tile: str, date: Any, seed: int, first_date: Any = None) -> dict[str, Any]:
    """The synthetic truth behind the demo granules of ``tile`` on ``date`` (see module doc).

    250 m arrays (4800 x 4800): ``lst`` (daytime, K), ``ndvi`` (cloud-free surface; reflectances
    from :func:`world_reflectances`), ``water``, ``elevation`` (m), ``land_cover``
    (:data:`LAND_COVER_NAMES`), ``cloud``, ``thin_cloud``, ``cloud_optical`` (0-255); 1 km arrays
    (1200 x 1200): ``lst_1km`` / ``lst_night_1km`` (radiance aggregation of the truth, as
    :func:`eoml.lst.scaling.aggregate_lst`),
    ``ndvi_1km``, ``water_fraction_1km``, ``cloud_fraction_1km`` (thin cloud counts 1/2),
    ``cloud_night_1km``; the view geometry (``geometry_day``/``geometry_night``) and scalars
    ``t0`` and ``cloud_cover``. ``first_date`` (default ``date``) is the demo's first date, from
    which the crop dynamics run. Arrays are read-only; the last world is kept for the next call.
    """
    date = _as_date(date)
    first = _as_date(first_date) if first_date is not None else date
    key = (str(tile), date.isoformat(), int(seed), first.isoformat())
    if _LAST_WORLD[0] != key:
        _LAST_WORLD[:] = [None, None]  # free the previous world before building the next
        _LAST_WORLD[:] = [key, _make_world(str(tile), date, int(seed), first)]
    return _LAST_WORLD[1]


def _lst_layers(world: Mapping[str, Any], night: bool) -> dict[str, np.ndarray]:
    """Raw LST / QC / view time / view angle / clear-sky coverage of one overpass (module doc, 5-7)."""
    t1 = world["lst_night_1km" if night else "lst_1km"].astype(np.float64)
    geo = world["geometry_night" if night else "geometry_day"]
    sea = world["water_fraction_1km"] > 0.5
    cf = world["cloud_night_1km"].astype(np.float32) if night else world["cloud_fraction_1km"]
    cloudy = ~sea & (cf >= 0.5)
    contaminated = ~sea & (cf > 0) & (cf < 0.5)
    clear = ~sea & (cf == 0)
    oblique = clear & (np.abs(geo["zenith"]) > 45.0)
    value = t1.copy()
    bias = 12.0 * cf
    value[contaminated] -= bias[contaminated]
    value[oblique] += world["lst_error_1km"][oblique]
    err_class = np.select([bias <= 1.0, bias <= 2.0, bias <= 3.0], [0, 1, 2], 3).astype(np.uint8)
    qc = np.zeros(t1.shape, np.uint8)
    qc[sea] = 3
    qc[cloudy] = 2
    qc[contaminated] = (1 | (err_class[contaminated] << 6)).astype(np.uint8)
    qc[oblique] = 1 | (1 << 4) | (1 << 6)
    produced = ~sea & ~cloudy
    raw = np.zeros(t1.shape, np.uint16)
    raw[produced] = np.round(value[produced] / 0.02).astype(np.uint16)
    vt = np.full(t1.shape, 255, np.uint8)
    va = np.full(t1.shape, 255, np.uint8)
    vt[produced] = np.clip(np.round(np.mod(geo["time"][produced], 24.0) * 10), 0, 240).astype(np.uint8)
    va[produced] = np.clip(np.round(geo["zenith"][produced] + 65.0), 0, 130).astype(np.uint8)
    cov = np.zeros(t1.shape, np.uint16)
    coverage = 2000.0 * (1.0 - cf[produced]) * geo["n_obs"][produced]
    cov[produced] = np.clip(np.round(coverage), 40, 4000).astype(np.uint16)
    return {"lst": raw, "qc": qc, "time": vt, "angle": va, "cov": cov, "produced": produced, "sea": sea,
            "cloudy": cloudy}


def mod11a1_arrays(world: Mapping[str, Any]) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """Raw SDS arrays of the MOD11A1 granule of a :func:`demo_world`, and its QA percentages."""
    day, night = _lst_layers(world, False), _lst_layers(world, True)
    fv = np.clip((world["ndvi_1km"] - 0.15) / 0.7, 0, 1)
    emis_ok = day["produced"] | night["produced"]
    e31 = np.round((0.970 + 0.018 * fv - 0.49) / 0.002 + world["emis_noise_1km"])
    e32 = np.round((0.975 + 0.013 * fv - 0.49) / 0.002 + world["emis_noise_1km"])
    arrays = {
        "LST_Day_1km": day["lst"], "QC_Day": day["qc"], "Day_view_time": day["time"], "Day_view_angl": day["angle"],
        "LST_Night_1km": night["lst"], "QC_Night": night["qc"], "Night_view_time": night["time"],
        "Night_view_angl": night["angle"],
        "Emis_31": np.where(emis_ok, np.clip(e31, 1, 255), 0).astype(np.uint8),
        "Emis_32": np.where(emis_ok, np.clip(e32, 1, 255), 0).astype(np.uint8),
        "Clear_day_cov": day["cov"], "Clear_night_cov": night["cov"],
    }
    mand = day["qc"] & 3
    qa = {
        "cloud": 100.0 * float(day["cloudy"].mean()),
        "QAPERCENTGOODQUALITY": 100.0 * float((mand == 0).mean()),
        "QAPERCENTOTHERQUALITY": 100.0 * float((mand == 1).mean()),
        "QAPERCENTNOTPRODUCEDCLOUD": 100.0 * float((mand == 2).mean()),
        "QAPERCENTNOTPRODUCEDOTHER": 100.0 * float((mand == 3).mean()),
    }
    return arrays, qa


def mod09gq_arrays(world: Mapping[str, Any]) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """Raw SDS arrays of the MOD09GQ granule of a :func:`demo_world`, and its QA percentages."""
    f32 = np.float32
    f = MODIS_FACTOR
    n = world["ndvi"].shape[0]
    b1 = np.empty((n, n), np.int16)
    b2 = np.empty((n, n), np.int16)
    qc = np.empty((n, n), np.uint16)
    touched_1km = world["cloud_fraction_1km"] > 0
    for s in _blocks(n):
        s1 = slice(s.start // f, s.stop // f)
        cloud, thin = world["cloud"][s], world["thin_cloud"][s]
        c_red = world["cloud_optical"][s] * f32(0.15 / 255.0)
        c_red += f32(0.45)
        surface = world_reflectances(world, s)
        for clear, dst, gain in zip(surface, (b1, b2), (f32(1.0), f32(1.06))):
            val = clear * f32(0.6)
            val += f32(0.4 * 0.45) * gain
            np.copyto(val, clear, where=~thin)
            np.copyto(val, c_red * gain, where=cloud)
            val *= f32(1e4)
            np.round(val, out=val)
            np.clip(val, -100, 16000, out=val)
            dst[s] = val
        q = np.full(cloud.shape, 1 << 12, np.uint16)
        q[np.repeat(np.repeat(touched_1km[s1], f, axis=0), f, axis=1)] |= np.uint16(1 << 13)
        q[thin] |= np.uint16(1)
        q[cloud] |= np.uint16(2)
        qc[s] = q
    if world["dead_rows"] is not None:  # dead detectors: L1B interpolates the neighbouring rows
        for r in world["dead_rows"]:
            for band in (b1, b2):
                band[r] = ((band[r - 1].astype(np.int32) + band[r + 1]) // 2).astype(np.int16)
            qc[r] |= np.uint16((8 << 4) | (8 << 8))
    geo = world["geometry_day"]
    rep = lambda a: np.repeat(np.repeat(a, f, axis=0), f, axis=1)  # noqa: E731
    obscov = np.clip(np.round(100.0 * np.cos(np.radians(geo["zenith"])) ** 1.5), 5, 100).astype(np.int8)
    granule = np.zeros((n, n), np.uint8)
    granule[n // 2 + 300:] = 1
    arrays = {
        "num_observations": rep(geo["n_obs"]), "sur_refl_b01_1": b1, "sur_refl_b02_1": b2, "QC_250m_1": qc,
        "obscov_1": rep(obscov), "iobs_res_1": np.zeros((n, n), np.uint8), "orbit_pnt_1": rep(geo["orbit"]),
        "granule_pnt_1": granule,
    }
    return arrays, {"cloud": 100.0 * float(world["cloud"].mean())}


# --------------------------------------------------------------------------------------------
# validation scenes
# --------------------------------------------------------------------------------------------

LANDSAT_CONSTANTS = {"RADIANCE_MULT_BAND_10": 3.3420e-04, "RADIANCE_ADD_BAND_10": 0.10000,
                     "K1_CONSTANT_BAND_10": 774.8853, "K2_CONSTANT_BAND_10": 1321.0789}
SR_SCALE, SR_OFFSET = 2.75e-5, -0.2
_UTM17N = "EPSG:32617"
_ASTER = {"name": "aster_demo", "origin": (404010.0, 3935970.0), "tir_m": 90.0, "vnir_m": 15.0, "n_tir": 480,
          "ratio": 6, "date": _dt.date(2021, 7, 15), "angle_deg": 9.0}
_LANDSAT = {"name": "landsat_demo", "origin": (512985.0, 3871515.0), "pixel_m": 30.0, "n": 600,
            "date": _dt.date(2021, 7, 15), "path_row": "017035", "processed": _dt.date(2021, 7, 21)}
#: names of the demo's validation scenes (``lst.demo.scenes``)
DEMO_SCENE_NAMES = (_ASTER["name"], _LANDSAT["name"])


def _aster_names() -> dict[str, str]:
    stamp = "00307152021160312_20210716093512_28104"
    return {
        "lst": f"AST_08_{stamp}.SurfaceKineticTemperature.KineticTemperature.tif",
        "red": f"AST_07XT_{stamp}.VNIR_Swath.Band2.tif",
        "nir": f"AST_07XT_{stamp}.VNIR_Swath.Band3N.tif",
    }


def _landsat_names() -> dict[str, str]:
    s = _LANDSAT
    core = f"{s['path_row']}_{s['date']:%Y%m%d}_{s['processed']:%Y%m%d}_02_T1"
    return {
        "lst": f"LC08_L1TP_{core}_B10.TIF",
        "red": f"LC08_L2SP_{core}_SR_B4.TIF",
        "nir": f"LC08_L2SP_{core}_SR_B5.TIF",
        "mtl": f"LC08_L1TP_{core}_MTL.txt",
    }


def _write_geotiff(path: Path, data: np.ndarray, transform: Any, nodata: float | None, description: str) -> None:
    import rasterio

    from eoml.core.io import atomic_path

    with atomic_path(path) as tmp:
        with rasterio.open(tmp, "w", driver="GTiff", height=data.shape[0], width=data.shape[1], count=1,
                           dtype=str(data.dtype), crs=_UTM17N, transform=transform, nodata=nodata,
                           compress="deflate", tiled=True, blockxsize=256, blockysize=256) as dst:
            dst.write(data, 1)
            dst.update_tags(EOML_SYNTHETIC="synthetic scene written by eoml.lst.demo (not agency data)",
                            DESCRIPTION=description)


def _north_up(x0: float, y0: float, pixel: float):
    from affine import Affine

    return Affine(pixel, 0.0, x0, 0.0, -pixel, y0)


def _footprint(shape: tuple[int, int], angle_deg: float, margin: float) -> np.ndarray:
    """True inside a square footprint rotated by ``angle_deg`` (ASTER/Landsat scene edges)."""
    ny, nx = shape
    yy = (np.arange(ny, dtype=np.float32)[:, None] + 0.5) / ny - 0.5
    xx = (np.arange(nx, dtype=np.float32)[None, :] + 0.5) / nx - 0.5
    a = math.radians(angle_deg)
    u = math.cos(a) * xx + math.sin(a) * yy
    w = -math.sin(a) * xx + math.cos(a) * yy
    half = 0.5 - margin
    return (np.abs(u) <= half) & (np.abs(w) <= half)


def _scene_world(shape: tuple[int, int], seed: int, key: int, cell: int, scale_px: float,
                 t0: float) -> dict[str, np.ndarray]:
    rng = _rng(seed, 90, key)
    land = _landscape(shape, rng, cell=cell, water_fraction=0.05, coast=False, scale_px=scale_px)
    anomaly = _field((shape[0] // 8, shape[1] // 8), rng, 4.0, outer_px=scale_px / 16)
    cell_ndvi = _cell_ndvi(land, 0.0)
    out = {k: np.empty(shape, np.float32) for k in ("ndvi", "red", "nir", "lst")}
    for s in _blocks(shape[0]):
        ndvi = _ndvi_block(land, s, cell_ndvi)
        red, nir = _reflectance_block(land, s, ndvi)
        day, _ = _lst_block(land, s, ndvi, t0, _upsample_rows(anomaly, 8, s), land["white"][s])
        for k, val in (("ndvi", ndvi), ("red", red), ("nir", nir), ("lst", day)):
            out[k][s] = val
    return {**out, "water": land["water"], "land_cover": land["land_cover"]}


def _scene_aster(out: Path, seed: int, plan_entry: Mapping[str, Any]) -> None:
    s = _ASTER
    n_fine = s["n_tir"] * s["ratio"]
    w = scene_truth(s["name"], seed)
    lst90 = _radiance_mean(w["lst"], s["ratio"])
    inside90 = _footprint(lst90.shape, s["angle_deg"], 0.035)
    inside15 = _footprint((n_fine, n_fine), s["angle_deg"], 0.035)
    kin = np.where(inside90, np.clip(np.round(lst90 * 10.0), 1, 65535), 0).astype(np.uint16)
    x0, y0 = s["origin"]
    _write_geotiff(Path(plan_entry["lst"]), kin, _north_up(x0, y0, s["tir_m"]), 0,
                   "AST_08 surface kinetic temperature, K x 10, 0 = fill")
    for role, band in (("red", w["red"]), ("nir", w["nir"])):
        dn = np.where(inside15, np.clip(np.round(band * 1e4), 1, 65535), 0).astype(np.uint16)
        _write_geotiff(Path(plan_entry[role]), dn, _north_up(x0, y0, s["vnir_m"]), 0,
                       f"ASTER VNIR {role} surface reflectance x 1e4, 0 = fill")


def landsat_mtl_text(names: Mapping[str, str]) -> str:
    """A Landsat 8 Collection 2 L1 ``*_MTL.txt`` for the demo scene (GROUP/END_GROUP ODL)."""
    s = _LANDSAT
    x0, y0 = s["origin"]
    ext = s["pixel_m"] * s["n"]
    c = LANDSAT_CONSTANTS
    groups = [
        ("PRODUCT_CONTENTS", [
            ("ORIGIN", '"Synthetic scene written by eoml.lst.demo (not USGS data)"'),
            ("LANDSAT_PRODUCT_ID", f'"{names["mtl"][:-8]}"'), ("PROCESSING_LEVEL", '"L1TP"'),
            ("COLLECTION_NUMBER", "02"), ("COLLECTION_CATEGORY", '"T1"'),
            ("FILE_NAME_BAND_10", f'"{names["lst"]}"'), ("FILE_NAME_METADATA_ODL", f'"{names["mtl"]}"'),
            ("DATA_TYPE_BAND_10", '"UINT16"')]),
        ("IMAGE_ATTRIBUTES", [
            ("SPACECRAFT_ID", '"LANDSAT_8"'), ("SENSOR_ID", '"OLI_TIRS"'), ("WRS_PATH", s["path_row"][:3]),
            ("WRS_ROW", s["path_row"][3:]), ("DATE_ACQUIRED", f"{s['date']:%Y-%m-%d}"),
            ("SCENE_CENTER_TIME", '"15:56:31.1234560Z"'), ("CLOUD_COVER", "0.00"), ("SUN_AZIMUTH", "114.20812345"),
            ("SUN_ELEVATION", "66.27349821")]),
        ("PROJECTION_ATTRIBUTES", [
            ("MAP_PROJECTION", '"UTM"'), ("DATUM", '"WGS84"'), ("ELLIPSOID", '"WGS84"'), ("UTM_ZONE", "17"),
            ("GRID_CELL_SIZE_THERMAL", f"{s['pixel_m']:.2f}"), ("THERMAL_LINES", str(s["n"])),
            ("THERMAL_SAMPLES", str(s["n"])), ("ORIENTATION", '"NORTH_UP"'),
            ("CORNER_UL_PROJECTION_X_PRODUCT", f"{x0:.3f}"), ("CORNER_UL_PROJECTION_Y_PRODUCT", f"{y0:.3f}"),
            ("CORNER_LR_PROJECTION_X_PRODUCT", f"{x0 + ext:.3f}"),
            ("CORNER_LR_PROJECTION_Y_PRODUCT", f"{y0 - ext:.3f}")]),
        ("LEVEL1_RADIOMETRIC_RESCALING", [
            ("RADIANCE_MULT_BAND_10", f"{c['RADIANCE_MULT_BAND_10']:.4E}"),
            ("RADIANCE_ADD_BAND_10", f"{c['RADIANCE_ADD_BAND_10']:.5f}")]),
        ("LEVEL1_THERMAL_CONSTANTS", [
            ("K1_CONSTANT_BAND_10", f"{c['K1_CONSTANT_BAND_10']:.4f}"),
            ("K2_CONSTANT_BAND_10", f"{c['K2_CONSTANT_BAND_10']:.4f}")]),
    ]
    lines = ["GROUP = LANDSAT_METADATA_FILE"]
    for name, items in groups:
        lines.append(f"  GROUP = {name}")
        lines += [f"    {k} = {v}" for k, v in items]
        lines.append(f"  END_GROUP = {name}")
    lines += ["END_GROUP = LANDSAT_METADATA_FILE", "END", ""]
    return "\n".join(lines)


def _scene_landsat(out: Path, seed: int, plan_entry: Mapping[str, Any]) -> None:
    from eoml.core.io import write_text_atomic

    s = _LANDSAT
    n = s["n"]
    w = scene_truth(s["name"], seed)
    inside = _footprint((n, n), -12.5, -0.08)
    c = LANDSAT_CONSTANTS
    radiance = c["K1_CONSTANT_BAND_10"] / np.expm1(c["K2_CONSTANT_BAND_10"] / w["lst"].astype(np.float64))
    dn = np.round((radiance - c["RADIANCE_ADD_BAND_10"]) / c["RADIANCE_MULT_BAND_10"])
    b10 = np.where(inside, np.clip(dn, 1, 65535), 0).astype(np.uint16)
    x0, y0 = s["origin"]
    transform = _north_up(x0, y0, s["pixel_m"])
    _write_geotiff(Path(plan_entry["lst"]), b10, transform, 0, "Landsat 8 TIRS band 10 digital numbers")
    for role, band in (("red", w["red"]), ("nir", w["nir"])):
        sr = np.where(inside, np.clip(np.round((band - SR_OFFSET) / SR_SCALE), 1, 65535), 0).astype(np.uint16)
        _write_geotiff(Path(plan_entry[role]), sr, transform, 0,
                       f"Landsat 8 Collection 2 L2 surface reflectance ({role}), rho = DN x 2.75e-5 - 0.2")
    write_text_atomic(plan_entry["mtl"], landsat_mtl_text(_landsat_names()))


@lru_cache(maxsize=2)
def scene_truth(name: str, seed: int) -> dict[str, np.ndarray]:
    """The fine-resolution truth of a demo validation scene (``aster_demo``: 15 m; ``landsat_demo``:
    30 m): ``lst`` (K), ``ndvi``, ``red``, ``nir``, ``water``, ``land_cover``; read-only, cached."""
    return _readonly(_scene_truth(name, seed))


def _scene_truth(name: str, seed: int) -> dict[str, np.ndarray]:
    if name == _ASTER["name"]:
        n_fine = _ASTER["n_tir"] * _ASTER["ratio"]
        return _scene_world((n_fine, n_fine), seed, 1, cell=24, scale_px=n_fine * 1.5,
                            t0=_t0(_ASTER["date"], 35.5, seed))
    if name == _LANDSAT["name"]:
        n = _LANDSAT["n"]
        return _scene_world((n, n), seed, 2, cell=10, scale_px=n * 4.0, t0=_t0(_LANDSAT["date"], 35.0, seed))
    raise ValueError(f"no demo scene {name!r}")


# --------------------------------------------------------------------------------------------
# plan and generation
# --------------------------------------------------------------------------------------------


def _config(demo_cfg: Mapping[str, Any]) -> dict[str, Any]:
    """The validated ``lst.demo`` section (every key of :data:`DEMO_KEYS`), checked and typed."""
    from eoml.core.errors import ConfigError
    from eoml.core.settings import required_keys

    cfg = required_keys(demo_cfg, DEMO_KEYS, "lst.demo", only=True)
    try:
        _parse_tile(cfg["tile"])
    except ValueError as exc:
        raise ConfigError(f"lst.demo.tile: {exc}") from exc
    try:
        cfg["start"] = _as_date(cfg["start"])
    except ValueError as exc:
        raise ConfigError(f"lst.demo.start: not a YYYY-MM-DD date: {cfg['start']!r}") from exc
    for key, minimum in (("n_dates", 1), ("step_days", 1), ("seed", None)):
        value = cfg[key]
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or (minimum and value < minimum):
            raise ConfigError(f"lst.demo.{key}: must be {'a positive' if minimum else 'an'} integer, got {value!r}")
        cfg[key] = int(value)
    cfg["scenes"] = bool(cfg["scenes"])
    return cfg


def demo_plan(out_dir: str | Path, demo_cfg: Mapping[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The files :func:`generate_demo` writes, without writing anything (deterministic).

    ``{"modis": [{"tile", "date" (ISO), "mod11a1", "mod09gq"}, ...], "scenes": [entry, ...]}``;
    paths are strings under ``out_dir``; each scene entry is valid input for
    :func:`eoml.lst.readers.read_validation_scene` (factor 4).
    """
    cfg = _config(demo_cfg)
    out = Path(out_dir)
    modis = []
    for i in range(cfg["n_dates"]):
        date = cfg["start"] + _dt.timedelta(days=i * cfg["step_days"])
        entry = {"tile": cfg["tile"], "date": date.isoformat()}
        for product, clock in (("MOD11A1", "104512"), ("MOD09GQ", "033015")):
            name = _granule_name(product, cfg["tile"], date, _production_string(date, clock))
            entry[product.lower()] = str(out / product / name)
        modis.append(entry)
    scenes = []
    if cfg["scenes"]:
        a, la = _aster_names(), _landsat_names()
        adir, ldir = out / "scenes" / _ASTER["name"], out / "scenes" / _LANDSAT["name"]
        scenes.append({"name": _ASTER["name"], "lst": str(adir / a["lst"]), "red": str(adir / a["red"]),
                       "nir": str(adir / a["nir"]), "lst_kind": "aster_ast08", "factor": 4,
                       "reflectance_scale": 1e-4, "reflectance_offset": 0.0})
        scenes.append({"name": _LANDSAT["name"], "lst": str(ldir / la["lst"]), "red": str(ldir / la["red"]),
                       "nir": str(ldir / la["nir"]), "lst_kind": "landsat_b10", "mtl": str(ldir / la["mtl"]),
                       "factor": 4, "reflectance_scale": SR_SCALE, "reflectance_offset": SR_OFFSET})
    return {"modis": modis, "scenes": scenes}


def generate_demo(out_dir: str | Path, demo_cfg: Mapping[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Write every file of :func:`demo_plan` (atomically) and return the plan."""
    import logging
    import time

    log = logging.getLogger(__name__)
    cfg = _config(demo_cfg)
    plan = demo_plan(out_dir, cfg)
    first = cfg["start"]
    for entry in plan["modis"]:
        t = time.perf_counter()
        world = demo_world(entry["tile"], entry["date"], cfg["seed"], first)
        arrays, qa = mod11a1_arrays(world)
        write_mod11a1(entry["mod11a1"], arrays, tile=entry["tile"], date=entry["date"], qa=qa)
        del arrays
        arrays, qa = mod09gq_arrays(world)
        write_mod09gq(entry["mod09gq"], arrays, tile=entry["tile"], date=entry["date"], qa=qa)
        del arrays
        log.info("demo %s %s: cloud cover %.0f %%, T0 %.1f K (%.1f s)", entry["tile"], entry["date"],
                 100 * world["cloud_cover"], world["t0"], time.perf_counter() - t)
    generate_scenes(out_dir, cfg)
    return plan


def generate_scenes(out_dir: str | Path, demo_cfg: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Write only the validation scenes of :func:`demo_plan` and return their entries."""
    import logging
    import time

    log = logging.getLogger(__name__)
    cfg = _config(demo_cfg)
    scenes = demo_plan(out_dir, cfg)["scenes"]
    for entry in scenes:
        t = time.perf_counter()
        if entry["name"] == _ASTER["name"]:
            _scene_aster(Path(out_dir), cfg["seed"], entry)
        else:
            _scene_landsat(Path(out_dir), cfg["seed"], entry)
        log.info("demo scene %s (%.1f s)", entry["name"], time.perf_counter() - t)
    return scenes
