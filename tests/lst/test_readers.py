"""LST readers: the real MOD11A1 granule, small MODIS-layout granules, validation GeoTIFF scenes."""

from __future__ import annotations

import math

import numpy as np
import pytest
from lst_hdf import (
    MOD09GQ_NAME,
    MOD11A1_NAME,
    MTL_TEXT,
    REAL_MOD11A1,
    small_mod11a1_arrays,
    write_raw_granule,
    write_tif,
)
from realdata_files import realdata_file

from eoml.core.errors import ConfigError, InputFileError
from eoml.core.store import check_cf
from eoml.lst import readers
from eoml.lst.demo import struct_metadata_text, write_mod09gq, write_mod11a1


@pytest.fixture(scope="module")
def real_granule(realdata):
    return realdata_file(REAL_MOD11A1)


@pytest.fixture(scope="module")
def real_raw(real_granule):
    from pyhdf.SD import SD

    sd = SD(str(real_granule))
    out = {name: sd.select(name).get() for name in ("LST_Day_1km", "QC_Day", "Day_view_time", "Day_view_angl")}
    out["StructMetadata.0"] = sd.attributes()["StructMetadata.0"]
    out["CoreMetadata.0"] = sd.attributes()["CoreMetadata.0"]
    sd.end()
    return out


@pytest.fixture(scope="module")
def real_ds(real_granule):
    return readers.read_mod11a1(real_granule)


# --------------------------------------------------------------------------------------------
# the real granule


def test_real_granule_scaling_from_sds_attributes(real_ds, real_raw):
    raw = real_raw["LST_Day_1km"]
    assert raw[0, 0] == 14981 and raw[0, 1] == 15002  # known pixels of this granule
    np.testing.assert_allclose(real_ds["lst"].values[0, :3], raw[0, :3] * 0.02, rtol=1e-6)
    assert real_ds["lst"].values[0, 0] == pytest.approx(299.62, abs=1e-4)
    assert real_ds["lst"].dtype == np.float32 and real_ds["lst"].attrs["units"] == "K"
    assert np.isnan(real_ds["lst"].values[raw == 0]).all()
    valid = raw > 0
    np.testing.assert_allclose(real_ds["view_angle"].values[valid], real_raw["Day_view_angl"][valid] - 65.0)
    np.testing.assert_allclose(real_ds["view_time"].values[valid], real_raw["Day_view_time"][valid] * 0.1, rtol=1e-6)
    assert np.array_equal(real_ds["qc"].values, real_raw["QC_Day"])
    assert real_ds.attrs["tile"] == "h11v05" and real_ds.attrs["date"] == "2021-08-15"
    assert real_ds.attrs["product"] == "MOD11A1" and real_ds.attrs["overpass"] == "day"


def test_real_granule_valid_fraction_and_qc_consistency(real_ds):
    lst, qc = real_ds["lst"].values, real_ds["qc"].values
    valid = np.isfinite(lst)
    assert 0.04 < valid.mean() < 0.05  # a cloudy day: ~4 % valid LST
    flags = readers.decode_lst_qc(qc)
    # on this granule an LST is present exactly where the mandatory QA says "produced"
    assert np.array_equal(valid, flags["mandatory"] <= 1)
    assert set(np.unique(flags["mandatory"][~valid])) == {2, 3}
    usable = readers.lst_quality_mask(qc, max_lst_error_k=2)
    assert usable.sum() <= valid.sum() and not (usable & ~valid).any()
    assert readers.lst_quality_mask(qc, max_lst_error_k=3).sum() > usable.sum()  # some 2-3 K pixels
    # view time and angle are fill exactly where the LST is
    assert np.array_equal(np.isfinite(real_ds["view_time"].values), valid)
    assert 10.0 < np.nanmin(real_ds["view_time"].values) and np.nanmax(real_ds["view_time"].values) < 12.0


