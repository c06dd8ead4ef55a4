"""seaice training and whole-scene prediction of the ice/water segmenters.

Following Karimzadeh & Pires de Lima, the networks are trained on random square patches of the
Sentinel-1 EW scene stores (80 m grid) and applied to whole held-out scenes.

Split (config ``split``): ``test`` scenes are only predicted; each ``half`` scene is cut in two
along ``y`` (row ``H // 2``): the ``half_val`` half (``"top"`` = low row indices, or
``"bottom"``) is validation, the other half training; ``train`` scenes are training only. Patches
lie entirely inside one region, so no validation pixel ever enters a training patch.

Inputs: ``x = (hh_db, hv_db, incidence_deg)`` standardised per channel with the mean and standard
deviation pooled over **all valid pixels of the training regions** (not only the sampled
patches; float64 sums), stored with the weights; NaN inputs become 0 (the mean) after
standardisation. Targets: ``label`` (0 water, 1 ice, 255 ignore); pixels whose input has a NaN
are set to 255 as well, since the network sees no data there. The loss is the cross-entropy with
``ignore_index=255``.

Patch sampling (:func:`sample_patches`): per scene and region, ``n_per_scene`` top-left corners
drawn uniformly from a generator seeded by ``(seed, scene id, region)`` (stable across runs and
independent of the order of the ``stores`` dict); a patch is dropped when more than
``max_invalid`` of its pixels are invalid (label 255 or any NaN input).

Augmentation (training only): random horizontal and vertical flips
(:func:`eoml.core.data.flip_rotate`), drawn per sample from a seed that depends only on ``(seed,
epoch, index)`` (:class:`eoml.core.training.SeededEpochSampler` through
:class:`eoml.core.training.DataModule`), so a resumed run sees the same samples. Training runs
with :func:`eoml.core.training.run_training` (Adam, plateau schedule, early stopping on
``val_loss``, best-epoch weights, resumable checkpoints); the data digest enters the checkpoint
fingerprint. ``model.pt`` is an :mod:`eoml.core.modelfile` of kind ``seaice.segmenter``.

Prediction (:func:`predict_scene`): the scene is standardised, padded by reflection to a multiple
of 16 (the encoders' output stride) and classified in one pass, or, with ``tile``, in tiles
overlapping by ``overlap`` pixels of which only the centre is kept
(:func:`eoml.core.inference.predict_tiled`; tiles differ slightly from one pass because of the
ASPP image-pooling branch, a global average over the tile). NaN input pixels are 255 in the class
map.

References: M. Karimzadeh, R. Pires de Lima, "Sea ice and water classification in Sentinel-1 SAR
images with deep learning" (ImageNet-pretrained vs random encoders); Chen et al. (2017) DeepLabv3.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import xarray as xr
from torch import nn
from torch.utils.data import Dataset

from eoml.core.data import Normalizer, flip_rotate, sample_key
from eoml.core.errors import ConfigError, InputFileError
from eoml.core.inference import predict_tiled
from eoml.core.io import array_digest
from eoml.core.modelfile import load_network
from eoml.core.store import open_store, write_collection
from eoml.core.tasks import SegmentationTask as CoreSegmentationTask
from eoml.core.training import save_training_outputs, train_task, training_job
from eoml.seaice.models import OUTPUT_STRIDE, Segmenter, build_segmenter

log = logging.getLogger(__name__)

__all__ = [
    "CHANNELS",
    "IGNORE",
    "MODEL_KIND",
    "PatchDataset",
    "SegmentationTask",
    "SegmenterBundle",
    "load_segmenter",
    "predict_scene",
    "predict_scenes",
    "sample_patches",
    "train_segmenter",
    "training_norm",
]

CHANNELS = ("hh_db", "hv_db", "incidence_deg")
IGNORE = 255
MODEL_KIND = "seaice.segmenter"
#: floor of the per-channel standard deviations
MIN_STD = 1e-6
#: salt of the per-sample seeds of the training patches (see eoml.core.training.DataModule)
SAMPLE_SALT = 0x5EA1CE


# --------------------------------------------------------------------------------------------
# scenes and split
# --------------------------------------------------------------------------------------------
def _load_scene(path: str | Path) -> dict[str, np.ndarray]:
    ds = open_store(path)
    missing = [v for v in (*CHANNELS, "label") if v not in ds.variables]
    if missing:
        raise InputFileError(path, f"scene store lacks {', '.join(missing)}")
    out = {}
    for name in (*CHANNELS, "label"):
        if ds[name].dims != ("y", "x"):
            raise InputFileError(path, f"{name} has dims {ds[name].dims}; expected ('y', 'x')")
        out[name] = np.asarray(ds[name].values, dtype=np.uint8 if name == "label" else np.float32)
    return out


def _check_split(split_cfg: Mapping[str, Any], stores: Mapping[str, Any]) -> dict[str, Any]:
    """The validated ``split`` section (every key present: the schema fills the defaults), checked."""
    split = {k: [str(s) for s in split_cfg[k]] for k in ("test", "half", "train")}
    half_val = str(split_cfg["half_val"])
    if half_val not in ("top", "bottom"):
        raise ConfigError(f"split.half_val: {half_val!r} is not 'top' or 'bottom'")
    seen: dict[str, str] = {}
    for role, ids in split.items():
        for sid in ids:
            if sid in seen:
                raise ConfigError(f"split: scene {sid} is in both {seen[sid]} and {role}")
            seen[sid] = role
    unknown = sorted(set(split["half"] + split["train"]) - set(stores))
    if unknown:
        raise ConfigError(f"split: no scene store for {', '.join(unknown)}")
    return {**split, "half_val": half_val}


def _regions(scene_id: str, height: int, split: Mapping[str, Any]) -> list[tuple[str, int, int]]:
    """``(role, y0, y1)`` row ranges of a scene: ``role`` is ``train`` or ``val``."""
    if scene_id in split["train"]:
        return [("train", 0, height)]
    if scene_id in split["half"]:
        mid = height // 2
        top, bottom = (0, mid), (mid, height)
        val, train = (top, bottom) if split["half_val"] == "top" else (bottom, top)
        return [("train", *train), ("val", *val)]
    return []


def _valid_inputs(scene: Mapping[str, np.ndarray]) -> np.ndarray:
    return np.logical_and.reduce([np.isfinite(scene[c]) for c in CHANNELS])


def training_norm(scenes: Mapping[str, Mapping[str, np.ndarray]], split: Mapping[str, Any]) -> dict[str, Any]:
    """Per-channel mean / std pooled over every valid pixel of the training regions (float64).

    A :class:`eoml.core.data.Normalizer` (channel axis 0) as a dict, plus ``n_pixels``.
    """
    n = 0
    s1 = np.zeros(len(CHANNELS))
    s2 = np.zeros(len(CHANNELS))
    for sid in sorted(scenes):
        scene = scenes[sid]
        for role, y0, y1 in _regions(sid, scene["label"].shape[0], split):
            if role != "train":
                continue
            ok = _valid_inputs({c: scene[c][y0:y1] for c in CHANNELS})
            n += int(ok.sum())
            for k, c in enumerate(CHANNELS):
                v = scene[c][y0:y1][ok].astype(np.float64)
                s1[k] += v.sum()
                s2[k] += (v * v).sum()
    if n == 0:
        raise ConfigError("split: the training regions hold no valid pixel")
    return {**Normalizer.from_moments(n, s1, s2, axis=0, min_std=MIN_STD).to_dict(), "n_pixels": n}


def _standardise(scene: Mapping[str, np.ndarray], norm: Mapping[str, Any]) -> np.ndarray:
    """``(3, H, W)`` float32, standardised, NaN → 0."""
    x = Normalizer(norm["mean"], norm["std"], axis=0).transform(np.stack([scene[c] for c in CHANNELS]))
    return np.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0).astype(np.float32)


def _region_seed(seed: int, scene_id: str, role: str) -> np.random.SeedSequence:
    return np.random.SeedSequence([int(seed) & 0xFFFFFFFF, zlib.crc32(scene_id.encode()),
                                   zlib.crc32(role.encode())])


def sample_patches(
    stores: Mapping[str, str | Path],
    split_cfg: Mapping[str, Any],
    n_per_scene: int,
    patch_size: int,
    max_invalid: float,
    seed: int = 0,
    norm: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Random training / validation patches of the scene stores.

    Returns ``{"train": {"x", "y", "scene", "corner"}, "val": {...}, "norm", "digest"}``: ``x``
    ``(N, 3, P, P)`` float32 standardised (NaN → 0), ``y`` ``(N, P, P)`` uint8 (255 = ignore, also
    where an input is NaN), ``scene`` the scene id and ``corner`` ``(y0, x0)`` of each patch.
    ``n_per_scene`` corners are drawn per scene *and region* (a half scene gives up to
    ``n_per_scene`` training and ``n_per_scene`` validation patches); those with more than
    ``max_invalid`` invalid pixels are dropped. ``norm`` defaults to :func:`training_norm`.
    """
    split = _check_split(split_cfg, stores)
    p, n_draw = int(patch_size), int(n_per_scene)
    if p < 1 or n_draw < 0:
        raise ConfigError(f"patches: size {patch_size} / n_per_scene {n_per_scene} must be positive")
    used = sorted(set(split["train"] + split["half"]))
    scenes = {sid: _load_scene(stores[sid]) for sid in used}
    norm = dict(norm) if norm is not None else training_norm(scenes, split)
    out: dict[str, dict[str, list]] = {r: {"x": [], "y": [], "scene": [], "corner": []} for r in ("train", "val")}
    for sid in used:
        scene = scenes[sid]
        height, width = scene["label"].shape
        x_all = _standardise(scene, norm)
        y_all = np.where(_valid_inputs(scene), scene["label"], IGNORE).astype(np.uint8)
        for role, y0, y1 in _regions(sid, height, split):
            if y1 - y0 < p or width < p:
                log.warning("%s: %s region %dx%d is smaller than the %d px patches; none drawn",
                            sid, role, y1 - y0, width, p)
                continue
            rng = np.random.default_rng(_region_seed(seed, sid, role))
            rows = rng.integers(y0, y1 - p + 1, n_draw)
            cols = rng.integers(0, width - p + 1, n_draw)
            kept = 0
            for r, c in zip(rows.tolist(), cols.tolist()):
                y = y_all[r:r + p, c:c + p]
                if np.count_nonzero(y == IGNORE) > max_invalid * y.size:
                    continue
                out[role]["x"].append(x_all[:, r:r + p, c:c + p])
                out[role]["y"].append(y)
                out[role]["scene"].append(sid)
                out[role]["corner"].append((r, c))
                kept += 1
            log.info("%s %s: kept %d of %d patches of %d px (max invalid %.2f)", sid, role, kept, n_draw, p,
                     max_invalid)
    result: dict[str, Any] = {"norm": norm}
    for role, parts in out.items():
        n = len(parts["y"])
        result[role] = {
            "x": np.stack(parts["x"]) if n else np.zeros((0, len(CHANNELS), p, p), np.float32),
            "y": np.stack(parts["y"]) if n else np.zeros((0, p, p), np.uint8),
            "scene": np.array(parts["scene"], dtype=str),
            "corner": np.array(parts["corner"], dtype=np.int64).reshape(n, 2),
        }
    result["digest"] = array_digest(result["train"]["x"], result["train"]["y"], result["val"]["x"],
                                    result["val"]["y"])
    log.info("patches: %d train / %d val", len(result["train"]["y"]), len(result["val"]["y"]))
    return result


