"""scenes models: a core backbone cut at a named depth + the transfer-learning top model.

Following Pires de Lima & Marfurt (2020), a scene classifier is

* a **base**: a classification network of :mod:`eoml.core.backbones` (VGG-19, Inception-v3,
  ResNet, MobileNet-v2, EfficientNet-Lite0) with ImageNet or random weights, cut at ``shallow`` /
  ``intermediate`` / ``deep`` (VGG-19: block1 / block4 / block5 pooling; Inception-v3: Mixed_5d /
  Mixed_6e / Mixed_7c — Keras' mixed2 / mixed7 / mixed10; the other cuts in
  ``docs/backbones.md``), or at any layer name of :func:`eoml.core.backbones.layer_names`;
* a **top model**: global average pooling → dense ``top.hidden`` (ReLU) → dropout ``top.dropout``
  → dense ``n_classes`` (logits; the softmax is in the cross-entropy). The two dense layers are
  Glorot-uniform (:func:`torch.nn.init.xavier_uniform_`, Keras' default kernel initialiser) with
  zero biases, as in the peer's Keras top model.

Input: RGB images ``(N, 3, H, W)`` scaled to [0, 1] (``uint8 / 255``). The classifier itself
applies the ImageNet mean / standard deviation normalisation (core's :class:`~eoml.core.backbones.ImageNetNormalize`;
non-persistent buffers, not in the state dict) that torchvision's ImageNet
weights expect, whatever the weights: random and transferred bases see the same inputs.
Inception-v3's ImageNet backbone then maps the normalised input to Google's [-1, 1] itself (core).

Freezing (:meth:`SceneClassifier.freeze_base` / :meth:`~SceneClassifier.unfreeze_base`, core's
:meth:`eoml.core.backbones.Backbone.freeze`): the base's parameters stop receiving gradients
*and* its layers stay in eval mode whatever ``.train()`` says, so BatchNorm keeps its stored
statistics (no batch statistics, no running-average updates) and stochastic depth is off. This is
what Keras does for ``trainable=False`` since TF 2: a frozen base is a fixed feature extractor
(which is also what makes the feature cache of :mod:`eoml.scenes.train` exact). Unfrozen, every
layer trains, BatchNorm included.

EfficientNet-Lite0 comes with TensorFlow's batch-norm decay 0.99 (PyTorch momentum 0.01): running
statistics that need hundreds of steps to forget their start. Every BatchNorm of the base is set to
PyTorch's default momentum :data:`BN_MOMENTUM` (0.1, as torchvision's networks), so a random or
fine-tuned base trained for a few hundred steps on a small dataset is not evaluated with
near-initial statistics (which would make it predict one class: a spurious "collapse").

Parameter names: ``base.<full network's layer names>`` (core keeps them), ``head.0`` and ``head.3`` for the
dense layers.

References: R. Pires de Lima, K. Marfurt (2020) "Convolutional neural network for remote-sensing
scene classification: transfer learning analysis", Remote Sensing 12(1):86; Glorot & Bengio (2010)
"Understanding the difficulty of training deep feedforward neural networks", AISTATS.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from eoml.core.backbones import (
    BN_MOMENTUM,
    IMAGENET_MEAN,
    IMAGENET_STD,
    Backbone,
    ImageNetNormalize,
    build_backbone,
    set_batchnorm_momentum,
)
from eoml.core.backbones import min_input_size as min_image_size
from eoml.core.errors import ConfigError
from eoml.core.settings import required_keys

__all__ = [
    "BN_MOMENTUM",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "INITS",
    "ImageNetNormalize",
    "SceneClassifier",
    "build_classifier",
    "min_image_size",
]

#: weights a classifier can be built with (a transferred base is built "random", then loaded)
INITS = ("imagenet", "random")
#: keys of the ``top`` config section
TOP_KEYS = ("hidden", "dropout")


class SceneClassifier(nn.Module):
    """``normalize`` → ``base`` → ``pool`` (global average, flattened) → ``head`` (dense, ReLU,
    dropout, dense). :meth:`features` is the pooled base output ``(N, C)``; the head alone maps
    such features to logits, which is how cached features are trained on."""

    def __init__(self, base: Backbone, head: nn.Sequential, *, backbone: str, depth: str, init: str):
        super().__init__()
        self.normalize = ImageNetNormalize()
        self.base = base
        self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(1))
        self.head = head
        self.backbone, self.depth, self.init = backbone, depth, init

    @property
    def n_features(self) -> int:
        return int(self.base.out_channels)

    @property
    def n_classes(self) -> int:
        return int(self.head[-1].out_features)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Globally pooled base features ``(N, C)`` of images ``(N, 3, H, W)`` in [0, 1]."""
        return self.pool(self.base(self.normalize(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))

    # ---------------------------------------------------------------------------------- freezing
    def freeze_base(self) -> SceneClassifier:
        """Base parameters without gradients, base layers in eval mode (BatchNorm statistics kept)."""
        self.base.freeze()
        return self

    def unfreeze_base(self) -> SceneClassifier:
        """Every layer of the base trains again."""
        self.base.unfreeze()
        return self

    @property
    def base_frozen(self) -> bool:
        return bool(self.base.frozen)


def _dense(n_in: int, n_out: int) -> nn.Linear:
    layer = nn.Linear(n_in, n_out)
    nn.init.xavier_uniform_(layer.weight)
    nn.init.zeros_(layer.bias)
    return layer


def build_classifier(
    backbone: str,
    init: str,
    depth: str,
    n_classes: int,
    top_cfg: Mapping[str, Any],
    weights_path: str | Path | None = None,
) -> SceneClassifier:
    """A scene classifier: core backbone ``backbone`` with ``init`` weights (``imagenet`` /
    ``random``) cut at ``depth``, and the top model of ``top_cfg`` (``{hidden, dropout}``, the
    ``top`` config section) for ``n_classes`` classes. The base is trainable (freeze it with
    :meth:`SceneClassifier.freeze_base`).

    ``weights_path`` overrides where the ImageNet checkpoint is read from (core's rule:
    ``$TORCH_HOME/hub/checkpoints/<file>`` otherwise); a missing checkpoint raises core's
    :class:`~eoml.core.backbones.MissingWeightsError` naming the file before anything is built.
    Under one seed the base consumes the same random numbers whatever ``init`` (core builds the
    random network first), so the top model starts identical with ImageNet or random weights.
    """
    if init not in INITS:
        raise ConfigError(f"init: {init!r} is not one of {INITS}")
    if int(n_classes) < 2:
        raise ConfigError(f"a scene classifier needs at least 2 classes (got {n_classes})")
    top = required_keys(top_cfg, TOP_KEYS, "top")
    hidden, dropout = int(top["hidden"]), float(top["dropout"])
    if hidden < 1 or not 0.0 <= dropout < 1.0:
        raise ConfigError(f"top: hidden must be >= 1 and dropout in [0, 1) (got {hidden}, {dropout})")
    base = build_backbone(backbone, init, depth, in_channels=3, weights_path=weights_path)
    set_batchnorm_momentum(base, BN_MOMENTUM)
    head = nn.Sequential(
        _dense(base.out_channels, hidden),
        nn.ReLU(),
        nn.Dropout(dropout),
        _dense(hidden, int(n_classes)),
    )
    return SceneClassifier(base, head, backbone=backbone, depth=depth, init=init)
