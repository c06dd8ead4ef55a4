"""radbelt samples: gaps, lead offset, split boundaries, GEO samples, L settings."""

from __future__ import annotations

import numpy as np
import pytest

from eoml.radbelt.data import (
    build_geo_samples,
    build_samples,
    select,
    split_labels,
)
from synthetic import make_store_dataset  # tests/radbelt is on sys.path (rootdir-relative imports)

FRACTIONS = {"train": 0.65, "val": 0.14, "test": 0.21}
FEATURES = {"channels": ["e2", "e3", "p6"], "sw_speed": True, "cross_L_e2": None, "delta_e2": False,
            "geo_input_L": 4.6}
BIN = np.timedelta64(5, "h")


@pytest.fixture(scope="module")
def ds():
    return make_store_dataset(n_time=300, L=(3.0, 4.0, 4.6, 5.0), seed=1)


def _index(ds, t):
    return np.searchsorted(ds["time"].values, t)


def test_split_labels_chronological():
    labels = split_labels(np.arange(200), FRACTIONS)
    assert (labels == "train").sum() == 130 and (labels == "val").sum() == 28 and (labels == "test").sum() == 42
    assert list(labels[[0, 129, 130, 157, 158, 199]]) == ["train", "train", "val", "val", "test", "test"]
    # fractions are normalised
    assert list(split_labels(np.arange(4), {"train": 2, "val": 1, "test": 1})) == ["train", "train", "val", "test"]


def test_features_target_and_lead_offset(ds):
    window, lead = 6, 4
    s = build_samples(ds, window, lead, FEATURES, FRACTIONS)
    n = len(s["y"])
    assert n > 0
    assert s["X"].shape == (n, window, 5)
    assert s["feature_names"] == ["log10_e2", "log10_e3", "log10_p6", "sw_speed", "L"]
    assert np.all(s["t_target"] - s["t_issue"] == lead * BIN)
    assert 6.6 not in set(s["L"])
    i_issue = _index(ds, s["t_issue"])
    j = s["L_index"]
    np.testing.assert_array_equal(s["i_target"], i_issue + lead)
    np.testing.assert_allclose(s["y"], ds["log10_flux_1mev"].values[i_issue + lead, j].astype(np.float32))
    np.testing.assert_array_equal(s["L"], ds["L"].values[j])
    for k in range(window):  # row k of the window is bin t0 - (window - 1) + k
        i = i_issue - (window - 1) + k
        np.testing.assert_allclose(s["X"][:, k, 0], ds["log10_e2"].values[i, j].astype(np.float32))
        np.testing.assert_allclose(s["X"][:, k, 3], ds["sw_speed"].values[i].astype(np.float32))
    np.testing.assert_array_equal(s["X"][:, :, 4], np.repeat(s["L"][:, None], window, 1).astype(np.float32))


def test_windows_never_straddle_gaps(ds):
    window, lead = 5, 2
    full = build_samples(ds, window, lead, FEATURES, FRACTIONS)
    gappy = ds.copy(deep=True)
    gappy["log10_e3"][100, 1] = np.nan            # one input gap at L = 4.0
    gappy["sw_speed"][150] = np.nan               # one gap of the time-only driver: every L
    gappy["log10_flux_1mev"][60, 2] = np.nan      # one target gap at L = 4.6
    s = build_samples(gappy, window, lead, FEATURES, FRACTIONS)
    assert np.all(np.isfinite(s["X"])) and np.all(np.isfinite(s["y"]))
    i_issue = _index(ds, s["t_issue"])
    covers = lambda i: (i_issue - window + 1 <= i) & (i <= i_issue)  # noqa: E731
    assert not np.any(covers(100) & (s["L"] == 4.0))
    assert not np.any(covers(150))
    assert not np.any((s["i_target"] == 60) & (s["L"] == 4.6))
    # exactly those samples are gone and no others
    i_full = _index(ds, full["t_issue"])
    dropped = ((i_full - window + 1 <= 100) & (i_full >= 100) & (full["L"] == 4.0)) \
        | ((i_full - window + 1 <= 150) & (i_full >= 150)) \
        | ((full["i_target"] == 60) & (full["L"] == 4.6))
    assert len(s["y"]) == len(full["y"]) - dropped.sum()
    np.testing.assert_array_equal(s["t_issue"], full["t_issue"][~dropped])


