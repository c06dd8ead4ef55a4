"""clouds steps after training: the analysis of an embedding model, cloud metrics, tables.

* :func:`analyse_model` — one embedding model (any of :mod:`eoml.clouds.embedders`: Tile2Vec,
  the untrained ImageNet features, DeepCluster, the autoencoder) on every labelled dataset: per tile size of
  ``analysis.tile_sizes`` the labelled tiles (inside labelled rectangles, capped at
  ``analysis.max_tiles``, tiles resized to the model's input) and, as ``tile_px = 0``, the
  labelled rectangles themselves resized to the model's input are embedded, clustered (Ward and
  k-means at ``k``, and at the k of best silhouette in ``k_range``) and scored (NMI against the
  labels, explained variance of the first two principal components) → ``nmi.csv``; at the
  model's own tile size it keeps the tiles, labels, embeddings and clusters (``tiles.zarr``: the
  figures and the cloud metrics use them); the silhouettes of the classes and clusters in the
  embedding space at every size (``silhouette.csv``); the largest square of each labelled
  rectangle against the largest unlabelled square of each image (at least
  ``analysis.unlabelled_min_px``), embedded, in a common PCA plane (``squares.zarr``) with an
  energy-distance permutation test of their difference (``unlabelled.csv``); and a
  principal-component map of one scene (``pcmap.zarr``: sliding window, GOES scene if the model
  saw GOES, else the first labelled image). A model with its own clusters (DeepCluster's final
  centroids) adds them as method ``own``.
* :func:`cloud_metrics_table` — the cloud metrics of the labelled tiles of one model's
  ``tiles.zarr`` with the clusters of every model joined, and the silhouettes of classes and
  clusters in the PCA plane of the metrics.
* :func:`collect_tables` — the study's tables from the per-model ones, and ``embeddings.csv``,
  the comparison of every embedding by NMI and silhouette per tile size.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import xarray as xr

from eoml.clouds.analysis import (
    TWO_SAMPLE_COLUMNS,
    cluster_embeddings,
    comparison_table,
    evaluate_embeddings,
    metrics_matrix,
    nmi_frame,
    pca,
    pca_grid,
    silhouette_table,
    two_sample_test,
)
from eoml.clouds.cloudmetrics import METRICS, metrics_table
from eoml.clouds.embedders import load_embedder
from eoml.clouds.embedding import embed_tiles
from eoml.clouds.ingest import dataset_name, load_scenes
from eoml.clouds.labels import CLASSES
from eoml.clouds.tiles import (
    grid_tiles,
    labelled_squares,
    labelled_tiles,
    rectangles,
    resize_tiles,
    unlabelled_squares,
)
from eoml.core.io import write_csv_atomic
from eoml.core.settings import required_keys
from eoml.core.store import open_store, write_store

log = logging.getLogger(__name__)

__all__ = ["SOURCES", "analyse_model", "cloud_metrics_table", "collect_tables"]

#: training sources of the Tile2Vec models
SOURCES = ("goes", "modis")
#: what identifies a labelled tile (tiles of two overlapping rectangles may share a position)
TILE_KEY = ("evaluated_on", "scene", "rectangle", "y0", "x0")


# --------------------------------------------------------------------------------------------
# one model


def _embed(net, images: np.ndarray, tile_px: int, batch: int) -> np.ndarray:
    """Embeddings of uint8 tiles, resized to the model's ``tile_px`` first where they differ."""
    if images.shape[1:3] != (tile_px, tile_px):
        images = resize_tiles(images, tile_px)
    return embed_tiles(net, images, batch)


def _own_clusters(net, emb: np.ndarray) -> tuple[int, np.ndarray] | None:
    """A model's own clusters of its embeddings (DeepCluster: the nearest of its final k-means
    centroids, in the space they were fitted in), or None for a model without clusters."""
    if not hasattr(net, "nearest_centroid") or not len(emb):
        return None
    with torch.no_grad():
        ids = net.nearest_centroid(torch.from_numpy(np.asarray(emb)).to(net.centroids.device))
    return int(net.centroids.shape[0]), ids.cpu().numpy().astype(np.int64)


