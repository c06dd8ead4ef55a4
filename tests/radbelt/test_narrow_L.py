"""The radbelt study runs to the end on a store that holds only L = 4.0, 4.1, 4.2.

LANL PreMevE exchange files may cover a few L-shells only. Every step the workflow runs (store,
a neural model, OLS, both baselines, evaluation, Spearman lags, every figure) is called here
through the functions the ``eoml radbelt`` sub-commands call, with the config keys the rules
pass and the schema defaults that do not fit such a store (``timeseries_L: [3.5, 4.5, 5.5]``,
``features.geo_input_L: 4.6``). Tiny settings (two epochs) keep it to seconds.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from synthetic import GRID, make_store_dataset  # tests/radbelt is on sys.path

from eoml.radbelt.baselines import run_baseline
from eoml.radbelt.evaluate import evaluate, spearman
from eoml.radbelt.figures import plot_lt_maps, plot_pe_vs_L, plot_spearman, plot_timeseries
from eoml.radbelt.ingest import ingest_premeve
from eoml.radbelt.train import fit_linreg_predictions, train_neural

pytestmark = pytest.mark.usefixtures("torch_one_thread")

NARROW_L = (4.0, 4.1, 4.2)
LEAD = 2  # bins (10 h)
CFG = {
    "grid": GRID,
    "energy_kev": 1000.0,
    "window": 8,
    "features": {"channels": ["e2", "e3", "p6"], "sw_speed": True, "cross_L_e2": 4.6, "delta_e2": False,
                 "geo_input_L": 4.6},
    "split": {"train": 0.65, "val": 0.14, "test": 0.21},
    "training": {"max_epochs": 2, "batch_size": 128, "learning_rate": 0.003, "early_stopping_patience": 5,
                 "lr_patience": 2, "lr_factor": 0.5, "min_lr": 1e-5},
    "lpf_window": 8,
    "onset": {"factor": 10.0, "window_hours": 25},
    "spearman_max_lag_bins": 4,
}
#: the config keys each step receives (rules/common.smk RB_KEYS; "features" for the store step is the
#: addition this fix asks for, so that combine / ingest-premeve can refuse an empty model input)
KEYS = {
    "store": ["grid", "energy_kev", "features"],
    "train": ["grid", "window", "features", "split", "training"],
    "linreg": ["grid", "window", "features", "split"],
    "baseline": ["grid", "split", "lpf_window", "features"],
    "evaluate": ["grid", "onset"],
    "spearman": ["grid", "features", "spearman_max_lag_bins"],
}
#: the schema's default radbelt.timeseries_L, which does not fit this store
DEFAULT_TIMESERIES_L = [3.5, 4.5, 5.5]


def _cfg(step: str) -> dict:
    """The keys of one step, through JSON as on a rule's command line."""
    return json.loads(json.dumps({k: CFG[k] for k in KEYS[step]}))


def _write_premeve(folder: Path, ds: xr.Dataset) -> Path:
    """The store-layout dataset as LANL PreMevE exchange files (linear fluxes, -1 = fill)."""
    folder.mkdir()
    days = (ds["time"].values - np.datetime64("2013-02-20T00:00:00", "ns")) / np.timedelta64(1, "D")
    columns = ["GEO" if np.isclose(v, 6.6) else f"{v:.1f}" for v in ds["L"].values]
    head = "; synthetic PreMevE exchange file\nS/N Time " + " ".join(columns) + "\n"
    for name, var in (("Target_data_RBSP_2019.txt", "log10_flux_1mev"), ("Input_data_POES_E2_2019.txt", "log10_e2"),
                      ("Input_data_POES_E3_2019.txt", "log10_e3"), ("Input_data_POES_P6_2019.txt", "log10_p6")):
        flux = np.where(np.isfinite(ds[var].values), 10.0 ** ds[var].values, -1.0)
        rows = [f"{k + 1} {d:.4f} " + " ".join(f"{v:.6e}" for v in row) for k, (d, row) in enumerate(zip(days, flux))]
        (folder / name).write_text(head + "\n".join(rows) + "\n")
    rows = [f"{k + 1} {d:.4f} -10 {v:.1f} 5.0" for k, (d, v) in enumerate(zip(days, ds["sw_speed"].values))]
    (folder / "Input_data_OMNI_2019.txt").write_text(
        "; synthetic\nS/N Time Dst S/W speed S/W p+ den\n" + "\n".join(rows) + "\n")
    return folder


