"""scenes.train: outputs, determinism, the feature cache, fine-tuning's schedule and resume,
collapse detection and retry, transfer from another dataset's model, fail-fast weights."""

from __future__ import annotations

import hashlib
import json
import math

import numpy as np
import pandas as pd
import pytest
import torch
import xarray as xr

from eoml.core.backbones import MissingWeightsError
from eoml.core.errors import ConfigError, InputFileError
from eoml.core.store import write_store
from eoml.core.training import seed_everything
from eoml.scenes import train as scene_train
from eoml.scenes.models import build_classifier
from eoml.scenes.train import (
    HISTORY_COLUMNS,
    PREDICTION_COLUMNS,
    SceneTask,
    chance_accuracy,
    load_classifier,
    load_scene_data,
    predict_logits,
    train_classifier,
    train_on_data,
)

pytestmark = pytest.mark.usefixtures("torch_one_thread")

CLASSES = ["beach", "forest", "runway"]
N_PER_CLASS, SIZE = 12, 32
#: per class: 6 train, 3 val, 3 test
SPLIT_OF_RANK = [0] * 6 + [1] * 3 + [2] * 3

CFG = {
    "top": {"hidden": 32, "dropout": 0.2},
    "optimizers": {
        "adam_1e2": {"algorithm": "adam", "learning_rate": 1e-2, "momentum": 0.0, "clip_norm": None},
        "sgd_1e2_m09": {"algorithm": "sgd", "learning_rate": 1e-2, "momentum": 0.9, "clip_norm": 1.0},
        "sgd_10": {"algorithm": "sgd", "learning_rate": 10.0, "momentum": 0.0, "clip_norm": None},
    },
    "training": {"max_epochs": 4, "batch_size": 8, "early_stopping_patience": 10, "lr_patience": 5,
                 "lr_factor": 0.5, "min_lr": 1e-6, "monitor": "val_acc", "mixed_precision": True},
    "feature_cache": True,
    "collapse": {"retry": True, "lr_divisor": 10},
    "weights_path": None,
}
JOB = {"dataset": "toy", "backbone": "efficientnet_lite0", "depth": "shallow", "mode": "feature_extraction",
       "optimizer": "adam_1e2", "seed": 0, "init": "imagenet"}


