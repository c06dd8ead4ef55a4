"""clouds analysis: clusters of tile embeddings, NMI against the labels, PCA, silhouette, scales.

Everything here takes plain arrays (``X``: ``(n_tiles, n_features)`` float, one row per tile;
``labels``: one class per tile, names or indices) and uses scikit-learn / SciPy for the
numerics:

* :func:`nmi` — normalised mutual information between two labelings,
  ``sklearn.metrics.normalized_mutual_info_score`` with its default arithmetic-mean normalisation
  ``NMI = I(U; V) / ((H(U) + H(V)) / 2)`` (0: independent, 1: the same partition up to renaming).
* :func:`ward_clusters` — Ward's agglomerative clustering (``scipy.cluster.hierarchy.linkage``,
  ``method="ward"``, Euclidean) cut into ``k`` clusters (``fcluster``, ``criterion="maxclust"``),
  as convml-tt's dendrograms; :func:`ward_linkage` gives the linkage matrix for the dendrogram.
  The linkage keeps ``n (n − 1) / 2`` distances: about 400 MB for 10 000 tiles.
* :func:`kmeans_clusters` — ``sklearn.cluster.KMeans`` with ``n_init = N_INIT`` starts and the
  given seed (identical output for one seed).
* :func:`choose_k` — the ``k`` of a range with the highest mean silhouette coefficient
  (``sklearn.metrics.silhouette_score``, Euclidean; Rousseeuw 1987); ties go to the smaller ``k``.
* :func:`pca` — ``sklearn.decomposition.PCA`` (full SVD, deterministic signs): scores and the
  explained variance ratio of each component; ``standardize=True`` first scales every feature
  to unit variance (cloud metrics, which have different units).
* :func:`cluster_confusion` — counts of tiles per class (rows) and cluster (columns), the clusters
  ordered so that the best-matching cluster of each class (Hungarian assignment of the counts,
  ``scipy.optimize.linear_sum_assignment``) comes in the class order.
* :func:`evaluate_embeddings` — the rows of ``nmi.csv`` (:data:`NMI_COLUMNS`) for one model on one
  set of tiles; :func:`silhouette_table` the rows of ``silhouette.csv`` (:data:`SILHOUETTE_COLUMNS`);
  :func:`nmi_vs_scale` the NMI / explained variance / tile count per tile size beside the paper's
  values (:data:`PAPER_NMI`).

* :func:`two_sample_test` — whether two sets of points (labelled and unlabelled squares in an
  embedding or its PCA plane) come from one distribution: the energy distance (Székely & Rizzo
  2004) with a permutation p-value (``scipy.stats.permutation_test``, independent samples).
* :func:`comparison_table` — the one table comparing every embedding: NMI and silhouette per tile
  size (``embeddings.csv``, :data:`COMPARISON_COLUMNS`).

``explained_variance`` in ``nmi.csv`` is the fraction of the embeddings' variance carried by their
first two principal components (the plane of the PCA scatter figure): a single number per model
and tile size that says how low-dimensional the embedding of those tiles is.

References: Székely & Rizzo (2004) "Testing for equal distributions in high dimension",
InterStat (energy distance); Strehl & Ghosh (2002) "Cluster ensembles", JMLR (NMI); Ward (1963) "Hierarchical
grouping to optimize an objective function", JASA; Rousseeuw (1987) "Silhouettes", J. Comput.
Appl. Math.; Denby (2020) "Discovering the importance of mesoscale cloud organization through
unsupervised classification", GRL (Tile2Vec + Ward on GOES-16).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.optimize import linear_sum_assignment
from scipy.spatial.distance import cdist
from scipy.stats import permutation_test
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.metrics import normalized_mutual_info_score, silhouette_score
from sklearn.preprocessing import StandardScaler

__all__ = [
    "COMPARISON_COLUMNS",
    "METHODS",
    "NMI_COLUMNS",
    "N_INIT",
    "PAPER_NMI",
    "SCALE_COLUMNS",
    "SILHOUETTE_COLUMNS",
    "TWO_SAMPLE_COLUMNS",
    "choose_k",
    "cluster_confusion",
    "cluster_embeddings",
    "comparison_table",
    "evaluate_embeddings",
    "kmeans_clusters",
    "metrics_matrix",
    "nmi",
    "nmi_frame",
    "nmi_vs_scale",
    "pca",
    "pca_grid",
    "silhouette_scores",
    "silhouette_table",
    "two_sample_test",
    "ward_clusters",
    "ward_linkage",
]

#: clustering methods of :func:`evaluate_embeddings` (the ``method`` column of nmi.csv); a method
#: whose k was chosen by silhouette is written ``<method>-silhouette``
METHODS = ("ward", "kmeans")
#: k-means restarts (fixed, so results do not depend on scikit-learn's default)
N_INIT = 10
#: columns of nmi.csv, in order
NMI_COLUMNS = ("model", "trained_on", "evaluated_on", "tile_px", "n_tiles", "method", "k", "nmi",
               "explained_variance")
#: columns of silhouette.csv, in order (see :func:`silhouette_table`)
SILHOUETTE_COLUMNS = ("features", "grouping", "n_tiles", "n_groups", "silhouette")
#: columns of :func:`nmi_vs_scale`
SCALE_COLUMNS = ("model", "trained_on", "evaluated_on", "method", "tile_px", "k", "n_tiles", "nmi",
                 "explained_variance", "paper_nmi")
#: columns of the two-sample tests of labelled vs unlabelled squares (unlabelled.csv)
TWO_SAMPLE_COLUMNS = ("model", "evaluated_on", "space", "n_labelled", "n_unlabelled", "energy_distance", "p_value",
                      "n_resamples")
#: columns of embeddings.csv (:func:`comparison_table`)
COMPARISON_COLUMNS = ("model", "trained_on", "evaluated_on", "tile_px", "n_tiles", "nmi_ward", "nmi_kmeans",
                      "nmi_own", "k_own", "silhouette_classes", "silhouette_kmeans")
#: NMI between clusters of Tile2Vec embeddings and the four labels per tile size (px), the table
#: of the LMD/IPSL internship study (2021) quoted in issue 11 (fewer tiles at large sizes): the
#: reference series of the NMI-vs-scale figure
PAPER_NMI = {64: 0.007, 128: 0.019, 256: 0.06, 512: 0.158, 612: 0.192, 850: 0.424}


# --------------------------------------------------------------------------------------------
# input checks
# --------------------------------------------------------------------------------------------
def _features(X: ArrayLike, what: str = "features") -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"{what} must be a 2-D array (tiles, features), got shape {X.shape}")
    if X.shape[0] == 0:
        raise ValueError(f"{what}: no tile")
    bad = ~np.isfinite(X).all(axis=1)
    if bad.any():
        raise ValueError(f"{what}: {int(bad.sum())} of {X.shape[0]} rows hold NaN or infinite values")
    return X


def _labels(values: ArrayLike, n: int | None = None, what: str = "labels") -> np.ndarray:
    out = np.asarray(values)
    if out.ndim != 1:
        raise ValueError(f"{what} must be 1-D, got shape {out.shape}")
    if n is not None and out.shape[0] != n:
        raise ValueError(f"{what}: {out.shape[0]} values for {n} tiles")
    return out


def _check_k(k: int, n: int) -> int:
    k = int(k)
    if not 1 <= k <= n:
        raise ValueError(f"k = {k} clusters asked of {n} tiles (need 1 ≤ k ≤ {n})")
    return k


# --------------------------------------------------------------------------------------------
# NMI, clusters, k
# --------------------------------------------------------------------------------------------
def nmi(labels: ArrayLike, clusters: ArrayLike) -> float:
    """Normalised mutual information of two labelings of the same tiles (order-free, 0–1).

    ``sklearn.metrics.normalized_mutual_info_score(labels, clusters)`` (arithmetic-mean
    normalisation); labels may be names or integers. ``ValueError`` for arrays of different
    lengths or no tile.
    """
    labels = _labels(labels, what="labels")
    clusters = _labels(clusters, labels.shape[0], what="clusters")
    if labels.size == 0:
        raise ValueError("NMI of no tile")
    return float(normalized_mutual_info_score(labels, clusters, average_method="arithmetic"))


def ward_linkage(X: ArrayLike) -> np.ndarray:
    """Ward linkage matrix ``(n − 1, 4)`` of the rows of ``X`` (Euclidean distances)."""
    X = _features(X)
    if X.shape[0] < 2:
        raise ValueError(f"Ward clustering needs at least 2 tiles, got {X.shape[0]}")
    return linkage(X, method="ward", metric="euclidean")


def ward_clusters(X: ArrayLike, k: int, *, linkage_matrix: np.ndarray | None = None) -> np.ndarray:
    """Ward clusters of the rows of ``X``: int array of cluster ids ``0 … k − 1``.

    The Ward tree (:func:`ward_linkage`, or ``linkage_matrix`` when given) cut into at most ``k``
    clusters with ``fcluster(criterion="maxclust")`` (fewer only when tiles are identical).
    """
    X = _features(X)
    k = _check_k(k, X.shape[0])
    if X.shape[0] == 1:
        return np.zeros(1, dtype=np.int64)
    Z = ward_linkage(X) if linkage_matrix is None else np.asarray(linkage_matrix)
    return fcluster(Z, t=k, criterion="maxclust").astype(np.int64) - 1


def kmeans_clusters(X: ArrayLike, k: int, seed: int) -> np.ndarray:
    """k-means clusters (``sklearn.cluster.KMeans``, ``n_init = N_INIT``, ``random_state = seed``)
    of the rows of ``X``: int array of cluster ids ``0 … k − 1``."""
    X = _features(X)
    k = _check_k(k, X.shape[0])
    model = KMeans(n_clusters=k, n_init=N_INIT, random_state=int(seed))
    return model.fit_predict(X).astype(np.int64)


def _cluster(X: np.ndarray, method: str, ks: Sequence[int], seed: int) -> dict[int, np.ndarray]:
    """Cluster ids for every k of ``ks`` (one Ward tree for all of them)."""
    if method == "ward":
        Z = ward_linkage(X)
        return {k: ward_clusters(X, k, linkage_matrix=Z) for k in ks}
    if method == "kmeans":
        return {k: kmeans_clusters(X, k, seed) for k in ks}
    raise ValueError(f"unknown clustering method {method!r} (known: {', '.join(METHODS)})")


def silhouette_scores(X: ArrayLike, groups: ArrayLike) -> float:
    """Mean silhouette coefficient of a grouping of the rows of ``X`` (Euclidean); NaN when it is
    undefined (fewer than 2 groups, or every tile its own group)."""
    X = _features(X)
    groups = _labels(groups, X.shape[0], what="groups")
    n_groups = np.unique(groups).size
    if not 2 <= n_groups <= X.shape[0] - 1:
        return float("nan")
    return float(silhouette_score(X, groups, metric="euclidean"))


def choose_k(X: ArrayLike, k_range: Sequence[int], seed: int, method: str = "kmeans"
             ) -> tuple[int, dict[int, float]]:
    """The number of clusters in ``k_range`` whose ``method`` clusters have the highest mean
    silhouette; returns ``(k, {k: silhouette})`` (ties: the smaller k).

    Values of ``k_range`` outside ``2 … n − 1`` (no silhouette) are left out; ``ValueError`` when
    none is left or no k gives a defined silhouette.
    """
    k, scores, _ = _choose_k(_features(X), k_range, seed, method)
    return k, scores


def _choose_k(X: np.ndarray, k_range: Sequence[int], seed: int, method: str
              ) -> tuple[int, dict[int, float], np.ndarray]:
    """:func:`choose_k` and the cluster ids at the chosen k."""
    n = X.shape[0]
    ks = sorted({int(k) for k in k_range if 2 <= int(k) <= n - 1})
    if not ks:
        raise ValueError(f"no k of {list(k_range)} lies in 2 … {n - 1} for {n} tiles")
    clusters = _cluster(X, method, ks, seed)
    scores = {k: silhouette_scores(X, c) for k, c in clusters.items()}
    finite = {k: s for k, s in scores.items() if np.isfinite(s)}
    if not finite:
        raise ValueError(f"no silhouette defined for k in {ks} ({method} clusters of {n} tiles)")
    best = max(finite.values())
    k = min(k for k, s in finite.items() if s == best)
    return k, scores, clusters[k]


# --------------------------------------------------------------------------------------------
# PCA
# --------------------------------------------------------------------------------------------
def pca(X: ArrayLike, n_components: int | None = None, *, standardize: bool = False
        ) -> tuple[np.ndarray, np.ndarray]:
    """Principal components of the rows of ``X``: ``(scores (n, c), explained_variance_ratio (c,))``.

    ``c`` is ``n_components`` or ``min(n, n_features)`` (then the ratios sum to 1); centred, and
    scaled to unit variance per feature with ``standardize`` (constant features stay 0).
    """
    X = _features(X)
    n, d = X.shape
    c = min(n, d) if n_components is None else int(n_components)
    if not 1 <= c <= min(n, d):
        raise ValueError(f"{c} principal components asked of {n} tiles × {d} features")
    if standardize:
        X = StandardScaler().fit_transform(X)
    model = PCA(n_components=c, svd_solver="full")
    scores = model.fit_transform(X)
    ratio = model.explained_variance_ratio_ if n > 1 else np.zeros(c)
    return scores, np.asarray(ratio, dtype=np.float64)


def pca_grid(embeddings: ArrayLike, n_components: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """PCA of embeddings on a grid of tiles ``(ny, nx, dim)`` (NaN rows: tiles off the domain):
    ``(scores (ny, nx, n_components) with NaN where the tile was NaN, ratio)``, fitted on the
    finite tiles — the principal-component maps over a domain."""
    e = np.asarray(embeddings, dtype=np.float64)
    if e.ndim != 3:
        raise ValueError(f"grid embeddings must be (ny, nx, dim), got shape {e.shape}")
    flat = e.reshape(-1, e.shape[-1])
    ok = np.isfinite(flat).all(axis=1)
    if not ok.any():
        raise ValueError("no finite tile embedding on the grid")
    c = min(int(n_components), int(ok.sum()), e.shape[-1])
    scores, ratio = pca(flat[ok], c)
    out = np.full((flat.shape[0], c), np.nan)
    out[ok] = scores
    return out.reshape(*e.shape[:2], c), ratio


def metrics_matrix(table: pd.DataFrame, columns: Sequence[str]) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Cloud metrics as a feature matrix for :func:`pca` / :func:`silhouette_table`.

    From ``table`` (one row per tile), the ``columns`` that are finite for some tile and not
    constant, then the rows where all of those are finite (a metric is NaN where undefined, e.g.
    Iorg with one cloud). Returns ``(X (rows, metrics), kept_rows bool (len(table),), metrics)``.
    """
    missing = [c for c in columns if c not in table]
    if missing:
        raise ValueError(f"metric table lacks columns {missing} (has {list(table.columns)})")
    values = table[list(columns)].to_numpy(dtype=np.float64)
    values = np.where(np.isfinite(values), values, np.nan)
    useful = [j for j in range(values.shape[1])
              if np.isfinite(values[:, j]).any() and np.nanstd(values[:, j]) > 0]
    kept = [columns[j] for j in useful]
    X = values[:, useful]
    rows = np.isfinite(X).all(axis=1) if kept else np.zeros(len(table), dtype=bool)
    return X[rows], rows, kept


