"""scenes training: one transfer-learning job (backbone × depth × mode × optimiser × seed × init).

:func:`train_classifier` trains a :class:`~eoml.scenes.models.SceneClassifier` on a scene store
(:mod:`eoml.scenes.data`: images resized to the configured size, labels, the stratified
train / val / test split) and writes, in ``out_dir``:

* ``model.pt`` — an :mod:`eoml.core.modelfile` of kind :data:`MODEL_KIND` (the final attempt's
  best-validation-epoch weights; :func:`load_classifier` reads it back);
* ``history.csv`` — ``epoch, train_loss, val_loss, lr, train_acc, val_acc, attempt, seconds``
  (one row per epoch and attempt; ``seconds``: wall time of the epoch, training + validation);
* ``predictions.csv`` — ``attempt, sample, split, label, pred`` for every train / val / test
  sample (``sample`` is the store's sample index, ``split`` ``train`` / ``val`` / ``test``),
  predicted with the best-validation-epoch weights of each attempt;
* ``run.json`` — ``job``, ``attempts`` (``attempt, learning_rate, collapsed, best_epoch,
  epochs_run, best_val_acc, chance_acc, collapse_threshold, seconds_per_epoch, feature_seconds``),
  ``n_parameters``, ``n_trainable``, ``classes``, split sizes, ``feature_cache``.

Modes (``job["mode"]``), after Pires de Lima & Marfurt (2020):

* ``feature_extraction`` — the base is frozen (core's freeze: no gradients, BatchNorm statistics
  kept, see :mod:`eoml.scenes.models`); only the top model trains. With ``feature_cache`` the
  frozen base runs **once** per image (eval mode, no augmentation) and the top model trains on the
  cached, globally pooled features: a frozen base in eval mode is a fixed function, so this is the
  same training as running the base every epoch on unaugmented images (tested; the per-epoch cost
  becomes that of the top model alone, ``benchmarks/scenes_feature_cache.py``). Without the cache
  the base runs every epoch on augmented images.
* ``fine_tune`` — the base is frozen for the first ``max_epochs // 2`` epochs, then every layer
  trains (one optimiser throughout: frozen parameters have no gradient and no optimiser state
  until they are released). The frozen state is derived from the epoch number at the start of
  every epoch, so a run resumed from a checkpoint freezes or releases the base exactly as the
  uninterrupted run. Early stopping cannot end the run before ``max_epochs // 2 +
  early_stopping_patience`` epochs, so the unfrozen phase always gets the patience window.
* ``random`` — random weights, everything trains from the first epoch (``init`` must be
  ``random``).

``init``: ``imagenet`` (core's offline checkpoints; a missing file is a
:class:`~eoml.core.backbones.MissingWeightsError` naming it, raised before any data is read),
``random``, or the *name of a dataset* (experiment 3, transfer between datasets): ``init_model``
is then the ``model.pt`` of a run on that dataset, whose **base** weights (not its top model, whose
classes differ) the new base starts from.

Training: core :class:`~eoml.core.tasks.ClassificationTask` (cross-entropy) through
:func:`eoml.core.training.train_task` — the ``(seed, epoch)`` data order, per-sample seeded
augmentation (random quarter turns and left-right flips, :func:`eoml.core.data.flip_rotate`: the 8
symmetries of a square image, all valid for nadir scenes), ``ReduceLROnPlateau`` on ``val_loss``,
early stopping and the best checkpoint on ``training.monitor`` (``val_loss`` or ``val_acc``),
resumable checkpoints in ``ckpt_dir/attempt<k>`` whose fingerprint holds the job, the optimiser,
the data digest and the source model's digest. The optimiser is ``optimizers[job.optimizer]``:
``algorithm`` (sgd | adam | adamax | adamw | nadam), ``learning_rate``, ``momentum`` (SGD only) and
``clip_norm`` (the global gradient norm bound, or null). Keras' ``clipnorm`` of the peer clips
each weight's gradient separately; the global norm used here preserves the gradient's direction.

Collapse: the paper saw runs stuck at chance. The *chance accuracy* is the validation split's
majority-class frequency ``p0`` (the accuracy of the best constant prediction; no prediction
independent of the image does better in expectation). A run is ``collapsed`` when its best
validation accuracy (over all epochs) does not exceed ``p0 + 2·sqrt(p0 (1 − p0) / n_val)``: two
binomial standard errors of an image-blind classifier on ``n_val`` samples, so that an epoch of a
guessing model passes only with ~2 % probability, while the usual collapse (one class predicted
everywhere: accuracy ≤ ``p0``) is caught whatever the number of epochs. With ``collapse.retry`` a
collapsed attempt 0 is retried once (attempt 1) with ``learning_rate / collapse.lr_divisor``, from
the same initial weights; both attempts are reported, and ``model.pt`` holds the last one.

Data: the store's images are read into memory once as ``uint8`` (``(N, 3, H, W)``: 2 100 images of
256 px take 0.4 GB) and scaled to [0, 1] per batch; the classifier normalises with the ImageNet
statistics itself.

References: R. Pires de Lima, K. Marfurt (2020) "Convolutional neural network for remote-sensing
scene classification: transfer learning analysis", Remote Sensing 12(1):86.
"""

