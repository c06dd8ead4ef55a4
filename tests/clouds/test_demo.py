"""The clouds demo generator: GOES-16 ABI L1b files, the Kaggle layout, seeded bytes, distinct patterns."""

from __future__ import annotations

import csv
import datetime as dt
import re
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage

from eoml.clouds import demo
from eoml.core.errors import ConfigError

#: a small demo: two scenes of a ~130 km box east of Barbados, four 96 x 144 images
CFG = {
    "seed": 3,
    "n_goes_scenes": 2,
    "goes_domain": {"lon_min": -58.0, "lon_max": -56.8, "lat_min": 12.8, "lat_max": 14.0},
    "goes_start": "2020-02-02T14:00:00",
    "goes_interval_min": 90,
    "n_kaggle_images": 4,
    "kaggle_shape": [96, 144],
    "kaggle_km_per_px": 6.0,
    "kaggle_gap_prob": 0.5,
    "n_expert_images": 5,
    "expert_shape": [64, 80],
    "expert_km_per_px": 2.0,
}
ABI_NAME = re.compile(r"OR_ABI-L1b-RadM1-M6C0([123])_G16_s(\d{14})_e(\d{14})_c(\d{14})\.nc$")
REAL_ABI = {1: "GOES_ABI_L1b/OR_ABI-L1b-RadM1-M3C01_G16_s20171931811268_e20171931811326_c20171931811369.nc",
            3: "GOES_ABI_L1b/OR_ABI-L1b-RadM1-M3C03_G16_s20171931811268_e20171931811326_c20171931811371.nc"}


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    out = tmp_path_factory.mktemp("clouds_demo")
    return out, demo.generate_demo(out, CFG)


def _scene_files(summary, k):
    return summary["goes_scenes"][k]["files"]


def test_files_follow_the_real_layouts(generated):
    out, summary = generated
    goes = sorted((out / "goes").iterdir())
    assert len(goes) == 3 * CFG["n_goes_scenes"] and [Path(p) for p in summary["goes_files"]] == goes
    starts = set()
    for path in goes:
        m = ABI_NAME.match(path.name)
        assert m, path.name
        starts.add(m.group(2))
        assert m.group(2) < m.group(3) < m.group(4)          # start < end < created
    assert starts == {"20200331400000", "20200331530000"}   # 2020-02-02 = day 033, scenes 90 min apart
    images = sorted((out / "kaggle" / "train_images").iterdir())
    assert len(images) == CFG["n_kaggle_images"]
    assert all(re.fullmatch(r"[0-9a-f]{7}\.jpg", p.name) for p in images)
    from PIL import Image

    with Image.open(images[0]) as im:
        assert im.format == "JPEG" and im.mode == "RGB" and im.size == (144, 96)


def test_seeded_output_is_identical(generated, tmp_path):
    out, summary = generated
    again = demo.generate_demo(tmp_path, CFG)
    first = sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file())
    second = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    assert first == second and len(first) == 3 * 2 + 4 + 1 + 5
    for rel in first:
        assert (out / rel).read_bytes() == (tmp_path / rel).read_bytes(), rel
    assert again["kaggle_labels"] == summary["kaggle_labels"]
    other = demo.generate_demo(tmp_path / "other", {**CFG, "seed": 4})
    assert other["kaggle_labels"] != summary["kaggle_labels"]


def test_satpy_reads_back_the_reflectances(generated):
    """satpy's abi_l1b reader (esun and the Earth-Sun distance) gives the generator's reflectance factor."""
    import netCDF4
    from satpy import Scene

    _, summary = generated
    files = _scene_files(summary, 1)
    truth = demo.goes_scene_fields(CFG, 1)
    scn = Scene(reader="abi_l1b", filenames=[files[b] for b in (1, 2, 3)])
    scn.load(["C01", "C02", "C03"], calibration="reflectance")
    for band in (1, 2, 3):
        with netCDF4.Dataset(files[band]) as nc:
            scale = float(nc["Rad"].scale_factor)
            kappa0 = float(nc["kappa0"][...])
        got = scn[f"C0{band}"].values.astype(float) / 100.0
        want = truth["reflectance"][band]
        assert got.shape == want.shape == (truth["window"][2] * (2 if band == 2 else 1),
                                           truth["window"][3] * (2 if band == 2 else 1))
        # within half a count of Rad (plus float32 rounding)
        assert np.abs(got - want).max() <= 0.5 * scale * kappa0 * 1.001 + 1e-6, band
        assert 0.02 < want.mean() < 0.5
    # the three bands share one area extent; C02 has twice the pixels each way
    a1, a2 = scn["C01"].attrs["area"], scn["C02"].attrs["area"]
    assert np.allclose(a1.area_extent, a2.area_extent, atol=1.0) and a2.shape == (2 * a1.shape[0], 2 * a1.shape[1])
    # the window covers the configured box
    lons, lats = a1.get_lonlats()
    d = CFG["goes_domain"]
    assert lons.min() <= d["lon_min"] and lons.max() >= d["lon_max"]
    assert lats.min() <= d["lat_min"] and lats.max() >= d["lat_max"]
    assert scn["C01"].attrs["platform_name"] == "GOES-16"


