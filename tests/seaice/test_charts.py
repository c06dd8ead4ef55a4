"""Tests of SIGRID-3 chart classification, polygon rasterization and the AI4Arctic reader."""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr
from affine import Affine

from eoml.core.errors import InputFileError
from eoml.seaice.charts import (
    ICE,
    IGNORE,
    WATER,
    MissingConcentration,
    classify,
    ct_fraction,
    parse_polygon_codes,
    rasterize_chart,
    read_ai4arctic,
    read_ice_chart,
)


def from_origin(west: float, north: float, xsize: float, ysize: float) -> Affine:
    """North-up affine transform (rasterio's helper warns about ``*`` on newer affine)."""
    return Affine(xsize, 0.0, west, 0.0, -ysize, north)


HEADER = "id;CT;CA;SA;FA;CB;SB;FB;CC;SC;FC;CN;CD;CF;POLY_TYPE"


def _square(x0, y0, side):
    return {"type": "Polygon", "coordinates": [[[x0, y0], [x0 + side, y0], [x0 + side, y0 + side],
                                                [x0, y0 + side], [x0, y0]]]}


def _chart(path, feats, epsg=3413):
    obj = {"type": "FeatureCollection",
           "crs": {"type": "name", "properties": {"name": f"urn:ogc:def:crs:EPSG::{epsg}"}},
           "features": [{"type": "Feature", "geometry": g, "properties": p} for g, p in feats]}
    path.write_text(json.dumps(obj))
    return path


@pytest.mark.parametrize("code, frac", [
    ("00", 0.0), ("01", 0.0), ("02", 0.0), ("10", 0.1), ("50", 0.5), ("90", 0.9), ("91", 0.9),
    ("92", 1.0), ("57", 0.5), ("12", 0.1), ("89", 0.8), ("81", 0.8), ("21", 0.2), (1, 0.0), (92, 1.0),
    (30, 0.3), ("98", None), ("99", None), ("-9", None), (-9, None), ("", None), (None, None),
])
def test_ct_fraction_table(code, frac):
    assert ct_fraction(code) == (None if frac is None else pytest.approx(frac))


@pytest.mark.parametrize("bad", ["11", "93", "75", "ab", "100"])
def test_ct_fraction_rejects_unknown_codes(bad):
    with pytest.raises(ValueError):
        ct_fraction(bad)


def test_classify_rules():
    assert classify("92", "I") == ICE and classify("10", "I") == ICE and classify("13", "I") == ICE
    assert classify("01", "I") == WATER and classify("02", "i") == WATER and classify("00", "I") == WATER
    assert classify("-9", "W") == WATER and classify("92", "W") == WATER
    assert classify("92", "L") == IGNORE and classify(None, "N") == IGNORE and classify("50", "X") == IGNORE
    assert classify("99", "I") == IGNORE and classify("98", "I") == IGNORE
    assert classify("40", None) == ICE and classify(None, None) == IGNORE
    with pytest.raises(MissingConcentration):
        classify("-9", "I")


