"""clouds figures: triplets, training distances, dendrogram, confusions, PCA, PC maps, scales, metrics.

Each ``plot_*`` function takes data frames / arrays and an output path, writes a PNG and an SVG
beside it (:func:`eoml.core.plotting.save_figure`) in the paper style and returns their paths;
its ``*_figure`` twin returns ``(fig, axes)`` unsaved (for tests and annotations), drawn in the
caller's style.

* :func:`plot_triplet_examples` — anchor / neighbour / distant tiles (rows) of a few triplets.
* :func:`plot_training_distances` — margin loss and the mean squared anchor–neighbour and
  anchor–distant distances per epoch, training (dashed) and validation (solid), from history
  tables (``epoch, train_loss, val_loss, train_dist_neighbour, val_dist_neighbour,
  train_dist_distant, val_dist_distant``) — core's :func:`eoml.core.figures.loss_curves_figure`.
* :func:`plot_dendrogram` — the Ward dendrogram truncated to ``k`` clusters (SciPy), under each
  leaf its size and majority class, and below it the tiles nearest each cluster's centroid.
* :func:`plot_cluster_confusions` — tiles per class (rows) and cluster (columns) in % of the class
  (:func:`eoml.clouds.analysis.cluster_confusion` tables); core's
  :func:`eoml.core.figures.confusion_matrices_figure` when there are as many clusters as classes.
* :func:`plot_pca_scatter` — PC1 vs PC2 of the tiles coloured by class, one panel per model.
* :func:`plot_pc_maps` — principal components of tile embeddings over a domain on lat/lon axes
  (PC1 as an image, PCs 1–3 as RGB), beside the true-colour image when given.
* :func:`plot_nmi_vs_scale` — NMI, explained variance and tile count vs tile size per model and
  method, with the paper's NMI (:data:`eoml.clouds.analysis.PAPER_NMI`) as a reference series.
* :func:`plot_metrics_by_group` — box plots of a few cloud metrics by class and by cluster.
* :func:`plot_labelled_unlabelled` — labelled and unlabelled squares in the plane of their first
  two principal components: points and Gaussian kernel-density contours of each set, with the
  energy-distance test of :func:`eoml.clouds.analysis.two_sample_test` in the title.
* :func:`plot_embeddings_comparison` — every embedding's NMI (k-means clusters vs classes) and
  silhouette of the classes against the tile size (``embeddings.csv``), one panel per dataset.

Classes keep one colour in every figure (:data:`CLASS_COLORS`, Okabe–Ito).
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.ticker import NullLocator
from scipy.cluster.hierarchy import dendrogram, to_tree
from scipy.stats import gaussian_kde

from eoml.clouds.analysis import PAPER_NMI, ward_linkage
from eoml.core.figures import confusion_matrices_figure, loss_curves_figure
from eoml.core.plotting import OKABE_ITO, model_colors, paper_style, save_figure

PathLike = str | os.PathLike

__all__ = [
    "CLASS_COLORS",
    "cluster_confusions_figure",
    "dendrogram_figure",
    "embeddings_comparison_figure",
    "labelled_unlabelled_figure",
    "metrics_by_group_figure",
    "nmi_vs_scale_figure",
    "pc_maps_figure",
    "pca_scatter_figure",
    "plot_cluster_confusions",
    "plot_dendrogram",
    "plot_embeddings_comparison",
    "plot_labelled_unlabelled",
    "plot_metrics_by_group",
    "plot_nmi_vs_scale",
    "plot_pc_maps",
    "plot_pca_scatter",
    "plot_training_distances",
    "plot_triplet_examples",
    "training_distances_figure",
    "triplet_examples_figure",
]

#: one colour per class in every figure
CLASS_COLORS = {"Fish": OKABE_ITO[0], "Flower": OKABE_ITO[1], "Gravel": OKABE_ITO[2], "Sugar": OKABE_ITO[3]}
TRIPLET_ROLES = ("anchor", "neighbour", "distant")
REFERENCE_LABEL = "reference: LMD/IPSL study (2021)"


def _hide_ticks(ax) -> None:
    ax.set_xticks([])
    ax.set_yticks([])
    ax.spines[:].set_visible(False)


def _show_tile(ax, tile: np.ndarray) -> None:
    tile = np.asarray(tile)
    if tile.ndim == 3 and tile.shape[-1] == 1:
        tile = tile[..., 0]
    ax.imshow(tile, cmap="gray" if tile.ndim == 2 else None, interpolation="nearest", aspect="auto")
    _hide_ticks(ax)


def _ordered(values, order: Sequence[str] | None) -> list:
    values = list(dict.fromkeys(values))
    if order is None:
        return sorted(values, key=str)
    first = [v for v in order if v in values]
    return first + sorted((v for v in values if v not in first), key=str)


# --------------------------------------------------------------------------------------------
# triplets and training
# --------------------------------------------------------------------------------------------
def triplet_examples_figure(triplets, n_examples: int = 6):
    """The figure of :func:`plot_triplet_examples`: ``(fig, axes)`` (3 × n)."""
    missing = [r for r in TRIPLET_ROLES if r not in triplets]
    if missing:
        raise ValueError(f"triplets lack {missing} (need {list(TRIPLET_ROLES)})")
    tiles = {r: np.asarray(triplets[r][: int(n_examples)]) for r in TRIPLET_ROLES}
    n = min(len(t) for t in tiles.values())
    if n == 0:
        raise ValueError("no triplet to draw")
    fig, axes = plt.subplots(3, n, squeeze=False, figsize=(1.1 * n + 0.5, 3.6))
    for i, role in enumerate(TRIPLET_ROLES):
        for j in range(n):
            _show_tile(axes[i, j], tiles[role][j])
        axes[i, 0].set_ylabel(role)
    for j in range(n):
        axes[0, j].set_title(f"triplet {j + 1}", fontsize=7)
    return fig, axes


def plot_triplet_examples(triplets, output: PathLike, *, n_examples: int = 6) -> tuple[Path, Path]:
    """Anchor, neighbour and distant tile (rows) of the first ``n_examples`` triplets (columns).

    ``triplets``: a mapping (or the triplet ``xarray.Dataset``) with ``anchor``, ``neighbour``,
    ``distant`` arrays of tiles ``(triplet, y, x, band)`` (uint8 RGB, or one band drawn grey).
    """
    with paper_style():
        fig, _ = triplet_examples_figure(triplets, n_examples)
        return save_figure(fig, output)


def _history(h) -> pd.DataFrame:
    return pd.read_csv(h) if isinstance(h, (str, os.PathLike)) else h


def training_distances_figure(histories):
    """The figure of :func:`plot_training_distances`: ``(fig, axes)`` (one panel per term)."""
    if isinstance(histories, Mapping):
        histories = {name: _history(h) for name, h in histories.items()}
    else:
        histories = _history(histories)
    return loss_curves_figure(
        histories,
        terms=[("loss", "margin loss"), ("dist_neighbour", "anchor–neighbour"),
               ("dist_distant", "anchor–distant")],
        log_scale=False, ylabel="loss; mean squared distance")


def plot_training_distances(histories, output: PathLike) -> tuple[Path, Path]:
    """Margin loss and mean squared anchor–neighbour / anchor–distant embedding distances per
    epoch, training (dashed) and validation (solid), the kept (lowest ``val_loss``) epoch marked.

    ``histories``: one history (a ``DataFrame`` or the path of a ``history.csv``) or
    ``{model name: history}``; columns ``epoch`` and ``train_`` / ``val_`` + ``loss``,
    ``dist_neighbour``, ``dist_distant`` (as :class:`eoml.core.tasks.TripletTask` logs them).
    """
    with paper_style():
        fig, _ = training_distances_figure(histories)
        return save_figure(fig, output)


# --------------------------------------------------------------------------------------------
# dendrogram with example tiles
# --------------------------------------------------------------------------------------------
def dendrogram_figure(embeddings, tiles, *, k: int, labels: Sequence | None = None, n_examples: int = 4,
                      linkage_matrix: np.ndarray | None = None):
    """The figure of :func:`plot_dendrogram`: ``(fig, axes)`` (dendrogram axis, examples array)."""
    X = np.asarray(embeddings, dtype=np.float64)
    tiles = np.asarray(tiles)
    n = X.shape[0]
    if tiles.shape[0] != n:
        raise ValueError(f"{tiles.shape[0]} tiles for {n} embeddings")
    if labels is not None and len(labels) != n:
        raise ValueError(f"{len(labels)} labels for {n} embeddings")
    if not 2 <= int(k) <= n:
        raise ValueError(f"k = {k} clusters asked of {n} tiles (need 2 ≤ k ≤ {n})")
    k, n_examples = int(k), int(n_examples)
    Z = ward_linkage(X) if linkage_matrix is None else np.asarray(linkage_matrix)
    fig = plt.figure(figsize=(max(3.2, 0.95 * k + 0.9), 1.9 + 0.85 * n_examples))
    gs = fig.add_gridspec(1 + n_examples, k, height_ratios=[2.4] + [1.0] * n_examples)
    ax_d = fig.add_subplot(gs[0, :])
    tree = dendrogram(Z, p=k, truncate_mode="lastp", ax=ax_d, no_labels=True, color_threshold=0,
                      above_threshold_color="black", show_leaf_counts=False)
    _, nodes = to_tree(Z, rd=True)
    members = [np.asarray(nodes[leaf].pre_order(), dtype=np.int64) for leaf in tree["leaves"]]
    texts = []
    for m in members:
        text = f"n = {m.size}"
        if labels is not None:
            values, counts = np.unique(np.asarray(labels, dtype=object)[m].astype(str), return_counts=True)
            best = int(np.argmax(counts))
            text += f"\n{values[best]} {100 * counts[best] / m.size:.0f} %"
        texts.append(text)
    ax_d.set_xticks(5 + 10 * np.arange(len(members)), texts, fontsize=6.5)
    ax_d.tick_params(axis="x", length=0)
    ax_d.set_ylabel("Ward distance")
    ax_d.spines[["top", "right", "bottom"]].set_visible(False)
    examples = np.empty((n_examples, len(members)), dtype=object)
    for j, m in enumerate(members):
        centre = X[m].mean(axis=0)
        nearest = m[np.argsort(np.linalg.norm(X[m] - centre, axis=1), kind="stable")][:n_examples]
        for i in range(n_examples):
            ax = fig.add_subplot(gs[1 + i, j])
            examples[i, j] = ax
            if i < nearest.size:
                _show_tile(ax, tiles[nearest[i]])
            else:
                ax.set_visible(False)
        examples[0, j].set_title(f"cluster {j + 1}", fontsize=7)
    examples[0, 0].set_ylabel("nearest\ncentroid", fontsize=7)
    return fig, (ax_d, examples)


def plot_dendrogram(embeddings, tiles, output: PathLike, *, k: int, labels: Sequence | None = None,
                    n_examples: int = 4, linkage_matrix: np.ndarray | None = None) -> tuple[Path, Path]:
    """Ward dendrogram of the tiles' embeddings truncated to ``k`` leaves (the ``k`` clusters of
    :func:`eoml.clouds.analysis.ward_clusters`), each leaf's size and, given ``labels``, its
    majority class; below each leaf the ``n_examples`` tiles nearest its centroid.

    ``embeddings`` ``(n, dim)``, ``tiles`` ``(n, y, x, band)``; ``linkage_matrix`` reuses a
    computed Ward linkage of the same embeddings.
    """
    with paper_style():
        fig, _ = dendrogram_figure(embeddings, tiles, k=k, labels=labels, n_examples=n_examples,
                                   linkage_matrix=linkage_matrix)
        return save_figure(fig, output)


# --------------------------------------------------------------------------------------------
# confusion of classes and clusters
# --------------------------------------------------------------------------------------------
def _row_fractions(table: pd.DataFrame) -> np.ndarray:
    counts = table.to_numpy(dtype=np.float64)
    total = counts.sum(axis=1, keepdims=True)
    return np.divide(counts, total, out=np.full(counts.shape, np.nan), where=total > 0)


def cluster_confusions_figure(tables: Mapping[tuple[str, str], pd.DataFrame]):
    """The figure of :func:`plot_cluster_confusions`: ``(fig, axes)`` (2-D axes array)."""
    if not tables:
        raise ValueError("no class–cluster table to draw")
    classes = [str(c) for c in next(iter(tables.values())).index]
    for key, t in tables.items():
        if [str(c) for c in t.index] != classes:
            raise ValueError(f"table {key} has classes {list(t.index)}, others {classes}")
    width = max(t.shape[1] for t in tables.values())
    return confusion_matrices_figure(
        {key: _row_fractions(t) for key, t in tables.items()}, classes, true_label="class", pred_label="cluster",
        colorbar_label="fraction of class (%)", panel_size=(max(2.3, 0.55 * width + 0.1), 2.1),
        column_names={key: [f"C{c}" for c in t.columns] for key, t in tables.items()})


def plot_cluster_confusions(tables: Mapping[tuple[str, str], pd.DataFrame], output: PathLike
                            ) -> tuple[Path, Path]:
    """Class × cluster tables (:func:`eoml.clouds.analysis.cluster_confusion`, counts, columns in
    matched order) as % of each class, one panel per ``(row name, column name)`` key (e.g.
    ``(model, method)``); all tables have the same classes. Cluster ``c`` is ticked ``C<c>``."""
    with paper_style():
        fig, _ = cluster_confusions_figure(tables)
        return save_figure(fig, output)


# --------------------------------------------------------------------------------------------
# PCA scatter and PC maps
# --------------------------------------------------------------------------------------------
def _class_colors(names) -> dict[str, str]:
    return model_colors([str(n) for n in names], fixed=CLASS_COLORS)


def pca_scatter_figure(points: pd.DataFrame, explained: Mapping | None = None,
                       class_order: Sequence[str] | None = None):
    """The figure of :func:`plot_pca_scatter`: ``(fig, axes)`` (one row of panels)."""
    missing = [c for c in ("pc1", "pc2", "label") if c not in points]
    if missing:
        raise ValueError(f"PCA points lack columns {missing} (have {list(points.columns)})")
    if points.empty:
        raise ValueError("no PCA point to draw")
    panels = sorted(points["panel"].unique(), key=str) if "panel" in points else [None]
    labels = _ordered(points["label"].astype(str), class_order)
    colors = _class_colors(labels)
    fig, axes = plt.subplots(1, len(panels), squeeze=False, figsize=(2.5 * len(panels) + 0.3, 2.7))
    for ax, panel in zip(axes[0], panels, strict=True):
        sub = points if panel is None else points[points["panel"] == panel]
        for label in labels:
            s = sub[sub["label"].astype(str) == label]
            ax.scatter(s["pc1"], s["pc2"], s=4, alpha=0.7, color=colors[label], lw=0, label=label)
        ratio = (explained or {}).get(panel)
        ax.set_xlabel("PC1" + (f" ({100 * ratio[0]:.0f} %)" if ratio is not None else ""))
        ax.set_ylabel("PC2" + (f" ({100 * ratio[1]:.0f} %)" if ratio is not None and len(ratio) > 1 else ""))
        if panel is not None:
            ax.set_title(str(panel))
    handles = [Line2D([], [], ls="", marker="o", ms=4, color=colors[c]) for c in labels]
    fig.legend(handles, labels, loc="outside lower center", ncol=min(len(labels), 5))
    return fig, axes


def plot_pca_scatter(points: pd.DataFrame, output: PathLike, *, explained: Mapping | None = None,
                     class_order: Sequence[str] | None = None) -> tuple[Path, Path]:
    """PC2 vs PC1 of tiles coloured by class.

    ``points``: columns ``pc1``, ``pc2``, ``label`` and optionally ``panel`` (one panel per value,
    e.g. a model or "cloud metrics"); ``explained``: ``{panel (None without a panel column):
    explained variance ratios}`` for the axis labels; ``class_order`` the legend order (default
    sorted).
    """
    with paper_style():
        fig, _ = pca_scatter_figure(points, explained, class_order)
        return save_figure(fig, output)


def _edges(centres: np.ndarray, fallback: float) -> tuple[float, float]:
    """Outer edges of a regular axis of cell centres (first, last), in the array's order."""
    c = np.asarray(centres, dtype=np.float64)
    step = (c[-1] - c[0]) / (c.size - 1) if c.size > 1 else fallback
    return float(c[0] - step / 2), float(c[-1] + step / 2)


