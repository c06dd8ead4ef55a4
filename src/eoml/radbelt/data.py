"""radbelt samples: chronological splits, input windows, standardisation, the Lightning datamodule.

A sample is issued at time bin ``t0`` for one L-shell: its inputs are the ``window`` bins ending
at ``t0`` (``t0 - window + 1 … t0``), its target is ``log10_flux_1mev`` at ``t0 + lead``. A sample
is kept only if every input and the target are finite (no window straddles a gap) and the first
bin it uses and its target bin lie in the same split (with chronological splits that means all
of it does), so nothing leaks across a split boundary.

L-shell samples pool all non-GEO L-shells (one model; the L value is a constant input feature).
GEO samples (:func:`build_geo_samples`) are driven by the POES channels at ``geo_input_L``, the
solar-wind speed and the past GEO flux itself.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import xarray as xr

from eoml.core.errors import ConfigError
from eoml.radbelt.grid import nearest_shell

log = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")
TARGET = "log10_flux_1mev"
CHANNEL_VARS = {"e2": "log10_e2", "e3": "log10_e3", "p6": "log10_p6"}
DEFAULT_GEO_L = 6.6

# --------------------------------------------------------------------------------------------
# splits
# --------------------------------------------------------------------------------------------
def split_labels(times: Sequence | np.ndarray, fractions: Mapping[str, float]) -> np.ndarray:
    """Chronological split label (``"train"``, ``"val"``, ``"test"``) of every time bin.

    The first ``round(n·train)`` bins of the (full, sorted) time axis are train, the next
    ``round(n·val)`` val and the rest test. Fractions are normalised by their sum.
    """
    n = len(times)
    missing = [k for k in SPLITS if k not in fractions]
    if missing:
        raise ConfigError(f"radbelt.split: missing fraction(s) {', '.join(missing)}")
    values = {k: float(fractions[k]) for k in SPLITS}
    if any(v < 0 for v in values.values()) or sum(values.values()) <= 0:
        raise ConfigError(f"radbelt.split: fractions must be non-negative with a positive sum, got {values}")
    total = sum(values.values())
    n_train = int(round(n * values["train"] / total))
    n_val = min(n - n_train, int(round(n * values["val"] / total)))
    labels = np.full(n, "test", dtype="<U5")
    labels[:n_train] = "train"
    labels[n_train:n_train + n_val] = "val"
    return labels


def _split_codes(labels: np.ndarray) -> np.ndarray:
    codes = np.full(len(labels), -1, dtype=np.int8)
    for code, name in enumerate(SPLITS):
        codes[np.asarray(labels) == name] = code
    return codes


def _labels_for(ds: xr.Dataset, split) -> np.ndarray:
    if isinstance(split, Mapping):
        return split_labels(ds["time"].values, split)
    labels = np.asarray(split).astype(str)
    if labels.shape != (ds.sizes["time"],):
        raise ValueError(f"split labels have shape {labels.shape}, the store has {ds.sizes['time']} time bins")
    return labels


# --------------------------------------------------------------------------------------------
# features
# --------------------------------------------------------------------------------------------
def geo_L(ds: xr.Dataset) -> float:
    return float(ds.attrs.get("geo_L", DEFAULT_GEO_L))


def _geo_mask(ds: xr.Dataset) -> np.ndarray:
    return np.isclose(ds["L"].values.astype(float), geo_L(ds))


def _nearest_L_index(ds: xr.Dataset, value: float, key: str | None = None) -> int:
    """Index of the non-GEO shell nearest ``value`` (see :func:`eoml.radbelt.grid.nearest_shell`)."""
    geo = np.flatnonzero(_geo_mask(ds))
    return nearest_shell(ds["L"].values, value, int(geo[0]) if geo.size else None, key)


def _var(ds: xr.Dataset, name: str) -> np.ndarray:
    if name not in ds:
        raise KeyError(f"the store has no variable {name!r}")
    return np.asarray(ds[name].values, dtype=np.float64)


def _delta(series: np.ndarray) -> np.ndarray:
    """First difference along time (axis 0); the first bin is NaN."""
    out = np.full_like(series, np.nan)
    out[1:] = series[1:] - series[:-1]
    return out


def _lshell_features(ds: xr.Dataset, cfg: dict) -> tuple[np.ndarray, list[str]]:
    """Features (time, L, feature) for every L column, and their names."""
    n_time, n_L = ds.sizes["time"], ds.sizes["L"]
    columns: list[np.ndarray] = []
    names: list[str] = []
    for ch in cfg["channels"]:
        columns.append(_var(ds, CHANNEL_VARS[ch]))
        names.append(f"log10_{ch}")
    if cfg["sw_speed"]:
        columns.append(np.broadcast_to(_var(ds, "sw_speed")[:, None], (n_time, n_L)))
        names.append("sw_speed")
    if cfg["cross_L_e2"] is not None:
        j = _nearest_L_index(ds, cfg["cross_L_e2"], "features.cross_L_e2")
        columns.append(np.broadcast_to(_var(ds, "log10_e2")[:, j:j + 1], (n_time, n_L)))
        names.append(f"log10_e2_L{float(ds['L'].values[j]):g}")
    if cfg["delta_e2"]:
        columns.append(_delta(_var(ds, "log10_e2")))
        names.append("delta_log10_e2")
    columns.append(np.broadcast_to(ds["L"].values.astype(np.float64)[None, :], (n_time, n_L)))
    names.append("L")
    return np.stack(columns, axis=-1), names


def _geo_features(ds: xr.Dataset, cfg: dict) -> tuple[np.ndarray, list[str]]:
    """Features (time, feature) of the GEO model, and their names."""
    j = _nearest_L_index(ds, cfg["geo_input_L"], "features.geo_input_L")
    L_in = float(ds["L"].values[j])
    columns: list[np.ndarray] = []
    names: list[str] = []
    for ch in cfg["channels"]:
        columns.append(_var(ds, CHANNEL_VARS[ch])[:, j])
        names.append(f"log10_{ch}_L{L_in:g}")
    if cfg["sw_speed"]:
        columns.append(_var(ds, "sw_speed"))
        names.append("sw_speed")
    if cfg["delta_e2"]:
        columns.append(_delta(_var(ds, "log10_e2")[:, j]))
        names.append(f"delta_log10_e2_L{L_in:g}")
    k = int(np.flatnonzero(_geo_mask(ds))[0])
    columns.append(_var(ds, TARGET)[:, k])
    names.append("log10_flux_1mev_geo")
    return np.stack(columns, axis=-1), names


def _empty(window: int, n_feat: int, names: list[str], dtype=np.float32) -> dict[str, Any]:
    return {
        "X": np.zeros((0, window, n_feat), dtype=dtype),
        "y": np.zeros(0, dtype=dtype),
        "t_target": np.zeros(0, dtype="datetime64[ns]"),
        "t_issue": np.zeros(0, dtype="datetime64[ns]"),
        "i_target": np.zeros(0, dtype=np.int64),
        "L": np.zeros(0, dtype=np.float64),
        "L_index": np.zeros(0, dtype=np.int64),
        "split": np.zeros(0, dtype="<U5"),
        "feature_names": names,
    }


def _windows(
    feats: np.ndarray,
    target: np.ndarray,
    codes: np.ndarray,
    window: int,
    lead: int,
    lookback: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Issue-time and column indices of the valid samples.

    ``feats`` is (time, col, feat), ``target`` (time, col). ``lookback`` extra bins before the
    window are used by the features (1 for a first difference) and must share the split.
    """
    n_time = feats.shape[0]
    if window < 1 or lead < 0:
        raise ValueError(f"window must be >= 1 and lead >= 0, got window={window}, lead={lead}")
    first_issue = window - 1 + lookback
    last_issue = n_time - 1 - lead
    if last_issue < first_issue:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    bad = ~np.all(np.isfinite(feats), axis=-1)  # (time, col)
    bad_cum = np.concatenate([np.zeros((1, bad.shape[1]), dtype=np.int64), np.cumsum(bad, axis=0)])
    issue = np.arange(first_issue, last_issue + 1)
    start = issue - window + 1
    n_bad = bad_cum[issue + 1] - bad_cum[start]  # (issue, col)
    ok = n_bad == 0
    ok &= np.isfinite(target[issue + lead])
    same_split = (codes[start - lookback] == codes[issue + lead]) & (codes[issue + lead] >= 0)
    ok &= same_split[:, None]
    i_idx, c_idx = np.nonzero(ok)  # time-major order
    return issue[i_idx], c_idx


