# clouds: the helpers of rules/clouds.smk (paths, config keys per step, input functions).
from eoml.clouds.ingest import GOES_KEYS, KAGGLE_KEYS, expert_image_files, goes_scenes
from eoml.clouds.names import classifier_figure_names, figure_kind, figure_names

CL = config["clouds"]
CL_OUT = RESULTS / "clouds"
CL_DEMO_DIR = RESOURCES / "demo" / "clouds"
# the config keys each clouds step reads
CL_KEYS = {
    "demo": ["demo"],
    "goes-store": list(GOES_KEYS),
    "kaggle-store": list(KAGGLE_KEYS),
    "expert-store": list(KAGGLE_KEYS),
    "triplets": ["triplets", "seed"],
    "train": ["embedding", "training", "seed"],
    "analyse": ["analysis", "seed"],
    "features": ["embedding", "triplets"],
    "deepcluster-train": ["deepcluster", "seed"],
    "dcae-train": ["autoencoder", "seed"],
    "classifier-train": ["seed"],
    "classifier-figures": [],
    "cloud-metrics": ["cloud_mask"],
    "figures": ["analysis"],
}

# every output path, once
CL_PATHS = {
    "goes_store": CL_OUT / "stores" / "goes" / "{cl_scene}.zarr",
    "kaggle_store": CL_OUT / "stores" / "kaggle" / "{cl_dataset}.zarr",
    "expert_store": CL_OUT / "stores" / "expert" / "{cl_expert}.zarr",
    "triplets": CL_OUT / "triplets" / "{cl_source}.zarr",
    "model": CL_OUT / "models" / "{cl_source}",
    "checkpoints": CL_OUT / "checkpoints" / "{cl_source}",
    "embedder": CL_OUT / "models" / "{cl_model}",
    "embedder_checkpoints": CL_OUT / "checkpoints" / "{cl_model}",
    "analysis": CL_OUT / "analysis" / "{cl_model}",
    "classifier": CL_OUT / "classifier" / "models" / "{cl_job}",
    "classifier_checkpoints": CL_OUT / "checkpoints" / "classifier" / "{cl_job}",
    "classifier_eval": CL_OUT / "classifier" / "evaluation" / "{cl_job}",
    "metrics": CL_OUT / "metrics" / "{table}",
    "figure": CL_OUT / "figures" / "{name}.png",
}
CL_MODEL_FILES = ["model.pt", "history.csv"]
CL_ANALYSIS_FILES = ["nmi.csv", "silhouette.csv", "unlabelled.csv"]
CL_ANALYSIS_STORES = ["tiles.zarr", "squares.zarr", "pcmap.zarr"]


def _clouds_inputs():
    """({scene id: [C01, C02, C03 files]}, {dataset: (images folder, labels csv, image files)},
    {expert set: (root, labels csv or None, image files)})."""
    if CL["source"] == "demo":
        from eoml.clouds.demo import demo_files

        plan = demo_files(CL_DEMO_DIR, CL["demo"])
        goes_files = [str(p) for p in plan["goes"]]
        kaggle = {"demo": (str(plan["images_dir"]), str(plan["labels"]), [str(p) for p in plan["images"]])} \
            if plan["images"] else {}
        expert = {"demo_expert": (str(plan["expert_root"]), None, [str(p) for p in plan["expert_images"]])} \
            if plan["expert_images"] else {}
    else:
        goes_files = expand_globs(CL["goes"])
        kaggle = {}
        for d in CL["kaggle"]:
            images = sorted(str(p) for p in Path(d["images"]).glob("*") if p.suffix.lower() in (".jpg", ".jpeg"))
            kaggle[d["name"]] = (d["images"], d["labels"], images)
        expert = {d["name"]: (d["root"], d["labels"], [str(p) for p in expert_image_files(d["root"])])
                  for d in CL["expert"]}
    scenes = {}
    if goes_files:
        scenes = {sid: [str(f) for _, f in sorted(ch.items())] for sid, ch in goes_scenes(goes_files, CL).items()}
    return scenes, kaggle, expert


# GOES scenes {id: [C01, C02, C03]}, Kaggle-layout datasets and expert-labelled sets
# {name: (root, labels csv or None, image files)}
CL_SCENES, CL_KAGGLE, CL_EXPERT = _clouds_inputs()
# the Tile2Vec models: one per source with at least two scenes
CL_SOURCES = [s for s, n in (("goes", len(CL_SCENES)),
                             ("modis", sum(len(v[2]) for v in CL_KAGGLE.values()))) if n >= 2]
