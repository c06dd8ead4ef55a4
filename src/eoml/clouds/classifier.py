"""clouds classifier: a supervised classifier of the four cloud patterns, its evaluation and Grad-CAM.

The supervised half of the LMD/IPSL internship study (2021): a convolutional network that tells
Sugar, Gravel, Fish and Flower (Rasp et al. 2020, :data:`eoml.clouds.labels.CLASSES`) apart,
trained on the crowd-labelled rectangles of the Kaggle "Understanding Clouds" images and scored
on held-out images and on an expert-labelled set (the cross-dataset shift under which the study's
model fell apart).

* Samples (:func:`square_samples`): the largest square inside each labelled rectangle, centred
  in it (side ``min(h, w)``), resized to ``input_px`` (the study: 512 px) — a square keeps the
  texture undistorted where resizing the whole rectangle would stretch it. An expert-labelled
  image is one rectangle (its whole frame).
* Splits (:func:`split_images`): whole images go to ``train`` / ``val`` / ``test`` (seeded), so
  squares of one image never sit on both sides.
* Network (:func:`build_cloud_classifier`): ImageNet normalisation → a core backbone
  (:func:`eoml.core.backbones.build_backbone`; the study's ResNet-18, or EfficientNet-Lite0 whose
  ImageNet weights ship offline; ImageNet or random weights, cut at ``cut``; BatchNorm momentum
  0.1) → global average pooling → a fully connected head (for each width ``h``: Linear, ReLU,
  Dropout; the study's best was 100–30–10) → a linear layer to the class logits (the softmax is
  in the cross-entropy).
* Training (:func:`train_classifier`): one grid point (``job``: name, backbone, weights, head)
  per job, through core's :func:`~eoml.core.training.train_task` with
  :class:`~eoml.core.tasks.ClassificationTask` (cross-entropy; ``class_balance: weights`` weighs
  each class by the inverse of its frequency among the training squares, ``n / (K · n_k)``,
  scikit-learn's "balanced"); the ``(seed, epoch)`` data order, resumable fingerprinted
  checkpoints, early stopping and the best validation epoch kept; with ``augment`` each training
  square gets a random quarter turn and left-right flip (the 8 symmetries of a square) drawn from
  its sample seed. ``out_dir`` receives ``model.pt`` (kind :data:`MODEL_KIND`; its settings keep
  the split of every image, the class counts and weights, the job and the config) and
  ``history.csv`` (:data:`HISTORY_COLUMNS`).
* Evaluation (:func:`evaluate_classifier`): the test images of the Kaggle-layout stores (the
  split of the model file) and every image of each expert-labelled store → ``predictions.csv``,
  ``scores.csv`` (per-class precision, recall, F1 and support, their macro means and the
  accuracy; core's :func:`eoml.core.metrics.classification_scores` over the four classes, equal
  to scikit-learn's) and ``confusion.csv``; :func:`collect_classifier` gathers every model's
  scores with its job into the study's ``classifier.csv``.
* Explanations (:mod:`eoml.clouds.classifier_report`): ``gradcam`` (Grad-CAM, Selvaraju et al. 2017, through core's
  :func:`eoml.core.explain.gradcam_maps` on the network's :attr:`CloudClassifier.target_layer`:
  the weighted sum of the last convolutional feature maps, resized to the input) and
  ``feature_maps`` (those maps themselves); figures of both, with the heat-map colours
  optionally inverted over the dark ocean as the study drew them, the confusion matrices and the
  scores (``classifier_figures``).

References: the LMD/IPSL internship study of trade-wind cloud organisation (2021); Rasp et al.
(2020) "Combining crowdsourcing and deep learning to explore the mesoscale organization of
shallow convection", BAMS 101; Selvaraju et al. (2017) "Grad-CAM: visual explanations from deep
networks via gradient-based localization", ICCV; He et al. (2016) "Deep residual learning for
image recognition", CVPR.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import xarray as xr
from torch import nn

from eoml.clouds.ingest import dataset_name, load_scenes
from eoml.clouds.labels import CLASSES
from eoml.clouds.tiles import Scene, labelled_squares
from eoml.core.backbones import (
    BACKBONES,
    BN_MOMENTUM,
    IMAGENET_MEAN,
    IMAGENET_STD,
    WEIGHTS,
    Backbone,
    ImageNetNormalize,
    build_backbone,
    min_input_size,
    set_batchnorm_momentum,
)
from eoml.core.config import plain_json
from eoml.core.data import ImageDataset
from eoml.core.errors import ConfigError, InputFileError
from eoml.core.io import array_digest, write_csv_atomic, write_text_atomic
from eoml.core.metrics import classification_scores
from eoml.core.modelfile import ModelFile, load_network
from eoml.core.settings import required_keys
from eoml.core.tasks import ClassificationTask
from eoml.core.training import HISTORY_COLUMNS as CORE_HISTORY_COLUMNS
from eoml.core.training import (
    TRAINING_KEYS,
    save_training_outputs,
    train_task,
    training_job,
)

log = logging.getLogger(__name__)

PathLike = str | os.PathLike

__all__ = [
    "CLASS_BALANCE",
    "CONFIG_KEYS",
    "HISTORY_COLUMNS",
    "JOB_KEYS",
    "MODEL_KIND",
    "SPLITS",
    "CloudClassifier",
    "build_cloud_classifier",
    "class_weights",
    "collect_classifier",
    "evaluate_classifier",
    "load_classifier",
    "predict_proba",
    "split_images",
    "train_classifier",
]

MODEL_KIND = "clouds.classifier"
#: keys of the ``classifier`` config section that training reads (all required: the schema fills them)
CONFIG_KEYS = ("input_px", "cut", "dropout", "class_balance", "split", "augment", "weights_path", "training")
#: keys of its ``split`` and ``training`` sub-sections
SPLIT_KEYS = ("val_fraction", "test_fraction")
TRAINING_SECTION_KEYS = (*TRAINING_KEYS, "mixed_precision")
#: keys of one grid point (a training job)
JOB_KEYS = ("name", "backbone", "weights", "head")
#: ``class_balance`` values
CLASS_BALANCE = ("weights", "none")
#: split names of the images
SPLITS = ("train", "val", "test")
#: the classification task's epoch metrics (core's ClassificationTask)
_METRICS = [f"{stage}_{m}" for stage in ("train", "val") for m in ("acc", "f1")]
HISTORY_COLUMNS = [*CORE_HISTORY_COLUMNS, *_METRICS]
#: salt of the per-sample augmentation seeds (eoml.core.training.DataModule)
SAMPLE_SALT = 0xC1A5
#: columns of the evaluation tables
SCORE_COLUMNS = ["model", "evaluated_on", "class", "precision", "recall", "f1", "support"]
CONFUSION_COLUMNS = ["model", "evaluated_on", "true", "predicted", "count"]
PREDICTION_COLUMNS = ["model", "evaluated_on", "scene", "rectangle", "label", "predicted",
                      *(f"p_{c}" for c in CLASSES)]
#: the job columns :func:`collect_classifier` adds
JOB_COLUMNS = ["backbone", "weights", "head"]
#: images per batch at inference
_BATCH = 32


# --------------------------------------------------------------------------------------------
# samples and splits
# --------------------------------------------------------------------------------------------
def split_images(ids: Sequence[str], val_fraction: float, test_fraction: float, seed: int) -> dict[str, str]:
    """Image id → ``"train"``, ``"val"`` or ``"test"``: whole images, drawn by a generator seeded
    with ``seed`` from the sorted ids (the order of ``ids`` does not matter).

    ``round(test_fraction · n)`` images are held out for the test and ``round(val_fraction · n)``
    for validation, each at least one and together leaving at least one for training. Fractions
    outside (0, 1), summing to 1 or more, or fewer than 3 images raise :class:`ConfigError`;
    duplicate ids ``ValueError``."""
    ids = [str(i) for i in ids]
    if len(set(ids)) != len(ids):
        raise ValueError(f"image ids are not unique: {sorted({i for i in ids if ids.count(i) > 1})[:10]}")
    val_fraction, test_fraction = float(val_fraction), float(test_fraction)
    if not (0.0 < val_fraction < 1.0 and 0.0 < test_fraction < 1.0 and val_fraction + test_fraction < 1.0):
        raise ConfigError(f"classifier.split: val_fraction ({val_fraction}) and test_fraction ({test_fraction}) "
                          "must each lie in (0, 1) and sum to less than 1")
    n = len(ids)
    if n < 3:
        raise ConfigError(f"classifier.split: a train / validation / test split of whole images needs at least 3 "
                          f"labelled images, got {n}")
    n_test = min(max(round(test_fraction * n), 1), n - 2)
    n_val = min(max(round(val_fraction * n), 1), n - n_test - 1)
    order = sorted(ids)
    perm = np.random.default_rng(int(seed)).permutation(n)
    split = {}
    for rank, k in enumerate(perm):
        split[order[k]] = "test" if rank < n_test else "val" if rank < n_test + n_val else "train"
    return {i: split[i] for i in ids}


def class_weights(labels: np.ndarray, n_classes: int = len(CLASSES)) -> list[float]:
    """Inverse class frequencies ``n / (K · n_k)`` of ``labels`` (scikit-learn's "balanced"
    weights; ``K`` the number of classes present), 0 for a class with no sample."""
    labels = np.asarray(labels, dtype=np.int64)
    counts = np.bincount(labels, minlength=int(n_classes)).astype(np.float64)
    present = counts > 0
    weights = np.zeros(int(n_classes))
    weights[present] = labels.size / (present.sum() * counts[present])
    return [float(w) for w in weights]


# --------------------------------------------------------------------------------------------
# the network
# --------------------------------------------------------------------------------------------
class CloudClassifier(nn.Module):
    """``normalize`` (ImageNet statistics) → ``base`` → ``pool`` (global average) → ``head``
    (Linear, ReLU, Dropout per hidden width, then Linear to the class logits).

    Input: images ``(N, 3, H, W)`` in [0, 1] (any size the backbone accepts); output: logits
    ``(N, n_classes)``. :meth:`embedding` gives the pooled base features ``(N, dim)``.
    """

    #: the layer Grad-CAM and the feature maps read by default: the base, whose output is the activated
    #: map of its last convolutional layer (ResNet's ``layer4``, EfficientNet's 1 × 1 head
    #: convolution after its BatchNorm and ReLU6 ...)
    target_layer = "base"

    def __init__(self, base: Backbone, head: Sequence[int], n_classes: int, dropout: float, *, backbone: str,
                 cut: str):
        super().__init__()
        self.normalize = ImageNetNormalize()
        self.base = base
        self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(1))
        layers: list[nn.Module] = []
        width = int(base.out_channels)
        for h in head:
            layers += [nn.Linear(width, int(h)), nn.ReLU(), nn.Dropout(float(dropout))]
            width = int(h)
        layers.append(nn.Linear(width, int(n_classes)))
        self.head = nn.Sequential(*layers)
        self.backbone, self.cut = backbone, cut

    @property
    def dim(self) -> int:
        return int(self.base.out_channels)

    @property
    def n_classes(self) -> int:
        return int(self.head[-1].out_features)

    def embedding(self, x: torch.Tensor) -> torch.Tensor:
        """Globally pooled base features ``(N, dim)`` of images in [0, 1]."""
        return self.pool(self.base(self.normalize(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.embedding(x))


def _head(head: Any, where: str = "head") -> list[int]:
    if isinstance(head, (str, bytes)) or not isinstance(head, Sequence):
        raise ConfigError(f"{where}: a list of hidden-layer widths (e.g. [100, 30, 10]), got {head!r}")
    widths = []
    for h in head:
        if isinstance(h, bool) or not isinstance(h, (int, np.integer)) or int(h) < 1:
            raise ConfigError(f"{where}: hidden-layer widths must be positive integers, got {list(head)!r}")
        widths.append(int(h))
    return widths


def build_cloud_classifier(backbone: str, weights: str, cut: str, head: Sequence[int], n_classes: int,
                           dropout: float, weights_path: PathLike | None = None) -> CloudClassifier:
    """A cloud classifier: core backbone ``backbone`` with ``weights`` (``imagenet`` / ``random``;
    ImageNet checkpoints from ``weights_path`` or torchvision's cache, never downloaded: a missing
    file is core's :class:`~eoml.core.backbones.MissingWeightsError` naming it) cut at ``cut``,
    the hidden widths ``head`` (``[]``: one linear layer) with ``dropout`` after each, and
    ``n_classes`` logits. Under one seed the head starts the same with either weights (core
    builds the random network first)."""
    widths = _head(head)
    if int(n_classes) < 2:
        raise ConfigError(f"a classifier needs at least 2 classes (got {n_classes})")
    if not 0.0 <= float(dropout) < 1.0:
        raise ConfigError(f"classifier.dropout must lie in [0, 1) (got {dropout})")
    base = build_backbone(backbone, weights, cut, in_channels=3, weights_path=weights_path)
    set_batchnorm_momentum(base, BN_MOMENTUM)
    return CloudClassifier(base, widths, int(n_classes), float(dropout), backbone=backbone, cut=cut)


def load_classifier(path: PathLike, device: str | torch.device | None = None) -> tuple[CloudClassifier, ModelFile]:
    """A trained cloud classifier (eval mode, on ``device``: CUDA when visible unless told
    otherwise) and its model-file record; :class:`InputFileError` naming the file when it is
    unusable. Needs no ImageNet checkpoint (rebuilt with random weights, then loaded)."""
    def build(record: ModelFile):
        a = record.arch
        return build_cloud_classifier(a["backbone"], "random", a["cut"], a["head"], int(a["n_classes"]),
                                      float(a["dropout"])), None

    net, record, _ = load_network(path, MODEL_KIND, build, device)
    for key in ("split", "job"):
        if not isinstance(record.settings.get(key), Mapping):
            raise InputFileError(path, f"classifier model file lacks its {key} (settings.{key})")
    if not isinstance(record.arch.get("tile_px"), int):
        raise InputFileError(path, "classifier model file lacks its input size (arch.tile_px)")
    return net, record


# --------------------------------------------------------------------------------------------
# data
# --------------------------------------------------------------------------------------------
@dataclass
class _Samples:
    """Squares of labelled images with their split (``train`` / ``val`` / ``test`` per sample)."""

    ds: xr.Dataset
    split: np.ndarray

    @property
    def labels(self) -> np.ndarray:
        return np.asarray(self.ds["label"].values, dtype=np.int64)

    def index(self, name: str) -> np.ndarray:
        return np.flatnonzero(self.split == name)

    def counts(self) -> dict[str, dict[str, int]]:
        return {name: {c: int((self.labels[self.index(name)] == k).sum()) for k, c in enumerate(CLASSES)}
                for name in SPLITS}


# --------------------------------------------------------------------------------------------
# training
# --------------------------------------------------------------------------------------------
def _settings(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """The classifier section's training keys, checked (every key required: the schema fills them)."""
    s = required_keys(cfg, CONFIG_KEYS, "classifier")
    s["split"] = required_keys(s["split"], SPLIT_KEYS, "classifier.split")
    s["training"] = required_keys(s["training"], TRAINING_SECTION_KEYS, "classifier.training")
    if s["class_balance"] not in CLASS_BALANCE:
        raise ConfigError(f"classifier.class_balance: {s['class_balance']!r} is not one of {CLASS_BALANCE}")
    if int(s["input_px"]) < 1:
        raise ConfigError(f"classifier.input_px must be positive (got {s['input_px']})")
    if not 0.0 <= float(s["dropout"]) < 1.0:
        raise ConfigError(f"classifier.dropout must lie in [0, 1) (got {s['dropout']})")
    return {**s, "input_px": int(s["input_px"]), "cut": str(s["cut"]), "dropout": float(s["dropout"]),
            "augment": bool(s["augment"]),
            "split": {k: float(s["split"][k]) for k in SPLIT_KEYS},
            "weights_path": None if s["weights_path"] is None else str(s["weights_path"])}


def _job(job: Mapping[str, Any], input_px: int | None = None) -> dict[str, Any]:
    """One grid point ``{name, backbone, weights, head}``, checked."""
    j = required_keys(job, JOB_KEYS, "classifier.grid[]")
    name = str(j["name"])
    if not name or "/" in name or name != name.strip():
        raise ConfigError(f"classifier.grid: job name {j['name']!r} must be a non-empty name without '/' or "
                          "surrounding spaces")
    if j["backbone"] not in BACKBONES:
        raise ConfigError(f"classifier.grid[{name}].backbone: {j['backbone']!r} is not one of {BACKBONES}")
    if j["weights"] not in WEIGHTS:
        raise ConfigError(f"classifier.grid[{name}].weights: {j['weights']!r} is not one of {WEIGHTS}")
    if input_px is not None and input_px < min_input_size(j["backbone"]):
        raise ConfigError(f"classifier.input_px {input_px} is below the {min_input_size(j['backbone'])} px that "
                          f"{j['backbone']} (grid point {name}) needs")
    return {"name": name, "backbone": str(j["backbone"]), "weights": str(j["weights"]),
            "head": _head(j["head"], f"classifier.grid[{name}].head")}


def _squares(stores: Sequence[PathLike], size: int) -> tuple[list[Scene], xr.Dataset]:
    scenes = load_scenes(stores, labelled_only=True)
    return scenes, labelled_squares(scenes, size)


def train_classifier(kaggle_stores: Sequence[PathLike], out_dir: PathLike, ckpt_dir: PathLike,
                     cfg: Mapping[str, Any], job: Mapping[str, Any], seed: int) -> Path:
    """Train the classifier of one grid point on the labelled images of ``kaggle_stores``; write
    ``out_dir/model.pt`` and ``out_dir/history.csv``; return the model file's path (module
    docstring).

    ``cfg`` = the classifier section: ``input_px, cut, dropout, class_balance, split
    {val_fraction, test_fraction}, augment, weights_path, training`` (core's training keys and
    ``mixed_precision``); ``job`` = ``{name, backbone, weights, head}``. ``ckpt_dir`` (outside
    ``out_dir``) receives the resumable checkpoints and logs. The network is built before the
    stores are read, so a missing ImageNet checkpoint fails the job at once. Images are split
    whole (:func:`split_images`); a split without a square is an :class:`InputFileError` naming
    the first store.
    """
    s = _settings(cfg)
    j = _job(job, s["input_px"])
    training = s["training"]
    out_dir, ckpt_dir, settings, seed = training_job(out_dir, ckpt_dir, {k: training[k] for k in TRAINING_KEYS},
                                                     "classifier.training", seed)
    net = build_cloud_classifier(j["backbone"], j["weights"], s["cut"], j["head"], len(CLASSES), s["dropout"],
                                 s["weights_path"])

    if not kaggle_stores:
        raise ConfigError("classifier: no Kaggle-layout store to train on")
    scenes, squares = _squares(kaggle_stores, s["input_px"])
    if not scenes:
        raise InputFileError(Path(kaggle_stores[0]), "no labelled image to train the classifier on")
    split = split_images([sc.id for sc in scenes], s["split"]["val_fraction"], s["split"]["test_fraction"], seed)
    samples = _Samples(squares, np.asarray([split[i] for i in squares["scene"].values], dtype=object))
    for name in SPLITS:
        if samples.index(name).size == 0:
            raise InputFileError(Path(kaggle_stores[0]), f"the {name} split holds no labelled square")
    counts = samples.counts()
    weights = class_weights(samples.labels[samples.index("train")]) if s["class_balance"] == "weights" else None
    log.info("%s: %d labelled images, %d squares of %d px; squares per class and split: %s; class weights %s",
             j["name"], len(scenes), squares.sizes["sample"], s["input_px"], counts, weights)

    images = torch.from_numpy(np.ascontiguousarray(squares["image"].values.transpose(0, 3, 1, 2)))
    codes = np.asarray([SPLITS.index(v) for v in samples.split], dtype=np.int8)
    digest = array_digest(images.numpy(), samples.labels, codes, np.asarray(squares["scene"].values, dtype=str))
    train_ds = ImageDataset(images, samples.index("train"), labels=samples.labels, augment=s["augment"])
    val_ds = ImageDataset(images, samples.index("val"), labels=samples.labels)
    task = ClassificationTask.from_config(net, settings, num_classes=len(CLASSES), class_weights=weights)
    config = plain_json(s)
    fingerprint = {"config": config, "job": j, "data": digest,
                   "weights_path": s["weights_path"] if j["weights"] == "imagenet" else None}
    result = train_task(task, train_ds, val_ds, ckpt_dir=ckpt_dir, training_cfg=settings, seed=seed,
                        fingerprint=fingerprint, sample_salt=SAMPLE_SALT, avoid_single_batch=True,
                        history_columns=_METRICS, mixed_precision=training["mixed_precision"])
    history = result.history[HISTORY_COLUMNS]
    model_path = save_training_outputs(
        out_dir, history, kind=MODEL_KIND, weights=result.weights,
        arch={"backbone": j["backbone"], "cut": s["cut"], "head": j["head"], "n_classes": len(CLASSES),
              "dropout": s["dropout"], "tile_px": s["input_px"], "in_channels": 3, "classes": list(CLASSES)},
        norm={"scale": 1.0 / 255.0, "mean": list(IMAGENET_MEAN), "std": list(IMAGENET_STD)},
        settings={"seed": seed, "best_epoch": int(result.best_epoch), "epochs_run": int(result.epochs_run),
                  "job": j, "config": config, "split": split, "class_counts": counts, "class_weights": weights,
                  "data_digest": digest, "stores": [str(p) for p in kaggle_stores]},
    )
    row = history.set_index("epoch").loc[result.best_epoch]
    log.info("wrote %s: best epoch %d of %d, val_loss %.4f, val_acc %.3f", model_path, result.best_epoch,
             result.epochs_run, row["val_loss"], row["val_acc"])
    return model_path


# --------------------------------------------------------------------------------------------
# prediction and evaluation
# --------------------------------------------------------------------------------------------
def _to_input(images: np.ndarray, device: torch.device) -> torch.Tensor:
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"images must be uint8 (n, y, x, 3), got {images.dtype} {images.shape}")
    x = torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2)))
    return x.to(device=device, dtype=torch.float32) / 255.0


