"""radbelt model fitting: what the Snakemake rules call (one job per model × lead × seed).

Both entry points write ``predictions.nc`` with the layout every radbelt model and baseline
shares (see ``docs/architecture.md``): dims ``(time, L)`` over the store's full axes, ``time``
being the target (valid) time; variables ``forecast`` and ``observed`` (log10 flux, NaN where
there is no sample); coordinate ``split(time)``; attributes ``model``, ``lead_bins``,
``lead_hours``, ``seed``, ``n_train``, ``n_val``, ``n_test``, ``best_epoch``.

* :func:`train_neural` — one pooled L-shell network and, with enough GEO training samples, a
  separate GEO network of the same architecture, trained with :func:`eoml.core.training.fit`.
  Checkpoints and training logs live in ``ckpt_dir`` (outside ``out_dir``, so they survive a
  failed job and the rerun resumes); ``out_dir`` receives ``predictions.nc``, ``model.pt`` and
  ``history.csv``.
* :func:`fit_linreg_predictions` — OLS per L-shell (and one for GEO).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import xarray as xr
from torch import nn

from eoml.core.config import canonical_json
from eoml.core.errors import InputFileError
from eoml.core.io import array_digest, atomic_path
from eoml.core.training import (
    TRAINING_DEFAULTS,
    RegressionTask,
    check_checkpoint_dir,
    fit,
    seed_everything,
)
from eoml.radbelt.data import (
    CHANNEL_VARS,
    SPLITS,
    TARGET,
    RadbeltDataModule,
    Standardizer,
    build_geo_samples,
    build_samples,
    features_config,
    geo_L,
    select,
    split_labels,
)
from eoml.radbelt.models import LinearRegPerL, build_model, fit_linreg, predict_linreg

log = logging.getLogger(__name__)

#: fewest GEO training samples for which a GEO model is fitted
GEO_MIN_TRAIN = 50
DEFAULT_SPLIT = {"train": 0.65, "val": 0.14, "test": 0.21}
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
    try:
        ds = xr.open_zarr(store_path)
    except Exception as exc:  # noqa: BLE001 - zarr raises many types for a bad store
        raise InputFileError(store_path, f"cannot open the radbelt store: {exc}") from exc
    missing = [v for v in variables if v not in ds]
    if missing:
        raise InputFileError(store_path, f"store lacks variable(s) {', '.join(missing)}")
    return ds[list(variables)].load()


def _settings(cfg: Mapping[str, Any]) -> tuple[int, dict, dict, dict]:
    window = int(cfg.get("window", 16))
    features = features_config(cfg.get("features"))
    split = dict(cfg.get("split") or DEFAULT_SPLIT)
    training = {**TRAINING_DEFAULTS, **dict(cfg.get("training") or {})}
    return window, features, split, training


def _number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else float(value)


def _bin_hours(ds: xr.Dataset) -> float:
    return float(ds.attrs.get("bin_hours", 5))


def _n_per_split(*sample_sets: Mapping[str, Any]) -> dict[str, int]:
    return {s: int(sum(int((np.asarray(ss["split"]) == s).sum()) for ss in sample_sets)) for s in SPLITS}


def _predict(net: nn.Module, std: Standardizer, X: np.ndarray, groups: np.ndarray) -> np.ndarray:
    net = net.cpu().eval()
    out = []
    with torch.no_grad():
        for i in range(0, X.shape[0], _PREDICT_BATCH):
            out.append(net(torch.from_numpy(std.transform(X[i:i + _PREDICT_BATCH]))).reshape(-1).numpy())
    pred = np.concatenate(out) if out else np.zeros(0, dtype=np.float32)
    return std.inverse_y(pred, groups)


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


def _write_predictions(pred: xr.Dataset, path: Path) -> Path:
    with atomic_path(path) as tmp:
        pred.to_netcdf(tmp, engine="netcdf4", format="NETCDF4")
    log.info("wrote %s", path)
    return path


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
def _train_net(
    name: str,
    samples: Mapping[str, Any],
    model: str,
    window: int,
    training: dict,
    seed: int,
    ckpt_root: Path,
    fingerprint: dict,
) -> tuple[nn.Module, Standardizer, int, pd.DataFrame]:
    train, val = select(samples, "train"), select(samples, "val")
    # target standardised per L-shell (see Standardizer): every L-shell weighs the same in the loss
    std = Standardizer().fit(train["X"], train["y"], groups=train["L_index"])
    X_train, y_train = std.transform(train["X"]), std.transform_y(train["y"], train["L_index"])
    X_val, y_val = std.transform(val["X"]), std.transform_y(val["y"], val["L_index"])
    seed_everything(seed)
    net = build_model(model, window, X_train.shape[-1])
    task = RegressionTask.from_config(net, training)
    datamodule = RadbeltDataModule(X_train, y_train, X_val, y_val, batch_size=training["batch_size"], seed=seed)
    run_dir = ckpt_root / "logs" / name
    log.info("%s net (%s): %d train, %d val samples", name, model, len(y_train), len(y_val))
    fit(
        task,
        datamodule,
        run_dir=run_dir,
        ckpt_dir=ckpt_root / name,
        training_cfg=training,
        seed=seed,
        fingerprint={**fingerprint, "net": name, "data": array_digest(X_train, y_train, X_val, y_val)},
    )
    best_epoch = int((run_dir / "best_epoch.txt").read_text().strip())
    history = pd.read_csv(run_dir / "history.csv")
    history.insert(0, "net", name)
    return task.model, std, best_epoch, history


def train_neural(
    store_path: str | Path,
    model: str,
    lead_bins: int,
    seed: int,
    out_dir: str | Path,
    ckpt_dir: str | Path,
    cfg: Mapping[str, Any],
) -> Path:
    """Train ``model`` (mlp, cnn, lstm) for one lead and seed; return ``out_dir/predictions.nc``.

    ``cfg`` is the whole ``radbelt`` config section. ``ckpt_dir`` (outside ``out_dir``) holds
    ``Lshells/`` and ``geo/`` checkpoints and ``logs/``; a rerun with the same store, settings
    and seed resumes from there. Also writes ``out_dir/model.pt`` (best weights, standardisers,
    settings) and ``out_dir/history.csv`` (``net, epoch, train_loss, val_loss, lr``).
    """
    out_dir, ckpt_dir = Path(out_dir), Path(ckpt_dir)
    check_checkpoint_dir(out_dir, ckpt_dir)
    window, features, split, training = _settings(cfg)
    lead_bins, seed = int(lead_bins), int(seed)
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

    net, std, best_epoch, history = _train_net(
        "Lshells", lshell, model, window, training, seed, ckpt_dir, fingerprint)
    parts = [(lshell, _predict(net, std, lshell["X"], lshell["L_index"]))]
    saved: dict[str, Any] = {"Lshells": _net_record(net, std, lshell["feature_names"])}
    histories = [history]

    n_geo = _n_per_split(geo)
    best_epoch_geo = -1
    if n_geo["train"] >= GEO_MIN_TRAIN and n_geo["val"] > 0:
        geo_net, geo_std, best_epoch_geo, geo_history = _train_net(
            "geo", geo, model, window, training, seed, ckpt_dir, fingerprint)
        parts.append((geo, _predict(geo_net, geo_std, geo["X"], geo["L_index"])))
        saved["geo"] = _net_record(geo_net, geo_std, geo["feature_names"])
        histories.append(geo_history)
    else:
        log.info("GEO: %d training / %d validation samples; no GEO model (needs >= %d and >= 1)",
                 n_geo["train"], n_geo["val"], GEO_MIN_TRAIN)

    used = [lshell] + ([geo] if "geo" in saved else [])
    attrs = _common_attrs(ds, model, lead_bins, seed, window, features, _n_per_split(*used))
    attrs.update({"best_epoch": best_epoch, "best_epoch_geo": best_epoch_geo,
                  "geo_model": int("geo" in saved)})
    pred = _predictions_dataset(ds, labels, parts, attrs)

    out_dir.mkdir(parents=True, exist_ok=True)
    with atomic_path(out_dir / "model.pt") as tmp:
        torch.save({"model": model, "lead_bins": lead_bins, "seed": seed, "window": window,
                    "config": json.loads(canonical_json(dict(cfg))), "nets": saved}, tmp)
    with atomic_path(out_dir / "history.csv") as tmp:
        pd.concat(histories, ignore_index=True).to_csv(tmp, index=False)
    return _write_predictions(pred, out_dir / "predictions.nc")


def _net_record(net: nn.Module, std: Standardizer, feature_names: list[str]) -> dict[str, Any]:
    return {
        "state_dict": {k: v.detach().cpu().clone() for k, v in net.state_dict().items()},
        "standardizer": std.to_dict(),
        "feature_names": list(feature_names),
    }


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
    window, features, split, _ = _settings(cfg)
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
    return _write_predictions(_predictions_dataset(ds, labels, parts, attrs), Path(out_path))
