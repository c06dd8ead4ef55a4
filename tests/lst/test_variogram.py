"""Semivariograms, deconvolution (Goovaerts 2008) and area-to-point kriging (eoml.lst.variogram)."""

import numpy as np
import pytest

from lst_fields import exponential_field
from lst_hdf import REAL_MOD11A1

from eoml.lst.scaling import block_mean, upsample
from eoml.lst.variogram import (
    ExperimentalVariogram,
    VariogramModel,
    atpk,
    atpk_weights,
    deconvolve,
    experimental_variogram,
    fit_variogram,
    point_to_area_covariance,
    point_variogram,
    regularize,
)

MOD11A1 = REAL_MOD11A1



def lag_vectors(max_lag=10):
    vec = [(k, 0) for k in range(1, max_lag + 1)] + [(k, k) for k in range(1, max_lag + 1)
                                                     if k * np.sqrt(2) <= max_lag]
    vec = np.array(vec, dtype=float)
    return vec, np.hypot(vec[:, 0], vec[:, 1])


# ---------------------------------------------------------------------------------------------
# models and experimental variogram
# ---------------------------------------------------------------------------------------------
def test_models_values_and_validation():
    exp = VariogramModel("exponential", 2.0, 3.0, nugget=0.5)
    sph = VariogramModel("spherical", 2.0, 3.0)
    assert exp(0.0) == 0.0 and sph(0.0) == 0.0
    assert exp(1e-9) == pytest.approx(0.5, abs=1e-6)  # the nugget is a jump at the origin
    assert exp(3.0) == pytest.approx(0.5 + 2.0 * (1 - np.exp(-1)))
    assert sph(1.5) == pytest.approx(2.0 * (0.75 - 0.5 * 0.125))
    np.testing.assert_allclose(sph([3.0, 5.0, 100.0]), 2.0)
    assert exp.total_sill == 2.5 and exp.covariance(0.0) == 2.5
    assert np.all(np.diff(exp(np.linspace(0.01, 30, 50))) > 0)
    with pytest.raises(ValueError, match="unknown variogram model"):
        VariogramModel("gaussian", 1.0, 1.0)
    with pytest.raises(ValueError, match="range"):
        VariogramModel("exponential", 1.0, 0.0)
    with pytest.raises(ValueError, match="sill"):
        VariogramModel("exponential", -1.0, 1.0)


def test_experimental_variogram_matches_brute_force_pairs():
    rng = np.random.default_rng(3)
    z = rng.normal(size=(11, 13))
    z[rng.random(z.shape) < 0.15] = np.nan
    ev = experimental_variogram(z, max_lag=4)
    np.testing.assert_allclose(ev.lags, [1, np.sqrt(2), 2, 2 * np.sqrt(2), 3, 4])
    ys, xs = np.nonzero(np.isfinite(z))
    for lag, vec, gamma, count in zip(ev.lags, ev.vectors, ev.gamma, ev.counts):
        k = int(vec[0])
        steps = [(k, k), (k, -k)] if vec[1] else [(0, k), (k, 0)]
        sq = []
        for y, x in zip(ys, xs):
            for dy, dx in steps:
                if 0 <= y + dy < z.shape[0] and 0 <= x + dx < z.shape[1] and np.isfinite(z[y + dy, x + dx]):
                    sq.append((z[y, x] - z[y + dy, x + dx]) ** 2)
        assert count == len(sq)
        assert gamma == pytest.approx(0.5 * np.mean(sq), rel=1e-12)
    assert ev.variance == pytest.approx(np.nanvar(z))
    with pytest.raises(ValueError, match="2-D"):
        experimental_variogram(np.zeros(5))


@pytest.mark.parametrize("kind", ["exponential", "spherical"])
def test_fit_recovers_a_model_from_its_values(kind):
    true = VariogramModel(kind, 3.0, 4.0)
    _, h = lag_vectors()
    fit = fit_variogram(h, true(h), np.full(h.size, 500), kind=kind)
    assert fit.sill == pytest.approx(3.0, rel=1e-4)
    assert fit.range == pytest.approx(4.0, rel=1e-4)
    assert fit.nugget == 0.0
    with_nugget = fit_variogram(h, VariogramModel(kind, 3.0, 4.0, 0.7)(h), np.full(h.size, 500),
                                kind=kind, nugget=True)
    assert with_nugget.nugget == pytest.approx(0.7, rel=1e-3)
    with pytest.raises(ValueError, match="at least 2"):
        fit_variogram(h[:1], true(h[:1]))


