"""Classical LST sharpeners (eoml.lst.baselines): exactness, coherence, NaNs, options."""

import numpy as np
import pytest

from lst_fields import exponential_field

from eoml.lst import baselines
from eoml.lst.baselines import (
    METHODS,
    aatprk,
    atprk,
    atprk_details,
    bicubic,
    bilinear,
    fit_global,
    fit_local,
    fractional_cover,
    sharpen,
    tsharp,
)
from eoml.lst.scaling import aggregate_lst, block_mean, parent_mask

F = 4
INDEX_METHODS = ("tsharp", "atprk", "aatprk")



def ndvi_field(shape, seed):
    cover = 0.6 * exponential_field(shape, 2.0, seed) + 0.8 * exponential_field(shape, 10.0, seed + 1)
    return -0.1 + 1.0 / (1.0 + np.exp(-1.6 * cover))


def scene(h=40, w=36, seed=0, clouds=True):
    """A realistic small scene: NDVI-driven fine LST + smooth weather field + sub-pixel noise,
    radiance-aggregated, with cloud holes (NaN) touching the image edges."""
    rng = np.random.default_rng(seed)
    ndvi = ndvi_field((h * F, w * F), seed)
    truth = (318.0 - 22.0 * ndvi + 3.0 * exponential_field((h * F, w * F), 40.0, seed + 2)
             + 0.4 * rng.standard_normal((h * F, w * F)))
    lst = aggregate_lst(truth, F, "radiance")
    if clouds:
        lst[exponential_field((h, w), 3.0, seed + 3) > 1.2] = np.nan
        lst[:2, :3] = np.nan  # a corner
        lst[-1, 10:14] = np.nan  # along an edge
    return lst, block_mean(ndvi, F), ndvi, truth


def rmse(a, b):
    ok = np.isfinite(a) & np.isfinite(b)
    return float(np.sqrt(np.mean((a - b)[ok] ** 2)))


# ---------------------------------------------------------------------------------------------
# TsHARP
# ---------------------------------------------------------------------------------------------
def test_tsharp_recovers_a_field_linear_in_ndvi_exactly():
    ndvi = ndvi_field((96, 80), seed=4)
    truth = 321.5 - 17.25 * ndvi
    lst = block_mean(truth, F)
    lst[5:8, 3:6] = np.nan
    out = tsharp(lst, block_mean(ndvi, F), ndvi, F)
    hole = parent_mask(np.isnan(lst), F)
    assert np.all(np.isnan(out[hole]))
    np.testing.assert_allclose(out[~hole], truth[~hole], rtol=0, atol=1e-9)
    assert out.dtype == np.float64 and out.shape == truth.shape


def test_tsharp_with_fractional_cover_recovers_a_field_linear_in_fc():
    ndvi = ndvi_field((64, 64), seed=6)
    fc = fractional_cover(ndvi, 0.05, 0.8)
    assert fc.min() == 0.0 and fc.max() == 1.0  # clipped at bare soil / full cover
    truth = 310.0 - 12.0 * fc
    lst = block_mean(truth, F)
    out = tsharp(lst, block_mean(ndvi, F), ndvi, F, index="fc", ndvi_min=0.05, ndvi_max=0.8)
    np.testing.assert_allclose(out, truth, rtol=0, atol=1e-9)
    # NDVI as regressor cannot represent the non-linear fc(NDVI) exactly
    assert rmse(tsharp(lst, block_mean(ndvi, F), ndvi, F), truth) > 0.05
    # default NDVImin / NDVImax: scene percentiles; still coherent
    auto = tsharp(lst, block_mean(ndvi, F), ndvi, F, index="fc")
    np.testing.assert_allclose(block_mean(auto, F), lst, atol=1e-9)
    with pytest.raises(ValueError, match="ndvi_min < ndvi_max"):
        tsharp(lst, block_mean(ndvi, F), ndvi, F, index="fc", ndvi_min=0.8, ndvi_max=0.1)
    with pytest.raises(ValueError, match="only apply with index='fc'"):
        tsharp(lst, block_mean(ndvi, F), ndvi, F, ndvi_min=0.1)


def test_global_and_local_fits_against_brute_force():
    rng = np.random.default_rng(2)
    x = rng.random((9, 11))
    y = 300 + 5 * x + rng.normal(0, 0.3, x.shape) + np.linspace(0, 3, 11)[None, :]
    y[2, 3] = np.nan
    x[6, 7] = np.nan
    a, b, n = fit_global(y, x)
    ok = np.isfinite(x) & np.isfinite(y)
    b_ref, a_ref = np.polyfit(x[ok], y[ok], 1)
    assert (a, b, n) == (pytest.approx(a_ref), pytest.approx(b_ref), ok.sum())
    al, bl, local = fit_local(y, x, 3, (a, b))
    for i in range(9):
        for j in range(11):
            win = (slice(max(i - 1, 0), i + 2), slice(max(j - 1, 0), j + 2))
            m = ok[win]
            if m.sum() >= 3:
                bb, aa = np.polyfit(x[win][m], y[win][m], 1)
                assert local[i, j]
                assert (al[i, j], bl[i, j]) == (pytest.approx(aa, rel=1e-9), pytest.approx(bb, rel=1e-7))
    # a window of uniform index falls back to the global fit
    x2 = x.copy()
    x2[:4, :4] = 0.5
    al, bl, local = fit_local(y, x2, 3, (a, b))
    assert not local[1, 1] and bl[1, 1] == b and al[1, 1] == a
    with pytest.raises(ValueError, match="min_valid=5"):
        fit_global(y[:1, :3], x[:1, :3], min_valid=5)
    # no index variance at all: the regression is the mean
    assert fit_global(y, np.full_like(y, 0.3))[1] == 0.0


