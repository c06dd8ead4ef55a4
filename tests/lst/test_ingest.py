"""LST ingest: granule pair -> scene store (checks, QC masking) -> patch store (valid patches, split)."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from lst_hdf import MOD09GQ_NAME, MOD11A1_NAME

from eoml.core.errors import EomlError, InputFileError
from eoml.core.settings import study_settings
from eoml.core.store import open_store
from eoml.lst.demo import write_mod09gq, write_mod11a1
from eoml.lst.ingest import extract_patches, ingest_scene, split_dates, valid_patches
from eoml.lst.readers import tile_bounds

N = 32  # 1 km pixels per side of the small test granules (a coarse grid over the whole tile)
F = 4
#: the lst config with the schema's defaults (ingest_scene and extract_patches read their keys from it)
CFG = study_settings("lst")


def _pair(tmp_path, *, date="2021-07-01", lst_k=None, qc=None, ndvi=None, refl_qc=None, tag="a",
          fine_shape=None, shift_m=0.0, refl_date=None):
    """A MOD11A1 + MOD09GQ pair in the MODIS layout; returns their paths."""
    y, x = np.mgrid[0:N, 0:N]
    lst_k = 300 + 0.2 * x + 0.1 * y if lst_k is None else lst_k
    raw_lst = np.round(np.nan_to_num(lst_k, nan=0) / 0.02).astype(np.uint16)
    qc = np.zeros((N, N), np.uint8) if qc is None else qc
    raw_lst[(qc & 3) >= 2] = 0
    folder = tmp_path / tag
    day = {"2021-07-01": "182", "2021-07-04": "185", "2021-07-07": "188", "2021-07-10": "191"}
    m11 = write_mod11a1(folder / MOD11A1_NAME.replace("182", day[date]),
                        {"LST_Day_1km": raw_lst, "QC_Day": qc}, tile="h11v05", date=date)
    shape = fine_shape or (N * F, N * F)
    (x0, y0), (x1, y1) = tile_bounds(11, 5)
    corners = {"upper_left": (x0 + shift_m, y0), "lower_right": (x1 + shift_m, y1)} if shift_m else {}
    ndvi = np.full(shape, 0.6) if ndvi is None else ndvi
    red = np.full(shape, 0.05)
    nir = red * (1 + ndvi) / (1 - ndvi)
    refl_qc = np.full(shape, 4096, np.uint16) if refl_qc is None else refl_qc
    m09 = write_mod09gq(folder / MOD09GQ_NAME.replace("182", day[refl_date or date]),
                        {"sur_refl_b01_1": np.round(red / 1e-4).astype(np.int16),
                         "sur_refl_b02_1": np.round(nir / 1e-4).astype(np.int16), "QC_250m_1": refl_qc},
                        tile="h11v05", date=refl_date or date, **corners)
    return m11, m09


def test_scene_store_masks_cloud_sea_low_quality_and_keeps_the_grid(tmp_path):
    qc = np.zeros((N, N), np.uint8)
    qc[:4, :4] = 2            # cloud
    qc[-3:, :] = 3            # not produced (sea)
    qc[10, 10] = 1 | (3 << 6)  # other quality, LST error > 3 K
    qc[11, 11] = 1 | (1 << 6)  # other quality, LST error <= 2 K: kept
    ndvi = np.full((N * F, N * F), 0.6)
    ndvi[-12:, :] = -0.3      # water
    m11, m09 = _pair(tmp_path, qc=qc, ndvi=ndvi)
    store = ingest_scene(m11, m09, tmp_path / "scene.zarr", CFG)
    ds = open_store(store)
    lst = ds["lst"].values
    assert np.isnan(lst[:4, :4]).all() and np.isnan(lst[-3:]).all() and np.isnan(lst[10, 10])
    assert np.isfinite(lst[11, 11]) and lst[5, 5] == pytest.approx(300 + 0.2 * 5 + 0.1 * 5, abs=0.011)
    assert ds.attrs["n_lst_cloud"] == 16 and ds.attrs["n_lst_not_produced"] == 3 * N
    assert ds.attrs["n_lst_low_quality"] == 1
    assert ds["water"].values[-12:].all() and not ds["water"].values[:-12].any()
    np.testing.assert_allclose(ds["ndvi"].values[0, 0], 0.6, atol=1e-3)
    # the two grids share the top-left corner; the fine pixel is a quarter of the coarse one
    dx, fdx = float(ds.x[1] - ds.x[0]), float(ds.xf[1] - ds.xf[0])
    assert dx == pytest.approx(F * fdx)
    assert float(ds.x[0] - dx / 2) == pytest.approx(float(ds.xf[0] - fdx / 2), abs=1e-6)
    assert ds.attrs["source_files"] == [m11.name, m09.name]
    assert ds["lst"].attrs["grid_mapping"] == "spatial_ref"


def test_patches_exclude_any_bad_pixel_and_keep_their_ndvi(tmp_path):
    lst = np.full((N, N), 300.0)
    ndvi = np.full((N * F, N * F), 0.5)
    water = np.zeros((N * F, N * F), np.uint8)
    lst[3, 20] = np.nan          # kills the patch (0, 16)
    ndvi[70, 5] = np.nan         # kills the patch (16, 0)
    water[100, 100] = 1          # kills the patch (16, 16)
    rows, cols = valid_patches(lst, ndvi, water, F, 16)
    assert list(zip(rows.tolist(), cols.tolist())) == [(0, 0)]
    rows, cols = valid_patches(lst, ndvi, water, F, 8, stride=4)
    assert (0, 0) in zip(rows.tolist(), cols.tolist()) and (0, 16) not in zip(rows.tolist(), cols.tolist())


@pytest.mark.parametrize("problem, kwargs, match", [
    ("misaligned", {"shift_m": 500.0}, "top-left corner"),
    ("shape", {"fine_shape": (N * 2, N * 2)}, "not 4 times"),
    ("date", {"refl_date": "2021-07-04"}, "do not match"),
])
def test_pairs_that_do_not_fit_are_refused_naming_the_reflectance_file(tmp_path, problem, kwargs, match):
    m11, m09 = _pair(tmp_path, **kwargs)
    with pytest.raises(InputFileError, match=match) as err:
        ingest_scene(m11, m09, tmp_path / "scene.zarr", CFG)
    assert err.value.path == str(m09)
    assert not (tmp_path / "scene.zarr").exists()


def test_lst_mostly_outside_the_physical_range_is_an_error(tmp_path):
    m11, m09 = _pair(tmp_path, lst_k=np.full((N, N), 360.0))
    with pytest.raises(InputFileError, match="outside the physical range") as err:
        ingest_scene(m11, m09, tmp_path / "scene.zarr", CFG)
    assert err.value.path == str(m11)


def test_truncated_granule_error_or_logged_skip(tmp_path, caplog):
    m11, m09 = _pair(tmp_path)
    data = m11.read_bytes()
    m11.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputFileError, match="truncated") as err:
        ingest_scene(m11, m09, tmp_path / "scene.zarr", CFG)
    assert err.value.path == str(m11)
    with caplog.at_level(logging.WARNING):
        store = ingest_scene(m11, m09, tmp_path / "scene.zarr", study_settings("lst", {"on_bad_file": "skip"}))
    assert "truncated" in open_store(store).attrs["skipped"]
    assert m11.name in caplog.text


def test_patch_store_split_by_date_and_skipped_scenes(tmp_path, caplog):
    stores = []
    for i, date in enumerate(["2021-07-01", "2021-07-04", "2021-07-07", "2021-07-10"]):
        m11, m09 = _pair(tmp_path, date=date, tag=f"d{i}")
        stores.append(ingest_scene(m11, m09, tmp_path / f"s{i}.zarr", CFG))
    qc = np.full((N, N), 2, np.uint8)  # overcast: no valid patch
    m11, m09 = _pair(tmp_path, date="2021-07-01", tag="cloudy", qc=qc)
    cloudy = ingest_scene(m11, m09, tmp_path / "cloudy.zarr", CFG)
    with caplog.at_level(logging.WARNING):
        out = extract_patches([*stores, cloudy], tmp_path / "patches.zarr",
                              {**CFG, "patch_size": 16})
    assert "no valid 16x16 patch" in caplog.text and "cloudy.zarr" in caplog.text
    p = open_store(out)
    assert p.sizes["patch"] == 4 * 4 and p["ndvi"].shape == (16, 64, 64)
    split = np.array([str(s) for s in p["split"].values])
    dates = p["date"].values
    assert (split == "val").sum() == 4  # one whole date of four
    assert set(dates[split == "val"]).isdisjoint(set(dates[split == "train"]))
    assert p.attrs["source_files"][0] == "MOD11A1.A2021182.h11v05.061.2021183104512.hdf"
    np.testing.assert_allclose(p["lst"].values[0], open_store(stores[0])["lst"].values[:16, :16])


def test_split_dates_is_seeded_and_needs_two_dates():
    dates = [f"2021-07-{d:02d}" for d in range(1, 9)]
    a = split_dates(dates * 3, 0.25, seed=0)
    assert a == split_dates(dates, 0.25, seed=0)
    assert sum(v == "val" for v in a.values()) == 2
    assert split_dates(dates[:2], 0.01, seed=1) != {}  # at least one date per side
    assert set(split_dates(dates[:2], 0.9, seed=1).values()) == {"train", "val"}
    with pytest.raises(EomlError, match="at least 2 dates"):
        split_dates(dates[:1], 0.25, seed=0)