def test_real_granule_sinusoidal_coordinates(real_ds, real_raw):
    grid = readers.parse_struct_metadata(real_raw["StructMetadata.0"])
    assert grid["grid_name"] == "MODIS_Grid_Daily_1km_LST" and (grid["xdim"], grid["ydim"]) == (1200, 1200)
    assert grid["upper_left"] == (-7783653.638366, 4447802.079066)
    assert grid["lower_right"] == (-6671703.118599, 3335851.5593)
    assert grid["projection"] == "GCTP_SNSOID" and grid["proj_params"][0] == 6371007.181
    assert grid["data_fields"]["QC_Day"] == {"data_type": "DFNT_UINT8", "dim_list": ("YDim", "XDim")}
    half = 926.625433 / 2  # half a 1 km MODIS pixel: 463.3127 m
    x, y = real_ds["x"].values, real_ds["y"].values
    assert x[0] == pytest.approx(-7783653.638366 + half, abs=1e-3)
    assert x[-1] == pytest.approx(-6671703.118599 - half, abs=1e-3)
    assert y[0] == pytest.approx(4447802.079066 - half, abs=1e-3)
    assert y[-1] == pytest.approx(3335851.559300 + half, abs=1e-3)
    ul, lr = readers.tile_bounds(11, 5)
    np.testing.assert_allclose(ul, grid["upper_left"], atol=1e-3, rtol=0)
    np.testing.assert_allclose(lr, grid["lower_right"], atol=1e-3, rtol=0)
    sr = real_ds["spatial_ref"].attrs
    assert sr["grid_mapping_name"] == "sinusoidal" and sr["earth_radius"] == 6371007.181
    assert sr["longitude_of_central_meridian"] == 0 and "Sinusoidal" in sr["crs_wkt"]
    assert all(real_ds[v].attrs["grid_mapping"] == "spatial_ref" for v in real_ds.data_vars)
    check_cf(real_ds)  # every variable and coordinate has units and long_name


def test_sinusoidal_wkt_is_the_modis_sphere():
    from rasterio.crs import CRS

    a = CRS.from_wkt(readers.sinusoidal_crs_wkt())
    b = CRS.from_proj4(readers.MODIS_SINUSOIDAL_PROJ4)
    assert a.to_dict() == b.to_dict() and a == b
    assert a.to_dict()["proj"] == "sinu" and a.to_dict()["R"] == 6371007.181
    with pytest.raises(ValueError, match="outside"):
        readers.tile_bounds(36, 0)


def test_real_core_metadata(real_raw):
    core = readers.parse_core_metadata(real_raw["CoreMetadata.0"])
    assert core["product"] == "MOD11A1" and core["tile"] == "h11v05"
    assert str(core["date"]) == "2021-08-15"
    assert core["local_granule_id"] == REAL_MOD11A1.name


def test_parse_granule_name():
    meta = readers.parse_granule_name("/data/MOD11A1.A2021227.h11v05.061.2021228105320.hdf")
    assert meta == {"product": "MOD11A1", "date": __import__("datetime").date(2021, 8, 15), "tile": "h11v05",
                    "h": 11, "v": 5, "collection": "061", "production": "2021228105320"}
    leap = readers.parse_granule_name("MYD11A1.A2020366.h08v04.061.2021001000000.hdf")
    assert leap["date"].isoformat() == "2020-12-31"
    assert readers.parse_granule_name(MOD09GQ_NAME)["product"] == "MOD09GQ"
    for bad in ("MOD11A1.A2021227.h11v05.hdf", "notes.txt", "MOD11A1.A2021366.h11v05.061.2022001000000.hdf",
                "MOD11A1.A2021227.h40v05.061.2021228105320.hdf"):
        with pytest.raises(readers.GranuleNameError) as err:
            readers.parse_granule_name(bad)
        assert isinstance(err.value, InputFileError) and isinstance(err.value, ValueError)
        assert bad in str(err.value)


def test_odl_parser_multiline_values_and_repeats():
    tree = readers.parse_odl('GROUP = A\n  OBJECT = X\n    VALUE = ("a", "b,\n  c")\n  END_OBJECT = X\n'
                             '  OBJECT = X\n    VALUE = 2\n  END_OBJECT = X\n  K = 1.5E-03\nEND_GROUP = A\nEND\n')
    assert tree["A"]["X"] == [{"VALUE": ("a", "b,\nc")}, {"VALUE": 2}]
    assert tree["A"]["K"] == pytest.approx(1.5e-3)
    with pytest.raises(ValueError, match="never closed"):
        readers.parse_odl("GROUP = A\nK = 1\n")
    with pytest.raises(ValueError, match="closes"):
        readers.parse_odl("GROUP = A\nEND_GROUP = B\n")


# --------------------------------------------------------------------------------------------
# integrity of HDF4 files


