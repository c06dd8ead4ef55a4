"""aot samples: targets never bridge a gap, the chronological split, the sequence dataset."""

from __future__ import annotations

import numpy as np
import pytest
from aot_store import CFG, synthetic_store

from eoml.aot.ingest import period_index
from eoml.aot.samples import (
    SequenceDataset,
    input_frames,
    input_stats,
    sample_table,
    split_labels,
    usable_targets,
)
from eoml.core.errors import ConfigError
from eoml.core.store import open_store


def test_usable_targets_never_bridge_a_gap():
    periods = np.array([10, 11, 12, 13, 15, 16, 17, 18])  # period 14 is missing
    assert usable_targets(periods, 2).tolist() == [2, 3, 6, 7]
    assert usable_targets(periods, 1).tolist() == [1, 2, 3, 5, 6, 7]
    assert usable_targets(periods, 4).tolist() == []


def test_period_index_counts_46_composites_a_year():
    days = np.array(["2001-01-01", "2001-01-09", "2001-12-27", "2002-01-01"], dtype="datetime64[ns]")
    assert period_index(days).tolist() == [2001 * 46, 2001 * 46 + 1, 2001 * 46 + 45, 2002 * 46]
    assert np.all(np.diff(period_index(days)[2:]) == 1)  # the year's last composite precedes the next Jan 1


def test_split_is_chronological_and_complete():
    labels = split_labels(10, {"train": 0.7, "val": 0.1, "test": 0.2})
    assert labels.tolist() == ["train"] * 7 + ["val"] + ["test"] * 2
    with pytest.raises(ConfigError, match="every split"):
        split_labels(3, {"train": 0.7, "val": 0.1, "test": 0.2})


def test_sample_table_and_dataset(tmp_path):
    ds = open_store(synthetic_store(tmp_path / "s.zarr", n=30, skip=(12,))).load()
    table = sample_table(ds, CFG)
    # the gap after position 11 removes the two targets that would read across it
    assert len(table) == 30 - 2 - 2
    assert (np.diff(table["time"].to_numpy()) > np.timedelta64(0)).all()
    assert table["split"].iloc[0] == "train" and table["split"].iloc[-1] == "test"
    aot = ds["aot"].values
    mean, std = input_stats(aot, table, 2)
    frames = input_frames(aot, mean, std)
    assert frames.shape == (30, 2, *aot.shape[1:])
    assert np.array_equal(frames[:, 1], np.isfinite(aot))
    assert np.all(frames[:, 0][~np.isfinite(aot)] == 0)
    data = SequenceDataset(frames, ds["target"].values, table["index"].to_numpy(), 2)
    item = data[0]
    t = int(table["index"].iloc[0])
    assert tuple(item["x"].shape) == (2, 2, *aot.shape[1:])
    assert np.array_equal(item["x"][:, 0].numpy(), frames[t - 2]) and np.array_equal(item["x"][:, 1].numpy(), frames[t - 1])
    assert np.array_equal(item["y"].numpy(), ds["target"].values[t].astype(np.float32))
