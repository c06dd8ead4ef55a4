"""aot models: shapes, gradients, offline weights, inflation (constant clip = 2-D network), counts."""

from __future__ import annotations

import pytest
import torch
import torchvision
from torch import nn
from torch_helpers import randomise_batch_norms

from eoml.aot.models import (
    SKIP_STRIDES,
    build_network,
    encoder_layers,
    parameter_counts,
)
from eoml.core.backbones import BN_MOMENTUM, MissingWeightsError, build_backbone
from eoml.core.errors import ConfigError
from eoml.core.training import count_parameters

pytestmark = pytest.mark.usefixtures("torch_one_thread")

C, T = 2, 3


def cnn3d(backbone="resnet18", weights="random", head="segmentation", pooling="max", **kw):
    spec = {"model": "cnn3d", "backbone": backbone, "weights": weights, "time_kernel": 3, "head": head,
            "pooling": pooling, "dropout": 0.2}
    if head == "segmentation":
        spec["decoder_channels"] = [16, 8, 8, 4]
    return {**spec, **kw}


CONVLSTM = {"model": "convlstm", "hidden": [6, 5], "kernel": 3}
SA_CONVLSTM = {"model": "sa_convlstm", "hidden": [6, 5], "kernel": 3, "attention_stride": 2}


@pytest.mark.parametrize(
    "spec, size",
    [(cnn3d(), (24, 40)), (cnn3d(), (23, 41)), (cnn3d(head="paper", pooling="avg"), (23, 41)),
     (cnn3d("mobilenet_v2", decoder_channels=[8, 8, 8, 8, 4]), (17, 30)),
     (CONVLSTM, (23, 41)), (SA_CONVLSTM, (23, 41)), ({**SA_CONVLSTM, "attention_stride": 1}, (9, 14))],
)
def test_shapes_and_gradients(spec, size):
    torch.manual_seed(0)
    net = build_network(spec, in_channels=C, n_frames=T, height=size[0], width=size[1]).train()
    x = torch.randn(2, C, T, *size)
    y = net(x)
    assert y.shape == (2, *size) and torch.isfinite(y).all()
    y.square().mean().backward()
    grads = {n: p.grad for n, p in net.named_parameters()}
    assert all(g is not None and torch.isfinite(g).all() for g in grads.values()), \
        [n for n, g in grads.items() if g is None]
    assert float(sum(g.abs().sum() for g in grads.values())) > 0
    assert all(m.momentum == BN_MOMENTUM for m in net.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm))


def test_recurrent_and_segmentation_models_take_any_clip_length_and_grid():
    torch.manual_seed(0)
    for spec in (CONVLSTM, SA_CONVLSTM, cnn3d()):
        net = build_network(spec, in_channels=C, n_frames=T, height=24, width=40).eval()
        with torch.no_grad():
            assert net(torch.randn(1, C, 1, 24, 40)).shape == (1, 24, 40)
            assert net(torch.randn(1, C, 5, 20, 33)).shape == (1, 20, 33)


def test_paper_head_grid_is_fixed_and_inputs_checked():
    torch.manual_seed(0)
    net = build_network(cnn3d(head="paper"), in_channels=C, n_frames=T, height=24, width=40)
    assert net.head.fc.out_features == 24 * 40
    with pytest.raises(ValueError, match="24 x 40"):
        net(torch.randn(1, C, T, 32, 40))
    with pytest.raises(ValueError, match="clip"):
        net(torch.randn(1, C + 1, T, 24, 40))


def test_segmentation_head_layers_per_backbone():
    torch.manual_seed(0)
    net = build_network(cnn3d("efficientnet_lite0"), in_channels=C, n_frames=T, height=24, width=40)
    assert net.head.layers == ["_conv_head", "_blocks.10", "_blocks.4", "_blocks.2"]
    assert net.head.out_stride == 2  # four blocks from stride 32
    net = build_network(cnn3d(decoder_channels=[8, 8]), in_channels=C, n_frames=T, height=24, width=40)
    assert net.head.layers == ["layer4", "layer3", "layer2"] and net.head.out_stride == 8
    strides = {layer: stride for layer, _, stride in encoder_layers(build_backbone("resnet18", "random"))}
    assert [strides[name] for name in ("layer1", "layer2", "layer3", "layer4")] == [4, 8, 16, 32]
    assert SKIP_STRIDES == (16, 8, 4)