# ---------------------------------------------------------------------------------------------
# change of support
# ---------------------------------------------------------------------------------------------
def _brute_gbar(model, f, vec):
    pts = (np.stack(np.meshgrid(np.arange(f), np.arange(f), indexing="ij"), -1).reshape(-1, 2) + 0.5) / f
    other = pts + np.asarray(vec, dtype=float)
    d = np.linalg.norm(pts[:, None, :] - other[None, :, :], axis=-1)
    return model(d).mean()


@pytest.mark.parametrize("f", [2, 3, 4])
def test_regularization_is_the_discretised_block_average(f):
    model = VariogramModel("spherical", 1.5, 2.5, nugget=0.2)
    vecs = np.array([[1.0, 0.0], [2.0, 2.0], [0.0, 3.0], [1.0, 2.0]])
    expected = [_brute_gbar(model, f, v) - _brute_gbar(model, f, (0, 0)) for v in vecs]
    np.testing.assert_allclose(regularize(model, f, vecs), expected, rtol=1e-12)
    # regularisation lowers the sill, most of all the nugget (by f^2)
    far = regularize(model, f, [[50.0, 0.0]])[0]
    assert far < model.total_sill
    assert regularize(VariogramModel("exponential", 0.0, 1.0, nugget=1.0), f, [[3.0, 0.0]])[0] == \
        pytest.approx(1.0 / f**2)


def test_point_to_area_and_area_to_area_covariances_are_consistent():
    model = VariogramModel("exponential", 2.0, 1.7)
    f = 3
    P = point_to_area_covariance(model, f, reach=2)
    assert P.shape == (f, f, 5, 5)
    pts = (np.stack(np.meshgrid(np.arange(f), np.arange(f), indexing="ij"), -1).reshape(-1, 2) + 0.5) / f
    x = pts[4]  # fine pixel (1, 1)
    d = np.linalg.norm(x[None, :] - (pts + np.array([1.0, -2.0])), axis=-1)
    assert P[1, 1, 3, 0] == pytest.approx(model.covariance(d).mean() / model.total_sill, rel=1e-12)
    # area-to-area (mean of point-to-area) = C(0) - gamma_bar(v, v_h) from the regularisation
    cbar = P.mean(axis=(0, 1)) * model.total_sill
    assert cbar[3, 4] == pytest.approx(model.total_sill - _brute_gbar(model, f, (1, 2)), rel=1e-12)


def test_deconvolution_recovers_a_known_point_model():
    vec, h = lag_vectors()
    for kind in ("exponential", "spherical"):
        true = VariogramModel(kind, 1.0, 2.5)
        areal = regularize(true, 4, vec)
        ev = ExperimentalVariogram(h, areal, np.full(h.size, 1000), vec, float(areal.max()))
        result = deconvolve(ev, 4, kind=kind)
        assert result.d_best < 0.2 * result.d_initial
        assert np.max(np.abs(result.point(h) / true(h) - 1)) < 0.08
        assert result.point.range == pytest.approx(2.5, rel=0.1)


def test_deconvolved_model_fits_the_areal_variogram_better_than_the_areal_model():
    z = block_mean(exponential_field((256, 256), 6.0, seed=5), 4)
    ev = experimental_variogram(z, 10)
    result = deconvolve(ev, 4)
    use = ev.counts > 0

    def mean_rel(model):
        return np.mean(np.abs(regularize(model, 4, ev.vectors[use]) - ev.gamma[use]) / ev.gamma[use])

    assert mean_rel(result.areal) == pytest.approx(result.d_initial)
    assert mean_rel(result.point) == pytest.approx(result.d_best)
    assert mean_rel(result.point) < 0.5 * mean_rel(result.areal)
    # the field was simulated with a unit exponential point covariance of range 6 fine = 1.5
    # coarse pixels: the deconvolved model finds it, the areal model does not
    assert result.point.range == pytest.approx(1.5, rel=0.15)
    assert result.point.sill == pytest.approx(1.0, rel=0.15)
    assert result.areal.range > 2.0 and result.areal.sill < 0.9
    assert result.history[0] == result.d_initial and min(result.history) == result.d_best


def test_point_variogram_flags_a_constant_field():
    out = point_variogram(np.full((20, 20), 4.2), 4)
    assert out.degenerate and out.point.total_sill > 0
    z = exponential_field((20, 20), 2.0, seed=1)
    assert not point_variogram(z, 4).degenerate


