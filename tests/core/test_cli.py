"""The CLI helper: a study's step table becomes sub-commands; `call` steps run their target."""

from __future__ import annotations

import argparse
import sys
import types

import pytest

from eoml.core.cli import StudyCommands, arg


@pytest.fixture
def target_module(monkeypatch):
    """A module whose function records how it was called."""
    module = types.ModuleType("eoml_cli_test_target")
    calls = []

    def plot(table, output, cfg=None):
        calls.append((table, output, cfg))

    module.plot = plot
    module.calls = calls
    monkeypatch.setitem(sys.modules, module.__name__, module)
    return module


def _parser(commands: StudyCommands) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser()
    commands.add_to(parser, "lst")  # any registered study: --config-json is read as its section
    return parser


def test_call_steps_pass_the_arguments_in_order_then_the_settings(target_module):
    commands = StudyCommands()
    commands.call("figure", "eoml_cli_test_target:plot", "draw", arg("--table-csv", required=True),
                  arg("--output", required=True))
    commands.call("bare", "eoml_cli_test_target:plot", "draw", arg("--table-csv", required=True),
                  arg("--out", dest="output", required=True), config=False)
    args = _parser(commands).parse_args(["figure", "--table-csv", "t.csv", "--output", "f.png",
                                         "--config-json", '{"factor": 4}'])
    args.func(args)
    args = _parser(commands).parse_args(["bare", "--table-csv", "u.csv", "--out", "g.png"])
    args.func(args)
    (t1, o1, cfg), (t2, o2, none) = target_module.calls
    assert (t1, o1, t2, o2, none) == ("t.csv", "f.png", "u.csv", "g.png", None)
    assert cfg.factor == 4 and cfg.path == "lst"


def test_a_step_name_is_registered_once_and_targets_are_checked():
    commands = StudyCommands()
    commands.call("a", "x.y:z", "help")
    with pytest.raises(ValueError, match="registered twice"):
        commands.call("a", "x.y:z", "help")
    with pytest.raises(ValueError, match="not 'package.module:function'"):
        commands.call("b", "x.y.z", "help")


def test_the_config_json_and_threads_options(target_module):
    commands = StudyCommands()

    @commands.step("train", "train", arg("--seed", type=int, required=True), threads=True)
    def _train(args):
        target_module.calls.append((args.seed, args.threads, args.cfg.to_dict()))

    parser = _parser(commands)
    with pytest.raises(SystemExit):  # --config-json is required
        parser.parse_args(["train", "--seed", "1"])
    args = parser.parse_args(["train", "--seed", "1", "--config-json", '{"seed": 3}'])
    args.func(args)
    assert target_module.calls == [(1, 1, {"seed": 3})]
