"""scenes evaluation: accuracy.csv from run directories (the contract), metrics equal scikit-learn's,
the configuration / best / summary tables (best chosen on validation, collapsed runs shown)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score, cohen_kappa_score, f1_score

from eoml.core.errors import InputFileError
from eoml.scenes.evaluate import (
    ACCURACY_COLUMNS,
    best_runs,
    best_table,
    configuration_table,
    confusion_of_run,
    read_accuracy,
    read_run,
    score_runs,
    summary_table,
    write_run,
)

K = 4
SIZES = {"train": 40, "val": 12, "test": 20}


def _predictions(acc: dict[str, float], attempt: int, seed: int) -> pd.DataFrame:
    """Labels cycling over K classes; the first (1 − acc) share of each split predicted wrong."""
    rows, sample = [], 0
    rng = np.random.default_rng(seed)
    for split, n in SIZES.items():
        label = np.arange(n) % K
        pred = label.copy()
        wrong = rng.permutation(n)[: round((1 - acc[split]) * n)]
        pred[wrong] = (label[wrong] + 1 + rng.integers(0, K - 1, wrong.size)) % K
        rows.append(pd.DataFrame({"attempt": attempt, "sample": np.arange(sample, sample + n),
                                  "split": split, "label": label, "pred": pred}))
        sample += n
    return pd.concat(rows, ignore_index=True)


def make_run(root, *, dataset="ucm", backbone="efficientnet_lite0", depth="deep",
             mode="fine_tune", optimizer="sgd_1e3_m09", init="imagenet", seed=0,
             accs=({"train": 1.0, "val": 0.75, "test": 0.7},), collapsed=(False,)):
    """A run directory following the contract; one attempt per entry of ``accs``."""
    job = {"dataset": dataset, "backbone": backbone, "depth": depth, "mode": mode,
           "optimizer": optimizer, "seed": seed, "init": init}
    out = root / "_".join(str(v) for v in job.values())
    attempts, preds = [], []
    for a, (acc, col) in enumerate(zip(accs, collapsed, strict=True)):
        attempts.append({"attempt": a, "learning_rate": 1e-3 / 10**a, "collapsed": col,
                         "best_epoch": 3, "epochs_run": 5 + a, "best_val_acc": acc["val"],
                         "chance_acc": 1 / K, "seconds_per_epoch": 0.5})
        preds.append(_predictions(acc, a, seed * 10 + a))
    return write_run(out, job, attempts, pd.concat(preds), n_parameters=100, n_trainable=50)


def test_accuracy_csv_from_hand_written_contract_files_equals_sklearn(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "run.json").write_text(json.dumps({
        "job": {"dataset": "NA", "backbone": "vgg19", "depth": "shallow", "mode": "random",
                "optimizer": "sgd_1e2", "seed": 3, "init": "random"},
        "attempts": [
            {"attempt": 0, "learning_rate": 0.01, "collapsed": True, "best_epoch": 0,
             "epochs_run": 4, "best_val_acc": 0.25, "chance_acc": 0.25, "seconds_per_epoch": 1.0},
            {"attempt": 1, "learning_rate": 0.001, "collapsed": False, "best_epoch": 6,
             "epochs_run": 9, "best_val_acc": 0.5, "chance_acc": 0.25, "seconds_per_epoch": 1.0}],
        "n_parameters": 10, "n_trainable": 10}))  # fmt: skip
    rng = np.random.default_rng(0)
    lines = ["attempt,sample,split,label,pred"]
    truth: dict[tuple[int, str], tuple[list, list]] = {}
    for attempt in (0, 1):
        for i in range(60):
            split = ("train", "val", "test")[i % 3]
            y = int(rng.integers(0, 5))
            p = 0 if attempt == 0 else (y if rng.random() < 0.6 else int(rng.integers(0, 5)))
            lines.append(f"{attempt},{i},{split},{y},{p}")
            truth.setdefault((attempt, split), ([], []))
            truth[(attempt, split)][0].append(y)
            truth[(attempt, split)][1].append(p)
    (run / "predictions.csv").write_text("\n".join(lines) + "\n")
    out = tmp_path / "metrics" / "accuracy.csv"
    out.parent.mkdir()
    df = score_runs([run], out)
    assert list(df.columns) == list(ACCURACY_COLUMNS)
    back = read_accuracy(out)
    assert back["dataset"].tolist() == ["NA"] * 6  # a name that pandas would read as missing
    assert back[["attempt", "split"]].values.tolist() == [
        [0, "train"], [0, "val"], [0, "test"], [1, "train"], [1, "val"], [1, "test"]]
    assert back["epochs"].tolist() == [4] * 3 + [9] * 3
    assert back["collapsed"].tolist() == [True] * 3 + [False] * 3
    for row in back.itertuples():
        y, p = truth[(row.attempt, row.split)]
        assert row.accuracy == pytest.approx(accuracy_score(y, p), abs=1e-6)
        assert row.f1_macro == pytest.approx(f1_score(y, p, average="macro", zero_division=0), abs=1e-6)
        kappa = cohen_kappa_score(y, p)
        assert row.kappa == pytest.approx(kappa, abs=1e-6) or (np.isnan(kappa) and np.isnan(row.kappa))
    assert back.loc[0, "kappa"] == 0.0  # attempt 0 always predicts class 0: no agreement beyond chance


def test_split_flags_accepted_and_bad_files_named(tmp_path):
    run = make_run(tmp_path)
    pred = pd.read_csv(run / "predictions.csv")
    pred["split"] = pred["split"].map({"train": 0, "val": 1, "test": 2})
    pred.to_csv(run / "predictions.csv", index=False)
    df = score_runs([run], tmp_path / "a.csv")
    assert df["split"].tolist() == ["train", "val", "test"]

    pred["split"] = pred["split"].replace({2: "testing"})
    pred.to_csv(run / "predictions.csv", index=False)
    with pytest.raises(InputFileError, match=r"predictions.csv: unknown split value\(s\) \['testing'\]"):
        score_runs([run], tmp_path / "a.csv")
    pred.drop(columns="pred").to_csv(run / "predictions.csv", index=False)
    with pytest.raises(InputFileError, match=r"lacks column\(s\) \['pred'\]"):
        score_runs([run], tmp_path / "a.csv")

    two = make_run(tmp_path, seed=1, accs=({"train": 1, "val": 0.5, "test": 0.5},) * 2,
                   collapsed=(True, False))
    meta = json.loads((two / "run.json").read_text())
    meta["attempts"] = meta["attempts"][:1]
    (two / "run.json").write_text(json.dumps(meta))
    with pytest.raises(InputFileError, match=r"attempts \[0, 1\] but .*run.json lists \[0\]"):
        score_runs([two], tmp_path / "a.csv")
    del meta["job"]["init"]
    (two / "run.json").write_text(json.dumps(meta))
    with pytest.raises(InputFileError, match=r"run.json: job lacks \['init'\]"):
        read_run(two)
    with pytest.raises(InputFileError, match="run.json: missing"):
        read_run(tmp_path / "nowhere")
    again = make_run(tmp_path / "x", seed=2)
    same = make_run(tmp_path / "y", seed=2)
    with pytest.raises(InputFileError, match="is also the job of"):
        score_runs([again, same], tmp_path / "a.csv")


@pytest.fixture()
def grid(tmp_path):
    """Two datasets; on ``ucm`` the best test config (random, shallow) is not the best validation
    config (fine_tune, deep); one config collapses on every seed, one collapses and is retried."""
    runs = []
    for seed in (0, 1):
        runs.append(make_run(tmp_path, seed=seed, accs=({"train": 1.0, "val": 0.8 + seed * 0.1,
                                                          "test": 0.75},)))
        runs.append(make_run(tmp_path, mode="random", init="random", depth="shallow", seed=seed,
                             accs=({"train": 0.9, "val": 0.75, "test": 0.95},)))
        runs.append(make_run(tmp_path, mode="feature_extraction", depth="intermediate", seed=seed,
                             accs=({"train": 0.25, "val": 0.25, "test": 0.25},), collapsed=(True,)))
        retry = seed == 0
        runs.append(make_run(
            tmp_path, mode="fine_tune", depth="shallow", seed=seed,
            accs=({"train": 0.25, "val": 0.25, "test": 0.25}, {"train": 1, "val": 0.5, "test": 0.5})
            if retry else ({"train": 1, "val": 0.5, "test": 0.6},),
            collapsed=(True, False) if retry else (False,)))
        runs.append(make_run(tmp_path, dataset="aid", seed=seed,
                             accs=({"train": 1.0, "val": 0.5, "test": 0.45},)))
        runs.append(make_run(tmp_path, backbone="colour_histogram", depth="none", mode="baseline",
                             optimizer="logistic_regression", init="none", seed=seed,
                             accs=({"train": 0.6, "val": 0.5, "test": 0.5},)))
    acc = tmp_path / "accuracy.csv"
    score_runs(runs, acc)
    return runs, acc


def test_configuration_table_counts_collapses_and_retries(grid, tmp_path):
    _, acc = grid
    table = configuration_table(acc, tmp_path / "configs.csv")
    assert (tmp_path / "configs.csv").exists()
    ucm = table[table.dataset == "ucm"].set_index(["mode", "depth"])
    # natural order: modes, then depths
    assert list(ucm.index) == [("baseline", "none"), ("fine_tune", "shallow"), ("random", "shallow"),
                               ("feature_extraction", "intermediate"), ("fine_tune", "deep")]
    fe = ucm.loc[("feature_extraction", "intermediate")]
    assert fe.n_collapsed == 2 and fe.test_accuracy == "collapsed (0.250)"
    ft = ucm.loc[("fine_tune", "shallow")]
    assert (ft.n_seeds, ft.n_collapsed, ft.n_retried, ft.n_collapsed_final) == (2, 1, 1, 0)
    assert ft.test_accuracy == "0.425 ± 0.247 (1/2 collapsed)"  # the configured attempts
    assert ft.test_accuracy_final == "0.550 ± 0.071"  # the retry replaces the collapsed run
    deep = ucm.loc[("fine_tune", "deep")]
    assert deep.val_accuracy_final_mean == pytest.approx((10 / 12 + 11 / 12) / 2)
    assert deep.gap_final_mean == pytest.approx(0.25)


def test_best_table_selects_on_validation_not_test(grid, tmp_path):
    _, acc = grid
    best = best_table(acc, tmp_path / "best.csv").set_index("dataset")
    assert list(best.index) == ["aid", "ucm"]
    ucm = best.loc["ucm"]
    # (random, shallow) has the best *test* accuracy (0.95) but (fine_tune, deep) the best validation
    assert (ucm["mode"], ucm["depth"]) == ("fine_tune", "deep")
    assert ucm.test_accuracy_final == "0.750 ± 0.000"
    assert ucm.baseline == "colour_histogram logistic_regression"
    assert ucm.baseline_test_accuracy == "0.500 ± 0.000"
    assert best.loc["aid", "baseline_test_accuracy"] == ""  # no baseline run on aid
    written = pd.read_csv(tmp_path / "best.csv", keep_default_na=False)
    assert written["dataset"].tolist() == ["aid", "ucm"]


def test_summary_table_and_markdown(grid, tmp_path):
    _, acc = grid
    wide = summary_table(acc, tmp_path / "summary.csv", tmp_path / "summary.md")
    assert list(wide.columns) == ["dataset", "backbone", "optimizer", "depth",
                                  "feature_extraction (imagenet)", "fine_tune (imagenet)",
                                  "random (random)"]
    ucm = wide[wide.dataset == "ucm"].set_index("depth")
    assert list(ucm.index) == ["shallow", "intermediate", "deep"]
    assert ucm.loc["intermediate", "feature_extraction (imagenet)"] == "collapsed (0.250)"
    assert ucm.loc["shallow", "random (random)"] == "0.950 ± 0.000"
    assert ucm.loc["deep", "random (random)"] == ""
    md = (tmp_path / "summary.md").read_text().splitlines()
    assert md[0].startswith("| dataset | backbone |") and md[1].startswith("|---|")
    assert len(md) == 2 + len(wide)


def test_best_runs_and_confusion_of_the_best_run(grid):
    runs, acc = grid
    best = best_runs(runs, acc)
    assert sorted(best) == ["aid", "ucm"]
    assert best["ucm"].job["seed"] == 1  # the seed of higher validation accuracy
    m = confusion_of_run(best["ucm"], K)
    pred = pd.read_csv(best["ucm"].path / "predictions.csv")
    test = pred[pred.split == "test"]
    from sklearn.metrics import confusion_matrix

    np.testing.assert_allclose(m, confusion_matrix(test.label, test.pred, normalize="true"))
    with pytest.raises(InputFileError, match="labels outside the 3 classes"):
        confusion_of_run(best["ucm"], 3)
