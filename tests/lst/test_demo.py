"""The LST demo generator: real layouts, physics of the synthetic world, determinism."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from lst_hdf import REAL_MOD11A1

from eoml.core.errors import ConfigError
from eoml.core.settings import study_settings
from eoml.lst import demo, readers

CFG = {"n_dates": 1, "seed": 11, "tile": "h11v05", "start": "2021-07-01", "step_days": 2, "scenes": True}


def _digest(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _files(plan: dict) -> list[str]:
    files = [p for g in plan["modis"] for p in (g["mod11a1"], g["mod09gq"])]
    files += [s[k] for s in plan["scenes"] for k in ("lst", "red", "nir", "mtl") if k in s]
    return files


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    out = tmp_path_factory.mktemp("lst_demo")
    plan = demo.generate_demo(out, CFG)
    yield out, plan
    demo.clear_caches()  # ~1.5 GB of cached worlds, not needed by the other test files


@pytest.fixture(scope="module")
def granule(generated):
    _, plan = generated
    g = plan["modis"][0]
    return {"plan": g, "lst": readers.read_mod11a1(g["mod11a1"]), "refl": readers.read_mod09gq(g["mod09gq"]),
            "world": demo.demo_world(g["tile"], g["date"], CFG["seed"])}


def test_plan_matches_the_written_files(generated, tmp_path):
    out, plan = generated
    assert demo.demo_plan(out, CFG) == plan
    written = sorted(str(p) for p in Path(out).rglob("*") if p.is_file())
    assert written == sorted(_files(plan))  # nothing else: no temporary or work files left behind
    g = plan["modis"][0]
    assert g["date"] == "2021-07-01" and g["tile"] == "h11v05"
    for key, product in (("mod11a1", "MOD11A1"), ("mod09gq", "MOD09GQ")):
        meta = readers.parse_granule_name(g[key])
        assert meta["product"] == product and meta["tile"] == "h11v05" and meta["date"].isoformat() == "2021-07-01"
        assert meta["production"].startswith("2021183")
    assert [s["name"] for s in plan["scenes"]] == ["aster_demo", "landsat_demo"]
    assert all(s["factor"] == 4 for s in plan["scenes"])
    # the plan of the default configuration: 8 dates two days apart, nothing written
    full = demo.demo_plan(tmp_path / "never", study_settings("lst").demo)
    assert len(full["modis"]) == 8 and full["modis"][-1]["date"] == "2021-07-15"
    assert not (tmp_path / "never").exists()


def test_config_is_checked():
    with pytest.raises(ConfigError, match="unknown key"):
        demo.demo_plan("x", {**CFG, "ndates": 3})
    with pytest.raises(ConfigError, match=r"missing key\(s\) seed \(the schema fills them"):
        demo.demo_plan("x", {k: v for k, v in CFG.items() if k != "seed"})
    with pytest.raises(ConfigError, match="tile"):
        demo.demo_plan("x", {**CFG, "tile": "h40v05"})
    with pytest.raises(ConfigError, match="n_dates"):
        demo.demo_plan("x", {**CFG, "n_dates": 0})


def test_granules_carry_the_real_layout(generated):
    from pyhdf.SD import SD

    _, plan = generated
    sd = SD(plan["modis"][0]["mod11a1"])
    assert list(sd.datasets()) == list(demo.MOD11A1_SDS)
    attrs = sd.attributes()
    assert attrs["HDFEOSVersion"] == "HDFEOS_V2.19" and "synthetic" in attrs["eoml_synthetic"]
    grid = readers.parse_struct_metadata(attrs["StructMetadata.0"])
    assert grid["grid_name"] == "MODIS_Grid_Daily_1km_LST" and (grid["xdim"], grid["ydim"]) == (1200, 1200)
    np.testing.assert_allclose(grid["upper_left"], readers.tile_bounds(11, 5)[0], atol=1e-3)
    core = readers.parse_core_metadata(attrs["CoreMetadata.0"])
    assert (core["product"], core["tile"], str(core["date"])) == ("MOD11A1", "h11v05", "2021-07-01")
    if REAL_MOD11A1.is_file():  # same SDSs, dtypes, dimension names, attributes (types and order), compression
        real = SD(str(REAL_MOD11A1))
        assert {k: v[:3] for k, v in real.datasets().items()} == {k: v[:3] for k, v in sd.datasets().items()}
        for name in real.datasets():
            assert sd.select(name).attributes(full=1) == real.select(name).attributes(full=1), name
            assert sd.select(name).getcompress() == real.select(name).getcompress()
        assert set(real.attributes()) <= set(attrs)
    sd9 = SD(plan["modis"][0]["mod09gq"])
    assert list(sd9.datasets()) == list(demo.MOD09GQ_SDS)
    assert readers.parse_struct_metadata(sd9.attributes()["StructMetadata.0"])["grid_name"] == "MODIS_Grid_2D"


def test_readers_read_the_demo_granules(granule):
    lst, refl, world = granule["lst"], granule["refl"], granule["world"]
    assert lst.sizes == {"y": 1200, "x": 1200} and refl.sizes == {"y": 4800, "x": 4800}
    assert lst.attrs["tile"] == refl.attrs["tile"] == "h11v05" and lst.attrs["date"] == refl.attrs["date"]
    np.testing.assert_allclose(refl["x"].values[:4].mean(), lst["x"].values[0], rtol=0, atol=1e-6)
    t, qc = lst["lst"].values, lst["qc"].values
    flags = readers.decode_lst_qc(qc)
    valid = np.isfinite(t)
    assert np.array_equal(valid, flags["mandatory"] <= 1)  # QC bits consistent with fill
    assert np.array_equal(np.isfinite(lst["view_angle"].values), valid)
    land = flags["mandatory"] != 3
    assert 250 < np.nanmin(t[land]) and np.nanmax(t[land]) < 340
    fractions = np.bincount(flags["mandatory"].ravel(), minlength=4) / t.size
    assert 0.08 < fractions[3] < 0.22  # sea
    assert 0.05 < fractions[2] < 0.45  # cloud (10-40 % cover, thin cloud counts half)
    assert fractions[2] == pytest.approx((world["cloud_fraction_1km"][land] >= 0.5).sum() / t.size)
    assert 0.3 < valid.mean() < 0.85
    # QC matters: cloud-contaminated pixels in every LST error class, some above 2 K
    err = flags["lst_error"][flags["mandatory"] == 1]
    assert set(np.unique(err)) == {0, 1, 2, 3}
    usable = readers.lst_quality_mask(qc, max_lst_error_k=2)
    assert 0 < (valid & ~usable).sum() < 0.2 * valid.sum()


def test_mod11a1_is_the_radiance_aggregation_of_the_truth(granule):
    from eoml.lst.scaling import aggregate_lst

    t, qc, world = granule["lst"]["lst"].values, granule["lst"]["qc"].values, granule["world"]
    truth = world["lst_1km"]
    rows = slice(0, 1200)  # the world's 1 km truth is the shared helper's aggregation (checked on a strip)
    np.testing.assert_allclose(truth[:300], aggregate_lst(world["lst"][rows], 4, "radiance"), atol=2e-4, rtol=0)
    flags = readers.decode_lst_qc(qc)
    good = flags["mandatory"] == 0
    assert good.mean() > 0.05
    assert np.abs(t[good] - truth[good]).max() <= 0.0101  # 0.02 K quantization
    other = flags["mandatory"] == 1
    bias = np.abs(t - truth)
    for cls, bound in ((0, 1.0), (1, 2.0), (2, 3.0)):
        sel = other & (flags["lst_error"] == cls)
        assert sel.any() and bias[sel].max() <= bound + 0.011
    assert bias[other & (flags["lst_error"] == 3)].min() > 3.0 - 0.011


def test_mod09gq_reflectances_clouds_and_sea(granule):
    refl, world = granule["refl"], granule["world"]
    f = readers.decode_mod09gq_qc(refl["qc_250m"].values)
    assert (f["atmos_corr"] == 1).all()
    assert np.array_equal(f["modland"] == 2, world["cloud"]) and np.array_equal(f["modland"] == 1, world["thin_cloud"])
    rows = slice(0, 4800, 3)  # every third row: enough pixels, a third of the time
    qc = refl["qc_250m"].values[rows]
    red, nir = refl["red"].values[rows], refl["nir"].values[rows]
    red_true, nir_true = demo.world_reflectances(world, rows)
    ideal = (f["modland"][rows] == 0) & readers.reflectance_quality_mask(qc)
    assert ideal.mean() > 0.4
    np.testing.assert_allclose(red[ideal], red_true[ideal], atol=0.6e-4, rtol=0)
    np.testing.assert_allclose(nir[ideal], nir_true[ideal], atol=0.6e-4, rtol=0)
    ndvi = readers.ndvi_from_reflectance(red, nir)
    np.testing.assert_allclose(ndvi[ideal], world["ndvi"][rows][ideal], atol=2e-3)
    assert np.nanmin(red[world["cloud"][rows]]) >= 0.45  # clouds are bright in both bands
    sea = world["water"][rows] & ideal
    assert sea.mean() > 0.05 and np.nanmax(ndvi[sea]) < 0  # valid water reflectances, negative NDVI
    assert np.nanmin(ndvi[ideal & ~world["water"][rows]]) > 0
    lc = world["land_cover"][rows]
    for klass, lo, hi in ((demo.FOREST, 0.65, 0.92), (demo.BARE, 0.0, 0.25), (demo.URBAN, 0.05, 0.4)):
        sel = ideal & (lc == klass)
        assert lo < np.median(ndvi[sel]) < hi
    if world["dead_rows"] is not None:
        r = world["dead_rows"][0]
        assert (f["band1_quality"][r] == 8).all()
        assert not readers.reflectance_quality_mask(refl["qc_250m"].values[r]).any()


def test_lst_follows_ndvi_so_sharpening_is_meaningful(granule):
    world = granule["world"]
    land = ~world["water"]
    sub = (slice(0, None, 7), slice(0, None, 7))
    r = np.corrcoef(world["ndvi"][sub][land[sub]], world["lst"][sub][land[sub]])[0, 1]
    assert r < -0.5
    # sub-kilometre structure: the 250 m truth varies within 1 km pixels by more than the noise
    blocks = world["lst"].reshape(1200, 4, 1200, 4).std(axis=(1, 3))
    assert np.median(blocks[world["water_fraction_1km"] == 0]) > 0.6


def test_validation_scenes(generated):
    from eoml.lst.scaling import aggregate_lst

    _, plan = generated
    aster, landsat = (readers.read_validation_scene(s) for s in plan["scenes"])
    assert aster.sizes == {"y": 480, "x": 480} and landsat.sizes == {"y": 600, "x": 600}
    truth = demo.scene_truth("aster_demo", CFG["seed"])
    t90 = aggregate_lst(truth["lst"], 6, "radiance")
    ok = np.isfinite(aster["lst"].values)
    assert 0.7 < ok.mean() < 0.98  # rotated footprint: nodata corners
    assert np.abs(aster["lst"].values[ok] - t90[ok]).max() <= 0.0501  # 0.1 K quantization
    ok_ndvi = np.isfinite(aster["ndvi"].values)
    red90 = truth["red"].reshape(480, 6, 480, 6).mean(axis=(1, 3))
    np.testing.assert_allclose(aster["red"].values[ok_ndvi], red90[ok_ndvi], atol=1e-4)
    lt = demo.scene_truth("landsat_demo", CFG["seed"])
    ok = np.isfinite(landsat["lst"].values)
    assert ok.mean() > 0.9 and np.abs(landsat["lst"].values[ok] - lt["lst"][ok]).max() < 0.01
    for ds in (aster, landsat):
        t, n = ds["lst"].values, ds["ndvi"].values
        both = np.isfinite(t) & np.isfinite(n) & (n > 0.1)
        assert 270 < np.nanmin(t) and np.nanmax(t) < 335
        assert np.corrcoef(t[both], n[both])[0, 1] < -0.5


def test_generation_is_byte_identical(generated, granule, tmp_path):
    _, plan = generated
    # the same granule written again, elsewhere: HDF4 records the creation name, which must not vary
    first = Path(plan["modis"][0]["mod11a1"])
    arrays, qa = demo.mod11a1_arrays(granule["world"])
    again = demo.write_mod11a1(tmp_path / "x" / first.name, arrays, tile="h11v05", date="2021-07-01", qa=qa)
    assert _digest(first) == _digest(again)
    small = {"sur_refl_b01_1": np.arange(64, dtype=np.int16).reshape(8, 8)}
    a = demo.write_mod09gq(tmp_path / "a" / "MOD09GQ.A2021182.h11v05.061.2021183033015.hdf", small, tile="h11v05",
                           date="2021-07-01")
    b = demo.write_mod09gq(tmp_path / "b" / "c" / a.name, small, tile="h11v05", date="2021-07-01")
    assert _digest(a) == _digest(b)
    entry = next(s for s in plan["scenes"] if s["name"] == "landsat_demo")
    copy = {k: (str(tmp_path / Path(v).name) if k in ("lst", "red", "nir", "mtl") else v) for k, v in entry.items()}
    demo._scene_landsat(tmp_path, CFG["seed"], copy)
    for key in ("lst", "red", "nir", "mtl"):
        assert _digest(entry[key]) == _digest(copy[key])


def test_world_building_blocks_are_deterministic():
    a = demo._landscape((120, 120), demo._rng(5, 1), cell=6, water_fraction=0.1, coast=True, scale_px=60.0)
    b = demo._landscape((120, 120), demo._rng(5, 1), cell=6, water_fraction=0.1, coast=True, scale_px=60.0)
    c = demo._landscape((120, 120), demo._rng(6, 1), cell=6, water_fraction=0.1, coast=True, scale_px=60.0)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not np.array_equal(a["labels"], c["labels"])
    assert a["water"].mean() == pytest.approx(0.1, abs=0.02)
    field = demo._field((256, 256), demo._rng(1), 3.0, outer_px=40.0)
    assert field.dtype == np.float32 and abs(float(field.mean())) < 1e-3 and 0.5 < float(field.std()) < 1.5


def test_fast_aggregation_matches_the_shared_helpers():
    from eoml.lst.scaling import aggregate_lst, block_mean, upsample

    rng = np.random.default_rng(0)
    t = (300 + 10 * rng.standard_normal((48, 48))).astype(np.float32)
    np.testing.assert_allclose(demo._radiance_mean(t, 4), aggregate_lst(t, 4, "radiance"), atol=1e-4, rtol=0)
    np.testing.assert_allclose(demo._block_mean(t, 6), block_mean(t, 6), rtol=1e-6)
    small = rng.standard_normal((12, 10)).astype(np.float32)
    up = np.vstack([demo._upsample_rows(small, 8, s) for s in (slice(0, 40), slice(40, 96))])
    np.testing.assert_allclose(up, upsample(small, 8, "bilinear"), atol=1e-5)