def _device(net: nn.Module) -> torch.device:
    return next(net.parameters()).device


@torch.no_grad()
def predict_proba(net: CloudClassifier, images: np.ndarray, batch: int = _BATCH) -> np.ndarray:
    """Class probabilities float64 ``(n, n_classes)`` (softmax of the logits) of uint8 images
    ``(n, y, x, 3)``, in batches of ``batch``, ``net`` in eval mode on its device (its mode is
    restored)."""
    was_training = net.training
    net.eval()
    try:
        out = [np.zeros((0, net.n_classes))]
        for start in range(0, len(images), int(batch)):
            x = _to_input(images[start:start + int(batch)], _device(net))
            out.append(torch.softmax(net(x).float(), dim=1).cpu().numpy().astype(np.float64))
        return np.concatenate(out)
    finally:
        net.train(was_training)


def _test_scenes(store: PathLike, split: Mapping[str, str]) -> list[Scene]:
    """The labelled scenes of ``store`` in the test split of ``split`` (a store the model never
    saw is an error; images unknown to the split are left out, logged)."""
    scenes = load_scenes([store], labelled_only=True)
    known = [sc for sc in scenes if sc.id in split]
    if scenes and not known:
        raise InputFileError(Path(store), "none of its images is in the model's train / validation / test split: "
                                          "not a store the model was trained with")
    if len(known) < len(scenes):
        log.warning("%s: %d labelled image(s) unknown to the model's split are left out", store,
                    len(scenes) - len(known))
    return [sc for sc in known if split[sc.id] == "test"]


