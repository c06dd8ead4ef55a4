"""A non-editable install works: the wheel ships every package-data file (the config schemas), and
the installed package validates and dry-runs the demo configuration from a copy of the workflow.

The wheel is built from a copy of the project's packaging inputs (no ``build/`` left in the
working tree, no stale file from an earlier build) with the project environment's setuptools and no
network, and installed into a temporary virtual environment. That environment sees the project
environment's third-party packages (torch, snakemake, ...) through a ``.pth`` file listing its
site-packages: a path line of a ``.pth`` file is only appended to ``sys.path``, so the ``.pth`` files
*inside* that directory, among them the editable install's, are not run and ``src/`` stays out of
reach. The tests check that ``eoml`` is imported from the wheel. Nothing here names a schema file:
the wheel must hold every non-Python file of ``src/eoml``, whatever the schemas are called.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import site
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
#: what the workflow needs besides the installed package (no src/)
WORKFLOW_FILES = ["Snakefile", "rules", "config", "report", "profiles", "envs"]
BUILD_JUNK = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "build", "dist")


def _run(cmd: list[str], *, cwd: Path, env: dict[str, str] | None = None, timeout: int = 300):
    result = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True,
                            timeout=timeout)
    assert result.returncode == 0, (
        f"{' '.join(map(str, cmd))} (in {cwd}) exited {result.returncode}\n"
        f"--- stdout\n{result.stdout[-6000:]}\n--- stderr\n{result.stderr[-6000:]}"
    )
    return result


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """A wheel built from a clean copy of pyproject.toml, the readme, the licence and src/."""
    project = tmp_path_factory.mktemp("project")
    for name in ["pyproject.toml", "README.md", *[p.name for p in REPO.glob("LICEN[CS]E*")]]:
        shutil.copy2(REPO / name, project / name)
    shutil.copytree(REPO / "src", project / "src", ignore=BUILD_JUNK)
    dist = tmp_path_factory.mktemp("dist")
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
          "--disable-pip-version-check", "--quiet", "--wheel-dir", dist, project], cwd=project)
    (built,) = dist.glob("eoml-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> dict:
    """The wheel installed in a fresh virtual environment that borrows the project's dependencies."""
    root = tmp_path_factory.mktemp("venv")
    venv.EnvBuilder(with_pip=False, symlinks=os.name != "nt").create(root)
    python = root / ("Scripts" if os.name == "nt" else "bin") / "python"
    purelib = Path(_run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                        cwd=root).stdout.strip())
    project_site = [p for p in site.getsitepackages() if Path(p).is_dir()]
    (purelib / "eoml_test_project_site.pth").write_text("\n".join(project_site) + "\n")
    _run([sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index",
          "--disable-pip-version-check", "--quiet", wheel], cwd=root)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP")}
    env["PATH"] = os.pathsep.join([str(python.parent), env.get("PATH", "")])
    env["VIRTUAL_ENV"] = str(root)
    return {"python": python, "bin": python.parent, "purelib": purelib, "env": env}


@pytest.fixture(scope="module")
def workflow_copy(tmp_path_factory) -> Path:
    """The workflow files in a temporary folder, without src/."""
    dest = tmp_path_factory.mktemp("workflow")
    for name in WORKFLOW_FILES:
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=BUILD_JUNK)
        else:
            shutil.copy2(src, dest / name)
    assert not (dest / "src").exists()
    return dest


def test_wheel_ships_every_package_data_file(wheel):
    with zipfile.ZipFile(wheel) as zf:
        shipped = set(zf.namelist())
    source = REPO / "src"
    files = sorted(p.relative_to(source).as_posix() for p in (source / "eoml").rglob("*")
                   if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc")
    missing = [f for f in files if f not in shipped]
    assert not missing, f"{wheel.name} lacks {missing}: add them to [tool.setuptools.package-data]"
    assert any(f.endswith((".yaml", ".json")) for f in files), "no config schema under src/eoml"


def test_installed_package_comes_from_the_wheel(installed, workflow_copy):
    probe = ("import json, sys, eoml, torch, snakemake; "
             "print(json.dumps({'eoml': eoml.__file__, 'torch': torch.__file__, 'path': sys.path}))")
    found = json.loads(_run([installed["python"], "-c", probe], cwd=workflow_copy,
                            env=installed["env"]).stdout)
    assert Path(found["eoml"]).is_relative_to(installed["purelib"]), found["eoml"]
    assert not Path(found["torch"]).is_relative_to(installed["purelib"])  # borrowed, not installed
    assert str(REPO / "src") not in found["path"]


def test_installed_package_validates_the_demo_config(installed, workflow_copy):
    cmd = ["config", "validate", "config/config.yaml"]
    wheel_out = _run([installed["bin"] / "eoml", *cmd], cwd=workflow_copy, env=installed["env"]).stdout
    source_out = _run([sys.executable, "-m", "eoml", *cmd], cwd=REPO).stdout
    validated = yaml.safe_load(wheel_out)
    assert validated["studies"], wheel_out
    assert validated == yaml.safe_load(source_out)  # the same schema defaults as the source tree


@pytest.mark.slow  # parsing the whole workflow: 6 s on an idle 2-core machine, 15-30 s when it is busy
def test_installed_package_dry_runs_the_demo_workflow(installed, workflow_copy):
    # the Snakefile puts <workflow>/src on the jobs' PYTHONPATH: there is none here, jobs use the wheel
    result = _run([installed["python"], "-m", "snakemake", "-n", "--profile", "profiles/default",
                   "--cores", "1", "--quiet", "rules"], cwd=workflow_copy, env=installed["env"])
    output = result.stdout + result.stderr
    assert "This was a dry-run" in output, output[-3000:]
    planned = set(re.findall(r"^(\w+)\s+\d+$", output, flags=re.M)) - {"total"}
    assert "all" in planned, output[-3000:]
    studies = yaml.safe_load((workflow_copy / "config" / "config.yaml").read_text())["studies"]
    for study in studies:  # every study of the demo config plans its jobs
        assert any(rule.startswith(f"{study}_") for rule in planned), (study, sorted(planned))
