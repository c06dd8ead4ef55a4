"""Synthetic radiation-belt demo data written in the agencies' real raw formats.

:func:`generate_demo` writes, for ``days`` days from ``start``, files in the layout of the
agencies' products (variable names, dtypes, attributes, fill conventions) that the readers in
:mod:`eoml.radbelt.readers` handle, so the demo runs through exactly the same code as real data.
All of them say they are synthetic in their global attributes:

* ``rbsp/rbspa_rel04_ect-mageis-L3_YYYYMMDD_v3.0.0.cdf`` - one RBSP-A ECT MagEIS L3 CDF per day
  (ISTP layout: ``Epoch`` CDF_EPOCH, ``FEDU`` float32 Epoch x FEDU_Alpha x FEDU_Energy with FILLVAL
  -1e31, ``FEDU_Alpha``, per-record ``FEDU_Energy`` in keV, ``FESA``, ``L``, ``L_star``, ``MLT``),
* ``poes/poes_n15_YYYYMMDD_proc.nc`` - one NOAA-15 SEM-2 NCEI "proc" netCDF-4 per day (the real
  files' variable names, dtypes, one dimension per variable, ``long_name``/``units``/
  ``valid_range`` attributes, no ``_FillValue``: -999 missing flux, ``L_IGRF`` -1 invalid),
* ``omni/omni2_YYYY.dat`` - one OMNI2 hourly ASCII file per calendar year touched, every hour of
  the year, all 55 fixed-width words; speed (word 25), density (word 24) and Dst (word 41) are set
  inside the demo period, everything else is the word's fill value.

:func:`demo_files` lists those paths without touching the disk (the Snakefile calls it while
parsing, so this module imports nothing heavy at top level).

Physics of the demo (see also ``docs/radbelt_formats.md``)
----------------------------------------------------------
The state is integrated hourly on an L grid 2.5-7.0 (step 0.05), starting a spin-up period
before ``start`` so the belt is in equilibrium when the files begin.

1. Solar wind speed (hourly, 300-800 km/s): quiet ~340 km/s plus two recurrent high-speed
   streams per 27.27-day solar rotation (12-h rise, ~2.5-day decay) plus random CMEs (sudden
   jump to 600-800 km/s, ~1.25-day decay) and AR(1) noise. Density peaks at each stream
   interface/CME sheath; Dst follows a Burton-type equation driven by the speed excess.
2. Seed electrons (100-300 keV, what POES E2 sees):
   ``S = q(L) S_0(L) + 50 I(t) g(L, t) S_0(L)`` with ``S_0 = 300 exp(-((L - 5.8)/1.2)^2) + 20``,
   where the injection index ``I`` is the speed-excess driver ``D = ((V - 350)/100)^1.5`` delayed
   by 12 h and smoothed with an 18-h time constant. Quiet level: ``q`` falls from 1 outside to
   0.05 inside the plasmasphere (logistic at L = 4.2), so the slot is empty between storms.
   Injection profile ``g``: Gaussian (width 1) outward of its peak at L = 5.8 - 0.35 min(I, 4),
   flat inward of it down to an inner edge (logistic, width 0.2) that moves inward with storm
   strength as in the Baker et al. (2004) plasmapause scaling ``|Dst| = 2.75e4 / L^4``:
   ``L_edge = (2.75e4 / (32 I))^(1/4) - 0.8`` (32 I nT is the Burton steady state of the driver;
   the seed reaches 0.8 inside the plasmapause), and at least 0.6 inside the peak. With the default
   seed the daily deepest L where E2 reaches 1e3 is ~2.6 for Dst <= -170 nT, ~3.1 for -100 to
   -170 nT and > 4 in quiet times.
3. MeV electrons (1 MeV spin-averaged flux, the target):
   ``dJ/dt = A(L) S(L, t - 18 h) - J / tau(L) - lambda_dropout(t, L) J``: the source is the seed
   flux 18 h earlier, so with the integration the MeV flux rises 1-2 days after the injection,
   at low L only after storms whose injections reach it (slot filling);
   efficiency ``A = 0.012 exp(-((L - 4.6)/1.2)^2)`` (outer belt peak ~4-5); lifetime
   ``tau = (tau_o^-3 + (5 d)^-3)^(-1/3)`` with ``tau_o = 1.5 + 25 exp(-(L - 2.5)/0.9)`` days:
   ~5 d at L 2.5-3.5 (hiss-limited), 4.4 d at L = 4, 2.9 d at L = 5, 1.8 d at L = 6.5. Every
   stream/CME arrival causes a 6-h dropout (flux divided by ~30-300) weighted by a logistic in L
   centred at 4.3; a 0.5 floor is added. Several >10x rises within 25 h follow (about 10 per
   160 days at L = 4.5-5.5 with the default seed), and every L 2.8-6.0 varies by >= 0.25 dex
   (standard deviation of 5-h means) in any 25-day window of the default 120-160-day demo.
4. POES channels at the same L and time: ``E2 = 1.5 S``, ``E3 = 0.3 S(t - 6 h) + 0.2 J``
   (both lead the MeV flux by 1-2 days), ``P6 = 2 + 0.3 J`` (>~1 MeV electron contamination:
   tracks the current MeV flux above a floor). Values below L = 2.5 and above L = 7 fall off
   smoothly to floors.
5. Sampling along orbits, with lognormal measurement noise (RBSP 0.03 dex per bin, POES 0.12 dex):
   RBSP-A: Kepler ellipse, period 9.0 h, perigee 1.1 Re, apogee 5.8 Re, dipole
   ``L = r / cos^2(lambda)`` with a magnetic latitude oscillating up to ~22 deg, so L spans
   ~1.1-6.2 and a few apogees reach L >= 6.5 (the GEO bin; ~7 % of 5-h bins). One record per
   5 min; pitch-angle distribution ``sin(alpha)^m``; power-law spectrum in energy, so the readers'
   spin average and log-log interpolation give back ``J`` to within the noise. Like real files,
   5 % of records have fill in the two edge pitch-angle bins and 30 % of days one 20-60 min gap.
   POES NOAA-15: circular 101-min sun-synchronous orbit (inclination 98.6 deg, ~815 km), dipole
   magnetic latitude from a tilted dipole, ``L_IGRF = r / cos^2(lambda_m)`` sweeping 1-20 four
   times per orbit; one record per 8 s (the real files: 2 s; at 16 s ~5 % of the 0.1-wide L bins
   of a 5-h bin would get no sample, which breaks too many 16-bin input windows). ``L_IGRF = -1``
   where L > 20 and in 0.3 % of records; -999 in 0.3 % of each flux channel. Channel values are
   continuous (no zero counts) and stored with 11 mantissa bits (0.05 %) to compress well.
"""

