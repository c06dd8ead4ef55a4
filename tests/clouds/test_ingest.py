"""clouds.ingest: GOES scene stores, Kaggle-layout dataset stores and the scenes read back from them.

Everything runs on files written by the demo generator at a tiny size (two 100 x 100 px GOES
scenes, four 128 x 192 px Kaggle images), so the readers, the stores and the provenance are the
real ones.
"""

from __future__ import annotations

import hashlib
import logging
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from PIL import Image

from eoml.clouds.demo import generate_demo
from eoml.clouds.goes import true_colour
from eoml.clouds.ingest import (
    build_goes_store,
    build_kaggle_store,
    goes_scenes,
    load_scenes,
)
from eoml.clouds.labels import CLASSES, rle_decode, rle_encode
from eoml.core.config import validate_config
from eoml.core.errors import InputFileError
from eoml.core.store import open_store, write_store

H, W = 128, 192
#: the workflow test's tiny clouds section (tests/test_workflow.py), completed by the schema
CLOUDS = validate_config({"studies": ["clouds"], "clouds": {
    "demo": {"n_goes_scenes": 2, "n_kaggle_images": 4, "kaggle_shape": [H, W], "kaggle_km_per_px": 8.0,
             "goes_domain": {"lon_min": -58.0, "lon_max": -57.0, "lat_min": 13.0, "lat_max": 14.0}},
    "domain": {"lon_min": -58.0, "lon_max": -57.0, "lat_min": 13.0, "lat_max": 14.0, "resolution_deg": 0.01},
}})["clouds"]


