"""End-to-end: the Snakemake workflow on a tiny demo configuration.

One module-scoped run serves every test here: lint, the run itself, "nothing to be done" after it,
what a touched raw file reruns, determinism of the metric files, the report, and that every file a
user configured as input (a validation scene outside the working directory) is byte-identical after
the run. A second, smaller run ingests raw files whose names are not wildcard-safe.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = [sys.executable, "-m", "snakemake"]

TINY = {
    "studies": ["radbelt", "lst", "seaice", "scenes", "clouds", "aot"],
    "radbelt": {
        "source": "demo",
        "demo": {"start": "2019-03-01", "days": 60, "seed": 3},
        "leads": [5],
        "models": ["linreg", "mlp"],
        "baselines": ["persistence", "lpf"],
        "seeds": [0],
        "training": {"max_epochs": 4, "early_stopping_patience": 2, "batch_size": 512},
        "spearman_max_lag_bins": 6,
    },
    "lst": {
        "source": "demo",
        "demo": {"n_dates": 3, "step_days": 3, "seed": 5, "scenes": True},
        "models": [
            {"name": "mrunet_paper_wald", "variant": "paper", "protocol": "wald"},
            {"name": "mrunet_student_mixgl", "variant": "student", "protocol": "mixgl"},
        ],
        "model": {"base_channels": 8, "depth": 2, "res_blocks": 1},
        "max_train_patches": 48,
        "mixgl": {"alpha": 0.5, "beta": 0.5, "crop": 16},
        "training": {"max_epochs": 2, "early_stopping_patience": 2, "batch_size": 16},
        "evaluation": {"border_crop": 16, "max_patches": 12},
    },
    "seaice": {
        "source": "demo",
        "demo": {"size": 256, "seed": 5},
        "encoder": "efficientnet_lite0",
        "inits": ["imagenet", "random"],
        "seeds": [0],
        "patches": {"n_per_scene": 6, "size": 32, "max_invalid": 0.3},
        "training": {"max_epochs": 2, "batch_size": 8, "learning_rate": 0.001, "early_stopping_patience": 2},
    },
    "scenes": {
        "source": "demo",
        "demo": {"classes": ["agricultural", "forest", "runway", "storagetanks"], "n_per_class": 8, "size": 32,
                 "seed": 7},
        "image_size": 32,
        "experiments": {"transfer": {"depths": ["intermediate"], "modes": ["feature_extraction", "random"],
                                     "optimizer": "adam"}},
        "seeds": [0],
        "training": {"max_epochs": 2, "batch_size": 8, "early_stopping_patience": 2},
        "gradcam": {"n_images": 2},
    },
    "clouds": {
        "source": "demo",
        "demo": {"n_goes_scenes": 2, "n_kaggle_images": 6, "kaggle_shape": [128, 192], "kaggle_km_per_px": 8.0,
                 "goes_domain": {"lon_min": -58.0, "lon_max": -57.0, "lat_min": 13.0, "lat_max": 14.0},
                 "n_expert_images": 4, "expert_shape": [64, 64]},
        "domain": {"lon_min": -58.0, "lon_max": -57.0, "lat_min": 13.0, "lat_max": 14.0, "resolution_deg": 0.01},
        "triplets": {"tile_px": 32, "n_triplets": 24},
        "embedding": {"backbone": "efficientnet_lite0", "cut": "intermediate", "dim": 8},
        "training": {"max_epochs": 1, "batch_size": 8},
        "analysis": {"tile_sizes": [16, 32], "max_tiles": 40, "k_range": [2, 3], "unlabelled_min_px": 16,
                     "permutations": 99},
        "classifier": {"grid": [{"name": "lite0", "backbone": "efficientnet_lite0", "weights": "imagenet",
                                 "head": [8]}],
                       "input_px": 32, "training": {"max_epochs": 1, "batch_size": 8}, "n_feature_maps": 2},
        "deepcluster": {"backbone": "efficientnet_lite0", "cut": "intermediate", "k": 3, "pca_dim": 4,
                        "training": {"max_epochs": 2, "batch_size": 16}},
        "autoencoder": {"channels": [8, 4], "training": {"max_epochs": 1, "batch_size": 16}},
    },
    "aot": {
        "source": "demo",
        "demo": {"first_year": 2001, "years": 1, "missing_periods": ["2001-05-09"]},
        "grid": 20.0,
        "history": 2,
        "experiments": [{"name": "convlstm", "model": "convlstm", "hidden": [4], "input_lengths": [1, 2]},
                        {"name": "sa_convlstm", "model": "sa_convlstm", "hidden": [4], "batch_sizes": [8]}],
        "training": {"max_epochs": 1},
    },
}
LST_METHODS = {"bilinear", "bicubic", "tsharp", "atprk", "aatprk", "mrunet_paper_wald", "mrunet_student_mixgl"}

pytestmark = pytest.mark.slow


def snakemake(workdir: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    cmd = [
        *SNAKEMAKE,
        "--snakefile", str(REPO / "Snakefile"),
        "--directory", str(workdir),
        "--configfile", str(workdir / "config.yaml"),
        "--cores", "2",
        *args,
    ]
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc


def planned_jobs(proc: subprocess.CompletedProcess) -> dict[str, int]:
    """Job counts per rule from a dry run's job-stats table."""
    counts = {}
    text = proc.stdout + proc.stderr
    block = text.split("Job stats:")[-1] if "Job stats:" in text else ""
    for line in block.splitlines():
        match = re.match(r"^(\w+)\s+(\d+)\s*$", line.strip())
        if match and match.group(1) != "total":
            counts[match.group(1)] = int(match.group(2))
    return counts


