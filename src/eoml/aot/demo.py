"""A generated global 8-day aerosol optical thickness (AOT) series in NASA's real file layouts.

The aot demo needs real-format inputs offline. This module simulates a few years of global
MODIS-like 8-day AOT composites at 550 nm and writes each composite twice:

* ``neo/MODAL2_E_AER_OD_<YYYY-MM-DD>_rgb_<W>x<H>.FLOAT.TIFF`` — a NASA Earth Observations (NEO)
  float GeoTIFF: float32, fill 99999.0, EPSG:4326, ``from_origin(-180, 90, res, res)`` (row 0 at
  90 N, column 0 at 180 W), W x H = ``neo_width`` x ``neo_width / 2``;
* ``mod08_e3/MOD08_E3.A<YYYYDDD>.061.<production>.hdf`` — a MODIS/Terra Level-3 8-day global
  1-degree granule (HDF4, HDF-EOS grid ``mod08``) with the int16 SDS
  ``AOD_550_Dark_Target_Deep_Blue_Combined_Mean_Mean`` (``scale_factor`` 0.001, ``add_offset``
  0, ``_FillValue`` -9999, ``valid_range`` [-100, 5000]) and the ``XDim`` / ``YDim`` coordinate
  SDSs, as in Collection 6.1.

Both hold the SAME field: the MOD08 value of a 1-degree cell is the mean of the valid NEO pixels
inside it (identical, up to the 0.001 quantisation, when ``neo_width`` is 360), NaN/fill where
none is valid. The readers of :mod:`eoml.aot.readers` ingest them unchanged.

:func:`demo_plan` lists the files without touching the disk (the Snakefile calls it while
parsing, so this module imports only the standard library and NumPy at top level);
:func:`generate_demo` writes them atomically. The same configuration gives the same arrays and,
as far as GDAL and HDF4 allow (they write no time stamps), the same bytes: an HDF4 file records
the name it was created under, so each granule is created under its final name in a private
directory and moved into place. Every file says it is synthetic (GeoTIFF tag ``EOML_SYNTHETIC``,
HDF global attribute ``eoml_synthetic``).

The synthetic atmosphere (on a 2-degree transport grid; the NEO grid interpolates it bilinearly)
------------------------------------------------------------------------------------------------
``AOT = background + S tanh(C / S)``, where ``C`` is a transported aerosol load, stepped DAILY and
averaged over the days of each composite (the real composites are means of daily retrievals), and
``S`` = 1.5 softly caps the thickest plumes (retrieved composite AOT rarely exceeds ~2):

* **Background**: maritime 0.10 over ocean, continental 0.15 over land (the real outline of
  ``global_land_mask``), a little higher in the northern mid-latitudes, with a slowly varying
  (AR(1)) smooth random modulation.
* **Sources** (emission = seasonal amplitude x Gaussian footprint x daily log-normal pulses, AR(1)
  from day to day, times a smooth log-normal random field, AR(1) from composite to composite, so
  outbreaks switch on and off in patches):
  Saharan dust (peak June-August, plus a weak spring Bodele / Sahel component), Middle East dust
  (summer), biomass burning in southern Africa (July-September), the Sahel (December-February),
  the Amazon (August-October) and South-East Asia (March-April), industrial haze over the
  Indo-Gangetic Plain and eastern China (winter peak, present all year).
* **Transport**: semi-Lagrangian advection (bilinear, periodic in longitude) by a climatological
  wind — trade easterlies either side of an ITCZ that follows the sun, mid-latitude westerlies,
  polar easterlies — plus a large-scale random perturbation redrawn every composite (AR(1)), so
  plumes are carried along the winds (Saharan dust west across the Atlantic toward the Caribbean,
  Asian haze east over the Pacific) and their shape varies from composite to composite.
  Removal with an e-folding lifetime of 6 days (shorter under the ITCZ and storm tracks: wet
  deposition).
* **Retrieval**: multiplicative (8 %) and additive (0.015) noise per pixel; cloud gaps as
  thresholded smooth random fields with a climatological probability (high under the ITCZ and
  in the storm tracks, low over the subtropical deserts and oceans); no retrieval in polar night
  (noon sun elevation below 12 degrees) nor over the Antarctic and Greenland ice sheets (bright
  surfaces).

The tuning (seed 5, 2001-2003, block means to 4 degrees) gives 6.7 % of the valid pixels above 0.8
(DJF 6.0 %, MAM 5.5 %, JJA 8.4 %, SON 6.6 %), 39 % unread 1-degree pixels, and a persistence
forecast of the > 0.8 mask (unread = 0) with F1 0.65: good but imperfect (plumes move, outbreaks
come and go, the seasons turn), while the same composite a year earlier scores F1 0.50, so a
learned model has something to learn. The whole 3-year demo takes a few seconds on one core.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import os
import shutil
import uuid
from collections.abc import Collection, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["DEMO_KEYS", "MOD08_SDS", "NEO_FILL", "NEO_WIDTHS", "block_mean", "composite_starts", "demo_plan",
           "generate_demo", "neo_fields", "simulate"]

#: the keys of the ``aot.demo`` config section this module reads (the schema fills them in)
DEMO_KEYS = ("first_year", "years", "seed", "neo_width", "missing_periods")
#: NEO grid widths (columns) the generator writes; height is half
NEO_WIDTHS = (360, 720, 1440, 3600)
NEO_FILL = 99999.0
MOD08_SDS = "AOD_550_Dark_Target_Deep_Blue_Combined_Mean_Mean"
MOD08_SCALE = 0.001
MOD08_FILL = -9999
MOD08_VALID = (-100, 5000)
SYNTHETIC_NOTE = "synthetic demo data generated by eoml.aot.demo; not a NASA product"

PERIOD_DAYS = 8
PERIODS_PER_YEAR = 46
TRANSPORT_RES = 2.0  # degrees: the transport grid (fine grids interpolate it bilinearly)
SPINUP_DAYS = 40
LIFETIME_DAYS = 6.0
PULSE_RHO, PULSE_SD = 0.75, 0.8  # daily AR(1) of each source's log emission
EMISSION_RHO, EMISSION_SD = 0.2, 1.05  # composite-to-composite AR(1) of the emission pattern
WIND_RHO, WIND_SD = 0.5, 4.3  # composite-to-composite AR(1) of the wind perturbation (m/s)
SATURATION = 1.5  # AOT: thick plumes saturate softly (tanh) toward this above the background
NOISE_MULT, NOISE_ADD = 0.08, 0.015  # retrieval noise: multiplicative (log sd) and additive
DEG_PER_MS_DAY = 86400.0 / 111195.0  # degrees of latitude travelled per day at 1 m/s

# Sources: name, (lat, lon) centre, (sigma_lat, sigma_lon) in degrees, peak day of year,
# seasonal width (days, circular Gaussian), share of the peak emission all year round,
# peak emission (AOT units per day).
_SOURCES: tuple[tuple[str, tuple[float, float], tuple[float, float], float, float, float, float], ...] = (
    ("saharan_dust", (19.0, 0.0), (5.0, 13.0), 190.0, 45.0, 0.01, 4.3),
    ("bodele_sahel_dust", (15.0, 17.0), (3.0, 6.0), 100.0, 35.0, 0.05, 1.5),
    ("middle_east_dust", (25.0, 47.0), (5.0, 8.0), 180.0, 50.0, 0.10, 1.7),
    ("southern_africa_fires", (-12.0, 22.0), (5.0, 9.0), 235.0, 28.0, 0.0, 4.3),
    ("sahel_fires", (7.0, 18.0), (3.5, 10.0), 15.0, 30.0, 0.0, 2.6),
    ("amazon_fires", (-9.0, -58.0), (5.0, 8.0), 250.0, 25.0, 0.0, 4.1),
    ("se_asia_fires", (19.0, 100.0), (3.5, 5.0), 85.0, 22.0, 0.0, 3.7),
    ("indo_gangetic_haze", (27.0, 81.0), (3.5, 8.0), 10.0, 60.0, 0.20, 2.3),
    ("east_china_haze", (33.0, 114.0), (5.0, 7.0), 20.0, 70.0, 0.25, 2.0),
)


# ------------------------------------------------------------------------------------------------
# plan
# ------------------------------------------------------------------------------------------------
def _settings(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """The validated ``aot.demo`` keys of :data:`DEMO_KEYS` (``missing_periods`` as dates)."""
    from eoml.core.errors import ConfigError
    from eoml.core.settings import required_keys

    c = required_keys(cfg, DEMO_KEYS, "aot.demo")
    for key in ("first_year", "years", "seed"):
        if isinstance(c[key], bool) or not isinstance(c[key], (int, np.integer)):
            raise ConfigError(f"aot.demo.{key}: expected an integer, got {c[key]!r}")
    if not 1 <= c["first_year"] <= 9000:
        raise ConfigError(f"aot.demo.first_year: {c['first_year']} is not a year")
    if c["years"] < 1:
        raise ConfigError(f"aot.demo.years: must be >= 1, got {c['years']}")
    if c["neo_width"] not in NEO_WIDTHS:
        raise ConfigError(f"aot.demo.neo_width: must be one of {NEO_WIDTHS}, got {c['neo_width']!r}")
    starts = composite_starts(c["first_year"], c["years"])
    missing = set()
    for text in c["missing_periods"]:
        try:
            day = _dt.date.fromisoformat(str(text))
        except ValueError:
            raise ConfigError(f"aot.demo.missing_periods: {text!r} is not a YYYY-MM-DD date") from None
        if day not in starts:
            raise ConfigError(f"aot.demo.missing_periods: {text} is not the first day of a generated 8-day "
                              f"composite ({starts[0]} .. {starts[-1]}, day of year 1, 9, ..., 361)")
        missing.add(day)
    return {**c, "missing_periods": missing}


def composite_starts(first_year: int, years: int) -> list[_dt.date]:
    """First days of every 8-day composite of ``years`` years (day of year 1, 9, ..., 361)."""
    return [_dt.date(y, 1, 1) + _dt.timedelta(days=PERIOD_DAYS * k)
            for y in range(first_year, first_year + years) for k in range(PERIODS_PER_YEAR)]


def _neo_name(day: _dt.date, width: int) -> str:
    return f"MODAL2_E_AER_OD_{day:%Y-%m-%d}_rgb_{width}x{width // 2}.FLOAT.TIFF"


def _mod08_name(day: _dt.date) -> str:
    # production stamp: processed a fixed 9 days after the composite's first day, at a fixed time
    made = day + _dt.timedelta(days=9)
    return (f"MOD08_E3.A{day:%Y}{day.timetuple().tm_yday:03d}.061."
            f"{made:%Y}{made.timetuple().tm_yday:03d}041519.hdf")


def demo_plan(out_dir: str | Path, cfg: Mapping[str, Any]) -> dict[str, list[Path]]:
    """The files :func:`generate_demo` writes, in time order, without touching the disk.

    ``{"neo_geotiff": [...], "mod08_e3": [...]}``; the composites of ``missing_periods`` are in
    neither list. Raises :class:`~eoml.core.errors.ConfigError` for a missing or bad key.
    """
    c = _settings(cfg)
    out_dir = Path(out_dir)
    days = [d for d in composite_starts(c["first_year"], c["years"]) if d not in c["missing_periods"]]
    return {"neo_geotiff": [out_dir / "neo" / _neo_name(d, c["neo_width"]) for d in days],
            "mod08_e3": [out_dir / "mod08_e3" / _mod08_name(d) for d in days]}


# ------------------------------------------------------------------------------------------------
# simulation
# ------------------------------------------------------------------------------------------------
def _centres(n: int, res: float) -> tuple[np.ndarray, np.ndarray]:
    """Cell-centre latitudes (descending) and longitudes (ascending) of a global ``2n x n`` grid."""
    lat = 90.0 - res * (np.arange(n) + 0.5)
    lon = -180.0 + res * (np.arange(2 * n) + 0.5)
    return lat, lon


class _SmoothNoise:
    """Unit-variance Gaussian random fields with a Gaussian correlation of ``scale_deg`` (FFT)."""

    def __init__(self, shape: tuple[int, int], res: float, scale_deg: float):
        ky = np.fft.fftfreq(shape[0], d=res)
        kx = np.fft.fftfreq(shape[1], d=res)
        gain = np.exp(-2.0 * (np.pi * scale_deg) ** 2 * (ky[:, None] ** 2 + kx[None, :] ** 2))
        # filtered unit white noise has variance mean(|gain|^2) over the full spectrum
        self.filter = gain[:, : shape[1] // 2 + 1] / np.sqrt(np.mean(gain ** 2))
        self.shape = shape

    def draw(self, rng: np.random.Generator) -> np.ndarray:
        white = rng.standard_normal(self.shape)
        return np.fft.irfft2(np.fft.rfft2(white) * self.filter, s=self.shape)


def _circular_gauss(doy: np.ndarray | float, peak: float, width: float) -> np.ndarray:
    d = (np.asarray(doy, dtype=float) - peak + 182.5) % 365.0 - 182.5
    return np.exp(-0.5 * (d / width) ** 2)


def _declination(doy: float) -> float:
    return 23.44 * np.sin(2.0 * np.pi * (284.0 + doy) / 365.0)


def _itcz_lat(doy: float) -> float:
    return 5.0 + 6.0 * np.sin(2.0 * np.pi * (doy - 110.0) / 365.0)


def _zonal_wind(lat: np.ndarray, doy: float) -> np.ndarray:
    """Climatological zonal wind (m/s, positive eastward) by latitude; the pattern follows the ITCZ."""
    x = lat - _itcz_lat(doy)
    return (-6.5 * np.exp(-0.5 * ((x - 12.0) / 8.0) ** 2) - 6.0 * np.exp(-0.5 * ((x + 12.0) / 8.0) ** 2)
            + 9.0 * np.exp(-0.5 * ((np.abs(lat) - 45.0) / 10.0) ** 2)
            - 3.0 * np.exp(-0.5 * ((np.abs(lat) - 72.0) / 6.0) ** 2))


def _cloud_probability(lat: np.ndarray, land: np.ndarray, doy: float) -> np.ndarray:
    """Climatological probability that an 8-day composite pixel has no cloud-free retrieval."""
    x = lat - _itcz_lat(doy)
    p = (0.10 + 0.40 * np.exp(-0.5 * (x / 6.0) ** 2)
         + 0.40 * np.exp(-0.5 * ((np.abs(lat) - 55.0) / 9.0) ** 2)
         - 0.07 * np.exp(-0.5 * ((np.abs(lat) - 22.0) / 7.0) ** 2))
    return np.clip(p[:, None] - 0.04 * land, 0.02, 0.9)


def _advection_indices(lat: np.ndarray, u: np.ndarray, v: np.ndarray, res: float):
    """Flat gather indices and weights of one day's semi-Lagrangian step (departure points)."""
    ny, nx = u.shape
    coslat = np.maximum(np.cos(np.deg2rad(lat)), 0.15)[:, None]
    dj = u * DEG_PER_MS_DAY / coslat / res  # columns moved eastward in one day
    di = -v * DEG_PER_MS_DAY / res  # rows moved (rows run southward)
    rows = np.arange(ny, dtype=float)[:, None] - di
    cols = np.arange(nx, dtype=float)[None, :] - dj
    rows = np.clip(rows, 0.0, ny - 1.0)
    r0 = np.floor(rows).astype(np.intp)
    r1 = np.minimum(r0 + 1, ny - 1)
    fr = rows - r0
    c0f = np.floor(cols)
    fc = cols - c0f
    c0 = c0f.astype(np.intp) % nx
    c1 = (c0 + 1) % nx
    idx = tuple(i.ravel() for i in (r0 * nx + c0, r0 * nx + c1, r1 * nx + c0, r1 * nx + c1))
    w = tuple(x.ravel() for x in ((1 - fr) * (1 - fc), (1 - fr) * fc, fr * (1 - fc), fr * fc))
    return idx, w


