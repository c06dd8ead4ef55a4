"""aot figures: forecast maps, precision–recall curves, input length and batch size, thresholds,
and a world map of per-pixel skill against persistence.

Each ``plot_*`` function writes one PNG (200 dpi) and an SVG beside it
(:func:`eoml.core.plotting.save_figure`, inside :func:`~eoml.core.plotting.paper_style`) and
returns their paths. Inputs are paths (the CLI passes them as they are):

* ``store`` — the study's Zarr store (:func:`eoml.aot.ingest.ingest`): ``aot``, ``valid``,
  ``target`` ``(time, lat, lon)``, ``lat`` descending;
* ``predictions`` — the prediction stores of every trained run and baseline
  (:func:`eoml.aot.train.write_predictions`): ``probability (time, lat, lon)``, coordinate
  ``split``, attributes ``model``, ``config``, ``seed`` (-1 for a baseline), ``n_frames``,
  ``batch_size``;
* ``scores`` — ``scores.csv`` (:func:`eoml.aot.evaluate.score_predictions`; a
  :class:`pandas.DataFrame` is accepted too).

Conventions are evaluate's: pixels are pooled over every pixel of every target frame (unread
pixels are 0 targets, as the paper labels them) and a pixel is forecast high where
``probability >= threshold``, the threshold of each run being its ``threshold`` in ``scores.csv``
(chosen on validation). A model's *best configuration* is the one of highest validation AUC-PR,
mean over seeds (as the paper's table 4, :func:`best_configs`), and its maps and curves come from
its lowest seed; a baseline is its own configuration. Colours per model from
:func:`eoml.core.plotting.model_colors` (persistence dark grey, climatology light grey).

* :func:`plot_maps` — for test targets evenly spaced through the test period: the last (at most
  four) input composites' AOT, the target mask, and every model's probability map and mask, the
  mask drawn as hits / false alarms / misses against the target with its F1 in the title.
* :func:`plot_pr_curves` — test precision–recall curves (scikit-learn), AP in the legend, the
  point of the chosen threshold marked, the no-skill line at the positive rate.
* :func:`plot_input_length` / :func:`plot_batch_size` — test AUC-PR and RMSE against input length
  T / batch size of the configurations of each model's best family (its best configuration with
  only that axis varied): mean over seeds with a ±2σ band (σ over seeds, ddof 0 as table 3), every
  seed a faint dot, persistence (dashed) and climatology (dotted) as horizontal lines.
* :func:`plot_thresholds` — validation F1, accuracy and Jaccard against the threshold
  (:func:`threshold_scores`), the chosen threshold marked on every curve.
* :func:`plot_skill_map` — per-pixel Brier skill score over the test targets against
  persistence, ``1 - BS_model / BS_persistence`` (:func:`brier_skill`), of the best model (the
  run whose best configuration has the highest test AUC-PR, mean over seeds) and of climatology;
  NaN (grey) where persistence is never wrong.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import xarray as xr
from matplotlib.colors import ListedColormap
from matplotlib.patches import Patch
from sklearn.metrics import average_precision_score, f1_score, precision_recall_curve

from eoml.aot.predictions import PathLike, Prediction, read_predictions
from eoml.aot.runs import AXES, BASELINES
from eoml.aot.runs import family as _family
from eoml.core.errors import InputFileError
from eoml.core.plotting import model_colors, paper_style, save_figure
from eoml.core.store import open_store

__all__ = [
    "Prediction", "best_configs", "brier_skill", "plot_batch_size", "plot_input_length", "plot_maps",
    "plot_pr_curves", "plot_skill_map", "plot_thresholds", "read_predictions", "read_scores",
    "select_predictions", "threshold_scores",
]

SCORE_NEEDS = ("model", "config", "seed", "split", "threshold", "rmse", "acc", "f1", "jaccard", "auc_pr",
               "n_frames", "batch_size")
BASELINE_COLORS = {"persistence": "#4d4d4d", "climatology": "#a6a6a6"}
UNREAD = "#b0b0b0"
AOT_CMAP = "YlOrBr"
PROB_CMAP = "viridis"
SKILL_CMAP = "RdBu"
#: target panel: below the threshold, above it, unread
TARGET_COLORS = ("#f4f1e8", "#b2182b", UNREAD)
#: forecast mask panel: correct negative, hit, false alarm, miss
MASK_COLORS = ("#f4f1e8", "#b2182b", "#E69F00", "#0072B2")
N_INPUTS = 4
THRESHOLD_GRID = np.linspace(0.0, 1.0, 101)
CURVE_LABELS = {"f1": "F1", "acc": "accuracy", "jaccard": "Jaccard"}
SWEEP_METRICS = {"auc_pr": "test AUC-PR", "rmse": "test RMSE"}


# --------------------------------------------------------------------------------------------
# inputs
# --------------------------------------------------------------------------------------------
def read_scores(scores: PathLike | pd.DataFrame) -> pd.DataFrame:
    """``scores.csv`` (or the table itself), its columns checked."""
    table = scores.copy() if isinstance(scores, pd.DataFrame) else pd.read_csv(scores)
    missing = [c for c in SCORE_NEEDS if c not in table.columns]
    if missing:
        where = "scores table" if isinstance(scores, pd.DataFrame) else scores
        raise InputFileError(where, f"needs the column(s) {missing} (has {list(table.columns)})")
    table["model"] = table["model"].astype(str)
    table["config"] = table["config"].astype(str)
    return table


def _order(models) -> list[str]:
    """Trained models sorted by name, then the baselines in :data:`BASELINES` order."""
    models = set(models)
    return sorted(m for m in models if m not in BASELINES) + [b for b in BASELINES if b in models]


def _colors(models) -> dict[str, str]:
    return model_colors(_order(models), fixed=BASELINE_COLORS)


def best_configs(scores: pd.DataFrame, available: set[tuple[str, str]] | None = None) -> dict[str, str]:
    """``{model: config}``: each model's configuration of highest validation AUC-PR (mean over
    seeds), among the ``(model, config)`` pairs of ``available`` when given; models in
    :func:`_order` order."""
    val = scores[scores["split"] == "val"]
    if available is not None:
        keys = list(zip(val["model"], val["config"], strict=True))
        val = val[[k in available for k in keys]]
    mean = val.groupby(["model", "config"], sort=True)["auc_pr"].mean().reset_index()
    mean = mean.sort_values(["model", "auc_pr", "config"], ascending=[True, False, True], na_position="last",
                            kind="stable")
    best = dict(mean.groupby("model", sort=False).head(1)[["model", "config"]].itertuples(index=False, name=None))
    return {m: best[m] for m in _order(best)}


def select_predictions(preds: Sequence[Prediction], scores: pd.DataFrame) -> dict[str, Prediction]:
    """``{model: prediction}``: the lowest seed of each model's best configuration
    (:func:`best_configs` among the configurations that have a prediction store)."""
    best = best_configs(scores, {(p.model, p.config) for p in preds})
    out = {}
    for model, config in best.items():
        out[model] = min((p for p in preds if p.model == model and p.config == config), key=lambda p: p.seed)
    if not out:
        raise ValueError("no prediction store has validation scores in the scores table")
    return out


def _threshold(scores: pd.DataFrame, pred: Prediction) -> float:
    row = scores[(scores["model"] == pred.model) & (scores["config"] == pred.config)
                 & (scores["seed"] == pred.seed) & (scores["split"] == "val")]
    if row.empty:
        raise ValueError(f"the scores table has no validation row for {pred.config} seed {pred.seed} ({pred.path})")
    return float(row["threshold"].iloc[0])


def _store(store: PathLike) -> xr.Dataset:
    ds = open_store(store)
    for name in ("aot", "valid", "target"):
        if name not in ds:
            raise InputFileError(store, f"aot store without the variable {name!r}")
    lat = ds["lat"].values
    if lat.size > 1 and not np.all(np.diff(lat) < 0):
        raise InputFileError(store, "latitudes must descend (row 0 northernmost)")
    return ds


def _inputs(store: PathLike, predictions: Sequence[PathLike], scores: PathLike | pd.DataFrame):
    """The store, the scores table and the prediction of each model's best configuration."""
    table = read_scores(scores)
    return _store(store), table, select_predictions(read_predictions(predictions), table)


