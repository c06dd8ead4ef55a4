"""radbelt models and training jobs: shapes, OLS, predictions.nc, determinism, resume, skill."""

from __future__ import annotations

import json
import logging
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest
import torch
import xarray as xr
from synthetic import make_store_dataset, write_store  # tests/radbelt is on sys.path

from eoml.core.errors import ConfigError, InputFileError
from eoml.core.modelfile import load_model_file
from eoml.core.store import open_store
from eoml.core.training import count_parameters
from eoml.radbelt.models import (
    CNN1D,
    MLP,
    LinearRegPerL,
    LSTMNet,
    build_model,
    fit_linreg,
    predict_linreg,
)
from eoml.radbelt.train import MODEL_KIND, TargetScaling, fit_linreg_predictions, train_neural

LEAD = 2  # bins; the synthetic target lags its drivers by 3 bins
CFG = {
    "window": 8,
    "features": {"channels": ["e2", "e3", "p6"], "sw_speed": True, "cross_L_e2": None, "delta_e2": False,
                 "geo_input_L": 4.6},
    "split": {"train": 0.65, "val": 0.14, "test": 0.21},
    "training": {"max_epochs": 3, "batch_size": 64, "learning_rate": 0.003, "early_stopping_patience": 5,
                 "lr_patience": 2, "lr_factor": 0.5, "min_lr": 1e-5},
}


pytestmark = pytest.mark.usefixtures("torch_one_thread")


def _pe(pred: xr.Dataset, split: str = "test") -> float:
    sel = pred.where(pred["split"] == split, drop=True)
    f, o = sel["forecast"].values.ravel(), sel["observed"].values.ravel()
    ok = np.isfinite(f) & np.isfinite(o)
    f, o = f[ok], o[ok]
    return 1.0 - np.sum((o - f) ** 2) / np.sum((o - o.mean()) ** 2)


def _load(path) -> xr.Dataset:
    with open_store(path) as ds:
        return ds.load()


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    ds = make_store_dataset(n_time=300, L=(3.0, 4.0, 4.6, 5.0), seed=2)
    return write_store(ds, tmp_path_factory.mktemp("store") / "store.zarr")


@pytest.fixture(scope="module")
def mlp_run(store, tmp_path_factory):
    """The reference run: mlp, seed 0, uninterrupted."""
    root = tmp_path_factory.mktemp("mlp_seed0")
    return train_neural(store, "mlp", LEAD, 0, root / "out", root / "ckpt", CFG), root


# --------------------------------------------------------------------------------------------
# models
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("name", "cls", "n_params"), [("mlp", MLP, 7297), ("cnn", CNN1D, 7393),
                                                        ("lstm", LSTMNet, 69249)])
def test_model_shapes_and_parameter_counts(name, cls, n_params):
    torch.manual_seed(0)
    model = build_model(name, 16, 5)
    assert isinstance(model, cls)
    # mlp: 80·64+64 + 64·32+32 + 32+1; cnn: 5·64·3+64 + 64·32·3+32 + (32·6)+1;
    # lstm: 4·128·(5+128) + 2·4·128 + 128+1
    assert count_parameters(model) == n_params
    model.eval()
    assert model(torch.randn(7, 16, 5)).shape == (7,)
    assert model(torch.randn(1, 16, 5)).shape == (1,)


def test_build_model_rejects_bad_input():
    with pytest.raises(ConfigError, match="unknown neural model"):
        build_model("gru", 16, 5)
    with pytest.raises(ConfigError, match="too short"):
        build_model("cnn", 5, 3)


