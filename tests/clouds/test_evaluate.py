"""clouds.evaluate: triplet stores, the analysis of a Tile2Vec model, cloud metrics and the tables.

On demo files at a tiny size (two 100 x 100 px GOES scenes, four 128 x 192 px Kaggle images)
ingested by :mod:`eoml.clouds.ingest`, a 32 px ResNet-18 (shallow, random start, 8-d) trained
for one epoch on the images' triplets, the same chain of steps as the workflow.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.decomposition import PCA
from sklearn.metrics import normalized_mutual_info_score, silhouette_score

from eoml.clouds.analysis import (
    COMPARISON_COLUMNS,
    NMI_COLUMNS,
    TWO_SAMPLE_COLUMNS,
    kmeans_clusters,
    pca,
    two_sample_test,
    ward_clusters,
)
from eoml.clouds.cloudmetrics import METRICS, cloud_mask, tile_metrics
from eoml.clouds.demo import generate_demo
from eoml.clouds.embedders import load_embedder
from eoml.clouds.embedding import (
    FEATURES_KIND,
    embed,
    save_features_model,
    train_tile2vec,
)
from eoml.clouds.evaluate import (
    analyse_model,
    cloud_metrics_table,
    collect_tables,
)
from eoml.clouds.ingest import build_goes_store, build_kaggle_store, load_scenes
from eoml.clouds.labels import CLASSES, label_rectangles, rle_encode
from eoml.clouds.tiles import TILES, labelled_squares, rectangles, unlabelled_squares
from eoml.clouds.triplets import make_triplets
from eoml.core.config import validate_config
from eoml.core.errors import ConfigError, InputFileError
from eoml.core.store import open_store

pytestmark = pytest.mark.usefixtures("torch_one_thread")

H, W, T = 128, 192, 32
#: the workflow test's tiny clouds section (tests/test_workflow.py) with a faster network, completed
#: by the schema
CLOUDS = validate_config({"studies": ["clouds"], "clouds": {
    "demo": {"n_goes_scenes": 2, "n_kaggle_images": 4, "kaggle_shape": [H, W], "kaggle_km_per_px": 8.0,
             "goes_domain": {"lon_min": -58.0, "lon_max": -57.0, "lat_min": 13.0, "lat_max": 14.0}},
    "domain": {"lon_min": -58.0, "lon_max": -57.0, "lat_min": 13.0, "lat_max": 14.0, "resolution_deg": 0.01},
    "triplets": {"tile_px": T, "n_triplets": 24},
    "embedding": {"backbone": "resnet18", "weights": "random", "cut": "shallow", "dim": 8},
    "training": {"max_epochs": 1, "batch_size": 8},
    "analysis": {"tile_sizes": [16, T], "max_tiles": 40, "k_range": [2, 3], "unlabelled_min_px": 16,
                 "permutations": 99},
}})["clouds"]
A = CLOUDS["analysis"]


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    """{"goes": [two scene stores], "kaggle": the dataset store, "images": its image folder}."""
    root = tmp_path_factory.mktemp("clouds_evaluate")
    summary = generate_demo(root / "raw", CLOUDS["demo"])
    goes = [build_goes_store(list(s["files"].values()), root / f"{s['scene']}.zarr", CLOUDS)
            for s in summary["goes_scenes"]]
    images = root / "raw" / "kaggle" / "train_images"
    kaggle = build_kaggle_store("demo", images, summary["kaggle_csv"], root / "demo.zarr", CLOUDS)
    return {"goes": goes, "kaggle": kaggle, "images": images, "root": root}


@pytest.fixture(scope="module")
def model(stores):
    root = stores["root"]
    triplets = make_triplets([stores["kaggle"]], root / "triplets" / "modis.zarr", CLOUDS)
    cfg = {**CLOUDS["embedding"], "training": CLOUDS["training"]}
    return train_tile2vec(triplets, root / "models" / "modis", root / "ckpt" / "modis", cfg, int(CLOUDS["seed"]))


@pytest.fixture(scope="module")
def analysis(stores, model):
    out = stores["root"] / "analysis" / "modis"
    return analyse_model(model, "modis", "modis", [stores["kaggle"]], stores["goes"][:1], out, CLOUDS)


def _labelled_scenes(stores):
    return load_scenes([stores["kaggle"]], labelled_only=True)


# --------------------------------------------------------------------------------------------
# triplets
# --------------------------------------------------------------------------------------------
def test_make_triplets_is_seeded(stores, tmp_path):
    goes = stores["goes"]
    a = open_store(make_triplets(goes, tmp_path / "a.zarr", CLOUDS))
    b = open_store(make_triplets(goes, tmp_path / "b.zarr", CLOUDS))
    assert set(a.data_vars) == set(b.data_vars) >= {*TILES, "scene", "y0", "x0", "split"}
    for name in a.variables:
        np.testing.assert_array_equal(a[name].values, b[name].values, err_msg=name)
    assert a.attrs["config_digest"] == b.attrs["config_digest"]
    assert a.sizes["triplet"] == CLOUDS["triplets"]["n_triplets"] and a["anchor"].shape[1:] == (T, T, 3)
    ids = {str(open_store(p).attrs["scene_id"]) for p in goes}
    scene = a["scene"].values
    assert set(np.unique(scene)) <= ids
    assert (scene[:, 0] != scene[:, 2]).all()  # the distant tile comes from the other scene
    # the tiles are read from the stored scenes at their positions
    rgb = {str(open_store(p).attrs["scene_id"]): open_store(p)["rgb"].values for p in goes}
    for i in range(3):
        for j, name in enumerate(TILES):
            y0, x0 = int(a["y0"].values[i, j]), int(a["x0"].values[i, j])
            np.testing.assert_array_equal(a[name].values[i], rgb[scene[i, j]][y0:y0 + T, x0:x0 + T])
    other = open_store(make_triplets(goes, tmp_path / "c.zarr", {**CLOUDS, "seed": CLOUDS["seed"] + 1}))
    assert not np.array_equal(other["anchor"].values, a["anchor"].values)


def test_make_triplets_refuses_a_single_scene(stores, tmp_path):
    one = stores["goes"][0]
    with pytest.raises(InputFileError, match="at least two scenes") as info:
        make_triplets([one], tmp_path / "one.zarr", CLOUDS)
    assert Path(info.value.path) == Path(one)
    assert not (tmp_path / "one.zarr").exists()


# --------------------------------------------------------------------------------------------
# analysis of one model
# --------------------------------------------------------------------------------------------
def test_nmi_csv_columns_and_rows(analysis, stores):
    nmi = pd.read_csv(analysis / "nmi.csv")
    assert list(nmi.columns) == list(NMI_COLUMNS)
    assert set(nmi["model"]) == {"modis"} and set(nmi["trained_on"]) == {"modis"}
    assert set(nmi["evaluated_on"]) == {"demo"}
    assert set(nmi["tile_px"]) == {0, *A["tile_sizes"]}
    n_rect = sum(len(label_rectangles(s.masks)) for s in _labelled_scenes(stores))
    rect = nmi[nmi["tile_px"] == 0]
    for method in A["methods"]:
        row = rect[rect["method"] == method]
        assert len(row) == 1, method  # one row per method for the labelled rectangles
        assert int(row["n_tiles"].iloc[0]) == n_rect and int(row["k"].iloc[0]) == A["k"]
    # with k_range: the k of best silhouette per method, inside the range
    best = nmi[nmi["method"].str.endswith("-silhouette")]
    assert set(best["method"]) == {f"{m}-silhouette" for m in A["methods"]}
    assert best["k"].between(*A["k_range"]).all()
    assert nmi["nmi"].between(0, 1).all() and nmi["explained_variance"].between(0, 1).all()
    assert not nmi.duplicated(["evaluated_on", "tile_px", "method"]).any()


def test_rectangle_nmi_is_sklearns(analysis, stores, model):
    """tile_px = 0: the labelled rectangles resized to the model's input, clustered and scored."""
    rect = rectangles(_labelled_scenes(stores), T)
    emb = embed(model, rect["image"].values, batch=A["batch_size"])
    labels = rect["label"].values
    nmi = pd.read_csv(analysis / "nmi.csv").query("tile_px == 0").set_index("method")
    expected = {"ward": ward_clusters(emb, A["k"]), "kmeans": kmeans_clusters(emb, A["k"], CLOUDS["seed"])}
    for method, clusters in expected.items():
        assert nmi.loc[method, "nmi"] == pytest.approx(normalized_mutual_info_score(labels, clusters), rel=1e-5,
                                                       abs=1e-6)
    ratio = PCA().fit(emb.astype(np.float64)).explained_variance_ratio_
    assert nmi["explained_variance"].to_numpy() == pytest.approx(ratio[:2].sum(), rel=1e-4)