from __future__ import annotations

import datetime as _dt
import math
import os
from pathlib import Path

import numpy as np

__all__ = ["demo_files", "generate_demo"]

# --- file layout -----------------------------------------------------------------------------
RBSP_NAME = "rbspa_rel04_ect-mageis-L3_{date:%Y%m%d}_v3.0.0.cdf"
POES_NAME = "poes_n15_{date:%Y%m%d}_proc.nc"
OMNI_NAME = "omni2_{year:04d}.dat"

# --- simulation grid -------------------------------------------------------------------------
SPINUP_DAYS = 40
L_GRID = np.round(np.arange(2.5, 7.0 + 1e-9, 0.05), 4)

# --- instruments -----------------------------------------------------------------------------
RBSP_CADENCE_S = 300
POES_CADENCE_S = 8
MAGEIS_ALPHA = np.round((np.arange(11) + 0.5) * 180.0 / 11, 2).astype(np.float32)
MAGEIS_ENERGY_KEV = np.array([600.0, 750.0, 900.0, 1080.0, 1300.0, 1600.0])
FILL_ISTP = -1e31
EARTH_RADIUS_KM = 6371.2


def _as_date(value) -> _dt.date:
    if isinstance(value, _dt.datetime):
        return value.date()
    if isinstance(value, _dt.date):
        return value
    return _dt.date.fromisoformat(str(value)[:10])


def _check_days(days) -> int:
    if int(days) != days or int(days) < 1:
        raise ValueError(f"days must be a positive integer, got {days!r}")
    return int(days)


def demo_files(out_dir: str | Path, start, days: int) -> dict[str, list[Path]]:
    """The files :func:`generate_demo` writes, by kind (``rbsp``, ``poes``, ``omni``); no I/O.

    One MagEIS L3 CDF and one POES proc netCDF per day from ``start`` (ISO date or
    ``datetime.date``) for ``days`` days, and one OMNI2 ASCII file per calendar year touched.
    """
    out = Path(out_dir)
    first = _as_date(start)
    dates = [first + _dt.timedelta(days=k) for k in range(_check_days(days))]
    years = sorted({d.year for d in dates})
    return {
        "rbsp": [out / "rbsp" / RBSP_NAME.format(date=d) for d in dates],
        "poes": [out / "poes" / POES_NAME.format(date=d) for d in dates],
        "omni": [out / "omni" / OMNI_NAME.format(year=y) for y in years],
    }


# =============================================================================================
# simulation
# =============================================================================================


class _State:
    """Hourly synthetic state: solar wind, and log10 of the belt populations on ``L_GRID``."""

    def __init__(self, origin: np.datetime64, v, n, dst, log_j, log_e2, log_e3, log_p6):
        self.origin = origin  # datetime64[s] of hour 0
        self.v, self.n, self.dst = v, n, dst
        self.log_j, self.log_e2, self.log_e3, self.log_p6 = log_j, log_e2, log_e3, log_p6

    def hours(self, times: np.ndarray) -> np.ndarray:
        return (times - self.origin).astype("timedelta64[ms]").astype(np.float64) / 3.6e6


def _pulse(t: np.ndarray, t0: float, rise: float, decay: float) -> np.ndarray:
    """0 before ``t0``, linear rise over ``rise`` hours to 1, then exponential decay."""
    dt = t - t0
    out = np.zeros_like(t)
    up = (dt >= 0) & (dt < rise)
    out[up] = dt[up] / rise if rise > 0 else 1.0
    down = dt >= rise
    out[down] = np.exp(-(dt[down] - rise) / decay)
    return out