def _sha256(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _jpeg(path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("clouds_ingest_demo")
    return out, generate_demo(out, CLOUDS["demo"])


@pytest.fixture(scope="module")
def goes(demo, tmp_path_factory):
    """(store path, the scene's {channel: file}, scene id) of the first demo scene."""
    _, summary = demo
    scene = summary["goes_scenes"][0]
    files = {int(k): Path(v) for k, v in scene["files"].items()}
    out = tmp_path_factory.mktemp("goes_store") / "scene.zarr"
    return build_goes_store([files[c] for c in (3, 1, 2)], out, CLOUDS), files, scene["scene"]


@pytest.fixture(scope="module")
def kaggle(demo, tmp_path_factory):
    out, summary = demo
    store = tmp_path_factory.mktemp("kaggle_store") / "demo.zarr"
    return build_kaggle_store("demo", out / "kaggle" / "train_images", summary["kaggle_csv"], store, CLOUDS)


#: the extra images of the "mixed" dataset: one unlabelled, one labelled at half the size
UNLABELLED, SMALL = "unlab01", "small01"
SMALL_FLOWER = (8, 40, 16, 64)  # y0, y1, x0, x1 (ends exclusive) in the 64 x 96 image


@pytest.fixture(scope="module")
def mixed(demo, tmp_path_factory):
    """A Kaggle folder: the demo's four images and csv, an image without csv rows and a 64 x 96 px
    image with a Flower rectangle. Returns (images dir, csv)."""
    out, summary = demo
    root = tmp_path_factory.mktemp("mixed")
    images = root / "train_images"
    shutil.copytree(out / "kaggle" / "train_images", images)
    first = min(images.glob("*.jpg"))
    shutil.copy(first, images / f"{UNLABELLED}.jpg")
    Image.fromarray(_jpeg(first)[::2, ::2]).save(images / f"{SMALL}.jpg", format="JPEG", quality=90)
    mask = np.zeros((H // 2, W // 2), bool)
    y0, y1, x0, x1 = SMALL_FLOWER
    mask[y0:y1, x0:x1] = True
    rows = [f"{SMALL}.jpg_{c},{rle_encode(mask) if c == 'Flower' else ''}" for c in CLASSES]
    csv = root / "train.csv"
    csv.write_text(Path(summary["kaggle_csv"]).read_text() + "\n".join(rows) + "\n")
    return images, csv


# --------------------------------------------------------------------------------------------
# GOES scenes
# --------------------------------------------------------------------------------------------
def test_goes_scenes_groups_the_demo_files(demo):
    _, summary = demo
    scenes = goes_scenes(summary["goes_files"], CLOUDS)
    assert list(scenes) == [s["scene"] for s in summary["goes_scenes"]]
    for s in summary["goes_scenes"]:
        assert scenes[s["scene"]] == {int(k): Path(v) for k, v in s["files"].items()}


def test_goes_store_layout_grid_and_provenance(goes):
    path, files, scene_id = goes
    ds = open_store(path)
    assert ds["rgb"].dims == ("lat", "lon", "band") and ds["rgb"].dtype == np.uint8
    assert list(ds["band"].values) == ["red", "green", "blue"]
    assert ds["valid"].dims == ("lat", "lon") and ds["valid"].dtype == bool
    lat, lon = ds["lat"].values, ds["lon"].values
    # pixel centres of the 0.01 degree grid whose outer edges are the configured box, north first
    assert ds.sizes["lat"] == ds.sizes["lon"] == 100
    np.testing.assert_allclose(lat, 14.0 - 0.005 - 0.01 * np.arange(100), atol=1e-9)
    np.testing.assert_allclose(lon, -58.0 + 0.005 + 0.01 * np.arange(100), atol=1e-9)
    assert np.all(np.diff(lat) < 0) and np.all(np.diff(lon) > 0)
    valid, rgb = ds["valid"].values, ds["rgb"].values
    assert valid.mean() > 0.9  # the demo covers the box in daylight
    assert rgb[valid].max() > 100 and rgb[valid].std() > 5  # clouds over a dark ocean, not a blank image
    assert ds.attrs["scene_id"] == scene_id
    # provenance: the three L1b files, C01, C02, C03, whatever order they were given in
    assert ds.attrs["source_files"] == [files[c].name for c in (1, 2, 3)]
    assert ds.attrs["source_sha256"] == [_sha256(files[c]) for c in (1, 2, 3)]
    for name in ("lat", "lon", "band"):
        assert ds[name].attrs["long_name"]


def test_goes_store_is_the_configured_true_colour(goes, tmp_path):
    path, files, _ = goes
    tc = CLOUDS["true_colour"]
    direct = true_colour(files, domain=CLOUDS["domain"], green=tc["green"], gamma=tc["gamma"],
                         sza_correction=tc["sza_correction"], max_sza=tc["max_sza"],
                         keep_conditional=tc["keep_conditional"])
    ds = open_store(path)
    np.testing.assert_array_equal(ds["rgb"].values, direct["rgb"].values)
    np.testing.assert_array_equal(ds["valid"].values, direct["valid"].values)
    # the config digest covers the true-colour keys (a change reruns the store) and only the GOES keys
    gamma = build_goes_store(list(files.values()), tmp_path / "gamma.zarr",
                             {**CLOUDS, "true_colour": {**tc, "gamma": 1.0}})
    other = build_goes_store(list(files.values()), tmp_path / "other.zarr",
                             {**CLOUDS, "triplets": {**CLOUDS["triplets"], "tile_px": 64}, "seed": 9})
    g, o = open_store(gamma), open_store(other)
    assert g.attrs["config_digest"] != ds.attrs["config_digest"] == o.attrs["config_digest"]
    assert not np.array_equal(g["rgb"].values, ds["rgb"].values)  # gamma 1: darker
    assert g["rgb"].values[ds["valid"].values].mean() < ds["rgb"].values[ds["valid"].values].mean()


def test_files_of_two_scenes_are_refused_naming_a_file(demo, tmp_path):
    _, summary = demo
    files = summary["goes_files"]  # C01-C03 of both scenes
    with pytest.raises(InputFileError, match=r"2 scene\(s\) among 6 files") as info:
        build_goes_store(files, tmp_path / "two.zarr", CLOUDS)
    assert Path(info.value.path).name in {Path(f).name for f in files}
    assert not (tmp_path / "two.zarr").exists()


def test_a_scene_without_c02_is_refused_naming_its_file(demo, tmp_path):
    _, summary = demo
    files = summary["goes_scenes"][0]["files"]
    two = [files[1], files[3]] if 1 in files else [files["1"], files["3"]]
    with pytest.raises(InputFileError, match="C02") as info:
        build_goes_store(two, tmp_path / "no_c02.zarr", CLOUDS)
    assert Path(info.value.path).name in {Path(f).name for f in two}
    # skipped with on_bad_file: skip, and then no scene is left: still an error naming a file
    with pytest.raises(InputFileError, match=r"0 scene\(s\)") as info:
        build_goes_store(two, tmp_path / "no_c02.zarr", {**CLOUDS, "on_bad_file": "skip"})
    assert Path(info.value.path).name in {Path(f).name for f in two}
    assert not (tmp_path / "no_c02.zarr").exists()


# --------------------------------------------------------------------------------------------
# Kaggle datasets
# --------------------------------------------------------------------------------------------
def test_kaggle_store_images_are_the_jpeg_pixels(kaggle, demo):
    _, summary = demo
    ds = open_store(kaggle)
    files = sorted(Path(p) for p in summary["kaggle_images"])
    assert ds["image"].dims == ("sample", "y", "x", "band") and ds["image"].dtype == np.uint8
    assert ds["image"].shape == (len(files), H, W, 3)
    assert list(ds["image_id"].values) == [p.stem for p in files]
    for i, path in enumerate(files):
        np.testing.assert_array_equal(ds["image"][i].values, _jpeg(path))
    assert list(ds["sha256"].values) == [_sha256(p) for p in files]
    assert ds.attrs["dataset"] == "demo"
    assert ds.attrs["source_files"] == [*(p.name for p in files), "train.csv"]
    assert ds.attrs["source_sha256"][-1] == _sha256(summary["kaggle_csv"])
    # one chunk per image (streamed)
    assert ds["image"].chunks[0] == (1,) * len(files)


def test_kaggle_store_masks_decode_the_csv(kaggle, demo):
    _, summary = demo
    ds = open_store(kaggle)
    assert ds["mask"].dims == ("sample", "class", "y", "x") and ds["mask"].dtype == bool
    assert list(ds["class_name"].values) == list(CLASSES)
    ids = list(ds["image_id"].values)
    mask = ds["mask"].values
    table = pd.read_csv(summary["kaggle_csv"])
    assert len(table) == 4 * len(ids)
    n_labelled = 0
    for label, rle in zip(table["Image_Label"], table["EncodedPixels"], strict=True):
        name, cls = label.rsplit("_", 1)
        expected = rle_decode(rle, (H, W))
        np.testing.assert_array_equal(mask[ids.index(Path(name).stem), CLASSES.index(cls)], expected, err_msg=label)
        n_labelled += int(expected.any())
    assert n_labelled >= 4  # the demo labels several regions
    # and the decoded masks are the rectangles the generator drew (independently of the RLE code)
    drawn = np.zeros_like(mask)
    for r in summary["kaggle_labels"]:
        drawn[ids.index(Path(r["image"]).stem), CLASSES.index(r["class"]), r["y0"]:r["y1"], r["x0"]:r["x1"]] = True
    np.testing.assert_array_equal(mask, drawn)
    assert ds["labelled"].values.all()  # every demo image has its csv rows


def test_other_sizes_are_resized_and_unlabelled_images_marked(mixed, tmp_path, caplog):
    images, csv = mixed
    with caplog.at_level(logging.WARNING, logger="eoml.clouds.ingest"):
        store = build_kaggle_store("mixed", images, csv, tmp_path / "mixed.zarr", CLOUDS)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("mixed" in m and "1 of 6 images" in m and f"{W} x {H}" in m for m in warnings), warnings
    ds = open_store(store)
    ids = list(ds["image_id"].values)
    assert ds["image"].shape == (6, H, W, 3) and ds["mask"].shape == (6, len(CLASSES), H, W)
    labelled = dict(zip(ids, ds["labelled"].values.tolist(), strict=True))
    assert labelled.pop(UNLABELLED) is False and all(labelled.values())
    assert not ds["mask"][ids.index(UNLABELLED)].values.any()
    np.testing.assert_array_equal(ds["image"][ids.index(UNLABELLED)].values, _jpeg(images / f"{UNLABELLED}.jpg"))
    # the small image: bilinear to the common size; its mask by nearest neighbour (exactly doubled)
    i = ids.index(SMALL)
    small = _jpeg(images / f"{SMALL}.jpg")
    assert small.shape == (H // 2, W // 2, 3)
    expected = np.asarray(Image.fromarray(small).resize((W, H), Image.Resampling.BILINEAR))
    np.testing.assert_array_equal(ds["image"][i].values, expected)
    y0, y1, x0, x1 = SMALL_FLOWER
    flower = np.zeros((H, W), bool)
    flower[2 * y0:2 * y1, 2 * x0:2 * x1] = True
    np.testing.assert_array_equal(ds["mask"][i, CLASSES.index("Flower")].values, flower)
    assert ds["mask"][i].values.sum() == flower.sum()  # no other class
    assert ds["sha256"].values[i] == _sha256(images / f"{SMALL}.jpg")


def test_a_bad_csv_row_fails_naming_the_csv(mixed, tmp_path):
    images, csv = mixed
    bad = tmp_path / "bad.csv"
    bad.write_text(csv.read_text() + f"{UNLABELLED}.jpg_Fish,1 5 3\n")  # odd number of values
    with pytest.raises(InputFileError, match=re.escape(str(bad))):
        build_kaggle_store("bad", images, bad, tmp_path / "bad.zarr", CLOUDS)
    assert not (tmp_path / "bad.zarr").exists()


# --------------------------------------------------------------------------------------------
# scenes from stores
# --------------------------------------------------------------------------------------------
def test_load_scenes_one_per_goes_scene_and_kaggle_image(goes, kaggle):
    path, _, scene_id = goes
    scenes = load_scenes([path, kaggle])
    g, k = open_store(path), open_store(kaggle)
    ids = list(k["image_id"].values)
    assert [s.id for s in scenes] == [scene_id, *(f"demo/{i}" for i in ids)]
    first = scenes[0]
    np.testing.assert_array_equal(first.rgb, g["rgb"].values)
    np.testing.assert_array_equal(first.valid, g["valid"].values)
    assert first.masks is None
    for i, scene in enumerate(scenes[1:]):
        np.testing.assert_array_equal(scene.rgb, k["image"][i].values)
        np.testing.assert_array_equal(scene.masks, k["mask"][i].values)
        assert scene.valid is None and scene.rgb.dtype == np.uint8 and scene.masks.dtype == bool
    # store order is kept
    assert [s.id for s in load_scenes([kaggle, path])] == [*(f"demo/{i}" for i in ids), scene_id]


def test_load_scenes_labelled_only(goes, mixed, tmp_path):
    path, _, _ = goes
    images, csv = mixed
    store = build_kaggle_store("mixed", images, csv, tmp_path / "mixed.zarr", CLOUDS)
    every = load_scenes([path, store])
    assert len(every) == 1 + 6
    unlabelled = next(s for s in every if s.id == f"mixed/{UNLABELLED}")
    assert unlabelled.masks is None
    only = load_scenes([path, store], labelled_only=True)
    ids = list(open_store(store)["image_id"].values)
    assert [s.id for s in only] == [f"mixed/{i}" for i in ids if i != UNLABELLED]
    assert all(s.masks is not None for s in only)
    assert load_scenes([path], labelled_only=True) == []


def test_load_scenes_refuses_another_store(tmp_path):
    other = write_store(xr.Dataset({"sst": (("y", "x"), np.zeros((2, 3), np.float32),
                                            {"units": "K", "long_name": "sea surface temperature"})}),
                        tmp_path / "sst.zarr")
    with pytest.raises(InputFileError, match="not a clouds store") as info:
        load_scenes([other])
    assert Path(info.value.path) == other
    with pytest.raises(InputFileError, match="missing.zarr"):
        load_scenes([tmp_path / "missing.zarr"])
