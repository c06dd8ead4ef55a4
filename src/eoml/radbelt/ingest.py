"""Raw files → per-file partials → the radbelt ``(time, L)`` Zarr store; or PreMevE ASCII → store.

Ingest of raw products runs in two steps so that each raw file is one independent job:

1. :func:`bin_file` reads one raw file (:func:`eoml.radbelt.readers.read_any`) and writes a small
   netCDF *partial*: per ``(time bin, L bin)`` the SUM and COUNT of ``log10(value)`` of every
   channel (finite, positive values only; for ``sw_speed`` the plain value, per time bin), on
   the *global* time-bin index ``tbin`` (see :mod:`eoml.radbelt.grid`), only for bins the file
   touches.
2. :func:`combine` adds the partials bin by bin — exactly, so a 5-hour bin straddling midnight
   collects the samples of two daily files — divides sums by counts (the bin mean of log10 flux)
   and writes the store with :func:`eoml.core.store.write_store` on a continuous time axis from
   the first to the last bin holding data (bins without data stay NaN).

:func:`ingest_premeve` writes the same store layout from LANL's PreMevE exchange ASCII files.

Store layout (every variable present, all-NaN when no input provided it):

=====================  ==========  ===========================================================
variable               dims        units
=====================  ==========  ===========================================================
``log10_flux_1mev``    (time, L)   ``log10(cm-2 s-1 sr-1 keV-1)`` (target, RBSP MagEIS)
``log10_e2/e3/p6``     (time, L)   ``log10(<POES units>)``, default ``log10(cm-2 s-1 sr-1)``
``sw_speed``           (time)      ``km s-1`` (OMNI)
``n_rbsp``, ``n_poes`` (time, L)   ``1`` (samples averaged; ``n_poes`` is the largest of the
                                   e2/e3/p6 counts)
=====================  ==========  ===========================================================

Coordinates: ``time`` (bin start, ``datetime64[ns]``, UTC), ``L`` (bin centres, GEO = ``geo_L``).
Global attributes: ``bin_hours``, ``time_origin``, ``geo_L`` (and the other grid keys),
``source_kind``, ``energy_kev``, ``skipped_files``, plus the provenance of ``write_store``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import netCDF4
import numpy as np
import xarray as xr
from tqdm import tqdm

from eoml.core.errors import ConfigError, InputFileError
from eoml.core.io import atomic_path, sha256_file
from eoml.core.store import write_store
from eoml.radbelt.grid import L_bin_index, L_centers, bin_start_times, time_bin_index

log = logging.getLogger(__name__)

__all__ = [
    "KIND_VARIABLES",
    "STORE_VARIABLES",
    "bin_file",
    "check_required",
    "combine",
    "ingest_premeve",
    "required_variables",
]

#: Raw file kind → {partial/store variable name: variable name in the reader's dataset}.
KIND_VARIABLES: dict[str, dict[str, str]] = {
    "rbsp_mageis": {"flux_1mev": "flux"},
    "poes": {"e2": "e2", "e3": "e3", "p6": "p6"},
    "omni2_ascii": {"sw_speed": "sw_speed"},
    "omni_cdf": {"sw_speed": "sw_speed"},
}
#: Kinds whose reader skips a bad record (a line) instead of the file (``on_bad_record``).
RECORD_SKIPPING_KINDS = ("omni2_ascii",)
#: Variables binned on (time, L) as log10 of positive values; the others are plain per time bin.
L_RESOLVED = ("flux_1mev", "e2", "e3", "p6")
#: Store variable of each binned variable.
STORE_NAME = {"flux_1mev": "log10_flux_1mev", "e2": "log10_e2", "e3": "log10_e3", "p6": "log10_p6",
              "sw_speed": "sw_speed"}
TARGET_NAME = "log10_flux_1mev"
STORE_VARIABLES = ("log10_flux_1mev", "log10_e2", "log10_e3", "log10_p6", "sw_speed", "n_rbsp", "n_poes")
#: PreMevE exchange file kind (``premeve_file_kind``) → binned variable.
PREMEVE_KIND_VAR = {"target": "flux_1mev", "e2": "e2", "e3": "e3", "p6": "p6"}
#: File names ``eoml.radbelt.readers.premeve_file_kind`` recognises (case-insensitive).
PREMEVE_PATTERNS = {
    "target": "Target_data_RBSP_*",
    "e2": "Input_data_POES_E2_*",
    "e3": "Input_data_POES_E3_*",
    "p6": "Input_data_POES_P6_*",
    "omni": "Input_data_OMNI_*",
}

DEFAULT_UNITS = {
    "flux_1mev": "cm-2 s-1 sr-1 keV-1",
    "e2": "cm-2 s-1 sr-1",
    "e3": "cm-2 s-1 sr-1",
    "p6": "cm-2 s-1 sr-1",
    "sw_speed": "km s-1",
}
_LONG_NAMES = {
    "flux_1mev": "log10 of the {energy} keV electron differential flux ({source}), mean over the bin",
    "e2": "log10 of the NOAA POES SEM-2 E2 (>130 keV electrons, 90 deg telescope) {what}, mean over the bin",
    "e3": "log10 of the NOAA POES SEM-2 E3 (>287 keV electrons, 90 deg telescope) {what}, mean over the bin",
    "p6": "log10 of the NOAA POES SEM-2 P6 (~>1 MeV electrons, 90 deg telescope) {what}, mean over the bin",
    "sw_speed": "solar wind bulk flow speed (OMNI), mean over the bin",
}
L_LONG_NAME = "McIlwain L-shell (dipole/IGRF) bin centre; GEO bin = 6.6"


# --------------------------------------------------------------------------------------------
# reader indirection: imported on first use (heavy CDF/netCDF readers), patchable in tests


def read_any(path: str | os.PathLike, kind: str, **kwargs: Any) -> xr.Dataset:
    """:func:`eoml.radbelt.readers.read_any` (imported on first use)."""
    from eoml.radbelt import readers

    return readers.read_any(path, kind, **kwargs)


def read_premeve_ascii(path: str | os.PathLike) -> xr.Dataset:
    """:func:`eoml.radbelt.readers.read_premeve_ascii` (imported on first use)."""
    from eoml.radbelt import readers

    return readers.read_premeve_ascii(path)


def premeve_file_kind(path: str | os.PathLike) -> str | None:
    """:func:`eoml.radbelt.readers.premeve_file_kind`: target|e2|e3|p6|omni, None if unrelated."""
    from eoml.radbelt import readers

    try:
        return readers.premeve_file_kind(path)
    except (ValueError, InputFileError):
        return None


# --------------------------------------------------------------------------------------------
# binning arithmetic


def _bin_samples(
    tb: np.ndarray, lb: np.ndarray | None, values: np.ndarray, n_L: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sum and count of ``values`` per time bin (and L bin): (unique tbins, sums, counts).

    ``tb``/``lb`` are the global time-bin and L-bin indices of valid samples only. Sums have
    shape (n_tbins, n_L) when ``lb`` is given, else (n_tbins,).
    """
    tbins, local = np.unique(tb, return_inverse=True)
    if lb is None:
        flat, shape = local, (tbins.size,)
    else:
        flat, shape = local * n_L + lb, (tbins.size, n_L)
    size = int(np.prod(shape))
    sums = np.bincount(flat, weights=values, minlength=size).reshape(shape)
    counts = np.bincount(flat, minlength=size).astype(np.int64).reshape(shape)
    return tbins.astype(np.int64), sums, counts