def test_linreg_recovers_exact_linear_relation():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((300, 4, 3))
    a = rng.standard_normal(12)
    y = X.reshape(300, -1) @ a + 0.7
    coef, intercept = fit_linreg(X, y)
    np.testing.assert_allclose(coef, a, atol=1e-8)
    assert intercept == pytest.approx(0.7, abs=1e-8)
    np.testing.assert_allclose(predict_linreg(coef, intercept, X), y, atol=1e-8)
    # one model per L-shell
    L = np.repeat([3.0, 4.5], 150)
    y2 = np.where(L == 3.0, y, -2.0 * X[:, -1, 0] + 1.0)
    per_L = LinearRegPerL().fit(X, y2, L)
    np.testing.assert_allclose(per_L.predict(X, L), y2, atol=1e-8)
    assert np.isnan(per_L.predict(X[:2], np.array([5.0, 5.0]))).all()
    again = LinearRegPerL.from_dict(json.loads(json.dumps(per_L.to_dict())))
    np.testing.assert_allclose(again.predict(X, L), y2, atol=1e-8)


def test_linreg_predictions_file(tmp_path):
    # noise-free store: the target is an exact linear function of the window inputs
    ds = make_store_dataset(n_time=200, L=(3.0, 4.6, 5.0), seed=4, noise=0.0)
    path = write_store(ds, tmp_path / "store.zarr")
    out = fit_linreg_predictions(path, LEAD, tmp_path / "linreg" / "predictions.zarr", CFG)
    pred = _load(out)
    assert pred.attrs["model"] == "linreg" and pred.attrs["seed"] == -1 and pred.attrs["geo_model"] == 1
    assert pred.attrs["lead_hours"] == 10
    both = np.isfinite(pred["forecast"].values)
    assert both.sum() == pred.attrs["n_train"] + pred.attrs["n_val"] + pred.attrs["n_test"]
    np.testing.assert_allclose(pred["forecast"].values[both], pred["observed"].values[both], atol=1e-8)
    assert np.isfinite(pred["forecast"].sel(L=6.6).values).any()
    # without a GEO column no GEO model
    no_geo = write_store(make_store_dataset(n_time=200, L=(3.0, 4.6), seed=4, geo=False), tmp_path / "ng.zarr")
    assert _load(fit_linreg_predictions(no_geo, LEAD, tmp_path / "ng_pred.zarr", CFG)).attrs["geo_model"] == 0


# --------------------------------------------------------------------------------------------
# neural training jobs
# --------------------------------------------------------------------------------------------
def test_predictions_layout(mlp_run, store):
    out, root = mlp_run
    assert out == root / "out" / "predictions.zarr"
    pred = _load(out)
    ds = xr.open_zarr(store)
    assert pred["forecast"].dims == pred["observed"].dims == ("time", "L")
    np.testing.assert_array_equal(pred["time"].values, ds["time"].values)
    np.testing.assert_array_equal(pred["L"].values, ds["L"].values)
    assert pred["split"].dims == ("time",)
    assert set(pred["split"].values) == {"train", "val", "test"}
    attrs = pred.attrs
    assert (attrs["model"], attrs["lead_bins"], attrs["lead_hours"], attrs["seed"]) == ("mlp", LEAD, 10, 0)
    assert attrs["geo_model"] == 1 and 0 <= attrs["best_epoch"] < 3 and 0 <= attrs["best_epoch_geo"] < 3
    finite = np.isfinite(pred["forecast"].values)
    assert finite.sum() == attrs["n_train"] + attrs["n_val"] + attrs["n_test"]
    np.testing.assert_array_equal(finite, np.isfinite(pred["observed"].values))
    # observed is the store's target at the target (valid) time
    np.testing.assert_array_equal(pred["observed"].values[finite], ds["log10_flux_1mev"].values[finite])
    # the first window + lead bins cannot have a forecast
    assert not finite[: CFG["window"] - 1 + LEAD].any()
    # model.pt (the core model file) and history.csv; checkpoints live outside out_dir
    saved = load_model_file(root / "out" / "model.pt", kind=MODEL_KIND)
    assert set(saved.arch["nets"]) == {"Lshells", "geo"} and saved.arch["window"] == CFG["window"]
    assert saved.settings["config"]["window"] == CFG["window"] and saved.settings["seed"] == 0
    assert saved.settings["best_epoch"] == {"Lshells": attrs["best_epoch"], "geo": attrs["best_epoch_geo"]}
    nets = torch.nn.ModuleDict({name: build_model("mlp", CFG["window"], spec["n_features"])
                                for name, spec in saved.arch["nets"].items()})
    nets.load_state_dict(saved.weights)
    best = torch.load(root / "ckpt" / "Lshells" / "best.ckpt", weights_only=False)["state_dict"]
    for k, v in nets["Lshells"].state_dict().items():
        assert torch.equal(v, best[f"model.{k}"])
    assert set(saved.norm["Lshells"]) == {"x", "y"} and len(saved.norm["Lshells"]["x"]["mean"]) == 5
    with pytest.raises(InputFileError, match="not a 'other.kind' model"):
        load_model_file(root / "out" / "model.pt", kind="other.kind")
    history = pd.read_csv(root / "out" / "history.csv")
    assert list(history.columns) == ["net", "epoch", "train_loss", "val_loss", "lr"]
    assert set(history["net"]) == {"Lshells", "geo"}
    assert history[history["net"] == "Lshells"]["val_loss"].idxmin() == attrs["best_epoch"]
    assert not list((root / "out").rglob("*.ckpt"))


