"""The LST evaluation chain on small inputs: eval inputs -> baselines / a U-Net -> metrics -> figures."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from lst_hdf import write_tif
from lst_patches import write_patch_store

from eoml.core.errors import InputFileError
from eoml.core.store import open_collection
from eoml.lst import evaluate, figures
from eoml.lst.scaling import aggregate_lst
from eoml.lst.train import train_model

FACTOR = 4
CFG = {"factor": FACTOR, "wald_aggregation": "radiance", "evaluation": {"border_crop": 4, "max_patches": 5}}


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("lstchain")
    patches = write_patch_store(root / "patches.zarr", n_train=8, n_val=6, patch_size=16, seed=3)
    # a kelvin validation scene whose fine structure follows NDVI (so sharpening with NDVI helps)
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:48, 0:48]
    ndvi = np.clip(0.5 + 0.3 * np.sin(x / 3.0) * np.cos(y / 4.0) + 0.05 * rng.normal(size=(48, 48)), 0.05, 0.9)
    lst = (315 - 20 * ndvi + 0.01 * x).astype(np.float32)
    lst[0, :5] = np.nan
    red = np.full((48, 48), 0.05, np.float32)
    nir = (red * (1 + ndvi) / (1 - ndvi)).astype(np.float32)
    kw = {"origin": (500000.0, 4000000.0), "pixel": 90.0}
    scene = {"name": "kelvin_scene", "lst_kind": "kelvin", "factor": FACTOR,
             "lst": str(write_tif(root / "lst.tif", lst, nodata=np.nan, **kw)),
             "red": str(write_tif(root / "red.tif", red, **kw)),
             "nir": str(write_tif(root / "nir.tif", nir, **kw)),
             "reflectance_scale": 1.0, "reflectance_offset": 0.0}  # the schema's defaults
    inputs = evaluate.build_eval_inputs(patches, [scene], root / "inputs.zarr", CFG)
    preds = [evaluate.predict_baseline(m, inputs, root / f"{m}.zarr", {}) for m in ("bicubic", "tsharp", "atprk")]
    spec = {"name": "mrunet_paper_wald", "variant": "paper", "protocol": "wald", "ndvi": True}
    train_cfg = {"factor": FACTOR, "model": {"base_channels": 4, "depth": 2, "res_blocks": 1},
                 "training": {"max_epochs": 1, "batch_size": 4, "learning_rate": 0.001, "early_stopping_patience": 8,
                              "lr_patience": 3, "lr_factor": 0.5, "min_lr": 1e-06},
                 "mixgl": {"alpha": 0.2, "beta": 0.8, "crop": 8},
                 "max_train_patches": None}
    model = train_model(patches, spec, root / "model", root / "ckpt", train_cfg, 0)
    preds.append(evaluate.predict_model(model, inputs, root / "mrunet_paper_wald.zarr"))
    metrics = evaluate.evaluate(inputs, preds, root / "sharpening.csv", root / "ranking.csv", CFG)
    return {"root": root, "patches": patches, "inputs": inputs, "preds": preds, "metrics": metrics,
            "model": model, "scene": scene}


def test_eval_inputs_hold_wald_patches_and_the_scene(chain):
    tree = open_collection(chain["inputs"])
    assert list(tree.children) == ["modis_wald", "kelvin_scene"]  # one group per dataset, in order
    assert tree.attrs["aggregation"] == "radiance" and tree.attrs["config_digest"]  # provenance
    wald, scene = tree["modis_wald"], tree["kelvin_scene"]
    assert wald.attrs["factor"] == FACTOR and len(wald.attrs["patch_indices"]) == 5
    truth = wald["truth"].values
    assert truth.shape == (5, 16, 16)  # max_patches of the 6 validation patches
    assert {wald[v].dtype for v in evaluate.ARRAYS} == {np.dtype(np.float32)}
    np.testing.assert_allclose(wald["lst_coarse"].values, aggregate_lst(truth, FACTOR), rtol=1e-6)
    assert scene["truth"].shape == (1, 48, 48) and scene["lst_coarse"].dims == ("n", "yc", "xc")
    assert np.isnan(scene["lst_coarse"].values[0, 0, :2]).all()


def test_predictions_are_a_collection_per_method(chain):
    tree = open_collection(chain["preds"][0])
    assert tree.attrs["method"] == "bicubic" and tree.attrs["kind"] == "baseline"
    assert list(tree.children) == ["modis_wald", "kelvin_scene"]
    pred = tree["kelvin_scene"]["pred"]
    assert pred.dtype == np.float32 and pred.shape == (1, 48, 48) and pred.attrs["units"] == "K"
    loaded = evaluate.load_predictions(chain["preds"])
    assert list(loaded) == ["bicubic", "tsharp", "atprk", "mrunet_paper_wald"]
    with pytest.raises(InputFileError, match="bicubic.zarr.*given twice"):
        evaluate.load_predictions(chain["preds"][:1] * 2)
    with pytest.raises(InputFileError, match="inputs.zarr.*no 'method' root attribute"):
        evaluate.load_predictions([chain["inputs"]])


def test_metric_table_columns_rows_and_common_pixels(chain):
    table = pd.read_csv(chain["root"] / "sharpening.csv")
    assert list(table.columns) == evaluate.METRIC_COLUMNS
    assert set(table["method"]) == {"bicubic", "tsharp", "atprk", "mrunet_paper_wald"}
    assert (table.groupby("dataset")["n_pixels"].nunique() == 1).all()
    scene = table[table["dataset"] == "kelvin_scene"].set_index("method")
    assert scene.loc["tsharp", "rmse_k"] < 0.5 * scene.loc["bicubic", "rmse_k"]
    # NaN parent blocks are scored nowhere: 40x40 after the crop, minus nothing (NaNs are in the border)
    assert scene.loc["bicubic", "n_pixels"] == 40 * 40
    ranking = pd.read_csv(chain["root"] / "ranking.csv")
    assert ranking.groupby("dataset")["rank"].min().eq(1).all()


def test_figures_render(chain, tmp_path):
    out = figures.plot_maps(chain["inputs"], chain["preds"], "kelvin_scene", tmp_path / "maps.png")
    assert out.stat().st_size > 10_000 and (tmp_path / "maps.svg").exists()
    figures.plot_maps(chain["inputs"], chain["preds"], "modis_wald", tmp_path / "maps_w.png")
    figures.plot_metrics(chain["root"] / "sharpening.csv", tmp_path / "metrics.png")
    figures.plot_loss_curves([chain["root"] / "model" / "history.csv"], tmp_path / "loss.png")
    for name in ("maps_w", "metrics", "loss"):
        assert (tmp_path / f"{name}.png").stat().st_size > 10_000
    with pytest.raises(ValueError, match="not in"):
        figures.plot_maps(chain["inputs"], chain["preds"], "nope", tmp_path / "x.png")


def test_labels_and_colours():
    assert figures.label("mrunet_student_mixgl") == "MRUNet student / MixGL"
    assert figures.label("atprk") == "ATPRK"
    colours = figures.method_colors(["bicubic", "mrunet_a", "mrunet_b"])
    assert len(set(map(str, colours.values()))) == 3


def test_a_border_crop_larger_than_the_images_is_refused_before_any_method_runs(chain, tmp_path):
    from eoml.core.errors import ConfigError

    cfg = {**CFG, "evaluation": {"border_crop": 8, "max_patches": 5}}
    with pytest.raises(ConfigError, match=r"lst.evaluation.border_crop: 8 px .* 16 x 16 images of dataset 'modis_wald'"):
        evaluate.build_eval_inputs(chain["patches"], [chain["scene"]], tmp_path / "inputs.zarr", cfg)
    assert not (tmp_path / "inputs.zarr").exists()