def _extent(lat, lon) -> tuple[float, float, float, float]:
    lat, lon = np.asarray(lat, dtype=np.float64), np.asarray(lon, dtype=np.float64)
    if lat.ndim != 1 or lon.ndim != 1 or lat.size == 0 or lon.size == 0:
        raise ValueError(f"lat and lon must be non-empty 1-D coordinates, got {lat.shape}, {lon.shape}")
    spacing = [abs(np.diff(a).mean()) for a in (lat, lon) if a.size > 1]
    fallback = spacing[0] if spacing else 1.0
    lon0, lon1 = _edges(lon, fallback)
    lat0, lat1 = _edges(lat, -fallback)  # one row: north first
    return lon0, lon1, lat1, lat0  # origin="upper": row 0 at lat0


def _geo_axes(ax, extent) -> None:
    ax.set_xlim(min(extent[:2]), max(extent[:2]))
    ax.set_ylim(min(extent[2:]), max(extent[2:]))
    ax.set_aspect(1.0 / max(np.cos(np.deg2rad(np.mean(extent[2:]))), 0.1))
    ax.set_xlabel("longitude (°E)")


def _unit_rgb(scores: np.ndarray) -> np.ndarray:
    """First three components scaled to 0–1 (2nd–98th percentile each), RGBA with NaN transparent."""
    rgb = np.zeros((*scores.shape[:2], 4))
    ok = np.isfinite(scores[..., :3]).all(axis=-1)
    for b in range(3):
        v = scores[..., b]
        lo, hi = np.percentile(v[ok], [2, 98]) if ok.any() else (0.0, 1.0)
        rgb[..., b] = np.clip((v - lo) / (hi - lo), 0, 1) if hi > lo else 0.5
    rgb[..., 3] = ok
    rgb[~ok, :3] = 0
    return rgb


