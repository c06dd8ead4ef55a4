"""Multi-residual U-Net (MRUNet) for LST super-resolution.

The network follows Nguyen et al. (2022): a U-Net whose every level is made of residual blocks,
with a residual bridge at the bottom and *global* residual learning — the network sees the
bicubic-upsampled coarse LST and predicts only the correction to add to it, so an untrained
network (zero tail) already reproduces the bicubic baseline and training starts from there.

Layout (``C = base_channels``, level ``i`` has ``C * 2**i`` channels)::

    input (bicubic LST [+ NDVI]) ─ head 3×3 conv ─┬─ enc 0 (res blocks) ─ skip 0 ─ down ─┐
                                                  │                                     ...
                                                  └─ bridge (res blocks, C * 2**depth) ─ up ─ cat skip ─ dec (res blocks) ...
                                                     ─ 1×1 tail → residual;  output = input[:, 0] + residual

* residual block: ``conv3×3 → BN → ReLU → conv3×3 → BN`` plus an identity shortcut (a 1×1 conv
  when the channel count changes), no activation after the sum (as in EDSR, Lim et al. 2017, so the
  block can output negative corrections). ``norm=False`` drops the batch normalisation.
* ``variant="paper"`` (Nguyen et al. 2022): down-sampling by a strided 3×3 convolution (stride 2,
  learned), up-sampling by a 2×2 transposed convolution (stride 2).
* ``variant="student"`` (the IMT-Project-LTS-SR student code): 2×2 max-pooling down, bilinear ×2
  followed by a 3×3 convolution up.

Inputs are standardised (LST with the training mean/std, NDVI likewise); channel 0 must be the
upsampled LST since the output is ``channel 0 + residual``. Height and width must be divisible by
``2**depth`` (the caller pads, see :class:`eoml.lst.train.SharpeningModel`). The network is fully
convolutional, so it applies to any image size — and, being fed an already upsampled image, to any
scale factor: a Wald-trained model (4 km → 1 km) is applied to 1 km → 250 m and to the validation
scenes' scales under the usual scale-invariance assumption.

The tail is initialised to zero (weights and bias), so the untrained model equals its input's
channel 0 exactly: the bicubic baseline. Gradients still reach the tail at the first step, after
which the rest of the network trains (the "zero-init last layer" trick of residual networks,
e.g. Goyal et al. 2017).

References: B. M. Nguyen, G. Tian, M.-T. Vo, A. Michel, T. Corpetti, C. Granero-Belinchon,
"Convolutional neural network modelling for MODIS land surface temperature super-resolution",
EUSIPCO 2022 (hal-03580148); O. Ronneberger et al., "U-Net", MICCAI 2015; K. He et al., "Deep
residual learning", CVPR 2016; B. Lim et al., "EDSR", CVPRW 2017.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from eoml.core.errors import ConfigError
from eoml.core.settings import required_keys

__all__ = ["VARIANTS", "PROTOCOLS", "MODEL_KEYS", "ResidualBlock", "MRUNet", "build_model"]

VARIANTS = ("paper", "student")
PROTOCOLS = ("wald", "mixgl")
#: keys of the ``lst.model`` config section (their defaults live in the schema only)
MODEL_KEYS = ("base_channels", "depth", "res_blocks")


class ResidualBlock(nn.Module):
    """``conv3×3 → [BN] → ReLU → conv3×3 → [BN]`` + shortcut (identity, or 1×1 conv)."""

    def __init__(self, in_channels: int, out_channels: int, norm: bool = True):
        super().__init__()
        bias = not norm  # a bias before batch normalisation is redundant
        layers: list[nn.Module] = [nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=bias)]
        if norm:
            layers.append(nn.BatchNorm2d(out_channels))
        layers += [nn.ReLU(inplace=True), nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=bias)]
        if norm:
            layers.append(nn.BatchNorm2d(out_channels))
        self.body = nn.Sequential(*layers)
        self.shortcut: nn.Module = (nn.Identity() if in_channels == out_channels
                                    else nn.Conv2d(in_channels, out_channels, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x) + self.shortcut(x)


def _stage(in_channels: int, out_channels: int, n_blocks: int, norm: bool) -> nn.Sequential:
    blocks = [ResidualBlock(in_channels, out_channels, norm)]
    blocks += [ResidualBlock(out_channels, out_channels, norm) for _ in range(int(n_blocks) - 1)]
    return nn.Sequential(*blocks)


class _Down(nn.Module):
    """Halve the resolution: strided 3×3 conv (paper, c → 2c) or 2×2 max-pool (student, c → c)."""

    def __init__(self, channels: int, variant: str):
        super().__init__()
        if variant == "paper":
            self.op: nn.Module = nn.Sequential(nn.Conv2d(channels, 2 * channels, 3, stride=2, padding=1),
                                               nn.ReLU(inplace=True))
            self.out_channels = 2 * channels
        else:
            self.op = nn.MaxPool2d(2)
            self.out_channels = channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.op(x)


class _Up(nn.Module):
    """Double the resolution, ``in_channels → out_channels``: transposed conv (paper) or bilinear + conv."""

    def __init__(self, in_channels: int, out_channels: int, variant: str):
        super().__init__()
        self.variant = variant
        if variant == "paper":
            self.op: nn.Module = nn.ConvTranspose2d(in_channels, out_channels, 2, stride=2)
        else:
            self.op = nn.Conv2d(in_channels, out_channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.variant == "student":
            x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
        return self.op(x)


class MRUNet(nn.Module):
    """Multi-residual U-Net: ``(N, in_channels, H, W) → (N, 1, H, W)``, ``H, W`` divisible by ``2**depth``."""

    def __init__(
        self,
        in_channels: int = 1,
        base_channels: int = 32,
        depth: int = 3,
        res_blocks: int = 1,
        variant: str = "paper",
        norm: bool = True,
    ):
        super().__init__()
        if variant not in VARIANTS:
            raise ConfigError(f"lst.models: unknown MRUNet variant {variant!r}; one of {', '.join(VARIANTS)}")
        if int(depth) < 1 or int(res_blocks) < 1 or int(base_channels) < 1 or int(in_channels) < 1:
            raise ConfigError(
                f"lst.model: need depth, res_blocks, base_channels and in_channels >= 1, got depth={depth}, "
                f"res_blocks={res_blocks}, base_channels={base_channels}, in_channels={in_channels}"
            )
        self.in_channels = int(in_channels)
        self.depth = int(depth)
        self.variant = variant
        c = int(base_channels)
        self.head = nn.Sequential(nn.Conv2d(self.in_channels, c, 3, padding=1), nn.ReLU(inplace=True))
        self.encoders = nn.ModuleList()
        self.downs = nn.ModuleList()
        widths = []
        ch_in = c
        for level in range(self.depth):
            width = c * 2**level
            self.encoders.append(_stage(ch_in, width, res_blocks, norm))
            down = _Down(width, variant)
            self.downs.append(down)
            widths.append(width)
            ch_in = down.out_channels
        self.bridge = _stage(ch_in, c * 2**self.depth, res_blocks, norm)
        self.ups = nn.ModuleList()
        self.decoders = nn.ModuleList()
        ch_in = c * 2**self.depth
        for width in reversed(widths):
            self.ups.append(_Up(ch_in, width, variant))
            self.decoders.append(_stage(2 * width, width, res_blocks, norm))
            ch_in = width
        self.tail = nn.Conv2d(c, 1, 1)
        nn.init.zeros_(self.tail.weight)
        nn.init.zeros_(self.tail.bias)

    @property
    def multiple(self) -> int:
        """Image sides must be multiples of this (``2**depth``)."""
        return 2**self.depth

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        if h % self.multiple or w % self.multiple:
            raise ValueError(f"MRUNet of depth {self.depth} needs H and W divisible by {self.multiple}, "
                             f"got {h} x {w}")
        if x.shape[1] != self.in_channels:
            raise ValueError(f"MRUNet expects {self.in_channels} input channel(s), got {x.shape[1]}")
        feat = self.head(x)
        skips = []
        for encoder, down in zip(self.encoders, self.downs):
            feat = encoder(feat)
            skips.append(feat)
            feat = down(feat)
        feat = self.bridge(feat)
        for up, decoder, skip in zip(self.ups, self.decoders, reversed(skips)):
            feat = decoder(torch.cat([skip, up(feat)], dim=1))
        return x[:, :1] + self.tail(feat)


def build_model(spec: Mapping[str, Any], model_cfg: Mapping[str, Any]) -> MRUNet:
    """The MRUNet of a model spec (``name, variant, protocol, ndvi``) and the ``lst.model`` sizes.

    Both come from the validated configuration (every key present; the schema fills the
    defaults). Input channels: the upsampled LST, plus NDVI when ``spec["ndvi"]``. ``model_cfg``
    may add ``norm: false`` (no batch normalisation; not a config key).
    """
    cfg = {**required_keys(model_cfg, (*MODEL_KEYS, *(["norm"] if "norm" in model_cfg else [])), "lst.model",
                           only=True)}
    required_keys(spec, ("name", "variant", "protocol", "ndvi"), "lst.models[]")
    name, variant, protocol = spec["name"], spec["variant"], spec["protocol"]
    if variant not in VARIANTS:
        raise ConfigError(f"lst.models[{name}].variant: {variant!r} is not one of {', '.join(VARIANTS)}")
    if protocol not in PROTOCOLS:
        raise ConfigError(f"lst.models[{name}].protocol: {protocol!r} is not one of {', '.join(PROTOCOLS)}")
    return MRUNet(
        in_channels=2 if spec["ndvi"] else 1,
        base_channels=int(cfg["base_channels"]),
        depth=int(cfg["depth"]),
        res_blocks=int(cfg["res_blocks"]),
        variant=variant,
        norm=bool(cfg.get("norm", True)),
    )

