"""Generated trade-wind cloud scenes for the clouds demo: GOES-16 ABI L1b files, a Kaggle-layout set and an expert set.

The clouds study reads GOES-16 ABI Level-1b radiance files and crowd-labelled MODIS true-colour
images in the layout of Kaggle's "Understanding Clouds from Satellite Images" (Rasp et al. 2020).
For an offline demo this module writes both, from one generator of cloud fields::

    <out_dir>/goes/OR_ABI-L1b-RadM1-M6C0{1,2,3}_G16_s<YYYYJJJHHMMSSs>_e<...>_c<...>.nc
    <out_dir>/kaggle/train_images/<id>.jpg
    <out_dir>/kaggle/train.csv          Image_Label,EncodedPixels
    <out_dir>/expert/<Class>/<id>.png   one pattern per image (:func:`expert_image`): the
                                        expert-labelled set, at another resolution and size

**Cloud fields.** Each of the four patterns of Stevens et al. (2020) is an organisation envelope
(where clouds may be) times a shared texture (where they are), then thresholded into a cloud
optical depth ``tau``; all patterns share the same building blocks (Gaussian random fields with
power-law spectra, filtered in Fourier space, :func:`spectral_noise`), so they share low-level
statistics and differ in structure:

* **Sugar** — dense small faint cumuli: band-limited noise of 1-6 km cells, 12-25 % cover, tau 1-6.
* **Gravel** — arcs and rings about 20 km across (cold-pool edges): rings of radius 6-13 km on a
  jittered 30-45 km lattice, brighter on one side (the gust front), tau 3-25; clear inside.
* **Fish** — skeletal bands: a meandering spine 30-60 km wide across the whole scene (up to
  ~1000 km long) with ribs 50-150 km long leaving it at 35-70 deg, tau 4-30.
* **Flower** — isotropic stratiform clusters 50-200 km across with clear gaps (spacing 1.5-2
  diameters), lobed edges, tau 6-40, and a few tiny cumuli in the gaps.
* **clear** — no cloud.

A scene is a few pattern regions (rectangles, soft-edged, possibly overlapping) over clear sky or
an unlabelled weaker pattern. Optical depth becomes cloud reflectance by the two-stream
relation ``r = tau / (tau + 13.3)`` (asymmetry parameter 0.85); the cloud is laid over a dark
ocean (water-leaving reflectance 0.015 blue .. 0 near-infrared), maritime aerosol, sun glint
(Cox & Munk 1954, wind 7 +- 2 m/s varying over 40-600 km) and, for GOES, single-scattering
Rayleigh reflectance, with the sun-satellite geometry of each pixel (computed at 1 km).

**GOES-16 ABI L1b** (:func:`goes_scene_fields`, :func:`write_abi_l1b`): a Mesoscale-1 (M1),
mode 6 window of the ABI fixed grid (GOES-East, sub-satellite longitude -75.2 deg, projection
origin -75.0 deg) covering the configured lat/lon box, with 1 km pixels (C01 0.47 um, C03 0.86 um;
28 urad) and 0.5 km pixels for C02 (0.64 um; 14 urad, twice the pixels each way). The scene is
rendered at 0.5 km; C01 and C03 are 2 x 2 means. The reflectance factor is
``rho * cos(solar zenith)`` at the scan time (pyorbital), so a solar-zenith correction
(``/ cos(sza)``) gives back ``rho``; radiance = reflectance factor / kappa0 with
``kappa0 = pi * d^2 / esun`` (``d`` the Earth-Sun distance in AU) as in the real files, and
``Rad`` is stored as the real files store it: unsigned 10-bit (C01, C03) or 12-bit (C02) counts
in an int16 variable with ``_Unsigned = "true"``, the real ``scale_factor`` / ``add_offset`` /
``_FillValue``, ``DQF`` (0 good, 2 out of range where a count saturates). Every variable and
attribute of the real files is written (modelled on the real M1 C01 / C03 files, with mode 6's
five quality flags and the operational esun of 2019 on: C01 2017.1648, C02 1631.3351, C03
957.0699 W m-2 um-1), with the window's own statistics. As in the real M1 files, 1 km pixel
centres lie on whole multiples of 28 urad from the full-disk edge (``x``/``y`` are int16 with
``scale_factor`` +-28e-6 and the first centre as ``add_offset``); C02's ``add_offset`` is a quarter
pixel earlier so all bands share one area extent. The window must fit an M1 sector (1000 x 1000
1 km pixels). Scene ``k`` starts ``goes_start + k * goes_interval_min``; each scene
is an independent draw (a different cloud field), which is what a distant tile "from another
time" needs.

**Kaggle layout** (:func:`kaggle_image`): RGB true colour as NASA Worldview's MODIS corrected
reflectance (Rayleigh removed; bands 0.645 / 0.555 / 0.47 um, Worldview's piecewise-linear
stretch), a synthetic MODIS swath geometry with a glint stripe, optionally a black gap between
swaths (``kaggle_gap_prob``), JPEG. ``train.csv`` lists every image with the four classes in
Kaggle's order; ``EncodedPixels`` is the union of that class's label rectangles in Kaggle's
run-length encoding (pairs ``start length``, 1-indexed starts, column-major pixel order), empty
when the class is absent. Label rectangles are the generated regions, grown or shrunk by up to 5 %
of the image side (crowd labels are rough); they may overlap; parts of an image may hold an
unlabelled pattern.

Configuration (``clouds.demo``, :data:`DEMO_KEYS`): ``seed``; ``n_goes_scenes``, ``goes_domain``
(``lon_min``, ``lon_max``, ``lat_min``, ``lat_max``: the box the M1 window covers; other keys such as
``resolution_deg`` are ignored), ``goes_start`` (ISO time of the first scan) and
``goes_interval_min``; ``n_kaggle_images``, ``kaggle_shape`` ([height, width] px),
``kaggle_km_per_px`` (pattern scales are in km) and ``kaggle_gap_prob``. A count of 0 writes no
tree of that kind.

Every scene and image draws from its own random stream, seeded by ``(seed, kind, index)``, so the
bytes written are identical for a given configuration, and an image does not depend on how many
others are generated. Both trees are written to temporary folders renamed into place when
complete (:func:`eoml.core.io.atomic_path`).
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from eoml.clouds.labels import CLASSES, rle_encode
from eoml.core.errors import ConfigError
from eoml.core.io import atomic_path
from eoml.core.settings import required_keys

__all__ = [
    "DEMO_KEYS",
    "FIELDS",
    "PATTERNS",
    "abi_file_name",
    "demo_files",
    "expert_image",
    "expert_image_id",
    "generate_demo",
    "goes_scene_fields",
    "goes_window",
    "kaggle_ids",
    "kaggle_image",
    "render_pattern",
    "spectral_noise",
    "write_abi_l1b",
]

#: the keys of the ``clouds.demo`` config section (the schema gives their defaults and meanings)
DEMO_KEYS = ("seed", "n_goes_scenes", "goes_domain", "goes_start", "goes_interval_min",
             "n_kaggle_images", "kaggle_shape", "kaggle_km_per_px", "kaggle_gap_prob", "n_expert_images",
             "expert_shape", "expert_km_per_px")
#: the labelled patterns, in Kaggle's order
PATTERNS = CLASSES
#: every field the generator draws (the patterns and clear sky)
FIELDS = PATTERNS + ("clear",)
#: keys of ``goes_domain`` (a lat/lon box; extra keys such as ``resolution_deg`` are ignored)
DOMAIN_KEYS = ("lon_min", "lon_max", "lat_min", "lat_max")

# --- GOES-16 ABI constants -----------------------------------------------------------------------
#: GOES-R fixed grid (PUG L1b vol. 3 §5.1.2.8): GRS80 ellipsoid, perspective point height (m)
GOES_A, GOES_B, GOES_H = 6378137.0, 6356752.31414, 35786023.0
#: GOES-East: projection origin and nominal sub-satellite longitude (deg)
GOES_LON0, GOES_SUBLON = -75.0, -75.2
#: full-disk edge of the fixed grid (rad) and the 1 km / 0.5 km sampling (rad)
FD_EDGE, DX_1KM, DX_05KM = 0.151872, 2.8e-05, 1.4e-05
#: per band: wavelength (um), esun (W m-2 um-1), Rad scale / offset, bit depth, pixel size (km)
ABI_BANDS = {
    1: {"wavelength": 0.47, "optics": "blue", "esun": 2017.1648, "scale": 0.812106364,
        "offset": -25.93664701, "bits": 10, "res_km": 1.0},
    2: {"wavelength": 0.64, "optics": "red", "esun": 1631.3351, "scale": 0.158592367,
        "offset": -20.28991094, "bits": 12, "res_km": 0.5},
    3: {"wavelength": 0.865, "optics": "nir", "esun": 957.0699, "scale": 0.376912525,
        "offset": -12.03764377, "bits": 10, "res_km": 1.0},
}
#: J2000 epoch of the files' ``t`` variable
J2000 = dt.datetime(2000, 1, 1, 12, 0, 0)
#: the largest Mesoscale window side (1 km pixels)
M1_MAX_PX = 1000
#: M1 mode-6 scan duration and product latency (s), as in the real files' names
SCAN_S, LATENCY_S = 5.8, 4.3

# --- optics per band: Rayleigh optical depth, water-leaving reflectance, aerosol reflectance ----
OPTICS = {"blue": (0.19, 0.015, 0.022), "green": (0.095, 0.006, 0.019),
          "red": (0.052, 0.002, 0.016), "nir": (0.016, 0.0, 0.012)}
#: cloud reflectance spectral factor (clouds are white, slightly brighter in the near-infrared)
CLOUD_SPECTRAL = {"blue": 0.98, "green": 1.0, "red": 1.0, "nir": 1.03}
#: read noise of the reflectance factor (1 sigma)
SENSOR_NOISE = 0.0015
#: NASA Worldview's true-colour stretch (input and output digital numbers)
STRETCH_IN, STRETCH_OUT = (0, 30, 60, 120, 190, 255), (0, 110, 160, 210, 240, 255)

_KIND = {"goes": 1, "kaggle": 2, "expert": 3}


# ------------------------------------------------------------------------------------------------
# configuration
# ------------------------------------------------------------------------------------------------
def _int(c: Mapping[str, Any], key: str, low: int) -> int:
    v = c[key]
    if not isinstance(v, int) or isinstance(v, bool) or v < low:
        raise ConfigError(f"clouds.demo.{key}: must be an integer >= {low}, got {v!r}")
    return v


def _cfg(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """The validated ``clouds.demo`` section; raises :class:`ConfigError` naming the bad key."""
    c = dict(required_keys(cfg, DEMO_KEYS, "clouds.demo", only=True))
    for key, low in (("seed", 0), ("n_goes_scenes", 0), ("n_kaggle_images", 0), ("goes_interval_min", 1),
                     ("n_expert_images", 0)):
        _int(c, key, low)
    dom = required_keys(c["goes_domain"], DOMAIN_KEYS, "clouds.demo.goes_domain")
    try:
        dom = {k: float(dom[k]) for k in DOMAIN_KEYS}
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"clouds.demo.goes_domain: bounds must be numbers, got {c['goes_domain']!r}") from exc
    if not (-180 <= dom["lon_min"] < dom["lon_max"] <= 180 and -90 <= dom["lat_min"] < dom["lat_max"] <= 90):
        raise ConfigError(f"clouds.demo.goes_domain: need lon_min < lon_max and lat_min < lat_max, got {dom}")
    if max(abs(dom["lat_min"]), abs(dom["lat_max"])) > 60 or \
            max(abs(dom["lon_min"] - GOES_LON0), abs(dom["lon_max"] - GOES_LON0)) > 60:
        raise ConfigError(f"clouds.demo.goes_domain: {dom} is not well inside the GOES-East disk "
                          f"(sub-satellite longitude {GOES_SUBLON})")
    c["goes_domain"] = dom
    n_rows, n_cols = goes_window(dom)[2:]
    if max(n_rows, n_cols) > M1_MAX_PX:
        raise ConfigError(f"clouds.demo.goes_domain: {dom} needs a {n_rows} x {n_cols} km window, larger than a "
                          f"Mesoscale sector ({M1_MAX_PX} x {M1_MAX_PX} km): choose a smaller box")
    try:
        start = dt.datetime.fromisoformat(str(c["goes_start"]).replace("Z", ""))
    except ValueError as exc:
        raise ConfigError(f"clouds.demo.goes_start: not an ISO time: {c['goes_start']!r}") from exc
    c["goes_start"] = start.replace(tzinfo=None)
    for kind in ("kaggle", "expert"):
        shape = c[f"{kind}_shape"]
        if not (isinstance(shape, Sequence) and len(shape) == 2
                and all(isinstance(v, int) and not isinstance(v, bool) and v >= 32 for v in shape)):
            raise ConfigError(f"clouds.demo.{kind}_shape: must be [height, width], integers >= 32, got {shape!r}")
        c[f"{kind}_shape"] = (int(shape[0]), int(shape[1]))
        km = c[f"{kind}_km_per_px"]
        if not isinstance(km, (int, float)) or isinstance(km, bool) or not 0.25 <= km <= 50:
            raise ConfigError(f"clouds.demo.{kind}_km_per_px: must be a number in [0.25, 50], got {km!r}")
        c[f"{kind}_km_per_px"] = float(km)
    if not isinstance(c["kaggle_gap_prob"], (int, float)) or not 0 <= c["kaggle_gap_prob"] <= 1:
        raise ConfigError(f"clouds.demo.kaggle_gap_prob: must be a number in [0, 1], got {c['kaggle_gap_prob']!r}")
    return c


def _rng(seed: int, kind: str, index: int) -> np.random.Generator:
    """The random stream of one scene or image: seeded by ``(seed, kind, index)`` only."""
    return np.random.default_rng([seed, _KIND[kind], index])


# ------------------------------------------------------------------------------------------------
# cloud fields
# ------------------------------------------------------------------------------------------------
def spectral_noise(rng: np.random.Generator, shape: tuple[int, int], px_km: float, l_min_km: float,
                   l_max_km: float, beta: float) -> np.ndarray:
    """A Gaussian random field (zero mean, unit std, float64) with power spectrum ``k^-beta``.

    Filtered in Fourier space between the wavelengths ``l_min_km`` and ``l_max_km`` (Gaussian
    roll-offs, cut-off at ``k = 1/l``); periodic. ``beta = 8/3`` is the 2-D spectrum of the -5/3
    cloud liquid-water spectra.
    """
    ny, nx = shape
    ky = np.fft.fftfreq(ny, d=px_km)[:, None]
    kx = np.fft.rfftfreq(nx, d=px_km)[None, :]
    k = np.hypot(ky, kx)
    k[0, 0] = 1.0
    amp = k ** (-beta / 2) * np.exp(-(k * l_min_km) ** 2) * -np.expm1(-(k * l_max_km) ** 2)
    amp[0, 0] = 0.0
    spec = amp * (rng.standard_normal(k.shape) + 1j * rng.standard_normal(k.shape))
    field = np.fft.irfft2(spec, s=shape)
    std = field.std()
    return field / std if std > 0 else field


def _shared_fields(rng, shape, px_km):
    """The random fields every pattern of a scene draws on (so patterns share low-level statistics).

    ``cells``: small cumulus cells (1-6 km, at least 1.2 px); ``texture``: the -5/3 spectrum between
    2 and 80 km; ``smooth``: the same spectrum from 4 km (stratiform tops); ``large``: 50-400 km.
    """
    return {
        "cells": spectral_noise(rng, shape, px_km, max(1.0, 1.2 * px_km), max(6.0, 3.0 * px_km), 2.0),
        "texture": spectral_noise(rng, shape, px_km, max(2.0, 1.2 * px_km), 80.0, 8.0 / 3.0),
        "smooth": spectral_noise(rng, shape, px_km, max(4.0, 1.2 * px_km), 60.0, 8.0 / 3.0),
        "large": spectral_noise(rng, shape, px_km, 50.0, 400.0, 2.0),
    }


def _lattice(rng, shape, spacing_px, keep):
    """Centres on a jittered lattice, one per cell of side ``spacing_px`` (random origin, jitter ±0.3 cell).

    Returns ``(cy, cx, alive, origin)``: centre coordinates (px) per cell, shape (ni, nj), cell (0, 0)
    lying outside the grid's north-west corner; ``alive`` drops cells with probability 1 - keep.
    """
    oy, ox = rng.uniform(0, spacing_px, 2)
    ni = math.ceil((shape[0] + oy) / spacing_px) + 2
    nj = math.ceil((shape[1] + ox) / spacing_px) + 2
    ii, jj = np.meshgrid(np.arange(ni) - 1.0, np.arange(nj) - 1.0, indexing="ij")
    cy = (ii + 0.5 + rng.uniform(-0.3, 0.3, ii.shape)) * spacing_px - oy
    cx = (jj + 0.5 + rng.uniform(-0.3, 0.3, jj.shape)) * spacing_px - ox
    return cy, cx, rng.random(ii.shape) < keep, (oy, ox)


def _nearest_cells(shape, spacing_px, origin):
    """For every pixel, the cell indices (4, ny, nx) of the 2 x 2 block of lattice cells nearest to it.

    With centres jittered by at most 0.3 cell, every centre within 0.7 cell of a pixel is in its block.
    """
    def axis(n, o):
        u = (np.arange(n) + o) / spacing_px
        cell = np.floor(u).astype(int) + 1             # +1: cell 0 lies before the grid
        other = np.where(u - np.floor(u) >= 0.5, cell + 1, cell - 1)
        return cell, other

    (ya, yb), (xa, xb) = axis(shape[0], origin[0]), axis(shape[1], origin[1])
    rows = np.stack([ya, ya, yb, yb])[:, :, None] * np.ones((1, 1, shape[1]), int)
    cols = np.stack([xa, xb, xa, xb])[:, None, :] * np.ones((1, shape[0], 1), int)
    return rows, cols


def _around(shape, rng, spacing_px, keep):
    """Offsets (dy, dx) of each pixel from the centres of its nearest lattice cells, (4, ny, nx) each,
    with ``alive`` and the gathered cell indices (rows, cols) to look up per-centre parameters."""
    cy, cx, alive, origin = _lattice(rng, shape, spacing_px, keep)
    rows, cols = _nearest_cells(shape, spacing_px, origin)
    dy = np.arange(shape[0])[None, :, None] - cy[rows, cols]
    dx = np.arange(shape[1])[None, None, :] - cx[rows, cols]
    return dy, dx, alive[rows, cols], (rows, cols), cy.shape


def _coarse(shape, px_km, target_km):
    """A coarser grid for a smooth envelope: (factor, shape) with pixels of about ``target_km``."""
    f = max(1, int(target_km / px_km))
    return f, (-(-shape[0] // f), -(-shape[1] // f))


def _refine(env, f, shape):
    """Bilinear upsampling of a coarse envelope by ``f``, cut to ``shape``."""
    # scipy is imported here, not at the top: the workflow imports the demo plan at parse time
    from scipy import ndimage

    if f == 1:
        return env
    return ndimage.zoom(env, f, order=1, mode="nearest", grid_mode=True)[:shape[0], :shape[1]]


def _sugar(rng, shape, px_km, shared):
    f = shared["cells"] + 0.25 * shared["texture"] + 0.3 * shared["large"]
    cover = rng.uniform(0.12, 0.25)
    q = np.quantile(f, 1.0 - cover)
    return np.where(f > q, np.clip(1.0 + 4.0 * (f - q), 1.0, 6.0), 0.0)


def _gravel(rng, shape, px_km, shared):
    """Rings of radius 6-13 km (width 20-35 % of it) brighter towards a random side: cold-pool gust fronts."""
    f, coarse = _coarse(shape, px_km, 2.0)
    px = px_km * f
    dy, dx, alive, cell, n_cells = _around(coarse, rng, rng.uniform(30.0, 45.0) / px, 0.85)
    radius_km = rng.uniform(6.0, 13.0, n_cells)
    radius = (radius_km / px)[cell]
    width = np.maximum(radius_km * rng.uniform(0.2, 0.35, n_cells) / px, 0.8)[cell]
    front = rng.uniform(0, 2 * np.pi, n_cells)
    cos_f, sin_f = np.cos(front)[cell], np.sin(front)[cell]
    d = np.hypot(dy, dx)
    side = np.maximum((dx * cos_f + dy * sin_f) / np.maximum(d, 1e-9), 0.0)
    rings = _refine((np.exp(-((d - radius) / width) ** 2) * (0.5 + 0.5 * side) * alive).max(axis=0), f, shape)
    g = rings * (1.0 + 0.5 * shared["texture"] + 0.35 * shared["cells"]) + 0.12 * shared["cells"]
    return np.where(g > 0.45, np.clip(3.0 + 15.0 * (g - 0.45), 3.0, 25.0), 0.0)


def _polyline(rng, start, heading, length_px, step_px, turn_sd):
    """Points of a meandering line: the heading (rad) random-walks by ``turn_sd`` per step."""
    n = max(int(length_px / step_px), 2)
    headings = heading + np.cumsum(rng.normal(0.0, turn_sd, n))
    ys = start[0] + np.concatenate([[0.0], np.cumsum(np.sin(headings[:-1]) * step_px)])
    xs = start[1] + np.concatenate([[0.0], np.cumsum(np.cos(headings[:-1]) * step_px)])
    return ys, xs, headings


def _rasterise(mask, ys, xs):
    iy, ix = np.round(ys).astype(int), np.round(xs).astype(int)
    ok = (iy >= 0) & (iy < mask.shape[0]) & (ix >= 0) & (ix < mask.shape[1])
    mask[iy[ok], ix[ok]] = True


def _fish(rng, shape, px_km, shared):
    """Meandering spines across the scene (one per 250-450 km) with ribs leaving them at 35-70 deg."""
    from scipy import ndimage  # as in _refine

    ny, nx = shape
    spine = np.zeros(shape, bool)
    ribs = np.zeros(shape, bool)
    n_spines = max(1, round(ny * px_km / rng.uniform(250.0, 450.0)))
    for k in range(n_spines):
        heading = np.deg2rad(rng.uniform(-35.0, 35.0))
        y_start = (k + rng.uniform(0.25, 0.75)) * ny / n_spines
        start = (y_start - np.sin(heading) * 0.2 * nx, -0.2 * nx)
        ys, xs, headings = _polyline(rng, start, heading, 1.5 * math.hypot(ny, nx), 1.0,
                                     np.deg2rad(1.0) * px_km ** 0.5)
        _rasterise(spine, ys, xs)
        # ribs every 40-80 km, mostly alternating sides
        pos, side = rng.uniform(0, 60.0) / px_km, rng.choice([-1.0, 1.0])
        while pos < len(ys) - 1:
            i = int(pos)
            angle = headings[i] + side * np.deg2rad(rng.uniform(35.0, 70.0))
            ry, rx, _ = _polyline(rng, (ys[i], xs[i]), angle, rng.uniform(50.0, 150.0) / px_km, 1.0,
                                  np.deg2rad(2.0) * px_km ** 0.5)
            _rasterise(ribs, ry, rx)
            pos += rng.uniform(40.0, 80.0) / px_km
            side = -side if rng.random() < 0.8 else side
    w_spine = rng.uniform(15.0, 30.0) / px_km
    w_rib = max(rng.uniform(5.0, 10.0) / px_km, 1.0)
    d_spine = ndimage.distance_transform_edt(~spine) if spine.any() else np.full(shape, np.inf)
    d_rib = ndimage.distance_transform_edt(~ribs) if ribs.any() else np.full(shape, np.inf)
    env = np.maximum(np.exp(-(d_spine / w_spine) ** 2), 0.8 * np.exp(-(d_rib / w_rib) ** 2))
    f = env * (1.0 + 0.4 * shared["texture"]) + 0.12 * shared["cells"]
    return np.where(f > 0.4, np.clip(4.0 + 20.0 * (f - 0.4), 4.0, 30.0), 0.0)


def _flower(rng, shape, px_km, shared):
    """Lobed stratiform clusters 50-200 km across, 1.5-2 diameters apart, a few tiny cumuli between."""
    d_mean = rng.uniform(60.0, 160.0)
    f, coarse = _coarse(shape, px_km, 8.0)
    px = px_km * f
    dy, dx, alive, cell, n_cells = _around(coarse, rng, d_mean * rng.uniform(1.5, 2.0) / px, 0.85)
    radius = np.clip(d_mean * rng.uniform(0.7, 1.3, n_cells), 50.0, 200.0) / 2 / px
    amp = rng.uniform(0.0, 0.12, (4,) + n_cells)
    phase = rng.uniform(0, 2 * np.pi, (4,) + n_cells)
    edge = max(3.0 / px, 0.7)
    theta = np.arctan2(dy, dx)
    lobes = sum(amp[j][cell] * np.cos((j + 2) * theta + phase[j][cell]) for j in range(4))
    z = (np.hypot(dy, dx) - radius[cell] * (1.0 + lobes)) / edge
    env = _refine((alive / (1.0 + np.exp(np.clip(z, -50, 50)))).max(axis=0), f, shape)
    g = env * (0.8 + 0.3 * shared["smooth"])
    tau = np.where(g > 0.5, np.clip(6.0 + 30.0 * (g - 0.5), 6.0, 40.0), 0.0)
    cells = shared["cells"]
    gaps = (cells > np.quantile(cells, 0.98)) & (env < 0.05)
    return np.where(gaps, 1.5, tau)


_RENDER = {"Sugar": _sugar, "Gravel": _gravel, "Fish": _fish, "Flower": _flower}


def render_pattern(name: str, shape: tuple[int, int], px_km: float, rng: np.random.Generator,
                   shared: Mapping[str, np.ndarray] | None = None) -> np.ndarray:
    """Cloud optical depth (float32, 0 = clear) of one field of ``name`` (:data:`FIELDS`) on a grid of ``px_km``.

    ``shared`` are the scene's common random fields (drawn from ``rng`` when not given).
    """
    if name == "clear":
        return np.zeros(shape, np.float32)
    if name not in _RENDER:
        raise ValueError(f"unknown cloud pattern {name!r} (known: {', '.join(FIELDS)})")
    shape = tuple(shape)
    if shared is None:
        shared = _shared_fields(rng, shape, float(px_km))
    return _RENDER[name](rng, shape, float(px_km), shared).astype(np.float32)


def _draw_regions(rng, shape, n_range, frac_range):
    """Pattern regions: ``[(pattern, y0, y1, x0, x1)]`` rectangles (end exclusive) inside ``shape``."""
    ny, nx = shape
    regions = []
    for _ in range(rng.integers(n_range[0], n_range[1] + 1)):
        h = max(round(ny * rng.uniform(*frac_range)), 8)
        w = max(round(nx * rng.uniform(*frac_range)), 8)
        y0, x0 = int(rng.integers(0, ny - h + 1)), int(rng.integers(0, nx - w + 1))
        regions.append((str(rng.choice(PATTERNS)), y0, y0 + h, x0, x0 + w))
    return regions


def _soft_box(shape, box, feather_px):
    """A rectangle indicator with tanh edges (0.5 on the box's border)."""
    _, y0, y1, x0, x1 = box
    y = np.arange(shape[0])[:, None] + 0.5
    x = np.arange(shape[1])[None, :] + 0.5
    s = 1.0 / max(feather_px, 0.5)
    return (0.25 * (1 + np.tanh((y - y0) * s)) * (1 + np.tanh((y1 - y) * s))
            * 0.25 * (1 + np.tanh((x - x0) * s)) * (1 + np.tanh((x1 - x) * s)))


def _compose(rng, shape, px_km, regions, background):
    """Optical depth of a scene: each region's pattern, soft-edged, over ``background`` elsewhere.

    ``background`` is ``"clear"`` or a pattern drawn at 60 % of its optical depth (unlabelled).
    Where regions overlap their fields are averaged with their weights.
    """
    shared = _shared_fields(rng, shape, px_km)
    tau = np.zeros(shape)
    total = np.zeros(shape)
    for box in regions:
        w = _soft_box(shape, box, max(10.0 / px_km, 0.06 * min(box[2] - box[1], box[4] - box[3])))
        tau += w * render_pattern(box[0], shape, px_km, rng, shared)
        total += w
    over = total > 1.0
    tau[over] /= total[over]
    if background != "clear":
        tau += (1.0 - np.minimum(total, 1.0)) * 0.6 * render_pattern(background, shape, px_km, rng, shared)
    return tau


# ------------------------------------------------------------------------------------------------
# radiative transfer (a few lines of it)
# ------------------------------------------------------------------------------------------------
def _unit(zenith_deg, azimuth_deg):
    z, a = np.deg2rad(zenith_deg), np.deg2rad(azimuth_deg)
    return np.sin(z) * np.sin(a), np.sin(z) * np.cos(a), np.cos(z)


def _reflectances(bands, tau, sza, saz, vza, vaz, wind, aerosol, rayleigh):
    """Top-of-atmosphere reflectances ``rho = pi L / (E0 cos sza)`` {band: float64 array} of ``bands``.

    Cloud: two-stream ``tau / (tau + 13.3)``; surface: water-leaving + Cox-Munk glint
    (Fresnel 0.02, slope variance 0.003 + 0.00512 wind), seen through the cloud and the diffuse
    atmospheric transmission; plus aerosol and (optionally) single-scattering Rayleigh
    reflectance ``tau_R P(Theta) / (4 mu_s mu_v)``. Angles in degrees, azimuths clockwise from north.
    """
    sx, sy, mu_s = _unit(sza, saz)
    vx, vy, mu_v = _unit(vza, vaz)
    mu_s, mu_v = np.maximum(mu_s, 0.1), np.maximum(mu_v, 0.1)
    hx, hy, hz = sx + vx, sy + vy, mu_s + mu_v
    cos2_beta = hz * hz / (hx * hx + hy * hy + hz * hz)
    sigma2 = 0.003 + 0.00512 * wind
    glint = 0.02 * np.exp(-(1.0 - cos2_beta) / cos2_beta / sigma2) / (sigma2 * 4.0 * mu_s * mu_v * cos2_beta ** 2)
    airmass = 0.5 * (1.0 / mu_s + 1.0 / mu_v)
    r_cloud = tau / (tau + 13.3)
    clear_part = (1.0 - r_cloud) ** 2
    phase = 0.75 * (1.0 + (sx * vx + sy * vy + mu_s * mu_v) ** 2) / (4.0 * mu_s * mu_v) if rayleigh else None
    out = {}
    for band in bands:
        tau_r, water, aer = OPTICS[band]
        rho = np.exp(-(tau_r + aer) * airmass) * (CLOUD_SPECTRAL[band] * r_cloud + clear_part * (water + glint))
        rho += aer * aerosol
        if rayleigh:
            rho += tau_r * phase
        out[band] = rho
    return out


def _atmosphere(rng, shape, px_km):
    """Large-scale wind speed (m/s) for the glint and relative aerosol loading."""
    wind = 7.0 + 2.0 * spectral_noise(rng, shape, px_km, 40.0, 600.0, 3.0)
    aerosol = np.exp(0.25 * spectral_noise(rng, shape, px_km, 50.0, 800.0, 3.0))
    return np.clip(wind, 1.0, 15.0), aerosol


# ------------------------------------------------------------------------------------------------
# GOES-16 ABI: fixed grid, geometry, fields
# ------------------------------------------------------------------------------------------------
def _geos_proj():
    from pyproj import Proj

    return Proj(proj="geos", h=GOES_H, a=GOES_A, b=GOES_B, lon_0=GOES_LON0, sweep="x")


def goes_window(domain: Mapping[str, float]) -> tuple[int, int, int, int]:
    """``(row0, col0, n_rows, n_cols)`` of the 1 km fixed-grid window covering a lat/lon box.

    Pixel (row, col) of the 1 km grid is centred at scan angles
    ``(0.151872 - row * 28e-6, -0.151872 + col * 28e-6)`` rad (see :func:`_scan_angles`); the box's boundary is projected with the GOES-East ``geos`` projection.
    """
    t = np.linspace(0.0, 1.0, 64)
    lon = np.concatenate([domain["lon_min"] + t * (domain["lon_max"] - domain["lon_min"]),
                          np.full(64, domain["lon_max"]),
                          domain["lon_max"] - t * (domain["lon_max"] - domain["lon_min"]),
                          np.full(64, domain["lon_min"])])
    lat = np.concatenate([np.full(64, domain["lat_min"]),
                          domain["lat_min"] + t * (domain["lat_max"] - domain["lat_min"]),
                          np.full(64, domain["lat_max"]),
                          domain["lat_max"] - t * (domain["lat_max"] - domain["lat_min"])])
    xm, ym = _geos_proj()(lon, lat)
    xs, ys = np.asarray(xm) / GOES_H, np.asarray(ym) / GOES_H
    if not (np.isfinite(xs).all() and np.isfinite(ys).all()):
        raise ConfigError(f"clouds.demo.goes_domain: {dict(domain)} is not inside the GOES-East disk")
    col0 = math.floor((xs.min() + FD_EDGE) / DX_1KM)
    col1 = math.ceil((xs.max() + FD_EDGE) / DX_1KM)
    row0 = math.floor((FD_EDGE - ys.max()) / DX_1KM)
    row1 = math.ceil((FD_EDGE - ys.min()) / DX_1KM)
    return row0, col0, row1 - row0 + 1, col1 - col0 + 1


def _scan_angles(row0, col0, n_rows, n_cols, factor):
    """Pixel-centre scan angles (x east, y north; rad) of the window at 1 / ``factor`` km.

    As in the real M1 files, the 1 km pixel centres lie on whole multiples of 28 urad from the
    full-disk edge (x of the first column = -0.151872 + col0 * 28 urad); the 0.5 km pixels
    split each 1 km pixel in four, so the bands share one area extent.
    """
    dx = DX_1KM / factor
    west, north = -FD_EDGE + (col0 - 0.5) * DX_1KM, FD_EDGE - (row0 - 0.5) * DX_1KM
    x = west + (np.arange(n_cols * factor) + 0.5) * dx
    y = north - (np.arange(n_rows * factor) + 0.5) * dx
    return x, y


def _lonlat(x, y):
    xx, yy = np.meshgrid(x * GOES_H, y * GOES_H)
    lon, lat = _geos_proj()(xx, yy, inverse=True)
    return np.asarray(lon, float), np.asarray(lat, float)


def _satellite_view(lon, lat):
    """Satellite zenith and azimuth (deg, clockwise from north) seen from each pixel."""
    e2 = 1.0 - (GOES_B / GOES_A) ** 2
    phi, lam = np.deg2rad(lat), np.deg2rad(lon)
    n = GOES_A / np.sqrt(1.0 - e2 * np.sin(phi) ** 2)
    px, py, pz = n * np.cos(phi) * np.cos(lam), n * np.cos(phi) * np.sin(lam), n * (1.0 - e2) * np.sin(phi)
    sat_lam = np.deg2rad(GOES_SUBLON)
    r_sat = GOES_A + GOES_H
    rx, ry, rz = r_sat * np.cos(sat_lam) - px, r_sat * np.sin(sat_lam) - py, -pz
    east = -np.sin(lam) * rx + np.cos(lam) * ry
    north = -np.sin(phi) * np.cos(lam) * rx - np.sin(phi) * np.sin(lam) * ry + np.cos(phi) * rz
    up = np.cos(phi) * np.cos(lam) * rx + np.cos(phi) * np.sin(lam) * ry + np.sin(phi) * rz
    vza = np.rad2deg(np.arccos(up / np.sqrt(rx * rx + ry * ry + rz * rz)))
    vaz = np.rad2deg(np.arctan2(east, north)) % 360.0
    return vza, vaz


def _pixel_km(lon, lat):
    """Mean ground distance (km) between neighbouring pixels at the window centre."""
    from pyproj import Geod

    geod = Geod(a=GOES_A, b=GOES_B)
    i, j = lon.shape[0] // 2, lon.shape[1] // 2
    _, _, dx = geod.inv(lon[i, j], lat[i, j], lon[i, j + 1], lat[i, j + 1])
    _, _, dy = geod.inv(lon[i, j], lat[i, j], lon[i + 1, j], lat[i + 1, j])
    return float(dx + dy) / 2000.0


def _block_mean(a):
    return a.reshape(a.shape[0] // 2, 2, a.shape[1] // 2, 2).mean(axis=(1, 3))


def _scene_start(c, index) -> dt.datetime:
    return c["goes_start"] + dt.timedelta(minutes=c["goes_interval_min"] * index)


def goes_scene_fields(cfg: Mapping[str, Any], index: int) -> dict[str, Any]:
    """The generated truth of GOES scene ``index`` (what :func:`generate_demo` writes).

    Returns ``start`` (scan start, naive UTC datetime), ``window`` (row0, col0, n_rows, n_cols
    of the 1 km grid), ``x`` / ``y`` (scan angles, rad) and ``cos_sza`` (at the pixel centres,
    scan mid-time; at 0.5 km each 1 km value repeated) per grid (keys ``1`` and ``2``: 1 km, 0.5 km),
    ``reflectance`` {band: reflectance factor kappa0 * Rad before quantisation, float64} for
    bands 1, 2, 3 (C02 at 0.5 km), ``regions`` [(pattern, y0, y1, x0, x1)] on the 0.5 km grid,
    ``background``, ``pixel_km`` (0.5 km grid spacing on the ground at the window centre) and
    ``optical_depth`` (cloud optical depth on the 0.5 km grid, 0 = clear).
    """
    from pyorbital import astronomy

    c = _cfg(cfg)
    rng = _rng(c["seed"], "goes", index)
    start = _scene_start(c, index)
    mid = start + dt.timedelta(seconds=SCAN_S / 2)
    row0, col0, n_rows, n_cols = goes_window(c["goes_domain"])
    x2, y2 = _scan_angles(row0, col0, n_rows, n_cols, 2)
    x1, y1 = _scan_angles(row0, col0, n_rows, n_cols, 1)
    lon1, lat1 = _lonlat(x1, y1)
    px_km = _pixel_km(lon1, lat1) / 2
    shape = (2 * n_rows, 2 * n_cols)
    regions = _draw_regions(rng, shape, (1, 3), (0.4, 0.9))
    background = str(rng.choice(("clear", "clear") + PATTERNS))
    tau = _compose(rng, shape, px_km, regions, background)
    wind, aerosol = _atmosphere(rng, shape, px_km)
    # the sun-satellite geometry at 1 km (smooth over a few km), each value for its four 0.5 km pixels
    mu_1 = astronomy.cos_zen(mid, lon1, lat1)

    def fine(a):
        return np.repeat(np.repeat(a, 2, axis=0), 2, axis=1)

    mu_s = fine(mu_1)
    sza = np.rad2deg(np.arccos(np.clip(mu_s, -1.0, 1.0)))
    saz = fine(astronomy.sun_azimuth_angle(mid, lon1, lat1))
    vza, vaz = (fine(a) for a in _satellite_view(lon1, lat1))
    rhos = _reflectances([ABI_BANDS[b]["optics"] for b in (1, 2, 3)], tau, sza, saz, vza, vaz, wind, aerosol,
                         rayleigh=True)
    refl = {}
    for band in (1, 2, 3):
        factor = rhos[ABI_BANDS[band]["optics"]] * np.maximum(mu_s, 0.0)
        if band != 2:
            factor = _block_mean(factor)
        refl[band] = factor + rng.normal(0.0, SENSOR_NOISE, factor.shape)
    return {"start": start, "window": (row0, col0, n_rows, n_cols), "x": {1: x1, 2: x2}, "y": {1: y1, 2: y2},
            "cos_sza": {1: mu_1, 2: mu_s}, "reflectance": refl,
            "regions": regions, "background": background, "pixel_km": px_km, "optical_depth": tau}


# ------------------------------------------------------------------------------------------------
# Kaggle "Understanding Clouds" layout
# ------------------------------------------------------------------------------------------------
def kaggle_ids(cfg: Mapping[str, Any]) -> list[str]:
    """Image ids (7 hex digits, as Kaggle's) of the ``n_kaggle_images`` images, in generation order."""
    c = _cfg(cfg)
    ids = [hashlib.sha256(f"eoml-clouds-demo:{c['seed']}:{i}".encode()).hexdigest()[:7]
           for i in range(c["n_kaggle_images"])]
    if len(set(ids)) != len(ids):   # 16^7 ids: a clash is a one-in-a-million event, but never silent
        raise ConfigError(f"clouds.demo.seed: {c['seed']} gives two identical image ids; choose another seed")
    return ids


def _stretch(rho):
    """Worldview's true-colour stretch of a reflectance (0-1.1 mapped on 0-255) to uint8."""
    dn = np.clip(rho / 1.1, 0.0, 1.0) * 255.0
    return np.round(np.interp(dn, STRETCH_IN, STRETCH_OUT)).astype(np.uint8)


def kaggle_image(cfg: Mapping[str, Any], index: int) -> dict[str, Any]:
    """The generated image ``index`` of the Kaggle set: ``rgb`` uint8 (h, w, 3), ``regions``,
    ``labels`` [(class, y0, y1, x0, x1)] (end exclusive; what ``train.csv`` encodes),
    ``background``, ``gap`` (bool mask of the swath gap, black)."""
    c = _cfg(cfg)
    rng = _rng(c["seed"], "kaggle", index)
    shape, px_km = c["kaggle_shape"], c["kaggle_km_per_px"]
    ny, nx = shape
    regions = _draw_regions(rng, shape, (1, 4), (0.2, 0.6))
    background = str(rng.choice(("clear",) + PATTERNS))
    tau = _compose(rng, shape, px_km, regions, background)
    wind, aerosol = _atmosphere(rng, shape, px_km)
    # a MODIS swath across the image: view zenith -55..55 deg across track, the sun in the west
    cols = np.linspace(-55.0, 55.0, nx)[None, :] * np.ones((ny, 1))
    vza, vaz = np.abs(cols), np.where(cols >= 0, 90.0, 270.0)
    sza = np.full(shape, rng.uniform(20.0, 40.0)) + np.linspace(-5.0, 5.0, ny)[:, None]
    saz = np.full(shape, rng.uniform(200.0, 260.0))
    rhos = _reflectances(("red", "green", "blue"), tau, sza, saz, vza, vaz, wind, aerosol, rayleigh=False)
    rgb = np.stack([_stretch(rhos[b] + rng.normal(0.0, SENSOR_NOISE, shape)) for b in ("red", "green", "blue")],
                   axis=-1)
    gap = np.zeros(shape, bool)
    if rng.random() < c["kaggle_gap_prob"]:   # the black wedge between two MODIS swaths
        x_top, width, slant = rng.uniform(0.1, 0.9) * nx, rng.uniform(0.04, 0.12) * nx, rng.uniform(-0.3, 0.3)
        y = np.arange(ny)[:, None]
        left = x_top + slant * y
        gap = (np.arange(nx)[None, :] >= left) & (np.arange(nx)[None, :] < left + width * (0.3 + 0.7 * y / ny))
        rgb[gap] = 0
    labels = []
    for name, y0, y1, x0, x1 in regions:
        grow = rng.uniform(-0.05, 0.05, 4) * np.array([ny, ny, nx, nx])
        box = (int(np.clip(round(y0 - grow[0]), 0, ny - 1)), int(np.clip(round(y1 + grow[1]), 1, ny)),
               int(np.clip(round(x0 - grow[2]), 0, nx - 1)), int(np.clip(round(x1 + grow[3]), 1, nx)))
        if box[1] > box[0] and box[3] > box[2]:
            labels.append((name, *box))
    return {"rgb": rgb, "regions": regions, "labels": labels, "background": background, "gap": gap}


def expert_image(cfg: Mapping[str, Any], index: int) -> dict[str, Any]:
    """The generated image ``index`` of the expert-labelled set: one pattern over the whole image
    (the classes in turn: ``index % 4`` of :data:`PATTERNS`), seen at another resolution
    (``expert_km_per_px``) and size (``expert_shape``) than the Kaggle images and without their
    swath gaps — the shift between the crowd-labelled and the expert-labelled data. ``rgb`` uint8
    ``(h, w, 3)``, ``label`` (the pattern), ``id`` (7 hex digits)."""
    c = _cfg(cfg)
    rng = _rng(c["seed"], "expert", index)
    shape, px_km = c["expert_shape"], c["expert_km_per_px"]
    ny, nx = shape
    label = PATTERNS[index % len(PATTERNS)]
    tau = _compose(rng, shape, px_km, [(label, 0, ny, 0, nx)], "clear")
    wind, aerosol = _atmosphere(rng, shape, px_km)
    vza = np.full(shape, rng.uniform(5.0, 35.0))
    vaz = np.full(shape, 90.0)
    sza = np.full(shape, rng.uniform(20.0, 40.0)) + np.linspace(-2.0, 2.0, ny)[:, None]
    saz = np.full(shape, rng.uniform(200.0, 260.0))
    rhos = _reflectances(("red", "green", "blue"), tau, sza, saz, vza, vaz, wind, aerosol, rayleigh=False)
    rgb = np.stack([_stretch(rhos[b] + rng.normal(0.0, SENSOR_NOISE, shape)) for b in ("red", "green", "blue")],
                   axis=-1)
    return {"rgb": rgb, "label": label, "id": expert_image_id(c, index)}


def _expert_paths(c, root: Path) -> list[Path]:
    return [root / PATTERNS[i % len(PATTERNS)] / f"{expert_image_id(c, i)}.png" for i in range(c["n_expert_images"])]


def expert_image_id(cfg: Mapping[str, Any], index: int) -> str:
    """The id (7 hex digits, the file name) of expert image ``index``."""
    c = _cfg(cfg)
    return hashlib.sha256(f"eoml-clouds-demo-expert:{c['seed']}:{index}".encode()).hexdigest()[:7]


def _write_expert(c, root: Path) -> list[Path]:
    """Write ``root/<Class>/<id>.png`` (class folders, a layout :func:`eoml.clouds.labels.read_expert` reads)."""
    from PIL import Image

    paths = []
    for i, path in enumerate(_expert_paths(c, root)):
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(expert_image(c, i)["rgb"]).save(path, format="PNG")
        paths.append(path)
    return paths


def _label_masks(shape, labels):
    masks = {name: np.zeros(shape, bool) for name in PATTERNS}
    for name, y0, y1, x0, x1 in labels:
        masks[name][y0:y1, x0:x1] = True
    return masks


def _write_kaggle(c, root: Path) -> tuple[list[Path], Path, list[dict[str, Any]]]:
    """Write ``root/train_images/<id>.jpg`` and ``root/train.csv``; return images, csv, label records."""
    from PIL import Image

    ids = kaggle_ids(c)
    images, records, rows = [], [], []
    (root / "train_images").mkdir(parents=True, exist_ok=True)
    generated = {image_id: kaggle_image(c, i) for i, image_id in enumerate(ids)}
    for image_id in sorted(ids):
        item = generated[image_id]
        name = f"{image_id}.jpg"
        path = root / "train_images" / name
        Image.fromarray(item["rgb"]).save(path, format="JPEG", quality=90)
        images.append(path)
        masks = _label_masks(c["kaggle_shape"], item["labels"])
        rows.extend((f"{name}_{cls}", rle_encode(masks[cls])) for cls in PATTERNS)
        records.extend({"image": name, "class": cls, "y0": y0, "y1": y1, "x0": x0, "x1": x1}
                       for cls, y0, y1, x0, x1 in item["labels"])
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(("Image_Label", "EncodedPixels"))
    writer.writerows(rows)
    labels_csv = root / "train.csv"
    labels_csv.write_text(buf.getvalue())
    return images, labels_csv, records


# ------------------------------------------------------------------------------------------------
# GOES-16 ABI L1b files
# ------------------------------------------------------------------------------------------------
def _abi_time(t: dt.datetime) -> str:
    """``YYYYJJJHHMMSSs`` (tenths of a second) of ABI file names."""
    return t.strftime("%Y%j%H%M%S") + str(t.microsecond // 100000)


def _iso(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 100000}Z"


def _scan_times(start: dt.datetime, band: int) -> tuple[dt.datetime, dt.datetime, dt.datetime]:
    end = start + dt.timedelta(seconds=SCAN_S)
    return start, end, end + dt.timedelta(seconds=LATENCY_S + 0.1 * (band - 1))


def abi_file_name(band: int, start: dt.datetime) -> str:
    """The real file name of an M1 mode-6 G16 L1b radiance file of ``band`` scanned from ``start``."""
    s, e, c = _scan_times(start, band)
    return f"OR_ABI-L1b-RadM1-M6C{band:02d}_G16_s{_abi_time(s)}_e{_abi_time(e)}_c{_abi_time(c)}.nc"


def _j2000(t: dt.datetime) -> float:
    return (t - J2000).total_seconds()


def _counts(factor, band, kappa0):
    """Rad counts (unsigned, as int16) and DQF of a reflectance factor: out-of-range counts flagged 2."""
    b = ABI_BANDS[band]
    top = 2 ** b["bits"] - 2                   # the largest valid count; 2^bits - 1 is the fill value
    counts = np.round((factor / kappa0 - np.float32(b["offset"])) / np.float32(b["scale"]))
    dqf = np.where((counts < 0) | (counts > top), 2, 0).astype(np.int8)
    return np.clip(counts, 0, top).astype(np.int16), dqf


_GLOBAL_ATTRS = {   # in the real files' order; None: set per file
    "naming_authority": "gov.nesdis.noaa",
    "Conventions": "CF-1.7",
    "Metadata_Conventions": "Unidata Dataset Discovery v1.0",
    "standard_name_vocabulary": "CF Standard Name Table (v25, 05 July 2013)",
    "institution": "DOC/NOAA/NESDIS > U.S. Department of Commerce, National Oceanic and Atmospheric "
                   "Administration, National Environmental Satellite, Data, and Information Services",
    "project": "GOES",
    "production_site": "WCDAS",
    "production_environment": "OE",
    "spatial_resolution": None,
    "orbital_slot": "GOES-East",
    "platform_ID": "G16",
    "instrument_type": "GOES R Series Advanced Baseline Imager",
    "scene_id": "Mesoscale",
    "instrument_ID": "FM1",
    "title": "ABI L1b Radiances",
    "summary": "Single reflective band ABI L1b Radiance Products are digital maps of outgoing radiance "
               "values at the top of the atmosphere for visible and near-IR bands.",
    "keywords": "SPECTRAL/ENGINEERING > VISIBLE WAVELENGTHS > VISIBLE RADIANCE",
    "keywords_vocabulary": "NASA Global Change Master Directory (GCMD) Earth Science Keywords, Version 7.0.0.0.0",
    "iso_series_metadata_id": "a70be540-c38b-11e0-962b-0800200c9a66",
    "license": "Unclassified data.  Access is restricted to approved users only.",
    "processing_level": "National Aeronautics and Space Administration (NASA) L1b",
    "cdm_data_type": "Image",
    "dataset_name": None,
    "production_data_source": "Realtime",
    "timeline_id": "ABI Mode 6",
    "date_created": None,
    "time_coverage_start": None,
    "time_coverage_end": None,
    "id": None,
}


def _var(nc, name, dtype, dims=(), value=None, attrs=None, fill=None, **kw):
    v = nc.createVariable(name, dtype, dims, fill_value=fill, **kw)
    v.set_auto_maskandscale(False)
    for key, val in (attrs or {}).items():
        v.setncattr(key, val)
    if value is not None:
        v[...] = value
    return v


def write_abi_l1b(path: str | Path, band: int, fields: Mapping[str, Any]) -> Path:
    """Write one ABI L1b radiance file of ``band`` (1, 2 or 3) from :func:`goes_scene_fields` output.

    The layout — variables, dtypes, dimensions, chunking, compression, attributes and their
    types — is that of the real M1 files (``ncdump -h`` of
    ``OR_ABI-L1b-RadM1-M3C01_G16_s20171931811268_...nc``), with mode 6's five quality flags;
    values that describe the product (pixel counts, radiance statistics, fractions of each
    quality flag, lat/lon extent, image centre and bounds) are computed from this window.
    """
    import netCDF4

    path = Path(path)
    b = ABI_BANDS[band]
    factor = 2 if band == 2 else 1
    start, end, created = _scan_times(fields["start"], band)
    mid = start + (end - start) / 2
    esd = np.float32(_esd(mid))
    esun = np.float32(b["esun"])
    kappa0 = np.float32(np.pi * float(esd) ** 2 / float(esun))
    counts, dqf = _counts(fields["reflectance"][band], band, kappa0)
    fill = np.int16(2 ** b["bits"] - 1)
    scale, offset = np.float32(b["scale"]), np.float32(b["offset"])
    rad = counts.astype(np.float32) * scale + offset
    good = dqf == 0
    n_good, n_sat = int(good.sum()), int((dqf == 2).sum())
    x, y = fields["x"][factor], fields["y"][factor]
    dx = DX_1KM / factor
    res = f"{dx:.6f}"
    interval = f"interval: {res} rad comment:"
    x_off, y_off = round(float(x[0]), 6), round(float(y[0]), 6)   # whole micro-radians, as satpy expects
    x_counts = np.round((x - x_off) / dx).astype(np.int16)
    y_counts = np.round((y_off - y) / dx).astype(np.int16)
    lon, lat = _lonlat(np.array([x[0], x[-1], x[len(x) // 2]]), np.array([y[0], y[-1], y[len(y) // 2]]))
    coords = "band_id band_wavelength t y x"
    stats_coords = "band_id band_wavelength t y_image x_image"
    rad_range = np.array([offset, np.float32(fill - 1) * scale + offset], np.float32)
    f4_fill = np.float32(-999.0)
    with atomic_path(path) as tmp, netCDF4.Dataset(tmp, "w", format="NETCDF4") as nc:
        for dim, size in (("y", len(y)), ("x", len(x)), ("number_of_time_bounds", 2), ("band", 1),
                          ("number_of_image_bounds", 2), ("num_star_looks", 24)):
            nc.createDimension(dim, size)
        chunk = {"zlib": True, "complevel": 1, "chunksizes": (min(len(y), 250), min(len(x), 250))}
        _var(nc, "Rad", "i2", ("y", "x"), counts, {
            "long_name": "ABI L1b Radiances", "standard_name": "toa_outgoing_radiance_per_unit_wavelength",
            "_Unsigned": "true", "sensor_band_bit_depth": np.int8(b["bits"]),
            "valid_range": np.array([0, fill - 1], np.int16), "scale_factor": scale, "add_offset": offset,
            "units": "W m-2 sr-1 um-1", "resolution": f"y: {res} rad x: {res} rad", "coordinates": coords,
            "grid_mapping": "goes_imager_projection", "cell_methods": "t: point area: point",
            "ancillary_variables": "DQF"}, fill=fill, **chunk)
        share = {k: np.float32((dqf == v).sum() / dqf.size) for k, v in (
            ("good_pixel_qf", 0), ("conditionally_usable_pixel_qf", 1), ("out_of_range_pixel_qf", 2),
            ("no_value_pixel_qf", 3), ("focal_plane_temperature_threshold_exceeded_qf", 4))}
        _var(nc, "DQF", "i1", ("y", "x"), dqf, {
            "long_name": "ABI L1b Radiances data quality flags", "standard_name": "status_flag",
            "_Unsigned": "true", "valid_range": np.array([0, 4], np.int8), "units": "1", "coordinates": coords,
            "grid_mapping": "goes_imager_projection", "cell_methods": "t: point area: point",
            "flag_values": np.arange(5, dtype=np.int8), "flag_meanings": " ".join(share),
            "number_of_qf_values": np.int8(5), **{f"percent_{k}": v for k, v in share.items()}},
            fill=np.int8(-1), **chunk)
        _var(nc, "t", "f8", (), _j2000(mid), {
            "long_name": "J2000 epoch mid-point between the start and end image scan in seconds",
            "standard_name": "time", "units": "seconds since 2000-01-01 12:00:00", "axis": "T",
            "bounds": "time_bounds"})
        for name, vals, off, step, axis in (("y", y_counts, y_off, -dx, "Y"), ("x", x_counts, x_off, dx, "X")):
            _var(nc, name, "i2", (name,), vals, {
                "scale_factor": np.float32(step), "add_offset": np.float32(off), "units": "rad", "axis": axis,
                "long_name": f"GOES fixed grid projection {name}-coordinate",
                "standard_name": f"projection_{name}_coordinate"})
        _var(nc, "time_bounds", "f8", ("number_of_time_bounds",), [_j2000(start), _j2000(end)], {
            "long_name": "Scan start and end times in seconds since epoch (2000-01-01 12:00:00)"})
        _var(nc, "goes_imager_projection", "i4", (), None, {
            "long_name": "GOES-R ABI fixed grid projection", "grid_mapping_name": "geostationary",
            "perspective_point_height": GOES_H, "semi_major_axis": GOES_A, "semi_minor_axis": GOES_B,
            "inverse_flattening": 298.2572221, "latitude_of_projection_origin": 0.0,
            "longitude_of_projection_origin": GOES_LON0, "sweep_angle_axis": "x"})
        # image centre and bounds as the real M1 files give them (centre pixel; centres +- half a pixel)
        for name, centre, bounds in (("y", y[len(y) // 2], (y[0] - dx / 2, y[-1] - dx / 2)),
                                     ("x", x[len(x) // 2], (x[0] + dx / 2, x[-1] + dx / 2))):
            _var(nc, f"{name}_image", "f4", (), np.float32(centre), {
                "long_name": f"GOES-R fixed grid projection {name}-coordinate center of image",
                "standard_name": f"projection_{name}_coordinate", "units": "rad", "axis": name.upper()})
            extent = "north/south" if name == "y" else "west/east"
            _var(nc, f"{name}_image_bounds", "f4", ("number_of_image_bounds",), np.array(bounds, np.float32), {
                "long_name": f"GOES-R fixed grid projection {name}-coordinate {extent} extent of image"})
        for name, val, std, units, long in (
                ("nominal_satellite_subpoint_lat", 0.0, "latitude", "degrees_north",
                 "nominal satellite subpoint latitude (platform latitude)"),
                ("nominal_satellite_subpoint_lon", GOES_SUBLON, "longitude", "degrees_east",
                 "nominal satellite subpoint longitude (platform longitude)"),
                ("nominal_satellite_height", GOES_H / 1000.0, "height_above_reference_ellipsoid", "km",
                 "nominal satellite height above GRS 80 ellipsoid (platform altitude)")):
            _var(nc, name, "f4", (), np.float32(val), {"long_name": long, "standard_name": std, "units": units},
                 fill=f4_fill)
        _var(nc, "geospatial_lat_lon_extent", "f4", (), None, {
            "geospatial_westbound_longitude": np.float32(lon[0, 0]),
            "geospatial_northbound_latitude": np.float32(lat[0, 0]),
            "geospatial_eastbound_longitude": np.float32(lon[1, 1]),
            "geospatial_southbound_latitude": np.float32(lat[1, 1]),
            "geospatial_lat_center": np.float32(lat[2, 2]), "geospatial_lon_center": np.float32(lon[2, 2]),
            "geospatial_lat_nadir": np.float32(0.0), "geospatial_lon_nadir": np.float32(GOES_LON0),
            "geospatial_lat_units": "degrees_north", "geospatial_lon_units": "degrees_east",
            "long_name": "geospatial latitude and longitude references"})
        _var(nc, "yaw_flip_flag", "i1", (), np.int8(0), {
            "long_name": "Flag indicating the spacecraft is operating in yaw flip configuration",
            "_Unsigned": "true", "valid_range": np.array([0, 1], np.int8), "units": "1", "coordinates": "t",
            "flag_values": "0 1", "flag_meanings": "false true"}, fill=np.int8(-1))
        _var(nc, "band_id", "i1", ("band",), [band], {
            "long_name": "ABI band number", "standard_name": "sensor_band_identifier", "units": "1"})
        _var(nc, "band_wavelength", "f4", ("band",), [b["wavelength"]], {
            "long_name": "ABI band central wavelength", "standard_name": "sensor_band_central_radiation_wavelength",
            "units": "um"})
        band_t = {"coordinates": "band_id band_wavelength t", "cell_methods": "t: mean"}
        _var(nc, "esun", "f4", (), esun, {
            "long_name": "bandpass-weighted solar irradiance at the mean Earth-Sun distance",
            "standard_name": "toa_shortwave_irradiance_per_unit_wavelength", "units": "W m-2 um-1", **band_t},
            fill=f4_fill)
        _var(nc, "kappa0", "f4", (), kappa0, {
            "long_name": "Inverse of the incoming top of atmosphere radiance at current earth-sun distance "
                         "(PI d2 esun-1)-1, where d is the ratio of instantaneous Earth-Sun distance divided "
                         "by the mean Earth-Sun distance, esun is the bandpass-weighted solar irradiance and "
                         "PI is a standard constant used to convert ABI L1b radiance to reflectance",
            "units": "(W m-2 um-1)-1", **band_t}, fill=f4_fill)
        for name, unit, long in (
                ("planck_fk1", "W m-1", ("wavenumber-dependent coefficient (2 h c2/ nu3) used in the ABI emissive "
                 "band monochromatic brightness temperature computation, where nu =central wavenumber and h and "
                 "c are standard constants")),
                ("planck_fk2", "K", ("wavenumber-dependent coefficient (h c nu/b) used in the ABI emissive band "
                 "monochromatic brightness temperature computation, where nu = central wavenumber and h, c, and "
                 "b are standard constants")),
                ("planck_bc1", "K", ("spectral bandpass correction offset for brightness temperature (B(nu) - "
                 "bc_1)/bc_2 where B()=planck_function() and nu=wavenumber")),
                ("planck_bc2", "1", ("spectral bandpass correction scale factor for brightness temperature "
                 "(B(nu) - bc_1)/bc_2 where B()=planck_function() and nu=wavenumber"))):
            _var(nc, name, "f4", (), f4_fill, {"long_name": long, "units": unit,
                                               "coordinates": "band_id band_wavelength"}, fill=f4_fill)
        for name, val, what, comment in (
                ("valid_pixel_count", n_good, "good and conditionally usable",
                 "good and conditionally usable quality pixels only"),
                ("missing_pixel_count", 0, "missing", "missing ABI fixed grid pixels only"),
                ("saturated_pixel_count", n_sat, "saturated",
                 "radiometrically saturated geolocated/not missing pixels only"),
                ("undersaturated_pixel_count", 0, "undersaturated",
                 "radiometrically undersaturated geolocated/not missing pixels only")):
            _var(nc, name, "i4", (), np.int32(val), {
                "long_name": f"number of {what} pixels", "units": "count", "coordinates": stats_coords,
                "grid_mapping": "goes_imager_projection",
                "cell_methods": f"t: sum area: sum ({interval} {comment})"}, fill=np.int32(-1))
        valid = rad[good] if n_good else np.array([f4_fill], np.float32)
        for stat, func, long in (("min", np.min, "minimum radiance value of pixels"),
                                 ("max", np.max, "maximum radiance value of pixels"),
                                 ("mean", np.mean, "mean radiance value of pixels"),
                                 ("std_dev", np.std, "standard deviation of radiance values of pixels")):
            method = {"min": "minimum", "max": "maximum", "mean": "mean", "std_dev": "standard_deviation"}[stat]
            attrs = {"long_name": long, "standard_name": "toa_outgoing_radiance_per_unit_wavelength"}
            if stat != "std_dev":
                attrs["valid_range"] = rad_range
            attrs.update({"units": "W m-2 sr-1 um-1", "coordinates": stats_coords,
                          "grid_mapping": "goes_imager_projection",
                          "cell_methods": f"t: sum area: {method} ({interval} good and conditionally usable "
                                          "quality pixels only)"})
            _var(nc, f"{stat}_radiance_value_of_valid_pixels", "f4", (),
                 np.float32(func(valid.astype(np.float64))), attrs, fill=f4_fill)
        _var(nc, "percent_uncorrectable_L0_errors", "f4", (), np.float32(0.0), {
            "long_name": "percent data lost due to uncorrectable L0 errors",
            "valid_range": np.array([0.0, 1.0], np.float32), "units": "percent",
            "coordinates": "t y_image x_image", "grid_mapping": "goes_imager_projection",
            "cell_methods": "t: sum area: sum (uncorrectable L0 errors only)"}, fill=f4_fill)
        _var(nc, "earth_sun_distance_anomaly_in_AU", "f4", (), esd, {
            "long_name": "earth sun distance anomaly in astronomical units", "units": "ua", "coordinates": "t",
            "cell_methods": "t: mean"}, fill=f4_fill)
        stamp = f"s{_abi_time(start)}_e{_abi_time(end)}"
        _var(nc, "algorithm_dynamic_input_data_container", "i4", (), None, {
            "long_name": "container for filenames of dynamic algorithm input data",
            "input_ABI_L0_data": f"OR_ABI-L0-M1-M6_G16_{stamp}_c*.nc"})
        _var(nc, "processing_parm_version_container", "i4", (), None, {
            "long_name": "container for processing parameter filenames",
            "L1b_processing_parm_version": "ABI-L1b-PARM_G16_v02r00.zip"})
        _var(nc, "algorithm_product_version_container", "i4", (), None, {
            "long_name": "container for algorithm package filename and product version",
            "algorithm_version": "OR_ABI-L1b-ALG-COMMON_v01r00.zip", "product_version": "v01r00"})
        _var(nc, "t_star_look", "f8", ("num_star_looks",), np.full(24, -999.0), {
            "long_name": "J2000 epoch time of star observed in seconds", "standard_name": "time",
            "units": "seconds since 2000-01-01 12:00:00", "axis": "T"})
        _var(nc, "band_wavelength_star_look", "f4", ("num_star_looks",), np.full(24, f4_fill), {
            "long_name": "ABI band central wavelength associated with observed star",
            "standard_name": "sensor_band_central_radiation_wavelength", "units": "um"})
        _var(nc, "star_id", "i2", ("num_star_looks",), np.full(24, -1, np.int16), {
            "long_name": "ABI star catalog identifier associated with observed star", "_Unsigned": "true",
            "coordinates": "band_id band_wavelength_star_look t_star_look"}, fill=np.int16(-1))
        attrs = dict(_GLOBAL_ATTRS)
        attrs.update({"spatial_resolution": f"{b['res_km']:g}km at nadir", "dataset_name": path.name,
                      "date_created": _iso(created), "time_coverage_start": _iso(start),
                      "time_coverage_end": _iso(end), "id": str(_uuid(path.name))})
        nc.setncatts(attrs)
    return path


def _esd(t: dt.datetime) -> float:
    from pyorbital import astronomy

    return float(astronomy.sun_earth_distance_correction(t))


def _uuid(name: str):
    import uuid

    return uuid.uuid5(uuid.NAMESPACE_URL, "eoml-clouds-demo/" + name)


# ------------------------------------------------------------------------------------------------
# the whole demo
# ------------------------------------------------------------------------------------------------
def demo_files(out_dir: str | Path, cfg: Mapping[str, Any]) -> dict[str, Any]:
    """What :func:`generate_demo` writes under ``out_dir``, without writing it (the workflow's
    declared outputs): ``goes`` (L1b files, sorted), ``images_dir``, ``images`` (JPEGs in id order),
    ``labels`` (the csv; None without images), ``expert_root`` and ``expert_images`` (PNGs in class
    folders, sorted)."""
    c = _cfg(cfg)
    out_dir = Path(out_dir)
    goes = sorted(out_dir / "goes" / abi_file_name(band, _scene_start(c, k))
                  for k in range(c["n_goes_scenes"]) for band in (1, 2, 3))
    kaggle = out_dir / "kaggle"
    images = [kaggle / "train_images" / f"{i}.jpg" for i in kaggle_ids(c)]
    return {"goes": goes, "images_dir": kaggle / "train_images", "images": images,
            "labels": kaggle / "train.csv" if images else None,
            "expert_root": out_dir / "expert", "expert_images": sorted(_expert_paths(c, out_dir / "expert"))}


def generate_demo(out_dir: str | Path, cfg: Mapping[str, Any]) -> dict[str, Any]:
    """Write the GOES files under ``out_dir/goes`` and the Kaggle set under ``out_dir/kaggle``; return a summary.

    ``cfg`` is the validated ``clouds.demo`` section (:data:`DEMO_KEYS`). Each tree is written to a
    temporary folder renamed into place when complete (a previous tree there is replaced); a
    count of 0 writes no tree of that kind. The summary (JSON-serialisable) holds ``goes_files``,
    ``goes_scenes`` [{scene, start, files {band: path}, regions, background}], ``kaggle_images``,
    ``kaggle_csv`` and ``kaggle_labels`` [{image, class, y0, y1, x0, x1}] (the rectangles the csv
    encodes, ends exclusive), and ``expert_images`` (the expert set under ``out_dir/expert``: class
    folders of PNGs, one pattern per image).
    """
    c = _cfg(cfg)
    out_dir = Path(out_dir)
    summary: dict[str, Any] = {"goes_files": [], "goes_scenes": [], "kaggle_images": [], "kaggle_csv": None,
                               "kaggle_labels": []}
    if c["n_goes_scenes"]:
        final = out_dir / "goes"
        with atomic_path(final) as tmp:
            tmp.mkdir()
            for k in range(c["n_goes_scenes"]):
                fields = goes_scene_fields(c, k)
                files = {}
                for band in (1, 2, 3):
                    name = abi_file_name(band, fields["start"])
                    write_abi_l1b(tmp / name, band, fields)
                    files[band] = str(final / name)
                summary["goes_files"].extend(files.values())
                summary["goes_scenes"].append({
                    "scene": f"G16_M1_{_abi_time(fields['start'])}", "start": fields["start"].isoformat(),
                    "files": files, "background": fields["background"],
                    "regions": [list(r) for r in fields["regions"]]})
        summary["goes_files"].sort()
    if c["n_kaggle_images"]:
        final = out_dir / "kaggle"
        with atomic_path(final) as tmp:
            tmp.mkdir()
            images, labels_csv, records = _write_kaggle(c, tmp)
        summary["kaggle_images"] = [str(final / p.relative_to(tmp)) for p in images]
        summary["kaggle_csv"] = str(final / labels_csv.relative_to(tmp))
        summary["kaggle_labels"] = records
    summary["expert_images"] = []
    if c["n_expert_images"]:
        final = out_dir / "expert"
        with atomic_path(final) as tmp:
            tmp.mkdir()
            paths = _write_expert(c, tmp)
        summary["expert_images"] = sorted(str(final / p.relative_to(tmp)) for p in paths)
    return summary
