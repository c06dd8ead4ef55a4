"""radbelt.evaluate: PE tables, onset detection and scoring, Spearman lags, CSV outputs."""

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from sklearn.metrics import r2_score

from eoml.radbelt.evaluate import (
    ONSET_COLUMNS,
    PE_COLUMNS,
    PE_SEED_COLUMNS,
    detect_onsets,
    evaluate,
    onset_success,
    onset_summary,
    onset_table,
    open_predictions,
    pe_seed_table,
    pe_table,
    spearman_lags,
    write_predictions,
)

L_AXIS = np.round(np.concatenate([np.arange(2.8, 6.05, 0.1), [6.6]]), 1)
T = 160
TIMES = pd.date_range("2019-01-01", periods=T, freq="5h").values


#: the schema's radbelt.onset defaults with 5-hour bins
ONSET = {"factor": 10.0, "window_hours": 25, "bin_hours": 5}

def chrono_labels(n, fractions=(0.65, 0.14, 0.21)):
    n_train = int(round(n * fractions[0]))
    n_val = int(round(n * fractions[1]))
    return np.array(["train"] * n_train + ["val"] * n_val + ["test"] * (n - n_train - n_val))


def synthetic_observed(seed=0):
    rng = np.random.default_rng(seed)
    base = np.cumsum(rng.normal(scale=0.1, size=(T, L_AXIS.size)), axis=0) + 2.0
    base[rng.random(base.shape) < 0.03] = np.nan
    return base


def write_pred(path, model, seed, forecast, observed, lead_bins=5):
    da = lambda v: xr.DataArray(v, dims=("time", "L"), coords={"time": TIMES, "L": L_AXIS})  # noqa: E731
    return write_predictions(
        path, forecast=da(forecast), observed=da(observed), split=chrono_labels(T), model=model,
        lead_bins=lead_bins, bin_hours=5, seed=seed,
    )


@pytest.fixture
def prediction_files(tmp_path):
    """Model a (deterministic) and model b (two seeds) at lead 25 h; model a also at 50 h."""
    obs = synthetic_observed()
    rng = np.random.default_rng(1)
    fa = obs + rng.normal(scale=0.2, size=obs.shape)
    fa[:5] = np.nan
    fb0 = obs + rng.normal(scale=0.3, size=obs.shape)
    fb1 = obs + rng.normal(scale=0.3, size=obs.shape)
    fa50 = obs + rng.normal(scale=0.4, size=obs.shape)
    paths = [
        write_pred(tmp_path / "a25.zarr", "a", -1, fa, obs),
        write_pred(tmp_path / "b25s0.zarr", "b", 0, fb0, obs),
        write_pred(tmp_path / "b25s1.zarr", "b", 1, fb1, obs),
        write_pred(tmp_path / "a50.zarr", "a", -1, fa50, obs, lead_bins=10),
    ]
    return paths, obs, {"a25": fa, "b0": fb0, "b1": fb1, "a50": fa50}


def _r2(y, f):
    keep = np.isfinite(y) & np.isfinite(f)
    return r2_score(y[keep], f[keep])


def test_predictions_roundtrip(prediction_files):
    paths, obs, fc = prediction_files
    p = open_predictions(paths[0])
    assert p.attrs["model"] == "a" and p.attrs["seed"] == -1 and p.attrs["lead_hours"] == 25
    np.testing.assert_array_equal(p["forecast"].values, fc["a25"])
    assert np.isnan(p["observed"].values[:5]).all()  # NaN where there is no sample
    assert list(np.unique(p["split"].values)) == ["test", "train", "val"]