# --------------------------------------------------------------------------------------------
# confusion of clusters and classes
# --------------------------------------------------------------------------------------------
def cluster_confusion(labels: ArrayLike, clusters: ArrayLike,
                      class_names: Sequence[str] | None = None) -> pd.DataFrame:
    """Tiles per class (rows, index ``class``) and cluster (columns, ``cluster``): int counts.

    ``labels`` are class names, or indices into ``class_names``; rows follow ``class_names`` (all
    of them, an absent class a row of zeros) or the sorted labels. Columns are the cluster ids
    ordered by the class they match (Hungarian assignment maximising the tiles on the diagonal,
    so with as many clusters as classes the diagonal is the best one-to-one match), then the
    unmatched clusters by their majority class.
    """
    labels = _labels(labels, what="labels")
    clusters = _labels(clusters, labels.shape[0], what="clusters")
    if class_names is not None:
        names = [str(c) for c in class_names]
        if labels.size and np.issubdtype(labels.dtype, np.integer):
            if labels.min() < 0 or labels.max() >= len(names):
                raise ValueError(f"label indices {sorted(set(labels.tolist()))} outside the "
                                 f"{len(names)} classes {names}")
            labels = np.asarray(names, dtype=object)[labels]
        else:
            labels = labels.astype(str)
            unknown = sorted(set(labels.tolist()) - set(names))
            if unknown:
                raise ValueError(f"labels {unknown} are not among the classes {names}")
    else:
        names = sorted({str(v) for v in labels.tolist()})
        labels = labels.astype(str)
    ids = sorted(set(clusters.tolist()))
    row_of = {name: i for i, name in enumerate(names)}
    col_of = {c: j for j, c in enumerate(ids)}
    counts = np.zeros((len(names), len(ids)), dtype=np.int64)
    np.add.at(counts, ([row_of[v] for v in labels.tolist()], [col_of[c] for c in clusters.tolist()]), 1)
    rows, cols = linear_sum_assignment(counts, maximize=True)
    matched = [ids[c] for _, c in sorted(zip(rows, cols, strict=True))]
    rest = sorted((c for c in ids if c not in matched),
                  key=lambda c: (int(np.argmax(counts[:, ids.index(c)])), c))
    out = pd.DataFrame(counts, index=pd.Index(names, name="class"),
                       columns=pd.Index(ids, name="cluster"))[matched + rest]
    return out


