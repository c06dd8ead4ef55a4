"""radbelt.baselines: persistence shift, LPF recovers a known FIR filter from training data only."""

import sys
import types

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from eoml.core.metrics import performance_efficiency
from eoml.core.store import open_store
from eoml.radbelt.baselines import fit_lpf, linear_prediction_filter, persistence, run_baseline

CHANNELS = ("e2", "e3", "p6")
L_AXIS = np.array([3.0, 4.6, 5.0, 6.6])
GEO = 3  # index of L = 6.6


def chrono_labels(n, fractions=(0.65, 0.14, 0.21)):
    """Chronological train/val/test labels, built here so the tests need no other module."""
    n_train = int(round(n * fractions[0]))
    n_val = int(round(n * fractions[1]))
    return np.array(["train"] * n_train + ["val"] * n_val + ["test"] * (n - n_train - n_val))


def ar1(rng, shape, phi=0.7):
    e = rng.normal(size=shape)
    out = np.empty(shape)
    out[0] = e[0]
    for t in range(1, shape[0]):
        out[t] = phi * out[t - 1] + e[t]
    return out


def fir_store(T=700, lead=5, window=4, noise=1e-3, seed=0):
    """Store whose target obeys y(t + lead) = c + Σ_ch Σ_k h[ch, k] x_ch(t − k) + noise at each L
    (GEO driven by the channels at L = 4.6)."""
    rng = np.random.default_rng(seed)
    nL = L_AXIS.size
    x = {ch: 2.0 + 0.5 * ar1(rng, (T, nL)) for ch in CHANNELS}
    h = rng.normal(scale=0.3, size=(nL, len(CHANNELS), window))
    c = rng.normal(3.0, 0.5, size=nL)
    y = np.full((T, nL), np.nan)
    for j in range(nL):
        src = 1 if j == GEO else j
        for t in range(window - 1, T - lead):
            acc = c[j]
            for m, ch in enumerate(CHANNELS):
                acc += h[j, m] @ x[ch][t - np.arange(window), src]
            y[t + lead, j] = acc + noise * rng.normal()
    time = pd.date_range("2019-01-01", periods=T, freq="5h").values
    ds = xr.Dataset(
        {
            "log10_flux_1mev": (("time", "L"), y),
            **{f"log10_{ch}": (("time", "L"), x[ch]) for ch in CHANNELS},
            "sw_speed": ("time", 400 + 50 * rng.normal(size=T)),
        },
        coords={"time": time, "L": L_AXIS},
        attrs={"geo_L": 6.6, "bin_hours": 5},
    )
    return ds, h, c


def test_persistence_exact_shift():
    ds, _, _ = fir_store(T=60)
    for lead in (0, 1, 5):
        fc = persistence(ds, lead)
        obs = ds["log10_flux_1mev"].values
        assert fc.dims == ("time", "L") and fc.shape == obs.shape
        assert np.all(np.isnan(fc.values[:lead]))
        np.testing.assert_array_equal(fc.values[lead:], obs[: obs.shape[0] - lead])
    # GEO is included
    assert np.isfinite(persistence(ds, 5).values[20:, GEO]).all()


def test_lpf_recovers_fir_filter():
    lead, window = 5, 4
    ds, h, c = fir_store(lead=lead, window=window)
    labels = chrono_labels(ds.sizes["time"])
    fit = fit_lpf(ds, lead, window, labels, CHANNELS, ridge=1e-8)
    np.testing.assert_allclose(fit["impulse_response"].values, h, atol=2e-3)
    np.testing.assert_allclose(fit["intercept"].values, c, atol=2e-2)
    assert fit["input_L"].values[GEO] == pytest.approx(4.6)
    fc = linear_prediction_filter(ds, lead, window, labels, CHANNELS, fit=fit)
    obs = ds["log10_flux_1mev"].values
    test = labels == "test"
    for j in range(L_AXIS.size):
        assert performance_efficiency(obs[test, j], fc.values[test, j]) > 0.99
    # default ridge still recovers the filter to PE > 0.99
    fc2 = linear_prediction_filter(ds, lead, window, labels, CHANNELS)
    assert performance_efficiency(obs[test], fc2.values[test]) > 0.99


