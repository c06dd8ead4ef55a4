"""core.explain: Grad-CAM finds a bright square a small CNN learnt to detect; the overlay helper."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from eoml.core.explain import gradcam_maps, overlay_heatmap, resolve_layer

H, W, SIDE = 28, 36, 7  # a non-square input catches a swapped (H, W) resize


def _images(n: int, rng: np.random.Generator, positive: np.ndarray):
    """Noise images; the positive ones hold a bright SIDE × SIDE square at a random place."""
    x = rng.normal(0.0, 0.5, size=(n, 1, H, W)).astype(np.float32)
    boxes = np.zeros((n, 4), dtype=int)
    for i in np.flatnonzero(positive):
        r, c = rng.integers(0, H - SIDE), rng.integers(0, W - SIDE)
        x[i, 0, r : r + SIDE, c : c + SIDE] += 2.0
        boxes[i] = (r, r + SIDE, c, c + SIDE)
    return torch.from_numpy(x), boxes


def _net() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(),
        nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 2),
    )  # fmt: skip


@pytest.fixture(scope="module")
def trained():
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    net = _net()
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    for _ in range(60):
        y = rng.integers(0, 2, 32)
        x, _ = _images(32, rng, y.astype(bool))
        loss = nn.functional.cross_entropy(net(x), torch.from_numpy(y))
        opt.zero_grad()
        loss.backward()
        opt.step()
    y = np.array([1] * 12 + [0] * 12)
    x, boxes = _images(y.size, np.random.default_rng(1), y.astype(bool))
    with torch.no_grad():
        acc = float((net(x).argmax(1).numpy() == y).mean())
    assert acc >= 0.9, f"the test CNN did not learn the square (accuracy {acc})"
    return net, x, boxes


def test_gradcam_peaks_on_the_square(trained):
    net, x, boxes = trained
    net.train()
    with torch.no_grad():  # Grad-CAM needs gradients: it must switch them on itself
        maps = gradcam_maps(net, "2", x[:12], targets=[1] * 12)
    assert maps.shape == (12, H, W) and maps.dtype == np.float32
    assert maps.min() >= 0.0 and maps.max() <= 1.0
    assert net.training  # the caller's mode is restored
    hits, ratios = 0, []
    for m, (r0, r1, c0, c1) in zip(maps, boxes[:12], strict=True):
        inside = np.zeros((H, W), bool)
        inside[r0:r1, c0:c1] = True
        r, c = np.unravel_index(np.argmax(m), m.shape)
        hits += bool(r0 - 1 <= r <= r1 and c0 - 1 <= c <= c1)  # at most one pixel off (resize)
        ratios.append(m[inside].mean() / max(m[~inside].mean(), 1e-6))
    assert hits >= 11, f"the map peaked on the square in only {hits} of 12 images"
    assert np.median(ratios) > 2.0, ratios


def test_gradcam_frozen_model_layer_module_and_default_targets(trained):
    net, x, _ = trained
    for p in net.parameters():
        p.requires_grad_(False)
    try:
        by_name = gradcam_maps(net, "2", x[:4], batch_size=3)  # explains the predicted class
        by_module = gradcam_maps(net, net[2], x[:4], targets=net(x[:4]).argmax(1).tolist())
    finally:
        for p in net.parameters():
            p.requires_grad_(True)
    np.testing.assert_allclose(by_name, by_module, atol=1e-6)
    assert by_name.shape == (4, H, W)


def test_gradcam_bad_arguments(trained):
    net, x, _ = trained
    with pytest.raises(ValueError, match="no layer 'nope'"):
        gradcam_maps(net, "nope", x[:2])
    with pytest.raises(ValueError, match="not a module of the model"):
        resolve_layer(net, nn.Conv2d(1, 1, 1))
    with pytest.raises(ValueError, match="3 targets for 2 images"):
        gradcam_maps(net, "2", x[:2], targets=[0, 1, 1])
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        gradcam_maps(net, "2", x[0])


def test_overlay_blends_and_inverts_over_dark_pixels():
    img = np.zeros((2, 3, 3), np.uint8)
    img[0] = 255  # top row white, bottom row black
    heat = np.full((2, 3), 1.0)
    plain = overlay_heatmap(img, heat, cmap="gray", alpha=0.5)
    inverted = overlay_heatmap(img, heat, cmap="gray", alpha=0.5, invert_dark=0.5)
    assert plain.shape == (2, 3, 3) and plain.min() >= 0 and plain.max() <= 1
    np.testing.assert_allclose(plain[0], 1.0)  # white + white
    np.testing.assert_allclose(plain[1], 0.5)  # black + white
    np.testing.assert_allclose(inverted[0], plain[0])  # bright pixels untouched
    np.testing.assert_allclose(inverted[1], 0.0)  # heat colour white → black over the dark pixels
    grey = overlay_heatmap(np.full((2, 3), 0.2), np.zeros((2, 3)), cmap="gray", alpha=0.25)
    np.testing.assert_allclose(grey, 0.15)
    with pytest.raises(ValueError, match="heat map of shape"):
        overlay_heatmap(img, np.zeros((3, 3)))
