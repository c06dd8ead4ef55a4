"""radbelt.figures: every figure function writes a non-empty PNG and SVG from small inputs."""

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from eoml.radbelt import figures
from eoml.radbelt.evaluate import evaluate, spearman_lags, write_predictions

L_AXIS = np.round(np.concatenate([np.arange(2.8, 6.05, 0.1), [6.6]]), 1)
T = 120
TIMES = pd.date_range("2019-01-01", periods=T, freq="5h").values
#: the evaluate step's keys (the schema's onset defaults, 5-hour bins)
EVAL_CFG = {"onset": {"factor": 10.0, "window_hours": 25}, "grid": {"bin_hours": 5}}


def labels():
    return np.array(["train"] * 78 + ["val"] * 17 + ["test"] * 25)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """Predictions of three models (one with two seeds) at two leads, pe.csv, onsets.csv,
    spearman.csv."""
    d = tmp_path_factory.mktemp("fig")
    rng = np.random.default_rng(0)
    obs = 2.0 + 0.5 * np.sin(np.arange(T)[:, None] / 9.0) + 0.1 * L_AXIS[None, :]
    obs[40:, :] += 1.2  # an event at bin 40
    obs[rng.random(obs.shape) < 0.02] = np.nan
    da = lambda v: xr.DataArray(v, dims=("time", "L"), coords={"time": TIMES, "L": L_AXIS})  # noqa: E731
    paths = []
    for lead in (5, 10):
        for model, seeds in (("persistence", [-1]), ("lpf", [-1]), ("mlp", [0, 1])):
            for seed in seeds:
                f = obs + rng.normal(scale=0.1 * lead / 5, size=obs.shape)
                f[:lead] = np.nan
                paths.append(write_predictions(
                    d / f"{model}_{lead}_{seed}.zarr", forecast=da(f), observed=da(obs), split=labels(),
                    model=model, lead_bins=lead, bin_hours=5, seed=seed,
                ))
    evaluate(paths, d / "pe.csv", d / "onsets.csv", EVAL_CFG)
    ds = xr.Dataset(
        {"log10_flux_1mev": (("time", "L"), obs),
         "log10_e2": (("time", "L"), obs + rng.normal(scale=0.3, size=obs.shape)),
         "sw_speed": ("time", 400 + 50 * rng.normal(size=T))},
        coords={"time": TIMES, "L": L_AXIS}, attrs={"geo_L": 6.6, "bin_hours": 5},
    )
    spearman_lags(ds, 4, inputs=("log10_e2", "sw_speed")).to_csv(d / "spearman.csv", index=False)
    return d, paths


def _check(png):
    svg = png.with_suffix(".svg")
    assert png.stat().st_size > 1000 and svg.stat().st_size > 1000
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert b"<svg" in svg.read_bytes()[:2000]
    assert not list(png.parent.glob(".*tmp*"))


def test_plot_lt_maps(inputs, tmp_path):
    _, paths = inputs
    out = tmp_path / "maps.png"
    assert figures.plot_lt_maps(paths, out, 25) == out
    _check(out)
    with pytest.raises(ValueError, match="no predictions"):
        figures.plot_lt_maps(paths, tmp_path / "x.png", 75)


def test_plot_pe_vs_L(inputs, tmp_path):
    d, _ = inputs
    out = tmp_path / "pe.png"
    figures.plot_pe_vs_L(d / "pe.csv", out)
    _check(out)


def test_plot_timeseries(inputs, tmp_path):
    d, paths = inputs
    assert len(pd.read_csv(d / "onsets.csv")) > 0
    out = tmp_path / "ts.png"
    figures.plot_timeseries(paths, d / "onsets.csv", out, [3.5, 4.5, 5.5], 50)
    _check(out)


def test_plot_spearman(inputs, tmp_path):
    d, _ = inputs
    out = tmp_path / "sp.png"
    figures.plot_spearman(d / "spearman.csv", out)
    _check(out)


# --------------------------------------------------------------------------------------------
# predictions that hold only a few L-shells (e.g. LANL files with L = 4.0-4.2)