def _solar_wind(n_hours: int, rng: np.random.Generator):
    """Hourly speed (km/s), density (cm-3), Dst (nT), driver D and the onsets [(hour, strength)]."""
    t = np.arange(n_hours, dtype=np.float64)
    quiet = 340.0
    v = np.full(n_hours, quiet)
    onsets = []
    rotation = 27.27 * 24.0
    for _stream in range(2):
        phase = rng.uniform(0, rotation)
        peak = rng.uniform(560.0, 720.0)
        for m in range(-1, int(n_hours / rotation) + 2):
            t0 = phase + m * rotation + rng.normal(0.0, 18.0)
            amp = (peak - quiet) * rng.uniform(0.8, 1.1)
            v = np.maximum(v, quiet + amp * _pulse(t, t0, 12.0, 60.0))
            if 0 <= t0 < n_hours:
                onsets.append((t0, 0.5 + 0.5 * amp / 400.0))
    n_cme = rng.poisson(n_hours / 24.0 / 22.0)
    for t0 in np.sort(rng.uniform(0, n_hours, n_cme)):
        amp = rng.uniform(280.0, 440.0)
        v = np.maximum(v, quiet + amp * _pulse(t, t0, 1.0, 30.0))
        onsets.append((t0, 1.0 + 0.5 * amp / 440.0))
    noise = np.zeros(n_hours)
    eps = rng.normal(0.0, 10.0, n_hours)
    for k in range(1, n_hours):
        noise[k] = 0.9 * noise[k - 1] + eps[k]
    v = np.clip(v + noise, 300.0, 800.0)

    density = 4.0 * (400.0 / v) ** 1.2
    for t0, strength in onsets:
        density += 18.0 * strength * np.exp(-0.5 * ((t - t0 + 2.0) / 5.0) ** 2)
    density *= np.exp(rng.normal(0.0, 0.08, n_hours))
    density = np.clip(density, 0.5, 80.0)

    drive = (np.maximum(v - 350.0, 0.0) / 100.0) ** 1.5
    dst_star = np.zeros(n_hours)
    for k in range(1, n_hours):
        q = -4.0 * drive[k]
        dst_star[k] = dst_star[k - 1] + q - dst_star[k - 1] / 8.0
    pdyn = 1.67e-6 * density * v**2  # nPa
    dst = dst_star + 7.0 * np.sqrt(pdyn) - 12.0 + rng.normal(0.0, 2.0, n_hours)
    return v, density, np.round(dst), drive, sorted(onsets)


def _simulate(start: _dt.date, days: int, seed: int) -> _State:
    """Integrate the synthetic belt hourly from ``SPINUP_DAYS`` before ``start`` to 1 day after the end."""
    rng = np.random.default_rng([seed, 0])
    n_hours = (SPINUP_DAYS + days + 1) * 24 + 1
    origin = np.datetime64(start.isoformat(), "s") - np.timedelta64(SPINUP_DAYS * 24, "h")
    v, density, dst, drive, onsets = _solar_wind(n_hours, rng)
    L = L_GRID

    # seed (100-300 keV) electrons: driver delayed by 12 h, smoothed with an 18-h time constant
    delayed = np.concatenate([np.zeros(12), drive[:-12]])
    inj = np.zeros(n_hours)
    for k in range(1, n_hours):
        inj[k] = inj[k - 1] + (delayed[k] - inj[k - 1]) / 18.0
    level = 300.0 * np.exp(-(((L - 5.8) / 1.2) ** 2)) + 20.0
    # quiet times: inside the plasmasphere (L < ~4) the seed is scattered away (5 % of ``level``)
    quiet_seed = level * (0.05 + 0.95 / (1.0 + np.exp(-(L - 4.2) / 0.3)))
    centre = 5.8 - 0.35 * np.minimum(inj, 4.0)  # stronger injections peak at lower L
    # inner edge: Baker et al. (2004) plasmapause scaling |Dst| = 2.75e4 / L^4 for the storm's
    # Dst equivalent 32 I nT (the Burton steady state of the smoothed driver), minus 0.8 (the
    # 100-300 keV seed fills the slot inside the plasmapause); capped 0.6 inside the peak
    edge = np.minimum((2.75e4 / np.maximum(32.0 * inj, 1.0)) ** 0.25 - 0.8, centre - 0.6)
    inner = 1.0 / (1.0 + np.exp(-(L[None, :] - edge[:, None]) / 0.2))
    outer = np.exp(-((np.maximum(L[None, :] - centre[:, None], 0.0) / 1.0) ** 2))
    seed_flux = quiet_seed[None, :] + 50.0 * inj[:, None] * inner * outer * level[None, :]

    # MeV electrons
    # lifetime: ~1.5-4 days outside the plasmapause, hiss-limited to ~5 days at L < 4 (slot)
    tau_outer = 1.5 + 25.0 * np.exp(-(L - 2.5) / 0.9)
    tau_h = 24.0 * (tau_outer**-3 + 5.0**-3) ** (-1.0 / 3.0)
    efficiency = 0.012 * np.exp(-(((L - 4.6) / 1.2) ** 2))
    lag = 18
    source = np.concatenate([np.repeat(seed_flux[:1], lag, axis=0), seed_flux[:-lag]]) * efficiency[None, :]
    dropout = np.zeros((n_hours,), dtype=np.float64)
    weight_L = 1.0 / (1.0 + np.exp(-(L - 4.3) / 0.25))
    for t0, strength in onsets:
        k0 = int(math.floor(t0))
        factor = 10.0 ** (1.0 + strength * rng.uniform(0.6, 1.0))
        dropout[max(k0, 0):max(k0 + 6, 0)] += math.log(factor) / 6.0
    j = np.empty((n_hours, L.size))
    j[0] = source[0] * tau_h
    decay = np.exp(-1.0 / tau_h)
    for k in range(1, n_hours):
        j[k] = (j[k - 1] + source[k]) * decay * np.exp(-dropout[k] * weight_L)
    j += 0.5  # background floor (cm-2 s-1 sr-1 keV-1)

    e2 = 1.5 * seed_flux
    seed_6h = np.concatenate([np.repeat(seed_flux[:1], 6, axis=0), seed_flux[:-6]])
    e3 = 0.3 * seed_6h + 0.2 * j
    p6 = 2.0 + 0.3 * j
    return _State(origin, v, density, dst, np.log10(j), np.log10(e2), np.log10(e3), np.log10(p6))


