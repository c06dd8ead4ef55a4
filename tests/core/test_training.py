"""The Lightning engine: best-epoch weights are kept, resume continues exactly, reruns skip."""

from __future__ import annotations

import logging

import lightning
import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from eoml.core.training import (
    BaseTask,
    EpochShuffleSampler,
    RegressionTask,
    fit,
    read_history,
    seed_everything,
)

TRAINING = {
    "max_epochs": 4,
    "batch_size": 32,
    "learning_rate": 0.01,
    "early_stopping_patience": 10,
    "lr_patience": 1,
    "lr_factor": 0.5,
    "min_lr": 1e-5,
}


pytestmark = pytest.mark.usefixtures("torch_one_thread")


class _Net(nn.Module):
    def __init__(self, n_in: int = 3, dropout: float = 0.2):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(n_in, 8), nn.ELU(), nn.Dropout(dropout), nn.Linear(8, 1))

    def forward(self, x):
        return self.net(x).squeeze(-1)


class _Data(lightning.LightningDataModule):
    def __init__(self, seed: int = 0, n: int = 160):
        super().__init__()
        rng = np.random.default_rng(123)
        X = rng.standard_normal((n, 3)).astype(np.float32)
        y = (X @ np.array([1.0, -2.0, 0.5]) + 0.3 + 0.05 * rng.standard_normal(n)).astype(np.float32)
        n_train = int(0.75 * n)
        self.train_ds = TensorDataset(torch.from_numpy(X[:n_train]), torch.from_numpy(y[:n_train]))
        self.val_ds = TensorDataset(torch.from_numpy(X[n_train:]), torch.from_numpy(y[n_train:]))
        self.seed = seed

    def train_dataloader(self):
        return DataLoader(self.train_ds, batch_size=TRAINING["batch_size"],
                          sampler=EpochShuffleSampler(len(self.train_ds), self.seed))

    def val_dataloader(self):
        return DataLoader(self.val_ds, batch_size=64)


def _task(**kwargs) -> RegressionTask:
    seed_everything(0)
    return RegressionTask.from_config(_Net(), TRAINING, **kwargs)


def _weights(module: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().clone() for k, v in module.state_dict().items()}


def _same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def _val_loss(task: BaseTask, data: _Data) -> float:
    task.eval()
    X, y = data.val_ds.tensors
    with torch.no_grad():
        return float(nn.functional.mse_loss(task(X), y))


class _Diverging(RegressionTask):
    """From epoch 2 on, every epoch starts by wrecking the weights: val loss gets worse."""

    def on_train_epoch_start(self) -> None:
        super().on_train_epoch_start()
        if self.current_epoch >= 2:
            with torch.no_grad():
                for p in self.model.parameters():
                    p.add_(3.0)


def test_best_epoch_weights_are_kept(tmp_path):
    seed_everything(0)
    task = _Diverging.from_config(_Net(), {**TRAINING, "max_epochs": 5})
    data = _Data()
    best = fit(task, data, run_dir=tmp_path / "run", ckpt_dir=tmp_path / "ckpt",
               training_cfg={**TRAINING, "max_epochs": 5}, seed=0)
    assert best == tmp_path / "ckpt" / "best.ckpt"
    history = pd.read_csv(tmp_path / "run" / "history.csv")
    assert list(history.columns) == ["epoch", "train_loss", "val_loss", "lr"]
    assert history["epoch"].tolist() == [0, 1, 2, 3, 4]
    assert history[["train_loss", "val_loss", "lr"]].notna().all().all()
    best_epoch = int((tmp_path / "run" / "best_epoch.txt").read_text())
    assert best_epoch == int(history["val_loss"].idxmin()) == 1
    assert history["val_loss"].iloc[-1] > 10 * history["val_loss"].min()

    best_ckpt = torch.load(best, map_location="cpu", weights_only=False)
    last_ckpt = torch.load(tmp_path / "ckpt" / "last.ckpt", map_location="cpu", weights_only=False)
    assert best_ckpt["epoch"] == 1 and last_ckpt["epoch"] == 4
    kept = _weights(task)
    assert _same(kept, best_ckpt["state_dict"])
    assert not _same(kept, last_ckpt["state_dict"])
    assert _val_loss(task, data) == pytest.approx(history["val_loss"].min(), rel=1e-5)
    # TensorBoard and CSV logs are under run_dir
    assert list((tmp_path / "run" / "tensorboard").rglob("events.out.tfevents.*"))
    assert list((tmp_path / "run" / "csv").rglob("metrics.csv"))