# ---------------------------------------------------------------------------------------------
# ATPK
# ---------------------------------------------------------------------------------------------
def test_kriging_weights_sum_to_one_and_average_to_the_parent():
    model = VariogramModel("exponential", 1.0, 2.0)
    full = atpk_weights(model, 4, 5)
    assert full.shape == (1, 25, 16)
    np.testing.assert_allclose(full.sum(axis=1), 1.0, atol=1e-12)
    np.testing.assert_allclose(full[0].mean(axis=1), np.eye(25)[12], atol=1e-12)
    rng = np.random.default_rng(0)
    valid = rng.random((50, 25)) < 0.6
    valid[:, 12] = True
    w = atpk_weights(model, 4, 5, valid)
    np.testing.assert_allclose(w.sum(axis=1), 1.0, atol=1e-12)
    assert np.all(w[~np.broadcast_to(valid[:, :, None], w.shape)] == 0)
    np.testing.assert_allclose(w.mean(axis=2), np.tile(np.eye(25)[12], (50, 1)), atol=1e-12)
    # the weights of a sub-pixel favour the neighbours it is close to
    corner = full[0, :, 0].reshape(5, 5)  # fine pixel (0, 0): top-left of the parent
    assert corner[1, 1] > corner[3, 3] and corner[2, 1] > corner[2, 3]
    with pytest.raises(ValueError, match="centre"):
        atpk_weights(model, 4, 5, np.zeros((1, 25), dtype=bool))
    with pytest.raises(ValueError, match="odd"):
        atpk_weights(model, 4, 4)


def test_atpk_of_a_constant_is_constant():
    model = VariogramModel("spherical", 1.0, 3.0)
    z = np.full((12, 9), 7.25)
    z[3:5, 2:6] = np.nan
    out = atpk(z, 3, model)
    assert out.shape == (36, 27)
    finite = np.isfinite(out)
    np.testing.assert_array_equal(finite, np.kron(np.isfinite(z), np.ones((3, 3))).astype(bool))
    np.testing.assert_allclose(out[finite], 7.25, rtol=0, atol=1e-10)


@pytest.mark.parametrize("window", [1, 3, 5, 9])
def test_atpk_is_coherent_with_holes_and_edges(window):
    z = block_mean(exponential_field((120, 96), 5.0, seed=2), 4) * 3.0
    holes = exponential_field((30, 24), 3.0, seed=9) > 1.0
    z[holes] = np.nan
    z[0, :5] = np.nan
    model = VariogramModel("exponential", 2.0, 2.0)
    out = atpk(z, 4, model, window=window)
    agg = block_mean(out, 4)
    ok = np.isfinite(z)
    assert np.all(np.isnan(agg[~ok])) and np.all(np.isfinite(agg[ok]))
    assert np.max(np.abs(agg[ok] - z[ok])) < 1e-9
    if window == 1:  # only the parent: replication
        np.testing.assert_allclose(out, np.kron(z, np.ones((4, 4))), atol=1e-12)
    else:  # a real interpolation: not blocky inside the blocks
        assert np.nanstd(out - np.kron(z, np.ones((4, 4)))) > 0.01


def test_atpk_interpolates_a_smooth_field_better_than_replication():
    truth = exponential_field((160, 160), 12.0, seed=4)
    z = block_mean(truth, 4)
    model = point_variogram(z, 4).point
    out = atpk(z, 4, model)
    rmse = np.sqrt(np.mean((out - truth)[8:-8, 8:-8] ** 2))
    rmse_rep = np.sqrt(np.mean((np.kron(z, np.ones((4, 4))) - truth)[8:-8, 8:-8] ** 2))
    assert rmse < 0.8 * rmse_rep


@pytest.mark.realdata(MOD11A1)
def test_real_modis_lst_deconvolution_and_atpk():
    from pyhdf.SD import SD

    sd = SD(str(MOD11A1))
    raw = sd.select("LST_Day_1km").get().astype(np.float64)
    sd.end()
    lst_1km = np.where(raw == 0, np.nan, raw * 0.02)  # fill 0, scale 0.02 K
    lst_4km = block_mean(lst_1km, 4)  # real cloud mask: ~3 % of the 4 km pixels are complete
    result = point_variogram(lst_4km, 4)
    assert not result.degenerate
    assert result.d_best < 0.5 * result.d_initial
    out = atpk(lst_4km, 4, result.point)
    ok = np.isfinite(lst_4km)
    agg = block_mean(out, 4)
    assert np.all(np.isnan(agg[~ok]))
    assert np.max(np.abs(agg[ok] - lst_4km[ok])) < 1e-9
    # back at 1 km, kriging the real field beats bicubic interpolation on the same pixels
    cubic = upsample(lst_4km, 4, "bicubic")
    both = np.isfinite(out) & np.isfinite(lst_1km) & np.isfinite(cubic)
    rmse = np.sqrt(np.mean((out - lst_1km)[both] ** 2))
    rmse_cubic = np.sqrt(np.mean((cubic - lst_1km)[both] ** 2))
    assert both.sum() > 20000 and rmse < rmse_cubic
