"""Scale changes shared by the LST baselines, models and evaluation."""

import numpy as np
import pytest
import torch

from eoml.lst.scaling import (
    INTERPOLATION_MODES,
    aggregate_lst,
    block_mean,
    fill_nan_nearest,
    interpolation_matrix,
    keys_kernel,
    parent_mask,
    upsample,
    upsample_torch,
)


def test_block_mean_and_nan_propagation():
    a = np.arange(16, dtype=float).reshape(4, 4)
    np.testing.assert_allclose(block_mean(a, 2), [[2.5, 4.5], [10.5, 12.5]])
    a[0, 0] = np.nan
    out = block_mean(a, 2)
    assert np.isnan(out[0, 0]) and np.isfinite(out[1, 1])
    with pytest.raises(ValueError, match="not divisible"):
        block_mean(np.zeros((5, 4)), 2)


def test_radiance_aggregation_is_the_fourth_root_of_mean_t4():
    t = np.array([[280.0, 300.0], [290.0, 320.0]])
    expected = np.mean(t**4) ** 0.25
    assert aggregate_lst(t, 2, "radiance")[0, 0] == pytest.approx(expected, rel=1e-12)
    # the radiance mean exceeds the arithmetic mean for a non-uniform block (Jensen)
    assert aggregate_lst(t, 2, "radiance")[0, 0] > aggregate_lst(t, 2, "mean")[0, 0]
    np.testing.assert_allclose(aggregate_lst(np.full((8, 8), 300.0), 4), 300.0)
    with pytest.raises(ValueError, match="aggregation mode"):
        aggregate_lst(t, 2, "median")


def test_batched_arrays_aggregate_per_image():
    rng = np.random.default_rng(0)
    t = 290 + rng.normal(size=(3, 8, 8))
    out = aggregate_lst(t, 4)
    assert out.shape == (3, 2, 2)
    np.testing.assert_allclose(out[1], aggregate_lst(t[1], 4))


def test_bicubic_is_not_bilinear_and_both_keep_a_linear_ramp_inside():
    y, x = np.mgrid[0:8, 0:8].astype(float)
    ramp = 280 + 0.5 * x + 0.25 * y
    for mode in ("bilinear", "bicubic"):
        up = upsample(ramp, 4, mode)
        fy, fx = (np.mgrid[0:32, 0:32] + 0.5) / 4 - 0.5  # fine centres in coarse pixel units
        inner = (slice(8, 24), slice(8, 24))
        np.testing.assert_allclose(up[inner], (280 + 0.5 * fx + 0.25 * fy)[inner], atol=1e-9)
    # Keys a = -0.5 is third-order: a quadratic is reproduced inside, bilinear is not
    quad = 280 + 0.1 * (x - 3.5) ** 2
    exact = 280 + 0.1 * (fx - 3.5) ** 2
    np.testing.assert_allclose(upsample(quad, 4, "bicubic")[inner], exact[inner], atol=1e-9)
    assert np.abs(upsample(quad, 4, "bilinear")[inner] - exact[inner]).max() > 0.005


def test_upsample_is_nan_aware_and_torch_version_agrees():
    rng = np.random.default_rng(1)
    a = 290 + rng.normal(size=(10, 12))
    a[3, 4] = np.nan
    up = upsample(a, 4, "bicubic")
    assert up.shape == (40, 48)
    assert np.isnan(up[12:16, 16:20]).all()
    assert np.isfinite(np.delete(up.reshape(10, 4, 12, 4), 3, axis=0)).all()
    clean = 290 + rng.normal(size=(2, 6, 7))
    ref = torch.nn.functional.interpolate(torch.from_numpy(clean)[:, None], scale_factor=4,
                                          mode="bilinear", align_corners=False)[:, 0].numpy()
    np.testing.assert_allclose(upsample(clean, 4, "bilinear"), ref)
    for mode in INTERPOLATION_MODES:
        ours = upsample_torch(torch.from_numpy(clean)[:, None], 4, mode)[:, 0].numpy()
        np.testing.assert_allclose(ours, upsample(clean, 4, mode), atol=1e-12)
    np.testing.assert_allclose(upsample(clean, 4, "nearest"), np.kron(clean, np.ones((1, 4, 4))))


def test_interpolation_matrix_rows_sum_to_one_and_cubic_taps():
    for mode in INTERPOLATION_MODES:
        m = interpolation_matrix(9, 4, mode)
        np.testing.assert_allclose(np.asarray(m.sum(axis=1)).ravel(), 1.0)
    assert keys_kernel(np.array([0.0]))[0] == 1.0
    np.testing.assert_allclose(keys_kernel(np.array([1.0, 2.0, 2.5])), 0.0)


def test_fill_nan_nearest_and_parent_mask():
    a = np.array([[1.0, np.nan], [np.nan, np.nan]])
    np.testing.assert_array_equal(fill_nan_nearest(a), np.ones((2, 2)))
    assert np.isnan(fill_nan_nearest(np.full((2, 2), np.nan))).all()
    m = parent_mask(np.array([[True, False]]), 2)
    np.testing.assert_array_equal(m, [[1, 1, 0, 0], [1, 1, 0, 0]])
