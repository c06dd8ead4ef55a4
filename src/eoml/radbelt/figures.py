"""Paper figures of the radbelt study. Each function writes one PNG (200 dpi) and an SVG beside it.

Forecasts of models with several seeds are shown as the ensemble mean (as in ``pe.csv``).
Figures draw the L-shells the predictions hold: a requested shell that is not there (e.g. the
default ``timeseries_L`` on a store of L = 4.0-4.2 only) is replaced by the nearest one, said in
the figure and in the log.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from pathlib import Path

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.transforms import blended_transform_factory

from eoml.core.plotting import (
    OBSERVED_COLOR,
    OKABE_ITO,
    model_colors,
    paper_style,
    save_figure,
)

#: a model keeps its colour in every radbelt figure
COLORS = {
    "persistence": "#999999",
    "lpf": OKABE_ITO[4],
    "linreg": OKABE_ITO[0],
    "mlp": OKABE_ITO[2],
    "cnn": OKABE_ITO[1],
    "lstm": OKABE_ITO[3],
}
import matplotlib.pyplot as plt  # noqa: E402,I001  (after eoml.core.plotting chose Agg)

from eoml.radbelt.evaluate import DEFAULT_GEO_L, Ensemble, load_ensembles

log = logging.getLogger(__name__)

#: A requested L within this of a shell centre is that shell (half the 0.1 L bin, and a margin).
L_MATCH = 0.051

FLUX_LABEL = "log$_{10}$ flux (cm$^{-2}$ s$^{-1}$ sr$^{-1}$ keV$^{-1}$)"
INPUT_NAMES = {
    "log10_e2": "POES E2",
    "log10_e3": "POES E3",
    "log10_p6": "POES P6",
    "sw_speed": "solar-wind speed",
}


# ----------------------------------------------------------------------------------------------
# helpers


def _at_lead(prediction_paths: Iterable[str | Path], lead_hours: float) -> list[Ensemble]:
    ens = [e for e in load_ensembles(prediction_paths) if np.isclose(float(e.lead_hours), float(lead_hours))]
    if not ens:
        raise ValueError(f"no predictions at lead {lead_hours} h")
    return ens


def _union_observed(ensembles: Sequence[Ensemble]):
    observed = ensembles[0].observed
    for e in ensembles[1:]:
        observed = observed.combine_first(e.observed)
    return observed.transpose("time", "L")


def _time_num(times) -> np.ndarray:
    return mdates.date2num(np.asarray(times, dtype="datetime64[ns]"))


def _step_days(times: np.ndarray) -> float:
    t = _time_num(times)
    return float(np.median(np.diff(t))) if t.size > 1 else 5.0 / 24.0


def _split_segments(times: np.ndarray, split: np.ndarray) -> list[tuple[str, float, float]]:
    """(label, start, end) in matplotlib date numbers for each contiguous split run."""
    t = _time_num(times)
    step = _step_days(times)
    segs = []
    start = 0
    for i in range(1, len(split) + 1):
        if i == len(split) or split[i] != split[start]:
            if split[start]:
                segs.append((str(split[start]), t[start], t[i - 1] + step))
            start = i
    return segs


def _mark_splits(ax, segs, label: bool, color="k") -> None:
    for k, (_, s, _) in enumerate(segs):
        if k > 0:
            ax.axvline(s, color=color, lw=0.8, ls="--")
    if label:
        trans = blended_transform_factory(ax.transData, ax.transAxes)
        for name, s, e in segs:
            ax.text((s + e) / 2, 1.02, name, transform=trans, ha="center", va="bottom", fontsize=7.5)


def _date_axis(ax) -> None:
    loc = mdates.AutoDateLocator()
    ax.xaxis.set_major_locator(loc)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(loc))


def _L_edges(L_values: np.ndarray, geo_L: float) -> tuple[np.ndarray, np.ndarray]:
    """Cell edges for the L axis and the order of rows; the GEO bin is drawn apart (with an
    empty band between the last regular shell and GEO). Returns (edges, row index or −1 for the
    empty band)."""
    L_values = np.asarray(L_values, dtype=float)
    is_geo = np.isclose(L_values, geo_L, atol=1e-6)
    reg = np.flatnonzero(~is_geo)
    reg = reg[np.argsort(L_values[reg])]
    Lr = L_values[reg]
    d = float(np.median(np.diff(Lr))) if Lr.size > 1 else 0.1
    edges = list(np.concatenate([[Lr[0] - d / 2], (Lr[:-1] + Lr[1:]) / 2, [Lr[-1] + d / 2]])) if Lr.size else []
    rows = list(reg)
    if is_geo.any():
        g = int(np.flatnonzero(is_geo)[0])
        lo = geo_L - d
        if not edges:
            edges.append(lo)
        elif lo > edges[-1] + 1e-9:
            edges.append(lo)
            rows.append(-1)
        edges.append(geo_L + d)
        rows.append(g)
    return np.asarray(edges), np.asarray(rows)


def _L_ticks(ax, L_values: np.ndarray, geo_L: float, axis: str = "y") -> None:
    L_values = np.asarray(L_values, dtype=float)
    reg = L_values[~np.isclose(L_values, geo_L, atol=1e-6)]
    ticks = [float(v) for v in np.arange(np.ceil(reg.min()), np.floor(reg.max()) + 1)] if reg.size else []
    if reg.size and len(ticks) < 2:  # a narrow L range (e.g. 4.0-4.2): tick its own shells
        shells = np.unique(np.round(reg, 1))
        ticks = [float(v) for v in shells[:: int(np.ceil(shells.size / 6))]]
    labels = [f"{v:g}" for v in ticks]
    if np.isclose(L_values, geo_L, atol=1e-6).any():
        ticks.append(geo_L)
        labels.append("GEO")
    if axis == "y":
        ax.set_yticks(ticks, labels)
    else:
        ax.set_xticks(ticks, labels)


def nearest_shells(
    requested: Sequence[float], axis_L: np.ndarray, geo_L: float
) -> list[tuple[int, list[float]]]:
    """The shells of ``axis_L`` to draw for the ``requested`` L values.

    Each requested value maps to the shell within :data:`L_MATCH` of it, else to the nearest
    non-GEO shell (GEO only when GEO itself is requested, or when there is no other shell);
    shells chosen twice are drawn once. Returns ``(index into axis_L, the requested values it
    stands for)`` in the order first requested.
    """
    axis_L = np.asarray(axis_L, dtype=float)
    if axis_L.size == 0:
        raise ValueError("the predictions hold no L-shell")
    is_geo = np.isclose(axis_L, geo_L, atol=1e-6)
    regular = np.flatnonzero(~is_geo) if (~is_geo).any() else np.arange(axis_L.size)
    chosen: dict[int, list[float]] = {}
    for value in requested:
        v = float(value)
        j = int(np.argmin(np.abs(axis_L - v)))
        if abs(axis_L[j] - v) > L_MATCH or (is_geo[j] and not np.isclose(v, geo_L, atol=L_MATCH)):
            j = int(regular[np.argmin(np.abs(axis_L[regular] - v))])
        chosen.setdefault(j, []).append(v)
    return list(chosen.items())


def _L_text(value: float, geo_L: float) -> str:
    return "GEO" if np.isclose(value, geo_L, atol=1e-6) else f"{value:.1f}"


# ----------------------------------------------------------------------------------------------
# figures


def plot_lt_maps(prediction_paths: Iterable[str | Path], out_png: str | Path, lead_hours: float) -> Path:
    """Observed and forecast L–time maps at one lead: a panel for the observations and one per
    model (ensemble mean over seeds), one shared colour bar, split boundaries as dashed lines
    with their names above the top panel. The GEO bin is drawn as a separate band at L = 6.6."""
    ensembles = _at_lead(prediction_paths, lead_hours)
    observed = _union_observed(ensembles)
    geo_L = ensembles[0].geo_L
    times = observed["time"].values
    L_values = observed["L"].values.astype(float)
    edges, rows = _L_edges(L_values, geo_L)
    step = _step_days(times)
    t_edges = np.concatenate([_time_num(times), [_time_num(times)[-1] + step]])

    def grid(values: np.ndarray) -> np.ndarray:
        out = np.full((values.shape[0], rows.size), np.nan)
        ok = rows >= 0
        out[:, ok] = values[:, rows[ok]]
        return out.T  # (L rows, time)

    obs = observed.values
    finite = obs[np.isfinite(obs)]
    vmin, vmax = (np.percentile(finite, [1, 99.5]) if finite.size else (0.0, 1.0))
    panels = [("observed", obs)] + [
        (f"{e.model}" + (f" (mean of {len(e.seeds)} seeds)" if len(e.seeds) > 1 else ""),
         e.forecast.reindex_like(observed).transpose("time", "L").values)
        for e in ensembles
    ]
    segs = _split_segments(times, ensembles[0].split.reindex(time=observed["time"], fill_value="").values)
    with paper_style():
        fig, axes = plt.subplots(
            len(panels), 1, figsize=(7.0, 0.6 + 1.3 * len(panels)), sharex=True, squeeze=False
        )
        axes = axes[:, 0]
        mesh = None
        for ax, (title, values) in zip(axes, panels, strict=True):
            mesh = ax.pcolormesh(t_edges, edges, grid(values), cmap="viridis", vmin=vmin, vmax=vmax,
                                 shading="flat", rasterized=True)
            ax.set_ylabel("L")
            _L_ticks(ax, L_values, geo_L)
            ax.text(0.008, 0.93, title, transform=ax.transAxes, ha="left", va="top", fontsize=8,
                    bbox={"fc": "w", "ec": "none", "alpha": 0.85, "pad": 1.5})
            _mark_splits(ax, segs, label=ax is axes[0], color="w")
        _date_axis(axes[-1])
        axes[0].set_title(f"1 MeV electrons, {lead_hours:g} h forecast", loc="left", pad=12)
        fig.colorbar(mesh, ax=list(axes), label=FLUX_LABEL, shrink=0.9, aspect=30, pad=0.01)
        return save_figure(fig, out_png)[0]


def plot_pe_vs_L(pe_csv: str | Path, out_png: str | Path) -> Path:
    """PE versus L per model, one panel per lead: test split solid, val+test dashed; the GEO
    value as a marker at L = 6.6; the test-split L-averaged PE in the legend; a line at PE = 0."""
    df = pd.read_csv(pe_csv)
    df["L_num"] = pd.to_numeric(df["L"], errors="coerce")
    leads = sorted(df["lead_hours"].unique())
    models = sorted(df["model"].unique())
    colors = model_colors(models, COLORS)
    with paper_style():
        fig, axes = plt.subplots(1, len(leads), figsize=(3.4 * len(leads), 2.6), sharey=True, squeeze=False)
        axes = axes[0]
        lows = []
        for ax, lead in zip(axes, leads, strict=True):
            d = df[df["lead_hours"] == lead]
            handles = []
            for model in models:
                m = d[d["model"] == model]
                c = colors[model]
                mean = m[(m["split"] == "test") & (m["L"] == "mean")]["pe"]
                mean_txt = f"{float(mean.iloc[0]):.2f}" if len(mean) and np.isfinite(mean.iloc[0]) else "n/a"
                for split, ls, fill in (("test", "-", c), ("val+test", "--", "none")):
                    s = m[(m["split"] == split) & m["L_num"].notna()].sort_values("L_num")
                    ax.plot(s["L_num"], s["pe"], ls=ls, color=c, lw=1.0)
                    g = m[(m["split"] == split) & (m["L"] == "GEO")]
                    if len(g):
                        ax.plot([DEFAULT_GEO_L], g["pe"].to_numpy(float), marker="o", ls="none", color=c,
                                mfc=fill, ms=4)
                    lows.extend(s["pe"].to_numpy(float))
                handles.append(Line2D([], [], color=c, label=f"{model} (test ⟨PE⟩ = {mean_txt})"))
            ax.axhline(0, color="0.5", lw=0.6)
            ax.set_title(f"{lead:g} h forecast", loc="left")
            ax.set_xlabel("L")
            Ls = pd.concat([d["L_num"].dropna(), pd.Series([DEFAULT_GEO_L] if (d["L"] == "GEO").any() else [])])
            if len(Ls):
                _L_ticks(ax, Ls.to_numpy(float), DEFAULT_GEO_L, axis="x")
            handles += [
                Line2D([], [], color="0.3", ls="-", label="test"),
                Line2D([], [], color="0.3", ls="--", label="val+test"),
            ]
            ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2)
        axes[0].set_ylabel("performance efficiency")
        finite = np.asarray(lows, dtype=float)
        finite = finite[np.isfinite(finite)]
        lo = max(float(finite.min()) - 0.05, -1.0) if finite.size else -0.1
        axes[0].set_ylim(min(lo, -0.05), 1.02)
        return save_figure(fig, out_png)[0]


def plot_timeseries(
    prediction_paths: Iterable[str | Path],
    onsets_csv: str | Path,
    out_png: str | Path,
    L_values: Sequence[float],
    lead_hours: float,
) -> Path:
    """Observed and forecast log10 flux at the given L-shells (one panel each) for one lead, with
    the observed event windows ``[t_start, t_end]`` from ``onsets.csv`` shaded and the split
    boundaries dashed.

    ``L_values`` not held by the predictions are drawn at the nearest shell they hold
    (:func:`nearest_shells`; a shell is drawn once): the panel says which L was requested, the
    title says that substitutes are shown, and the substitution is logged (WARNING)."""
    ensembles = _at_lead(prediction_paths, lead_hours)
    observed = _union_observed(ensembles)
    axis_L = observed["L"].values.astype(float)
    geo_L = ensembles[0].geo_L
    shells = nearest_shells(L_values, axis_L, geo_L)
    substituted = False
    for j, asked in shells:
        moved = [v for v in asked if abs(axis_L[j] - v) > L_MATCH]
        if moved:
            substituted = True
            log.warning("time-series figure: L = %s not in the predictions (they hold L = %s); drawing L = %s",
                        ", ".join(f"{v:g}" for v in moved),
                        ", ".join(_L_text(v, geo_L) for v in np.unique(axis_L)), _L_text(axis_L[j], geo_L))
    times = observed["time"].values
    tnum = _time_num(times)
    colors = model_colors([e.model for e in ensembles], COLORS)
    events = pd.read_csv(onsets_csv)
    if len(events):
        geo = events["L"].astype(str) == "GEO"
        events["L_num"] = pd.to_numeric(events["L"], errors="coerce").where(~geo, ensembles[0].geo_L)
        events = events.drop_duplicates(["L", "t_start", "t_end"])
    segs = _split_segments(times, ensembles[0].split.reindex(time=observed["time"], fill_value="").values)
    with paper_style():
        fig, axes = plt.subplots(len(shells), 1, figsize=(7.0, 0.5 + 1.5 * len(shells)), sharex=True,
                                 squeeze=False)
        axes = axes[:, 0]
        for ax, (j, asked) in zip(axes, shells, strict=True):
            if len(events):
                ev = events[np.isclose(events["L_num"].to_numpy(float), axis_L[j], atol=1e-6)]
                for s, e in zip(pd.to_datetime(ev["t_start"]), pd.to_datetime(ev["t_end"]), strict=True):
                    ax.axvspan(_time_num([s.to_datetime64()])[0], _time_num([e.to_datetime64()])[0],
                               color="0.85", lw=0, zorder=0)
            ax.plot(tnum, observed.values[:, j], color=OBSERVED_COLOR, lw=1.1, label="observed")
            for e in ensembles:
                f = e.forecast.reindex_like(observed).transpose("time", "L").values[:, j]
                ax.plot(tnum, f, color=colors[e.model], lw=0.8, label=e.model)
            _mark_splits(ax, segs, label=ax is axes[0])
            label = f"L = {axis_L[j]:.1f}"
            if any(abs(axis_L[j] - v) > L_MATCH for v in asked):
                label += f" (nearest to the requested L = {', '.join(f'{v:g}' for v in asked)})"
            ax.text(0.005, 0.95, label, transform=ax.transAxes, ha="left", va="top")
        _date_axis(axes[-1])
        title = f"{lead_hours:g} h forecasts (shaded: observed event windows)"
        if substituted:
            title += "; requested L not in the data: nearest shell shown"
        axes[0].set_title(title, loc="left", pad=12)
        fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center",
                   ncol=len(ensembles) + 1)
        fig.supylabel(FLUX_LABEL, fontsize=8)
        return save_figure(fig, out_png)[0]


def plot_spearman(spearman_csv: str | Path, out_png: str | Path) -> Path:
    """L-averaged Spearman rho between each input at t − lag and the target at t, versus lag in
    hours; the lag of the largest |rho| is marked."""
    df = pd.read_csv(spearman_csv)
    df = df[df["L"].astype(str) == "mean"]
    inputs = list(dict.fromkeys(df["input"]))
    with paper_style():
        fig, ax = plt.subplots(figsize=(3.5, 2.6))
        for name in inputs:
            d = df[df["input"] == name].sort_values("lag_hours")
            (line,) = ax.plot(d["lag_hours"], d["rho"], marker="o", ms=2.5, label=INPUT_NAMES.get(name, name))
            rho = d["rho"].to_numpy(float)
            if np.isfinite(rho).any():
                k = int(np.nanargmax(np.abs(rho)))
                ax.plot(d["lag_hours"].iloc[k], rho[k], marker="o", ms=6, mfc="none", color=line.get_color())
        ax.axhline(0, color="0.5", lw=0.6)
        ax.set_xlabel("lag of input (h)")
        ax.set_ylabel("Spearman ρ (L-averaged)")
        ax.legend(loc="best")
        return save_figure(fig, out_png)[0]
