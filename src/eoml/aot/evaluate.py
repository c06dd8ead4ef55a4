"""aot evaluation: thresholds on validation, scores, the dataset criteria and the paper's tables.

Scores (scikit-learn's definitions, pooled over every pixel of every target frame of a split,
unread pixels included as the paper labels them, 0): ``rmse`` of the probabilities against the
0 / 1 targets, ``acc``, ``f1`` and ``jaccard`` of the mask ``probability >= threshold``, and
``auc_pr`` = average precision of the probabilities. The threshold of every run is chosen on its
validation targets (``aot.threshold.method``: ``youden`` = the ROC point maximising TPR - FPR,
``max_f1`` = the precision-recall point of highest F1, or ``fixed``), never on test.

Dataset criteria (Nikezić et al. 2024), on the test targets: **dtc**, a metric of consecutive
target frames (frame t-1 as the forecast of frame t) — *exactly the score of a persistence
forecast*; **ddc**, the same metric over random pairs of distinct target frames — the score of
forecasting with a random frame of the series. Both are pooled over the pairs like the scores.
Ratios ``ddr = metric / ddc`` and ``dtr = metric / dtc``; for RMSE lower is better (a useful
model has dtr < 1), for the others higher (dtr > 1). ``beats_persistence`` says which.

Tables (``metrics/``): ``scores.csv`` (every run and baseline, val and test), ``criteria.csv``
(test: value, ddc, dtc, ddr, dtr per model and metric), and the paper's tables regenerated from
them: ``grid.csv`` (table 1: every configuration's validation scores, mean over seeds, best
first), ``batch_size.csv`` (table 2) and ``input_length.csv`` (table 3: test AUC-PR and RMSE, mean
± 2σ over seeds, per family of configurations differing only in batch size / input length), ``test.csv`` (table 4: the best
configuration of every model by validation AUC-PR, its test scores, mean over seeds, with ddr /
dtr).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from eoml.aot.predictions import read_predictions
from eoml.aot.runs import AXES, family
from eoml.core.errors import ConfigError
from eoml.core.io import write_csv_atomic
from eoml.core.store import open_store

log = logging.getLogger(__name__)

METRICS = ("rmse", "acc", "f1", "jaccard", "auc_pr")
LOWER_IS_BETTER = {"rmse"}
SCORE_COLUMNS = ["model", "config", "seed", "split", "threshold", *METRICS, "n_frames", "batch_size"]


def choose_threshold(y: np.ndarray, prob: np.ndarray, method: str, value: float) -> float:
    """The classification threshold from validation targets ``y`` and probabilities ``prob``."""
    from sklearn.metrics import precision_recall_curve, roc_curve

    y, prob = np.asarray(y).ravel(), np.asarray(prob).ravel()
    if method == "fixed":
        return float(value)
    if np.unique(y).size < 2:
        log.warning("validation targets hold one class only: threshold 0.5")
        return 0.5
    if method == "youden":
        fpr, tpr, thr = roc_curve(y, prob)
        thr = np.minimum(thr, 1.0)  # sklearn's first threshold is +inf (nothing positive)
        return float(thr[int(np.argmax(tpr - fpr))])
    if method == "max_f1":
        precision, recall, thr = precision_recall_curve(y, prob)
        with np.errstate(invalid="ignore", divide="ignore"):
            f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
        return float(thr[int(np.argmax(f1[:-1]))])  # the last point (recall 0) has no threshold
    raise ConfigError(f"aot.threshold.method: {method!r} is not youden, max_f1 or fixed")


def scores(y: np.ndarray, prob: np.ndarray, threshold: float) -> dict[str, float]:
    """The five metrics (scikit-learn) of probabilities ``prob`` against 0 / 1 targets ``y``."""
    from sklearn.metrics import (
        accuracy_score,
        average_precision_score,
        f1_score,
        jaccard_score,
        mean_squared_error,
    )

    y = np.asarray(y).ravel().astype(np.int64)
    prob = np.asarray(prob, dtype=np.float64).ravel()
    mask = (prob >= threshold).astype(np.int64)
    single = np.unique(y).size < 2
    return {
        "rmse": float(np.sqrt(mean_squared_error(y, prob))),
        "acc": float(accuracy_score(y, mask)),
        "f1": float(f1_score(y, mask, zero_division=0.0)),
        "jaccard": float(jaccard_score(y, mask, zero_division=0.0)),
        "auc_pr": float("nan") if single else float(average_precision_score(y, prob)),
    }


def split_targets(store_ds, cfg: Mapping, split: str) -> np.ndarray:
    """Store time indices of the targets of ``split``."""
    from eoml.aot.samples import sample_table

    table = sample_table(store_ds, cfg)
    return table.loc[table["split"] == split, "index"].to_numpy()


def dataset_criteria(target: np.ndarray, indices: np.ndarray, n_pairs: int, seed: int) -> pd.DataFrame:
    """``metric, ddc, dtc`` of the target frames ``indices``: dtc pools the pairs (frame t-1 as the
    forecast of frame t), ddc ``n_pairs`` random pairs of distinct frames (seeded)."""
    indices = np.asarray(indices)
    if indices.size < 2:
        raise ConfigError("aot: the dataset criteria need at least two test targets")
    dtc = scores(target[indices], target[indices - 1].astype(np.float64), 0.5)
    rng = np.random.default_rng(seed)
    first = rng.integers(0, indices.size, n_pairs)
    second = (first + rng.integers(1, indices.size, n_pairs)) % indices.size  # always another frame
    ddc = scores(target[indices[first]], target[indices[second]].astype(np.float64), 0.5)
    return pd.DataFrame({"metric": list(METRICS), "ddc": [ddc[m] for m in METRICS], "dtc": [dtc[m] for m in METRICS]})


def score_predictions(paths: Sequence[str | Path], store_ds, cfg: Mapping) -> pd.DataFrame:
    """``scores.csv``: one row per prediction store and split (val, test)."""
    target = store_ds["target"].values
    method, value = cfg["threshold"]["method"], float(cfg["threshold"]["value"])
    store_times = pd.Index(store_ds["time"].values)
    rows = []
    for p in read_predictions(paths):
        pos, _, prob = p.split(store_times, "val")
        thr = choose_threshold(target[pos], prob, method, value)
        for split in ("val", "test"):
            pos, _, prob = p.split(store_times, split)
            rows.append({"model": p.model, "config": p.config, "seed": p.seed, "split": split,
                         "threshold": thr, **scores(target[pos], prob, thr),
                         "n_frames": p.n_frames, "batch_size": p.batch_size})
    return pd.DataFrame(rows, columns=SCORE_COLUMNS)


def criteria_table(table: pd.DataFrame, criteria: pd.DataFrame) -> pd.DataFrame:
    """Test value, ddc, dtc, ddr, dtr and ``beats_persistence`` per prediction and metric."""
    test = table[table["split"] == "test"]
    long = test.melt(id_vars=["model", "config", "seed"], value_vars=list(METRICS), var_name="metric")
    out = long.merge(criteria, on="metric", how="left")
    out["ddr"] = out["value"] / out["ddc"]
    out["dtr"] = out["value"] / out["dtc"]
    lower = out["metric"].isin(LOWER_IS_BETTER)
    out["beats_persistence"] = np.where(lower, out["value"] < out["dtc"], out["value"] > out["dtc"])
    return out[["model", "config", "seed", "metric", "value", "ddc", "dtc", "ddr", "dtr", "beats_persistence"]]


def _mean_2sigma(table: pd.DataFrame, by: list[str], metrics: Sequence[str]) -> pd.DataFrame:
    g = table.groupby(by, sort=True)[list(metrics)]
    mean, std = g.mean(), g.std(ddof=0).fillna(0.0)
    out = mean.add_suffix("_mean").join((2 * std).add_suffix("_2sigma"))
    out["n_seeds"] = g.size()
    return out.reset_index()


def paper_tables(table: pd.DataFrame, crit: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The paper's tables 1–4 (see the module docstring) from ``scores.csv`` and ``criteria.csv``."""
    runs = table[table["seed"] >= 0]
    val, test = runs[runs["split"] == "val"], runs[runs["split"] == "test"]
    grid = val.groupby(["model", "config", "n_frames", "batch_size"], sort=False)[list(METRICS)].mean().reset_index()
    grid = grid.sort_values("auc_pr", ascending=False, kind="stable")
    test = test.assign(
        length_family=[family(c, AXES["input_lengths"][1], n) for c, n in zip(test["config"], test["n_frames"])],
        batch_family=[family(c, AXES["batch_sizes"][1], b) for c, b in zip(test["config"], test["batch_size"])])
    batch = _mean_2sigma(test, ["model", "batch_family", "batch_size"], ("auc_pr", "rmse"))
    length = _mean_2sigma(test, ["model", "length_family", "n_frames"], ("auc_pr", "rmse"))
    best = grid.sort_values(["model", "auc_pr"], ascending=[True, False], kind="stable").groupby("model").head(1)
    chosen = pd.concat([best[["model", "config"]],
                        table.loc[table["seed"] < 0, ["model", "config"]].drop_duplicates()])
    final = test.merge(chosen, on=["model", "config"]) if not test.empty else test
    final = pd.concat([final, table[(table["seed"] < 0) & (table["split"] == "test")]])
    final = final.groupby(["model", "config"], sort=False)[["threshold", *METRICS]].mean().reset_index()
    ratios = crit.groupby(["model", "config", "metric"], sort=False)[["ddr", "dtr"]].mean().unstack("metric")
    ratios.columns = [f"{m}_{r}" for r, m in ratios.columns]
    final = final.merge(ratios.reset_index(), on=["model", "config"], how="left")
    return {"grid": grid, "batch_size": batch, "input_length": length, "test": final}


def evaluate(store: str | Path, predictions: Sequence[str | Path], out_dir: str | Path, cfg: Mapping) -> None:
    """Write ``scores.csv``, ``criteria.csv`` and the paper's tables under ``out_dir``."""
    out_dir = Path(out_dir)
    ds = open_store(store).load()
    table = score_predictions(predictions, ds, cfg)
    crit_cfg = cfg["criteria"]
    criteria = dataset_criteria(ds["target"].values, split_targets(ds, cfg, "test"), int(crit_cfg["pairs"]), int(crit_cfg["seed"]))
    crit = criteria_table(table, criteria)
    write_csv_atomic(table, out_dir / "scores.csv")
    write_csv_atomic(crit, out_dir / "criteria.csv")
    for name, frame in paper_tables(table, crit).items():
        write_csv_atomic(frame, out_dir / f"{name}.csv")
    test = crit[crit["metric"] == "auc_pr"]
    for _, row in test.iterrows():
        log.info("%-28s seed %2d  test AUC-PR %.3f  ddr %.2f  dtr %.2f  %s", row["config"], row["seed"], row["value"],
                 row["ddr"], row["dtr"], "beats persistence" if row["beats_persistence"] else "does not beat persistence")