def test_truncated_and_foreign_files_are_refused(real_granule, tmp_path):
    readers.check_hdf4_complete(real_granule)
    data = real_granule.read_bytes()
    for frac in (0.5, 0.99):
        cut = tmp_path / f"cut_{frac}_{real_granule.name}"
        cut.write_bytes(data[: int(len(data) * frac)])
        with pytest.raises(InputFileError, match="truncated HDF4 file") as err:
            readers.read_mod11a1(cut)
        assert str(cut) in str(err.value)
    text = tmp_path / MOD11A1_NAME
    text.write_text("this is not HDF\n")
    with pytest.raises(InputFileError, match="not an HDF4 file"):
        readers.read_mod11a1(text)
    empty = tmp_path / "empty.hdf"
    empty.write_bytes(b"")
    with pytest.raises(InputFileError, match="not an HDF4 file"):
        readers.check_hdf4_complete(empty)
    with pytest.raises(InputFileError, match="does not exist"):
        readers.read_mod11a1(tmp_path / "missing.hdf")


def test_corrupt_dd_block_chain(real_granule, tmp_path):
    data = bytearray(real_granule.read_bytes())
    data[6:10] = (len(data) + 1000).to_bytes(4, "big")  # first DD block points past the end
    bad = tmp_path / "bad.hdf"
    bad.write_bytes(bytes(data))
    with pytest.raises(InputFileError, match="truncated HDF4 file"):
        readers.check_hdf4_complete(bad)


# --------------------------------------------------------------------------------------------
# small granules in the MODIS layout


def test_mod11a1_round_trip(tmp_path):
    arrays = small_mod11a1_arrays(8)
    path = write_mod11a1(tmp_path / MOD11A1_NAME, arrays, tile="h11v05", date="2021-07-01")
    ds = readers.read_mod11a1(path)
    assert ds.sizes == {"y": 8, "x": 8}
    lst = ds["lst"].values
    raw = arrays["LST_Day_1km"]
    assert np.isnan(lst[0, 0]) and np.isnan(lst[0, 1])  # fill and below valid_range
    np.testing.assert_allclose(lst.ravel()[2:], raw.ravel()[2:] * 0.02, rtol=1e-6)
    assert np.array_equal(ds["qc"].values, arrays["QC_Day"])
    assert np.isnan(ds["view_angle"].values[0, 0]) and ds["view_angle"].values[2, 2] == 5.0
    assert ds["view_time"].values[2, 2] == pytest.approx(10.5)
    ul, lr = readers.tile_bounds(11, 5)
    assert ds["x"].values[0] == pytest.approx(ul[0] + (lr[0] - ul[0]) / 16)
    night = readers.read_mod11a1(path, overpass="night")
    np.testing.assert_allclose(night["lst"].values[2:, :], arrays["LST_Night_1km"][2:, :] * 0.02, rtol=1e-6)
    assert night.attrs["overpass"] == "night" and ds.attrs["date"] == "2021-07-01"
    with pytest.raises(ValueError, match="overpass"):
        readers.read_mod11a1(path, overpass="noon")
    check_cf(ds)


def test_scale_and_fill_come_from_the_sds_attributes(tmp_path):
    from pyhdf.SD import SD, SDC

    path = write_mod11a1(tmp_path / MOD11A1_NAME, small_mod11a1_arrays(8), tile="h11v05", date="2021-07-01")
    sd = SD(str(path), SDC.WRITE)
    sds = sd.select("LST_Day_1km")
    sds.attr("scale_factor").set(SDC.FLOAT64, 0.01)
    sds.attr("_FillValue").set(SDC.UINT16, 15020)  # the raw value of pixel (0, 2)
    sds.endaccess()
    sd.end()
    lst = readers.read_mod11a1(path)["lst"].values
    assert lst[1, 0] == pytest.approx(15080 * 0.01)  # the new scale factor
    assert np.isnan(lst[0, 2])  # the new fill value
    assert np.isnan(lst[0, 0]) and np.isnan(lst[0, 1])  # raw 0 and 7000 lie below valid_range 7500
    assert np.isfinite(lst[0, 3])


def _struct(shape=(4, 4)):
    ul, lr = readers.tile_bounds(11, 5)
    return struct_metadata_text("MODIS_Grid_Daily_1km_LST", shape, ul, lr,
                                {"LST_Day_1km": "uint16", "QC_Day": "uint8", "Day_view_time": "uint8",
                                 "Day_view_angl": "uint8"})


