"""Semantic checks of the ``radbelt`` config section (what its JSON schema cannot say)."""

from __future__ import annotations

from eoml.core.errors import ConfigError


def check(rb: dict) -> None:
    total = sum(rb["split"].values())
    if abs(total - 1.0) > 1e-6:
        raise ConfigError(f"  radbelt.split: fractions must add up to 1, they add up to {total:g}")
    if rb["source"] == "premeve_ascii" and not rb["premeve_dir"]:
        raise ConfigError("  radbelt.premeve_dir: required when radbelt.source is premeve_ascii")
    if rb["source"] == "raw":
        missing = [k for k in ("rbsp", "poes", "omni") if not rb["raw"][k]]
        if missing:
            raise ConfigError(
                "  radbelt.raw: source is raw but no file patterns are given for "
                + ", ".join(f"radbelt.raw.{k}" for k in missing)
            )