# --------------------------------------------------------------------------------------------
# nmi.csv and silhouette.csv
# --------------------------------------------------------------------------------------------
def cluster_embeddings(X: ArrayLike, *, methods: Sequence[str], k: int | None,
                       k_range: Sequence[int] | None, seed: int) -> dict[str, tuple[int, np.ndarray]]:
    """Clusters of every method: ``{name: (k, cluster ids)}``.

    For each method of ``methods`` (:data:`METHODS`): ``name = method`` at the given ``k`` (when
    ``k`` is not None) and ``name = "<method>-silhouette"`` at the k of ``k_range`` chosen by
    :func:`choose_k` with that method (when ``k_range`` is not empty). A k the tiles cannot give
    (``k > n`` or, for the silhouette choice, fewer than 3 tiles) leaves that entry out.
    """
    X = _features(X)
    n = X.shape[0]
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ValueError(f"unknown clustering method(s) {unknown} (known: {', '.join(METHODS)})")
    out: dict[str, tuple[int, np.ndarray]] = {}
    for method in methods:
        if k is not None and 1 <= int(k) <= n:
            out[method] = (int(k), _cluster(X, method, [int(k)], seed)[int(k)])
        if k_range is not None and any(2 <= int(j) <= n - 1 for j in k_range):
            try:
                best, _, ids = _choose_k(X, k_range, seed, method)
            except ValueError:  # no silhouette defined (e.g. identical tiles)
                continue
            out[f"{method}-silhouette"] = (best, ids)
    return out