def _extent(ds: xr.Dataset) -> tuple[float, float, float, float]:
    lat, lon = ds["lat"].values, ds["lon"].values
    dlat = abs(float(lat[1] - lat[0])) if lat.size > 1 else 180.0
    dlon = abs(float(lon[1] - lon[0])) if lon.size > 1 else 360.0
    return (float(lon.min()) - dlon / 2, float(lon.max()) + dlon / 2,
            float(lat.min()) - dlat / 2, float(lat.max()) + dlat / 2)


def _degrees(values, neg: str, pos: str) -> list[str]:
    return [f"{abs(v):g}°{neg if v < 0 else pos if v > 0 else ''}" for v in values]


def _geo_axes(ax, extent, *, xlabels: bool, ylabels: bool, dense: bool = False) -> None:
    """Longitude / latitude ticks (every 60° / 30° on large maps, 120° / 60° on small panels)."""
    lons = [-120, -60, 0, 60, 120] if dense else [-120, 0, 120]
    lats = [-60, -30, 0, 30, 60] if dense else [-60, 0, 60]
    ax.set_xlim(extent[0], extent[1])
    ax.set_ylim(extent[2], extent[3])
    ax.set_xticks(lons, _degrees(lons, "W", "E") if xlabels else [])
    ax.set_yticks(lats, _degrees(lats, "S", "N") if ylabels else [])
    ax.tick_params(length=2, labelsize=6)


