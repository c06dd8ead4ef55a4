"""Learning tasks of the image-learning kit: classification, segmentation, masked regression and
triplet embeddings, on :class:`eoml.core.training.BaseTask` and torchmetrics.

Every task wraps a plain ``nn.Module`` (``task.model``) and inherits from
:class:`~eoml.core.training.BaseTask` the optimiser (Adam by default, or SGD with momentum, AdamW,
NAdam, Adamax: its ``optimizer`` / ``momentum`` / ``weight_decay`` keywords; ``ReduceLROnPlateau``
on ``val_loss``),
the per-epoch ``train_loss`` / ``val_loss`` / ``lr`` logging and :meth:`~eoml.core.training.
BaseTask.from_config`; a task adds its loss (:meth:`compute_loss`) and epoch-level metrics computed
with torchmetrics, logged as ``train_<name>`` during training and ``val_<name>`` during validation
(``task.metric_names`` lists them, e.g. for the ``history_columns`` of
:func:`eoml.core.training.run_training`).

Batches (a mapping, or the same tensors as a sequence in this order) and epoch metrics:

* :class:`ClassificationTask` — ``{"x": (B, ...), "y": (B,) int64}``; ``acc`` (micro), ``f1``
  (macro).
* :class:`SegmentationTask` — ``{"x": (B, C, H, W), "y": (B, H, W) int64}``; ``acc`` (pixel
  accuracy), ``iou`` and ``f1`` (macro), ignored pixels left out.
* :class:`BinarySegmentationTask` — ``{"x": inputs, "y": (B, H, W) float 0 / 1}``; ``acc``,
  ``f1``, ``iou`` (positive class, at probability 0.5) and ``val_auc_pr`` (average precision,
  validation only).
* :class:`MaskedRegressionTask` — ``{"x", "y": float, "mask": bool (optional)}``; ``mse``, ``mae``
  over the counted elements.
* :class:`TripletTask` — ``{"anchor", "neighbour", "distant"}`` tiles ``(B, C, H, W)`` each;
  ``dist_neighbour``, ``dist_distant`` (mean distances of the loss: squared by default, or
  Euclidean), ``satisfied`` (fraction of triplets meeting the margin).

Metrics never touch the loss, the gradients or a random number generator: a task trains exactly
as its loss alone would. They are updated only in ``training_step`` / ``validation_step`` (a
task used directly, e.g. ``task.compute_loss(batch)`` in a test, computes the loss only). Their
states are not saved in the checkpoints (torchmetrics states are not persistent), so adding a
metric does not change a checkpoint's weights or break the resume of an older one.

torchmetrics counts classes with an ``N × K²`` comparison instead of :func:`torch.bincount` while
torch's deterministic algorithms are on (they are during training, see
:func:`eoml.core.training.seed_everything`); counting integers is exact either way, so the
updates run with the native ``bincount`` (bounded memory on whole-scene batches).

References: Jean et al. (2019) "Tile2Vec: unsupervised representation learning for spatially
distributed data", AAAI (the triplet loss); the torchmetrics documentation (metric definitions).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torchmetrics import (
    MeanAbsoluteError,
    MeanMetric,
    MeanSquaredError,
    MetricCollection,
)
from torchmetrics.classification import (
    BinaryAccuracy,
    BinaryAveragePrecision,
    BinaryF1Score,
    BinaryJaccardIndex,
    MulticlassAccuracy,
    MulticlassF1Score,
    MulticlassJaccardIndex,
)

from eoml.core.training import BaseTask

__all__ = [
    "BINARY_ACTIVATIONS",
    "TRIPLET_DISTANCES",
    "BinarySegmentationTask",
    "ClassificationTask",
    "MaskedRegressionTask",
    "SegmentationTask",
    "TripletTask",
    "masked_regression_loss",
    "triplet_distance",
    "triplet_margin_loss",
]


# --------------------------------------------------------------------------------------------
# batches
# --------------------------------------------------------------------------------------------
def _unpack(batch, keys: Sequence[str], n_required: int, task: str) -> list:
    """The batch's tensors in ``keys`` order (missing optional ones are ``None``)."""
    if isinstance(batch, Mapping):
        missing = [k for k in keys[:n_required] if k not in batch]
        if missing:
            raise KeyError(f"{task}: batch lacks {', '.join(map(repr, missing))} (keys: {sorted(batch)})")
        return [batch.get(k) for k in keys]
    if isinstance(batch, (list, tuple)) and n_required <= len(batch) <= len(keys):
        return [*batch, *[None] * (len(keys) - len(batch))]
    raise TypeError(f"{task}: a batch is a mapping with keys {list(keys)} or a sequence of "
                    f"{n_required} to {len(keys)} tensors in that order, not {type(batch).__name__}")