def _valid_log(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mask of finite positive values, their log10)."""
    v = np.asarray(values, dtype=np.float64)
    ok = np.isfinite(v) & (v > 0)
    return ok, np.log10(v, where=ok, out=np.full(v.shape, np.nan))


def _regrid(tbins: np.ndarray, sums: np.ndarray, counts: np.ndarray, target: np.ndarray):
    """Place per-variable (tbins, sums, counts) onto the ``target`` tbin axis (zeros elsewhere)."""
    shape = (target.size,) + sums.shape[1:]
    s, c = np.zeros(shape), np.zeros(shape, dtype=np.int64)
    if tbins.size:
        idx = np.searchsorted(target, tbins)
        s[idx], c[idx] = sums, counts
    return s, c


# --------------------------------------------------------------------------------------------
# step 1: one raw file → one partial


def _check_kind(kind: str) -> None:
    if kind not in KIND_VARIABLES:
        raise ValueError(f"unknown raw file kind {kind!r}; expected one of {sorted(KIND_VARIABLES)}")


def _bin_dataset(ds: xr.Dataset, path: Path, kind: str, grid_cfg: Mapping[str, Any]):
    """Bin a reader's dataset: (tbin axis, {var: (sums, counts)}, {var: source units})."""
    n_L = len(L_centers(grid_cfg))
    needed = list(KIND_VARIABLES[kind].values()) + (["L"] if kind in ("rbsp_mageis", "poes") else [])
    missing = [v for v in needed if v not in ds.variables]
    if missing or "time" not in ds.coords:
        what = ", ".join(missing + ([] if "time" in ds.coords else ["time"]))
        raise InputFileError(path, f"reader returned no {what} for kind {kind}")
    times = np.asarray(ds["time"].values, dtype="datetime64[ns]")
    t_ok = ~np.isnat(times)
    tb = np.zeros(times.shape, dtype=np.int64)
    tb[t_ok] = time_bin_index(times[t_ok], grid_cfg)
    lb = L_bin_index(ds["L"].values, grid_cfg) if "L" in ds.variables else None

    binned, units = {}, {}
    for var, src in KIND_VARIABLES[kind].items():
        values = np.asarray(ds[src].values, dtype=np.float64)
        units[var] = str(ds[src].attrs.get("units", "")).strip()
        if var in L_RESOLVED:
            ok, logv = _valid_log(values)
            ok &= t_ok & (lb >= 0)
            binned[var] = _bin_samples(tb[ok], lb[ok], logv[ok], n_L)
        else:
            ok = np.isfinite(values) & t_ok
            binned[var] = _bin_samples(tb[ok], None, values[ok], n_L)
    axis = np.unique(np.concatenate([b[0] for b in binned.values()]))
    return axis, {v: _regrid(*b, axis) for v, b in binned.items()}, units