def analyse_model(model: str | os.PathLike, name: str, trained_on: str, labelled: Sequence[str | os.PathLike],
                  map_stores: Sequence[str | os.PathLike], out_dir: str | os.PathLike,
                  cfg: Mapping[str, Any]) -> Path:
    """Embed, cluster and score the labelled tiles of every store in ``labelled`` with the model file
    ``model`` (any embedding of :func:`eoml.clouds.embedding.load_embedder`, called ``name``,
    trained on ``trained_on``); compare labelled and unlabelled squares; PC map of the first scene
    of ``map_stores``. ``cfg``: the ``analysis`` section and ``seed``. Writes ``nmi.csv``,
    ``silhouette.csv`` (classes and clusters in the embedding space at every tile size),
    ``unlabelled.csv``, ``tiles.zarr``, ``squares.zarr`` and ``pcmap.zarr`` in ``out_dir``.

    A model with its own clusters (DeepCluster) adds ``method = "own"`` rows to ``nmi.csv`` and
    keeps them as ``cluster_own`` in the stores."""
    a = required_keys(cfg["analysis"], ("tile_sizes", "max_tiles", "k", "k_range", "methods", "min_valid",
                                        "map_stride", "batch_size", "unlabelled_min_px", "permutations"),
                      "clouds.analysis")
    seed, out_dir = int(cfg["seed"]), Path(out_dir)
    net, record = load_embedder(model)
    tile_px = int(record.arch["tile_px"])
    k_range = list(range(a["k_range"][0], a["k_range"][1] + 1)) if len(a["k_range"]) == 2 else []
    common = {"methods": list(a["methods"]), "k": int(a["k"]), "k_range": k_range, "seed": seed, "model": name,
              "trained_on": trained_on}
    rows: list[dict[str, Any]] = []
    silhouettes: list[dict[str, Any]] = []
    tests: list[dict[str, Any]] = []
    kept: list[xr.Dataset] = []
    squares: list[xr.Dataset] = []

    def clusters_of(emb: np.ndarray) -> dict[str, tuple[int, np.ndarray]]:
        every = cluster_embeddings(emb, methods=list(a["methods"]), k=int(a["k"]), k_range=k_range, seed=seed)
        own = _own_clusters(net, emb)
        return every if own is None else {**every, "own": own}

    def silhouette_rows(emb, labels, every, dataset, size) -> None:
        for row in silhouette_table({"embedding": emb}, labels, {m: ids for m, (_, ids) in every.items()}):
            silhouettes.append({"model": name, "evaluated_on": dataset, "tile_px": size, **row})

    for store in labelled:
        dataset = dataset_name(store)
        scenes = load_scenes([store], labelled_only=True)
        if not scenes:
            log.warning("%s: no labelled image; nothing to evaluate", store)
            continue
        rect = rectangles(scenes, tile_px)
        if rect.sizes["sample"]:
            emb = _embed(net, rect["image"].values, tile_px, a["batch_size"])
            every = clusters_of(emb)
            rows += evaluate_embeddings(emb, rect["label"].values, evaluated_on=dataset, tile_px=0, clusters=every,
                                        **common)
            silhouette_rows(emb, rect["label"].values, every, dataset, 0)
        sizes = sorted({int(s) for s in a["tile_sizes"]} | {tile_px})
        for size in sizes:
            tiles = labelled_tiles(scenes, size, int(a["max_tiles"]), seed, min_valid=float(a["min_valid"]))
            n = tiles.sizes["sample"]
            log.info("%s on %s: %d labelled tiles of %d px", name, dataset, n, size)
            if n == 0:
                rows += [{"model": name, "trained_on": trained_on, "evaluated_on": dataset, "tile_px": size,
                          "n_tiles": 0, "method": m, "k": None, "nmi": np.nan, "explained_variance": np.nan}
                         for m in a["methods"]]
                continue
            emb = _embed(net, tiles["image"].values, tile_px, a["batch_size"])
            labels = tiles["label"].values
            every = clusters_of(emb)
            if size in {int(s) for s in a["tile_sizes"]}:
                rows += evaluate_embeddings(emb, labels, evaluated_on=dataset, tile_px=size, clusters=every, **common)
            silhouette_rows(emb, labels, every, dataset, size)
            # the clusters at the configured k (the figures' and the cloud metrics')
            clusters = {m: every[m] for m in [*a["methods"], "own"] if m in every}
            if size == tile_px and clusters:
                scores, ratio = pca(emb, 2)
                ds = tiles.assign(
                    embedding=(("sample", "feature"), emb.astype(np.float32),
                               {"units": "1", "long_name": f"embedding ({name})"}),
                    pc=(("sample", "component"), scores.astype(np.float32),
                        {"units": "1", "long_name": "principal-component scores of the embeddings",
                         "explained_variance_ratio": [float(r) for r in ratio]}),
                    **{f"cluster_{m}": (("sample",), ids.astype(np.int16),
                                        {"units": "1", "long_name": f"{m} cluster (k = {kk})"})
                       for m, (kk, ids) in clusters.items()},
                )
                kept.append(ds.assign_coords(evaluated_on=("sample", np.array([dataset] * n, dtype=object),
                                                           {"long_name": "dataset"})))
        part, test_rows = _squares(net, store, scenes, dataset, tile_px, a, seed, name)
        if part is not None:
            squares.append(part)
        tests += test_rows
    nmi = nmi_frame(rows) if rows else nmi_frame([])
    write_csv_atomic(nmi, out_dir / "nmi.csv")
    write_csv_atomic(pd.DataFrame(silhouettes, columns=["model", "evaluated_on", "tile_px", "features", "grouping",
                                                   "n_tiles", "n_groups", "silhouette"]), out_dir / "silhouette.csv")
    write_csv_atomic(pd.DataFrame(tests, columns=list(TWO_SAMPLE_COLUMNS)), out_dir / "unlabelled.csv")
    tiles_ds = xr.concat(kept, dim="sample") if kept else xr.Dataset()
    tiles_ds.attrs.update({"model": name, "trained_on": trained_on, "tile_px": tile_px,
                           "class_names": list(CLASSES)})
    _write(tiles_ds, out_dir / "tiles.zarr", model, cfg)
    squares_ds = xr.concat(squares, dim="sample") if squares else xr.Dataset()
    squares_ds.attrs.update({"model": name, "tile_px": tile_px, "class_names": list(CLASSES),
                             "min_px": int(a["unlabelled_min_px"])})
    _write(squares_ds, out_dir / "squares.zarr", model, cfg)
    _pc_map(net, map_stores, tile_px, a, out_dir / "pcmap.zarr", model, cfg)
    return out_dir