def _cmap(name: str, bad: str = UNREAD):
    return plt.get_cmap(name).with_extremes(bad=bad)


def _date(t) -> str:
    return str(np.datetime64(t, "D"))


# --------------------------------------------------------------------------------------------
# scores
# --------------------------------------------------------------------------------------------
def threshold_scores(y: np.ndarray, prob: np.ndarray, thresholds: Sequence[float]) -> dict[str, np.ndarray]:
    """Accuracy, F1 and Jaccard of the masks ``prob >= threshold`` against 0 / 1 targets ``y`` at
    every threshold, pooled over all pixels (scikit-learn's definitions, ``zero_division=0``; the
    same numbers as :func:`eoml.aot.evaluate.scores`), from the sorted probabilities in one pass."""
    y = np.asarray(y).ravel().astype(bool)
    prob = np.asarray(prob, dtype=np.float64).ravel()
    thr = np.asarray(thresholds, dtype=np.float64)
    n, n_pos = y.size, int(y.sum())
    predicted = n - np.searchsorted(np.sort(prob), thr, side="left")          # prob >= thr
    tp = n_pos - np.searchsorted(np.sort(prob[y]), thr, side="left")
    fp, fn = predicted - tp, n_pos - tp
    tn = n - n_pos - fp

    def ratio(num, den):
        return np.where(den > 0, num / np.where(den > 0, den, 1), 0.0)

    return {"f1": ratio(2 * tp, 2 * tp + fp + fn), "acc": (tp + tn) / max(n, 1),
            "jaccard": ratio(tp, tp + fp + fn)}


