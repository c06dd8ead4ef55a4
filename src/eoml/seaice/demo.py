"""Synthetic Sentinel-1 EW GRDM (HH/HV) products and SIGRID-3 ice charts for the seaice demo.

The seaice study (Karimzadeh & Pires de Lima, ice/water segmentation of 12 Sentinel-1 EW scenes
over East Greenland with expert ice charts) needs real-format inputs for an offline demo. This
module writes small ``.SAFE`` folders that the real readers (:mod:`eoml.seaice.readers`) ingest
unchanged, plus one GeoJSON ice chart per scene (:mod:`eoml.seaice.charts`).

Product structure (copied from a real S1A IW GRDH product, ESA S1-RS-MDA-52-7441): a minimal
``manifest.safe`` (XFDU: informationPackageMap, metadataSection with acquisitionPeriod/platform/
orbit/frameSet, dataObjectSection with file locations and MD5 checksums); per polarisation
``annotation/s1a-ew-grd-{hh,hv}-<start>-<stop>-<orbit>-<take>-00{1,2}.xml`` (adsHeader,
generalAnnotation/productInformation, imageAnnotation/imageInformation with 40 m pixel spacing,
geolocationGrid of 10 x 21 tie points), ``annotation/calibration/calibration-*.xml``
(sigmaNought/betaNought/gamma/dn vectors), ``annotation/calibration/noise-*.xml`` (IPF >= 2.9
layout: noiseRangeVectorList + per-sub-swath noiseAzimuthVectorList) and
``measurement/*.tiff`` (uint16 DN, deflate, tiled, GCPs in EPSG:4326).

Geometry: a right-looking descending pass (heading -167 deg), lines along track, pixels toward
WNW, so land (Greenland) lies at far range. Lon/lat are an affine function of line/pixel about
the scene centre, so ``rasterio.transform.from_gcps`` is exact. The scene is a *miniature* of an
EW swath: the footprint is ``size`` x 40 m but the incidence angle spans the full EW range
19 -> 47 deg (flat-earth ``tan(theta) = x / H``, H = 693 km) and the five sub-swaths EW1..EW5
split the width in the real proportions.

Radiometry (inverted calibration, Miranda & Meadows 2015; MPC-0392 thermal denoising)::

    A_beta = 237 (constant), A_sigma = A_beta / sqrt(sin theta), A_gamma = A_sigma sqrt(cos theta)
    N      = NESZ(pixel) A_sigma^2 * N_az(line)     (NESZ -25 dB at sub-swath centres, up to
                                                     ~ -21 dB at the seams: scalloped floor)
    DN     = round(sqrt(sigma0 * S1 * A_sigma^2 + N * S2)),  S1, S2 ~ Gamma(ENL, 1/ENL)

so ``read_safe`` (``(DN^2 - N)/A_sigma^2``) returns the speckled sigma0, unbiased in the mean;
weak HV water falls near the noise floor and partly goes negative (NaN), as in real data.

Backscatter model (linear sigma0 from dB; theta in deg):

* Open water, HH: ``-14.0 - 0.55 (theta - 30) + 16 log10(U / 7)`` dB: steep decrease with
  incidence and a wind exponent ~1.6 (C-band GMF behaviour, Hersbach et al. 2007 CMOD5; HH/VV
  ratio, Mouche et al. 2005). HV: ``-29 - 0.1 (theta - 30) + 25 log10(U / 7)`` dB, nearly flat in
  incidence and strongly wind-dependent (Vachon & Wolfe 2011). Wind U: smooth random field about a
  seasonal mean (6 +- 1 m/s winter, 10 +- 1 m/s melt season: wind-roughened water is bright).
* Sea ice, dry (winter/freeze-up): HH ``-10.5 - 0.2 (theta - 30)`` dB, HV ``-20.5 - 0.1 (theta - 30)``
  dB with +-1.5 dB log-normal texture (multi-year/deformed ice of the East Greenland Current;
  Onstott 1992, Mahmud et al. 2018 for the incidence dependence). HV separates ice from water
  better than HH (volume scattering vs. surface scattering; Karvonen 2014).
* Melt season (Jun-Aug): wet snow and melt ponds absorb/specularly reflect, lowering ice HH by
  ~5 dB and HV by ~3 dB (Barber et al. 1995; Scharien & Yackel 2005), so ice and (bright) water
  overlap in HH.
* Freeze-up (Sep-Nov): part of the marginal-ice floes is new ice (nilas), dark in HH/HV.
* Land (rock, glacier): HH -7 dB, HV -15 dB with texture.

Truth and charts: the scene is split along range by three piecewise-linear curves into open water,
marginal ice zone (MIZ), pack ice and land (the ice edge moves toward the coast in summer). The
truth label field has sub-chart detail (floes in the MIZ from thresholded smooth noise, leads in
the pack, a few floes in open water); the chart polygons are the zones with SIGRID-3 ``POLY_TYPE``
(W, I, L) and ``CT`` codes, i.e. truth up to chart generalisation (the MIZ is charted as ice).
"""

