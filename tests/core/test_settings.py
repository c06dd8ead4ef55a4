"""Typed settings from the validated configuration (eoml.core.settings) and the no-silent-default rule."""

from __future__ import annotations

import argparse
import ast
import copy
import json
import pickle
from pathlib import Path

import pytest

from eoml.core import cli
from eoml.core.config import canonical_json, config_digest, load_schema, validate_config
from eoml.core.errors import ConfigError
from eoml.core.settings import (
    Settings,
    config_settings,
    section_settings,
    study_settings,
)
from eoml.core.studies import registered

SRC = Path(__file__).resolve().parents[2] / "src" / "eoml"

SCHEMA = {
    "type": "object",
    "properties": {
        "factor": {"type": "integer", "default": 4},
        "training": {"type": "object", "properties": {"max_epochs": {"type": "integer", "default": 60},
                                                      "learning_rate": {"type": "number", "default": 1e-3}}},
        "evaluation": {"type": "object", "properties": {"border_crop": {"type": "integer", "default": 16}}},
        "options": {"type": "object", "default": {}},
        "models": {"type": "array", "items": {"type": "object", "properties": {"name": {"type": "string"}}}},
        "lst_range_k": {"type": "array", "items": {"type": "number"}},
    },
    "additionalProperties": False,
}
DATA = {"factor": 4, "training": {"max_epochs": 3, "learning_rate": 0.01}, "evaluation": {"border_crop": 2},
        "options": {"window": 5}, "models": [{"name": "a"}, {"name": "b"}], "lst_range_k": [250.0, 340.0]}


def _settings(data=DATA) -> Settings:
    return section_settings("study", copy.deepcopy(data), SCHEMA)


def test_attribute_and_item_access():
    s = _settings()
    assert s.training.max_epochs == 3 and s["training"]["max_epochs"] == 3
    assert s.evaluation["border_crop"] == 2 and s["evaluation"].border_crop == 2
    assert s.models[1].name == "b" and list(s.lst_range_k) == [250.0, 340.0]
    assert isinstance(s, dict) and dict(s)["factor"] == 4 and "factor" in s
    assert s.path == "study" and s.training.path == "study.training" and s.models[0].path == "study.models[0]"


def test_missing_key_names_the_dotted_path_and_the_schema():
    nested = _settings({**DATA, "evaluation": {}})
    with pytest.raises(ConfigError, match=r"^study\.evaluation\.border_crop: missing; the schema fills it in"):
        _ = nested.evaluation.border_crop
    subset = _settings({"factor": 4})  # a per-step selection: the step was given only `factor`
    with pytest.raises(ConfigError, match=r"^study\.evaluation: this step was not given this key .* the schema "
                                          r"fills every key in"):
        subset["evaluation"]
    with pytest.raises(ConfigError, match=r"study\.nope: not a key of the configuration schema"):
        _ = subset.nope
    assert not hasattr(subset, "_private")  # protocols probing for attributes still get AttributeError


def test_get_with_a_default_is_refused_for_schema_keys():
    s = _settings()
    with pytest.raises(TypeError, match=r"study\.factor: a code-side default for a schema key is refused"):
        s.get("factor", 4)
    with pytest.raises(TypeError, match=r"study\.training\.max_epochs"):
        s.training.get("max_epochs", 60)
    with pytest.raises(TypeError):
        s.get("evaluation", None)  # even an explicit None
    assert s.get("factor") == 4  # no default: plain reading
    with pytest.raises(ConfigError, match=r"study\.evaluation: this step was not given"):
        _settings({"factor": 4}).get("evaluation")
    # free-form mappings (a sharpener's options) have no schema keys: get works as usual
    assert s.options.get("window", 3) == 5 and s.options.get("ridge", 0.1) == 0.1


def test_read_only():
    s = _settings()
    for change in (lambda: s.__setitem__("factor", 2), lambda: s.pop("factor"), lambda: s.update(factor=2),
                   lambda: s.training.__delitem__("max_epochs"), lambda: setattr(s, "factor", 2),
                   lambda: s.setdefault("x", 1), lambda: s.clear()):
        with pytest.raises(TypeError, match="read-only"):
            change()
    assert s.factor == 4 and s.training.max_epochs == 3
    assert s.without("factor", "options").to_dict() == {k: v for k, v in DATA.items() if k not in ("factor", "options")}
    assert "factor" in s  # without() made a new object


def test_to_dict_round_trip_and_json_strings_are_unchanged():
    s = _settings()
    plain = s.to_dict()
    assert plain == DATA and type(plain) is dict and type(plain["models"]) is list
    assert type(plain["training"]) is dict and type(plain["models"][0]) is dict
    assert s == DATA and s.training == DATA["training"]
    for dumps in (canonical_json, lambda o: json.dumps(o), lambda o: json.dumps(o, indent=1, sort_keys=True),
                  config_digest):
        assert dumps(s) == dumps(DATA)
        assert dumps(s.training) == dumps(DATA["training"])
        assert dumps({"extra": s, "n": 1}) == dumps({"extra": DATA, "n": 1})
    plain["factor"] = 99  # a copy
    assert s.factor == 4
    assert pickle.loads(pickle.dumps(s)) == s and copy.deepcopy(s) is s


