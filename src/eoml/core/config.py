"""Workflow configuration: loading, JSON-schema validation with defaults, digests.

The schema (``eoml/schemas/config.schema.yaml``) is the single description of every key: its
type, default and meaning. ``validate_config`` fills in defaults and raises ``ConfigError`` with
the dotted path of the offending key, e.g. ``radbelt.window: 'x' is not of type 'integer'``.
"""

from __future__ import annotations

import copy
import hashlib
import json
from importlib import resources
from pathlib import Path
from typing import Any

from eoml.core.errors import ConfigError

SCHEMA_PATH = Path(str(resources.files("eoml") / "schemas" / "config.schema.yaml"))


def load_schema() -> dict:
    import yaml

    return yaml.safe_load(SCHEMA_PATH.read_text())


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
    rb = config.get("radbelt")
    if rb is not None and "radbelt" in config.get("studies", []):
        total = sum(rb["split"].values())
        if abs(total - 1.0) > 1e-6:
            raise ConfigError(f"  radbelt.split: fractions must add up to 1, they add up to {total:g}")
        if rb["source"] == "premeve_ascii" and not rb.get("premeve_dir"):
            raise ConfigError("  radbelt.premeve_dir: required when radbelt.source is premeve_ascii")
        if rb["source"] == "raw":
            missing = [k for k in ("rbsp", "poes", "omni") if not rb["raw"].get(k)]
            if missing:
                raise ConfigError(
                    "  radbelt.raw: source is raw but no file patterns are given for "
                    + ", ".join(f"radbelt.raw.{k}" for k in missing)
                )


    lst = config.get("lst")
    if lst is not None and "lst" in config.get("studies", []):
        _lst_checks(lst)
    seaice = config.get("seaice")
    if seaice is not None and "seaice" in config.get("studies", []):
        _seaice_checks(seaice)


def _seaice_checks(si: dict) -> None:
    split = si["split"]
    named = split["test"] + split["half"] + split["train"]
    twice = sorted({s for s in named if named.count(s) > 1})
    if twice:
        raise ConfigError(f"  seaice.split: scenes listed more than once: {twice}")
    if not split["test"] or not (split["half"] or split["train"]):
        raise ConfigError("  seaice.split: needs test scenes and training (train or half) scenes")
    if not split["half"]:
        raise ConfigError("  seaice.split.half: validation comes from the half scenes; list at least one")
    if si["source"] == "raw":
        ids = [s["id"] for s in si["raw"]["scenes"]]
        unknown = sorted(set(named) - set(ids))
        if unknown:
            raise ConfigError(f"  seaice.split: scene ids not in seaice.raw.scenes: {unknown}")


def _lst_checks(lst: dict) -> None:
    mix = lst["mixgl"]
    if abs(mix["alpha"] + mix["beta"] - 1.0) > 1e-6:
        raise ConfigError(
            f"  lst.mixgl: alpha + beta must equal 1, they add up to {mix['alpha'] + mix['beta']:g}"
        )
    low, high = lst["lst_range_k"]
    if not low < high:
        raise ConfigError(f"  lst.lst_range_k: lower bound {low:g} must be below upper bound {high:g}")
    if lst["source"] == "raw":
        missing = [k for k in ("mod11a1", "mod09gq") if not lst["raw"].get(k)]
        if missing:
            raise ConfigError(
                "  lst.raw: source is raw but no file patterns are given for "
                + ", ".join(f"lst.raw.{k}" for k in missing)
            )
    names = [m["name"] for m in lst["models"]]
    clashes = sorted({n for n in names if names.count(n) > 1} | (set(names) & set(lst["baselines"])))
    if clashes:
        raise ConfigError(f"  lst.models: names must be unique and differ from the baselines: {clashes}")
    scenes = [s["name"] for s in lst["validation_scenes"]]
    if len(set(scenes)) != len(scenes) or "modis_wald" in scenes:
        raise ConfigError(f"  lst.validation_scenes: names must be unique and not 'modis_wald': {scenes}")
    for i, scene in enumerate(lst["validation_scenes"]):
        if scene["lst_kind"] == "landsat_b10" and "mtl" not in scene:
            missing = [k for k in ("radiance_mult", "radiance_add", "k1", "k2") if k not in scene]
            if missing:
                raise ConfigError(
                    f"  lst.validation_scenes.{i}: landsat_b10 needs `mtl` or all of "
                    f"radiance_mult, radiance_add, k1, k2 (missing {', '.join(missing)})"
                )


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