def test_pe_table(prediction_files):
    paths, obs, fc = prediction_files
    df = pe_table(paths)
    assert list(df.columns) == PE_COLUMNS
    assert list(df[["model", "lead_hours"]].drop_duplicates().itertuples(index=False, name=None)) == [
        ("a", 25), ("a", 50), ("b", 25)
    ]
    labels = chrono_labels(T)
    for split in ("train", "val", "test", "val+test"):
        m = (labels == "val") | (labels == "test") if split == "val+test" else labels == split
        sub = df[(df.model == "a") & (df.lead_hours == 25) & (df.split == split)]
        assert list(sub["L"])[-2:] == ["GEO", "mean"]
        assert len(sub) == L_AXIS.size + 1
        per_L = []
        for j, Lv in enumerate(L_AXIS):
            label = "GEO" if Lv == 6.6 else round(float(Lv), 1)
            got = sub[sub["L"] == label]["pe"].item()
            assert got == pytest.approx(_r2(obs[m, j], fc["a25"][m, j]))
            if label != "GEO":
                per_L.append(got)
        assert sub[sub["L"] == "mean"]["pe"].item() == pytest.approx(np.mean(per_L))
        # model b: the PE of the ensemble mean over its two seeds
        ens = (fc["b0"] + fc["b1"]) / 2
        subb = df[(df.model == "b") & (df.split == split)]
        assert subb[subb["L"] == 4.0]["pe"].item() == pytest.approx(_r2(obs[m, 12], ens[m, 12]))
    # deterministic: same table from shuffled input order
    pd.testing.assert_frame_equal(df, pe_table(paths[::-1]))


def test_pe_seed_table(prediction_files):
    paths, obs, fc = prediction_files
    df = pe_seed_table(paths)
    assert list(df.columns) == PE_SEED_COLUMNS
    b = df[df.model == "b"]
    assert sorted(b["seed"].unique()) == [0, 1]
    test = chrono_labels(T) == "test"
    got = b[(b.seed == 1) & (b.split == "test") & (b.L == "GEO")]["pe"].item()
    assert got == pytest.approx(_r2(obs[test, -1], fc["b1"][test, -1]))


def test_duplicate_seed_is_an_error(prediction_files, tmp_path):
    paths, obs, fc = prediction_files
    dup = write_pred(tmp_path / "dup.zarr", "b", 0, fc["b0"], obs)
    with pytest.raises(ValueError, match="duplicate"):
        pe_table([*paths, dup])


# ----------------------------------------------------------------------------------------------
# onsets


def event_series():
    """Two sharp 10x rises (starting at bins 20 and 60) and one slow 10x rise over 3 days."""
    x = np.full(120, 2.0)
    x[21] = 2.4
    x[22:30] = 3.2
    x[30:50] = np.linspace(3.2, 2.0, 20)
    x[61:66] = 3.5
    x[66:76] = np.linspace(3.5, 2.0, 10)
    x[80:95] = np.linspace(2.0, 3.0, 15)  # 1 decade over 14 bins = 70 h: not an event
    x[95:] = 3.0
    return x


def as_da(x, L=(4.5,)):
    t = pd.date_range("2019-01-01", periods=len(x), freq="5h").values
    v = np.repeat(np.asarray(x, float)[:, None], len(L), axis=1)
    return xr.DataArray(v, dims=("time", "L"), coords={"time": t, "L": list(L)})


def test_detect_onsets_two_events():
    obs = as_da(event_series())
    ev = detect_onsets(obs, **ONSET)
    t = obs["time"].values
    assert len(ev) == 2
    assert list(ev["t_start"]) == [pd.Timestamp(t[20]), pd.Timestamp(t[60])]
    assert list(ev["t_end"]) == [pd.Timestamp(t[22]), pd.Timestamp(t[61])]
    assert list(ev["level"]) == [2.0, 2.0] and list(ev["threshold"]) == [3.0, 3.0]
    assert list(ev["L"]) == [4.5, 4.5]


def test_detect_onsets_requires_finite_data_and_labels_geo():
    x = event_series()
    x[61] = np.nan  # the rise of event 2 now crosses a gap: x[62] - x[60] is not observed continuously
    x[62:66] = 3.5
    obs = as_da(x, L=(4.5, 6.6))
    ev = detect_onsets(obs, **ONSET)
    assert list(ev["L"]) == [4.5, "GEO"]  # only event 1 at each L
    assert (ev["t_end"] == pd.Timestamp(obs["time"].values[22])).all()
    # a rise that is 10x at its fastest needs factor <= 10
    assert len(detect_onsets(as_da(event_series()), **{**ONSET, "factor": 100})) == 0


