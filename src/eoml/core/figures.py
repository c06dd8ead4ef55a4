"""Figures every learning study draws: confusion matrices and training loss curves.

The functions build a figure and return ``(fig, axes)`` without saving it, so a study can add its
own annotations; call them inside :func:`eoml.core.plotting.paper_style` and write the result with
:func:`eoml.core.plotting.save_figure`::

    with paper_style():
        fig, axes = loss_curves_figure({"unet": history}, terms=[("loss", "total loss")])
        save_figure(fig, "results/x/loss_curves.png")

* :func:`confusion_panel` / :func:`confusion_matrices_figure` — row-normalised confusion matrices
  (rows = reference class, columns = predicted class) in percent, the value written in each cell;
  a grid of them keyed by ``(row, column)`` names (e.g. model × scene) with one colour bar.
* :func:`loss_curves_figure` — per-epoch training (dashed) and validation (solid) curves of one or
  more histories (the ``DataFrame`` of :func:`eoml.core.training.read_history` /
  ``run_training``: ``epoch, train_<term>, val_<term>``), one panel per loss term, the best
  epoch marked on every validation curve, linear or logarithmic ``y``.
* :func:`gradcam_figure` — a few images of any ``nn.Module`` classifier (top row) and the
  Grad-CAM map of the predicted class over each (:func:`eoml.core.explain.gradcam_maps`,
  :func:`eoml.core.explain.overlay_heatmap`), optionally a third row with the heat-map colours
  inverted over dark pixels.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt  # noqa: E402,I001  (after eoml.core.plotting chose Agg)
import numpy as np
import pandas as pd
from matplotlib.ticker import MaxNLocator

from eoml.core.plotting import OKABE_ITO

__all__ = ["confusion_matrices_figure", "confusion_panel", "gradcam_figure", "loss_curves_figure"]


# --------------------------------------------------------------------------------------------
# confusion matrices
# --------------------------------------------------------------------------------------------
def confusion_panel(ax, matrix: np.ndarray, class_names: Sequence[str], *, cmap: str = "Blues",
                    text_threshold: float = 0.55, fontsize: float = 7.5, annotate: bool = True,
                    column_names: Sequence[str] | None = None):
    """Draw one row-normalised confusion matrix (fractions 0–1) on ``ax`` in percent.

    Cells hold ``"xx.x %"`` (white text above ``text_threshold``; none with ``annotate=False``,
    for matrices of many classes); NaN cells (an empty reference class) are left blank. Ticks
    carry ``class_names`` (rows = reference, columns = prediction); ``column_names`` names the
    columns when they are not the classes (e.g. clusters: the matrix is then rectangular).
    Returns the image (for a colour bar, 0–100 %).
    """
    m = np.asarray(matrix, dtype=np.float64)
    k = len(class_names)
    columns = class_names if column_names is None else column_names
    if m.shape != (k, len(columns)):
        raise ValueError(f"confusion matrix of shape {m.shape} for {k} class names and {len(columns)} columns")
    image = ax.imshow(100 * m, cmap=cmap, vmin=0, vmax=100)
    for a in range(k if annotate else 0):
        for b in range(len(columns)):
            if np.isfinite(m[a, b]):
                ax.text(b, a, f"{100 * m[a, b]:.1f} %", ha="center", va="center",
                        color="white" if m[a, b] > text_threshold else "black", fontsize=fontsize)
    ax.set_xticks(range(len(columns)), columns)
    ax.set_yticks(range(k), class_names)
    ax.spines[:].set_visible(False)
    return image


def confusion_matrices_figure(
    matrices: Mapping[tuple[str, str], np.ndarray],
    class_names: Sequence[str],
    *,
    true_label: str = "reference",
    pred_label: str = "predicted",
    colorbar_label: str = "fraction of reference class (%)",
    panel_size: tuple[float, float] = (1.8, 1.75),
    column_names: Mapping[tuple[str, str], Sequence[str]] | None = None,
):
    """A grid of :func:`confusion_panel` keyed by ``(row name, column name)``.

    ``column_names``: per key, the names of that matrix's columns when they are not the classes
    (:func:`confusion_panel`).

    Rows and columns are the sorted distinct names (e.g. models × test images); a missing pair
    leaves its panel empty. The left column's ``y`` labels read ``"<row name>\\n<true_label>"``,
    the bottom row's ``x`` labels ``pred_label``, the top row's titles the column names.
    Returns ``(fig, axes)`` (axes a 2-D array).
    """
    if not matrices:
        raise ValueError("no confusion matrix to draw")
    rows = sorted({r for r, _ in matrices})
    cols = sorted({c for _, c in matrices})
    fig, axes = plt.subplots(len(rows), len(cols), squeeze=False,
                             figsize=(panel_size[0] * len(cols) + 1.6, panel_size[1] * len(rows) + 0.3))
    image = None
    for i, row in enumerate(rows):
        for j, col in enumerate(cols):
            ax = axes[i, j]
            if (row, col) not in matrices:
                ax.set_visible(False)
                continue
            image = confusion_panel(ax, matrices[(row, col)], class_names,
                                    column_names=None if column_names is None else column_names[(row, col)])
            if i == len(rows) - 1:
                ax.set_xlabel(pred_label)
            if j == 0:
                ax.set_ylabel(f"{row}\n{true_label}")
            if i == 0:
                ax.set_title(col)
    fig.colorbar(image, ax=axes, shrink=0.8, label=colorbar_label)
    return fig, axes


# --------------------------------------------------------------------------------------------
# loss curves
# --------------------------------------------------------------------------------------------
def _best_epoch(history: pd.DataFrame, given: int | None) -> int | None:
    if given is not None:
        return int(given)
    if "val_loss" in history and history["val_loss"].notna().any():
        return int(history.loc[history["val_loss"].idxmin(), "epoch"])
    return None


def loss_curves_figure(
    histories: Mapping[str, pd.DataFrame] | pd.DataFrame,
    terms: Sequence[tuple[str, str]] = (("loss", "loss"),),
    *,
    colors: Mapping[str, str] | None = None,
    labels: Mapping[str, str] | None = None,
    best_epochs: Mapping[str, int] | None = None,
    log_scale: bool = True,
    ylabel: str = "loss",
    empty_notes: Mapping[str, str] | None = None,
    figsize: tuple[float, float] | None = None,
):
    """Training (dashed) and validation (solid) curves per epoch, one panel per loss term.

    ``histories`` maps a model name to its history (or is one history); each needs ``epoch`` and,
    per term ``t`` of ``terms`` (``(column stem, panel title)``, e.g. ``("loss", "total loss")``,
    ``("mse", "MSE term")``), ``train_<t>`` and / or ``val_<t>``; a term a model did not log is
    skipped for it. A dot marks the best epoch on every validation curve: ``best_epochs[name]``
    when given, else the epoch of the lowest ``val_loss`` (the epoch
    :func:`eoml.core.training.run_training` keeps). A panel with no curve shows
    ``empty_notes[t]`` (default "not logged"). ``colors`` / ``labels`` default to the Okabe–Ito
    cycle and the names. Returns ``(fig, axes)`` (axes 1-D, one per term).
    """
    if isinstance(histories, pd.DataFrame):
        histories = {"model": histories}
    if not histories:
        raise ValueError("no training history to draw")
    for name, h in histories.items():
        if "epoch" not in h:
            raise ValueError(f"history of {name!r} has no 'epoch' column (columns: {list(h.columns)})")
    names = list(histories)
    colors = dict(colors or {})
    for k, name in enumerate(n for n in names if n not in colors):
        colors[name] = OKABE_ITO[k % len(OKABE_ITO)]
    labels = {n: (labels or {}).get(n, n) for n in names}
    fig, axes = plt.subplots(1, len(terms), squeeze=False,
                             figsize=figsize or (2.4 * len(terms) + 0.2, 2.4))
    axes = axes[0]
    for ax, (term, title) in zip(axes, terms, strict=True):
        drawn = False
        for name, h in histories.items():
            tr, va = f"train_{term}", f"val_{term}"
            c = colors[name]
            if tr in h and h[tr].notna().any():
                ax.plot(h["epoch"], h[tr], ls="--", color=c, lw=0.8)
                drawn = True
            if va in h and h[va].notna().any():
                ax.plot(h["epoch"], h[va], ls="-", color=c, lw=1.1, label=labels[name])
                best = _best_epoch(h, (best_epochs or {}).get(name))
                at = h["epoch"] == best
                if best is not None and at.any():
                    ax.plot(h.loc[at, "epoch"], h.loc[at, va], "o", color=c, ms=3.5)
                drawn = True
        ax.set_title(title)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        if drawn and log_scale:
            ax.set_yscale("log")
        if not drawn:
            ax.text(0.5, 0.5, (empty_notes or {}).get(term, "not logged"), ha="center", va="center",
                    transform=ax.transAxes)
            ax.set_xticks([])
            ax.set_yticks([])
    axes[0].set_ylabel(ylabel)
    handles, texts = [], []
    for ax in axes:
        for handle, text in zip(*ax.get_legend_handles_labels()):
            if text not in texts:
                handles.append(handle)
                texts.append(text)
    handles += [plt.Line2D([], [], color="k", ls="--", lw=0.8), plt.Line2D([], [], color="k", ls="-", lw=1.1),
                plt.Line2D([], [], color="k", ls="", marker="o", ms=3.5)]
    texts += ["training", "validation", "best epoch"]
    fig.legend(handles, texts, loc="outside lower center", ncol=min(len(texts), 4))
    return fig, axes


# --------------------------------------------------------------------------------------------
# Grad-CAM
# --------------------------------------------------------------------------------------------
def gradcam_figure(model, target_layer: str, inputs, images: np.ndarray, labels: Sequence[int],
                   class_names: Sequence[str], *, invert_dark: float | None = None,
                   title: str | None = None, inverted_row: float | None = None):
    """A few images (top row) and the Grad-CAM map of the predicted class over each (second row).

    ``model``: any ``nn.Module`` classifier; ``target_layer``: the name of its layer to explain
    (usually the base's last block); ``inputs``: the ``(N, C, H, W)`` float tensor the model
    takes (normalised as in training, on the model's device); ``images``: the same images as
    uint8 ``(N, H, W, 3)`` for display (the map is resized to them when their size differs);
    ``labels``: the reference class of each. Titles give the reference and the predicted class
    (red when wrong). ``invert_dark``: the second row's :func:`eoml.core.explain.overlay_heatmap`
    option; ``inverted_row`` (a luminance in [0, 1]) adds a third row, the same map with its
    colours inverted over the pixels darker than that. Returns ``(fig, axes)`` (2 or 3 × N).
    """
    import torch

    from eoml.core.explain import gradcam_maps, overlay_heatmap

    images = np.asarray(images)
    n = len(labels)
    if images.ndim != 4 or images.shape[0] != n or inputs.shape[0] != n:
        raise ValueError(f"{inputs.shape[0]} inputs, images of shape {images.shape}, {n} labels")
    was_training = model.training
    model.eval()
    with torch.no_grad():
        pred = model(inputs).argmax(dim=1).cpu().numpy()
    model.train(was_training)
    maps = gradcam_maps(model, target_layer, inputs, targets=pred.tolist())
    if maps.shape[1:] != images.shape[1:3]:
        maps = torch.nn.functional.interpolate(torch.from_numpy(maps)[:, None], size=images.shape[1:3],
                                               mode="bilinear", align_corners=False)[:, 0].numpy()
    n_rows = 2 if inverted_row is None else 3
    fig, axes = plt.subplots(n_rows, n, squeeze=False, figsize=(1.45 * n + 0.3, 1.6 * n_rows))
    for i in range(n):
        truth, guess = class_names[int(labels[i])], class_names[int(pred[i])]
        axes[0, i].imshow(images[i])
        axes[0, i].set_title(truth, fontsize=7)
        axes[1, i].imshow(overlay_heatmap(images[i], maps[i], invert_dark=invert_dark))
        axes[1, i].set_title(f"pred. {guess}", fontsize=7,
                             color="black" if guess == truth else "#D55E00")
        if inverted_row is not None:
            axes[2, i].imshow(overlay_heatmap(images[i], maps[i], invert_dark=inverted_row))
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
        ax.spines[:].set_visible(False)
    axes[0, 0].set_ylabel("image (reference)")
    axes[1, 0].set_ylabel("Grad-CAM")
    if inverted_row is not None:
        axes[2, 0].set_ylabel(f"inverted where\nluminance < {inverted_row:g}")
    if title:
        fig.suptitle(title)
    return fig, axes
