# seaice: the helpers of rules/seaice.smk (paths, config keys per step, input functions).
from eoml.core.workflow import SAFE_ID

SI = config["seaice"]
SI_OUT = RESULTS / "seaice"
SI_DEMO_DIR = RESOURCES / "demo" / "seaice"
# the config keys each seaice step reads
SI_KEYS = {
    "demo": ["demo"],
    "ingest": ["resolution_m", "chart_crs", "min_valid_fraction"],
    "train": ["split", "patches", "training", "weights_path", "encoder"],
    "predict": ["predict_tile"],
}

# every output path, once (a scene store's file name is its scene id: the commands read ids from it)
SI_PATHS = {
    "scene": SI_OUT / "scenes" / "{si_scene}.zarr",
    "model": SI_OUT / "models" / "{si_init}" / "seed{seed}" / "{file}",
    "checkpoints": SI_OUT / "checkpoints" / "{si_init}" / "seed{seed}",
    "predictions": SI_OUT / "predictions" / "{si_init}_seed{seed}.zarr",
    "metrics": SI_OUT / "metrics" / "{table}.csv",
    "figure": SI_OUT / "figures" / "{name}.png",
}


def seaice_cfg(step):
    return section_json("seaice", SI_KEYS[step])


def _seaice_scenes():
    """{scene id: (SAFE path, chart path)}; one ingest job each."""
    if SI["source"] == "demo":
        from eoml.seaice.demo import demo_plan

        return {p["scene_id"]: (str(p["safe"]), str(p["chart"])) for p in demo_plan(SI_DEMO_DIR, SI["demo"])}
    return {s["id"]: (s["safe"], s["chart"]) for s in SI["raw"]["scenes"]}


SI_SCENES = _seaice_scenes()


def seaice_scene_file(index):
    def scene_file(wildcards):
        return SI_SCENES[wildcards.si_scene][index]

    return scene_file


def seaice_stores(scenes):
    return expand(SI_PATHS["scene"], si_scene=scenes)


def seaice_model_file(file):
    return expand(SI_PATHS["model"], file=file, allow_missing=True)[0]


def seaice_ckpt_dir(wildcards):
    return expand(SI_PATHS["checkpoints"], **wildcards)[0]


def seaice_predictions():
    return expand(SI_PATHS["predictions"], si_init=SI["inits"], seed=SI["seeds"])


def seaice_metrics(table):
    return expand(SI_PATHS["metrics"], table=table)[0]


def seaice_figure(name):
    return expand(SI_PATHS["figure"], name=name, allow_missing=True)[0]


def seaice_final_output():
    figures = ["confusions", "scores", *[f"scene_{s}" for s in SI["split"]["test"]]]
    return expand(SI_PATHS["metrics"], table=["segmentation", "summary"]) + expand(SI_PATHS["figure"], name=figures)


FINAL_OUTPUTS["seaice"] = seaice_final_output
