"""scenes.models: the base + top model, Glorot top, ImageNet normalisation, freezing, weights files."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from eoml.core.backbones import MissingWeightsError
from eoml.core.errors import ConfigError
from eoml.scenes.models import (
    BN_MOMENTUM,
    IMAGENET_MEAN,
    IMAGENET_STD,
    build_classifier,
    min_image_size,
)

pytestmark = pytest.mark.usefixtures("torch_one_thread")

TOP = {"hidden": 64, "dropout": 0.5}


@pytest.mark.parametrize("depth, channels", [("shallow", 24), ("intermediate", 112), ("deep", 1280)])
def test_efficientnet_lite0_imagenet_at_each_depth(depth, channels):
    torch.manual_seed(0)
    net = build_classifier("efficientnet_lite0", "imagenet", depth, 5, TOP)
    assert net.n_features == channels and net.n_classes == 5
    x = torch.rand(2, 3, 32, 32)
    net.eval()
    logits = net(x)
    assert logits.shape == (2, 5) and torch.isfinite(logits).all()
    assert net.features(x).shape == (2, channels)
    assert torch.equal(net.head(net.features(x)), logits)  # the head alone maps cached features
    # top: dense hidden -> ReLU -> dropout -> dense classes
    dense1, relu, drop, dense2 = net.head
    assert (dense1.in_features, dense1.out_features, dense2.out_features) == (channels, 64, 5)
    assert isinstance(relu, nn.ReLU) and isinstance(drop, nn.Dropout) and drop.p == 0.5


def test_top_layers_are_glorot_uniform_with_zero_bias():
    torch.manual_seed(1)
    net = build_classifier("resnet18", "random", "deep", 10, {"hidden": 512, "dropout": 0.5})
    for layer in (net.head[0], net.head[3]):
        fan_in, fan_out = layer.in_features, layer.out_features
        bound = math.sqrt(6.0 / (fan_in + fan_out))
        w = layer.weight.detach()
        assert torch.all(layer.bias == 0)
        assert w.abs().max() <= bound
        # uniform on [-bound, bound]: std bound / sqrt(3); torch's default Linear init would be
        # uniform on +-1/sqrt(fan_in), a different spread
        assert float(w.std()) == pytest.approx(bound / math.sqrt(3), rel=0.05)
        assert abs(float(w.std()) - 1 / math.sqrt(fan_in) / math.sqrt(3)) > 0.1 * float(w.std())


def test_imagenet_normalisation_inside_and_not_in_the_state_dict():
    net = build_classifier("resnet18", "random", "shallow", 3, TOP)
    x = torch.rand(2, 3, 8, 8)
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    assert torch.allclose(net.normalize(x), (x - mean) / std)
    assert not any(k.startswith("normalize") for k in net.state_dict())
    assert {k.split(".")[0] for k in net.state_dict()} == {"base", "head"}


def test_freeze_keeps_base_fixed_and_batchnorm_statistics_unchanged():
    torch.manual_seed(0)
    net = build_classifier("efficientnet_lite0", "imagenet", "intermediate", 3, TOP)
    bns = [m for m in net.base.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    assert bns and all(m.momentum == BN_MOMENTUM for m in bns)  # not the package's 0.01
    net.freeze_base().train()
    assert net.base_frozen
    assert not any(p.requires_grad for p in net.base.parameters())
    assert all(p.requires_grad for p in net.head.parameters())
    assert all(not m.training for m in bns) and net.head.training
    before = {k: v.clone() for k, v in net.base.state_dict().items()}
    loss = net(torch.rand(4, 3, 32, 32)).sum()
    loss.backward()
    assert all(p.grad is None for p in net.base.parameters())
    assert all(torch.equal(before[k], v) for k, v in net.base.state_dict().items())  # running stats too
    # a frozen base in train mode computes what it computes in eval mode (a fixed feature extractor)
    x = torch.rand(3, 3, 32, 32)
    with torch.no_grad():
        train_feats = net.features(x)
        net.eval()
        assert torch.equal(train_feats, net.features(x))
    net.unfreeze_base().train()
    assert not net.base_frozen and all(p.requires_grad for p in net.base.parameters())
    assert all(m.training for m in bns)
    net(torch.rand(4, 3, 32, 32))
    assert not all(torch.equal(before[k], v) for k, v in net.base.state_dict().items())  # statistics move


def test_same_seed_same_top_whatever_the_weights():
    heads = []
    for init in ("imagenet", "random"):
        torch.manual_seed(7)
        heads.append(build_classifier("efficientnet_lite0", init, "shallow", 4, TOP).head.state_dict())
    assert all(torch.equal(heads[0][k], heads[1][k]) for k in heads[0])


def test_missing_imagenet_checkpoint_names_the_file(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    with pytest.raises(MissingWeightsError, match=r"vgg19-dcbb9e9d\.pth"):
        build_classifier("vgg19", "imagenet", "shallow", 3, TOP)
    with pytest.raises(MissingWeightsError, match=r"weights_path=.*nowhere\.pth"):
        build_classifier("resnet18", "imagenet", "shallow", 3, TOP, weights_path=tmp_path / "nowhere.pth")


def test_bad_arguments():
    with pytest.raises(ConfigError, match="init: 'places365'"):
        build_classifier("resnet18", "places365", "deep", 3, TOP)
    with pytest.raises(ConfigError, match="at least 2 classes"):
        build_classifier("resnet18", "random", "deep", 1, TOP)
    with pytest.raises(ConfigError, match=r"top: missing key\(s\) dropout"):
        build_classifier("resnet18", "random", "deep", 3, {"hidden": 8})
    with pytest.raises(ConfigError, match="dropout in"):
        build_classifier("resnet18", "random", "deep", 3, {"hidden": 8, "dropout": 1.0})
    with pytest.raises(ConfigError, match="cut: 'deepest'"):
        build_classifier("resnet18", "random", "deepest", 3, TOP)
    assert min_image_size("inception_v3") == 75 and min_image_size("vgg19") == 32