def _score_rows(model: str, evaluated_on: str, y: np.ndarray, pred: np.ndarray) -> tuple[list[dict], list[dict]]:
    s = classification_scores(y, pred, labels=list(range(len(CLASSES))))
    support = s["counts"].sum(axis=1)
    rows = [{"model": model, "evaluated_on": evaluated_on, "class": c, "precision": float(s["precision_per_class"][k]),
             "recall": float(s["recall_per_class"][k]), "f1": float(s["f1_per_class"][k]), "support": int(support[k])}
            for k, c in enumerate(CLASSES)]
    rows.append({"model": model, "evaluated_on": evaluated_on, "class": "macro",
                 "precision": float(np.mean(s["precision_per_class"])), "recall": float(np.mean(s["recall_per_class"])),
                 "f1": float(s["f1_macro"]), "support": int(s["n_samples"])})
    rows.append({"model": model, "evaluated_on": evaluated_on, "class": "accuracy", "precision": np.nan,
                 "recall": np.nan, "f1": float(s["accuracy"]), "support": int(s["n_samples"])})
    confusion = [{"model": model, "evaluated_on": evaluated_on, "true": a, "predicted": b,
                  "count": int(s["counts"][i, k])}
                 for i, a in enumerate(CLASSES) for k, b in enumerate(CLASSES)]
    return rows, confusion