def test_square_rasterizes_to_known_pixel_count(tmp_path):
    # 100 m pixels; an 800 m x 800 m ice square aligned to the grid covers exactly 64 pixels,
    # a 300 m x 300 m water square offset by a quarter pixel covers 3 x 3 pixel centres
    transform = from_origin(1000.0, 5000.0, 100.0, 100.0)
    chart = read_ice_chart(_chart(tmp_path / "c.geojson", [
        (_square(1200.0, 3000.0, 800.0), {"CT": "92", "POLY_TYPE": "I"}),
        (_square(2225.0, 4225.0, 300.0), {"ct": "01", "poly_type": "I"}),
        (_square(3000.0, 3000.0, 500.0), {"CT": None, "POLY_TYPE": "L"}),
    ]))
    assert chart["crs"] == "EPSG:3413" and len(chart["features"]) == 3
    lab = rasterize_chart(chart, transform, (40, 40), crs="EPSG:3413")
    assert lab.dtype == np.uint8
    assert int((lab == ICE).sum()) == 64 and int((lab == WATER).sum()) == 9
    assert int((lab == IGNORE).sum()) == 40 * 40 - 73
    # ice square: columns 2..9, rows (5000-3800)/100=12 .. 19
    assert np.all(lab[12:20, 2:10] == ICE) and lab[11, 2] == IGNORE and lab[12, 10] == IGNORE
    # plain feature list, later overlapping polygon wins
    feats = [{"geometry": _square(1000.0, 1000.0, 4000.0), "properties": {"CT": "50", "POLY_TYPE": "I"}},
             {"geometry": _square(1000.0, 1000.0, 1000.0), "properties": {"POLY_TYPE": "W"}}]
    lab2 = rasterize_chart(feats, transform, (40, 40))
    assert int((lab2 == WATER).sum()) == 100 and int((lab2 == ICE).sum()) == 1500


def test_rasterize_reprojects_to_target_crs(tmp_path):
    # a lon/lat chart burned onto an EPSG:3413 grid: the square lands in the right place
    from rasterio.warp import transform as warp_transform

    xs, ys = warp_transform("EPSG:4326", "EPSG:3413", [-45.0], [80.0])
    transform = from_origin(xs[0] - 50_000.0, ys[0] + 50_000.0, 1000.0, 1000.0)
    chart = read_ice_chart(_chart(tmp_path / "ll.geojson", [
        (_square(-46.0, 79.8, 2.0), {"CT": "91", "POLY_TYPE": "I"})], epsg=4326))
    lab = rasterize_chart(chart, transform, (100, 100), crs="EPSG:3413")
    assert lab[50, 50] == ICE and lab[0, 0] == IGNORE and 0 < int((lab == ICE).sum()) < 100 * 100


def test_missing_ct_names_file_and_feature(tmp_path):
    path = _chart(tmp_path / "bad.geojson", [
        (_square(0.0, 0.0, 10.0), {"CT": "92", "POLY_TYPE": "I"}),
        (_square(20.0, 0.0, 10.0), {"CT": "-9", "POLY_TYPE": "I"}),
    ])
    chart = read_ice_chart(path)
    with pytest.raises(InputFileError) as err:
        rasterize_chart(chart, from_origin(0, 10, 1, 1), (10, 40))
    assert str(path) in str(err.value) and "feature 1" in str(err.value) and "CT" in str(err.value)


def test_unsupported_and_broken_charts(tmp_path):
    shp = tmp_path / "chart.shp"
    shp.write_bytes(b"\0" * 100)
    with pytest.raises(InputFileError, match="only GeoJSON"):
        read_ice_chart(shp)
    broken = tmp_path / "broken.geojson"
    broken.write_text('{"type": "FeatureCollection", "features": [')
    with pytest.raises(InputFileError, match="broken.geojson: not readable GeoJSON"):
        read_ice_chart(broken)