def _sample(log_grid: np.ndarray, hours: np.ndarray, L: np.ndarray, *, inner: float, outer: float,
            floor: float) -> np.ndarray:
    """Bilinear interpolation of a log10 (hour x L_GRID) field at (hours, L), extended outside
    the grid by ``inner``/``outer`` dex per unit L and floored at ``floor`` (linear units)."""
    n_h = log_grid.shape[0]
    h = np.clip(hours, 0.0, n_h - 1.000001)
    k = np.floor(h).astype(np.int64)
    fh = h - k
    Lc = np.clip(L, L_GRID[0], L_GRID[-1])
    x = (Lc - L_GRID[0]) / (L_GRID[1] - L_GRID[0])
    i = np.clip(np.floor(x).astype(np.int64), 0, L_GRID.size - 2)
    fx = x - i
    val = ((1 - fh) * ((1 - fx) * log_grid[k, i] + fx * log_grid[k, i + 1])
           + fh * ((1 - fx) * log_grid[k + 1, i] + fx * log_grid[k + 1, i + 1]))
    val = val - inner * np.clip(L_GRID[0] - L, 0, None) - outer * np.clip(L - L_GRID[-1], 0, None)
    return np.maximum(10.0**val, floor)


# =============================================================================================
# orbits
# =============================================================================================


def _rbsp_orbit(seconds: np.ndarray):
    """RBSP-A-like orbit at ``seconds`` since the demo start: L, magnetic latitude (deg), MLT, r."""
    period = 9.0 * 3600.0
    r_p, r_a = 1.1, 5.8
    a, e = 0.5 * (r_p + r_a), (r_a - r_p) / (r_a + r_p)
    mean_anomaly = 2.0 * np.pi * (seconds / period + 0.13)
    ecc = mean_anomaly + e * np.sin(mean_anomaly)
    for _ in range(8):
        ecc = ecc - (ecc - e * np.sin(ecc) - mean_anomaly) / (1.0 - e * np.cos(ecc))
    r = a * (1.0 - e * np.cos(ecc))
    nu = 2.0 * np.arctan2(np.sqrt(1 + e) * np.sin(ecc / 2), np.sqrt(1 - e) * np.cos(ecc / 2))
    days = seconds / 86400.0
    mlat = 18.0 * np.sin(2 * np.pi * (days + 0.1)) + 4.0 * np.sin(2 * np.pi * days / 13.0)
    L = r / np.cos(np.deg2rad(mlat)) ** 2
    mlt_apogee = (12.0 - 24.0 * days / 400.0) % 24.0
    mlt = (mlt_apogee + (nu - np.pi) * 12.0 / np.pi) % 24.0
    return L, mlat, mlt, r


def _poes_orbit(seconds: np.ndarray):
    """NOAA-15-like orbit: lat, lon (deg E), alt (km), L_IGRF (dipole), MLT (h), direction (0 N/1 S)."""
    period = 101.1 * 60.0
    inc = np.deg2rad(98.6)
    u = 2.0 * np.pi * (seconds / period + 0.37)
    lat = np.rad2deg(np.arcsin(np.sin(inc) * np.sin(u)))
    node = np.deg2rad(200.0 + 360.0 * seconds / (365.25 * 86400.0))
    earth = 2.0 * np.pi * seconds / 86164.1
    lon = np.rad2deg(node + np.arctan2(np.cos(inc) * np.sin(u), np.cos(u)) - earth) % 360.0
    alt = 815.0 + 12.0 * np.sin(u + 0.4)
    # centred dipole with the geomagnetic north pole at 80.7 N, 287.3 E
    plat, plon = np.deg2rad(80.7), np.deg2rad(287.3)
    rlat, rlon = np.deg2rad(lat), np.deg2rad(lon)
    sin_mlat = np.sin(rlat) * np.sin(plat) + np.cos(rlat) * np.cos(plat) * np.cos(rlon - plon)
    cos2 = np.clip(1.0 - sin_mlat**2, 1e-9, None)
    L = (1.0 + alt / EARTH_RADIUS_KM) / cos2
    ut_hours = (seconds / 3600.0) % 24.0
    mlt = (ut_hours + (lon - 287.3 + 180.0) / 15.0 + 12.0) % 24.0
    direction = (np.cos(u) < 0).astype(np.uint8)  # latitude decreasing -> southbound
    return lat, lon, alt, L, mlt, direction


# =============================================================================================
# writers
# =============================================================================================


def _groom(values: np.ndarray, bits: int = 12) -> np.ndarray:
    """float32 copy of ``values`` with the lowest ``bits`` mantissa bits zeroed (relative change
    < 2**(bits - 23), 0.05 % for 12 bits) so zlib compresses noisy fluxes ~35 % better."""
    out = np.ascontiguousarray(values, dtype=np.float32).copy()
    out.view(np.uint32)[...] &= np.uint32(0xFFFFFFFF ^ ((1 << bits) - 1))
    return out


