"""Tests of seaice evaluation (scores vs scikit-learn, seed statistics, CSV layout) and figures."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from sklearn.metrics import f1_score, jaccard_score

from eoml.core.errors import InputFileError
from eoml.core.store import write_collection, write_store
from eoml.seaice.evaluate import METRIC_COLUMNS, evaluate, read_predictions
from eoml.seaice.figures import plot_confusions, plot_scene_predictions, plot_scores

SHAPE = (40, 48)
SCENES = {"egr_2019_01": "winter", "egr_2019_07": "melt"}


def _label(rng: np.random.Generator) -> np.ndarray:
    yy, xx = np.mgrid[: SHAPE[0], : SHAPE[1]]
    lab = (xx + 0.5 * yy + rng.normal(0, 4, SHAPE) > 30).astype(np.uint8)
    lab[:3, :] = 255  # ignored border
    return lab


def _write_store(path: Path, scene: str, season: str, label: np.ndarray, rng) -> Path:
    hh = (-20 + 8 * (label == 1) + rng.normal(0, 1.5, SHAPE)).astype(np.float32)
    hh[label == 255] = np.nan
    hv = (hh - 8 + rng.normal(0, 1, SHAPE)).astype(np.float32)
    ds = xr.Dataset(
        {
            "hh_db": (("y", "x"), hh, {"units": "dB", "long_name": "HH backscatter"}),
            "hv_db": (("y", "x"), hv, {"units": "dB", "long_name": "HV backscatter"}),
            "label": (("y", "x"), label, {"units": "1", "long_name": "ice/water label"}),
        },
        attrs={"scene_id": scene, "season": season, "month": int(scene[-2:])},
    )
    return write_store(ds, path)


def _write_pred(path: Path, init: str, seed: int, preds: dict[str, np.ndarray], epochs: int) -> Path:
    groups = {s: xr.Dataset({"pred": (("y", "x"), p, {"units": "1", "long_name": f"class of {s}"})})
              for s, p in preds.items()}
    attrs = {"encoder": "resnet18", "init": init, "seed": seed, "epochs_run": epochs, "best_epoch": epochs - 1}
    return write_collection(groups, path, attrs=attrs)


def _noisy(label: np.ndarray, flip: float, rng) -> np.ndarray:
    pred = label.copy()
    valid = label != 255
    pred[valid & (rng.random(SHAPE) < flip)] ^= 1
    pred[valid & (rng.random(SHAPE) < 0.03)] = 255  # a few unpredicted pixels
    return pred


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("evaluate")
    rng = np.random.default_rng(3)
    labels = {s: _label(rng) for s in SCENES}
    stores = {s: _write_store(tmp / f"{s}.zarr", s, season, labels[s], rng)
              for s, season in SCENES.items()}
    preds, files = {}, []
    for init, flip in (("imagenet", 0.05), ("random", 0.2)):
        for seed in (0, 1):
            p = {s: _noisy(labels[s], flip, rng) for s in SCENES}
            preds[(init, seed)] = p
            files.append(_write_pred(tmp / f"{init}_seed{seed}.zarr", init, seed, p, 10 + seed))
    out = tmp / "results"
    table = evaluate(files, stores, out / "segmentation.csv", out / "summary.csv")
    return {"tmp": tmp, "labels": labels, "stores": stores, "preds": preds, "files": files,
            "out": out, "table": table}


def _sk(label, pred):
    keep = (label != 255) & (pred != 255)
    t, p = label[keep], pred[keep]
    return {
        "f1_weighted": f1_score(t, p, labels=[0, 1], average="weighted"),
        "iou_micro": jaccard_score(t, p, labels=[0, 1], average="micro"),
        "iou_macro": jaccard_score(t, p, labels=[0, 1], average="macro"),
        "iou_weighted": jaccard_score(t, p, labels=[0, 1], average="weighted"),
    }


def test_segmentation_csv_columns_and_values(case):
    df = pd.read_csv(case["out"] / "segmentation.csv")
    assert tuple(df.columns) == METRIC_COLUMNS
    assert list(df.columns) == ["init", "seed", "scene", "f1_weighted", "iou_micro", "iou_macro",
                                "iou_weighted", "epochs"]
    assert len(df) == 8
    for row in df.itertuples():
        ref = _sk(case["labels"][row.scene], case["preds"][(row.init, row.seed)][row.scene])
        for col, value in ref.items():
            assert getattr(row, col) == pytest.approx(value, abs=1e-5), (row, col)
        assert row.epochs == 10 + row.seed
    # the better model scores better on every scene
    mean = df.groupby("init")["f1_weighted"].mean()
    assert mean["imagenet"] > mean["random"] + 0.05


def test_summary_means_over_seeds(case):
    df = pd.read_csv(case["out"] / "segmentation.csv")
    summary = pd.read_csv(case["out"] / "summary.csv")
    scene_rows = summary[summary.group == "scene"]
    assert len(scene_rows) == 4
    for row in scene_rows.itertuples():
        vals = df[(df.init == row.init) & (df.scene == row.name)]["iou_weighted"].to_numpy()
        assert row.n_seeds == 2
        assert row.iou_weighted_mean == pytest.approx(vals.mean(), abs=1e-5)
        assert row.iou_weighted_std == pytest.approx(vals.std(ddof=1), abs=1e-5)
    season_rows = summary[summary.group == "season"]
    assert sorted(season_rows.name.unique()) == ["melt", "winter"]
    # a season holding one scene: pooled score == that scene's score
    row = season_rows[(season_rows.init == "random") & (season_rows.name == "melt")].iloc[0]
    vals = df[(df.init == "random") & (df.scene == "egr_2019_07")]["f1_weighted"]
    assert row.f1_weighted_mean == pytest.approx(vals.mean(), abs=1e-5)


def test_confusion_csv_is_seed_mean_of_row_normalised(case):
    conf = pd.read_csv(case["out"] / "confusion.csv")
    assert list(conf.columns) == ["init", "scene", "true", "pred", "fraction"]
    assert len(conf) == 2 * 2 * 4
    sums = conf.groupby(["init", "scene", "true"])["fraction"].sum()
    np.testing.assert_allclose(sums.to_numpy(), 1.0, atol=1e-5)
    lab = case["labels"]["egr_2019_01"]
    expected = []
    for seed in (0, 1):
        pred = case["preds"][("random", seed)]["egr_2019_01"]
        keep = (lab != 255) & (pred != 255) & (lab == 1)
        expected.append(np.mean(pred[keep] == 0))
    got = conf[(conf.init == "random") & (conf.scene == "egr_2019_01") & (conf.true == "ice")
               & (conf.pred == "water")]["fraction"].item()
    assert got == pytest.approx(np.mean(expected), abs=1e-5)


def test_bad_inputs_name_the_file(case, tmp_path):
    lab = case["labels"]["egr_2019_01"]
    bad = _write_pred(tmp_path / "bad.zarr", "random", 5, {"egr_2019_01": lab[:-1]}, 3)
    with pytest.raises(InputFileError, match="bad.zarr: scene egr_2019_01: pred has shape"):
        evaluate([bad], case["stores"], tmp_path / "s.csv", tmp_path / "m.csv")
    unknown = _write_pred(tmp_path / "unknown.zarr", "random", 5, {"egr_2019_99": lab}, 3)
    with pytest.raises(InputFileError, match="egr_2019_99"):
        evaluate([unknown], case["stores"], tmp_path / "s.csv", tmp_path / "m.csv")
    with pytest.raises(InputFileError, match="already given"):
        evaluate(case["files"][:1] * 2, case["stores"], tmp_path / "s.csv", tmp_path / "m.csv")
    assert not (tmp_path / "s.csv").exists()
    with pytest.raises(InputFileError, match="missing.zarr"):
        evaluate([tmp_path / "missing.zarr"], case["stores"], tmp_path / "s.csv", tmp_path / "m.csv")
    no_attrs = write_collection({"egr_2019_01": xr.Dataset({"pred": (("y", "x"), lab, {"units": "1", "long_name": "c"})})},
                                tmp_path / "no_attrs.zarr")
    with pytest.raises(InputFileError, match=r"no_attrs.zarr: missing root attribute\(s\) \['encoder'"):
        read_predictions(no_attrs)


def test_predictions_read_back_unchanged(case):
    attrs, preds = read_predictions(case["files"][0])
    assert (attrs["init"], attrs["seed"], attrs["epochs_run"]) == ("imagenet", 0, 10)
    assert list(preds) == sorted(SCENES)
    for scene, pred in preds.items():
        assert pred.dtype == np.uint8  # 255 (no prediction) kept as is, not masked
        np.testing.assert_array_equal(pred, case["preds"][("imagenet", 0)][scene])


def test_figures_render(case, tmp_path):
    out = case["out"]
    png, svg = plot_scores(out / "segmentation.csv", tmp_path / "scores.png")
    assert png.stat().st_size > 10_000 and svg.exists()
    png, _ = plot_confusions(out / "confusion.csv", tmp_path / "confusion.png")
    assert png.stat().st_size > 10_000
    png, _ = plot_scene_predictions(case["stores"]["egr_2019_07"], case["files"],
                                    tmp_path / "scene.png")
    assert png.stat().st_size > 10_000
