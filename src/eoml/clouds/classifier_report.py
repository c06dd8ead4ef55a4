"""clouds classifier report: Grad-CAM maps, feature maps and the classifier figures.

The explanations and figures of :mod:`eoml.clouds.classifier`, in a module of their own so that
editing a figure does not rerun the training (the workflow follows each step's code):

* :func:`gradcam` — Grad-CAM (Selvaraju et al. 2017) through core's
  :func:`eoml.core.explain.gradcam_maps` at a layer of the classifier (default its
  :attr:`~eoml.clouds.classifier.CloudClassifier.target_layer`, the base's output: the activated
  last convolutional map; an earlier layer, e.g. ``base._blocks.10`` or ``base.layer3``, gives
  finer maps on small inputs), resized to the input;
* :func:`feature_maps` — the activations of that layer for one image;
* :func:`classifier_figures` — ``classifier_confusion``, ``classifier_scores`` and per model
  ``gradcam_<job>`` (image, map overlay and, optionally, the overlay with its colours inverted
  over the dark ocean as the study drew it) and ``feature_maps_<job>``, on the first test square
  of each class.

References: Selvaraju et al. (2017) "Grad-CAM: visual explanations from deep networks via
gradient-based localization", ICCV; the LMD/IPSL internship study of trade-wind cloud
organisation (2021).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from eoml.clouds.classifier import (
    CONFUSION_COLUMNS,
    SCORE_COLUMNS,
    CloudClassifier,
    _device,
    _read_csv,
    _test_scenes,
    _to_input,
    load_classifier,
)
from eoml.clouds.labels import CLASSES
from eoml.clouds.tiles import labelled_squares
from eoml.core.modelfile import ModelFile

__all__ = [
    "classifier_figures",
    "confusion_figure",
    "feature_maps",
    "feature_maps_figure",
    "gradcam",
    "gradcam_panel_figure",
    "plot_confusion",
    "plot_feature_maps",
    "plot_gradcam_panel",
    "plot_scores",
    "scores_figure",
]

PathLike = str | os.PathLike


# --------------------------------------------------------------------------------------------
# explanations
# --------------------------------------------------------------------------------------------
def _layer(net: CloudClassifier, layer: str | None) -> str:
    return net.target_layer if layer is None else str(layer)


def gradcam(net: CloudClassifier, images: np.ndarray, targets: Sequence[int] | None = None, *,
            layer: str | None = None) -> np.ndarray:
    """Grad-CAM maps float32 ``(n, y, x)`` in [0, 1] of uint8 images ``(n, y, x, 3)`` for the
    classes ``targets`` (one per image; ``None``: the predicted class), at ``layer`` (a module
    name of the network; None: its :attr:`~CloudClassifier.target_layer`) — core's
    :func:`eoml.core.explain.gradcam_maps`, the map resized to the image. The images go through
    the network at their own size."""
    from eoml.core.explain import gradcam_maps

    x = _to_input(images, _device(net))
    return gradcam_maps(net, _layer(net, layer), x, targets=None if targets is None else [int(t) for t in targets])


@torch.no_grad()
def feature_maps(net: CloudClassifier, image: np.ndarray, *, layer: str | None = None) -> np.ndarray:
    """The feature maps float32 ``(C, h, w)`` of uint8 image ``(y, x, 3)`` at ``layer`` (None: the
    network's :attr:`~CloudClassifier.target_layer`, the activated last convolutional layer; a
    forward hook, ``net`` in eval mode, its mode restored)."""
    from eoml.core.explain import resolve_layer

    layer = resolve_layer(net, _layer(net, layer))
    found: list[torch.Tensor] = []
    handle = layer.register_forward_hook(lambda _m, _i, out: found.append(out.detach()))
    was_training = net.training
    net.eval()
    try:
        net(_to_input(np.asarray(image)[None], _device(net)))
    finally:
        handle.remove()
        net.train(was_training)
    return found[-1][0].float().cpu().numpy()


# --------------------------------------------------------------------------------------------
# figures
# --------------------------------------------------------------------------------------------
def _plt():
    import matplotlib.pyplot as plt

    return plt


def _hide(ax) -> None:
    ax.set_xticks([])
    ax.set_yticks([])
    ax.spines[:].set_visible(False)


def confusion_figure(confusion: pd.DataFrame):
    """Row-normalised confusion matrices (core's :func:`eoml.core.figures.confusion_matrices_figure`)
    of ``confusion.csv`` rows, one panel per model (rows) and evaluated set (columns)."""
    from eoml.core.figures import confusion_matrices_figure

    missing = [c for c in CONFUSION_COLUMNS if c not in confusion]
    if missing:
        raise ValueError(f"confusion table lacks {missing}")
    matrices = {}
    for (model, evaluated_on), group in confusion.groupby(["model", "evaluated_on"], sort=True):
        counts = (group.pivot_table(index="true", columns="predicted", values="count", aggfunc="sum")
                  .reindex(index=list(CLASSES), columns=list(CLASSES)).fillna(0).to_numpy(dtype=float))
        total = counts.sum(axis=1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            matrices[(str(model), str(evaluated_on))] = np.where(total > 0, counts / np.where(total > 0, total, 1),
                                                                 np.nan)
    if not matrices:
        raise ValueError("no confusion matrix to draw")
    return confusion_matrices_figure(matrices, list(CLASSES), panel_size=(2.6, 2.4))


def scores_figure(scores: pd.DataFrame):
    """Per-class precision, recall and F1 (columns of panels) per evaluated set (rows), one bar
    per model; the macro means beside the classes and the accuracy in the F1 panels. Returns
    ``(fig, axes)``."""
    from eoml.core.plotting import model_colors

    missing = [c for c in SCORE_COLUMNS if c not in scores]
    if missing:
        raise ValueError(f"scores table lacks {missing}")
    if scores.empty:
        raise ValueError("no score to draw")
    plt = _plt()
    models = sorted(scores["model"].astype(str).unique())
    sets = sorted(scores["evaluated_on"].astype(str).unique())
    colors = model_colors(models)
    metrics = (("precision", "precision"), ("recall", "recall"), ("f1", "F1"))
    fig, axes = plt.subplots(len(sets), len(metrics), squeeze=False, sharey=True,
                             figsize=(2.9 * len(metrics) + 0.4, 1.9 * len(sets) + 0.7))
    width = 0.8 / len(models)
    for i, evaluated_on in enumerate(sets):
        for k, (metric, title) in enumerate(metrics):
            ax = axes[i, k]
            groups = [*CLASSES, "macro", *(["accuracy"] if metric == "f1" else [])]
            for m, model in enumerate(models):
                sub = scores[(scores["model"].astype(str) == model) & (scores["evaluated_on"].astype(str) == evaluated_on)]
                values = sub.set_index("class")[metric].reindex(groups).to_numpy(dtype=float)
                ax.bar(np.arange(len(groups)) - 0.4 + width * (m + 0.5), values, width * 0.9, color=colors[model],
                       label=model if (i, k) == (0, 0) else None)
            ax.set_xticks(range(len(groups)), [g if g != "accuracy" else "acc." for g in groups], rotation=45,
                          ha="right")
            ax.set_ylim(0, 1.02)
            ax.grid(axis="y", alpha=0.4)
            if i == 0:
                ax.set_title(title)
            if k == 0:
                ax.set_ylabel(evaluated_on)
    fig.legend(loc="outside lower center", ncol=min(len(models), 4))
    return fig, axes


def gradcam_panel_figure(net: CloudClassifier, images: np.ndarray, labels: Sequence[int], *,
                         invert_dark: float | None, title: str | None = None, layer: str | None = None):
    """One image per class (columns): the image, the Grad-CAM map of the predicted class over it
    and, with ``invert_dark`` (a luminance), the map with its colours inverted over the pixels
    darker than that (the dark ocean; the study's reading aid) — core's
    :func:`eoml.core.figures.gradcam_figure` at :attr:`CloudClassifier.target_layer`. With no
    image, a panel saying so. Returns ``(fig, axes)``."""
    from eoml.core.figures import gradcam_figure

    images = np.asarray(images)
    if len(images) == 0:
        return _note_figure("no test image to explain")
    x = _to_input(images, _device(net))
    return gradcam_figure(net, _layer(net, layer), x, images, list(labels), list(CLASSES), title=title,
                          inverted_row=None if invert_dark is None else float(invert_dark))


def feature_maps_figure(net: CloudClassifier, images: np.ndarray, labels: Sequence[int], n: int, *,
                        title: str | None = None, layer: str | None = None):
    """For each image (rows): the image and the ``n`` most active feature maps of the network's
    last convolutional layer (:func:`feature_maps`; channels ranked by their mean activation over
    the image, each map on its own colour scale, titled by its channel). Returns ``(fig, axes)``."""
    n = int(n)
    if n < 1:
        raise ValueError(f"n_feature_maps must be >= 1 (got {n})")
    images = np.asarray(images)
    if len(images) == 0:
        return _note_figure("no test image to show")
    plt = _plt()
    maps_of = [feature_maps(net, image, layer=layer) for image in images]
    n = min(n, maps_of[0].shape[0])
    fig, axes = plt.subplots(len(images), n + 1, squeeze=False, figsize=(1.2 * (n + 1) + 0.6, 1.3 * len(images) + 0.4))
    for i, (image, label, maps) in enumerate(zip(images, labels, maps_of, strict=True)):
        top = np.argsort(-maps.mean(axis=(1, 2)), kind="stable")[:n]
        axes[i, 0].imshow(image, interpolation="nearest")
        axes[i, 0].set_ylabel(CLASSES[int(label)])
        for j, c in enumerate(top):
            axes[i, j + 1].imshow(maps[c], cmap="viridis", interpolation="nearest")
            axes[i, j + 1].set_title(f"ch. {int(c)}", fontsize=6)
        for ax in axes[i]:
            _hide(ax)
    axes[0, 0].set_title("image", fontsize=6)
    if title:
        fig.suptitle(title)
    return fig, axes


def _note_figure(text: str):
    plt = _plt()
    fig, ax = plt.subplots(figsize=(3.0, 1.2))
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes)
    _hide(ax)
    return fig, np.array([[ax]])


def _save(fig, output: PathLike) -> tuple[Path, Path]:
    from eoml.core.plotting import save_figure

    return save_figure(fig, output)


def plot_confusion(confusion: pd.DataFrame, output: PathLike) -> tuple[Path, Path]:
    """:func:`confusion_figure` as PNG + SVG."""
    from eoml.core.plotting import paper_style

    with paper_style():
        fig, _ = confusion_figure(confusion)
        return _save(fig, output)


def plot_scores(scores: pd.DataFrame, output: PathLike) -> tuple[Path, Path]:
    """:func:`scores_figure` as PNG + SVG."""
    from eoml.core.plotting import paper_style

    with paper_style():
        fig, _ = scores_figure(scores)
        return _save(fig, output)


def plot_gradcam_panel(net: CloudClassifier, images: np.ndarray, labels: Sequence[int], output: PathLike, *,
                       invert_dark: float | None, title: str | None = None, layer: str | None = None
                       ) -> tuple[Path, Path]:
    """:func:`gradcam_panel_figure` as PNG + SVG."""
    from eoml.core.plotting import paper_style

    with paper_style():
        fig, _ = gradcam_panel_figure(net, images, labels, invert_dark=invert_dark, title=title, layer=layer)
        return _save(fig, output)


def plot_feature_maps(net: CloudClassifier, images: np.ndarray, labels: Sequence[int], n: int, output: PathLike, *,
                      title: str | None = None, layer: str | None = None) -> tuple[Path, Path]:
    """:func:`feature_maps_figure` as PNG + SVG."""
    from eoml.core.plotting import paper_style

    with paper_style():
        fig, _ = feature_maps_figure(net, images, labels, n, title=title, layer=layer)
        return _save(fig, output)


def _examples(record: ModelFile, kaggle_stores: Sequence[PathLike]) -> tuple[np.ndarray, np.ndarray]:
    """The first test square of each class (class order) of the Kaggle stores, at the model's size."""
    scenes = [sc for store in kaggle_stores for sc in _test_scenes(store, record.settings["split"])]
    squares = labelled_squares(scenes, int(record.arch["tile_px"]))
    labels = squares["label"].values
    first = [int(np.flatnonzero(labels == k)[0]) for k in range(len(CLASSES)) if (labels == k).any()]
    return squares["image"].values[first], labels[first].astype(np.int64)


def classifier_figures(model_paths: Sequence[PathLike], eval_dirs: Sequence[PathLike],
                       kaggle_stores: Sequence[PathLike], out_dir: PathLike, *, invert_dark: float | None,
                       n_feature_maps: int, layer: str | None = None) -> list[Path]:
    """Every classifier figure in ``out_dir`` (PNG + SVG each; returns their paths):
    ``classifier_confusion`` and ``classifier_scores`` of the evaluation folders ``eval_dirs``,
    and per model (named by its grid point) ``gradcam_<model>`` (``invert_dark``: the luminance
    below which a third row inverts the heat-map colours; None: no such row) and
    ``feature_maps_<model>`` (``n_feature_maps`` channels) on the first test square of each
    class of ``kaggle_stores``; ``layer`` the network layer explained (None: the base's output)."""
    out_dir = Path(out_dir)
    confusion = pd.concat([_read_csv(Path(d) / "confusion.csv", CONFUSION_COLUMNS) for d in eval_dirs],
                          ignore_index=True)
    scores = pd.concat([_read_csv(Path(d) / "scores.csv", SCORE_COLUMNS) for d in eval_dirs], ignore_index=True)
    paths = [*plot_confusion(confusion, out_dir / "classifier_confusion.png"),
             *plot_scores(scores, out_dir / "classifier_scores.png")]
    for model in model_paths:
        net, record = load_classifier(model, device="cpu")
        job = record.settings["job"]
        images, labels = _examples(record, kaggle_stores)
        title = f"{job['name']}: {job['backbone']} ({job['weights']}), head {job['head']}"
        paths += plot_gradcam_panel(net, images, labels, out_dir / f"gradcam_{job['name']}.png",
                                    invert_dark=invert_dark, title=title, layer=layer)
        paths += plot_feature_maps(net, images, labels, n_feature_maps, out_dir / f"feature_maps_{job['name']}.png",
                                   title=title, layer=layer)
    return paths