def _epoch_ms(times: np.ndarray) -> np.ndarray:
    """CDF_EPOCH (ms since 0000-01-01) of datetime64 values."""
    unix_ms = times.astype("datetime64[ms]").astype(np.int64).astype(np.float64)
    return unix_ms + 62_167_219_200_000.0


def _write_mageis(path: Path, final_name: str, date: _dt.date, state: _State, rng: np.random.Generator,
                  t0: np.datetime64) -> None:
    from cdflib.cdfwrite import CDF

    offsets = np.arange(0, 86400, RBSP_CADENCE_S).astype("timedelta64[s]")
    times = np.datetime64(date.isoformat(), "s") + offsets
    n = times.size
    seconds = (times - t0).astype(np.float64)
    L, _mlat, mlt, _r = _rbsp_orbit(seconds)
    hours = state.hours(times)
    j = _sample(state.log_j, hours, L, inner=1.5, outer=0.5, floor=0.05)

    # pitch-angle distribution sin(alpha)^m, normalised so the sin-weighted average is 1
    alpha = np.deg2rad(MAGEIS_ALPHA.astype(np.float64))
    m = 0.6 + 0.35 * np.clip(L - 2.0, 0.0, 5.0)
    sin_a = np.sin(alpha)[None, :]
    shape = sin_a ** m[:, None]
    norm = (shape * sin_a).sum(axis=1) / sin_a.sum()
    pad = shape / norm[:, None]
    # energy channels: nominal values, a small day-to-day drift, stored per record
    drift = 1.0 + 0.004 * math.sin(2 * math.pi * date.toordinal() / 27.0)
    energy = np.repeat((MAGEIS_ENERGY_KEV * drift)[None, :], n, axis=0).astype(np.float32)
    gamma = 3.2 + 0.4 * np.tanh(L - 4.5)
    spectrum = (energy.astype(np.float64) / 1000.0) ** (-gamma[:, None])
    fedu = j[:, None, None] * pad[:, :, None] * spectrum[:, None, :]
    fedu *= 10.0 ** rng.normal(0.0, 0.03, fedu.shape)
    fesa = (fedu * sin_a[:, :, None]).sum(axis=1) / sin_a.sum()
    fedu = _groom(fedu)
    # data gaps and masked bins, as in real files
    edge = rng.random(n) < 0.05
    fedu[edge, 0, :] = FILL_ISTP
    fedu[edge, -1, :] = FILL_ISTP
    if rng.random() < 0.3:
        g0 = int(rng.integers(0, n - 12))
        fedu[g0:g0 + int(rng.integers(4, 12))] = FILL_ISTP
        fesa[g0:g0 + 4] = FILL_ISTP
    L_star = L * (1.0 - 0.025 * (L - 1.0))
    L_star = np.where((L > 6.4) | (L < 1.2), FILL_ISTP, L_star)

    date_str = f"{date:%Y%m%d}"
    logical_file_id = final_name.removesuffix(".cdf")
    globals_ = {
        "Project": "RBSP>Radiation Belt Storm Probes",
        "Source_name": "RBSPA>Radiation Belt Storm Probe A",
        "Discipline": "Space Physics>Magnetospheric Science",
        "Data_type": "L3>Level 3",
        "Descriptor": "ECT-MAGEIS>Energetic Particle, Composition, and Thermal Plasma - "
                      "Magnetic Electron Ion Spectrometer",
        "Data_version": "3.0.0",
        "Logical_file_id": logical_file_id,
        "Logical_source": "rbspa_rel04_ect-mageis-L3",
        "Logical_source_description": "MagEIS pitch-angle resolved electron fluxes (SYNTHETIC demo data)",
        "PI_name": "H. Spence",
        "PI_affiliation": "UNH",
        "Mission_group": "RBSP",
        "Instrument_type": "Particles (space)",
        "TEXT": "SYNTHETIC demo data written by eoml.radbelt.demo in the ECT MagEIS L3 layout; "
                "not mission data.",
        "Generated_by": "eoml.radbelt.demo (synthetic)",
        "Generation_date": date_str,
        "Acknowledgement": "Synthetic; layout follows the RBSP ECT MagEIS L3 ISTP CDFs.",
        "Time_resolution": f"{RBSP_CADENCE_S} s",
        "Rules_of_use": "Demo data for software tests only.",
    }

    def num_attrs(catdesc, fieldnam, units, validmin, validmax, fmt, data_type, depend=None,
                  var_type="data", scaletyp="linear", lablaxis=None):
        attrs = {
            "CATDESC": catdesc,
            "FIELDNAM": fieldnam,
            "FILLVAL": [FILL_ISTP, data_type],
            "FORMAT": fmt,
            "LABLAXIS": lablaxis or fieldnam,
            "SCALETYP": scaletyp,
            "UNITS": units,
            "VALIDMIN": [validmin, data_type],
            "VALIDMAX": [validmax, data_type],
            "VAR_TYPE": var_type,
        }
        for k, dep in enumerate(depend or [], start=0):
            attrs[f"DEPEND_{k}"] = dep
        if depend:
            attrs["DISPLAY_TYPE"] = "time_series" if len(depend) == 1 else "spectrogram"
        return attrs

    spec = {"Majority": "row_major", "Encoding": 6, "Checksum": False, "rDim_sizes": []}
    tmp = path.with_name(path.name + ".w.cdf")  # cdflib insists on a .cdf suffix
    if tmp.exists():
        tmp.unlink()
    cdf = CDF(str(tmp), cdf_spec=spec)
    try:
        cdf.write_globalattrs({k: {0: v} for k, v in globals_.items()})

        def var(name, data_type, dims, rec_vary, attrs, data, compress=6):
            cdf.write_var(
                {"Variable": name, "Data_Type": data_type, "Num_Elements": 1, "Rec_Vary": rec_vary,
                 "Dim_Sizes": list(dims), "Compress": compress},
                var_attrs=attrs, var_data=data,
            )

        var("Epoch", CDF.CDF_EPOCH, [], True, {
            "CATDESC": "Default time", "FIELDNAM": "Epoch", "FILLVAL": [FILL_ISTP, "CDF_EPOCH"],
            "LABLAXIS": "Epoch", "UNITS": "ms",
            "VALIDMIN": [_epoch_ms(np.array(["2012-08-30"], "datetime64[ms]"))[0], "CDF_EPOCH"],
            "VALIDMAX": [_epoch_ms(np.array(["2030-01-01"], "datetime64[ms]"))[0], "CDF_EPOCH"],
            "VAR_TYPE": "support_data", "SCALETYP": "linear", "MONOTON": "INCREASE",
        }, _epoch_ms(times), compress=0)
        var("FEDU_Alpha", CDF.CDF_FLOAT, [MAGEIS_ALPHA.size], False, {
            **num_attrs("Pitch angle bin centres", "FEDU_Alpha", "degrees", 0.0, 180.0, "F6.2", "CDF_FLOAT",
                        var_type="support_data"),
        }, MAGEIS_ALPHA, compress=0)
        var("FEDU_Energy", CDF.CDF_FLOAT, [MAGEIS_ENERGY_KEV.size], True, {
            **num_attrs("Electron energy channel centres", "FEDU_Energy", "keV", 0.0, 1e4, "F8.2", "CDF_FLOAT",
                        depend=["Epoch"], var_type="support_data", scaletyp="log", lablaxis="Energy"),
        }, energy)
        fedu_attrs = num_attrs("Electron differential flux vs pitch angle and energy", "FEDU",
                               "counts/(cm^2 s sr keV)", 0.0, 1e12, "E12.4", "CDF_FLOAT",
                               depend=["Epoch", "FEDU_Alpha", "FEDU_Energy"], scaletyp="log", lablaxis="FEDU")
        var("FEDU", CDF.CDF_FLOAT, [MAGEIS_ALPHA.size, MAGEIS_ENERGY_KEV.size], True, fedu_attrs,
            fedu)
        var("FESA", CDF.CDF_DOUBLE, [MAGEIS_ENERGY_KEV.size], True, {
            **num_attrs("Spin-averaged electron differential flux", "FESA", "counts/(cm^2 s sr keV)",
                        0.0, 1e12, "E12.4", "CDF_DOUBLE", depend=["Epoch", "FEDU_Energy"], scaletyp="log"),
        }, fesa.astype(np.float64))
        var("L", CDF.CDF_DOUBLE, [], True, num_attrs(
            "McIlwain L (dipole, synthetic)", "L", "", 0.0, 100.0, "F8.3", "CDF_DOUBLE", depend=["Epoch"],
            var_type="support_data"), L.astype(np.float64))
        var("L_star", CDF.CDF_DOUBLE, [], True, num_attrs(
            "Roederer L* (synthetic)", "L_star", "", 0.0, 100.0, "F8.3", "CDF_DOUBLE", depend=["Epoch"],
            var_type="support_data"), L_star.astype(np.float64))
        var("MLT", CDF.CDF_DOUBLE, [], True, num_attrs(
            "Magnetic local time", "MLT", "hours", 0.0, 24.0, "F6.2", "CDF_DOUBLE", depend=["Epoch"],
            var_type="support_data"), mlt.astype(np.float64))
    finally:
        cdf.close()
    os.replace(tmp, path)