def pc_maps_figure(pcs, lat, lon, *, explained: Sequence[float] | None = None, image=None,
                   image_lat=None, image_lon=None, title: str | None = None, pixels: bool = False):
    """The figure of :func:`plot_pc_maps`: ``(fig, axes)`` (one row of panels)."""
    pcs = np.asarray(pcs, dtype=np.float64)
    if pcs.ndim == 2:
        pcs = pcs[..., None]
    if pcs.ndim != 3 or pcs.shape[:2] != (len(lat), len(lon)):
        raise ValueError(f"PC scores of shape {pcs.shape} for {len(lat)} lat × {len(lon)} lon tiles")
    if image is not None and (image_lat is None or image_lon is None):
        raise ValueError("image given without image_lat / image_lon")
    n_panels = 1 + (pcs.shape[-1] >= 3) + (image is not None)
    fig, axes = plt.subplots(1, n_panels, squeeze=False, figsize=(2.6 * n_panels + 0.5, 2.8))
    axes = axes[0]
    k = 0
    if image is not None:
        ext = _extent(image_lat, image_lon)
        axes[0].imshow(np.asarray(image), extent=ext, origin="upper", interpolation="nearest")
        _geo_axes(axes[0], ext)
        axes[0].set_title("true colour")
        k = 1
    ext = _extent(lat, lon)
    pc1 = pcs[..., 0]
    lim = np.nanpercentile(np.abs(pc1), 98) if np.isfinite(pc1).any() else 1.0
    lim = lim if lim > 0 else 1.0
    pct = (lambda i: f" ({100 * explained[i]:.0f} %)") if explained is not None else (lambda i: "")
    im = axes[k].imshow(pc1, extent=ext, origin="upper", cmap="RdBu_r", vmin=-lim, vmax=lim,
                        interpolation="nearest")
    _geo_axes(axes[k], ext)
    axes[k].set_title("PC1" + pct(0))
    fig.colorbar(im, ax=axes[k], shrink=0.8, label="PC1 score")
    if pcs.shape[-1] >= 3:
        axes[k + 1].imshow(_unit_rgb(pcs), extent=ext, origin="upper", interpolation="nearest")
        _geo_axes(axes[k + 1], ext)
        axes[k + 1].set_title("RGB = PC1, PC2, PC3" + (f" ({100 * sum(explained[:3]):.0f} %)"
                                                      if explained is not None else ""))
    axes[0].set_ylabel("latitude (°N)")
    if pixels:  # an image without geolocation: lat / lon are pixel rows (from the bottom) / columns
        for ax in axes:
            ax.set_aspect(1.0)
            ax.set_xlabel("column (px)")
        axes[0].set_ylabel("row from the bottom (px)")
    if title:
        fig.suptitle(title)
    return fig, axes


