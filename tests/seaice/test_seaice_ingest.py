"""seaice ingest pieces: power-domain block averaging, seasons, chart labels at swath positions."""

from __future__ import annotations

import numpy as np
import pytest

from eoml.seaice.ingest import block_mean_power, chart_labels, season_of


def test_block_mean_is_taken_in_linear_power_and_needs_half_the_pixels():
    a = np.array([[1.0, 3.0, np.nan, np.nan], [1.0, 3.0, np.nan, 2.0]])
    out = block_mean_power(a, 2)
    assert out[0, 0] == pytest.approx(2.0)  # the mean of the powers, not of their dB values
    assert np.isnan(out[0, 1])  # 1 valid pixel of 4
    assert block_mean_power(a, 2, min_valid_fraction=0.25)[0, 1] == pytest.approx(2.0)
    db_mean = 10 * np.log10(block_mean_power(np.array([[0.01, 1.0], [0.01, 1.0]]), 2))[0, 0]
    assert db_mean > np.mean(10 * np.log10([0.01, 1.0]))  # averaging dB would bias low
    assert block_mean_power(np.ones((5, 7)), 2).shape == (2, 3)  # trailing rows/cols trimmed


@pytest.mark.parametrize("month, season", [(1, "winter"), (7, "melt"), (10, "freeze-up"), (4, "winter"), (12, "winter")])
def test_seasons(month, season):
    assert season_of(month) == season


def test_chart_labels_follow_the_polygons_at_swath_positions():
    # East Greenland-ish: ice west of -20 deg, water east of it, land north of 70.5 N
    def square(lon0, lon1, lat0, lat1, props):
        ring = [[lon0, lat0], [lon1, lat0], [lon1, lat1], [lon0, lat1], [lon0, lat0]]
        return {"type": "Feature", "properties": props, "geometry": {"type": "Polygon", "coordinates": [ring]}}

    chart = {"features": [square(-22, -20, 69.5, 70.5, {"CT": "92", "POLY_TYPE": "I"}),
                          square(-20, -18, 69.5, 70.5, {"CT": "01", "POLY_TYPE": "W"}),
                          square(-22, -18, 70.5, 71.0, {"POLY_TYPE": "L"})],
             "crs": "EPSG:4326", "path": "chart.geojson"}
    lat = np.array([[70.0, 70.0, 70.8], [69.8, 69.8, 71.5]])
    lon = np.array([[-21.0, -19.0, -20.5], [-20.5, -18.5, -20.0]])
    labels = chart_labels(chart, lat, lon, resolution_m=500.0)
    np.testing.assert_array_equal(labels, [[1, 0, 255], [1, 0, 255]])