def evaluate_embeddings(emb: ArrayLike, labels: ArrayLike, *, methods: Sequence[str], k: int | None,
                        k_range: Sequence[int] | None, seed: int, model: str, trained_on: str,
                        evaluated_on: str, tile_px: int,
                        clusters: Mapping[str, tuple[int, np.ndarray]] | None = None
                        ) -> list[dict[str, Any]]:
    """Rows of ``nmi.csv`` (keys :data:`NMI_COLUMNS`) for one model's embeddings of one tile set.

    ``emb`` ``(n_tiles, dim)``, ``labels`` one class per tile; ``model`` / ``trained_on`` (the
    triplet source) / ``evaluated_on`` (the tile source) / ``tile_px`` identify the row.
    One row per entry of :func:`cluster_embeddings` (``method`` = its name, ``k``, ``nmi`` of the
    clusters vs the labels), or of ``clusters`` when given (already computed with it);
    ``explained_variance`` is the first two principal components' share of the embeddings'
    variance (the same on every row of one call). A method that the tiles cannot cluster (too
    few tiles) gets a row with ``k`` None and ``nmi`` NaN, so a tile size with few tiles stays
    visible. Write the rows with :func:`nmi_frame`.
    """
    X = _features(emb, "embeddings")
    y = _labels(labels, X.shape[0], what="labels")
    n = X.shape[0]
    if clusters is None:
        clusters = cluster_embeddings(X, methods=methods, k=k, k_range=k_range, seed=seed)
    ev = float(np.sum(pca(X)[1][:2])) if n > 1 else float("nan")
    names = [*methods] if k is not None else []
    names += [f"{m}-silhouette" for m in methods] if k_range is not None and len(k_range) else []
    names += [c for c in clusters if c not in names]
    rows = []
    for name in names:
        kk, ids = clusters.get(name, (None, None))
        rows.append({"model": model, "trained_on": trained_on, "evaluated_on": evaluated_on,
                     "tile_px": int(tile_px), "n_tiles": n, "method": name, "k": kk,
                     "nmi": nmi(y, ids) if ids is not None else float("nan"),
                     "explained_variance": ev})
    return rows