def brier_skill(target: np.ndarray, prob: np.ndarray, reference: np.ndarray) -> tuple[np.ndarray, float]:
    """Per-pixel Brier skill score of ``prob`` against ``reference`` over the frames (axis 0) of
    the 0 / 1 ``target``: ``1 - BS / BS_ref`` with ``BS = mean_t (p - y)^2``, NaN where
    ``BS_ref`` is 0; and the pooled score ``1 - ΣBS / ΣBS_ref`` over all pixels."""
    y = np.asarray(target, dtype=np.float64)
    bs = np.mean((np.asarray(prob, dtype=np.float64) - y) ** 2, axis=0)
    bs_ref = np.mean((np.asarray(reference, dtype=np.float64) - y) ** 2, axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        skill = np.where(bs_ref > 0, 1.0 - bs / np.where(bs_ref > 0, bs_ref, 1.0), np.nan)
    total = float(bs_ref.sum())
    return skill, (1.0 - float(bs.sum()) / total) if total > 0 else float("nan")


# --------------------------------------------------------------------------------------------
# 1. maps
# --------------------------------------------------------------------------------------------
def _test_dates(chosen: Mapping[str, Prediction], n_dates: int) -> np.ndarray:
    common = None
    for pred in chosen.values():
        t = pred.ds["time"].values[pred.splits == "test"]
        common = t if common is None else np.intersect1d(common, t)
    common = np.sort(common)
    if common.size == 0:
        raise ValueError("the prediction stores share no test target")
    pick = np.unique(np.round(np.linspace(0, common.size - 1, max(int(n_dates), 1))).astype(int))
    return common[pick]


def plot_maps(store: PathLike, predictions: Sequence[PathLike], scores: PathLike | pd.DataFrame,
              output: PathLike, n_dates: int = 2) -> tuple[Path, Path]:
    """Input sequence, target and every model's probability map and mask for ``n_dates`` test
    targets evenly spaced through the test period (one block of three rows per date)."""
    ds, table, chosen = _inputs(store, predictions, scores)
    models = list(chosen)
    thresholds = {m: _threshold(table, p) for m, p in chosen.items()}
    store_times = pd.Index(ds["time"].values)
    dates = _test_dates(chosen, n_dates)
    threshold_aot = float(ds.attrs["threshold_aot"])
    extent = _extent(ds)
    ncols = max(N_INPUTS + 1, len(models))
    aot_cmap, prob_cmap = _cmap(AOT_CMAP), _cmap(PROB_CMAP)
    target_cmap, mask_cmap = ListedColormap(TARGET_COLORS), ListedColormap(MASK_COLORS)
    kw = {"extent": extent, "origin": "upper", "interpolation": "nearest", "aspect": "equal"}
    with paper_style():
        fig, axes = plt.subplots(3 * len(dates), ncols, squeeze=False,
                                 figsize=(1.45 * ncols + 1.0, 1.0 * 3 * len(dates) + 0.5))
        for ax in axes.flat:
            ax.set_visible(False)
        for b, date in enumerate(dates):
            t = int(store_times.get_loc(date))
            r0 = 3 * b
            frames = list(range(max(t - N_INPUTS, 0), t))
            aot_im = None
            for c, k in enumerate(frames):
                ax = axes[r0, c]
                ax.set_visible(True)
                aot_im = ax.imshow(ds["aot"].isel(time=k).values, cmap=aot_cmap, vmin=0, vmax=2 * threshold_aot, **kw)
                ax.set_title(f"AOT {_date(ds['time'].values[k])} (t−{t - k})", fontsize=7)
                _geo_axes(ax, extent, xlabels=False, ylabels=c == 0)
            y = ds["target"].isel(time=t).values.astype(bool)
            valid = ds["valid"].isel(time=t).values.astype(bool)
            ax = axes[r0, len(frames)]
            ax.set_visible(True)
            ax.imshow(np.where(valid, y.astype(int), 2), cmap=target_cmap, vmin=-0.5, vmax=2.5, **kw)
            ax.set_title(f"target {_date(date)}\n(AOT > {threshold_aot:g}: {100 * y.mean():.1f} %)", fontsize=7)
            _geo_axes(ax, extent, xlabels=False, ylabels=not frames)
            if aot_im is not None:
                cb = fig.colorbar(aot_im, ax=axes[r0, :], shrink=0.9, extend="max", label="AOT 550 nm")
                cb.ax.axhline(threshold_aot, color="k", lw=0.8)
            prob_im = None
            for c, model in enumerate(models):
                pred = chosen[model]
                i = int(np.flatnonzero(pred.ds["time"].values == date)[0])
                p = pred.ds["probability"].isel(time=i).values
                ax = axes[r0 + 1, c]
                ax.set_visible(True)
                prob_im = ax.imshow(p, cmap=prob_cmap, vmin=0, vmax=1, **kw)
                ax.set_title(pred.label, fontsize=7)
                _geo_axes(ax, extent, xlabels=False, ylabels=c == 0)
                mask = p >= thresholds[model]
                ax = axes[r0 + 2, c]
                ax.set_visible(True)
                category = np.select([y & mask, ~y & mask, y & ~mask], [1, 2, 3], 0)
                ax.imshow(category, cmap=mask_cmap, vmin=-0.5, vmax=3.5, **kw)
                f1 = f1_score(y.ravel(), mask.ravel(), zero_division=0.0)
                ax.set_title(f"mask ≥ {thresholds[model]:.2f}: F1 {f1:.2f}", fontsize=7)
                _geo_axes(ax, extent, xlabels=True, ylabels=c == 0)
            fig.colorbar(prob_im, ax=axes[r0 + 1, :], shrink=0.9, label="probability")
        fig.legend(handles=[Patch(facecolor=TARGET_COLORS[0], edgecolor="0.6", label=f"target ≤ {threshold_aot:g}"),
                            Patch(facecolor=TARGET_COLORS[1], label=f"target > {threshold_aot:g}"),
                            Patch(facecolor=UNREAD, label="unread"),
                            Patch(facecolor=MASK_COLORS[0], edgecolor="0.6", label="mask: correct low"),
                            Patch(facecolor=MASK_COLORS[1], label="hit"),
                            Patch(facecolor=MASK_COLORS[2], label="false alarm"),
                            Patch(facecolor=MASK_COLORS[3], label="miss")],
                   loc="outside lower center", ncol=7)
        fig.suptitle("High-AOT forecasts of test composites (best configuration of each model, lowest seed)")
        return save_figure(fig, output)


# --------------------------------------------------------------------------------------------
# 2. precision-recall curves
# --------------------------------------------------------------------------------------------
def plot_pr_curves(store: PathLike, predictions: Sequence[PathLike], scores: PathLike | pd.DataFrame,
                   output: PathLike) -> tuple[Path, Path]:
    """Test precision–recall curves of each model's best configuration (lowest seed) and the
    baselines; AP in the legend; a dot at the chosen threshold."""
    ds, table, chosen = _inputs(store, predictions, scores)
    colors = _colors(chosen)
    store_times, target = pd.Index(ds["time"].values), ds["target"].values
    rate = None
    with paper_style():
        fig, ax = plt.subplots(figsize=(4.2, 3.4))
        for model, pred in chosen.items():
            pos, _, prob = pred.split(store_times, "test")
            y = target[pos].ravel().astype(bool)
            p = prob.ravel()
            if y.all() or not y.any():
                raise InputFileError(store, "the test targets hold one class only: no precision-recall curve")
            precision, recall, _ = precision_recall_curve(y, p)
            ap = average_precision_score(y, p)
            ax.plot(recall, precision, drawstyle="steps-post", color=colors[model],
                    label=f"{pred.label} (AP {ap:.3f})")
            mask = p >= _threshold(table, pred)
            tp = int(np.sum(mask & y))
            if mask.any():
                ax.plot(tp / y.sum(), tp / mask.sum(), "o", color=colors[model], mec="black", mew=0.5, ms=4.5,
                        zorder=3)
            rate = float(y.mean())
        ax.axhline(rate, color="0.5", ls=":", lw=0.8, label=f"no skill ({rate:.3f})")
        ax.plot([], [], "o", color="white", mec="black", mew=0.5, ms=4.5, label="chosen threshold")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.02)
        ax.set_xlabel("recall")
        ax.set_ylabel("precision")
        ax.set_title("Test precision–recall (pixels of all test targets)")
        ax.legend(loc="lower left")
        ax.grid(alpha=0.3)
        return save_figure(fig, output)


