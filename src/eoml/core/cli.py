"""The ``eoml`` command line. Each study adds its sub-commands with ``register(subparsers)``.

Workflow rules call these commands (``python -m eoml <study> <command> ...``); they are also
usable on their own, e.g. ``eoml radbelt demo --out-dir /tmp/demo``.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time

from eoml import __version__
from eoml.core.errors import EomlError

STUDIES = ("radbelt", "lst", "seaice")

log = logging.getLogger("eoml")


def _config_commands(subparsers) -> None:
    parser = subparsers.add_parser("config", help="validate a workflow configuration file")
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("validate", help="validate a config file and print it with defaults")
    check.add_argument("path", help="YAML config file")
    check.set_defaults(func=_validate_config)


def _validate_config(args) -> None:
    import yaml

    from eoml.core.config import load_config

    print(yaml.safe_dump(load_config(args.path), sort_keys=False))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="eoml", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"eoml {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="debug logging")
    subparsers = parser.add_subparsers(dest="study", required=True)
    _config_commands(subparsers)
    from eoml.radbelt import cli as radbelt_cli

    radbelt_cli.register(subparsers)
    from eoml.lst import cli as lst_cli

    lst_cli.register(subparsers)
    from eoml.seaice import cli as seaice_cli

    seaice_cli.register(subparsers)
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
