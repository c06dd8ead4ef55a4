"""The Lightning engine: best-epoch weights are kept, resume continues exactly, reruns skip;
the DataModule, the training settings, device choice and parameter counting."""

from __future__ import annotations

import logging

import lightning
import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from eoml.core.errors import ConfigError
from eoml.core.training import (
    TRAINING_KEYS,
    BaseTask,
    DataModule,
    EpochShuffleSampler,
    RegressionTask,
    SeededEpochSampler,
    count_parameters,
    read_history,
    run_training,
    seed_everything,
    select_device,
    training_settings,
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


def fit(task, datamodule, **kwargs):
    return run_training(task, datamodule, **kwargs)


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
    result = run_training(task, data, run_dir=tmp_path / "run", ckpt_dir=tmp_path / "ckpt",
                          training_cfg={**TRAINING, "max_epochs": 5}, seed=0)
    best = result.checkpoint
    assert best == tmp_path / "ckpt" / "best.ckpt"
    # the caller gets the history and the best epoch as values; the files are for the user
    history = result.history
    assert list(history.columns) == ["epoch", "train_loss", "val_loss", "lr"]
    assert history["epoch"].tolist() == [0, 1, 2, 3, 4] and result.epochs_run == 5
    assert history[["train_loss", "val_loss", "lr"]].notna().all().all()
    assert result.best_epoch == int(history["val_loss"].idxmin()) == 1
    assert history["val_loss"].iloc[-1] > 10 * history["val_loss"].min()
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "run" / "history.csv"), history)
    assert int((tmp_path / "run" / "best_epoch.txt").read_text()) == 1
    assert _same(result.weights, _weights(task.model))

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
    history = fit(task, _Data(), run_dir=tmp_path / "run", ckpt_dir=tmp_path / "ckpt", training_cfg=cfg,
                  seed=0).history
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
        result = fit(task, _Data(), run_dir=tmp_path / "run", ckpt_dir=tmp_path / "ckpt", training_cfg=TRAINING,
                     seed=3)
    assert "resuming training from" in caplog.text and "(epoch 1 done)" in caplog.text
    # the resumed job logged epochs 2.. only, into a second CSV version
    versions = sorted((tmp_path / "run" / "csv").glob("version_*"))
    assert len(versions) == 2
    resumed = pd.read_csv(versions[1] / "metrics.csv")
    assert resumed["epoch"].dropna().min() == 2
    history = result.history
    ref_history = pd.read_csv(tmp_path / "ref_run" / "history.csv")
    assert history["epoch"].tolist() == [0, 1, 2, 3]  # across both CSV-logger versions
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


def test_seeded_sampler_yields_sample_seeds_that_depend_only_on_seed_epoch_index():
    s = SeededEpochSampler(20, seed=4)
    s.set_epoch(3)
    first = list(s)
    again = SeededEpochSampler(20, seed=4)
    again.set_epoch(3)
    assert list(again) == first
    assert sorted(i for i, _ in first) == list(range(20))
    s.set_epoch(4)
    assert list(s) != first
    # a sample's seed does not depend on its position in the order; another salt, other seeds
    assert len(set(dict(first).values())) == 20
    salted = SeededEpochSampler(20, seed=4, salt=7)
    salted.set_epoch(3)
    assert [i for i, _ in salted] == [i for i, _ in first] and dict(salted) != dict(first)


def test_datamodule_loaders():
    class Keys(torch.utils.data.Dataset):
        def __len__(self):
            return 9

        def __getitem__(self, key):
            return torch.tensor(key if isinstance(key, tuple) else (key, -1))

    plain = DataModule(Keys(), Keys(), batch_size=4, seed=1)
    batches = list(plain.train_dataloader())
    order = torch.cat(batches)[:, 0].tolist()
    sampler = EpochShuffleSampler(9, 1)
    assert order == list(sampler) and (torch.cat(batches)[:, 1] == -1).all()
    assert torch.cat(list(plain.val_dataloader()))[:, 0].tolist() == list(range(9))  # in order, plain keys
    seeded = DataModule(Keys(), Keys(), batch_size=4, seed=1, sample_salt=5)
    pairs = torch.cat(list(seeded.train_dataloader())).tolist()
    assert [tuple(p) for p in pairs] == list(SeededEpochSampler(9, 1, salt=5))
    # 9 = 2 x 4 + 1: a last batch of one sample is dropped only when asked
    assert [len(b) for b in seeded.train_dataloader()] == [4, 4, 1]
    guarded = DataModule(Keys(), Keys(), batch_size=4, seed=1, sample_salt=5, avoid_single_batch=True)
    assert [len(b) for b in guarded.train_dataloader()] == [4, 4]