def evaluate_classifier(model: PathLike, kaggle_stores: Sequence[PathLike], expert_stores: Sequence[PathLike],
                        out_dir: PathLike) -> Path:
    """Predictions and scores of the classifier ``model`` on the test images of ``kaggle_stores``
    (the split kept in the model file; ``evaluated_on`` = ``"<dataset>/test"``) and on every image
    of each of ``expert_stores`` (``evaluated_on`` = its name). Writes in ``out_dir``:

    * ``predictions.csv`` — :data:`PREDICTION_COLUMNS`: one row per square (class names; the
      probability of each class);
    * ``scores.csv`` — :data:`SCORE_COLUMNS`: per evaluated set, one row per class (precision,
      recall, F1, support; 0 where undefined, as scikit-learn's ``zero_division=0``), ``macro``
      (their unweighted means over the four classes; support = all squares) and ``accuracy``
      (in the ``f1`` column, as scikit-learn's report; support = all squares);
    * ``confusion.csv`` — :data:`CONFUSION_COLUMNS`, all 16 class pairs (rows = reference);
    * ``job.json`` — the model's grid point (for :func:`collect_classifier`).

    A set without a square is left out (logged). Returns ``out_dir``."""
    out_dir = Path(out_dir)
    net, record = load_classifier(model)
    job, split, size = record.settings["job"], record.settings["split"], int(record.arch["tile_px"])
    name = str(job["name"])
    sets: list[tuple[str, list[Scene]]] = []
    for store in kaggle_stores:
        sets.append((f"{dataset_name(store)}/test", _test_scenes(store, split)))
    for store in expert_stores:
        sets.append((dataset_name(store), load_scenes([store], labelled_only=True)))
    predictions, scores, confusion = [], [], []
    for evaluated_on, scenes in sets:
        squares = labelled_squares(scenes, size)
        n = squares.sizes["sample"]
        if n == 0:
            log.warning("%s on %s: no labelled square to evaluate", name, evaluated_on)
            continue
        proba = predict_proba(net, squares["image"].values)
        y, pred = squares["label"].values.astype(np.int64), proba.argmax(axis=1)
        table = pd.DataFrame({"model": name, "evaluated_on": evaluated_on, "scene": squares["scene"].values,
                              "rectangle": squares["rectangle"].values,
                              "label": [CLASSES[k] for k in y], "predicted": [CLASSES[k] for k in pred],
                              **{f"p_{c}": proba[:, k] for k, c in enumerate(CLASSES)}})
        predictions.append(table)
        rows, pairs = _score_rows(name, evaluated_on, y, pred)
        scores += rows
        confusion += pairs
        log.info("%s on %s: %d squares, accuracy %.3f, macro F1 %.3f", name, evaluated_on, n, rows[-1]["f1"],
                 rows[-2]["f1"])
    write_csv_atomic(pd.concat(predictions, ignore_index=True) if predictions else pd.DataFrame(columns=PREDICTION_COLUMNS),
                out_dir / "predictions.csv")
    write_csv_atomic(pd.DataFrame(scores, columns=SCORE_COLUMNS), out_dir / "scores.csv")
    write_csv_atomic(pd.DataFrame(confusion, columns=CONFUSION_COLUMNS), out_dir / "confusion.csv")
    write_text_atomic(out_dir / "job.json", json.dumps(job, sort_keys=True) + "\n")
    return out_dir