def test_solar_zenith_of_the_scan_time_undoes_the_darkening(generated):
    """reflectance factor = rho cos(sza), sza at the file's mid-scan time ``t``: dividing by it gives
    back the clouds' reflectance (two-stream tau / (tau + 13.3) plus a little atmosphere)."""
    import netCDF4
    from pyorbital import astronomy
    from satpy import Scene

    _, summary = generated
    files = _scene_files(summary, 0)
    truth = demo.goes_scene_fields(CFG, 0)
    with netCDF4.Dataset(files[2]) as nc:
        t = float(nc["t"][...])
        assert nc["t"].units == "seconds since 2000-01-01 12:00:00"
        tb = nc["time_bounds"][...]
    assert tb[0] < t < tb[1]
    mid = dt.datetime(2000, 1, 1, 12) + dt.timedelta(seconds=t)
    scn = Scene(reader="abi_l1b", filenames=[files[2]])
    scn.load(["C02"], calibration="reflectance")
    lons, lats = scn["C02"].attrs["area"].get_lonlats()
    mu = astronomy.cos_zen(mid, lons.astype(float), lats.astype(float))
    assert np.allclose(mu, truth["cos_sza"][2], atol=2e-4)
    assert 0.3 < mu.min() and mu.max() < 0.95
    factor = scn["C02"].values / 100.0
    tau = truth["optical_depth"]
    thick = tau >= 10
    assert thick.sum() > 100
    two_stream = tau[thick] / (tau[thick] + 13.3)
    assert np.median(np.abs(factor[thick] / mu[thick] - two_stream)) < 0.06
    assert np.median(np.abs(factor[thick] - two_stream)) > 0.1       # not undone without the correction
    assert np.median((factor / mu)[tau == 0]) < 0.1                  # dark ocean


@pytest.mark.realdata(REAL_ABI[1], REAL_ABI[3])
def test_netcdf_layout_matches_the_real_files(generated, realdata):
    """Every variable (dtype, dimensions) and attribute of the real M1 files is in the demo files, and
    ``Rad``'s packing (scale, offset, fill, unsigned, valid range) and kappa0's definition are the real ones."""
    import netCDF4

    _, summary = generated
    files = _scene_files(summary, 0)
    for band in (1, 3):
        with netCDF4.Dataset(realdata / REAL_ABI[band]) as real, netCDF4.Dataset(files[band]) as ours:
            real.set_auto_maskandscale(False)
            ours.set_auto_maskandscale(False)
            assert set(real.ncattrs()) <= set(ours.ncattrs())
            assert set(real.dimensions) <= set(ours.dimensions)
            missing = set(real.variables) - set(ours.variables)
            assert not missing, missing
            for name, var in real.variables.items():
                mine = ours[name]
                assert (mine.dtype, mine.dimensions) == (var.dtype, var.dimensions), name
                assert set(var.ncattrs()) <= set(mine.ncattrs()), (name, set(var.ncattrs()) - set(mine.ncattrs()))
            for attr in ("scale_factor", "add_offset", "_FillValue", "_Unsigned", "valid_range",
                         "sensor_band_bit_depth", "units"):
                assert np.array_equal(np.asarray(ours["Rad"].getncattr(attr)), np.asarray(real["Rad"].getncattr(attr))), attr
                assert type(ours["Rad"].getncattr(attr)) is type(real["Rad"].getncattr(attr)), attr
            for attr in ("scale_factor", "add_offset"):
                for axis in ("x", "y"):
                    assert ours[axis].getncattr(attr).dtype == real[axis].getncattr(attr).dtype
            for nc in (real, ours):   # kappa0 = pi d^2 / esun, in the real files as in ours
                d, esun = float(nc["earth_sun_distance_anomaly_in_AU"][...]), float(nc["esun"][...])
                assert float(nc["kappa0"][...]) == pytest.approx(np.pi * d * d / esun, rel=1e-4)
            assert ours.getncattr("dataset_name") == Path(files[band]).name