# --------------------------------------------------------------------------------------------
# 3./4. input length and batch size
# --------------------------------------------------------------------------------------------
def _sweep(scores: PathLike | pd.DataFrame, output: PathLike, column: str, prefix: str, xlabel: str,
           log2: bool) -> tuple[Path, Path]:
    table = read_scores(scores)
    best = best_configs(table)
    colors = _colors(best)
    test = table[table["split"] == "test"].copy()
    test["family"] = [_family(c, prefix, v) for c, v in zip(test["config"], test[column], strict=True)]
    runs = test[test["seed"] >= 0]
    lines = {}
    for model, config in best.items():
        if model in BASELINES:
            continue
        fam = runs.loc[(runs["model"] == model) & (runs["config"] == config), "family"]
        sub = runs[(runs["model"] == model) & (runs["family"].isin(fam.unique()))]
        if sub[column].nunique() > 1:
            lines[model] = (fam.iloc[0], sub)
    baselines = {b: test.loc[test["model"] == b] for b in BASELINES if (test["model"] == b).any()}
    with paper_style():
        fig, axes = plt.subplots(1, len(SWEEP_METRICS), figsize=(6.4, 2.6))
        for ax, (metric, title) in zip(axes, SWEEP_METRICS.items(), strict=True):
            values = set()
            for model, (family, sub) in lines.items():
                c = colors[model]
                ax.plot(sub[column], sub[metric], "o", color=c, alpha=0.3, ms=2.5, mew=0)
                g = sub.groupby(column)[metric]
                mean, std = g.mean(), g.std(ddof=0).fillna(0.0)
                x = mean.index.to_numpy()
                values.update(x.tolist())
                ax.fill_between(x, mean - 2 * std, mean + 2 * std, color=c, alpha=0.18, lw=0)
                ax.plot(x, mean.to_numpy(), "-o", color=c, ms=3, label=family)
            for name, rows in baselines.items():
                ax.axhline(float(rows[metric].mean()), color=colors[name], lw=0.9,
                           ls="--" if name == "persistence" else ":", label=name)
            if not lines:
                ax.text(0.5, 0.5, f"no model was trained with\nmore than one {xlabel}", ha="center", va="center",
                        transform=ax.transAxes)
                ax.set_xticks([])
            if log2 and values:
                ax.set_xscale("log", base=2)
            if values:
                ticks = sorted(values)
                ax.set_xticks(ticks, [f"{v:g}" for v in ticks])
                ax.minorticks_off()
            ax.set_xlabel(xlabel)
            ax.set_title(title)
            ax.grid(alpha=0.3)
        handles, texts = axes[0].get_legend_handles_labels()
        if lines:
            handles.append(plt.Line2D([], [], color="0.3", lw=6, alpha=0.25))
            texts.append("mean ± 2σ over seeds")
        if handles:
            fig.legend(handles, texts, loc="outside right center")
        return save_figure(fig, output)