def _raw_sds(shape=(4, 4), drop=()):
    lst_attrs = {"scale_factor": 0.02, "_FillValue": 0, "valid_range": [7500, 65535]}
    lst_attrs = {k: v for k, v in lst_attrs.items() if k not in drop}
    return {
        "LST_Day_1km": (np.full(shape, 15000, np.uint16), lst_attrs),
        "QC_Day": (np.zeros(shape, np.uint8), {}),
        "Day_view_time": (np.full(shape, 105, np.uint8), {"scale_factor": 0.1, "_FillValue": 255,
                                                           "valid_range": [0, 240]}),
        "Day_view_angl": (np.full(shape, 65, np.uint8), {"scale_factor": 1.0, "add_offset": -65.0, "_FillValue": 255,
                                                          "valid_range": [0, 130]}),
    }


def test_missing_sds_attribute_metadata_and_dims(tmp_path):
    path = tmp_path / MOD11A1_NAME
    write_raw_granule(path, _raw_sds(), {"StructMetadata.0": _struct()})
    assert readers.read_mod11a1(path)["lst"].values[0, 0] == pytest.approx(300.0)
    write_raw_granule(path, _raw_sds(drop=("scale_factor",)), {"StructMetadata.0": _struct()})
    with pytest.raises(InputFileError, match="'LST_Day_1km' has no 'scale_factor' attribute"):
        readers.read_mod11a1(path)
    write_raw_granule(path, _raw_sds(drop=("valid_range",)), {"StructMetadata.0": _struct()})
    with pytest.raises(InputFileError, match="valid_range"):
        readers.read_mod11a1(path)
    write_raw_granule(path, _raw_sds(), {})
    with pytest.raises(InputFileError, match="no StructMetadata.0"):
        readers.read_mod11a1(path)
    write_raw_granule(path, _raw_sds(), {"StructMetadata.0": _struct((5, 4))})
    with pytest.raises(InputFileError, match=r"dimensions \(4, 4\)") as err:
        readers.read_mod11a1(path)
    assert str(path) in str(err.value)


@pytest.mark.parametrize("missing", ["LST_Day_1km", "QC_Day", "Day_view_angl"])
def test_missing_sds_names_the_file_and_the_sds(tmp_path, missing):
    path = write_mod11a1(tmp_path / MOD11A1_NAME, small_mod11a1_arrays(4), tile="h11v05", date="2021-07-01",
                         omit=(missing,))
    with pytest.raises(InputFileError, match=f"missing SDS '{missing}'") as err:
        readers.read_mod11a1(path)
    assert str(err.value).startswith(str(path))
    assert "not a MOD11A1 granule" in str(err.value)


def test_file_name_and_core_metadata_must_agree(tmp_path):
    path = tmp_path / MOD11A1_NAME.replace("h11v05", "h12v05")
    write_mod11a1(path, small_mod11a1_arrays(4), tile="h11v05", date="2021-07-01")
    with pytest.raises(InputFileError, match="tile h12v05 in the file name differs from h11v05"):
        readers.read_mod11a1(path)
    renamed = tmp_path / "granule.hdf"  # a name that is not a granule name: CoreMetadata decides
    write_mod11a1(renamed, small_mod11a1_arrays(4), tile="h12v04", date="2021-07-03")
    ds = readers.read_mod11a1(renamed)
    assert ds.attrs["tile"] == "h12v04" and ds.attrs["date"] == "2021-07-03"


def test_mod09gq_round_trip(tmp_path):
    red = np.array([[500, -28672, -101, 16001], [0, 16000, -100, 1200]], np.int16)
    nir = np.array([[3000, 2500, 2000, 100], [100, 200, 300, 4000]], np.int16)
    qc = np.array([[4096, 2995, 4096, 4096], [4097, 4098, 4096 | (7 << 8), 4096 | 8192]], np.uint16)
    path = write_mod09gq(tmp_path / MOD09GQ_NAME, {"sur_refl_b01_1": red, "sur_refl_b02_1": nir, "QC_250m_1": qc},
                         tile="h11v05", date="2021-07-01")
    ds = readers.read_mod09gq(path)
    assert ds.sizes == {"y": 2, "x": 4} and ds.attrs["product"] == "MOD09GQ"
    r = ds["red"].values
    assert r[0, 0] == pytest.approx(0.05) and r[1, 3] == pytest.approx(0.12) and r[1, 2] == pytest.approx(-0.01)
    assert np.isnan(r[0, 1]) and np.isnan(r[0, 2]) and np.isnan(r[0, 3])  # fill, below and above valid_range
    assert ds["nir"].values[0, 0] == pytest.approx(0.3)
    assert np.array_equal(ds["qc_250m"].values, qc)
    ok = readers.reflectance_quality_mask(ds["qc_250m"].values)
    assert ok.tolist() == [[True, False, True, True], [True, False, False, True]]
    check_cf(ds)
    bad = write_mod09gq(tmp_path / "b" / MOD09GQ_NAME, {"sur_refl_b02_1": nir}, tile="h11v05", date="2021-07-01",
                        omit=("sur_refl_b01_1",))
    with pytest.raises(InputFileError, match="missing SDS 'sur_refl_b01_1'.*MOD09GQ"):
        readers.read_mod09gq(bad)


