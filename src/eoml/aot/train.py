"""aot training: one configuration of the grid with one seed -> model, history and predictions.

The network (:func:`eoml.aot.models.build_network`) maps ``(B, 2, T, H, W)`` input sequences to
logits of the next composite's high-AOT mask; :class:`eoml.core.tasks.BinarySegmentationTask`
trains it (output bias started at the training targets' log-odds, :func:`init_output_bias`) with binary cross-entropy on the run's output activation (sigmoid or hard sigmoid) and
class weights ``w_c = (n / (2 n_c)) ** power`` (scikit-learn's ``compute_class_weight("balanced")``
on the training targets, raised to the run's power; 0 = unweighted), with the run's optimiser
through core's engine (:func:`eoml.core.training.train_task`: ``(seed, epoch)`` data order,
``ReduceLROnPlateau`` on the validation loss, early stopping on it, resumable fingerprinted
checkpoints). The paper reduces the learning rate on the validation binary accuracy; core's
schedule watches the loss, whose plateaus come with the accuracy's on these masks.

The job then predicts the probability map of every validation and test target with the best
weights: ``predictions.zarr`` (``probability (time, lat, lon)`` float32, coordinate ``split``),
which :mod:`eoml.aot.evaluate` scores against the store (the threshold is chosen there, on
validation).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch

from eoml.aot.models import build_network
from eoml.aot.predictions import scored_targets, write_predictions
from eoml.aot.runs import model_spec
from eoml.aot.samples import SequenceDataset, input_frames, input_stats, sample_table
from eoml.core.io import array_digest
from eoml.core.modelfile import load_network
from eoml.core.store import open_store
from eoml.core.tasks import BinarySegmentationTask
from eoml.core.training import (
    save_training_outputs,
    select_device,
    train_task,
    training_job,
)

log = logging.getLogger(__name__)

MODEL_KIND = "aot.forecaster"
IN_CHANNELS = 2


def class_weights(target: np.ndarray, power: float) -> tuple[float, float] | None:
    """scikit-learn's balanced class weights of the 0 / 1 ``target`` raised to ``power`` (None for 0)."""
    if float(power) == 0:
        return None
    from sklearn.utils.class_weight import compute_class_weight

    y = np.asarray(target).ravel()
    if np.unique(y).size < 2:
        return None
    w = compute_class_weight("balanced", classes=np.array([0, 1]), y=y)
    return float(w[0] ** power), float(w[1] ** power)