def test_nmi_at_the_model_tile_size_scores_the_stored_tiles(analysis, stores, model):
    tiles = open_store(analysis / "tiles.zarr")
    assert tiles.attrs["tile_px"] == T and tiles.attrs["model"] == "modis"
    n = tiles.sizes["sample"]
    labels = tiles["label"].values
    nmi = pd.read_csv(analysis / "nmi.csv").query(f"tile_px == {T}").set_index("method")
    for method in A["methods"]:
        clusters = tiles[f"cluster_{method}"].values
        assert np.unique(clusters).size == A["k"] and int(nmi.loc[method, "k"]) == A["k"]
        assert int(nmi.loc[method, "n_tiles"]) == n
        assert nmi.loc[method, "nmi"] == pytest.approx(normalized_mutual_info_score(labels, clusters), rel=1e-5,
                                                       abs=1e-6)
    # the stored embeddings are the model's, and the explained variance is theirs
    emb = tiles["embedding"].values
    np.testing.assert_allclose(emb, embed(model, tiles["image"].values, batch=7), rtol=1e-5, atol=1e-5)
    ratio = PCA().fit(emb.astype(np.float64)).explained_variance_ratio_
    assert nmi["explained_variance"].to_numpy() == pytest.approx(ratio[:2].sum(), rel=1e-4)
    # the tiles are cut from the labelled images inside a labelled rectangle of their class
    scenes = {s.id: s for s in _labelled_scenes(stores)}
    assert set(tiles["evaluated_on"].values) == {"demo"}
    for i in range(n):
        scene = scenes[str(tiles["scene"].values[i])]
        y0, x0 = int(tiles["y0"].values[i]), int(tiles["x0"].values[i])
        np.testing.assert_array_equal(tiles["image"].values[i], scene.rgb[y0:y0 + T, x0:x0 + T])
        label, ry0, ry1, rx0, rx1 = label_rectangles(scene.masks)[int(tiles["rectangle"].values[i])]
        assert label == labels[i] and ry0 <= y0 and y0 + T <= ry1 and rx0 <= x0 and x0 + T <= rx1


