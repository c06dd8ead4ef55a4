"""Lightning training engine shared by every eoml study.

* :func:`seed_everything` — one call that makes a CPU run bitwise reproducible.
* :class:`BaseTask` — a ``LightningModule`` around a plain ``nn.Module``: Adam (or the
  ``optimizer`` named: :data:`OPTIMIZERS`, with ``momentum`` and ``weight_decay``) +
  ``ReduceLROnPlateau`` on ``val_loss``; logs ``train_loss``, ``val_loss`` and ``lr`` once per
  epoch. Studies subclass it and override :meth:`BaseTask.compute_loss`.
  :class:`RegressionTask` is the MSE regression case.
* :class:`DataModule` — train / val datasets with the ``(seed, epoch)`` shuffle
  (:class:`EpochShuffleSampler`, or :class:`SeededEpochSampler` when samples draw their own
  random crops / augmentations) and deterministic single-process loaders.
* :func:`run_training` — trains a task with early stopping, keeps ``best.ckpt`` and ``last.ckpt``
  in ``ckpt_dir`` (best by ``monitor``: lowest ``val_loss`` by default, or highest ``val_acc``, or
  ``"last"``: the last epoch, without early stopping; optional gradient clipping by norm and a
  minimum number of epochs), resumes a killed job from ``last.ckpt``, writes CSV + TensorBoard logs and
  ``history.csv`` under ``run_dir`` (for the user), and returns a :class:`TrainingResult`: the
  *best* validation epoch's weights (also left in the task), the per-epoch history as a
  ``DataFrame`` and the best epoch.
* :func:`training_settings` — the ``training`` config keys, all required: the schema is the one
  source of their defaults (a missing key is a :class:`ConfigError`, never a silent fallback).
* :func:`select_device`, :func:`count_parameters`.

Reproducibility: the data order of epoch ``e`` depends only on ``(seed, e)`` (see
:class:`EpochShuffleSampler`) and the global RNGs are re-seeded from ``(seed, e)`` at the start of
every epoch, so a run resumed from ``last.ckpt`` continues exactly as the uninterrupted run would
have. Checkpoints are written atomically (temporary file + rename), so a job killed at any moment
leaves a loadable ``last.ckpt``.

A checkpoint directory is only ever resumed by a job with the same settings: ``run_training`` stores a
fingerprint (training settings, seed, task and model architecture, the optimiser, monitor, clipping
and minimum epochs where they differ from the defaults — so a fingerprint of the defaults is the
one written before these options existed — plus whatever the caller adds, e.g. a digest of the
input store) in ``ckpt_dir/fingerprint.json`` and starts afresh, wiping old
checkpoints and logs, when it differs. When a previous job with the same fingerprint finished
(``ckpt_dir/complete.json``), training is skipped and the best checkpoint is loaded.
"""

from __future__ import annotations

import json
import logging
import os
import random
import re
import shutil
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning
import numpy as np
import pandas as pd
import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO
from lightning.pytorch.callbacks import (
    Callback,
    EarlyStopping,
    ModelCheckpoint,
    TQDMProgressBar,
)
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger
from torch import nn
from torch.utils.data import DataLoader, Dataset, Sampler

from eoml.core.config import canonical_json, config_digest
from eoml.core.errors import ConfigError
from eoml.core.io import atomic_path, write_text_atomic
from eoml.core.settings import required_keys

log = logging.getLogger(__name__)

#: Keys of a ``training`` config section (their defaults live in the schema only).
TRAINING_KEYS = ("max_epochs", "batch_size", "learning_rate", "early_stopping_patience", "lr_patience",
                 "lr_factor", "min_lr")

HISTORY_COLUMNS = ["epoch", "train_loss", "val_loss", "lr"]

#: Optimisers of :class:`BaseTask` (``optimizer=``): the torch class of each name.
OPTIMIZERS: dict[str, type[torch.optim.Optimizer]] = {
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "nadam": torch.optim.NAdam,
    "sgd": torch.optim.SGD,
    "adamax": torch.optim.Adamax,
}
#: :class:`BaseTask`'s optimiser keywords and their defaults (Adam without weight decay).
OPTIMIZER_DEFAULTS = {"optimizer": "adam", "momentum": 0.0, "weight_decay": 0.0}

#: Quantities :func:`run_training` can monitor (best checkpoint, early stopping) and their direction.
MONITOR_MODES = {"val_loss": "min", "val_acc": "max"}
#: The ``monitor`` that keeps the last epoch (no early stopping): for tasks whose targets change
#: from epoch to epoch (e.g. DeepCluster's pseudo-labels), where validation losses do not compare.
MONITOR_LAST = "last"
#: :func:`run_training`'s run options and their defaults.
RUN_DEFAULTS = {"monitor": "val_loss", "gradient_clip_val": None, "min_epochs": None, "mixed_precision": False}

