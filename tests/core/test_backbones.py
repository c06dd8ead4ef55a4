"""core.backbones: named cuts, offline ImageNet weights, first-conv adaptation, freezing, 3-D inflation."""

from __future__ import annotations

import copy
import socket
from pathlib import Path

import pytest
import torch
import torchvision
from torch import nn
from torch_helpers import randomise_batch_norms

from eoml.core.backbones import (
    BACKBONES,
    DEPTHS,
    Backbone,
    MissingWeightsError,
    adapt_first_conv,
    build_backbone,
    checkpoint_name,
    efficientnet_lite0_weights_path,
    inflate,
    networks,
)
from eoml.core.errors import ConfigError, InputFileError

pytestmark = pytest.mark.usefixtures("torch_one_thread", "no_network")

#: the documented cuts (docs/backbones.md): layer, channels, output stride
DOCUMENTED = {
    "resnet18": {"shallow": ("layer1", 64, 4), "intermediate": ("layer3", 256, 16), "deep": ("layer4", 512, 32)},
    "resnet34": {"shallow": ("layer1", 64, 4), "intermediate": ("layer3", 256, 16), "deep": ("layer4", 512, 32)},
    "resnet50": {"shallow": ("layer1", 256, 4), "intermediate": ("layer3", 1024, 16), "deep": ("layer4", 2048, 32)},
    "resnet101": {"shallow": ("layer1", 256, 4), "intermediate": ("layer3", 1024, 16), "deep": ("layer4", 2048, 32)},
    "vgg19": {"shallow": ("features.4", 64, 2), "intermediate": ("features.27", 512, 16),
              "deep": ("features.36", 512, 32)},
    "inception_v3": {"shallow": ("Mixed_5d", 288, 8), "intermediate": ("Mixed_6e", 768, 16),
                     "deep": ("Mixed_7c", 2048, 32)},
    "mobilenet_v2": {"shallow": ("features.3", 24, 4), "intermediate": ("features.13", 96, 16),
                     "deep": ("features.18", 1280, 32)},
    "efficientnet_lite0": {"shallow": ("_blocks.2", 24, 4), "intermediate": ("_blocks.10", 112, 16),
                           "deep": ("_conv_head", 1280, 32)},
}
#: Inception-v3's unpadded convolutions: a 75 x 75 input (its minimum) gives 7 / 3 / 1
INCEPTION_75 = {"shallow": 7, "intermediate": 3, "deep": 1}


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to open a network connection fails the test (weights are never downloaded)."""

    def refuse(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.fixture
def torch_home(tmp_path, monkeypatch) -> Path:
    """An empty TORCH_HOME (torchvision's cache) for this test."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    return tmp_path / "torch_home"


def test_documented_table_covers_every_backbone():
    assert set(DOCUMENTED) == set(BACKBONES) == set(DEPTHS)
    for name, cuts in DOCUMENTED.items():
        assert {d: v[0] for d, v in cuts.items()} == DEPTHS[name]


_NETWORKS: dict[str, nn.Module] = {}


@pytest.fixture
def shared_full_networks(monkeypatch):
    """Each full network is initialised once for the shape tests and deep-copied per cut
    (shapes do not depend on the initialisation; VGG-19's 139 M parameters take seconds)."""
    build = networks._full_network

    def cached(name):
        if name not in _NETWORKS:
            _NETWORKS.clear()  # keep one network in memory at a time
            _NETWORKS[name] = build(name)
        return copy.deepcopy(_NETWORKS[name])

    monkeypatch.setattr(networks, "_full_network", cached)


@pytest.mark.usefixtures("shared_full_networks")
@pytest.mark.parametrize("depth", ["shallow", "intermediate", "deep"])
@pytest.mark.parametrize("name", BACKBONES)
def test_named_cut_gives_documented_shape(name, depth):
    layer, channels, stride = DOCUMENTED[name][depth]
    torch.manual_seed(0)
    backbone = build_backbone(name, "random", depth).eval()
    assert isinstance(backbone, Backbone)
    assert (backbone.cut, backbone.depth, backbone.layers[-1]) == (layer, depth, layer)
    assert (backbone.out_channels, backbone.output_stride) == (channels, stride)
    size = 75 if name == "inception_v3" else 64
    with torch.no_grad():
        out = backbone(torch.randn(2, 3, size, size))
    side = INCEPTION_75[depth] if name == "inception_v3" else size // stride
    assert out.shape == (2, channels, side, side)
    assert torch.isfinite(out).all()
    # the cut keeps the full network's parameter names, and nothing after the cut
    keys = backbone.state_dict().keys()
    assert not any(k.startswith(("fc.", "classifier.", "_fc.", "AuxLogits.")) for k in keys)


def test_cut_at_explicit_layer_name():
    torch.manual_seed(0)
    backbone = build_backbone("resnet18", "random", "layer2")
    assert (backbone.depth, backbone.out_channels, backbone.output_stride) == (None, 128, 8)
    assert backbone.layers == ["conv1", "bn1", "relu", "maxpool", "layer1", "layer2"]
    with torch.no_grad():
        assert backbone.eval()(torch.randn(1, 3, 48, 80)).shape == (1, 128, 6, 10)
    vgg_like = build_backbone("mobilenet_v2", "random", "features.6")
    assert (vgg_like.out_channels, vgg_like.output_stride) == (32, 8)
    with pytest.raises(ConfigError, match="layer9"):
        build_backbone("resnet18", "random", "layer9")


def test_sequential_cut_matches_the_full_networks_forward(tmp_path):
    """Inception-v3 with ImageNet weights: the cut equals the full network's Mixed_7c output
    (torchvision's own forward, with its ``transform_input``), tensor for tensor."""
    torch.manual_seed(5)
    full = torchvision.models.inception_v3(weights=None, aux_logits=True, init_weights=False,
                                           transform_input=True).eval()
    randomise_batch_norms(full)
    file = tmp_path / "inception.pth"
    torch.save(full.state_dict(), file)
    captured = {}
    full.Mixed_7c.register_forward_hook(lambda m, i, o: captured.setdefault("out", o))
    x = torch.randn(1, 3, 80, 80)
    backbone = build_backbone("inception_v3", "imagenet", "deep", weights_path=file).eval()
    with torch.no_grad():
        full(x)
        assert torch.equal(backbone(x), captured["out"])


def test_checkpoint_in_torch_home_loads_tensor_for_tensor(torch_home):
    torch.manual_seed(123)
    state = torchvision.models.resnet18().state_dict()
    ckpt = torch_home / "hub" / "checkpoints" / "resnet18-f37072fd.pth"
    ckpt.parent.mkdir(parents=True)
    torch.save(state, ckpt)
    backbone = build_backbone("resnet18", "imagenet", "deep")
    loaded = backbone.state_dict()
    assert set(loaded) == {k for k in state if not k.startswith("fc.")}
    for key, tensor in loaded.items():
        assert torch.equal(tensor, state[key]), key
    assert checkpoint_name("resnet18") == ckpt.name


def test_weights_path_option(torch_home, tmp_path):
    torch.manual_seed(9)
    state = torchvision.models.mobilenet_v2().state_dict()
    file = tmp_path / "my_mobilenet.pth"
    torch.save(state, file)
    backbone = build_backbone("mobilenet_v2", "imagenet", "intermediate", weights_path=file)
    assert all(torch.equal(v, state[k]) for k, v in backbone.state_dict().items())
    assert "features.13.conv.0.0.weight" in backbone.state_dict()
    assert "features.14.conv.0.0.weight" not in backbone.state_dict()


@pytest.mark.parametrize("name", ["resnet18", "resnet50", "vgg19", "inception_v3", "mobilenet_v2"])
def test_missing_checkpoint_names_file_place_and_url(torch_home, name):
    file = checkpoint_name(name)
    with pytest.raises(MissingWeightsError) as info:
        build_backbone(name, "imagenet")
    msg = str(info.value)
    assert str(torch_home / "hub" / "checkpoints" / file) in msg
    assert "$TORCH_HOME/hub/checkpoints" in msg and "weights_path" in msg
    assert f"https://download.pytorch.org/models/{file}" in msg
    assert isinstance(info.value, ConfigError)


def test_missing_or_wrong_weights_path(tmp_path):
    with pytest.raises(MissingWeightsError, match="nowhere.pth"):
        build_backbone("resnet34", "imagenet", weights_path=tmp_path / "nowhere.pth")
    wrong = tmp_path / "wrong.pth"
    torch.save({"conv1.weight": torch.zeros(3)}, wrong)
    with pytest.raises(InputFileError, match="wrong.pth"):
        build_backbone("resnet18", "imagenet", weights_path=wrong)
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"not a torch file")
    with pytest.raises(InputFileError, match="garbage.pth"):
        build_backbone("resnet18", "imagenet", weights_path=garbage)