from __future__ import annotations

import json
import logging
import math
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset

from eoml.core.config import plain_json
from eoml.core.data import ImageDataset, sample_key
from eoml.core.errors import ConfigError, InputFileError
from eoml.core.io import array_digest, atomic_path, sha256_file, write_text_atomic
from eoml.core.modelfile import ModelFile, load_model_file, load_network
from eoml.core.settings import required_keys
from eoml.core.tasks import ClassificationTask
from eoml.core.training import (
    TRAINING_KEYS,
    count_parameters,
    save_training_outputs,
    seed_everything,
    select_device,
    train_task,
    training_job,
)
from eoml.scenes.models import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    INITS,
    SceneClassifier,
    build_classifier,
    min_image_size,
)

log = logging.getLogger(__name__)

__all__ = [
    "HISTORY_COLUMNS",
    "MODEL_KIND",
    "MODES",
    "PREDICTION_COLUMNS",
    "FeatureDataset",
    "ImageDataset",
    "SceneData",
    "SceneTask",
    "chance_accuracy",
    "compute_features",
    "load_classifier",
    "load_scene_data",
    "predict_logits",
    "train_classifier",
    "train_on_data",
]

MODEL_KIND = "scenes.classifier"
MODES = ("feature_extraction", "fine_tune", "random")
SPLITS = ("train", "val", "test")
JOB_KEYS = ("dataset", "backbone", "depth", "mode", "optimizer", "seed", "init")
CONFIG_KEYS = ("top", "optimizers", "training", "feature_cache", "collapse", "weights_path")
OPTIMIZER_KEYS = ("algorithm", "learning_rate", "momentum", "clip_norm")
#: keys of the ``training`` section (the learning rate is the optimiser's)
SCENE_TRAINING_KEYS = (*(k for k in TRAINING_KEYS if k != "learning_rate"), "monitor", "mixed_precision")
COLLAPSE_KEYS = ("retry", "lr_divisor")
HISTORY_COLUMNS = ["epoch", "train_loss", "val_loss", "lr", "train_acc", "val_acc", "attempt", "seconds"]
PREDICTION_COLUMNS = ["attempt", "sample", "split", "label", "pred"]
#: binomial standard errors above the majority-class frequency a run must reach (module docstring)
CHANCE_Z = 2.0
#: salt of the per-sample augmentation seeds (eoml.core.training.DataModule)
SAMPLE_SALT = 0x5CE7E5
#: images per forward pass when computing cached features and predictions
INFER_BATCH = 64