def test_given_values_are_type_checked():
    with pytest.raises(ConfigError, match=r"study\.training\.max_epochs: 'x' is not of type 'integer'"):
        _settings({"training": {"max_epochs": "x"}})
    # values the workflow adds to a step's keys are not schema keys: held as they are, free-form
    s = _settings({"factor": 4, "spec": {"name": "m", "ndvi": True}})
    assert s.spec.name == "m" and s.spec.get("norm", True) is True and s.spec.path == "study.spec"


@pytest.mark.parametrize("study", list(registered()))
def test_every_study_section_from_the_schema(study):
    config = validate_config({"studies": [study]})
    s = study_settings(study)
    assert s == config[study] and canonical_json(s) == canonical_json(config[study])
    assert config_digest(s) == config_digest(config[study])
    whole = config_settings(config)
    assert whole[study] == config[study] and whole[study].path == study
    # no schema key is shadowed by a dict method in attribute access (item access always works)
    for key in load_schema()["properties"][study]["properties"]:
        if not hasattr(dict, key):
            assert getattr(s, key) == s[key]


def test_cli_runner_hands_steps_typed_settings():
    """`_runner` turns a step's --config-json into the study's Settings (holding what the step was given)."""
    study = next(iter(registered()))
    section = validate_config({"studies": [study]})[study]
    key, other = list(section)[:2]
    seen = {}
    step = cli.Step("probe", lambda ns: seen.setdefault("cfg", ns.cfg), "probe", (), True, False)
    cli._runner(step, study)(argparse.Namespace(config_json=canonical_json({key: section[key]})))
    cfg = seen["cfg"]
    assert isinstance(cfg, Settings) and cfg.path == study and cfg == {key: section[key]}
    with pytest.raises(ConfigError, match=rf"^{study}\.{other}: this step was not given this key"):
        cfg[other]
    with pytest.raises(ConfigError, match=rf"{study}\.{key}: .* is not of type"):
        cli._runner(step, study)(argparse.Namespace(config_json=canonical_json({key: {"not": ["valid"]}})))


# --------------------------------------------------------------------------------------------
# the rule: no `.get("<schema key>", <default>)` on config in the science code
# --------------------------------------------------------------------------------------------
def _schema_keys(node) -> set[str]:
    keys: set[str] = set()
    if isinstance(node, dict):
        for name, sub in (node.get("properties") or {}).items():
            keys.add(name)
            keys |= _schema_keys(sub)
        for part in ("items", "additionalProperties"):
            if isinstance(node.get(part), dict):
                keys |= _schema_keys(node[part])
    return keys


def _key_get(node, keys: set[str]) -> bool:
    """``<mapping>.get("<schema key>", ...)`` on config (not on file metadata or the environment)."""
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get"
            and bool(node.args) and isinstance(node.args[0], ast.Constant) and node.args[0].value in keys
            and not any(word in ast.unparse(node.func.value) for word in ("attrs", "encoding", "environ")))


def _silent_defaults(path: Path, keys: set[str]) -> list[str]:
    """``cfg.get("<key>", <default>)`` and ``cfg.get("<key>") or <default>`` for schema keys, as file:line."""
    tree = ast.parse(path.read_text(), filename=str(path))
    where = path.relative_to(SRC.parent) if path.is_relative_to(SRC.parent) else path.name
    hits = []
    for node in ast.walk(tree):
        with_default = _key_get(node, keys) and len(node.args) + len(node.keywords) >= 2
        or_default = isinstance(node, ast.BoolOp) and isinstance(node.op, ast.Or) and _key_get(node.values[0], keys)
        if with_default or or_default:
            hits.append((node.lineno, ast.unparse(node)))
    return [f"{where}:{line}: {text}" for line, text in sorted(hits)]


def test_no_silent_config_defaults_in_the_science_code():
    """Each study's code reads its config keys; the schema is the one source of defaults."""
    schema = load_schema()
    hits = []
    for name, entry in registered().items():
        keys = _schema_keys(schema["properties"][name])
        package = SRC / entry.package.split(".", 1)[1]
        for path in sorted(package.rglob("*.py")):
            hits += _silent_defaults(path, keys)
    assert not hits, "config keys read with a code-side default (take the schema's):\n" + "\n".join(hits)


def test_the_scan_finds_a_silent_default(tmp_path):
    bad = tmp_path / "probe.py"
    bad.write_text('def f(cfg, ds):\n    a = ds.attrs.get("factor", 4)\n    b = cfg.get("factor")\n'
                   '    c = cfg.get("factor") or 4\n'
                   '    return cfg.get("factor", 4), cfg.get("other", 1), a, b, c\n')
    assert _silent_defaults(bad, {"factor"}) == ["probe.py:4: cfg.get('factor') or 4",
                                                 "probe.py:5: cfg.get('factor', 4)"]
