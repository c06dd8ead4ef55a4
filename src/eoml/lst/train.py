"""Training and applying the multi-residual U-Nets (one Snakemake job per model spec).

Two training protocols, both on the patch store of :func:`eoml.lst.ingest.extract_patches`
(``lst`` 1 km K, ``ndvi`` 250 m, ``split`` train / val by date):

* ``wald`` — Wald's protocol (Wald et al. 1997), the supervised set-up of Nguyen et al. (2022):
  every 1 km patch is degraded by ``factor`` (radiance-consistent ``(mean T^4)^(1/4)``,
  :func:`eoml.lst.scaling.aggregate_lst`), re-upsampled by the bicubic kernel of
  :func:`eoml.lst.scaling.upsample_torch`, and the network learns to restore the 1 km patch
  (MSE on standardised LST). The NDVI channel is the 250 m NDVI block-averaged to 1 km.
  The model learns 4 km → 1 km and is applied to 1 km → 250 m assuming the relation is
  scale-invariant.
* ``mixgl`` — no reference at 250 m: the input is the bicubic ×``factor`` of the 1 km patch
  (250 m grid; NDVI channel = 250 m NDVI) and the loss is :class:`eoml.lst.losses.MixGL`: the
  output must aggregate back to the 1 km LST (MSE) and have the 250 m NDVI's edges (MGE).
  Full 256 × 256 patches are costly on a CPU, so training uses random crops of ``mixgl.crop`` 1 km
  pixels (aligned to the 1 km grid, so the aggregation blocks are whole) and validation the
  central crop of the same size (fixed, so ``val_loss`` is comparable across epochs). Each crop's
  input is cut from the bicubic upsampling of the *whole* patch, exactly what inference sees.

Standardisation: LST and NDVI means and standard deviations of the **training** patches
(the 1 km LST, the 250 m NDVI; two :class:`eoml.core.data.Normalizer`), stored with the weights.
The network works in standardised units; predictions are converted back to K.

Augmentation (training only): a random rot90 (k = 0..3) and horizontal flip of the whole sample
(inputs, target and guide together — rotations and flips keep the aggregation blocks aligned).
Random choices (crops, augmentation) are drawn from a generator seeded per sample from
``(seed, epoch, patch index)`` and passed with the index by
:class:`eoml.core.training.SeededEpochSampler` (through :class:`eoml.core.training.DataModule`),
so an epoch's samples do not depend on when the DataLoader happened to draw from the global RNG —
a resumed run sees exactly the same crops (:func:`eoml.core.data.flip_rotate`).

Training runs with :func:`eoml.core.training.run_training` (Adam, plateau LR schedule, early
stopping on ``val_loss``, best-epoch weights, resumable checkpoints in ``ckpt_dir``). Besides
``train_loss``/``val_loss`` the task logs ``train_mse``/``val_mse`` and, for ``mixgl``,
``train_mge``/``val_mge`` so both terms of the loss show in the curves. Outputs: ``model.pt``
(an :mod:`eoml.core.modelfile` of kind ``lst.mrunet``: weights, spec and model sizes,
normalisation, factor, best epoch) and ``history.csv``.

Inference (:func:`load_model` → :class:`SharpeningModel`) serves both evaluation settings with the
same code: Wald's protocol on held-out patches (4 km → 1 km, NDVI at 1 km) and the validation
scenes at their own resolution (e.g. 360 m → 90 m): the network is fully convolutional and only
ever sees a bicubic-upsampled field, so it applies to any image size and any integer factor —
models are applied *across scales*, relying on the scale invariance of the LST–NDVI relation, as
every NDVI-based sharpener (TsHARP, ATPRK) does.

References: L. Wald, T. Ranchin, M. Mangolini, "Fusion of satellite images of different spatial
resolutions: assessing the quality of resulting images", PE&RS 63 (1997) 691–699; B. M. Nguyen et
al., EUSIPCO 2022 (hal-03580148).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset

from eoml.core.data import Normalizer, flip_rotate, sample_key
from eoml.core.errors import ConfigError, InputFileError
from eoml.core.inference import predict_padded
from eoml.core.io import array_digest
from eoml.core.modelfile import load_network
from eoml.core.store import open_store
from eoml.core.training import BaseTask, save_training_outputs, train_task, training_job
from eoml.lst.losses import MixGL
from eoml.lst.models import PROTOCOLS, MRUNet, build_model
from eoml.lst.scaling import (
    aggregate_lst,
    block_mean,
    fill_nan_nearest,
    parent_mask,
    upsample,
    upsample_torch,
)

log = logging.getLogger(__name__)

__all__ = [
    "EXTRA_METRICS",
    "HISTORY_COLUMNS",
    "MODEL_KIND",
    "fit_normalization",
    "load_patches",
    "WaldPatches",
    "MixGLPatches",
    "SuperResolutionTask",
    "train_model",
    "SharpeningModel",
    "load_model",
    "history_frame",
]

EXTRA_METRICS = ["train_mse", "val_mse", "train_mge", "val_mge"]
HISTORY_COLUMNS = ["epoch", "train_loss", "val_loss", "lr", *EXTRA_METRICS]
MODEL_KIND = "lst.mrunet"
#: floor of the LST and NDVI standard deviations (a near-constant training set)
MIN_STD = 1e-3
#: salt of the per-sample seeds of the training patches (see eoml.core.training.DataModule)
SAMPLE_SALT = 0x15A
#: pixels per inference batch (images × padded H × W), ~ 0.1–0.3 GB of activations at 16 channels
PREDICT_BATCH_PIXELS = 1 << 19


# --------------------------------------------------------------------------------------------
# data
# --------------------------------------------------------------------------------------------
def fit_normalization(lst: np.ndarray, ndvi: np.ndarray) -> dict[str, Normalizer]:
    """Training-set mean and standard deviation of LST (K) and of NDVI: ``{"lst", "ndvi"}``."""
    return {"lst": Normalizer.fit(lst, axis=None, min_std=MIN_STD),
            "ndvi": Normalizer.fit(ndvi, axis=None, min_std=MIN_STD)}


def _subset(n: int, limit: int | None) -> np.ndarray:
    """At most ``limit`` indices of ``range(n)``, evenly spread (patches are ordered by date)."""
    if limit is None or n <= int(limit):
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, int(limit)).round().astype(int))


def load_patches(path: str | Path, factor: int, max_train_patches: int | None = None) -> dict[str, Any]:
    """The patch store's train / val arrays (float32), checked; ``max_train_patches`` subsets train.

    Returns ``{"train": {"lst", "ndvi"}, "val": {...}, "patch_size", "digest"}``; raises
    :class:`InputFileError` naming the store when it does not match the schema.
    """
    ds = open_store(path)
    missing = [v for v in ("lst", "ndvi", "split") if v not in ds.variables]
    if missing:
        raise InputFileError(path, f"patch store lacks {', '.join(missing)}")
    if ds["lst"].dims != ("patch", "y", "x") or ds["ndvi"].dims != ("patch", "yf", "xf"):
        raise InputFileError(path, f"patch store has lst{ds['lst'].dims} / ndvi{ds['ndvi'].dims}; expected "
                                   "lst(patch, y, x) and ndvi(patch, yf, xf)")
    store_factor = ds.attrs.get("factor")
    if store_factor is not None and int(store_factor) != int(factor):
        raise InputFileError(path, f"patches were cut for factor {store_factor} but lst.factor is {factor}")
    py, px = ds.sizes["y"], ds.sizes["x"]
    if py != px or ds.sizes["yf"] != factor * py or ds.sizes["xf"] != factor * px:
        raise InputFileError(path, f"patch shapes lst {py}x{px} / ndvi {ds.sizes['yf']}x{ds.sizes['xf']} do not "
                                   f"match factor {factor} (square patches, ndvi = {factor} x lst)")
    # str() of each label: Zarr v3 variable-length strings come back as NumPy StringDType
    split = np.array([str(v) for v in np.asarray(ds["split"].values).tolist()])
    out: dict[str, Any] = {"patch_size": int(py)}
    for name in ("train", "val"):
        idx = np.flatnonzero(split == name)
        if idx.size == 0:
            raise InputFileError(path, f"no {name} patch (split has {sorted(set(split.tolist()))})")
        if name == "train":
            idx = idx[_subset(idx.size, max_train_patches)]
        lst = np.asarray(ds["lst"].values[idx], dtype=np.float32)
        ndvi = np.asarray(ds["ndvi"].values[idx], dtype=np.float32)
        for var, a in (("lst", lst), ("ndvi", ndvi)):
            if not np.isfinite(a).all():
                raise InputFileError(path, f"{name} patches have non-finite {var} values "
                                           "(patches must be fully valid)")
        out[name] = {"lst": lst, "ndvi": ndvi}
    out["digest"] = array_digest(out["train"]["lst"], out["train"]["ndvi"],
                                 out["val"]["lst"], out["val"]["ndvi"])
    return out


def _augment(sample: dict[str, torch.Tensor], rng: np.random.Generator) -> dict[str, torch.Tensor]:
    # a quarter-turn rotation then a left-right flip of the whole sample
    return flip_rotate(sample, rng, rotate=True, flips=("x",))


class WaldPatches(Dataset):
    """Wald's protocol samples: ``x`` = bicubic(aggregate(LST)) [+ NDVI at 1 km], ``target`` = 1 km LST.

    All standardised, ``(C, P, P)`` and ``(1, P, P)`` float32; precomputed once.
    """

    def __init__(self, lst: np.ndarray, ndvi: np.ndarray, norm: Mapping[str, Normalizer], factor: int,
                 use_ndvi: bool, augment: bool = False):
        lst = np.asarray(lst, dtype=np.float64)
        coarse = torch.from_numpy(norm["lst"].transform(aggregate_lst(lst, factor, "radiance"))[:, None])
        channels = [upsample_torch(coarse, factor, "bicubic")]
        if use_ndvi:
            channels.append(torch.from_numpy(norm["ndvi"].transform(block_mean(ndvi, factor))[:, None]))
        self.x = torch.cat(channels, dim=1).float().contiguous()
        self.target = torch.from_numpy(norm["lst"].transform(lst)[:, None]).float().contiguous()
        self.augment = bool(augment)

    def __len__(self) -> int:
        return self.x.shape[0]

    def __getitem__(self, key) -> dict[str, torch.Tensor]:
        i, seed = sample_key(key)
        sample = {"x": self.x[i], "target": self.target[i]}
        if self.augment and seed is not None:
            sample = _augment(sample, np.random.default_rng(seed))
        return sample


class MixGLPatches(Dataset):
    """MixGL samples on aligned crops of ``crop`` 1 km pixels (``crop·factor`` at 250 m).

    ``x`` = crop of the bicubic ×factor of the whole standardised 1 km patch [+ 250 m NDVI],
    ``target`` = the standardised 1 km LST of the crop, ``guide`` = the standardised 250 m NDVI of
    the crop. ``random_crops`` (training): a random aligned crop per sample seed; otherwise the
    central crop.
    """

    def __init__(self, lst: np.ndarray, ndvi: np.ndarray, norm: Mapping[str, Normalizer], factor: int,
                 use_ndvi: bool, crop: int, random_crops: bool = False, augment: bool = False):
        self.lst = torch.from_numpy(norm["lst"].transform(lst)[:, None]).float().contiguous()
        self.ndvi = torch.from_numpy(norm["ndvi"].transform(ndvi)[:, None]).float().contiguous()
        self.factor, self.use_ndvi, self.crop = int(factor), bool(use_ndvi), int(crop)
        self.random_crops, self.augment = bool(random_crops), bool(augment)
        size = self.lst.shape[-1]
        if not 1 <= self.crop <= size:
            raise ConfigError(f"lst.mixgl.crop: {crop} is not within 1..{size} (the patch size)")

    def __len__(self) -> int:
        return self.lst.shape[0]

    def __getitem__(self, key) -> dict[str, torch.Tensor]:
        i, seed = sample_key(key)
        size, c, f = self.lst.shape[-1], self.crop, self.factor
        rng = np.random.default_rng(seed) if seed is not None else None
        if self.random_crops and rng is not None:
            r0, c0 = (int(v) for v in rng.integers(0, size - c + 1, 2))
        else:
            r0 = c0 = (size - c) // 2
        up = upsample_torch(self.lst[i:i + 1], f, "bicubic")[0]
        fine = (slice(None), slice(r0 * f, (r0 + c) * f), slice(c0 * f, (c0 + c) * f))
        guide = self.ndvi[i][fine]
        x = torch.cat([up[fine], guide]) if self.use_ndvi else up[fine]
        sample = {"x": x.contiguous(), "target": self.lst[i, :, r0:r0 + c, c0:c0 + c].contiguous(),
                  "guide": guide.contiguous()}
        if self.augment and rng is not None:
            sample = _augment(sample, rng)
        return sample


# --------------------------------------------------------------------------------------------
# task
# --------------------------------------------------------------------------------------------
class SuperResolutionTask(BaseTask):
    """MRUNet training: MSE on standardised LST (``wald``) or :class:`MixGL` in K (``mixgl``).

    Batches are dicts ``{"x", "target"[, "guide"]}`` of standardised tensors. Logs
    ``{train,val}_mse`` (and ``{train,val}_mge`` for ``mixgl``) once per epoch. The network runs
    in channels-last memory format (about 25 % faster convolutions on CPU; same results up to
    rounding).
    """

    def __init__(
        self,
        model: nn.Module,
        loss: nn.Module | None = None,
        *,
        protocol: str,
        lst_mean: float,
        lst_std: float,
        **optimiser: float,
    ):
        """``optimiser``: :class:`BaseTask`'s learning-rate settings."""
        if protocol not in PROTOCOLS:
            raise ConfigError(f"unknown training protocol {protocol!r}; one of {', '.join(PROTOCOLS)}")
        if protocol == "mixgl" and not isinstance(loss, MixGL):
            raise ValueError("the mixgl protocol needs a MixGL loss")
        super().__init__(model.to(memory_format=torch.channels_last), loss=loss, **optimiser)
        self.protocol = protocol
        self.lst_mean, self.lst_std = float(lst_mean), float(lst_std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x.contiguous(memory_format=torch.channels_last)).contiguous()

    def _log_metric(self, name: str, value: torch.Tensor, n: int) -> None:
        stage = "train" if self.training else "val"
        self.log(f"{stage}_{name}", value, on_step=False, on_epoch=True, batch_size=n)

    def compute_loss(self, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        pred = self(batch["x"])
        target = batch["target"]
        n = int(target.shape[0])
        if self.protocol == "wald":
            mse = F.mse_loss(pred, target)
            self._log_metric("mse", mse, n)
            return mse
        parts = self.loss(pred * self.lst_std + self.lst_mean, target * self.lst_std + self.lst_mean,
                          batch["guide"])
        self._log_metric("mse", parts["mse"], n)
        self._log_metric("mge", parts["mge"], n)
        return parts["total"]


# --------------------------------------------------------------------------------------------
# training job
# --------------------------------------------------------------------------------------------


def _settings(spec: Mapping[str, Any], cfg: Mapping[str, Any]) -> dict[str, Any]:
    """The job's settings from the validated ``lst`` section (every key present: no defaults here)."""
    spec = dict(spec)
    for key in ("name", "variant", "protocol", "ndvi"):
        if key not in spec:
            raise ConfigError(f"lst.models: model spec {spec} has no {key!r}")
    if spec["protocol"] not in PROTOCOLS:
        raise ConfigError(f"lst.models[{spec['name']}].protocol: {spec['protocol']!r} is not one of "
                          f"{', '.join(PROTOCOLS)}")
    mixgl = dict(cfg["mixgl"])
    if spec["protocol"] == "mixgl":
        alpha, beta = float(mixgl["alpha"]), float(mixgl["beta"])
        if alpha < 0 or beta < 0 or abs(alpha + beta - 1) > 1e-6:
            raise ConfigError(f"lst.mixgl: alpha + beta must be 1 (got alpha={alpha}, beta={beta})")
    max_train = cfg["max_train_patches"]
    return {
        "spec": spec,
        "factor": int(cfg["factor"]),
        "model": dict(cfg["model"]),
        "mixgl": mixgl,
        "max_train_patches": None if max_train is None else int(max_train),
    }


def _datasets(data: Mapping[str, Any], norm: Mapping[str, Normalizer], settings: Mapping[str, Any],
              multiple: int) -> tuple[Dataset, Dataset, int | None]:
    spec, factor = settings["spec"], settings["factor"]
    use_ndvi = bool(spec["ndvi"])
    tr, va = data["train"], data["val"]
    size = int(data["patch_size"])
    if spec["protocol"] == "wald":
        if size % factor or size % multiple:
            raise ConfigError(f"lst.patch_size {size} must be divisible by lst.factor {factor} and by "
                              f"2**depth = {multiple}")
        return (WaldPatches(tr["lst"], tr["ndvi"], norm, factor, use_ndvi, augment=True),
                WaldPatches(va["lst"], va["ndvi"], norm, factor, use_ndvi, augment=False), None)
    crop = min(int(settings["mixgl"]["crop"]), size)
    if (crop * factor) % multiple:
        raise ConfigError(f"lst.mixgl.crop: {crop} x factor {factor} = {crop * factor} 250 m pixels is not "
                          f"divisible by 2**depth = {multiple}")
    return (MixGLPatches(tr["lst"], tr["ndvi"], norm, factor, use_ndvi, crop, random_crops=True, augment=True),
            MixGLPatches(va["lst"], va["ndvi"], norm, factor, use_ndvi, crop, random_crops=False, augment=False),
            crop)


def train_model(
    patch_store: str | Path,
    spec: Mapping[str, Any],
    out_dir: str | Path,
    ckpt_dir: str | Path,
    cfg: Mapping[str, Any],
    seed: int = 0,
) -> Path:
    """Train one MRUNet; write ``out_dir/model.pt`` and ``out_dir/history.csv``; return the model path.

    ``spec`` = ``{name, variant, protocol, ndvi}``; ``cfg`` holds the ``lst`` keys ``factor``,
    ``model``, ``training``, ``mixgl`` and ``max_train_patches``. ``ckpt_dir`` (outside
    ``out_dir``) receives the checkpoints and the Lightning logs (``ckpt_dir/logs``); a rerun with
    the same settings, seed and patches resumes (or skips a finished run). Torch threads are the
    caller's choice.
    """
    out_dir, ckpt_dir, training, seed = training_job(out_dir, ckpt_dir, cfg["training"], "lst.training", seed)
    settings = _settings(spec, cfg)
    spec, factor = settings["spec"], settings["factor"]

    data = load_patches(patch_store, factor, settings["max_train_patches"])
    norm = fit_normalization(data["train"]["lst"], data["train"]["ndvi"])
    lst_mean, lst_std = float(norm["lst"].mean), float(norm["lst"].std)
    net = build_model(spec, settings["model"])
    train_ds, val_ds, crop = _datasets(data, norm, settings, net.multiple)
    loss = None
    if spec["protocol"] == "mixgl":
        loss = MixGL(settings["mixgl"]["alpha"], settings["mixgl"]["beta"], factor, lst_std=lst_std)
    task = SuperResolutionTask.from_config(net, training, loss=loss, protocol=spec["protocol"],
                                           lst_mean=lst_mean, lst_std=lst_std)
    log.info("%s (%s, %s, ndvi=%s): patches of %d px%s; LST %.2f ± %.2f K",
             spec["name"], spec["variant"], spec["protocol"], spec["ndvi"], data["patch_size"],
             f", crops of {crop} px" if crop is not None else "", lst_mean, lst_std)
    fingerprint = {
        "spec": spec,
        "model": settings["model"],
        "factor": factor,
        "mixgl": settings["mixgl"] if spec["protocol"] == "mixgl" else None,
        "max_train_patches": settings["max_train_patches"],
        "data": data["digest"],
    }
    result = train_task(task, train_ds, val_ds, ckpt_dir=ckpt_dir, training_cfg=training, seed=seed,
                        fingerprint=fingerprint, sample_salt=SAMPLE_SALT, history_columns=EXTRA_METRICS)

    model_path = save_training_outputs(
        out_dir, result.history, kind=MODEL_KIND, weights=result.weights,
        arch={"spec": spec, "model_cfg": settings["model"]},
        norm={name: n.to_dict() for name, n in norm.items()},
        settings={"factor": factor, "best_epoch": result.best_epoch, "epochs_run": result.epochs_run,
                  "seed": seed, "mixgl": settings["mixgl"] if spec["protocol"] == "mixgl" else None,
                  "crop": crop, "n_train": len(train_ds), "n_val": len(val_ds), "data_digest": data["digest"],
                  "config": dict(cfg)},
    )
    log.info("wrote %s (best epoch %d)", model_path, result.best_epoch)
    return model_path


# --------------------------------------------------------------------------------------------
# inference
# --------------------------------------------------------------------------------------------
class SharpeningModel:
    """A trained MRUNet with its normalisation: sharpens coarse LST with a fine NDVI."""

    def __init__(self, net: MRUNet, spec: Mapping[str, Any], norm: Mapping[str, Normalizer], factor: int,
                 best_epoch: int = -1, batch_pixels: int = PREDICT_BATCH_PIXELS):
        self.net = net.eval()
        self.device = next(net.parameters()).device
        self.spec = dict(spec)
        self.norm = dict(norm)
        self.factor = int(factor)
        self.best_epoch = int(best_epoch)
        self.batch_pixels = int(batch_pixels)

    @property
    def name(self) -> str:
        return str(self.spec["name"])

    @property
    def uses_ndvi(self) -> bool:
        return self.net.in_channels > 1

    def _inputs(self, coarse: np.ndarray, index: np.ndarray | None, factor: int) -> np.ndarray:
        up = upsample(fill_nan_nearest(coarse), factor, "bicubic")
        channels = [self.norm["lst"].transform(up)]
        if index is not None:
            filled = fill_nan_nearest(index)
            filled = np.where(np.isfinite(filled), filled, float(self.norm["ndvi"].mean))  # all-NaN images
            channels.append(self.norm["ndvi"].transform(filled))
        return np.stack(channels, axis=1).astype(np.float32)

    def _forward(self, x: np.ndarray) -> np.ndarray:
        # centred reflect padding to a multiple of 2**depth, in batches of ~batch_pixels
        out = predict_padded(self.net, x, self.net.multiple, centred=True, batch_pixels=self.batch_pixels,
                             device=self.device)
        return out[:, 0].numpy()

    def sharpen(self, lst_coarse: np.ndarray, index_fine: np.ndarray | None, factor: int) -> np.ndarray:
        """Sharpen ``(h, w)`` or ``(N, h, w)`` coarse LST (K) by ``factor`` → float64 K, ``(H, W)`` / ``(N, H, W)``.

        ``index_fine`` is the NDVI on the fine grid (same leading shape, ``H = h·factor``), ignored
        when the model has no NDVI channel (may then be None). Coarse NaNs are filled from the
        nearest valid pixel before interpolating and their fine children are NaN in the output;
        NaNs in the NDVI are filled likewise. Images are padded (reflect) to a multiple of
        ``2**depth`` and cropped back. Any integer factor works (the network sees the bicubic
        upsampling); the model was trained for :attr:`factor`.
        """
        factor = int(factor)
        coarse = np.asarray(lst_coarse, dtype=np.float64)
        single = coarse.ndim == 2
        if single:
            coarse = coarse[None]
        if coarse.ndim != 3:
            raise ValueError(f"lst_coarse must be (h, w) or (N, h, w), got shape {coarse.shape}")
        n, h, w = coarse.shape
        fine_shape = (n, h * factor, w * factor)
        index = None
        if self.uses_ndvi:
            if index_fine is None:
                raise ValueError(f"model {self.name} needs the fine NDVI")
            index = np.asarray(index_fine, dtype=np.float64)
            if index.ndim == 2:
                index = index[None]
            if index.shape != fine_shape:
                raise ValueError(f"index_fine has shape {np.asarray(index_fine).shape}; expected "
                                 f"{fine_shape[1:] if single else fine_shape} for factor {factor}")
        if factor != self.factor:
            log.info("%s: trained for factor %d, applied with factor %d", self.name, self.factor, factor)
        out = np.full(fine_shape, np.nan)
        bad = ~np.isfinite(coarse)
        ok = np.flatnonzero(~bad.reshape(n, -1).all(axis=1))  # images with at least one valid pixel
        if ok.size:
            x = self._inputs(coarse[ok], None if index is None else index[ok], factor)
            pred = self.norm["lst"].inverse(self._forward(x))
            out[ok] = np.where(parent_mask(bad[ok], factor), np.nan, pred)
        return out[0] if single else out


def load_model(path: str | Path, device: str | torch.device | None = None) -> SharpeningModel:
    """Load ``model.pt`` written by :func:`train_model`; raises :class:`InputFileError` when unusable."""
    def build(record):
        norm = {name: Normalizer.from_dict(record.norm[name]) for name in ("lst", "ndvi")}
        return build_model(record.arch["spec"], record.arch["model_cfg"]), (norm, int(record.settings["factor"]))

    net, record, (norm, factor) = load_network(path, MODEL_KIND, build, device)
    return SharpeningModel(net, record.arch["spec"], norm, factor, best_epoch=int(record.settings["best_epoch"]))


def history_frame(path: str | Path) -> pd.DataFrame:
    """``history.csv`` of a trained model with every column of :data:`HISTORY_COLUMNS`."""
    table = pd.read_csv(path)
    for column in HISTORY_COLUMNS:
        if column not in table:
            table[column] = np.nan
    return table[HISTORY_COLUMNS]
