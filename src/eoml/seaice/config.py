"""Semantic checks of the ``seaice`` config section (what its JSON schema cannot say)."""

from __future__ import annotations

from eoml.core.errors import ConfigError


def check(si: dict) -> None:
    if si["source"] == "raw":
        ids = [s["id"] for s in si["raw"]["scenes"]]
        duplicated = sorted({s for s in ids if ids.count(s) > 1})
        if duplicated:
            raise ConfigError(f"  seaice.raw.scenes: scene ids must be unique: {duplicated}")
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
        unknown = sorted(set(named) - {s["id"] for s in si["raw"]["scenes"]})
        if unknown:
            raise ConfigError(f"  seaice.split: scene ids not in seaice.raw.scenes: {unknown}")