@contextlib.contextmanager
def _native_bincount() -> Iterator[None]:
    """Switch torch's deterministic algorithms off while torchmetrics counts (exact integers)."""
    if not torch.are_deterministic_algorithms_enabled():
        yield
        return
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    torch.use_deterministic_algorithms(False)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(True, warn_only=warn_only)


# --------------------------------------------------------------------------------------------
# base: epoch metrics
# --------------------------------------------------------------------------------------------
class _ScoredTask(BaseTask):
    """A task with torchmetrics epoch metrics, one copy for training and one for validation.

    ``compute_loss`` updates the metrics of the running stage (set by ``training_step`` /
    ``validation_step``); called outside them it computes the loss only.
    """

    _stage: str | None = None

    def _init_metrics(self, metrics: Mapping[str, nn.Module]) -> None:
        # no compute groups: metrics are updated one by one where their inputs differ
        collection = MetricCollection(dict(metrics), compute_groups=False)
        self._metric_keys = list(metrics)
        self.train_metrics = collection.clone(prefix="train_")
        self.val_metrics = collection.clone(prefix="val_")

    @property
    def metric_names(self) -> list[str]:
        """Names of the logged epoch metrics: ``train_<name>`` then ``val_<name>``."""
        return [f"{stage}_{k}" for stage in ("train", "val") for k in self._metric_keys]

    def _stage_metrics(self) -> MetricCollection | None:
        return {"train": self.train_metrics, "val": self.val_metrics}.get(self._stage)

    def _log_metrics(self, *update_args: torch.Tensor) -> None:
        metrics = self._stage_metrics()
        if metrics is None:
            return
        with torch.no_grad(), _native_bincount():
            metrics.update(*update_args)
        self.log_dict(metrics, on_step=False, on_epoch=True)

    def training_step(self, batch, batch_idx):
        self._stage = "train"
        try:
            return super().training_step(batch, batch_idx)
        finally:
            self._stage = None

    def validation_step(self, batch, batch_idx):
        self._stage = "val"
        try:
            return super().validation_step(batch, batch_idx)
        finally:
            self._stage = None


# --------------------------------------------------------------------------------------------
# classification and segmentation
# --------------------------------------------------------------------------------------------
class ClassificationTask(_ScoredTask):
    """Cross-entropy classification of whole samples.

    Batch: ``{"x": inputs (B, ...), "y": class indices (B,) int64}`` or ``(x, y)``; the model maps
    ``x`` to logits ``(B, num_classes)``. Loss: :class:`torch.nn.CrossEntropyLoss` (mean over the
    batch) with optional ``class_weights`` (one per class; the mean is then weighted, as in torch),
    ``label_smoothing`` and ``ignore_index`` (targets equal to it add nothing to the loss or the
    metrics; a batch holding only such targets has loss 0 and zero gradients). ``loss`` replaces
    the criterion altogether. Logs ``acc`` (micro accuracy) and ``f1`` (macro F1) per epoch.
    Optimiser keywords (``learning_rate`` ...) go to :class:`~eoml.core.training.BaseTask`.
    """

    _average_metrics: tuple[tuple[str, type], ...] = (("f1", MulticlassF1Score),)

    def __init__(
        self,
        model: nn.Module,
        num_classes: int,
        *,
        class_weights: Sequence[float] | None = None,
        label_smoothing: float = 0.0,
        ignore_index: int | None = None,
        loss: nn.Module | None = None,
        **kwargs,
    ):
        if int(num_classes) < 2:
            raise ValueError(f"num_classes must be at least 2, got {num_classes}")
        if class_weights is not None and len(class_weights) != int(num_classes):
            raise ValueError(f"class_weights has {len(class_weights)} values for {num_classes} classes")
        if loss is None:
            weight = None if class_weights is None else torch.as_tensor(
                [float(w) for w in class_weights], dtype=torch.float32)
            loss = nn.CrossEntropyLoss(
                weight=weight, ignore_index=-100 if ignore_index is None else int(ignore_index),
                label_smoothing=float(label_smoothing))
        super().__init__(model, loss=loss, **kwargs)
        self.num_classes = int(num_classes)
        self.ignore_index = None if ignore_index is None else int(ignore_index)
        # targets are validated by the cross-entropy (an out-of-range class fails there) and the
        # predictions are argmax indices: torchmetrics' own checks would only triple the cost
        common = {"num_classes": self.num_classes, "ignore_index": self.ignore_index, "validate_args": False}
        self._init_metrics({
            "acc": MulticlassAccuracy(average="micro", **common),
            **{name: cls(average="macro", **common) for name, cls in self._average_metrics},
        })

    def compute_loss(self, batch) -> torch.Tensor:
        x, y = _unpack(batch, ("x", "y"), 2, type(self).__name__)
        logits = self(x)
        if self.ignore_index is not None and not bool((y != self.ignore_index).any()):
            return logits.sum() * 0.0  # only ignored targets: cross-entropy would be NaN
        loss = self.loss(logits, y)
        self._log_metrics(logits.detach().argmax(1), y)
        return loss


