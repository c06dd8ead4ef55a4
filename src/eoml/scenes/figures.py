"""scenes figures: learning curves, the accuracy grid, the train–test gap, confusions, Grad-CAM.

Each function writes a PNG and an SVG beside it (:func:`eoml.core.plotting.save_figure`) and
returns their paths.

* :func:`plot_accuracy_curves` — training (dashed) and validation (solid) accuracy per epoch of
  every run (``history.csv``), one panel per ``dataset · backbone · depth`` (rows) and ``mode``
  (columns), one colour per initialisation, one line per seed; a retry after a collapse dotted;
  chance accuracy as a grey line.
* :func:`plot_accuracy_grid` — test accuracy per dataset (rows) and backbone (columns): for each
  depth, one bar per ``mode (init)`` at the mean over seeds ± one standard deviation, each seed a
  dot, a collapsed seed a cross; the colour-histogram baseline as a dashed line.
* :func:`plot_accuracy_gap` — the same layout for train − test accuracy (overfitting).
* :func:`plot_best_confusions` — the test confusion matrix of the best run of each dataset
  (:func:`eoml.scenes.evaluate.best_runs`: configuration chosen on validation accuracy, then the
  seed of highest validation accuracy), row-normalised, one panel per dataset.
* :func:`plot_gradcam` — a few test images and their Grad-CAM maps (core's
  :func:`eoml.core.figures.gradcam_figure`, on :func:`eoml.core.explain.gradcam_maps`) for any
  ``nn.Module`` classifier and the name of its target layer.

Each ``plot_*`` has a ``*_figure`` twin that returns ``(fig, axes)`` unsaved (for tests and for
annotations), drawn in the caller's style.

Scores shown are those of each run's final attempt (the retry where there is one), as in
:func:`eoml.scenes.evaluate.configuration_table`. Colours: Okabe–Ito
(:func:`eoml.core.plotting.model_colors`), stable per ``mode (init)`` label.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from eoml.core.errors import InputFileError
from eoml.core.figures import confusion_panel, gradcam_figure
from eoml.core.plotting import model_colors, paper_style, save_figure
from eoml.scenes.evaluate import (
    BASELINE_MODE,
    CONFIG_KEYS,
    DEPTH_ORDER,
    INIT_ORDER,
    MODE_ORDER,
    Run,
    attempt_rows,
    best_runs,
    confusion_of_run,
    read_accuracy,
    read_history,
    read_run,
    sort_rows,
)

PathLike = str | os.PathLike
CHANCE_COLOR = "0.6"
#: a confusion matrix of more classes than this has no numbers in its cells
ANNOTATE_MAX_CLASSES = 12


def _ordered(values: Iterable[str], order: Sequence[str]) -> list[str]:
    values = set(values)
    return [v for v in order if v in values] + sorted(values - set(order), key=str)


def _series_label(mode: str, init: str, optimizer: str | None = None) -> str:
    label = f"{mode} ({init})"
    return f"{label} {optimizer}" if optimizer else label


# --------------------------------------------------------------------------------------------
# accuracy per epoch
# --------------------------------------------------------------------------------------------
def plot_accuracy_curves(run_dirs: Iterable[PathLike], output: PathLike) -> tuple[Path, Path]:
    """Training and validation accuracy per epoch of every training run (baselines skipped)."""
    with paper_style():
        fig, _ = accuracy_curves_figure(run_dirs)
        return save_figure(fig, output)


def accuracy_curves_figure(run_dirs: Iterable[PathLike]):
    """The figure of :func:`plot_accuracy_curves`, unsaved: ``(fig, axes)`` (rows × modes)."""
    runs = [r for r in map(read_run, run_dirs) if r.job["mode"] != BASELINE_MODE]
    if not runs:
        raise ValueError("plot_accuracy_curves: no training run given")
    several_opt = len({r.job["optimizer"] for r in runs}) > 1
    inits = _ordered({r.job["init"] for r in runs}, INIT_ORDER)
    colors = model_colors(inits)

    def row_of(r: Run) -> tuple:
        j = r.job
        return (j["dataset"], j["backbone"], *((j["optimizer"],) if several_opt else ()), j["depth"])

    def depth_rank(depth: str) -> int:
        return DEPTH_ORDER.index(depth) if depth in DEPTH_ORDER else len(DEPTH_ORDER)

    rows = sorted({row_of(r) for r in runs},
                  key=lambda k: (*map(str, k[:-1]), depth_rank(k[-1]), str(k[-1])))
    cols = _ordered({r.job["mode"] for r in runs}, MODE_ORDER)
    fig, axes = plt.subplots(len(rows), len(cols), squeeze=False, sharex=True, sharey=True,
                             figsize=(2.3 * len(cols) + 0.4, 1.7 * len(rows) + 0.6))
    for run in sorted(runs, key=lambda r: (r.job["init"], r.job["seed"])):
        ax = axes[rows.index(row_of(run)), cols.index(run.job["mode"])]
        hist = read_history(run)
        c = colors[run.job["init"]]
        for attempt, h in hist.groupby("attempt"):
            h = h.sort_values("epoch")
            if attempt == 0:
                ax.plot(h["epoch"], h["train_acc"], ls="--", color=c, lw=0.7, alpha=0.8)
                ax.plot(h["epoch"], h["val_acc"], ls="-", color=c, lw=1.0)
            else:
                ax.plot(h["epoch"], h["val_acc"], ls=":", color=c, lw=1.0)
        chance = run.attempts[0].get("chance_acc")
        if chance is not None and np.isfinite(chance):
            ax.axhline(chance, color=CHANCE_COLOR, lw=0.6, ls="-", zorder=0)
    for i, row in enumerate(rows):
        axes[i, 0].set_ylabel(" · ".join(map(str, row)) + "\naccuracy")
    for j, col in enumerate(cols):
        axes[0, j].set_title(col)
        axes[-1, j].set_xlabel("epoch")
        axes[-1, j].xaxis.set_major_locator(MaxNLocator(integer=True))
    for ax in axes.flat:
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
    handles = [Line2D([], [], color=colors[i], lw=1.2) for i in inits]
    texts = [f"init: {i}" for i in inits]
    handles += [Line2D([], [], color="k", ls=ls, lw=0.9) for ls in ("--", "-", ":")]
    handles.append(Line2D([], [], color=CHANCE_COLOR, lw=0.6))
    texts += ["training", "validation", "validation, retry", "chance"]
    fig.legend(handles, texts, loc="outside lower center", ncol=min(len(texts), 4))
    return fig, axes


# --------------------------------------------------------------------------------------------
# accuracy grid and train–test gap
# --------------------------------------------------------------------------------------------
def _per_seed(accuracy_csv: PathLike) -> pd.DataFrame:
    """One row per run (final attempt): configuration, seed, collapsed, train / val / test acc."""
    acc = attempt_rows(read_accuracy(accuracy_csv), "final")
    wide = acc.pivot_table(index=[*CONFIG_KEYS, "seed", "collapsed"], columns="split",
                           values="accuracy", aggfunc="first").reset_index()
    wide.columns.name = None
    return wide


def _grid_figure(per_seed: pd.DataFrame, value: str, ylabel: str, *, baseline: bool,
                 ylim: tuple[float, float] | None):
    trained = per_seed[per_seed["mode"] != BASELINE_MODE]
    if trained.empty:
        raise ValueError("no trained configuration to draw")
    several_opt = trained["optimizer"].nunique() > 1
    trained = trained.assign(series=[
        _series_label(m, i, o if several_opt else None)
        for m, i, o in zip(trained["mode"], trained["init"], trained["optimizer"], strict=True)])
    order = sort_rows(trained[["mode", "init", "optimizer", "series"]].drop_duplicates(),
                  ["mode", "init", "optimizer"])["series"].tolist()
    colors = model_colors(order)
    datasets = sorted(trained["dataset"].unique(), key=str)
    backbones = sorted(trained["backbone"].unique(), key=str)
    depths = _ordered(trained["depth"].unique(), DEPTH_ORDER)
    width = 0.8 / len(order)
    fig, axes = plt.subplots(len(datasets), len(backbones), squeeze=False, sharey=True,
                             figsize=(max(2.6, 0.45 * len(depths) * len(order) + 0.8) * len(backbones)
                                      + 0.4, 2.0 * len(datasets) + 0.7))
    for i, dataset in enumerate(datasets):
        for j, backbone in enumerate(backbones):
            ax = axes[i, j]
            sub = trained[(trained["dataset"] == dataset) & (trained["backbone"] == backbone)]
            for k, series in enumerate(order):
                s = sub[sub["series"] == series]
                for d, depth in enumerate(depths):
                    vals = s[s["depth"] == depth]
                    if vals.empty:
                        continue
                    x = d - 0.4 + width * (k + 0.5)
                    v = vals[value].to_numpy(dtype=float)
                    std = np.std(v, ddof=1) if v.size > 1 else 0.0
                    ax.bar(x, np.nanmean(v), width * 0.9, color=colors[series], alpha=0.55,
                           yerr=std, capsize=1.5, error_kw={"elinewidth": 0.6})
                    jitter = np.linspace(-0.25, 0.25, v.size) * width if v.size > 1 else np.zeros(1)
                    col = vals["collapsed"].to_numpy(dtype=bool)
                    ax.plot((x + jitter)[~col], v[~col], "o", color=colors[series], ms=2.2,
                            mec="black", mew=0.3, zorder=3)
                    ax.plot((x + jitter)[col], v[col], "x", color="black", ms=3.5, mew=0.8, zorder=3)
            if baseline:
                base = per_seed[(per_seed["mode"] == BASELINE_MODE) & (per_seed["dataset"] == dataset)]
                if not base.empty:
                    ax.axhline(float(base[value].mean()), color="black", ls="--", lw=0.8)
            ax.set_xticks(range(len(depths)), depths)
            ax.grid(axis="y", alpha=0.4)
            if ylim is not None:
                ax.set_ylim(*ylim)
            if i == 0:
                ax.set_title(backbone)
            if j == 0:
                ax.set_ylabel(f"{dataset}\n{ylabel}")
    handles = [plt.Rectangle((0, 0), 1, 1, color=colors[s], alpha=0.55) for s in order]
    texts = list(order)
    handles.append(Line2D([], [], color="black", ls="", marker="x", ms=3.5))
    texts.append("collapsed seed")
    if baseline and (per_seed["mode"] == BASELINE_MODE).any():
        handles.append(Line2D([], [], color="black", ls="--", lw=0.8))
        texts.append("colour histogram (mean)")
    fig.legend(handles, texts, loc="outside lower center", ncol=min(len(texts), 3))
    return fig, axes


def accuracy_grid_figure(accuracy_csv: PathLike, value: str = "test"):
    """The figure of :func:`plot_accuracy_grid` (``value="test"``) or :func:`plot_accuracy_gap`
    (``value="gap"``), unsaved: ``(fig, axes)`` (datasets × backbones)."""
    per_seed = _per_seed(accuracy_csv)
    if value == "test":
        return _grid_figure(per_seed, "test", "test accuracy", baseline=True, ylim=(0, 1.02))
    if value == "gap":
        per_seed = per_seed.assign(gap=per_seed["train"] - per_seed["test"])
        fig, axes = _grid_figure(per_seed, "gap", "train − test accuracy", baseline=True, ylim=None)
        for ax in axes.flat:
            ax.axhline(0.0, color="black", lw=0.5)
        return fig, axes
    raise ValueError(f"value must be 'test' or 'gap', got {value!r}")


def plot_accuracy_grid(accuracy_csv: PathLike, output: PathLike) -> tuple[Path, Path]:
    """Test accuracy per dataset × backbone × depth × mode (init); mean ± std over seeds."""
    with paper_style():
        fig, _ = accuracy_grid_figure(accuracy_csv, "test")
        return save_figure(fig, output)


def plot_accuracy_gap(accuracy_csv: PathLike, output: PathLike) -> tuple[Path, Path]:
    """Train − test accuracy per dataset × backbone × depth × mode (init); mean ± std over seeds."""
    with paper_style():
        fig, _ = accuracy_grid_figure(accuracy_csv, "gap")
        return save_figure(fig, output)


# --------------------------------------------------------------------------------------------
# confusion matrices of the best runs
# --------------------------------------------------------------------------------------------
def plot_best_confusions(
    run_dirs: Iterable[PathLike],
    accuracy_csv: PathLike,
    class_names: Mapping[str, Sequence[str]],
    output: PathLike,
) -> tuple[Path, Path]:
    """Row-normalised test confusion matrix of the best run of each dataset (one panel each).

    ``class_names`` maps each dataset to its class names in label order (the store's
    ``class_name`` coordinate).
    """
    with paper_style():
        fig, _ = best_confusions_figure(run_dirs, accuracy_csv, class_names)
        return save_figure(fig, output)


def best_confusions_figure(
    run_dirs: Iterable[PathLike], accuracy_csv: PathLike, class_names: Mapping[str, Sequence[str]]
):
    """The figure of :func:`plot_best_confusions`, unsaved: ``(fig, axes)`` (one row)."""
    best = best_runs(run_dirs, accuracy_csv)
    if not best:
        raise ValueError(f"{accuracy_csv}: no trained run to draw")
    missing = sorted(set(best) - set(class_names))
    if missing:
        raise ValueError(f"no class names given for dataset(s) {missing}")
    acc = read_accuracy(accuracy_csv)
    kmax = max(len(class_names[d]) for d in best)
    side = min(max(2.2, 0.22 * kmax + 1.0), 7.0)
    fig, axes = plt.subplots(1, len(best), squeeze=False, figsize=(side * len(best) + 0.8, side + 0.6))
    image = None
    for ax, (dataset, run) in zip(axes[0], sorted(best.items()), strict=True):
        names = list(class_names[dataset])
        m = confusion_of_run(run, len(names))
        k = len(names)
        image = confusion_panel(ax, m, names, annotate=k <= ANNOTATE_MAX_CLASSES,
                                fontsize=7.5 if k <= 6 else 5.5)
        ax.tick_params(labelsize=7 if k <= 12 else 4.5)
        plt.setp(ax.get_xticklabels(), rotation=90)
        row = acc[(acc[list(CONFIG_KEYS)] == pd.Series(run.config, index=list(CONFIG_KEYS))).all(axis=1)
                  & (acc["seed"] == run.job["seed"]) & (acc["attempt"] == max(run.attempts))
                  & (acc["split"] == "test")]
        score = f", test accuracy {row['accuracy'].iloc[0]:.3f}" if len(row) else ""
        j = run.job
        ax.set_title(f"{dataset}: {j['backbone']} {j['depth']} {j['mode']}\n"
                     f"({j['init']}, {j['optimizer']}, seed {j['seed']}{score})", fontsize=7.5)
        ax.set_xlabel("predicted")
        ax.set_ylabel("reference")
    fig.colorbar(image, ax=axes, shrink=0.7, label="fraction of reference class (%)")
    return fig, axes


# --------------------------------------------------------------------------------------------
# Grad-CAM
# --------------------------------------------------------------------------------------------
def plot_gradcam(
    model,
    target_layer: str,
    inputs,
    images: np.ndarray,
    labels: Sequence[int],
    class_names: Sequence[str],
    output: PathLike,
    *,
    invert_dark: float | None = None,
    title: str | None = None,
) -> tuple[Path, Path]:
    """A few images (top row) and the Grad-CAM map of the predicted class over each (bottom row).

    ``model``: any ``nn.Module`` classifier; ``target_layer``: the name of its layer to explain
    (usually the base's last block); ``inputs``: the ``(N, C, H, W)`` float tensor the model
    takes (normalised as in training); ``images``: the same images as uint8 ``(N, H, W, 3)`` for
    display (the map is resized to them when their size differs); ``labels``: the reference
    class of each. Titles give the reference and the predicted class (red when wrong).
    ``invert_dark``: see :func:`eoml.core.explain.overlay_heatmap`.
    """
    with paper_style():
        fig, _ = gradcam_figure(model, target_layer, inputs, images, labels, class_names,
                                invert_dark=invert_dark, title=title)
        return save_figure(fig, output)


def plot_best_gradcam(run_dirs: Iterable[PathLike], accuracy_csv: PathLike, store: PathLike, dataset: str,
                      output: PathLike, n_images: int) -> tuple[Path, Path]:
    """Grad-CAM of the best run of ``dataset`` (:func:`eoml.scenes.evaluate.best_runs`) on the
    first ``n_images`` test images of its store, one per class first (then the next ones), at the
    output of the cut base (its last convolutional map)."""
    import torch

    from eoml.scenes.data import class_names, open_scene_store, split_indices
    from eoml.scenes.evaluate import best_runs
    from eoml.scenes.train import load_classifier

    run = best_runs(run_dirs, accuracy_csv).get(dataset)
    if run is None:
        raise InputFileError(accuracy_csv, f"no run of dataset {dataset!r} to explain")
    ds = open_scene_store(store)
    test = split_indices(ds)["test"]
    labels_all = np.asarray(ds["label"].values)[test]
    # one image per class first, then the rest in store order
    first = [int(np.flatnonzero(labels_all == k)[0]) for k in np.unique(labels_all)]
    order = first + sorted(set(range(len(test))) - set(first))
    chosen = np.sort(test[order[: int(n_images)]])
    images = np.asarray(ds["image"].isel(sample=chosen).values)
    labels = np.asarray(ds["label"].values)[chosen]
    model, _ = load_classifier(Path(run.path) / "model.pt", device="cpu")
    inputs = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255.0
    job = run.job
    title = (f"{dataset}: {job['backbone']} {job['depth']}, {job['mode']} ({job['init']}), "
             f"{job['optimizer']}, seed {job['seed']}")
    return plot_gradcam(model, "base", inputs, images, labels, class_names(ds), output, title=title)