# --------------------------------------------------------------------------------------------
# data
# --------------------------------------------------------------------------------------------
@dataclass
class SceneData:
    """A scene store in memory: ``images`` ``(N, 3, H, W)`` uint8 (RGB), ``labels`` ``(N,)``
    int64, ``splits`` sample indices per split, ``class_names``, ``digest`` (of images, labels
    and split) and the store's ``path``."""

    images: torch.Tensor
    labels: np.ndarray
    splits: dict[str, np.ndarray]
    class_names: list[str]
    digest: str
    path: str = ""

    @property
    def image_size(self) -> int:
        return int(self.images.shape[-1])

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    @classmethod
    def from_arrays(cls, images: np.ndarray, labels, splits: Mapping[str, Any], class_names, path: str = "",
                    ) -> SceneData:
        """From ``images`` ``(N, H, W, 3)`` uint8 (the store's layout), labels, split indices, names."""
        images = np.asarray(images)
        if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] != 3:
            raise ValueError(f"images must be uint8 (sample, y, x, 3), got {images.dtype} {images.shape}")
        labels = np.asarray(labels).astype(np.int64)
        splits = {k: np.asarray(splits[k], dtype=np.int64) for k in SPLITS}
        tensor = torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2)))
        digest = array_digest(images, labels, *(splits[k] for k in SPLITS))
        return cls(tensor, labels, splits, [str(c) for c in class_names], digest, str(path))


def load_scene_data(store: str | Path) -> SceneData:
    """Read a scene store (:func:`eoml.scenes.data.open_scene_store`, checked there) into memory."""
    from eoml.scenes import data as scene_data  # the store module

    ds = scene_data.open_scene_store(store)
    splits = scene_data.split_indices(ds)
    names = scene_data.class_names(ds)
    image = ds["image"].sel(band=["red", "green", "blue"]).transpose("sample", "y", "x", "band")
    return SceneData.from_arrays(np.asarray(image.values), np.asarray(ds["label"].values), splits, names, store)


class FeatureDataset(Dataset):
    """``{"x": (C,) float32 cached features, "y": int64}`` of the samples ``index``."""

    def __init__(self, features: torch.Tensor, labels: np.ndarray, index: np.ndarray):
        self.features, self.index = features, np.asarray(index, dtype=np.int64)
        self.labels = torch.from_numpy(np.asarray(labels, dtype=np.int64))

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, key) -> dict[str, torch.Tensor]:
        j = int(self.index[sample_key(key)[0]])
        return {"x": self.features[j], "y": self.labels[j]}


# --------------------------------------------------------------------------------------------
# task, features, prediction
# --------------------------------------------------------------------------------------------
class SceneTask(ClassificationTask):
    """Core classification (cross-entropy; ``acc``, ``f1`` per epoch) plus the fine-tune schedule
    and the epoch's wall time (``seconds``, training + validation).

    ``freeze_epochs``: the model's base (``model.freeze_base`` / ``unfreeze_base``) is frozen in
    the epochs before it and trains from it on, set at the start of every epoch from the epoch
    number (so a resumed run does the same).
    """

    def __init__(self, model, num_classes: int, *, freeze_epochs: int | None = None, **kwargs):
        super().__init__(model, num_classes, **kwargs)
        self.freeze_epochs = None if freeze_epochs is None else int(freeze_epochs)
        self._epoch_start = time.perf_counter()

    def on_train_epoch_start(self) -> None:
        if self.freeze_epochs is not None:
            if self.current_epoch < self.freeze_epochs:
                self.model.freeze_base()
            else:
                self.model.unfreeze_base()
        self._epoch_start = time.perf_counter()
        super().on_train_epoch_start()

    def on_train_epoch_end(self) -> None:
        self.log("seconds", time.perf_counter() - self._epoch_start, on_step=False, on_epoch=True)


@torch.no_grad()
def _batched(fn, images: torch.Tensor, device: torch.device, batch: int = INFER_BATCH) -> torch.Tensor:
    out = []
    for start in range(0, images.shape[0], batch):
        x = images[start:start + batch].to(device=device, dtype=torch.float32) / 255.0
        out.append(fn(x).float().cpu())
    return torch.cat(out) if out else torch.zeros(0)


def _in_eval(net: SceneClassifier, fn, images: torch.Tensor, device) -> torch.Tensor:
    """``fn`` over ``uint8`` images in batches, with ``net`` in eval mode on ``device`` (no
    gradients); the model's mode and device are restored."""
    device = select_device(device)
    was_training, was_on = net.training, next(net.parameters()).device
    net.eval().to(device)
    try:
        return _batched(fn, images, device)
    finally:
        net.train(was_training).to(was_on)