def _partial_dataset(kind, axis, data, units, grid_cfg, attrs) -> xr.Dataset:
    L = L_centers(grid_cfg)
    out = xr.Dataset(
        coords={
            "tbin": ("tbin", axis.astype(np.int64), {"long_name": "global time-bin index", "units": "1"}),
            "L": ("L", L, {"long_name": L_LONG_NAME, "units": "1"}),
        },
        attrs={
            "kind": kind,
            "time_origin": str(grid_cfg["time_origin"]),
            "bin_hours": float(grid_cfg["bin_hours"]),
            **attrs,
        },
    )
    for var, (sums, counts) in data.items():
        dims = ("tbin", "L") if var in L_RESOLVED else ("tbin",)
        what = "log10 of " if var in L_RESOLVED else ""
        sum_attrs = {"long_name": f"sum of {what}{var} over the bin", "source_units": units.get(var, "")}
        count_attrs = {"long_name": f"samples of {var} in the bin", "units": "1"}
        out[f"{var}_sum"] = (dims, sums, sum_attrs)
        out[f"{var}_count"] = (dims, counts.astype(np.int32), count_attrs)
    return out


def _empty_data(kind: str, n_L: int) -> dict:
    shapes = {v: (0, n_L) if v in L_RESOLVED else (0,) for v in KIND_VARIABLES[kind]}
    return {v: (np.zeros(shape), np.zeros(shape, dtype=np.int64)) for v, shape in shapes.items()}


def _read_and_bin(path: Path, kind: str, grid_cfg: Mapping[str, Any], energy_kev: float,
                  on_bad_file: str = "error"):
    """Read one raw file and bin it: (tbin axis, data, units, skipped records).

    An all-fill file raises :class:`InputFileError`. Line-based products (OMNI2 ASCII) are read
    with ``on_bad_record=on_bad_file``: with ``"skip"`` a bad line is left out rather than the
    whole file, and the reader's ``skipped_records`` (``line N: reason`` lines) are returned.
    """
    if kind == "rbsp_mageis":
        ds = read_any(path, kind, energy_kev=float(energy_kev))
    elif kind in RECORD_SKIPPING_KINDS:
        ds = read_any(path, kind, on_bad_record=on_bad_file)
    else:
        ds = read_any(path, kind)
    axis, data, units = _bin_dataset(ds, path, kind, grid_cfg)
    if axis.size == 0:
        raise InputFileError(
            path, "all-fill: no finite (and, for fluxes, positive) sample inside the time/L grid"
        )
    records = str(ds.attrs.get("skipped_records", "")).strip()
    return axis, data, units, [line for line in records.split("\n") if line]


def _merge_binned(parts: list[tuple[np.ndarray, dict, dict, Path]]):
    """Add several files' binned data on the union of their time-bin axes."""
    axis = np.unique(np.concatenate([a for a, _, _, _ in parts])) if parts else np.zeros(0, np.int64)
    merged: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    units: dict[str, str] = {}
    units_from: dict[str, Path] = {}
    for part_axis, data, part_units, path in parts:
        for var, (sums, counts) in data.items():
            sums, counts = _regrid(part_axis, sums, counts, axis)
            if var in merged:
                merged[var] = (merged[var][0] + sums, merged[var][1] + counts)
            else:
                merged[var] = (sums, counts)
            u = part_units.get(var, "")
            if u and units.setdefault(var, u) != u:
                raise InputFileError(
                    path, f"{var} is in {u!r} but {units_from[var].name} has {units[var]!r}; "
                    "fluxes and count rates cannot be averaged together"
                )
            units_from.setdefault(var, path)
    return axis, merged, units