def digests(paths) -> dict[str, str]:
    return {str(p): hashlib.sha256(Path(p).read_bytes()).hexdigest() for p in paths}


@pytest.fixture(scope="module")
def user_scene(tmp_path_factory) -> dict:
    """A user's validation scene (Landsat-8 B10 / B4 / B5 GeoTIFFs + MTL) outside the working dir."""
    from eoml.core.settings import study_settings
    from eoml.lst.demo import generate_scenes

    folder = tmp_path_factory.mktemp("user_data")
    demo_cfg = study_settings("lst", {"demo": {"seed": 17}}).demo
    landsat = [e for e in generate_scenes(folder, demo_cfg) if e["lst_kind"] == "landsat_b10"][0]
    for entry in Path(folder, "scenes").iterdir():  # keep only the Landsat scene
        if entry.name != Path(landsat["lst"]).parent.name:
            shutil.rmtree(entry)
    return {**landsat, "name": "landsat_user"}


@pytest.fixture(scope="module")
def workdir(tmp_path_factory, user_scene) -> Path:
    work = tmp_path_factory.mktemp("workflow")
    config = {**TINY, "lst": {**TINY["lst"], "validation_scenes": [user_scene]}}
    (work / "config.yaml").write_text(yaml.safe_dump(config))
    user_files = [user_scene[k] for k in ("lst", "red", "nir", "mtl")]
    before = digests(user_files)
    snakemake(work)
    work.joinpath("user_files.yaml").write_text(yaml.safe_dump({"before": before}))
    return work