# ---------------------------------------------------------------------------------------------
# ATPRK / AATPRK
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["atprk", "aatprk"])
def test_atprk_family_is_coherent_with_clouds_and_edges(method):
    lst, ndvi_c, ndvi, _ = scene()
    out = sharpen(method, lst, ndvi_c, ndvi, F)
    agg = block_mean(out, F)
    ok = np.isfinite(lst)
    assert 0.05 < (~ok).mean() < 0.4
    assert np.all(np.isnan(agg[~ok])) and np.all(np.isfinite(agg[ok]))
    assert np.max(np.abs(agg[ok] - lst[ok])) < 1e-3
    assert np.max(np.abs(agg[ok] - lst[ok])) < 1e-9  # in fact to rounding


def test_atprk_uses_a_deconvolved_variogram_and_kriging():
    lst, ndvi_c, ndvi, _ = scene(seed=3)
    out, details = atprk_details(lst, ndvi_c, ndvi, F)
    vg = details["variogram"]
    assert not vg.degenerate and vg.d_best <= vg.d_initial
    assert np.isscalar(details["a"]) and details["b"] < 0  # LST falls with NDVI
    # window=1 keeps only the parent in the kriging system: ATPK becomes replication = TsHARP
    np.testing.assert_allclose(atprk(lst, ndvi_c, ndvi, F, window=1), tsharp(lst, ndvi_c, ndvi, F),
                               atol=1e-9, equal_nan=True)
    assert rmse(out, tsharp(lst, ndvi_c, ndvi, F)) > 0.01
    for model in ("exponential", "spherical"):
        alt = atprk(lst, ndvi_c, ndvi, F, variogram_model=model, max_lag=6, nugget=True, max_iter=5)
        np.testing.assert_allclose(block_mean(alt, F), lst, atol=1e-9)


def test_aatprk_local_regression_reduces_to_atprk_with_a_whole_image_window():
    lst, ndvi_c, ndvi, _ = scene(h=20, w=16, seed=5)
    wide = aatprk(lst, ndvi_c, ndvi, F, reg_window=41)
    np.testing.assert_allclose(wide, atprk(lst, ndvi_c, ndvi, F), atol=1e-8, equal_nan=True)
    _, details = atprk_details(lst, ndvi_c, ndvi, F, adaptive=True, reg_window=5)
    assert details["a"].shape == lst.shape and details["local"][np.isfinite(lst)].mean() > 0.9
    assert np.nanstd(details["b"]) > 0


def test_sharpening_with_ndvi_beats_bicubic_on_ndvi_driven_structure():
    lst, ndvi_c, ndvi, truth = scene(h=48, w=48, seed=8)
    errors = {m: rmse(sharpen(m, lst, ndvi_c, ndvi, F), truth) for m in METHODS}
    assert errors["bicubic"] < errors["bilinear"]
    for m in INDEX_METHODS:
        assert errors[m] < 0.5 * errors["bicubic"], errors
    assert errors["atprk"] < errors["tsharp"], errors  # kriging beats replication of residuals


def test_ndvi_holes_and_incomplete_coarse_index():
    lst, ndvi_c, ndvi, _ = scene(h=24, w=20, seed=11)
    ndvi = ndvi.copy()
    ndvi[10:13, 20:27] = np.nan  # water / bad reflectance: some coarse index become NaN
    ndvi_c = block_mean(ndvi, F)
    for m in INDEX_METHODS:
        out = sharpen(m, lst, ndvi_c, ndvi, F)
        expected_nan = parent_mask(np.isnan(lst), F) | np.isnan(ndvi)
        np.testing.assert_array_equal(np.isnan(out), expected_nan)
        # partial blocks are predicted, and their valid fine pixels still average to the LST
        partial = np.isnan(ndvi_c) & np.isfinite(lst)
        assert partial.any()
        blocks = baselines.block_view(out, F)[partial]
        np.testing.assert_allclose(np.nanmean(blocks, axis=(-2, -1)), lst[partial], atol=1e-9)
    for m in ("bilinear", "bicubic"):  # the index is not used
        out = sharpen(m, lst, ndvi_c, ndvi, F)
        np.testing.assert_array_equal(np.isnan(out), parent_mask(np.isnan(lst), F))


# ---------------------------------------------------------------------------------------------
# interpolators
# ---------------------------------------------------------------------------------------------
def _sampled(fn, h, w, f):
    yc, xc = np.meshgrid(np.arange(h) + 0.5, np.arange(w) + 0.5, indexing="ij")
    yf, xf = np.meshgrid((np.arange(h * f) + 0.5) / f, (np.arange(w * f) + 0.5) / f, indexing="ij")
    return fn(yc, xc), fn(yf, xf)