# --------------------------------------------------------------------------------------------
# QC bits and NDVI


def test_decode_lst_qc_real_values():
    qc = np.array([0, 2, 3, 17, 65, 81, 129, 145, 193], np.uint8)
    f = readers.decode_lst_qc(qc)
    assert f["mandatory"].tolist() == [0, 2, 3, 1, 1, 1, 1, 1, 1]
    assert f["emissivity_error"].tolist() == [0, 0, 0, 1, 0, 1, 0, 1, 0]
    assert f["lst_error"].tolist() == [0, 0, 0, 0, 1, 1, 2, 2, 3]
    assert f["data_quality"].tolist() == [0] * 9
    expect = {0: [1, 0, 0, 0, 0, 0, 0, 0, 0], 1: [1, 0, 0, 1, 0, 0, 0, 0, 0], 2: [1, 0, 0, 1, 1, 1, 0, 0, 0],
              3: [1, 0, 0, 1, 1, 1, 1, 1, 0]}
    for k, mask in expect.items():
        assert readers.lst_quality_mask(qc, max_lst_error_k=k).astype(int).tolist() == mask
    with pytest.raises(ValueError, match="max_lst_error_k"):
        readers.lst_quality_mask(qc, max_lst_error_k=5)


def test_decode_mod09gq_qc():
    qc = np.array([4096, 2995, (1 << 13) | (1 << 12) | (7 << 8) | (8 << 4) | 1], np.uint16)
    f = readers.decode_mod09gq_qc(qc)
    assert f["modland"].tolist() == [0, 3, 1]
    assert f["band1_quality"].tolist() == [0, 11, 8] and f["band2_quality"].tolist() == [0, 11, 7]
    assert f["atmos_corr"].tolist() == [1, 0, 1] and f["adjacency"].tolist() == [0, 0, 1]
    assert readers.reflectance_quality_mask(qc).tolist() == [True, False, False]


def test_ndvi_from_reflectance():
    red = np.array([0.05, 0.1, np.nan, 0.0, -0.02, 0.2])
    nir = np.array([0.45, 0.1, 0.3, 0.0, 0.01, 0.1])
    ndvi = readers.ndvi_from_reflectance(red, nir)
    assert ndvi.dtype == np.float32
    np.testing.assert_allclose(ndvi[[0, 1, 5]], [0.8, 0.0, -1 / 3], rtol=1e-6)
    assert np.isnan(ndvi[[2, 3, 4]]).all()


# --------------------------------------------------------------------------------------------
# validation scenes


ORIGIN = (500010.0, 3900000.0)


def _scene(tmp_path, lst, red, nir, *, lst_pixel, refl_pixel, kind, lst_nodata=None, refl_origin=ORIGIN,
           refl_crs="EPSG:32617", **extra):
    write_tif(tmp_path / "lst.tif", lst, origin=ORIGIN, pixel=lst_pixel, nodata=lst_nodata)
    write_tif(tmp_path / "red.tif", red, origin=refl_origin, pixel=refl_pixel, crs=refl_crs, nodata=0)
    write_tif(tmp_path / "nir.tif", nir, origin=ORIGIN, pixel=refl_pixel, nodata=0)
    return {"name": "scene", "lst": "lst.tif", "red": "red.tif", "nir": "nir.tif", "lst_kind": kind, "factor": 2,
            "reflectance_scale": 1.0, "reflectance_offset": 0.0, **extra}  # the schema's defaults


