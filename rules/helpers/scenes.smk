# scenes: the helpers of rules/scenes.smk (paths, config keys per step, input functions).
from eoml.scenes.experiments import dataset_names, jobs, source_job

SC = config["scenes"]
SC_OUT = RESULTS / "scenes"
SC_DEMO_DIR = RESOURCES / "demo" / "scenes"
# the config keys each scenes step reads
SC_KEYS = {
    "demo": ["demo"],
    "ingest": ["image_size", "max_image_size", "on_bad_file", "split"],
    "train": ["top", "training", "feature_cache", "collapse", "weights_path"],
    "baseline": ["baseline"],
}

# every output path, once
SC_PATHS = {
    "store": SC_OUT / "stores" / "{sc_dataset}.zarr",
    "run": SC_OUT / "runs" / "{sc_dataset}" / "{sc_backbone}" / "{sc_depth}" / "{sc_mode}-{sc_init}"
    / "{sc_optimizer}-b{sc_batch}" / "seed{seed}",
    "checkpoints": SC_OUT / "checkpoints" / "{sc_dataset}" / "{sc_backbone}" / "{sc_depth}" / "{sc_mode}-{sc_init}"
    / "{sc_optimizer}-b{sc_batch}" / "seed{seed}",
    "baseline": SC_OUT / "baselines" / "{sc_dataset}",
    "metrics": SC_OUT / "metrics" / "{table}",
    "figure": SC_OUT / "figures" / "{name}.png",
}
# the files of one training run and of one baseline run (run.json, predictions.csv, ...)
SC_RUN_FILES = ["model.pt", "history.csv", "predictions.csv", "run.json"]
SC_BASELINE_FILES = ["run.json", "predictions.csv"]

SC_DATASETS = dataset_names(SC)
SC_JOBS = jobs(SC)


def _scenes_sources():
    """{dataset: (root, layout, image files)}: the images are the ingest job's inputs."""
    if SC["source"] == "demo":
        from eoml.scenes.demo import demo_plan

        return {SC_DATASETS[0]: (str(SC_DEMO_DIR), "ucmerced", [str(p) for p in demo_plan(SC_DEMO_DIR, SC["demo"])])}
    from eoml.scenes.readers import list_image_files

    return {d["name"]: (d["root"], d["layout"], [str(p) for p in list_image_files(d["root"], d["layout"])])
            for d in SC["datasets"]}


SC_SOURCES = _scenes_sources()


def scenes_cfg(step):
    return section_json("scenes", SC_KEYS[step])


def _job_wildcards(job):
    return {"sc_dataset": job["dataset"], "sc_backbone": job["backbone"], "sc_depth": job["depth"],
            "sc_mode": job["mode"], "sc_init": job["init"], "sc_optimizer": job["optimizer"],
            "sc_batch": job["batch_size"], "seed": job["seed"]}


def _job_of(wildcards):
    return {"dataset": wildcards.sc_dataset, "backbone": wildcards.sc_backbone, "depth": wildcards.sc_depth,
            "mode": wildcards.sc_mode, "init": wildcards.sc_init, "optimizer": wildcards.sc_optimizer,
            "batch_size": int(wildcards.sc_batch), "seed": int(wildcards.seed)}


def scenes_run_dir(job):
    return expand(SC_PATHS["run"], **_job_wildcards(job))[0]


def scenes_run_file(file):
    return str(SC_PATHS["run"] / file)


def scenes_run_dirs():
    return [scenes_run_dir(job) for job in SC_JOBS]


def scenes_baseline_dirs():
    return expand(SC_PATHS["baseline"], sc_dataset=SC_DATASETS)


def scenes_store(wildcards):
    return expand(SC_PATHS["store"], sc_dataset=wildcards.sc_dataset)[0]


def scenes_stores():
    return expand(SC_PATHS["store"], sc_dataset=SC_DATASETS)


def scenes_images(wildcards):
    return SC_SOURCES[wildcards.sc_dataset][2]


def scenes_source(index):
    def source(wildcards):
        return SC_SOURCES[wildcards.sc_dataset][index]

    return source


def scenes_init_model(wildcards):
    """A cross-dataset job's source model (its init names a dataset), else nothing."""
    source = source_job(_job_of(wildcards), SC)
    return [] if source is None else [str(Path(scenes_run_dir(source)) / "model.pt")]


def scenes_init_model_arg(wildcards, input):
    return f"--init-model {input.init_model[0]}" if input.init_model else ""


def scenes_train_cfg(wildcards):
    """The train step's keys, with the job's own optimiser and batch size (editing another
    optimiser or grid reruns nothing here)."""
    opt = wildcards.sc_optimizer
    training = {**SC["training"], "batch_size": int(wildcards.sc_batch)}
    return canonical_json({**{k: SC[k] for k in SC_KEYS["train"]}, "training": training,
                           "optimizers": {opt: SC["optimizers"][opt]}})


def scenes_ckpt_dir(wildcards):
    return expand(SC_PATHS["checkpoints"], **wildcards)[0]


def scenes_metrics(table):
    return expand(SC_PATHS["metrics"], table=table)[0]


def scenes_figure(name):
    return expand(SC_PATHS["figure"], name=name, allow_missing=True)[0]


def scenes_final_output():
    figures = ["accuracy_curves", "accuracy_grid", "accuracy_gap", "confusions",
               *[f"gradcam_{d}" for d in SC_DATASETS]]
    return [scenes_metrics(t) for t in ("accuracy.csv", "best.csv", "summary.csv", "summary.md")] + expand(
        SC_PATHS["figure"], name=figures)


FINAL_OUTPUTS["scenes"] = scenes_final_output
