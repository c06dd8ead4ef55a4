"""Whole-image inference: padding to a size multiple, batching, overlapping tiles."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from eoml.core.inference import pad_amounts, predict_padded, predict_tiled, tile_spans


class _Strided(nn.Module):
    """A tiny encoder-decoder of output stride 4 (sides must be multiples of 4), 2 output channels."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.down = nn.Conv2d(3, 4, 3, stride=4, padding=1)
        self.local = nn.Conv2d(3, 2, 3, padding=1)
        self.calls: list[tuple[int, ...]] = []

    def forward(self, x):
        self.calls.append(tuple(x.shape))
        h, w = x.shape[-2:]
        assert h % 4 == 0 and w % 4 == 0, "sides must be multiples of 4"
        coarse = F.interpolate(self.down(x), size=(h, w), mode="nearest")
        return self.local(x) + coarse[:, :2]


def test_pad_amounts():
    assert pad_amounts(13, 8) == (0, 3) and pad_amounts(13, 8, centred=True) == (1, 2)
    assert pad_amounts(16, 8) == (0, 0) == pad_amounts(16, 8, centred=True)


@pytest.mark.parametrize("centred", [False, True])
def test_predict_padded_crops_back_and_batches(centred):
    model = _Strided().eval()
    x = torch.randn(5, 3, 13, 10)
    out = predict_padded(model, x, 4, centred=centred)
    assert out.shape == (5, 2, 13, 10) and out.device.type == "cpu"
    # the same as padding by hand
    (t, b), (l, r) = pad_amounts(13, 4, centred), pad_amounts(10, 4, centred)
    with torch.no_grad():
        ref = model(F.pad(x, (l, r, t, b), mode="reflect"))[:, :, t:t + 13, l:l + 10]
    assert torch.equal(out, ref)
    # batches of ~2 padded images give the same numbers, from numpy input too
    model.calls.clear()
    batched = predict_padded(model, x.numpy(), 4, centred=centred, batch_pixels=2 * 16 * 12)
    assert [c[0] for c in model.calls] == [2, 2, 1]
    assert torch.allclose(batched, out, atol=1e-6)
    # an image too small to reflect is replicated
    tiny = predict_padded(model, torch.randn(1, 3, 2, 2), 4, centred=centred)
    assert tiny.shape == (1, 2, 2, 2) and torch.isfinite(tiny).all()


def test_tile_spans_cover_once():
    for n, tile, ov in ((64, 64, 8), (100, 48, 8), (97, 32, 4), (40, 64, 8)):
        spans = tile_spans(n, tile, ov)
        covered = np.concatenate([np.arange(lo, hi) for _, lo, hi in spans])
        assert np.array_equal(covered, np.arange(n))
        for s, lo, hi in spans:
            assert s <= lo and hi <= s + tile
            assert lo == 0 or lo >= s + ov
            assert hi == n or hi <= s + tile - ov
    with pytest.raises(ValueError, match="twice the overlap"):
        tile_spans(100, 16, 8)


def test_predict_tiled_keeps_tile_centres():
    model = _Strided().eval()
    x = torch.randn(3, 50, 37)
    whole = predict_tiled(model, x, 4)
    assert whole.shape == (2, 50, 37)
    assert torch.equal(whole, predict_padded(model, x[None], 4)[0])
    assert torch.equal(predict_tiled(model, x, 4, tile=64, overlap=8), whole)  # one tile = one pass
    model.calls.clear()
    tiled = predict_tiled(model, x, 4, tile=24, overlap=4)
    assert tiled.shape == (2, 50, 37) and len(model.calls) == 3 * 2  # row tiles at 0, 16, 26; columns at 0, 13
    # a purely local model (3x3 conv, no stride) gives the same result tiled or not
    local = nn.Conv2d(3, 2, 3, padding=1).eval()
    a = predict_tiled(local, x, 1, tile=20, overlap=2)
    b = predict_tiled(local, x, 1)
    assert torch.allclose(a, b, atol=1e-6)