def plot_input_length(scores: PathLike | pd.DataFrame, output: PathLike) -> tuple[Path, Path]:
    """Test AUC-PR and RMSE against input length T (configurations differing from each model's
    best only by T), mean ± 2σ over seeds, each seed a faint dot, baselines as horizontal lines."""
    return _sweep(scores, output, "n_frames", AXES["input_lengths"][1], "input length T (composites)", log2=False)


def plot_batch_size(scores: PathLike | pd.DataFrame, output: PathLike) -> tuple[Path, Path]:
    """As :func:`plot_input_length` against the batch size (models trained with more than one; a
    note in the panels when none was)."""
    return _sweep(scores, output, "batch_size", AXES["batch_sizes"][1], "batch size", log2=True)


# --------------------------------------------------------------------------------------------
# 5. metrics vs threshold
# --------------------------------------------------------------------------------------------
def plot_thresholds(store: PathLike, predictions: Sequence[PathLike], scores: PathLike | pd.DataFrame,
                    output: PathLike) -> tuple[Path, Path]:
    """Validation F1, accuracy and Jaccard against the threshold (0..1, step 0.01) of each model's
    best configuration (lowest seed), the chosen threshold marked on every curve."""
    ds, table, chosen = _inputs(store, predictions, scores)
    colors = _colors(chosen)
    store_times, target = pd.Index(ds["time"].values), ds["target"].values
    with paper_style():
        fig, axes = plt.subplots(1, len(CURVE_LABELS), figsize=(7.0, 2.5), sharex=True)
        for model, pred in chosen.items():
            pos, _, prob = pred.split(store_times, "val")
            y = target[pos]
            thr = _threshold(table, pred)
            curves = threshold_scores(y, prob, THRESHOLD_GRID)
            at = threshold_scores(y, prob, [thr])
            for ax, metric in zip(axes, CURVE_LABELS, strict=True):
                ax.plot(THRESHOLD_GRID, curves[metric], color=colors[model], label=pred.label)
                ax.plot(thr, at[metric][0], "o", color=colors[model], mec="black", mew=0.5, ms=4, zorder=3)
        for ax, title in zip(axes, CURVE_LABELS.values(), strict=True):
            ax.set_title(f"validation {title}")
            ax.set_xlabel("threshold")
            ax.set_xlim(0, 1)
            ax.set_ylim(0, 1.02)
            ax.grid(alpha=0.3)
        handles, texts = axes[0].get_legend_handles_labels()
        handles.append(plt.Line2D([], [], color="white", marker="o", mec="black", mew=0.5, ms=4, ls=""))
        texts.append("chosen threshold")
        fig.legend(handles, texts, loc="outside right center")
        return save_figure(fig, output)