def test_target_scaling_per_L_shell():
    rng = np.random.default_rng(1)
    groups = np.repeat([0, 1, 2], 50)
    y = np.where(groups == 0, 2.0, 5.0) + np.where(groups == 2, 3.0, 0.5) * rng.standard_normal(150)
    scaling = TargetScaling.fit(y, groups)
    z = scaling.transform(y, groups)
    assert z.dtype == np.float32
    for g in range(3):  # every L-shell standardised on its own
        assert z[groups == g].mean() == pytest.approx(0.0, abs=1e-6)
        assert z[groups == g].std() == pytest.approx(1.0, rel=1e-5)
    np.testing.assert_allclose(scaling.inverse(z, groups), y, rtol=1e-6)
    # an L-shell unseen in training uses the pooled statistics
    np.testing.assert_allclose(scaling.transform(np.array([y.mean()]), np.array([7])), [0.0], atol=1e-6)
    # a constant L-shell is only centred
    const = TargetScaling.fit(np.ones(4), np.zeros(4))
    assert const.groups[0].std == 1.0


def test_missing_config_key_is_an_error_not_a_default(store, tmp_path):
    cfg = {**CFG, "training": {k: v for k, v in CFG["training"].items() if k != "lr_factor"}}
    with pytest.raises(ConfigError, match="radbelt.training: missing key.*lr_factor"):
        train_neural(store, "mlp", LEAD, 0, tmp_path / "out", tmp_path / "ckpt", cfg)
    with pytest.raises(KeyError, match="window"):
        train_neural(store, "mlp", LEAD, 0, tmp_path / "out", tmp_path / "ckpt",
                     {k: v for k, v in CFG.items() if k != "window"})


def test_checkpoints_must_be_outside_outputs(store, tmp_path):
    with pytest.raises(ConfigError, match="inside the output directory"):
        train_neural(store, "mlp", LEAD, 0, tmp_path / "out", tmp_path / "out" / "ckpt", CFG)


def test_same_seed_identical_different_seed_differs(mlp_run, store, tmp_path):
    ref = _load(mlp_run[0])
    same = _load(train_neural(store, "mlp", LEAD, 0, tmp_path / "a" / "out", tmp_path / "a" / "ckpt", CFG))
    other = _load(train_neural(store, "mlp", LEAD, 1, tmp_path / "b" / "out", tmp_path / "b" / "ckpt", CFG))
    for var in ("forecast", "observed"):
        assert same[var].values.tobytes() == ref[var].values.tobytes()
    assert other["observed"].values.tobytes() == ref["observed"].values.tobytes()
    assert other["forecast"].values.tobytes() != ref["forecast"].values.tobytes()


_KILLED_JOB = """
import json, logging, sys, time
logging.basicConfig(level=logging.INFO, stream=sys.stderr)
import torch
torch.set_num_threads(1)  # as in the reference run (test module fixture)
from eoml.core.training import BaseTask
_start = BaseTask.on_train_epoch_start
def _slow_start(self):  # slow epochs, same numbers: leaves time to kill the job mid-run
    _start(self)
    time.sleep(0.7)
BaseTask.on_train_epoch_start = _slow_start
from eoml.radbelt.train import train_neural
store, out, ckpt, cfg = sys.argv[1:5]
train_neural(store, "mlp", %d, 0, out, ckpt, json.loads(cfg))
""" % LEAD


