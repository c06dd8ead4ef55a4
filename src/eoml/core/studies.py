"""The registry of studies, as core sees it.

Core never imports a study by name: the studies are listed once, in :mod:`eoml.registry`
(name -> package and a one-line description), and everything core needs of a study is found in
its package by convention:

=====================  ==================================================================
``<package>/schema.yaml``  the JSON schema of the study's config section (defaults, meanings)
``<package>/config.py``    optional ``check(section)``: semantic checks the schema cannot say
``<package>/cli.py``       ``COMMANDS``: the study's step table (:class:`eoml.core.cli.StudyCommands`)
``rules/<name>.smk``       its Snakemake rules (included only when the study is enabled)
=====================  ==================================================================
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from types import ModuleType

from eoml.core.errors import ConfigError


@dataclass(frozen=True)
class Study:
    """One registered study: its name, its package and what it does."""

    name: str
    package: str
    description: str

    @property
    def schema_path(self) -> Path:
        return Path(str(resources.files(self.package) / "schema.yaml"))

    def module(self, name: str) -> ModuleType | None:
        """The study's ``<package>.<name>`` module, or ``None`` when it has none."""
        qualified = f"{self.package}.{name}"
        try:
            return importlib.import_module(qualified)
        except ModuleNotFoundError as exc:
            if exc.name != qualified:  # the module exists but fails on an import of its own
                raise
            return None


@cache
def registered() -> dict[str, Study]:
    """Every registered study, in registry order."""
    from eoml.registry import STUDIES

    return {name: Study(name, package, description) for name, (package, description) in STUDIES.items()}


def study(name: str) -> Study:
    try:
        return registered()[name]
    except KeyError:
        raise ConfigError(f"unknown study {name!r}; registered studies: {', '.join(registered())}") from None
