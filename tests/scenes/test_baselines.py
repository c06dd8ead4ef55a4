"""scenes colour-histogram baseline: features, a store written as the contract says, the run
directory it leaves (scored by score_runs like a network's), and what it cannot see (structure)."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from eoml.core.store import write_store
from eoml.scenes.baselines import (
    colour_histograms,
    fit_histogram_classifier,
    run_baseline,
)
from eoml.scenes.evaluate import score_runs

SIZE, PER_CLASS = 16, 20
CLASSES = ["forest", "hstripes", "vstripes", "water"]


def _image(cls: str, rng: np.random.Generator) -> np.ndarray:
    if cls in ("water", "forest"):
        base = np.array((30, 60, 140) if cls == "water" else (40, 110, 40), dtype=float)
        img = base + rng.normal(0, 12, (SIZE, SIZE, 3))
        return np.clip(img, 0, 255).astype(np.uint8)
    # stripes: the same pixel values in rows or in columns, so the same colour histogram
    bright = (np.arange(SIZE) + rng.integers(0, 2)) % 2 == 0
    img = np.where(bright[:, None, None], 200, 60) * np.ones((SIZE, SIZE, 3))
    return (img if cls == "hstripes" else img.transpose(1, 0, 2)).astype(np.uint8)


def write_scene_store(path, dataset: str = "demo"):
    """A scene store with the contract's variables: per class 14 train, 2 val, 4 test images."""
    rng = np.random.default_rng(0)
    images, labels, split = [], [], []
    for k, cls in enumerate(CLASSES):
        for i in range(PER_CLASS):
            images.append(_image(cls, rng))
            labels.append(k)
            split.append(0 if i < 14 else 1 if i < 16 else 2)
    images = np.stack(images)
    n = len(labels)
    source = np.array([f"{CLASSES[k]}/{i:02d}.tif" for i, k in enumerate(labels)], dtype=object)
    ds = xr.Dataset(
        {
            "image": (("sample", "y", "x", "band"), images, {"long_name": "RGB image", "units": "1"}),
            "label": ("sample", np.array(labels, np.int16), {"long_name": "class index", "units": "1"}),
            "split": ("sample", np.array(split, np.int8),
                      {"long_name": "data split", "units": "1", "flag_values": [0, 1, 2],
                       "flag_meanings": "train val test"}),
            "source": ("sample", source, {"long_name": "image file"}),
            "sha256": ("sample", np.array([hashlib.sha256(s.encode()).hexdigest() for s in source],
                                          dtype=object), {"long_name": "SHA-256 of the file"}),
        },
        coords={"band": ("band", ["red", "green", "blue"], {"long_name": "band"}),
                "class_name": ("class", CLASSES, {"long_name": "class name"})},
        attrs={"dataset": dataset, "layout": "ucmerced", "root": "/data", "image_size": SIZE,
               "split_seed": 0, "split_fractions": [0.7, 0.1, 0.2], "n_skipped": 0},
    )
    assert n == 4 * PER_CLASS
    return write_store(ds, path)


def test_colour_histograms_of_a_pure_red_image():
    img = np.zeros((1, 4, 5, 3), np.uint8)
    img[..., 0] = 255
    f = colour_histograms(img, 16)
    assert f.shape == (1, 96)
    blocks = f.reshape(6, 16)  # R, G, B, H, S, V
    np.testing.assert_allclose(blocks.sum(axis=1), 1.0)
    assert [int(np.argmax(b)) for b in blocks] == [15, 0, 0, 0, 15, 15]
    grey = colour_histograms(np.full((2, 3, 3, 3), 128, np.uint8), 4)
    assert grey.shape == (2, 24) and grey[0, 2] == 1.0  # 128 → bin 2 of 4
    with pytest.raises(ValueError, match="uint8"):
        colour_histograms(img.astype(float), 16)


@pytest.mark.parametrize("classifier", ["logistic_regression", "random_forest"])
def test_baseline_run_directory_scores_colour_but_not_structure(tmp_path, classifier):
    store = write_scene_store(tmp_path / "demo.zarr")
    out = run_baseline(store, tmp_path / "run", bins=16, classifier=classifier, seed=0)
    meta = json.loads((out / "run.json").read_text())
    assert meta["job"] == {"dataset": "demo", "backbone": "colour_histogram", "depth": "none",
                           "mode": "baseline", "optimizer": classifier, "init": "none", "seed": 0}
    assert meta["classes"] == CLASSES and meta["attempts"][0]["chance_acc"] == 0.25
    assert meta["attempts"][0]["collapsed"] is False and meta["n_parameters"] > 0
    pred = pd.read_csv(out / "predictions.csv")
    assert list(pred.columns) == ["attempt", "sample", "split", "label", "pred"]
    assert pred["sample"].tolist() == list(range(4 * PER_CLASS))
    assert pred.groupby("split").size().to_dict() == {"test": 16, "train": 56, "val": 8}
    test = pred[pred.split == "test"]
    by_class = test.groupby("label")["pred"]
    assert by_class.apply(lambda p: (p == p.name).all()).loc[[0, 3]].all()  # colours: all right
    stripes = test[test.label.isin([1, 2])]["pred"]
    assert stripes.nunique() == 1 and stripes.iloc[0] in (1, 2)  # identical histograms, one answer

    acc = score_runs([out], tmp_path / "accuracy.csv")
    row = acc[acc.split == "test"].iloc[0]
    assert (row["mode"], row["backbone"], row["attempt"]) == ("baseline", "colour_histogram", 0)
    assert row["accuracy"] == pytest.approx(0.75) and np.isnan(row["epochs"]) and not row["collapsed"]

    again = run_baseline(store, tmp_path / "again", bins=16, classifier=classifier, seed=0)
    pd.testing.assert_frame_equal(pd.read_csv(again / "predictions.csv"), pred)  # seeded


def test_baseline_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="classifier must be one of"):
        run_baseline(tmp_path / "none.zarr", tmp_path / "run", bins=16, classifier="svm", seed=0)
    x = np.zeros((4, 3))
    with pytest.raises(ValueError, match="at least two classes"):
        fit_histogram_classifier(x, np.zeros(4, int), {"train": np.arange(2), "val": np.arange(2, 4)},
                                 classifier="logistic_regression", seed=0)