def compute_features(net: SceneClassifier, images: torch.Tensor, device=None) -> torch.Tensor:
    """Pooled base features ``(N, C)`` float32 of ``uint8`` images ``(N, 3, H, W)`` (eval mode,
    no gradients; the model's mode and device are restored)."""
    return _in_eval(net, net.features, images, device)


def predict_logits(net: SceneClassifier, images: torch.Tensor, device=None) -> torch.Tensor:
    """Logits ``(N, n_classes)`` of ``uint8`` images ``(N, 3, H, W)`` (eval mode, no gradients)."""
    return _in_eval(net, net, images, device)


def chance_accuracy(val_labels: np.ndarray) -> tuple[float, float]:
    """``(p0, threshold)``: the majority-class frequency of the validation labels and the best
    validation accuracy a run must exceed not to count as collapsed (module docstring)."""
    val_labels = np.asarray(val_labels, dtype=np.int64)
    n = len(val_labels)
    if n == 0:
        raise ValueError("no validation sample")
    p0 = float(np.bincount(val_labels).max() / n)
    return p0, p0 + CHANCE_Z * math.sqrt(p0 * (1.0 - p0) / n)


# --------------------------------------------------------------------------------------------
# settings
# --------------------------------------------------------------------------------------------
def _settings(job: Mapping[str, Any], cfg: Mapping[str, Any]) -> dict[str, Any]:
    """The job and the config parts it uses, checked (every key required: the schema fills them)."""
    job = required_keys(job, JOB_KEYS, "job")
    job = {**job, "seed": int(job["seed"])}
    if job["mode"] not in MODES:
        raise ConfigError(f"job mode: {job['mode']!r} is not one of {MODES}")
    if job["mode"] == "random" and job["init"] != "random":
        raise ConfigError(f"job mode 'random' trains random weights from the start: init must be 'random', "
                          f"not {job['init']!r} (fine_tune or feature_extraction start from other weights)")
    cfg = required_keys(cfg, CONFIG_KEYS, "scenes")
    optimizers = cfg["optimizers"]
    if job["optimizer"] not in optimizers:
        raise ConfigError(f"scenes.optimizers: no optimizer named {job['optimizer']!r} "
                          f"(configured: {', '.join(optimizers)})")
    opt = required_keys(optimizers[job["optimizer"]], OPTIMIZER_KEYS, f"scenes.optimizers.{job['optimizer']}")
    training = required_keys(cfg["training"], SCENE_TRAINING_KEYS, "scenes.training")
    collapse = required_keys(cfg["collapse"], COLLAPSE_KEYS, "scenes.collapse")
    if not float(collapse["lr_divisor"]) > 0:
        raise ConfigError(f"scenes.collapse.lr_divisor must be positive (got {collapse['lr_divisor']})")
    if not float(opt["learning_rate"]) > 0:
        raise ConfigError(f"scenes.optimizers.{job['optimizer']}.learning_rate must be positive")
    return {
        "job": job,
        "top": required_keys(cfg["top"], ("hidden", "dropout"), "scenes.top"),
        "optimizer": {"algorithm": str(opt["algorithm"]), "learning_rate": float(opt["learning_rate"]),
                      "momentum": float(opt["momentum"]),
                      "clip_norm": None if opt["clip_norm"] is None else float(opt["clip_norm"])},
        "training": training,
        "feature_cache": bool(cfg["feature_cache"]),
        "collapse": {"retry": bool(collapse["retry"]), "lr_divisor": float(collapse["lr_divisor"])},
        "weights_path": None if cfg["weights_path"] is None else str(cfg["weights_path"]),
    }