def test_efficientnet_lite0_loads_shipped_weights_offline(torch_home):
    shipped = torch.load(efficientnet_lite0_weights_path(), map_location="cpu", weights_only=True)
    backbone = build_backbone("efficientnet_lite0", "imagenet", "deep")
    state = backbone.state_dict()
    assert set(state) == {k for k in shipped if not k.startswith("_fc.")}
    for key in ("_conv_stem.weight", "_bn0.running_var", "_blocks.0._depthwise_conv.weight",
                "_blocks.15._project_conv.weight", "_conv_head.weight", "_bn1.running_mean"):
        assert torch.equal(state[key], shipped[key]), key
    assert all(torch.equal(v, shipped[k]) for k, v in state.items())
    assert not torch_home.exists()  # nothing was cached or fetched


def test_same_random_stream_whichever_weights(tmp_path):
    """The full network is always initialised, so what is built next starts the same."""
    torch.manual_seed(1)
    file = tmp_path / "r18.pth"
    torch.save(torchvision.models.resnet18().state_dict(), file)
    after = []
    for weights in ("imagenet", "random"):
        torch.manual_seed(0)
        build_backbone("resnet18", weights, "shallow", weights_path=file)
        after.append(torch.rand(3))
    assert torch.equal(*after)


def test_first_conv_adaptation_imagenet_scaling(tmp_path):
    torch.manual_seed(2)
    state = torchvision.models.resnet18().state_dict()
    file = tmp_path / "r18.pth"
    torch.save(state, file)
    backbone = build_backbone("resnet18", "imagenet", "shallow", in_channels=4, weights_path=file)
    rgb = state["conv1.weight"]
    expected = rgb.mean(1, keepdim=True).repeat(1, 4, 1, 1) * (3 / 4)
    torch.testing.assert_close(backbone.conv1.weight, expected, rtol=0, atol=0)
    # a grey image over 4 channels gives the RGB conv's response to the grey RGB image
    grey = torch.randn(1, 1, 32, 32)
    rgb_conv = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
    with torch.no_grad():
        rgb_conv.weight.copy_(rgb)
        torch.testing.assert_close(backbone.conv1(grey.repeat(1, 4, 1, 1)), rgb_conv(grey.repeat(1, 3, 1, 1)))
    assert backbone.out_channels == 64 and backbone.in_channels == 4


