"""The ``eoml`` command line: ``eoml <study> <step> ...``, one sub-command per workflow step.

Workflow rules call these commands (``python -m eoml <study> <step> ...``); they are also usable
on their own, e.g. ``eoml <study> demo --out-dir /tmp/demo``. Each registered study (see
:mod:`eoml.core.studies`) lists its steps in a :class:`StudyCommands` table named ``COMMANDS`` in
its ``cli.py``; this module turns the tables into sub-commands.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from eoml import __version__
from eoml.core.errors import EomlError

log = logging.getLogger("eoml")


def arg(*flags: str, **kwargs: Any) -> tuple[tuple[str, ...], dict[str, Any]]:
    """One argument of a step, as ``argparse.add_argument`` takes it."""
    return flags, kwargs


@dataclass(frozen=True)
class Step:
    name: str
    func: Callable[[argparse.Namespace], None]
    help: str
    arguments: tuple
    config: bool
    threads: bool


@dataclass
class StudyCommands:
    """A study's step table. Each step is a function of the parsed arguments::

        COMMANDS = StudyCommands()

        @COMMANDS.step("train", "train one model", arg("--store", required=True), threads=True)
        def _train(args):
            train(args.store, args.cfg)

    ``config=True`` (the default) adds ``--config-json`` (the config keys the step reads, as JSON)
    and hands the parsed object to the step as ``args.cfg``; ``threads=True`` adds ``--threads``
    (default 1) and sets torch's thread count before the step runs.
    """

    steps: dict[str, Step] = field(default_factory=dict)

    def step(self, name: str, help: str, *arguments, config: bool = True, threads: bool = False):
        def register(func):
            if name in self.steps:
                raise ValueError(f"step {name!r} registered twice")
            self.steps[name] = Step(name, func, help, arguments, config, threads)
            return func

        return register

    def call(self, name: str, target: str, help: str, *arguments, config: bool = True,
             threads: bool = False) -> None:
        """A step that calls ``target`` (``"package.module:function"``, imported when the step runs)
        with the step's arguments, in the order given, then ``args.cfg`` when ``config``::

            COMMANDS.call("figure-skill", "eoml.<study>.figures:plot_skill", "skill versus lead",
                          arg("--skill-csv", required=True), arg("--output", required=True), config=False)

        runs ``plot_skill(args.skill_csv, args.output)``.
        """
        module, _, function = target.partition(":")
        if not module or not function:
            raise ValueError(f"step {name!r}: target {target!r} is not 'package.module:function'")

        def run(args: argparse.Namespace) -> None:
            import importlib

            func = getattr(importlib.import_module(module), function)
            values = [getattr(args, _dest(flags, kwargs)) for flags, kwargs in arguments]
            func(*values, *([args.cfg] if config else []))

        self.step(name, help, *arguments, config=config, threads=threads)(run)

    def add_to(self, parser: argparse.ArgumentParser, study: str) -> None:
        sub = parser.add_subparsers(dest="command", required=True)
        for step in self.steps.values():
            p = sub.add_parser(step.name, help=step.help, description=step.help)
            for flags, kwargs in step.arguments:
                p.add_argument(*flags, **kwargs)
            if step.config:
                p.add_argument("--config-json", required=True,
                               help=f"the {study} config keys this step reads, as JSON")
            if step.threads:
                p.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
            p.set_defaults(func=_runner(step, study))


def _dest(flags: tuple[str, ...], kwargs: dict[str, Any]) -> str:
    """The attribute argparse stores an argument under (``--pe-csv`` -> ``pe_csv``)."""
    if "dest" in kwargs:
        return kwargs["dest"]
    name = next((f for f in flags if f.startswith("--")), flags[0])
    return name.removeprefix("--").removeprefix("-").replace("-", "_")


def _runner(step: Step, study: str) -> Callable[[argparse.Namespace], None]:
    def run(args: argparse.Namespace) -> None:
        if step.config:
            from eoml.core.config import section_from_json
            from eoml.core.settings import section_settings

            # the keys of the study's section this step reads, as read-only typed settings
            args.cfg = section_settings(study, section_from_json(args.config_json))
        if step.threads:
            import torch

            torch.set_num_threads(max(1, args.threads))
        step.func(args)

    return run


def _validate_config(args) -> None:
    import yaml

    from eoml.core.config import load_config

    print(yaml.safe_dump(load_config(args.path), sort_keys=False))


def build_parser() -> argparse.ArgumentParser:
    from eoml.core.studies import registered

    parser = argparse.ArgumentParser(prog="eoml", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"eoml {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="debug logging")
    subparsers = parser.add_subparsers(dest="study", required=True)
    config = subparsers.add_parser("config", help="validate a workflow configuration file")
    sub = config.add_subparsers(dest="command", required=True)
    check = sub.add_parser("validate", help="validate a config file and print it with defaults")
    check.add_argument("path", help="YAML config file")
    check.set_defaults(func=_validate_config)
    for entry in registered().values():
        commands = entry.module("cli")
        if commands is None or not isinstance(getattr(commands, "COMMANDS", None), StudyCommands):
            raise EomlError(f"study {entry.name}: {entry.package}.cli must define COMMANDS = StudyCommands()")
        commands.COMMANDS.add_to(subparsers.add_parser(entry.name, help=entry.description), entry.name)
    return parser


def main(argv: list[str] | None = None) -> int:
    from eoml.core.logs import setup_logging

    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging(args.verbose)
    started = time.perf_counter()
    log.info("eoml %s: %s", __version__, " ".join(sys.argv[1:] if argv is None else argv))
    try:
        args.func(args)
    except EomlError as exc:
        log.error("%s", exc)
        return 2
    log.info("done in %.1f s", time.perf_counter() - started)
    return 0
