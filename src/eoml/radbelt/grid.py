"""PreMevE's (time, L) grid: pure numpy helpers driven by the ``radbelt.grid`` config section.

Keys of ``grid_cfg`` (defaults in the config schema): ``time_origin`` (start of bin 0, naive
UTC ISO string), ``bin_hours`` (bin width in hours), ``L_min``/``L_max`` (centres of the lowest and
highest regular L bins), ``dL`` (their width), ``geo_L`` and ``geo_halfwidth`` (the GEO bin).

* Time bins are ``[origin + k·bin_hours, origin + (k+1)·bin_hours)``, labelled by the global
  integer index ``k`` (negative before the origin) or by their start time.
* Regular L bins are ``[c − dL/2, c + dL/2)`` for the centres ``c = L_min, L_min + dL, …, L_max``;
  the GEO bin is ``[geo_L − geo_halfwidth, geo_L + geo_halfwidth)`` and comes last.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from eoml.core.errors import ConfigError

log = logging.getLogger(__name__)

__all__ = ["L_centers", "L_bin_index", "time_bin_index", "bin_start_times", "bin_ns", "origin"]

#: Relative tolerance for values that sit on a bin edge up to floating-point error
#: (e.g. 2.85 computed as 2.8499999999999996 still belongs to the bin starting at 2.85).
_EDGE_EPS = 1e-9


def _decimals(x: float, max_decimals: int = 10) -> int:
    """Fewest decimals that represent ``x`` (0.1 → 1, 0.25 → 2, 2.8 → 1)."""
    for d in range(max_decimals + 1):
        if abs(round(x, d) - x) <= 1e-9 * max(1.0, abs(x)):
            return d
    return max_decimals


def _regular(grid_cfg: Mapping[str, Any]) -> tuple[float, float, int, int]:
    """(L_min, dL, number of regular bins, decimals to round centres to), validated."""
    try:
        L_min, L_max, dL = float(grid_cfg["L_min"]), float(grid_cfg["L_max"]), float(grid_cfg["dL"])
        geo_L, hw = float(grid_cfg["geo_L"]), float(grid_cfg["geo_halfwidth"])
    except KeyError as exc:
        raise ConfigError(f"  radbelt.grid.{exc.args[0]}: missing") from exc
    if dL <= 0:
        raise ConfigError(f"  radbelt.grid.dL: must be positive, got {dL:g}")
    if L_max < L_min:
        raise ConfigError(f"  radbelt.grid.L_max: {L_max:g} is below L_min {L_min:g}")
    steps = (L_max - L_min) / dL
    n = int(round(steps)) + 1
    if abs(steps - round(steps)) > 1e-6:
        raise ConfigError(
            f"  radbelt.grid.L_max: L_max - L_min ({L_max - L_min:g}) is not a multiple of dL ({dL:g})"
        )
    if hw <= 0:
        raise ConfigError(f"  radbelt.grid.geo_halfwidth: must be positive, got {hw:g}")
    if geo_L - hw < L_max + dL / 2 - 1e-9:
        raise ConfigError(
            f"  radbelt.grid.geo_L: the GEO bin [{geo_L - hw:g}, {geo_L + hw:g}) overlaps the regular "
            f"L bins (which end at {L_max + dL / 2:g})"
        )
    return L_min, dL, n, max(_decimals(dL), _decimals(L_min))


def L_centers(grid_cfg: Mapping[str, Any]) -> np.ndarray:
    """Bin centres ``L_min, L_min + dL, …, L_max`` then ``geo_L`` (float64).

    Centres are computed as ``L_min + k·dL`` and rounded to the decimals of ``dL``/``L_min``, so
    the default grid gives exactly ``2.8, 2.9, …, 6.0, 6.6`` (no 3.0000000000000004).
    """
    L_min, dL, n, dec = _regular(grid_cfg)
    centres = np.round(L_min + dL * np.arange(n), dec)
    return np.append(centres, float(grid_cfg["geo_L"])).astype(np.float64)


def L_bin_index(L_values: Any, grid_cfg: Mapping[str, Any]) -> np.ndarray:
    """Index into :func:`L_centers` of each L value; ``-1`` outside every bin (or NaN).

    Values on a bin edge (within floating-point error) go to the upper bin, as bins are
    half-open ``[lo, hi)``.
    """
    L_min, dL, n, _ = _regular(grid_cfg)
    geo_L, hw = float(grid_cfg["geo_L"]), float(grid_cfg["geo_halfwidth"])
    L = np.asarray(L_values, dtype=np.float64)
    idx = np.full(L.shape, -1, dtype=np.int64)
    finite = np.isfinite(L)
    pos = np.zeros(L.shape)
    pos[finite] = (L[finite] - (L_min - dL / 2)) / dL
    k = np.floor(pos + _EDGE_EPS).astype(np.int64)
    regular = finite & (k >= 0) & (k < n)
    idx[regular] = k[regular]
    tol = _EDGE_EPS * max(1.0, abs(geo_L))
    geo = finite & ~regular & (L >= geo_L - hw - tol) & (L < geo_L + hw - tol)
    idx[geo] = n
    return idx


def origin(grid_cfg: Mapping[str, Any]) -> np.datetime64:
    """Start of time bin 0 as ``datetime64[ns]`` (naive UTC)."""
    try:
        ts = pd.Timestamp(grid_cfg["time_origin"])
    except KeyError as exc:
        raise ConfigError("  radbelt.grid.time_origin: missing") from exc
    except (ValueError, TypeError) as exc:
        raise ConfigError(
            f"  radbelt.grid.time_origin: not a date-time: {grid_cfg['time_origin']!r}"
        ) from exc
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    return np.datetime64(ts.to_datetime64(), "ns")


def bin_ns(grid_cfg: Mapping[str, Any]) -> int:
    """Width of a time bin in nanoseconds."""
    hours = float(grid_cfg["bin_hours"])
    width = int(round(hours * 3600e9))
    if width <= 0:
        raise ConfigError(f"  radbelt.grid.bin_hours: must be positive, got {hours:g}")
    return width


def _as_datetime64(times: Any) -> np.ndarray:
    if isinstance(times, np.ndarray) and times.dtype.kind == "M":
        return times.astype("datetime64[ns]")
    t = pd.DatetimeIndex(pd.to_datetime(np.asarray(times).ravel() if np.ndim(times) else [times]))
    if t.tz is not None:
        t = t.tz_convert("UTC").tz_localize(None)
    return t.values.astype("datetime64[ns]").reshape(np.shape(times))


def time_bin_index(times: Any, grid_cfg: Mapping[str, Any]) -> np.ndarray:
    """Global time-bin index ``floor((t − time_origin) / bin_hours)`` (int64, negative before origin).

    ``times`` may be datetime64 values, pandas timestamps or ISO strings (tz-aware values are
    converted to naive UTC). NaT is not a time: mask it out first (raises ``ValueError``).
    """
    t = _as_datetime64(times)
    if np.isnat(t).any():
        raise ValueError("time_bin_index: times contain NaT; mask them out first")
    delta = (t - origin(grid_cfg)).astype(np.int64)
    return np.floor_divide(delta, bin_ns(grid_cfg)).astype(np.int64)


def bin_start_times(indices: Any, grid_cfg: Mapping[str, Any]) -> np.ndarray:
    """Start time (``datetime64[ns]``) of the time bins with global indices ``indices``."""
    k = np.asarray(indices, dtype=np.int64)
    return origin(grid_cfg) + (k * bin_ns(grid_cfg)).astype("timedelta64[ns]")


#: A configured L within this of a store shell is that shell (no notice in the log).
L_TOLERANCE = 1e-3


def nearest_shell(L_values: Any, value: float, geo: int | None = None, key: str | None = None) -> int:
    """Index of the non-GEO shell nearest ``value`` (``geo``: index of the GEO bin, if any).

    A configured L (``key`` names the setting, e.g. ``features.geo_input_L``) that is not one of
    the store's shells is not an error: a store may hold only part of the L range (e.g. LANL
    files with L = 4.0-4.2), and the nearest shell is the closest stand-in. That substitution
    is logged (WARNING) naming the key.
    """
    Ls = np.asarray(L_values, dtype=float)
    candidates = np.flatnonzero(np.arange(Ls.size) != (-1 if geo is None else geo))
    if candidates.size == 0:
        raise ValueError("the store has no non-GEO L-shell")
    j = int(candidates[np.argmin(np.abs(Ls[candidates] - float(value)))])
    if key is not None and abs(Ls[j] - float(value)) > L_TOLERANCE:
        shells = Ls[candidates]
        log.warning(
            "radbelt.%s = %g is not an L-shell of the store (it holds L = %g-%g); using the nearest, L = %g",
            key, float(value), shells.min(), shells.max(), Ls[j],
        )
    return j