def test_lr_schedule_and_early_stopping(tmp_path):
    # a learning rate far too large: validation loss stalls, the plateau schedule halves the rate,
    # early stopping ends the run before max_epochs
    cfg = {**TRAINING, "max_epochs": 30, "learning_rate": 5.0, "lr_patience": 0, "early_stopping_patience": 2}
    seed_everything(0)
    task = RegressionTask.from_config(_Net(), cfg)
    fit(task, _Data(), run_dir=tmp_path / "run", ckpt_dir=tmp_path / "ckpt", training_cfg=cfg, seed=0)
    history = pd.read_csv(tmp_path / "run" / "history.csv")
    assert len(history) < 30
    assert history["lr"].iloc[0] == 5.0
    assert history["lr"].min() < 5.0


def test_resume_continues_exactly(tmp_path, monkeypatch, caplog):
    # uninterrupted reference
    ref = _task()
    fit(ref, _Data(), run_dir=tmp_path / "ref_run", ckpt_dir=tmp_path / "ref_ckpt", training_cfg=TRAINING, seed=3)

    # the same run, crashed at the start of epoch 2
    def crash(self):
        BaseTask.on_train_epoch_start(self)
        if self.current_epoch == 2:
            raise RuntimeError("simulated crash")

    monkeypatch.setattr(RegressionTask, "on_train_epoch_start", crash)
    with pytest.raises(RuntimeError, match="simulated crash"):
        fit(_task(), _Data(), run_dir=tmp_path / "run", ckpt_dir=tmp_path / "ckpt", training_cfg=TRAINING, seed=3)
    monkeypatch.undo()
    assert torch.load(tmp_path / "ckpt" / "last.ckpt", weights_only=False)["epoch"] == 1
    assert not (tmp_path / "ckpt" / "complete.json").exists()

    task = _task()
    with caplog.at_level(logging.INFO, logger="eoml.core.training"):
        fit(task, _Data(), run_dir=tmp_path / "run", ckpt_dir=tmp_path / "ckpt", training_cfg=TRAINING, seed=3)
    assert "resuming training from" in caplog.text and "(epoch 1 done)" in caplog.text
    # the resumed job logged epochs 2.. only, into a second CSV version
    versions = sorted((tmp_path / "run" / "csv").glob("version_*"))
    assert len(versions) == 2
    resumed = pd.read_csv(versions[1] / "metrics.csv")
    assert resumed["epoch"].dropna().min() == 2
    history = pd.read_csv(tmp_path / "run" / "history.csv")
    ref_history = pd.read_csv(tmp_path / "ref_run" / "history.csv")
    assert history["epoch"].tolist() == [0, 1, 2, 3]
    pd.testing.assert_frame_equal(history, ref_history)
    # data order and dropout depend on (seed, epoch) only: bitwise the uninterrupted result
    assert _same(_weights(task), _weights(ref))


def test_rerun_skips_and_changed_settings_restart(tmp_path, caplog):
    dirs = {"run_dir": tmp_path / "run", "ckpt_dir": tmp_path / "ckpt"}
    first = _task()
    fit(first, _Data(), training_cfg=TRAINING, seed=0, **dirs)

    again = _task()
    with caplog.at_level(logging.INFO, logger="eoml.core.training"):
        fit(again, _Data(), training_cfg=TRAINING, seed=0, **dirs)
    assert "training already complete" in caplog.text
    assert _same(_weights(again), _weights(first))
    assert len(list((tmp_path / "run" / "csv").glob("version_*"))) == 1

    caplog.clear()
    changed = {**TRAINING, "learning_rate": 0.02}
    with caplog.at_level(logging.INFO, logger="eoml.core.training"):
        seed_everything(0)
        fit(RegressionTask.from_config(_Net(), changed), _Data(), training_cfg=changed, seed=0, **dirs)
    assert "training from scratch" in caplog.text
    assert "resuming" not in caplog.text
    assert read_history(dirs["run_dir"])["epoch"].tolist() == [0, 1, 2, 3]
    assert len(list((tmp_path / "run" / "csv").glob("version_*"))) == 1


def test_same_seed_same_weights_different_seed_differs(tmp_path):
    results = []
    for i, seed in enumerate([5, 5, 6]):
        seed_everything(seed)
        task = RegressionTask.from_config(_Net(), TRAINING)
        fit(task, _Data(seed), run_dir=tmp_path / f"r{i}", ckpt_dir=tmp_path / f"c{i}",
            training_cfg=TRAINING, seed=seed)
        results.append(_weights(task))
    assert _same(results[0], results[1])
    assert not _same(results[0], results[2])


def test_epoch_shuffle_sampler_depends_on_seed_and_epoch_only():
    a, b = EpochShuffleSampler(50, 1), EpochShuffleSampler(50, 1)
    a.set_epoch(3)
    b.set_epoch(3)
    assert list(a) == list(b) and sorted(a) == list(range(50))
    b.set_epoch(4)
    assert list(a) != list(b)
    assert list(EpochShuffleSampler(50, 2)) != list(EpochShuffleSampler(50, 1))
