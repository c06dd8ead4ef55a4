"""The scenes experiment grids (one list of training jobs) and the section's semantic checks."""

from __future__ import annotations

import pytest

from eoml.core.errors import ConfigError
from eoml.core.settings import study_settings
from eoml.scenes.config import check
from eoml.scenes.experiments import JOB_KEYS, jobs, source_job

FOLDERS = {"source": "folders", "datasets": [{"name": "ucm", "root": "a", "layout": "ucmerced"},
                                             {"name": "aid", "root": "b", "layout": "aid"}]}


def _cfg(**overrides):
    return study_settings("scenes", {**FOLDERS, **overrides})


def _raw(**overrides):
    """The validated section as a plain dict (what config.check receives)."""
    import json

    from eoml.core.config import canonical_json

    return json.loads(canonical_json(_cfg(**overrides)))


def test_default_transfer_grid():
    cfg = _cfg(seeds=[0, 1])
    grid = jobs(cfg)
    # 2 datasets x 1 backbone x 3 depths x (feature_extraction + fine_tune with imagenet, random) x 2 seeds
    assert len(grid) == 2 * 3 * 3 * 2
    assert {j["init"] for j in grid if j["mode"] == "random"} == {"random"}
    assert {j["init"] for j in grid if j["mode"] != "random"} == {"imagenet"}
    assert {j["optimizer"] for j in grid} == {"sgd_1e3_m09"} and {j["batch_size"] for j in grid} == {32}
    assert all(list(j) == list(JOB_KEYS) for j in grid)


def test_grids_share_jobs_and_cross_jobs_name_their_source():
    cfg = _cfg(seeds=[0], experiments={
        "optimizers": {"enabled": True, "dataset": "ucm", "depths": ["deep"], "optimizers": ["adam"],
                       "batch_size": 32},
        "transfer": {"depths": ["deep"], "modes": ["random", "fine_tune"], "optimizer": "adam"},
        "cross": {"enabled": True, "source": "aid", "depths": ["deep"]},
    })
    grid = jobs(cfg)
    keys = [tuple(j[k] for k in JOB_KEYS) for j in grid]
    assert len(keys) == len(set(keys))
    # the optimiser grid's ucm/deep/random/adam/b32 job is the transfer grid's: run once
    assert keys.count(("ucm", "efficientnet_lite0", "deep", "random", "random", "adam", 32, 0)) == 1
    cross = [j for j in grid if j["init"] == "aid"]
    assert [j["dataset"] for j in cross] == ["ucm"]
    src = source_job(cross[0], cfg)
    assert src["dataset"] == "aid" and src["mode"] == "fine_tune" and src["init"] == "imagenet"
    assert tuple(src[k] for k in JOB_KEYS) in keys
    assert source_job(grid[0], cfg) is None


def test_demo_source_has_one_dataset():
    cfg = study_settings("scenes", {"source": "demo", "seeds": [3]})
    assert {j["dataset"] for j in jobs(cfg)} == {"demo"}


@pytest.mark.parametrize(("overrides", "message"), [
    ({"split": {"train": 0.8, "val": 0.1, "test": 0.2}}, r"scenes.split: .* sum to 1 \(they sum to 1.1\)"),
    ({"experiments": {"transfer": {"datasets": ["nope"]}}}, r"transfer.datasets: \['nope'\] are not configured"),
    ({"experiments": {"transfer": {"optimizer": "rmsprop"}}}, r"optimisers \['rmsprop'\] are not in scenes.optimizers"),
    ({"experiments": {"transfer": {"backbones": ["inception_v3"]}}, "image_size": 64},
     r"scenes.image_size: 64 px is below inception_v3's minimum input \(75 px\)"),
    ({"experiments": {"cross": {"enabled": True}}}, r"cross.source: name the dataset"),
    ({"datasets": [{"name": "x", "root": "a", "layout": "aid"}, {"name": "x", "root": "b", "layout": "aid"}]},
     r"dataset names must be unique: \['x'\]"),
])
def test_check_names_the_key(overrides, message):
    with pytest.raises(ConfigError, match=message):
        check(_raw(**overrides))


def test_check_demo_classes():
    with pytest.raises(ConfigError, match=r"scenes.demo.classes: \['moon'\] are not generator classes"):
        check(_raw(source="demo", demo={"classes": ["forest", "moon"]}))
    check(_raw())
