"""Semantic checks of the ``clouds`` config section (what its JSON schema cannot say)."""

from __future__ import annotations

from eoml.core.errors import ConfigError


def check(cl: dict) -> None:
    if cl["source"] == "files":
        if not (cl["goes"] or cl["kaggle"]):
            raise ConfigError("  clouds: source is `files`: list GOES L1b files (clouds.goes) and/or Kaggle-layout "
                              "datasets (clouds.kaggle)")
        names = [d["name"] for d in cl["kaggle"]] + [d["name"] for d in cl["expert"]]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ConfigError(f"  clouds.kaggle / clouds.expert: dataset names must be unique: {twice}")
    dom = cl["domain"]
    if not (dom["lon_min"] < dom["lon_max"] and dom["lat_min"] < dom["lat_max"]):
        raise ConfigError(f"  clouds.domain: need lon_min < lon_max and lat_min < lat_max, got {dom}")
    k_range = cl["analysis"]["k_range"]
    if k_range and (len(k_range) != 2 or k_range[0] > k_range[1]):
        raise ConfigError(f"  clouds.analysis.k_range: [smallest, largest] or [], got {k_range}")
