"""radbelt model fitting: what the Snakemake rules call (one job per model × lead × seed).

Both entry points write a ``predictions.zarr`` store (:func:`eoml.core.store.write_store`: CF
attributes, provenance) with the layout every radbelt model and baseline shares (see ``docs/architecture.md``): dims ``(time, L)`` over the store's full axes, ``time``
being the target (valid) time; variables ``forecast`` and ``observed`` (log10 flux, NaN where
there is no sample); coordinate ``split(time)``; attributes ``model``, ``lead_bins``,
``lead_hours``, ``seed``, ``n_train``, ``n_val``, ``n_test``, ``best_epoch``.

* :func:`train_neural` — one pooled L-shell network and, with enough GEO training samples, a
  separate GEO network of the same architecture, trained with
  :func:`eoml.core.training.run_training`. Inputs are standardised per feature
  (:class:`eoml.core.data.Normalizer`), the target per L-shell (:class:`TargetScaling`).
  Checkpoints and training logs live in ``ckpt_dir`` (outside ``out_dir``, so they survive a
  failed job and the rerun resumes); ``out_dir`` receives ``predictions.zarr``, ``model.pt`` (an
  :mod:`eoml.core.modelfile` of kind ``radbelt.neural``) and ``history.csv``.
* :func:`fit_linreg_predictions` — OLS per L-shell (and one for GEO).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import xarray as xr
from torch import nn
from torch.utils.data import TensorDataset

from eoml.core.config import canonical_json
from eoml.core.data import Normalizer
from eoml.core.errors import InputFileError
from eoml.core.io import array_digest
from eoml.core.store import open_store, write_store
from eoml.core.training import (
    RegressionTask,
    save_training_outputs,
    seed_everything,
    train_task,
    training_job,
)
from eoml.radbelt.data import (
    CHANNEL_VARS,
    SPLITS,
    TARGET,
    build_geo_samples,
    build_samples,
    geo_L,
    select,
    split_labels,
)
from eoml.radbelt.models import LinearRegPerL, build_model, fit_linreg, predict_linreg

log = logging.getLogger(__name__)

#: fewest GEO training samples for which a GEO model is fitted
GEO_MIN_TRAIN = 50
MODEL_KIND = "radbelt.neural"
STORE_VARS = ("log10_flux_1mev", "log10_e2", "log10_e3", "log10_p6", "sw_speed")
_PREDICT_BATCH = 8192


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------
def _needed_vars(features: Mapping[str, Any]) -> list[str]:
    names = [TARGET] + [CHANNEL_VARS[ch] for ch in features["channels"]]
    if features["sw_speed"]:
        names.append("sw_speed")
    if features["cross_L_e2"] is not None or features["delta_e2"]:
        names.append("log10_e2")
    return list(dict.fromkeys(names))


def open_radbelt_store(store_path: str | Path, variables=STORE_VARS) -> xr.Dataset:
    """The store's model variables, loaded into memory."""
    ds = open_store(store_path)
    missing = [v for v in variables if v not in ds]
    if missing:
        raise InputFileError(store_path, f"store lacks variable(s) {', '.join(missing)}")
    return ds[list(variables)].load()


def _settings(cfg: Mapping[str, Any]) -> tuple[int, dict, dict]:
    """``window``, ``features``, ``split`` of the validated ``radbelt`` section (all required)."""
    return int(cfg["window"]), cfg["features"], dict(cfg["split"])


def _number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else float(value)


def _bin_hours(ds: xr.Dataset) -> float:
    return float(ds.attrs.get("bin_hours", 5))


def _n_per_split(*sample_sets: Mapping[str, Any]) -> dict[str, int]:
    return {s: int(sum(int((np.asarray(ss["split"]) == s).sum()) for ss in sample_sets)) for s in SPLITS}


