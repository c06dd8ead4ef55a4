"""Helpers the Snakefile uses at parse time (kept here so the rules stay declarative)."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def prepare_job_environment(repo: str | Path) -> None:
    """Let every job run ``python -m eoml`` from this source tree with the workflow's interpreter.

    The interpreter running Snakemake goes first on PATH (a conda environment, when used, is
    activated in front of it), and ``<repo>/src`` on PYTHONPATH, so jobs use the checked-out code
    whether or not eoml is installed in the job's environment.
    """
    src = str(Path(repo) / "src")
    paths = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    if src not in paths:
        os.environ["PYTHONPATH"] = os.pathsep.join([src, *paths])
    bindir = str(Path(sys.executable).parent)
    entries = os.environ.get("PATH", "").split(os.pathsep)
    if not entries or entries[0] != bindir:
        os.environ["PATH"] = os.pathsep.join([bindir, *entries])


def module_files(repo: str | Path, modules: tuple[str, ...]) -> list[str]:
    """Source files of ``eoml`` modules given as dotted names relative to the package."""
    base = Path(repo) / "src" / "eoml"
    return [str(base.joinpath(*m.split(".")).with_suffix(".py")) for m in modules]
