"""MRUNet: shapes, variants, global residual identity at init, configuration errors."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from eoml.core.errors import ConfigError
from eoml.core.training import count_parameters
from eoml.lst.models import MRUNet, ResidualBlock, build_model

SMALL = {"base_channels": 4, "depth": 2, "res_blocks": 1}


pytestmark = pytest.mark.usefixtures("torch_one_thread")


def _spec(variant="paper", ndvi=True, protocol="wald"):
    return {"name": f"m_{variant}", "variant": variant, "protocol": protocol, "ndvi": ndvi}


@pytest.mark.parametrize("variant", ["paper", "student"])
@pytest.mark.parametrize("ndvi", [True, False])
@pytest.mark.parametrize("shape", [(32, 32), (24, 40)])
def test_forward_shapes(variant, ndvi, shape):
    torch.manual_seed(0)
    model = build_model(_spec(variant, ndvi), SMALL)
    assert model.in_channels == (2 if ndvi else 1)
    assert model.multiple == 4
    x = torch.randn(3, model.in_channels, *shape)
    assert model(x).shape == (3, 1, *shape)
    model.eval()
    assert model(x[:1]).shape == (1, 1, *shape)


@pytest.mark.parametrize("depth", [1, 3])
def test_depth_sets_the_size_multiple(depth):
    model = MRUNet(in_channels=2, base_channels=4, depth=depth, res_blocks=2)
    size = 2**depth * 3
    assert model(torch.randn(2, 2, size, size)).shape == (2, 1, size, size)
    with pytest.raises(ValueError, match="divisible"):
        model(torch.randn(1, 2, size + 1, size))
    with pytest.raises(ValueError, match="input channel"):
        model(torch.randn(1, 1, size, size))


def test_variants_use_their_own_resampling():
    paper = build_model(_spec("paper"), SMALL)
    student = build_model(_spec("student"), SMALL)
    kinds = lambda m: {type(x) for x in m.modules()}  # noqa: E731
    assert nn.ConvTranspose2d in kinds(paper) and nn.MaxPool2d not in kinds(paper)
    assert nn.MaxPool2d in kinds(student) and nn.ConvTranspose2d not in kinds(student)
    strided = [m for m in paper.modules() if isinstance(m, nn.Conv2d) and m.stride == (2, 2)]
    assert len(strided) == SMALL["depth"]
    # channels double per level: the bridge works on base * 2**depth channels
    assert paper.bridge[0].body[0].out_channels == SMALL["base_channels"] * 2 ** SMALL["depth"]
    assert count_parameters(paper) != count_parameters(student)


@pytest.mark.parametrize("variant", ["paper", "student"])
def test_zero_tail_gives_the_input_lst_channel(variant):
    """Global residual learning: with a zero tail the output is channel 0 (the bicubic LST)."""
    torch.manual_seed(1)
    model = build_model(_spec(variant), SMALL)
    x = torch.randn(2, 2, 16, 16)
    # the default initialisation zeroes the tail: an untrained model is the bicubic baseline
    assert torch.equal(model(x), x[:, :1])
    # ... whatever the other weights are
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.1 * torch.randn_like(p))
        model.tail.weight.zero_()
        model.tail.bias.zero_()
    assert torch.equal(model(x), x[:, :1])
    with torch.no_grad():
        model.tail.weight.fill_(0.05)
    assert not torch.allclose(model(x), x[:, :1])


def test_zero_tail_still_learns():
    torch.manual_seed(2)
    model = build_model(_spec("paper"), SMALL)
    x = torch.randn(2, 2, 16, 16)
    loss = ((model(x) - (x[:, :1] + 1.0)) ** 2).mean()
    loss.backward()
    assert model.tail.weight.grad.abs().sum() > 0 and model.tail.bias.grad.abs().sum() > 0


def test_residual_block_shortcuts():
    same = ResidualBlock(4, 4)
    wider = ResidualBlock(4, 8, norm=False)
    assert isinstance(same.shortcut, nn.Identity)
    assert isinstance(wider.shortcut, nn.Conv2d) and wider.shortcut.kernel_size == (1, 1)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in wider.modules())
    assert wider(torch.randn(1, 4, 8, 8)).shape == (1, 8, 8, 8)


def test_build_model_rejects_bad_settings():
    with pytest.raises(ConfigError, match="variant"):
        build_model(_spec("unet"), SMALL)
    with pytest.raises(ConfigError, match="protocol"):
        build_model(_spec(protocol="gan"), SMALL)
    with pytest.raises(ConfigError, match="unknown key"):
        build_model(_spec(), {**SMALL, "width": 3})
    with pytest.raises(ConfigError, match="depth"):
        build_model(_spec(), {**SMALL, "depth": 0})
    # no code-side defaults: the validated config holds every key
    with pytest.raises(ConfigError, match="missing key.*res_blocks"):
        build_model(_spec(), {"base_channels": 4, "depth": 2})
    with pytest.raises(ConfigError, match=r"lst.models\[\]: missing key\(s\) ndvi"):
        build_model({k: v for k, v in _spec().items() if k != "ndvi"}, SMALL)
