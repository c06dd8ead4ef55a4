"""aot training job: model file, history and the validation / test predictions; resume; predict."""

from __future__ import annotations

import numpy as np
import pytest
from aot_store import CFG, synthetic_store

from eoml.aot.runs import expand_runs
from eoml.aot.train import class_weights, predict_model, train_run
from eoml.core.store import open_store

pytestmark = pytest.mark.usefixtures("torch_one_thread")

EXPERIMENT = {"name": "convlstm", "model": "convlstm", "hidden": [4], "kernel": 3, "attention_stride": 2,
              "input_lengths": [2], "batch_sizes": [4], "class_weight_power": [1], "pooling": ["max"],
              "dropout": [0.3], "activation": ["sigmoid"], "optimizer": ["nadam"], "seeds": [0],
              "backbone": "resnet18", "weights": "random", "weights_path": None, "head": "paper", "time_kernel": 3,
              "decoder_channels": [8, 8, 8, 8]}
TRAINING = {"max_epochs": 2, "learning_rate": 0.01, "early_stopping_patience": 3, "lr_patience": 2,
            "lr_factor": 0.1, "min_lr": 1e-6}


def test_class_weights_are_sklearn_balanced_raised_to_the_power():
    y = np.array([0] * 9 + [1])
    assert class_weights(y, 0) is None
    w0, w1 = class_weights(y, 3)
    assert w0 == pytest.approx((10 / 18) ** 3) and w1 == pytest.approx((10 / 2) ** 3)


def test_train_run_writes_model_history_predictions_and_resumes(tmp_path, caplog):
    store = synthetic_store(tmp_path / "store.zarr", n=30)
    runs = expand_runs([EXPERIMENT])
    (config_id, run), = runs.items()
    assert config_id == "convlstm-T2-b4"
    cfg = {**CFG, "training": TRAINING}
    model = train_run(store, config_id, run, 0, tmp_path / "out", tmp_path / "ckpt", cfg)
    assert model.exists() and (tmp_path / "out" / "history.csv").exists()
    pred = open_store(tmp_path / "out" / "predictions.zarr").load()
    splits = pred["split"].values.tolist()
    assert set(splits) == {"val", "test"} and splits == sorted(splits, key=["val", "test"].index)
    prob = pred["probability"].values
    assert prob.shape[1:] == (6, 12) and np.all((prob >= 0) & (prob <= 1))
    assert pred.attrs["config"] == config_id and pred.attrs["n_frames"] == 2
    # the same model file predicts the same maps through the predict step
    again = open_store(predict_model(model, store, tmp_path / "again.zarr", cfg, device="cpu")).load()
    assert np.allclose(again["probability"].values, prob, atol=1e-6)
    # a rerun finds the finished checkpoint and does not train again
    caplog.set_level("INFO")
    train_run(store, config_id, run, 0, tmp_path / "out2", tmp_path / "ckpt", cfg)
    assert "training already complete" in caplog.text
    again2 = open_store(tmp_path / "out2" / "predictions.zarr").load()
    assert np.array_equal(again2["probability"].values, prob)