# the tiles DeepCluster and the autoencoder train on: the MODIS triplets (else the GOES ones)
CL_UNSUPERVISED_SOURCE = "modis" if "modis" in CL_SOURCES else (CL_SOURCES[0] if CL_SOURCES else None)
# every embedding the analysis compares: {model: what it was trained on}; the untrained ImageNet
# features, DeepCluster and the autoencoder only where labelled images can score them
CL_MODELS = {s: s for s in CL_SOURCES}
if CL_UNSUPERVISED_SOURCE and (CL_KAGGLE or CL_EXPERT):
    CL_MODELS |= {"deepcluster": CL_UNSUPERVISED_SOURCE, "dcae": CL_UNSUPERVISED_SOURCE, "imagenet": "none"}
# the supervised classifiers: one job per grid point, where Kaggle-layout images are labelled
CL_JOBS = {job["name"]: job for job in CL["classifier"]["grid"]} if CL_KAGGLE else {}


# the keys of the classifier section each classifier step reads (the grid points go one per job)
CL_CLASSIFIER_KEYS = {
    "classifier-train": ["input_px", "cut", "dropout", "class_balance", "split", "augment", "weights_path",
                         "training"],
    "classifier-figures": ["gradcam_invert_dark", "n_feature_maps", "gradcam_layer"],
}


def clouds_cfg(step):
    if step in CL_CLASSIFIER_KEYS:
        part = {k: CL["classifier"][k] for k in CL_CLASSIFIER_KEYS[step]}
        return section_json("clouds", CL_KEYS[step], classifier=part)
    return section_json("clouds", CL_KEYS[step])


def clouds_goes_store(scene):
    return expand(CL_PATHS["goes_store"], cl_scene=scene)[0]


def clouds_kaggle_store(dataset):
    return expand(CL_PATHS["kaggle_store"], cl_dataset=dataset)[0]


def clouds_expert_store(name):
    return expand(CL_PATHS["expert_store"], cl_expert=name)[0]


def clouds_labelled_stores():
    """Every labelled store an analysis evaluates: the Kaggle-layout datasets and the expert sets."""
    return [clouds_kaggle_store(d) for d in CL_KAGGLE] + [clouds_expert_store(e) for e in CL_EXPERT]


def clouds_source_stores(source):
    if source == "goes":
        return [clouds_goes_store(s) for s in CL_SCENES]
    return [clouds_kaggle_store(d) for d in CL_KAGGLE]


def clouds_model_file(file):
    return str(CL_PATHS["model"] / file)


def clouds_analysis_dirs():
    return expand(CL_PATHS["analysis"], cl_model=list(CL_MODELS))


def clouds_embedder_file(model):
    """The model file of an analysed embedding (Tile2Vec of a source, or another model)."""
    return str(CL_PATHS["embedder"] / "model.pt").format(cl_model=model)


def clouds_kaggle_stores():
    return [clouds_kaggle_store(d) for d in CL_KAGGLE]


def clouds_expert_stores():
    return [clouds_expert_store(e) for e in CL_EXPERT]


def clouds_classifier_file(file, job="{cl_job}"):
    return str(CL_PATHS["classifier"] / file).replace("{cl_job}", job)


def clouds_classifier_evals():
    return expand(CL_PATHS["classifier_eval"], cl_job=list(CL_JOBS))


def clouds_metrics(table):
    return expand(CL_PATHS["metrics"], table=table)[0]


def clouds_figure_list():
    return figure_names(CL_SOURCES, list(CL_MODELS))


def clouds_figures():
    return expand(CL_PATHS["figure"], name=clouds_figure_list() + classifier_figure_names(list(CL_JOBS)))


def clouds_final_output():
    tables = ["nmi.csv", "silhouette.csv", "cloud_metrics.csv", "embeddings.csv", "unlabelled.csv"] \
        if CL_SOURCES else []
    tables += ["classifier.csv"] if CL_JOBS else []
    return [clouds_metrics(t) for t in tables] + clouds_figures() + \
        [clouds_goes_store(s) for s in CL_SCENES] + clouds_labelled_stores()


FINAL_OUTPUTS["clouds"] = clouds_final_output


def _figure_outputs(names):
    """Each figure's PNG (in the report, with the caption of its kind) and SVG."""
    outputs = {}
    for name in names:
        kind = figure_kind(name)
        png = expand(CL_PATHS["figure"], name=name)[0]
        outputs[name] = report(png, caption=f"../report/clouds/{kind}.rst", category="clouds")
        outputs[f"{name}_svg"] = png[: -len(".png")] + ".svg"
    return outputs


def clouds_figure_outputs():
    return _figure_outputs(clouds_figure_list())


def clouds_classifier_figure_outputs():
    return _figure_outputs(classifier_figure_names(list(CL_JOBS)))