def bin_files(
    items: Sequence[tuple[str | os.PathLike, str]],
    out_path: str | os.PathLike,
    grid_cfg: Mapping[str, Any],
    energy_kev: float = 1000.0,
    on_bad_file: str = "error",
) -> Path:
    """Bin several raw files — ``(path, kind)`` pairs, e.g. one day's RBSP and POES files — into
    one netCDF partial at ``out_path`` (per-bin sums and counts add exactly); return it.

    ``kind`` is one of :data:`KIND_VARIABLES` (``rbsp_mageis`` reads the flux at ``energy_kev``).
    A file the reader rejects (:class:`InputFileError`) or one without a single valid binned
    sample ("all-fill") raises :class:`InputFileError` naming the file when
    ``on_bad_file="error"``; with ``"skip"`` it logs a WARNING naming the file and the problem
    and leaves the file out; the partial records why (``skipped``), so the workflow's expected
    output exists even when every file of the group was skipped. ``"skip"`` acts at the finest
    sensible unit: a line-based file (OMNI2 ASCII) loses only its bad lines
    (see :func:`eoml.radbelt.readers.read_omni2_ascii`); CDF and netCDF readers already turn a
    record's fill or invalid values into NaN, so for them a skip is a whole unreadable file.

    Partial attributes: ``kind``, ``source_file`` and ``source_sha256`` (newline-separated when
    the partial holds several files), ``skipped`` (single file: the reason) or ``skipped_files``
    (several files: ``"name: reason"`` lines), ``skipped_kinds`` (the kind of each skipped file,
    same order) and ``skipped_records`` (``"name: line N: reason"`` lines), the last two only
    when something was skipped.
    """
    items = [(Path(p), k) for p, k in items]
    if not items:
        raise ValueError("bin_files: no raw files given")
    if on_bad_file not in ("error", "skip"):
        raise ValueError(f"on_bad_file must be 'error' or 'skip', got {on_bad_file!r}")
    for _, kind in items:
        _check_kind(kind)
    out_path = Path(out_path)
    n_L = len(L_centers(grid_cfg))
    parts, skipped, skipped_kinds, records, digests = [], [], [], [], []
    for path, kind in items:
        try:
            axis, data, units, bad_lines = _read_and_bin(path, kind, grid_cfg, energy_kev, on_bad_file)
            parts.append((axis, data, units, path))
            records.extend(f"{path.name}: {line}" for line in bad_lines)
        except InputFileError as exc:
            if on_bad_file == "error":
                raise
            reason = exc.problem if Path(exc.path).name == path.name else str(exc)
            log.warning("skipping %s (%s): %s", path, kind, reason)
            skipped.append((path.name, reason))
            skipped_kinds.append(kind)
        try:
            digests.append(sha256_file(path))
        except OSError:
            digests.append("")  # only reachable for a skipped, unreadable file
    axis, data, units = _merge_binned(parts)
    for _, kind in items:  # every variable of every kind present, even if all-skipped
        for var, empty in _empty_data(kind, n_L).items():
            if var not in data:
                data[var] = _regrid(np.zeros(0, np.int64), *empty, axis)

    attrs: dict[str, Any] = {
        "source_file": "\n".join(p.name for p, _ in items),
        "source_sha256": "\n".join(digests),
    }
    if any(k == "rbsp_mageis" for _, k in items):
        attrs["energy_kev"] = float(energy_kev)
    if len(items) == 1 and skipped:
        attrs["skipped"] = skipped[0][1]
    elif skipped:
        attrs["skipped_files"] = "\n".join(f"{name}: {why}" for name, why in skipped)
    if skipped:
        attrs["skipped_kinds"] = "\n".join(skipped_kinds)
    if records:
        attrs["skipped_records"] = "\n".join(records)
    kinds = "\n".join(dict.fromkeys(k for _, k in items))
    partial = _partial_dataset(kinds, axis, data, units, grid_cfg, attrs)
    with atomic_path(out_path) as tmp:
        partial.to_netcdf(tmp, engine="netcdf4", format="NETCDF4")
    n = int(sum(c.sum() for _, c in data.values()))
    log.info("%s: %d samples in %d time bins -> %s", ", ".join(p.name for p, _ in items), n,
             axis.size, out_path)
    return out_path


def bin_file(
    path: str | os.PathLike,
    kind: str,
    out_path: str | os.PathLike,
    grid_cfg: Mapping[str, Any],
    energy_kev: float = 1000.0,
    on_bad_file: str = "error",
) -> Path:
    """Bin one raw file onto the grid and write its netCDF partial (see :func:`bin_files`)."""
    return bin_files([(path, kind)], out_path, grid_cfg, energy_kev=energy_kev, on_bad_file=on_bad_file)


# --------------------------------------------------------------------------------------------
# step 2: partials → store


