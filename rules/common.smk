# What every study's rules use: config validation, the folders a run writes, CLI arguments, code
# dependencies, the final targets. A study's own helpers live in its rules/<study>.smk.
import glob
import os
from pathlib import Path

from eoml.core.config import canonical_json, validate_config
from eoml.core.studies import registered
from eoml.core.workflow import check_output_roots, prepare_job_environment, source_root, step_sources

# Fills in schema defaults; a wrong key or type stops the workflow with the key's dotted path.
validate_config(config)

REPO = Path(workflow.basedir)
# Jobs (local, cluster or conda) run `python -m eoml` from this source tree.
prepare_job_environment(REPO)
SRC = source_root(REPO)
# A run writes only under these folders (checked for every declared file at parse time): results,
# logs, benchmarks and resumable checkpoints under results/, generated demo raw files under resources/.
RESULTS = Path("results")
RESOURCES = Path("resources")
WRITABLE_ROOTS = [RESULTS, RESOURCES]
LOGS = RESULTS / "logs"
BENCH = RESULTS / "benchmarks"
ENV = "../envs/eoml.yaml"
STUDIES = registered()
ENABLED = [name for name in STUDIES if name in config["studies"]]
# each enabled study's rules file adds its final targets here
FINAL_OUTPUTS = {}


def code(study, step):
    """The package files `python -m eoml <study> <step>` runs (from its imports): a change reruns the step."""
    return step_sources(SRC, STUDIES[study].package, step)


def section_json(study, keys, **extra):
    """The given keys of a study's config section (plus `extra` values) as one JSON string.

    Passed as a job's params: editing one of these keys reruns the jobs that use it, and only them.
    """
    return canonical_json({**{key: config[study][key] for key in keys}, **extra})


def expand_globs(patterns):
    """Sorted list of files matched by a list of glob patterns (relative to the working dir)."""
    files = set()
    for pattern in patterns:
        files.update(glob.glob(os.path.expanduser(pattern)))
    return sorted(files)


def figure_outputs(png, **report_kwargs):
    """A figure's PNG (in the report, with its caption) and the SVG the same job writes beside it."""
    png = str(png)
    return {"figure": report(png, **report_kwargs), "svg": png[: -len(".png")] + ".svg"}


def output_dir(wildcards, output):
    """The folder of a job's first output (for commands that write several files there)."""
    return os.path.dirname(output[0])


def get_final_output():
    return [path for study in ENABLED for path in FINAL_OUTPUTS[study]()]