# --------------------------------------------------------------------------------------------
# data module
# --------------------------------------------------------------------------------------------
class PatchDataset(Dataset):
    """``{"x": (3, P, P) float32, "y": (P, P) int64}``; keys are ``i`` or ``(i, sample seed)``."""

    def __init__(self, x: np.ndarray, y: np.ndarray, augment: bool = False):
        self.x = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
        self.y = torch.from_numpy(np.ascontiguousarray(y)).long()
        self.augment = bool(augment)

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def __getitem__(self, key) -> dict[str, torch.Tensor]:
        i, seed = sample_key(key)
        sample = {"x": self.x[i], "y": self.y[i]}
        if self.augment and seed is not None:  # random left-right then up-down flips
            return flip_rotate(sample, seed, rotate=False, flips=("x", "y"))
        return {k: v.contiguous() for k, v in sample.items()}


class SegmentationTask(CoreSegmentationTask):
    """The core segmentation task on the chart classes: 2 classes (water, ice), ``ignore_index=255``.

    Cross-entropy over the non-ignored pixels; logs ``acc``, ``iou`` and ``f1`` per epoch
    (``train_acc`` / ``val_acc`` ...).
    """

    def __init__(self, model: nn.Module, **kwargs):
        super().__init__(model, num_classes=2, ignore_index=IGNORE, **kwargs)