def _squares(net, store, labelled_scenes, dataset: str, tile_px: int, a: Mapping[str, Any], seed: int,
             name: str) -> tuple[xr.Dataset | None, list[dict[str, Any]]]:
    """Labelled vs unlabelled squares of one dataset: the largest square of each labelled rectangle
    and the largest unlabelled square (side ≥ ``unlabelled_min_px``) of each image, embedded;
    their PC scores in the plane of a PCA fitted on both; the energy-distance two-sample test in
    the embedding space and in that plane. Expert sets (every pixel labelled) have none."""
    everything = load_scenes([store])
    unl = unlabelled_squares(everything, int(a["unlabelled_min_px"]), tile_px)
    lab = labelled_squares(labelled_scenes, tile_px)
    n_l, n_u = lab.sizes["sample"], unl.sizes["sample"]
    log.info("%s on %s: %d labelled and %d unlabelled squares (side >= %d px)", name, dataset, n_l, n_u,
             int(a["unlabelled_min_px"]))
    if n_u == 0 or n_l == 0:
        return None, []
    emb_l = _embed(net, lab["image"].values, tile_px, a["batch_size"])
    emb_u = _embed(net, unl["image"].values, tile_px, a["batch_size"])
    emb = np.concatenate([emb_l, emb_u])
    scores, ratio = pca(emb, 2) if emb.shape[0] > 2 else (np.full((emb.shape[0], 2), np.nan), np.full(2, np.nan))
    rows = []
    for space, X in (("embedding", emb), ("pca", scores)):
        stat, p = two_sample_test(X[:n_l], X[n_l:], n_resamples=int(a["permutations"]), seed=seed)
        rows.append({"model": name, "evaluated_on": dataset, "space": space, "n_labelled": n_l, "n_unlabelled": n_u,
                     "energy_distance": stat, "p_value": p, "n_resamples": int(a["permutations"])})
    own = _own_clusters(net, emb)
    labels = np.concatenate([lab["label"].values.astype(np.int16), np.full(n_u, -1, np.int16)])
    ds = xr.Dataset(
        {"pc": (("sample", "component"), scores.astype(np.float32),
                {"units": "1", "long_name": "principal-component scores (PCA of labelled and unlabelled squares)",
                 "explained_variance_ratio": [float(r) for r in ratio]}),
         "label": (("sample",), labels, {"units": "1", "long_name": "class index (-1: unlabelled square)"}),
         "scene": (("sample",), np.concatenate([lab["scene"].values, unl["scene"].values]).astype(str),
                   {"long_name": "scene id"}),
         "side": (("sample",), np.concatenate([lab["side"].values, unl["side"].values]).astype(np.int32),
                  {"units": "1", "long_name": "side of the square (px of the image)"}),
         **({"cluster_own": (("sample",), own[1].astype(np.int16),
                             {"units": "1", "long_name": f"the model's own cluster (k = {own[0]})"})}
            if own is not None else {})},
        coords={"evaluated_on": ("sample", np.array([dataset] * (n_l + n_u), dtype=object),
                                 {"long_name": "dataset"})},
    )
    return ds, rows