def _ckpt_epoch(path) -> int:
    try:
        return int(torch.load(path, weights_only=False)["epoch"])
    except Exception:  # noqa: BLE001 - being replaced right now: try again
        return 10**9


def _logged_epochs(metrics) -> int:
    """Number of epochs with a train_loss row in a CSV-logger file (0 if absent or partial)."""
    try:
        table = pd.read_csv(metrics)
    except Exception:  # noqa: BLE001 - absent, empty or being written
        return 0
    if "train_loss" not in table or "epoch" not in table:
        return 0
    return int(table.dropna(subset=["train_loss"])["epoch"].nunique())


# the suite's one subprocess kill-and-resume test (core's resume logic is tested in-process in
# tests/core/test_training.py); slow: a fresh interpreter imports torch + Lightning (~25 s)
@pytest.mark.slow
def test_killed_job_resumes_from_last_checkpoint(mlp_run, store, tmp_path, caplog):
    out, ckpt = tmp_path / "out", tmp_path / "ckpt"
    last = ckpt / "Lshells" / "last.ckpt"
    log_file = tmp_path / "killed.log"
    with open(log_file, "w") as fh:
        proc = subprocess.Popen(
            [sys.executable, "-c", _KILLED_JOB, str(store), str(out), str(ckpt), json.dumps(CFG)],
            stdout=fh, stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 120
            # kill once an epoch's checkpoint *and* its metrics row are on disk: Lightning writes
            # last.ckpt a few ms before the CSV logger flushes that epoch's row, and a kill inside
            # that window loses the row from history.csv (the weights and forecasts are unaffected)
            metrics = ckpt / "logs" / "Lshells" / "csv" / "version_0" / "metrics.csv"
            while not (last.exists() and _logged_epochs(metrics) > _ckpt_epoch(last)):
                assert proc.poll() is None, f"job ended before its first checkpoint:\n{log_file.read_text()}"
                assert time.monotonic() < deadline, "no checkpoint after 120 s"
                time.sleep(0.02)
            proc.send_signal(signal.SIGKILL)
        finally:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert not (out / "predictions.zarr").exists()
    assert not (ckpt / "Lshells" / "complete.json").exists()
    done = torch.load(last, weights_only=False)["epoch"]  # written atomically: always loadable
    assert done < CFG["training"]["max_epochs"] - 1

    with caplog.at_level(logging.INFO, logger="eoml.core.training"):
        path = train_neural(store, "mlp", LEAD, 0, out, ckpt, CFG)
    assert f"resuming training from {last} (epoch {done} done)" in caplog.text
    # the resumed job logged only the epochs after the checkpoint
    versions = sorted((ckpt / "logs" / "Lshells" / "csv").glob("version_*"))
    assert len(versions) == 2
    assert pd.read_csv(versions[1] / "metrics.csv")["epoch"].dropna().min() == done + 1
    history = pd.read_csv(out / "history.csv")
    assert history[history["net"] == "Lshells"]["epoch"].tolist() == list(range(CFG["training"]["max_epochs"]))
    # and the result is bitwise the uninterrupted run's
    ref, got = _load(mlp_run[0]), _load(path)
    assert got["forecast"].values.tobytes() == ref["forecast"].values.tobytes()
    pd.testing.assert_frame_equal(history, pd.read_csv(mlp_run[1] / "out" / "history.csv"))


@pytest.mark.parametrize("model", ["mlp", "cnn", "lstm"])
def test_neural_models_have_skill(model, mlp_run, store, tmp_path):
    if model == "mlp":
        path = mlp_run[0]
    else:
        path = train_neural(store, model, LEAD, 0, tmp_path / "out", tmp_path / "ckpt", CFG)
    pred = _load(path)
    assert pred.attrs["n_test"] > 100
    assert _pe(pred, "test") > 0.0