def build_samples(
    ds: xr.Dataset,
    window: int,
    lead: int,
    features_cfg: Mapping[str, Any],
    split,
    dtype=np.float32,
) -> dict[str, Any]:
    """L-shell samples pooled over every non-GEO L.

    ``features_cfg`` is the validated ``radbelt.features`` section (every key; the schema fills
    them). ``split`` is either the split labels of every store time bin (see :func:`split_labels`) or
    the fractions mapping. Returns a dict with ``X`` (n, window, n_feat) and ``y`` (n,) of
    ``dtype`` (float32 for the networks, float64 for exact OLS); ``t_target`` and ``t_issue``
    (n,) datetime64; ``i_target`` (index into the store's time axis); ``L`` (n,) and ``L_index``
    (index into the store's L axis); ``split`` (n,) and ``feature_names``. Features per time
    step, in order: the channels, ``sw_speed``, the cross-shell E2, ΔE2 (as configured), L.
    Samples are in time-major order.
    """
    cfg = features_cfg
    labels = _labels_for(ds, split)
    feats, names = _lshell_features(ds, cfg)
    target = _var(ds, TARGET)
    cols = np.flatnonzero(~_geo_mask(ds))
    feats, target = feats[:, cols], target[:, cols]
    issue, c = _windows(feats, target, _split_codes(labels), int(window), int(lead), int(cfg["delta_e2"]))
    if issue.size == 0:
        return _empty(int(window), len(names), names, dtype)
    offsets = np.arange(-int(window) + 1, 1)
    times = ds["time"].values
    i_target = issue + int(lead)
    return {
        "X": feats.astype(dtype, copy=False)[issue[:, None] + offsets[None, :], c[:, None], :],
        "y": target[i_target, c].astype(dtype),
        "t_target": times[i_target],
        "t_issue": times[issue],
        "i_target": i_target.astype(np.int64),
        "L": ds["L"].values.astype(np.float64)[cols[c]],
        "L_index": cols[c].astype(np.int64),
        "split": labels[i_target],
        "feature_names": names,
    }


