"""The scene store (eoml.scenes.ingest, eoml.scenes.data): round trip, stratified split, digests."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from eoml.core.errors import ConfigError, InputFileError
from eoml.core.store import open_store, write_store
from eoml.scenes import ingest
from eoml.scenes.data import class_names, open_scene_store, split_indices
from eoml.scenes.ingest import (
    build_store,
    native_size,
    resize_image,
    split_counts,
    stratified_split,
)
from eoml.scenes.readers import read_image, scan_dataset

CFG = {"image_size": 16, "max_image_size": 256, "on_bad_file": "error", "split": {"train": 0.7, "val": 0.1, "test": 0.2, "seed": 0}}
#: class -> (number of images, file suffix); names with spaces and non-ASCII letters
CLASSES = {"crop fields": (10, ".png"), "forêt (old)": (7, ".jpg"), "water": (3, ".tif")}


def _image(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    return rng.integers(0, 256, (h, w, 3), dtype=np.uint8)


def _dataset(root: Path, seed: int = 0) -> list[Path]:
    rng = np.random.default_rng(seed)
    files = []
    for cls, (n, suffix) in CLASSES.items():
        (root / cls).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            path = root / cls / f"scene {i:02d}{suffix}"
            Image.fromarray(_image(rng, 30 + i, 40)).save(path, **({"quality": 90} if suffix == ".jpg" else {}))
            files.append(path)
    return files


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    files = _dataset(root)
    store = build_store("mine", root, "folder", root.parent / "mine.zarr", CFG)
    return root, files, store


def test_round_trip(built):
    root, files, store = built
    ds = open_scene_store(store)
    assert dict(ds.sizes) == {"sample": 20, "y": 16, "x": 16, "band": 3, "class": 3}
    assert ds["image"].dtype == np.uint8 and ds["label"].dtype == np.int16 and ds["split"].dtype == np.int8
    assert class_names(ds) == ["crop fields", "forêt (old)", "water"]
    assert list(ds["band"].values) == ["red", "green", "blue"]
    sources = [str(s) for s in ds["source"].values]
    assert sources == [p.relative_to(root).as_posix() for p in files]
    labels = ds["label"].values
    assert [class_names(ds)[k] for k in labels] == [p.parent.name for p in files]
    images = ds["image"].values
    for k, path in enumerate(files):
        assert np.array_equal(images[k], resize_image(read_image(path), 16))
    # CF flags, attributes, provenance
    assert list(ds["split"].attrs["flag_values"]) == [0, 1, 2]
    assert ds["split"].attrs["flag_meanings"] == "train val test"
    a = ds.attrs
    assert (a["dataset"], a["layout"], a["image_size"], a["split_seed"]) == ("mine", "folder", 16, 0)
    assert a["split_fractions"] == [0.7, 0.1, 0.2] and a["n_skipped"] == 0 and a["skipped"] == []
    assert a["source_files"] == [p.name for p in files]
    assert a["source_sha256"] == [str(s) for s in ds["sha256"].values]
    # chunked along sample, whole images
    assert ds["image"].encoding["chunks"][1:] == (16, 16, 3)


def test_sha256_equals_hashlib(built):
    _, files, store = built
    ds = open_scene_store(store)
    for path, digest in zip(files, ds["sha256"].values):
        assert digest == hashlib.sha256(path.read_bytes()).hexdigest()


def test_split_is_stratified(built):
    _, files, store = built
    ds = open_scene_store(store)
    idx = split_indices(ds)
    assert sorted(np.concatenate(list(idx.values())).tolist()) == list(range(len(files)))
    labels = ds["label"].values
    per_class = {name: [int((labels[idx[s]] == k).sum()) for s in ("train", "val", "test")]
                 for k, name in enumerate(class_names(ds))}
    # 10 -> 7/1/2; 7 -> 5/1/1 (0.7 and 1.4 round to 1); 3 -> 1/1/1 (every class gets a val and a test image)
    assert per_class == {"crop fields": [7, 1, 2], "forêt (old)": [5, 1, 1], "water": [1, 1, 1]}
    assert all(v.dtype == np.int64 for v in idx.values())


def test_changed_image_changes_only_its_digest(built, tmp_path):
    root, files, store = built
    before = open_scene_store(store)
    changed = files[4]
    original = changed.read_bytes()
    Image.fromarray(np.full((34, 40, 3), 7, np.uint8)).save(changed)
    try:
        after = open_scene_store(build_store("mine", root, "folder", tmp_path / "again.zarr", CFG))
    finally:
        changed.write_bytes(original)
    diff = np.flatnonzero(before["sha256"].values != after["sha256"].values)
    assert diff.tolist() == [4]
    assert np.array_equal(before["split"].values, after["split"].values)
    same = np.ones(len(files), bool)
    same[4] = False
    assert np.array_equal(before["image"].values[same], after["image"].values[same])
    assert (after["image"].values[4] == 7).all()


def test_split_counts_rounding():
    f = (0.7, 0.1, 0.2)
    assert split_counts(100, f) == (70, 10, 20)  # UC Merced
    assert split_counts(220, f) == (154, 22, 44)  # AID's smallest class
    assert split_counts(800, f) == (560, 80, 160)  # PatternNet
    assert split_counts(5, f) == (3, 1, 1)  # 0.5 rounds up: half up, not to even
    assert split_counts(3, f) == (1, 1, 1) and split_counts(4, f) == (2, 1, 1)
    assert split_counts(2, f) == (2, 0, 0) and split_counts(1, f) == (1, 0, 0)
    assert split_counts(10, (0.8, 0.0, 0.2)) == (8, 0, 2)  # no val asked: none forced
    assert split_counts(3, (0.1, 0.45, 0.45)) == (1, 1, 1)  # train keeps one image
    assert split_counts(4, (0.1, 0.45, 0.45)) == (1, 2, 1)  # 2 + 2 leave no train: test gives one back


def test_stratified_split_seeded_and_per_class():
    labels = np.repeat([0, 1], [20, 30])
    a = stratified_split(labels, ["x", "y"], (0.7, 0.1, 0.2), seed=0)
    assert np.array_equal(a, stratified_split(labels, ["x", "y"], (0.7, 0.1, 0.2), seed=0))
    assert not np.array_equal(a, stratified_split(labels, ["x", "y"], (0.7, 0.1, 0.2), seed=1))
    assert [np.bincount(a[labels == k], minlength=3).tolist() for k in (0, 1)] == [[14, 2, 4], [21, 3, 6]]
    # a class's split does not depend on the other classes
    b = stratified_split(np.zeros(30, int), ["y"], (0.7, 0.1, 0.2), seed=0)
    assert np.array_equal(b, a[labels == 1])


def test_resize_is_antialiased():
    checker = (np.indices((64, 64)).sum(axis=0) % 2 * 255).astype(np.uint8)
    img = np.repeat(checker[..., None], 3, axis=2)
    small = resize_image(img, 16)
    assert small.shape == (16, 16, 3) and small.dtype == np.uint8
    assert np.abs(small[2:-2, 2:-2].astype(int) - 127).max() <= 2  # a mean, not point samples of 0 / 255
    assert resize_image(img, 64) is img


def test_chunks_stream_by_sample(tmp_path, monkeypatch):
    root = tmp_path / "data"
    files = _dataset(root, seed=3)
    monkeypatch.setattr(ingest, "CHUNK_BYTES", 16 * 16 * 3 * 6)  # 6 images per chunk
    ds = open_scene_store(build_store("c", root, "folder", tmp_path / "c.zarr", CFG))
    assert ds["image"].encoding["chunks"] == (6, 16, 16, 3)
    assert ds["image"].data.chunks[0] == (6, 6, 6, 2)
    for k in (0, 7, 19):
        assert np.array_equal(ds["image"].values[k], resize_image(read_image(files[k]), 16))


def test_skipped_files_are_recorded(tmp_path):
    root = tmp_path / "data"
    _dataset(root)
    (root / "water" / "broken.png").write_bytes(b"not a png")
    with pytest.raises(InputFileError, match="broken.png: cannot decode image"):
        build_store("s", root, "folder", tmp_path / "s.zarr", CFG)
    assert not (tmp_path / "s.zarr").exists()
    ds = open_scene_store(build_store("s", root, "folder", tmp_path / "s.zarr", {**CFG, "on_bad_file": "skip"}))
    assert ds.sizes["sample"] == 20 and ds.attrs["n_skipped"] == 1
    assert ds.attrs["skipped"][0].startswith("water/broken.png: cannot decode image")


def test_settings_errors(built, tmp_path):
    root, _, _ = built
    for split, message in (({"train": 0.7, "val": 0.2, "test": 0.2, "seed": 0}, "sum to 1"),
                           ({"train": 0.0, "val": 0.5, "test": 0.5, "seed": 0}, "train > 0"),
                           ({"train": 0.7, "val": 0.1, "test": 0.2}, "missing key\\(s\\) seed")):
        with pytest.raises(ConfigError, match=message):
            build_store("x", root, "folder", tmp_path / "x.zarr", {**CFG, "split": split})
    with pytest.raises(ConfigError, match="scenes.image_size"):
        build_store("x", root, "folder", tmp_path / "x.zarr", {**CFG, "image_size": 0})
    with pytest.raises(ConfigError, match="scenes.max_image_size"):
        build_store("x", root, "folder", tmp_path / "x.zarr", {**CFG, "image_size": "native", "max_image_size": "big"})
    with pytest.raises(ConfigError, match="missing key\\(s\\) max_image_size, on_bad_file"):
        build_store("x", root, "folder", tmp_path / "x.zarr", {"image_size": 8, "split": CFG["split"]})


def test_native_size_is_the_most_common_short_side_within_bounds():
    assert native_size([(100, 100)] * 3 + [(120, 96)] * 2, 256) == 100
    assert native_size([(120, 96)] * 3 + [(100, 100)], 256) == 96  # short side of 96 x 120
    assert native_size([(64, 64), (72, 72)], 256) == 72  # a tie: the larger
    assert native_size([(600, 600)] * 4, 256) == 256  # AID shrunk to the cap
    assert native_size([(28, 28)] * 4, 256) == 32  # the smallest network input
    with pytest.raises(ValueError, match="no image sizes"):
        native_size([], 256)


def test_native_image_size_follows_the_images(built, tmp_path):
    root, _, _ = built
    ds_native = open_scene_store(build_store("n", root, "folder", tmp_path / "n.zarr", {**CFG, "image_size": "native"}))
    sizes = scan_dataset(root, "folder").sizes
    assert ds_native.attrs["image_size"] == native_size(sizes, 256) == ds_native.sizes["y"] == ds_native.sizes["x"]


def test_open_scene_store_checks(built, tmp_path):
    _, _, store = built
    with pytest.raises(InputFileError, match="store does not exist"):
        open_scene_store(tmp_path / "none.zarr")
    ds = open_store(store).load()
    ds.attrs = {}
    # strings come back as numpy StringDType, which core's CF check asks units of: write them as objects
    ds = ds.assign({k: v.astype(object) for k, v in ds.data_vars.items() if v.dtype.kind == "T"})
    ds = ds.assign_coords({k: v.astype(object) for k, v in ds.coords.items() if v.dtype.kind == "T"})
    for name, change, message in (
        ("no_split", lambda d: d.drop_vars("split"), "variable 'split' is missing"),
        ("float_image", lambda d: d.assign(image=d["image"].astype(np.float32)), "'image' is float32, expected uint8"),
        ("bad_label", lambda d: d.assign(label=d["label"].copy(data=d["label"].values + 5)),
         "labels span 5..7, outside the 3 classes"),
        ("bad_split", lambda d: d.assign(split=d["split"].copy(data=np.where(d["split"].values == 2, 3, 0).astype(np.int8))),
         "split holds codes [3]"),
    ):
        bad = change(ds)
        for v in bad.variables.values():
            v.encoding = {}
        path = write_store(bad, tmp_path / f"{name}.zarr")
        with pytest.raises(InputFileError) as exc:
            open_scene_store(path)
        assert str(exc.value).startswith(f"{path}: ") and message in str(exc.value)


def test_demo_dataset_ingests_as_ucmerced(tmp_path):
    from eoml.scenes.demo import generate_demo

    root = generate_demo(tmp_path / "demo", {"classes": ["beach", "runway"], "n_per_class": 4, "size": 40, "seed": 1})
    ds = open_scene_store(build_store("demo", root, "ucmerced", tmp_path / "demo.zarr", CFG))
    assert class_names(ds) == ["beach", "runway"] and ds.sizes["sample"] == 8
    assert str(ds["source"].values[0]) == "UCMerced_LandUse/Images/beach/beach00.tif"
    assert [int((ds["label"].values[split_indices(ds)[s]] == 0).sum()) for s in ("train", "val", "test")] == [2, 1, 1]
