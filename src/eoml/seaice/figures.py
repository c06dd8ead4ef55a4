"""seaice figures: scene predictions with error maps, confusion matrices, score bars.

* :func:`plot_scene_predictions` — one test scene: HH and HV backscatter (dB, 2–98 % stretch),
  the chart label, and for each initialisation the prediction of its first (lowest) seed and the
  error map (correct / wrong / ignored), with that model's weighted F1 in the panel title.
* :func:`plot_confusions` — the seed-mean row-normalised 2 × 2 confusion matrices
  (``confusion.csv`` from :func:`eoml.seaice.evaluate.evaluate`), one per init × scene, with
  percentages written in the cells (:func:`eoml.core.figures.confusion_matrices_figure`).
* :func:`plot_scores` — weighted F1 and IoU (micro, weighted) per init and scene from
  ``segmentation.csv``: bars at the mean over seeds, ± one standard deviation, each seed a dot.

Colours: water/ice in a blue/white pair, ignored pixels grey; error maps green/red/grey;
initialisations from :func:`eoml.core.plotting.model_colors` (colour-blind-safe Okabe–Ito).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.colors import BoundaryNorm, ListedColormap
from matplotlib.patches import Patch

from eoml.core.errors import InputFileError
from eoml.core.figures import confusion_matrices_figure
from eoml.core.plotting import model_colors, paper_style, save_figure
from eoml.core.store import open_store
from eoml.seaice.evaluate import CLASS_NAMES, read_predictions
from eoml.seaice.metrics import scene_scores

PathLike = str | os.PathLike
WATER, ICE, IGNORED = "#1f4e79", "#e8f1f8", "#9a9a9a"
CLASS_CMAP = ListedColormap([WATER, ICE, IGNORED])
CLASS_NORM = BoundaryNorm([-0.5, 0.5, 1.5, 2.5], 3)
ERROR_CMAP = ListedColormap(["#009E73", "#D55E00", IGNORED])
SCORE_LABELS = {"f1_weighted": "F1 (weighted)", "iou_micro": "IoU (micro)",
                "iou_weighted": "IoU (weighted)"}


def _classes(a: np.ndarray) -> np.ndarray:
    """0 water, 1 ice, 2 ignored (any other value)."""
    out = np.full(a.shape, 2, dtype=np.uint8)
    out[a == 0] = 0
    out[a == 1] = 1
    return out


def _stretch(a: np.ndarray) -> tuple[float, float]:
    finite = a[np.isfinite(a)]
    if finite.size == 0:
        return 0.0, 1.0
    lo, hi = np.percentile(finite, [2, 98])
    return float(lo), float(hi if hi > lo else lo + 1)


def _off(ax) -> None:
    ax.set_xticks([])
    ax.set_yticks([])
    for s in ax.spines.values():
        s.set_visible(False)


def plot_scene_predictions(
    store: PathLike, predictions: Sequence[PathLike], output: PathLike
) -> tuple[Path, Path]:
    """Backscatter, chart and per-init prediction / error map of one test scene (PNG + SVG)."""
    ds = open_store(store)
    scene = str(ds.attrs.get("scene_id", Path(store).stem))
    label = np.asarray(ds["label"].values)
    hh, hv = np.asarray(ds["hh_db"].values), np.asarray(ds["hv_db"].values)
    first: dict[str, tuple[int, np.ndarray]] = {}
    for path in predictions:
        attrs, preds = read_predictions(path)
        if scene not in preds:
            continue
        if preds[scene].shape != label.shape:
            raise InputFileError(path, f"scene {scene}: pred shape {preds[scene].shape} != label {label.shape}")
        init, seed = attrs["init"], attrs["seed"]
        if init not in first or seed < first[init][0]:
            first[init] = (seed, preds[scene])
    if not first:
        raise ValueError(f"no predictions file holds scene {scene!r}")
    inits = sorted(first)
    ny, nx = label.shape
    aspect = ny / nx
    with paper_style():
        fig, axes = plt.subplots(1 + len(inits), 3, figsize=(7.0, 2.3 * aspect * (1 + len(inits)) + 0.4),
                                 squeeze=False)
        for ax, img, name in ((axes[0, 0], hh, "HH"), (axes[0, 1], hv, "HV")):
            lo, hi = _stretch(img)
            im = ax.imshow(img, cmap="gray", vmin=lo, vmax=hi, interpolation="nearest")
            ax.set_title(f"{name} backscatter")
            fig.colorbar(im, ax=ax, shrink=0.8, label=f"$\\sigma^0_{{{name}}}$ (dB)")
        ax = axes[0, 2]
        ax.imshow(_classes(label), cmap=CLASS_CMAP, norm=CLASS_NORM, interpolation="nearest")
        ax.set_title("Ice chart (SIGRID-3)")
        ax.legend(handles=[Patch(facecolor=WATER, label="water"),
                           Patch(facecolor=ICE, edgecolor="0.5", label="ice"),
                           Patch(facecolor=IGNORED, label="ignored")],
                  loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0)
        for r, init in enumerate(inits, start=1):
            seed, pred = first[init]
            s = scene_scores(label, pred)
            ax = axes[r, 0]
            ax.imshow(_classes(pred), cmap=CLASS_CMAP, norm=CLASS_NORM, interpolation="nearest")
            ax.set_title(f"{init}, seed {seed}\nweighted F1 = {s['f1_weighted']:.3f}")
            err = np.where((label > 1) | (pred > 1), 2, np.where(label == pred, 0, 1))
            ax = axes[r, 1]
            ax.imshow(err, cmap=ERROR_CMAP, vmin=-0.5, vmax=2.5, interpolation="nearest")
            wrong = np.mean(err[err < 2] == 1) * 100 if np.any(err < 2) else float("nan")
            ax.set_title(f"{init}: error map\n({wrong:.1f} % of scored pixels wrong)")
            ax.legend(handles=[Patch(facecolor="#009E73", label="correct"),
                               Patch(facecolor="#D55E00", label="wrong"),
                               Patch(facecolor=IGNORED, label="ignored")],
                      loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0)
            axes[r, 2].set_visible(False)
        for ax in axes.flat:
            _off(ax)
        fig.suptitle(f"Scene {scene} ({ds.attrs.get('season', '?')}, 80 m pixels, {ny} × {nx})")
        return save_figure(fig, output)


def plot_confusions(confusion_csv: PathLike, output: PathLike) -> tuple[Path, Path]:
    """2 × 2 row-normalised confusion matrices (seed mean), rows = init, columns = scene."""
    conf = pd.read_csv(confusion_csv)
    need = {"init", "scene", "true", "pred", "fraction"}
    if not need <= set(conf.columns):
        raise InputFileError(confusion_csv, f"needs columns {sorted(need)}")
    k = len(CLASS_NAMES)
    matrices = {}
    for (init, scene), sub in conf.groupby(["init", "scene"], sort=True):
        m = np.full((k, k), np.nan)
        for row in sub.itertuples():
            m[CLASS_NAMES.index(row.true), CLASS_NAMES.index(row.pred)] = row.fraction
        matrices[(str(init), str(scene))] = m
    with paper_style():
        fig, _ = confusion_matrices_figure(matrices, CLASS_NAMES, true_label="chart", pred_label="predicted",
                                           colorbar_label="fraction of chart class (%)")
        return save_figure(fig, output)


def plot_scores(segmentation_csv: PathLike, output: PathLike) -> tuple[Path, Path]:
    """F1 and IoU per init and scene: mean over seeds (bars) ± std, with each seed as a dot."""
    df = pd.read_csv(segmentation_csv)
    need = {"init", "seed", "scene", *SCORE_LABELS}
    if not need <= set(df.columns):
        raise InputFileError(segmentation_csv, f"needs columns {sorted(need)}")
    inits, scenes = sorted(df.init.unique()), sorted(df.scene.unique())
    colors = model_colors(inits)
    width = 0.8 / len(inits)
    x = np.arange(len(scenes))
    with paper_style():
        fig, axes = plt.subplots(1, len(SCORE_LABELS), figsize=(7.0, 2.4), sharey=True)
        for ax, (col, name) in zip(axes, SCORE_LABELS.items(), strict=True):
            for i, init in enumerate(inits):
                pos = x - 0.4 + width * (i + 0.5)
                sub = df[df.init == init]
                g = sub.groupby("scene")[col]
                mean = g.mean().reindex(scenes).to_numpy()
                std = g.std(ddof=1).reindex(scenes).to_numpy()
                ax.bar(pos, mean, width * 0.9, color=colors[init], alpha=0.55,
                       label=init, yerr=np.nan_to_num(std), capsize=2,
                       error_kw={"elinewidth": 0.7})
                for j, scene in enumerate(scenes):
                    vals = sub[sub.scene == scene][col].to_numpy()
                    jitter = np.linspace(-0.25, 0.25, vals.size) * width if vals.size > 1 else 0
                    ax.plot(pos[j] + jitter, vals, "o", color=colors[init], ms=2.5,
                            mec="black", mew=0.3, zorder=3)
            ax.set_xticks(x, scenes, rotation=30, ha="right")
            ax.set_title(name)
            ax.set_ylim(0, 1)
            ax.grid(axis="y", alpha=0.4)
        axes[0].set_ylabel("score (test scene)")
        axes[-1].legend(title="init", loc="lower right")
        return save_figure(fig, output)