def test_pc_map_of_a_goes_scene_is_geolocated(analysis, stores):
    goes = open_store(stores["goes"][0])
    pcmap = open_store(analysis / "pcmap.zarr")
    stride = round(A["map_stride"] * T)
    n = (100 - T) // stride + 1
    assert pcmap["pc"].dims == ("row", "col", "component") and pcmap["pc"].shape == (n, n, 3)
    assert np.isfinite(pcmap["pc"].values).all()  # the demo scene is valid everywhere in the box
    assert pcmap.attrs["scene"] == goes.attrs["scene_id"] and pcmap.attrs["tile_px"] == T
    np.testing.assert_array_equal(pcmap["lat"].values, goes["lat"].values)
    np.testing.assert_array_equal(pcmap["lon"].values, goes["lon"].values)
    np.testing.assert_array_equal(pcmap["rgb"].values, goes["rgb"].values)
    lat, lon = goes["lat"].values, goes["lon"].values
    starts = stride * np.arange(n)
    np.testing.assert_allclose(pcmap["row_lat"].values, [lat[s:s + T].mean() for s in starts], atol=1e-9)
    np.testing.assert_allclose(pcmap["col_lon"].values, [lon[s:s + T].mean() for s in starts], atol=1e-9)
    ratio = pcmap["pc"].attrs["explained_variance_ratio"]
    assert len(ratio) == 3 and all(np.diff(ratio) <= 0)