# --------------------------------------------------------------------------------------------
# networks
# --------------------------------------------------------------------------------------------
def _build_network(s: Mapping[str, Any], n_classes: int, init_model: str | Path | None) -> SceneClassifier:
    job = s["job"]
    init = job["init"]
    if init in INITS:
        if init_model is not None:
            raise ConfigError(f"job init {init!r}: init_model ({init_model}) is only for a transfer "
                              "(init = the name of the dataset the model was trained on)")
        return build_classifier(job["backbone"], init, job["depth"], n_classes, s["top"], s["weights_path"])
    if init_model is None:
        raise ConfigError(f"job init {init!r} (a model trained on dataset {init!r}): init_model, that "
                          "run's model.pt, is required")
    record = load_model_file(init_model, kind=MODEL_KIND)
    source = (record.arch.get("backbone"), record.arch.get("depth"))
    if source != (job["backbone"], job["depth"]):
        raise InputFileError(init_model, f"holds a {source[0]} cut at {source[1]}, not the job's "
                                         f"{job['backbone']} cut at {job['depth']}")
    trained_on = record.settings.get("job", {}).get("dataset")
    if trained_on != init:
        raise InputFileError(init_model, f"holds a model trained on {trained_on!r}, not on {init!r} (job init)")
    net = build_classifier(job["backbone"], "random", job["depth"], n_classes, s["top"])
    base = {k[len("base."):]: v for k, v in record.weights.items() if k.startswith("base.")}
    try:
        net.base.load_state_dict(base, strict=True)
    except RuntimeError as exc:
        raise InputFileError(init_model, f"base weights do not fit {job['backbone']} at {job['depth']}: {exc}") from exc
    net.init = init
    return net


def load_classifier(path: str | Path, device: str | torch.device | None = None) -> tuple[SceneClassifier, ModelFile]:
    """A trained classifier (eval mode, on ``device``) and its model-file record from ``model.pt``;
    :class:`InputFileError` naming the file when it is unusable. Needs no ImageNet checkpoint."""
    def build(record: ModelFile):
        arch = record.arch
        net = build_classifier(arch["backbone"], "random", arch["depth"], int(arch["n_classes"]), arch["top"])
        net.init = record.settings["job"]["init"]
        return net, None

    net, record, _ = load_network(path, MODEL_KIND, build, device)
    return net, record


# --------------------------------------------------------------------------------------------
# one attempt
# --------------------------------------------------------------------------------------------
def _core_training(training: Mapping[str, Any], learning_rate: float) -> dict[str, Any]:
    """Core's ``training`` section (:data:`TRAINING_KEYS`) of a job: the scenes training keys with
    the optimiser's (or a retry's) learning rate."""
    return {**{k: training[k] for k in TRAINING_KEYS if k != "learning_rate"}, "learning_rate": learning_rate}


@dataclass
class _Attempt:
    info: dict[str, Any]
    history: pd.DataFrame
    predictions: pd.DataFrame
    weights: dict[str, torch.Tensor]
    sizes: dict[str, int]