def test_split_boundaries_respected(ds):
    window, lead = 8, 3
    labels = split_labels(ds["time"].values, FRACTIONS)
    s = build_samples(ds, window, lead, FEATURES, labels)
    i_issue = _index(ds, s["t_issue"])
    assert np.all(labels[i_issue - window + 1] == s["split"])
    assert np.all(labels[s["i_target"]] == s["split"])
    assert set(s["split"]) == {"train", "val", "test"}
    # windows whose first bin and target fall in different splits are left out
    n_train = int((labels == "train").sum())
    val = select(s, "val")
    assert _index(ds, val["t_issue"]).min() - window + 1 >= n_train
    assert select(s, "train")["i_target"].max() <= n_train - 1
    # passing the fractions gives the same samples
    same = build_samples(ds, window, lead, FEATURES, FRACTIONS)
    np.testing.assert_array_equal(same["X"], s["X"])


def test_optional_features(ds):
    cfg = {**FEATURES, "channels": ["e2"], "sw_speed": False, "cross_L_e2": 4.6, "delta_e2": True}
    window, lead = 4, 1
    s = build_samples(ds, window, lead, cfg, FRACTIONS)
    assert s["feature_names"] == ["log10_e2", "log10_e2_L4.6", "delta_log10_e2", "L"]
    i_issue = _index(ds, s["t_issue"])
    j = s["L_index"]
    e2 = ds["log10_e2"].values
    np.testing.assert_allclose(s["X"][:, -1, 1], e2[i_issue, 2].astype(np.float32))
    np.testing.assert_allclose(s["X"][:, -1, 2], (e2[i_issue, j] - e2[i_issue - 1, j]).astype(np.float32),
                               rtol=1e-5, atol=1e-6)
    # the difference needs one bin before the window
    assert (i_issue - window + 1).min() >= 1


def test_geo_samples(ds):
    window, lead = 6, 2
    g = build_geo_samples(ds, window, lead, FEATURES, FRACTIONS)
    n = len(g["y"])
    assert n > 50 and g["X"].shape == (n, window, 5)
    assert np.all(g["L"] == 6.6)
    i_issue = _index(ds, g["t_issue"])
    flux = ds["log10_flux_1mev"].values
    np.testing.assert_allclose(g["y"], flux[i_issue + lead, -1].astype(np.float32))
    # inputs: channels at L = 4.6 (column 2), sw speed, past GEO flux ending at the issue time
    np.testing.assert_allclose(g["X"][:, :, 0], ds["log10_e2"].values[i_issue[:, None] + np.arange(-5, 1), 2]
                               .astype(np.float32))
    np.testing.assert_allclose(g["X"][:, -1, 4], flux[i_issue, -1].astype(np.float32))
    # a store without a GEO column gives an empty set of the right shape
    empty = build_geo_samples(ds.isel(L=slice(0, 4)), window, lead, FEATURES, FRACTIONS)
    assert empty["X"].shape == (0, window, 5) and empty["y"].shape == (0,)


def test_L_settings_not_in_the_store_use_the_nearest_shell(caplog):
    """A store of L = 4.0-4.2 (+ GEO): cross_L_e2 and geo_input_L = 4.6 take L = 4.2, and say so."""
    narrow = make_store_dataset(n_time=120, L=(4.0, 4.1, 4.2), seed=3)
    cfg = {**FEATURES, "cross_L_e2": 4.6}
    with caplog.at_level("WARNING", logger="eoml.radbelt.data"):
        s = build_samples(narrow, 4, 1, cfg, FRACTIONS)
        g = build_geo_samples(narrow, 4, 1, cfg, FRACTIONS)
    assert "log10_e2_L4.2" in s["feature_names"] and g["feature_names"][0] == "log10_e2_L4.2"
    e2 = narrow["log10_e2"].values
    i_issue = _index(narrow, s["t_issue"])
    cross = s["feature_names"].index("log10_e2_L4.2")
    np.testing.assert_allclose(s["X"][:, -1, cross], e2[i_issue, 2].astype(np.float32))
    assert len(g["y"]) > 0
    for key in ("cross_L_e2", "geo_input_L"):
        assert (f"radbelt.features.{key} = 4.6 is not an L-shell of the store (it holds L = 4-4.2); "
                "using the nearest, L = 4.2") in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING", logger="eoml.radbelt.data"):
        build_geo_samples(make_store_dataset(n_time=60, L=(4.0, 4.6), seed=3), 4, 1, FEATURES, FRACTIONS)
    assert caplog.text == ""  # a configured L the store holds: nothing to say