def plot_pc_maps(pcs, lat, lon, output: PathLike, *, explained: Sequence[float] | None = None,
                 image=None, image_lat=None, image_lon=None, title: str | None = None, pixels: bool = False
                 ) -> tuple[Path, Path]:
    """Principal components of tile embeddings over a domain (convml-tt's "rect" maps).

    ``pcs`` ``(n_lat, n_lon, c)`` PC scores of the tiles (NaN off the domain;
    :func:`eoml.clouds.analysis.pca_grid`) at tile centres ``lat`` (either order) × ``lon``;
    PC1 is drawn as an image (diverging colours, symmetric about 0) and, with ``c ≥ 3``, PCs 1–3
    as red, green, blue (each stretched between its 2nd and 98th percentile). ``image`` (uint8
    ``(y, x, 3)`` on ``image_lat`` × ``image_lon`` pixel centres) is drawn first for reference;
    ``explained`` (ratios) go into the titles. ``pixels``: an image without geolocation (a
    Kaggle-layout JPEG), ``lat`` / ``lon`` are pixel rows counted from the bottom / columns.
    """
    with paper_style():
        fig, _ = pc_maps_figure(pcs, lat, lon, explained=explained, image=image, image_lat=image_lat,
                                image_lon=image_lon, title=title, pixels=pixels)
        return save_figure(fig, output)


