"""Backbones cut at a named depth or layer: building, first-convolution adaptation, freezing."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from eoml.core.backbones.weights import (
    RESNETS,
    WEIGHTS,
    _check_name,
    imagenet_weights_file,
    load_state_dict,
)
from eoml.core.errors import ConfigError, InputFileError

_RESNET_DEPTHS = {"shallow": "layer1", "intermediate": "layer3", "deep": "layer4"}
#: layer name of each named depth, per backbone (see the package docstring for channels / strides)
DEPTHS: dict[str, dict[str, str]] = {
    **{name: dict(_RESNET_DEPTHS) for name in RESNETS},
    "vgg19": {"shallow": "features.4", "intermediate": "features.27", "deep": "features.36"},
    "inception_v3": {"shallow": "Mixed_5d", "intermediate": "Mixed_6e", "deep": "Mixed_7c"},
    "mobilenet_v2": {"shallow": "features.3", "intermediate": "features.13", "deep": "features.18"},
    "efficientnet_lite0": {"shallow": "_blocks.2", "intermediate": "_blocks.10", "deep": "_conv_head"},
}

#: dotted name of the first convolution in the full network
_FIRST_CONV = {
    **{name: "conv1" for name in RESNETS},
    "vgg19": "features.0",
    "inception_v3": "Conv2d_1a_3x3.conv",
    "mobilenet_v2": "features.0.0",
    "efficientnet_lite0": "_conv_stem",
}

#: smallest probe input (Inception-v3 needs 75 px); the stride probe adds 32 px (the largest stride)
_PROBE = {"inception_v3": 75}


# ------------------------------------------------------------------------------ full networks
def _full_network(name: str) -> nn.Module:
    """The full classification network with its library's random initialisation."""
    if name == "efficientnet_lite0":
        from efficientnet_lite_pytorch import EfficientNet

        # image_size=None -> dynamic TensorFlow "SAME" padding, valid for any input size
        return EfficientNet.from_name("efficientnet-lite0", image_size=None)
    import torchvision.models

    if name == "inception_v3":
        return torchvision.models.inception_v3(weights=None, aux_logits=True, init_weights=True)
    return getattr(torchvision.models, name)(weights=None)


def _trunk(name: str, net: nn.Module) -> list[str]:
    """Layer names of the network's feature path in forward order (classifier parts left out)."""
    if name in RESNETS:
        return ["conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4"]
    if name in ("vgg19", "mobilenet_v2"):
        return [f"features.{i}" for i in range(len(net.features))]
    if name == "inception_v3":
        skip = {"AuxLogits", "avgpool", "dropout", "fc"}
        return [n for n, _ in net.named_children() if n not in skip]
    return ["_conv_stem", *(f"_blocks.{i}" for i in range(len(net._blocks))), "_conv_head"]


def layer_names(name: str) -> list[str]:
    """The layer names a backbone can be cut at (and frozen up to), in forward order."""
    _check_name(name)
    return _trunk(name, _full_network(name))


def adapt_first_conv(conv: nn.Conv2d, in_channels: int, pretrained: bool) -> nn.Conv2d:
    """A copy of first convolution ``conv`` for ``in_channels`` inputs (``conv`` itself if unchanged).

    The new layer (same type and hyper-parameters) is always constructed. Pretrained: its weight
    is ``conv``'s kernel averaged over the input channels, repeated ``in_channels`` times and scaled
    by ``conv.in_channels / in_channels``, the bias copied. Random: Kaiming-normal (fan-out, ReLU)
    weight and zero bias, as torchvision initialises ResNet / VGG convolutions.
    """
    kwargs = dict(kernel_size=conv.kernel_size, stride=conv.stride, dilation=conv.dilation,
                  groups=conv.groups, bias=conv.bias is not None)
    if type(conv) is nn.Conv2d:
        new = nn.Conv2d(in_channels, conv.out_channels, padding=conv.padding,
                        padding_mode=conv.padding_mode, **kwargs)
    else:  # the efficientnet package's "SAME"-padding convolution computes its own padding
        new = type(conv)(in_channels, conv.out_channels, **kwargs)
    if conv.in_channels == in_channels:
        return conv
    if conv.groups != 1:
        raise ConfigError(f"cannot adapt a grouped first convolution ({conv}) to {in_channels} channels")
    with torch.no_grad():
        if pretrained:
            w = conv.weight.mean(dim=1, keepdim=True).repeat(1, in_channels, 1, 1)
            new.weight.copy_(w * (conv.in_channels / in_channels))
            if conv.bias is not None:
                new.bias.copy_(conv.bias)
        else:
            nn.init.kaiming_normal_(new.weight, mode="fan_out", nonlinearity="relu")
            if new.bias is not None:
                nn.init.zeros_(new.bias)
    return new


def _set_submodule(root: nn.Module, name: str, module: nn.Module) -> None:
    parent, _, leaf = name.rpartition(".")
    setattr(root.get_submodule(parent) if parent else root, leaf, module)


