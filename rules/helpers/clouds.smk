# clouds: the helpers of rules/clouds.smk (paths, config keys per step, input functions).
from eoml.clouds.ingest import GOES_KEYS, KAGGLE_KEYS, expert_image_files, goes_scenes
from eoml.clouds.report import figure_names

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
    "analysis": CL_OUT / "analysis" / "{cl_source}",
    "metrics": CL_OUT / "metrics" / "{table}",
    "figure": CL_OUT / "figures" / "{name}.png",
}
CL_MODEL_FILES = ["model.pt", "history.csv"]
CL_ANALYSIS_FILES = ["nmi.csv", "silhouette.csv"]
CL_ANALYSIS_STORES = ["tiles.zarr", "pcmap.zarr"]


def _clouds_inputs():
    """({scene id: [C01, C02, C03 files]}, {dataset: (images folder, labels csv, image files)})."""
    if CL["source"] == "demo":
        from eoml.clouds.demo import demo_files

        plan = demo_files(CL_DEMO_DIR, CL["demo"])
        goes_files = [str(p) for p in plan["goes"]]
        kaggle = {"demo": (str(plan["images_dir"]), str(plan["labels"]), [str(p) for p in plan["images"]])} \
            if plan["images"] else {}
    else:
        goes_files = expand_globs(CL["goes"])
        kaggle = {}
        for d in CL["kaggle"]:
            images = sorted(str(p) for p in Path(d["images"]).glob("*") if p.suffix.lower() in (".jpg", ".jpeg"))
            kaggle[d["name"]] = (d["images"], d["labels"], images)
    scenes = {}
    if goes_files:
        scenes = {sid: [str(f) for _, f in sorted(ch.items())] for sid, ch in goes_scenes(goes_files, CL).items()}
    return scenes, kaggle


CL_SCENES, CL_KAGGLE = _clouds_inputs()
# expert-labelled sets (source = files): {name: (root, labels csv or None, image files)}
CL_EXPERT = {d["name"]: (d["root"], d["labels"], [str(p) for p in expert_image_files(d["root"])])
             for d in CL["expert"]} if CL["source"] == "files" else {}
# the Tile2Vec models: one per source with at least two scenes
CL_SOURCES = [s for s, n in (("goes", len(CL_SCENES)),
                             ("modis", sum(len(v[2]) for v in CL_KAGGLE.values()))) if n >= 2]


def clouds_cfg(step):
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
    return expand(CL_PATHS["analysis"], cl_source=CL_SOURCES)


def clouds_metrics(table):
    return expand(CL_PATHS["metrics"], table=table)[0]


def clouds_figures():
    return expand(CL_PATHS["figure"], name=figure_names(CL_SOURCES, CL_SOURCES))


def clouds_final_output():
    tables = ["nmi.csv", "silhouette.csv", "cloud_metrics.csv"] if CL_SOURCES else []
    return [clouds_metrics(t) for t in tables] + clouds_figures() + \
        [clouds_goes_store(s) for s in CL_SCENES] + clouds_labelled_stores()


FINAL_OUTPUTS["clouds"] = clouds_final_output


def clouds_figure_outputs():
    """Each figure's PNG (in the report, with the caption of its kind) and SVG."""
    outputs = {}
    for name in figure_names(CL_SOURCES, CL_SOURCES):
        kind = name.split("_")[0] if name.startswith(("triplets_", "dendrogram_", "pca_")) else \
            "pc_map" if name.startswith("pc_map_") else name
        png = expand(CL_PATHS["figure"], name=name)[0]
        outputs[name] = report(png, caption=f"../report/clouds/{kind}.rst", category="clouds")
        outputs[f"{name}_svg"] = png[: -len(".png")] + ".svg"
    return outputs