# --------------------------------------------------------------------------------------------
# training job
# --------------------------------------------------------------------------------------------
def train_segmenter(
    stores: Mapping[str, str | Path],
    encoder: str,
    init: str,
    seed: int,
    out_dir: str | Path,
    ckpt_dir: str | Path,
    cfg: Mapping[str, Any],
) -> Path:
    """Train one segmenter; write ``out_dir/model.pt`` and ``out_dir/history.csv``; return the model path.

    ``cfg`` = ``{"split", "patches": {n_per_scene, size, max_invalid}, "training": {...},
    "weights_path"}``, from the validated configuration (every key present). The network is built
    first, so a :class:`MissingWeightsError` (ImageNet weights not on disk) fails the job at once. ``ckpt_dir`` (outside ``out_dir``) receives the
    checkpoints and logs (``ckpt_dir/logs``).
    """
    out_dir, ckpt_dir, training, seed = training_job(out_dir, ckpt_dir, cfg["training"], "seaice.training", seed)
    patches_cfg = dict(cfg["patches"])
    weights_path = cfg["weights_path"]

    net = build_segmenter(encoder, init, n_classes=2, in_channels=len(CHANNELS), weights_path=weights_path)
    data = sample_patches(stores, cfg["split"], patches_cfg["n_per_scene"], patches_cfg["size"],
                          patches_cfg["max_invalid"], seed)
    for role in ("train", "val"):
        if len(data[role]["y"]) == 0:
            raise ConfigError(f"split/patches: no {role} patch survived (check split and patches.max_invalid)")
    if int(patches_cfg["size"]) % OUTPUT_STRIDE:
        log.warning("patch size %s is not a multiple of the output stride %d", patches_cfg["size"], OUTPUT_STRIDE)
    train_ds = PatchDataset(data["train"]["x"], data["train"]["y"], augment=True)
    val_ds = PatchDataset(data["val"]["x"], data["val"]["y"], augment=False)
    task = SegmentationTask.from_config(net, training)
    log.info("%s/%s seed %d: patches of %d px; norm mean %s std %s", encoder, init, seed, patches_cfg["size"],
             np.round(data["norm"]["mean"], 3).tolist(), np.round(data["norm"]["std"], 3).tolist())
    fingerprint = {"encoder": encoder, "init": init, "patches": patches_cfg, "data": data["digest"],
                   "weights_path": None if weights_path is None else str(weights_path)}
    # the ASPP pooling branch has a BatchNorm on a 1x1 map: a training batch of 1 fails
    result = train_task(task, train_ds, val_ds, ckpt_dir=ckpt_dir, training_cfg=training, seed=seed,
                        fingerprint=fingerprint, sample_salt=SAMPLE_SALT, avoid_single_batch=True,
                        history_columns=task.metric_names)

    model_path = save_training_outputs(
        out_dir, result.history, kind=MODEL_KIND, weights=result.weights,
        arch={"encoder": encoder, "n_classes": 2, "channels": list(CHANNELS)},
        norm=Normalizer(data["norm"]["mean"], data["norm"]["std"], axis=0).to_dict(),
        settings={"init": init, "seed": seed, "best_epoch": result.best_epoch, "epochs_run": result.epochs_run,
                  "n_train": len(train_ds), "n_val": len(val_ds), "data_digest": data["digest"],
                  "config": dict(cfg)},
    )
    log.info("wrote %s (best epoch %d of %d)", model_path, result.best_epoch, result.epochs_run)
    return model_path