def _ai4arctic(path, *, grid_incidence: bool, codes_as_attr: bool, rows=None):
    ny, nx = 20, 30
    rng = np.random.default_rng(0)
    poly = np.full((ny, nx), np.nan)
    poly[:, :10], poly[:, 10:20], poly[:, 20:] = 3, 7, 9
    poly[0, 0] = np.nan
    hh = rng.normal(-15, 2, (ny, nx)).astype(np.float32)
    hh[19, 29] = np.nan
    data = {"nersc_sar_primary": (("sar_lines", "sar_samples"), hh),
            "nersc_sar_secondary": (("sar_lines", "sar_samples"), hh - 8),
            "polygon_icechart": (("sar_lines", "sar_samples"), poly)}
    if grid_incidence:
        gl, gs = np.meshgrid([0.0, 10.0, 19.0], [0.0, 15.0, 29.0], indexing="ij")
        data["sar_grid_line"] = ("sar_grid_points", gl.ravel())
        data["sar_grid_sample"] = ("sar_grid_points", gs.ravel())
        data["sar_grid_incidenceangle"] = ("sar_grid_points", 20.0 + gs.ravel() / 2.0 + gl.ravel() / 100.0)
    else:
        data["sar_incidenceangle"] = (("sar_lines", "sar_samples"), np.tile(np.linspace(20, 45, nx), (ny, 1)))
    rows = rows or [HEADER, "3;92;-9;-9;-9;-9;-9;-9;-9;-9;-9;-9;-9;-9;I",
                    "7;1;-9;-9;-9;-9;-9;-9;-9;-9;-9;-9;-9;-9;I",
                    "9;-9;-9;-9;-9;-9;-9;-9;-9;-9;-9;-9;-9;-9;W"]
    ds = xr.Dataset(data)
    if codes_as_attr:
        ds.attrs["polygon_codes"] = "\n".join(rows)
    else:
        ds["polygon_codes"] = ("polygon_rows", np.array(rows, dtype=object))
    ds.attrs["scene_id"] = "S1B_EW_GRDM_1SDH_20190101T000000"
    ds.to_netcdf(path)
    return path


@pytest.mark.parametrize("grid_incidence, codes_as_attr", [(True, True), (False, False)])
def test_read_ai4arctic(tmp_path, grid_incidence, codes_as_attr):
    path = _ai4arctic(tmp_path / "scene.nc", grid_incidence=grid_incidence, codes_as_attr=codes_as_attr)
    ds = read_ai4arctic(path)
    lab = ds["label"].values
    assert lab.dtype == np.uint8 and ds["hh_db"].shape == (20, 30)
    assert np.all(lab[1:19, :10] == ICE) and np.all(lab[:, 10:20] == WATER) and np.all(lab[:19, 20:] == WATER)
    assert lab[0, 0] == IGNORE and lab[19, 29] == IGNORE  # no polygon / no SAR data
    inc = ds["incidence_deg"].values
    assert np.all(np.diff(inc, axis=1) > 0)
    if grid_incidence:  # exact at tie points, bilinear between
        assert inc[10, 15] == pytest.approx(20.0 + 7.5 + 0.1) and inc[19, 29] == pytest.approx(20.0 + 14.5 + 0.19)
        assert inc[5, 15] == pytest.approx(20.0 + 7.5 + 0.05, abs=1e-6)
    assert ds.attrs["scene_id"].startswith("S1B_EW")


def test_ai4arctic_errors(tmp_path):
    rows = [HEADER, "3;-9;-9;-9;-9;-9;-9;-9;-9;-9;-9;-9;-9;-9;I"]
    path = _ai4arctic(tmp_path / "nocut.nc", grid_incidence=False, codes_as_attr=True, rows=rows)
    with pytest.raises(InputFileError, match=r"nocut.nc: polygon_codes row 1 \(polygon 3\): POLY_TYPE I without CT"):
        read_ai4arctic(path)
    with pytest.raises(InputFileError, match="lacks column POLY_TYPE"):
        parse_polygon_codes("id;CT\n1;92", tmp_path / "x.nc")
    assert parse_polygon_codes([HEADER, "5;57;-9;-9;-9;-9;-9;-9;-9;-9;-9;-9;-9;-9;I"]) == {5: ICE}
    junk = tmp_path / "junk.nc"
    junk.write_bytes(b"not netcdf")
    with pytest.raises(InputFileError, match="junk.nc"):
        read_ai4arctic(junk)
    xr.Dataset({"nersc_sar_primary": (("y", "x"), np.zeros((2, 2)))}).to_netcdf(tmp_path / "part.nc")
    with pytest.raises(InputFileError, match="missing variable nersc_sar_secondary"):
        read_ai4arctic(tmp_path / "part.nc")