def _run_attempt(attempt: int, learning_rate: float, s: Mapping[str, Any], data: SceneData, ckpt_dir: Path,
                 init_model: str | Path | None, augment: bool) -> _Attempt:
    job, training, opt = s["job"], s["training"], s["optimizer"]
    mode, seed = job["mode"], job["seed"]
    cached = mode == "feature_extraction" and s["feature_cache"]
    augment = augment and not cached
    max_epochs = int(training["max_epochs"])
    freeze_epochs = max_epochs // 2 if mode == "fine_tune" else None
    min_epochs = None if freeze_epochs is None else min(max_epochs,
                                                        freeze_epochs + int(training["early_stopping_patience"]))
    settings = _core_training(training, learning_rate)

    seed_everything(seed)  # every attempt starts from the same initial weights
    net = _build_network(s, data.n_classes, init_model)
    if mode in ("feature_extraction", "fine_tune"):
        net.freeze_base()
    fingerprint = {
        "job": job, "attempt": attempt, "top": plain_json(s["top"]), "optimizer": opt, "cache": cached,
        "augment": augment, "data": data.digest, "classes": data.class_names, "freeze_epochs": freeze_epochs,
        "weights_path": s["weights_path"] if job["init"] == "imagenet" else None,
        "init_model": None if init_model is None else sha256_file(init_model),
    }
    task_kwargs = {"optimizer": opt["algorithm"], "momentum": opt["momentum"]}
    feature_seconds = None
    if cached:
        start = time.perf_counter()
        features = compute_features(net, data.images)
        feature_seconds = time.perf_counter() - start
        log.info("cached %s features of %d images in %.1f s", tuple(features.shape[1:]), len(features),
                 feature_seconds)
        train_ds = FeatureDataset(features, data.labels, data.splits["train"])
        val_ds = FeatureDataset(features, data.labels, data.splits["val"])
        task = SceneTask.from_config(net.head, settings, num_classes=data.n_classes, **task_kwargs)
    else:
        train_ds = ImageDataset(data.images, data.splits["train"], labels=data.labels, augment=augment)
        val_ds = ImageDataset(data.images, data.splits["val"], labels=data.labels)
        task = SceneTask.from_config(net, settings, num_classes=data.n_classes, freeze_epochs=freeze_epochs,
                                     **task_kwargs)
    with warnings.catch_warnings():
        # a frozen base is in eval mode on purpose (models docstring)
        warnings.filterwarnings("ignore", message=r".*module\(s\) in eval mode at the start of training.*")
        # a batch of one sample cannot train a BatchNorm on a 1 x 1 map (deep cuts of small images)
        result = train_task(task, train_ds, val_ds, ckpt_dir=ckpt_dir / f"attempt{attempt}", training_cfg=settings,
                            seed=seed, fingerprint=fingerprint, sample_salt=SAMPLE_SALT, avoid_single_batch=True,
                            history_columns=["train_acc", "val_acc", "seconds"], monitor=training["monitor"],
                            gradient_clip_val=opt["clip_norm"], min_epochs=min_epochs,
                            mixed_precision=training["mixed_precision"])

    # the task holds the best epoch's weights (the cached path trained net.head in place)
    net.cpu().eval()
    if cached:
        with torch.no_grad():
            logits = net.head(features)
    else:
        logits = predict_logits(net, data.images)
    pred = logits.argmax(1).numpy()
    rows = []
    for split in SPLITS:
        idx = data.splits[split]
        rows.append(pd.DataFrame({"attempt": attempt, "sample": idx, "split": split,
                                  "label": data.labels[idx], "pred": pred[idx]}))
    predictions = pd.concat(rows, ignore_index=True)[PREDICTION_COLUMNS]

    history = result.history.copy()
    history["attempt"] = attempt
    history = history[HISTORY_COLUMNS]
    p0, threshold = chance_accuracy(data.labels[data.splits["val"]])
    best_val_acc = float(history["val_acc"].max())
    collapsed = not best_val_acc > threshold  # NaN (never validated) counts as collapsed
    info = {"attempt": attempt, "learning_rate": learning_rate, "collapsed": bool(collapsed),
            "best_epoch": int(result.best_epoch), "epochs_run": int(result.epochs_run),
            "best_val_acc": best_val_acc, "chance_acc": p0, "collapse_threshold": threshold,
            "seconds_per_epoch": float(history["seconds"].mean()), "feature_seconds": feature_seconds}
    log.info("attempt %d (learning rate %g): best val acc %.4f at epoch %d of %d (chance %.4f, threshold %.4f)%s",
             attempt, learning_rate, best_val_acc, result.best_epoch, result.epochs_run, p0, threshold,
             ": collapsed" if collapsed else "")
    weights = {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}
    sizes = {"n_parameters": count_parameters(net),
             "n_trainable": count_parameters(net.head) if mode == "feature_extraction" else count_parameters(net)}
    return _Attempt(info, history, predictions, weights, sizes)