def test_training_settings_are_all_required():
    assert training_settings(TRAINING) == TRAINING and tuple(TRAINING) == TRAINING_KEYS
    partial = {k: v for k, v in TRAINING.items() if k not in ("min_lr", "lr_factor")}
    with pytest.raises(ConfigError, match="demo.training: missing key\\(s\\) lr_factor, min_lr"):
        training_settings(partial, "demo.training")
    with pytest.raises(ConfigError, match="training: missing key"):
        RegressionTask.from_config(_Net(), partial)
    with pytest.raises(ConfigError, match="training: missing key"):
        run_training(_task(), _Data(), run_dir="unused", ckpt_dir="unused", training_cfg=partial, seed=0)
    with pytest.raises(TypeError):  # no code-side optimiser defaults either
        RegressionTask(_Net())


def test_select_device(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert select_device() == torch.device("cpu") == select_device("auto") == select_device("cpu")
    with pytest.raises(ConfigError, match="CUDA is not available"):
        select_device("cuda")
    with pytest.raises(ConfigError, match="not a torch device"):
        select_device("abacus")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert select_device() == torch.device("cuda") and select_device("cpu") == torch.device("cpu")


def test_count_parameters():
    net = _Net()  # 3*8 + 8 + 8*1 + 1
    assert count_parameters(net) == 41
    net.net[0].requires_grad_(False)
    assert count_parameters(net, trainable_only=True) == 9 and count_parameters(net) == 41


def test_inside_a_slurm_job_lightning_does_not_requeue(monkeypatch):
    """Snakemake's retries resubmit a cancelled job (which resumes from its checkpoint): Lightning's
    SLURM environment is used without its own ``scontrol requeue``."""
    from lightning.fabric.plugins.environments import SLURMEnvironment

    from eoml.core.training import _cluster_environment

    for var in ("SLURM_NTASKS", "SLURM_JOB_NAME"):
        monkeypatch.delenv(var, raising=False)
    assert _cluster_environment() == []
    monkeypatch.setenv("SLURM_NTASKS", "1")
    monkeypatch.setenv("SLURM_JOB_NAME", "0d3c2f4e-run-uuid")
    (env,) = _cluster_environment()
    assert isinstance(env, SLURMEnvironment) and env.auto_requeue is False


# --------------------------------------------------------------------------------------------
# optimiser choice, gradient clipping, monitored quantity, minimum epochs
# --------------------------------------------------------------------------------------------
def _opt_task(net, **kwargs) -> RegressionTask:
    return RegressionTask(net, learning_rate=0.1, lr_factor=0.5, lr_patience=1, min_lr=0.0, **kwargs)


def test_default_optimizer_is_adam_and_leaves_the_fingerprint_as_before():
    from eoml.core.training import OPTIMIZER_DEFAULTS, _fingerprint

    task = _opt_task(_Net())
    assert task.optimizer_settings() == OPTIMIZER_DEFAULTS == {"optimizer": "adam", "momentum": 0.0,
                                                               "weight_decay": 0.0}
    opt = task.configure_optimizers()["optimizer"]
    assert type(opt) is torch.optim.Adam and opt.defaults["weight_decay"] == 0 and opt.defaults["lr"] == 0.1
    # defaults add nothing to the checkpoint fingerprint: checkpoints of earlier runs still resume
    fp = _fingerprint(task, TRAINING, 0, None, {"monitor": "val_loss", "gradient_clip_val": None,
                                                "min_epochs": None})
    assert set(fp) == {"training", "seed", "task", "model", "extra"}
    changed = _fingerprint(_opt_task(_Net(), optimizer="sgd", momentum=0.9), TRAINING, 0, None,
                           {"monitor": "val_acc", "gradient_clip_val": 1.0, "min_epochs": None})
    assert changed["optimizer"] == {"optimizer": "sgd", "momentum": 0.9}
    assert changed["run"] == {"monitor": "val_acc", "gradient_clip_val": 1.0}


@pytest.mark.parametrize("name, cls", [("adam", torch.optim.Adam), ("adamw", torch.optim.AdamW),
                                       ("nadam", torch.optim.NAdam), ("sgd", torch.optim.SGD),
                                       ("adamax", torch.optim.Adamax)])
def test_each_optimizer_is_torchs_class_with_the_settings(name, cls):
    opt = _opt_task(_Net(), optimizer=name, weight_decay=0.01).configure_optimizers()["optimizer"]
    assert type(opt) is cls and opt.defaults["lr"] == 0.1 and opt.defaults["weight_decay"] == 0.01


def test_sgd_with_momentum_makes_torchs_own_sgd_update():
    torch.manual_seed(0)
    net = _Net(dropout=0.0)
    ref, plain = _Net(dropout=0.0), _Net(dropout=0.0)
    ref.load_state_dict(net.state_dict())
    plain.load_state_dict(net.state_dict())
    task = _opt_task(net, optimizer="sgd", momentum=0.9)
    opt = task.configure_optimizers()["optimizer"]
    assert type(opt) is torch.optim.SGD and opt.defaults["momentum"] == 0.9
    ref_opt = torch.optim.SGD(ref.parameters(), lr=0.1, momentum=0.9)
    plain_opt = torch.optim.SGD(plain.parameters(), lr=0.1)
    x, y = torch.randn(16, 3), torch.randn(16)
    for _ in range(3):
        for model, optimizer in ((net, opt), (ref, ref_opt), (plain, plain_opt)):
            optimizer.zero_grad()
            nn.functional.mse_loss(model(x), y).backward()
            optimizer.step()
    assert _same(_weights(net), _weights(ref))
    assert not _same(_weights(net), _weights(plain))  # the momentum was used


def test_bad_optimizer_settings():
    with pytest.raises(ConfigError, match="optimizer: 'rmsprop' is not one of"):
        _opt_task(_Net(), optimizer="rmsprop")
    with pytest.raises(ConfigError, match="momentum: 0.9 is SGD's"):
        _opt_task(_Net(), optimizer="adam", momentum=0.9)
    with pytest.raises(ConfigError, match="must not be negative"):
        _opt_task(_Net(), optimizer="sgd", weight_decay=-1.0)
    with pytest.raises(ConfigError, match="monitor: 'val_f2'"):
        run_training(_task(), _Data(), run_dir="unused", ckpt_dir="unused", training_cfg=TRAINING, seed=0,
                     monitor="val_f2")
    with pytest.raises(ConfigError, match="must be positive"):
        run_training(_task(), _Data(), run_dir="unused", ckpt_dir="unused", training_cfg=TRAINING, seed=0,
                     gradient_clip_val=0.0)


class _NormRecorder(RegressionTask):
    """Records the global gradient norm each optimiser step used (after any clipping)."""

    def configure_optimizers(self):
        conf = super().configure_optimizers()
        self.norms = []

        def record(optimizer, args, kwargs):
            grads = [p.grad for group in optimizer.param_groups for p in group["params"] if p.grad is not None]
            self.norms.append(float(torch.linalg.vector_norm(torch.stack([g.norm() for g in grads]))))

        conf["optimizer"].register_step_post_hook(record)
        return conf


def test_gradient_clipping_bounds_the_gradient_norm(tmp_path):
    cfg = {**TRAINING, "max_epochs": 2}
    norms = {}
    for clip in (None, 0.05):
        seed_everything(0)
        task = _NormRecorder.from_config(_Net(), cfg)
        run_training(task, _Data(), run_dir=tmp_path / f"r{clip}", ckpt_dir=tmp_path / f"c{clip}", training_cfg=cfg,
                     seed=0, gradient_clip_val=clip)
        norms[clip] = np.array(task.norms)
    assert len(norms[None]) == len(norms[0.05]) == 2 * 4  # 120 samples in batches of 32, 2 epochs
    assert norms[None].max() > 1.0  # unclipped gradients are far larger than the bound
    assert norms[0.05].max() <= 0.05 * (1 + 1e-5)
    assert np.allclose(norms[0.05], 0.05, rtol=1e-4)  # rescaled onto the bound, not zeroed


class _Table(nn.Module):
    """Logits looked up per sample index: a classifier whose every prediction a test sets."""

    def __init__(self, n: int):
        super().__init__()
        self.table = nn.Parameter(torch.zeros(n, 2))

    def forward(self, i):
        return self.table[i]


def _scripted_logits() -> dict[int, torch.Tensor]:
    labels = torch.tensor([0] * 5 + [1] * 5)
    sign = 2.0 * labels - 1.0  # margin m > 0 on the true class: logits (-m/2, m/2) * sign

    def logits(margins):
        m = torch.tensor(margins) * sign
        return torch.stack([-m / 2, m / 2], 1)

    return {
        0: torch.zeros(10, 2),                                # all class 0: acc 0.5, loss log 2
        1: logits([1.0] * 8 + [-1.0] * 2),                    # acc 0.8, soft: the lowest loss
        2: logits([1.0] * 9 + [-50.0]),                       # acc 0.9, one confident error: loss ~5
        3: torch.zeros(10, 2),
    }


def test_monitor_val_acc_keeps_the_epoch_of_best_accuracy(tmp_path):
    from eoml.core.tasks import ClassificationTask

    script = _scripted_logits()

    class Scripted(ClassificationTask):
        def on_train_epoch_start(self):
            super().on_train_epoch_start()
            with torch.no_grad():
                self.model.table.copy_(script[self.current_epoch])

    data = TensorDataset(torch.arange(10), torch.tensor([0] * 5 + [1] * 5))
    cfg = {**TRAINING, "max_epochs": 4, "batch_size": 10, "learning_rate": 0.0}
    best = {}
    for monitor in ("val_loss", "val_acc"):
        seed_everything(0)
        task = Scripted.from_config(_Table(10), cfg, num_classes=2, optimizer="sgd")
        result = run_training(task, DataModule(data, data, batch_size=10, seed=0), run_dir=tmp_path / f"r_{monitor}",
                              ckpt_dir=tmp_path / f"c_{monitor}", training_cfg=cfg, seed=0, monitor=monitor,
                              history_columns=["val_acc"])
        assert result.history["val_acc"].tolist() == pytest.approx([0.5, 0.8, 0.9, 0.5])
        best[monitor] = result.best_epoch
        assert torch.equal(result.weights["table"], script[result.best_epoch])
    assert best == {"val_loss": 1, "val_acc": 2}


def test_min_epochs_holds_early_stopping_back(tmp_path):
    cfg = {**TRAINING, "max_epochs": 6, "early_stopping_patience": 0}
    epochs = {}
    for min_epochs in (None, 5):
        seed_everything(0)
        task = _Diverging.from_config(_Net(), cfg)
        epochs[min_epochs] = run_training(task, _Data(), run_dir=tmp_path / f"r{min_epochs}",
                                          ckpt_dir=tmp_path / f"c{min_epochs}", training_cfg=cfg, seed=0,
                                          min_epochs=min_epochs).epochs_run
    assert epochs[None] < 5 <= epochs[5]


def test_monitor_last_keeps_the_last_epoch_without_early_stopping(tmp_path, monkeypatch, caplog):
    from eoml.core.training import RUN_DEFAULTS, _fingerprint

    # the default monitor adds nothing to the fingerprint (earlier checkpoints still resume); "last" does
    defaults = _fingerprint(_task(), TRAINING, 0, None, RUN_DEFAULTS)
    assert "run" not in defaults
    assert _fingerprint(_task(), TRAINING, 0, None, {**RUN_DEFAULTS, "monitor": "last"})["run"] == {"monitor": "last"}
    # validation loss worsens from epoch 2 on: val_loss early-stops and keeps epoch 1, "last" runs on
    cfg = {**TRAINING, "max_epochs": 5, "early_stopping_patience": 0}
    runs = {}
    for monitor in ("val_loss", "last"):
        seed_everything(0)
        task = _Diverging.from_config(_Net(), cfg)
        runs[monitor] = run_training(task, _Data(), run_dir=tmp_path / f"r_{monitor}", ckpt_dir=tmp_path / f"c_{monitor}",
                                     training_cfg=cfg, seed=0, monitor=monitor)
    assert runs["val_loss"].epochs_run < 5 and runs["val_loss"].best_epoch == 1
    last = runs["last"]
    assert last.epochs_run == 5 and last.best_epoch == 4 and last.checkpoint.name == "best.ckpt"
    last_ckpt = torch.load(tmp_path / "c_last" / "last.ckpt", map_location="cpu", weights_only=False)
    assert last_ckpt["epoch"] == 4
    assert _same(last.weights, {k.removeprefix("model."): v for k, v in last_ckpt["state_dict"].items()})

    # killed after epoch 1 and resumed: bitwise the uninterrupted run; a rerun loads the last epoch
    def crash(self):
        BaseTask.on_train_epoch_start(self)
        if self.current_epoch == 2:
            raise RuntimeError("simulated crash")

    def run():
        seed_everything(0)
        return run_training(_Diverging.from_config(_Net(), cfg), _Data(), run_dir=tmp_path / "run",
                            ckpt_dir=tmp_path / "ckpt", training_cfg=cfg, seed=0, monitor="last")

    monkeypatch.setattr(_Diverging, "on_train_epoch_start", crash)
    with pytest.raises(RuntimeError, match="simulated crash"):
        run()
    monkeypatch.undo()
    with caplog.at_level(logging.INFO, logger="eoml.core.training"):
        resumed = run()
    assert "(epoch 1 done)" in caplog.text
    assert resumed.best_epoch == 4 and _same(resumed.weights, last.weights)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="eoml.core.training"):
        again = run()
    assert "training already complete" in caplog.text and _same(again.weights, last.weights)


