"""aot configuration: the schema's defaults, the grid expansion and the semantic checks."""

from __future__ import annotations

import copy

import pytest

from eoml.aot.config import check
from eoml.aot.runs import expand_runs, family, model_spec
from eoml.core.config import validate_config
from eoml.core.errors import ConfigError


def _cfg(**aot):
    return validate_config({"studies": ["aot"], "aot": aot})["aot"]


def test_defaults_are_the_papers():
    aot = _cfg()
    assert aot["grid"] == 0.9 and aot["threshold_aot"] == 0.8
    assert aot["split"] == {"train": 0.7, "val": 0.1, "test": 0.2}
    assert aot["training"]["learning_rate"] == 5e-5 and aot["training"]["lr_patience"] == 2
    assert aot["training"]["early_stopping_patience"] == 6 and aot["training"]["lr_factor"] == 0.1
    first = aot["experiments"][0]
    assert (first["backbone"], first["weights"], first["head"]) == ("resnet101", "imagenet", "paper")
    assert (first["pooling"], first["dropout"], first["activation"], first["optimizer"],
            first["class_weight_power"], first["batch_sizes"]) == (["max"], [0.3], ["sigmoid"], ["nadam"], [0], [4])


def test_the_papers_grid_expands_to_one_configuration_per_combination():
    exp = _cfg(experiments=[{"name": "r3d", "model": "cnn3d", "class_weight_power": [0, 3, 5],
                             "pooling": ["max", "avg"], "dropout": [0.1, 0.2, 0.3],
                             "activation": ["sigmoid", "hard_sigmoid"], "optimizer": ["adam", "nadam", "adamw"],
                             "seeds": [0, 1]}])["experiments"]
    runs = expand_runs(exp)
    assert len(runs) == 3 * 2 * 3 * 2 * 3
    assert "r3d-T2-b4-w3-avg-d0.2-hard_sigmoid-adamw" in runs
    run = runs["r3d-T2-b4-w3-avg-d0.2-hard_sigmoid-adamw"]
    assert (run["class_weight_power"], run["pooling"], run["dropout"]) == (3, "avg", 0.2)
    assert run["seeds"] == [0, 1]
    assert set(model_spec(run)) == {"model", "backbone", "weights", "head", "time_kernel", "decoder_channels",
                                    "pooling", "dropout"}
    assert family("r3d-T2-b4-w3", "T", 2) == "r3d-b4-w3" and family("r3d-T12-b4", "T", 1) == "r3d-T12-b4"


@pytest.mark.parametrize(("change", "message"), [
    ({"history": 1}, "exceed aot.history"),
    ({"split": {"train": 0.8, "val": 0.1, "test": 0.2}}, "must be 1"),
    ({"source": "neo_geotiff"}, "aot.raw"),
    ({"experiments": [{"name": "a", "model": "convlstm"}, {"name": "a", "model": "convlstm"}]}, "unique"),
    ({"experiments": [{"name": "a", "model": "convlstm", "kernel": 4}]}, "odd"),
    ({"neo_8bit_range": [1.0, 0.0]}, "increasing"),
])
def test_semantic_checks(change, message):
    with pytest.raises(ConfigError, match=message):
        _cfg(**change)
    check(copy.deepcopy(_cfg()))  # the defaults pass
