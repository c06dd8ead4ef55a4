"""clouds.classifier: squares, splits, the network, training (resume, determinism), evaluation equal to
scikit-learn's, the collected table, Grad-CAM that finds a bright square, feature maps and figures.

The data are a tiny Kaggle-layout folder written here (twelve 48 x 64 px JPEGs, one textured
rectangle of one class each, one image with two) and a tiny expert-labelled set, ingested by
:mod:`eoml.clouds.ingest`; the network is a random ResNet-18 cut at ``shallow`` on 32 px squares.
"""

from __future__ import annotations

import json

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support
from sklearn.utils.class_weight import compute_class_weight
from torch import nn

from eoml.clouds.classifier import (
    HISTORY_COLUMNS,
    MODEL_KIND,
    PREDICTION_COLUMNS,
    SCORE_COLUMNS,
    build_cloud_classifier,
    class_weights,
    collect_classifier,
    evaluate_classifier,
    load_classifier,
    split_images,
    train_classifier,
)
from eoml.clouds.classifier_report import (
    classifier_figures,
    feature_maps,
    gradcam,
    gradcam_panel_figure,
)
from eoml.clouds.ingest import build_expert_store, build_kaggle_store, load_scenes
from eoml.clouds.labels import CLASSES, rle_encode
from eoml.clouds.tiles import Scene, labelled_squares, resize_tiles
from eoml.core.errors import ConfigError, InputFileError
from eoml.core.modelfile import load_model_file, save_model_file
from eoml.core.plotting import paper_style
from eoml.core.tasks import ClassificationTask

pytestmark = pytest.mark.usefixtures("torch_one_thread")

H, W, S = 48, 64, 32
TRAINING = {"max_epochs": 2, "batch_size": 4, "learning_rate": 1e-3, "early_stopping_patience": 5,
            "lr_patience": 2, "lr_factor": 0.5, "min_lr": 1e-6, "mixed_precision": False}
CFG = {"input_px": S, "cut": "shallow", "dropout": 0.1, "class_balance": "weights",
       "split": {"val_fraction": 0.25, "test_fraction": 0.25}, "augment": True, "weights_path": None,
       "training": TRAINING}
JOB = {"name": "r18", "backbone": "resnet18", "weights": "random", "head": [8]}