def test_no_labelled_image_and_an_image_map(stores, model, tmp_path):
    """A dataset without labels leaves nmi.csv empty (with its columns) and tiles.zarr empty; a
    Kaggle image as the map scene gives a pixel map without latitudes."""
    images = tmp_path / "images"
    images.mkdir()
    shutil.copy(min(stores["images"].glob("*.jpg")), images / "0000000.jpg")
    (tmp_path / "train.csv").write_text("Image_Label,EncodedPixels\n")
    bare = build_kaggle_store("bare", images, tmp_path / "train.csv", tmp_path / "bare.zarr", CLOUDS)
    out = analyse_model(model, "modis", "modis", [bare], [stores["kaggle"]], tmp_path / "an", CLOUDS)
    nmi = pd.read_csv(out / "nmi.csv")
    assert list(nmi.columns) == list(NMI_COLUMNS) and len(nmi) == 0
    assert "embedding" not in open_store(out / "tiles.zarr")
    pcmap = open_store(out / "pcmap.zarr")
    first = open_store(stores["kaggle"])
    assert pcmap.attrs["scene"] == f"demo/{first['image_id'].values[0]}"
    assert "lat" not in pcmap.coords and "row_lat" not in pcmap.coords
    np.testing.assert_array_equal(pcmap["rgb"].values, first["image"][0].values)
    stride = round(A["map_stride"] * T)
    assert pcmap["pc"].shape == ((H - T) // stride + 1, (W - T) // stride + 1, 3)
    # the cloud metrics of no tiles: an empty table with its columns
    cloud_metrics_table({"modis": out / "tiles.zarr"}, tmp_path / "cm.csv", tmp_path / "cms.csv", CLOUDS)
    assert len(pd.read_csv(tmp_path / "cm.csv")) == 0


# --------------------------------------------------------------------------------------------
# cloud metrics
# --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def metrics(analysis):
    """cloud_metrics.csv and its silhouettes with the analysis' tiles as two models' ("modis", "copy")."""
    out = analysis.parent
    tiles = {"modis": analysis / "tiles.zarr", "copy": analysis / "tiles.zarr"}
    path = cloud_metrics_table(tiles, out / "cloud_metrics.csv", out / "metrics_silhouette.csv", CLOUDS)
    return pd.read_csv(path), pd.read_csv(out / "metrics_silhouette.csv"), open_store(analysis / "tiles.zarr")


def test_cloud_metrics_rows_are_tile_metrics_of_the_tiles(metrics):
    table, _, tiles = metrics
    m = CLOUDS["cloud_mask"]
    n = tiles.sizes["sample"]
    assert len(table) == n
    assert {"label", *METRICS, "modis_ward", "modis_kmeans", "copy_ward", "copy_kmeans"} <= set(table.columns)
    assert list(table["label"]) == [CLASSES[i] for i in tiles["label"].values]
    for i, image in enumerate(tiles["image"].values):
        expected = tile_metrics(cloud_mask(image, m["threshold"], m["kind"]), connectivity=m["connectivity"],
                                min_size=m["min_size"])
        got = table.loc[i, list(METRICS)].to_numpy(dtype=float)
        np.testing.assert_allclose(got, [expected[k] for k in METRICS], rtol=1e-5, atol=1e-9, err_msg=str(i))
    assert table["cloud_fraction"].between(0.01, 0.99).all()  # the demo tiles hold clouds and clear sky
    for model in ("modis", "copy"):
        for method in A["methods"]:
            np.testing.assert_array_equal(table[f"{model}_{method}"], tiles[f"cluster_{method}"].values)


def test_cloud_metrics_silhouettes(metrics):
    table, sil, tiles = metrics
    assert list(sil.columns) == ["model", "evaluated_on", "tile_px", "features", "grouping", "n_tiles", "n_groups",
                                 "silhouette"]
    assert set(sil["features"]) == {"cloud_metrics_pca"} and set(sil["tile_px"]) == {T}
    assert set(sil["grouping"]) == {"classes", "modis_ward", "modis_kmeans", "copy_ward", "copy_kmeans"}
    classes = sil.set_index("grouping").loc["classes"]
    assert classes["n_groups"] == len(set(table["label"])) and classes["n_tiles"] <= tiles.sizes["sample"]
    assert sil["silhouette"].between(-1, 1).all()


def test_cloud_metrics_identify_each_tile(metrics):
    table, _, tiles = metrics
    assert "tile" not in table.columns and {"evaluated_on", "scene", "y0", "x0", "label"} <= set(table.columns)
    assert list(table["evaluated_on"]) == list(tiles["evaluated_on"].values)
    assert list(table["scene"]) == list(tiles["scene"].values)
    np.testing.assert_array_equal(table["y0"], tiles["y0"].values)
    np.testing.assert_array_equal(table["x0"], tiles["x0"].values)


def test_cloud_metrics_one_row_per_tile_when_two_classes_share_a_rectangle(stores, model, tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    shutil.copy(min(stores["images"].glob("*.jpg")), images / "0000000.jpg")
    box = np.zeros((H, W), bool)
    box[32:96, 32:96] = True  # Fish and Sugar on the same 64 px square: 4 tiles of 32 px each
    rle = rle_encode(box)
    (tmp_path / "train.csv").write_text(f"Image_Label,EncodedPixels\n0000000.jpg_Fish,{rle}\n"
                                        f"0000000.jpg_Sugar,{rle}\n")
    store = build_kaggle_store("both", images, tmp_path / "train.csv", tmp_path / "both.zarr", CLOUDS)
    out = analyse_model(model, "modis", "modis", [store], [], tmp_path / "an", CLOUDS)
    tiles = open_store(out / "tiles.zarr")
    assert tiles.sizes["sample"] == 8
    path = cloud_metrics_table({"modis": out / "tiles.zarr"}, tmp_path / "cm.csv", tmp_path / "cms.csv", CLOUDS)
    table = pd.read_csv(path)
    assert len(table) == 8
    assert list(table["label"]) == [CLASSES[i] for i in tiles["label"].values]
    assert sorted(table["label"]) == ["Fish"] * 4 + ["Sugar"] * 4
    for method in A["methods"]:
        np.testing.assert_array_equal(table[f"modis_{method}"], tiles[f"cluster_{method}"].values)


# --------------------------------------------------------------------------------------------
# tables
# --------------------------------------------------------------------------------------------
def test_collect_tables_concatenates(analysis, metrics, tmp_path):
    other = tmp_path / "goes"
    other.mkdir()
    nmi = pd.read_csv(analysis / "nmi.csv")
    sil = pd.read_csv(analysis / "silhouette.csv")
    assert len(sil) and set(sil["features"]) == {"embedding"}
    nmi.assign(model="goes", trained_on="goes").to_csv(other / "nmi.csv", index=False)
    sil.assign(model="goes").to_csv(other / "silhouette.csv", index=False)
    metrics_sil = analysis.parent / "metrics_silhouette.csv"
    collect_tables([analysis, other], metrics_sil, tmp_path / "nmi.csv", tmp_path / "silhouette.csv")
    got = pd.read_csv(tmp_path / "nmi.csv")
    assert list(got.columns) == list(NMI_COLUMNS) and len(got) == 2 * len(nmi)
    assert list(got["model"]) == ["modis"] * len(nmi) + ["goes"] * len(nmi)
    pd.testing.assert_frame_equal(got.iloc[:len(nmi)].reset_index(drop=True), nmi, check_dtype=False)
    sil_all = pd.read_csv(tmp_path / "silhouette.csv")
    expected = pd.concat([sil, sil.assign(model="goes"), pd.read_csv(metrics_sil)], ignore_index=True)
    pd.testing.assert_frame_equal(sil_all, expected, check_dtype=False)
    # without the cloud-metric silhouettes
    collect_tables([analysis], None, tmp_path / "nmi1.csv", tmp_path / "sil1.csv")
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "sil1.csv"), sil, check_dtype=False)