class _Blocks:
    """Per-variable blocks of (tbins, sums, counts) to be added on one continuous time axis."""

    def __init__(self) -> None:
        self.blocks: dict[str, list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = {}

    def add(self, var: str, tbins: np.ndarray, sums: np.ndarray, counts: np.ndarray) -> None:
        if tbins.size:
            self.blocks.setdefault(var, []).append((tbins, sums, counts))

    def bounds(self) -> tuple[int, int] | None:
        firsts = [int(b[0].min()) for bl in self.blocks.values() for b in bl]
        lasts = [int(b[0].max()) for bl in self.blocks.values() for b in bl]
        return (min(firsts), max(lasts)) if firsts else None

    def totals(self, var: str, t0: int, n_t: int, n_L: int) -> tuple[np.ndarray, np.ndarray]:
        shape = (n_t, n_L) if var in L_RESOLVED else (n_t,)
        s, c = np.zeros(shape), np.zeros(shape, dtype=np.int64)
        for tbins, sums, counts in self.blocks.get(var, []):
            idx = tbins - t0
            if np.unique(idx).size == idx.size:
                s[idx] += sums
                c[idx] += counts
            else:  # repeated bins inside one block: unbuffered add
                np.add.at(s, idx, sums)
                np.add.at(c, idx, counts)
        return s, c


def _units_attr(var: str, units: Mapping[str, str]) -> str:
    u = units.get(var) or DEFAULT_UNITS[var]
    return f"log10({u})" if var in L_RESOLVED else u


def _assemble(
    blocks: _Blocks,
    L: np.ndarray,
    grid_cfg: Mapping[str, Any],
    units: Mapping[str, str],
    target_source: str,
    energy_kev: float | None,
) -> xr.Dataset:
    """The store dataset from summed blocks: continuous time axis, means, counts, CF attributes."""
    bounds = blocks.bounds()
    assert bounds is not None
    t0, t1 = bounds
    n_t, n_L = t1 - t0 + 1, L.size
    tbins = np.arange(t0, t1 + 1, dtype=np.int64)
    hours = float(grid_cfg["bin_hours"])
    ds = xr.Dataset(
        coords={
            "time": ("time", bin_start_times(tbins, grid_cfg), {
                "standard_name": "time", "long_name": f"start of the {hours:g}-hour bin (UTC)", "axis": "T"}),
            "L": ("L", L.astype(np.float64), {"units": "1", "long_name": L_LONG_NAME}),
        }
    )
    counts = {}
    for var in (*L_RESOLVED, "sw_speed"):
        s, c = blocks.totals(var, t0, n_t, n_L)
        mean = np.full(s.shape, np.nan)
        np.divide(s, c, out=mean, where=c > 0)
        counts[var] = c
        dims = ("time", "L") if var in L_RESOLVED else ("time",)
        if var == "flux_1mev":
            energy = f"{energy_kev:g}" if energy_kev is not None else "1000"
            long_name = _LONG_NAMES[var].format(energy=energy, source=target_source)
        else:
            u = units.get(var, "")
            what = "count rate" if ("count" in u.lower() and "cm" not in u.lower()) else "flux"
            long_name = _LONG_NAMES[var].format(what=what)
        ds[STORE_NAME[var]] = (dims, mean, {"units": _units_attr(var, units), "long_name": long_name})
    ds["n_rbsp"] = (("time", "L"), counts["flux_1mev"].astype(np.int32),
                    {"units": "1", "long_name": "number of target (RBSP) samples averaged in the bin"})
    n_poes = np.maximum.reduce([counts[v] for v in ("e2", "e3", "p6")])
    ds["n_poes"] = (("time", "L"), n_poes.astype(np.int32), {
        "units": "1", "long_name": "number of POES samples averaged in the bin (largest of e2, e3, p6)"})
    ds.attrs.update(
        {
            "title": "PreMevE 2.0 radiation-belt store: log10 fluxes on 5-hour bins and L-shells",
            "bin_hours": hours,
            "time_origin": str(grid_cfg["time_origin"]),
            "geo_L": float(grid_cfg["geo_L"]),
            "first_tbin": int(t0),
        }
    )
    for key in ("L_min", "L_max", "dL", "geo_halfwidth"):
        if key in grid_cfg:
            ds.attrs[key] = float(grid_cfg[key])
    if energy_kev is not None:
        ds.attrs["energy_kev"] = float(energy_kev)
    return ds[list(STORE_VARIABLES)]


def _read_partial(path: Path, L: np.ndarray, grid_cfg: Mapping[str, Any]) -> dict:
    """A partial's attributes, tbins and {var: (sums, counts, source units)}; checks its grid."""
    try:
        with netCDF4.Dataset(path) as nc:
            nc.set_auto_mask(False)
            attrs = {k: nc.getncattr(k) for k in nc.ncattrs()}
            tbins = np.asarray(nc["tbin"][:], dtype=np.int64)
            pL = np.asarray(nc["L"][:], dtype=np.float64)
            data = {}
            for name in nc.variables:
                if name.endswith("_sum"):
                    var, v = name[: -len("_sum")], nc[name]
                    units = str(v.getncattr("source_units")) if "source_units" in v.ncattrs() else ""
                    sums = np.asarray(v[:], np.float64)
                    data[var] = (sums, np.asarray(nc[f"{var}_count"][:], np.int64), units)
    except (OSError, KeyError, IndexError, RuntimeError) as exc:
        raise InputFileError(path, f"not a readable ingest partial ({type(exc).__name__}: {exc})") from exc
    if pL.shape != L.shape or not np.allclose(pL, L, atol=1e-9):
        raise InputFileError(path, "partial was binned on another L grid; re-run its ingest-file job")
    if str(attrs.get("time_origin")) != str(grid_cfg["time_origin"]) or not np.isclose(
        float(attrs.get("bin_hours", np.nan)), float(grid_cfg["bin_hours"])
    ):
        raise InputFileError(path, "partial was binned with another time_origin/bin_hours; re-run its job")
    unknown = [v for v in data if v not in STORE_NAME]
    if unknown:
        raise InputFileError(path, f"partial holds unknown variables {unknown}")
    return {"attrs": attrs, "tbins": tbins, "data": data}


# --------------------------------------------------------------------------------------------
# required variables: a store whose model input is empty is refused at once


#: Store variable → (what it is, the raw files that provide it).
_PROVIDERS_RAW = {
    "log10_flux_1mev": ("the 1 MeV target flux", "RBSP MagEIS files (radbelt.raw.rbsp)"),
    "log10_e2": ("POES E2", "POES files (radbelt.raw.poes)"),
    "log10_e3": ("POES E3", "POES files (radbelt.raw.poes)"),
    "log10_p6": ("POES P6", "POES files (radbelt.raw.poes)"),
    "sw_speed": ("the solar-wind speed", "OMNI files (radbelt.raw.omni)"),
}
_PROVIDERS_PREMEVE = {
    "log10_flux_1mev": ("the 1 MeV target flux", f"{PREMEVE_PATTERNS['target']} files"),
    "log10_e2": ("POES E2", f"{PREMEVE_PATTERNS['e2']} files"),
    "log10_e3": ("POES E3", f"{PREMEVE_PATTERNS['e3']} files"),
    "log10_p6": ("POES P6", f"{PREMEVE_PATTERNS['p6']} files"),
    "sw_speed": ("the solar-wind speed", f"{PREMEVE_PATTERNS['omni']} files"),
}


def required_variables(features: Mapping[str, Any] | None) -> dict[str, tuple[str, str]]:
    """Store variables the models need: {name: (why, what to change to do without it)}.

    With ``features`` (the ``radbelt.features`` section): the target, each configured POES
    channel, ``log10_e2`` when ``cross_L_e2`` or ``delta_e2`` uses it, and ``sw_speed`` when
    ``features.sw_speed`` is true. Without ``features`` nothing: the store is not checked
    against a model set-up (e.g. a store of POES files only, built for a look at the data).
    """
    if features is None:
        return {}
    out = {TARGET_NAME: ("the forecast target, always required", "")}
    try:
        channels, sw_speed = list(features["channels"]), bool(features["sw_speed"])
    except KeyError as exc:
        raise ConfigError(f"radbelt.features: missing key {exc.args[0]!r}") from None
    for ch in channels:
        name = STORE_NAME.get(ch)
        if name is None:
            raise ConfigError(f"radbelt.features.channels: unknown channel {ch!r}")
        out[name] = (f"radbelt.features.channels includes {ch}",
                     f"remove {ch} from radbelt.features.channels")
    if "log10_e2" not in out:
        for key in ("cross_L_e2", "delta_e2"):
            value = features[key]
            if value is not None and value is not False:
                out["log10_e2"] = (f"radbelt.features.{key} is {value}", f"unset radbelt.features.{key}")
                break
    if sw_speed:
        out["sw_speed"] = ("radbelt.features.sw_speed is true", "set radbelt.features.sw_speed: false")
    return out


def _features_from(features: Mapping[str, Any] | None, config: Any) -> Mapping[str, Any] | None:
    if features is None and isinstance(config, Mapping) and "features" in config:
        return config["features"]
    return features


def check_required(
    ds: xr.Dataset,
    store_path: str | os.PathLike,
    features: Mapping[str, Any] | None,
    skipped: Sequence[tuple[str, str]] = (),
    premeve: bool = False,
) -> None:
    """Refuse a store in which a required variable (:func:`required_variables`) has no valid value.

    ``skipped`` holds ``(entry, store variables the file would have given)`` for every skipped
    raw file, ``entry`` being ``"name: reason"``. The :class:`InputFileError` names the store,
    each empty variable, why it is required, the skipped files that would have provided it and
    what to do.
    """
    providers = _PROVIDERS_PREMEVE if premeve else _PROVIDERS_RAW
    problems = []
    for name, (why, alternative) in required_variables(features).items():
        if name not in ds or np.isfinite(ds[name].values).any():
            continue
        what, files = providers[name]
        lost = [entry for entry, provides in skipped if name in provides]
        if lost:
            shown = "; ".join(lost[:10]) + (f"; ... and {len(lost) - 10} more" if len(lost) > 10 else "")
            cause = f"every one of the {files} was skipped or holds only fill. Skipped: {shown}"
            fix = "fix or replace those files (run with on_bad_file: error to stop at the first problem)"
        else:
            cause = f"no raw file was skipped for it: the {files} hold no valid value (or none matched)"
            fix = f"check the {files}"
        if alternative:
            fix += f", or {alternative}"
        problems.append(f"{name} ({what}; {why}) has no valid value: {cause}. To go on: {fix}.")
    if problems:
        raise InputFileError(store_path, "not written: " + " ".join(problems))


def combine(
    partials: Sequence[str | os.PathLike],
    store_path: str | os.PathLike,
    grid_cfg: Mapping[str, Any],
    config: Any = None,
    sources: Iterable[str | os.PathLike] | None = None,
    features: Mapping[str, Any] | None = None,
) -> Path:
    """Add the partials bin by bin, divide, and write the store (:data:`STORE_VARIABLES`).

    Provenance: when ``sources`` (the raw files) are given they are digested; otherwise the raw
    file names and SHA-256 digests recorded in the partials are carried into ``source_files`` /
    ``source_sha256``. Skipped raw files are listed in ``skipped_files`` (``"name: reason"``),
    skipped lines of line-based files in ``skipped_records`` (``"name: line N: reason"``).
    Raises :class:`InputFileError` when a partial is unreadable or binned on another grid, when
    every partial is empty, or when a variable the models need (:func:`required_variables` of
    ``features``, else of ``config["features"]``; nothing is checked when neither is given) has
    no valid value: the message names the variable and the skipped files that would have
    provided it.
    """
    partials = [Path(p) for p in partials]
    if not partials:
        raise ValueError("combine: no partials given")
    L = L_centers(grid_cfg)
    blocks = _Blocks()
    units: dict[str, str] = {}
    units_from: dict[str, Path] = {}
    names, digests, skipped, records = [], [], [], []
    skipped_provides: list[tuple[str, tuple[str, ...]]] = []
    energies: dict[float, Path] = {}
    for p in tqdm(partials, desc="combine partials", unit="file", mininterval=5.0):
        part = _read_partial(p, L, grid_cfg)
        attrs = part["attrs"]
        files = str(attrs.get("source_file", p.name)).split("\n")
        names.extend(files)
        sha = str(attrs.get("source_sha256", "")).split("\n")
        digests.extend(sha + [""] * (len(files) - len(sha)))
        new = []
        if "skipped" in attrs:
            new.append(f"{files[0]}: {attrs['skipped']}")
        if "skipped_files" in attrs:
            new.extend(str(attrs["skipped_files"]).split("\n"))
        kinds = str(attrs.get("skipped_kinds", attrs.get("kind", ""))).split("\n")
        for k, entry in enumerate(new):
            kind = kinds[k] if len(kinds) == len(new) else ""
            # a partial from before skipped_kinds: any variable it holds may be the lost one
            provides = _store_names(kind) if kind in KIND_VARIABLES else tuple(
                STORE_NAME[v] for v in part["data"])
            skipped_provides.append((entry, provides))
        skipped.extend(new)
        if "skipped_records" in attrs:
            records.extend(line for line in str(attrs["skipped_records"]).split("\n") if line)
        if part["tbins"].size == 0:
            continue
        if "energy_kev" in attrs:
            energies.setdefault(float(attrs["energy_kev"]), p)
        for var, (sums, counts, u) in part["data"].items():
            if u:
                if var in units and units[var] != u:
                    raise InputFileError(
                        p, f"{var} is in {u!r} but {units_from[var].name} has {units[var]!r}; "
                        "fluxes and count rates cannot be averaged together"
                    )
                units.setdefault(var, u)
                units_from.setdefault(var, p)
            blocks.add(var, part["tbins"], sums, counts)
    if len(energies) > 1:
        raise InputFileError(
            list(energies.values())[1], f"target energies differ between partials: {sorted(energies)} keV"
        )
    if blocks.bounds() is None:
        reasons = "; ".join(skipped) if skipped else "no valid sample in any file"
        raise InputFileError(partials[0].parent, f"all {len(partials)} partials are empty ({reasons})")

    energy = next(iter(energies), None)
    if energy is None and isinstance(config, Mapping):
        energy = float(config["energy_kev"])
    ds = _assemble(blocks, L, grid_cfg, units, "RBSP ECT MagEIS, spin-averaged", energy)
    check_required(ds, store_path, _features_from(features, config), skipped_provides)
    ds.attrs["source_kind"] = "raw"
    ds.attrs["skipped_files"] = skipped
    ds.attrs["skipped_records"] = records
    extra = {}
    if sources is None:
        extra = {"source_files": names, "source_sha256": digests}
        sources = ()
    out = write_store(ds, store_path, sources=sources, config=config, extra_attrs=extra)
    log.info("combined %d partials (%d raw files skipped, %d bad lines skipped) into %s: %d time bins",
             len(partials), len(skipped), len(records), store_path, ds.sizes["time"])
    for entry in skipped:
        log.warning("skipped raw file %s", entry)
    if records:
        log.warning("skipped %d bad lines, e.g. %s", len(records), "; ".join(records[:5]))
    return out


def _store_names(kind: str) -> tuple[str, ...]:
    return tuple(STORE_NAME[v] for v in KIND_VARIABLES[kind])


# --------------------------------------------------------------------------------------------
# PreMevE exchange files → store


def _to_log10(values: np.ndarray) -> np.ndarray:
    """log10 of a PreMevE flux column block, unless the file is already log-scaled.

    The exchange files hold fluxes. A file whose finite values are all below 20 with some
    negative is taken to be log10 flux already (a linear flux is never negative and its
    multi-year maximum is far above 20) and kept as is; otherwise non-positive values are
    dropped (NaN) and log10 is taken.
    """
    v = np.asarray(values, dtype=np.float64)
    finite = v[np.isfinite(v)]
    if finite.size and (finite < 20).all() and (finite < 0).any():
        return v
    _, logv = _valid_log(v)
    return logv


def ingest_premeve(
    premeve_dir: str | os.PathLike,
    store_path: str | os.PathLike,
    grid_cfg: Mapping[str, Any],
    config: Any = None,
    features: Mapping[str, Any] | None = None,
) -> Path:
    """Write the store from the LANL PreMevE exchange ASCII files in ``premeve_dir``.

    File kinds come from ``premeve_file_kind`` (target, e2, e3, p6, omni; several files of one
    kind are merged). The L coordinate is the files' own L-shells (their union, GEO column →
    6.6); rows are placed on the global time bins of ``grid_cfg`` (rows sharing a bin are
    averaged), on a continuous axis with NaN gaps. Only ``sw_speed`` is kept from the OMNI file
    (the store layout is fixed). A missing file kind raises :class:`InputFileError` naming the
    directory and the missing kind; a required variable (see :func:`combine`) without any valid
    value raises :class:`InputFileError` naming it.
    """
    premeve_dir = Path(premeve_dir)
    if not premeve_dir.is_dir():
        raise InputFileError(premeve_dir, "PreMevE directory does not exist")
    by_kind: dict[str, list[Path]] = {}
    for p in sorted(premeve_dir.iterdir()):
        if p.is_file() and not p.name.startswith("."):
            kind = premeve_file_kind(p)
            if kind is not None:
                by_kind.setdefault(kind, []).append(p)
    missing = [k for k in ("target", "e2", "e3", "p6", "omni") if k not in by_kind]
    if missing:
        raise InputFileError(
            premeve_dir, "no PreMevE exchange file for " + ", ".join(_premeve_pattern(k) for k in missing)
        )

    files = [(kind, p) for kind in ("target", "e2", "e3", "p6", "omni") for p in by_kind[kind]]
    datasets = [(kind, p, read_premeve_ascii(p)) for kind, p in tqdm(files, desc="read PreMevE", unit="file")]
    L_all = [np.asarray(ds["L"].values, np.float64) for kind, _, ds in datasets if kind != "omni"]
    L = np.unique(np.round(np.concatenate(L_all), 6))
    n_L = L.size

    blocks = _Blocks()
    for kind, p, ds in datasets:
        if "time" not in ds.coords:
            raise InputFileError(p, "reader returned no time coordinate")
        times = np.asarray(ds["time"].values, dtype="datetime64[ns]")
        t_ok = ~np.isnat(times)
        tb = np.zeros(times.shape, dtype=np.int64)
        tb[t_ok] = time_bin_index(times[t_ok], grid_cfg)
        if kind == "omni":
            if "sw_speed" not in ds:
                raise InputFileError(p, "reader returned no sw_speed")
            v = np.asarray(ds["sw_speed"].values, np.float64)
            ok = np.isfinite(v) & t_ok
            blocks.add("sw_speed", *_bin_samples(tb[ok], None, v[ok], n_L))
            continue
        if "value" not in ds:
            raise InputFileError(p, "reader returned no 'value' variable")
        value = ds["value"].transpose("time", "L")
        logv = _to_log10(value.values)
        col = np.searchsorted(L, np.round(np.asarray(ds["L"].values, np.float64), 6))
        tb2 = np.broadcast_to(tb[:, None], logv.shape)
        lb2 = np.broadcast_to(col[None, :], logv.shape)
        ok = np.isfinite(logv) & t_ok[:, None]
        if not ok.any():
            raise InputFileError(p, "all-fill: no finite positive value")
        blocks.add(PREMEVE_KIND_VAR[kind], *_bin_samples(tb2[ok], lb2[ok], logv[ok], n_L))

    ds_out = _assemble(blocks, L, grid_cfg, {}, "LANL PreMevE exchange file", None)
    check_required(ds_out, store_path, _features_from(features, config), premeve=True)
    ds_out.attrs["source_kind"] = "premeve_ascii"
    ds_out.attrs["skipped_files"] = []
    out = write_store(ds_out, store_path, sources=[p for _, p in files], config=config)
    log.info("PreMevE files in %s -> %s: %d time bins x %d L", premeve_dir, store_path,
             ds_out.sizes["time"], n_L)
    return out


def _premeve_pattern(kind: str) -> str:
    """The file-name pattern ``premeve_file_kind`` recognises for a kind (for error messages)."""
    return f"{kind} ({PREMEVE_PATTERNS[kind]})"