def test_nearest_shells():
    axis = np.array([4.0, 4.1, 4.2, 6.6])
    # 5.5 is nearer GEO (6.6) than 4.2, but a regular shell stands in for a regular L
    assert figures.nearest_shells([3.5, 4.5, 5.5], axis, 6.6) == [(0, [3.5]), (2, [4.5, 5.5])]
    assert figures.nearest_shells([4.1, 6.6, 4.12], axis, 6.6) == [(1, [4.1, 4.12]), (3, [6.6])]
    assert figures.nearest_shells([5.0], np.array([6.6]), 6.6) == [(0, [5.0])]
    with pytest.raises(ValueError, match="no L-shell"):
        figures.nearest_shells([4.0], np.array([]), 6.6)


@pytest.fixture(scope="module")
def narrow(tmp_path_factory):
    """Predictions (two models) and onsets on L = 4.0, 4.1, 4.2 only."""
    d = tmp_path_factory.mktemp("narrow")
    L = np.array([4.0, 4.1, 4.2])
    rng = np.random.default_rng(1)
    obs = 2.0 + 0.5 * np.sin(np.arange(T)[:, None] / 9.0) + 0.1 * L[None, :]
    obs[60:, :] += 1.5
    da = lambda v: xr.DataArray(v, dims=("time", "L"), coords={"time": TIMES, "L": L})  # noqa: E731
    paths = [write_predictions(d / f"{m}.zarr", forecast=da(obs + rng.normal(scale=0.1, size=obs.shape)),
                               observed=da(obs), split=labels(), model=m, lead_bins=5, bin_hours=5)
             for m in ("persistence", "mlp")]
    evaluate(paths, d / "pe.csv", d / "onsets.csv", EVAL_CFG)
    return d, paths


def test_timeseries_on_L_4_0_to_4_2_uses_the_nearest_shells(narrow, tmp_path, caplog, monkeypatch):
    d, paths = narrow
    texts = []
    real_text = figures.plt.Axes.text

    def spy(self, x, y, s, *args, **kwargs):
        texts.append(s)
        return real_text(self, x, y, s, *args, **kwargs)

    monkeypatch.setattr(figures.plt.Axes, "text", spy)
    titles = []
    real_title = figures.plt.Axes.set_title
    monkeypatch.setattr(figures.plt.Axes, "set_title",
                        lambda self, label, *a, **k: titles.append(label) or real_title(self, label, *a, **k))
    out = tmp_path / "ts.png"
    with caplog.at_level("WARNING", logger="eoml.radbelt.figures"):
        assert figures.plot_timeseries(paths, d / "onsets.csv", out, [3.5, 4.5, 5.5], 25) == out
    _check(out)
    panels = [t for t in texts if t.startswith("L = ")]
    assert panels == ["L = 4.0 (nearest to the requested L = 3.5)", "L = 4.2 (nearest to the requested L = 4.5, 5.5)"]
    assert any("nearest shell shown" in t for t in titles)
    assert "L = 3.5 not in the predictions (they hold L = 4.0, 4.1, 4.2); drawing L = 4.0" in caplog.text
    assert "L = 4.5, 5.5 not in the predictions" in caplog.text

    # shells the predictions hold are drawn as asked, without a note
    texts.clear()
    figures.plot_timeseries(paths, d / "onsets.csv", tmp_path / "ts2.png", [4.0, 4.2], 25)
    assert [t for t in texts if t.startswith("L = ")] == ["L = 4.0", "L = 4.2"]


def test_maps_and_pe_on_L_4_0_to_4_2(narrow, tmp_path):
    d, paths = narrow
    _check(figures.plot_lt_maps(paths, tmp_path / "maps.png", 25))
    _check(figures.plot_pe_vs_L(d / "pe.csv", tmp_path / "pe.png"))
    fig, ax = figures.plt.subplots()
    figures._L_ticks(ax, np.array([4.1, 4.2, 4.3, 6.6]), 6.6)  # no integer L inside: tick the shells
    assert [t.get_text() for t in ax.get_yticklabels()] == ["4.1", "4.2", "4.3", "GEO"]
    figures.plt.close(fig)