_FINGERPRINT = "fingerprint.json"
_COMPLETE = "complete.json"


# --------------------------------------------------------------------------------------------
# settings, device, size
# --------------------------------------------------------------------------------------------
def training_settings(training_cfg: Mapping[str, Any], where: str = "training") -> dict[str, Any]:
    """The ``training`` section's keys (:data:`TRAINING_KEYS`), all required.

    ``training_cfg`` comes from the validated configuration, where the schema filled every default;
    a missing key raises :class:`ConfigError` naming it (``where`` prefixes the key in the message).
    """
    return required_keys(training_cfg, TRAINING_KEYS, where)


def select_device(device: str | torch.device | None = None) -> torch.device:
    """The device to run a model on: ``device`` when given, else CUDA when visible, else the CPU.

    ``None`` or ``"auto"`` choose; an explicit ``"cuda"`` on a machine without CUDA, or a name
    torch does not know, raises :class:`ConfigError`.
    """
    if device is None or str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        chosen = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ConfigError(f"device {device!r} is not a torch device ({exc})") from exc
    if chosen.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {device!r}: CUDA is not available on this machine")
    return chosen


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters of ``model`` (only those with ``requires_grad`` when ``trainable_only``)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


# --------------------------------------------------------------------------------------------
# seeding
# --------------------------------------------------------------------------------------------
def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (all devices) and ask torch for deterministic algorithms.

    On a GPU machine ``CUBLAS_WORKSPACE_CONFIG`` is set (if not already) so that cuBLAS is
    deterministic too; it must be set before the first cuBLAS call, hence here.
    """
    if torch.cuda.is_available():
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    lightning.seed_everything(int(seed), workers=True, verbose=False)
    torch.use_deterministic_algorithms(True, warn_only=True)


def epoch_seed(seed: int, epoch: int) -> int:
    """A 32-bit seed derived from a run seed and an epoch number (stable across runs)."""
    return int(np.random.SeedSequence([int(seed) & 0xFFFFFFFF, int(epoch)]).generate_state(1)[0])


def _reseed_global(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


class EpochShuffleSampler(Sampler[int]):
    """Random permutation of ``range(n)`` that depends only on ``(seed, epoch)``.

    Lightning calls :meth:`set_epoch` at the start of every epoch (also after a resume), so the
    order of epoch ``e`` is the same whether or not the run was interrupted before it.
    """

    def __init__(self, n: int, seed: int):
        self.n = int(n)
        self.seed = int(seed)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __iter__(self) -> Iterator[int]:
        gen = torch.Generator().manual_seed(epoch_seed(self.seed, self.epoch))
        return iter(torch.randperm(self.n, generator=gen).tolist())

    def __len__(self) -> int:
        return self.n


class SeededEpochSampler(EpochShuffleSampler):
    """The ``(seed, epoch)`` shuffle yielding ``(index, sample seed)`` pairs.

    The sample seed depends only on ``(seed, epoch, index, salt)``: a dataset's random crops and
    augmentations are reproducible, independent of the batch order and of the global RNG state
    (which Lightning draws from at different moments in a fresh and a resumed run).
    """

    def __init__(self, n: int, seed: int, salt: int = 0):
        super().__init__(n, seed)
        self.salt = int(salt)

    def __iter__(self) -> Iterator[tuple[int, int]]:
        seeds = np.random.SeedSequence([self.seed & 0xFFFFFFFF, self.epoch, self.salt]).generate_state(
            max(self.n, 1), dtype=np.uint64)
        for i in super().__iter__():
            yield i, int(seeds[i] >> np.uint64(1))


class DataModule(lightning.LightningDataModule):
    """Train / val datasets for :func:`run_training`, with deterministic single-process loaders.

    Training batches follow the ``(seed, epoch)`` shuffle: :class:`EpochShuffleSampler` (the
    dataset gets plain indices) or, with ``sample_salt``, :class:`SeededEpochSampler` (the dataset
    gets ``(index, sample seed)`` keys for its random crops and augmentations; the salt keeps the
    sample seeds of different studies apart). Validation batches keep the dataset order and get
    plain indices. ``avoid_single_batch`` drops a last training batch of one sample (a batch
    norm on a 1 × 1 map cannot train on it).
    """

    def __init__(self, train: Dataset, val: Dataset, *, batch_size: int, seed: int,
                 sample_salt: int | None = None, avoid_single_batch: bool = False):
        super().__init__()
        self.train_ds, self.val_ds = train, val
        self.batch_size, self.seed = int(batch_size), int(seed)
        self.sample_salt = None if sample_salt is None else int(sample_salt)
        self.avoid_single_batch = bool(avoid_single_batch)

    def train_dataloader(self) -> DataLoader:
        n = len(self.train_ds)
        if self.sample_salt is None:
            sampler: Sampler = EpochShuffleSampler(n, self.seed)
        else:
            sampler = SeededEpochSampler(n, self.seed, salt=self.sample_salt)
        drop_last = self.avoid_single_batch and n > self.batch_size and n % self.batch_size == 1
        return DataLoader(self.train_ds, batch_size=self.batch_size, sampler=sampler, num_workers=0,
                          drop_last=drop_last)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(self.val_ds, batch_size=self.batch_size, shuffle=False, num_workers=0)


# --------------------------------------------------------------------------------------------
# tasks
# --------------------------------------------------------------------------------------------
class BaseTask(lightning.LightningModule):
    """A learning task around a plain ``nn.Module``.

    Subclasses implement :meth:`compute_loss` (``batch -> scalar loss``); the optimiser, the
    learning-rate schedule and the logging are shared.

    Optimiser: ``optimizer`` names a torch optimiser (:data:`OPTIMIZERS`: ``adam`` — the default —,
    ``adamw``, ``nadam``, ``sgd``, ``adamax``) built over all of ``model``'s parameters (frozen ones
    have no gradient and are skipped by torch, so unfreezing later needs no new optimiser) with
    ``lr=learning_rate`` and ``weight_decay`` passed as given (so ``adamw`` decays only when asked,
    not with torch's 0.01 default); ``momentum`` is SGD's (heavy-ball, as Keras' ``SGD(momentum)``)
    and must be 0 for the others, whose moment estimates are their own. Defaults: Adam, momentum
    0, weight decay 0 (the optimiser every study used before the option existed).
    """

    def __init__(
        self,
        model: nn.Module,
        loss: nn.Module | None = None,
        *,
        learning_rate: float,
        lr_factor: float,
        lr_patience: int,
        min_lr: float,
        optimizer: str = OPTIMIZER_DEFAULTS["optimizer"],
        momentum: float = OPTIMIZER_DEFAULTS["momentum"],
        weight_decay: float = OPTIMIZER_DEFAULTS["weight_decay"],
    ):
        super().__init__()
        if optimizer not in OPTIMIZERS:
            raise ConfigError(f"optimizer: {optimizer!r} is not one of {', '.join(OPTIMIZERS)}")
        if float(momentum) < 0 or float(weight_decay) < 0:
            raise ConfigError(f"momentum ({momentum}) and weight_decay ({weight_decay}) must not be negative")
        if float(momentum) and optimizer != "sgd":
            raise ConfigError(f"momentum: {momentum} is SGD's; optimizer {optimizer!r} takes momentum 0")
        self.model = model
        self.loss = loss if loss is not None else nn.MSELoss()
        self.learning_rate = float(learning_rate)
        self.lr_factor = float(lr_factor)
        self.lr_patience = int(lr_patience)
        self.min_lr = float(min_lr)
        self.optimizer_name = str(optimizer)
        self.momentum = float(momentum)
        self.weight_decay = float(weight_decay)
        self.save_hyperparameters(ignore=["model", "loss"])

    def optimizer_settings(self) -> dict[str, Any]:
        """``{"optimizer", "momentum", "weight_decay"}`` of this task (see :data:`OPTIMIZER_DEFAULTS`)."""
        return {"optimizer": self.optimizer_name, "momentum": self.momentum, "weight_decay": self.weight_decay}

    @classmethod
    def from_config(cls, model: nn.Module, training_cfg: Mapping[str, Any], **kwargs) -> BaseTask:
        """Build a task with the optimiser settings of a ``training`` config section (all keys required)."""
        cfg = training_settings(training_cfg)
        return cls(
            model,
            learning_rate=cfg["learning_rate"],
            lr_factor=cfg["lr_factor"],
            lr_patience=cfg["lr_patience"],
            min_lr=cfg["min_lr"],
            **kwargs,
        )

    def forward(self, *args, **kwargs):
        return self.model(*args, **kwargs)

    def compute_loss(self, batch) -> torch.Tensor:
        raise NotImplementedError(f"{type(self).__name__} must implement compute_loss(batch)")

    @staticmethod
    def _batch_size(batch) -> int | None:
        if isinstance(batch, Mapping):
            batch = list(batch.values())
        first = batch[0] if isinstance(batch, (list, tuple)) and batch else batch
        return int(first.shape[0]) if isinstance(first, torch.Tensor) and first.ndim else None

    def training_step(self, batch, batch_idx):
        loss = self.compute_loss(batch)
        self.log("train_loss", loss, on_step=False, on_epoch=True, prog_bar=True,
                 batch_size=self._batch_size(batch))
        return loss

    def validation_step(self, batch, batch_idx):
        loss = self.compute_loss(batch)
        self.log("val_loss", loss, on_step=False, on_epoch=True, prog_bar=True,
                 batch_size=self._batch_size(batch))
        return loss

    def on_train_epoch_start(self) -> None:
        # the plateau scheduler steps at epoch ends: this is the rate the whole epoch trains with
        optimizer = self.optimizers()
        if isinstance(optimizer, (list, tuple)):
            optimizer = optimizer[0]
        self.log("lr", float(optimizer.param_groups[0]["lr"]), on_step=False, on_epoch=True)

    def configure_optimizers(self):
        extra = {"momentum": self.momentum} if self.optimizer_name == "sgd" else {}
        optimizer = OPTIMIZERS[self.optimizer_name](self.model.parameters(), lr=self.learning_rate,
                                                    weight_decay=self.weight_decay, **extra)
        scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, mode="min", factor=self.lr_factor, patience=self.lr_patience, min_lr=self.min_lr
        )
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "monitor": "val_loss", "interval": "epoch",
                             "frequency": 1},
        }


class RegressionTask(BaseTask):
    """Regression with a mean-squared-error loss (or the ``loss`` given); batch = ``(x, y)``."""

    def compute_loss(self, batch) -> torch.Tensor:
        x, y = batch
        return self.loss(self(x).reshape(y.shape), y)


# --------------------------------------------------------------------------------------------
# callbacks and plugins
# --------------------------------------------------------------------------------------------
class _AtomicCheckpointIO(TorchCheckpointIO):
    """Writes each checkpoint to a temporary sibling and renames it into place."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path, storage_options=None) -> None:
        if storage_options is not None:
            raise TypeError("storage_options are not supported by eoml's checkpoint writer")
        with atomic_path(path) as tmp:
            torch.save(checkpoint, tmp)


class _EpochReseed(Callback):
    """Re-seeds the global RNGs (dropout, augmentation) from ``(seed, epoch)`` every epoch.

    Done just before the first training batch: creating a DataLoader iterator draws from the
    global RNG, and after a resume Lightning creates it at a different moment.
    """

    def __init__(self, seed: int):
        self.seed = int(seed)

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if batch_idx == 0:
            _reseed_global(epoch_seed(self.seed, 1_000_003 + trainer.current_epoch))


class _EpochSummary(Callback):
    """One readable log line per epoch (the progress bar is hard to read in log files)."""

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        metrics = trainer.callback_metrics
        parts = [f"{k}={float(metrics[k]):.6g}" for k in ("train_loss", "val_loss", "lr") if k in metrics]
        log.info("epoch %d/%d: %s", trainer.current_epoch, trainer.max_epochs - 1, " ".join(parts))


# --------------------------------------------------------------------------------------------
# run_training
# --------------------------------------------------------------------------------------------
def _load_ckpt(path: Path) -> dict:
    # our own files, written by this module: full unpickling is safe
    return torch.load(path, map_location="cpu", weights_only=False)


def _fingerprint(task: BaseTask, training_cfg: Mapping, seed: int, extra: Any,
                 run_options: Mapping[str, Any] | None = None) -> dict:
    """What a checkpoint directory is resumed for. The optimiser and run options enter only where
    they differ from their defaults, so the defaults give the fingerprint (and digest) written
    before these options existed: checkpoints of earlier runs still resume."""
    fingerprint = {
        "training": dict(training_cfg),
        "seed": int(seed),
        "task": type(task).__qualname__,
        "model": repr(task.model),
        "extra": extra,
    }
    settings = task.optimizer_settings() if hasattr(task, "optimizer_settings") else {}
    optimizer = {k: v for k, v in settings.items() if v != OPTIMIZER_DEFAULTS[k]}
    if optimizer:
        fingerprint["optimizer"] = optimizer
    run = {k: v for k, v in (run_options or {}).items() if v != RUN_DEFAULTS[k]}
    if run:
        fingerprint["run"] = run
    return fingerprint


def _wipe(run_dir: Path, ckpt_dir: Path) -> None:
    for path in ckpt_dir.glob("*.ckpt"):
        path.unlink()
    for name in (_COMPLETE, _FINGERPRINT):
        (ckpt_dir / name).unlink(missing_ok=True)
    for sub in ("csv", "tensorboard"):
        shutil.rmtree(run_dir / sub, ignore_errors=True)
    for name in ("history.csv", "best_epoch.txt"):
        (run_dir / name).unlink(missing_ok=True)


def _prepare(run_dir: Path, ckpt_dir: Path, fingerprint: dict) -> tuple[str, Path | None, int]:
    """Decide between ``fresh``, ``resume`` and ``complete``: (state, checkpoint, its epoch)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    for partial in ckpt_dir.glob(".*.tmp-*"):  # left by a job killed while writing a checkpoint
        partial.unlink(missing_ok=True)
    fp_file = ckpt_dir / _FINGERPRINT
    digest = config_digest(fingerprint)
    stored = None
    if fp_file.exists():
        try:
            stored = json.loads(fp_file.read_text()).get("digest")
        except (OSError, ValueError):
            stored = None
    last = ckpt_dir / "last.ckpt"
    if stored == digest:
        if (ckpt_dir / _COMPLETE).exists() and (ckpt_dir / "best.ckpt").exists():
            return "complete", ckpt_dir / "best.ckpt", -1
        if last.exists():
            try:
                epoch = int(_load_ckpt(last)["epoch"])
            except Exception as exc:  # noqa: BLE001 - any unreadable checkpoint means start again
                log.warning("%s: unreadable checkpoint (%s); training from scratch", last, exc)
            else:
                return "resume", last, epoch
    elif stored is not None or any(ckpt_dir.glob("*.ckpt")):
        log.warning("%s: checkpoints belong to other settings or inputs; training from scratch", ckpt_dir)
    _wipe(run_dir, ckpt_dir)
    write_text_atomic(fp_file, json.dumps({"digest": digest, "fingerprint": json.loads(
        canonical_json(fingerprint))}, indent=1, sort_keys=True))
    return "fresh", None, -1


def _version_number(path: Path) -> int:
    match = re.fullmatch(r"version_(\d+)", path.name)
    return int(match.group(1)) if match else -1


def read_history(run_dir: str | Path, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """Per-epoch ``epoch, train_loss, val_loss, lr`` from all CSV-logger versions of a run.

    ``columns`` lists extra epoch-level metrics a task logged (e.g. ``train_mse``); they follow
    the default columns (NaN where a metric was never logged). A resumed job logs to a new version
    directory; epochs logged twice (the epoch a killed job was in) keep the later values.
    """
    wanted = list(dict.fromkeys([*HISTORY_COLUMNS, *(columns or ())]))
    frames = []
    versions = sorted((Path(run_dir) / "csv").glob("version_*"), key=_version_number)
    for version in versions:
        metrics = version / "metrics.csv"
        if metrics.exists() and metrics.stat().st_size > 0:
            frame = pd.read_csv(metrics)
            if "epoch" in frame:
                frames.append(frame)
    if not frames:
        return pd.DataFrame(columns=wanted)
    table = pd.concat(frames, ignore_index=True)
    table = table[table["epoch"].notna()]
    for column in wanted[1:]:
        if column not in table:
            table[column] = np.nan
    history = table.groupby("epoch", sort=True)[wanted[1:]].last().reset_index()
    history["epoch"] = history["epoch"].astype(int)
    return history[wanted]


def _write_history(run_dir: Path, history: pd.DataFrame, best_epoch: int) -> None:
    """``history.csv`` and ``best_epoch.txt`` in the run's log folder, for the user to read."""
    with atomic_path(run_dir / "history.csv") as tmp:
        history.to_csv(tmp, index=False)
    write_text_atomic(run_dir / "best_epoch.txt", f"{best_epoch}\n")


def _progress_refresh_rate(datamodule) -> int:
    if os.isatty(2):
        return 1
    # in a log file every refresh is a new line: about ten per epoch
    try:
        n_batches = len(datamodule.train_dataloader())
    except Exception:  # noqa: BLE001 - only a cosmetic choice
        return 50
    return max(1, n_batches // 10)


def training_job(out_dir: str | Path, ckpt_dir: str | Path, training_cfg: Mapping[str, Any],
                 where: str, seed: int) -> tuple[Path, Path, dict[str, Any], int]:
    """A training job's set-up: its output and checkpoint folders (a checkpoint folder inside the
    outputs is refused: :func:`check_checkpoint_dir`), its training settings
    (:func:`training_settings`, every key required; ``where`` names the section in errors) and its
    seed, with which every random generator is seeded (:func:`seed_everything`) so that the
    network built next has reproducible initial weights. Returns ``(out_dir, ckpt_dir, settings,
    seed)``."""
    out_dir, ckpt_dir = Path(out_dir), Path(ckpt_dir)
    check_checkpoint_dir(out_dir, ckpt_dir)
    settings = training_settings(training_cfg, where)
    seed = int(seed)
    seed_everything(seed)
    return out_dir, ckpt_dir, settings, seed


def save_training_outputs(out_dir: str | Path, history: pd.DataFrame, **model_file: Any) -> Path:
    """A training job's outputs: ``out_dir/model.pt`` (:func:`eoml.core.modelfile.save_model_file`
    with ``model_file``: ``kind``, ``weights``, ``arch``, ``norm``, ``settings``) and
    ``out_dir/history.csv``, each written atomically; returns the model file's path."""
    from eoml.core.modelfile import save_model_file

    out_dir = Path(out_dir)
    model_path = save_model_file(out_dir / "model.pt", **model_file)
    with atomic_path(out_dir / "history.csv") as tmp:
        history.to_csv(tmp, index=False)
    return model_path


def check_checkpoint_dir(out_dir: str | Path, ckpt_dir: str | Path) -> None:
    """Refuse a checkpoint directory inside a job's output directory.

    Snakemake deletes the outputs of a failed job; checkpoints kept there could not be resumed.
    """
    out, ckpt = Path(out_dir).resolve(), Path(ckpt_dir).resolve()
    if ckpt == out or ckpt.is_relative_to(out):
        raise ConfigError(
            f"checkpoint directory {ckpt_dir} lies inside the output directory {out_dir}: a failed "
            "job's outputs are deleted, so its checkpoints could not be resumed"
        )


@dataclass(frozen=True)
class TrainingResult:
    """What :func:`run_training` returns.

    ``weights``: the best validation epoch's ``state_dict`` of the task's model (CPU, contiguous
    copies; the task holds the same weights); ``history``: one row per epoch (``epoch,
    train_loss, val_loss, lr`` and the requested extra columns), also across a resume;
    ``best_epoch``: 0-based epoch of the weights; ``checkpoint``: the best checkpoint's path.
    """

    weights: dict[str, torch.Tensor]
    history: pd.DataFrame
    best_epoch: int
    checkpoint: Path

    @property
    def epochs_run(self) -> int:
        return len(self.history)


def run_training(
    task: BaseTask,
    datamodule: lightning.LightningDataModule,
    *,
    run_dir: str | Path,
    ckpt_dir: str | Path,
    training_cfg: Mapping[str, Any],
    seed: int,
    fingerprint: Any = None,
    history_columns: Sequence[str] = (),
    monitor: str = RUN_DEFAULTS["monitor"],
    gradient_clip_val: float | None = RUN_DEFAULTS["gradient_clip_val"],
    min_epochs: int | None = RUN_DEFAULTS["min_epochs"],
    mixed_precision: bool = RUN_DEFAULTS["mixed_precision"],
) -> TrainingResult:
    """Train ``task`` on ``datamodule``; return the best weights, the history and the best epoch.

    ``training_cfg`` is a validated ``training`` section (every key of :data:`TRAINING_KEYS`).
    ``ckpt_dir`` receives ``best.ckpt`` (the best epoch by ``monitor``: lowest ``val_loss``, the
    default, or highest ``val_acc`` — a task that logs it, e.g. a classification task; of equal
    values the earliest epoch is kept; ``"last"``: the latest epoch, for tasks whose validation
    losses do not compare across epochs) and ``last.ckpt`` (end of the latest epoch); keep it
    outside any output a workflow manager deletes on failure. Early stopping watches the same
    quantity (``early_stopping_patience`` epochs without improvement; none with ``"last"``: the
    run lasts ``max_epochs``); the learning-rate plateau
    schedule stays on ``val_loss`` (:class:`BaseTask`). ``gradient_clip_val`` (default none)
    rescales each step's gradients so that their global L2 norm (all parameters together,
    :func:`torch.nn.utils.clip_grad_norm_`) is at most that value; ``min_epochs`` (default none)
    lets early stopping end the run only after that many epochs. ``mixed_precision`` trains with
    automatic mixed precision on a CUDA device (``bf16-mixed`` where the device supports bfloat16,
    else ``16-mixed`` with loss scaling); on a CPU it is ignored (logged) and the run is float32. If ``ckpt_dir/last.ckpt`` exists
    and was written with the same settings (``training_cfg``, ``seed``, model architecture, the
    task's optimiser, ``monitor``, ``gradient_clip_val``, ``min_epochs``, ``mixed_precision`` and the caller's
    ``fingerprint``, any JSON-able object), training continues from it; if that run had finished,
    training is skipped. ``run_dir`` receives the CSV (``csv/version_N``) and TensorBoard logs,
    ``history.csv`` and ``best_epoch.txt`` (for the user; the caller gets them in the result).
    ``history_columns`` are extra epoch-level metrics the task logs (e.g. ``val_acc``).

    On return the task holds the weights of the best validation epoch.
    """
    cfg = training_settings(training_cfg)
    if monitor not in MONITOR_MODES and monitor != MONITOR_LAST:
        raise ConfigError(f"monitor: {monitor!r} is not one of {', '.join([*MONITOR_MODES, MONITOR_LAST])}")
    if gradient_clip_val is not None and not float(gradient_clip_val) > 0:
        raise ConfigError(f"gradient clipping: the norm bound must be positive (got {gradient_clip_val})")
    if min_epochs is not None and int(min_epochs) < 0:
        raise ConfigError(f"min_epochs must not be negative (got {min_epochs})")
    options = {"monitor": str(monitor),
               "gradient_clip_val": None if gradient_clip_val is None else float(gradient_clip_val),
               "min_epochs": None if min_epochs is None else int(min_epochs),
               "mixed_precision": bool(mixed_precision)}
    run_dir, ckpt_dir = Path(run_dir), Path(ckpt_dir)
    state, ckpt, ckpt_epoch = _prepare(run_dir, ckpt_dir, _fingerprint(task, cfg, seed, fingerprint, options))

    if state == "complete":
        log.info("%s: training already complete with these settings; loading the best checkpoint", ckpt_dir)
        best = ckpt
    else:
        if state == "resume":
            log.info("resuming training from %s (epoch %d done)", ckpt, ckpt_epoch)
        seed_everything(seed)
        best = _run_trainer(task, datamodule, run_dir, ckpt_dir, cfg, seed, ckpt, **options)

    best_ckpt = _load_ckpt(best)
    task.load_state_dict(best_ckpt["state_dict"])
    best_epoch = int(best_ckpt["epoch"])
    history = read_history(run_dir, columns=history_columns)
    _write_history(run_dir, history, best_epoch)
    if state != "complete":
        write_text_atomic(ckpt_dir / _COMPLETE, json.dumps({"best_epoch": best_epoch}) + "\n")
    log.info("best epoch %d (%s)", best_epoch, best)
    weights = {k: v.detach().cpu().contiguous().clone() for k, v in task.model.state_dict().items()}
    return TrainingResult(weights=weights, history=history, best_epoch=best_epoch, checkpoint=best)


def train_task(
    task: BaseTask,
    train: Dataset,
    val: Dataset,
    *,
    ckpt_dir: str | Path,
    training_cfg: Mapping[str, Any],
    seed: int,
    fingerprint: Any = None,
    run_dir: str | Path | None = None,
    sample_salt: int | None = None,
    avoid_single_batch: bool = False,
    history_columns: Sequence[str] = (),
    monitor: str = RUN_DEFAULTS["monitor"],
    gradient_clip_val: float | None = RUN_DEFAULTS["gradient_clip_val"],
    min_epochs: int | None = RUN_DEFAULTS["min_epochs"],
    mixed_precision: bool = RUN_DEFAULTS["mixed_precision"],
) -> TrainingResult:
    """:func:`run_training` on a train and a validation dataset: the :class:`DataModule` (batch size
    of ``training_cfg``, the ``(seed, epoch)`` shuffle, ``sample_salt`` and ``avoid_single_batch``
    as there) is built here; the logs go to ``run_dir`` (default ``ckpt_dir/logs``); ``monitor``,
    ``gradient_clip_val``, ``min_epochs`` and ``mixed_precision`` as for :func:`run_training`. Logs the model's
    parameter count and the dataset sizes."""
    log.info("%s: %d parameters (%d trainable); %d train / %d validation samples",
             type(task.model).__name__, count_parameters(task.model), count_parameters(task.model, True),
             len(train), len(val))
    datamodule = DataModule(train, val, batch_size=training_cfg["batch_size"], seed=seed, sample_salt=sample_salt,
                            avoid_single_batch=avoid_single_batch)
    return run_training(task, datamodule, run_dir=Path(ckpt_dir) / "logs" if run_dir is None else run_dir,
                        ckpt_dir=ckpt_dir, training_cfg=training_cfg, seed=seed, fingerprint=fingerprint,
                        history_columns=history_columns, monitor=monitor, gradient_clip_val=gradient_clip_val,
                        min_epochs=min_epochs, mixed_precision=mixed_precision)


def _cluster_environment() -> list:
    """Inside a SLURM job: Lightning's SLURM environment *without* its auto-requeue. A cancelled,
    pre-empted or timed-out job is resubmitted by the workflow manager (Snakemake's ``retries``)
    and resumes from its last checkpoint; Lightning's own ``scontrol requeue`` would race with it."""
    if "SLURM_NTASKS" not in os.environ or os.environ.get("SLURM_JOB_NAME") in ("bash", "interactive"):
        return []  # Lightning's own test (SLURMEnvironment.detect), without its srun warnings
    from lightning.fabric.plugins.environments import SLURMEnvironment

    with warnings.catch_warnings():
        # "srun is available but not used": Snakemake's SLURM executor runs each job as a batch
        # script on purpose (one process, one device)
        warnings.filterwarnings("ignore", message=r".*srun.*")
        return [SLURMEnvironment(auto_requeue=False)]


def _run_trainer(task, datamodule, run_dir: Path, ckpt_dir: Path, cfg: dict, seed: int,
                 resume_from: Path | None, *, monitor: str = RUN_DEFAULTS["monitor"],
                 gradient_clip_val: float | None = None, min_epochs: int | None = None,
                 mixed_precision: bool = False) -> Path:
    on_gpu = torch.cuda.is_available()
    det_enabled = torch.are_deterministic_algorithms_enabled()
    det_warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    if monitor == MONITOR_LAST:
        # "best" is the latest epoch: the highest epoch number (ModelCheckpoint always offers it)
        checkpoint = ModelCheckpoint(dirpath=ckpt_dir, filename="best", monitor="epoch", mode="max", save_top_k=1,
                                     save_last=False, enable_version_counter=False)
        stopping = []
    else:
        mode = MONITOR_MODES[monitor]
        checkpoint = ModelCheckpoint(
            dirpath=ckpt_dir, filename="best", monitor=monitor, mode=mode, save_top_k=1,
            save_last=False, enable_version_counter=False,
        )
        stopping = [EarlyStopping(monitor=monitor, mode=mode, patience=int(cfg["early_stopping_patience"]))]
    # Lightning >= 2.6 writes ``save_last`` only in epochs that also wrote a top-k checkpoint, so
    # "last" is its own unmonitored checkpoint, written (after "best") at the end of every epoch
    last = ModelCheckpoint(dirpath=ckpt_dir, filename="last", monitor=None, save_top_k=1,
                           enable_version_counter=False)
    callbacks = [
        *stopping,
        checkpoint,
        last,
        TQDMProgressBar(refresh_rate=_progress_refresh_rate(datamodule)),
        _EpochReseed(seed),
        _EpochSummary(),
    ]
    loggers = [
        CSVLogger(save_dir=run_dir, name="csv", flush_logs_every_n_steps=1),
        TensorBoardLogger(save_dir=run_dir, name="tensorboard", default_hp_metric=False),
    ]
    # options are passed only when set, so a default run builds the Trainer it always built
    options: dict[str, Any] = {}
    if gradient_clip_val is not None:
        options.update(gradient_clip_val=float(gradient_clip_val), gradient_clip_algorithm="norm")
    if min_epochs is not None:
        options["min_epochs"] = int(min_epochs)
    if mixed_precision:
        options["precision"] = amp_precision(on_gpu)
    with warnings.catch_warnings():
        # on any machine with SLURM's client installed, Lightning warns that `srun` "is not used":
        # eoml's jobs are one process on one device, submitted by the workflow manager
        warnings.filterwarnings("ignore", message=r".*`srun` command is available.*")
        trainer = _trainer(options, cfg, callbacks, loggers, on_gpu, run_dir, resume_from)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*`srun` command is available.*")
        warnings.filterwarnings("ignore", message=r".*does not have many workers.*")
        warnings.filterwarnings("ignore", message=r".*Checkpoint directory .* exists and is not empty.*")
        # Lightning 2.6 internals on torch >= 2.10; nothing a user can act on
        warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\)` is deprecated.*")
        try:
            trainer.fit(task, datamodule=datamodule, ckpt_path=str(resume_from) if resume_from else None)
        finally:
            # the Trainer switched torch to strict determinism process-wide: restore what it found
            torch.use_deterministic_algorithms(det_enabled, warn_only=det_warn_only)
    if trainer.interrupted:
        raise KeyboardInterrupt("training interrupted")
    best = Path(checkpoint.best_model_path) if checkpoint.best_model_path else ckpt_dir / "best.ckpt"
    if not best.exists():
        raise RuntimeError(f"{ckpt_dir}: training finished without a best checkpoint")
    return best


def amp_precision(on_gpu: bool) -> str:
    """Lightning's precision for a mixed-precision run: ``bf16-mixed`` on a CUDA device with
    bfloat16 (Ampere and later: no loss scaling needed), ``16-mixed`` on an older one (float16 with
    a gradient scaler), ``32-true`` on a CPU, where float16 autocast would be slow and bfloat16
    would change the results for no gain (logged)."""
    if not on_gpu:
        log.info("mixed precision is for CUDA devices; this run on the CPU stays float32")
        return "32-true"
    return "bf16-mixed" if torch.cuda.is_bf16_supported() else "16-mixed"


def _trainer(options, cfg, callbacks, loggers, on_gpu: bool, run_dir: Path, resume_from) -> lightning.Trainer:
    return lightning.Trainer(
        **options,
        accelerator="auto",
        devices=1,
        max_epochs=int(cfg["max_epochs"]),
        callbacks=callbacks,
        logger=loggers,
        # strict determinism on CPU; on a GPU some kernels have no deterministic variant
        deterministic=True if not on_gpu else "warn",
        default_root_dir=run_dir,
        log_every_n_steps=1,
        num_sanity_val_steps=0,
        enable_progress_bar=True,
        enable_model_summary=resume_from is None,
        plugins=[_AtomicCheckpointIO(), *_cluster_environment()],
    )
