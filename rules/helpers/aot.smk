# aot: the helpers of rules/aot.smk (paths, config keys per step, input functions, final targets).
from eoml.aot.runs import BASELINES, expand_runs

AOT = config["aot"]
AOT_OUT = RESULTS / "aot"
AOT_DEMO_DIR = RESOURCES / "demo" / "aot"
# the config keys each aot step reads (a training job also gets its configuration as JSON)
AOT_SAMPLE_KEYS = ["history", "split"]
AOT_KEYS = {
    "demo": ["demo"],
    "ingest": ["grid", "threshold_aot", "neo_8bit_range", "mod08_sds", "on_bad_file"],
    "train": [*AOT_SAMPLE_KEYS, "training"],
    "baseline": [*AOT_SAMPLE_KEYS, "climatology_halfwidth"],
    "evaluate": [*AOT_SAMPLE_KEYS, "threshold", "criteria"],
    "figures": [*AOT_SAMPLE_KEYS, "figures"],
}

# every output path, once
AOT_PATHS = {
    "store": AOT_OUT / "store.zarr",
    "run": AOT_OUT / "runs" / "{aot_config}" / "seed{seed}" / "{file}",
    "checkpoints": AOT_OUT / "checkpoints" / "{aot_config}" / "seed{seed}",
    "baseline": AOT_OUT / "baselines" / "{aot_baseline}.zarr",
    "metrics": AOT_OUT / "metrics" / "{table}.csv",
    "figure": AOT_OUT / "figures" / "{name}.png",
}
AOT_TABLES = ["scores", "criteria", "grid", "batch_size", "input_length", "test"]
AOT_FIGURES = ["maps", "pr_curves", "input_length", "batch_size", "thresholds", "skill_map"]

# every configuration of every experiment (config id -> run), trained once per seed
AOT_RUNS = expand_runs(AOT["experiments"])


def aot_cfg(step):
    return section_json("aot", AOT_KEYS[step])


def aot_raw_files():
    """The raw composites ingested: the demo plan's files of one layout, or the user's globs."""
    if AOT["source"] == "demo":
        from eoml.aot.demo import demo_plan

        return [str(p) for p in demo_plan(AOT_DEMO_DIR, AOT["demo"])[AOT["demo"]["format"]]]
    return expand_globs(AOT["raw"])


def aot_demo_files():
    from eoml.aot.demo import demo_plan

    return [str(p) for files in demo_plan(AOT_DEMO_DIR, AOT["demo"]).values() for p in files]


def aot_source():
    return AOT["demo"]["format"] if AOT["source"] == "demo" else AOT["source"]


def aot_run_file(file):
    return expand(AOT_PATHS["run"], file=file, allow_missing=True)[0]


def aot_ckpt_dir(wildcards):
    return expand(AOT_PATHS["checkpoints"], **wildcards)[0]


def aot_run_json(wildcards):
    """The configuration a training job runs (its seeds are jobs of their own: adding one reruns nothing)."""
    return canonical_json({k: v for k, v in AOT_RUNS[wildcards.aot_config].items() if k != "seeds"})


def aot_predictions():
    """Every run's and baseline's prediction store (the evaluation's inputs)."""
    runs = [p for cid, run in AOT_RUNS.items() for p in
            expand(AOT_PATHS["run"], aot_config=cid, seed=run["seeds"], file="predictions.zarr")]
    return runs + expand(AOT_PATHS["baseline"], aot_baseline=AOT["baselines"])


def aot_metrics(table):
    return expand(AOT_PATHS["metrics"], table=table)[0]


def aot_figure(name):
    return expand(AOT_PATHS["figure"], name=name)[0]


def aot_final_output():
    return expand(AOT_PATHS["metrics"], table=AOT_TABLES) + expand(AOT_PATHS["figure"], name=AOT_FIGURES)


FINAL_OUTPUTS["aot"] = aot_final_output
