"""The clouds study's figures from its tables and per-model analysis folders (one workflow step).

File names (under ``out_dir``, each a PNG with its SVG, :func:`figure_names`): ``triplets_<source>``
(examples of each triplet store), ``training_distances``, ``dendrogram_<model>``,
``pca_<model>``, ``pc_map_<model>``, ``unlabelled_<model>`` (labelled vs unlabelled squares),
``confusions``, ``nmi_vs_scale`` (the Tile2Vec models, against the paper's table),
``embeddings`` (every embedding by NMI and silhouette per tile size), ``cloud_metrics``; with
DeepCluster ``deepcluster_confusion`` (its own clusters vs the classes and the unlabelled squares)
and ``deepcluster_examples``; with the autoencoder ``dcae_reconstructions``. The classifiers'
figures (:func:`classifier_figure_names`) are drawn by :mod:`eoml.clouds.classifier`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from eoml.clouds.analysis import PAPER_NMI, cluster_confusion
from eoml.clouds.cloudmetrics import METRICS
from eoml.clouds.figures import (
    plot_cluster_confusions,
    plot_dendrogram,
    plot_embeddings_comparison,
    plot_labelled_unlabelled,
    plot_metrics_by_group,
    plot_nmi_vs_scale,
    plot_pc_maps,
    plot_pca_scatter,
    plot_training_distances,
    plot_triplet_examples,
)
from eoml.clouds.labels import CLASSES
from eoml.clouds.names import classifier_figure_names, figure_kind, figure_names
from eoml.core.store import open_store

__all__ = ["BOX_METRICS", "classifier_figure_names", "figure_kind", "figure_names", "make_figures"]

#: the cloud metrics of the box-plot figure
BOX_METRICS = ("cloud_fraction", "n_objects", "mean_object_size", "iorg", "scai", "open_sky")


#: examples of DeepCluster's clusters per cluster
DEEPCLUSTER_EXAMPLES = 6
#: tiles of the reconstruction figure
RECONSTRUCTIONS = 8


def make_figures(analyses: Sequence[str | os.PathLike], triplets: Sequence[str | os.PathLike],
                 histories: Sequence[str | os.PathLike], nmi: str | os.PathLike, cloud_metrics: str | os.PathLike,
                 out_dir: str | os.PathLike, *, reference_scale: float = 1.0,
                 models: Sequence[str | os.PathLike] = (), embeddings: str | os.PathLike | None = None) -> None:
    """Draw every figure (:func:`figure_names`); ``triplets`` and ``histories`` are named by their
    folder (``.../<source>.zarr``, ``.../<model>/history.csv``), ``analyses`` and ``models`` (the
    model files, ``.../<model>/model.pt``: the autoencoder's reconstructions) by their model's
    folder; ``embeddings`` is embeddings.csv. The reference study's NMI table is drawn at its tile
    sizes × ``reference_scale``, against the Tile2Vec models (``model == trained_on``)."""
    out = Path(out_dir)
    for path in triplets:
        plot_triplet_examples(open_store(path), out / f"triplets_{Path(path).stem}.png")
    if not analyses:
        return
    plot_training_distances({Path(h).parent.name: h for h in histories}, out / "training_distances.png")
    confusions = {}
    for folder in map(Path, analyses):
        model = folder.name
        tiles = open_store(folder / "tiles.zarr")
        if "embedding" in tiles:
            emb, images = tiles["embedding"].values, tiles["image"].values
            labels = [CLASSES[i] for i in tiles["label"].values]
            k = int(tiles["cluster_ward"].values.max()) + 1 if "cluster_ward" in tiles else len(CLASSES)
            plot_dendrogram(emb, images, out / f"dendrogram_{model}.png", k=k, labels=labels)
            points = pd.DataFrame({"pc1": tiles["pc"].values[:, 0], "pc2": tiles["pc"].values[:, 1], "label": labels})
            ratio = tiles["pc"].attrs.get("explained_variance_ratio")
            plot_pca_scatter(points, out / f"pca_{model}.png", explained={None: ratio} if ratio else None,
                             class_order=list(CLASSES))
            for var in tiles.data_vars:
                if var.startswith("cluster_"):
                    confusions[(model, var.removeprefix("cluster_"))] = cluster_confusion(
                        labels, tiles[var].values, class_names=list(CLASSES))
        else:
            _empty(out / f"dendrogram_{model}.png", f"{model}: no labelled tiles")
            _empty(out / f"pca_{model}.png", f"{model}: no labelled tiles")
        pcmap = open_store(folder / "pcmap.zarr")
        if "pc" in pcmap:
            explained = pcmap["pc"].attrs.get("explained_variance_ratio")
            title = f"{model} model on {pcmap.attrs['scene']}"
            if "row_lat" in pcmap.coords:
                plot_pc_maps(pcmap["pc"].values, pcmap["row_lat"].values, pcmap["col_lon"].values,
                             out / f"pc_map_{model}.png", explained=explained, image=pcmap["rgb"].values,
                             image_lat=pcmap["lat"].values, image_lon=pcmap["lon"].values, title=title)
            else:
                ny, nx = pcmap.sizes["y"], pcmap.sizes["x"]
                plot_pc_maps(pcmap["pc"].values, ny - pcmap["row_centre"].values, pcmap["col_centre"].values,
                             out / f"pc_map_{model}.png", explained=explained, image=pcmap["rgb"].values,
                             image_lat=ny - 0.5 - np.arange(ny), image_lon=np.arange(nx) + 0.5, title=title,
                             pixels=True)
        else:
            _empty(out / f"pc_map_{model}.png", f"{model}: no scene large enough for a PC map")
        _squares_figures(folder, out)
        if model == "deepcluster":
            _deepcluster_figures(folder, tiles, out)
    if confusions:
        plot_cluster_confusions(confusions, out / "confusions.png")
    else:
        _empty(out / "confusions.png", "no labelled tiles")
    table = pd.read_csv(nmi)
    reference = {round(px * reference_scale): v for px, v in PAPER_NMI.items()}
    tile2vec = table[(table["tile_px"] > 0) & (table["model"] == table["trained_on"])]
    if len(tile2vec):
        plot_nmi_vs_scale(tile2vec, out / "nmi_vs_scale.png", reference=reference)
    else:
        _empty(out / "nmi_vs_scale.png", "no labelled tiles: no NMI")
    if embeddings is not None:
        comparison = pd.read_csv(embeddings)
        if (comparison["tile_px"] > 0).any():
            plot_embeddings_comparison(comparison, out / "embeddings.png")
        else:
            _empty(out / "embeddings.png", "no labelled tiles: no comparison")
    for path in map(Path, models):
        if path.parent.name == "dcae":
            _reconstructions(path, analyses, out)
    metrics = pd.read_csv(cloud_metrics)
    if len(metrics):
        cluster_cols = [c for c in metrics.columns if c.endswith("_ward")]
        frame = metrics.rename(columns={"label": "class"})
        if cluster_cols:
            frame = frame.assign(cluster=frame[cluster_cols[0]].map(lambda c: f"C{int(c)}" if pd.notna(c) else None))
        plot_metrics_by_group(frame, out / "cloud_metrics.png", metrics=[m for m in BOX_METRICS if m in METRICS],
                              groups=("class", "cluster") if cluster_cols else ("class",), class_order=list(CLASSES))
    else:
        _empty(out / "cloud_metrics.png", "no labelled tiles")


def _squares_figures(folder: Path, out: Path) -> None:
    """``unlabelled_<model>``: labelled vs unlabelled squares in their PCA plane, per dataset."""
    model = folder.name
    squares = open_store(folder / "squares.zarr")
    if "pc" not in squares:
        _empty(out / f"unlabelled_{model}.png", f"{model}: no unlabelled square of the minimum size")
        return
    points = pd.DataFrame({"pc1": squares["pc"].values[:, 0], "pc2": squares["pc"].values[:, 1],
                           "kind": np.where(squares["label"].values < 0, "unlabelled", "labelled"),
                           "panel": [str(v) for v in squares["evaluated_on"].values]})
    tests = pd.read_csv(folder / "unlabelled.csv")
    tests = tests[tests["space"] == "embedding"]
    plot_labelled_unlabelled(points, out / f"unlabelled_{model}.png",
                             tests={r.evaluated_on: (r.energy_distance, r.p_value) for r in tests.itertuples()})


def _deepcluster_figures(folder: Path, tiles, out: Path) -> None:
    """DeepCluster's own clusters: vs the classes and the unlabelled squares; example tiles."""
    from eoml.clouds.deepcluster import plot_deepcluster_examples

    squares = open_store(folder / "squares.zarr")
    names = [*CLASSES, "unlabelled"]
    if "cluster_own" in squares:
        labels = [names[i] for i in squares["label"].values]  # -1: the last name, unlabelled
        table = cluster_confusion(labels, squares["cluster_own"].values, class_names=names)
        plot_cluster_confusions({("deepcluster", "own clusters, squares"): table}, out / "deepcluster_confusion.png")
    else:
        _empty(out / "deepcluster_confusion.png", "deepcluster: no labelled and unlabelled squares")
    if "cluster_own" in tiles:
        plot_deepcluster_examples(tiles["image"].values, tiles["cluster_own"].values,
                                  out / "deepcluster_examples.png", n_per_cluster=DEEPCLUSTER_EXAMPLES)
    else:
        _empty(out / "deepcluster_examples.png", "deepcluster: no labelled tiles")


def _reconstructions(model: Path, analyses: Sequence[str | os.PathLike], out: Path) -> None:
    """``dcae_reconstructions``: labelled tiles of the autoencoder's analysis and their reconstructions."""
    from eoml.clouds.autoencoder import load_dcae, plot_reconstructions, reconstruct

    folder = next((Path(a) for a in analyses if Path(a).name == model.parent.name), None)
    tiles = open_store(folder / "tiles.zarr") if folder is not None else None
    if tiles is None or "image" not in tiles:
        _empty(out / "dcae_reconstructions.png", "dcae: no labelled tiles")
        return
    images = tiles["image"].values[:RECONSTRUCTIONS]
    net, _ = load_dcae(model)
    plot_reconstructions(images, reconstruct(net, images), out / "dcae_reconstructions.png")


def _empty(output: Path, message: str) -> None:
    """A figure saying why there is nothing to draw (every declared figure exists)."""
    import matplotlib.pyplot as plt

    from eoml.core.plotting import paper_style, save_figure

    with paper_style():
        fig, ax = plt.subplots(figsize=(4, 1.5))
        ax.axis("off")
        ax.text(0.5, 0.5, message, ha="center", va="center")
        save_figure(fig, output)
        plt.close(fig)