# --------------------------------------------------------------------------------------------
# NMI vs tile size
# --------------------------------------------------------------------------------------------
def _series_name(row) -> str:
    name = f"{row['model']}: {row['trained_on']} → {row['evaluated_on']}" if "trained_on" in row \
        else f"{row['model']} → {row['evaluated_on']}"
    return name


def nmi_vs_scale_figure(table: pd.DataFrame, reference: Mapping[int, float] | None = PAPER_NMI):
    """The figure of :func:`plot_nmi_vs_scale`: ``(fig, axes)`` (3 panels)."""
    need = ["model", "evaluated_on", "method", "tile_px", "n_tiles", "nmi", "explained_variance"]
    missing = [c for c in need if c not in table]
    if missing:
        raise ValueError(f"NMI table lacks columns {missing} (have {list(table.columns)})")
    if table.empty:
        raise ValueError("no NMI row to draw")
    t = table.assign(series=[_series_name(r) for _, r in table.iterrows()])
    series = sorted(t["series"].unique(), key=str)
    methods = sorted(t["method"].unique(), key=str)
    colors = model_colors(series)
    styles = {m: ("-", "--", ":", "-.")[i % 4] for i, m in enumerate(methods)}
    fig, axes = plt.subplots(1, 3, figsize=(7.2, 2.7))
    for (name, method), s in t.groupby(["series", "method"], sort=True):
        s = s.sort_values("tile_px")
        kw = {"color": colors[name], "ls": styles[method], "marker": "o", "ms": 3}
        axes[0].plot(s["tile_px"], s["nmi"], **kw)
        axes[1].plot(s["tile_px"], s["explained_variance"], **kw)
    for name, s in t.drop_duplicates(["series", "tile_px"]).groupby("series", sort=True):
        s = s.sort_values("tile_px")
        axes[2].plot(s["tile_px"], s["n_tiles"], color=colors[name], marker="o", ms=3)
    sizes = set(t["tile_px"].astype(int))
    if reference:
        ref = sorted(reference.items())
        axes[0].plot([r[0] for r in ref], [r[1] for r in ref], color="black", ls="--", marker="s", ms=3,
                     lw=0.9, zorder=0)
        sizes |= {int(r[0]) for r in ref}
    sizes = sorted(sizes)
    crowded = len(sizes) > 6 or any(b / a < 1.35 for a, b in itertools.pairwise(sizes))
    for ax, ylabel in zip(axes, ("NMI (clusters vs classes)", "variance in PC1 + PC2", "number of tiles"),
                          strict=True):
        ax.set_xscale("log")
        ax.set_xticks(sizes, [str(s) for s in sizes], rotation=90 if crowded else 0)
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_xlabel("tile size (px)")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
    axes[0].set_ylim(bottom=0)
    axes[1].set_ylim(0, 1.02)
    axes[2].set_yscale("log")
    handles = [Line2D([], [], color=colors[s], lw=1.2) for s in series]
    texts = list(series)
    handles += [Line2D([], [], color="0.3", ls=styles[m], marker="o", ms=3) for m in methods]
    texts += [f"method: {m}" for m in methods]
    if reference:
        handles.append(Line2D([], [], color="black", ls="--", marker="s", ms=3, lw=0.9))
        texts.append(REFERENCE_LABEL)
    fig.legend(handles, texts, loc="outside lower center", ncol=min(len(texts), 3))
    return fig, axes


