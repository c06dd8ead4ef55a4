"""Tests of seaice patch sampling, segmenter training and whole-scene prediction."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import xarray as xr

from eoml.core.errors import InputFileError
from eoml.core.modelfile import load_model_file, save_model_file
from eoml.core.store import open_collection, write_store
from eoml.seaice.models import MissingWeightsError
from eoml.seaice.train import (
    MODEL_KIND,
    load_segmenter,
    predict_scene,
    predict_scenes,
    sample_patches,
    train_segmenter,
)

pytestmark = pytest.mark.usefixtures("torch_one_thread")

H = W = 64


def _scene(path: Path, seed: int, hh_offset: float = 0.0, label_fill=None, nan_box=None) -> Path:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:H, 0:W]
    ice = ((xx + 7 * np.sin(yy / 9.0)) > W / 2).astype(np.uint8)
    hh = np.where(ice, -12.0, -22.0) + rng.normal(0, 1.0, (H, W)) + hh_offset
    hv = np.where(ice, -24.0, -30.0) + rng.normal(0, 1.0, (H, W))
    inc = np.broadcast_to(np.linspace(20, 45, W), (H, W)).copy()
    label = ice.copy()
    if label_fill is not None:
        label_fill(label, hh)
    if nan_box is not None:
        hh[nan_box] = np.nan
    def var(a, dtype, units, name):
        return (("y", "x"), a.astype(dtype), {"units": units, "long_name": name})
    ds = xr.Dataset({
        "hh_db": var(hh, np.float32, "dB", "HH backscatter"),
        "hv_db": var(hv, np.float32, "dB", "HV backscatter"),
        "incidence_deg": var(inc, np.float32, "degree", "incidence angle"),
        "label": var(label, np.uint8, "1", "ice/water label"),
    })
    return write_store(ds, path)


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    d = tmp_path_factory.mktemp("scenes")
    return {
        "s_train": _scene(d / "s_train.zarr", 1),
        "s_half": _scene(d / "s_half.zarr", 2),
        "s_test": _scene(d / "s_test.zarr", 3, nan_box=(slice(5, 12), slice(40, 50))),
    }


SPLIT = {"test": ["s_test"], "half": ["s_half"], "train": ["s_train"], "half_val": "bottom"}


def test_patches_respect_split(tmp_path):
    # the validation (bottom) half of the half scene carries a marker hh value of +1000 dB
    def mark(label, hh):
        hh[H // 2:] = 1000.0
    s = {"a": _scene(tmp_path / "a.zarr", 1), "h": _scene(tmp_path / "h.zarr", 2, label_fill=mark)}
    split = {"test": [], "half": ["h"], "train": ["a"], "half_val": "bottom"}
    data = sample_patches(s, split, n_per_scene=30, patch_size=16, max_invalid=0.3, seed=0)
    norm = data["norm"]
    marker = (1000.0 - norm["mean"][0]) / norm["std"][0]
    tr, va = data["train"], data["val"]
    assert len(tr["y"]) == 60 and len(va["y"]) == 30
    assert tr["x"].shape[1:] == (3, 16, 16) and tr["x"].dtype == np.float32 and tr["y"].dtype == np.uint8
    assert not np.isclose(tr["x"][:, 0], marker, atol=1e-3).any()
    assert np.isclose(va["x"][:, 0], marker, atol=1e-3).all()
    h_rows = tr["corner"][tr["scene"] == "h", 0]
    assert h_rows.size and (h_rows + 16 <= H // 2).all()
    assert set(va["scene"]) == {"h"}
    # deterministic by seed; another seed draws other corners
    again = sample_patches(s, split, 30, 16, 0.3, seed=0)
    other = sample_patches(s, split, 30, 16, 0.3, seed=1)
    assert again["digest"] == data["digest"] and other["digest"] != data["digest"]
    # top half as validation: now training patches come from the bottom (marked) half
    flipped = sample_patches(s, {**split, "half_val": "top"}, 30, 16, 0.3, seed=0)
    assert (flipped["val"]["corner"][:, 0] + 16 <= H // 2).all()


def test_normalisation_from_training_pixels(tmp_path):
    def mark(label, hh):
        hh[H // 2:] = 1000.0
    s = {"a": _scene(tmp_path / "a.zarr", 1), "h": _scene(tmp_path / "h.zarr", 2, label_fill=mark)}
    split = {"test": [], "half": ["h"], "train": ["a"], "half_val": "bottom"}
    data = sample_patches(s, split, n_per_scene=2, patch_size=16, max_invalid=0.3, seed=0)
    from eoml.core.store import open_store
    a = open_store(s["a"])["hh_db"].values.astype(np.float64)
    h = open_store(s["h"])["hh_db"].values.astype(np.float64)[: H // 2]
    pooled = np.concatenate([a.ravel(), h.ravel()])
    assert data["norm"]["mean"][0] == pytest.approx(pooled.mean(), rel=1e-9)
    assert data["norm"]["std"][0] == pytest.approx(pooled.std(), rel=1e-6)
    assert data["norm"]["n_pixels"] == pooled.size


def test_invalid_fraction_filter(tmp_path):
    def ignore_left(label, hh):
        label[:, : W // 2] = 255
    s = {"a": _scene(tmp_path / "a.zarr", 1, label_fill=ignore_left,
                     nan_box=(slice(0, H), slice(W // 2, W // 2 + 4)))}
    split = {"test": [], "half": [], "train": ["a"], "half_val": "top"}
    strict = sample_patches(s, split, n_per_scene=200, patch_size=16, max_invalid=0.0, seed=0)
    loose = sample_patches(s, split, n_per_scene=200, patch_size=16, max_invalid=1.0, seed=0)
    assert len(loose["train"]["y"]) == 200
    y = strict["train"]["y"]
    assert 0 < len(y) < 200 and not (y == 255).any()
    assert (strict["train"]["corner"][:, 1] >= W // 2 + 4).all()
    # NaN inputs become 0 after standardisation and their labels 255
    x = loose["train"]["x"]
    assert np.isfinite(x).all()
    nan_cols = (loose["train"]["corner"][:, 1] <= W // 2) & (loose["train"]["corner"][:, 1] + 16 > W // 2 + 4)
    assert nan_cols.any()
    assert (loose["train"]["y"][nan_cols] == 255).sum() > 0


CFG = {
    "split": SPLIT,
    "patches": {"n_per_scene": 6, "size": 32, "max_invalid": 0.3},
    "training": {"max_epochs": 2, "batch_size": 4, "learning_rate": 1e-3, "early_stopping_patience": 5,
                 "lr_patience": 2, "lr_factor": 0.5, "min_lr": 1e-6},
    "weights_path": None,
}


@pytest.fixture(scope="module")
def trained(stores, tmp_path_factory):
    d = tmp_path_factory.mktemp("train")
    path = train_segmenter(stores, "efficientnet_lite0", "random", 0, d / "out", d / "ckpt", CFG)
    return path


def test_train_writes_outputs(trained):
    assert trained.name == "model.pt" and trained.exists()
    record = load_model_file(trained, kind=MODEL_KIND)
    assert record.arch["encoder"] == "efficientnet_lite0" and record.settings["init"] == "random"
    assert record.settings["epochs_run"] == 2 and record.settings["best_epoch"] in (0, 1)
    assert len(record.norm["mean"]) == 3 and record.norm["axis"] == 0
    assert record.settings["config"] == CFG
    hist = pd.read_csv(trained.parent / "history.csv")
    assert list(hist["epoch"]) == [0, 1]
    assert {"train_loss", "val_loss", "train_acc", "val_acc"} <= set(hist.columns)
    assert hist[["train_loss", "val_loss", "train_acc", "val_acc"]].notna().all().all()


def test_train_deterministic(stores, trained, tmp_path):
    again = train_segmenter(stores, "efficientnet_lite0", "random", 0, tmp_path / "out", tmp_path / "ckpt", CFG)
    a = load_model_file(trained).weights
    b = load_model_file(again).weights
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_missing_imagenet_weights(stores, tmp_path):
    cfg = {**CFG, "weights_path": str(tmp_path / "nope" / "resnet18-f37072fd.pth")}
    with pytest.raises(MissingWeightsError, match="resnet18"):
        train_segmenter(stores, "resnet18", "imagenet", 0, tmp_path / "out", tmp_path / "ckpt", cfg)
    assert not (tmp_path / "out" / "model.pt").exists()


def test_load_segmenter_names_a_foreign_model_file(tmp_path):
    other = save_model_file(tmp_path / "other.pt", kind="another.net", weights={}, arch={})
    with pytest.raises(InputFileError, match="other.pt: holds a 'another.net' model, not a 'seaice.segmenter'"):
        load_segmenter(other)


def test_predict_scene_tiled_and_nan(stores, trained, tmp_path):
    bundle = load_segmenter(trained, device="cpu")
    whole = predict_scene(bundle, stores["s_test"])
    assert whole.shape == (H, W) and whole.dtype == np.uint8
    assert (whole[5:12, 40:50] == 255).all()
    assert set(np.unique(whole[np.isfinite(np.ones_like(whole, float))]).tolist()) <= {0, 1, 255}
    assert (whole != 255).sum() == H * W - 70
    # a tile larger than the scene is the whole-scene pass
    assert np.array_equal(predict_scene(bundle, stores["s_test"], tile=128, overlap=16), whole)
    tiled = predict_scene(bundle, stores["s_test"], tile=48, overlap=8)
    assert (tiled == 255).sum() == 70
    assert np.mean(tiled == whole) > 0.9
    out = predict_scenes(trained, {"s_test": stores["s_test"]}, tmp_path / "pred.zarr")
    tree = open_collection(out)
    assert list(tree.children) == ["s_test"]
    pred = tree["s_test"]["pred"]
    assert pred.dims == ("y", "x") and pred.dtype == np.uint8
    assert np.array_equal(pred.values, whole)
    assert tree.attrs["encoder"] == "efficientnet_lite0" and int(tree.attrs["epochs_run"]) == 2
    assert tree.attrs["source_files"] == [Path(trained).name]  # provenance: the model file's digest