def _advect(field: np.ndarray, idx, w) -> np.ndarray:
    flat = field.ravel()
    out = flat[idx[0]] * w[0]
    for i, wk in zip(idx[1:], w[1:]):
        out += flat[i] * wk
    return out


def simulate(first_year: int, years: int, seed: int) -> dict[str, Any]:
    """The composites on the transport grid (:data:`TRANSPORT_RES`, row 0 northernmost, column 0 at 180 W).

    Returns ``starts`` (first days), ``load`` (N, ny, nx: the transported aerosol's mean AOT over
    each composite's days), ``background`` (N, ny, nx: multiplicative modulation of the maritime /
    continental background, ~1) and ``cloud`` (N, ny, nx: a smooth standard-normal field; a pixel
    is cloudy where it falls below the climatological threshold of :func:`_retrieval_mask`).
    Deterministic in ``seed``.
    """
    rng = np.random.default_rng(seed)
    res = TRANSPORT_RES
    ny = round(180 / res)
    nx = 2 * ny
    lat, lon = _centres(ny, res)
    starts = composite_starts(first_year, years)
    t0 = _dt.date(first_year, 1, 1)
    n_days = (_dt.date(first_year + years, 1, 1) - t0).days
    all_days = np.arange(-SPINUP_DAYS, n_days)
    dates = [t0 + _dt.timedelta(days=int(d)) for d in all_days]
    doys = np.array([d.timetuple().tm_yday for d in dates], dtype=float)
    # composite of each day (-1: spin-up); a new composite starts new weather
    period = np.array([(d.timetuple().tm_yday - 1) // PERIOD_DAYS + (d.year - first_year) * PERIODS_PER_YEAR
                       if d.year >= first_year else -1 for d in dates])
    new_weather = np.r_[True, (doys[1:] - 1) // PERIOD_DAYS != (doys[:-1] - 1) // PERIOD_DAYS]

    # source footprints (S, ny*nx) and emission per day (days, S): seasonal amplitude x daily
    # log-normal pulses, AR(1) from day to day
    shapes = []
    for _, (clat, clon), (slat, slon), *_rest in _SOURCES:
        dlon = (lon[None, :] - clon + 180.0) % 360.0 - 180.0
        shapes.append(np.exp(-0.5 * ((lat[:, None] - clat) / slat) ** 2 - 0.5 * (dlon / slon) ** 2).ravel())
    shapes = np.asarray(shapes)
    seasonal = np.stack([amp * (base + (1.0 - base) * _circular_gauss(doys, peak, width))
                         for _, _, _, peak, width, base, amp in _SOURCES], axis=1)
    z = np.empty_like(seasonal)
    z[0] = rng.standard_normal(len(_SOURCES))
    for k in range(1, len(all_days)):
        z[k] = PULSE_RHO * z[k - 1] + np.sqrt(1 - PULSE_RHO ** 2) * rng.standard_normal(len(_SOURCES))
    emission_daily = seasonal * np.exp(PULSE_SD * z - 0.5 * PULSE_SD ** 2)

    big = _SmoothNoise((ny, nx), res, 12.0)
    mid = _SmoothNoise((ny, nx), res, 5.0)
    wet = (1.0 + 0.6 * np.exp(-0.5 * ((lat - 5.0) / 8.0) ** 2)
           + 0.4 * np.exp(-0.5 * ((np.abs(lat) - 55.0) / 10.0) ** 2))
    keep = np.repeat(np.exp(-wet / LIFETIME_DAYS), nx)

    def ar1(prev: np.ndarray, rho: float, noise: _SmoothNoise) -> np.ndarray:
        return rho * prev + np.sqrt(1 - rho ** 2) * noise.draw(rng)

    emis_anom, bg_anom, u_anom, v_anom = mid.draw(rng), big.draw(rng), big.draw(rng), big.draw(rng)
    n = len(starts)
    load = np.zeros(ny * nx)
    sums = np.zeros((n, ny * nx))
    counts = np.zeros(n)
    background = np.empty((n, ny, nx), dtype=np.float32)
    cloud = np.empty((n, ny, nx), dtype=np.float32)
    idx = w = emis_field = None
    for k in range(len(all_days)):
        p = period[k]
        if new_weather[k]:  # a new composite: new weather (wind perturbation, emission pattern)
            emis_anom = ar1(emis_anom, EMISSION_RHO, mid)
            bg_anom = ar1(bg_anom, 0.8, big)
            u_anom = ar1(u_anom, WIND_RHO, big)
            v_anom = ar1(v_anom, WIND_RHO, big)
            u = _zonal_wind(lat, doys[k] + 3.5)[:, None] + WIND_SD * u_anom
            idx, w = _advection_indices(lat, u, WIND_SD * 0.6 * v_anom, res)
            emis_field = np.exp(EMISSION_SD * emis_anom - 0.5 * EMISSION_SD ** 2).ravel()
            if p >= 0:
                background[p] = np.exp(0.18 * bg_anom - 0.5 * 0.18 ** 2)
                cloud[p] = mid.draw(rng)
        load = _advect(load, idx, w) * keep + (emission_daily[k] @ shapes) * emis_field
        if p >= 0:
            sums[p] += load
            counts[p] += 1
    load_mean = (sums / counts[:, None]).reshape(n, ny, nx).astype(np.float32)
    return {"starts": starts, "load": load_mean, "background": background, "cloud": cloud}


def _background(lat: np.ndarray, land: np.ndarray) -> np.ndarray:
    """Maritime (0.10) / continental (0.15) background AOT, a little higher in the northern mid-latitudes."""
    return 0.10 + 0.05 * land + 0.04 * np.exp(-0.5 * ((lat[:, None] - 40.0) / 12.0) ** 2)


def _retrieval_mask(lat: np.ndarray, lon: np.ndarray, land: np.ndarray, cloud: np.ndarray,
                    day: _dt.date) -> np.ndarray:
    """True where the composite has a retrieval: not cloudy, sun high enough, not an ice sheet."""
    doy = day.timetuple().tm_yday + 3.5
    p = _cloud_probability(lat, land, doy)
    threshold = np.log(p / (1.0 - p)) / 1.702  # logistic approximation of the normal quantile
    clear = cloud >= threshold
    elevation = 90.0 - np.abs(lat - _declination(doy))
    clear &= (elevation >= 12.0)[:, None]
    ice = land & ((lat[:, None] < -60.0)
                  | ((lat[:, None] > 59.0) & (lon[None, :] > -75.0) & (lon[None, :] < -10.0)))
    return clear & ~ice


def _upsample(field: np.ndarray, factor: int) -> np.ndarray:
    """Bilinear interpolation of global grids (``(..., ny, nx)``) to ``factor`` times finer cell centres.

    Separable (rows, then columns); clamped at the poles, periodic in longitude.
    """
    if factor == 1:
        return field
    ny, nx = field.shape[-2:]
    rows = np.clip((np.arange(ny * factor) + 0.5) / factor - 0.5, 0, ny - 1)
    r0 = np.floor(rows).astype(np.intp)
    r1 = np.minimum(r0 + 1, ny - 1)
    fr = (rows - r0)[:, None]
    by_rows = field[..., r0, :] * (1 - fr) + field[..., r1, :] * fr
    cols = (np.arange(nx * factor) + 0.5) / factor - 0.5
    c0f = np.floor(cols)
    fc = cols - c0f
    c0 = c0f.astype(np.intp) % nx
    c1 = (c0 + 1) % nx
    return by_rows[..., c0] * (1 - fc) + by_rows[..., c1] * fc


# ------------------------------------------------------------------------------------------------
# writers
# ------------------------------------------------------------------------------------------------
def _write_neo(path: Path, aot: np.ndarray) -> None:
    import rasterio
    from rasterio.transform import Affine

    from eoml.core.io import atomic_path

    width = aot.shape[1]
    res = 360.0 / width
    data = np.where(np.isfinite(aot), aot, NEO_FILL).astype(np.float32)
    # uncompressed, like NEO's float GeoTIFFs
    profile = {"driver": "GTiff", "width": width, "height": width // 2, "count": 1, "dtype": "float32",
               "crs": "EPSG:4326", "transform": Affine(res, 0.0, -180.0, 0.0, -res, 90.0), "nodata": NEO_FILL}
    with atomic_path(path) as tmp, rasterio.open(tmp, "w", **profile) as dst:
        dst.write(data, 1)
        dst.update_tags(EOML_SYNTHETIC=SYNTHETIC_NOTE, PRODUCT="MODAL2_E_AER_OD",
                        TITLE="Aerosol Optical Thickness (MODIS Terra, 8 day)")


def _write_mod08(path: Path, aot: np.ndarray, day: _dt.date) -> None:
    from pyhdf.SD import SD, SDC

    from eoml.core.io import atomic_path

    raw = np.where(np.isfinite(aot), np.round(np.clip(aot, MOD08_VALID[0] * MOD08_SCALE,
                                                      MOD08_VALID[1] * MOD08_SCALE) / MOD08_SCALE),
                   MOD08_FILL).astype(np.int16)
    ny, nx = raw.shape
    lat, lon = _centres(ny, 1.0)
    struct = (f'GROUP=SwathStructure\nEND_GROUP=SwathStructure\nGROUP=GridStructure\n\tGROUP=GRID_1\n'
              f'\t\tGridName="mod08"\n\t\tXDim={nx}\n\t\tYDim={ny}\n'
              f'\t\tUpperLeftPointMtrs=(-180000000.000000,90000000.000000)\n'
              f'\t\tLowerRightMtrs=(180000000.000000,-90000000.000000)\n\t\tProjection=GCTP_GEO\n'
              f'\t\tGridOrigin=HDFE_GD_UL\n\tEND_GROUP=GRID_1\nEND_GROUP=GridStructure\n'
              f'GROUP=PointStructure\nEND_GROUP=PointStructure\nEND\n')
    with atomic_path(path) as tmp:
        work = tmp.parent / f".{path.name}.work-{uuid.uuid4().hex[:8]}"
        work.mkdir()
        try:
            with contextlib.chdir(work):
                sd = SD(path.name, SDC.WRITE | SDC.CREATE | SDC.TRUNC)
                try:
                    sd.attr("HDFEOSVersion").set(SDC.CHAR8, "HDFEOS_V2.19")
                    sd.attr("StructMetadata.0").set(SDC.CHAR8, struct)
                    sd.attr("identifier_product_doi").set(SDC.CHAR8, "10.5067/MODIS/MOD08_E3.061")
                    sd.attr("identifier_product_doi_authority").set(SDC.CHAR8, "http://dx.doi.org")
                    sd.attr("RANGEBEGINNINGDATE").set(SDC.CHAR8, f"{day:%Y-%m-%d}")
                    sd.attr("eoml_synthetic").set(SDC.CHAR8, SYNTHETIC_NOTE)
                    for name, values, units in (("XDim", lon, "Degrees_east"), ("YDim", lat, "Degrees_north")):
                        sds = sd.create(name, SDC.FLOAT32, values.shape)
                        sds.dim(0).setname(f"{name}:mod08")
                        sds.attr("long_name").set(SDC.CHAR8, f"{name}:mod08")
                        sds.attr("units").set(SDC.CHAR8, units)
                        sds[:] = values.astype(np.float32)
                        sds.endaccess()
                    sds = sd.create(MOD08_SDS, SDC.INT16, raw.shape)
                    sds.dim(0).setname("YDim:mod08")
                    sds.dim(1).setname("XDim:mod08")
                    sds.attr("valid_range").set(SDC.INT16, list(MOD08_VALID))
                    sds.attr("_FillValue").set(SDC.INT16, MOD08_FILL)
                    sds.attr("long_name").set(
                        SDC.CHAR8, "Aerosol Optical Depth at 0.55 microns, Combined Dark Target, Deep Blue, "
                                   "Mean of Daily Mean")
                    sds.attr("units").set(SDC.CHAR8, "None")
                    sds.attr("scale_factor").set(SDC.FLOAT64, MOD08_SCALE)
                    sds.attr("add_offset").set(SDC.FLOAT64, 0.0)
                    sds.attr("Statistic_Type").set(SDC.CHAR8, "Mean of Daily Mean")
                    sds.setcompress(SDC.COMP_DEFLATE, value=1)
                    sds[:] = raw
                    sds.endaccess()
                finally:
                    sd.end()
            os.replace(work / path.name, tmp)
        finally:
            shutil.rmtree(work, ignore_errors=True)


def neo_fields(first_year: int, years: int, seed: int, neo_width: int,
               skip: Collection[_dt.date] = ()) -> Iterator[tuple[_dt.date, np.ndarray]]:
    """``(first day, retrieved AOT)`` of every composite on the NEO grid (float32, NaN = unread).

    The transport grid's load and background modulation are interpolated bilinearly to the NEO
    grid, the background follows the NEO grid's land outline, retrieval noise and cloud gaps are
    applied per NEO pixel. Composites whose first day is in ``skip`` are not computed. Deterministic
    in ``seed``; a composite's values do not depend on which others are skipped (its retrieval noise
    has a random stream of its own).
    """
    from global_land_mask import globe

    if neo_width not in NEO_WIDTHS:
        raise ValueError(f"neo_width must be one of {NEO_WIDTHS}, got {neo_width}")
    sim = simulate(first_year, years, seed)
    factor = neo_width // sim["load"].shape[2]
    lat, lon = _centres(neo_width // 2, 360.0 / neo_width)
    land = globe.is_land(*np.meshgrid(lat, lon, indexing="ij"))
    base = _background(lat, land)
    for k, day in enumerate(sim["starts"]):
        if day in skip:
            continue
        rng = np.random.default_rng([seed, 1, k])  # retrieval noise of composite k
        mult = rng.standard_normal(land.shape)
        add = rng.standard_normal(land.shape)
        background, load, cloud = _upsample(np.stack([sim["background"][k], sim["load"][k], sim["cloud"][k]]),
                                            factor)
        truth = base * background + SATURATION * np.tanh(load / SATURATION)
        retrieved = np.maximum(truth * np.exp(NOISE_MULT * mult - 0.5 * NOISE_MULT ** 2) + NOISE_ADD * add,
                               -0.05)
        ok = _retrieval_mask(lat, lon, land, cloud, day)
        yield day, np.where(ok, retrieved, np.nan).astype(np.float32)


def block_mean(field: np.ndarray, factor: int) -> np.ndarray:
    """Mean of the finite values in ``factor`` x ``factor`` blocks (NaN where a block has none)."""
    ny, nx = field.shape
    blocks = field.reshape(ny // factor, factor, nx // factor, factor).astype(np.float64)
    n = np.isfinite(blocks).sum(axis=(1, 3))
    total = np.nansum(blocks, axis=(1, 3))
    return np.where(n > 0, total / np.maximum(n, 1), np.nan)


def generate_demo(out_dir: str | Path, cfg: Mapping[str, Any]) -> None:
    """Simulate the series and write every file of :func:`demo_plan` (atomically, deterministic in ``seed``)."""
    c = _settings(cfg)
    out_dir = Path(out_dir)
    width = c["neo_width"]
    for day, neo in neo_fields(c["first_year"], c["years"], c["seed"], width, skip=c["missing_periods"]):
        _write_neo(out_dir / "neo" / _neo_name(day, width), neo)
        _write_mod08(out_dir / "mod08_e3" / _mod08_name(day), block_mean(neo, width // 360), day)