# --------------------------------------------------------------------------------------------
# 6. skill map
# --------------------------------------------------------------------------------------------
def plot_skill_map(store: PathLike, predictions: Sequence[PathLike], scores: PathLike | pd.DataFrame,
                   output: PathLike) -> tuple[Path, Path]:
    """World maps of the per-pixel Brier skill score over the test targets against persistence:
    the best model (its best configuration of highest test AUC-PR, mean over seeds; lowest seed)
    and climatology."""
    ds, table, chosen = _inputs(store, predictions, scores)
    if "persistence" not in chosen:
        raise ValueError("the skill map needs the persistence predictions (and its scores)")
    store_times = pd.Index(ds["time"].values)
    target = ds["target"].values
    pos, times, reference = chosen["persistence"].split(store_times, "test")
    y = target[pos]
    test = table[table["split"] == "test"]
    runs = {m: p for m, p in chosen.items() if m not in BASELINES}
    panels = []
    if runs:
        auc = {m: float(test.loc[(test["model"] == m) & (test["config"] == p.config), "auc_pr"].mean())
               for m, p in runs.items()}
        best = max(runs, key=lambda m: (np.nan_to_num(auc[m], nan=-np.inf), m))
        panels.append((runs[best], f"{runs[best].label} (test AUC-PR {auc[best]:.3f})"))
    if "climatology" in chosen:
        panels.append((chosen["climatology"], "climatology"))
    if not panels:
        raise ValueError("the skill map needs a trained model's or climatology's predictions besides persistence")
    extent = _extent(ds)
    cmap = _cmap(SKILL_CMAP)
    with paper_style():
        fig, axes = plt.subplots(len(panels), 1, squeeze=False, figsize=(5.2, 2.5 * len(panels) + 0.4))
        im = None
        for ax, (pred, name) in zip(axes[:, 0], panels, strict=True):
            p_pos, _, prob = pred.split(store_times, "test")
            order = pd.Index(p_pos).get_indexer(pos)
            if (order < 0).any():
                raise InputFileError(pred.path, "does not hold every test target of the persistence predictions")
            skill, pooled = brier_skill(y, prob[order], reference)
            im = ax.imshow(skill, cmap=cmap, vmin=-1, vmax=1, extent=extent, origin="upper",
                           interpolation="nearest")
            finite = skill[np.isfinite(skill)]
            share = 100 * float(np.mean(finite > 0)) if finite.size else float("nan")
            ax.set_title(f"{name} vs persistence\npooled Brier skill {pooled:.3f}; "
                         f"skill > 0 in {share:.0f} % of the scored pixels", fontsize=8)
            _geo_axes(ax, extent, xlabels=True, ylabels=True, dense=True)
        cb = fig.colorbar(im, ax=axes[:, 0], shrink=0.8, extend="min",
                          label="Brier skill score  1 − BS / BS$_{persistence}$")
        cb.ax.axhline(0, color="k", lw=0.6)
        fig.suptitle(f"Per-pixel Brier skill over {len(times)} test composites ({_date(times.min())} – "
                     f"{_date(times.max())})\ngrey: persistence never wrong (not scored)", fontsize=8)
        return save_figure(fig, output)