@pytest.mark.parametrize("geo", [False, True], ids=["L4.0-4.2", "L4.0-4.2+GEO"])
def test_study_runs_to_the_end_on_L_4_0_to_4_2(tmp_path, caplog, geo):
    ds = make_store_dataset(n_time=260, L=NARROW_L, seed=5, geo=geo)
    premeve = _write_premeve(tmp_path / "premeve", ds)
    out = tmp_path / "results"
    store = out / "store.zarr"
    caplog.set_level(logging.INFO)

    ingest_premeve(premeve, store, GRID, config=_cfg("store"))
    with xr.open_zarr(store) as s:
        assert s["L"].values.tolist() == list(NARROW_L) + ([6.6] if geo else [])

    preds = [out / "mlp" / "predictions.zarr", out / "linreg.zarr", out / "persistence.zarr", out / "lpf.zarr"]
    train_neural(store, "mlp", LEAD, 0, preds[0].parent, out / "ckpt", _cfg("train"))
    fit_linreg_predictions(store, LEAD, preds[1], _cfg("linreg"))
    run_baseline(store, "persistence", LEAD, preds[2], _cfg("baseline"))
    run_baseline(store, "lpf", LEAD, preds[3], _cfg("baseline"))
    metrics = out / "metrics"
    evaluate(preds, metrics / "pe.csv", metrics / "onsets.csv", _cfg("evaluate"),
             pe_seeds_csv=metrics / "pe_seeds.csv", onsets_summary_csv=metrics / "onsets_summary.csv")
    spearman(store, metrics / "spearman.csv", _cfg("spearman"))

    pe = pd.read_csv(metrics / "pe.csv")
    assert set(pe["model"]) == {"mlp", "linreg", "persistence", "lpf"}
    test_pe = pe[(pe["split"] == "test") & ~pe["L"].isin(["mean", "GEO"])]
    assert sorted(set(test_pe["L"].astype(float))) == list(NARROW_L)
    assert np.isfinite(test_pe["pe"]).all()
    if geo:
        # the GEO models and the LPF take their inputs at the shell nearest geo_input_L = 4.6
        assert set(pe.loc[pe["L"] == "GEO", "model"]) == {"mlp", "linreg", "persistence", "lpf"}
        assert "radbelt.features.geo_input_L = 4.6 is not an L-shell of the store" in caplog.text
    # cross_L_e2 = 4.6 is not in the store: the nearest shell stands in, and the log says so
    assert "radbelt.features.cross_L_e2 = 4.6 is not an L-shell of the store" in caplog.text
    assert "using the nearest, L = 4.2" in caplog.text

    hours = LEAD * GRID["bin_hours"]
    figures = out / "figures"
    plot_lt_maps(preds, figures / "maps.png", hours)
    plot_timeseries(preds, metrics / "onsets.csv", figures / "timeseries.png", DEFAULT_TIMESERIES_L, hours)
    plot_pe_vs_L(metrics / "pe.csv", figures / "pe_vs_L.png")
    plot_spearman(metrics / "spearman.csv", figures / "spearman.png")
    for name in ("maps", "timeseries", "pe_vs_L", "spearman"):
        png = figures / f"{name}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.with_suffix(".svg").stat().st_size > 1000
    assert "time-series figure: L = 3.5 not in the predictions" in caplog.text
    assert "drawing L = 4.2" in caplog.text
