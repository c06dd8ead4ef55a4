"""CPU baselines for the radbelt study: persistence and a PreMevE-1.0-style linear prediction filter.

Both write the same ``predictions.zarr`` store as the neural models (see ``write_predictions`` in
:mod:`eoml.radbelt.evaluate` and ``docs/architecture.md``), so they are evaluated by the same code.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import xarray as xr
from numpy.lib.stride_tricks import sliding_window_view

from eoml.radbelt.grid import nearest_shell

TARGET = "log10_flux_1mev"
DEFAULT_GEO_L = 6.6

log = logging.getLogger(__name__)


# ----------------------------------------------------------------------------------------------
# helpers


def bin_hours_of(ds: xr.Dataset) -> float:
    """Bin length in hours: the ``bin_hours`` attribute, else the (regular) time spacing."""
    if "bin_hours" in ds.attrs:
        return float(ds.attrs["bin_hours"])
    return _regular_step_hours(ds["time"].values)


def _regular_step_hours(times: np.ndarray) -> float:
    t = np.asarray(times, dtype="datetime64[ns]")
    if t.size < 2:
        raise ValueError("the time axis needs at least two bins")
    step = np.diff(t)
    if not np.all(step == step[0]) or step[0] <= np.timedelta64(0, "ns"):
        raise ValueError("the time axis is not regular; lead/lag in bins would be meaningless")
    return float(step[0] / np.timedelta64(1, "h"))


def geo_index(L_values: np.ndarray, geo_L: float = DEFAULT_GEO_L) -> int | None:
    """Index of the GEO bin in the L axis (value ``geo_L``), or None when absent."""
    hit = np.flatnonzero(np.isclose(np.asarray(L_values, dtype=float), geo_L, atol=1e-6))
    return int(hit[0]) if hit.size else None


def _nearest_L_index(L_values: np.ndarray, value: float) -> int:
    L_values = np.asarray(L_values, dtype=float)
    idx = int(np.argmin(np.abs(L_values - value)))
    if not np.isclose(L_values[idx], value, atol=1e-6):
        raise ValueError(f"L = {value} is not on the store's L axis")
    return idx


# ----------------------------------------------------------------------------------------------
# persistence


def persistence(ds: xr.Dataset, lead_bins: int) -> xr.DataArray:
    """Persistence forecast: ``forecast(t) = observed(t − lead_bins)`` at every L (GEO included).

    A reference only: it uses the in-situ target itself (RBSP / GEO flux), which the PreMevE
    models do not have at forecast time except at GEO. The time axis must be regular. No split
    masking is applied (a forecast whose source bin lies in the previous split is kept).
    """
    lead_bins = int(lead_bins)
    if lead_bins < 0:
        raise ValueError(f"lead_bins must be >= 0, got {lead_bins}")
    _regular_step_hours(ds["time"].values)
    fc = ds[TARGET].shift(time=lead_bins)
    return fc.rename("forecast").assign_attrs(long_name="persistence forecast of log10 flux")


# ----------------------------------------------------------------------------------------------
# linear prediction filter


def _lagged(x: np.ndarray, window: int) -> np.ndarray:
    """(T, window) matrix M[i, k] = x[i − k] (NaN where i − k < 0)."""
    T = x.shape[0]
    padded = np.concatenate([np.full(window - 1, np.nan), x])
    # sliding_window_view row i holds padded[i : i + window] = x[i − window + 1 .. i]
    return sliding_window_view(padded, window)[:T, ::-1]


def _same_split_mask(codes: np.ndarray, window: int, lead_bins: int) -> np.ndarray:
    """True at issue index i when bins i − window + 1 … i + lead_bins exist and share one split."""
    T = codes.shape[0]
    span = window + lead_bins
    ok = np.zeros(T, dtype=bool)
    if span > T:
        return ok
    win = sliding_window_view(codes, span)  # row r covers r … r + span − 1
    same = (win.min(axis=1) == win.max(axis=1)) & (win[:, 0] >= 0)
    ok[window - 1 : window - 1 + same.shape[0]] = same
    return ok


def fit_lpf(
    ds: xr.Dataset,
    lead_bins: int,
    window: int,
    split_labels: Sequence[str] | np.ndarray,
    channels: Sequence[str] = ("e2", "e3", "p6"),
    ridge: float = 1e-3,
    geo_input_L: float = 4.6,
) -> xr.Dataset:
    """Fit the linear prediction filter (see :func:`linear_prediction_filter`) per L-shell.

    Returns a Dataset with, per ``L``: ``impulse_response (L, channel, lag)`` in physical units
    (log10 flux per log10 input), ``intercept (L)``, ``n_train (L)`` (training samples used) and
    ``input_L (L)`` (the L whose channels drive that shell: itself, or ``geo_input_L`` at GEO).
    Shells with fewer than two training samples get NaN coefficients.
    """
    lead_bins, window = int(lead_bins), int(window)
    if lead_bins < 0 or window < 1:
        raise ValueError(f"need lead_bins >= 0 and window >= 1, got {lead_bins}, {window}")
    if ridge < 0:
        raise ValueError(f"ridge must be >= 0, got {ridge}")
    _regular_step_hours(ds["time"].values)
    labels = np.asarray(split_labels).astype(str)
    T = ds.sizes["time"]
    if labels.shape != (T,):
        raise ValueError(f"split_labels has shape {labels.shape}, expected ({T},)")
    names = [f"log10_{c}" for c in channels]
    missing = [n for n in names if n not in ds]
    if missing:
        raise KeyError(f"store lacks input variables {missing}")

    L_values = ds["L"].values.astype(float)
    igeo = geo_index(L_values, float(ds.attrs.get("geo_L", DEFAULT_GEO_L)))
    codes = np.select([labels == "train", labels == "val", labels == "test"], [0, 1, 2], -1)
    same_split = _same_split_mask(codes, window, lead_bins)
    # the whole sample (inputs and target) must lie in the training split
    train_issue = same_split & (codes == 0)

    y_all = ds[TARGET].transpose("time", "L").values.astype(float)
    x_all = [ds[n].transpose("time", "L").values.astype(float) for n in names]
    n_reg = len(names) * window

    h_out = np.full((L_values.size, len(names), window), np.nan)
    c_out = np.full(L_values.size, np.nan)
    n_out = np.zeros(L_values.size, dtype=int)
    in_L = L_values.copy()
    for j in range(L_values.size):
        src = j
        if igeo is not None and j == igeo:
            src = nearest_shell(L_values, geo_input_L, igeo, "features.geo_input_L")
            in_L[j] = L_values[src]
        X = np.concatenate([_lagged(x[:, src], window) for x in x_all], axis=1)  # (T, n_reg)
        y = np.full(T, np.nan)
        if lead_bins < T:
            y[: T - lead_bins] = y_all[lead_bins:, j]  # y[i] = target at i + lead
        use = train_issue & np.isfinite(y) & np.all(np.isfinite(X), axis=1)
        n = int(use.sum())
        n_out[j] = n
        if n < 2:
            log.warning("LPF: L=%.2f has %d training samples; no fit", L_values[j], n)
            continue
        Xt, yt = X[use], y[use]
        mu, sd = Xt.mean(axis=0), Xt.std(axis=0)
        sd[sd == 0] = 1.0
        Z = (Xt - mu) / sd
        ym = yt.mean()
        # ridge on standardised regressors: minimise mean((y − ȳ − Z b)²) + ridge·|b|²
        A = Z.T @ Z + ridge * n * np.eye(n_reg)
        b = np.linalg.solve(A, Z.T @ (yt - ym))
        h = b / sd
        h_out[j] = h.reshape(len(names), window)
        c_out[j] = ym - float(h @ mu)

    return xr.Dataset(
        {
            "impulse_response": (("L", "channel", "lag"), h_out),
            "intercept": ("L", c_out),
            "n_train": ("L", n_out),
            "input_L": ("L", in_L),
        },
        coords={"L": L_values, "channel": list(channels), "lag": np.arange(window)},
        attrs={"lead_bins": lead_bins, "window": window, "ridge": float(ridge)},
    )


def linear_prediction_filter(
    ds: xr.Dataset,
    lead_bins: int,
    window: int,
    split_labels: Sequence[str] | np.ndarray,
    channels: Sequence[str] = ("e2", "e3", "p6"),
    ridge: float = 1e-3,
    geo_input_L: float = 4.6,
    *,
    fit: xr.Dataset | None = None,
) -> xr.DataArray:
    """Multi-input linear prediction filter (LPF) forecast, per L-shell, PreMevE-1.0 style.

    What is implemented. For each L-shell separately,

        log10 J(t + lead) = c + Σ_ch Σ_{k=0}^{window−1} h_ch,k · x_ch(t − k),

    with ``x_ch`` the log10 POES channel (``e2``, ``e3``, ``p6`` by default) at the *same* L and
    ``J`` the 1 MeV in-situ flux (store variable ``log10_flux_1mev``). The GEO shell (L = 6.6)
    is driven by the channels at ``geo_input_L`` (4.6). No solar wind and no in-situ flux enter
    the inputs. The impulse responses ``h`` and constant ``c`` are fitted by ridge-regularised
    least squares on standardised regressors (training mean/std; penalty ``ridge·n·|b|²`` on
    the standardised coefficients ``b``, intercept unpenalised) using *training-split samples
    only*: a sample is used when its inputs and target are finite and every bin from
    ``t − window + 1`` to ``t + lead`` is labelled ``train``. Forecasts are produced for every
    sample whose inputs are finite and whose whole span lies in one split (the same rule the
    neural models' ``build_samples`` applies), placed at the target (valid) time ``t + lead``;
    everywhere else the forecast is NaN.

    Why. Chen et al. (2019, Space Weather, doi:10.1029/2018SW002095), PreMevE 1.0, predicted MeV
    electron fluxes over L = 2.8–7 with linear prediction filters driven mainly by NOAA POES
    precipitating-electron observations in low Earth orbit, using the cross-energy / cross-L
    coherence between precipitating ~100s keV electrons and trapped MeV electrons (Chen et al.
    2016, GRL); filters were built for each L-shell and fitted on training intervals. This is the
    linear, POES-only reference that PreMevE 2.0's machine-learning models improved upon.

    What differs from Chen et al. (2019). Their filter lengths, channel combinations, data
    cadence and the use of GEO in-situ data at the outer boundary are not reproduced; here one
    fixed ``window`` and channel set are used at every L, the fit is ridge-regularised (a small
    ``ridge`` only stabilises the strongly collinear lagged regressors), the split and sample
    rules are this workflow's, and GEO is forecast from L = 4.6 POES channels only.

    ``fit`` may pass a result of :func:`fit_lpf` computed with the same arguments.
    """
    if fit is None:
        fit = fit_lpf(ds, lead_bins, window, split_labels, channels, ridge, geo_input_L)
    lead_bins, window = int(lead_bins), int(window)
    labels = np.asarray(split_labels).astype(str)
    codes = np.select([labels == "train", labels == "val", labels == "test"], [0, 1, 2], -1)
    same_split = _same_split_mask(codes, window, lead_bins)
    T = ds.sizes["time"]
    L_values = ds["L"].values.astype(float)
    x_all = [ds[f"log10_{c}"].transpose("time", "L").values.astype(float) for c in channels]
    out = np.full((T, L_values.size), np.nan)
    for j in range(L_values.size):
        src = _nearest_L_index(L_values, float(fit["input_L"].values[j]))
        h = fit["impulse_response"].values[j].ravel()
        c = float(fit["intercept"].values[j])
        if not np.isfinite(c):
            continue
        X = np.concatenate([_lagged(x[:, src], window) for x in x_all], axis=1)
        pred = c + X @ h  # NaN wherever an input is missing
        pred[~same_split] = np.nan
        if lead_bins < T:
            out[lead_bins:, j] = pred[: T - lead_bins]
    return xr.DataArray(
        out,
        dims=("time", "L"),
        coords={"time": ds["time"].values, "L": L_values},
        name="forecast",
        attrs={"long_name": "linear prediction filter forecast of log10 flux"},
    )


# ----------------------------------------------------------------------------------------------
# workflow entry point

BASELINES = ("persistence", "lpf")


def run_baseline(
    store_path: str | Path, name: str, lead_bins: int, out_path: str | Path, cfg: dict
) -> Path:
    """Run baseline ``name`` (``persistence`` or ``lpf``) on the store and write predictions.zarr.

    ``cfg`` is the radbelt config section (uses ``split``, ``lpf_window``, ``features.channels``
    and ``features.geo_input_L``). Split labels come from
    ``eoml.radbelt.data.split_labels(ds.time.values, cfg["split"])``. The file has the store's
    full ``(time, L)`` axes, ``model = name`` and ``seed = −1``.
    """
    from eoml.radbelt.data import split_labels as make_split_labels
    from eoml.radbelt.evaluate import write_predictions

    if name not in BASELINES:
        raise ValueError(f"unknown baseline {name!r}; expected one of {BASELINES}")
    from eoml.core.store import open_store

    with open_store(store_path) as ds:
        ds = ds.load()
    labels = np.asarray(make_split_labels(ds["time"].values, cfg["split"])).astype(str)
    if name == "persistence":
        fc = persistence(ds, lead_bins)
    else:
        feats = cfg["features"]
        fc = linear_prediction_filter(
            ds,
            lead_bins,
            int(cfg["lpf_window"]),
            labels,
            channels=tuple(feats["channels"]),
            geo_input_L=float(feats["geo_input_L"]),
        )
    log.info("%s lead=%d: %d finite forecasts", name, lead_bins, int(np.isfinite(fc.values).sum()))
    return write_predictions(
        out_path,
        forecast=fc,
        observed=ds[TARGET],
        split=labels,
        model=name,
        lead_bins=int(lead_bins),
        bin_hours=bin_hours_of(ds),
        seed=-1,
        config=cfg,
    )
