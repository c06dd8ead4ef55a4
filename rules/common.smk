# Helpers shared by every study's rules: config validation, paths, CLI arguments.
import glob
import os
import re
import shlex
from pathlib import Path

from eoml.core.config import canonical_json, validate_config
from eoml.core.workflow import module_files, prepare_job_environment

# Fills in schema defaults; a wrong key or type stops the workflow with the key's dotted path.
validate_config(config)

REPO = Path(workflow.basedir)
# Jobs (local, cluster or conda) run `python -m eoml` from this source tree.
prepare_job_environment(REPO)
RESULTS = Path("results")
RESOURCES = Path("resources")
LOGS = RESULTS / "logs"
BENCH = RESULTS / "benchmarks"
ENV = "../envs/eoml.yaml"


def study_enabled(study):
    return study in config["studies"]


def code(*modules):
    """Package source files a job depends on; a change to one of them reruns that job."""
    return module_files(REPO, ("core.cli", *modules))


def section_json(study, keys):
    """The given keys of a study's config section as one JSON string.

    Passed as a job's params: editing one of these keys reruns the jobs that use it, and only them.
    """
    return canonical_json({key: config[study][key] for key in keys})


def expand_globs(patterns):
    """Sorted list of files matched by a list of glob patterns (relative to the working dir)."""
    files = set()
    for pattern in patterns:
        files.update(glob.glob(os.path.expanduser(pattern)))
    return sorted(files)


def get_final_output():
    targets = []
    if study_enabled("radbelt"):
        targets.extend(radbelt_final_output())
    if study_enabled("lst"):
        targets.extend(lst_final_output())
    if study_enabled("seaice"):
        targets.extend(seaice_final_output())
    return targets


# --------------------------------------------------------------------------------------------
# radbelt
# --------------------------------------------------------------------------------------------
RB = config["radbelt"]
RB_OUT = RESULTS / "radbelt"
RB_DEMO_DIR = RESOURCES / "demo" / "radbelt"
RB_STORE = RB_OUT / "store.zarr"
RB_NEURAL = [m for m in RB["models"] if m != "linreg"]
RB_BIN_HOURS = RB["grid"]["bin_hours"]
# the config keys each kind of radbelt job reads
RB_KEYS = {
    "ingest": ["grid", "energy_kev", "on_bad_file"],
    "store": ["grid", "energy_kev"],
    "train": ["grid", "window", "features", "split", "training"],
    "linreg": ["grid", "window", "features", "split"],
    "baseline": ["grid", "split", "lpf_window", "features"],
    "evaluate": ["grid", "onset"],
    "spearman": ["grid", "features", "spearman_max_lag_bins"],
}


def radbelt_cfg(step):
    return section_json("radbelt", RB_KEYS[step])


def _radbelt_raw_groups():
    """{group: [(kind, raw path), ...]}: one ingest job per group.

    RBSP and POES files are grouped by the day in their names (YYYYMMDD), so one job bins one
    day; every OMNI file is its own group.
    """
    if RB["source"] == "demo":
        from eoml.radbelt.demo import demo_files

        files = demo_files(RB_DEMO_DIR, RB["demo"]["start"], RB["demo"]["days"])
        kinds = {"rbsp_mageis": files["rbsp"], "poes": files["poes"], "omni2_ascii": files["omni"]}
    elif RB["source"] == "raw":
        omni = expand_globs(RB["raw"]["omni"])
        kinds = {
            "rbsp_mageis": expand_globs(RB["raw"]["rbsp"]),
            "poes": expand_globs(RB["raw"]["poes"]),
            "omni_cdf": [f for f in omni if f.lower().endswith(".cdf")],
            "omni2_ascii": [f for f in omni if not f.lower().endswith(".cdf")],
        }
        for key, pattern_key in (("rbsp_mageis", "rbsp"), ("poes", "poes")):
            if not kinds[key]:
                raise ValueError(
                    f"radbelt.raw.{pattern_key}: no file matches {RB['raw'][pattern_key]}"
                )
        if not omni:
            raise ValueError(f"radbelt.raw.omni: no file matches {RB['raw']['omni']}")
    else:
        return {}
    groups = {}
    for kind, paths in kinds.items():
        for path in paths:
            day = re.search(r"_(\d{8})_", Path(path).name)
            key = day.group(1) if day and not kind.startswith("omni") else Path(path).stem
            groups.setdefault(key, []).append((kind, str(path)))
    return {key: sorted(items) for key, items in sorted(groups.items())}


