"""aot ingest: the area-weighted regridding, the store, gaps, duplicates and bad files."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.transform import Affine

from eoml.aot.ingest import grid_coords, grid_shape, ingest, regrid, regrid_weights
from eoml.core.errors import ConfigError, InputFileError
from eoml.core.store import open_store

CFG = {"grid": 10.0, "threshold_aot": 0.8, "neo_8bit_range": [0.0, 1.0],
       "mod08_sds": "AOD_550_Dark_Target_Deep_Blue_Combined_Mean_Mean", "on_bad_file": "error"}


def _field(values: np.ndarray):
    import xarray as xr

    lat, lon = grid_coords(180.0 / values.shape[0])
    return xr.DataArray(values, dims=("lat", "lon"), coords={"lat": lat, "lon": lon})


def test_regrid_is_the_cos_latitude_weighted_mean_of_valid_pixels():
    rng = np.random.default_rng(0)
    src = rng.random((180, 360)).astype(np.float32)
    src[rng.random(src.shape) < 0.3] = np.nan
    src[:10, :10] = np.nan  # a whole 10-degree cell unread
    out = regrid(_field(src), 10.0)
    assert out.shape == grid_shape(10.0) == (18, 36)
    assert np.isnan(out[0, 0])
    lat = 89.5 - np.arange(180)
    i, j = 7, 20
    block, w = src[10 * i:10 * i + 10, 10 * j:10 * j + 10], np.cos(np.deg2rad(lat[10 * i:10 * i + 10]))[:, None]
    ok = np.isfinite(block)
    expected = np.sum(np.where(ok, block, 0) * w) / np.sum(ok * w)
    assert out[i, j] == pytest.approx(expected, rel=1e-6)


def test_regrid_to_a_grid_that_does_not_divide_the_source():
    # the paper's 0.9 degrees from MOD08's 1 degree: fractional overlaps, constants stay constant
    out = regrid(_field(np.full((180, 360), 0.5, np.float32)), 0.9)
    assert out.shape == (200, 400) and np.allclose(out, 0.5)
    _, w_lon = regrid_weights(*grid_coords(1.0), 0.9)
    assert np.allclose(w_lon.sum(axis=1), 0.9)  # every target column covers 0.9 degrees of sources
    with pytest.raises(ConfigError, match="does not divide 180"):
        grid_shape(0.7)


def _neo(path, day: str, values: np.ndarray):
    h, w = values.shape
    name = path / f"MODAL2_E_AER_OD_{day}_rgb_{w}x{h}.FLOAT.TIFF"
    with rasterio.open(name, "w", driver="GTiff", width=w, height=h, count=1, dtype="float32", crs="EPSG:4326",
                       transform=Affine(360 / w, 0, -180, 0, -180 / h, 90), nodata=99999.0) as dst:
        dst.write(np.where(np.isfinite(values), values, 99999.0).astype(np.float32), 1)
    return str(name)


def test_ingest_neo_files_into_the_store(tmp_path, caplog):
    base = np.full((180, 360), 0.1, np.float32)
    plume = base.copy()
    plume[70:80, 150:160] = 1.5  # 10-20 N, 30-20 W: one 10-degree cell off West Africa
    plume[:20] = np.nan  # no retrievals north of 70 N
    files = [_neo(tmp_path, "2001-01-09", base), _neo(tmp_path, "2001-01-01", plume),
             _neo(tmp_path, "2001-01-25", base)]  # 2001-01-17 is missing
    caplog.set_level(logging.INFO)
    ds = open_store(ingest(files, "neo_geotiff", tmp_path / "store.zarr", CFG)).load()
    assert [str(t)[:10] for t in ds["time"].values] == ["2001-01-01", "2001-01-09", "2001-01-25"]
    assert "gaps, never bridged): 2001-01-17" in caplog.text and ds.attrs["missing_periods"] == ["2001-01-17"]
    assert ds["period"].values.tolist() == [2001 * 46, 2001 * 46 + 1, 2001 * 46 + 3]
    first = ds.isel(time=0)
    cell = first.sel(lat=15.0, lon=-25.0)
    assert float(cell["aot"]) == pytest.approx(1.5) and int(cell["target"]) == 1
    assert int(first["target"].sum()) == 1
    assert bool(first["valid"].sel(lat=85.0, lon=5.0)) is False and int(first["target"].sel(lat=85.0, lon=5.0)) == 0
    assert np.isnan(float(first["aot"].sel(lat=75.0, lon=5.0)))


def test_duplicates_and_bad_files(tmp_path, caplog):
    good = _neo(tmp_path, "2001-01-01", np.full((180, 360), 0.2, np.float32))
    (tmp_path / "dup").mkdir()
    dup = _neo(tmp_path / "dup", "2001-01-01", np.full((180, 360), 0.3, np.float32))
    with pytest.raises(InputFileError, match="same 8-day composite"):
        ingest([good, dup], "neo_geotiff", tmp_path / "s.zarr", CFG)
    bad = tmp_path / "MODAL2_E_AER_OD_2001-01-09_rgb_360x180.FLOAT.TIFF"
    bad.write_bytes(Path(good).read_bytes()[:2000])  # truncated
    with pytest.raises(InputFileError, match=bad.name):
        ingest([good, str(bad)], "neo_geotiff", tmp_path / "s.zarr", CFG)
    assert not (tmp_path / "s.zarr").exists()
    caplog.set_level(logging.WARNING)
    ds = open_store(ingest([good, str(bad)], "neo_geotiff", tmp_path / "s.zarr", {**CFG, "on_bad_file": "skip"}))
    assert ds.sizes["time"] == 1 and f"skipping {bad}" in caplog.text
