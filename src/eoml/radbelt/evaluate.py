"""Evaluation of radbelt forecasts: PE tables, MeV-electron event onsets, input-target Spearman lags.

Every model and baseline writes the same ``predictions.zarr`` (:func:`write_predictions`, a
store written by :func:`eoml.core.store.write_store`: CF attributes, provenance): dims
``(time, L)`` on the store's full axes with ``time`` the target (valid) time, variables
``forecast`` and ``observed`` (float64 log10 flux, NaN where there is no sample), coordinate
``split(time)`` ∈ {train, val, test} and attributes ``model``, ``lead_bins``, ``lead_hours``,
``seed`` (−1 for deterministic models). :func:`open_predictions` reads one back.

L labels in every table: a number rounded to 0.1 for the regular shells, ``"GEO"`` for the GEO
bin (L = 6.6) and ``"mean"`` for the L-averaged value over the non-GEO shells.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from numpy.lib.stride_tricks import sliding_window_view
from scipy import stats

from eoml.core.io import write_text_atomic
from eoml.core.metrics import performance_efficiency
from eoml.core.store import open_store, write_store
from eoml.radbelt.grid import nearest_shell

log = logging.getLogger(__name__)

TARGET = "log10_flux_1mev"
DEFAULT_GEO_L = 6.6
SPLITS = ("train", "val", "test")
PE_SPLITS = ("train", "val", "test", "val+test")
PE_COLUMNS = ["model", "lead_hours", "split", "L", "pe"]
PE_SEED_COLUMNS = ["model", "lead_hours", "seed", "split", "L", "pe"]
ONSET_COLUMNS = ["model", "lead_hours", "split", "L", "t_start", "t_end", "t_forecast_edge", "success"]
ONSET_SUMMARY_COLUMNS = ["model", "lead_hours", "split", "n_events", "n_success", "success_rate"]
SPEARMAN_COLUMNS = ["input", "lag_bins", "lag_hours", "L", "rho"]
SPEARMAN_INPUTS = ("log10_e2", "log10_e3", "log10_p6", "sw_speed")


# ----------------------------------------------------------------------------------------------
# predictions files


def _number(value) -> int | float:
    """An int when the value is integral (lead hours 25, not 25.0), else a float."""
    v = float(value)
    return int(v) if v.is_integer() else v


def write_predictions(
    path: str | Path,
    *,
    forecast: xr.DataArray,
    observed: xr.DataArray,
    split: Sequence[str] | np.ndarray,
    model: str,
    lead_bins: int,
    bin_hours: float,
    seed: int = -1,
    geo_L: float = DEFAULT_GEO_L,
    config: Any = None,
) -> Path:
    """Write a ``predictions.zarr`` store atomically and return its path.

    ``forecast`` and ``observed`` are ``(time, L)`` DataArrays on the same axes, ``time`` the
    target (valid) time; ``split`` one label per time. As in every predictions store, ``observed``
    is kept only where there is a sample (a finite forecast) and is NaN elsewhere. ``config``
    (the settings that produced the forecast) is digested into the provenance attributes.
    """
    path = Path(path)
    forecast = forecast.transpose("time", "L")
    observed = observed.transpose("time", "L")
    if forecast.shape != observed.shape or not (
        np.array_equal(forecast["time"].values, observed["time"].values)
        and np.allclose(forecast["L"].values, observed["L"].values)
    ):
        raise ValueError("forecast and observed must share the (time, L) axes")
    split = np.asarray(split).astype(str)
    if split.shape != (forecast.sizes["time"],):
        raise ValueError(f"split has shape {split.shape}, expected ({forecast.sizes['time']},)")
    time = forecast["time"].values
    L = forecast["L"].values.astype(float)
    units = "log10(cm-2 s-1 sr-1 keV-1)"
    ds = xr.Dataset(
        {
            "forecast": (
                ("time", "L"),
                forecast.values.astype(np.float64),
                {"long_name": "forecast log10 1 MeV electron flux", "units": units},
            ),
            "observed": (
                ("time", "L"),
                np.where(np.isfinite(forecast.values), observed.values, np.nan).astype(np.float64),
                {"long_name": "observed log10 1 MeV electron flux", "units": units},
            ),
        },
        coords={
            "time": ("time", time, {"long_name": "target (valid) time, bin start"}),
            "L": ("L", L, {"long_name": "L-shell (GEO bin at geo_L)", "units": "1"}),
            "split": ("time", split.astype(object), {"long_name": "chronological data split"}),
        },
        attrs={
            "model": str(model),
            "lead_bins": int(lead_bins),
            "lead_hours": _number(int(lead_bins) * float(bin_hours)),
            "seed": int(seed),
            "geo_L": float(geo_L),
        },
    )
    return write_store(ds, path, config=config)


def open_predictions(path: str | Path) -> xr.Dataset:
    """Load a predictions store fully into memory (:func:`eoml.core.store.open_store`).

    Raises :class:`~eoml.core.errors.InputFileError` naming ``path`` when it is missing, not a
    store, or lacks a predictions variable or attribute.
    """
    out = open_store(path).load()
    missing = [v for v in ("forecast", "observed", "split") if v not in out.variables]
    missing += [a for a in ("model", "lead_hours", "seed") if a not in out.attrs]
    if missing:
        from eoml.core.errors import InputFileError

        raise InputFileError(path, f"not a predictions store, lacks {missing}")
    # Zarr strings come back as numpy's variable-width StringDType: fixed-width str, as before
    out = out.assign_coords(split=out["split"].copy(data=out["split"].values.astype(object).astype(str)))
    return out


@dataclass
class Ensemble:
    """All seeds of one model at one lead: ``forecast`` is the ensemble mean over seeds."""

    model: str
    lead_hours: int | float
    seeds: list[int]
    forecast: xr.DataArray
    observed: xr.DataArray
    split: xr.DataArray
    geo_L: float = DEFAULT_GEO_L
    members: dict[int, xr.Dataset] = field(default_factory=dict, repr=False)


def load_ensembles(prediction_paths: Iterable[str | Path]) -> list[Ensemble]:
    """Group predictions files by (model, lead_hours), sorted by model name then lead.

    Several files of one model and lead (different seeds) are combined into the ensemble mean
    forecast (plain mean over seeds, so a sample missing in any seed stays missing). ``observed``
    is the union over the files (they hold the same target). Two files with the same model, lead
    and seed are an error.
    """
    groups: dict[tuple[str, int | float], dict[int, xr.Dataset]] = {}
    for p in prediction_paths:
        ds = open_predictions(p)
        key = (str(ds.attrs["model"]), _number(ds.attrs["lead_hours"]))
        seed = int(ds.attrs["seed"])
        members = groups.setdefault(key, {})
        if seed in members:
            raise ValueError(f"{p}: duplicate predictions for model={key[0]} lead={key[1]} h seed={seed}")
        members[seed] = ds
    out = []
    for (model, lead), members in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1])):
        seeds = sorted(members)
        fcs = [members[s]["forecast"].drop_vars("split") for s in seeds]
        obs = [members[s]["observed"].drop_vars("split") for s in seeds]
        fcs = xr.align(*fcs, join="outer")
        forecast = xr.concat(fcs, dim="seed").mean("seed", skipna=False) if len(fcs) > 1 else fcs[0]
        observed = obs[0]
        for o in obs[1:]:
            observed = observed.combine_first(o)
        observed, forecast = xr.align(observed, forecast, join="outer")
        split = members[seeds[0]]["split"].reindex(time=forecast["time"], fill_value="")
        out.append(
            Ensemble(
                model=model,
                lead_hours=lead,
                seeds=seeds,
                forecast=forecast,
                observed=observed,
                split=split.astype(str),
                geo_L=float(members[seeds[0]].attrs.get("geo_L", DEFAULT_GEO_L)),
                members=members,
            )
        )
    return out


def L_label(value: float, geo_L: float = DEFAULT_GEO_L) -> float | str:
    """``"GEO"`` for the GEO bin, else the L value rounded to one decimal."""
    if np.isclose(float(value), geo_L, atol=1e-6):
        return "GEO"
    return round(float(value), 1)


def _split_mask(split: np.ndarray, name: str) -> np.ndarray:
    if name == "val+test":
        return (split == "val") | (split == "test")
    return split == name


# ----------------------------------------------------------------------------------------------
# performance efficiency


def _pe_rows(forecast: xr.DataArray, observed: xr.DataArray, split: np.ndarray, geo_L: float) -> list[dict]:
    """Rows (split, L, pe) for one forecast: per L, GEO, then the L-average ``mean``."""
    f = forecast.transpose("time", "L").values
    y = observed.transpose("time", "L").values
    L_values = forecast["L"].values.astype(float)
    is_geo = np.isclose(L_values, geo_L, atol=1e-6)
    order = [j for j in np.argsort(L_values, kind="stable") if not is_geo[j]] + list(np.flatnonzero(is_geo))
    rows = []
    for name in PE_SPLITS:
        m = _split_mask(split, name)
        regular = []
        for j in order:
            pe = performance_efficiency(y[m, j], f[m, j])
            rows.append({"split": name, "L": L_label(L_values[j], geo_L), "pe": pe})
            if not is_geo[j] and np.isfinite(pe):
                regular.append(pe)
        rows.append({"split": name, "L": "mean", "pe": float(np.mean(regular)) if regular else np.nan})
    return rows


def pe_table(prediction_paths: Iterable[str | Path]) -> pd.DataFrame:
    """Performance efficiency table, columns exactly ``model, lead_hours, split, L, pe``.

    For each model and lead and each split ∈ {train, val, test, val+test}: PE per L-shell
    (numeric L rounded to 0.1), the ``GEO`` row, and ``mean`` = the average of the per-L PE over
    the non-GEO shells whose PE is finite (the paper's L-averaged PE). When a model has several
    seeds at one lead, the forecasts are first averaged over seeds (ensemble mean) and the PE is
    that of the ensemble mean; per-seed values are in :func:`pe_seed_table`. Rows are ordered by
    model name, lead, split (train, val, test, val+test), then L ascending, GEO, mean.
    """
    rows = []
    for ens in load_ensembles(prediction_paths):
        for r in _pe_rows(ens.forecast, ens.observed, ens.split.values, ens.geo_L):
            rows.append({"model": ens.model, "lead_hours": ens.lead_hours, **r})
    return pd.DataFrame(rows, columns=PE_COLUMNS)


def pe_seed_table(prediction_paths: Iterable[str | Path]) -> pd.DataFrame:
    """Per-file (per-seed) PE, columns ``model, lead_hours, seed, split, L, pe``."""
    rows = []
    for ens in load_ensembles(prediction_paths):
        for seed in ens.seeds:
            ds = ens.members[seed]
            for r in _pe_rows(ds["forecast"], ds["observed"], ds["split"].values, ens.geo_L):
                rows.append({"model": ens.model, "lead_hours": ens.lead_hours, "seed": seed, **r})
    return pd.DataFrame(rows, columns=PE_SEED_COLUMNS)


# ----------------------------------------------------------------------------------------------
# event onsets

EVENT_COLUMNS = ["L", "L_value", "t_start", "t_end", "level", "threshold"]


def _window_bins(window_hours: float, bin_hours: float) -> int:
    w = int(round(float(window_hours) / float(bin_hours)))
    if w < 1:
        raise ValueError(
            f"radbelt.onset.window_hours = {window_hours} is shorter than one {bin_hours:g} h bin "
            "(radbelt.grid.bin_hours); make it at least one bin"
        )
    return w


def _detect_1d(x: np.ndarray, rise: float, w: int) -> list[tuple[int, int]]:
    """(i_start, i_end) index pairs of the events of one series (see :func:`detect_onsets`)."""
    T = x.shape[0]
    tol = 1e-9
    ahead = sliding_window_view(np.concatenate([x[1:], np.full(w, np.nan)]), w)[:T]  # x[i+1..i+w]
    with np.errstate(invalid="ignore"):
        best = np.fmax.reduce(ahead, axis=1)
        cand = np.flatnonzero(np.isfinite(x) & (best - x >= rise - tol))
    first_cross: dict[int, int] = {}
    for i in cand:
        for d in range(1, w + 1):
            if i + d >= T or not np.isfinite(x[i + d]):
                break  # the rise must be observed without a gap
            if x[i + d] - x[i] >= rise - tol:
                first_cross[int(i)] = int(i + d)
                break
    events = []
    det = sorted(first_cross)
    k = 0
    while k < len(det):
        group = [det[k]]
        end = first_cross[det[k]]
        k += 1
        while k < len(det) and det[k] <= end:  # overlapping [i, j] intervals merge
            group.append(det[k])
            end = max(end, first_cross[det[k]])
            k += 1
        levels = x[group]
        start = group[int(np.flatnonzero(levels == levels.min())[-1])]  # last lowest pre-rise bin
        events.append((start, first_cross[start]))
    return events


def detect_onsets(
    observed: xr.DataArray,
    *,
    factor: float,
    window_hours: float,
    bin_hours: float,
    geo_L: float = DEFAULT_GEO_L,
) -> pd.DataFrame:
    """MeV-electron event onsets in an observed ``(time, L)`` log10 flux.

    With ``r = log10(factor)`` and ``w = round(window_hours / bin_hours)`` bins, at each L:

    1. bin ``i`` is a *detection* when ``x[i]`` is finite and some ``j ∈ (i, i + w]`` has
       ``x[j] − x[i] ≥ r`` with every bin ``i … j`` finite (the rise is observed without a gap);
       ``j*(i)`` is the first such ``j``;
    2. detections whose intervals ``[i, j*(i)]`` overlap are merged into one event;
    3. the event starts at ``t_start`` = the last bin holding the lowest flux among the merged
       detections (the last pre-rise bin), with ``level = x[t_start]``,
       ``threshold = level + r``, and ends at ``t_end = j*(t_start)``, the first bin exceeding
       that threshold.

    A slow rise (less than ``r`` within any ``w`` bins) is not an event. Returns a DataFrame with
    columns ``L`` (label: number or ``"GEO"``), ``L_value``, ``t_start``, ``t_end``, ``level``,
    ``threshold``, ordered by L then time.
    """
    rise = float(np.log10(factor))
    w = _window_bins(window_hours, bin_hours)
    obs = observed.transpose("time", "L")
    x_all = obs.values.astype(float)
    times = obs["time"].values
    L_values = obs["L"].values.astype(float)
    rows = []
    for j in np.argsort(L_values, kind="stable"):
        x = x_all[:, j]
        for s, e in _detect_1d(x, rise, w):
            rows.append(
                {
                    "L": L_label(L_values[j], geo_L),
                    "L_value": float(L_values[j]),
                    "t_start": times[s],
                    "t_end": times[e],
                    "level": float(x[s]),
                    "threshold": float(x[s]) + rise,
                }
            )
    df = pd.DataFrame(rows, columns=EVENT_COLUMNS)
    df["t_start"] = pd.to_datetime(df["t_start"])
    df["t_end"] = pd.to_datetime(df["t_end"])
    return df


def onset_success(
    events: pd.DataFrame,
    forecast: xr.DataArray,
    *,
    factor: float,
    window_hours: float,
    bin_hours: float,
    tolerance_bins: int = 0,
) -> pd.DataFrame:
    """Whether a forecast reproduces each event's onset.

    For an event at shell ``L_value`` with pre-event observed level ``level``, the threshold is
    ``level + log10(factor)`` (the same one the observation crossed). The forecast's leading
    edge ``t_forecast_edge`` is the first bin ``j`` in ``[t_start − w, t_end + w]``
    (``w = round(window_hours / bin_hours)`` bins) where the forecast crosses the threshold
    upward: ``f[j] ≥ threshold`` and ``f[j − 1] < threshold``, both finite. The event is a
    success when that edge exists and lies in ``[t_start − tolerance_bins, t_end +
    tolerance_bins]`` (inclusive; default tolerance 0 bins). A forecast already above the
    threshold before the window, or missing around the event, has no edge: failure.

    Returns a copy of ``events`` with columns ``t_forecast_edge`` (NaT when none) and
    ``success`` (bool) added.
    """
    rise = float(np.log10(factor))
    w = _window_bins(window_hours, bin_hours)
    fc = forecast.transpose("time", "L")
    f_all = fc.values.astype(float)
    times = pd.DatetimeIndex(fc["time"].values)
    L_values = fc["L"].values.astype(float)
    edges, success = [], []
    for ev in events.itertuples(index=False):
        jL = np.flatnonzero(np.isclose(L_values, float(ev.L_value), atol=1e-6))
        s = times.get_indexer([pd.Timestamp(ev.t_start)])[0]
        e = times.get_indexer([pd.Timestamp(ev.t_end)])[0]
        edge = None
        if jL.size and s >= 0 and e >= 0:
            f = f_all[:, jL[0]]
            thr = float(ev.level) + rise
            lo, hi = max(s - w, 1), min(e + w, len(times) - 1)
            with np.errstate(invalid="ignore"):
                for j in range(lo, hi + 1):
                    if np.isfinite(f[j]) and np.isfinite(f[j - 1]) and f[j] >= thr and f[j - 1] < thr:
                        edge = j
                        break
        if edge is None:
            edges.append(pd.NaT)
            success.append(False)
        else:
            edges.append(times[edge])
            success.append(bool(s - tolerance_bins <= edge <= e + tolerance_bins))
    out = events.copy()
    out["t_forecast_edge"] = pd.to_datetime(pd.Series(edges, index=out.index, dtype="datetime64[ns]"))
    out["success"] = pd.Series(success, index=out.index, dtype=bool)
    return out


def onset_table(prediction_paths: Iterable[str | Path], cfg: dict, tolerance_bins: int = 0) -> pd.DataFrame:
    """Per-event onset success of every model and lead.

    Events are detected once (:func:`detect_onsets`, ``cfg["onset"]`` factor and window) on the
    observed flux, the union over all prediction files, so every model is scored on the same
    events; each model's (ensemble-mean) forecast is then scored with :func:`onset_success`. An
    event's ``split`` is the split label at its ``t_end``. Columns exactly ``model, lead_hours,
    split, L, t_start, t_end, t_forecast_edge, success``; rows by model, lead, L, t_start.
    """
    factor = float(cfg["onset"]["factor"])
    window_hours = float(cfg["onset"]["window_hours"])
    ensembles = load_ensembles(prediction_paths)
    if not ensembles:
        return pd.DataFrame(columns=ONSET_COLUMNS)
    observed = ensembles[0].observed
    for ens in ensembles[1:]:
        observed = observed.combine_first(ens.observed)
    bin_hours = float(cfg["grid"]["bin_hours"])
    events = detect_onsets(observed, factor=factor, window_hours=window_hours, bin_hours=bin_hours,
                           geo_L=ensembles[0].geo_L)
    frames = []
    for ens in ensembles:
        fc = ens.forecast.reindex_like(observed)
        res = onset_success(events, fc, factor=factor, window_hours=window_hours, bin_hours=bin_hours,
                            tolerance_bins=tolerance_bins)
        split = ens.split.reindex(time=observed["time"], fill_value="").to_series()
        res["split"] = split.reindex(pd.DatetimeIndex(res["t_end"])).fillna("").to_numpy()
        res["model"] = ens.model
        res["lead_hours"] = ens.lead_hours
        frames.append(res.sort_values(["L_value", "t_start"], kind="stable"))
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=ONSET_COLUMNS)
    return table[ONSET_COLUMNS].reset_index(drop=True)


def onset_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Success rate per model, lead and split (train, val, test, val+test, all).

    Columns ``model, lead_hours, split, n_events, n_success, success_rate`` (rate NaN with no
    event).
    """
    rows = []
    if len(table):
        for (model, lead), g in table.groupby(["model", "lead_hours"], sort=True):
            for name in (*PE_SPLITS, "all"):
                sel = g if name == "all" else g[_split_mask(g["split"].to_numpy(str), name)]
                n, k = len(sel), int(sel["success"].astype(bool).sum())
                rows.append(
                    {
                        "model": model,
                        "lead_hours": lead,
                        "split": name,
                        "n_events": n,
                        "n_success": k,
                        "success_rate": k / n if n else np.nan,
                    }
                )
    return pd.DataFrame(rows, columns=ONSET_SUMMARY_COLUMNS)


# ----------------------------------------------------------------------------------------------
# Spearman lag correlations


def _spearman(x: np.ndarray, y: np.ndarray) -> float:
    keep = np.isfinite(x) & np.isfinite(y)
    if keep.sum() < 3:
        return float("nan")
    xs, ys = x[keep], y[keep]
    if np.all(xs == xs[0]) or np.all(ys == ys[0]):
        return float("nan")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(stats.spearmanr(xs, ys).statistic)


def _geo_source_index(L_values: np.ndarray, igeo: int, geo_input_L: float) -> int:
    """The non-GEO shell nearest ``geo_input_L`` (the GEO inputs' source, as in the models)."""
    if L_values.size == 1:
        return igeo
    return nearest_shell(L_values, geo_input_L, igeo, "features.geo_input_L")


def spearman_lags(
    ds: xr.Dataset,
    max_lag_bins: int,
    inputs: Sequence[str] = SPEARMAN_INPUTS,
    geo_input_L: float = 4.6,
) -> pd.DataFrame:
    """Spearman rank correlation of ``input(t − lag)`` with the target ``log10_flux_1mev(t)``.

    For lag = 0 … ``max_lag_bins`` bins, per L over the finite pairs (NaN with fewer than three
    pairs or a constant series). ``(time, L)`` inputs are taken at the same L (at GEO, at
    ``geo_input_L``, as the models do: the nearest non-GEO shell when the store does not hold
    that L, said in the log); ``(time,)`` inputs (``sw_speed``) are the same at every L. Also
    one ``L = "mean"`` row per input and lag: the average over the non-GEO shells with a finite
    rho. Columns ``input, lag_bins, lag_hours, L, rho``.
    """
    from eoml.radbelt.baselines import bin_hours_of, geo_index

    bin_hours = bin_hours_of(ds)
    y_all = ds[TARGET].transpose("time", "L").values.astype(float)
    L_values = ds["L"].values.astype(float)
    geo_L = float(ds.attrs.get("geo_L", DEFAULT_GEO_L))
    igeo = geo_index(L_values, geo_L)
    order = [j for j in np.argsort(L_values, kind="stable") if j != igeo] + ([igeo] if igeo is not None else [])
    rows = []
    needs_geo_src = igeo is not None and any("L" in ds[n].dims for n in inputs)
    geo_src = _geo_source_index(L_values, igeo, geo_input_L) if needs_geo_src else None
    for name in inputs:
        var = ds[name]
        if "L" in var.dims:
            x_all = var.transpose("time", "L").values.astype(float)
        else:
            x_all = np.repeat(var.values.astype(float)[:, None], L_values.size, axis=1)
        if igeo is not None and "L" in var.dims:
            src = geo_src
            x_all = x_all.copy()
            x_all[:, igeo] = x_all[:, src]
        for lag in range(int(max_lag_bins) + 1):
            regular = []
            for j in order:
                x = x_all[: x_all.shape[0] - lag, j]
                y = y_all[lag:, j]
                rho = _spearman(x, y)
                rows.append(
                    {
                        "input": name,
                        "lag_bins": lag,
                        "lag_hours": _number(lag * bin_hours),
                        "L": L_label(L_values[j], geo_L),
                        "rho": rho,
                    }
                )
                if j != igeo and np.isfinite(rho):
                    regular.append(rho)
            rows.append(
                {
                    "input": name,
                    "lag_bins": lag,
                    "lag_hours": _number(lag * bin_hours),
                    "L": "mean",
                    "rho": float(np.mean(regular)) if regular else np.nan,
                }
            )
    return pd.DataFrame(rows, columns=SPEARMAN_COLUMNS)


# ----------------------------------------------------------------------------------------------
# workflow entry points


def _write_csv(df: pd.DataFrame, path: str | Path) -> None:
    write_text_atomic(path, df.to_csv(index=False, date_format="%Y-%m-%dT%H:%M:%S"))


def evaluate(
    prediction_paths: Iterable[str | Path],
    pe_csv: str | Path,
    onsets_csv: str | Path,
    cfg: dict,
    *,
    pe_seeds_csv: str | Path | None = None,
    onsets_summary_csv: str | Path | None = None,
) -> None:
    """Write ``pe.csv``, ``pe_seeds.csv``, ``onsets.csv`` and ``onsets_summary.csv`` atomically.

    ``pe_seeds_csv`` defaults to ``pe_seeds.csv`` beside ``pe_csv``; ``onsets_summary_csv`` to
    ``onsets_summary.csv`` beside ``onsets_csv``. ``cfg`` is the radbelt config section.
    """
    paths = [Path(p) for p in prediction_paths]
    pe_csv, onsets_csv = Path(pe_csv), Path(onsets_csv)
    pe_seeds_csv = Path(pe_seeds_csv) if pe_seeds_csv else pe_csv.with_name("pe_seeds.csv")
    onsets_summary_csv = (
        Path(onsets_summary_csv) if onsets_summary_csv else onsets_csv.with_name("onsets_summary.csv")
    )
    _write_csv(pe_table(paths), pe_csv)
    _write_csv(pe_seed_table(paths), pe_seeds_csv)
    onsets = onset_table(paths, cfg)
    _write_csv(onsets, onsets_csv)
    _write_csv(onset_summary(onsets), onsets_summary_csv)
    log.info("wrote %s, %s, %s, %s", pe_csv, pe_seeds_csv, onsets_csv, onsets_summary_csv)


def spearman(store_path: str | Path, out_csv: str | Path, cfg: dict) -> None:
    """Write ``spearman.csv`` (see :func:`spearman_lags`) for the store's POES channels named in
    ``cfg["features"]["channels"]`` and the solar-wind speed, up to ``cfg["spearman_max_lag_bins"]``."""
    feats = cfg["features"]
    from eoml.core.store import open_store

    with open_store(store_path) as ds:
        ds = ds.load()
    inputs = [f"log10_{c}" for c in feats["channels"]] + ["sw_speed"]
    inputs = [n for n in inputs if n in ds]
    df = spearman_lags(
        ds,
        int(cfg["spearman_max_lag_bins"]),
        inputs,
        geo_input_L=float(feats["geo_input_L"]),
    )
    _write_csv(df, out_csv)