RB_GROUPS = _radbelt_raw_groups()


def radbelt_demo_dir(wildcards, output):
    """The demo folder: the common parent of the generator's outputs."""
    return os.path.commonpath(list(output))


def radbelt_demo_outputs():
    return sorted(path for items in RB_GROUPS.values() for _, path in items)


def radbelt_group_files(wildcards):
    return [path for _, path in RB_GROUPS[wildcards.group]]


def radbelt_group_items(wildcards):
    """`--item KIND PATH` arguments of one ingest job."""
    return " ".join(f"--item {kind} {shlex.quote(path)}" for kind, path in RB_GROUPS[wildcards.group])


def radbelt_partials():
    return [str(RB_OUT / "partials" / f"{group}.nc") for group in RB_GROUPS]


def radbelt_premeve_files():
    folder = Path(RB["premeve_dir"])
    return sorted(str(p) for p in folder.iterdir() if p.is_file())


def radbelt_ckpt_dir(wildcards):
    return str(
        RB_OUT / "checkpoints" / wildcards.rb_model / f"lead{wildcards.lead}" / f"seed{wildcards.seed}"
    )


def _radbelt_predictions(lead):
    paths = []
    for model in RB["models"]:
        if model == "linreg":
            paths.append(RB_OUT / "models" / "linreg" / f"lead{lead}" / "predictions.nc")
        else:
            paths.extend(
                RB_OUT / "models" / model / f"lead{lead}" / f"seed{seed}" / "predictions.nc"
                for seed in RB["seeds"]
            )
    paths.extend(
        RB_OUT / "baselines" / name / f"lead{lead}" / "predictions.nc" for name in RB["baselines"]
    )
    return [str(p) for p in paths]


def radbelt_all_predictions():
    return [p for lead in RB["leads"] for p in _radbelt_predictions(lead)]


def radbelt_lead_predictions(wildcards):
    hours = int(wildcards.hours)
    lead = round(hours / RB_BIN_HOURS)
    if lead not in RB["leads"] or abs(lead * RB_BIN_HOURS - hours) > 1e-9:
        raise ValueError(f"no radbelt lead of {hours} h in radbelt.leads {RB['leads']}")
    return _radbelt_predictions(lead)


def radbelt_lead_hours():
    return [int(round(lead * RB_BIN_HOURS)) for lead in RB["leads"]]


def radbelt_final_output():
    figures = RB_OUT / "figures"
    return [
        str(RB_OUT / "metrics" / "pe.csv"),
        str(RB_OUT / "metrics" / "onsets.csv"),
        str(RB_OUT / "metrics" / "spearman.csv"),
        str(figures / "pe_vs_L.png"),
        str(figures / "spearman_lags.png"),
        *[str(figures / f"lt_maps_lead{h}h.png") for h in radbelt_lead_hours()],
        *[str(figures / f"timeseries_lead{h}h.png") for h in radbelt_lead_hours()],
    ]


# --------------------------------------------------------------------------------------------
# lst
# --------------------------------------------------------------------------------------------
LST = config["lst"]
LST_OUT = RESULTS / "lst"
LST_DEMO_DIR = RESOURCES / "demo" / "lst"
LST_PATCHES = LST_OUT / "patches.zarr"
LST_EVAL_INPUTS = LST_OUT / "eval" / "inputs.zarr"
LST_MODELS = {m["name"]: m for m in LST["models"]}
# the config keys each kind of lst job reads
LST_KEYS = {
    "ingest": ["overpass", "factor", "max_lst_error_k", "lst_range_k", "water_ndvi_max", "on_bad_file"],
    "patches": ["patch_size", "patch_stride", "factor", "split"],
    "eval_inputs": ["factor", "wald_aggregation", "evaluation"],
    "train": ["factor", "model", "training", "mixgl", "max_train_patches", "seed"],
    "evaluate": ["evaluation"],
    "maps": ["evaluation"],
    "modis250m": ["factor", "baselines", "baseline_options"],
}