def test_rad_is_stored_as_unsigned_counts(generated):
    import netCDF4

    _, summary = generated
    for band, top in ((1, 1022), (2, 4094), (3, 1022)):
        with netCDF4.Dataset(_scene_files(summary, 0)[band]) as nc:
            nc.set_auto_maskandscale(False)
            counts = nc["Rad"][...]
            dqf = nc["DQF"][...]
            assert counts.dtype == np.int16 and dqf.dtype == np.int8
            assert nc["Rad"].getncattr("_FillValue") == top + 1
            assert counts.min() >= 0 and counts.max() <= top and (dqf[counts < top] == 0).all()
            assert nc["band_id"][0] == band
            x = nc["x"][...] * np.float64(nc["x"].scale_factor) + nc["x"].add_offset
            assert np.allclose(np.diff(x), 2.8e-5 / (2 if band == 2 else 1))


def _decode(rle: str, shape) -> np.ndarray:
    """Kaggle RLE, written here independently: 1-indexed starts, runs down the columns."""
    flat = np.zeros(shape[0] * shape[1], bool)
    values = [int(v) for v in rle.split()]
    for start, length in zip(values[::2], values[1::2]):
        flat[start - 1:start - 1 + length] = True
    return flat.reshape(shape[1], shape[0]).T