# --------------------------------------------------------------------------------------------
# prediction
# --------------------------------------------------------------------------------------------
@dataclass
class SegmenterBundle:
    """A trained segmenter (eval mode) with its normalisation and provenance."""

    net: Segmenter
    norm: dict[str, list[float]]
    encoder: str
    init: str
    seed: int = -1
    best_epoch: int = -1
    epochs_run: int = -1
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def device(self) -> torch.device:
        return next(self.net.parameters()).device


def load_segmenter(path: str | Path, device: str | torch.device | None = None) -> SegmenterBundle:
    """Load ``model.pt`` written by :func:`train_segmenter`; :class:`InputFileError` when unusable."""
    def build(record):
        # the trained weights replace any ImageNet ones: build with random init (no checkpoint needed)
        net = build_segmenter(record.arch["encoder"], "random", n_classes=2, in_channels=len(CHANNELS))
        net.init = record.settings["init"]
        return net, Normalizer.from_dict(record.norm)

    net, record, norm = load_network(path, MODEL_KIND, build, device)
    settings = record.settings
    return SegmenterBundle(net, {"mean": norm.mean.tolist(), "std": norm.std.tolist()}, record.arch["encoder"],
                           settings["init"], int(settings["seed"]), int(settings["best_epoch"]),
                           int(settings["epochs_run"]))