# ------------------------------------------------------------------------------------ backbones
class Backbone(nn.Module):
    """A cut feature extractor. Attributes set by :func:`build_backbone`: ``name``, ``weights``,
    ``cut`` (layer name), ``depth`` (``shallow`` / ``intermediate`` / ``deep`` or None),
    ``in_channels``, ``out_channels``, ``output_stride`` (spatial), ``layers`` (kept layer names),
    ``frozen`` (frozen layer names) and ``dims`` (2, or 3 once inflated)."""

    #: members of a layer name (EfficientNet's stem and head span a conv and its BatchNorm)
    _LAYER_PARTS: dict[str, tuple[str, ...]] = {}

    def _init_attrs(self, name: str, layers: list[str]) -> None:
        self.name, self.layers, self.frozen, self.dims = name, list(layers), [], 2

    def _modules_of(self, layer: str) -> list[nn.Module]:
        return [self.get_submodule(n) for n in self._LAYER_PARTS.get(layer, (layer,))]

    def freeze(self, until: str | None = None) -> Backbone:
        """Freeze every layer (``until=None``) or the layers up to and including ``until``."""
        if until is not None and until not in self.layers:
            raise ConfigError(f"freeze until: {until!r} is not a layer of this backbone ({self.layers})")
        stop = self.layers.index(until) + 1 if until is not None else len(self.layers)
        self.frozen = self.layers[:stop]
        for layer in self.frozen:
            for module in self._modules_of(layer):
                module.requires_grad_(False)
        return self.train(self.training)

    def layer_outputs(self, x: torch.Tensor, names: list[str] | tuple[str, ...]) -> list[torch.Tensor]:
        """The outputs of layers ``names`` (names of :attr:`layers`), in the order asked.

        One pass through the kept layers, up to the deepest layer asked, with the same operations
        as :meth:`forward` (so ``layer_outputs(x, [layers[-1]])[0]`` is ``forward(x)``); works on 2-D
        and on inflated 3-D backbones. No name, or a name not in :attr:`layers`: :class:`ConfigError`.
        """
        names = list(names)
        unknown = [n for n in names if n not in self.layers]
        if unknown or not names:
            raise ConfigError(f"layer_outputs: {unknown} not among the layers of this {self.name} "
                              f"({self.layers})" if unknown else "layer_outputs: no layer names given")
        stop = max(self.layers.index(n) for n in names)
        out: dict[str, torch.Tensor] = {}
        x = self._enter(x)
        for layer in self.layers[: stop + 1]:
            x = self._layer_forward(layer, x)
            if layer in names:
                out[layer] = x
        return [out[n] for n in names]

    def _enter(self, x: torch.Tensor) -> torch.Tensor:
        """What :meth:`forward` does before the first layer (nothing by default)."""
        return x

    def _layer_forward(self, layer: str, x: torch.Tensor) -> torch.Tensor:
        """Layer ``layer`` of :attr:`layers` applied to ``x`` (as in :meth:`forward`)."""
        return self.get_submodule(layer)(x)

    def unfreeze(self) -> Backbone:
        """Make every layer trainable again."""
        self.frozen = []
        self.requires_grad_(True)
        return self.train(self.training)

    def train(self, mode: bool = True) -> Backbone:
        super().train(mode)
        for layer in self.frozen:  # frozen layers keep BatchNorm statistics, no stochastic depth
            for module in self._modules_of(layer):
                module.eval()
        return self


