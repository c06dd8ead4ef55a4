"""Inflation of a 2-D backbone into 3-D (I3D, Carreira & Zisserman 2017)."""

from __future__ import annotations

import copy
from collections.abc import Mapping

import torch
from torch import nn
from torch.nn import functional as F

from eoml.core.backbones.networks import (
    Backbone,
    EfficientNetLiteBackbone,
    _set_submodule,
)
from eoml.core.errors import ConfigError


def _time_pad(x: torch.Tensor, pad: tuple[int, int], mode: str) -> torch.Tensor:
    if pad == (0, 0):
        return x
    return F.pad(x, (0, 0, 0, 0, *pad), mode=mode)


def _pads(kt: int) -> tuple[int, int]:
    return (kt - 1) // 2, kt // 2


class InflatedConv3d(nn.Conv3d):
    """3-D convolution inflated from a 2-D one: time padded first (``time_pad``, ``time_mode``),
    space by the layer's own padding or, for TensorFlow-"SAME" layers, computed per input."""

    def __init__(self, *args, time_pad=(0, 0), time_mode="replicate", tf_same=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.time_pad, self.time_mode, self.tf_same = tuple(time_pad), time_mode, tf_same

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.tf_same:  # as efficientnet's Conv2dDynamicSamePadding, on the two spatial axes
            pads = []
            for size, k, s, d in zip(x.shape[-2:], self.kernel_size[1:], self.stride[1:], self.dilation[1:]):
                out = -(-size // s)
                pads.append(max((out - 1) * s + (k - 1) * d + 1 - size, 0))
            (ph, pw) = pads
            x = F.pad(x, [pw // 2, pw - pw // 2, ph // 2, ph - ph // 2])
        return super().forward(_time_pad(x, self.time_pad, self.time_mode))


class InflatedMaxPool3d(nn.MaxPool3d):
    """3-D max pooling inflated from a 2-D one, time padded as :class:`InflatedConv3d`."""

    def __init__(self, *args, time_pad=(0, 0), time_mode="replicate", **kwargs):
        super().__init__(*args, **kwargs)
        self.time_pad, self.time_mode = tuple(time_pad), time_mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(_time_pad(x, self.time_pad, self.time_mode))


class InflatedAvgPool3d(nn.AvgPool3d):
    """3-D average pooling inflated from a 2-D one, time padded as :class:`InflatedConv3d`."""

    def __init__(self, *args, time_pad=(0, 0), time_mode="replicate", **kwargs):
        super().__init__(*args, **kwargs)
        self.time_pad, self.time_mode = tuple(time_pad), time_mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(_time_pad(x, self.time_pad, self.time_mode))


def _pair(v) -> tuple:
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


def _tf_same_types() -> tuple[type, ...]:
    try:
        from efficientnet_lite_pytorch.utils import Conv2dDynamicSamePadding
    except ImportError:  # pragma: no cover - the package is a dependency
        return ()
    return (Conv2dDynamicSamePadding,)


def _inflate_layer(module: nn.Module, kt: int, st: int, mode: str) -> nn.Module | None:
    pad = _pads(kt)
    if isinstance(module, nn.Conv2d):
        tf_same = isinstance(module, _tf_same_types())
        if not (type(module) is nn.Conv2d or tf_same) or isinstance(module.padding, str) \
                or module.padding_mode != "zeros":
            raise ConfigError(f"cannot inflate {module!r}: only zero-padded nn.Conv2d layers are supported")
        new = InflatedConv3d(
            module.in_channels, module.out_channels, (kt, *module.kernel_size),
            stride=(st, *module.stride), padding=(0, *module.padding), dilation=(1, *module.dilation),
            groups=module.groups, bias=module.bias is not None, time_pad=pad, time_mode=mode,
            tf_same=tf_same,
        )
        with torch.no_grad():
            new.weight.copy_(module.weight.unsqueeze(2).repeat(1, 1, kt, 1, 1) / kt)
            if module.bias is not None:
                new.bias.copy_(module.bias)
    elif isinstance(module, nn.BatchNorm2d):
        new = nn.BatchNorm3d(module.num_features, module.eps, module.momentum, module.affine,
                             module.track_running_stats)
        new.load_state_dict(module.state_dict())
    elif isinstance(module, nn.MaxPool2d):
        new = InflatedMaxPool3d(
            (kt, *_pair(module.kernel_size)), (st, *_pair(module.stride)), (0, *_pair(module.padding)),
            (1, *_pair(module.dilation)), module.return_indices, module.ceil_mode,
            time_pad=pad, time_mode=mode,
        )
    elif isinstance(module, nn.AvgPool2d):
        new = InflatedAvgPool3d(
            (kt, *_pair(module.kernel_size)), (st, *_pair(module.stride)), (0, *_pair(module.padding)),
            module.ceil_mode, module.count_include_pad, module.divisor_override,
            time_pad=pad, time_mode=mode,
        )
    elif isinstance(module, (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)):
        cls = nn.AdaptiveAvgPool3d if isinstance(module, nn.AdaptiveAvgPool2d) else nn.AdaptiveMaxPool3d
        new = cls((None, *_pair(module.output_size)))
    else:
        return None
    for (_, p_old), (_, p_new) in zip(module.named_parameters(), new.named_parameters()):
        p_new.requires_grad_(p_old.requires_grad)
    new.train(module.training)
    return new


def inflate(
    backbone: Backbone,
    *,
    time_kernel: int = 3,
    time_kernels: Mapping[str, int] | None = None,
    time_strides: Mapping[str, int] | None = None,
    time_padding: str = "replicate",
) -> Backbone:
    """A 3-D copy of a 2-D backbone for clips ``(N, C, T, H, W)`` (I3D inflation).

    Every ``Conv2d`` becomes a 3-D convolution whose kernel is the 2-D kernel repeated over
    ``kt`` time steps and divided by ``kt``; every ``BatchNorm2d`` a ``BatchNorm3d`` with the same
    parameters and running statistics (and training mode); max / average pools become 3-D pools
    with the same spatial kernel; adaptive pools keep the time axis. Defaults: ``kt = time_kernel``
    (3) for convolutions with a spatial kernel > 1, ``kt = 1`` for 1x1 convolutions and pools; time
    stride 1 everywhere, so the output keeps ``T`` frames. ``time_kernels`` / ``time_strides`` map a
    layer's name (as in ``backbone.named_modules()``, e.g. ``"conv1"``, ``"maxpool"``,
    ``"layer2.0.conv1"``) to its own temporal kernel / stride. Time is padded by
    ``((kt - 1) // 2, kt // 2)`` frames, by repeating the edge frames (``time_padding="replicate"``,
    default) or with zeros (``"zeros"``): with replicate padding, a constant clip (one frame
    repeated) gives the 2-D backbone's response at every time step, edges included; with zeros,
    only at least ``kt // 2`` frames from the clip's ends. Parameter names are unchanged, so
    ``inflated.state_dict()`` has the 2-D backbone's keys. Stochastic depth (EfficientNet
    drop-connect, whose mask is built for 4-D tensors) is turned off in the 3-D copy.
    Inception-v3 cannot be inflated (its blocks call 2-D pooling functions directly).
    """
    if backbone.dims != 2:
        raise ConfigError(f"{backbone.name}: the backbone is already {backbone.dims}-D")
    if backbone.name == "inception_v3":
        raise ConfigError("inception_v3 cannot be inflated: its blocks call 2-D pooling functions directly")
    if time_padding not in ("replicate", "zeros"):
        raise ConfigError(f"time_padding: {time_padding!r} is not 'replicate' or 'zeros'")
    mode = "replicate" if time_padding == "replicate" else "constant"
    time_kernels, time_strides = dict(time_kernels or {}), dict(time_strides or {})
    names = dict(backbone.named_modules())
    unknown = sorted((set(time_kernels) | set(time_strides)) - set(names))
    if unknown:
        raise ConfigError(f"time_kernels/time_strides: {unknown} are not layers of this {backbone.name}")
    for what, mapping in (("time_kernel", {"": time_kernel}), ("time_kernels", time_kernels),
                          ("time_strides", time_strides)):
        bad = {k: v for k, v in mapping.items() if int(v) < 1}
        if bad:
            raise ConfigError(f"{what}: values must be >= 1 (got {bad})")
    net = copy.deepcopy(backbone)
    for name, module in list(net.named_modules()):
        default_kt = int(time_kernel) if isinstance(module, nn.Conv2d) and max(module.kernel_size) > 1 else 1
        kt = int(time_kernels.get(name, default_kt))
        new = _inflate_layer(module, kt, int(time_strides.get(name, 1)), mode)
        if new is not None:
            _set_submodule(net, name, new)
        elif "2d" in type(module).__name__.lower() and not any(True for _ in module.children()):
            raise ConfigError(f"cannot inflate layer {name} of type {type(module).__name__}")
    net.dims = 3
    if isinstance(net, EfficientNetLiteBackbone):
        net.drop_connect_rate = 0.0
    return net