from __future__ import annotations

import hashlib
import json
import zlib
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from eoml.core.errors import ConfigError
from eoml.core.io import atomic_path
from eoml.core.settings import required_keys
from eoml.seaice.ingest import season_of

__all__ = ["DEMO_SCENES", "demo_plan", "generate_demo", "season_of", "simulate_scene"]

#: the demo's scenes: (scene id, acquisition start); the ids are the defaults of ``seaice.split``
DEMO_SCENES: tuple[tuple[str, str], ...] = (
    ("egr_2019_01", "2019-01-14T08:12:31"),
    ("egr_2019_02", "2019-02-19T08:04:05"),
    ("egr_2019_04", "2019-04-08T08:20:44"),
    ("egr_2019_06", "2019-06-23T07:55:12"),
    ("egr_2019_07", "2019-07-17T08:12:28"),
    ("egr_2019_08", "2019-08-10T08:04:02"),
    ("egr_2019_10", "2019-10-27T08:20:40"),
    ("egr_2019_12", "2019-12-08T07:55:09"),
)
#: the keys of the ``seaice.demo`` config section (the schema gives their defaults and meanings)
DEMO_KEYS = ("size", "seed")

PIXEL_SPACING = 40.0  # m, EW GRDM
LINE_INTERVAL = 5.9e-3  # s, azimuth time interval (~40 m / 6.8 km/s ground speed)
ENL = 4.4  # equivalent number of looks of the simulated speckle
A_BETA = 237.0
HEADING = -167.0  # deg, descending pass
ALTITUDE = 693e3  # m
INC_NEAR, INC_FAR = 19.0, 47.0
SUBSWATH_EDGES = (0.0, 0.213, 0.41, 0.605, 0.80, 1.0)  # EW1..EW5 fractions of the image width
NESZ_CENTRE_DB, NESZ_EDGE_DB = -25.0, -21.0
GEO_LINES, GEO_PIXELS = 10, 21
_REF_ORBIT = (datetime(2021, 1, 19, 3, 16, 53), 36201)  # S1A: 175 orbits per 12-day cycle