def _read_csv(path: Path, columns: Sequence[str]) -> pd.DataFrame:
    if not path.is_file():
        raise InputFileError(path, "does not exist (an evaluation folder of evaluate_classifier holds it)")
    table = pd.read_csv(path, keep_default_na=False, na_values=[""])
    missing = [c for c in columns if c not in table]
    if missing:
        raise InputFileError(path, f"lacks the column(s) {missing}")
    return table


def _read_job(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise InputFileError(path, "does not exist (an evaluation folder of evaluate_classifier holds it)")
    try:
        job = json.loads(path.read_text())
        return _job(job)
    except (json.JSONDecodeError, ConfigError) as exc:
        raise InputFileError(path, f"not a classifier grid point: {exc}") from exc


def collect_classifier(eval_dirs: Sequence[PathLike], output: PathLike) -> Path:
    """The study's ``classifier.csv``: every evaluation folder's ``scores.csv`` rows with the job
    columns ``backbone``, ``weights`` and ``head`` (hidden widths joined by ``-``, ``""`` for
    none) after ``model``."""
    tables = []
    for d in eval_dirs:
        d = Path(d)
        scores = _read_csv(d / "scores.csv", SCORE_COLUMNS)
        job = _read_job(d / "job.json")
        values = {"backbone": job["backbone"], "weights": job["weights"], "head": "-".join(map(str, job["head"]))}
        for k, col in enumerate(JOB_COLUMNS):
            scores.insert(1 + k, col, values[col])
        tables.append(scores)
    columns = [SCORE_COLUMNS[0], *JOB_COLUMNS, *SCORE_COLUMNS[1:]]
    table = pd.concat(tables, ignore_index=True)[columns] if tables else pd.DataFrame(columns=columns)
    return write_csv_atomic(table, Path(output))
