"""LST U-Net training jobs and inference: datasets, outputs, determinism, sharpen()."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from lst_patches import make_patch_dataset, write_patch_store  # tests/lst is on sys.path

from eoml.core.data import Normalizer
from eoml.core.errors import ConfigError, InputFileError
from eoml.core.modelfile import load_model_file, save_model_file
from eoml.core.store import write_store
from eoml.lst.models import build_model
from eoml.lst.scaling import aggregate_lst, block_mean, parent_mask, upsample, upsample_torch
from eoml.lst.train import (
    HISTORY_COLUMNS,
    MODEL_KIND,
    MixGLPatches,
    SharpeningModel,
    WaldPatches,
    fit_normalization,
    history_frame,
    load_model,
    load_patches,
    train_model,
)

CFG = {
    "factor": 4,
    "model": {"base_channels": 4, "depth": 2, "res_blocks": 1},
    "training": {"max_epochs": 2, "batch_size": 4, "learning_rate": 0.003, "early_stopping_patience": 5,
                 "lr_patience": 2, "lr_factor": 0.5, "min_lr": 1e-5},
    "mixgl": {"alpha": 0.5, "beta": 0.5, "crop": 8},
    "max_train_patches": None,
}
WALD = {"name": "paper_wald", "variant": "paper", "protocol": "wald", "ndvi": True}
MIXGL = {"name": "student_mixgl", "variant": "student", "protocol": "mixgl", "ndvi": True}


pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return write_patch_store(tmp_path_factory.mktemp("patches") / "patches.zarr",
                             n_train=10, n_val=4, patch_size=16, seed=3)


def _run(store, spec, root, seed=0, cfg=CFG):
    return train_model(store, spec, root / "out", root / "ckpt", cfg, seed)


@pytest.fixture(scope="module")
def wald_run(store, tmp_path_factory):
    root = tmp_path_factory.mktemp("wald")
    return _run(store, WALD, root), root


@pytest.fixture(scope="module")
def mixgl_run(store, tmp_path_factory):
    root = tmp_path_factory.mktemp("mixgl")
    return _run(store, MIXGL, root), root


# --------------------------------------------------------------------------------------------
# datasets
# --------------------------------------------------------------------------------------------
def _arrays(n=3, size=16, seed=0):
    ds = make_patch_dataset(n_train=n, n_val=1, patch_size=size, seed=seed)
    lst, ndvi = ds["lst"].values[:n].astype(np.float64), ds["ndvi"].values[:n].astype(np.float64)
    return lst, ndvi, fit_normalization(lst, ndvi)


def test_wald_samples_are_the_degraded_patch_and_its_target():
    lst, ndvi, norm = _arrays()
    ds = WaldPatches(lst, ndvi, norm, 4, use_ndvi=True)
    s = ds[1]
    assert s["x"].shape == (2, 16, 16) and s["target"].shape == (1, 16, 16)
    bicubic = upsample(aggregate_lst(lst[1], 4, "radiance"), 4, "bicubic")
    np.testing.assert_allclose(norm["lst"].inverse(s["x"][0].numpy()), bicubic, atol=2e-3)
    np.testing.assert_allclose(s["x"][1].numpy(), norm["ndvi"].transform(block_mean(ndvi[1], 4)), atol=1e-5)
    np.testing.assert_allclose(norm["lst"].inverse(s["target"][0].numpy()), lst[1], atol=2e-3)
    assert WaldPatches(lst, ndvi, norm, 4, use_ndvi=False)[0]["x"].shape == (1, 16, 16)
    # augmentation: a rotation / flip of the whole sample, the same for the same seed
    aug = WaldPatches(lst, ndvi, norm, 4, use_ndvi=True, augment=True)
    a, b = aug[(1, 12345)], aug[(1, 12345)]
    assert torch.equal(a["x"], b["x"]) and torch.equal(a["target"], b["target"])
    variants = {tuple(aug[(1, k)]["target"].flatten()[:5].tolist()) for k in range(40)}
    assert len(variants) == 8  # 4 rotations x 2 flips
    assert torch.equal(aug[1]["x"], s["x"])  # a plain index (validation) is never augmented


def test_mixgl_crops_are_aligned_and_cut_from_the_whole_patch_upsampling():
    lst, ndvi, norm = _arrays()
    ds = MixGLPatches(lst, ndvi, norm, 4, use_ndvi=True, crop=6, random_crops=True)
    full = upsample_torch(torch.from_numpy(norm["lst"].transform(lst[2]))[None, None].float(), 4,
                          "bicubic")[0, 0].numpy()
    starts = set()
    for seed in range(30):
        s = ds[(2, seed)]
        assert s["x"].shape == (2, 24, 24) and s["target"].shape == (1, 6, 6) and s["guide"].shape == (1, 24, 24)
        # locate the crop through its coarse target
        t = s["target"][0].numpy()
        hits = [(r, c) for r in range(11) for c in range(11)
                if np.allclose(norm["lst"].transform(lst[2])[r:r + 6, c:c + 6], t, atol=1e-5)]
        assert len(hits) == 1
        r, c = hits[0]
        starts.add((r, c))
        np.testing.assert_allclose(s["x"][0].numpy(), full[4 * r:4 * r + 24, 4 * c:4 * c + 24], atol=1e-5)
        np.testing.assert_allclose(s["guide"][0].numpy(),
                                   norm["ndvi"].transform(ndvi[2, 4 * r:4 * r + 24, 4 * c:4 * c + 24]), atol=1e-5)
        assert torch.equal(s["x"][1], s["guide"][0])
    assert len(starts) > 10
    centre = MixGLPatches(lst, ndvi, norm, 4, use_ndvi=False, crop=6)[2]
    assert centre["x"].shape == (1, 24, 24)
    np.testing.assert_allclose(centre["target"][0].numpy(), norm["lst"].transform(lst[2])[5:11, 5:11], atol=1e-5)
    with pytest.raises(ConfigError, match="crop"):
        MixGLPatches(lst, ndvi, norm, 4, use_ndvi=True, crop=17)


def test_normalization_is_the_training_mean_and_std_with_a_floor():
    lst, ndvi, norm = _arrays()
    assert float(norm["lst"].mean) == lst.mean() and float(norm["lst"].std) == lst.std()
    assert float(norm["ndvi"].mean) == ndvi.mean() and float(norm["ndvi"].std) == ndvi.std()
    flat = fit_normalization(np.full((2, 4, 4), 300.0), np.full((2, 16, 16), 0.5))
    assert float(flat["lst"].std) == 1e-3 and float(flat["ndvi"].std) == 1e-3


# --------------------------------------------------------------------------------------------
# training jobs
# --------------------------------------------------------------------------------------------
def test_train_model_writes_model_and_history(wald_run):
    path, root = wald_run
    assert path == root / "out" / "model.pt"
    record = load_model_file(path, kind=MODEL_KIND)
    assert record.arch == {"spec": WALD, "model_cfg": CFG["model"]}
    assert record.settings["factor"] == 4 and record.settings["epochs_run"] == 2
    assert set(record.norm) == {"lst", "ndvi"}
    lst_norm = Normalizer.from_dict(record.norm["lst"])
    assert 290 < float(lst_norm.mean) < 330 and float(lst_norm.std) > 0
    assert record.settings["best_epoch"] in (0, 1)
    assert record.settings["n_train"] == 10 and record.settings["n_val"] == 4
    assert record.settings["config"] == CFG
    history = pd.read_csv(root / "out" / "history.csv")
    assert list(history.columns) == HISTORY_COLUMNS
    assert history["epoch"].tolist() == [0, 1]
    # Wald's protocol: the loss is the MSE; no gradient term
    np.testing.assert_allclose(history["train_mse"], history["train_loss"], rtol=1e-5)
    np.testing.assert_allclose(history["val_mse"], history["val_loss"], rtol=1e-5)
    assert history[["train_mge", "val_mge"]].isna().all().all()
    assert (root / "ckpt" / "best.ckpt").exists()
    # history_frame adds missing columns (e.g. a history.csv written without the mge columns)
    history.drop(columns=["train_mge"]).to_csv(root / "partial.csv", index=False)
    partial = history_frame(root / "partial.csv")
    assert list(partial.columns) == HISTORY_COLUMNS and partial["train_mge"].isna().all()


def test_mixgl_history_has_both_loss_terms(mixgl_run):
    path, root = mixgl_run
    history = pd.read_csv(root / "out" / "history.csv")
    assert list(history.columns) == HISTORY_COLUMNS
    assert history[["train_mse", "val_mse", "train_mge", "val_mge"]].notna().all().all()
    alpha, beta = CFG["mixgl"]["alpha"], CFG["mixgl"]["beta"]
    np.testing.assert_allclose(history["val_loss"], alpha * history["val_mge"] + beta * history["val_mse"],
                               rtol=1e-4)
    record = load_model_file(path, kind=MODEL_KIND)
    assert record.settings["crop"] == 8 and record.settings["mixgl"]["alpha"] == alpha


def test_training_is_deterministic(store, wald_run, tmp_path):
    path, _ = wald_run
    again = _run(store, WALD, tmp_path / "again")
    a = load_model_file(path).weights
    b = load_model_file(again).weights
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    other = _run(store, WALD, tmp_path / "other", seed=1)
    c = load_model_file(other).weights
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_finished_run_is_not_retrained(store, mixgl_run, caplog):
    path, root = mixgl_run
    before = load_model_file(path).weights
    with caplog.at_level("INFO"):
        _run(store, MIXGL, root)
    assert "training already complete" in caplog.text
    after = load_model_file(path).weights
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_train_model_rejects_bad_settings_and_stores(store, tmp_path):
    with pytest.raises(ConfigError, match="inside the output"):
        train_model(store, WALD, tmp_path / "out", tmp_path / "out" / "ckpt", CFG, 0)
    with pytest.raises(ConfigError, match="alpha \\+ beta"):
        _run(store, MIXGL, tmp_path / "a", cfg={**CFG, "mixgl": {"alpha": 0.5, "beta": 0.2, "crop": 8}})
    with pytest.raises(ConfigError, match="divisible"):  # 7 x 4 = 28 fine pixels, not a multiple of 2**3
        _run(store, MIXGL, tmp_path / "b", cfg={**CFG, "model": {**CFG["model"], "depth": 3},
                                                "mixgl": {"alpha": 0.5, "beta": 0.5, "crop": 7}})
    with pytest.raises(InputFileError, match="factor"):
        _run(store, WALD, tmp_path / "c", cfg={**CFG, "factor": 2})
    with pytest.raises(InputFileError, match="does not exist"):
        _run(tmp_path / "missing.zarr", WALD, tmp_path / "d")
    # no code-side defaults: a key missing from the (validated) config is an error
    with pytest.raises(KeyError, match="mixgl"):
        _run(store, WALD, tmp_path / "e", cfg={k: v for k, v in CFG.items() if k != "mixgl"})
    with pytest.raises(ConfigError, match="lst.training: missing key.*min_lr"):
        _run(store, WALD, tmp_path / "f", cfg={**CFG, "training": {k: v for k, v in CFG["training"].items()
                                                                    if k != "min_lr"}})
    ds = make_patch_dataset(n_train=3, n_val=1, patch_size=8, seed=0)
    only_train = write_store(ds.isel(patch=slice(0, 3)), tmp_path / "only_train.zarr")
    with pytest.raises(InputFileError, match="no val patch"):
        load_patches(only_train, 4)
    ds["lst"][0, 0, 0] = np.nan
    gappy = write_store(ds, tmp_path / "gappy.zarr")
    with pytest.raises(InputFileError, match="non-finite lst"):
        load_patches(gappy, 4)


def test_max_train_patches_takes_an_even_subset(store):
    data = load_patches(store, 4, max_train_patches=4)
    assert data["train"]["lst"].shape == (4, 16, 16)
    assert data["val"]["ndvi"].shape == (4, 64, 64)
    assert data["digest"] != load_patches(store, 4)["digest"]


# --------------------------------------------------------------------------------------------
# inference
# --------------------------------------------------------------------------------------------
def _coarse_with_gaps(n=2, h=13, w=11, seed=5):
    rng = np.random.default_rng(seed)
    coarse = 300 + 6 * rng.standard_normal((n, h, w))
    coarse[0, 2, 3] = np.nan
    coarse[0, -1, :4] = np.nan
    coarse[-1, 0, 0] = np.nan
    ndvi = np.clip(0.5 + 0.2 * rng.standard_normal((n, 4 * h, 4 * w)), -0.1, 0.95)
    ndvi[0, 5, 5] = np.nan  # NDVI gaps are filled, not propagated
    return coarse, ndvi


def test_untrained_model_sharpens_to_the_bicubic_baseline():
    """Zero tail: sharpen() must reproduce scaling.upsample exactly (pads, crops, scales back)."""
    torch.manual_seed(0)
    net = build_model(WALD, {"base_channels": 4, "depth": 3, "res_blocks": 1})
    norm = {"lst": Normalizer(301.0, 5.0, axis=None), "ndvi": Normalizer(0.4, 0.2, axis=None)}
    model = SharpeningModel(net, WALD, norm, factor=4)
    coarse, ndvi = _coarse_with_gaps()
    out = model.sharpen(coarse, ndvi, 4)
    expected = upsample(coarse, 4, "bicubic")
    assert out.dtype == np.float64 and out.shape == (2, 52, 44)
    np.testing.assert_array_equal(np.isnan(out), np.isnan(expected))
    np.testing.assert_allclose(out, expected, atol=2e-4, equal_nan=True)


def test_sharpen_odd_sizes_with_nan(wald_run):
    model = load_model(wald_run[0], device="cpu")
    assert model.name == "paper_wald" and model.uses_ndvi and model.factor == 4
    coarse, ndvi = _coarse_with_gaps()
    out = model.sharpen(coarse, ndvi, 4)
    assert out.shape == (2, 52, 44) and out.dtype == np.float64
    masked = parent_mask(~np.isfinite(coarse), 4)
    assert np.isnan(out[masked]).all() and np.isfinite(out[~masked]).all()
    # one image at a time gives the same result as the batch; other factors work too
    np.testing.assert_allclose(model.sharpen(coarse[1], ndvi[1], 4), out[1], atol=1e-5)
    assert model.sharpen(coarse[1], ndvi[1, ::2, ::2], 2).shape == (26, 22)
    # an all-NaN image stays NaN
    blank = np.full((1, 5, 6), np.nan)
    assert np.isnan(model.sharpen(blank, np.zeros((1, 20, 24)), 4)).all()
    with pytest.raises(ValueError, match="index_fine"):
        model.sharpen(coarse, ndvi[:, :-4], 4)


def test_sharpen_without_ndvi_channel(store, tmp_path):
    spec = {**WALD, "name": "no_ndvi", "ndvi": False}
    cfg = {**CFG, "training": {**CFG["training"], "max_epochs": 1}}
    model = load_model(_run(store, spec, tmp_path, cfg=cfg))
    assert not model.uses_ndvi
    coarse, _ = _coarse_with_gaps(n=1)
    assert model.sharpen(coarse[0], None, 4).shape == (52, 44)


def test_load_model_rejects_other_model_files(tmp_path):
    """The file format's own errors are core's (tests/core/test_modelfile.py); lst refuses other kinds."""
    foreign = save_model_file(tmp_path / "foreign.pt", kind="another.net", weights={}, arch={})
    with pytest.raises(InputFileError, match="not a 'lst.mrunet' model"):
        load_model(foreign)
    broken = save_model_file(tmp_path / "broken.pt", kind="lst.mrunet", weights={}, arch={"spec": {}})
    with pytest.raises(InputFileError, match="broken.pt: model weights do not match its settings"):
        load_model(broken)
