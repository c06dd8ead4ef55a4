# radbelt: the helpers of rules/radbelt.smk (paths, config keys per step, input functions).
import re
import shlex

from eoml.core.workflow import SAFE_ID, safe_ids

RB = config["radbelt"]
RB_OUT = RESULTS / "radbelt"
RB_DEMO_DIR = RESOURCES / "demo" / "radbelt"
RB_NEURAL = [m for m in RB["models"] if m != "linreg"]
RB_BIN_HOURS = RB["grid"]["bin_hours"]
# the config keys each radbelt step reads
RB_KEYS = {
    "demo": ["demo"],
    "ingest": ["grid", "energy_kev", "on_bad_file"],
    "combine": ["grid", "energy_kev", "features"],
    "train": ["grid", "window", "features", "split", "training"],
    "linreg": ["grid", "window", "features", "split"],
    "baseline": ["grid", "split", "lpf_window", "features"],
    "evaluate": ["grid", "onset"],
    "spearman": ["grid", "features", "spearman_max_lag_bins"],
    "figure-timeseries": ["timeseries_L"],
}

# every output path, once
RB_PATHS = {
    "partial": RB_OUT / "partials" / "{group}.nc",
    "store": RB_OUT / "store.zarr",
    "neural": RB_OUT / "models" / "{rb_model}" / "lead{lead}" / "seed{seed}" / "{file}",
    "linreg": RB_OUT / "models" / "linreg" / "lead{lead}" / "predictions.zarr",
    "baseline": RB_OUT / "baselines" / "{rb_baseline}" / "lead{lead}" / "predictions.zarr",
    "checkpoints": RB_OUT / "checkpoints" / "{rb_model}" / "lead{lead}" / "seed{seed}",
    "metrics": RB_OUT / "metrics" / "{table}.csv",
    "figure": RB_OUT / "figures" / "{name}.png",
}


def radbelt_neural(file):
    """The path template of one of a neural model job's files."""
    return expand(RB_PATHS["neural"], file=file, allow_missing=True)[0]


def radbelt_cfg(step):
    return section_json("radbelt", RB_KEYS[step])


def radbelt_metrics(table):
    return str(RB_PATHS["metrics"]).format(table=table)


def radbelt_figure(name):
    return str(RB_PATHS["figure"]).format(name=name)


def _radbelt_raw_groups():
    """{group id: [(kind, raw path), ...]}: one ingest job per group.

    RBSP and POES files are grouped by the day in their names (YYYYMMDD), so one job bins one day;
    every OMNI file, and any file without a day in its name, is its own group. Group ids are made
    wildcard-safe from the names (a browser's `omni2_2019 (1).dat` becomes `omni2_2019_1`), so
    every matched file is ingested whatever its name.
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
                raise ValueError(f"radbelt.raw.{pattern_key}: no file matches {RB['raw'][pattern_key]}")
        if not omni:
            raise ValueError(f"radbelt.raw.omni: no file matches {RB['raw']['omni']}")
    else:
        return {}
    names = {}
    for kind, paths in kinds.items():
        for path in paths:
            day = re.search(r"_(\d{8})_", Path(path).name)
            names[(kind, str(path))] = day.group(1) if day and not kind.startswith("omni") else Path(path).stem
    # one group per day: the day's RBSP and POES files share an id; any other name gets its own
    by_name = {}
    for item, name in names.items():
        by_name.setdefault(name, []).append(item)
    ids = safe_ids({name: name for name in by_name})
    return {ids[name]: sorted(items) for name, items in sorted(by_name.items())}


RB_GROUPS = _radbelt_raw_groups()


def radbelt_group_files(wildcards):
    return [path for _, path in RB_GROUPS[wildcards.group]]


def radbelt_group_items(wildcards):
    """`--item KIND PATH` arguments of one ingest job."""
    return " ".join(f"--item {kind} {shlex.quote(path)}" for kind, path in RB_GROUPS[wildcards.group])


def radbelt_ckpt_dir(wildcards):
    return expand(RB_PATHS["checkpoints"], **wildcards)[0]


def radbelt_premeve_files():
    folder = Path(RB["premeve_dir"])
    return sorted(str(p) for p in folder.iterdir() if p.is_file())


def _radbelt_predictions(lead):
    paths = expand(RB_PATHS["neural"], rb_model=RB_NEURAL, lead=lead, seed=RB["seeds"], file="predictions.zarr")
    if "linreg" in RB["models"]:
        paths += expand(RB_PATHS["linreg"], lead=lead)
    return paths + expand(RB_PATHS["baseline"], rb_baseline=RB["baselines"], lead=lead)


def radbelt_lead_predictions(wildcards):
    hours = int(wildcards.hours)
    lead = round(hours / RB_BIN_HOURS)
    if lead not in RB["leads"] or abs(lead * RB_BIN_HOURS - hours) > 1e-9:
        raise ValueError(f"no radbelt lead of {hours} h in radbelt.leads {RB['leads']}")
    return _radbelt_predictions(lead)


RB_LEAD_HOURS = [int(round(lead * RB_BIN_HOURS)) for lead in RB["leads"]]


def radbelt_final_output():
    figures = ["pe_vs_L", "spearman_lags"]
    figures += expand("{kind}_lead{hours}h", kind=["lt_maps", "timeseries"], hours=RB_LEAD_HOURS)
    return expand(str(RB_PATHS["metrics"]), table=["pe", "onsets", "spearman"]) + expand(
        str(RB_PATHS["figure"]), name=figures
    )


FINAL_OUTPUTS["radbelt"] = radbelt_final_output