def plot_nmi_vs_scale(table: pd.DataFrame, output: PathLike, *,
                      reference: Mapping[int, float] | None = PAPER_NMI) -> tuple[Path, Path]:
    """NMI of clusters vs classes, the embeddings' variance in their first two PCs and the number
    of tiles, each against the tile size (log axis), one colour per model (``model: trained_on →
    evaluated_on``) and one line style per clustering method; the paper's NMI per tile size
    (``reference``, default :data:`eoml.clouds.analysis.PAPER_NMI`; None for none) in black.

    ``table``: nmi.csv rows (:data:`eoml.clouds.analysis.NMI_COLUMNS`) or
    :func:`eoml.clouds.analysis.nmi_vs_scale`.
    """
    with paper_style():
        fig, _ = nmi_vs_scale_figure(table, reference)
        return save_figure(fig, output)


# --------------------------------------------------------------------------------------------
# cloud metrics by class and by cluster
# --------------------------------------------------------------------------------------------
def metrics_by_group_figure(table: pd.DataFrame, metrics: Sequence[str],
                            groups: Sequence[str] = ("class", "cluster"),
                            class_order: Sequence[str] | None = None):
    """The figure of :func:`plot_metrics_by_group`: ``(fig, axes)`` (metrics × groups)."""
    metrics, groups = list(metrics), list(groups)
    missing = [c for c in [*metrics, *groups] if c not in table]
    if missing:
        raise ValueError(f"metric table lacks columns {missing} (have {list(table.columns)})")
    if not metrics or not groups or table.empty:
        raise ValueError("nothing to draw: no metric, no grouping or no tile")
    fig, axes = plt.subplots(len(metrics), len(groups), squeeze=False,
                             figsize=(2.6 * len(groups) + 0.4, 1.45 * len(metrics) + 0.5))
    for j, group in enumerate(groups):
        values = table[group].astype(str)
        names = _ordered(values, class_order if group == "class" else None)
        colors = _class_colors(names) if group == "class" else dict.fromkeys(names, "0.75")
        for i, metric in enumerate(metrics):
            ax = axes[i, j]
            data = [table.loc[values == g, metric].to_numpy(dtype=np.float64) for g in names]
            data = [d[np.isfinite(d)] for d in data]
            box = ax.boxplot(data, tick_labels=names, patch_artist=True, widths=0.6,
                             medianprops={"color": "black", "linewidth": 0.9},
                             flierprops={"marker": ".", "markersize": 2, "alpha": 0.5})
            for patch, g in zip(box["boxes"], names, strict=True):
                patch.set_facecolor(colors[g])
                patch.set_alpha(0.8)
            if j == 0:
                ax.set_ylabel(metric.replace("_", " "))
            if i == 0:
                ax.set_title(f"by {group}")
            if i < len(metrics) - 1:
                ax.tick_params(labelbottom=False)
            else:
                plt.setp(ax.get_xticklabels(), rotation=45 if len(names) > 5 else 0)
            ax.grid(axis="y", alpha=0.3)
    return fig, axes