def test_first_conv_adaptation_rules():
    torch.manual_seed(0)
    conv = nn.Conv2d(3, 8, 3, padding=1)  # with a bias, as VGG's
    assert adapt_first_conv(conv, 3, pretrained=True) is conv
    new = adapt_first_conv(conv, 2, pretrained=True)
    torch.testing.assert_close(new.weight, conv.weight.mean(1, keepdim=True).repeat(1, 2, 1, 1) * 1.5)
    assert torch.equal(new.bias, conv.bias) and new.padding == conv.padding
    rnd = adapt_first_conv(conv, 1, pretrained=False)
    assert rnd.weight.shape == (8, 1, 3, 3) and torch.equal(rnd.bias, torch.zeros(8))
    assert not torch.allclose(rnd.weight, conv.weight.mean(1, keepdim=True) * 3)
    # the efficientnet package's SAME-padding stem keeps its type
    stem = build_backbone("efficientnet_lite0", "random", "shallow", in_channels=2)
    assert type(stem._conv_stem).__name__ == "Conv2dDynamicSamePadding"
    with torch.no_grad():
        assert stem.eval()(torch.randn(1, 2, 33, 47)).shape == (1, 24, 9, 12)


def test_frozen_backbone_is_a_fixed_feature_extractor():
    torch.manual_seed(0)
    backbone = build_backbone("resnet18", "random", "intermediate", trainable=False)
    assert not any(p.requires_grad for p in backbone.parameters())
    backbone.train()
    assert not any(m.training for m in backbone.modules() if isinstance(m, nn.BatchNorm2d))
    before = {k: v.clone() for k, v in backbone.state_dict().items()}
    x = torch.randn(2, 3, 32, 32)
    y_train = backbone(x)
    assert all(torch.equal(v, before[k]) for k, v in backbone.state_dict().items())  # stats kept
    with torch.no_grad():
        assert torch.equal(backbone.eval()(x), y_train)
    backbone.unfreeze().train()
    assert all(p.requires_grad for p in backbone.parameters()) and backbone.bn1.training


def test_partial_freeze():
    torch.manual_seed(0)
    backbone = build_backbone("efficientnet_lite0", "random", "intermediate")
    backbone.freeze(until="_blocks.4").train()
    assert backbone.frozen == ["_conv_stem", *(f"_blocks.{i}" for i in range(5))]
    assert not backbone._bn0.training and not backbone._bn0.weight.requires_grad
    assert not backbone._blocks[4]._bn2.training and not backbone._blocks[4]._project_conv.weight.requires_grad
    assert backbone._blocks[5]._bn2.training and backbone._blocks[5]._project_conv.weight.requires_grad
    with pytest.raises(ConfigError, match="layer4"):
        backbone.freeze(until="layer4")