def predict_scene(model_bundle: SegmenterBundle, store_path: str | Path, tile: int | None = None,
                  overlap: int = 32) -> np.ndarray:
    """Class map ``(H, W)`` uint8 (0 water, 1 ice, 255 where an input is NaN) of a scene store.

    Whole scene in one pass (``tile=None``), or ``tile × tile`` tiles overlapping by ``overlap``
    pixels on each side, of which only the centre is kept; reflect-padded to a multiple of the
    output stride (:func:`eoml.core.inference.predict_tiled`).
    """
    scene = _load_scene(store_path)
    valid = _valid_inputs(scene)
    x = _standardise(scene, model_bundle.norm)
    if tile is not None:
        tile, overlap = int(tile), int(overlap)
        if overlap < 0 or tile <= 2 * overlap:
            raise ConfigError(f"predict: tile {tile} must exceed twice the overlap {overlap}")
    logits = predict_tiled(model_bundle.net, x, OUTPUT_STRIDE, tile=tile, overlap=overlap,
                           device=model_bundle.device)
    out = logits.argmax(0).to(torch.uint8).numpy()
    return np.where(valid, out, IGNORE).astype(np.uint8)


def predict_scenes(model_path: str | Path, stores: Mapping[str, str | Path], output: str | Path,
                   tile: int | None = None, overlap: int = 32) -> Path:
    """Predict every scene of ``stores`` (the caller passes the test scenes) into one collection.

    A Zarr collection (:func:`eoml.core.store.write_collection`) with one group per scene id
    (sorted) holding ``pred``, the uint8 ``(y, x)`` class map (0 water, 1 ice, 255 no
    prediction); root attributes ``encoder, init, seed, epochs_run, best_epoch, model`` and the
    provenance of the model file.
    """
    bundle = load_segmenter(model_path)
    preds = {sid: predict_scene(bundle, stores[sid], tile=tile, overlap=overlap) for sid in sorted(stores)}
    groups = {
        sid: xr.Dataset({"pred": (("y", "x"), pred, {
            "long_name": f"predicted class of scene {sid}", "units": "1",
            "flag_values": [0, 1, IGNORE], "flag_meanings": "water ice no_data"})})
        for sid, pred in preds.items()
    }
    attrs = {"encoder": bundle.encoder, "init": bundle.init, "seed": int(bundle.seed),
             "epochs_run": int(bundle.epochs_run), "best_epoch": int(bundle.best_epoch), "model": str(model_path)}
    return write_collection(groups, output, sources=[model_path], attrs=attrs)
