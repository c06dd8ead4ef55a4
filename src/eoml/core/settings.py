"""Typed, read-only settings built from the validated configuration and its schema.

The schema (:func:`eoml.core.config.load_schema`) is the one source of defaults: validation fills
every key in, and the science code reads the result through :class:`Settings` instead of falling
back on defaults of its own. A :class:`Settings` is an immutable mapping that also allows attribute
access (``cfg.training.max_epochs`` is ``cfg["training"]["max_epochs"]``) and knows, from the schema,
the dotted path of every key (``<study>.evaluation.border_crop``):

- a key the schema knows but the settings do not hold raises :class:`ConfigError` naming the key's
  full path and saying the schema fills it in (so the settings were not built from the validated
  configuration, or a workflow step was not given that key);
- ``cfg.get(key, default)`` with a default for a key the schema knows is refused: a silent code-side
  default cannot come back. Free-form mappings (a sharpener's keyword options, values a rule adds to
  a step's keys) have no schema keys and keep the plain ``get``;
- :meth:`Settings.to_dict` gives the plain JSON-able data back. A ``Settings`` is a ``dict``
  subclass holding the same content (lists held as tuples), so ``json.dumps`` and
  :func:`eoml.core.config.canonical_json` give exactly the strings of the plain config: digests
  and checkpoint fingerprints do not depend on whether code holds settings or dicts.

A workflow step gets only the config keys it reads (so editing one key reruns only the jobs that
read it): :func:`section_settings` builds the settings of such a per-step subset. It holds what the
step was given; reading a key of the section that the step was not given names that key's full path.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from eoml.core.errors import ConfigError

__all__ = ["Settings", "config_settings", "required_keys", "section_settings", "study_settings"]

_NO_DEFAULT = object()


def _child_schema(schema: Mapping, key: str) -> Mapping:
    """The schema of ``key`` in an object schema ({} when the schema does not describe it)."""
    props = schema.get("properties") or {}
    if key in props:
        return props[key]
    extra = schema.get("additionalProperties")
    return extra if isinstance(extra, Mapping) else {}


def _wrap(value: Any, schema: Mapping, path: str) -> Any:
    if isinstance(value, Settings):
        return value
    if isinstance(value, Mapping):
        return Settings(value, schema, path)
    if isinstance(value, (list, tuple)):
        items = schema.get("items") if isinstance(schema.get("items"), Mapping) else {}
        return tuple(_wrap(v, items, f"{path}[{i}]") for i, v in enumerate(value))
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _read_only(self, *args, **kwargs):
    raise TypeError(f"{self._path or 'settings'}: settings are read-only (use to_dict() for a mutable copy)")


class Settings(dict):
    """A read-only node of the configuration: a mapping with attribute access and schema-known keys.

    ``data`` is (part of) a validated config section, ``schema`` the JSON schema of that node and
    ``path`` its dotted key path (e.g. ``"<study>"`` or ``"<study>.evaluation"``). ``subset=True``
    marks the top of a per-step selection of keys: a schema key missing there is one the step was
    not given.
    """

    __slots__ = ("_path", "_schema", "_subset")

    def __init__(self, data: Mapping[str, Any], schema: Mapping | None = None, path: str = "",
                 *, subset: bool = False):
        if not isinstance(data, Mapping):
            raise ConfigError(f"{path or '<config>'}: expected a mapping of settings, got {type(data).__name__}")
        schema = schema or {}
        object.__setattr__(self, "_path", path)
        object.__setattr__(self, "_schema", schema)
        object.__setattr__(self, "_subset", subset)
        dict.__init__(self, {str(k): _wrap(v, _child_schema(schema, str(k)), self._join(k)) for k, v in data.items()})

    # ---- what the schema knows ------------------------------------------------------------------
    def _join(self, key: Any) -> str:
        return f"{self._path}.{key}" if self._path else str(key)

    @property
    def path(self) -> str:
        """The dotted key path of this node (``""`` for the whole configuration)."""
        return self._path

    @property
    def schema(self) -> Mapping:
        """The JSON schema of this node."""
        return self._schema

    def schema_keys(self) -> tuple[str, ...]:
        """The keys the schema defines for this node (empty for a free-form mapping)."""
        return tuple(self._schema.get("properties") or {})

    def knows(self, key: str) -> bool:
        """Whether ``key`` is a key the schema defines for this node."""
        return key in (self._schema.get("properties") or {})

    # ---- reading ---------------------------------------------------------------------------------
    def __missing__(self, key):
        where = self._join(key)
        if self.knows(key):
            if self._subset:
                raise ConfigError(
                    f"{where}: this step was not given this key (a workflow step gets only the config keys "
                    "listed for it in its study's rules); the schema fills every key in, so pass it from the "
                    "validated configuration")
            raise ConfigError(f"{where}: missing; the schema fills it in, so these settings were not built from "
                              "the validated configuration (eoml.core.config.validate_config)")
        if self._schema.get("properties") is not None and self._schema.get("additionalProperties") is False:
            raise ConfigError(f"{where}: not a key of the configuration schema (known: "
                              f"{', '.join(self.schema_keys())})")
        raise ConfigError(f"{where}: missing")

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return self[name]

    def get(self, key: str, default: Any = _NO_DEFAULT) -> Any:
        """``self[key]``; a default is accepted only for keys the schema does not define.

        The schema is the one source of defaults: ``get(key, fallback)`` on a schema key raises
        ``TypeError``. On a free-form mapping (no schema keys) it behaves like ``dict.get``.
        """
        if self.knows(key):
            if default is not _NO_DEFAULT:
                raise TypeError(f"{self._join(key)}: a code-side default for a schema key is refused (the schema "
                                f"is the one source of defaults); read it as settings[{key!r}]")
            return self[key]
        return dict.get(self, key, None if default is _NO_DEFAULT else default)

    def without(self, *keys: str) -> Settings:
        """These settings less ``keys`` (e.g. values a step hands on separately), still read-only."""
        return Settings({k: v for k, v in self.items() if k not in keys}, self._schema, self._path,
                        subset=self._subset)

    def to_dict(self) -> dict[str, Any]:
        """The plain data (dicts, lists, scalars) these settings hold: JSON-able, mutable, a copy."""
        return _plain(self)

    def to_json(self) -> str:
        """Canonical JSON of the settings (sorted keys, no spaces), as used for digests."""
        return json.dumps(self, sort_keys=True, separators=(",", ":"), default=str)

    # ---- equality, copies, pickling ---------------------------------------------------------------
    def __eq__(self, other: object) -> bool:
        if isinstance(other, Mapping):
            return self.to_dict() == _plain(other)
        return NotImplemented

    def __ne__(self, other: object) -> bool:
        result = self.__eq__(other)
        return result if result is NotImplemented else not result

    __hash__ = None  # type: ignore[assignment]

    def __copy__(self) -> Settings:
        return self

    def __deepcopy__(self, memo) -> Settings:
        return self

    def __reduce__(self):
        return (_rebuild, (self.to_dict(), dict(self._schema), self._path, self._subset))

    def __repr__(self) -> str:
        return f"Settings({self._path or '<config>'}: {dict.__repr__(self)})"

    # ---- read-only --------------------------------------------------------------------------------
    __setitem__ = __delitem__ = _read_only
    update = pop = popitem = clear = setdefault = _read_only
    __ior__ = _read_only

    def __setattr__(self, name, value):
        _read_only(self)

    def __delattr__(self, name):
        _read_only(self)


def _rebuild(data, schema, path, subset):
    return Settings(data, schema, path, subset=subset)


def _check_given(section: str, data: Mapping, schema: Mapping) -> None:
    """Type-check the given keys against their schema (no defaults are filled in)."""
    from jsonschema import Draft202012Validator

    props = schema.get("properties") or {}
    problems = []
    for key, value in data.items():
        if key in props:
            for error in Draft202012Validator(props[key]).iter_errors(value):
                where = ".".join(str(p) for p in [section, key, *error.absolute_path])
                problems.append(f"  {where}: {error.message}")
    if problems:
        raise ConfigError("invalid configuration:\n" + "\n".join(sorted(problems)))


def section_settings(section: str, data: Mapping[str, Any], schema: Mapping | None = None) -> Settings:
    """The settings of config section ``section`` from (a per-step subset of) its validated keys.

    ``data`` holds the keys a step was given (all of them, or some, plus any values the workflow
    adds that are not schema keys); each given schema key is checked against its schema. ``schema``
    is the section's schema (default: the section of :func:`eoml.core.config.load_schema`).
    """
    if schema is None:
        from eoml.core.config import load_schema

        sections = load_schema()["properties"]
        if section not in sections:
            raise ConfigError(f"{section}: not a section of the configuration schema (known: {', '.join(sections)})")
        schema = sections[section]
    if not isinstance(data, Mapping):
        raise ConfigError(f"{section}: expected a mapping of settings, got {type(data).__name__}")
    _check_given(section, data, schema)
    return Settings(data, schema, section, subset=True)


def config_settings(config: Mapping[str, Any], schema: Mapping | None = None) -> Settings:
    """The whole validated configuration as settings (``settings.<study>.<key>``)."""
    if schema is None:
        from eoml.core.config import load_schema

        schema = load_schema()
    return Settings(config, schema, "")


def study_settings(study: str, overrides: Mapping[str, Any] | None = None) -> Settings:
    """The section of ``study``, validated with the schema's defaults (and ``overrides``), as settings.

    For tests, notebooks and scripts that call the science code without the workflow: every key the
    schema defines is there, with the schema's default unless ``overrides`` sets it.
    """
    import copy

    from eoml.core.config import validate_config

    config = validate_config({"studies": [study], study: copy.deepcopy(_plain(overrides or {}))})
    return section_settings(study, config[study])


def required_keys(cfg: Any, keys: Sequence[str], where: str, *, only: bool = False) -> dict[str, Any]:
    """``{key: cfg[key]}`` for every key of ``keys``, all required (the schema fills them in).

    For code that takes a config section (or part of one) from a caller that may not have
    validated it: a non-mapping, a missing key or, with ``only``, a key outside ``keys`` raises
    :class:`ConfigError` naming ``where`` (the section's dotted path) and the keys.
    """
    if not isinstance(cfg, Mapping):
        raise ConfigError(f"{where}: expected a mapping of settings, got {type(cfg).__name__}")
    unknown = sorted(set(cfg) - set(keys)) if only else []
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)} (known: {', '.join(keys)})")
    missing = [k for k in keys if k not in cfg]
    if missing:
        raise ConfigError(f"{where}: missing key(s) {', '.join(missing)} (the schema fills them in: pass the "
                          f"validated {where} section)")
    return {k: cfg[k] for k in keys}