def test_bicubic_is_not_bilinear():
    inner = (slice(2 * F, -2 * F), slice(2 * F, -2 * F))
    coarse, fine = _sampled(lambda y, x: 290 + 0.8 * y - 0.3 * x, 12, 10, F)
    for fn in (bilinear, bicubic):
        np.testing.assert_allclose(fn(coarse, factor=F)[inner], fine[inner], atol=1e-9)
    coarse, fine = _sampled(lambda y, x: 290 + 0.05 * (y - 6) ** 2 + 0.1 * x * y, 12, 10, F)
    cubic, linear = bicubic(coarse, factor=F), bilinear(coarse, factor=F)
    np.testing.assert_allclose(cubic[inner], fine[inner], atol=1e-9)  # Keys a=-0.5: quadratics
    assert np.max(np.abs(linear[inner] - fine[inner])) > 1e-3
    assert np.max(np.abs(cubic - linear)) > 1e-3
    # the index arrays are optional but checked when given
    np.testing.assert_array_equal(bicubic(coarse, np.zeros((12, 10)), np.zeros((48, 40)), F), cubic)


# ---------------------------------------------------------------------------------------------
# validation and dispatch
# ---------------------------------------------------------------------------------------------
def test_shape_and_factor_validation():
    lst, ndvi_c, ndvi, _ = scene(h=8, w=6, clouds=False)
    for m in METHODS:
        with pytest.raises(ValueError, match="index_fine has shape"):
            sharpen(m, lst, ndvi_c, ndvi[:-1], F)
        with pytest.raises(ValueError, match="index_coarse has shape"):
            sharpen(m, lst, ndvi_c[:, :-1], ndvi, F)
        with pytest.raises(ValueError, match="2-D"):
            sharpen(m, lst[None], ndvi_c, ndvi, F)
        with pytest.raises(ValueError, match="positive integer"):
            sharpen(m, lst, ndvi_c, ndvi, 0)
        with pytest.raises(ValueError, match="positive integer"):
            sharpen(m, lst, ndvi_c, ndvi, 2.5)
        with pytest.raises(ValueError, match="expected \\(16, 12\\)"):
            sharpen(m, lst, ndvi_c, ndvi, 2)  # the fine index is 4x, not 2x
    for m in INDEX_METHODS:
        with pytest.raises(ValueError, match="needs index_coarse"):
            sharpen(m, lst, None, None, F)
    # float32 inputs and a float factor with an integer value are fine
    out = tsharp(lst.astype(np.float32), ndvi_c.astype(np.float32), ndvi.astype(np.float32), 4.0)
    assert out.dtype == np.float64 and out.shape == ndvi.shape


def test_options_are_checked():
    lst, ndvi_c, ndvi, _ = scene(h=10, w=10, clouds=False)
    with pytest.raises(ValueError, match="unknown LST sharpener 'kriging'"):
        sharpen("kriging", lst, ndvi_c, ndvi, F)
    with pytest.raises(ValueError, match=r"unknown option\(s\) \['windw'\] for atprk"):
        sharpen("atprk", lst, ndvi_c, ndvi, F, windw=3)
    with pytest.raises(ValueError, match="unknown option.*for bicubic; allowed: none"):
        sharpen("bicubic", lst, ndvi_c, ndvi, F, window=3)
    with pytest.raises(ValueError, match="reg_window"):
        sharpen("tsharp", lst, ndvi_c, ndvi, F, reg_window=3)
    with pytest.raises(TypeError):
        atprk(lst, ndvi_c, ndvi, F, windw=3)
    bad = [("window", 4), ("window", 0), ("variogram_model", "gaussian"), ("index", "evi"),
           ("max_lag", 0), ("nugget", "yes"), ("max_iter", -1), ("min_valid", 1)]
    for name, value in bad:
        with pytest.raises(ValueError, match=name):
            sharpen("atprk", lst, ndvi_c, ndvi, F, **{name: value})
    with pytest.raises(ValueError, match="reg_window"):
        sharpen("aatprk", lst, ndvi_c, ndvi, F, reg_window=1)
    sparse = np.full_like(lst, np.nan)
    sparse[0, :2] = 300.0
    for m in INDEX_METHODS:
        with pytest.raises(ValueError, match=r"only 2 coarse pixel\(s\)"):
            sharpen(m, sparse, ndvi_c, ndvi, F)
    with pytest.raises(ValueError, match="min_valid=2500"):
        sharpen("tsharp", lst, ndvi_c, ndvi, F, min_valid=50 * 50)
    assert set(METHODS) == {"bilinear", "bicubic", "tsharp", "atprk", "aatprk"}


def test_results_are_deterministic():
    lst, ndvi_c, ndvi, _ = scene(h=16, w=16, seed=1)
    for m in INDEX_METHODS:
        np.testing.assert_array_equal(sharpen(m, lst, ndvi_c, ndvi, F), sharpen(m, lst, ndvi_c, ndvi, F))
