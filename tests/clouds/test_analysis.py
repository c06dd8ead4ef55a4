"""clouds analysis: NMI, Ward / k-means clusters, choice of k, PCA, confusion, nmi.csv rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_blobs
from sklearn.metrics import normalized_mutual_info_score, silhouette_score

from eoml.clouds.analysis import (
    COMPARISON_COLUMNS,
    NMI_COLUMNS,
    PAPER_NMI,
    SCALE_COLUMNS,
    SILHOUETTE_COLUMNS,
    choose_k,
    cluster_confusion,
    cluster_embeddings,
    comparison_table,
    evaluate_embeddings,
    kmeans_clusters,
    metrics_matrix,
    nmi,
    nmi_frame,
    nmi_vs_scale,
    pca,
    pca_grid,
    silhouette_scores,
    silhouette_table,
    two_sample_test,
    ward_clusters,
)


def _hand_nmi(a, b) -> float:
    """NMI from the contingency table: I(A; B) / ((H(A) + H(B)) / 2), natural logs."""
    _, ia = np.unique(a, return_inverse=True)
    _, ib = np.unique(b, return_inverse=True)
    p = np.zeros((ia.max() + 1, ib.max() + 1))
    np.add.at(p, (ia, ib), 1.0)
    p /= p.sum()
    pa, pb = p.sum(1), p.sum(0)
    nz = p > 0
    mi = np.sum(p[nz] * np.log(p[nz] / np.outer(pa, pb)[nz]))
    h = -np.sum(pa * np.log(pa)) - np.sum(pb * np.log(pb))
    return float(mi / (h / 2)) if h > 0 else 1.0


@pytest.fixture(scope="module")
def blobs():
    """Four well-separated blobs in 10-D (true k = 4), labels as class names."""
    X, y = make_blobs(n_samples=160, n_features=10, centers=4, cluster_std=0.4, center_box=(-20, 20),
                      random_state=3)
    names = np.array(["Fish", "Flower", "Gravel", "Sugar"])[y]
    return X, names


# --------------------------------------------------------------------------------------------
# NMI
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", range(6))
def test_nmi_equals_sklearn_on_random_labelings(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 400))
    a = rng.integers(0, int(rng.integers(1, 6)), n)
    b = rng.integers(0, int(rng.integers(1, 9)), n)
    if seed % 2:  # correlated labelings, classes as names
        b = np.where(rng.random(n) < 0.7, a, b)
        a = np.array(["Fish", "Flower", "Gravel", "Sugar", "x", "y"])[a]
    value = nmi(a, b)
    assert value == normalized_mutual_info_score(a, b)
    assert value == pytest.approx(_hand_nmi(a, b), abs=1e-12)


def test_nmi_known_values():
    assert nmi([0, 0, 1, 1, 2, 2], [5, 5, 3, 3, 9, 9]) == pytest.approx(1.0)  # renamed partition
    assert nmi([0, 0, 1, 1], [0, 1, 0, 1]) == pytest.approx(0.0, abs=1e-12)  # independent
    # two classes split into one pure cluster and one mixed: MI = H(A) − H(A|B) by hand
    value = nmi(["a", "a", "b", "b"], [0, 0, 0, 1])
    h_a = np.log(2)
    h_b = -(0.75 * np.log(0.75) + 0.25 * np.log(0.25))
    mi = h_a - 0.75 * -(1 / 3 * np.log(1 / 3) + 2 / 3 * np.log(2 / 3))
    assert value == pytest.approx(mi / ((h_a + h_b) / 2), abs=1e-12)


def test_nmi_rejects_bad_input():
    with pytest.raises(ValueError, match="3 values for 4 tiles"):
        nmi([0, 1, 0, 1], [0, 1, 1])
    with pytest.raises(ValueError, match="no tile"):
        nmi([], [])


# --------------------------------------------------------------------------------------------
# clusters and k
# --------------------------------------------------------------------------------------------
def test_ward_and_kmeans_recover_blobs(blobs):
    X, y = blobs
    ward = ward_clusters(X, 4)
    km = kmeans_clusters(X, 4, seed=0)
    assert sorted(np.unique(ward)) == [0, 1, 2, 3]
    assert sorted(np.unique(km)) == [0, 1, 2, 3]
    assert nmi(y, ward) == pytest.approx(1.0)
    assert nmi(y, km) == pytest.approx(1.0)
    assert np.array_equal(km, kmeans_clusters(X, 4, seed=0))  # seeded
    with pytest.raises(ValueError, match="k = 200"):
        ward_clusters(X, 200)


def test_ward_clusters_are_scipys_cut():
    """A chain of points with growing gaps: Ward cut into 2 splits at the largest gap."""
    X = np.array([[0.0], [1.0], [2.5], [10.0], [11.0]])
    c = ward_clusters(X, 2)
    assert c[0] == c[1] == c[2] != c[3] == c[4]
    assert len(set(ward_clusters(X, 5).tolist())) == 5


@pytest.mark.parametrize("method", ["kmeans", "ward"])
def test_choose_k_finds_true_k(blobs, method):
    X, _ = blobs
    k, scores = choose_k(X, range(2, 8), seed=0, method=method)
    assert k == 4
    assert sorted(scores) == [2, 3, 4, 5, 6, 7]
    c = ward_clusters(X, 4) if method == "ward" else kmeans_clusters(X, 4, 0)
    assert scores[4] == pytest.approx(silhouette_score(X, c))
    assert max(scores.values()) == scores[4]


def test_choose_k_rejects_impossible_ranges(blobs):
    X, _ = blobs
    with pytest.raises(ValueError, match="no k of"):
        choose_k(X[:3], [3, 4], seed=0)
    with pytest.raises(ValueError, match="unknown clustering method"):
        choose_k(X, [2, 3], seed=0, method="dbscan")


def test_silhouette_scores_equal_sklearn_and_nan_when_undefined():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(50, 3))
    g = rng.integers(0, 3, 50)
    assert silhouette_scores(X, g) == pytest.approx(silhouette_score(X, g))
    assert np.isnan(silhouette_scores(X, np.zeros(50)))
    assert np.isnan(silhouette_scores(X[:4], np.arange(4)))


# --------------------------------------------------------------------------------------------
# PCA
# --------------------------------------------------------------------------------------------
def test_pca_ratio_sums_to_one_and_matches_svd():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(40, 6)) @ rng.normal(size=(6, 6))
    scores, ratio = pca(X)
    assert scores.shape == (40, 6)
    assert ratio.sum() == pytest.approx(1.0)
    assert np.all(np.diff(ratio) <= 1e-12)
    s = np.linalg.svd(X - X.mean(0), compute_uv=False)
    assert np.allclose(ratio, s**2 / np.sum(s**2))
    assert np.allclose(scores.var(0, ddof=1) / scores.var(0, ddof=1).sum(), ratio)
    two, ratio2 = pca(X, 2)
    assert two.shape == (40, 2) and np.allclose(ratio2, ratio[:2])


def test_pca_of_a_line_and_standardize():
    t = np.linspace(-1, 1, 30)
    X = np.c_[t, 2 * t, -t]
    assert pca(X)[1][0] == pytest.approx(1.0)
    rng = np.random.default_rng(0)
    Y = rng.normal(size=(30, 3))
    scaled = Y * np.array([1.0, 1000.0, 0.01])
    assert np.allclose(pca(Y, standardize=True)[1], pca(scaled, standardize=True)[1])
    assert pca(scaled)[1][0] > 0.99  # unscaled: the large-unit feature dominates
    with pytest.raises(ValueError, match="1 of 30 rows hold NaN"):
        pca(np.where(np.arange(90).reshape(30, 3) == 4, np.nan, Y))


def test_pca_grid_keeps_nan_tiles():
    rng = np.random.default_rng(0)
    e = rng.normal(size=(4, 5, 8))
    e[0, 0] = np.nan
    scores, ratio = pca_grid(e, 3)
    assert scores.shape == (4, 5, 3) and ratio.shape == (3,)
    assert np.isnan(scores[0, 0]).all() and np.isfinite(scores.reshape(-1, 3)[1:]).all()
    assert np.allclose(scores.reshape(-1, 3)[1:], pca(e.reshape(-1, 8)[1:], 3)[0])


def test_metrics_matrix_drops_empty_constant_columns_and_nan_rows():
    table = pd.DataFrame({"a": [1.0, 2.0, np.nan, 4.0], "b": [np.nan] * 4, "c": [3.0] * 4,
                          "d": [1.0, 0.0, 1.0, np.inf]})
    X, rows, kept = metrics_matrix(table, ["a", "b", "c", "d"])
    assert kept == ["a", "d"]
    assert rows.tolist() == [True, True, False, False]
    assert np.array_equal(X, [[1.0, 1.0], [2.0, 0.0]])
    with pytest.raises(ValueError, match="lacks columns"):
        metrics_matrix(table, ["zz"])


# --------------------------------------------------------------------------------------------
# confusion
# --------------------------------------------------------------------------------------------
def test_cluster_confusion_counts_and_matched_order():
    classes = ["Fish", "Flower", "Gravel", "Sugar"]
    labels = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2, 0])
    clusters = np.array([7, 7, 3, 5, 5, 3, 3, 3, 1, 7])
    table = cluster_confusion(labels, clusters, classes)
    assert list(table.index) == classes and table.index.name == "class"
    assert list(table.columns) == [7, 5, 3, 1]  # Fish↔7, Flower↔5, Gravel↔3, then the rest
    assert table.loc["Fish"].tolist() == [3, 0, 1, 0]
    assert table.loc["Gravel"].tolist() == [0, 0, 3, 1]
    assert table.loc["Sugar"].sum() == 0  # an absent class is a row of zeros
    assert table.to_numpy().sum() == labels.size
    by_name = cluster_confusion(np.array(classes)[labels], clusters, classes)
    assert by_name.equals(table)
    with pytest.raises(ValueError, match="not among the classes"):
        cluster_confusion(["Cumulus"], [0], classes)
    with pytest.raises(ValueError, match="outside the 4 classes"):
        cluster_confusion([4], [0], classes)


# --------------------------------------------------------------------------------------------
# nmi.csv, silhouette.csv, scales
# --------------------------------------------------------------------------------------------
def test_evaluate_embeddings_rows(blobs, tmp_path):
    X, y = blobs
    rows = evaluate_embeddings(X, y, methods=["ward", "kmeans"], k=4, k_range=range(2, 7), seed=0,
                               model="tile2vec_goes", trained_on="goes", evaluated_on="modis", tile_px=256)
    assert [r["method"] for r in rows] == ["ward", "kmeans", "ward-silhouette", "kmeans-silhouette"]
    for r in rows:
        assert tuple(r) == NMI_COLUMNS
        assert r["k"] == 4 and r["nmi"] == pytest.approx(1.0) and r["n_tiles"] == len(y)
        assert r["explained_variance"] == pytest.approx(pca(X)[1][:2].sum())
    frame = nmi_frame(rows)
    frame.to_csv(tmp_path / "nmi.csv", index=False)
    back = pd.read_csv(tmp_path / "nmi.csv")
    assert tuple(back.columns) == NMI_COLUMNS and back["k"].tolist() == [4] * 4


def test_evaluate_embeddings_with_too_few_tiles_keeps_a_row():
    X = np.array([[0.0, 1.0], [1.0, 0.0], [5.0, 5.0]])
    rows = evaluate_embeddings(X, ["a", "b", "a"], methods=["ward"], k=4, k_range=[2, 3], seed=0,
                               model="m", trained_on="goes", evaluated_on="goes", tile_px=850)
    assert [r["method"] for r in rows] == ["ward", "ward-silhouette"]
    assert rows[0]["k"] is None and np.isnan(rows[0]["nmi"])
    assert rows[1]["k"] == 2 and np.isfinite(rows[1]["nmi"])
    assert nmi_frame(rows)["k"].isna().tolist() == [True, False]
    with pytest.raises(ValueError, match="unknown clustering method"):
        cluster_embeddings(X, methods=["spectral"], k=2, k_range=None, seed=0)


def test_silhouette_table(blobs):
    X, y = blobs
    metrics = X[:, :3] * 10
    clusters = {"ward": ward_clusters(X, 4), "kmeans": kmeans_clusters(X, 3, 0)}
    rows = silhouette_table({"embedding": X, "cloud_metrics_pca": metrics}, y, clusters)
    assert [(r["features"], r["grouping"]) for r in rows] == [
        ("embedding", "classes"), ("embedding", "ward"), ("embedding", "kmeans"),
        ("cloud_metrics_pca", "classes"), ("cloud_metrics_pca", "ward"), ("cloud_metrics_pca", "kmeans")]
    assert all(tuple(r) == SILHOUETTE_COLUMNS for r in rows)
    assert rows[0]["silhouette"] == pytest.approx(silhouette_score(X, y))
    assert rows[5]["silhouette"] == pytest.approx(silhouette_score(metrics, clusters["kmeans"]))
    assert rows[2]["n_groups"] == 3 and rows[0]["n_tiles"] == len(y)
    with pytest.raises(ValueError, match="clusters 'ward': 3 values"):
        silhouette_table(X, y, {"ward": [0, 1, 2]})


def test_nmi_vs_scale():
    rows = [{"model": "m", "trained_on": "goes", "evaluated_on": "modis", "tile_px": px, "n_tiles": n,
             "method": "ward", "k": 4, "nmi": v, "explained_variance": 0.5}
            for px, n, v in [(512, 40, 0.2), (64, 900, 0.01), (100, 500, 0.02)]]
    table = nmi_vs_scale(rows)
    assert tuple(table.columns) == SCALE_COLUMNS
    assert table["tile_px"].tolist() == [64, 100, 512]
    assert table["n_tiles"].tolist() == [900, 500, 40]
    assert table["paper_nmi"].iloc[0] == PAPER_NMI[64] and np.isnan(table["paper_nmi"].iloc[1])
    assert table["paper_nmi"].iloc[2] == 0.158
    with pytest.raises(ValueError, match="repeat"):
        nmi_vs_scale(rows + rows[:1])
    with pytest.raises(ValueError, match="lack columns"):
        nmi_vs_scale([{"model": "m"}])


# --------------------------------------------------------------------------------------------
# two-sample test and the comparison table
# --------------------------------------------------------------------------------------------
def _hand_energy(a: np.ndarray, b: np.ndarray) -> float:
    d = lambda u, v: np.sqrt(((u[:, None, :] - v[None, :, :]) ** 2).sum(-1)).mean()
    return 2 * d(a, b) - d(a, a) - d(b, b)


def test_two_sample_test_energy_distance_and_p_value():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(40, 3)), rng.normal(size=(30, 3))
    stat, p = two_sample_test(a, b, n_resamples=199, seed=0)
    assert stat == pytest.approx(_hand_energy(a, b), rel=1e-12)
    assert p > 0.05                                            # one distribution
    shifted, p_shift = two_sample_test(a, b + 1.5, n_resamples=199, seed=0)
    assert shifted > stat and p_shift == pytest.approx(1 / 200)  # none of the relabellings is as far
    assert two_sample_test(a, b, n_resamples=199, seed=0) == (stat, p)   # seeded
    assert np.isnan(two_sample_test(a, b[:1], n_resamples=99, seed=0)).all()
    with pytest.raises(ValueError, match="features"):
        two_sample_test(a, b[:, :2], n_resamples=99, seed=0)


def test_comparison_table_joins_nmi_and_silhouettes():
    keys = {"trained_on": "modis", "evaluated_on": "demo"}
    nmi_rows = nmi_frame([
        {"model": "m", **keys, "tile_px": 32, "n_tiles": 50, "method": "ward", "k": 4, "nmi": 0.1,
         "explained_variance": 0.5},
        {"model": "m", **keys, "tile_px": 32, "n_tiles": 50, "method": "kmeans", "k": 4, "nmi": 0.2,
         "explained_variance": 0.5},
        {"model": "m", **keys, "tile_px": 32, "n_tiles": 50, "method": "kmeans-silhouette", "k": 3, "nmi": 0.9,
         "explained_variance": 0.5},
        {"model": "dc", **keys, "tile_px": 32, "n_tiles": 50, "method": "kmeans", "k": 4, "nmi": 0.3,
         "explained_variance": 0.4},
        {"model": "dc", **keys, "tile_px": 32, "n_tiles": 50, "method": "own", "k": 7, "nmi": 0.35,
         "explained_variance": 0.4},
    ])
    sil = pd.DataFrame([
        {"model": "m", "evaluated_on": "demo", "tile_px": 32, "features": "embedding", "grouping": "classes",
         "n_tiles": 50, "n_groups": 4, "silhouette": 0.05},
        {"model": "m", "evaluated_on": "demo", "tile_px": 32, "features": "embedding", "grouping": "kmeans",
         "n_tiles": 50, "n_groups": 4, "silhouette": 0.3},
        {"model": "cloud_metrics", "evaluated_on": "all", "tile_px": 32, "features": "cloud_metrics_pca",
         "grouping": "classes", "n_tiles": 50, "n_groups": 4, "silhouette": 0.7},
    ])
    table = comparison_table(nmi_rows, sil)
    assert list(table.columns) == list(COMPARISON_COLUMNS) and len(table) == 2
    m = table.set_index("model")
    assert m.loc["m", "nmi_ward"] == 0.1 and m.loc["m", "nmi_kmeans"] == 0.2   # not the silhouette's k
    assert pd.isna(m.loc["m", "nmi_own"]) and pd.isna(m.loc["m", "k_own"])
    assert m.loc["m", "silhouette_classes"] == 0.05 and m.loc["m", "silhouette_kmeans"] == 0.3
    assert m.loc["dc", "nmi_own"] == 0.35 and m.loc["dc", "k_own"] == 7 and pd.isna(m.loc["dc", "nmi_ward"])
    assert pd.isna(m.loc["dc", "silhouette_classes"])
    assert list(comparison_table(nmi_frame([]), pd.DataFrame()).columns) == list(COMPARISON_COLUMNS)