#: POES variables written by the demo: name -> (dtype, long_name, units, valid_range), copied
#: from poes_n15_20191024_proc.nc.
POES_VARIABLES = {
    "time": ("u8", "milliseconds since 1970", "time", [0.0, 0.0]),
    "year": ("u2", "4 digit year", "year", [1950.0, 2050.0]),
    "day": ("u2", "3 digit day of year", "day", [0.0, 366.0]),
    "msec": ("u4", "milliseconds of the day", "millisec", [0.0, 86400000.0]),
    "satID": ("u1", "2 digit number identifying the satellite the data is from", "ID", 0.0),
    "sat_direction": ("u1", "satellite direction 0-North/ 1-South", "", [0.0, 1.0]),
    "alt": ("f4", "altitude of the satellite", "km", [800.0, 1000.0]),
    "lat": ("f4", "latitude of the satellite", "degrees", [-90.0, 90.0]),
    "lon": ("f4", "longitude of the satellite", "degrees", [0.0, 360.0]),
    "mep_pro_tel90_flux_p6": ("f4", "MEPED proton flux ~6174 keV 90 deg telescope", "#/cm2-s-str", 0.0),
    "mep_ele_tel90_flux_e2": ("f4", "MEPED electron flux >130 keV 90 deg telescope", "#/cm2-s-str", 0.0),
    "mep_ele_tel90_flux_e3": ("f4", "MEPED electron flux >287 keV 90 deg telescope", "#/cm2-s-str", 0.0),
    "L_IGRF": ("f4", "L value from IGRF field", "", [0.0, 20.0]),
    "MLT": ("f4", "Magnetic local time (hours)", "hours", [0.0, 25.0]),
}