def test_onset_success_cases():
    x = event_series()
    obs = as_da(x)
    ev = detect_onsets(obs, **ONSET)
    t = obs["time"].values
    # perfect forecast: edge at t_end -> success
    res = onset_success(ev, obs, **ONSET)
    assert res["success"].tolist() == [True, True]
    assert list(res["t_forecast_edge"]) == [pd.Timestamp(t[22]), pd.Timestamp(t[61])]
    # forecast late by 3 bins: edge after t_end -> failure, unless the tolerance covers it
    late = as_da(np.concatenate([np.full(3, 2.0), x[:-3]]))
    assert onset_success(ev, late, **ONSET)["success"].tolist() == [False, False]
    assert onset_success(ev, late, **ONSET, tolerance_bins=3)["success"].tolist() == [True, True]
    # early by one bin: edge at t_start + ... still inside [t_start, t_end]
    early = as_da(np.concatenate([x[1:], [3.0]]))
    assert onset_success(ev, early, **ONSET)["success"].tolist() == [True, True]
    # a flat forecast has no edge
    flat = onset_success(ev, as_da(np.full(120, 2.0)), **ONSET)
    assert flat["success"].tolist() == [False, False] and flat["t_forecast_edge"].isna().all()
    # a forecast missing around the event has no edge
    gap = x.copy()
    gap[15:35] = np.nan
    assert onset_success(ev, as_da(gap), **ONSET)["success"].tolist() == [False, True]


def test_onset_table_and_summary(tmp_path):
    x = event_series()
    L = np.array([4.5, 6.6])
    obs = np.repeat(x[:, None], 2, axis=1)
    late = np.concatenate([np.full((3, 2), 2.0), obs[:-3]])
    times = pd.date_range("2019-01-01", periods=len(x), freq="5h").values
    da = lambda v: xr.DataArray(v, dims=("time", "L"), coords={"time": times, "L": L})  # noqa: E731
    labels = chrono_labels(len(x), (0.4, 0.2, 0.4))
    paths = [
        write_predictions(tmp_path / "p.zarr", forecast=da(obs), observed=da(obs), split=labels, model="good",
                          lead_bins=5, bin_hours=5, seed=-1),
        write_predictions(tmp_path / "q.zarr", forecast=da(late), observed=da(obs), split=labels, model="late",
                          lead_bins=5, bin_hours=5, seed=-1),
    ]
    cfg = {"onset": {"factor": 10.0, "window_hours": 25}, "grid": {"bin_hours": 5}}
    tab = onset_table(paths, cfg)
    assert list(tab.columns) == ONSET_COLUMNS
    assert len(tab) == 8  # 2 models x 2 L x 2 events
    assert tab[tab.model == "good"]["success"].all() and not tab[tab.model == "late"]["success"].any()
    assert set(tab["split"]) == {"train", "val"}  # t_end at bins 22 (train) and 61 (val)
    summ = onset_summary(tab)
    row = summ[(summ.model == "good") & (summ.split == "all")]
    assert row["n_events"].item() == 4 and row["success_rate"].item() == 1.0
    assert np.isnan(summ[(summ.model == "good") & (summ.split == "test")]["success_rate"].item())
    assert summ[(summ.model == "late") & (summ.split == "val+test")]["success_rate"].item() == 0.0


def test_evaluate_writes_csvs(prediction_files, tmp_path):
    paths, _, _ = prediction_files
    out = tmp_path / "eval"
    cfg = {"onset": {"factor": 10.0, "window_hours": 25}, "grid": {"bin_hours": 5}}
    evaluate(paths, out / "pe.csv", out / "onsets.csv", cfg)
    for name in ("pe.csv", "pe_seeds.csv", "onsets.csv", "onsets_summary.csv"):
        assert (out / name).stat().st_size > 0
    pe = pd.read_csv(out / "pe.csv")
    assert list(pe.columns) == PE_COLUMNS and {"GEO", "mean"} <= set(pe["L"])
    assert list(pd.read_csv(out / "onsets.csv").columns) == ONSET_COLUMNS
    assert not list(out.glob(".*tmp*"))


# ----------------------------------------------------------------------------------------------
# spearman


