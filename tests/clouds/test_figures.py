"""clouds figures: each plot_* writes a PNG and an SVG from small synthetic inputs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from sklearn.datasets import make_blobs

from eoml.clouds.analysis import (
    PAPER_NMI,
    cluster_confusion,
    evaluate_embeddings,
    kmeans_clusters,
    nmi_vs_scale,
    pca,
    pca_grid,
    ward_clusters,
)
from eoml.clouds.figures import (
    cluster_confusions_figure,
    dendrogram_figure,
    embeddings_comparison_figure,
    labelled_unlabelled_figure,
    nmi_vs_scale_figure,
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
from eoml.core.plotting import paper_style

CLASSES = ["Fish", "Flower", "Gravel", "Sugar"]


def _written(paths) -> None:
    png, svg = paths
    assert png.suffix == ".png" and svg.suffix == ".svg"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert b"<svg" in svg.read_bytes()[:1000]


@pytest.fixture(scope="module")
def blobs():
    X, y = make_blobs(n_samples=48, n_features=6, centers=4, cluster_std=0.5, center_box=(-10, 10),
                      random_state=1)
    rng = np.random.default_rng(0)
    # tiles whose brightness tells the class, so the examples are visibly grouped
    tiles = (rng.random((48, 8, 8, 3)) * 60 + 50 * y[:, None, None, None]).astype(np.uint8)
    return X, np.array(CLASSES)[y], tiles


def test_triplet_examples(tmp_path):
    rng = np.random.default_rng(0)
    shape = (5, 12, 12, 3)
    ds = xr.Dataset({r: (("triplet", "y", "x", "band"), rng.integers(0, 255, shape, dtype=np.uint8))
                     for r in ("anchor", "neighbour", "distant")})
    _written(plot_triplet_examples(ds, tmp_path / "triplets.png", n_examples=4))
    grey = {r: rng.integers(0, 255, (3, 12, 12), dtype=np.uint8) for r in ("anchor", "neighbour", "distant")}
    _written(plot_triplet_examples(grey, tmp_path / "grey.png"))
    with pytest.raises(ValueError, match="lack"):
        plot_triplet_examples({"anchor": grey["anchor"]}, tmp_path / "bad.png")


def test_training_distances(tmp_path):
    e = np.arange(5)
    history = pd.DataFrame({"epoch": e, "train_loss": 1 / (e + 1), "val_loss": 1.1 / (e + 1), "lr": 1e-3,
                            "train_dist_neighbour": 2 / (e + 1), "val_dist_neighbour": 2.2 / (e + 1),
                            "train_dist_distant": 3 + e, "val_dist_distant": 2.5 + e})
    _written(plot_training_distances(history, tmp_path / "one.png"))
    history.to_csv(tmp_path / "history.csv", index=False)
    _written(plot_training_distances({"goes": tmp_path / "history.csv", "modis": history.iloc[:3]},
                                     tmp_path / "two.png"))


def test_dendrogram_leaves_are_the_ward_clusters(blobs, tmp_path):
    X, y, tiles = blobs
    with paper_style():
        fig, (ax, examples) = dendrogram_figure(X, tiles, k=4, labels=y, n_examples=3)
    texts = [t.get_text() for t in ax.get_xticklabels()]
    # four blobs: every leaf holds one pure class, and the leaf sizes are the Ward cluster sizes
    assert sorted(int(t.split("\n")[0].removeprefix("n = ")) for t in texts) == \
        sorted(np.bincount(ward_clusters(X, 4)).tolist())
    assert all(t.endswith("100 %") for t in texts)
    assert examples.shape == (3, 4)
    fig.clf()
    _written(plot_dendrogram(X, tiles, tmp_path / "dendrogram.png", k=4, labels=y, n_examples=2))
    with pytest.raises(ValueError, match="k = 1"):
        plot_dendrogram(X, tiles, tmp_path / "bad.png", k=1)


def test_cluster_confusions_square_and_rectangular(blobs, tmp_path):
    X, y, _ = blobs
    square = {("goes", "ward"): cluster_confusion(y, ward_clusters(X, 4), CLASSES),
              ("goes", "kmeans"): cluster_confusion(y, kmeans_clusters(X, 4, 0), CLASSES)}
    with paper_style():
        fig, axes = cluster_confusions_figure(square)
    ticks = [t.get_text() for t in axes[0, 1].get_xticklabels()]
    assert ticks == [f"C{c}" for c in square[("goes", "ward")].columns]
    fig.clf()
    _written(plot_cluster_confusions(square, tmp_path / "square.png"))
    rect = {("goes", "ward"): cluster_confusion(y, ward_clusters(X, 6), CLASSES),
            ("modis", "ward"): cluster_confusion(y, ward_clusters(X, 3), CLASSES)}
    _written(plot_cluster_confusions(rect, tmp_path / "rect.png"))


def test_pca_scatter(blobs, tmp_path):
    X, y, _ = blobs
    scores, ratio = pca(X, 2)
    one = pd.DataFrame({"pc1": scores[:, 0], "pc2": scores[:, 1], "label": y})
    _written(plot_pca_scatter(one, tmp_path / "one.png", explained={None: ratio}))
    two = pd.concat([one.assign(panel="goes"), one.assign(panel="modis", pc1=-one["pc1"])])
    _written(plot_pca_scatter(two, tmp_path / "two.png", explained={"goes": ratio}, class_order=CLASSES))
    with pytest.raises(ValueError, match="lack columns"):
        plot_pca_scatter(one.drop(columns="label"), tmp_path / "bad.png")


def test_pc_maps(tmp_path):
    rng = np.random.default_rng(0)
    emb = rng.normal(size=(6, 9, 16))
    emb[0, :2] = np.nan  # tiles off the domain
    scores, ratio = pca_grid(emb, 3)
    lat = np.linspace(17.5, 12.5, 6)  # north first, as the stores
    lon = np.linspace(-59.5, -51.5, 9)
    image = rng.integers(0, 255, (60, 90, 3), dtype=np.uint8)
    _written(plot_pc_maps(scores, lat, lon, tmp_path / "maps.png", explained=ratio, image=image,
                          image_lat=np.linspace(17.95, 12.05, 60), image_lon=np.linspace(-59.95, -51.05, 90)))
    _written(plot_pc_maps(scores[::-1, :, 0], lat[::-1], lon, tmp_path / "pc1.png"))  # south first
    with pytest.raises(ValueError, match="for 5 lat"):
        plot_pc_maps(scores, lat[:5], lon, tmp_path / "bad.png")


def test_nmi_vs_scale(blobs, tmp_path):
    X, y, _ = blobs
    rows = []
    for px in (64, 128, 256):
        for model, on in (("tile2vec_goes", "modis"), ("tile2vec_modis", "modis")):
            rows += evaluate_embeddings(X + np.random.default_rng(px).normal(0, px / 40, X.shape), y,
                                        methods=["ward", "kmeans"], k=4, k_range=None, seed=0,
                                        model=model, trained_on=model[9:], evaluated_on=on, tile_px=px)
    table = nmi_vs_scale(rows)
    with paper_style():
        fig, axes = nmi_vs_scale_figure(table)
    # the paper's series is drawn at its six sizes, which are all ticked
    ref = [line for line in axes[0].get_lines() if line.get_marker() == "s"]
    assert len(ref) == 1 and list(ref[0].get_xdata()) == sorted(PAPER_NMI)
    assert {int(t) for t in axes[0].get_xticks()} == set(PAPER_NMI)
    fig.clf()
    _written(plot_nmi_vs_scale(table, tmp_path / "nmi.png"))
    _written(plot_nmi_vs_scale(pd.DataFrame(rows), tmp_path / "raw.png", reference=None))


def test_metrics_by_group(blobs, tmp_path):
    X, y, _ = blobs
    table = pd.DataFrame({"class": y, "cluster": ward_clusters(X, 4), "cloud_fraction": np.abs(X[:, 0]) / 20,
                          "iorg": np.where(np.arange(48) % 7 == 0, np.nan, X[:, 1]), "n_objects": X[:, 2] ** 2})
    _written(plot_metrics_by_group(table, tmp_path / "metrics.png", metrics=["cloud_fraction", "iorg", "n_objects"],
                                   class_order=CLASSES))
    with pytest.raises(ValueError, match="lacks columns"):
        plot_metrics_by_group(table, tmp_path / "bad.png", metrics=["scai"])


def test_labelled_unlabelled_figure(tmp_path):
    rng = np.random.default_rng(0)
    points = pd.DataFrame({"pc1": rng.normal(size=60), "pc2": rng.normal(size=60),
                           "kind": ["labelled"] * 40 + ["unlabelled"] * 20,
                           "panel": ["demo"] * 30 + ["other"] * 30})
    with paper_style():
        fig, axes = labelled_unlabelled_figure(points, {"demo": (0.123, 0.04)})
    assert axes.shape == (1, 2)
    assert "energy distance 0.123, p = 0.04" in axes[0, 0].get_title() and axes[0, 1].get_title() == "other"
    texts = [t.get_text() for t in fig.legends[0].get_texts()]
    assert texts == ["labelled squares (n = 40)", "unlabelled squares (n = 20)"]
    assert axes[0, 0].collections  # points (and density contours)
    _written(plot_labelled_unlabelled(points, tmp_path / "lu.png"))
    with pytest.raises(ValueError, match="kind"):
        labelled_unlabelled_figure(points.assign(kind="other"))


def test_embeddings_comparison_figure(tmp_path):
    rows = [{"model": m, "evaluated_on": d, "tile_px": t, "nmi_kmeans": 0.1 * i, "silhouette_classes": -0.1 + 0.05 * i}
            for i, m in enumerate(["goes", "imagenet"]) for d in ["demo", "expert"] for t in [0, 16, 32]]
    table = pd.DataFrame(rows)
    with paper_style():
        fig, axes = embeddings_comparison_figure(table)
    assert axes.shape == (2, 2) and [a.get_title() for a in axes[0]] == ["demo", "expert"]
    line = axes[0, 0].get_lines()[0]
    assert list(line.get_xdata()) == [16, 32]  # the rectangles (tile_px 0) are left out
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["goes", "imagenet"]
    _written(plot_embeddings_comparison(table, tmp_path / "emb.png"))