def test_bad_arguments():
    with pytest.raises(ConfigError, match="vgg16"):
        build_backbone("vgg16", "random")
    with pytest.raises(ConfigError, match="weights"):
        build_backbone("resnet18", "scratch")
    with pytest.raises(ConfigError, match="shallow"):
        build_backbone("mobilenet_v2", "random", "middle")


def _constant_clip_check(backbone: Backbone, size: int, frames: int = 4, **kwargs):
    randomise_batch_norms(backbone)
    backbone.eval()
    net3d = inflate(backbone, **kwargs).eval()
    x = torch.randn(2, backbone.in_channels, size, size)
    clip = x.unsqueeze(2).repeat(1, 1, frames, 1, 1)
    with torch.no_grad():
        y2, y3 = backbone(x), net3d(clip)
    assert y3.shape[:2] == y2.shape[:2] and y3.shape[-2:] == y2.shape[-2:]
    for t in range(y3.shape[2]):
        # float tolerance: the 3-D sums run over kt times more terms, in another order
        torch.testing.assert_close(y3[:, :, t], y2, rtol=1e-4, atol=1e-5 * float(y2.abs().max()))
    return net3d, y3


@pytest.mark.parametrize(
    "name, cut, size",
    [("resnet18", "deep", 64), ("resnet50", "intermediate", 32), ("mobilenet_v2", "deep", 64),
     ("efficientnet_lite0", "deep", 64), ("vgg19", "intermediate", 32)],
)
def test_inflation_reproduces_2d_response_on_constant_clip(name, cut, size):
    torch.manual_seed(0)
    backbone = build_backbone(name, "random", cut, in_channels=3)
    net3d, y3 = _constant_clip_check(backbone, size, frames=4)
    assert y3.shape[2] == 4  # time stride 1 by default
    assert net3d.dims == 3 and backbone.dims == 2
    assert list(net3d.state_dict()) == list(backbone.state_dict())  # names unchanged
    convs = [m for m in net3d.modules() if isinstance(m, nn.Conv3d)]
    assert convs and not any(isinstance(m, (nn.Conv2d, nn.BatchNorm2d)) for m in net3d.modules())
    for m in convs:  # time kernel 3 where the spatial kernel is > 1, else 1
        assert m.kernel_size[0] == (3 if max(m.kernel_size[1:]) > 1 else 1)


def test_inflation_kernels_strides_and_padding():
    torch.manual_seed(0)
    backbone = build_backbone("resnet18", "random", "intermediate", in_channels=2)
    strides = {"layer2.0.conv1": 2, "layer2.0.downsample.0": 2}
    net3d, y3 = _constant_clip_check(backbone, 32, frames=5, time_kernels={"conv1": 5, "maxpool": 3},
                                     time_strides=strides)
    assert y3.shape[2] == 3  # ceil(5 / 2)
    w2, w3 = backbone.conv1.weight, net3d.conv1.weight
    assert w3.shape == (64, 2, 5, 7, 7)
    assert all(torch.equal(w3[:, :, t], w2 / 5) for t in range(5))
    assert net3d.maxpool.kernel_size == (3, 3, 3)
    # zero time padding: the clip's first frame sees zeros, so it no longer matches the 2-D response
    zeros = inflate(backbone, time_padding="zeros").eval()
    x = torch.randn(1, 2, 32, 32)
    with torch.no_grad():
        first = zeros(x.unsqueeze(2).repeat(1, 1, 5, 1, 1))[:, :, 0]
        assert not torch.allclose(first, backbone.eval()(x), atol=1e-3)


def test_inflation_keeps_frozen_layers_and_trains():
    torch.manual_seed(0)
    backbone = build_backbone("mobilenet_v2", "random", "shallow")
    backbone.freeze(until="features.1")
    net3d = inflate(backbone).train()
    assert not net3d.features[0][0].weight.requires_grad and not net3d.features[0][1].training
    assert net3d.features[2].conv[0][0].weight.requires_grad and net3d.features[2].conv[0][1].training
    out = net3d(torch.randn(2, 3, 3, 32, 32))
    out.mean().backward()
    assert out.shape == (2, 24, 3, 8, 8) and net3d.features[3].conv[2].weight.grad is not None


def test_inflation_refusals():
    torch.manual_seed(0)
    backbone = build_backbone("resnet18", "random", "shallow")
    with pytest.raises(ConfigError, match="layer9"):
        inflate(backbone, time_strides={"layer9": 2})
    with pytest.raises(ConfigError, match="time_padding"):
        inflate(backbone, time_padding="circular")
    with pytest.raises(ConfigError, match="already 3-D"):
        inflate(inflate(backbone))
    with pytest.raises(ConfigError, match="inception_v3"):
        inflate(build_backbone("inception_v3", "random", "shallow"))