#: samples per chunk of the analysis stores (every other dimension whole: the figures and the
#: cloud metrics read whole samples; 256 tiles of 256 px are 50 MB)
SAMPLE_CHUNK = 256


def _write(ds: xr.Dataset, path: Path, model, cfg) -> None:
    for name in list(ds.variables):
        attrs = ds[name].attrs
        attrs.setdefault("long_name", name.replace("_", " "))
        if ds[name].dtype.kind not in "OUS":
            attrs.setdefault("units", "1")
    # whole samples per chunk: the generic policy splits a long feature axis (1280 ImageNet
    # features) into thousands of tiny chunks
    chunks = {d: (min(SAMPLE_CHUNK, n) if d == "sample" else n) for d, n in ds.sizes.items() if n}
    write_store(ds, path, sources=[model], config={k: cfg[k] for k in ("analysis", "seed")}, chunks=chunks or None)


def _pc_map(net, stores: Sequence[str | os.PathLike], tile_px: int, a: Mapping[str, Any], output: Path, model,
            cfg) -> None:
    scenes = load_scenes(stores[:1]) if stores else []
    ds = xr.Dataset()
    if scenes:
        scene = scenes[0]
        stride = max(1, round(float(a["map_stride"]) * tile_px))
        grid = grid_tiles(scene, tile_px, stride)
        n_rows, n_cols = int(grid.attrs["n_rows"]), int(grid.attrs["n_cols"])
        if n_rows * n_cols >= 3:
            emb = _embed(net, grid["image"].values, tile_px, a["batch_size"])
            valid = grid["valid_fraction"].values >= float(a["min_valid"])
            emb = np.where(valid[:, None], emb, np.nan).reshape(n_rows, n_cols, -1)
            pcs, ratio = pca_grid(emb, 3)
            rows = grid["y0"].values.reshape(n_rows, n_cols)[:, 0] + tile_px / 2
            cols = grid["x0"].values.reshape(n_rows, n_cols)[0, :] + tile_px / 2
            ds = xr.Dataset(
                {"pc": (("row", "col", "component"), pcs.astype(np.float32),
                        {"units": "1", "long_name": "principal components of the embeddings of sliding-window tiles",
                         "explained_variance_ratio": [float(r) for r in ratio]}),
                 "rgb": (("y", "x", "band"), scene.rgb, {"units": "1", "long_name": "true colour of the scene"})},
                coords={"row_centre": ("row", rows.astype(np.float32), {"units": "1", "long_name": "tile centre row (px)"}),
                        "col_centre": ("col", cols.astype(np.float32), {"units": "1", "long_name": "tile centre column (px)"}),
                        **_geolocation(stores[0], rows, cols)},
                attrs={"scene": scene.id, "tile_px": tile_px, "stride": stride},
            )
    _write(ds, output, model, cfg)


def _geolocation(store, rows: np.ndarray, cols: np.ndarray) -> dict[str, Any]:
    """Latitudes and longitudes of the map's pixels and tile centres (a GOES scene on its grid;
    nothing for an image without geolocation)."""
    ds = open_store(store)
    if "lat" not in ds.coords:
        return {}
    lat, lon = ds["lat"].values, ds["lon"].values
    return {"lat": ("y", lat, {"units": "degrees_north", "long_name": "latitude of the pixel centre"}),
            "lon": ("x", lon, {"units": "degrees_east", "long_name": "longitude of the pixel centre"}),
            "row_lat": ("row", np.interp(rows - 0.5, np.arange(lat.size), lat),
                        {"units": "degrees_north", "long_name": "latitude of the tile centre"}),
            "col_lon": ("col", np.interp(cols - 0.5, np.arange(lon.size), lon),
                        {"units": "degrees_east", "long_name": "longitude of the tile centre"})}