def plot_metrics_by_group(table: pd.DataFrame, output: PathLike, *, metrics: Sequence[str],
                          groups: Sequence[str] = ("class", "cluster"),
                          class_order: Sequence[str] | None = None) -> tuple[Path, Path]:
    """Box plots (median, quartiles, 1.5 IQR whiskers) of cloud ``metrics`` (rows) per value of
    each column of ``groups`` (columns; default by class and by cluster) of a per-tile table
    (cloud_metrics.csv joined with the tiles' class and cluster); NaN values (undefined metrics)
    are left out. Classes in ``class_order`` (default sorted) and their colours."""
    with paper_style():
        fig, _ = metrics_by_group_figure(table, metrics, groups, class_order)
        return save_figure(fig, output)


# --------------------------------------------------------------------------------------------
# labelled vs unlabelled squares; the comparison of embeddings
# --------------------------------------------------------------------------------------------
#: colours of the two sets of squares
SQUARE_COLORS = {"labelled": OKABE_ITO[4], "unlabelled": OKABE_ITO[5]}


def _kde_contours(ax, x: np.ndarray, y: np.ndarray, color: str) -> bool:
    """Contours of a Gaussian KDE of the points at the 25/50/75 % density levels; False (nothing
    drawn) for too few or degenerate points."""
    if x.size < 5:
        return False
    try:
        kde = gaussian_kde(np.vstack([x, y]))
    except (np.linalg.LinAlgError, ValueError):
        return False
    pad_x, pad_y = 0.15 * (np.ptp(x) or 1.0), 0.15 * (np.ptp(y) or 1.0)
    gx, gy = np.meshgrid(np.linspace(x.min() - pad_x, x.max() + pad_x, 80),
                         np.linspace(y.min() - pad_y, y.max() + pad_y, 80))
    z = kde(np.vstack([gx.ravel(), gy.ravel()])).reshape(gx.shape)
    levels = np.quantile(z, [0.5, 0.75, 0.9])
    if not np.all(np.diff(levels) > 0):
        return False
    ax.contour(gx, gy, z, levels=levels, colors=[color], linewidths=(0.6, 0.9, 1.2))
    return True