def lst_model_pattern():
    """Wildcard pattern matching exactly the configured model names (never a baseline's)."""
    return "|".join(LST_MODELS) if LST_MODELS else "(?!)"


def lst_cfg(step):
    return section_json("lst", LST_KEYS[step])


def _lst_granule_pairs():
    """{scene: (MOD11A1 path, MOD09GQ path)}, scene = TILE_YYYY-MM-DD; one ingest job each."""
    from eoml.lst.readers import parse_granule_name

    if not study_enabled("lst"):
        return {}
    if LST["source"] == "demo":
        from eoml.lst.demo import demo_plan

        plan = demo_plan(LST_DEMO_DIR, LST["demo"])
        return {f"{g['tile']}_{g['date']}": (g["mod11a1"], g["mod09gq"]) for g in plan["modis"]}
    found = {"mod11a1": {}, "mod09gq": {}}
    for kind in found:
        files = expand_globs(LST["raw"][kind])
        if not files:
            raise ValueError(f"lst.raw.{kind}: no file matches {LST['raw'][kind]}")
        for path in files:
            meta = parse_granule_name(path)
            found[kind][f"{meta['tile']}_{meta['date'].isoformat()}"] = path
    unpaired = sorted(set(found["mod11a1"]) ^ set(found["mod09gq"]))
    if unpaired:
        raise ValueError(f"lst.raw: MOD11A1 and MOD09GQ granules do not pair up for {unpaired}")
    return {key: (found["mod11a1"][key], found["mod09gq"][key]) for key in sorted(found["mod11a1"])}


LST_PAIRS = _lst_granule_pairs()


def _lst_scene_entries():
    """Validation scenes: the demo's (source demo) and the configured ones."""
    scenes = []
    if not study_enabled("lst"):
        return scenes
    if LST["source"] == "demo" and LST["demo"]["scenes"]:
        from eoml.lst.demo import demo_plan

        scenes.extend(demo_plan(LST_DEMO_DIR, LST["demo"])["scenes"])
    scenes.extend(LST["validation_scenes"])
    return scenes


LST_SCENES = _lst_scene_entries()
LST_DATASETS = ["modis_wald"] + [s["name"] for s in LST_SCENES]


def lst_demo_outputs():
    files = [path for pair in LST_PAIRS.values() for path in pair]
    for scene in LST_SCENES if LST["demo"]["scenes"] else []:
        files.extend(str(scene[k]) for k in ("lst", "red", "nir", "mtl") if k in scene)
    return sorted(set(files))


def lst_demo_cfg():
    return canonical_json(LST["demo"])


def lst_demo_dir(wildcards):
    return str(LST_DEMO_DIR)


def lst_pair_mod11a1(wildcards):
    return LST_PAIRS[wildcards.lst_scene][0]


def lst_pair_mod09gq(wildcards):
    return LST_PAIRS[wildcards.lst_scene][1]


def lst_scene_stores():
    return [str(LST_OUT / "scenes" / f"{key}.zarr") for key in LST_PAIRS]


def lst_scene_files():
    return sorted({str(scene[k]) for scene in LST_SCENES for k in ("lst", "red", "nir", "mtl") if k in scene})


def lst_eval_inputs_cfg():
    keys = {key: LST[key] for key in LST_KEYS["eval_inputs"]}
    return canonical_json({**keys, "scenes": LST_SCENES})


def lst_baseline_cfg(wildcards):
    return canonical_json({"options": LST["baseline_options"][wildcards.lst_method]})


def lst_train_cfg(wildcards):
    keys = {key: LST[key] for key in LST_KEYS["train"]}
    return canonical_json({**keys, "spec": LST_MODELS[wildcards.lst_model]})


def lst_ckpt_dir(wildcards):
    return str(LST_OUT / "checkpoints" / wildcards.lst_model)