def nmi_frame(rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """nmi.csv as a table: :data:`NMI_COLUMNS` in order, ``tile_px`` / ``n_tiles`` int and ``k``
    a nullable int (empty where the tiles could not be clustered)."""
    table = pd.DataFrame(list(rows), columns=list(NMI_COLUMNS))
    return table.astype({"tile_px": "int64", "n_tiles": "int64", "k": "Int64",
                         "nmi": "float64", "explained_variance": "float64"})


def silhouette_table(features: Mapping[str, ArrayLike] | ArrayLike, labels: ArrayLike,
                     clusters: Mapping[str, ArrayLike]) -> list[dict[str, Any]]:
    """Rows of ``silhouette.csv`` (keys :data:`SILHOUETTE_COLUMNS`): how well the classes and the
    clusters separate in each feature space.

    ``features``: ``{name: (n_tiles, dim)}`` (e.g. ``"embedding"``, ``"cloud_metrics_pca"``; one
    array is named ``"features"``), all of the same tiles; ``labels``: their classes;
    ``clusters``: ``{method: cluster ids}``. Per feature space one row with ``grouping =
    "classes"`` and one per method (``grouping`` = the method name): ``n_tiles``, ``n_groups``
    (distinct values) and ``silhouette`` (:func:`silhouette_scores`, NaN when undefined). The
    caller adds the identifying columns (model, evaluated_on, tile_px) it needs.
    """
    if not isinstance(features, Mapping):
        features = {"features": features}
    rows = []
    for fname, X in features.items():
        X = _features(X, f"features {fname!r}")
        groupings = {"classes": _labels(labels, X.shape[0], what="labels")}
        groupings |= {m: _labels(c, X.shape[0], what=f"clusters {m!r}") for m, c in clusters.items()}
        for gname, g in groupings.items():
            rows.append({"features": fname, "grouping": gname, "n_tiles": X.shape[0],
                         "n_groups": int(np.unique(g).size), "silhouette": silhouette_scores(X, g)})
    return rows


def nmi_vs_scale(rows: pd.DataFrame | Sequence[Mapping[str, Any]],
                 reference: Mapping[int, float] | None = None) -> pd.DataFrame:
    """NMI, explained variance and tile count per tile size (columns :data:`SCALE_COLUMNS`).

    ``rows``: nmi.csv rows (:data:`NMI_COLUMNS`) of several tile sizes; one output row per
    ``(model, trained_on, evaluated_on, method, tile_px)``, sorted, with ``paper_nmi`` the
    reference value at that size (``reference``, default :data:`PAPER_NMI`; NaN at other sizes).
    """
    table = pd.DataFrame(list(rows) if not isinstance(rows, pd.DataFrame) else rows)
    missing = [c for c in NMI_COLUMNS if c not in table]
    if missing:
        raise ValueError(f"nmi rows lack columns {missing} (have {list(table.columns)})")
    ref = PAPER_NMI if reference is None else reference
    keys = ["model", "trained_on", "evaluated_on", "method", "tile_px"]
    dup = table.duplicated(keys)
    if dup.any():
        raise ValueError(f"{int(dup.sum())} nmi rows repeat a {'/'.join(keys)} combination")
    out = table.sort_values(keys, kind="stable").reset_index(drop=True)
    out["tile_px"] = out["tile_px"].astype(int)
    out["paper_nmi"] = [float(ref.get(int(t), np.nan)) for t in out["tile_px"]]
    return out[list(SCALE_COLUMNS)]


# --------------------------------------------------------------------------------------------
# labelled vs unlabelled; the comparison of embeddings
# --------------------------------------------------------------------------------------------
def _energy(D: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    """Energy distance 2·E|A−B| − E|A−A'| − E|B−B'| (V-statistics) from the distance matrix ``D``."""
    return float(2.0 * D[np.ix_(a, b)].mean() - D[np.ix_(a, a)].mean() - D[np.ix_(b, b)].mean())


def two_sample_test(A: ArrayLike, B: ArrayLike, *, n_resamples: int, seed: int) -> tuple[float, float]:
    """Energy distance between the point sets ``A`` ``(n, d)`` and ``B`` ``(m, d)`` and its
    permutation p-value: ``(statistic, p)``.

    The statistic is Székely & Rizzo's energy distance ``2·E|A−B| − E|A−A'| − E|B−B'|``
    (Euclidean; V-statistics: 0 for identical sets, > 0 otherwise, a metric between
    distributions); the p-value is that of ``scipy.stats.permutation_test`` (``permutation_type =
    "independent"``, ``alternative = "greater"``, ``n_resamples`` random relabellings drawn from a
    generator seeded with ``seed``; scipy counts the observed labelling in, so p ≥ 1 / (n_resamples
    + 1)). NaN, NaN when either set has fewer than 2 points.
    """
    A, B = _features(A, "first sample"), _features(B, "second sample")
    if A.shape[1] != B.shape[1]:
        raise ValueError(f"the samples have {A.shape[1]} and {B.shape[1]} features")
    if A.shape[0] < 2 or B.shape[0] < 2:
        return float("nan"), float("nan")
    D = cdist(np.concatenate([A, B]), np.concatenate([A, B]))
    ia, ib = np.arange(A.shape[0]), np.arange(A.shape[0], A.shape[0] + B.shape[0])
    res = permutation_test((ia, ib), lambda a, b: _energy(D, a, b), permutation_type="independent",
                           vectorized=False, n_resamples=int(n_resamples), alternative="greater",
                           rng=np.random.default_rng(int(seed)))
    return float(res.statistic), float(res.pvalue)


def comparison_table(nmi_rows: pd.DataFrame, silhouette_rows: pd.DataFrame) -> pd.DataFrame:
    """``embeddings.csv``: one row per model, evaluated dataset and tile size (0: the labelled
    rectangles, resized), with the NMI of its Ward and k-means clusters at the configured k
    (methods ``ward`` / ``kmeans`` of nmi.csv, not the ``-silhouette`` choices) and of the
    model's own clusters (DeepCluster's pseudo-label clusters, ``method = "own"``; empty for the
    others), and the silhouette of the classes and of the k-means clusters in the embedding
    space (columns :data:`COMPARISON_COLUMNS`)."""
    nmi_rows = pd.DataFrame(nmi_rows)
    keys = ["model", "trained_on", "evaluated_on", "tile_px"]
    if nmi_rows.empty:
        return pd.DataFrame(columns=list(COMPARISON_COLUMNS))
    base = nmi_rows.groupby(keys, sort=True, dropna=False)["n_tiles"].max().reset_index()

    def method(name: str, column: str, value: str = "nmi") -> pd.DataFrame:
        sel = nmi_rows[nmi_rows["method"] == name]
        return sel[[*keys, value]].rename(columns={value: column})

    table = base.merge(method("ward", "nmi_ward"), on=keys, how="left") \
        .merge(method("kmeans", "nmi_kmeans"), on=keys, how="left") \
        .merge(method("own", "nmi_own"), on=keys, how="left") \
        .merge(method("own", "k_own", "k"), on=keys, how="left")
    sil = pd.DataFrame(silhouette_rows)
    if not sil.empty:
        sil = sil[sil["features"] == "embedding"]
        for grouping, column in (("classes", "silhouette_classes"), ("kmeans", "silhouette_kmeans")):
            part = sil[sil["grouping"] == grouping][["model", "evaluated_on", "tile_px", "silhouette"]]
            table = table.merge(part.rename(columns={"silhouette": column}),
                                on=["model", "evaluated_on", "tile_px"], how="left")
    for column in COMPARISON_COLUMNS:
        if column not in table:
            table[column] = np.nan
    table = table.astype({"k_own": "Int64"})
    return table[list(COMPARISON_COLUMNS)].sort_values(["evaluated_on", "tile_px", "model"], kind="stable") \
        .reset_index(drop=True)