def test_kaggle_csv_decodes_to_the_label_rectangles(generated):
    from eoml.clouds.labels import CLASSES, rle_decode

    out, summary = generated
    shape = tuple(CFG["kaggle_shape"])
    with open(out / "kaggle" / "train.csv", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["Image_Label", "EncodedPixels"]
    rows = rows[1:]
    images = sorted(p.name for p in (out / "kaggle" / "train_images").iterdir())
    assert [r[0] for r in rows] == [f"{im}_{cls}" for im in images for cls in CLASSES]
    n_labelled, n_partial = 0, 0
    for image in images:
        union = np.zeros(shape, bool)
        for cls in CLASSES:
            (rle,) = [r[1] for r in rows if r[0] == f"{image}_{cls}"]
            want = np.zeros(shape, bool)
            for lab in summary["kaggle_labels"]:
                if lab["image"] == image and lab["class"] == cls:
                    want[lab["y0"]:lab["y1"], lab["x0"]:lab["x1"]] = True
            assert np.array_equal(_decode(rle, shape), want), (image, cls)
            assert np.array_equal(rle_decode(rle, shape), want), (image, cls)
            n_labelled += bool(rle)
            union |= want
        n_partial += not union.all()
    assert n_labelled >= len(images) and n_partial >= 1
    # the independent decoder pins the convention: "1 3" is the top of the first column
    assert _decode("1 3", (4, 2)).tolist() == [[True, False], [True, False], [True, False], [False, False]]


def test_kaggle_images_show_the_labelled_clouds():
    """Inside a labelled region of a cloudy pattern the image is brighter than in clear parts."""
    for i in range(4):
        item = demo.kaggle_image(CFG, i)
        grey = item["rgb"].mean(axis=-1)
        assert item["rgb"].shape == (96, 144, 3)
        assert item["labels"]
        if item["background"] == "clear" and not item["gap"].any():
            inside = np.zeros(grey.shape, bool)
            for _, y0, y1, x0, x1 in item["regions"]:
                inside[y0:y1, x0:x1] = True
            assert grey[inside].mean() > grey[~inside].mean() + 5


def _objects(mask):
    lab, n = ndimage.label(mask)
    sizes = np.bincount(lab.ravel())[1:]
    return n, sizes


def test_patterns_differ_in_structure():
    """Object counts and sizes of the cloud masks order the patterns as observed (Stevens et al. 2020).

    Over three 256 km scenes at 1 km: Sugar has thousands of objects, Gravel hundreds of
    ring-sized ones, Flower a few of thousands of pixels and Fish one skeleton holding most of its
    cloud; the area-weighted mean object size grows Sugar < Gravel < Flower.
    """
    shape, px = (256, 256), 1.0
    stats = {}
    for name in demo.FIELDS:
        rows = []
        for seed in range(3):
            tau = demo.render_pattern(name, shape, px, np.random.default_rng(seed))
            assert tau.dtype == np.float32 and tau.shape == shape and tau.min() >= 0
            mask = tau > 0
            n, sizes = _objects(mask)
            if n == 0:
                rows.append((0, 0, 0.0, 0, mask.mean()))
                continue
            rows.append((n, int((sizes >= 10).sum()), (sizes ** 2).sum() / sizes.sum(), sizes.max(), mask.mean()))
        stats[name] = dict(zip(("n", "n_big", "weighted_size", "largest", "cover"), np.mean(rows, axis=0)))
    s = stats
    assert s["clear"]["cover"] == 0.0
    assert s["Sugar"]["n"] > 3 * max(s["Gravel"]["n"], s["Flower"]["n"], s["Fish"]["n"])
    assert s["Gravel"]["n_big"] > 5 * s["Flower"]["n_big"] and s["Gravel"]["n_big"] > 5 * s["Fish"]["n_big"]
    assert 1.5 * s["Sugar"]["weighted_size"] < s["Gravel"]["weighted_size"] < s["Flower"]["weighted_size"] / 10
    assert s["Fish"]["largest"] > 0.5 * s["Fish"]["cover"] * shape[0] * shape[1]
    assert s["Fish"]["largest"] > s["Flower"]["largest"] > 10 * s["Gravel"]["largest"]
    for name in demo.PATTERNS:
        assert 0.05 < s[name]["cover"] < 0.5, (name, s[name])


def test_goes_read_reflectance_of_helper_a(generated):
    """Once eoml.clouds.goes exists, its reader gives kappa0 * Rad = the generator's reflectance factor."""
    goes = pytest.importorskip("eoml.clouds.goes")
    _, summary = generated
    truth = demo.goes_scene_fields(CFG, 0)
    for band in (1, 2, 3):
        da = goes.read_reflectance(_scene_files(summary, 0)[band])
        assert np.abs(np.asarray(da.values, float) - truth["reflectance"][band]).max() < 2e-3


def test_expert_set_is_class_folders_of_one_pattern_each(generated):
    """The expert set: class folders read by the expert reader, the classes in turn, at its own
    size; each image is the whole-image pattern its folder names."""
    from PIL import Image

    from eoml.clouds.labels import CLASSES, read_expert

    out, summary = generated
    listing = read_expert(out / "expert")
    assert len(listing) == CFG["n_expert_images"] == len(summary["expert_images"])
    assert sorted(str(p) for p in listing.files) == summary["expert_images"]
    assert sorted(CLASSES[c] for c in listing.labels) == sorted(CLASSES[i % 4] for i in range(5))
    for path, c in zip(listing.files, listing.labels, strict=True):
        assert path.parent.name == CLASSES[c] and re.fullmatch(r"[0-9a-f]{7}\.png", path.name)
        with Image.open(path) as im:
            assert im.size == (80, 64) and im.mode == "RGB"
    plan = demo.demo_files(out, CFG)
    assert [str(p) for p in plan["expert_images"]] == summary["expert_images"]
    assert plan["expert_root"] == out / "expert"
    # each image shows its pattern over the whole image: cloudy pixels spread across it
    for i in range(4):
        item = demo.expert_image(CFG, i)
        assert item["label"] == CLASSES[i] and item["rgb"].shape == (64, 80, 3)
        grey = item["rgb"].mean(axis=-1)
        bright = grey > np.percentile(grey, 90)
        assert bright[:32].any() and bright[32:].any(), CLASSES[i]


@pytest.mark.parametrize(("key", "value", "match"), [
    ("kaggle_shape", [10, 20], "kaggle_shape"),
    ("expert_shape", [10, 20], "expert_shape"),
    ("expert_km_per_px", 0.1, "expert_km_per_px"),
    ("goes_domain", {"lon_min": 100.0, "lon_max": 101.0, "lat_min": 0.0, "lat_max": 1.0}, "goes_domain"),
    ("goes_start", "yesterday", "goes_start"),
    ("goes_domain", {"lon_min": -60.0, "lon_max": -45.0, "lat_min": 10.0, "lat_max": 20.0}, "Mesoscale"),
    ("n_goes_scenes", -1, "n_goes_scenes"),
])
def test_bad_config_names_the_key(tmp_path, key, value, match):
    with pytest.raises(ConfigError, match=match):
        demo.generate_demo(tmp_path, {**CFG, key: value})
    missing = {k: v for k, v in CFG.items() if k != "seed"}
    with pytest.raises(ConfigError, match="seed"):
        demo.generate_demo(tmp_path, missing)
    assert not any(tmp_path.iterdir())
