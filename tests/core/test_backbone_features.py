"""core.backbones: ``Backbone.layer_outputs`` (intermediate features by layer name), 2-D and inflated."""

from __future__ import annotations

import pytest
import torch

from eoml.core.backbones import SequentialBackbone, build_backbone, inflate
from eoml.core.errors import ConfigError

pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.mark.parametrize(
    "name, cut, asked, shapes",
    [
        ("resnet18", "deep", ["layer4", "layer1", "layer2"], [(512, 1, 2), (64, 8, 16), (128, 4, 8)]),
        ("mobilenet_v2", "intermediate", ["features.3", "features.13"], [(24, 8, 16), (96, 2, 4)]),
        ("efficientnet_lite0", "deep", ["_conv_stem", "_blocks.4", "_conv_head"],
         [(32, 16, 32), (40, 4, 8), (1280, 1, 2)]),
    ],
)
def test_layer_outputs_match_forward_2d_and_3d(name, cut, asked, shapes):
    torch.manual_seed(0)
    backbone = build_backbone(name, "random", cut, in_channels=2).eval()
    x = torch.randn(2, 2, 32, 64)
    with torch.no_grad():
        outs = backbone.layer_outputs(x, asked)
        # the last layer's output is forward's, bitwise (same operations in the same order)
        assert torch.equal(backbone.layer_outputs(x, [backbone.layers[-1]])[0], backbone(x))
        # a layer's output equals the forward pass of the backbone cut at that layer
        deepest = max(asked, key=backbone.layers.index)
        cut_there = build_backbone(name, "random", asked[1], in_channels=2).eval()
        cut_there.load_state_dict({k: v for k, v in backbone.state_dict().items() if k in cut_there.state_dict()})
        assert torch.equal(outs[1], cut_there(x))
    assert [tuple(o.shape[1:]) for o in outs] == shapes
    assert deepest == backbone.layers[-1] and torch.equal(outs[asked.index(deepest)], backbone(x))

    net3d = inflate(backbone).eval()
    clip = torch.randn(1, 2, 3, 32, 64)
    with torch.no_grad():
        outs3 = net3d.layer_outputs(clip, asked)
        assert torch.equal(net3d.layer_outputs(clip, [net3d.layers[-1]])[0], net3d(clip))
    assert [tuple(o.shape[1:]) for o in outs3] == [(c, 3, h, w) for c, h, w in shapes]


def test_layer_outputs_runs_inception_input_transform_and_refuses_unknown_layers():
    """Inception-v3 (ImageNet, 3 channels) re-maps its input first, in forward and in layer_outputs."""
    import torchvision

    torch.manual_seed(0)
    net = torchvision.models.inception_v3(weights=None, aux_logits=True, init_weights=False)
    layers = ["Conv2d_1a_3x3", "Conv2d_2a_3x3"]
    plain = SequentialBackbone("inception_v3", net, layers).eval()
    remapped = SequentialBackbone("inception_v3", net, layers, transform_input=True).eval()
    x = torch.randn(1, 3, 40, 40)
    with torch.no_grad():
        first, second = remapped.layer_outputs(x, layers)
        assert torch.equal(second, remapped(x))
        assert not torch.equal(second, plain(x))
        assert torch.equal(plain.layer_outputs(x, ["Conv2d_2a_3x3"])[0], plain(x))
    assert first.shape[1] == 32
    with pytest.raises(ConfigError, match="layer9"):
        plain.layer_outputs(x, ["layer9"])
    with pytest.raises(ConfigError, match="no layer names"):
        plain.layer_outputs(x, [])
