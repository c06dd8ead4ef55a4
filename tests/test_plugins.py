"""Studies are plug-ins: a tiny study added to a copy of the project runs through the registry, the
schema, the CLI and a Snakemake rule; code changes rerun exactly the rules that import the changed
module; a declared output outside results/ and resources/ is refused at parse time.

The tiny study is a room like any other (``src/eoml/tinystudy/`` with ``schema.yaml``, ``cli.py``
and a science module, ``rules/tinystudy.smk``) plus one line in ``src/eoml/registry.py``: nothing
else of the project is edited.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]

SCHEMA = """\
description: A tiny test study.
type: object
additionalProperties: false
default: {}
properties:
  message: {description: What to write., type: string, default: hello}
  output: {description: Where to write it., type: string, default: results/tinystudy/out.txt}
"""

CLI = '''\
"""``eoml tinystudy <step>``."""

from eoml.core.cli import StudyCommands, arg

COMMANDS = StudyCommands()

COMMANDS.call("write", "eoml.tinystudy.science:write", "write the message", arg("--output", required=True))


@COMMANDS.step("shout", "print the message in capitals")
def _shout(args):
    from eoml.core.metrics import rmse  # noqa: F401  (only to show the step's own imports count)

    print(args.cfg["message"].upper())
'''

SCIENCE = '''\
from eoml.core.io import write_text_atomic


def write(path, cfg):
    write_text_atomic(path, cfg["message"] + "\\n")
'''

RULES = '''\
# tinystudy: one rule, for the plug-in test.


rule tinystudy_write:
    """Write the configured message."""
    input:
        code=code("tinystudy", "write"),
    output:
        text=config["tinystudy"]["output"],
    params:
        cfg=section_json("tinystudy", ["message"]),
    log:
        LOGS / "tinystudy" / "write.log",
    shell:
        "python -m eoml tinystudy write --output {output.text:q} --config-json {params.cfg:q} > {log:q} 2>&1"
'''

FINAL = 'FINAL_OUTPUTS["tinystudy"] = lambda: [config["tinystudy"]["output"]]\n'


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("project")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(REPO / "src", root / "src", ignore=ignore)
    for folder in ("rules", "config", "report"):
        shutil.copytree(REPO / folder, root / folder, ignore=ignore)
    shutil.copy(REPO / "Snakefile", root / "Snakefile")
    room = root / "src" / "eoml" / "tinystudy"
    room.mkdir()
    (room / "__init__.py").write_text('"""A tiny test study."""\n')
    (room / "schema.yaml").write_text(SCHEMA)
    (room / "cli.py").write_text(CLI)
    (room / "science.py").write_text(SCIENCE)
    (root / "rules" / "helpers" / "tinystudy.smk").write_text(FINAL)
    (root / "rules" / "tinystudy.smk").write_text('include: "helpers/tinystudy.smk"\n\n\n' + RULES)
    registry = root / "src" / "eoml" / "registry.py"
    text = registry.read_text()
    # the one registry line
    registry.write_text(text.replace("\n}\n", '\n    "tinystudy": ("eoml.tinystudy", "a tiny test study"),\n}\n'))
    work = root / "work"
    work.mkdir()
    (work / "config.yaml").write_text(yaml.safe_dump({"studies": ["tinystudy"]}))
    return root


def _env(project: Path) -> dict:
    return dict(os.environ, PYTHONPATH=str(project / "src"), PYTHONUNBUFFERED="1")


def eoml(project: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "eoml", *args], capture_output=True, text=True,
                          env=_env(project), cwd=project / "work")


def snakemake(project: Path, *args: str, config: str = "config.yaml", check: bool = True):
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(project / "Snakefile"),
           "--directory", str(project / "work"), "--configfile", str(project / "work" / config),
           "--cores", "1", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=_env(project))
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc


def _append(path: Path, line: str) -> None:
    path.write_text(path.read_text() + line)


def test_the_registry_lists_the_new_study_in_the_cli_and_schema(project):
    helped = eoml(project, "tinystudy", "--help")
    assert helped.returncode == 0, helped.stderr
    assert "write the message" in helped.stdout
    shown = eoml(project, "config", "validate", "config.yaml")
    assert shown.returncode == 0, shown.stderr
    cfg = yaml.safe_load(shown.stdout)
    assert cfg["tinystudy"] == {"message": "hello", "output": "results/tinystudy/out.txt"}
    (project / "work" / "bad.yaml").write_text(yaml.safe_dump({"studies": ["tinystudy"], "tinystudy": {"mesage": 1}}))
    refused = eoml(project, "config", "validate", "bad.yaml")
    assert refused.returncode != 0 and "tinystudy.mesage" in refused.stderr


def test_the_new_study_runs_through_its_rule_and_only_its_rule(project):
    proc = snakemake(project)
    out = project / "work" / "results" / "tinystudy" / "out.txt"
    assert out.read_text() == "hello\n"
    # the other studies' rules were not even read
    assert "radbelt" not in proc.stdout + proc.stderr
    assert "Nothing to be done" in (lambda p: p.stdout + p.stderr)(snakemake(project, "-n"))


def test_an_indirectly_imported_core_module_reruns_the_rule_and_an_unrelated_one_does_not(project):
    snakemake(project)
    # core/io.py is imported by the study's science module, not by its CLI: still a dependency
    _append(project / "src" / "eoml" / "core" / "io.py", "# an edit\n")
    planned = snakemake(project, "-n")
    assert "tinystudy_write" in planned.stdout, planned.stdout
    snakemake(project)
    # core/plotting.py is imported by no module the step runs
    _append(project / "src" / "eoml" / "core" / "plotting.py", "# an edit\n")
    unrelated = snakemake(project, "-n")
    assert "Nothing to be done" in unrelated.stdout + unrelated.stderr, unrelated.stdout


def test_an_output_outside_the_writable_roots_is_refused_at_parse_time(project):
    outside = project / "users_file.txt"
    outside.write_text("the user's data\n")
    (project / "work" / "outside.yaml").write_text(yaml.safe_dump(
        {"studies": ["tinystudy"], "tinystudy": {"output": "../users_file.txt"}}))
    proc = snakemake(project, "-n", config="outside.yaml", check=False)
    assert proc.returncode != 0
    text = proc.stdout + proc.stderr
    assert "outside the folders a run may write" in text and "tinystudy_write: ../users_file.txt" in text, text
    assert outside.read_text() == "the user's data\n"


def test_check_output_roots_names_every_offending_rule(tmp_path):
    from eoml.core.errors import ConfigError
    from eoml.core.workflow import check_output_roots

    class Rule:
        def __init__(self, name, output, log=(), benchmark=None):
            self.name, self.output, self.log, self.benchmark = name, output, list(log), benchmark

    fine = [Rule("a", ["results/x.nc"], ["results/logs/a.log"], "results/benchmarks/a.tsv"),
            Rule("b", ["resources/demo/y.hdf"])]
    check_output_roots(fine, ["results", "resources"], tmp_path)
    bad = fine + [Rule("c", ["results/../data/scene.tif"]), Rule("d", [str(tmp_path.parent / "z.txt")]),
                  Rule("e", ["results/ok.nc"], ["logs/e.log"])]
    with pytest.raises(ConfigError) as err:
        check_output_roots(bad, ["results", "resources"], tmp_path)
    message = str(err.value)
    assert "rule c: results/../data/scene.tif" in message and "rule d:" in message and "rule e: logs/e.log" in message
    assert "rule a" not in message and "rule b" not in message


def test_safe_ids_are_unique_and_wildcard_safe():
    from eoml.core.workflow import SAFE_ID, safe_ids
    import re

    ids = safe_ids({"omni2_2019 (1)": "omni2_2019 (1)", "omni2_2019_1": "omni2_2019_1", "x": "(x)"})
    assert ids == {"omni2_2019 (1)": "omni2_2019_1", "omni2_2019_1": "omni2_2019_1-2", "x": "x"}
    assert all(re.fullmatch(SAFE_ID, v) for v in ids.values())


def test_step_sources_follow_each_steps_own_imports(project):
    from eoml.core.workflow import step_sources

    def names(step):
        return {str(Path(p).relative_to(project / "src" / "eoml")) for p in step_sources(
            project / "src", "eoml.tinystudy", step)}

    write, shout = names("write"), names("shout")
    assert {"tinystudy/cli.py", "tinystudy/science.py", "core/io.py", "core/cli.py", "__main__.py"} <= write
    assert "core/metrics.py" not in write and "core/plotting.py" not in write
    assert "core/metrics.py" in shout and "tinystudy/science.py" not in shout


def test_core_never_names_a_study():
    """Core finds the studies through the registry only: no study's name appears in its files."""
    from eoml.core.studies import registered

    core = REPO / "src" / "eoml" / "core"
    hits = [f"{path.relative_to(REPO)}:{n}: {line.strip()}"
            for path in sorted(core.rglob("*")) if path.suffix in {".py", ".yaml"}
            for n, line in enumerate(path.read_text().splitlines(), 1)
            if any(name in line for name in registered())]
    assert not hits, "\n".join(hits)
