"""Semantic checks of the ``lst`` config section (what its JSON schema cannot say)."""

from __future__ import annotations

from eoml.core.errors import ConfigError
from eoml.lst.demo import DEMO_SCENE_NAMES


def check(lst: dict) -> None:
    mix = lst["mixgl"]
    if abs(mix["alpha"] + mix["beta"] - 1.0) > 1e-6:
        raise ConfigError(
            f"  lst.mixgl: alpha + beta must equal 1, they add up to {mix['alpha'] + mix['beta']:g}"
        )
    low, high = lst["lst_range_k"]
    if not low < high:
        raise ConfigError(f"  lst.lst_range_k: lower bound {low:g} must be below upper bound {high:g}")
    if lst["source"] == "raw":
        missing = [k for k in ("mod11a1", "mod09gq") if not lst["raw"][k]]
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
    reserved = {"modis_wald"}
    if lst["source"] == "demo" and lst["demo"]["scenes"]:
        reserved |= set(DEMO_SCENE_NAMES)
    twice = sorted({n for n in scenes if scenes.count(n) > 1} | (set(scenes) & reserved))
    if twice:
        raise ConfigError(
            f"  lst.validation_scenes: names must be unique and differ from {sorted(reserved)}: {twice}"
        )
    for i, scene in enumerate(lst["validation_scenes"]):
        if scene["lst_kind"] == "landsat_b10" and "mtl" not in scene:
            missing = [k for k in ("radiance_mult", "radiance_add", "k1", "k2") if k not in scene]
            if missing:
                raise ConfigError(
                    f"  lst.validation_scenes.{i}: landsat_b10 needs `mtl` or all of "
                    f"radiance_mult, radiance_add, k1, k2 (missing {', '.join(missing)})"
                )