def test_collect_tables_writes_the_comparison_and_the_unlabelled_tests(analysis, metrics, tmp_path):
    collect_tables([analysis], analysis.parent / "metrics_silhouette.csv", tmp_path / "nmi.csv",
                   tmp_path / "sil.csv", tmp_path / "embeddings.csv", tmp_path / "unlabelled.csv")
    table = pd.read_csv(tmp_path / "embeddings.csv")
    assert list(table.columns) == list(COMPARISON_COLUMNS)
    nmi = pd.read_csv(analysis / "nmi.csv")
    assert set(table["tile_px"]) == set(nmi["tile_px"]) and set(table["model"]) == {"modis"}
    for _, row in table.iterrows():
        sel = nmi[(nmi["tile_px"] == row["tile_px"]) & (nmi["method"] == "kmeans")]
        assert row["nmi_kmeans"] == pytest.approx(float(sel["nmi"].iloc[0]))
    sil = pd.read_csv(analysis / "silhouette.csv").query("grouping == 'classes'").set_index("tile_px")
    for _, row in table.iterrows():
        assert row["silhouette_classes"] == pytest.approx(sil.loc[row["tile_px"], "silhouette"])
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "unlabelled.csv"), pd.read_csv(analysis / "unlabelled.csv"))


# --------------------------------------------------------------------------------------------
# silhouettes at every tile size; labelled vs unlabelled squares; other embeddings
# --------------------------------------------------------------------------------------------
def test_silhouettes_at_every_tile_size(analysis):
    sil = pd.read_csv(analysis / "silhouette.csv")
    assert set(sil["tile_px"]) == {0, *A["tile_sizes"]} and set(sil["features"]) == {"embedding"}
    tiles = open_store(analysis / "tiles.zarr")
    at_t = sil[sil["tile_px"] == T].set_index("grouping")
    emb, labels = tiles["embedding"].values, tiles["label"].values
    assert at_t.loc["classes", "silhouette"] == pytest.approx(silhouette_score(emb, labels), rel=1e-5)
    assert at_t.loc["kmeans", "silhouette"] == pytest.approx(silhouette_score(emb, tiles["cluster_kmeans"].values),
                                                              rel=1e-5)