POES_GLOBAL_ATTRS = {
    "title": "POES/MetOp: Particle Precipitation "
             "(SYNTHETIC demo data generated by eoml.radbelt.demo; not NOAA data)",
    "naming_authority": "gov.noaa.ngdc",
    "time_coverage_duration": "1day",
    "time_coverage_resolution": f"{POES_CADENCE_S}sec",
    "geospatial_lat_min": "-90",
    "geospatial_lat_max": "90",
    "geospatial_lat_unit": "degrees",
    "geospatial_lon_min": "0",
    "geospatial_lon_max": "360",
    "geospatial_lon_units": "degrees East",
    "geospatial_vertical_min": "850",
    "geospatial_vertical_max": "850",
    "geospatial_vertical_units": "km",
    "geospatial_vertical_positive": "up",
    "point_of_contact": "none (synthetic data)",
    "institution": "eoml demo generator (layout of NOAA National Geophysical Data Center files)",
    "creator": "eoml.radbelt.demo",
    "creator_url": "",
    "creator_email": "",
    "publisher_name": "",
    "publisher_url": "",
    "publisher_email": "",
    "description": "POES/MetOp SEM-2 Data (synthetic)",
    "summary": "Synthetic POES SEM-2 MEPED 90-degree telescope fluxes for the eoml radbelt demo.",
    "keywords_vocabulary": "Earth Science > Sun-earth Interactions > "
                           "Ionosphere/Magnetosphere Particles > Electron Flux",
    "comment": "Synthetic data: only the variables the eoml readers use are written.",
    "license": "Public",
    "Project": "POES/MetOp",
    "processing_level": "Level 2, calibrated fluxes",
}


def _write_poes(path: Path, date: _dt.date, state: _State, rng: np.random.Generator,
                t0: np.datetime64) -> None:
    import netCDF4

    times = np.datetime64(date.isoformat(), "ms") + (
        np.arange(0, 86_400_000, POES_CADENCE_S * 1000) + 1088).astype("timedelta64[ms]")
    n = times.size
    seconds = (times - t0).astype("timedelta64[ms]").astype(np.float64) / 1000.0
    lat, lon, alt, L, mlt, direction = _poes_orbit(seconds)
    hours = state.hours(times)

    def noise() -> np.ndarray:
        return 10.0 ** rng.normal(0.0, 0.12, n)

    e2 = _sample(state.log_e2, hours, L, inner=1.0, outer=0.3, floor=30.0) * noise()
    e3 = _sample(state.log_e3, hours, L, inner=1.0, outer=0.3, floor=10.0) * noise()
    p6 = _sample(state.log_p6, hours, L, inner=0.5, outer=0.3, floor=2.0) * noise()
    e2, e3, p6 = (_groom(c) for c in (e2, e3, p6))
    for channel in (e2, e3, p6):
        channel[rng.random(n) < 0.003] = -999.0
    L_igrf = np.where((L > 20.0) | (rng.random(n) < 0.003), -1.0, L)
    unix_ms = times.astype(np.int64)
    doy = date.timetuple().tm_yday
    values = {
        "time": unix_ms.astype(np.uint64),
        "year": np.full(n, date.year, np.uint16),
        "day": np.full(n, doy, np.uint16),
        "msec": (unix_ms % 86_400_000).astype(np.uint32),
        "satID": np.full(n, 4, np.uint8),
        "sat_direction": direction,
        "alt": alt,
        "lat": lat,
        "lon": lon,
        "mep_pro_tel90_flux_p6": p6,
        "mep_ele_tel90_flux_e2": e2,
        "mep_ele_tel90_flux_e3": e3,
        "L_IGRF": np.round(L_igrf, 2),
        "MLT": np.round(mlt, 2),
    }
    with netCDF4.Dataset(str(path), "w", format="NETCDF4") as nc:
        # like the NCEI files: every variable is its own (same-length) dimension
        for name, (dtype, long_name, units, valid_range) in POES_VARIABLES.items():
            nc.createDimension(name, n)
            var = nc.createVariable(name, dtype, (name,), zlib=True, complevel=6, shuffle=True,
                                    fill_value=False)
            var.long_name = long_name
            var.units = units
            var.valid_range = np.asarray(valid_range, dtype=np.float64)
            var.set_auto_maskandscale(False)
            var[:] = np.asarray(values[name]).astype(dtype)
        nc.setncatts(POES_GLOBAL_ATTRS)