class SequentialBackbone(Backbone):
    """torchvision trunk: the kept layers run one after another (``features.N`` layers are kept
    in a truncated ``features`` Sequential, so parameter names match the full network's)."""

    def __init__(self, name: str, net: nn.Module, layers: list[str], transform_input: bool = False):
        super().__init__()
        if transform_input:
            self.transform_input = _InceptionInputTransform()
        for layer in layers:
            top, _, index = layer.partition(".")
            if index:
                if top not in self._modules:
                    self.add_module(top, nn.Sequential())
                self._modules[top].add_module(index, net.get_submodule(layer))
            else:
                self.add_module(top, net.get_submodule(layer))
        self._init_attrs(name, layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for module in self.children():
            x = module(x)
        return x

    def _enter(self, x: torch.Tensor) -> torch.Tensor:
        return self.transform_input(x) if hasattr(self, "transform_input") else x


class _InceptionInputTransform(nn.Module):
    """torchvision's Inception-v3 ``transform_input``: ImageNet mean/std input -> Google's [-1, 1]."""

    transform_input = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        from torchvision.models import Inception3

        return Inception3._transform_input(self, x)


class EfficientNetLiteBackbone(Backbone):
    """EfficientNet-Lite stem, the first MBConv blocks and optionally the 1x1 head convolution.

    Stochastic depth (drop-connect) keeps the schedule of the full network: block ``i`` drops its
    residual branch with probability ``drop_connect_rate * i / n_blocks_full`` when training.
    """

    _LAYER_PARTS = {"_conv_stem": ("_conv_stem", "_bn0"), "_conv_head": ("_conv_head", "_bn1")}

    def __init__(self, name: str, net: nn.Module, layers: list[str]):
        super().__init__()
        self._conv_stem = net._conv_stem
        self._bn0 = net._bn0
        self._swish = net._swish
        self._blocks = nn.ModuleList(list(net._blocks)[: sum(n.startswith("_blocks.") for n in layers)])
        if layers[-1] == "_conv_head":
            self._conv_head = net._conv_head
            self._bn1 = net._bn1
        self.drop_connect_rate = float(net._global_params.drop_connect_rate or 0.0)
        self.n_blocks_full = len(net._blocks)  # drop-connect schedule of the full network
        self._init_attrs(name, layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self._swish(self._bn0(self._conv_stem(x)))
        for idx, block in enumerate(self._blocks):
            rate = self.drop_connect_rate * idx / self.n_blocks_full
            x = block(x, drop_connect_rate=rate or None)
        if hasattr(self, "_conv_head"):
            x = self._swish(self._bn1(self._conv_head(x)))
        return x

    def _layer_forward(self, layer: str, x: torch.Tensor) -> torch.Tensor:
        if layer == "_conv_stem":
            return self._swish(self._bn0(self._conv_stem(x)))
        if layer == "_conv_head":
            return self._swish(self._bn1(self._conv_head(x)))
        idx = int(layer.partition(".")[2])
        rate = self.drop_connect_rate * idx / self.n_blocks_full
        return self._blocks[idx](x, drop_connect_rate=rate or None)


def _resolve_cut(name: str, cut: str, trunk: list[str]) -> tuple[str, str | None]:
    if cut in DEPTHS[name]:
        return DEPTHS[name][cut], cut
    if cut in trunk:
        return cut, None
    raise ConfigError(
        f"cut: {cut!r} is neither a depth ({', '.join(DEPTHS[name])}) nor a layer of {name} ({trunk})"
    )


@torch.no_grad()
def _probe(backbone: Backbone) -> tuple[int, int]:
    """Output channels and spatial output stride, from two forward passes on zeros (eval mode).

    Heights ``h0`` and ``h0 + 32`` give feature heights differing by ``32 / stride`` for every
    stride dividing 32 (Inception's unpadded convolutions included). Consumes no random numbers.
    """
    modes = {m: m.training for m in backbone.modules()}
    backbone.eval()
    try:
        h0 = _PROBE.get(backbone.name, 32)
        heights = []
        for h in (h0, h0 + 32):
            out = backbone(torch.zeros(1, backbone.in_channels, h, h0))
            heights.append(out.shape[-2])
    finally:
        for m, mode in modes.items():
            m.training = mode
    step = heights[1] - heights[0]
    if step < 1 or 32 % step:
        raise ConfigError(f"{backbone.name} cut at {backbone.cut}: output stride is not a divisor of 32")
    return int(out.shape[1]), 32 // step


def build_backbone(
    name: str,
    weights: str = "imagenet",
    cut: str = "deep",
    *,
    in_channels: int = 3,
    weights_path: str | Path | None = None,
    trainable: bool = True,
) -> Backbone:
    """Build backbone ``name`` with ``weights`` (``imagenet`` / ``random``), cut at ``cut`` (a depth
    or a layer name), for ``in_channels`` inputs, trainable or frozen (see the module docstring).

    Raises :class:`ConfigError` for an unknown name / weights / cut, :class:`MissingWeightsError`
    when ImageNet weights are not on disk, :class:`InputFileError` for an unreadable or wrong file.
    """
    _check_name(name)
    if weights not in WEIGHTS:
        raise ConfigError(f"weights: {weights!r} is not one of {WEIGHTS}")
    if int(in_channels) < 1:
        raise ConfigError(f"in_channels must be >= 1 (got {in_channels})")
    in_channels = int(in_channels)
    path = imagenet_weights_file(name, weights_path) if weights == "imagenet" else None  # fail fast
    net = _full_network(name)
    trunk = _trunk(name, net)
    layer, depth = _resolve_cut(name, cut, trunk)
    if path is not None:
        try:
            net.load_state_dict(load_state_dict(path), strict=True)
        except RuntimeError as exc:
            raise InputFileError(path, f"is not a {name} state dict: {exc}") from exc
    first = net.get_submodule(_FIRST_CONV[name])
    _set_submodule(net, _FIRST_CONV[name], adapt_first_conv(first, in_channels, weights == "imagenet"))
    layers = trunk[: trunk.index(layer) + 1]
    if name == "efficientnet_lite0":
        backbone: Backbone = EfficientNetLiteBackbone(name, net, layers)
    else:
        transform = name == "inception_v3" and weights == "imagenet" and in_channels == 3
        backbone = SequentialBackbone(name, net, layers, transform_input=transform)
    backbone.weights, backbone.cut, backbone.depth, backbone.in_channels = weights, layer, depth, in_channels
    backbone.out_channels, backbone.output_stride = _probe(backbone)
    if not trainable:
        backbone.freeze()
    return backbone
