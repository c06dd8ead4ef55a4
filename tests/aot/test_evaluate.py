"""aot evaluation: the metrics are scikit-learn's, dtc is persistence's score, ddc a random frame's,
thresholds come from validation only, and the tables hold every prediction."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from aot_store import CFG, synthetic_store
from sklearn import metrics as skm

from eoml.aot.baselines import climatology, persistence, run_baseline
from eoml.aot.evaluate import (
    METRICS,
    choose_threshold,
    dataset_criteria,
    evaluate,
    score_predictions,
    scores,
    split_targets,
)
from eoml.aot.predictions import write_predictions
from eoml.core.store import open_store


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return synthetic_store(tmp_path_factory.mktemp("aot") / "store.zarr", n=40)


def test_scores_equal_scikit_learn_on_the_same_arrays():
    rng = np.random.default_rng(1)
    y = (rng.random((5, 6, 7)) < 0.2).astype(np.int8)
    prob = np.clip(y * 0.5 + rng.random(y.shape) * 0.6, 0, 1).astype(np.float32)
    s = scores(y, prob, 0.4)
    yt, pr = y.ravel(), prob.ravel().astype(np.float64)
    mask = pr >= 0.4
    assert s["rmse"] == pytest.approx(np.sqrt(np.mean((pr - yt) ** 2)), abs=1e-12)
    assert s["rmse"] == np.sqrt(skm.mean_squared_error(yt, pr))
    assert s["acc"] == skm.accuracy_score(yt, mask) == np.mean(mask == yt)
    assert s["f1"] == skm.f1_score(yt, mask)
    assert s["jaccard"] == skm.jaccard_score(yt, mask)
    assert s["auc_pr"] == skm.average_precision_score(yt, pr)
    tp, fp, fn = np.sum(mask & (yt == 1)), np.sum(mask & (yt == 0)), np.sum(~mask & (yt == 1))
    assert s["f1"] == pytest.approx(2 * tp / (2 * tp + fp + fn)) and s["jaccard"] == pytest.approx(tp / (tp + fp + fn))


def test_thresholds_youden_max_f1_fixed():
    y = np.array([0, 0, 0, 1, 1, 0, 1, 1])
    prob = np.array([0.1, 0.2, 0.3, 0.35, 0.6, 0.65, 0.7, 0.9])
    fpr, tpr, thr = skm.roc_curve(y, prob)
    assert choose_threshold(y, prob, "youden", 0.5) == thr[np.argmax(tpr - fpr)]
    f1 = [skm.f1_score(y, prob >= t) for t in prob]
    assert choose_threshold(y, prob, "max_f1", 0.5) == prob[int(np.argmax(f1))]
    assert choose_threshold(y, prob, "fixed", 0.38) == 0.38


def test_dtc_is_persistence_and_ddc_a_random_frame_forecast(store, tmp_path):
    ds = open_store(store).load()
    target = ds["target"].values
    test = split_targets(ds, CFG, "test")
    crit = dataset_criteria(target, test, n_pairs=50, seed=3).set_index("metric")
    # persistence through the workflow's own baseline and scoring
    pred = run_baseline("persistence", store, tmp_path / "persistence.zarr", CFG)
    row = score_predictions([pred], ds, CFG).query("split == 'test'").iloc[0]
    for m in METRICS:
        assert row[m] == crit.loc[m, "dtc"], m
    # ddc: the forecast "frame j" for target frame i over the same random pairs, scored directly
    rng = np.random.default_rng(3)
    first = rng.integers(0, test.size, 50)
    second = (first + rng.integers(1, test.size, 50)) % test.size
    assert np.all(first != second)
    direct = scores(target[test[first]], target[test[second]].astype(np.float64), 0.5)
    for m in METRICS:
        assert crit.loc[m, "ddc"] == direct[m], m
    # persistence is worse than a perfect forecast and better than a random frame on this moving blob
    assert crit.loc["f1", "ddc"] < crit.loc["f1", "dtc"] < 1


def test_threshold_is_chosen_on_validation_never_on_test(store, tmp_path):
    ds = open_store(store).load()
    from eoml.aot.samples import sample_table

    table = sample_table(ds, CFG)
    scored = table[table["split"] != "train"].reset_index(drop=True)
    target = ds["target"].values[scored["index"].to_numpy()].astype(np.float32)
    rng = np.random.default_rng(0)
    prob = np.clip(0.6 * target + 0.5 * rng.random(target.shape), 0, 1).astype(np.float32)
    attrs = {"model": "m", "config": "m-T2-b4", "seed": 0, "n_frames": 2, "batch_size": 4}
    a = write_predictions(prob, scored, ds, tmp_path / "a.zarr", attrs)
    changed = prob.copy()
    changed[scored["split"] == "test"] = rng.random(changed[scored["split"] == "test"].shape)
    b = write_predictions(changed, scored, ds, tmp_path / "b.zarr", attrs)
    ta, tb = score_predictions([a, b], ds, CFG).query("split == 'test'")["threshold"]
    assert ta == tb
    val = (scored["split"] == "val").to_numpy()
    assert ta == choose_threshold(target[val], prob[val], "max_f1", 0.38)


def test_climatology_by_hand():
    target = np.zeros((50, 1, 2), np.int8)
    periods = np.arange(2001 * 46, 2001 * 46 + 50)
    target[0, 0, 0] = 1  # period 0 of 2001
    target[45, 0, 1] = 1  # period 45 (the year's last)
    target[47, 0, 0] = 1  # period 1 of 2002, after the training end
    out = climatology(target, periods, 46, np.array([46, 48]), halfwidth=1)
    # period 0 of 2002 pools periods 45, 0, 1 of the training frames 0..46 (45 wraps around the year)
    pool = [0, 1, 45, 46]
    assert out[0].tolist() == target[pool].mean(axis=0).tolist() == [[0.25, 0.25]]
    assert out[1].tolist() == target[[1, 2]].mean(axis=0).tolist()
    assert persistence(target, np.array([1, 46])).tolist() == [target[0].tolist(), target[45].tolist()]


def test_evaluate_writes_every_table(store, tmp_path):
    ds = open_store(store).load()
    from eoml.aot.samples import sample_table

    table = sample_table(ds, CFG)
    scored = table[table["split"] != "train"].reset_index(drop=True)
    target = ds["target"].values[scored["index"].to_numpy()].astype(np.float32)
    preds = [run_baseline(b, store, tmp_path / f"{b}.zarr", CFG) for b in ("persistence", "climatology")]
    for seed, t in ((0, 1), (1, 1), (0, 2)):
        prob = np.clip(target * 0.7 + np.random.default_rng(seed + 10 * t).random(target.shape) * 0.4, 0, 1)
        preds.append(write_predictions(prob.astype(np.float32), scored, ds, tmp_path / f"m{t}{seed}.zarr",
                                       {"model": "m", "config": f"m-T{t}-b4", "seed": seed, "n_frames": t,
                                        "batch_size": 4}))
    evaluate(store, preds, tmp_path / "metrics", CFG)
    s = pd.read_csv(tmp_path / "metrics" / "scores.csv")
    assert len(s) == 2 * 5 and set(s["split"]) == {"val", "test"}
    crit = pd.read_csv(tmp_path / "metrics" / "criteria.csv")
    pers = crit[crit["model"] == "persistence"]
    assert np.allclose(pers["dtr"], 1.0) and not pers["beats_persistence"].any()
    length = pd.read_csv(tmp_path / "metrics" / "input_length.csv")
    assert length.loc[length["n_frames"] == 1, "n_seeds"].item() == 2
    test = pd.read_csv(tmp_path / "metrics" / "test.csv")
    assert set(test["model"]) == {"m", "persistence", "climatology"}
    assert {"auc_pr_ddr", "rmse_dtr"} <= set(test.columns)
    grid = pd.read_csv(tmp_path / "metrics" / "grid.csv")
    assert grid["auc_pr"].is_monotonic_decreasing and len(grid) == 2