def test_spearman_lagged_copy():
    rng = np.random.default_rng(3)
    n, lag = 400, 3
    L = np.array([3.0, 4.6, 6.6])
    x = rng.normal(size=(n, L.size))
    y = np.full_like(x, np.nan)
    y[lag:] = np.exp(x[:-lag])  # target(t) = monotone function of input(t - 3)
    y[lag:, 2] = np.exp(x[:-lag, 1])  # GEO follows the input at L = 4.6
    sw = rng.normal(size=n)
    times = pd.date_range("2019-01-01", periods=n, freq="5h").values
    ds = xr.Dataset(
        {"log10_flux_1mev": (("time", "L"), y), "log10_e2": (("time", "L"), x), "sw_speed": ("time", sw)},
        coords={"time": times, "L": L},
        attrs={"geo_L": 6.6, "bin_hours": 5},
    )
    df = spearman_lags(ds, 6, inputs=("log10_e2", "sw_speed"))
    assert list(df.columns) == ["input", "lag_bins", "lag_hours", "L", "rho"]
    e2 = df[df.input == "log10_e2"]
    at = e2[e2.lag_bins == lag]
    assert at["rho"].to_numpy(float) == pytest.approx(np.ones(4))  # 3.0, 4.6, GEO, mean
    assert list(at["L"]) == [3.0, 4.6, "GEO", "mean"]
    assert at["lag_hours"].iloc[0] == 15
    assert (e2[e2.lag_bins != lag]["rho"].abs() < 0.3).all()
    assert (df[df.input == "sw_speed"]["rho"].abs() < 0.3).all()


@pytest.mark.filterwarnings("ignore:Consolidated metadata:UserWarning")
def test_spearman_from_store(tmp_path):
    from eoml.radbelt.evaluate import spearman

    rng = np.random.default_rng(4)
    n, L = 200, np.array([3.0, 4.6, 6.6])
    x = rng.normal(size=(n, L.size))
    ds = xr.Dataset(
        {"log10_flux_1mev": (("time", "L"), x + 0.1 * rng.normal(size=x.shape)),
         **{f"log10_{c}": (("time", "L"), x) for c in ("e2", "e3", "p6")},
         "sw_speed": ("time", rng.normal(size=n))},
        coords={"time": pd.date_range("2019-01-01", periods=n, freq="5h").values, "L": L},
        attrs={"geo_L": 6.6, "bin_hours": 5},
    )
    ds.to_zarr(tmp_path / "s.zarr", consolidated=True)
    cfg = {"spearman_max_lag_bins": 2, "features": {"channels": ["e2", "p6"], "geo_input_L": 4.6}}
    spearman(tmp_path / "s.zarr", tmp_path / "sp.csv", cfg)
    df = pd.read_csv(tmp_path / "sp.csv")
    assert list(df["input"].unique()) == ["log10_e2", "log10_p6", "sw_speed"]
    assert len(df) == 3 * 3 * 4  # inputs x lags x (2 L + GEO + mean)


def test_spearman_geo_inputs_from_the_nearest_regular_shell(caplog):
    """geo_input_L not in the store: the GEO row uses the nearest non-GEO shell, never GEO itself."""
    rng = np.random.default_rng(5)
    n, L = 300, np.array([4.0, 4.1, 6.6])
    x = rng.normal(size=(n, L.size))
    y = x.copy()
    y[:, 2] = x[:, 1]  # GEO follows the inputs at L = 4.1
    ds = xr.Dataset(
        {"log10_flux_1mev": (("time", "L"), y), "log10_e2": (("time", "L"), x)},
        coords={"time": pd.date_range("2019-01-01", periods=n, freq="5h").values, "L": L},
        attrs={"geo_L": 6.6, "bin_hours": 5},
    )
    with caplog.at_level("WARNING", logger="eoml.radbelt.grid"):
        df = spearman_lags(ds, 0, inputs=("log10_e2",), geo_input_L=6.0)  # 6.0 is nearer GEO than 4.1
    assert df.loc[df["L"] == "GEO", "rho"].iloc[0] == pytest.approx(1.0)
    assert "radbelt.features.geo_input_L = 6 is not an L-shell of the store (it holds L = 4-4.1); using the " \
        "nearest, L = 4.1" in caplog.text


def test_onset_window_shorter_than_a_bin_names_the_key():
    obs = xr.DataArray(np.zeros((10, 1)), dims=("time", "L"),
                       coords={"time": pd.date_range("2019-01-01", periods=10, freq="5h").values, "L": [4.0]})
    with pytest.raises(ValueError, match=r"radbelt.onset.window_hours = 2 is shorter than one 5 h bin"):
        detect_onsets(obs, factor=10.0, window_hours=2, bin_hours=5)
