"""The aot training grid: every experiment's configurations (parse-time safe: stdlib only).

An experiment (config ``aot.experiments``) fixes a model and lists grid axes; every combination of
the axes is one configuration, trained once per seed. A configuration's id names the experiment,
its input length and batch size, and the other axes where the experiment tries more than one
value (``convlstm-T2-b4``, ``resnet3d101-T2-b4-w3-avg-d0.2-hard_sigmoid-adam``): the ``config``
column of the tables and the wildcard of the training jobs.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping, Sequence
from typing import Any

#: grid axes: config key -> (run key, id prefix); input length and batch size always appear in ids
AXES = {
    "input_lengths": ("n_frames", "T"),
    "batch_sizes": ("batch_size", "b"),
    "class_weight_power": ("class_weight_power", "w"),
    "pooling": ("pooling", ""),
    "dropout": ("dropout", "d"),
    "activation": ("activation", ""),
    "optimizer": ("optimizer", ""),
}
ALWAYS_IN_ID = ("input_lengths", "batch_sizes")
#: an experiment's fixed model keys, per model
MODEL_KEYS = {
    "cnn3d": ("backbone", "weights", "weights_path", "head", "time_kernel", "decoder_channels"),
    "convlstm": ("hidden", "kernel"),
    "sa_convlstm": ("hidden", "kernel", "attention_stride"),
}
#: the baselines' names in the tables (one place)
BASELINES = ("persistence", "climatology")


def _fmt(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def expand_runs(experiments: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """``{config id: run}`` for every configuration of every experiment, in config order.

    A run holds ``experiment``, ``model`` (with its fixed keys of :data:`MODEL_KEYS`), one value of
    each axis (``n_frames``, ``batch_size``, ``class_weight_power``, ``pooling``, ``dropout``,
    ``activation``, ``optimizer``) and ``seeds``.
    """
    runs: dict[str, dict[str, Any]] = {}
    for exp in experiments:
        axes = list(AXES)
        for values in itertools.product(*(exp[a] for a in axes)):
            chosen = dict(zip(axes, values))
            parts = [exp["name"]]
            for axis in axes:
                if axis in ALWAYS_IN_ID or len(exp[axis]) > 1:
                    parts.append(AXES[axis][1] + _fmt(chosen[axis]))
            run = {"experiment": exp["name"], "model": exp["model"],
                   **{k: exp[k] for k in MODEL_KEYS[exp["model"]]},
                   **{AXES[a][0]: chosen[a] for a in axes}, "seeds": list(exp["seeds"])}
            runs["-".join(parts)] = run
    return runs


def model_spec(run: Mapping[str, Any]) -> dict[str, Any]:
    """The network keys of a run (what :func:`eoml.aot.models.build_network` reads)."""
    return {"model": run["model"], **{k: run[k] for k in MODEL_KEYS[run["model"]] if k != "weights_path"},
            "pooling": run["pooling"], "dropout": run["dropout"]}


def family(config: str, prefix: str, value: Any) -> str:
    """The configuration id without its ``-<prefix><value>`` token (e.g. ``-T2``; the prefixes are
    :data:`AXES`'), i.e. the family of configurations that differ only along that axis."""
    return re.sub(rf"-{re.escape(prefix)}{re.escape(str(value))}(?=-|$)", "", config)
