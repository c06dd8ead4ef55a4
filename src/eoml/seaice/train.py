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

Augmentation (training only): random horizontal and vertical flips, drawn per sample from a seed
that depends only on ``(seed, epoch, index)`` (:class:`SeededEpochSampler`, as in
:mod:`eoml.lst.train`), so a resumed run sees the same samples. Training runs with
:func:`eoml.core.training.fit` (Adam, plateau schedule, early stopping on ``val_loss``, best-epoch
weights, resumable checkpoints); the data digest enters the checkpoint fingerprint.

Prediction (:func:`predict_scene`): the scene is standardised, padded by reflection to a multiple
of 16 (the encoders' output stride) and classified in one pass, or, with ``tile``, in tiles
overlapping by ``overlap`` pixels of which only the centre is kept (tiles differ slightly from one
pass because of the ASPP image-pooling branch, a global average over the tile). NaN input
pixels are 255 in the class map.

References: M. Karimzadeh, R. Pires de Lima, "Sea ice and water classification in Sentinel-1 SAR
images with deep learning" (ImageNet-pretrained vs random encoders); Chen et al. (2017) DeepLabv3.
"""

from __future__ import annotations

import json
import logging
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lightning
import numpy as np
import torch
import torch.nn.functional as F
import xarray as xr
from torch import nn
from torch.utils.data import DataLoader, Dataset

from eoml.core.config import canonical_json
from eoml.core.errors import ConfigError, InputFileError
from eoml.core.io import array_digest, atomic_path
from eoml.core.store import open_store
from eoml.core.training import (
    TRAINING_DEFAULTS,
    BaseTask,
    SeededEpochSampler,
    check_checkpoint_dir,
    fit,
    read_history,
    seed_everything,
)
from eoml.seaice.models import (
    OUTPUT_STRIDE,
    Segmenter,
    build_segmenter,
    count_parameters,
)

log = logging.getLogger(__name__)

__all__ = [
    "CHANNELS",
    "EXTRA_METRICS",
    "IGNORE",
    "PATCH_DEFAULTS",
    "PatchDataset",
    "SeededEpochSampler",
    "SegmentationDataModule",
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
EXTRA_METRICS = ["train_acc", "val_acc"]
PATCH_DEFAULTS: dict[str, Any] = {"n_per_scene": 200, "size": 256, "max_invalid": 0.3}
MODEL_FORMAT = 1


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
    split = {k: [str(s) for s in (split_cfg.get(k) or [])] for k in ("test", "half", "train")}
    half_val = str(split_cfg.get("half_val", "bottom"))
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


def training_norm(scenes: Mapping[str, Mapping[str, np.ndarray]], split: Mapping[str, Any]) -> dict[str, list[float]]:
    """Per-channel mean / std pooled over every valid pixel of the training regions (float64)."""
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
    mean = s1 / n
    std = np.sqrt(np.maximum(s2 / n - mean**2, 0.0))
    return {"mean": mean.tolist(), "std": np.maximum(std, 1e-6).tolist(), "n_pixels": n}


def _standardise(scene: Mapping[str, np.ndarray], norm: Mapping[str, Any]) -> np.ndarray:
    """``(3, H, W)`` float32, standardised, NaN → 0."""
    x = np.stack([(scene[c].astype(np.float64) - norm["mean"][k]) / norm["std"][k]
                  for k, c in enumerate(CHANNELS)])
    return np.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0).astype(np.float32)


def _region_seed(seed: int, scene_id: str, role: str) -> np.random.SeedSequence:
    return np.random.SeedSequence([int(seed) & 0xFFFFFFFF, zlib.crc32(scene_id.encode()),
                                   zlib.crc32(role.encode())])


def sample_patches(
    stores: Mapping[str, str | Path],
    split_cfg: Mapping[str, Any],
    n_per_scene: int,
    patch_size: int,
    max_invalid: float = 0.3,
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
        if isinstance(key, (tuple, list)):
            i, seed = int(key[0]), int(key[1])
        else:
            i, seed = int(key), None
        x, y = self.x[i], self.y[i]
        if self.augment and seed is not None:
            rng = np.random.default_rng(seed)
            flip_h, flip_v = bool(rng.integers(2)), bool(rng.integers(2))
            dims = [d for d, f in ((-1, flip_h), (-2, flip_v)) if f]
            if dims:
                x, y = torch.flip(x, dims), torch.flip(y, dims)
        return {"x": x.contiguous(), "y": y.contiguous()}


class SegmentationDataModule(lightning.LightningDataModule):
    """Train (shuffled, flipped) / val patch loaders."""

    def __init__(self, train_ds: PatchDataset, val_ds: PatchDataset, batch_size: int, seed: int):
        super().__init__()
        self.train_ds, self.val_ds = train_ds, val_ds
        self.batch_size, self.seed = int(batch_size), int(seed)

    def train_dataloader(self) -> DataLoader:
        n = len(self.train_ds)
        # the ASPP pooling branch has a BatchNorm on a 1x1 map: a training batch of 1 fails
        drop_last = n > self.batch_size and n % self.batch_size == 1
        return DataLoader(self.train_ds, batch_size=self.batch_size, num_workers=0, drop_last=drop_last,
                          sampler=SeededEpochSampler(n, self.seed, salt=0x5EA1CE))

    def val_dataloader(self) -> DataLoader:
        return DataLoader(self.val_ds, batch_size=self.batch_size, shuffle=False, num_workers=0)


class SegmentationTask(BaseTask):
    """Cross-entropy (``ignore_index=255``) segmentation; logs ``train_acc`` / ``val_acc`` per epoch."""

    def __init__(self, model: nn.Module, loss: nn.Module | None = None, **kwargs):
        super().__init__(model, loss=loss if loss is not None else nn.CrossEntropyLoss(ignore_index=IGNORE),
                         **kwargs)

    def compute_loss(self, batch) -> torch.Tensor:
        x, y = batch["x"], batch["y"]
        logits = self(x)
        valid = y != IGNORE
        n_valid = int(valid.sum())
        if n_valid == 0:  # all-ignored batch: cross-entropy would be NaN
            return logits.sum() * 0.0
        loss = self.loss(logits, y)
        with torch.no_grad():
            acc = ((logits.argmax(1) == y) & valid).sum().float() / n_valid
        self.log("train_acc" if self.training else "val_acc", acc, on_step=False, on_epoch=True,
                 batch_size=n_valid)
        return loss


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
    "weights_path"}``. The network is built first, so a :class:`MissingWeightsError` (ImageNet
    weights not on disk) fails the job at once. ``ckpt_dir`` (outside ``out_dir``) receives the
    checkpoints and logs (``ckpt_dir/logs``).
    """
    out_dir, ckpt_dir = Path(out_dir), Path(ckpt_dir)
    check_checkpoint_dir(out_dir, ckpt_dir)
    seed = int(seed)
    patches_cfg = {**PATCH_DEFAULTS, **dict(cfg.get("patches") or {})}
    training = {**TRAINING_DEFAULTS, **dict(cfg.get("training") or {})}
    weights_path = cfg.get("weights_path")

    seed_everything(seed)
    net = build_segmenter(encoder, init, n_classes=2, in_channels=len(CHANNELS), weights_path=weights_path)
    data = sample_patches(stores, cfg.get("split") or {}, patches_cfg["n_per_scene"], patches_cfg["size"],
                          patches_cfg["max_invalid"], seed)
    for role in ("train", "val"):
        if len(data[role]["y"]) == 0:
            raise ConfigError(f"split/patches: no {role} patch survived (check split and patches.max_invalid)")
    if int(patches_cfg["size"]) % OUTPUT_STRIDE:
        log.warning("patch size %s is not a multiple of the output stride %d", patches_cfg["size"], OUTPUT_STRIDE)
    train_ds = PatchDataset(data["train"]["x"], data["train"]["y"], augment=True)
    val_ds = PatchDataset(data["val"]["x"], data["val"]["y"], augment=False)
    task = SegmentationTask.from_config(net, training)
    datamodule = SegmentationDataModule(train_ds, val_ds, training["batch_size"], seed)
    log.info("%s/%s seed %d: %d parameters; %d train / %d val patches of %d px; norm mean %s std %s",
             encoder, init, seed, count_parameters(net), len(train_ds), len(val_ds), patches_cfg["size"],
             np.round(data["norm"]["mean"], 3).tolist(), np.round(data["norm"]["std"], 3).tolist())
    fingerprint = {"encoder": encoder, "init": init, "patches": patches_cfg, "data": data["digest"],
                   "weights_path": None if weights_path is None else str(weights_path)}
    run_dir = ckpt_dir / "logs"
    fit(task, datamodule, run_dir=run_dir, ckpt_dir=ckpt_dir, training_cfg=training, seed=seed,
        fingerprint=fingerprint)
    best_epoch = int((run_dir / "best_epoch.txt").read_text().strip())
    history = read_history(run_dir, columns=EXTRA_METRICS)
    epochs_run = len(history)

    out_dir.mkdir(parents=True, exist_ok=True)
    record = {
        "format": MODEL_FORMAT,
        "state_dict": {k: v.detach().cpu().contiguous().clone() for k, v in task.model.state_dict().items()},
        "encoder": encoder,
        "init": init,
        "seed": seed,
        "norm": {"mean": list(data["norm"]["mean"]), "std": list(data["norm"]["std"])},
        "channels": list(CHANNELS),
        "best_epoch": best_epoch,
        "epochs_run": epochs_run,
        "n_train": len(train_ds),
        "n_val": len(val_ds),
        "data_digest": data["digest"],
        "config": json.loads(canonical_json(dict(cfg))),
    }
    model_path = out_dir / "model.pt"
    with atomic_path(model_path) as tmp:
        torch.save(record, tmp)
    with atomic_path(out_dir / "history.csv") as tmp:
        history.to_csv(tmp, index=False)
    log.info("wrote %s (best epoch %d of %d)", model_path, best_epoch, epochs_run)
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
    path = Path(path)
    if not path.exists():
        raise InputFileError(path, "model file does not exist")
    try:
        # our own file, written by train_segmenter: full unpickling is safe
        record = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:
        raise InputFileError(path, f"not a readable torch model file ({type(exc).__name__}: {exc})") from exc
    required = ("state_dict", "encoder", "init", "norm")
    if not isinstance(record, Mapping) or any(k not in record for k in required):
        raise InputFileError(path, f"not an eoml seaice model (needs {', '.join(required)})")
    try:
        # the trained weights replace any ImageNet ones: build with random init (no checkpoint needed)
        net = build_segmenter(record["encoder"], "random", n_classes=2, in_channels=len(CHANNELS))
        net.load_state_dict(record["state_dict"])
    except (ConfigError, RuntimeError, KeyError) as exc:
        raise InputFileError(path, f"model weights do not match its settings: {exc}") from exc
    net.init = record["init"]
    dev = torch.device(device if device is not None else ("cuda" if torch.cuda.is_available() else "cpu"))
    net = net.to(dev).eval()
    return SegmenterBundle(net, dict(record["norm"]), record["encoder"], record["init"],
                           int(record.get("seed", -1)), int(record.get("best_epoch", -1)),
                           int(record.get("epochs_run", -1)))


def _classify(bundle: SegmenterBundle, x: np.ndarray) -> np.ndarray:
    """Argmax class of a ``(3, h, w)`` standardised array, reflect-padded to a multiple of 16."""
    _, h, w = x.shape
    ph, pw = (-h) % OUTPUT_STRIDE, (-w) % OUTPUT_STRIDE
    xt = torch.from_numpy(np.ascontiguousarray(x))[None].to(bundle.device)
    if ph or pw:
        mode = "reflect" if ph < h and pw < w else "replicate"
        xt = F.pad(xt, (0, pw, 0, ph), mode=mode)
    with torch.no_grad():
        logits = bundle.net(xt)[0, :, :h, :w]
    return logits.argmax(0).to(torch.uint8).cpu().numpy()


def _tile_spans(n: int, tile: int, overlap: int) -> list[tuple[int, int, int]]:
    """``(start, keep_lo, keep_hi)`` of tiles of ``tile`` px covering ``range(n)``, keeping centres."""
    if n <= tile:
        return [(0, 0, n)]
    step = tile - 2 * overlap
    starts = list(range(0, n - tile, step)) + [n - tile]
    spans, lo = [], 0
    for k, s in enumerate(starts):
        hi = n if k == len(starts) - 1 else s + tile - overlap
        spans.append((s, lo, hi))
        lo = hi
    return spans


def predict_scene(model_bundle: SegmenterBundle, store_path: str | Path, tile: int | None = None,
                  overlap: int = 32) -> np.ndarray:
    """Class map ``(H, W)`` uint8 (0 water, 1 ice, 255 where an input is NaN) of a scene store.

    Whole scene in one pass (``tile=None``), or ``tile × tile`` tiles overlapping by ``overlap``
    pixels on each side, of which only the centre is kept.
    """
    scene = _load_scene(store_path)
    valid = _valid_inputs(scene)
    x = _standardise(scene, model_bundle.norm)
    h, w = valid.shape
    if tile is None:
        out = _classify(model_bundle, x)
    else:
        tile, overlap = int(tile), int(overlap)
        if overlap < 0 or tile <= 2 * overlap:
            raise ConfigError(f"predict: tile {tile} must exceed twice the overlap {overlap}")
        out = np.empty((h, w), dtype=np.uint8)
        for r0, rlo, rhi in _tile_spans(h, tile, overlap):
            for c0, clo, chi in _tile_spans(w, tile, overlap):
                pred = _classify(model_bundle, x[:, r0:r0 + tile, c0:c0 + tile])
                out[rlo:rhi, clo:chi] = pred[rlo - r0:rhi - r0, clo - c0:chi - c0]
    return np.where(valid, out, IGNORE).astype(np.uint8)


def predict_scenes(model_path: str | Path, stores: Mapping[str, str | Path], output_nc: str | Path,
                   tile: int | None = None, overlap: int = 32) -> Path:
    """Predict every scene of ``stores`` (the caller passes the test scenes) into one netCDF.

    One ``pred_<scene_id>`` uint8 variable per scene on dims ``(y, x)`` when all scenes share a
    shape, else on per-scene dims ``(y_<scene_id>, x_<scene_id>)``; global attributes
    ``encoder, init, seed, epochs_run, best_epoch``.
    """
    bundle = load_segmenter(model_path)
    preds = {sid: predict_scene(bundle, stores[sid], tile=tile, overlap=overlap) for sid in sorted(stores)}
    same = len({p.shape for p in preds.values()}) <= 1
    data_vars = {}
    for sid, pred in preds.items():
        dims = ("y", "x") if same else (f"y_{sid}", f"x_{sid}")
        data_vars[f"pred_{sid}"] = xr.Variable(dims, pred, attrs={
            "long_name": f"predicted class of scene {sid}", "units": "1",
            "flag_values": np.array([0, 1, IGNORE], dtype=np.uint8), "flag_meanings": "water ice no_data"})
    ds = xr.Dataset(data_vars, attrs={
        "encoder": bundle.encoder, "init": bundle.init, "seed": int(bundle.seed),
        "epochs_run": int(bundle.epochs_run), "best_epoch": int(bundle.best_epoch),
        "model": str(model_path), "scenes": " ".join(preds)})
    output_nc = Path(output_nc)
    output_nc.parent.mkdir(parents=True, exist_ok=True)
    encoding = {name: {"zlib": True, "complevel": 4} for name in ds.data_vars}
    with atomic_path(output_nc) as tmp:
        ds.to_netcdf(tmp, engine="netcdf4", encoding=encoding)
    log.info("wrote %s (%d scenes)", output_nc, len(preds))
    return output_nc