@dataclass
class TargetScaling:
    """The target standardised per group (L-shell), with the pooled statistics as fallback.

    The pooled network then predicts each L-shell's anomaly in units of that L-shell's spread, so
    every L-shell weighs the same in the loss — as in the L-averaged PE it is scored by — instead
    of the quiet inner L-shells being drowned by the variable outer ones. Groups absent from the
    training data use the pooled statistics.
    """

    pooled: Normalizer
    groups: dict[int, Normalizer]

    @classmethod
    def fit(cls, y: np.ndarray, groups: np.ndarray) -> TargetScaling:
        y, groups = np.asarray(y, dtype=np.float64), np.asarray(groups).astype(np.int64)
        return cls(Normalizer.fit(y, axis=None),
                   {int(g): Normalizer.fit(y[groups == g], axis=None) for g in np.unique(groups)})

    def _stats(self, groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per-sample mean and std of the samples' groups."""
        groups = np.asarray(groups).astype(np.int64)
        mean, std = np.full(groups.shape, self.pooled.mean), np.full(groups.shape, self.pooled.std)
        for g, norm in self.groups.items():
            mean[groups == g], std[groups == g] = norm.mean, norm.std
        return mean, std

    def transform(self, y: np.ndarray, groups: np.ndarray) -> np.ndarray:
        mean, std = self._stats(groups)
        return ((np.asarray(y, dtype=np.float64) - mean) / std).astype(np.float32)

    def inverse(self, z: np.ndarray, groups: np.ndarray) -> np.ndarray:
        mean, std = self._stats(groups)
        return np.asarray(z, dtype=np.float64) * std + mean

    def to_dict(self) -> dict[str, Any]:
        return {"pooled": self.pooled.to_dict(), "groups": {str(g): n.to_dict() for g, n in self.groups.items()}}


def _predict(net: nn.Module, x_norm: Normalizer, y_scaling: TargetScaling, X: np.ndarray,
             groups: np.ndarray) -> np.ndarray:
    net = net.cpu().eval()
    out = []
    with torch.no_grad():
        for i in range(0, X.shape[0], _PREDICT_BATCH):
            x = torch.from_numpy(x_norm.transform(X[i:i + _PREDICT_BATCH], dtype=np.float32))
            out.append(net(x).reshape(-1).numpy())
    pred = np.concatenate(out) if out else np.zeros(0, dtype=np.float32)
    return y_scaling.inverse(pred, groups)


def _predictions_dataset(
    ds: xr.Dataset,
    labels: np.ndarray,
    parts: list[tuple[Mapping[str, Any], np.ndarray]],
    attrs: dict[str, Any],
) -> xr.Dataset:
    n_time, n_L = ds.sizes["time"], ds.sizes["L"]
    forecast = np.full((n_time, n_L), np.nan)
    observed = np.full((n_time, n_L), np.nan)
    target = np.asarray(ds[TARGET].values, dtype=np.float64)
    for samples, pred in parts:
        i, j = samples["i_target"], samples["L_index"]
        forecast[i, j] = pred
        observed[i, j] = target[i, j]
    # as in every predictions file: observed only where there is a forecast
    observed[~np.isfinite(forecast)] = np.nan
    units = ds[TARGET].attrs.get("units", "log10(cm-2 s-1 sr-1 keV-1)")
    out = xr.Dataset(
        {
            "forecast": (("time", "L"), forecast, {"long_name": "forecast log10 1 MeV electron flux",
                                                   "units": units}),
            "observed": (("time", "L"), observed, {"long_name": "observed log10 1 MeV electron flux",
                                                   "units": units}),
        },
        coords={
            "time": ("time", ds["time"].values, {"long_name": "target (valid) time, start of the bin"}),
            "L": ("L", ds["L"].values, dict(ds["L"].attrs)),
            "split": ("time", np.asarray(labels).astype(str).astype(object),
                      {"long_name": "chronological split of the target time"}),
        },
        attrs=attrs,
    )
    return out


def _write_predictions(pred: xr.Dataset, path: Path, cfg: Mapping[str, Any]) -> Path:
    """Write the predictions store (the ``radbelt`` settings digested into its provenance)."""
    return write_store(pred, path, config=dict(cfg))


def _common_attrs(ds, model, lead_bins, seed, window, features, counts) -> dict[str, Any]:
    return {
        "model": str(model),
        "lead_bins": int(lead_bins),
        "lead_hours": _number(float(lead_bins) * _bin_hours(ds)),
        "geo_L": geo_L(ds),
        "seed": int(seed),
        "n_train": counts["train"],
        "n_val": counts["val"],
        "n_test": counts["test"],
        "window": int(window),
        "features": canonical_json(features),
    }


# --------------------------------------------------------------------------------------------
# neural networks
# --------------------------------------------------------------------------------------------
@dataclass
class _TrainedNet:
    net: nn.Module
    x_norm: Normalizer
    y_scaling: TargetScaling
    best_epoch: int
    history: pd.DataFrame


def _train_net(name: str, samples: Mapping[str, Any], model: str, window: int, training: dict, seed: int,
               ckpt_root: Path, fingerprint: dict) -> _TrainedNet:
    train, val = select(samples, "train"), select(samples, "val")
    n_feat = train["X"].shape[-1]
    x_norm = Normalizer.fit(np.asarray(train["X"], dtype=np.float64).reshape(-1, n_feat), axis=-1)
    y_scaling = TargetScaling.fit(train["y"], train["L_index"])
    X_train, y_train = x_norm.transform(train["X"], np.float32), y_scaling.transform(train["y"], train["L_index"])
    X_val, y_val = x_norm.transform(val["X"], np.float32), y_scaling.transform(val["y"], val["L_index"])
    seed_everything(seed)
    net = build_model(model, window, n_feat)
    task = RegressionTask.from_config(net, training)
    log.info("%s net (%s): %d train, %d val samples", name, model, len(y_train), len(y_val))
    result = train_task(
        task, TensorDataset(torch.as_tensor(X_train), torch.as_tensor(y_train)),
        TensorDataset(torch.as_tensor(X_val), torch.as_tensor(y_val)), run_dir=ckpt_root / "logs" / name,
        ckpt_dir=ckpt_root / name, training_cfg=training, seed=seed,
        fingerprint={**fingerprint, "net": name, "data": array_digest(X_train, y_train, X_val, y_val)},
    )
    history = result.history.copy()
    history.insert(0, "net", name)
    return _TrainedNet(task.model, x_norm, y_scaling, result.best_epoch, history)


def train_neural(
    store_path: str | Path,
    model: str,
    lead_bins: int,
    seed: int,
    out_dir: str | Path,
    ckpt_dir: str | Path,
    cfg: Mapping[str, Any],
) -> Path:
    """Train ``model`` (mlp, cnn, lstm) for one lead and seed; return ``out_dir/predictions.zarr``.

    ``cfg`` is the validated ``radbelt`` config section (``window``, ``features``, ``split``,
    ``training``). ``ckpt_dir`` (outside ``out_dir``) holds ``Lshells/`` and ``geo/``
    checkpoints and ``logs/``; a rerun with the same store, settings and seed resumes from there.
    Also writes ``out_dir/model.pt`` (best weights of each net as one ``ModuleDict`` state, input
    normalisers and target scalings, settings) and ``out_dir/history.csv`` (``net, epoch,
    train_loss, val_loss, lr``).
    """
    out_dir, ckpt_dir, training, seed = training_job(out_dir, ckpt_dir, cfg["training"], "radbelt.training", seed)
    window, features, split = _settings(cfg)
    lead_bins = int(lead_bins)
    ds = open_radbelt_store(store_path, _needed_vars(features))
    labels = split_labels(ds["time"].values, split)
    lshell = build_samples(ds, window, lead_bins, features, labels)
    geo = build_geo_samples(ds, window, lead_bins, features, labels)
    n_ls = _n_per_split(lshell)
    if n_ls["train"] == 0 or n_ls["val"] == 0:
        raise InputFileError(
            store_path,
            f"no complete L-shell {'training' if n_ls['train'] == 0 else 'validation'} sample for "
            f"window={window}, lead={lead_bins} (too short or too gappy)",
        )
    fingerprint = {"model": model, "lead_bins": lead_bins, "window": window, "features": features,
                   "split": split}

    nets = {"Lshells": (lshell, _train_net("Lshells", lshell, model, window, training, seed, ckpt_dir, fingerprint))}
    n_geo = _n_per_split(geo)
    if n_geo["train"] >= GEO_MIN_TRAIN and n_geo["val"] > 0:
        nets["geo"] = (geo, _train_net("geo", geo, model, window, training, seed, ckpt_dir, fingerprint))
    else:
        log.info("GEO: %d training / %d validation samples; no GEO model (needs >= %d and >= 1)",
                 n_geo["train"], n_geo["val"], GEO_MIN_TRAIN)
    parts = [(samples, _predict(t.net, t.x_norm, t.y_scaling, samples["X"], samples["L_index"]))
             for samples, t in nets.values()]

    attrs = _common_attrs(ds, model, lead_bins, seed, window, features,
                          _n_per_split(*(samples for samples, _ in nets.values())))
    attrs.update({"best_epoch": nets["Lshells"][1].best_epoch,
                  "best_epoch_geo": nets["geo"][1].best_epoch if "geo" in nets else -1,
                  "geo_model": int("geo" in nets)})
    pred = _predictions_dataset(ds, labels, parts, attrs)

    save_training_outputs(
        out_dir, pd.concat([t.history for _, t in nets.values()], ignore_index=True), kind=MODEL_KIND,
        weights=nn.ModuleDict({name: t.net for name, (_, t) in nets.items()}).state_dict(),
        arch={"model": model, "window": window,
              "nets": {name: {"n_features": len(s["feature_names"]), "feature_names": list(s["feature_names"])}
                       for name, (s, _) in nets.items()}},
        norm={name: {"x": t.x_norm.to_dict(), "y": t.y_scaling.to_dict()} for name, (_, t) in nets.items()},
        settings={"lead_bins": lead_bins, "seed": seed, "config": dict(cfg),
                  "best_epoch": {name: t.best_epoch for name, (_, t) in nets.items()}},
    )
    return _write_predictions(pred, out_dir / "predictions.zarr", cfg)


# --------------------------------------------------------------------------------------------
# linear regression
# --------------------------------------------------------------------------------------------
def fit_linreg_predictions(
    store_path: str | Path,
    lead_bins: int,
    out_path: str | Path,
    cfg: Mapping[str, Any],
) -> Path:
    """OLS per L-shell (plus one for GEO with >= GEO_MIN_TRAIN training samples) → ``out_path``."""
    window, features, split = _settings(cfg)
    lead_bins = int(lead_bins)
    ds = open_radbelt_store(store_path, _needed_vars(features))
    labels = split_labels(ds["time"].values, split)
    lshell = build_samples(ds, window, lead_bins, features, labels, dtype=np.float64)
    geo = build_geo_samples(ds, window, lead_bins, features, labels, dtype=np.float64)
    train = select(lshell, "train")
    if train["y"].size == 0:
        raise InputFileError(store_path, f"no complete L-shell training sample for window={window}, lead={lead_bins}")
    per_L = LinearRegPerL().fit(train["X"], train["y"], train["L"])
    parts = [(lshell, per_L.predict(lshell["X"], lshell["L"]))]
    used = [lshell]
    geo_train = select(geo, "train")
    if geo_train["y"].size >= GEO_MIN_TRAIN:
        coef, intercept = fit_linreg(geo_train["X"], geo_train["y"])
        parts.append((geo, predict_linreg(coef, intercept, geo["X"])))
        used.append(geo)
    attrs = _common_attrs(ds, "linreg", lead_bins, -1, window, features, _n_per_split(*used))
    attrs.update({"best_epoch": -1, "best_epoch_geo": -1, "geo_model": int(len(used) == 2)})
    return _write_predictions(_predictions_dataset(ds, labels, parts, attrs), Path(out_path), cfg)
