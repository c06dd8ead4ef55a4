"""core.metrics: PE is the coefficient of determination, NaN pairs are dropped."""

import numpy as np
import pytest
from sklearn.metrics import r2_score

from eoml.core.metrics import bias, nan_pairs, performance_efficiency, rmse


@pytest.mark.parametrize("seed,n,noise", [(0, 50, 0.1), (1, 500, 1.0), (2, 7, 3.0), (3, 1000, 0.01)])
def test_pe_equals_r2_score(seed, n, noise):
    rng = np.random.default_rng(seed)
    y = rng.normal(3.0, 1.0, n)
    f = y + rng.normal(0.2, noise, n)
    assert performance_efficiency(y, f) == pytest.approx(r2_score(y, f), rel=1e-12, abs=1e-12)


def test_pe_2d_and_negative():
    rng = np.random.default_rng(4)
    y = rng.normal(size=(40, 3))
    f = rng.normal(size=(40, 3)) * 3
    pe = performance_efficiency(y, f)
    assert pe < 0
    assert pe == pytest.approx(r2_score(y.ravel(), f.ravel()))


def test_pe_nan_handling():
    rng = np.random.default_rng(5)
    y = rng.normal(size=200)
    f = y + rng.normal(scale=0.5, size=200)
    y[rng.choice(200, 20, replace=False)] = np.nan
    f[rng.choice(200, 20, replace=False)] = np.nan
    f[3] = np.inf
    keep = np.isfinite(y) & np.isfinite(f)
    assert performance_efficiency(y, f) == pytest.approx(r2_score(y[keep], f[keep]))
    yy, ff = nan_pairs(y, f)
    assert yy.size == keep.sum() and np.all(np.isfinite(yy)) and np.all(np.isfinite(ff))


def test_pe_degenerate_cases():
    assert np.isnan(performance_efficiency([1.0], [1.0]))
    assert np.isnan(performance_efficiency([1.0, np.nan, 2.0], [np.nan, 1.0, 2.0]))
    assert np.isnan(performance_efficiency([2.0, 2.0, 2.0], [1.0, 2.0, 3.0]))
    assert np.isnan(performance_efficiency([], []))
    with pytest.raises(ValueError):
        performance_efficiency([1.0, 2.0], [1.0, 2.0, 3.0])


def test_rmse_and_bias():
    y = np.array([0.0, 1.0, np.nan, 3.0])
    f = np.array([1.0, 1.0, 5.0, 1.0])
    assert rmse(y, f) == pytest.approx(np.sqrt((1 + 0 + 4) / 3))
    assert bias(y, f) == pytest.approx((1 + 0 - 2) / 3)
    assert np.isnan(rmse([np.nan], [1.0]))
