"""What every image network of the kit shares around its backbone: ImageNet input normalisation,
PyTorch batch-norm momentum, and the smallest input each backbone accepts.

* :class:`ImageNetNormalize` — ``(x − mean) / std`` per channel with torchvision's ImageNet
  statistics (:data:`IMAGENET_MEAN`, :data:`IMAGENET_STD`, of inputs scaled to [0, 1]); the
  statistics are non-persistent buffers (not in a state dict), so a network normalises its inputs
  the same way whatever its weights, and loading a state dict never depends on them.
* :func:`set_batchnorm_momentum` — every BatchNorm of a module to :data:`BN_MOMENTUM` (0.1,
  PyTorch's and torchvision's default). EfficientNet-Lite0 ships TensorFlow's decay 0.99 (PyTorch
  momentum 0.01): running statistics that need hundreds of steps to forget their start, so a
  random or fine-tuned base trained briefly would be evaluated with near-initial statistics.
* :func:`min_input_size` — the smallest square input (px) of a backbone (Inception-v3's unpadded
  stem and reductions need 75 px; every other backbone 32 px, its output stride); it lives in the
  torch-free :mod:`eoml.core.input_sizes`, for config checks.
"""

from __future__ import annotations

import torch
from torch import nn

from eoml.core.input_sizes import min_input_size

__all__ = ["BN_MOMENTUM", "IMAGENET_MEAN", "IMAGENET_STD", "ImageNetNormalize", "min_input_size",
           "set_batchnorm_momentum"]

#: ImageNet channel means and standard deviations (torchvision's, of inputs scaled to [0, 1])
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
#: batch-norm momentum of every trained base (PyTorch's default)
BN_MOMENTUM = 0.1


class ImageNetNormalize(nn.Module):
    """``(x - mean) / std`` per channel with the ImageNet statistics, for inputs in [0, 1]."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


def set_batchnorm_momentum(module: nn.Module, momentum: float = BN_MOMENTUM) -> nn.Module:
    """Set the momentum of every BatchNorm in ``module`` (in place); return ``module``."""
    for m in module.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.momentum = momentum
    return module