def test_spec_errors():
    with pytest.raises(ConfigError, match="pooling"):
        build_network({k: v for k, v in cnn3d().items() if k != "pooling"}, in_channels=C, n_frames=T,
                      height=24, width=40)
    with pytest.raises(ConfigError, match="decoder_channels"):
        build_network({k: v for k, v in cnn3d().items() if k != "decoder_channels"}, in_channels=C,
                      n_frames=T, height=24, width=40)
    with pytest.raises(ConfigError, match="at most 5"):
        build_network(cnn3d(decoder_channels=[4] * 6), in_channels=C, n_frames=T, height=24, width=40)
    with pytest.raises(ConfigError, match="head"):
        build_network(cnn3d(head="dense"), in_channels=C, n_frames=T, height=24, width=40)
    with pytest.raises(ConfigError, match="kernel"):
        build_network({**CONVLSTM, "kernel": 2}, in_channels=C, n_frames=T, height=24, width=40)
    with pytest.raises(ConfigError, match="attention_stride"):
        build_network(CONVLSTM | {"model": "sa_convlstm"}, in_channels=C, n_frames=T, height=24, width=40)
    with pytest.raises(ConfigError, match="model"):
        build_network({"model": "transformer"}, in_channels=C, n_frames=T, height=24, width=40)


def test_missing_imagenet_weights(tmp_path):
    with pytest.raises(MissingWeightsError, match="nowhere.pth"):
        build_network(cnn3d(weights="imagenet"), in_channels=C, n_frames=T, height=24, width=40,
                      weights_path=tmp_path / "nowhere.pth")


@pytest.fixture
def resnet18_checkpoint(tmp_path):
    """A resnet18 state dict in torchvision's layout, written as the test's "ImageNet" file."""
    torch.manual_seed(11)
    net = torchvision.models.resnet18(weights=None)
    randomise_batch_norms(net)
    path = tmp_path / "resnet18-f37072fd.pth"
    torch.save(net.state_dict(), path)
    return path


@pytest.mark.parametrize("backbone", ["resnet18", "efficientnet_lite0"])
@pytest.mark.parametrize("head", ["paper", "segmentation"])
def test_inflated_model_on_constant_clip_equals_2d_network(backbone, head, resnet18_checkpoint):
    """A clip of one frame repeated: every time step of every encoder map is the 2-D backbone's map
    of that frame (ImageNet weights inflated), and the whole model equals its head on 2-D features."""
    weights_path = resnet18_checkpoint if backbone == "resnet18" else None  # efficientnet: shipped file
    h, w = (32, 64) if head == "paper" else (27, 45)
    torch.manual_seed(0)
    net = build_network(cnn3d(backbone, "imagenet", head), in_channels=C, n_frames=T, height=h, width=w,
                        weights_path=weights_path).eval()
    net2d = build_backbone(backbone, "imagenet", "deep", in_channels=C, weights_path=weights_path).eval()
    # the 3-D encoder carries the checkpoint's weights (k x k kernels spread over 3 frames)
    first = next(iter(net2d.state_dict()))
    torch.testing.assert_close(net.encoder.state_dict()[first].sum(dim=2), net2d.state_dict()[first])
    frame = torch.randn(2, C, 32, 64)
    clip = frame.unsqueeze(2).repeat(1, 1, T, 1, 1)
    layers = net.head.layers if head == "segmentation" else [net2d.layers[-1]]
    with torch.no_grad():
        maps3, maps2 = net.encoder.layer_outputs(clip, layers), net2d.layer_outputs(frame, layers)
        for y3, y2 in zip(maps3, maps2):
            assert y3.shape[2] == T
            for t in range(T):
                torch.testing.assert_close(y3[:, :, t], y2, rtol=1e-4, atol=1e-5 * float(y2.abs().max()))
        if head == "paper":
            y, y2 = net(clip), net.head(maps2[0])
        else:  # unpadded grid (32 x 64): the model is the head on the 2-D maps
            y, y2 = net(clip), net.head(maps2, frame.shape[-2:])[:, 0]
            assert net(torch.randn(1, C, T, h, w)).shape == (1, h, w)
    assert y.shape == (2, 32, 64)
    torch.testing.assert_close(y, y2, rtol=1e-4, atol=1e-5 * float(y2.abs().max()))


@pytest.mark.parametrize(
    "spec",
    [cnn3d(head="paper", time_kernel=2), cnn3d("efficientnet_lite0"), cnn3d("mobilenet_v2", head="paper"),
     CONVLSTM, SA_CONVLSTM],
)
def test_parameter_counts_equal_built_model(spec):
    torch.manual_seed(0)
    net = build_network(spec, in_channels=C, n_frames=T, height=24, width=40)
    counts = parameter_counts(spec, C, T, 24, 40)
    assert counts == {"encoder": count_parameters(net.encoder), "head": count_parameters(net.head),
                      "total": count_parameters(net)}
    if spec.get("head") == "paper":
        assert counts["head"] == (net.encoder.out_channels + 1) * 24 * 40