def test_changed_optimizer_or_run_option_restarts_training(tmp_path, caplog):
    dirs = {"run_dir": tmp_path / "run", "ckpt_dir": tmp_path / "ckpt"}
    fit(_task(), _Data(), training_cfg=TRAINING, seed=0, **dirs)
    for kwargs, options in (({"optimizer": "sgd", "momentum": 0.9}, {}), ({}, {"gradient_clip_val": 1.0}),
                            ({}, {"monitor": "val_loss", "min_epochs": 2})):
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="eoml.core.training"):
            fit(_task(**kwargs), _Data(), training_cfg=TRAINING, seed=0, **options, **dirs)
        assert "training from scratch" in caplog.text and "already complete" not in caplog.text
    caplog.clear()  # the same options again: complete, nothing trains
    with caplog.at_level(logging.INFO, logger="eoml.core.training"):
        fit(_task(), _Data(), training_cfg=TRAINING, seed=0, monitor="val_loss", min_epochs=2, **dirs)
    assert "training already complete" in caplog.text


def test_mixed_precision_picks_the_device_s_format_and_leaves_a_cpu_run_float32(tmp_path, monkeypatch, caplog):
    from eoml.core.training import amp_precision

    for bf16, expected in ((True, "bf16-mixed"), (False, "16-mixed")):
        monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda bf16=bf16: bf16)
        assert amp_precision(on_gpu=True) == expected
    monkeypatch.undo()
    weights = {}
    for amp in (False, True):
        seed_everything(0)
        with caplog.at_level(logging.INFO, logger="eoml.core.training"):
            weights[amp] = run_training(_task(), _Data(), run_dir=tmp_path / f"r{amp}", ckpt_dir=tmp_path / f"c{amp}",
                                        training_cfg=TRAINING, seed=0, mixed_precision=amp).weights
    assert "this run on the CPU stays float32" in caplog.text
    assert weights[True].keys() == weights[False].keys()
    assert all(torch.equal(weights[True][k], weights[False][k]) for k in weights[False])