def test_landsat_b10_conversion_against_hand_computation(tmp_path):
    dn = np.array([[0, 30000], [25000, 40000]], np.uint16)
    refl = np.full((2, 2), 10000, np.uint16)
    (tmp_path / "scene_MTL.txt").write_text(MTL_TEXT)
    entry = _scene(tmp_path, dn, refl, refl + 5000, lst_pixel=30.0, refl_pixel=30.0, kind="landsat_b10",
                   mtl="scene_MTL.txt", reflectance_scale=2.75e-5, reflectance_offset=-0.2)
    ds = readers.read_validation_scene(entry, base_dir=tmp_path)
    radiance = 3.342e-4 * 30000 + 0.1
    expected = 1321.0789 / math.log(774.8853 / radiance + 1)
    assert ds["lst"].values[0, 1] == pytest.approx(expected, abs=1e-4)
    assert 300 < expected < 310
    assert np.isnan(ds["lst"].values[0, 0])  # DN 0 is fill
    assert ds["red"].values[0, 0] == pytest.approx(10000 * 2.75e-5 - 0.2, abs=1e-7)
    assert ds["ndvi"].values[0, 0] == pytest.approx((0.2125 - 0.075) / (0.2125 + 0.075), abs=1e-6)
    assert ds.attrs["band10_k1"] == 774.8853 and ds.attrs["crs"] == "EPSG:32617"
    assert ds["spatial_ref"].attrs["grid_mapping_name"] == "transverse_mercator"
    assert ds["x"].values[0] == ORIGIN[0] + 15.0 and ds["y"].values[0] == ORIGIN[1] - 15.0
    check_cf(ds)
    # the same constants given in the entry instead of an MTL file
    keys = {"radiance_mult": 3.342e-4, "radiance_add": 0.1, "k1": 774.8853, "k2": 1321.0789}
    entry2 = {k: v for k, v in entry.items() if k != "mtl"} | keys
    np.testing.assert_allclose(readers.read_validation_scene(entry2, base_dir=tmp_path)["lst"].values,
                               ds["lst"].values)
    with pytest.raises(ConfigError, match="needs an 'mtl' file"):
        readers.read_validation_scene({k: v for k, v in entry.items() if k != "mtl"}, base_dir=tmp_path)
    (tmp_path / "scene_MTL.txt").write_text(MTL_TEXT.replace("K2_CONSTANT_BAND_10", "K2_SOMETHING"))
    with pytest.raises(InputFileError, match="no K2_CONSTANT_BAND_10"):
        readers.read_validation_scene(entry, base_dir=tmp_path)


def test_parse_landsat_mtl(tmp_path):
    path = tmp_path / "x_MTL.txt"
    path.write_text(MTL_TEXT)
    mtl = readers.parse_landsat_mtl(path)
    group = mtl["LANDSAT_METADATA_FILE"]
    assert group["LEVEL1_RADIOMETRIC_RESCALING"]["RADIANCE_MULT_BAND_10"] == pytest.approx(3.342e-4)
    assert group["PRODUCT_CONTENTS"]["LANDSAT_PRODUCT_ID"] == "LC08_L1TP_017035_20210715_20210721_02_T1"
    path.write_text("GROUP = A\n  K = 1\n")
    with pytest.raises(InputFileError, match="not a Landsat MTL file"):
        readers.parse_landsat_mtl(path)
    with pytest.raises(InputFileError, match="cannot read"):
        readers.parse_landsat_mtl(tmp_path / "none_MTL.txt")


def test_aster_scale_and_block_averaged_finer_bands(tmp_path):
    kin = np.array([[3000, 0], [3105, 2950]], np.uint16)  # 0.1 K, 0 = fill
    red = np.arange(1, 145, dtype=np.uint16).reshape(12, 12) * 10  # 6x finer than the LST
    nir = np.full((12, 12), 3000, np.uint16)
    red[0, 0] = 0  # nodata: the whole 6 x 6 block is NaN
    entry = _scene(tmp_path, kin, red, nir, lst_pixel=90.0, refl_pixel=15.0, kind="aster_ast08",
                   reflectance_scale=1e-4)
    ds = readers.read_validation_scene(entry, base_dir=tmp_path)
    assert ds.sizes == {"y": 2, "x": 2}
    np.testing.assert_allclose(ds["lst"].values[[0, 1, 1], [0, 0, 1]], [300.0, 310.5, 295.0], rtol=1e-6)
    assert np.isnan(ds["lst"].values[0, 1])
    expected = red[6:12, 0:6].astype(float).mean() * 1e-4
    assert ds["red"].values[1, 0] == pytest.approx(expected, rel=1e-6)
    assert np.isnan(ds["red"].values[0, 0]) and np.isnan(ds["ndvi"].values[0, 0])
    assert ds["ndvi"].values[1, 0] == pytest.approx((0.3 - expected) / (0.3 + expected), rel=1e-5)
    floats = _scene(tmp_path, kin.astype(np.float32), red, nir, lst_pixel=90.0, refl_pixel=15.0, kind="aster_ast08")
    with pytest.raises(InputFileError, match="must be integer"):
        readers.read_validation_scene(floats, base_dir=tmp_path)