# --------------------------------------------------------------------------------------------
# cloud metrics


def cloud_metrics_table(tiles_stores: Mapping[str, str | os.PathLike], output: str | os.PathLike,
                        silhouette_out: str | os.PathLike, cfg: Mapping[str, Any]) -> Path:
    """Cloud metrics (``cfg``: the ``cloud_mask`` section) of the labelled tiles of the first of
    ``tiles_stores`` (``{model name: tiles.zarr}``; every model's analysis draws the same tiles),
    with each model's clusters of those tiles; and the silhouettes of the classes and of every
    model's clusters in the plane of the first two principal components of the standardised
    metrics."""
    m = required_keys(cfg["cloud_mask"], ("kind", "threshold", "connectivity", "min_size"), "clouds.cloud_mask")
    tables = []
    sil: list[dict[str, Any]] = []
    base = None
    for name, path in tiles_stores.items():
        ds = open_store(path)
        if "image" not in ds:
            continue
        key = pd.MultiIndex.from_arrays([ds[k].values for k in TILE_KEY], names=list(TILE_KEY))
        if base is None:
            metrics = metrics_table(ds["image"].values, float(m["threshold"]), str(m["kind"]),
                                    connectivity=int(m["connectivity"]), min_size=int(m["min_size"]))
            metrics.index = key
            metrics.insert(0, "label", [CLASSES[i] for i in ds["label"].values])
            base, tile_px = metrics, int(ds.attrs["tile_px"])
        clusters = pd.DataFrame({f"{name}_{v.removeprefix('cluster_')}": ds[v].values for v in ds.data_vars
                                 if v.startswith("cluster_")}, index=key)
        tables.append(clusters)
    if base is None:
        table = pd.DataFrame(columns=[*TILE_KEY, "label", *METRICS])
    else:
        table = base.join(tables, how="left").reset_index()
        X, rows, _ = metrics_matrix(table, list(METRICS))
        if len(rows) > 2:
            scores, _ = pca(X, 2, standardize=True)
            labels = table["label"].values[rows]
            clusters = {c: table[c].values[rows] for c in table.columns if c not in METRICS and "_" in c
                        and c not in (*TILE_KEY, "label")}
            for row in silhouette_table({"cloud_metrics_pca": scores}, labels, clusters):
                sil.append({"model": "cloud_metrics", "evaluated_on": "all", "tile_px": tile_px, **row})
    write_csv_atomic(table, output)
    write_csv_atomic(pd.DataFrame(sil, columns=["model", "evaluated_on", "tile_px", "features", "grouping", "n_tiles",
                                           "n_groups", "silhouette"]), silhouette_out)
    return Path(output)


# --------------------------------------------------------------------------------------------
# tables


def collect_tables(analysis_dirs: Sequence[str | os.PathLike], metrics_silhouette: str | os.PathLike | None,
                   nmi_out: str | os.PathLike, silhouette_out: str | os.PathLike,
                   embeddings_out: str | os.PathLike | None = None,
                   unlabelled_out: str | os.PathLike | None = None) -> None:
    """The study's tables from each model's analysis folder: ``nmi.csv``, ``silhouette.csv`` (with
    the cloud-metric silhouettes), ``embeddings.csv`` (every embedding by NMI and silhouette per
    tile size, :func:`eoml.clouds.analysis.comparison_table`) and ``unlabelled.csv`` (the
    labelled-vs-unlabelled two-sample tests)."""
    nmi = [pd.read_csv(Path(d) / "nmi.csv") for d in analysis_dirs]
    sil = [pd.read_csv(Path(d) / "silhouette.csv") for d in analysis_dirs]
    nmi_all = pd.concat(nmi, ignore_index=True) if nmi else nmi_frame([])
    sil_models = pd.concat(sil, ignore_index=True) if sil else pd.DataFrame()
    if metrics_silhouette:
        sil.append(pd.read_csv(metrics_silhouette))
    write_csv_atomic(nmi_all, nmi_out)
    write_csv_atomic(pd.concat(sil, ignore_index=True) if sil else pd.DataFrame(), silhouette_out)
    if embeddings_out is not None:
        write_csv_atomic(comparison_table(nmi_all, sil_models), embeddings_out)
    if unlabelled_out is not None:
        parts = [pd.read_csv(Path(d) / "unlabelled.csv") for d in analysis_dirs]
        write_csv_atomic(pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=list(TWO_SAMPLE_COLUMNS)),
                    unlabelled_out)
