# lst: the helpers of rules/lst.smk (paths, config keys per step, input functions).
from eoml.core.workflow import SAFE_ID

LST = config["lst"]
LST_OUT = RESULTS / "lst"
LST_DEMO_DIR = RESOURCES / "demo" / "lst"
LST_MODELS = {m["name"]: m for m in LST["models"]}
# the config keys each lst step reads
LST_KEYS = {
    "demo": ["demo"],
    "ingest": ["overpass", "factor", "max_lst_error_k", "lst_range_k", "water_ndvi_max", "on_bad_file"],
    "patches": ["patch_size", "patch_stride", "factor", "split"],
    "eval-inputs": ["factor", "wald_aggregation", "evaluation"],
    "train": ["factor", "model", "training", "mixgl", "max_train_patches", "seed"],
    "evaluate": ["evaluation"],
    "figure-modis250m": ["factor", "baselines", "baseline_options"],
}

# every output path, once
LST_PATHS = {
    "scene": LST_OUT / "scenes" / "{lst_scene}.zarr",
    "patches": LST_OUT / "patches.zarr",
    "eval_inputs": LST_OUT / "eval" / "inputs.zarr",
    "model": LST_OUT / "models" / "{lst_model}" / "{file}",
    "checkpoints": LST_OUT / "checkpoints" / "{lst_model}",
    "predictions": LST_OUT / "eval" / "predictions" / "{lst_method}.zarr",
    "metrics": LST_OUT / "metrics" / "{table}.csv",
    "figure": LST_OUT / "figures" / "{name}.png",
}


def lst_cfg(step, **extra):
    return section_json("lst", LST_KEYS[step], **extra)


def lst_path(name, **wildcards):
    """An lst path template with some of its wildcards filled in."""
    return expand(LST_PATHS[name], **wildcards, allow_missing=True)[0]


def _lst_granule_pairs():
    """{scene: (MOD11A1 path, MOD09GQ path)}, scene = TILE_YYYY-MM-DD; one ingest job each."""
    from eoml.lst.readers import parse_granule_name

    if LST["source"] == "demo":
        return {f"{g['tile']}_{g['date']}": (g["mod11a1"], g["mod09gq"]) for g in LST_DEMO_PLAN["modis"]}
    found = {"mod11a1": {}, "mod09gq": {}}
    for kind in found:
        files = expand_globs(LST["raw"][kind])
        if not files:
            raise ValueError(f"lst.raw.{kind}: no file matches {LST['raw'][kind]}")
        for path in files:
            meta = parse_granule_name(path)
            key = f"{meta['tile']}_{meta['date'].isoformat()}"
            if key in found[kind]:
                raise ValueError(f"lst.raw.{kind}: two granules for {key}: {found[kind][key]} and {path}")
            found[kind][key] = path
    unpaired = sorted(set(found["mod11a1"]) ^ set(found["mod09gq"]))
    if unpaired:
        raise ValueError(f"lst.raw: MOD11A1 and MOD09GQ granules do not pair up for {unpaired}")
    return {key: (found["mod11a1"][key], found["mod09gq"][key]) for key in sorted(found["mod11a1"])}


if LST["source"] == "demo":
    from eoml.lst.demo import demo_plan

    LST_DEMO_PLAN = demo_plan(LST_DEMO_DIR, LST["demo"])
else:
    LST_DEMO_PLAN = {"modis": [], "scenes": []}
LST_PAIRS = _lst_granule_pairs()
# validation scenes: the demo's (generated, ours) and the user's (read, never written)
LST_SCENES = LST_DEMO_PLAN["scenes"] + LST["validation_scenes"]
LST_DATASETS = ["modis_wald"] + [s["name"] for s in LST_SCENES]
LST_SCENE_KEYS = ("lst", "red", "nir", "mtl")


def _scene_files(scenes):
    return sorted({str(scene[k]) for scene in scenes for k in LST_SCENE_KEYS if k in scene})


def lst_pair_file(kind):
    index = {"mod11a1": 0, "mod09gq": 1}[kind]

    def pair_file(wildcards):
        return LST_PAIRS[wildcards.lst_scene][index]

    return pair_file


def lst_scene_stores():
    return expand(LST_PATHS["scene"], lst_scene=LST_PAIRS)


def lst_predictions():
    return expand(LST_PATHS["predictions"], lst_method=[*LST["baselines"], *LST_MODELS])


def lst_model_files(file):
    return expand(LST_PATHS["model"], lst_model=LST_MODELS, file=file)


def lst_baseline_cfg(wildcards):
    return canonical_json({"options": LST["baseline_options"][wildcards.lst_method]})


def lst_train_cfg(wildcards):
    return lst_cfg("train", spec=LST_MODELS[wildcards.lst_model])


def lst_ckpt_dir(wildcards):
    return expand(LST_PATHS["checkpoints"], **wildcards)[0]


def lst_metrics(table):
    return expand(LST_PATHS["metrics"], table=table)[0]


def lst_figure(name):
    return expand(LST_PATHS["figure"], name=name, allow_missing=True)[0]


def lst_final_output():
    figures = ["metrics", *[f"maps_{name}" for name in LST_DATASETS]]
    if LST_MODELS:
        figures += ["loss_curves", "modis_250m"]
    return expand(LST_PATHS["metrics"], table=["sharpening", "ranking"]) + expand(LST_PATHS["figure"], name=figures)


FINAL_OUTPUTS["lst"] = lst_final_output
