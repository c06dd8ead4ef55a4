"""core.tasks: each loss against a hand computation, ignore index / masks, triplet margin, training."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import Dataset

from eoml.core.metrics import segmentation_scores
from eoml.core.tasks import (
    BinarySegmentationTask,
    ClassificationTask,
    MaskedRegressionTask,
    SegmentationTask,
    TripletTask,
    triplet_margin_loss,
)
from eoml.core.training import DataModule, run_training

pytestmark = pytest.mark.usefixtures("torch_one_thread")

OPT = {"learning_rate": 1e-2, "lr_factor": 0.5, "lr_patience": 2, "min_lr": 1e-6}
TRAINING = {"max_epochs": 2, "batch_size": 4, "early_stopping_patience": 5, **OPT}


def _log_softmax(row):
    m = max(row)
    lse = m + math.log(sum(math.exp(v - m) for v in row))
    return [v - lse for v in row]


# --------------------------------------------------------------------------------------------
# classification
# --------------------------------------------------------------------------------------------
LOGITS = [[2.0, -1.0, 0.5], [0.1, 0.2, 0.3], [-1.0, 3.0, 0.0]]
TARGETS = [0, 2, 2]


def test_classification_loss_by_hand():
    task = ClassificationTask(nn.Identity(), 3, **OPT)
    loss = task.compute_loss({"x": torch.tensor(LOGITS), "y": torch.tensor(TARGETS)})
    nll = [-_log_softmax(r)[t] for r, t in zip(LOGITS, TARGETS)]
    assert loss.item() == pytest.approx(sum(nll) / 3, rel=1e-6)
    # a tuple batch is the same batch
    assert task.compute_loss((torch.tensor(LOGITS), torch.tensor(TARGETS))).item() == loss.item()


def test_classification_class_weights_and_label_smoothing_by_hand():
    w = [1.0, 0.5, 3.0]
    task = ClassificationTask(nn.Identity(), 3, class_weights=w, **OPT)
    loss = task.compute_loss((torch.tensor(LOGITS), torch.tensor(TARGETS)))
    nll = [-_log_softmax(r)[t] for r, t in zip(LOGITS, TARGETS)]
    expected = sum(w[t] * v for t, v in zip(TARGETS, nll)) / sum(w[t] for t in TARGETS)
    assert loss.item() == pytest.approx(expected, rel=1e-6)

    eps = 0.1
    task = ClassificationTask(nn.Identity(), 3, label_smoothing=eps, **OPT)
    loss = task.compute_loss((torch.tensor(LOGITS), torch.tensor(TARGETS)))
    # smoothed target: (1 - eps) on the class, eps / K spread over all K classes
    per = [-(1 - eps) * _log_softmax(r)[t] - eps / 3 * sum(_log_softmax(r)) for r, t in zip(LOGITS, TARGETS)]
    assert loss.item() == pytest.approx(sum(per) / 3, rel=1e-6)


def test_classification_bad_settings():
    with pytest.raises(ValueError, match="class_weights"):
        ClassificationTask(nn.Identity(), 3, class_weights=[1.0, 2.0], **OPT)
    with pytest.raises(ValueError, match="num_classes"):
        ClassificationTask(nn.Identity(), 1, **OPT)
    task = ClassificationTask(nn.Identity(), 3, **OPT)
    with pytest.raises(KeyError, match="'y'"):
        task.compute_loss({"x": torch.tensor(LOGITS)})


# --------------------------------------------------------------------------------------------
# segmentation
# --------------------------------------------------------------------------------------------
def _seg_batch():
    logits = torch.tensor([[[[2.0, 0.0], [1.0, -3.0]], [[-1.0, 0.5], [1.0, 2.0]]]])  # (1, 2, 2, 2)
    y = torch.tensor([[[0, 255], [1, 1]]])
    return logits, y


def test_segmentation_loss_by_hand_and_ignore_index():
    task = SegmentationTask(nn.Identity(), 2, ignore_index=255, **OPT)
    logits, y = _seg_batch()
    logits.requires_grad_(True)
    loss = task.compute_loss({"x": logits, "y": y})
    pix = {(0, 0): 0, (1, 0): 1, (1, 1): 1}  # the three pixels that are not ignored
    nll = [-_log_softmax([logits[0, 0, i, j].item(), logits[0, 1, i, j].item()])[c] for (i, j), c in pix.items()]
    assert loss.item() == pytest.approx(sum(nll) / 3, rel=1e-6)
    # the ignored pixel gets no gradient, and its logits do not change the loss
    loss.backward()
    assert torch.all(logits.grad[0, :, 0, 1] == 0) and torch.all(logits.grad[0, :, 1, 1] != 0)
    other = logits.detach().clone()
    other[0, :, 0, 1] = torch.tensor([50.0, -50.0])
    assert task.compute_loss({"x": other, "y": y}).item() == loss.item()


def test_segmentation_all_ignored_batch_is_zero_not_nan():
    task = SegmentationTask(nn.Conv2d(3, 2, 1), 2, ignore_index=255, **OPT)
    x = torch.randn(2, 3, 4, 4)
    loss = task.compute_loss({"x": x, "y": torch.full((2, 4, 4), 255)})
    assert loss.item() == 0.0
    loss.backward()
    assert all(torch.all(p.grad == 0) for p in task.model.parameters())


def test_segmentation_matches_torch_cross_entropy_bitwise():
    # the loss studies relied on before the core task: nn.CrossEntropyLoss(ignore_index=255)
    torch.manual_seed(0)
    logits = torch.randn(3, 4, 8, 8)
    y = torch.randint(0, 4, (3, 8, 8))
    y[torch.rand(3, 8, 8) < 0.3] = 255
    task = SegmentationTask(nn.Identity(), 4, ignore_index=255, **OPT)
    assert torch.equal(task.compute_loss({"x": logits, "y": y}),
                       nn.CrossEntropyLoss(ignore_index=255)(logits, y))


# --------------------------------------------------------------------------------------------
# masked regression
# --------------------------------------------------------------------------------------------
def test_binary_segmentation_loss_by_hand_with_class_weights_and_activations():
    z = torch.tensor([[[2.0, -1.0], [0.0, 2.5]]])
    y = torch.tensor([[[1.0, 0.0], [1.0, 0.0]]])
    task = BinarySegmentationTask(nn.Identity(), class_weights=(0.5, 3.0), **OPT)
    w = [3.0, 0.5, 3.0, 0.5]
    bce = []
    for zi, yi in zip(z.flatten().tolist(), y.flatten().tolist()):
        p = 1 / (1 + math.exp(-zi))
        bce.append(-(yi * math.log(p) + (1 - yi) * math.log(1 - p)))
    # Keras' class_weight: the mean over pixels of the weighted losses (weights not renormalised)
    assert task.compute_loss({"x": z, "y": y}).item() == pytest.approx(sum(a * b for a, b in zip(w, bce)) / 4, rel=1e-6)
    hard = BinarySegmentationTask(nn.Identity(), activation="hard_sigmoid", **OPT)
    p = [min(max(v + 3, 0), 6) / 6 for v in z.flatten().tolist()]  # relu6(z + 3) / 6
    ref = [-(yi * math.log(pi) + (1 - yi) * math.log(1 - pi)) for pi, yi in zip(p, y.flatten().tolist())]
    assert hard.compute_loss({"x": z, "y": y}).item() == pytest.approx(sum(ref) / 4, rel=1e-6)
    assert torch.allclose(hard.probabilities(z), torch.tensor(p).reshape(z.shape))
    with pytest.raises(ValueError, match="activation"):
        BinarySegmentationTask(nn.Identity(), activation="relu", **OPT)
    with pytest.raises(ValueError, match="two weights"):
        BinarySegmentationTask(nn.Identity(), class_weights=(1.0,), **OPT)


def test_binary_segmentation_trains_and_logs_its_metrics(tmp_path):
    torch.manual_seed(0)
    x = torch.randn(16, 1, 6, 6)
    data = [{"x": x[i], "y": (x[i, 0] > 0.3).float()} for i in range(16)]
    task = BinarySegmentationTask(nn.Conv2d(1, 1, 1), **{**OPT, "learning_rate": 0.3})
    result = run_training(task, DataModule(data[:12], data[12:], batch_size=4, seed=0), run_dir=tmp_path / "run",
                          ckpt_dir=tmp_path / "ckpt", training_cfg={**TRAINING, "max_epochs": 10}, seed=0,
                          history_columns=task.metric_names)
    assert {"val_acc", "val_f1", "val_iou", "val_auc_pr"} <= set(result.history.columns)
    h = result.history
    assert h["val_loss"].iloc[-1] < h["val_loss"].iloc[0]
    assert h["val_auc_pr"].iloc[-1] > 0.9  # a threshold on x is learnable exactly


def test_masked_regression_ignores_masked_and_nan_targets():
    pred = torch.tensor([[1.0, 2.0, 1000.0], [4.0, -7.0, 0.5]])
    y = torch.tensor([[1.5, float("nan"), 0.0], [2.0, 3.0, 0.5]])
    mask = torch.tensor([[True, True, False], [True, True, True]])  # (0, 2) masked out
    task = MaskedRegressionTask(nn.Identity(), **OPT)
    loss = task.compute_loss({"x": pred, "y": y, "mask": mask})
    used = [(1.0, 1.5), (4.0, 2.0), (-7.0, 3.0), (0.5, 0.5)]  # (0, 1) NaN target, (0, 2) masked
    assert loss.item() == pytest.approx(sum((p - t) ** 2 for p, t in used) / 4, rel=1e-6)
    # the masked pixel's prediction does not matter; without the mask it would
    other = pred.clone()
    other[0, 2] = -1e6
    assert task.compute_loss((other, y, mask)).item() == loss.item()
    assert task.compute_loss((pred, y)).item() > loss.item() * 10
    mae = MaskedRegressionTask(nn.Identity(), criterion="mae", **OPT)
    assert mae.compute_loss((pred, y, mask)).item() == pytest.approx(
        sum(abs(p - t) for p, t in used) / 4, rel=1e-6)


def test_masked_regression_gradients_and_empty_batch():
    pred = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = torch.tensor([0.0, float("nan"), 1.0])
    task = MaskedRegressionTask(nn.Identity(), **OPT)
    task.compute_loss((pred, y)).backward()
    np.testing.assert_allclose(pred.grad.numpy(), [1.0, 0.0, 2.0])  # d/dp mean((p - t)^2) over 2
    loss = task.compute_loss((pred, torch.full((3,), float("nan"))))
    assert loss.item() == 0.0
    with pytest.raises(ValueError, match="criterion"):
        MaskedRegressionTask(nn.Identity(), criterion="huber", **OPT)


# --------------------------------------------------------------------------------------------
# triplets
# --------------------------------------------------------------------------------------------
def test_triplet_loss_by_hand_and_l2_penalty():
    a = torch.tensor([[0.0, 0.0], [1.0, 1.0]])
    n = torch.tensor([[1.0, 0.0], [1.0, 2.0]])
    d = torch.tensor([[0.0, 1.5], [1.0, 1.5]])
    # squared distances: neighbour 1, 1; distant 2.25, 0.25
    assert triplet_margin_loss(a, n, d, margin=0.5).item() == pytest.approx(
        (max(0, 1 - 2.25 + 0.5) + max(0, 1 - 0.25 + 0.5)) / 2)
    norms = [0 + 1 + 1.5, math.sqrt(2) + math.sqrt(5) + math.sqrt(3.25)]
    assert triplet_margin_loss(a, n, d, margin=0.5, l2=0.1).item() == pytest.approx(
        (0 + 1.25) / 2 + 0.1 * sum(norms) / 2, rel=1e-6)
    # through the task (identity embedding): the same number
    task = TripletTask(nn.Identity(), margin=0.5, **OPT)
    assert task.compute_loss({"anchor": a, "neighbour": n, "distant": d}).item() == pytest.approx(0.625)


def test_triplet_loss_zero_when_margin_met():
    a = torch.zeros(3, 4, requires_grad=True)
    n = torch.full((3, 4), 0.1)
    d = torch.full((3, 4), 2.0)  # ||a-n||² = 0.04, ||a-d||² = 16: margin 1 met
    loss = triplet_margin_loss(a, n, d, margin=1.0)
    assert loss.item() == 0.0
    loss.backward()
    assert torch.all(a.grad == 0)
    assert triplet_margin_loss(a, n, d, margin=20.0).item() > 0
    with pytest.raises(ValueError, match="margin"):
        TripletTask(nn.Identity(), margin=-1.0, **OPT)


# --------------------------------------------------------------------------------------------
# training through core.training
# --------------------------------------------------------------------------------------------
class _Tiny(Dataset):
    """Learnable toy samples: the class is the sign of the first channel."""

    def __init__(self, kind: str, n: int, seed: int):
        g = torch.Generator().manual_seed(seed)
        self.kind = kind
        self.x = torch.randn(n, 2, 4, 4, generator=g)
        self.cls = (self.x[:, 0] > 0).long()  # (n, 4, 4)
        self.cls[:, 0, 0] = 255  # an ignored pixel per image
        self.other = torch.randn(n, 2, 4, 4, generator=g)

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        x = self.x[i]
        if self.kind == "segmentation":
            return {"x": x, "y": self.cls[i]}
        if self.kind == "classification":
            return {"x": x, "y": (x[0].mean() > 0).long()}
        if self.kind == "regression":
            y = x[0].clone()
            y[0] = float("nan")
            return {"x": x, "y": y, "mask": torch.arange(4)[None, :].expand(4, 4) < 3}
        return {"anchor": x, "neighbour": x + 0.1 * self.other[i], "distant": self.other[i]}


def _model(kind: str) -> nn.Module:
    if kind == "segmentation":
        return nn.Conv2d(2, 2, 1)
    if kind == "classification":
        return nn.Sequential(nn.Conv2d(2, 4, 1), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 2))
    if kind == "regression":
        return nn.Conv2d(2, 1, 1)
    return nn.Sequential(nn.Conv2d(2, 4, 3), nn.Flatten())


def _task(kind: str, model: nn.Module):
    if kind == "segmentation":
        return SegmentationTask(model, 2, ignore_index=255, **OPT)
    if kind == "classification":
        return ClassificationTask(model, 2, **OPT)
    if kind == "regression":
        return MaskedRegressionTask(model, **OPT)
    return TripletTask(model, margin=1.0, l2=0.01, **OPT)


@pytest.mark.parametrize("kind", ["segmentation", "classification", "regression", "triplet"])
def test_tasks_train_and_log_epoch_metrics(kind, tmp_path):
    torch.manual_seed(0)
    task = _task(kind, _model(kind))
    data = DataModule(_Tiny(kind, 12, 1), _Tiny(kind, 8, 2), batch_size=4, seed=0)
    result = run_training(task, data, run_dir=tmp_path / "run", ckpt_dir=tmp_path / "ckpt",
                          training_cfg=TRAINING, seed=0, history_columns=task.metric_names)
    history = result.history
    assert len(history) == 2 and list(history.columns[-len(task.metric_names):]) == task.metric_names
    assert np.isfinite(history[["train_loss", "val_loss", *task.metric_names]].to_numpy()).all()
    if kind == "segmentation":
        # the logged validation scores of the best epoch are those of the kept weights, ignore respected
        val = _Tiny(kind, 8, 2)
        with torch.no_grad():
            pred = task.model(val.x).argmax(1).numpy()
        scores = segmentation_scores(val.cls.numpy(), pred, labels=(0, 1), ignore=255)
        row = history.set_index("epoch").loc[result.best_epoch]
        assert row["val_iou"] == pytest.approx(scores["iou_macro"], abs=1e-6)
        assert row["val_acc"] == pytest.approx(np.trace(scores["counts"]) / scores["n_pixels"], abs=1e-6)
        f1_macro = float(np.mean(scores["f1_per_class"]))
        assert row["val_f1"] == pytest.approx(f1_macro, abs=1e-6)
    # the metrics do not enter the checkpoints: the saved state is the model's (and the loss's)
    assert all(k.startswith(("model.", "loss.")) for k in task.state_dict())


def test_triplet_distance_option_squared_default_and_euclidean_by_hand():
    from eoml.core.tasks import triplet_distance

    a = torch.tensor([[0.0, 0.0], [1.0, 1.0]])
    n = torch.tensor([[3.0, 4.0], [1.0, 2.0]])
    d = torch.tensor([[0.0, 6.0], [1.0, 1.5]])
    # Euclidean distances: neighbour 5, 1; distant 6, 0.5; squared: 25, 1; 36, 0.25
    assert triplet_distance(a, n, "euclidean").tolist() == pytest.approx([5.0, 1.0])
    assert triplet_margin_loss(a, n, d, margin=0.5, distance="euclidean").item() == pytest.approx(
        (max(0, 5 - 6 + 0.5) + max(0, 1 - 0.5 + 0.5)) / 2)
    squared = (max(0, 25 - 36 + 0.5) + max(0, 1 - 0.25 + 0.5)) / 2
    assert triplet_margin_loss(a, n, d, margin=0.5, distance="squared").item() == pytest.approx(squared)
    # the default is the squared distance, bit for bit
    assert torch.equal(triplet_margin_loss(a, n, d, margin=0.5, l2=0.1),
                       triplet_margin_loss(a, n, d, margin=0.5, l2=0.1, distance="squared"))
    task = TripletTask(nn.Identity(), margin=0.5, distance="euclidean", **OPT)
    assert task.compute_loss((a, n, d)).item() == pytest.approx(0.5)
    assert TripletTask(nn.Identity(), margin=0.5, **OPT).distance == "squared"
    # an anchor equal to its neighbour: finite (zero) gradient of the Euclidean distance
    z = torch.ones(2, 3, requires_grad=True)
    triplet_margin_loss(z, z.detach().clone(), torch.zeros(2, 3), margin=5.0, distance="euclidean").backward()
    assert torch.isfinite(z.grad).all()
    with pytest.raises(ValueError, match="distance"):
        triplet_margin_loss(a, n, d, distance="cosine")
    with pytest.raises(ValueError, match="distance"):
        TripletTask(nn.Identity(), distance="manhattan", **OPT)


def test_triplet_task_logs_euclidean_distances(tmp_path):
    torch.manual_seed(0)
    task = TripletTask(_model("triplet"), margin=1.0, distance="euclidean", **OPT)
    data = DataModule(_Tiny("triplet", 12, 1), _Tiny("triplet", 8, 2), batch_size=4, seed=0)
    result = run_training(task, data, run_dir=tmp_path / "run", ckpt_dir=tmp_path / "ckpt",
                          training_cfg=TRAINING, seed=0, history_columns=task.metric_names)
    val = _Tiny("triplet", 8, 2)
    with torch.no_grad():
        z_a, z_n = task.embed(val.x), task.embed(val.x + 0.1 * val.other)
    row = result.history.set_index("epoch").loc[result.best_epoch]
    assert row["val_dist_neighbour"] == pytest.approx((z_a - z_n).norm(dim=1).mean().item(), rel=1e-5)