def lst_predictions():
    methods = list(LST["baselines"]) + list(LST_MODELS)
    return [str(LST_OUT / "eval" / "predictions" / f"{m}.nc") for m in methods]


def lst_model_files():
    return [str(LST_OUT / "models" / name / "model.pt") for name in LST_MODELS]


def lst_histories():
    return [str(LST_OUT / "models" / name / "history.csv") for name in LST_MODELS]


def lst_final_output():
    figures = LST_OUT / "figures"
    targets = [
        str(LST_OUT / "metrics" / "sharpening.csv"),
        str(LST_OUT / "metrics" / "ranking.csv"),
        str(figures / "metrics.png"),
        *[str(figures / f"maps_{name}.png") for name in LST_DATASETS],
    ]
    if LST_MODELS:
        targets.append(str(figures / "loss_curves.png"))
        targets.append(str(figures / "modis_250m.png"))
    return targets


# --------------------------------------------------------------------------------------------
# seaice
# --------------------------------------------------------------------------------------------
SI = config["seaice"]
SI_OUT = RESULTS / "seaice"
SI_DEMO_DIR = RESOURCES / "demo" / "seaice"
SI_KEYS = {
    "ingest": ["resolution_m", "chart_crs", "min_valid_fraction"],
    "train": ["split", "patches", "training", "weights_path", "encoder"],
    "predict": ["predict_tile"],
}


def _seaice_scenes():
    """{scene id: (SAFE path, chart path)}; one ingest job each."""
    if not study_enabled("seaice"):
        return {}
    if SI["source"] == "demo":
        from eoml.seaice.demo import demo_plan

        return {p["scene_id"]: (str(p["safe"]), str(p["chart"])) for p in demo_plan(SI_DEMO_DIR, SI["demo"])}
    return {s["id"]: (s["safe"], s["chart"]) for s in SI["raw"]["scenes"]}


SI_SCENES = _seaice_scenes()
SI_TRAINING_SCENES = [s for s in SI["split"]["half"] + SI["split"]["train"]]
SI_TEST_SCENES = list(SI["split"]["test"])


def seaice_cfg(step):
    return section_json("seaice", SI_KEYS[step])


def seaice_demo_cfg():
    return canonical_json(SI["demo"])


def seaice_demo_dir(wildcards):
    return str(SI_DEMO_DIR)


def seaice_demo_safes():
    return [safe for safe, _ in SI_SCENES.values()]


def seaice_demo_charts():
    return [chart for _, chart in SI_SCENES.values()]


def seaice_safe(wildcards):
    return SI_SCENES[wildcards.si_scene][0]


def seaice_chart(wildcards):
    return SI_SCENES[wildcards.si_scene][1]


def _seaice_store(scene):
    return str(SI_OUT / "scenes" / f"{scene}.zarr")


def seaice_training_stores():
    return [_seaice_store(s) for s in SI_TRAINING_SCENES]


def seaice_test_stores():
    return [_seaice_store(s) for s in SI_TEST_SCENES]


def seaice_training_store_args():
    """`ID=PATH` arguments of the training scenes."""
    return " ".join(shlex.quote(f"{s}={_seaice_store(s)}") for s in SI_TRAINING_SCENES)


def seaice_test_store_args():
    return " ".join(shlex.quote(f"{s}={_seaice_store(s)}") for s in SI_TEST_SCENES)


def seaice_ckpt_dir(wildcards):
    return str(SI_OUT / "checkpoints" / wildcards.si_init / f"seed{wildcards.seed}")


def seaice_predictions():
    return [str(SI_OUT / "predictions" / f"{init}_seed{seed}.nc") for init in SI["inits"] for seed in SI["seeds"]]


def seaice_final_output():
    figures = SI_OUT / "figures"
    return [
        str(SI_OUT / "metrics" / "segmentation.csv"),
        str(SI_OUT / "metrics" / "summary.csv"),
        str(figures / "confusions.png"),
        str(figures / "scores.png"),
        *[str(figures / f"scene_{s}.png") for s in SI_TEST_SCENES],
    ]