# OMNI2 ASCII: per-word (format, fill) following the OMNI2 documentation (omni2.text)
_OMNI2_WORDS = (
    [("I4", None), ("I4", None), ("I3", None), ("I5", 9999)]
    + [("I3", 99), ("I3", 99), ("I4", 999), ("I4", 999)]
    + [("F6.1", 999.9)] * 14
    + [("F9.0", 9999999.0), ("F6.1", 999.9), ("F6.0", 9999.0), ("F6.1", 999.9), ("F6.1", 999.9),
       ("F6.3", 9.999), ("F6.2", 99.99)]
    + [("F9.0", 9999999.0), ("F6.1", 999.9), ("F6.0", 9999.0), ("F6.1", 999.9), ("F6.1", 999.9),
       ("F6.3", 9.999)]
    + [("F7.2", 999.99), ("F7.2", 999.99), ("F6.1", 999.9)]
    + [("I3", 99), ("I4", 999), ("I6", 99999), ("I5", 9999)]
    + [("F10.2", 999999.99)] + [("F9.2", 99999.99)] * 5
    + [("I3", -1), ("I4", 999), ("F6.1", 999.9), ("F6.1", 999.9), ("I6", 99999), ("I6", 99999),
       ("F5.1", 99.9)]
)


def _fortran(fmt: str, value) -> str:
    """Format ``value`` like a Fortran edit descriptor (``I5``, ``F6.1``, ``F9.0`` -> ``  9999.``)."""
    kind, spec = fmt[0], fmt[1:]
    if kind == "I":
        return f"{int(value):{int(spec)}d}"
    width, decimals = (int(x) for x in spec.split("."))
    if decimals == 0:
        return f"{float(value):{width - 1}.0f}."
    return f"{float(value):{width}.{decimals}f}"


def _omni2_fill_segment(first: int, last: int) -> str:
    """Fill text of words ``first``..``last`` (1-based, inclusive)."""
    return "".join(_fortran(f, fill) for f, fill in _OMNI2_WORDS[first - 1:last])


def _bartels(day: _dt.date) -> int:
    """Bartels rotation number (rotation 1 began 1832-02-08; 27-day rotations)."""
    return (day - _dt.date(1832, 2, 8)).days // 27 + 1


def _write_omni2(path: Path, year: int, state: _State, first: _dt.date, days: int) -> None:
    seg_5_23 = _omni2_fill_segment(5, 23)
    seg_26_40 = _omni2_fill_segment(26, 40)
    seg_42_55 = _omni2_fill_segment(42, 55)
    ids_in = _fortran("I3", 51) + _fortran("I3", 51) + _fortran("I4", 60) + _fortran("I4", 60)
    seg_9_23 = _omni2_fill_segment(9, 23)
    period_start = np.datetime64(first.isoformat(), "h")
    period_end = period_start + np.timedelta64(days * 24, "h")
    hour0 = state.hours(np.array([np.datetime64(f"{year:04d}-01-01", "h")]))[0]
    n_hours = (_dt.date(year + 1, 1, 1) - _dt.date(year, 1, 1)).days * 24
    lines = []
    for k in range(n_hours):
        when = np.datetime64(f"{year:04d}-01-01", "h") + np.timedelta64(k, "h")
        day = _dt.date(year, 1, 1) + _dt.timedelta(days=k // 24)
        head = f"{year:4d}{day.timetuple().tm_yday:4d}{k % 24:3d}{_bartels(day):5d}"
        idx = int(round(hour0)) + k
        if period_start <= when < period_end and 0 <= idx < state.v.size:
            density = _fortran("F6.1", round(float(state.n[idx]), 1))
            speed = _fortran("F6.0", round(float(state.v[idx])))
            dst = _fortran("I6", int(state.dst[idx]))
            line = head + ids_in + seg_9_23 + density + speed + seg_26_40 + dst + seg_42_55
        else:
            line = head + seg_5_23 + _fortran("F6.1", 999.9) + _fortran("F6.0", 9999.0) + seg_26_40 \
                + _fortran("I6", 99999) + seg_42_55
        lines.append(line)
    path.write_text("\n".join(lines) + "\n", encoding="ascii")


# =============================================================================================
# entry point
# =============================================================================================


def generate_demo(out_dir: str | Path, start="2019-01-01", days: int = 160, seed: int = 7) -> list[Path]:
    """Write the demo raw files listed by :func:`demo_files` and return their paths.

    Deterministic for a given (``start``, ``days``, ``seed``): the same values every run. Each
    file is written atomically (temporary sibling renamed into place).
    """
    from tqdm.auto import tqdm

    from eoml.core.io import atomic_path

    first = _as_date(start)
    days = _check_days(days)
    files = demo_files(out_dir, first, days)
    state = _simulate(first, days, int(seed))
    t0 = np.datetime64(first.isoformat(), "s")
    written: list[Path] = []
    total = sum(len(v) for v in files.values())
    with tqdm(total=total, desc="radbelt demo files", unit="file", leave=False) as bar:
        for k, (rbsp_path, poes_path) in enumerate(zip(files["rbsp"], files["poes"], strict=True)):
            date = first + _dt.timedelta(days=k)
            with atomic_path(rbsp_path) as tmp:
                rng = np.random.default_rng([int(seed), 1, k])
                _write_mageis(tmp, rbsp_path.name, date, state, rng, t0)
            bar.update()
            with atomic_path(poes_path) as tmp:
                _write_poes(tmp, date, state, np.random.default_rng([int(seed), 2, k]), t0)
            bar.update()
            written += [rbsp_path, poes_path]
        for omni_path in files["omni"]:
            year = int(omni_path.stem.split("_")[1])
            with atomic_path(omni_path) as tmp:
                _write_omni2(tmp, year, state, first, days)
            bar.update()
            written.append(omni_path)
    return files["rbsp"] + files["poes"] + files["omni"]
