"""Workflow configuration: loading, JSON-schema validation with defaults, digests.

The schema is the single description of every key: its type, default and meaning. Core's
(``eoml/core/schema.yaml``) holds the top level; each registered study's section comes from the
``schema.yaml`` of its package. ``validate_config`` fills in defaults and raises ``ConfigError`` with
the dotted path of the offending key, e.g. ``<study>.window: 'x' is not of type 'integer'``.
"""

from __future__ import annotations

import copy
import hashlib
import json
from importlib import resources
from pathlib import Path
from typing import Any

from eoml.core.errors import ConfigError
from eoml.core.studies import registered, study

SCHEMA_PATH = Path(str(resources.files("eoml.core") / "schema.yaml"))


def load_schema() -> dict:
    """The whole configuration schema: core's, with one section per registered study."""
    import yaml

    schema = yaml.safe_load(SCHEMA_PATH.read_text())
    studies = registered()
    schema["properties"]["studies"]["items"]["enum"] = list(studies)
    schema["properties"]["studies"]["default"] = list(studies)
    for name, entry in studies.items():
        try:
            section = yaml.safe_load(entry.schema_path.read_text())
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"{entry.schema_path}: cannot read the {name} config schema: {exc}") from exc
        schema["properties"][name] = section
    return schema


def _with_defaults():
    """A JSON-schema validator class that writes schema defaults into the instance."""
    from jsonschema import Draft202012Validator, validators

    validate_properties = Draft202012Validator.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for name, sub in properties.items():
                if "default" in sub and name not in instance:
                    instance[name] = copy.deepcopy(sub["default"])
        yield from validate_properties(validator, properties, instance, schema)

    return validators.extend(Draft202012Validator, {"properties": set_defaults})


def _key_path(error) -> str:
    path = ".".join(str(p) for p in error.absolute_path)
    if error.validator == "additionalProperties":
        # name the unexpected key itself
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        path = ".".join([p for p in [path, ",".join(extra)] if p])
    return path or "<top level>"


def validate_config(config: dict) -> dict:
    """Validate ``config`` in place against the schema, fill in defaults, and return it."""
    schema = load_schema()
    errors = sorted(_with_defaults()(schema).iter_errors(config), key=lambda e: list(e.absolute_path))
    if errors:
        lines = [f"  {_key_path(e)}: {e.message}" for e in errors]
        raise ConfigError("invalid configuration:\n" + "\n".join(lines))
    _semantic_checks(config)
    return config


def _semantic_checks(config: dict) -> None:
    """Each enabled study's ``check(section)`` (in its package's ``config.py``, if it has one)."""
    for name in config["studies"]:
        checks = study(name).module("config")
        if checks is not None and hasattr(checks, "check"):
            checks.check(config[name])


def load_config(path: str | Path) -> dict:
    """Read a YAML config file and validate it (defaults filled in)."""
    import yaml

    path = Path(path)
    try:
        config = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read configuration: {exc}") from exc
    return validate_config(config)


def canonical_json(obj: Any) -> str:
    """Canonical JSON (sorted keys, no spaces) used for digests and for passing config to CLIs."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


def plain_json(obj: Any) -> Any:
    """``obj`` as plain JSON data (dicts, lists, strings, numbers): :func:`canonical_json` read back,
    e.g. a config section kept in a model file's settings."""
    return json.loads(canonical_json(obj))


def config_digest(obj: Any) -> str:
    """SHA-256 of the canonical JSON of a config (section)."""
    return hashlib.sha256(canonical_json(obj).encode()).hexdigest()


def section_from_json(text: str) -> dict:
    """Parse a config section passed on a command line as JSON."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"config JSON on the command line is not valid JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise ConfigError("config JSON on the command line must be an object")
    return value