def test_lpf_fits_on_training_samples_only():
    lead, window = 5, 4
    ds, _, _ = fir_store(lead=lead, window=window, seed=1)
    labels = chrono_labels(ds.sizes["time"])
    ref = fit_lpf(ds, lead, window, labels, CHANNELS)
    bad = ds.copy(deep=True)
    y = bad["log10_flux_1mev"].values
    y[labels != "train"] = 1e6  # corrupt every validation and test target
    for ch in CHANNELS:  # and the inputs inside val/test
        bad[f"log10_{ch}"].values[labels == "test"] = -1e6
    got = fit_lpf(bad, lead, window, labels, CHANNELS)
    np.testing.assert_array_equal(got["impulse_response"].values, ref["impulse_response"].values)
    np.testing.assert_array_equal(got["intercept"].values, ref["intercept"].values)
    np.testing.assert_array_equal(got["n_train"].values, ref["n_train"].values)


def test_lpf_forecast_only_for_windows_inside_one_split():
    lead, window = 5, 4
    ds, _, _ = fir_store(lead=lead, window=window)
    labels = chrono_labels(ds.sizes["time"])
    fc = linear_prediction_filter(ds, lead, window, labels, CHANNELS).values
    first_val = int(np.flatnonzero(labels == "val")[0])
    # targets whose input window starts in train but which lie in val have no forecast
    assert np.isnan(fc[first_val : first_val + window + lead - 1]).all()
    assert np.isfinite(fc[first_val + window + lead - 1]).all()
    assert np.isnan(fc[: window + lead - 1]).all()


def _install_split_labels(monkeypatch):
    """Use eoml.radbelt.data.split_labels when it exists, else a chronological stand-in."""
    try:
        from eoml.radbelt.data import split_labels  # noqa: F401
    except ImportError:
        fake = types.ModuleType("eoml.radbelt.data")
        fake.split_labels = lambda times, fr: chrono_labels(len(times), (fr["train"], fr["val"], fr["test"]))
        monkeypatch.setitem(sys.modules, "eoml.radbelt.data", fake)


@pytest.mark.filterwarnings("ignore:Consolidated metadata:UserWarning")
@pytest.mark.parametrize("name", ["persistence", "lpf"])
def test_run_baseline_writes_predictions(tmp_path, monkeypatch, name):
    _install_split_labels(monkeypatch)
    ds, _, _ = fir_store(T=300)
    store = tmp_path / "store.zarr"
    ds.to_zarr(store)
    cfg = {
        "split": {"train": 0.65, "val": 0.14, "test": 0.21},
        "lpf_window": 4,
        "features": {"channels": list(CHANNELS), "geo_input_L": 4.6},
    }
    out = run_baseline(store, name, 5, tmp_path / name / "predictions.zarr", cfg)
    assert out.exists() and not list(out.parent.glob(".*tmp*"))
    with open_store(out) as p:
        assert p["forecast"].dims == ("time", "L") and p["observed"].dims == ("time", "L")
        np.testing.assert_array_equal(p["time"].values, ds["time"].values)
        np.testing.assert_allclose(p["L"].values, ds["L"].values)
        assert set(p["split"].values.tolist()) == {"train", "val", "test"}
        assert p.attrs["model"] == name and p.attrs["seed"] == -1
        assert p["forecast"].dtype == np.float64 and p["observed"].dtype == np.float64
        assert p.attrs["config_digest"] and p.attrs["Conventions"] == "CF-1.10"  # provenance
        assert p.attrs["lead_bins"] == 5 and p.attrs["lead_hours"] == 25
        fc, obs = p["forecast"].values, p["observed"].values
        assert np.isfinite(fc).sum() > 0
        # observed is the target where there is a sample, NaN elsewhere
        has = np.isfinite(obs)
        assert not (has & ~np.isfinite(fc)).any()
        assert has.sum() > 0.5 * np.isfinite(fc).sum()
        np.testing.assert_array_equal(obs[has], ds["log10_flux_1mev"].values[has])