def _image(cls: int, rng: np.random.Generator) -> np.ndarray:
    """Class-specific structure and colour with noise: sand-coloured noise, green blobs, a grey
    strip on dark ground."""
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    img = np.empty((SIZE, SIZE, 3))
    if cls == 0:
        img[:] = (200, 180, 130)
    elif cls == 1:
        img[:] = (40, 90, 40)
        cy, cx = rng.integers(0, SIZE, 2)
        img[(yy - cy) ** 2 + (xx - cx) ** 2 < 60] = (20, 60, 20)
    else:
        img[:] = (70, 60, 50)
        c = rng.integers(8, SIZE - 8)
        img[:, c - 3:c + 3] = (150, 150, 150)
    img += rng.normal(0, 12, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def make_store(path, seed: int = 0):
    """A scene store with the layout of the scenes contract (what eoml.scenes.data reads)."""
    rng = np.random.default_rng(seed)
    labels = np.tile(np.arange(len(CLASSES)), N_PER_CLASS)  # classes interleaved
    rank = np.repeat(np.arange(N_PER_CLASS), len(CLASSES))
    images = np.stack([_image(int(c), rng) for c in labels])
    sources = [f"{CLASSES[c]}/{CLASSES[c]}{r:02d}.tif" for c, r in zip(labels, rank)]
    ds = xr.Dataset(
        {
            "image": (("sample", "y", "x", "band"), images, {"long_name": "RGB image", "units": "1"}),
            "label": ("sample", labels.astype(np.int16), {"long_name": "class index", "units": "1"}),
            "source": ("sample", np.array(sources), {"long_name": "image file relative to the dataset root"}),
            "sha256": ("sample", np.array([hashlib.sha256(s.encode()).hexdigest() for s in sources]),
                       {"long_name": "SHA-256 of the image file"}),
            "split": ("sample", np.array([SPLIT_OF_RANK[r] for r in rank], dtype=np.int8),
                      {"long_name": "data split", "units": "1", "flag_values": [0, 1, 2],
                       "flag_meanings": "train val test"}),
        },
        coords={
            "band": ("band", np.array(["red", "green", "blue"]), {"long_name": "colour band"}),
            "class_name": ("class", np.array(CLASSES), {"long_name": "class name"}),
        },
        attrs={"dataset": "toy", "layout": "ucmerced", "root": "/nowhere", "image_size": SIZE, "split_seed": 0,
               "split_fractions": [0.5, 0.25, 0.25], "n_skipped": 0},
    )
    return write_store(ds, path, chunks={"sample": 12, "y": SIZE, "x": SIZE, "band": 3})


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return make_store(tmp_path_factory.mktemp("store") / "toy.zarr")


@pytest.fixture(scope="module")
def data(store):
    return load_scene_data(store)


@pytest.fixture(scope="module")
def trained(store, tmp_path_factory):
    """One feature-extraction run (cached features) through the store, as the workflow calls it."""
    root = tmp_path_factory.mktemp("trained")
    model = train_classifier(store, root / "out", root / "ckpt", JOB, CFG)
    return root / "out", model


def _cfg(**changes):
    return {**CFG, **changes}


def _run(data, tmp_path, name, job=None, cfg=None, **kwargs):
    out = tmp_path / name
    train_on_data(data, out, tmp_path / f"{name}_ckpt", {**JOB, **(job or {})}, cfg or CFG, **kwargs)
    return out


def _base_weights(out):
    net, _ = load_classifier(out / "model.pt", device="cpu")
    return {k: v.clone() for k, v in net.base.state_dict().items()}


# --------------------------------------------------------------------------------------------
def test_data_from_the_store(data):
    assert data.images.shape == (36, 3, SIZE, SIZE) and data.images.dtype == torch.uint8
    assert data.class_names == CLASSES
    assert {k: len(v) for k, v in data.splits.items()} == {"train": 18, "val": 9, "test": 9}
    assert np.bincount(data.labels[data.splits["val"]]).tolist() == [3, 3, 3]


def test_outputs_and_columns(trained, data):
    out, model = trained
    assert model == out / "model.pt"
    assert sorted(p.name for p in out.iterdir()) == ["history.csv", "model.pt", "predictions.csv", "run.json"]
    history = pd.read_csv(out / "history.csv")
    assert list(history.columns) == HISTORY_COLUMNS
    assert history["epoch"].tolist() == [0, 1, 2, 3] and (history["attempt"] == 0).all()
    assert history[["train_loss", "val_loss", "train_acc", "val_acc", "seconds"]].notna().all().all()
    pred = pd.read_csv(out / "predictions.csv")
    assert list(pred.columns) == PREDICTION_COLUMNS
    assert sorted(pred["sample"]) == list(range(36)) and (pred["attempt"] == 0).all()
    assert pred.groupby("split").size().to_dict() == {"test": 9, "train": 18, "val": 9}
    assert (pred["label"].to_numpy() == data.labels[pred["sample"]]).all()
    run = json.loads((out / "run.json").read_text())
    assert run["job"] == JOB and run["classes"] == CLASSES
    (attempt,) = run["attempts"]
    assert set(attempt) >= {"attempt", "learning_rate", "collapsed", "best_epoch", "epochs_run", "best_val_acc",
                            "chance_acc", "seconds_per_epoch"}
    assert attempt["learning_rate"] == 1e-2 and attempt["epochs_run"] == 4 and attempt["chance_acc"] == 1 / 3
    # ImageNet features of three distinct scene types: the top model learns them
    assert not attempt["collapsed"] and attempt["best_val_acc"] > attempt["collapse_threshold"]
    val = pred[pred["split"] == "val"]
    best = history.loc[attempt["best_epoch"], "val_acc"]
    assert (val["label"] == val["pred"]).mean() == pytest.approx(best)  # the best epoch's weights
    assert best == history["val_acc"].max()  # monitor: val_acc
    assert attempt["feature_seconds"] > 0
    n_head = 24 * 32 + 32 + 32 * 3 + 3
    assert run["n_trainable"] == n_head < run["n_parameters"]


def test_model_file_reloads_and_predicts_the_same(trained, data):
    out, model = trained
    net, record = load_classifier(model, device="cpu")
    assert record.kind == "scenes.classifier" and record.arch["class_names"] == CLASSES
    assert record.settings["job"] == JOB and not net.training
    pred = pd.read_csv(out / "predictions.csv").sort_values("sample")
    assert (predict_logits(net, data.images, "cpu").argmax(1).numpy() == pred["pred"].to_numpy()).all()


def test_same_seed_same_predictions(data, tmp_path):
    # the uncached feature extraction: augmented images through the frozen base every epoch
    cfg = _cfg(feature_cache=False, training={**CFG["training"], "max_epochs": 2})
    a = _run(data, tmp_path, "a", cfg=cfg)
    b = _run(data, tmp_path, "b", cfg=cfg)
    assert (a / "predictions.csv").read_bytes() == (b / "predictions.csv").read_bytes()
    wa, wb = (load_classifier(p / "model.pt", "cpu")[1].weights for p in (a, b))
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    c = _run(data, tmp_path, "c", job={"seed": 1}, cfg=cfg)
    wc = load_classifier(c / "model.pt", "cpu")[1].weights
    assert not torch.equal(wa["head.0.weight"], wc["head.0.weight"])


def test_feature_cache_trains_as_the_frozen_base_every_epoch(data, tmp_path):
    cached = _run(data, tmp_path, "cached")
    every_epoch = _run(data, tmp_path, "every_epoch", cfg=_cfg(feature_cache=False), augment=False)
    h_cached, h_every = (pd.read_csv(p / "history.csv") for p in (cached, every_epoch))
    cols = ["train_loss", "val_loss", "lr", "train_acc", "val_acc"]
    pd.testing.assert_frame_equal(h_cached[cols], h_every[cols], rtol=1e-5)
    assert (cached / "predictions.csv").read_bytes() == (every_epoch / "predictions.csv").read_bytes()
    wa, wb = (load_classifier(p / "model.pt", "cpu")[1].weights for p in (cached, every_epoch))
    assert all(torch.allclose(wa[k], wb[k], rtol=1e-5, atol=1e-6) for k in wa)
    runs = [json.loads((p / "run.json").read_text())["attempts"][0] for p in (cached, every_epoch)]
    assert runs[0]["feature_seconds"] > 0 and runs[1]["feature_seconds"] is None


def test_fine_tune_freezes_the_base_then_trains_it(data, tmp_path, monkeypatch):
    snapshots = {}
    start, end = SceneTask.on_train_epoch_start, SceneTask.on_train_epoch_end

    def base_state(task):
        return {k: v.detach().clone() for k, v in task.model.base.state_dict().items()}

    def record_start(self):
        if self.current_epoch == 0:
            snapshots["start"] = base_state(self)
        start(self)

    def record_end(self):
        snapshots[self.current_epoch] = (base_state(self), self.model.base_frozen)
        end(self)

    monkeypatch.setattr(SceneTask, "on_train_epoch_start", record_start)
    monkeypatch.setattr(SceneTask, "on_train_epoch_end", record_end)
    _run(data, tmp_path, "ft", job={"mode": "fine_tune"})

    def same(a, b):
        return all(torch.equal(a[k], b[k]) for k in a)

    assert [snapshots[e][1] for e in range(4)] == [True, True, False, False]
    assert same(snapshots[0][0], snapshots["start"]) and same(snapshots[1][0], snapshots["start"])
    assert not same(snapshots[2][0], snapshots[1][0]) and not same(snapshots[3][0], snapshots[2][0])


def test_fine_tune_resumes_mid_way_as_the_uninterrupted_run(data, tmp_path, monkeypatch):
    job = {"mode": "fine_tune"}
    ref = _run(data, tmp_path, "ref", job=job)
    start = SceneTask.on_train_epoch_start

    def crash(self):
        if self.current_epoch == 3:  # the base was released at epoch 2
            raise RuntimeError("simulated crash")
        start(self)

    monkeypatch.setattr(SceneTask, "on_train_epoch_start", crash)
    with pytest.raises(RuntimeError, match="simulated crash"):
        _run(data, tmp_path, "resumed", job=job)
    monkeypatch.undo()
    assert torch.load(tmp_path / "resumed_ckpt" / "attempt0" / "last.ckpt", weights_only=False)["epoch"] == 2
    resumed = _run(data, tmp_path, "resumed", job=job)
    assert (resumed / "predictions.csv").read_bytes() == (ref / "predictions.csv").read_bytes()
    wa, wb = (load_classifier(p / "model.pt", "cpu")[1].weights for p in (ref, resumed))
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


def test_diverging_run_is_collapsed_and_retried_with_a_smaller_rate(data, tmp_path):
    out = _run(data, tmp_path, "lr10", job={"optimizer": "sgd_10", "mode": "random", "init": "random",
                                             "backbone": "resnet18"})
    run = json.loads((out / "run.json").read_text())
    first, retry = run["attempts"]
    assert first["attempt"] == 0 and first["learning_rate"] == 10.0 and first["collapsed"]
    assert first["best_val_acc"] <= first["collapse_threshold"]
    assert retry["attempt"] == 1 and retry["learning_rate"] == pytest.approx(1.0)
    pred = pd.read_csv(out / "predictions.csv")
    assert pred.groupby("attempt").size().to_dict() == {0: 36, 1: 36}
    assert sorted(pd.read_csv(out / "history.csv")["attempt"].unique()) == [0, 1]
    assert load_classifier(out / "model.pt", "cpu")[1].settings["attempt"] == 1
    # without the retry, only the collapsed attempt
    once = _run(data, tmp_path, "lr10_once", job={"optimizer": "sgd_10", "mode": "random", "init": "random",
                                                   "backbone": "resnet18"},
                cfg=_cfg(collapse={"retry": False, "lr_divisor": 10}))
    assert [a["collapsed"] for a in json.loads((once / "run.json").read_text())["attempts"]] == [True]


def test_chance_accuracy_by_hand():
    p0, threshold = chance_accuracy(np.array([0, 0, 1, 2, 2, 2, 1, 0, 2, 2]))
    assert p0 == 0.5 and threshold == pytest.approx(0.5 + 2 * math.sqrt(0.25 / 10))
    assert chance_accuracy(np.zeros(4, int)) == (1.0, 1.0)


def test_transfer_starts_the_base_from_another_datasets_model(data, tmp_path, monkeypatch):
    # the source: a run on dataset "toy" whose whole network trained (its base is no longer ImageNet's)
    short = _cfg(training={**CFG["training"], "max_epochs": 2})
    source = _run(data, tmp_path, "source", job={"mode": "random", "init": "random"}, cfg=short)
    model = source / "model.pt"
    src = load_classifier(model, "cpu")[1].weights
    built = []
    build = scene_train._build_network

    def spy(*args):
        net = build(*args)
        built.append({k: v.detach().clone() for k, v in net.state_dict().items()})
        return net

    monkeypatch.setattr(scene_train, "_build_network", spy)
    job = {"dataset": "toy2", "init": "toy"}
    out = _run(data, tmp_path, "transfer", job=job, init_model=model, cfg=short)
    monkeypatch.undo()
    start = built[0]  # (attempt 0; a collapsed attempt is retried from the same start)
    base_keys = [k for k in src if k.startswith("base.")]
    assert all(torch.equal(start[k], src[k]) for k in base_keys)  # the base starts from the source's
    seed_everything(0)
    fresh = build_classifier("efficientnet_lite0", "random", "shallow", 3, CFG["top"]).state_dict()
    head_keys = [k for k in src if k.startswith("head.")]
    assert all(torch.equal(start[k], fresh[k]) for k in head_keys)  # the top starts afresh, not copied
    assert not torch.equal(start["head.0.weight"], src["head.0.weight"])
    dst = _base_weights(out)  # feature extraction: the transferred base stays as it came
    assert all(torch.equal(dst[k[len("base."):]], src[k]) for k in base_keys)
    assert load_classifier(out / "model.pt", "cpu")[1].settings["job"]["init"] == "toy"

    with pytest.raises(InputFileError, match="model.pt: holds a efficientnet_lite0 cut at shallow"):
        _run(data, tmp_path, "bad_depth", job={**job, "depth": "intermediate"}, init_model=model)
    with pytest.raises(InputFileError, match="trained on 'toy', not on 'aid'"):
        _run(data, tmp_path, "bad_source", job={**job, "init": "aid"}, init_model=model)
    with pytest.raises(ConfigError, match="init_model, that run's model.pt, is required"):
        _run(data, tmp_path, "no_model", job=job)
    with pytest.raises(ConfigError, match="init_model .* is only for a transfer"):
        _run(data, tmp_path, "imagenet_with_model", init_model=model)


def test_missing_imagenet_checkpoint_fails_at_once(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    with pytest.raises(MissingWeightsError, match=r"vgg19-dcbb9e9d\.pth"):
        # the store does not exist: the weights are checked before anything is read
        train_classifier(tmp_path / "absent.zarr", tmp_path / "out", tmp_path / "ckpt", {**JOB, "backbone": "vgg19"},
                         CFG)
    assert not (tmp_path / "out").exists()


def test_bad_jobs_and_settings(data, tmp_path):
    with pytest.raises(ConfigError, match="init must be 'random'"):
        _run(data, tmp_path, "x", job={"mode": "random"})
    with pytest.raises(ConfigError, match="no optimizer named 'rmsprop'"):
        _run(data, tmp_path, "x", job={"optimizer": "rmsprop"})
    with pytest.raises(ConfigError, match="job mode: 'linear_probe'"):
        _run(data, tmp_path, "x", job={"mode": "linear_probe"})
    with pytest.raises(ConfigError, match=r"scenes.training: missing key\(s\) monitor"):
        _run(data, tmp_path, "x", cfg=_cfg(training={k: v for k, v in CFG["training"].items() if k != "monitor"}))
    with pytest.raises(ConfigError, match="below the 75 px that inception_v3 needs"):
        _run(data, tmp_path, "x", job={"backbone": "inception_v3", "init": "random"})
    assert scene_train.MODEL_KIND == "scenes.classifier"