def test_parsing_the_workflow_imports_no_heavy_library(tmp_path):
    """Every `snakemake` start (dry runs, --report, --lint) parses the rules: that must not import
    torch, scikit-learn, matplotlib or scipy (about 5 s on 2 cores), only the studies' light modules."""
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(TINY))
    cmd = [sys.executable, "-X", "importtime", "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"),
           "--directory", str(tmp_path), "--configfile", str(tmp_path / "config.yaml"), "-n", "--quiet", "rules"]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    imported = {line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")}
    assert "eoml.clouds.names" in imported and "snakemake.workflow" in imported
    heavy = sorted(m for m in imported if m.split(".")[0] in {"torch", "sklearn", "matplotlib", "scipy"})
    assert not heavy, heavy[:10]


def test_user_input_files_are_byte_identical_after_the_run(workdir, user_scene):
    before = yaml.safe_load((workdir / "user_files.yaml").read_text())["before"]
    assert len(before) == 4
    assert digests(before) == before
    table = pd.read_csv(workdir / "results" / "lst" / "metrics" / "sharpening.csv")
    assert "landsat_user" in set(table["dataset"])


def test_lint_is_clean():
    proc = subprocess.run(
        [*SNAKEMAKE, "--lint", "--snakefile", str(REPO / "Snakefile"), "--directory", str(REPO)],
        capture_output=True, text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Lints for" not in proc.stdout + proc.stderr, proc.stdout + proc.stderr


def test_run_produces_metrics_and_figures(workdir):
    rb = workdir / "results" / "radbelt"
    pe = pd.read_csv(rb / "metrics" / "pe.csv")
    assert list(pe.columns) == ["model", "lead_hours", "split", "L", "pe"]
    assert set(pe["model"]) == {"linreg", "mlp", "persistence", "lpf"}
    assert set(pe["split"]) == {"train", "val", "test", "val+test"}
    assert {"mean", "GEO"} <= set(pe["L"].astype(str))
    for name in ("pe_vs_L", "spearman_lags", "lt_maps_lead25h", "timeseries_lead25h"):
        assert (rb / "figures" / f"{name}.png").stat().st_size > 10_000
        assert (rb / "figures" / f"{name}.svg").exists()
    assert (rb / "store.zarr" / "zarr.json").exists()
    logs = list((workdir / "results" / "logs" / "radbelt").rglob("*.log"))
    assert len(logs) > 10


def test_lst_run_produces_the_metric_table_and_figures(workdir):
    lst = workdir / "results" / "lst"
    table = pd.read_csv(lst / "metrics" / "sharpening.csv")
    assert list(table.columns) == ["method", "dataset", "factor", "psnr", "ssim", "rmse_k", "n_pixels"]
    assert set(table["method"]) == LST_METHODS
    assert set(table["dataset"]) == {"modis_wald", "aster_demo", "landsat_demo", "landsat_user"}
    assert table[["psnr", "ssim", "rmse_k"]].notna().all().all()
    assert (table["n_pixels"] > 0).all()
    # every method is scored on the same pixels of a dataset
    assert (table.groupby("dataset")["n_pixels"].nunique() == 1).all()
    figures = ["metrics", "loss_curves", "modis_250m", "maps_modis_wald", "maps_aster_demo", "maps_landsat_demo",
               "maps_landsat_user"]
    for name in figures:
        assert (lst / "figures" / f"{name}.png").stat().st_size > 10_000, name
    history = pd.read_csv(lst / "models" / "mrunet_student_mixgl" / "history.csv")
    assert {"train_mse", "val_mse", "train_mge", "val_mge"} <= set(history.columns)
    assert (lst / "patches.zarr" / "zarr.json").exists()
    assert len(list((workdir / "results" / "logs" / "lst").rglob("*.log"))) >= 15


def test_seaice_run_produces_scores_and_figures(workdir):
    si = workdir / "results" / "seaice"
    table = pd.read_csv(si / "metrics" / "segmentation.csv")
    assert list(table.columns) == ["init", "seed", "scene", "f1_weighted", "iou_micro", "iou_macro", "iou_weighted",
                                   "epochs"]
    assert set(table["init"]) == {"imagenet", "random"}
    assert set(table["scene"]) == {"egr_2019_01", "egr_2019_07"}
    assert table[["f1_weighted", "iou_micro"]].notna().all().all()
    for name in ("confusions", "scores", "scene_egr_2019_01", "scene_egr_2019_07"):
        assert (si / "figures" / f"{name}.png").stat().st_size > 10_000, name
    store = si / "scenes" / "egr_2019_07.zarr" / "zarr.json"
    assert store.exists()


def test_scenes_run_produces_the_tables_and_figures(workdir):
    sc = workdir / "results" / "scenes"
    table = pd.read_csv(sc / "metrics" / "accuracy.csv")
    assert list(table.columns) == ["dataset", "backbone", "depth", "mode", "optimizer", "init", "seed", "attempt",
                                   "split", "accuracy", "f1_macro", "kappa", "epochs", "collapsed"]
    assert set(table["backbone"]) == {"efficientnet_lite0", "colour_histogram"}
    assert set(table["mode"]) == {"feature_extraction", "random", "baseline"}
    assert set(table["split"]) == {"train", "val", "test"}
    assert table["accuracy"].between(0, 1).all()
    best = pd.read_csv(sc / "metrics" / "best.csv")
    assert list(best["dataset"]) == ["demo"]
    for name in ("accuracy_curves", "accuracy_grid", "accuracy_gap", "confusions", "gradcam_demo"):
        assert (sc / "figures" / f"{name}.png").stat().st_size > 10_000, name
    store = sc / "stores" / "demo.zarr" / "zarr.json"
    assert store.exists()


def test_clouds_run_produces_the_tables_and_figures(workdir):
    cl = workdir / "results" / "clouds"
    nmi = pd.read_csv(cl / "metrics" / "nmi.csv")
    assert list(nmi.columns) == ["model", "trained_on", "evaluated_on", "tile_px", "n_tiles", "method", "k", "nmi",
                                 "explained_variance"]
    assert set(nmi["model"]) == {"goes", "modis", "deepcluster", "dcae", "imagenet"}
    assert set(nmi["evaluated_on"]) == {"demo", "demo_expert"}  # the Kaggle-layout set and the expert set
    assert set(nmi["tile_px"]) == {0, 16, 32}  # 0: the labelled rectangles
    assert nmi.loc[nmi["method"].isin(["ward", "kmeans"]) & (nmi["n_tiles"] > 4), "nmi"].between(0, 1).all()
    metrics = pd.read_csv(cl / "metrics" / "cloud_metrics.csv")
    assert {"label", "cloud_fraction", "iorg", "goes_ward", "modis_kmeans"} <= set(metrics.columns)
    silhouette = pd.read_csv(cl / "metrics" / "silhouette.csv")
    assert {"embedding", "cloud_metrics_pca"} <= set(silhouette["features"])
    for name in ("triplets_goes", "triplets_modis", "training_distances", "dendrogram_modis", "pca_goes",
                 "pc_map_goes", "pc_map_modis", "confusions", "nmi_vs_scale", "cloud_metrics"):
        assert (cl / "figures" / f"{name}.png").stat().st_size > 10_000, name
    assert len(list((cl / "stores" / "goes").glob("*.zarr"))) == 2


def test_clouds_part_two_classifier_and_the_comparison_of_embeddings(workdir):
    """The supervised classifier (held-out Kaggle images and the expert set), DeepCluster, the
    autoencoder and the untrained features beside Tile2Vec in embeddings.csv; labelled vs
    unlabelled squares; every figure of part 2."""
    cl = workdir / "results" / "clouds"
    scores = pd.read_csv(cl / "metrics" / "classifier.csv")
    assert set(scores["evaluated_on"]) == {"demo/test", "demo_expert"} and set(scores["model"]) == {"lite0"}
    assert set(scores["class"]) >= {"Fish", "Flower", "Gravel", "Sugar", "macro", "accuracy"}
    assert scores["f1"].dropna().between(0, 1).all()
    table = pd.read_csv(cl / "metrics" / "embeddings.csv")
    assert set(table["model"]) == {"goes", "modis", "deepcluster", "dcae", "imagenet"}
    assert set(table["evaluated_on"]) == {"demo", "demo_expert"}
    assert table.loc[table["model"] == "deepcluster", "k_own"].eq(3).all()
    assert table["nmi_kmeans"].dropna().between(0, 1).all()
    unlabelled = pd.read_csv(cl / "metrics" / "unlabelled.csv")
    assert set(unlabelled["evaluated_on"]) == {"demo"} and unlabelled["p_value"].between(0, 1).all()
    for name in ("classifier_confusion", "classifier_scores", "gradcam_lite0", "feature_maps_lite0", "embeddings",
                 "unlabelled_modis", "deepcluster_confusion", "deepcluster_examples", "dcae_reconstructions"):
        assert (cl / "figures" / f"{name}.png").stat().st_size > 10_000, name


def test_aot_run_produces_the_tables_and_figures(workdir):
    aot = workdir / "results" / "aot"
    scores = pd.read_csv(aot / "metrics" / "scores.csv")
    assert set(scores["model"]) == {"convlstm", "sa_convlstm", "persistence", "climatology"}
    assert set(scores["config"]) == {"convlstm-T1-b4", "convlstm-T2-b4", "sa_convlstm-T2-b8", "persistence",
                                     "climatology"}
    assert set(scores["split"]) == {"val", "test"} and scores["auc_pr"].between(0, 1).all()
    crit = pd.read_csv(aot / "metrics" / "criteria.csv")
    pers = crit[crit["model"] == "persistence"]
    assert len(pers) == 5 and (pers["value"] == pers["dtc"]).all()
    for table in ("grid", "batch_size", "input_length", "test"):
        assert len(pd.read_csv(aot / "metrics" / f"{table}.csv")) > 0, table
    for name in ("maps", "pr_curves", "input_length", "batch_size", "thresholds", "skill_map"):
        assert (aot / "figures" / f"{name}.png").stat().st_size > 10_000, name
    # the demo wrote both layouts; the store holds the NEO GeoTIFFs' series, the gap left open
    demo = workdir / "resources" / "demo" / "aot"
    assert len(list((demo / "neo").glob("*.FLOAT.TIFF"))) == len(list((demo / "mod08_e3").glob("*.hdf"))) == 45
    log = (workdir / "results" / "logs" / "aot" / "ingest.log").read_text()
    assert "missing from the series (gaps, never bridged): 2001-05-09" in log


def test_a_changed_image_reruns_only_its_dataset(workdir):
    image = sorted((workdir / "resources" / "demo" / "scenes").rglob("*.tif"))[3]
    original = image.read_bytes()
    try:
        image.write_bytes(original[:-1] + bytes([original[-1] ^ 1]))
        counts = planned_jobs(snakemake(workdir, "-n"))
        assert counts.get("scenes_ingest") == 1, counts
        assert "scenes_demo_raw" not in counts
        assert not any(rule.startswith(("radbelt", "lst", "seaice", "clouds", "aot")) for rule in counts), counts
    finally:
        image.write_bytes(original)
    again = snakemake(workdir, "-n")
    assert "Nothing to be done" in again.stdout + again.stderr


def test_nothing_to_do_after_a_run(workdir):
    proc = snakemake(workdir, "-n")
    assert "Nothing to be done" in proc.stdout + proc.stderr, proc.stdout + proc.stderr


def test_a_changed_raw_file_reruns_only_its_dependents(workdir):
    import netCDF4

    raw = sorted((workdir / "resources" / "demo" / "radbelt" / "poes").glob("*.nc"))[10]
    # a newer mtime with the same bytes: Snakemake compares checksums and reruns nothing
    os.utime(raw)
    same = snakemake(workdir, "-n")
    assert "Nothing to be done" in same.stdout + same.stderr, same.stdout + same.stderr
    # new content, as after a re-download of a reprocessed file
    original = raw.read_bytes()
    try:
        with netCDF4.Dataset(raw, "a") as nc:
            nc.setncattr("history", "reprocessed")
        counts = planned_jobs(snakemake(workdir, "-n"))
        assert counts.get("radbelt_ingest") == 1, counts
        assert "radbelt_demo_raw" not in counts
        assert counts.get("radbelt_combine") == 1
        assert counts.get("radbelt_train") == 1
    finally:
        # the original bytes again: the later tests expect a complete, up-to-date run
        raw.write_bytes(original)
    again = snakemake(workdir, "-n")
    assert "Nothing to be done" in again.stdout + again.stderr


def test_same_config_and_seed_give_identical_metric_files(workdir):
    metrics = workdir / "results" / "radbelt" / "metrics"
    before = {p.name: p.read_bytes() for p in metrics.glob("*.csv")}
    shutil.rmtree(workdir / "results" / "radbelt" / "checkpoints")
    snakemake(workdir, "--forcerun", "radbelt_train", "radbelt_linreg", "radbelt_baseline")
    after = {p.name: p.read_bytes() for p in metrics.glob("*.csv")}
    assert before.keys() == after.keys()
    for name in before:
        assert before[name] == after[name], f"{name} changed between identical runs"


def test_report_holds_figures_with_captions(workdir):
    snakemake(workdir, "--report", "report.html")
    html = (workdir / "report.html").read_text(errors="replace")
    for text in ("lt_maps_lead25h.png", "pe_vs_L.png", "spearman_lags.png", "pe.csv",
                 "sharpening.csv", "maps_modis_wald.png", "loss_curves.png", "modis_250m.png",
                 "segmentation.csv", "confusions.png", "accuracy.csv", "accuracy_grid.png", "gradcam_demo.png",
                 "criteria.csv", "skill_map.png", "input_length.png"):
        assert text in html
    assert "Performance efficiency" in html
    assert "Wald's protocol" in html


def test_a_truncated_raw_file_stops_the_workflow_naming_it(workdir):
    raw = sorted((workdir / "resources" / "demo" / "radbelt" / "poes").glob("*.nc"))[5]
    original = raw.read_bytes()
    store = workdir / "results" / "radbelt" / "store.zarr"
    store_before = (store / "zarr.json").read_bytes()
    try:
        raw.write_bytes(original[: len(original) // 2])
        proc = snakemake(workdir, check=False)
        assert proc.returncode != 0
        day = re.search(r"_(\d{8})_", raw.name).group(1)
        log = (workdir / "results" / "logs" / "radbelt" / "ingest" / f"{day}.log").read_text()
        assert raw.name in log and "truncated" in log.lower(), log
        # the failed job left no partial behind and the store was not touched
        assert not (workdir / "results" / "radbelt" / "partials" / f"{day}.nc").exists()
        assert (store / "zarr.json").read_bytes() == store_before
    finally:
        raw.write_bytes(original)
    snakemake(workdir)


def test_raw_files_with_any_name_are_ingested(workdir, tmp_path):
    """`omni2_2019 (1).dat` (a browser's second download) is ingested, also beside an existing store."""
    demo = workdir / "resources" / "demo" / "radbelt"
    raw = tmp_path / "downloads"
    for kind in ("rbsp", "poes"):
        (raw / kind).mkdir(parents=True)
        for path in sorted((demo / kind).iterdir())[:6]:
            shutil.copy(path, raw / kind / path.name)
    (raw / "omni").mkdir()
    omni = sorted((demo / "omni").iterdir())[0]
    shutil.copy(omni, raw / "omni" / f"{omni.stem} (1){omni.suffix}")
    work = tmp_path / "work"
    work.mkdir()
    config = {"studies": ["radbelt"], "radbelt": {"source": "raw", "raw": {
        "rbsp": [str(raw / "rbsp" / "*.cdf")], "poes": [str(raw / "poes" / "*.nc")],
        "omni": [str(raw / "omni" / "*")]}}}
    (work / "config.yaml").write_text(yaml.safe_dump(config))
    store = "results/radbelt/store.zarr"
    snakemake(work, store)
    import xarray as xr

    with xr.open_zarr(work / store) as ds:
        assert f"{omni.stem} (1){omni.suffix}" in ds.attrs["source_files"]
        assert ds["sw_speed"].notnull().any()
    # a second copy beside the existing store: planned (not silently left out), then ingested
    shutil.copy(omni, raw / "omni" / f"{omni.stem} (2){omni.suffix}")
    counts = planned_jobs(snakemake(work, "-n", store))
    assert counts == {"radbelt_ingest": 1, "radbelt_combine": 1}, counts
    snakemake(work, store)
    with xr.open_zarr(work / store) as ds:
        assert f"{omni.stem} (2){omni.suffix}" in ds.attrs["source_files"]


def test_clouds_runs_on_goes_files_alone(tmp_path):
    """Any subset of the inputs runs: GOES scenes without labelled images give the GOES model, its
    maps and figures (no NMI: no labels), not an error."""
    clouds = {**TINY["clouds"], "demo": {**TINY["clouds"]["demo"], "n_kaggle_images": 0, "n_expert_images": 0}}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump({"studies": ["clouds"], "clouds": clouds}))
    snakemake(tmp_path)
    cl = tmp_path / "results" / "clouds"
    assert not (cl / "stores" / "kaggle").exists()
    assert pd.read_csv(cl / "metrics" / "nmi.csv").empty
    assert {p.stem for p in (cl / "figures").glob("*.png")} >= {"triplets_goes", "pc_map_goes", "nmi_vs_scale"}
    assert not (cl / "figures" / "triplets_modis.png").exists()