def labelled_unlabelled_figure(points: pd.DataFrame, tests: Mapping[str, tuple[float, float]] | None = None):
    """The figure of :func:`plot_labelled_unlabelled`: ``(fig, axes)`` (one row of panels)."""
    missing = [c for c in ("pc1", "pc2", "kind") if c not in points]
    if missing:
        raise ValueError(f"square points lack columns {missing} (have {list(points.columns)})")
    if points.empty:
        raise ValueError("no square to draw")
    unknown = set(points["kind"]) - set(SQUARE_COLORS)
    if unknown:
        raise ValueError(f"kind must be labelled or unlabelled, got {sorted(unknown)}")
    panels = sorted(points["panel"].unique(), key=str) if "panel" in points else [None]
    fig, axes = plt.subplots(1, len(panels), squeeze=False, figsize=(2.8 * len(panels) + 0.3, 2.9))
    for ax, panel in zip(axes[0], panels, strict=True):
        sub = points if panel is None else points[points["panel"] == panel]
        for kind, color in SQUARE_COLORS.items():
            s = sub[sub["kind"] == kind]
            ax.scatter(s["pc1"], s["pc2"], s=6, alpha=0.6, color=color, lw=0)
            _kde_contours(ax, s["pc1"].to_numpy(float), s["pc2"].to_numpy(float), color)
        title = "" if panel is None else str(panel)
        if tests and panel in tests and np.isfinite(tests[panel][1]):
            energy, p = tests[panel]
            title += f"{chr(10) if title else ''}energy distance {energy:.3g}, p = {p:.3g}"
        ax.set_title(title, fontsize=8)
        ax.set_xlabel("PC1")
        ax.set_ylabel("PC2")
    counts = points["kind"].value_counts()
    handles = [Line2D([], [], ls="-", marker="o", ms=4, color=c) for c in SQUARE_COLORS.values()]
    texts = [f"{k} squares (n = {int(counts.get(k, 0))})" for k in SQUARE_COLORS]
    fig.legend(handles, texts, loc="outside lower center", ncol=2)
    return fig, axes


def plot_labelled_unlabelled(points: pd.DataFrame, output: PathLike, *,
                             tests: Mapping[str, tuple[float, float]] | None = None) -> tuple[Path, Path]:
    """Labelled and unlabelled squares in a PCA plane: points and kernel-density contours (the
    50, 75 and 90 % quantiles of the density over the panel) per set.

    ``points``: columns ``pc1``, ``pc2``, ``kind`` (``labelled`` / ``unlabelled``) and optionally
    ``panel`` (e.g. the dataset); ``tests``: ``{panel: (energy distance, p-value)}`` for the titles.
    """
    with paper_style():
        fig, _ = labelled_unlabelled_figure(points, tests)
        return save_figure(fig, output)


def embeddings_comparison_figure(table: pd.DataFrame):
    """The figure of :func:`plot_embeddings_comparison`: ``(fig, axes)`` (2 rows × datasets)."""
    need = ["model", "evaluated_on", "tile_px", "nmi_kmeans", "silhouette_classes"]
    missing = [c for c in need if c not in table]
    if missing:
        raise ValueError(f"comparison table lacks columns {missing} (have {list(table.columns)})")
    t = table[table["tile_px"] > 0]
    if t.empty:
        raise ValueError("no tile size to draw")
    datasets = sorted(t["evaluated_on"].unique(), key=str)
    models = sorted(t["model"].unique(), key=str)
    colors = model_colors(models)
    fig, axes = plt.subplots(2, len(datasets), squeeze=False, figsize=(3.0 * len(datasets) + 0.4, 4.6),
                             sharex="col")
    for j, dataset in enumerate(datasets):
        sub = t[t["evaluated_on"] == dataset]
        for model, s in sub.groupby("model", sort=True):
            s = s.sort_values("tile_px")
            for i, column in enumerate(("nmi_kmeans", "silhouette_classes")):
                axes[i, j].plot(s["tile_px"], s[column], color=colors[model], marker="o", ms=3)
        sizes = sorted(set(sub["tile_px"].astype(int)))
        axes[0, j].set_title(str(dataset))
        for i, ylabel in enumerate(("NMI (k-means vs classes)", "silhouette of the classes")):
            ax = axes[i, j]
            ax.set_xscale("log")
            ax.set_xticks(sizes, [str(v) for v in sizes], rotation=90 if len(sizes) > 6 else 0)
            ax.xaxis.set_minor_locator(NullLocator())
            ax.grid(alpha=0.3)
            if j == 0:
                ax.set_ylabel(ylabel)
        axes[1, j].axhline(0.0, color="0.5", lw=0.6)
        axes[1, j].set_xlabel("tile size (px)")
        axes[0, j].set_ylim(bottom=0)
    handles = [Line2D([], [], color=colors[m], marker="o", ms=3) for m in models]
    fig.legend(handles, models, loc="outside lower center", ncol=min(len(models), 5))
    return fig, axes


def plot_embeddings_comparison(table: pd.DataFrame, output: PathLike) -> tuple[Path, Path]:
    """Every embedding's NMI (its k-means clusters vs the classes) and the silhouette of the classes
    in its space, against the tile size (log axis), one colour per model, one column per evaluated
    dataset; ``table``: ``embeddings.csv`` (:func:`eoml.clouds.analysis.comparison_table`; the
    rectangles' rows, tile size 0, are left out)."""
    with paper_style():
        fig, _ = embeddings_comparison_figure(table)
        return save_figure(fig, output)