# ------------------------------------------------------------------------------------------------
# plan
# ------------------------------------------------------------------------------------------------
def _cfg(cfg: Mapping[str, Any], scenes: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """The validated ``seaice.demo`` section (every key of :data:`DEMO_KEYS`) with the scene list."""
    out = {**required_keys(cfg, DEMO_KEYS, "seaice.demo", only=True), "scenes": list(scenes)}
    if not isinstance(out["size"], int) or out["size"] < 64:
        raise ConfigError(f"seaice.demo: size must be an int >= 64, got {out['size']!r}")
    if not out["scenes"]:
        raise ConfigError("seaice demo: scenes is empty")
    return out


def _scene_seed(seed: int, scene_id: str) -> int:
    return (int(seed) * 1_000_003 + zlib.crc32(scene_id.encode())) % (2**32)


def demo_plan(out_dir: str | Path, cfg: Mapping[str, Any],
              scenes: Sequence[tuple[str, str]] = DEMO_SCENES) -> list[dict[str, Any]]:
    """Names and paths of the demo products, without writing anything.

    Each entry: ``scene_id``, ``time`` (ISO start), ``season``, ``safe`` (``.SAFE`` folder, real S1
    naming ``S1A_EW_GRDM_1SDH_<start>_<stop>_<orbit>_<datatake>_<crc>``), ``chart`` (GeoJSON),
    plus the generator's internals ``start``/``stop`` (datetime), ``orbit``, ``datatake``, ``size``
    and the per-scene ``seed``. Raises :class:`ConfigError` for unknown keys, a bad size or time.
    """
    c = _cfg(cfg, scenes)
    out_dir = Path(out_dir)
    plan = []
    seen = set()
    for scene_id, iso in c["scenes"]:
        if scene_id in seen:
            raise ConfigError(f"seaice demo: duplicate scene id {scene_id!r}")
        seen.add(scene_id)
        try:
            start = datetime.fromisoformat(str(iso))
        except ValueError as exc:
            raise ConfigError(f"seaice demo: scene {scene_id}: bad time {iso!r}") from exc
        stop = start + timedelta(seconds=LINE_INTERVAL * (c["size"] - 1))
        orbit = _REF_ORBIT[1] + int((start - _REF_ORBIT[0]).total_seconds() // (12 * 86400 / 175))
        take = _scene_seed(c["seed"], scene_id) % 0xFFFFFF
        base = (f"S1A_EW_GRDM_1SDH_{start:%Y%m%dT%H%M%S}_{stop:%Y%m%dT%H%M%S}_"
                f"{orbit:06d}_{take:06X}")
        crc = f"{zlib.crc32(base.encode()) & 0xFFFF:04X}"
        plan.append({
            "scene_id": scene_id, "time": start.isoformat(), "season": season_of(start.month),
            "safe": out_dir / f"{base}_{crc}.SAFE", "chart": out_dir / f"{scene_id}_icechart.geojson",
            "start": start, "stop": stop, "orbit": orbit, "datatake": take,
            "size": c["size"], "seed": _scene_seed(c["seed"], scene_id),
        })
    return plan


# ------------------------------------------------------------------------------------------------
# geometry
# ------------------------------------------------------------------------------------------------
def _centre(scene: dict[str, Any]) -> tuple[float, float]:
    rng = np.random.default_rng(scene["seed"] + 1)
    lat = float(rng.uniform(67.0, 73.0))
    lon = -22.0 + 0.9 * (lat - 70.0) + float(rng.uniform(-1.0, 1.0))  # offshore of the coast
    return lat, lon


def _geo(scene: dict[str, Any], line, pixel) -> tuple[np.ndarray, np.ndarray]:
    """Affine line/pixel -> (lon, lat) about the scene centre (heading HEADING, right-looking)."""
    lat0, lon0 = _centre(scene)
    n = scene["size"]
    h = np.deg2rad(HEADING)
    dl = (np.asarray(line, float) - n / 2) * PIXEL_SPACING
    dp = (np.asarray(pixel, float) - n / 2) * PIXEL_SPACING
    east = dl * np.sin(h) + dp * np.sin(h + np.pi / 2)
    north = dl * np.cos(h) + dp * np.cos(h + np.pi / 2)
    lat = lat0 + north / 111_320.0
    lon = lon0 + east / (111_320.0 * np.cos(np.deg2rad(lat0)))
    return lon, lat


def _incidence(pixel, n: int) -> np.ndarray:
    x0, x1 = ALTITUDE * np.tan(np.deg2rad(INC_NEAR)), ALTITUDE * np.tan(np.deg2rad(INC_FAR))
    x = x0 + (x1 - x0) * np.asarray(pixel, float) / (n - 1)
    return np.rad2deg(np.arctan(x / ALTITUDE))


def _subswath_bounds(n: int) -> list[tuple[int, int]]:
    e = [round(f * n) for f in SUBSWATH_EDGES]
    return [(e[k], e[k + 1] - 1) for k in range(5)]


def _nesz_db(pixel: np.ndarray, n: int) -> np.ndarray:
    out = np.full(np.shape(pixel), NESZ_CENTRE_DB)
    for a, b in _subswath_bounds(n):
        m = (pixel >= a) & (pixel <= b)
        t = (pixel[m] - (a + b) / 2) / max((b - a) / 2, 1)
        out[m] = NESZ_CENTRE_DB + (NESZ_EDGE_DB - NESZ_CENTRE_DB) * t**2
    return out


def _azimuth_lut(lines: np.ndarray, k: int, n: int) -> np.ndarray:
    return 1.0 + 0.04 * np.sin(2 * np.pi * (lines / max(n, 1) * (1.5 + 0.3 * k)) + k)


# ------------------------------------------------------------------------------------------------
# truth and sigma0
# ------------------------------------------------------------------------------------------------
_ZONE_WATER, _ZONE_MIZ, _ZONE_PACK, _ZONE_LAND = 0, 1, 2, 3
_CHART = {  # season -> (CT of MIZ, MIZ ice fraction in truth, CT of pack, pack ice fraction)
    "winter": ("57", 0.6, "91", 0.95),
    "freeze-up": ("46", 0.5, "91", 0.93),
    "melt": ("46", 0.5, "81", 0.88),
}
_EDGES = {  # season -> mean range positions (fraction of width) of ice edge, pack edge, coast
    "winter": (0.28, 0.48, 0.86), "freeze-up": (0.40, 0.58, 0.86), "melt": (0.45, 0.63, 0.86)}
_K = 21  # vertices per boundary curve


def _boundaries(scene: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """Knots ``v`` (K,) along azimuth (fraction) and boundary ranges ``u`` (3, K)."""
    rng = np.random.default_rng(scene["seed"] + 2)
    v = np.linspace(-0.02, 1.02, _K)
    out = []
    for k, mean in enumerate(_EDGES[scene["season"]]):
        amp = 0.05 if k < 2 else 0.025
        ph = rng.uniform(0, 2 * np.pi, 2)
        u = mean + amp * np.sin(2 * np.pi * 1.3 * v + ph[0]) + 0.5 * amp * np.sin(2 * np.pi * 3.1 * v + ph[1])
        out.append(u)
    u = np.vstack(out)
    u[1] = np.maximum(u[1], u[0] + 0.05)
    u[2] = np.maximum(u[2], u[1] + 0.05)
    return v, u


def _smooth_noise(rng: np.random.Generator, n: int, sigma: float) -> np.ndarray:
    # scipy is imported here, not at the top: the workflow imports demo_plan at parse time
    from scipy.ndimage import gaussian_filter

    f = gaussian_filter(rng.standard_normal((n, n)), sigma, mode="wrap")
    return (f - f.mean()) / (f.std() + 1e-12)


def _db(x):
    return 10.0 ** (np.asarray(x) / 10.0)


def simulate_scene(scene: dict[str, Any]) -> dict[str, np.ndarray]:
    """Noise-free truth of one planned scene (an entry of :func:`demo_plan`).

    Returns ``zone`` (0 water, 1 MIZ, 2 pack, 3 land), ``label`` (0 water, 1 ice, 255 land),
    ``incidence`` (deg), ``wind`` (m/s), and linear ``sigma0_HH``/``sigma0_HV`` before speckle
    and thermal noise, all (size, size).
    """
    from scipy.stats import norm

    n, season = scene["size"], scene["season"]
    rng = np.random.default_rng(scene["seed"])
    rows = np.arange(n) + 0.5
    cols = np.arange(n) + 0.5
    v = rows / n
    kv, ku = _boundaries(scene)
    b = np.vstack([np.interp(v, kv, ku[k]) for k in range(3)])  # (3, n) boundary u per row
    u = (cols / n)[None, :]
    zone = (u >= b[0][:, None]).astype(np.uint8) + (u >= b[1][:, None]) + (u >= b[2][:, None])
    _, miz_frac, _, pack_frac = _CHART[season]
    floes = _smooth_noise(rng, n, max(n / 60, 1.5))
    leads = _smooth_noise(rng, n, max(n / 100, 1.0))
    bergs = _smooth_noise(rng, n, max(n / 150, 1.0))
    ice = np.zeros((n, n), bool)
    ice |= (zone == _ZONE_MIZ) & (floes > norm.ppf(1 - miz_frac))
    ice |= (zone == _ZONE_PACK) & (leads > norm.ppf(1 - pack_frac))
    ice |= (zone == _ZONE_WATER) & (bergs > norm.ppf(1 - 0.02))
    land = zone == _ZONE_LAND
    label = np.where(land, 255, ice.astype(np.uint8)).astype(np.uint8)

    theta = np.broadcast_to(_incidence(np.arange(n) + 0.5, n)[None, :], (n, n))
    dth = theta - 30.0
    wind_mean = (10.0 if season == "melt" else 6.0) + float(rng.uniform(-1.0, 1.0))
    wind = np.clip(wind_mean + 2.0 * _smooth_noise(rng, n, n / 8), 1.5, 25.0)
    w_hh = -14.0 - 0.55 * dth + 16.0 * np.log10(wind / 7.0)
    w_hv = -29.0 - 0.10 * dth + 25.0 * np.log10(wind / 7.0)
    tex = 1.5 * _smooth_noise(rng, n, 2.0)
    i_hh = -10.5 - 0.20 * dth + tex
    i_hv = -20.5 - 0.10 * dth + tex
    if season == "melt":
        i_hh, i_hv = i_hh - 5.0, i_hv - 3.0
    elif season == "freeze-up":
        nilas = (zone == _ZONE_MIZ) & (_smooth_noise(rng, n, max(n / 40, 1.5)) > 0.3)
        i_hh = np.where(nilas, i_hh - 6.0, i_hh)
        i_hv = np.where(nilas, i_hv - 5.0, i_hv)
    l_hh = -7.0 + 2.0 * tex
    l_hv = -15.0 + 2.0 * tex
    hh = np.where(land, l_hh, np.where(ice, i_hh, w_hh))
    hv = np.where(land, l_hv, np.where(ice, i_hv, w_hv))
    return {"zone": zone, "label": label, "incidence": np.asarray(theta), "wind": wind,
            "sigma0_HH": _db(hh), "sigma0_HV": _db(hv)}


# ------------------------------------------------------------------------------------------------
# XML writers
# ------------------------------------------------------------------------------------------------
def _t(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%S.%f")


def _fmt(a, f: str = "%.6e") -> str:
    return " ".join(f % x for x in np.ravel(a))


def _ints(a) -> str:
    return " ".join(str(int(x)) for x in np.ravel(a))


def _stem(scene: dict[str, Any], pol: str) -> str:
    k = {"hh": 1, "hv": 2}[pol]
    return (f"s1a-ew-grd-{pol}-{scene['start']:%Y%m%dt%H%M%S}-{scene['stop']:%Y%m%dt%H%M%S}-"
            f"{scene['orbit']:06d}-{scene['datatake']:06x}-{k:03d}")


def _header(scene: dict[str, Any], pol: str) -> str:
    return f"""  <adsHeader>
    <missionId>S1A</missionId>
    <productType>GRD</productType>
    <polarisation>{pol.upper()}</polarisation>
    <mode>EW</mode>
    <swath>EW</swath>
    <startTime>{_t(scene['start'])}</startTime>
    <stopTime>{_t(scene['stop'])}</stopTime>
    <absoluteOrbitNumber>{scene['orbit']}</absoluteOrbitNumber>
    <missionDataTakeId>{scene['datatake']}</missionDataTakeId>
    <imageNumber>{ {'hh': '001', 'hv': '002'}[pol]}</imageNumber>
  </adsHeader>
"""


def _line_time(scene: dict[str, Any], line: float) -> datetime:
    return scene["start"] + timedelta(seconds=LINE_INTERVAL * float(line))


def _geo_grid(scene: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    n = scene["size"]
    return (np.unique(np.round(np.linspace(0, n - 1, GEO_LINES)).astype(int)),
            np.unique(np.round(np.linspace(0, n - 1, GEO_PIXELS)).astype(int)))


def _annotation_xml(scene: dict[str, Any], pol: str) -> str:
    n = scene["size"]
    gl, gp = _geo_grid(scene)
    pts = []
    for ln in gl:
        for px in gp:
            lon, lat = _geo(scene, ln, px)
            inc = float(_incidence(px, n))
            srt = 2 * ALTITUDE / np.cos(np.deg2rad(inc)) / 299_792_458.0
            pts.append(f"""      <geolocationGridPoint>
        <azimuthTime>{_t(_line_time(scene, ln))}</azimuthTime>
        <slantRangeTime>{srt:.15e}</slantRangeTime>
        <line>{ln}</line>
        <pixel>{px}</pixel>
        <latitude>{float(lat):.15e}</latitude>
        <longitude>{float(lon):.15e}</longitude>
        <height>{50.0:.15e}</height>
        <incidenceAngle>{inc:.15e}</incidenceAngle>
        <elevationAngle>{np.rad2deg(np.arcsin(np.sin(np.deg2rad(inc)) * 6371e3 / (6371e3 + ALTITUDE))):.15e}</elevationAngle>
      </geolocationGridPoint>
""")
    mid = float(_incidence((n - 1) / 2, n))
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<product>
{_header(scene, pol)}  <generalAnnotation>
    <productInformation>
      <pass>Descending</pass>
      <timelinessCategory>Fast-24h</timelinessCategory>
      <platformHeading>{HEADING:.15e}</platformHeading>
      <projection>Ground Range</projection>
      <rangeSamplingRate>2.502314816000000e+07</rangeSamplingRate>
      <radarFrequency>5.405000454334350e+09</radarFrequency>
      <azimuthSteeringRate>2.390895448000000e+00</azimuthSteeringRate>
    </productInformation>
  </generalAnnotation>
  <imageAnnotation>
    <imageInformation>
      <productFirstLineUtcTime>{_t(scene['start'])}</productFirstLineUtcTime>
      <productLastLineUtcTime>{_t(scene['stop'])}</productLastLineUtcTime>
      <productComposition>Assembled</productComposition>
      <slantRangeTime>{2 * ALTITUDE / np.cos(np.deg2rad(INC_NEAR)) / 299_792_458.0:.15e}</slantRangeTime>
      <pixelValue>Detected</pixelValue>
      <outputPixels>16 bit Unsigned Integer</outputPixels>
      <rangePixelSpacing>{PIXEL_SPACING:.6e}</rangePixelSpacing>
      <azimuthPixelSpacing>{PIXEL_SPACING:.6e}</azimuthPixelSpacing>
      <azimuthTimeInterval>{LINE_INTERVAL:.15e}</azimuthTimeInterval>
      <azimuthFrequency>{1 / LINE_INTERVAL:.15e}</azimuthFrequency>
      <numberOfSamples>{n}</numberOfSamples>
      <numberOfLines>{n}</numberOfLines>
      <incidenceAngleMidSwath>{mid:.15e}</incidenceAngleMidSwath>
    </imageInformation>
    <processingInformation>
      <thermalNoiseCorrectionPerformed>false</thermalNoiseCorrectionPerformed>
      <applicationLutId>EW_Default</applicationLutId>
    </processingInformation>
  </imageAnnotation>
  <geolocationGrid>
    <geolocationGridPointList count="{len(pts)}">
{''.join(pts)}    </geolocationGridPointList>
  </geolocationGrid>
</product>
"""


def _cal_knots(n: int) -> tuple[np.ndarray, np.ndarray]:
    lines = np.unique(np.append(np.arange(0, n, max(n // 10, 1)), n - 1))
    pixels = np.unique(np.append(np.arange(0, n, 40), n - 1))
    return lines, pixels


def _a_sigma(pixels, n: int) -> np.ndarray:
    return A_BETA / np.sqrt(np.sin(np.deg2rad(_incidence(pixels, n))))


def _calibration_xml(scene: dict[str, Any], pol: str) -> str:
    n = scene["size"]
    lines, pixels = _cal_knots(n)
    theta = np.deg2rad(_incidence(pixels, n))
    # the XML carries 6 significant digits; the DN inversion uses the same rounded values
    sig = np.array([float(f"{x:.6e}") for x in _a_sigma(pixels, n)])
    beta = np.full(pixels.size, A_BETA)
    gam = sig * np.sqrt(np.cos(theta))
    vecs = []
    for ln in lines:
        c = pixels.size
        vecs.append(f"""    <calibrationVector>
      <azimuthTime>{_t(_line_time(scene, ln))}</azimuthTime>
      <line>{ln}</line>
      <pixel count="{c}">{_ints(pixels)}</pixel>
      <sigmaNought count="{c}">{_fmt(sig)}</sigmaNought>
      <betaNought count="{c}">{_fmt(beta)}</betaNought>
      <gamma count="{c}">{_fmt(gam)}</gamma>
      <dn count="{c}">{_fmt(beta)}</dn>
    </calibrationVector>
""")
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<calibration>
{_header(scene, pol)}  <calibrationInformation>
    <absoluteCalibrationConstant>1.000000e+00</absoluteCalibrationConstant>
  </calibrationInformation>
  <calibrationVectorList count="{len(vecs)}">
{''.join(vecs)}  </calibrationVectorList>
</calibration>
"""


def _noise_knots(n: int) -> np.ndarray:
    seams = [b for _, b in _subswath_bounds(n)[:-1]]
    step = int(np.clip(n // 40, 4, 40))  # >= ~8 knots per sub-swath so the scallop is resolved
    return np.unique(np.concatenate([np.arange(0, n, step), [n - 1], seams, np.add(seams, 1)]))


def _noise_range_values(pixels: np.ndarray, n: int) -> np.ndarray:
    v = _db(_nesz_db(pixels.astype(float), n)) * _a_sigma(pixels, n) ** 2
    return np.array([float(f"{x:.6e}") for x in v])


def _az_lines(n: int) -> np.ndarray:
    return np.unique(np.append(np.arange(0, n, 10), n - 1))


def _noise_xml(scene: dict[str, Any], pol: str) -> str:
    n = scene["size"]
    lines, _ = _cal_knots(n)
    pixels = _noise_knots(n)
    vals = _noise_range_values(pixels, n)
    rvec = [f"""    <noiseRangeVector>
      <azimuthTime>{_t(_line_time(scene, ln))}</azimuthTime>
      <line>{ln}</line>
      <pixel count="{pixels.size}">{_ints(pixels)}</pixel>
      <noiseRangeLut count="{pixels.size}">{_fmt(vals)}</noiseRangeLut>
    </noiseRangeVector>
""" for ln in lines]
    az = _az_lines(n)
    avec = []
    for k, (a, b) in enumerate(_subswath_bounds(n)):
        lut = np.array([float(f"{x:.6e}") for x in _azimuth_lut(az.astype(float), k, n)])
        avec.append(f"""    <noiseAzimuthVector>
      <swath>EW{k + 1}</swath>
      <firstAzimuthLine>0</firstAzimuthLine>
      <firstRangeSample>{a}</firstRangeSample>
      <lastAzimuthLine>{n - 1}</lastAzimuthLine>
      <lastRangeSample>{b}</lastRangeSample>
      <line count="{az.size}">{_ints(az)}</line>
      <noiseAzimuthLut count="{az.size}">{_fmt(lut)}</noiseAzimuthLut>
    </noiseAzimuthVector>
""")
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<noise>
{_header(scene, pol)}  <noiseRangeVectorList count="{len(rvec)}">
{''.join(rvec)}  </noiseRangeVectorList>
  <noiseAzimuthVectorList count="{len(avec)}">
{''.join(avec)}  </noiseAzimuthVectorList>
</noise>
"""


def _manifest(scene: dict[str, Any], files: dict[str, bytes]) -> str:
    n = scene["size"]
    corners = [_geo(scene, r, c) for r, c in ((0, 0), (0, n - 1), (n - 1, n - 1), (n - 1, 0))]
    foot = " ".join(f"{float(la):.6f},{float(lo):.6f}" for lo, la in corners)
    objs, ptrs = [], []
    for rel, data in files.items():
        name = Path(rel).stem.replace("-", "")
        if rel.startswith("annotation/calibration/"):
            kind = "noise" if "/noise-" in rel else "calibration"
            oid, rep, mime = f"{kind}{name.split(kind, 1)[1]}", f"s1Level1{kind.capitalize()}Schema", "text/xml"
        elif rel.startswith("annotation/"):
            oid, rep, mime = f"product{name}", "s1Level1ProductSchema", "text/xml"
        else:
            oid, rep, mime = name, "s1Level1MeasurementSchema", "application/octet-stream"
        ptrs.append(f"""      <xfdu:contentUnit unitType="{'Measurement Data Unit' if mime != 'text/xml' else 'Metadata Unit'}" repID="{rep}">
        <dataObjectPointer dataObjectID="{oid}"/>
      </xfdu:contentUnit>
""")
        objs.append(f"""    <dataObject ID="{oid}" repID="{rep}">
      <byteStream mimeType="{mime}" size="{len(data)}">
        <fileLocation locatorType="URL" href="./{rel}"/>
        <checksum checksumName="MD5">{hashlib.md5(data).hexdigest()}</checksum>
      </byteStream>
    </dataObject>
""")
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<xfdu:XFDU xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:gml="http://www.opengis.net/gml" xmlns:xfdu="urn:ccsds:schema:xfdu:1" xmlns:safe="http://www.esa.int/safe/sentinel-1.0" xmlns:s1="http://www.esa.int/safe/sentinel-1.0/sentinel-1" xmlns:s1sar="http://www.esa.int/safe/sentinel-1.0/sentinel-1/sar" xmlns:s1sarl1="http://www.esa.int/safe/sentinel-1.0/sentinel-1/sar/level-1" version="esa/safe/sentinel-1.0/sentinel-1/sar/level-1/grd/standard/ewdp">
  <informationPackageMap>
    <xfdu:contentUnit unitType="SAFE Archive Information Package" textInfo="Sentinel-1 EW Level-1 GRD Product" dmdID="acquisitionPeriod platform measurementOrbitReference measurementFrameSet">
{''.join(ptrs)}    </xfdu:contentUnit>
  </informationPackageMap>
  <metadataSection>
    <metadataObject ID="acquisitionPeriod" classification="DESCRIPTION" category="DMD">
      <metadataWrap mimeType="text/xml" vocabularyName="SAFE" textInfo="Acquisition Period">
        <xmlData>
          <safe:acquisitionPeriod>
            <safe:startTime>{_t(scene['start'])}</safe:startTime>
            <safe:stopTime>{_t(scene['stop'])}</safe:stopTime>
          </safe:acquisitionPeriod>
        </xmlData>
      </metadataWrap>
    </metadataObject>
    <metadataObject ID="platform" classification="DESCRIPTION" category="DMD">
      <metadataWrap mimeType="text/xml" vocabularyName="SAFE" textInfo="Platform Description">
        <xmlData>
          <safe:platform>
            <safe:nssdcIdentifier>2014-016A</safe:nssdcIdentifier>
            <safe:familyName>SENTINEL-1</safe:familyName>
            <safe:number>A</safe:number>
            <safe:instrument>
              <safe:familyName abbreviation="SAR">Synthetic Aperture Radar</safe:familyName>
              <safe:extension>
                <s1sarl1:instrumentMode>
                  <s1sarl1:mode>EW</s1sarl1:mode>
                  <s1sarl1:swath>EW</s1sarl1:swath>
                </s1sarl1:instrumentMode>
              </safe:extension>
            </safe:instrument>
          </safe:platform>
        </xmlData>
      </metadataWrap>
    </metadataObject>
    <metadataObject ID="measurementOrbitReference" classification="DESCRIPTION" category="DMD">
      <metadataWrap mimeType="text/xml" vocabularyName="SAFE" textInfo="Orbit Reference">
        <xmlData>
          <safe:orbitReference>
            <safe:orbitNumber type="start">{scene['orbit']}</safe:orbitNumber>
            <safe:orbitNumber type="stop">{scene['orbit']}</safe:orbitNumber>
            <safe:extension>
              <s1:orbitProperties>
                <s1:pass>DESCENDING</s1:pass>
              </s1:orbitProperties>
            </safe:extension>
          </safe:orbitReference>
        </xmlData>
      </metadataWrap>
    </metadataObject>
    <metadataObject ID="measurementFrameSet" classification="DESCRIPTION" category="DMD">
      <metadataWrap mimeType="text/xml" vocabularyName="SAFE" textInfo="Frame Set">
        <xmlData>
          <safe:frameSet>
            <safe:frame>
              <safe:footPrint srsName="http://www.opengis.net/gml/srs/epsg.xml#4326">
                <gml:coordinates>{foot}</gml:coordinates>
              </safe:footPrint>
            </safe:frame>
          </safe:frameSet>
        </xmlData>
      </metadataWrap>
    </metadataObject>
  </metadataSection>
  <dataObjectSection>
{''.join(objs)}  </dataObjectSection>
</xfdu:XFDU>
"""


# ------------------------------------------------------------------------------------------------
# measurement + chart
# ------------------------------------------------------------------------------------------------
def _dn(scene: dict[str, Any], truth: dict[str, np.ndarray], pol: str) -> np.ndarray:
    """Invert the calibration: DN = sqrt(sigma0 S1 A^2 + N S2), speckle S ~ Gamma(ENL, 1/ENL)."""
    from eoml.seaice.readers import (
        azimuth_noise,
        interpolate_lut,
        parse_calibration,
        parse_noise,
    )

    n = scene["size"]
    cal = parse_calibration(_calibration_xml(scene, pol).encode())
    noise = parse_noise(_noise_xml(scene, pol).encode())
    a = interpolate_lut(cal["lines"], cal["pixels"], cal["sigma0"], (n, n))
    nr = interpolate_lut(noise["range"]["lines"], noise["range"]["pixels"], noise["range"]["values"], (n, n))
    na = azimuth_noise(noise["azimuth"], (n, n))
    rng = np.random.default_rng(scene["seed"] + {"hh": 11, "hv": 12}[pol])
    s1 = rng.gamma(ENL, 1.0 / ENL, (n, n))
    s2 = rng.gamma(ENL, 1.0 / ENL, (n, n))
    power = truth[f"sigma0_{pol.upper()}"] * s1 * a**2 + nr * na * s2
    return np.clip(np.rint(np.sqrt(power)), 1, 65535).astype(np.uint16)


def _write_tiff(path: Path, dn: np.ndarray, scene: dict[str, Any]) -> None:
    import warnings

    import rasterio
    from rasterio.control import GroundControlPoint
    from rasterio.crs import CRS
    from rasterio.errors import NotGeoreferencedWarning

    gl, gp = _geo_grid(scene)
    gcps = []
    for ln in gl:
        for px in gp:
            lon, lat = _geo(scene, ln, px)
            gcps.append(GroundControlPoint(row=float(ln), col=float(px), x=float(lon), y=float(lat), z=50.0))
    n = dn.shape[0]
    block = 256 if n >= 256 else 16 * max(n // 16, 1)
    profile = {"driver": "GTiff", "height": n, "width": dn.shape[1], "count": 1, "dtype": "uint16",
               "tiled": True, "blockxsize": block, "blockysize": block, "compress": "deflate"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(path, "w", **profile) as dst:
            dst.gcps = (gcps, CRS.from_epsg(4326))
            dst.write(dn, 1)


def _chart(scene: dict[str, Any]) -> dict[str, Any]:
    """SIGRID-3 GeoJSON: water, MIZ, pack and land polygons from the zone boundary curves."""
    n = scene["size"]
    kv, ku = _boundaries(scene)
    miz_ct, _, pack_ct, _ = _CHART[scene["season"]]
    lo, hi = -0.02, 1.02
    bounds = [np.full(_K, lo), ku[0], ku[1], ku[2], np.full(_K, hi)]
    props = [{"POLY_TYPE": "W", "CT": "01"}, {"POLY_TYPE": "I", "CT": miz_ct},
             {"POLY_TYPE": "I", "CT": pack_ct}, {"POLY_TYPE": "L", "CT": None}]
    feats = []
    for k, p in enumerate(props):
        left, right = bounds[k], bounds[k + 1]
        u = np.concatenate([left, right[::-1], left[:1]])
        v = np.concatenate([kv, kv[::-1], kv[:1]])
        lon, lat = _geo(scene, v * n, u * n)  # (line, pixel) in continuous image coordinates
        ring = [[round(float(x), 7), round(float(y), 7)] for x, y in zip(lon, lat)]
        feats.append({"type": "Feature", "properties": {"POLY_ID": k + 1, **p},
                      "geometry": {"type": "Polygon", "coordinates": [ring]}})
    return {"type": "FeatureCollection", "name": f"{scene['scene_id']} synthetic SIGRID-3 chart",
            "features": feats}


def generate_demo(out_dir: str | Path, cfg: Mapping[str, Any],
                  scenes: Sequence[tuple[str, str]] = DEMO_SCENES) -> list[dict[str, Any]]:
    """Write every planned scene's ``.SAFE`` folder and GeoJSON chart (atomically); returns the plan.

    ``cfg`` is the validated ``seaice.demo`` section (``size``, ``seed``); ``scenes`` the (id, start
    time) of each scene (default: the demo's eight).
    """
    plan = demo_plan(out_dir, cfg, scenes)
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    for scene in plan:
        truth = simulate_scene(scene)
        with atomic_path(scene["safe"]) as tmp:
            files: dict[str, bytes] = {}
            for pol in ("hh", "hv"):
                stem = _stem(scene, pol)
                files[f"annotation/{stem}.xml"] = _annotation_xml(scene, pol).encode()
                files[f"annotation/calibration/calibration-{stem}.xml"] = _calibration_xml(scene, pol).encode()
                files[f"annotation/calibration/noise-{stem}.xml"] = _noise_xml(scene, pol).encode()
            for rel, data in files.items():
                (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
                (tmp / rel).write_bytes(data)
            (tmp / "measurement").mkdir()
            for pol in ("hh", "hv"):
                rel = f"measurement/{_stem(scene, pol)}.tiff"
                _write_tiff(tmp / rel, _dn(scene, truth, pol), scene)
                files[rel] = (tmp / rel).read_bytes()
            (tmp / "manifest.safe").write_text(_manifest(scene, files))
        with atomic_path(scene["chart"]) as tmp:
            tmp.write_text(json.dumps(_chart(scene), indent=1))
    return plan
