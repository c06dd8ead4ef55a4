"""envs/*.yaml (conda) and pyproject.toml list the same packages; CI calls the README's test command."""

import re
import tomllib
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]

# conda-forge names that differ from the PyPI distribution names
CONDA_TO_PYPI = {"pytorch": "torch"}
CONDA_ONLY = {"python", "pip"}


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~ \[;]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _pyproject_packages() -> set[str]:
    data = tomllib.loads((REPO / "pyproject.toml").read_text())
    return {_name(r) for r in data["project"]["dependencies"]}


def _env_packages(path: Path) -> set[str]:
    env = yaml.safe_load(path.read_text())
    names = set()
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            names.update(_name(r) for r in dep.get("pip", []))
        else:
            name = _name(dep)
            if name not in CONDA_ONLY:
                names.add(CONDA_TO_PYPI.get(name, name))
    return names


def test_conda_envs_match_pyproject():
    envs = sorted((REPO / "envs").glob("*.yaml"))
    assert envs, "no conda environment files under envs/"
    union = set()
    for env in envs:
        names = _env_packages(env)
        extra = names - _pyproject_packages()
        assert not extra, f"{env.name} lists packages missing from pyproject.toml: {sorted(extra)}"
        union |= names
    missing = _pyproject_packages() - union
    assert not missing, f"pyproject.toml packages missing from envs/*.yaml: {sorted(missing)}"


def test_ci_runs_the_readme_test_command():
    readme = (REPO / "README.md").read_text()
    assert "make test" in readme
    ci = (REPO / ".ci" / "run").read_text()
    assert re.search(r"^make test$", ci, flags=re.M)
    makefile = (REPO / "Makefile").read_text()
    assert re.search(r"^test: .*\n\t.*pytest", makefile, flags=re.M)
