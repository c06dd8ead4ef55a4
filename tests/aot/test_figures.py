"""aot figures on a small synthetic store, prediction stores (predictions.write_predictions) and
scores.csv (evaluate's thresholds and scores): every figure is written, the selections and the numbers
drawn are right."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from sklearn.metrics import accuracy_score, f1_score, jaccard_score

from eoml.aot import figures
from eoml.aot.evaluate import SCORE_COLUMNS, choose_threshold
from eoml.aot.evaluate import scores as score_arrays
from eoml.aot.predictions import write_predictions
from eoml.core.errors import InputFileError
from eoml.core.store import write_store

RES = 20.0
N_TIME = 30
HISTORY = 4


def _store(path, seed=0):
    rng = np.random.default_rng(seed)
    lat = 90.0 - RES * (np.arange(int(180 / RES)) + 0.5)
    lon = -180.0 + RES * (np.arange(int(360 / RES)) + 0.5)
    times = pd.Timestamp("2001-01-01") + pd.to_timedelta(8 * np.arange(N_TIME), "D")
    # persistent blobs of high AOT + noise, a few unread pixels
    base = rng.gamma(2.0, 0.2, size=(lat.size, lon.size))
    aot = np.stack([base * (1 + 0.4 * np.sin(k / 3)) + rng.normal(0, 0.1, base.shape) for k in range(N_TIME)])
    aot = np.clip(aot, 0, None).astype(np.float32)
    aot[rng.random(aot.shape) < 0.05] = np.nan
    valid = np.isfinite(aot)
    target = (valid & (np.nan_to_num(aot) > 0.8)).astype(np.int8)
    ds = xr.Dataset(
        {"aot": (("time", "lat", "lon"), aot, {"long_name": "aot", "units": "1"}),
         "valid": (("time", "lat", "lon"), valid, {"long_name": "read"}),
         "target": (("time", "lat", "lon"), target, {"long_name": "high aot", "units": "1"})},
        coords={"time": ("time", times.values, {"long_name": "first day"}),
                "period": ("time", 2001 * 46 + np.arange(N_TIME), {"long_name": "period", "units": "1"}),
                "lat": ("lat", lat, {"long_name": "lat", "units": "degrees_north"}),
                "lon": ("lon", lon, {"long_name": "lon", "units": "degrees_east"})},
        attrs={"threshold_aot": 0.8, "grid_deg": RES},
    )
    write_store(ds, path)
    return ds


def _table(ds):
    idx = np.arange(HISTORY, N_TIME)
    split = np.array(["train"] * 18 + ["val"] * 3 + ["test"] * 5)
    assert split.size == idx.size
    table = pd.DataFrame({"index": idx, "time": ds["time"].values[idx], "split": split})
    return table[table["split"] != "train"].reset_index(drop=True)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    root = tmp_path_factory.mktemp("aot_fig")
    ds = _store(root / "store.zarr")
    scored = _table(ds)
    target = ds["target"].values
    idx = scored["index"].to_numpy()
    rng = np.random.default_rng(1)
    paths = []

    rows = []
    is_val = (scored["split"] == "val").to_numpy()

    def add(name, prob, model, config, seed, n_frames, batch):
        attrs = {"model": model, "config": config, "seed": seed, "n_frames": n_frames, "batch_size": batch}
        paths.append(write_predictions(prob.astype(np.float32), scored, ds, root / f"{name}.zarr", attrs))
        # scores.csv as evaluate.score_predictions writes it (threshold on val, both splits)
        thr = choose_threshold(target[idx[is_val]], prob[is_val], "max_f1", 0.38)
        for split, sel in (("val", is_val), ("test", ~is_val)):
            rows.append({"model": model, "config": config, "seed": seed, "split": split, "threshold": thr,
                         **score_arrays(target[idx[sel]], prob[sel], thr), "n_frames": n_frames,
                         "batch_size": batch})

    add("persistence", target[idx - 1].astype(np.float32), "persistence", "persistence", -1, 1, 0)
    add("climatology", np.repeat(target[:HISTORY + 18].mean(axis=0)[None], idx.size, axis=0), "climatology",
        "climatology", -1, 1, 0)
    # two models; skill grows with T (noise shrinks), resnet18 also tried with batch size 8
    for model, batches in (("convlstm", (4,)), ("resnet18", (4, 8))):
        for n_frames in (1, 2, 3):
            for batch in batches:
                for seed in (1, 0):
                    noise = rng.normal(0, 0.5 / n_frames + 0.05 * seed + 0.02 * (batch == 8), target[idx].shape)
                    prob = 1 / (1 + np.exp(-(4 * (target[idx] - 0.5) + 4 * noise)))
                    config = f"{model}-T{n_frames}-b{batch}"
                    add(f"{config}-s{seed}", prob, model, config, seed, n_frames, batch)
    scores = pd.DataFrame(rows, columns=SCORE_COLUMNS)
    scores_csv = root / "scores.csv"
    scores.to_csv(scores_csv, index=False)
    return {"root": root, "store": root / "store.zarr", "preds": paths, "scores": scores_csv, "ds": ds,
            "table": scores}


def _written(png):
    svg = png.with_suffix(".svg")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000
    assert svg.read_text().lstrip().startswith("<?xml") and svg.stat().st_size > 5000


def test_selection_best_config_lowest_seed(inputs):
    table = inputs["table"]
    best = figures.best_configs(table)
    assert list(best) == ["convlstm", "resnet18", "persistence", "climatology"]
    val = table[table["split"] == "val"]
    for model in ("convlstm", "resnet18"):
        mean = val[val["model"] == model].groupby("config")["auc_pr"].mean()
        assert best[model] == mean.idxmax()
    chosen = figures.select_predictions(figures.read_predictions(inputs["preds"]), table)
    assert chosen["convlstm"].config == best["convlstm"] and chosen["convlstm"].seed == 0
    assert chosen["persistence"].seed == -1
    # restricted to the configurations that have a prediction store
    only = {("convlstm", "convlstm-T1-b4")}
    assert figures.best_configs(table, only) == {"convlstm": "convlstm-T1-b4"}


def test_threshold_scores_equal_sklearn():
    rng = np.random.default_rng(3)
    y = rng.random((4, 7, 9)) < 0.2
    prob = np.clip(y * 0.4 + rng.random(y.shape) * 0.7, 0, 1).astype(np.float32)
    prob[0, 0, :3] = 0.3  # ties exactly at a threshold
    thresholds = [0.0, 0.1, 0.3, 0.5, 0.77, 1.0]
    got = figures.threshold_scores(y, prob, thresholds)
    for k, thr in enumerate(thresholds):
        mask = (prob >= thr).ravel()
        assert got["acc"][k] == pytest.approx(accuracy_score(y.ravel(), mask), abs=1e-12)
        assert got["f1"][k] == pytest.approx(f1_score(y.ravel(), mask, zero_division=0.0), abs=1e-12)
        assert got["jaccard"][k] == pytest.approx(jaccard_score(y.ravel(), mask, zero_division=0.0), abs=1e-12)
    none = figures.threshold_scores(np.zeros(10, bool), np.zeros(10), [0.5])
    assert none["f1"][0] == 0 and none["jaccard"][0] == 0 and none["acc"][0] == 1


def test_brier_skill_known_cases():
    y = np.zeros((4, 2, 3))
    y[:, 0, 0] = [1, 0, 1, 0]        # persistence wrong 3 of 4 times (its previous frame below)
    y[:, 1, 2] = [1, 1, 1, 1]        # persistence always right
    persistence = np.zeros_like(y)
    persistence[1:, 0, 0] = y[:-1, 0, 0]
    persistence[0, 0, 0] = 0
    persistence[:, 1, 2] = 1
    skill, pooled = figures.brier_skill(y, y, persistence)   # a perfect model
    assert skill[0, 0] == 1.0 and pooled == 1.0
    assert np.isnan(skill[1, 2]) and np.isnan(skill[0, 1])   # persistence never wrong there
    assert np.isfinite(skill).sum() == 1
    half = np.full_like(y, 0.5)                              # BS 0.25 everywhere
    skill, pooled = figures.brier_skill(y, half, persistence)
    bs_p = np.mean((persistence[:, 0, 0] - y[:, 0, 0]) ** 2)
    assert skill[0, 0] == pytest.approx(1 - 0.25 / bs_p)
    assert pooled == pytest.approx(1 - 0.25 * 6 / bs_p)


def test_plot_maps(inputs):
    out = figures.plot_maps(inputs["store"], inputs["preds"], inputs["scores"], inputs["root"] / "maps.png",
                            n_dates=2)
    assert out[0].name == "maps.png" and out[1].name == "maps.svg"
    _written(out[0])


def test_plot_pr_curves(inputs):
    png, _ = figures.plot_pr_curves(inputs["store"], inputs["preds"], inputs["scores"], inputs["root"] / "pr.png")
    _written(png)


def test_plot_input_length_and_batch_size(inputs):
    png, _ = figures.plot_input_length(inputs["scores"], inputs["root"] / "length.png")
    _written(png)
    png, _ = figures.plot_batch_size(inputs["scores"], inputs["root"] / "batch.png")
    _written(png)
    # no model with more than one batch size: panels with a note, still written
    table = inputs["table"]
    one = table[table["batch_size"] != 8]
    png, _ = figures.plot_batch_size(one, inputs["root"] / "batch_none.png")
    assert "no model was trained with" in png.with_suffix(".svg").read_text()


def test_family_strips_only_the_axis_token():
    assert figures._family("convlstm-T2-b4", "T", 2) == "convlstm-b4"
    assert figures._family("resnet3d101-T10-b4-w3-avg", "T", 10) == "resnet3d101-b4-w3-avg"
    assert figures._family("convlstm-T2-b16", "b", 16) == "convlstm-T2"
    assert figures._family("convlstm-T2-b16", "b", 1) == "convlstm-T2-b16"


def test_plot_thresholds(inputs):
    png, _ = figures.plot_thresholds(inputs["store"], inputs["preds"], inputs["scores"], inputs["root"] / "thr.png")
    _written(png)


def test_plot_skill_map(inputs):
    png, _ = figures.plot_skill_map(inputs["store"], inputs["preds"], inputs["scores"], inputs["root"] / "skill.png")
    _written(png)
    no_persistence = [p for p in inputs["preds"] if p.name != "persistence.zarr"]
    with pytest.raises(ValueError, match="persistence"):
        figures.plot_skill_map(inputs["store"], no_persistence, inputs["scores"], inputs["root"] / "x.png")


def test_bad_inputs_name_the_file(inputs, tmp_path):
    bad = tmp_path / "scores.csv"
    inputs["table"].drop(columns="auc_pr").to_csv(bad, index=False)
    with pytest.raises(InputFileError, match="scores.csv.*auc_pr"):
        figures.plot_input_length(bad, tmp_path / "x.png")
    # a prediction store whose targets are not in the store
    ds = inputs["ds"]
    scored = _table(ds)
    scored["time"] = scored["time"] + pd.Timedelta(days=1)
    stale = write_predictions(np.zeros((len(scored), ds.sizes["lat"], ds.sizes["lon"]), np.float32), scored, ds,
                              tmp_path / "stale.zarr", {"model": "persistence", "config": "persistence",
                                                        "seed": -1, "n_frames": 1, "batch_size": 0})
    preds = [p for p in inputs["preds"] if p.name != "persistence.zarr"] + [stale]
    with pytest.raises(InputFileError, match="stale.zarr"):
        figures.plot_pr_curves(inputs["store"], preds, inputs["scores"], tmp_path / "x.png")
    with pytest.raises(InputFileError, match="missing.zarr"):
        figures.plot_pr_curves(inputs["store"], [tmp_path / "missing.zarr"], inputs["scores"], tmp_path / "x.png")


def test_skill_map_of_a_perfect_model(inputs, tmp_path):
    """End to end: a perfect forecast (probability = target) is the best model and scores a pooled
    Brier skill of 1 against persistence; the figure's text says so."""
    ds = inputs["ds"]
    scored = _table(ds)
    target = ds["target"].values[scored["index"].to_numpy()]
    perfect = write_predictions(target.astype(np.float32), scored, ds, tmp_path / "perfect.zarr",
                                {"model": "perfect", "config": "perfect-T1-b4", "seed": 0, "n_frames": 1,
                                 "batch_size": 4})
    rows = [{"model": "perfect", "config": "perfect-T1-b4", "seed": 0, "split": split, "threshold": 0.5,
             **score_arrays(target[(scored["split"] == split).to_numpy()],
                            target[(scored["split"] == split).to_numpy()].astype(float), 0.5),
             "n_frames": 1, "batch_size": 4} for split in ("val", "test")]
    table = pd.concat([inputs["table"], pd.DataFrame(rows)], ignore_index=True)
    preds = [p for p in inputs["preds"] if p.name in ("persistence.zarr", "climatology.zarr")] + [perfect]
    _, svg = figures.plot_skill_map(inputs["store"], preds, table, tmp_path / "skill.png")
    text = svg.read_text()
    assert "perfect-T1-b4 (test AUC-PR 1.000) vs persistence" in text
    assert "pooled Brier skill 1.000; skill &gt; 0 in 100 % of the scored pixels" in text
