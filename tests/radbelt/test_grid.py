"""eoml.radbelt.grid: L centres, L bins, time bins."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from eoml.core.errors import ConfigError
from eoml.radbelt.grid import L_bin_index, L_centers, bin_start_times, time_bin_index

from synthetic import GRID  # tests/radbelt is on sys.path


def test_L_centers_default():
    c = L_centers(GRID)
    assert c.dtype == np.float64
    assert len(c) == 34  # 2.8 ... 6.0 (33) + GEO
    expected = [round(2.8 + 0.1 * k, 1) for k in range(33)] + [6.6]
    assert c.tolist() == expected  # exact: no 3.0000000000000004
    assert 3.0 in c.tolist() and 4.6 in c.tolist() and c[-1] == 6.6


def test_L_centers_other_steps():
    c = L_centers({**GRID, "L_min": 3.0, "L_max": 5.0, "dL": 0.25, "geo_L": 6.6})
    assert c.tolist() == [3.0, 3.25, 3.5, 3.75, 4.0, 4.25, 4.5, 4.75, 5.0, 6.6]


@pytest.mark.parametrize(
    ("bad", "key"),
    [
        ({"L_max": 2.0}, "L_max"),
        ({"L_max": 6.05}, "L_max"),
        ({"geo_L": 6.1}, "geo_L"),
        ({"dL": 0}, "dL"),
    ],
)
def test_bad_grid(bad, key):
    with pytest.raises(ConfigError, match=key):
        L_centers({**GRID, **bad})


def test_L_bin_index():
    L = np.array([2.75, 2.8, 2.8499, 2.85, 3.0, 4.6, 6.0, 6.0499, 6.05, 6.3, 6.5, 6.6, 6.6999, 6.7, 2.7499, np.nan, -1.0])
    got = L_bin_index(L, GRID)
    assert got.dtype == np.int64
    assert got.tolist() == [0, 0, 0, 1, 2, 18, 32, 32, -1, -1, 33, 33, 33, -1, -1, -1, -1]
    # every centre falls in its own bin, with float noise either side
    c = L_centers(GRID)
    assert L_bin_index(c, GRID).tolist() == list(range(34))
    assert L_bin_index(c + 1e-12, GRID).tolist() == list(range(34))
    assert L_bin_index(c - 1e-12, GRID).tolist() == list(range(34))


def test_L_bin_edges_float_error():
    # lower edges computed in floating point (2.8 + 0.1*k - 0.05) land in the upper bin
    edges = 2.8 + 0.1 * np.arange(1, 33) - 0.05
    assert L_bin_index(edges, GRID).tolist() == list(range(1, 33))
    assert L_bin_index(np.float64(3.05), GRID).tolist() == 3  # scalar in, 0-d out


def test_time_bin_index_and_starts():
    t = np.array(
        ["2013-02-20T00:00", "2013-02-20T04:59:59", "2013-02-20T05:00", "2013-02-19T23:00",
         "2013-02-19T19:00", "2013-02-19T18:59", "2019-01-01T00:00"],
        dtype="datetime64[ns]",
    )
    k = time_bin_index(t, GRID)
    assert k.dtype == np.int64
    hours = (pd.Timestamp("2019-01-01") - pd.Timestamp("2013-02-20")) / pd.Timedelta("1h")
    assert k.tolist() == [0, 0, 1, -1, -1, -2, int(hours // 5)]
    starts = bin_start_times(k, GRID)
    assert starts.dtype == np.dtype("datetime64[ns]")
    assert starts[3] == np.datetime64("2013-02-19T19:00")
    assert np.all(starts <= t) and np.all(t < starts + np.timedelta64(5, "h"))
    np.testing.assert_array_equal(time_bin_index(starts, GRID), k)


def test_time_bin_index_inputs():
    assert time_bin_index(pd.Timestamp("2013-02-20T10:00", tz="UTC"), GRID) == 2
    assert time_bin_index(pd.Timestamp("2013-02-20T12:00", tz="Europe/Paris"), GRID) == 2  # 11 UTC
    assert time_bin_index(["2013-02-20T10:00"], {**GRID, "bin_hours": 2.5}).tolist() == [4]
    with pytest.raises(ValueError, match="NaT"):
        time_bin_index(np.array(["NaT"], dtype="datetime64[ns]"), GRID)
