"""Readers for the radbelt raw products: one file in, one ``xarray.Dataset`` out.

Every reader takes a single path and returns a Dataset with dimension ``time``
(``datetime64[ns]``, UTC, timezone-naive) and float64 variables holding NaN wherever the
product marks a value as fill or invalid. Anything wrong with the file itself (unreadable,
truncated, a required variable missing, no valid sample at all) raises
:class:`eoml.core.errors.InputFileError`, whose message starts with the file's path and says
what is wrong; no reader lets a bare ``KeyError``/``OSError`` escape.

Products (details, fill conventions and the exact variable names: ``docs/radbelt_formats.md``):

* :func:`read_mageis_l3` - Van Allen Probes (RBSP) ECT MagEIS Level-3 pitch-angle CDF:
  spin-averaged differential electron flux at one energy (default 1 MeV), ``L``, ``L_star``.
* :func:`read_poes` - NOAA POES SEM-2 NCEI netCDF, processed fluxes (``*_proc.nc``) or raw count
  rates (``*_raw.nc``): 90-degree telescope E2, E3 and P6 and ``L_IGRF``.
* :func:`read_omni2_ascii` - OMNI2 hourly ASCII ``omni2_YYYY.dat``: solar-wind speed.
* :func:`read_omni_cdf` - OMNI HRO CDF (``flow_speed``) or OMNI2 merged hourly CDF (``V``).
* :func:`read_premeve_ascii` - LANL PreMevE exchange ASCII files.

:func:`read_any` dispatches on a product kind; :func:`guess_kind` infers it from a file name.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import xarray as xr

from eoml.core.errors import InputFileError

log = logging.getLogger(__name__)

__all__ = [
    "KINDS",
    "OMNI2_FIELD_WIDTHS",
    "ON_BAD_RECORD",
    "POES_CHANNELS",
    "PREMEVE_TIME_ORIGIN",
    "guess_kind",
    "premeve_file_kind",
    "read_any",
    "read_mageis_l3",
    "read_omni2_ascii",
    "read_omni_cdf",
    "read_poes",
    "read_premeve_ascii",
]

#: ISTP/CDF convention: any value at or below this is fill, whatever FILLVAL says.
ISTP_FILL_THRESHOLD = -1e30

FLUX_UNITS = "cm-2 s-1 sr-1 keV-1"

#: What a line-based reader does with a line that is not a record: fail naming it, or skip it.
ON_BAD_RECORD = ("error", "skip")
#: Bad lines logged one by one per file (the rest are counted), and listed in ``skipped_records``.
MAX_LOGGED_RECORDS = 20
MAX_LISTED_RECORDS = 20

# --------------------------------------------------------------------------------------------
# small shared helpers
# --------------------------------------------------------------------------------------------


def _describe(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _dataset(path: Path, variables: dict, time: np.ndarray, attrs: dict) -> xr.Dataset:
    """Assemble the reader output: float64 variables on a ``datetime64[ns]`` time axis."""
    time = np.asarray(time).astype("datetime64[ns]")
    data_vars = {}
    for name, spec in variables.items():
        dims, values, var_attrs = spec
        data_vars[name] = (dims, np.asarray(values, dtype=np.float64), var_attrs)
    ds = xr.Dataset(data_vars, coords={"time": ("time", time)})
    ds["time"].attrs.update({"standard_name": "time", "long_name": "time (UTC)"})
    ds.attrs.update({"source_file": path.name, **attrs})
    return ds


def _drop_invalid_times(time: np.ndarray, *arrays: np.ndarray):
    """Remove records whose time stamp is NaT (fill epochs)."""
    keep = ~np.isnat(time)
    if keep.all():
        return (time, *arrays)
    return (time[keep], *(a[keep] for a in arrays))


# --------------------------------------------------------------------------------------------
# ISTP / CDF pieces (MagEIS L3, OMNI CDFs)
# --------------------------------------------------------------------------------------------

_EPOCH_TYPES = ("CDF_EPOCH", "CDF_TIME_TT2000", "CDF_TT2000", "CDF_EPOCH16")


def _check_cdf_length(path: Path) -> None:
    """Compare an uncompressed CDF's size with the end-of-file offset its GDR declares.

    cdflib reads a truncated uncompressed CDF without complaint as long as the records it is asked
    for lie before the cut, so truncation is detected here from the header: CDF 3 (magic
    ``cdf30001``) stores the GDR offset as 8 bytes at file offset 20 and the GDR's EOF field at
    GDR + 36; CDF 2.6+ (``cdf26002``/``0000ffff``) as 4 bytes at 16 and GDR + 20. Whole-file
    gzip-compressed CDFs (``cccc0001``) are checked by the decompression itself.
    """
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            head = fh.read(8)
            if len(head) < 8:
                raise InputFileError(path, f"truncated: {size} bytes, too short for a CDF header")
            magic, compression = head[:4].hex(), head[4:].hex()
            if compression != "0000ffff":
                return
            if magic == "cdf30001":
                fh.seek(20)
                gdr = int.from_bytes(fh.read(8), "big", signed=True)
                fh.seek(gdr + 36)
                declared = fh.read(8)
            elif magic in ("cdf26002", "0000ffff"):
                fh.seek(16)
                gdr = int.from_bytes(fh.read(4), "big", signed=True)
                fh.seek(gdr + 20)
                declared = fh.read(4)
            else:
                return  # not a CDF: cdflib says so
    except OSError as exc:
        raise InputFileError(path, f"cannot read the file ({_describe(exc)})") from exc
    if len(declared) < 4:
        raise InputFileError(path, f"truncated CDF: {size} bytes, the header lies beyond the end")
    eof = int.from_bytes(declared, "big", signed=True)
    if eof > size:
        raise InputFileError(path, f"truncated CDF: its header declares {eof} bytes, the file has {size}")


def _open_cdf(path: Path):
    import cdflib

    if not path.is_file():
        raise InputFileError(path, "file does not exist")
    _check_cdf_length(path)
    try:
        return cdflib.CDF(str(path))
    except Exception as exc:  # cdflib raises OSError/ValueError/EOFError/struct.error...
        raise InputFileError(path, f"not a readable CDF file ({_describe(exc)})") from exc


def _cdf_path(cdf, path: str | Path | None) -> Path:
    return Path(path if path is not None else getattr(cdf, "file", "<cdf>"))


def _cdf_variable_names(cdf, path: Path) -> list[str]:
    try:
        info = cdf.cdf_info()
    except Exception as exc:
        raise InputFileError(path, f"cannot read the CDF header ({_describe(exc)})") from exc
    return list(info.zVariables) + list(info.rVariables)


def _require_variables(cdf, path: Path, names: Iterable[str]) -> None:
    present = set(_cdf_variable_names(cdf, path))
    missing = [n for n in names if n not in present]
    if missing:
        raise InputFileError(path, f"missing required variable(s) {', '.join(missing)}")


def _cdf_get(cdf, name: str, path: Path):
    """Values and attributes of one CDF variable; file errors become ``InputFileError``."""
    if name not in _cdf_variable_names(cdf, path):
        raise InputFileError(path, f"missing required variable {name}")
    try:
        info = cdf.varinq(name)
        attrs = cdf.varattsget(name)
        raw = cdf.varget(name)
    except Exception as exc:
        raise InputFileError(
            path, f"cannot read variable {name}; truncated or corrupt file? ({_describe(exc)})"
        ) from exc
    return raw, attrs, info


def _read_istp_variable(cdf, name: str, *, path: str | Path | None = None,
                        use_valid_range: bool = True) -> np.ndarray:
    """Read an ISTP numeric CDF variable as float64 with NaN for fill/invalid values.

    A value is NaN when it equals the variable's ``FILLVAL`` (compared both as stored and after
    casting the attribute to the variable's type, so a double ``-1e31`` attribute still matches
    a float32 ``-9.9999998e30`` value), is at or below ``-1e30`` (the ISTP fill convention, also
    for variables without ``FILLVAL``), is not finite, or - with ``use_valid_range`` - lies outside
    ``VALIDMIN``/``VALIDMAX``. A variable with no records gives an empty array.
    """
    path = _cdf_path(cdf, path)
    raw, attrs, info = _cdf_get(cdf, name, path)
    if raw is None:
        return np.empty((0,), dtype=np.float64)
    data = np.asarray(raw)
    if data.dtype.kind not in "fiu":
        raise InputFileError(path, f"variable {name} is not numeric ({info.Data_Type_Description})")
    values = data.astype(np.float64)
    bad = ~np.isfinite(values) | (values <= ISTP_FILL_THRESHOLD)
    fill = attrs.get("FILLVAL")
    if fill is not None:
        try:
            fill_f64 = float(np.asarray(fill).ravel()[0])
            candidates = {fill_f64}
            if data.dtype.kind == "f":
                with np.errstate(over="ignore", invalid="ignore"):
                    candidates.add(float(data.dtype.type(fill_f64)))
            for candidate in candidates:
                bad |= values == candidate
        except (TypeError, ValueError, IndexError):
            pass  # a non-numeric FILLVAL: nothing to compare against
    if use_valid_range:
        for key, op in (("VALIDMIN", np.less), ("VALIDMAX", np.greater)):
            limit = attrs.get(key)
            if limit is None:
                continue
            try:
                bad |= op(values, np.asarray(limit, dtype=np.float64))
            except (TypeError, ValueError):
                pass  # a limit whose shape does not broadcast: ignore it
    values[bad] = np.nan
    return values


def _read_istp_epoch(cdf, name: str, *, path: str | Path | None = None) -> np.ndarray:
    """Read a CDF_EPOCH / CDF_TIME_TT2000 / CDF_EPOCH16 variable as ``datetime64[ns]`` (NaT = fill).

    CDF_EPOCH values <= 0 or <= -1e30 (the ISTP fill -1e31) and the TT2000 fill/pad values
    (-2**63, -2**63 + 1) become NaT.
    """
    from cdflib import cdfepoch

    path = _cdf_path(cdf, path)
    raw, _attrs, info = _cdf_get(cdf, name, path)
    kind = info.Data_Type_Description
    if kind not in _EPOCH_TYPES:
        raise InputFileError(path, f"time variable {name} has type {kind}, expected CDF_EPOCH or TT2000")
    if raw is None:
        return np.empty((0,), dtype="datetime64[ns]")
    data = np.atleast_1d(np.asarray(raw))
    out = np.full(data.shape[:1], np.datetime64("NaT"), dtype="datetime64[ns]")
    if kind == "CDF_EPOCH":
        good = np.isfinite(data) & (data > 0)
    elif kind == "CDF_EPOCH16":
        good = np.isfinite(data.real) & (data.real > 0)
    else:
        good = data > np.iinfo(np.int64).min + 1
    if good.any():
        try:
            converted = np.asarray(cdfepoch.to_datetime(data[good])).astype("datetime64[ns]")
        except Exception as exc:
            raise InputFileError(path, f"cannot convert time variable {name} ({_describe(exc)})") from exc
        out[good] = converted
    return out


def _pitch_angle_average(fedu: np.ndarray, alpha_deg: np.ndarray) -> np.ndarray:
    """Solid-angle-weighted pitch-angle average of ``fedu`` (records x pitch x energy).

    For a gyrotropic distribution the omnidirectional flux is ``J = 2 pi int_0^pi j(a) sin(a) da``
    and ``J / 4 pi = 1/2 int_0^pi j(a) sin(a) da``. With pitch-angle bins ``a_i`` this is estimated
    as ``sum_i j_i sin(a_i) / sum_i sin(a_i)`` over the bins whose flux (and angle) is valid, so a
    missing bin is left out rather than counted as zero and an isotropic distribution gives back
    ``j``. A record/energy with no valid bin (or only bins at 0/180 deg) gives NaN.
    ``alpha_deg`` is ``(pitch,)`` or per record ``(records, pitch)``.
    """
    alpha = np.asarray(alpha_deg, dtype=np.float64)
    weight = np.abs(np.sin(np.deg2rad(alpha)))
    weight = weight[None, :, None] if weight.ndim == 1 else weight[:, :, None]
    valid = np.isfinite(fedu) & np.isfinite(weight)
    w = np.where(valid, weight, 0.0)
    num = np.sum(np.where(valid, fedu, 0.0) * w, axis=1)
    den = np.sum(w, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / den, np.nan)


def _interp_log_energy(flux: np.ndarray, energy: np.ndarray, target: float) -> np.ndarray:
    """Interpolate ``flux`` (records x energy) to ``target`` linearly in log10 flux vs log10 E.

    ``energy`` is ``(energy,)`` or per record ``(records, energy)`` with channels in increasing
    (or decreasing) order. The two channels bracketing ``target`` are the last channel with
    ``E <= target`` and the first with ``E >= target``; the result is NaN when ``target`` is
    outside the valid channel range, when a channel between them has a NaN energy (the brackets
    are then not adjacent), or when either bracketing flux is NaN or not positive. A channel at
    exactly ``target`` gives its own flux.
    """
    flux = np.asarray(flux, dtype=np.float64)
    energy = np.asarray(energy, dtype=np.float64)
    if energy.ndim == 1:
        energy = np.broadcast_to(energy, flux.shape)
    energy = np.where(energy > 0, energy, np.nan)
    # put channels in increasing order (decided on the typical energy of each channel)
    with np.errstate(all="ignore"):
        typical = np.nanmedian(energy, axis=0) if energy.shape[0] else np.array([])
    finite = typical[np.isfinite(typical)]
    if finite.size > 1 and finite[0] > finite[-1]:
        flux, energy = flux[:, ::-1], energy[:, ::-1]
    n_rec, n_ch = flux.shape
    out = np.full(n_rec, np.nan)
    if n_rec == 0 or n_ch == 0:
        return out
    le = energy <= target  # NaN compares False
    ge = energy >= target
    has_lo, has_hi = le.any(axis=1), ge.any(axis=1)
    lo = n_ch - 1 - np.argmax(le[:, ::-1], axis=1)
    hi = np.argmax(ge, axis=1)
    ok = has_lo & has_hi & ((hi == lo) | (hi == lo + 1))
    rows = np.arange(n_rec)
    f_lo, f_hi = flux[rows, lo], flux[rows, hi]
    e_lo, e_hi = energy[rows, lo], energy[rows, hi]
    ok &= np.isfinite(f_lo) & np.isfinite(f_hi) & (f_lo > 0) & (f_hi > 0)
    with np.errstate(all="ignore"):
        span = np.log10(e_hi) - np.log10(e_lo)
        frac = np.where(hi == lo, 0.0, (np.log10(target) - np.log10(e_lo)) / span)
        logf = np.log10(f_lo) + frac * (np.log10(f_hi) - np.log10(f_lo))
    out[ok] = 10.0 ** logf[ok]
    return out


def _per_record(values: np.ndarray, n_rec: int, name: str, path: Path, alpha: np.ndarray) -> np.ndarray:
    """Reduce a per-record variable to one value per record.

    1-D values are returned as they are; a ``(records, pitch)`` array (e.g. an L* per pitch angle)
    gives the column of the pitch angle closest to 90 degrees (equatorially mirroring particles).
    """
    if values.ndim == 0:
        values = values.reshape(1)
    elif values.ndim == 1 and n_rec == 1 and values.size == alpha.shape[-1] > 1:
        values = values.reshape(1, -1)  # one record of a per-pitch-angle variable
    if values.ndim == 1:
        out = values
    elif values.ndim == 2 and values.shape[1] == alpha.shape[-1]:
        a = alpha if alpha.ndim == 1 else np.nanmedian(alpha, axis=0)
        out = values[:, int(np.nanargmin(np.abs(a - 90.0)))]
    else:
        raise InputFileError(path, f"variable {name} has unexpected shape {values.shape}")
    if out.shape[0] != n_rec:
        raise InputFileError(path, f"variable {name} has {out.shape[0]} records, Epoch has {n_rec}")
    return out


def read_mageis_l3(path: str | Path, energy_kev: float = 1000.0) -> xr.Dataset:
    """Read an RBSP ECT MagEIS L3 CDF into spin-averaged flux at ``energy_kev``, ``L``, ``L_star``.

    Uses ``Epoch`` (CDF_EPOCH or TT2000), ``FEDU`` (Epoch x FEDU_Alpha x FEDU_Energy, ISTP fill
    ``-1e31``), ``FEDU_Alpha`` (deg), ``FEDU_Energy`` (keV; 1-D or per record) and ``L``;
    ``L_star`` is optional (all NaN when absent). FEDU values equal to FILLVAL, at or below
    ``-1e30``, outside VALIDMIN/VALIDMAX or negative are fill. The flux is the sin(alpha)-weighted
    pitch-angle average (= omnidirectional flux / 4 pi, see :func:`_pitch_angle_average`)
    interpolated linearly in log10 flux vs log10 energy (:func:`_interp_log_energy`).
    Records with a fill Epoch are dropped.
    """
    path = Path(path)
    energy_kev = float(energy_kev)
    if not energy_kev > 0:
        raise ValueError(f"energy_kev must be positive, got {energy_kev}")
    cdf = _open_cdf(path)
    _require_variables(cdf, path, ["Epoch", "FEDU", "FEDU_Alpha", "FEDU_Energy", "L"])
    time = _read_istp_epoch(cdf, "Epoch", path=path)
    n_rec = time.shape[0]
    fedu = _read_istp_variable(cdf, "FEDU", path=path)
    alpha = _read_istp_variable(cdf, "FEDU_Alpha", path=path)
    energy = _read_istp_variable(cdf, "FEDU_Energy", path=path)
    if n_rec == 0:
        raise InputFileError(path, "no valid sample: the file has no records")
    if fedu.ndim == 2 and n_rec == 1:
        fedu = fedu[None]
    if fedu.ndim != 3 or fedu.shape[0] != n_rec:
        raise InputFileError(path, f"FEDU has shape {fedu.shape}, expected ({n_rec}, pitch, energy)")
    n_alpha, n_energy = fedu.shape[1:]
    if alpha.ndim == 2 and alpha.shape[0] == 1:
        alpha = alpha[0]
    if alpha.shape[-1] != n_alpha or alpha.ndim not in (1, 2):
        raise InputFileError(path, f"FEDU_Alpha has shape {alpha.shape}, FEDU has {n_alpha} pitch angles")
    if energy.shape[-1] != n_energy or (energy.ndim == 2 and energy.shape[0] != n_rec) or energy.ndim > 2:
        raise InputFileError(path, f"FEDU_Energy has shape {energy.shape}, FEDU has {n_energy} energies")
    fedu[fedu < 0] = np.nan  # negative flux is fill, whatever VALIDMIN says

    spin_avg = _pitch_angle_average(fedu, alpha)
    flux = _interp_log_energy(spin_avg, energy, energy_kev)

    L = _per_record(_read_istp_variable(cdf, "L", path=path), n_rec, "L", path, alpha)
    L = np.where(L > 0, L, np.nan)
    if "L_star" in _cdf_variable_names(cdf, path):
        L_star = _per_record(_read_istp_variable(cdf, "L_star", path=path), n_rec, "L_star", path, alpha)
        L_star = np.where(L_star > 0, L_star, np.nan)
    else:
        L_star = np.full(n_rec, np.nan)

    time, flux, L, L_star = _drop_invalid_times(time, flux, L, L_star)
    if not np.isfinite(flux).any():
        raise InputFileError(
            path, f"no valid sample: no record gives a finite {energy_kev:g} keV flux (all-fill FEDU "
            "or energy outside the channel range)"
        )
    return _dataset(
        path,
        {
            "flux": ("time", flux, {
                "units": FLUX_UNITS,
                "long_name": f"spin-averaged differential electron flux at {energy_kev:g} keV",
                "energy_kev": energy_kev,
            }),
            "L": ("time", L, {"units": "1", "long_name": "McIlwain L (product's L variable)"}),
            "L_star": ("time", L_star, {"units": "1", "long_name": "Roederer L*"}),
        },
        time,
        {"product": "rbsp_mageis_l3", "energy_kev": energy_kev},
    )


# --------------------------------------------------------------------------------------------
# NOAA POES SEM-2 (NCEI netCDF)
# --------------------------------------------------------------------------------------------

#: Variable names of the 90-degree MEPED telescope channels we use, per product.
POES_CHANNELS = {
    "proc": {"e2": "mep_ele_tel90_flux_e2", "e3": "mep_ele_tel90_flux_e3", "p6": "mep_pro_tel90_flux_p6"},
    "raw": {"e2": "mep_ele_tel90_cps_e2", "e3": "mep_ele_tel90_cps_e3", "p6": "mep_pro_tel90_cps_p6"},
}
_POES_DEFAULT_UNITS = {"proc": "#/cm2-s-str", "raw": "counts/s"}
_POES_NAME = re.compile(r"^poes_(?P<sat>[a-z]+\d+)_(?P<date>\d{8})_(?P<product>proc|raw)\.nc$", re.I)


def _poes_product(path: Path, names: set[str]) -> str:
    match = _POES_NAME.match(path.name)
    if match:
        return match["product"].lower()
    for product, channels in POES_CHANNELS.items():
        if set(channels.values()) <= names:
            return product
    raise InputFileError(
        path, "cannot tell a POES proc (mep_*_flux_*) from a raw (mep_*_cps_*) file: neither set of "
        "90-degree channel variables is complete"
    )


def _nc_read(nc, name: str, path: Path) -> tuple[np.ndarray, dict]:
    try:
        var = nc.variables[name]
    except KeyError:
        raise InputFileError(path, f"missing required variable {name}") from None
    try:
        var.set_auto_maskandscale(False)  # valid_range attrs in these files are unusable (time: [0, 0])
        values = np.asarray(var[...])
        attrs = {}
        for key in var.ncattrs():
            try:
                attrs[key] = var.getncattr(key)
            except Exception:  # some NCEI attributes cannot be decoded by netCDF-C
                pass
    except Exception as exc:
        raise InputFileError(
            path, f"cannot read variable {name}; truncated or corrupt file? ({_describe(exc)})"
        ) from exc
    return values, attrs


def _mask_poes_channel(values: np.ndarray) -> np.ndarray:
    """float64 copy of a POES channel with NaN for missing values: any negative value (-999
    missing, -1) and non-finite values."""
    out = np.asarray(values, dtype=np.float64).copy()
    out[~np.isfinite(out) | (out < 0)] = np.nan
    return out


def _mask_poes_l(values: np.ndarray, valid_range=None) -> np.ndarray:
    """float64 copy of ``L_IGRF`` with NaN below 1 (-1 marks invalid) and above the upper end of
    ``valid_range`` (when it is a proper ``[low, high]`` pair; 20 in the NCEI files)."""
    out = np.asarray(values, dtype=np.float64).copy()
    high = np.inf
    vr = np.ravel(np.asarray(valid_range if valid_range is not None else [], dtype=np.float64))
    if vr.size == 2 and vr[1] > vr[0]:
        high = vr[1]
    out[~np.isfinite(out) | (out < 1.0) | (out > high)] = np.nan
    return out


def _poes_time(nc, names: set[str], path: Path) -> np.ndarray:
    if "time" in names:
        ms, _ = _nc_read(nc, "time", path)
        ms = ms.astype(np.float64)
        bad = ~np.isfinite(ms) | (ms <= 0)
        out = np.where(bad, 0, ms).astype(np.int64).astype("datetime64[ms]").astype("datetime64[ns]")
    elif {"year", "day", "msec"} <= names:
        year, _ = _nc_read(nc, "year", path)
        day, _ = _nc_read(nc, "day", path)
        msec, _ = _nc_read(nc, "msec", path)
        year = year.astype(np.int64)
        bad = (year < 1970) | (day < 1) | (day > 366)
        jan1 = (np.where(bad, 1970, year) - 1970).astype("datetime64[Y]").astype("datetime64[ms]")
        offset_ms = (day.astype(np.int64) - 1) * 86_400_000 + msec.astype(np.int64)
        out = jan1 + offset_ms.astype("timedelta64[ms]")
        out = out.astype("datetime64[ns]")
    else:
        raise InputFileError(path, "missing required variable time (or year/day/msec)")
    out[bad] = np.datetime64("NaT")
    return out


def read_poes(path: str | Path) -> xr.Dataset:
    """Read a NOAA POES/MetOp SEM-2 NCEI netCDF (``poes_<sat>_<YYYYMMDD>_proc.nc`` or ``_raw.nc``).

    Returns ``L`` (from ``L_IGRF``) and the 90-degree telescope channels ``e2`` (>130 keV
    electrons), ``e3`` (>287 keV electrons) and ``p6`` (~6.2 MeV protons, in practice dominated by
    >~1 MeV electrons in the outer belt) as fluxes (#/cm2-s-str, ``proc``) or count rates
    (``raw``); the variable names are in :data:`POES_CHANNELS`. Time comes from ``time``
    (milliseconds since 1970-01-01; ``year``/``day``/``msec`` when absent).

    The files carry no ``_FillValue``; their ``valid_range`` attributes are unusable (``time`` has
    ``[0, 0]``), so automatic masking is off and the conventions are applied here: any negative
    channel value (-999 missing, -1) is NaN; ``L_IGRF`` is NaN when below 1 (-1 marks invalid) or
    above the upper end of its ``valid_range`` (20).
    Attributes: ``satellite`` (``n15``...), ``product`` (``proc``/``raw``), ``units``.
    """
    import netCDF4

    path = Path(path)
    if not path.is_file():
        raise InputFileError(path, "file does not exist")
    try:
        nc = netCDF4.Dataset(str(path), "r")
    except Exception as exc:
        raise InputFileError(
            path, f"not a readable netCDF file; truncated or corrupt? ({_describe(exc)})"
        ) from exc
    try:
        names = set(nc.variables)
        product = _poes_product(path, names)
        time = _poes_time(nc, names, path)
        n_rec = time.shape[0]
        L_raw, l_attrs = _nc_read(nc, "L_IGRF", path)
        L = _mask_poes_l(L_raw, l_attrs.get("valid_range"))
        channels, units = {}, None
        for short, name in POES_CHANNELS[product].items():
            values, attrs = _nc_read(nc, name, path)
            channels[short] = _mask_poes_channel(values)
            units = units or attrs.get("units")
    finally:
        nc.close()
    for name, values in [("L_IGRF", L), *channels.items()]:
        if values.shape != (n_rec,):
            raise InputFileError(path, f"variable {name} has shape {values.shape}, time has ({n_rec},)")
    time, L, e2, e3, p6 = _drop_invalid_times(time, L, channels["e2"], channels["e3"], channels["p6"])
    valid = np.isfinite(L) & (np.isfinite(e2) | np.isfinite(e3) | np.isfinite(p6))
    if not valid.any():
        raise InputFileError(
            path, "no valid sample: no record has both a valid L_IGRF and a valid E2/E3/P6 value"
        )
    match = _POES_NAME.match(path.name)
    satellite = match["sat"].lower() if match else "unknown"
    units = str(units or _POES_DEFAULT_UNITS[product])
    kind = "flux" if product == "proc" else "count rate"
    chan_attrs = {
        "e2": f"MEPED 90 deg telescope electron {kind} >130 keV",
        "e3": f"MEPED 90 deg telescope electron {kind} >287 keV",
        "p6": f"MEPED 90 deg telescope proton {kind} P6 (~6.2 MeV; >~1 MeV electron contaminated)",
    }
    return _dataset(
        path,
        {
            "L": ("time", L, {"units": "1", "long_name": "L value from IGRF field (L_IGRF)"}),
            **{k: ("time", v, {"units": units, "long_name": chan_attrs[k]}) for k, v in
               (("e2", e2), ("e3", e3), ("p6", p6))},
        },
        time,
        {"satellite": satellite, "product": product, "units": units},
    )


# --------------------------------------------------------------------------------------------
# OMNI
# --------------------------------------------------------------------------------------------

#: Field widths of the 55 words of an OMNI2 hourly ASCII record (Fortran format
#: ``2I4,I3,I5,2I3,2I4,14F6.1,F9.0,F6.1,F6.0,2F6.1,F6.3,F6.2,F9.0,F6.1,F6.0,2F6.1,F6.3,2F7.2,
#: F6.1,I3,I4,I6,I5,F10.2,5F9.2,I3,I4,2F6.1,2I6,F5.1``): 327 characters.
OMNI2_FIELD_WIDTHS = (
    (4, 4, 3, 5, 3, 3, 4, 4) + (6,) * 14 + (9, 6, 6, 6, 6, 6, 6) + (9, 6, 6, 6, 6, 6)
    + (7, 7, 6) + (3, 4, 6, 5) + (10,) + (9,) * 5 + (3, 4, 6, 6, 6, 6, 5)
)
_OMNI2_STARTS = np.concatenate([[0], np.cumsum(OMNI2_FIELD_WIDTHS)])
OMNI2_LINE_LENGTH = int(_OMNI2_STARTS[-1])
OMNI2_SPEED_FILL = 9999.0


def _omni2_word(line: str, word: int) -> str:
    """Text of 1-based ``word`` of an OMNI2 record."""
    return line[_OMNI2_STARTS[word - 1]:_OMNI2_STARTS[word]]


def _check_on_bad_record(on_bad_record: str) -> None:
    if on_bad_record not in ON_BAD_RECORD:
        raise ValueError(f"on_bad_record must be one of {', '.join(ON_BAD_RECORD)}, got {on_bad_record!r}")


def _skip_record(path: Path, skipped: list[tuple[int, str]], number: int, reason: str) -> None:
    """Log one skipped record (the first :data:`MAX_LOGGED_RECORDS` of a file) and keep it."""
    skipped.append((number, reason))
    if len(skipped) <= MAX_LOGGED_RECORDS:
        log.warning("%s: skipping line %d: %s", path, number, reason)
    elif len(skipped) == MAX_LOGGED_RECORDS + 1:
        log.warning("%s: more bad lines; only their count is logged from here on", path)


def _skipped_attr(skipped: list[tuple[int, str]]) -> str:
    """The ``skipped_records`` attribute: ``line N: reason`` lines (the first
    :data:`MAX_LISTED_RECORDS`, then a count of the rest)."""
    lines = [f"line {n}: {why}" for n, why in skipped[:MAX_LISTED_RECORDS]]
    if len(skipped) > MAX_LISTED_RECORDS:
        lines.append(f"... and {len(skipped) - MAX_LISTED_RECORDS} more bad lines")
    return "\n".join(lines)


def _omni2_record(line: bytes) -> tuple[int, int, int, float]:
    """(year, day of year, hour, speed) of one OMNI2 line; ``ValueError`` saying why it is not a record."""
    try:
        text = line.decode("ascii").rstrip("\r\n")
    except UnicodeDecodeError as exc:
        raise ValueError(f"not ASCII text ({_describe(exc)})") from None
    if len(text) < OMNI2_LINE_LENGTH:
        raise ValueError(
            f"has {len(text)} characters, an OMNI2 record has {OMNI2_LINE_LENGTH} (55 words); "
            "truncated or not OMNI2?"
        )
    try:
        year, doy, hour = (int(_omni2_word(text, w)) for w in (1, 2, 3))
        speed = float(_omni2_word(text, 25))
    except ValueError as exc:
        raise ValueError(f"is not an OMNI2 record ({_describe(exc)})") from None
    if year < 1963 or not 1 <= doy <= 366 or not 0 <= hour <= 23:
        raise ValueError(f"has an invalid year/day/hour ({year} {doy} {hour})")
    return year, doy, hour, speed


def read_omni2_ascii(path: str | Path, on_bad_record: str = "error") -> xr.Dataset:
    """Read an OMNI2 hourly ASCII file (``omni2_YYYY.dat``, 55 fixed-width words per line).

    Time = year (word 1) + day of year (word 2) + hour (word 3), the start of the hour as OMNI2
    tags it. ``sw_speed`` = word 25 (plasma flow speed, km/s, F6.0); its fill 9999. (and any
    non-positive value) is NaN.

    A line that is not an OMNI2 record (too short, a word that is not a number, not ASCII, an
    invalid year/day/hour) raises :class:`InputFileError` naming the file and the line with
    ``on_bad_record="error"``; with ``"skip"`` the line is left out, logged (WARNING: file, line
    number, why) and listed in the attribute ``skipped_records`` (``line N: reason`` lines), and
    the other records are kept. A file with no record left raises either way.
    """
    path = Path(path)
    _check_on_bad_record(on_bad_record)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputFileError(path, "file does not exist") from None
    except OSError as exc:
        raise InputFileError(path, f"not a readable OMNI2 ASCII file ({_describe(exc)})") from exc
    records: list[tuple[int, int, int, float]] = []
    skipped: list[tuple[int, str]] = []
    for number, line in enumerate(data.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append(_omni2_record(line))
        except ValueError as exc:
            if on_bad_record == "error":
                raise InputFileError(path, f"line {number} {exc}") from None
            _skip_record(path, skipped, number, str(exc))
    if not records:
        extra = f" ({len(skipped)} bad lines skipped, the first: line {skipped[0][0]} {skipped[0][1]})" \
            if skipped else ""
        raise InputFileError(path, f"no valid sample: the file holds no OMNI2 record{extra}")
    year, doy, hour, speed = (np.array(col) for col in zip(*records, strict=True))
    time = (
        (year - 1970).astype("datetime64[Y]").astype("datetime64[h]")
        + ((doy - 1) * 24 + hour).astype("timedelta64[h]")
    )
    speed = speed.astype(np.float64)
    speed[(speed >= OMNI2_SPEED_FILL - 0.5) | (speed <= 0)] = np.nan
    if not np.isfinite(speed).any():
        raise InputFileError(path, "no valid sample: every flow speed (word 25) is fill 9999.")
    attrs = {"product": "omni2_ascii"}
    if skipped:
        attrs["skipped_records"] = _skipped_attr(skipped)
        log.warning("%s: %d bad lines skipped, %d records kept", path, len(skipped), len(records))
    return _dataset(
        path,
        {"sw_speed": ("time", speed, {"units": "km s-1",
                                      "long_name": "solar wind flow speed (OMNI2 word 25)"})},
        time,
        attrs,
    )


#: Speed variable of each OMNI CDF product, in order of preference.
OMNI_CDF_SPEED_VARIABLES = ("flow_speed", "V")


def read_omni_cdf(path: str | Path) -> xr.Dataset:
    """Read an OMNI CDF: HRO 1-min/5-min (``flow_speed``, FILLVAL 99999.9) or the OMNI2 merged
    hourly ``omni2_h0_mrg1hr`` (``V``, FILLVAL 9999., VALIDMAX 1200).

    Time from ``Epoch`` (CDF_EPOCH). Values equal to the variable's FILLVAL, outside
    VALIDMIN/VALIDMAX or not positive are NaN.
    """
    path = Path(path)
    cdf = _open_cdf(path)
    names = set(_cdf_variable_names(cdf, path))
    speed_var = next((n for n in OMNI_CDF_SPEED_VARIABLES if n in names), None)
    if speed_var is None:
        raise InputFileError(
            path, f"missing required variable: none of {', '.join(OMNI_CDF_SPEED_VARIABLES)} (flow speed)"
        )
    _require_variables(cdf, path, ["Epoch"])
    time = _read_istp_epoch(cdf, "Epoch", path=path)
    speed = _read_istp_variable(cdf, speed_var, path=path)
    if speed.shape != time.shape:
        raise InputFileError(path, f"variable {speed_var} has shape {speed.shape}, Epoch has {time.shape}")
    speed[speed <= 0] = np.nan
    time, speed = _drop_invalid_times(time, speed)
    if not np.isfinite(speed).any():
        raise InputFileError(path, f"no valid sample: every {speed_var} value is fill")
    return _dataset(
        path,
        {"sw_speed": ("time", speed, {"units": "km s-1",
                                      "long_name": f"solar wind flow speed (OMNI {speed_var})"})},
        time,
        {"product": "omni_cdf", "speed_variable": speed_var},
    )


# --------------------------------------------------------------------------------------------
# LANL PreMevE exchange ASCII
# --------------------------------------------------------------------------------------------

#: Origin of the PreMevE exchange files' time column (days).
PREMEVE_TIME_ORIGIN = np.datetime64("2013-02-20T00:00:00", "ns")
PREMEVE_GEO_L = 6.6
#: Values treated as fill in the L-shell (flux) files, besides non-finite and |v| >= 1e30.
PREMEVE_FILL_VALUES = (-1.0, -999.0, -9999.0, 9999.0, 99999.0, 99999.9, 999999.0)

_PREMEVE_KINDS = (
    ("target_data_rbsp_", "target"),
    ("input_data_poes_e2_", "e2"),
    ("input_data_poes_e3_", "e3"),
    ("input_data_poes_p6_", "p6"),
    ("input_data_omni_", "omni"),
)


def premeve_file_kind(path: str | Path) -> str:
    """``target``, ``e2``, ``e3``, ``p6`` or ``omni`` from a PreMevE exchange file name.

    ``Target_data_RBSP_*`` -> target, ``Input_data_POES_E2_*``/``_E3_*``/``_P6_*`` -> e2/e3/p6,
    ``Input_data_OMNI_*`` -> omni (case-insensitive).
    """
    name = Path(path).name.lower()
    for prefix, kind in _PREMEVE_KINDS:
        if name.startswith(prefix):
            return kind
    raise InputFileError(
        path, "not a PreMevE exchange file name (expected Target_data_RBSP_*, Input_data_POES_E2_*, "
        "Input_data_POES_E3_*, Input_data_POES_P6_* or Input_data_OMNI_*)"
    )


def _premeve_l_value(token: str, path: Path) -> float:
    if token.upper() == "GEO":
        return PREMEVE_GEO_L
    match = re.fullmatch(r"(?:L\s*=?\s*)?([0-9]*\.?[0-9]+)", token, flags=re.I)
    if not match:
        raise InputFileError(path, f"header column {token!r} is neither an L value nor GEO")
    return float(match.group(1))


def _mask_fill_values(values: np.ndarray, fills: Iterable[float]) -> np.ndarray:
    values = values.copy()
    bad = ~np.isfinite(values) | (np.abs(values) >= 1e30)
    for fill in fills:
        bad |= np.abs(values - fill) <= 1e-6 * max(1.0, abs(fill))
    values[bad] = np.nan
    return values


def read_premeve_ascii(path: str | Path) -> xr.Dataset:
    """Read a LANL PreMevE exchange ASCII file.

    Layout: ``;`` comment lines, one header row ``S/N Time <columns>``, then rows of serial
    number, time in days since 2013-02-20 00:00 (5-hour bins; rounded to the nearest minute) and
    one value per column.

    * L-shell files (header columns are L values, ``GEO`` meaning L = 6.6): a Dataset with dims
      ``(time, L)``, numeric coordinate ``L`` and one variable ``value``. Fill: non-finite,
      ``|v| >= 1e30`` and the values in :data:`PREMEVE_FILL_VALUES` (-1, -999, -9999, 9999,
      99999, 99999.9, 999999).
    * The OMNI file (header ``S/N Time Dst S/W speed S/W p+ den``): variables ``dst`` (nT; NaN when
      not finite or ``|Dst| >= 999``, so a real -1 nT stays), ``sw_speed`` (km/s; valid only in
      (0, 3000)) and ``sw_density`` (cm-3; valid only in [0, 999)).
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8", errors="strict")
    except FileNotFoundError:
        raise InputFileError(path, "file does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputFileError(path, f"not a readable PreMevE ASCII file ({_describe(exc)})") from exc
    header, rows = None, []
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith(";"):
            continue
        if header is None:
            header = stripped
            continue
        try:
            rows.append((number, [float(tok) for tok in stripped.split()]))
        except ValueError as exc:
            raise InputFileError(path, f"line {number} is not numeric ({_describe(exc)})") from exc
    if header is None:
        raise InputFileError(path, "no header row 'S/N Time ...' found")
    tokens = header.split()
    if len(tokens) < 3 or tokens[0].upper() != "S/N" or tokens[1].lower() != "time":
        raise InputFileError(path, f"header row {header!r} does not start with 'S/N Time'")
    is_omni = any(tok.lower() == "dst" for tok in tokens[2:])
    columns = 3 if is_omni else len(tokens) - 2
    L_values = None if is_omni else np.array([_premeve_l_value(tok, path) for tok in tokens[2:]])
    for number, values in rows:
        if len(values) != columns + 2:
            raise InputFileError(
                path, f"line {number} has {len(values)} columns, the header announces {columns + 2}"
            )
    if not rows:
        raise InputFileError(path, "no valid sample: no data row after the header")
    table = np.array([values for _, values in rows], dtype=np.float64)
    days = table[:, 1]
    if not np.isfinite(days).all():
        raise InputFileError(path, "a time value is not finite")
    minutes = np.round(days * 1440.0).astype(np.int64)
    time = PREMEVE_TIME_ORIGIN + minutes.astype("timedelta64[m]").astype("timedelta64[ns]")
    try:
        kind = premeve_file_kind(path)
    except InputFileError:
        kind = "omni" if is_omni else "unknown"
    attrs = {"product": "premeve_ascii", "premeve_kind": kind}
    if is_omni:
        dst, speed, density = (table[:, 2 + k].copy() for k in range(3))
        dst[~np.isfinite(dst) | (np.abs(dst) >= 999)] = np.nan
        speed[~(np.isfinite(speed) & (speed > 0) & (speed < 3000))] = np.nan
        density[~(np.isfinite(density) & (density >= 0) & (density < 999))] = np.nan
        if not (np.isfinite(dst).any() or np.isfinite(speed).any() or np.isfinite(density).any()):
            raise InputFileError(path, "no valid sample: every Dst, speed and density value is fill")
        return _dataset(
            path,
            {
                "dst": ("time", dst, {"units": "nT", "long_name": "Dst index"}),
                "sw_speed": ("time", speed, {"units": "km s-1", "long_name": "solar wind speed"}),
                "sw_density": ("time", density,
                               {"units": "cm-3", "long_name": "solar wind proton density"}),
            },
            time,
            attrs,
        )
    values = _mask_fill_values(table[:, 2:], PREMEVE_FILL_VALUES)
    if not np.isfinite(values).any():
        raise InputFileError(path, "no valid sample: every value is fill")
    value_attrs = {"long_name": f"PreMevE {kind} value"}
    ds = _dataset(path, {"value": (("time", "L"), values, value_attrs)}, time, attrs)
    ds = ds.assign_coords(L=("L", L_values.astype(np.float64), {"units": "1", "long_name": "L shell"}))
    if np.any(np.isclose(L_values, PREMEVE_GEO_L)) and any(t.upper() == "GEO" for t in tokens[2:]):
        ds.attrs["geo_L"] = PREMEVE_GEO_L
    return ds


# --------------------------------------------------------------------------------------------
# dispatch
# --------------------------------------------------------------------------------------------

_READERS = {
    "rbsp_mageis": read_mageis_l3,
    "poes": read_poes,
    "omni2_ascii": read_omni2_ascii,
    "omni_cdf": read_omni_cdf,
}
#: Product kinds understood by :func:`read_any`.
KINDS = tuple(_READERS)


def read_any(path: str | Path, kind: str, **kwargs) -> xr.Dataset:
    """Read ``path`` with the reader of ``kind`` (one of :data:`KINDS`); ``kwargs`` go to the
    reader (e.g. ``energy_kev`` for ``rbsp_mageis``)."""
    try:
        reader = _READERS[kind]
    except KeyError:
        raise ValueError(f"unknown product kind {kind!r}; expected one of {', '.join(KINDS)}") from None
    return reader(path, **kwargs)


def guess_kind(path: str | Path) -> str:
    """The product kind of a raw file from its name.

    ``*mageis*.cdf`` -> rbsp_mageis; ``poes_*.nc`` / ``metop*.nc`` -> poes; ``omni*.dat`` ->
    omni2_ascii; ``omni*.cdf`` -> omni_cdf (case-insensitive).
    """
    name = Path(path).name.lower()
    suffix = Path(name).suffix
    if suffix == ".cdf" and "mageis" in name:
        return "rbsp_mageis"
    if suffix == ".nc" and (name.startswith("poes_") or name.startswith("metop")):
        return "poes"
    if "omni" in name and suffix == ".dat":
        return "omni2_ascii"
    if "omni" in name and suffix == ".cdf":
        return "omni_cdf"
    raise InputFileError(
        path, "cannot tell the product from the file name (expected *mageis*.cdf, poes_*.nc, "
        "omni2_YYYY.dat or omni*.cdf)"
    )
