"""LST losses: Sobel gradients, MGE, radiance-consistent aggregation in torch, MixGL."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import ndimage

from eoml.lst.losses import MixGL, aggregate_lst_torch, mge, sobel, standardize_per_sample
from eoml.lst.scaling import aggregate_lst


def _fields(n=3, size=16, seed=0, dtype=torch.float64):
    rng = np.random.default_rng(seed)
    ndvi = ndimage.gaussian_filter(rng.uniform(0, 1, (n, size, size)), (0, 1.5, 1.5))
    lst = 305 - 20 * ndvi + rng.normal(0, 0.5, (n, size, size))
    return torch.tensor(lst[:, None], dtype=dtype), torch.tensor(ndvi[:, None], dtype=dtype)


def test_sobel_matches_scipy_and_measures_slope():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(2, 1, 9, 12))
    gx, gy = sobel(torch.tensor(a))
    for i in range(2):  # scipy smooths across every other axis: one 2-D image at a time
        img = a[i, 0]
        np.testing.assert_allclose(gx[i, 0].numpy(), ndimage.sobel(img, axis=1, mode="nearest") / 8, atol=1e-12)
        np.testing.assert_allclose(gy[i, 0].numpy(), ndimage.sobel(img, axis=0, mode="nearest") / 8, atol=1e-12)
    # a ramp of 0.7 per column: gradient 0.7 inside, half of it on the replicated border columns
    ramp = torch.tensor(0.7 * np.arange(10.0))[None, None].repeat(1, 1, 6, 1)
    gx, gy = sobel(ramp)
    np.testing.assert_allclose(gx[0, 0, :, 1:-1].numpy(), 0.7)
    np.testing.assert_allclose(gx[0, 0, :, [0, -1]].numpy(), 0.35)
    assert gy.abs().max().item() < 1e-12


def test_mge_is_zero_for_affine_relations_of_either_sign_and_positive_otherwise():
    lst, ndvi = _fields()
    assert mge(300 - 15 * ndvi, ndvi).item() < 1e-9  # anti-correlated: magnitudes still agree
    assert mge(2 * ndvi + 1, ndvi).item() < 1e-9
    assert mge(lst, ndvi).item() > 1e-3  # noise adds gradients NDVI does not have
    assert mge(lst, ndvi).item() == pytest.approx(mge(lst[:, 0], ndvi[:, 0]).item())  # (N, H, W) accepted
    with pytest.raises(ValueError, match="differ in shape"):
        mge(lst, ndvi[..., :8])


def test_standardize_per_sample():
    lst, _ = _fields(n=2)
    z = standardize_per_sample(lst)
    np.testing.assert_allclose(z.mean(dim=(-2, -1)).numpy(), 0, atol=1e-9)
    np.testing.assert_allclose(z.std(dim=(-2, -1), unbiased=False).numpy(), 1, atol=1e-5)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_aggregate_lst_torch_equals_numpy_radiance_aggregation(dtype):
    rng = np.random.default_rng(2)
    t = rng.uniform(260, 330, (3, 1, 12, 8))
    expected = aggregate_lst(t, 4, "radiance")
    got = aggregate_lst_torch(torch.tensor(t, dtype=dtype), 4)
    assert got.shape == (3, 1, 3, 2)
    tol = 1e-10 if dtype == torch.float64 else 1e-3
    np.testing.assert_allclose(got.double().numpy(), expected, rtol=0, atol=tol)
    # radiance aggregation is above the arithmetic mean (Jensen) and differentiable
    assert (got.double().numpy() >= aggregate_lst(t, 4, "mean") - tol).all()
    x = torch.tensor(t, requires_grad=True)
    aggregate_lst_torch(x, 4).sum().backward()
    assert torch.isfinite(x.grad).all() and (x.grad > 0).all()
    np.testing.assert_allclose(aggregate_lst_torch(torch.tensor(t[0, 0]), 2).numpy(), aggregate_lst(t[0, 0], 2))
    with pytest.raises(ValueError, match="not divisible"):
        aggregate_lst_torch(torch.tensor(t), 5)


def test_mixgl_terms_and_weights():
    lst_fine, ndvi = _fields(n=2, size=16)
    rng = np.random.default_rng(3)
    coarse = torch.tensor(aggregate_lst(lst_fine.numpy(), 4) + rng.normal(0, 0.8, (2, 1, 4, 4)))
    std = 6.5
    mse_expected = np.mean(((aggregate_lst(lst_fine.numpy(), 4) - coarse.numpy()) / std) ** 2)

    pure_mse = MixGL(alpha=0.0, beta=1.0, factor=4, lst_std=std)(lst_fine, coarse, ndvi)
    torch.testing.assert_close(pure_mse["total"], pure_mse["mse"])
    assert pure_mse["total"].item() == pytest.approx(mse_expected, rel=1e-9)

    pure_mge = MixGL(alpha=1.0, beta=0.0, factor=4, lst_std=std)(lst_fine, coarse, ndvi)
    torch.testing.assert_close(pure_mge["total"], mge(lst_fine, ndvi))

    mixed = MixGL(alpha=0.3, beta=0.7, factor=4, lst_std=std)(lst_fine, coarse, ndvi)
    torch.testing.assert_close(mixed["total"], 0.3 * pure_mge["mge"] + 0.7 * pure_mse["mse"])

    # a fine field that aggregates exactly to the coarse LST has no MSE term
    consistent = MixGL(0.0, 1.0, 4, std)(lst_fine, aggregate_lst_torch(lst_fine, 4), ndvi)
    assert consistent["total"].item() < 1e-20


def test_mixgl_rejects_bad_settings_and_shapes():
    with pytest.raises(ValueError, match="alpha \\+ beta = 1"):
        MixGL(0.5, 0.6, 4)
    with pytest.raises(ValueError, match="alpha \\+ beta = 1"):
        MixGL(-0.5, 1.5, 4)
    with pytest.raises(ValueError, match="lst_std"):
        MixGL(0.5, 0.5, 4, lst_std=0)
    lst_fine, ndvi = _fields(n=1, size=16)
    with pytest.raises(ValueError, match="coarse LST"):
        MixGL(0.5, 0.5, 4)(lst_fine, torch.zeros(1, 1, 8, 8, dtype=torch.float64), ndvi)
