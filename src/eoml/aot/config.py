"""Semantic checks of the ``aot`` config section (what its JSON schema cannot say)."""

from __future__ import annotations

from eoml.aot.runs import expand_runs
from eoml.core.errors import ConfigError


def check(aot: dict) -> None:
    if aot["source"] != "demo" and not aot["raw"]:
        raise ConfigError(f"  aot.raw: source {aot['source']!r} reads the files of aot.raw; list glob patterns")
    names = [e["name"] for e in aot["experiments"]]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ConfigError(f"  aot.experiments: names must be unique: {twice}")
    for exp in aot["experiments"]:
        longest = max(exp["input_lengths"])
        if longest > aot["history"]:
            raise ConfigError(f"  aot.experiments[{exp['name']}].input_lengths: {longest} frames exceed "
                              f"aot.history ({aot['history']}): raise history or shorten the input")
        if exp["model"] != "cnn3d" and exp["kernel"] % 2 == 0:
            raise ConfigError(f"  aot.experiments[{exp['name']}].kernel: {exp['kernel']} must be odd ('same' padding)")
        if exp["model"] == "cnn3d" and exp["backbone"] == "inception_v3":
            raise ConfigError(f"  aot.experiments[{exp['name']}].backbone: inception_v3 cannot be inflated")
    split = aot["split"]
    total = split["train"] + split["val"] + split["test"]
    if abs(total - 1.0) > 1e-9:
        raise ConfigError(f"  aot.split: train + val + test must be 1 (got {total:g})")
    lo, hi = aot["neo_8bit_range"]
    if not hi > lo:
        raise ConfigError(f"  aot.neo_8bit_range: [{lo}, {hi}] is not increasing")
    expand_runs(aot["experiments"])
