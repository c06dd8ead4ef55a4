"""aot models: sequence-to-one forecasters of the next 8-day composite's high-AOT mask.

Every network maps a clip ``x`` of shape ``(B, C, T, H, W)`` (C input channels, T past frames) to
logits ``(B, H, W)`` for the next frame; the task applies the sigmoid (or hard sigmoid), so no
activation is inside. :func:`build_network` builds one from a model spec (a plain mapping the
study's schema fills; keys per model in :data:`SPEC_KEYS`):

``cnn3d`` — a 2-D backbone of :mod:`eoml.core.backbones` (``resnet18/34/50/101`` give the
"ResNet3D-18 … 101" of Nikezić et al. 2024, whose block layout is that of kenshohara's
3D-ResNets; ``efficientnet_lite0``, ``mobilenet_v2``, ``vgg19`` also inflate) with ``imagenet`` or
``random`` weights, cut at its deepest layer (stride 32) and inflated to 3-D (I3D: every k×k
kernel repeated over ``time_kernel`` frames and divided by it, time stride 1, replicate time
padding; :func:`eoml.core.backbones.inflate`). Two heads:

* ``paper`` (Nikezić et al. 2024): global ``pooling`` (max / avg) of the deepest features over
  (T, h, w) → ``Dropout(dropout)`` → ``Linear(channels, H·W)`` → reshape to ``(B, H, W)``. One
  dense output per pixel: ResNet3D-101 at the paper's 400 × 200 has 2048 · 80 000 + 80 000 ≈ 164 M
  head parameters (:func:`parameter_counts`), and the grid is fixed at build time.
* ``segmentation`` (ours): the encoder's outputs at strides 32 and, where the trunk has them, 16,
  8 and 4 (the last layer of the trunk at each stride, e.g. ResNet ``layer4 / layer3 / layer2 /
  layer1``, EfficientNet-Lite0 ``_conv_head / _blocks.10 / _blocks.4 / _blocks.2``), each pooled
  over T (``pooling``), the deepest one through ``Dropout2d(dropout)``; then a 2-D U-Net decoder
  (Ronneberger et al. 2015): per entry of ``decoder_channels`` one block = nearest upsampling ×2,
  concatenation of the encoder map at that stride (if one), two 3×3 conv–BN–ReLU; a 1×1
  convolution to one logit map; bilinear upsampling to the input size if the last block ends
  above stride 1 (e.g. ``[64, 32, 16, 8]`` ends at stride 2). Any H × W: the clip is padded to a
  multiple of the encoder's stride (32) by repeating its edge rows / columns, the logits cropped
  back. Its size does not depend on the grid (ResNet3D-101, 2 channels: 85.2 M encoder + 2.0 M
  decoder, against 85.2 M + 163.9 M with the paper head at 400 × 200).

``convlstm`` — stacked ConvLSTM layers (Shi et al. 2015; sequence to one as Nikezić et al. 2022)
at full resolution with ``hidden`` channels per layer and ``kernel`` × ``kernel`` convolutions
('same' zero padding); gates as Keras' ``ConvLSTM2D`` (no peephole terms; forget-gate bias
initialised to 1, Jozefowicz et al. 2015); zero initial states; the last layer's final hidden
state → 1×1 convolution → logits.

``sa_convlstm`` — the same stack with a self-attention memory module (SAM, Lin et al. 2020, as
Nikezić et al. 2023) after every cell: the cell's hidden state ``H`` attends to itself and to a
memory ``M`` (single-head dot-product attention, query / key channels ``max(1, hidden // 2)``,
scaled by 1/√d against softmax saturation), the two attended maps are fused (1×1 conv), and
gates computed from them and ``H`` update ``M`` and give the new hidden state ``o ⊙ M``, which
both goes to the next layer and is the cell's state for the next frame. Attention over all N
pixels costs N² memory (a 400 × 200 grid: 6.4·10⁹ scores per sample), so it is computed on ``H``
and ``M`` average-pooled by ``attention_stride`` (N / s² positions, s⁴ times less memory); the
attended maps are upsampled back bilinearly to full resolution before the fusion, and the gates,
the memory and the hidden state stay at full resolution. ``attention_stride: 1`` is the paper's
full attention.

BatchNorm momentum of every model: :data:`eoml.core.backbones.BN_MOMENTUM` (0.1; EfficientNet-Lite0
ships TensorFlow's 0.01), via :func:`eoml.core.backbones.set_batchnorm_momentum`.

References: Shi et al. (2015) "Convolutional LSTM network", NeurIPS. Lin et al. (2020)
"Self-attention ConvLSTM for spatiotemporal prediction", AAAI. Carreira & Zisserman (2017) CVPR.
Hara, Kataoka & Satoh (2018) "Can spatiotemporal 3D CNNs retrace the history of 2D CNNs and
ImageNet?", CVPR. Ronneberger et al. (2015) "U-Net", MICCAI. Jozefowicz et al. (2015) ICML.
Nikezić et al. (2022) Mathematics 10, 3392; (2023) Mathematics 11, 1744; (2024) Mathematics 12, 826.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from eoml.core.backbones import (
    BN_MOMENTUM,
    Backbone,
    build_backbone,
    inflate,
    set_batchnorm_momentum,
)
from eoml.core.errors import ConfigError
from eoml.core.settings import required_keys
from eoml.core.training import count_parameters

__all__ = [
    "HEADS",
    "MODELS",
    "POOLINGS",
    "SPEC_KEYS",
    "Cnn3d",
    "ConvLSTMCell",
    "ConvLSTMNet",
    "PaperHead",
    "SegmentationHead",
    "SelfAttentionMemory",
    "build_network",
    "encoder_layers",
    "parameter_counts",
]

MODELS = ("cnn3d", "convlstm", "sa_convlstm")
HEADS = ("paper", "segmentation")
POOLINGS = ("max", "avg")
#: strides of the skip connections of the segmentation head (the deepest map is at stride 32)
SKIP_STRIDES = (16, 8, 4)
#: spec keys of each model (the schema fills them in); ``decoder_channels`` only for that head
SPEC_KEYS: dict[str, tuple[str, ...]] = {
    "cnn3d": ("backbone", "weights", "time_kernel", "head", "pooling", "dropout"),
    "convlstm": ("hidden", "kernel"),
    "sa_convlstm": ("hidden", "kernel", "attention_stride"),
}
_WHERE = "aot model spec"


# ----------------------------------------------------------------------------------------- spec
def _spec(spec: Mapping[str, Any]) -> dict[str, Any]:
    model = required_keys(spec, ("model",), _WHERE)["model"]
    if model not in MODELS:
        raise ConfigError(f"{_WHERE}: model {model!r} is not one of {MODELS}")
    s = {"model": model, **required_keys(spec, SPEC_KEYS[model], _WHERE)}
    if model == "cnn3d":
        if s["head"] not in HEADS:
            raise ConfigError(f"{_WHERE}: head {s['head']!r} is not one of {HEADS}")
        if s["pooling"] not in POOLINGS:
            raise ConfigError(f"{_WHERE}: pooling {s['pooling']!r} is not one of {POOLINGS}")
        if not 0.0 <= float(s["dropout"]) < 1.0:
            raise ConfigError(f"{_WHERE}: dropout must be in [0, 1) (got {s['dropout']})")
        if int(s["time_kernel"]) < 1:
            raise ConfigError(f"{_WHERE}: time_kernel must be >= 1 (got {s['time_kernel']})")
        if s["head"] == "segmentation":
            s["decoder_channels"] = [int(c) for c in required_keys(spec, ("decoder_channels",), _WHERE)
                                     ["decoder_channels"]]
            if not s["decoder_channels"] or min(s["decoder_channels"]) < 1:
                raise ConfigError(f"{_WHERE}: decoder_channels must be a non-empty list of positive "
                                  f"ints (got {spec['decoder_channels']})")
    else:
        s["hidden"] = [int(h) for h in s["hidden"]]
        if not s["hidden"] or min(s["hidden"]) < 1:
            raise ConfigError(f"{_WHERE}: hidden must be a non-empty list of positive ints (got {spec['hidden']})")
        if int(s["kernel"]) < 1 or int(s["kernel"]) % 2 == 0:
            raise ConfigError(f"{_WHERE}: kernel must be a positive odd int ('same' padding; got {s['kernel']})")
        if model == "sa_convlstm" and int(s["attention_stride"]) < 1:
            raise ConfigError(f"{_WHERE}: attention_stride must be >= 1 (got {s['attention_stride']})")
    return s


def _check_sizes(in_channels: int, n_frames: int, height: int, width: int) -> None:
    if min(int(in_channels), int(n_frames), int(height), int(width)) < 1:
        raise ConfigError(f"{_WHERE}: in_channels, n_frames, height, width must be >= 1 "
                          f"(got {in_channels}, {n_frames}, {height}, {width})")


def _check_input(x: torch.Tensor, in_channels: int, size: tuple[int, int] | None = None) -> None:
    if x.ndim != 5 or x.shape[1] != in_channels:
        raise ValueError(f"expected a clip (B, {in_channels}, T, H, W), got shape {tuple(x.shape)}")
    if size is not None and tuple(x.shape[-2:]) != size:
        raise ValueError(f"this network was built for {size[0]} x {size[1]} grids, got {tuple(x.shape[-2:])}")


def _time_pool(x: torch.Tensor, pooling: str) -> torch.Tensor:
    """Pool a (B, C, T, h, w) map over T (a 2-D map (B, C, h, w) is returned as is)."""
    if x.ndim == 4:
        return x
    return x.amax(dim=2) if pooling == "max" else x.mean(dim=2)


# ------------------------------------------------------------------------------------- 3-D CNNs
@torch.no_grad()
def encoder_layers(backbone: Backbone) -> list[tuple[str, int, int]]:
    """``(layer, channels, stride)`` of every layer of a 2-D ``backbone``, in forward order.

    Two passes on zeros (eval mode, modes restored; no random numbers), heights 64 and 96: a
    layer's stride is 32 / (difference of its output heights).
    """
    modes = {m: m.training for m in backbone.modules()}
    backbone.eval()
    try:
        outs = [backbone.layer_outputs(torch.zeros(1, backbone.in_channels, h, 64), backbone.layers)
                for h in (64, 96)]
    finally:
        for m, mode in modes.items():
            m.training = mode
    return [(layer, int(a.shape[1]), 32 // (b.shape[-2] - a.shape[-2]))
            for layer, a, b in zip(backbone.layers, *outs)]


def _skip_layers(layers: list[tuple[str, int, int]]) -> list[tuple[str, int, int]]:
    """The deepest layer, then the last layer at each of :data:`SKIP_STRIDES` (those present)."""
    deepest = layers[-1]
    chosen = [deepest]
    for stride in SKIP_STRIDES:
        at = [entry for entry in layers[:-1] if entry[2] == stride]
        if at:
            chosen.append(at[-1])
    return chosen


class PaperHead(nn.Module):
    """Nikezić et al. (2024): global pooling over every axis after the channels → dropout → one
    dense output per pixel, reshaped to ``(B, H, W)``. Takes 3-D ``(B, C, T, h, w)`` or 2-D
    ``(B, C, h, w)`` features."""

    def __init__(self, channels: int, height: int, width: int, pooling: str, dropout: float):
        super().__init__()
        self.size, self.pooling = (int(height), int(width)), pooling
        self.dropout = nn.Dropout(float(dropout))
        self.fc = nn.Linear(int(channels), self.size[0] * self.size[1])

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        flat = features.flatten(2)
        pooled = flat.amax(dim=2) if self.pooling == "max" else flat.mean(dim=2)
        return self.fc(self.dropout(pooled)).view(-1, *self.size)


def paper_head_parameters(channels: int, height: int, width: int) -> int:
    """Parameters of :class:`PaperHead` (``Linear(channels, H·W)``: weights and biases)."""
    return (int(channels) + 1) * int(height) * int(width)


class _DecoderBlock(nn.Module):
    """Nearest upsampling ×2, concatenation of a skip map (if any), two 3×3 conv–BN–ReLU."""

    def __init__(self, in_channels: int, skip_channels: int, out_channels: int):
        super().__init__()
        from torchvision.ops import Conv2dNormActivation

        self.convs = nn.Sequential(
            Conv2dNormActivation(in_channels + skip_channels, out_channels, kernel_size=3),
            Conv2dNormActivation(out_channels, out_channels, kernel_size=3),
        )

    def forward(self, x: torch.Tensor, skip: torch.Tensor | None) -> torch.Tensor:
        x = F.interpolate(x, scale_factor=2.0, mode="nearest")
        if skip is not None:
            x = torch.cat([x, skip], dim=1)
        return self.convs(x)


class SegmentationHead(nn.Module):
    """Temporal pooling of the encoder maps + a 2-D U-Net decoder (see the module docstring).

    ``forward(features, size)``: ``features`` as :attr:`layers` lists them (deepest first), 3-D
    ``(B, C, T, h, w)`` or 2-D ``(B, C, h, w)``; ``size`` the (padded) input size whose multiple of
    :attr:`stride` the deepest map is; returns logits ``(B, 1, *size)``.
    """

    def __init__(self, layers: Sequence[tuple[str, int, int]], decoder_channels: Sequence[int],
                 pooling: str, dropout: float):
        super().__init__()
        deepest, skips = layers[0], {stride: (name, ch) for name, ch, stride in layers[1:]}
        self.stride, self.pooling = deepest[2], pooling
        n_max = self.stride.bit_length() - 1  # log2 of a power of two
        if len(decoder_channels) > n_max:
            raise ConfigError(f"{_WHERE}: decoder_channels has {len(decoder_channels)} blocks; the encoder's "
                              f"stride {self.stride} allows at most {n_max} (one ×2 upsampling each)")
        self.dropout = nn.Dropout2d(float(dropout))
        #: encoder layer whose map each block concatenates (None: no skip at that stride)
        self.skip_layers: list[str | None] = []
        blocks, ch, stride = [], deepest[1], self.stride
        for out_ch in decoder_channels:
            stride //= 2
            name, skip_ch = skips.get(stride, (None, 0))
            self.skip_layers.append(name)
            blocks.append(_DecoderBlock(ch, skip_ch, int(out_ch)))
            ch = int(out_ch)
        self.blocks = nn.ModuleList(blocks)
        self.out_stride = stride
        self.classifier = nn.Conv2d(ch, 1, kernel_size=1)
        #: the encoder layers this head reads, deepest first
        self.layers = [deepest[0], *(n for n in self.skip_layers if n is not None)]

    def forward(self, features: Sequence[torch.Tensor], size: tuple[int, int]) -> torch.Tensor:
        maps = dict(zip(self.layers, (_time_pool(f, self.pooling) for f in features)))
        x = self.dropout(maps[self.layers[0]])
        for block, skip in zip(self.blocks, self.skip_layers):
            x = block(x, maps[skip] if skip is not None else None)
        logits = self.classifier(x)
        if self.out_stride > 1:
            logits = F.interpolate(logits, size=tuple(size), mode="bilinear", align_corners=False)
        return logits


class Cnn3d(nn.Module):
    """An inflated 3-D backbone (``encoder``) and a :class:`PaperHead` or :class:`SegmentationHead`
    (``head``); clips ``(B, C, T, H, W)`` → logits ``(B, H, W)``."""

    def __init__(self, encoder: Backbone, head: nn.Module, height: int, width: int):
        super().__init__()
        self.encoder, self.head = encoder, head
        self.size = (int(height), int(width))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if isinstance(self.head, PaperHead):
            _check_input(x, self.encoder.in_channels, self.size)
            return self.head(self.encoder(x))
        _check_input(x, self.encoder.in_channels)
        h, w = x.shape[-2:]
        s = self.head.stride
        ph, pw = -h % s, -w % s
        top, left = ph // 2, pw // 2
        if ph or pw:  # edge rows / columns repeated, so no artificial zero border enters the encoder
            x = F.pad(x, (left, pw - left, top, ph - top, 0, 0), mode="replicate")
        logits = self.head(self.encoder.layer_outputs(x, self.head.layers), x.shape[-2:])
        return logits[:, 0, top:top + h, left:left + w]


def _cnn3d_backbone(s: Mapping[str, Any], in_channels: int, weights: str,
                    weights_path: str | Path | None) -> Backbone:
    return build_backbone(s["backbone"], weights, "deep", in_channels=in_channels, weights_path=weights_path)


# ------------------------------------------------------------------------------------- ConvLSTMs
class ConvLSTMCell(nn.Module):
    """ConvLSTM cell (Shi et al. 2015, without peepholes, as Keras' ConvLSTM2D): one convolution of
    ``[x, h]`` gives the input, forget, output gates and the candidate; forget bias starts at 1."""

    def __init__(self, in_channels: int, hidden: int, kernel: int):
        super().__init__()
        self.hidden = int(hidden)
        self.conv = nn.Conv2d(in_channels + hidden, 4 * hidden, kernel, padding=kernel // 2)
        with torch.no_grad():
            self.conv.bias[hidden:2 * hidden].fill_(1.0)

    def forward(self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor]
                ) -> tuple[torch.Tensor, torch.Tensor]:
        h, c = state
        i, f, o, g = self.conv(torch.cat([x, h], dim=1)).chunk(4, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c), c


class SelfAttentionMemory(nn.Module):
    """Self-attention memory module (Lin et al. 2020), attention on maps pooled by ``stride``.

    ``forward(h, m) -> (h_new, m_new)``: ``Z_h`` = attention of ``h`` over itself, ``Z_m`` = of ``h``
    over the memory ``m``; ``Z`` = 1×1 conv of ``[Z_h, Z_m]``; from ``[Z, h]`` (1×1 conv) the gates
    ``i, g, o``: ``m_new = (1 - σ(i)) ⊙ m + σ(i) ⊙ tanh(g)``, ``h_new = σ(o) ⊙ m_new``.
    """

    def __init__(self, hidden: int, stride: int):
        super().__init__()
        d = max(1, hidden // 2)
        self.stride = int(stride)
        self.query = nn.Conv2d(hidden, d, 1)
        self.key_h, self.value_h = nn.Conv2d(hidden, d, 1), nn.Conv2d(hidden, hidden, 1)
        self.key_m, self.value_m = nn.Conv2d(hidden, d, 1), nn.Conv2d(hidden, hidden, 1)
        self.fuse = nn.Conv2d(2 * hidden, 2 * hidden, 1)
        self.gates = nn.Conv2d(3 * hidden, 3 * hidden, 1)

    def _pool(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride == 1:
            return x
        return F.avg_pool2d(x, self.stride, ceil_mode=True)

    @staticmethod
    def _attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        b, c, h, w = v.shape
        tokens = [t.flatten(2).transpose(1, 2).unsqueeze(1) for t in (q, k, v)]  # (B, 1, N, ch)
        out = F.scaled_dot_product_attention(*tokens)
        return out.squeeze(1).transpose(1, 2).reshape(b, c, h, w)

    def forward(self, h: torch.Tensor, m: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        hp, mp = self._pool(h), self._pool(m)
        q = self.query(hp)
        z = torch.cat([self._attend(q, self.key_h(hp), self.value_h(hp)),
                       self._attend(q, self.key_m(mp), self.value_m(mp))], dim=1)
        if self.stride > 1:
            z = F.interpolate(z, size=h.shape[-2:], mode="bilinear", align_corners=False)
        i, g, o = self.gates(torch.cat([self.fuse(z), h], dim=1)).chunk(3, dim=1)
        i = torch.sigmoid(i)
        m = (1 - i) * m + i * torch.tanh(g)
        return torch.sigmoid(o) * m, m


class _ConvLSTMStack(nn.Module):
    """Stacked (SA-)ConvLSTM layers over the frames; returns the last layer's final hidden state."""

    def __init__(self, in_channels: int, hidden: Sequence[int], kernel: int, attention_stride: int | None):
        super().__init__()
        ins = [in_channels, *hidden[:-1]]
        self.cells = nn.ModuleList(ConvLSTMCell(i, h, kernel) for i, h in zip(ins, hidden))
        self.attention = (nn.ModuleList(SelfAttentionMemory(h, attention_stride) for h in hidden)
                          if attention_stride is not None else None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        seq = list(x.unbind(dim=2))
        for n, cell in enumerate(self.cells):
            b, _, height, width = seq[0].shape
            h = x.new_zeros(b, cell.hidden, height, width)
            c = torch.zeros_like(h)
            m = torch.zeros_like(h)
            out = []
            for frame in seq:
                h, c = cell(frame, (h, c))
                if self.attention is not None:
                    h, m = self.attention[n](h, m)
                out.append(h)
            seq = out
        return seq[-1]


class ConvLSTMNet(nn.Module):
    """(SA-)ConvLSTM stack (``encoder``) and a 1×1 convolution (``head``): clips → logits (B, H, W)."""

    def __init__(self, in_channels: int, hidden: Sequence[int], kernel: int, attention_stride: int | None = None):
        super().__init__()
        self.in_channels = int(in_channels)
        self.encoder = _ConvLSTMStack(self.in_channels, [int(h) for h in hidden], int(kernel), attention_stride)
        self.head = nn.Conv2d(int(hidden[-1]), 1, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_input(x, self.in_channels)
        return self.head(self.encoder(x))[:, 0]


# ------------------------------------------------------------------------------------ builders
def build_network(
    spec: Mapping[str, Any],
    *,
    in_channels: int,
    n_frames: int,
    height: int,
    width: int,
    weights_path: str | Path | None = None,
) -> nn.Module:
    """The network of model ``spec`` for clips ``(B, in_channels, n_frames, height, width)``.

    ``weights_path``: the ImageNet checkpoint of a ``cnn3d`` backbone with ``weights: imagenet``
    (default: torchvision's cache, or EfficientNet-Lite0's package file); never downloaded, a missing
    file is :class:`~eoml.core.backbones.MissingWeightsError`. The paper head's grid is fixed to
    ``height × width``; the other models take any grid and any number of frames.
    """
    s = _spec(spec)
    _check_sizes(in_channels, n_frames, height, width)
    in_channels = int(in_channels)
    if s["model"] == "cnn3d":
        backbone = _cnn3d_backbone(s, in_channels, s["weights"], weights_path)
        layers = encoder_layers(backbone)
        encoder = inflate(backbone, time_kernel=int(s["time_kernel"]))
        if s["head"] == "paper":
            head: nn.Module = PaperHead(layers[-1][1], height, width, s["pooling"], s["dropout"])
        else:
            head = SegmentationHead(_skip_layers(layers), s["decoder_channels"], s["pooling"], s["dropout"])
        model: nn.Module = Cnn3d(encoder, head, height, width)
    else:
        stride = int(s["attention_stride"]) if s["model"] == "sa_convlstm" else None
        model = ConvLSTMNet(in_channels, s["hidden"], int(s["kernel"]), stride)
    return set_batchnorm_momentum(model, BN_MOMENTUM)


def parameter_counts(spec: Mapping[str, Any], in_channels: int, n_frames: int, height: int,
                     width: int) -> dict[str, int]:
    """``{"encoder", "head", "total"}`` parameter counts of :func:`build_network`'s model, without
    building the paper head's dense layer (counted analytically) nor the 3-D encoder (its 2-D
    backbone, random weights, is built and each k×k kernel counted ``time_kernel`` times, as
    :func:`eoml.core.backbones.inflate` repeats it)."""
    s = _spec(spec)
    _check_sizes(in_channels, n_frames, height, width)
    if s["model"] == "cnn3d":
        backbone = _cnn3d_backbone(s, int(in_channels), "random", None)
        kt = int(s["time_kernel"])
        encoder = count_parameters(backbone) + sum(
            m.weight.numel() * (kt - 1) for m in backbone.modules()
            if isinstance(m, nn.Conv2d) and max(m.kernel_size) > 1)
        layers = encoder_layers(backbone)
        if s["head"] == "paper":
            head = paper_head_parameters(layers[-1][1], height, width)
        else:
            head = count_parameters(SegmentationHead(_skip_layers(layers), s["decoder_channels"], s["pooling"],
                                                     s["dropout"]))
    else:
        model = build_network(s, in_channels=in_channels, n_frames=n_frames, height=height, width=width)
        encoder, head = count_parameters(model.encoder), count_parameters(model.head)
    return {"encoder": int(encoder), "head": int(head), "total": int(encoder + head)}