def test_labelled_and_unlabelled_squares(analysis, stores, model):
    tests = pd.read_csv(analysis / "unlabelled.csv")
    assert list(tests.columns) == list(TWO_SAMPLE_COLUMNS) and set(tests["space"]) == {"embedding", "pca"}
    every = load_scenes([stores["kaggle"]])
    unl = unlabelled_squares(every, A["unlabelled_min_px"], T)
    lab = labelled_squares(_labelled_scenes(stores), T)
    assert unl.sizes["sample"] >= 1
    assert (tests["n_labelled"] == lab.sizes["sample"]).all() and (tests["n_unlabelled"] == unl.sizes["sample"]).all()
    emb_l = embed(model, lab["image"].values, batch=8)
    emb_u = embed(model, unl["image"].values, batch=8)
    stat, p = two_sample_test(emb_l, emb_u, n_resamples=A["permutations"], seed=CLOUDS["seed"])
    row = tests.set_index("space").loc["embedding"]
    assert row["energy_distance"] == pytest.approx(stat, rel=1e-4) and row["p_value"] == pytest.approx(p)
    assert 1 / (A["permutations"] + 1) <= row["p_value"] <= 1
    squares = open_store(analysis / "squares.zarr")
    n_l, n_u = lab.sizes["sample"], unl.sizes["sample"]
    assert squares["pc"].shape == (n_l + n_u, 2)
    np.testing.assert_array_equal(squares["label"].values, [*lab["label"].values, *[-1] * n_u])
    scores, _ = pca(np.concatenate([emb_l, emb_u]), 2)
    np.testing.assert_allclose(np.abs(squares["pc"].values), np.abs(scores), rtol=1e-3, atol=1e-4)


def test_untrained_features_model_is_an_embedding(stores, tmp_path):
    cfg = {**CLOUDS["embedding"], "backbone": "resnet18", "weights": "random", "cut": "shallow"}
    path = save_features_model(tmp_path / "imagenet", cfg, T)
    net, record = load_embedder(path)
    assert record.kind == FEATURES_KIND and record.arch["tile_px"] == T and net.dim == 64
    tiles = np.random.default_rng(0).integers(0, 256, (3, T, T, 3), dtype=np.uint8)
    emb = embed(path, tiles, batch=2)
    x = torch.from_numpy(tiles.transpose(0, 3, 1, 2).astype(np.float32) / 255.0)
    with torch.no_grad():
        expected = net.pool(net.base(net.normalize(x))).numpy()
    np.testing.assert_allclose(emb, expected, rtol=1e-5, atol=1e-6)
    with pytest.raises(ConfigError, match="tile_px"):
        save_features_model(tmp_path / "x", cfg, 16)
    out = analyse_model(path, "imagenet", "none", [stores["kaggle"]], [], tmp_path / "an", CLOUDS)
    nmi = pd.read_csv(out / "nmi.csv")
    assert set(nmi["model"]) == {"imagenet"} and set(nmi["trained_on"]) == {"none"} and len(nmi)


def test_load_embedder_refuses_another_kind(tmp_path):
    from eoml.core.modelfile import save_model_file

    path = save_model_file(tmp_path / "m.pt", kind="other.thing", weights={}, arch={"tile_px": 8})
    with pytest.raises(InputFileError, match="not an embedding"):
        load_embedder(path)