# --------------------------------------------------------------------------------------------
# the job
# --------------------------------------------------------------------------------------------
def train_on_data(data: SceneData, out_dir: str | Path, ckpt_dir: str | Path, job: Mapping[str, Any],
                  cfg: Mapping[str, Any], init_model: str | Path | None = None, *,
                  augment: bool = True) -> Path:
    """:func:`train_classifier` on scene data already in memory. ``augment=False`` turns the
    training augmentation off (the cached feature path never augments); it exists to compare
    the cached and the uncached feature extraction."""
    s = _settings(job, cfg)
    job = s["job"]
    out_dir, ckpt_dir, _, seed = training_job(
        out_dir, ckpt_dir, _core_training(s["training"], s["optimizer"]["learning_rate"]), "scenes.training",
        job["seed"])
    if data.image_size < min_image_size(job["backbone"]):
        raise ConfigError(f"image_size {data.image_size} px is below the {min_image_size(job['backbone'])} px "
                          f"that {job['backbone']} needs")
    for split in ("train", "val"):
        if len(data.splits[split]) == 0:
            raise InputFileError(data.path or "scene data", f"the {split} split is empty")

    attempts = [_run_attempt(0, s["optimizer"]["learning_rate"], s, data, ckpt_dir, init_model, augment)]
    if attempts[0].info["collapsed"] and s["collapse"]["retry"]:
        lr = s["optimizer"]["learning_rate"] / s["collapse"]["lr_divisor"]
        log.warning("%s: attempt 0 collapsed to chance; retrying with learning rate %g", out_dir, lr)
        attempts.append(_run_attempt(1, lr, s, data, ckpt_dir, init_model, augment))
    final = attempts[-1]

    history = pd.concat([a.history for a in attempts], ignore_index=True)
    config = {k: s[k] for k in ("top", "optimizer", "training", "feature_cache", "collapse", "weights_path")}
    model_path = save_training_outputs(
        out_dir, history, kind=MODEL_KIND, weights=final.weights,
        arch={"backbone": job["backbone"], "depth": job["depth"], "n_classes": data.n_classes,
              "top": plain_json(s["top"]), "image_size": data.image_size, "class_names": data.class_names},
        norm={"scale": 1.0 / 255.0, "mean": list(IMAGENET_MEAN), "std": list(IMAGENET_STD)},
        settings={"job": job, "seed": seed, "attempt": final.info["attempt"], "best_epoch": final.info["best_epoch"],
                  "epochs_run": final.info["epochs_run"], "learning_rate": final.info["learning_rate"],
                  "collapsed": final.info["collapsed"], "data_digest": data.digest, "config": plain_json(config)},
    )
    with atomic_path(out_dir / "predictions.csv") as tmp:
        pd.concat([a.predictions for a in attempts], ignore_index=True).to_csv(tmp, index=False)
    run = {"job": job, "attempts": [a.info for a in attempts], **final.sizes, "classes": data.class_names,
           "n_samples": {k: len(v) for k, v in data.splits.items()}, "feature_cache": s["feature_cache"],
           "image_size": data.image_size, "store": data.path}
    write_text_atomic(out_dir / "run.json", json.dumps(plain_json(run), indent=1) + "\n")
    log.info("wrote %s (%d attempt(s); final best val acc %.4f)", model_path, len(attempts),
             final.info["best_val_acc"])
    return model_path


def train_classifier(store: str | Path, out_dir: str | Path, ckpt_dir: str | Path, job: Mapping[str, Any],
                     cfg: Mapping[str, Any], init_model: str | Path | None = None) -> Path:
    """Train one scene classifier; write ``model.pt``, ``history.csv``, ``predictions.csv`` and
    ``run.json`` in ``out_dir``; return the model file's path (see the module docstring).

    ``job`` = ``{dataset, backbone, depth, mode, optimizer, seed, init}``; ``cfg`` = the validated
    ``scenes`` section (or its keys ``top, optimizers, training, feature_cache, collapse,
    weights_path``; every key present); ``init_model`` = the source run's ``model.pt`` when
    ``init`` names a dataset. ``ckpt_dir`` (outside ``out_dir``) receives the resumable
    checkpoints and logs of each attempt (``attempt<k>/``). The network is built before the
    store is read, so a missing ImageNet checkpoint fails the job at once.
    """
    s = _settings(job, cfg)
    if s["job"]["init"] == "imagenet":  # fail fast, before reading the store
        from eoml.core.backbones import imagenet_weights_file

        imagenet_weights_file(s["job"]["backbone"], s["weights_path"])
    return train_on_data(load_scene_data(store), out_dir, ckpt_dir, job, cfg, init_model)