class SegmentationTask(ClassificationTask):
    """Per-pixel cross-entropy segmentation with an optional ignore index.

    Batch: ``{"x": images (B, C, H, W), "y": class maps (B, H, W) int64}`` or ``(x, y)``; the model
    maps ``x`` to logits ``(B, num_classes, H, W)``. Loss: :class:`torch.nn.CrossEntropyLoss`
    averaged over the pixels whose target is not ``ignore_index`` (e.g. 255 for land or no data);
    a batch of ignored pixels only has loss 0 and zero gradients. ``class_weights``,
    ``label_smoothing`` and ``loss`` as for :class:`ClassificationTask`. Logs per epoch, over the
    non-ignored pixels: ``acc`` (pixel accuracy), ``iou`` (macro Jaccard index) and ``f1`` (macro
    F1).
    """

    _average_metrics = (("iou", MulticlassJaccardIndex), ("f1", MulticlassF1Score))


#: output activations of :class:`BinarySegmentationTask`: logits -> probabilities
BINARY_ACTIVATIONS = {"sigmoid": torch.sigmoid, "hard_sigmoid": F.hardsigmoid}


class BinarySegmentationTask(_ScoredTask):
    """Per-pixel binary segmentation (one probability per pixel, as a sigmoid output layer).

    Batch: ``{"x": inputs, "y": targets (B, H, W) float 0 / 1}`` or ``(x, y)``; the model maps
    ``x`` to logits of ``y``'s shape (``(B, 1, H, W)`` is reshaped). ``activation`` turns logits
    into probabilities: ``sigmoid`` (the loss is then :func:`F.binary_cross_entropy_with_logits`,
    numerically stable) or ``hard_sigmoid`` (torch's ``relu6(z + 3) / 6``; binary cross-entropy on
    the probabilities clamped to [1e-7, 1 - 1e-7], as Keras). ``class_weights`` ``(w0, w1)``
    weight each pixel's loss by its class and the loss is the mean over all pixels of the weighted
    losses (Keras' ``class_weight``: weights are not renormalised). Logs per epoch ``acc``, ``f1``
    and ``iou`` of the positive class at probability 0.5, and on the validation set ``auc_pr``
    (exact average precision; it keeps the epoch's validation probabilities, so it is not computed on
    the much larger training set).
    """

    def __init__(self, model: nn.Module, *, activation: str = "sigmoid",
                 class_weights: Sequence[float] | None = None, **kwargs):
        if activation not in BINARY_ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(BINARY_ACTIVATIONS)}, got {activation!r}")
        if class_weights is not None and len(class_weights) != 2:
            raise ValueError(f"class_weights: two weights (negative, positive), got {len(class_weights)}")
        super().__init__(model, loss=nn.Identity(), **kwargs)
        self.activation = activation
        self.class_weights = None if class_weights is None else tuple(float(w) for w in class_weights)
        common = {"validate_args": False}
        self._init_metrics({"acc": BinaryAccuracy(**common), "f1": BinaryF1Score(**common),
                            "iou": BinaryJaccardIndex(**common)})
        # average precision needs every probability of the epoch (or a cost per threshold on each
        # batch): computed exactly, on the validation set only
        self.val_metrics.add_metrics({"auc_pr": BinaryAveragePrecision(**common)})

    @property
    def metric_names(self) -> list[str]:
        return [*super().metric_names, "val_auc_pr"]

    def probabilities(self, logits: torch.Tensor) -> torch.Tensor:
        """The output activation applied to logits."""
        return BINARY_ACTIVATIONS[self.activation](logits)

    def compute_loss(self, batch) -> torch.Tensor:
        x, y = _unpack(batch, ("x", "y"), 2, type(self).__name__)
        logits = self(x).reshape(y.shape)
        weight = None
        if self.class_weights is not None:
            w0, w1 = self.class_weights
            weight = torch.where(y > 0.5, torch.full_like(y, w1), torch.full_like(y, w0))
        if self.activation == "sigmoid":
            loss = F.binary_cross_entropy_with_logits(logits, y, weight=weight)
        else:
            p = self.probabilities(logits).clamp(1e-7, 1 - 1e-7)
            loss = F.binary_cross_entropy(p, y, weight=weight)
        prob = self.probabilities(logits.detach()).flatten()
        self._log_metrics(prob, (y.flatten() > 0.5).long())
        return loss