def output_layer(net: torch.nn.Module) -> torch.nn.Module:
    """The layer producing the logits: the last convolution or dense layer of the network's head."""
    layers = [m for m in net.head.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    return layers[-1]


@torch.no_grad()
def init_output_bias(net: torch.nn.Module, target: np.ndarray, weights: tuple[float, float] | None) -> float:
    """Start the logits at the (class-weighted) log-odds of the training targets' positive rate, so
    training does not spend its first epochs learning the base rate (the prior initialisation of
    Lin et al. 2017, "Focal loss for dense object detection"). Returns the bias."""
    rate = float(np.clip(np.mean(target), 1e-4, 1 - 1e-4))
    w0, w1 = weights if weights is not None else (1.0, 1.0)
    bias = float(np.log(w1 * rate / (w0 * (1 - rate))))
    output_layer(net).bias.fill_(bias)
    return bias


def load_data(store: str | Path, cfg: Mapping) -> dict:
    """The store's frames as network inputs, the targets and the sample table."""
    ds = open_store(store).load()
    table = sample_table(ds, cfg)
    aot = ds["aot"].values
    mean, std = input_stats(aot, table, int(cfg["history"]))
    return {"ds": ds, "table": table, "frames": input_frames(aot, mean, std),
            "target": ds["target"].values.astype(np.float32), "norm": {"mean": mean, "std": std}}


def _build(record):
    arch = record.arch
    net = build_network(arch["spec"], in_channels=arch["in_channels"], n_frames=arch["n_frames"],
                        height=arch["height"], width=arch["width"])
    return net, arch["activation"]


@torch.no_grad()
def predict_maps(net: torch.nn.Module, activation: str, frames: np.ndarray, indices, n_frames: int,
                 batch_size: int = 8) -> np.ndarray:
    """Probability maps ``(len(indices), H, W)`` float32 of the given targets."""
    from eoml.core.tasks import BINARY_ACTIVATIONS

    device = next(net.parameters()).device
    ds = SequenceDataset(frames, np.zeros(frames.shape[:1] + frames.shape[2:], np.float32), indices, n_frames)
    out = []
    for start in range(0, len(ds), batch_size):
        x = torch.stack([ds[i]["x"] for i in range(start, min(start + batch_size, len(ds)))]).to(device)
        out.append(BINARY_ACTIVATIONS[activation](net(x).reshape(x.shape[0], *x.shape[-2:])).float().cpu().numpy())
    return np.concatenate(out).astype(np.float32)


def train_run(store: str | Path, config_id: str, run: Mapping, seed: int, out_dir: str | Path,
              ckpt_dir: str | Path, cfg: Mapping) -> Path:
    """Train one configuration with one seed; write ``model.pt``, ``history.csv`` and
    ``predictions.zarr`` (validation and test targets) in ``out_dir``."""
    training = {**cfg["training"], "batch_size": int(run["batch_size"])}
    out_dir, ckpt_dir, settings, seed = training_job(out_dir, ckpt_dir, training, "aot.training", seed)
    data = load_data(store, cfg)
    table, frames, target = data["table"], data["frames"], data["target"]
    n_frames, (height, width) = int(run["n_frames"]), target.shape[1:]
    idx = {s: table.loc[table["split"] == s, "index"].to_numpy() for s in ("train", "val")}
    weights = class_weights(target[idx["train"]], run["class_weight_power"])
    log.info("%s seed %d: T = %d, batch %d, class weights %s", config_id, seed, n_frames, run["batch_size"], weights)

    spec = model_spec(run)
    net = build_network(spec, in_channels=IN_CHANNELS, n_frames=n_frames, height=height, width=width,
                        weights_path=run["weights_path"] if run["model"] == "cnn3d" else None)
    bias = init_output_bias(net, target[idx["train"]], weights)
    log.info("output bias initialised to %.3f (training positive rate %.4f)", bias, float(target[idx["train"]].mean()))
    task = BinarySegmentationTask(net, activation=run["activation"], class_weights=weights,
                                  optimizer=run["optimizer"], learning_rate=settings["learning_rate"],
                                  lr_factor=settings["lr_factor"], lr_patience=settings["lr_patience"],
                                  min_lr=settings["min_lr"])
    train_ds = SequenceDataset(frames, target, idx["train"], n_frames)
    val_ds = SequenceDataset(frames, target, idx["val"], n_frames)
    fingerprint = {"config_id": config_id, "run": {k: v for k, v in run.items() if k != "seeds"},
                   "data": array_digest(frames, target, table["index"].to_numpy())}
    result = train_task(task, train_ds, val_ds, ckpt_dir=ckpt_dir, training_cfg=settings, seed=seed,
                        fingerprint=fingerprint, run_dir=ckpt_dir / "logs", history_columns=task.metric_names)
    arch = {"spec": spec, "in_channels": IN_CHANNELS, "n_frames": n_frames, "height": int(height),
            "width": int(width), "activation": run["activation"]}
    model_path = save_training_outputs(
        out_dir, result.history, kind=MODEL_KIND, weights=result.weights, arch=arch, norm=data["norm"],
        settings={"config_id": config_id, "experiment": run["experiment"], "seed": seed,
                  "batch_size": int(run["batch_size"]), "class_weights": weights, "best_epoch": result.best_epoch})
    net, _, activation = load_network(model_path, MODEL_KIND, _build)
    scored = scored_targets(table)
    prob = predict_maps(net, activation, frames, scored["index"].to_numpy(), n_frames)
    write_predictions(prob, scored, data["ds"], out_dir / "predictions.zarr",
                      {"model": run["experiment"], "config": config_id, "seed": int(seed),
                       "n_frames": n_frames, "batch_size": int(run["batch_size"])})
    return model_path


def predict_model(model: str | Path, store: str | Path, out: str | Path, cfg: Mapping, device=None) -> Path:
    """Probability maps of a trained model file for the store's validation and test targets."""
    net, record, activation = load_network(model, MODEL_KIND, _build, device=select_device(device))
    ds = open_store(store).load()
    table = sample_table(ds, cfg)
    norm = record.norm
    frames = input_frames(ds["aot"].values, float(norm["mean"]), float(norm["std"]))
    scored = scored_targets(table)
    prob = predict_maps(net, activation, frames, scored["index"].to_numpy(), int(record.arch["n_frames"]))
    s = record.settings
    return write_predictions(prob, scored, ds, out, {"model": s["experiment"], "config": s["config_id"],
                                                     "seed": int(s["seed"]), "n_frames": int(record.arch["n_frames"]),
                                                     "batch_size": int(s["batch_size"])})