def test_kelvin_scene_nodata(tmp_path):
    lst = np.array([[300.5, -9999.0], [301.0, 302.0]], np.float32)
    refl = np.full((2, 2), 0.2, np.float32)
    entry = _scene(tmp_path, lst, refl, refl * 2, lst_pixel=30.0, refl_pixel=30.0, kind="kelvin", lst_nodata=-9999.0)
    ds = readers.read_validation_scene(entry, base_dir=tmp_path)
    assert np.isnan(ds["lst"].values[0, 1]) and ds["lst"].values[0, 0] == pytest.approx(300.5)
    assert ds["ndvi"].values[1, 1] == pytest.approx(1 / 3, rel=1e-6)


@pytest.mark.parametrize("problem, kwargs, match", [
    ("misaligned", {"refl_origin": (ORIGIN[0] + 7.5, ORIGIN[1])}, "offset by"),
    ("other crs", {"refl_crs": "EPSG:32618"}, "CRS"),
])
def test_misaligned_or_foreign_red_band_is_refused(tmp_path, problem, kwargs, match):
    kin = np.full((2, 2), 3000, np.uint16)
    refl = np.full((12, 12), 1000, np.uint16)
    entry = _scene(tmp_path, kin, refl, refl, lst_pixel=90.0, refl_pixel=15.0, kind="aster_ast08", **kwargs)
    with pytest.raises(InputFileError, match=match) as err:
        readers.read_validation_scene(entry, base_dir=tmp_path)
    assert str(tmp_path / "red.tif") in str(err.value)


def test_non_integer_ratio_small_coverage_and_bad_files(tmp_path):
    kin = np.full((2, 2), 3000, np.uint16)
    entry = _scene(tmp_path, kin, np.full((5, 5), 900, np.uint16), np.full((5, 5), 900, np.uint16),
                   lst_pixel=90.0, refl_pixel=40.0, kind="aster_ast08")
    with pytest.raises(InputFileError, match="divided by one integer"):
        readers.read_validation_scene(entry, base_dir=tmp_path)
    entry = _scene(tmp_path, kin, np.full((6, 6), 900, np.uint16), np.full((6, 6), 900, np.uint16),
                   lst_pixel=90.0, refl_pixel=15.0, kind="aster_ast08")
    with pytest.raises(InputFileError, match="does not cover"):
        readers.read_validation_scene(entry, base_dir=tmp_path)
    entry = _scene(tmp_path, kin, np.full((12, 12), 900, np.uint16), np.full((12, 12), 900, np.uint16),
                   lst_pixel=90.0, refl_pixel=15.0, kind="aster_ast08")
    assert readers.read_validation_scene(entry, base_dir=tmp_path).sizes == {"y": 2, "x": 2}
    with pytest.raises(ConfigError, match="lst_kind"):
        readers.read_validation_scene({**entry, "lst_kind": "celsius"}, base_dir=tmp_path)
    with pytest.raises(ConfigError, match="missing key 'factor'"):
        readers.read_validation_scene({k: v for k, v in entry.items() if k != "factor"}, base_dir=tmp_path)
    (tmp_path / "broken.tif").write_bytes((tmp_path / "lst.tif").read_bytes()[:100])
    with pytest.raises(InputFileError, match="not a readable GeoTIFF"):
        readers.read_validation_scene({**entry, "lst": "broken.tif"}, base_dir=tmp_path)
    with pytest.raises(InputFileError, match="does not exist"):
        readers.read_validation_scene({**entry, "nir": "gone.tif"}, base_dir=tmp_path)
    write_tif(tmp_path / "zero.tif", np.zeros((2, 2), np.uint16), origin=ORIGIN, pixel=90.0)
    with pytest.raises(InputFileError, match="no valid LST pixel"):
        readers.read_validation_scene({**entry, "lst": "zero.tif"}, base_dir=tmp_path)