# --------------------------------------------------------------------------------------------
# masked regression
# --------------------------------------------------------------------------------------------
def masked_regression_loss(pred: torch.Tensor, target: torch.Tensor, valid: torch.Tensor,
                           criterion: str = "mse") -> torch.Tensor:
    """Mean squared (``"mse"``) or absolute (``"mae"``) error over the ``valid`` elements.

    With no valid element the loss is 0 (with zero gradients), not NaN.
    """
    if not bool(valid.any()):
        return pred.sum() * 0.0
    p, t = pred[valid], target[valid]
    if criterion == "mse":
        return F.mse_loss(p, t)
    if criterion == "mae":
        return F.l1_loss(p, t)
    raise ValueError(f"criterion must be 'mse' or 'mae', got {criterion!r}")


class MaskedRegressionTask(_ScoredTask):
    """Regression scored only where the target is known.

    Batch: ``{"x": inputs, "y": targets (float), "mask": bool (optional)}`` or ``(x, y)`` /
    ``(x, y, mask)``. The model output is reshaped to ``y``'s shape. An element counts when its
    target is finite *and* ``mask`` (``True`` = use; broadcast to ``y``) allows it, so gaps can be
    given as NaN targets, as a mask, or both. Loss: mean squared (``criterion="mse"``) or absolute
    (``"mae"``) error over the counted elements (0 with zero gradients if there is none). Logs
    ``mse`` and ``mae`` per epoch over the counted elements.
    """

    def __init__(self, model: nn.Module, *, criterion: str = "mse", **kwargs):
        if criterion not in ("mse", "mae"):
            raise ValueError(f"criterion must be 'mse' or 'mae', got {criterion!r}")
        super().__init__(model, loss=nn.MSELoss() if criterion == "mse" else nn.L1Loss(), **kwargs)
        self.criterion = criterion
        self._init_metrics({"mse": MeanSquaredError(), "mae": MeanAbsoluteError()})

    @staticmethod
    def valid_mask(y: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        """Elements that count: finite targets where ``mask`` (if given) is true."""
        valid = torch.isfinite(y)
        if mask is not None:
            valid = valid & torch.broadcast_to(mask.bool(), y.shape)
        return valid

    def compute_loss(self, batch) -> torch.Tensor:
        x, y, mask = _unpack(batch, ("x", "y", "mask"), 2, type(self).__name__)
        pred = self(x).reshape(y.shape)
        valid = self.valid_mask(y, mask)
        loss = masked_regression_loss(pred, y, valid, self.criterion)
        if bool(valid.any()):
            self._log_metrics(pred.detach()[valid], y[valid])
        return loss


# --------------------------------------------------------------------------------------------
# triplet embeddings
# --------------------------------------------------------------------------------------------
#: distances of the triplet loss: ``squared`` (convml-tt; the default) or ``euclidean`` (tile2vec)
TRIPLET_DISTANCES = ("squared", "euclidean")


def triplet_distance(z1: torch.Tensor, z2: torch.Tensor, distance: str = "squared") -> torch.Tensor:
    """Per-sample distance ``(B,)`` between embeddings ``(B, D)``: ``||z1 − z2||²`` (``"squared"``)
    or ``||z1 − z2||`` (``"euclidean"``; :func:`torch.linalg.vector_norm`, whose gradient at a zero
    difference is 0, not NaN)."""
    if distance == "squared":
        return (z1 - z2).pow(2).sum(1)
    if distance == "euclidean":
        return torch.linalg.vector_norm(z1 - z2, dim=1)
    raise ValueError(f"distance must be one of {TRIPLET_DISTANCES}, got {distance!r}")


def triplet_margin_loss(z_anchor: torch.Tensor, z_neighbour: torch.Tensor, z_distant: torch.Tensor,
                        margin: float = 1.0, l2: float = 0.0, distance: str = "squared") -> torch.Tensor:
    """Tile2Vec's margin loss, averaged over the triplets.

    ``mean(max(0, δ(a, n) − δ(a, d) + margin)) + l2 · mean(||a|| + ||n|| + ||d||)`` for
    embeddings ``(B, D)`` (other shapes are flattened per sample), with ``δ`` the squared
    Euclidean distance (``distance="squared"``, the default, as convml-tt) or the Euclidean
    distance (``"euclidean"``, as tile2vec): :func:`triplet_distance`. The optional penalty on the
    embeddings' Euclidean norms keeps the margin from being met by scaling the embedding up.
    """
    a, n, d = (z.reshape(z.shape[0], -1) for z in (z_anchor, z_neighbour, z_distant))
    d_n = triplet_distance(a, n, distance)
    d_d = triplet_distance(a, d, distance)
    loss = F.relu(d_n - d_d + margin).mean()
    if l2:
        loss = loss + l2 * (a.norm(dim=1) + n.norm(dim=1) + d.norm(dim=1)).mean()
    return loss


class TripletTask(_ScoredTask):
    """Unsupervised embeddings from tile triplets (Tile2Vec).

    Batch: ``{"anchor", "neighbour", "distant"}`` image tiles ``(B, C, H, W)`` each, or the three
    in that order: a neighbour lies next to its anchor, a distant tile far away (or at another
    time). The model maps tiles to embeddings ``(B, D)``; the three tiles go through it in one
    pass (so batch-norm statistics cover all of them). Loss: :func:`triplet_margin_loss` with
    ``margin``, the ``l2`` penalty and ``distance`` (``"squared"``, the default, or
    ``"euclidean"``). Logs per epoch the mean distances of the loss (squared distances by default)
    ``dist_neighbour`` (anchor–neighbour) and ``dist_distant`` (anchor–distant) and ``satisfied``,
    the fraction of triplets meeting the margin (``δ(a, n) + margin ≤ δ(a, d)``).
    """

    def __init__(self, model: nn.Module, *, margin: float = 1.0, l2: float = 0.0, distance: str = "squared",
                 **kwargs):
        if margin < 0 or l2 < 0:
            raise ValueError(f"margin ({margin}) and l2 ({l2}) must not be negative")
        if distance not in TRIPLET_DISTANCES:
            raise ValueError(f"distance must be one of {TRIPLET_DISTANCES}, got {distance!r}")
        super().__init__(model, **kwargs)
        self.margin, self.l2, self.distance = float(margin), float(l2), str(distance)
        self._init_metrics({"dist_neighbour": MeanMetric(), "dist_distant": MeanMetric(),
                            "satisfied": MeanMetric()})

    def embed(self, tiles: torch.Tensor) -> torch.Tensor:
        """Embeddings ``(B, D)`` of a batch of tiles."""
        z = self(tiles)
        return z.reshape(z.shape[0], -1)

    def compute_loss(self, batch) -> torch.Tensor:
        a, n, d = _unpack(batch, ("anchor", "neighbour", "distant"), 3, type(self).__name__)
        z = self.embed(torch.cat([a, n, d]))
        z_a, z_n, z_d = z.split(a.shape[0])
        loss = triplet_margin_loss(z_a, z_n, z_d, self.margin, self.l2, self.distance)
        metrics = self._stage_metrics()
        if metrics is not None:
            with torch.no_grad():
                d_n = triplet_distance(z_a, z_n, self.distance)
                d_d = triplet_distance(z_a, z_d, self.distance)
                metrics["dist_neighbour"].update(d_n)
                metrics["dist_distant"].update(d_d)
                metrics["satisfied"].update((d_n + self.margin <= d_d).float())
            self.log_dict(metrics, on_step=False, on_epoch=True)
        return loss