def build_geo_samples(
    ds: xr.Dataset,
    window: int,
    lead: int,
    features_cfg: Mapping[str, Any],
    split,
    dtype=np.float32,
) -> dict[str, Any]:
    """GEO samples: target is the GEO column of ``log10_flux_1mev``.

    Inputs per time step: the channels at the L nearest ``geo_input_L``, ``sw_speed`` (if
    configured), ΔE2 at that L (if configured) and the GEO flux itself (the window ends at the
    issue time, so only past values). Same keys as :func:`build_samples`; may hold 0 samples (no
    GEO column or no complete window).
    """
    cfg = features_cfg
    labels = _labels_for(ds, split)
    geo = np.flatnonzero(_geo_mask(ds))
    if geo.size == 0 or (~_geo_mask(ds)).sum() == 0:
        names = ([f"log10_{ch}" for ch in cfg["channels"]] + (["sw_speed"] if cfg["sw_speed"] else [])
                 + (["delta_log10_e2"] if cfg["delta_e2"] else []) + ["log10_flux_1mev_geo"])
        return _empty(int(window), len(names), names, dtype)
    feats, names = _geo_features(ds, cfg)
    k = int(geo[0])
    target = _var(ds, TARGET)[:, k]
    issue, _ = _windows(feats[:, None, :], target[:, None], _split_codes(labels), int(window), int(lead),
                        int(cfg["delta_e2"]))
    if issue.size == 0:
        return _empty(int(window), len(names), names, dtype)
    offsets = np.arange(-int(window) + 1, 1)
    times = ds["time"].values
    i_target = issue + int(lead)
    n = issue.size
    return {
        "X": feats.astype(dtype, copy=False)[issue[:, None] + offsets[None, :], :],
        "y": target[i_target].astype(dtype),
        "t_target": times[i_target],
        "t_issue": times[issue],
        "i_target": i_target.astype(np.int64),
        "L": np.full(n, float(ds["L"].values[k])),
        "L_index": np.full(n, k, dtype=np.int64),
        "split": labels[i_target],
        "feature_names": names,
    }


def select(samples: Mapping[str, Any], split: str) -> dict[str, Any]:
    """The samples of one split (same keys)."""
    mask = np.asarray(samples["split"]) == split
    return {k: (v[mask] if isinstance(v, np.ndarray) else v) for k, v in samples.items()}
