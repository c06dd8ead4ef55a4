"""The expert-labelled set's store: one label per image, the mask its whole frame."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from PIL import Image

from eoml.clouds.ingest import build_expert_store, expert_image_files, load_scenes
from eoml.clouds.labels import CLASSES
from eoml.core.errors import InputFileError
from eoml.core.store import open_store

CFG = {"on_bad_file": "error"}


def _jpeg(path, shape, value):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((*shape, 3), value, np.uint8)).save(path, quality=95)


@pytest.fixture()
def expert(tmp_path):
    root = tmp_path / "issi"
    _jpeg(root / "Sugar" / "a.jpg", (40, 60), 40)
    _jpeg(root / "Flower" / "b.jpg", (40, 60), 200)
    _jpeg(root / "Flower" / "c.png", (20, 30), 120)  # another size: resized to 40 x 60
    (root / ".hidden").mkdir()
    _jpeg(root / ".hidden" / "x.jpg", (8, 8), 0)
    return root


def test_expert_store_holds_whole_image_masks_of_the_labels(expert, tmp_path, caplog):
    assert [p.relative_to(expert).as_posix() for p in expert_image_files(expert)] == \
        ["Flower/b.jpg", "Flower/c.png", "Sugar/a.jpg"]
    with caplog.at_level(logging.WARNING, logger="eoml.clouds.ingest"):
        store = build_expert_store("issi", expert, None, tmp_path / "issi.zarr", CFG)
    assert "1 of 3 images are not 60 x 40 px" in caplog.text
    ds = open_store(store)
    assert ds.sizes["sample"] == 3 and ds["image"].shape == (3, 40, 60, 3)
    ids = list(ds["image_id"].values)
    labels = [CLASSES[int(np.flatnonzero(m.any(axis=(1, 2)))[0])] for m in ds["mask"].values]
    assert dict(zip(ids, labels)) == {"Flower/b.jpg": "Flower", "Flower/c.png": "Flower", "Sugar/a.jpg": "Sugar"}
    assert ds["mask"].values.sum(axis=(2, 3)).max() == 40 * 60  # the whole frame, one class per image
    assert ds["labelled"].values.all() and ds.attrs["layout"] == "expert"
    scenes = load_scenes([store], labelled_only=True)
    assert [s.id for s in scenes] == [f"issi/{i}" for i in ids]


def test_expert_store_from_a_csv_and_its_errors(expert, tmp_path):
    csv = tmp_path / "labels.csv"
    csv.write_text("image,label\nSugar/a.jpg,Gravel\nFlower/b.jpg,Fish\n")
    ds = open_store(build_expert_store("issi", expert, csv, tmp_path / "csv.zarr", CFG))
    assert list(ds["image_id"].values) == ["Sugar/a.jpg", "Flower/b.jpg"]
    assert [CLASSES[int(np.flatnonzero(m.any(axis=(1, 2)))[0])] for m in ds["mask"].values] == ["Gravel", "Fish"]
    csv.write_text("image,label\nSugar/a.jpg,Cumulus\n")
    with pytest.raises(InputFileError, match="labels.csv"):
        build_expert_store("issi", expert, csv, tmp_path / "bad.zarr", CFG)
    assert not (tmp_path / "bad.zarr").exists()