def _texture(k: int, h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """A grey texture per class: stripes, blobs, checks, fine noise."""
    yy, xx = np.mgrid[:h, :w].astype(float)
    if k == 0:
        t = 0.5 + 0.5 * np.sin(yy * 1.2)
    elif k == 1:
        t = (np.hypot((yy % 12) - 6, (xx % 12) - 6) < 4).astype(float)
    elif k == 2:
        t = ((yy // 3 + xx // 3) % 2).astype(float)
    else:
        t = rng.random((h, w))
    return 60 + 170 * t


def _image(rects, rng) -> np.ndarray:
    rgb = np.full((H, W, 3), 25.0) + rng.normal(0, 3, (H, W, 3))  # dark ocean
    for k, y0, y1, x0, x1 in rects:
        rgb[y0:y1, x0:x1] = _texture(k, y1 - y0, x1 - x0, rng)[..., None]
    return np.clip(rgb, 0, 255).astype(np.uint8)


def _kaggle_folder(root, n: int = 12):
    """``train_images/<id>.jpg`` and ``train.csv``: image i holds a rectangle of class i % 4 (and
    image 1 a second one of class 3)."""
    images = root / "train_images"
    images.mkdir(parents=True)
    rows = []
    for i in range(n):
        rng = np.random.default_rng([5, i])
        k = i % 4
        h, w = int(rng.integers(24, 40)), int(rng.integers(24, 40))
        y0, x0 = int(rng.integers(0, H - h + 1)), int(rng.integers(0, W - w + 1))
        rects = [(k, y0, y0 + h, x0, x0 + w)]
        if i == 1:
            rects.append((3, 0, 16, 0, 16) if y0 >= 16 or x0 >= 16 else (3, H - 16, H, W - 16, W))
        name = f"img{i:02d}.jpg"
        Image.fromarray(_image(rects, rng)).save(images / name, quality=95)
        for c in range(len(CLASSES)):
            mask = np.zeros((H, W), bool)
            for kk, a, b, e, f in rects:
                if kk == c:
                    mask[a:b, e:f] = True
            rows.append({"Image_Label": f"{name}_{CLASSES[c]}", "EncodedPixels": rle_encode(mask) if mask.any() else ""})
    pd.DataFrame(rows).to_csv(root / "train.csv", index=False)
    return images, root / "train.csv"


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    root = tmp_path_factory.mktemp("classifier_data")
    images, csv = _kaggle_folder(root / "kaggle")
    kaggle = build_kaggle_store("demo", images, csv, root / "demo.zarr", {"on_bad_file": "error"})
    expert = root / "expert"
    for k, c in enumerate(CLASSES):
        for j in range(2):
            (expert / c).mkdir(parents=True, exist_ok=True)
            rng = np.random.default_rng([9, k, j])
            Image.fromarray(_image([(k, 0, H, 0, W)], rng)).save(expert / c / f"{c}{j}.jpg", quality=95)
    expert_store = build_expert_store("experts", expert, None, root / "experts.zarr", {"on_bad_file": "error"})
    return {"kaggle": kaggle, "expert": expert_store, "root": root}


@pytest.fixture(scope="module")
def trained(stores):
    root = stores["root"]
    path = train_classifier([stores["kaggle"]], root / "models" / "r18", root / "ckpt" / "r18", CFG, JOB, seed=0)
    return path


@pytest.fixture(scope="module")
def evaluation(stores, trained):
    return evaluate_classifier(trained, [stores["kaggle"]], [stores["expert"]], stores["root"] / "eval" / "r18")


# --------------------------------------------------------------------------------------------
# samples, splits, weights
# --------------------------------------------------------------------------------------------
def test_labelled_squares_take_the_largest_centred_square():
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (40, 60, 3), dtype=np.uint8)
    masks = np.zeros((4, 40, 60), bool)
    masks[1, 5:15, 10:40] = True   # 10 x 30: a 10 px square centred along x
    masks[3, 20:40, 45:52] = True  # 20 x 7: a 7 px square centred along y
    whole = np.zeros((4, 40, 60), bool)
    whole[0] = True  # an expert image: its whole frame
    ds = labelled_squares([Scene("a", rgb, masks=masks), Scene("b", rgb, masks=whole), Scene("c", rgb)], 16)
    assert ds["image"].shape == (3, 16, 16, 3) and ds["image"].dtype == np.uint8
    assert ds["label"].values.tolist() == [1, 3, 0] and ds["label"].dtype == np.int16
    assert ds["scene"].values.tolist() == ["a", "a", "b"] and ds["rectangle"].values.tolist() == [0, 1, 0]
    assert ds["side"].values.tolist() == [10, 7, 40]
    assert ds["y0"].values.tolist() == [5, 26, 0] and ds["x0"].values.tolist() == [20, 45, 10]
    np.testing.assert_array_equal(ds["image"].values[0], resize_tiles(rgb[None, 5:15, 20:30], 16)[0])
    np.testing.assert_array_equal(ds["image"].values[2], resize_tiles(rgb[None, :, 10:50], 16)[0])
    assert labelled_squares([], 16)["image"].shape == (0, 16, 16, 3)


def test_split_images_whole_images_seeded_and_every_split_non_empty():
    ids = [f"d/{i}" for i in range(20)]
    split = split_images(ids, 0.2, 0.1, seed=3)
    assert list(split) == ids
    assert sorted(split.values()).count("val") == 4 and list(split.values()).count("test") == 2
    assert split_images(ids[::-1], 0.2, 0.1, seed=3) == split  # the order of ids does not matter
    assert split_images(ids, 0.2, 0.1, seed=4) != split
    small = split_images(["a", "b", "c"], 0.01, 0.01, seed=0)
    assert sorted(small.values()) == ["test", "train", "val"]
    with pytest.raises(ConfigError, match="at least 3 labelled images, got 2"):
        split_images(["a", "b"], 0.3, 0.3, seed=0)
    with pytest.raises(ConfigError, match="classifier.split"):
        split_images(ids, 0.6, 0.5, seed=0)
    with pytest.raises(ConfigError, match="classifier.split"):
        split_images(ids, 0.0, 0.2, seed=0)


def test_class_weights_are_sklearns_balanced_weights():
    y = np.array([0, 0, 0, 1, 2, 2, 0, 1, 0])  # class 3 absent
    w = class_weights(y)
    present = np.unique(y)
    np.testing.assert_allclose(w[:3], compute_class_weight("balanced", classes=present, y=y))
    assert w[3] == 0.0


# --------------------------------------------------------------------------------------------
# the network
# --------------------------------------------------------------------------------------------
def test_network_layout_and_offline_imagenet_weights():
    torch.manual_seed(0)
    net = build_cloud_classifier("resnet18", "random", "deep", [100, 30, 10], 4, 0.2)
    linear = [m for m in net.head if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linear] == [(512, 100), (100, 30), (30, 10), (10, 4)]
    assert [type(m).__name__ for m in net.head] == ["Linear", "ReLU", "Dropout"] * 3 + ["Linear"]
    assert all(m.p == 0.2 for m in net.head if isinstance(m, nn.Dropout))
    assert not any(k.startswith("normalize") for k in net.state_dict())  # ImageNet statistics: not weights
    assert all(m.momentum == 0.1 for m in net.modules() if isinstance(m, nn.BatchNorm2d))
    with torch.no_grad():
        assert net.eval()(torch.rand(2, 3, S, S)).shape == (2, 4)
    assert net.get_submodule(net.target_layer) is net.base and net.dim == 512
    lite = build_cloud_classifier("efficientnet_lite0", "imagenet", "deep", [], 4, 0.0)  # weights of its package
    assert [type(m).__name__ for m in lite.head] == ["Linear"] and lite.head[0].in_features == 1280
    images = np.random.default_rng(0).integers(0, 256, (2, 64, 64, 3), dtype=np.uint8)
    assert gradcam(lite, images, targets=[0, 3]).shape == (2, 64, 64)  # through its target layer, the base
    assert feature_maps(lite, images[0]).shape == (1280, 2, 2)  # the 1 x 1 head convolution, /32
    # an earlier layer: finer maps on small inputs (stage 5, /16)
    assert feature_maps(lite, images[0], layer="base._blocks.10").shape == (112, 4, 4)
    assert gradcam(lite, images, targets=[0, 3], layer="base._blocks.10").shape == (2, 64, 64)
    with pytest.raises(ConfigError, match="positive integers"):
        build_cloud_classifier("resnet18", "random", "deep", [100, 0], 4, 0.0)
    with pytest.raises(ConfigError, match="dropout"):
        build_cloud_classifier("resnet18", "random", "deep", [8], 4, 1.0)


# --------------------------------------------------------------------------------------------
# training
# --------------------------------------------------------------------------------------------
def _weights(path):
    return load_model_file(path, kind=MODEL_KIND).weights


def _same(a, b) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_training_writes_the_model_file_and_history(trained, stores):
    history = pd.read_csv(trained.parent / "history.csv")
    assert list(history.columns) == HISTORY_COLUMNS and len(history) == 2
    assert np.isfinite(history[["train_loss", "val_loss", "train_acc", "val_acc"]].to_numpy()).all()
    record = load_model_file(trained, kind=MODEL_KIND)
    assert record.arch == {"backbone": "resnet18", "cut": "shallow", "head": [8], "n_classes": 4, "dropout": 0.1,
                           "tile_px": S, "in_channels": 3, "classes": list(CLASSES)}
    s = record.settings
    assert s["job"] == JOB and s["seed"] == 0 and s["config"]["class_balance"] == "weights"
    ids = [sc.id for sc in load_scenes([stores["kaggle"]], labelled_only=True)]
    assert sorted(s["split"]) == sorted(ids) and sorted(set(s["split"].values())) == ["test", "train", "val"]
    assert [v for v in s["split"].values()].count("test") == 3  # round(0.25 * 12)
    train_ids = {i for i, v in s["split"].items() if v == "train"}
    squares = labelled_squares(load_scenes([stores["kaggle"]], labelled_only=True), S)
    train_labels = squares["label"].values[[sc in train_ids for sc in squares["scene"].values]]
    assert s["class_counts"]["train"] == {c: int((train_labels == k).sum()) for k, c in enumerate(CLASSES)}
    assert s["class_weights"] == pytest.approx(class_weights(train_labels))
    net, _ = load_classifier(trained, device="cpu")
    assert _same(net.state_dict(), record.weights)
    other = save_model_file(stores["root"] / "other.pt", kind="clouds.tile2vec", weights={}, arch={})
    with pytest.raises(InputFileError, match="other.pt"):
        load_classifier(other)


def test_resume_after_a_kill_equals_the_uninterrupted_run_and_runs_are_deterministic(trained, stores, tmp_path,
                                                                                       monkeypatch):
    start = ClassificationTask.on_train_epoch_start

    def crash(self):
        if self.current_epoch == 1:
            raise RuntimeError("simulated kill")
        start(self)

    monkeypatch.setattr(ClassificationTask, "on_train_epoch_start", crash)
    with pytest.raises(RuntimeError, match="simulated kill"):
        train_classifier([stores["kaggle"]], tmp_path / "out", tmp_path / "ckpt", CFG, JOB, seed=0)
    monkeypatch.undo()
    assert torch.load(tmp_path / "ckpt" / "last.ckpt", weights_only=False)["epoch"] == 0
    resumed = train_classifier([stores["kaggle"]], tmp_path / "out", tmp_path / "ckpt", CFG, JOB, seed=0)
    assert _same(_weights(resumed), _weights(trained))
    pd.testing.assert_frame_equal(pd.read_csv(resumed.parent / "history.csv"),
                                  pd.read_csv(trained.parent / "history.csv"))
    # a second uninterrupted run from scratch: bitwise the same weights on the CPU
    again = train_classifier([stores["kaggle"]], tmp_path / "again", tmp_path / "ckpt_again", CFG, JOB, seed=0)
    assert _same(_weights(again), _weights(trained))


@pytest.mark.parametrize(("cfg", "job", "match"), [
    ({**CFG, "class_balance": "oversample"}, JOB, "class_balance"),
    ({k: v for k, v in CFG.items() if k != "augment"}, JOB, "augment"),
    ({**CFG, "training": {k: v for k, v in TRAINING.items() if k != "mixed_precision"}}, JOB, "mixed_precision"),
    (CFG, {**JOB, "backbone": "alexnet"}, "backbone"),
    (CFG, {**JOB, "head": "100-30-10"}, "head"),
    ({**CFG, "input_px": 16}, JOB, "input_px 16"),
])
def test_bad_settings_fail_before_training(cfg, job, match, stores, tmp_path):
    with pytest.raises(ConfigError, match=match):
        train_classifier([stores["kaggle"]], tmp_path / "out", tmp_path / "ckpt", cfg, job, seed=0)
    assert not (tmp_path / "ckpt").exists()


# --------------------------------------------------------------------------------------------
# evaluation
# --------------------------------------------------------------------------------------------
def test_evaluation_scores_equal_sklearns(evaluation, trained):
    pred = pd.read_csv(evaluation / "predictions.csv")
    scores = pd.read_csv(evaluation / "scores.csv")
    confusion = pd.read_csv(evaluation / "confusion.csv")
    assert list(pred.columns) == PREDICTION_COLUMNS and list(scores.columns) == SCORE_COLUMNS
    assert sorted(pred["evaluated_on"].unique()) == ["demo/test", "experts"]
    split = load_model_file(trained).settings["split"]
    kaggle = pred[pred["evaluated_on"] == "demo/test"]
    assert set(kaggle["scene"]) == {i for i, v in split.items() if v == "test"}  # the test images only
    assert len(pred[pred["evaluated_on"] == "experts"]) == 8  # every expert image
    np.testing.assert_allclose(pred[[f"p_{c}" for c in CLASSES]].sum(axis=1), 1.0, atol=1e-5)
    assert (pred["predicted"] == pred[[f"p_{c}" for c in CLASSES]].idxmax(axis=1).str[2:]).all()
    labels = list(CLASSES)
    for evaluated_on, group in pred.groupby("evaluated_on"):
        p, r, f, n = precision_recall_fscore_support(group["label"], group["predicted"], labels=labels,
                                                     zero_division=0)
        mine = scores[scores["evaluated_on"] == evaluated_on].set_index("class")
        np.testing.assert_allclose(mine.loc[labels, "precision"], p, atol=1e-6)
        np.testing.assert_allclose(mine.loc[labels, "recall"], r, atol=1e-6)
        np.testing.assert_allclose(mine.loc[labels, "f1"], f, atol=1e-6)
        assert mine.loc[labels, "support"].tolist() == n.tolist()
        macro = precision_recall_fscore_support(group["label"], group["predicted"], labels=labels, average="macro",
                                                zero_division=0)
        np.testing.assert_allclose(mine.loc["macro", ["precision", "recall", "f1"]].to_numpy(float), macro[:3],
                                   atol=1e-6)
        assert mine.loc["accuracy", "f1"] == pytest.approx((group["label"] == group["predicted"]).mean(), abs=1e-6)
        assert mine.loc["accuracy", "support"] == len(group) and np.isnan(mine.loc["accuracy", "precision"])
        cm = confusion[confusion["evaluated_on"] == evaluated_on].pivot(index="true", columns="predicted",
                                                                        values="count")
        np.testing.assert_array_equal(cm.loc[labels, labels].to_numpy(),
                                      confusion_matrix(group["label"], group["predicted"], labels=labels))
    assert json.loads((evaluation / "job.json").read_text()) == JOB


def test_evaluation_refuses_a_store_the_model_never_saw(trained, stores, tmp_path):
    foreign = build_expert_store("demo", stores["root"] / "expert", None, tmp_path / "foreign.zarr",
                                 {"on_bad_file": "error"})
    with pytest.raises(InputFileError, match="foreign.zarr"):
        evaluate_classifier(trained, [foreign], [], tmp_path / "eval")


def test_collect_adds_the_job_columns(evaluation, tmp_path):
    from eoml.core.cli import main

    out = tmp_path / "classifier.csv"
    assert main(["clouds", "classifier-collect", "--evals", str(evaluation), "--output", str(out)]) == 0
    table = pd.read_csv(out, keep_default_na=False, na_values=[""])
    assert list(table.columns) == ["model", "backbone", "weights", "head", *SCORE_COLUMNS[1:]]
    assert set(table["head"].astype(str)) == {"8"} and set(table["backbone"]) == {"resnet18"}
    pd.testing.assert_frame_equal(table[SCORE_COLUMNS], pd.read_csv(evaluation / "scores.csv"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputFileError, match="scores.csv"):
        collect_classifier([tmp_path / "empty"], tmp_path / "x.csv")


# --------------------------------------------------------------------------------------------
# Grad-CAM and feature maps
# --------------------------------------------------------------------------------------------
GH, GW, SIDE = 32, 48, 8  # a non-square input catches a swapped (H, W) resize


def _square_images(n: int, rng: np.random.Generator, positive: np.ndarray):
    """uint8 noise images; the positive ones hold a bright SIDE x SIDE square at a random place."""
    x = rng.normal(90, 25, size=(n, GH, GW, 1)).repeat(3, axis=-1)
    boxes = np.zeros((n, 4), dtype=int)
    for i in np.flatnonzero(positive):
        r, c = rng.integers(0, GH - SIDE), rng.integers(0, GW - SIDE)
        x[i, r:r + SIDE, c:c + SIDE] = 250
        boxes[i] = (r, r + SIDE, c, c + SIDE)
    return np.clip(x, 0, 255).astype(np.uint8), boxes


@pytest.fixture(scope="module")
def square_detector():
    """A random ResNet-18 (shallow) classifier trained for seconds on "bright square or none"."""
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    net = build_cloud_classifier("resnet18", "random", "shallow", [8], 2, 0.0)
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    net.train()
    for _ in range(60):
        y = rng.integers(0, 2, 16)
        images, _ = _square_images(16, rng, y.astype(bool))
        x = torch.from_numpy(images.transpose(0, 3, 1, 2).copy()).float() / 255
        loss = nn.functional.cross_entropy(net(x), torch.from_numpy(y))
        opt.zero_grad()
        loss.backward()
        opt.step()
    net.eval()
    y = np.array([1] * 12 + [0] * 12)
    images, boxes = _square_images(y.size, np.random.default_rng(1), y.astype(bool))
    with torch.no_grad():
        x = torch.from_numpy(images.transpose(0, 3, 1, 2).copy()).float() / 255
        acc = float((net(x).argmax(1).numpy() == y).mean())
    assert acc >= 0.9, f"the test classifier did not learn the square (accuracy {acc})"
    return net, images, boxes


def test_gradcam_has_the_input_shape_and_peaks_on_the_square(square_detector):
    net, images, boxes = square_detector
    maps = gradcam(net, images[:12], targets=[1] * 12)
    assert maps.shape == (12, GH, GW) and maps.dtype == np.float32
    assert maps.min() >= 0.0 and maps.max() <= 1.0
    hits, ratios = 0, []
    for m, (r0, r1, c0, c1) in zip(maps, boxes[:12], strict=True):
        inside = np.zeros((GH, GW), bool)
        inside[r0:r1, c0:c1] = True
        r, c = np.unravel_index(np.argmax(m), m.shape)
        hits += bool(r0 - 2 <= r < r1 + 2 and c0 - 2 <= c < c1 + 2)  # within the map's resize blur
        ratios.append(m[inside].mean() / max(m[~inside].mean(), 1e-6))
    assert hits >= 11, f"the map peaked on the square in only {hits} of 12 images"
    assert np.median(ratios) > 2.0, ratios
    assert gradcam(net, images[:3]).shape == (3, GH, GW)  # the predicted class by default


def test_feature_maps_of_the_last_convolutional_layer(square_detector):
    net, images, _ = square_detector
    maps = feature_maps(net, images[0])
    assert maps.shape == (64, GH // 4, GW // 4) and maps.dtype == np.float32  # ResNet-18 layer1: 64 ch, /4
    assert maps.min() >= 0.0  # after the block's ReLU
    with paper_style():
        fig, axes = gradcam_panel_figure(net, images[:2], [1, 1], invert_dark=0.2)
        plt.close(fig)
        assert axes.shape == (3, 2) and axes[2, 0].get_ylabel() == "inverted where\nluminance < 0.2"
        fig, axes = gradcam_panel_figure(net, images[:2], [1, 1], invert_dark=None)
        plt.close(fig)
    assert axes.shape == (2, 2)


# --------------------------------------------------------------------------------------------
# figures
# --------------------------------------------------------------------------------------------
def test_classifier_figures_write_every_named_figure(trained, evaluation, stores, tmp_path):
    paths = classifier_figures([trained], [evaluation], [stores["kaggle"]], tmp_path, invert_dark=0.15,
                               n_feature_maps=4)
    names = sorted(p.name for p in paths)
    stems = ["classifier_confusion", "classifier_scores", "feature_maps_r18", "gradcam_r18"]
    assert names == sorted(f"{s}.{ext}" for s in stems for ext in ("png", "svg"))
    assert all(p.stat().st_size > 2000 for p in paths)
