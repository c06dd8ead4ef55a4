"""aot readers: NEO float GeoTIFF, NEO 8-bit PNG / TIFF and MOD08_E3 HDF4 files in the real layouts.

The tests write the files themselves (rasterio, Pillow, pyhdf) and check values, fill, scale and
offset, orientation (a pixel at a known latitude / longitude lands where it should) and each
error case.
"""

from __future__ import annotations

import numpy as np
import pytest

from eoml.aot import readers
from eoml.core.errors import ConfigError, InputFileError

NEO_NAME = "MODAL2_E_AER_OD_{date}_rgb_{w}x{h}.FLOAT.TIFF"
MOD08_NAME = "MOD08_E3.A2020185.061.2020195203815.hdf"  # 2020-07-03, doy 185 = 1 + 8 * 23
SDS = readers.MOD08_SDS
# two known places: cell (row, col) on a grid of res degrees is floor((90 - lat) / res), floor((lon + 180) / res)
PLACES = {"Mediterranean": (40.53, 10.53), "south-east Pacific": (-30.53, -120.53)}


def _field(height: int, width: int) -> np.ndarray:
    """A field that differs in every cell, as a function of the cell-centre latitude and longitude
    computed here independently of the readers: ``(lat + 90) / 180 + (lon + 180) / 720``."""
    res = 180.0 / height
    lat = 90.0 - res * (np.arange(height) + 0.5)
    lon = -180.0 + res * (np.arange(width) + 0.5)
    return ((lat[:, None] + 90.0) / 180.0 + (lon[None, :] + 180.0) / 720.0).astype(np.float32)


def _cell(lat: float, lon: float, res: float) -> tuple[int, int]:
    return int((90.0 - lat) // res), int((lon + 180.0) // res)


def write_neo_float(path, data, *, transform=None, crs="EPSG:4326", nodata=99999.0):
    """A NEO float GeoTIFF: float32, EPSG:4326, north-up global geotransform, nodata 99999."""
    import rasterio
    from rasterio.transform import from_origin

    height, width = data.shape
    if transform is None:
        transform = from_origin(-180.0, 90.0, 360.0 / width, 180.0 / height)
    with rasterio.open(path, "w", driver="GTiff", height=height, width=width, count=1, dtype=str(data.dtype),
                       crs=crs, transform=transform, nodata=nodata) as dst:
        dst.write(data, 1)
    return path


def write_neo_png(path, index: np.ndarray, mode: str = "P"):
    """A NEO 8-bit PNG: palette image of indices (no geotransform), as NEO serves it."""
    from PIL import Image

    img = Image.fromarray(index.astype(np.uint8), mode="L")
    if mode == "P":
        img = img.convert("P")
        img.putpalette([c for i in range(256) for c in (i, 255 - i, (7 * i) % 256)])
    elif mode == "RGB":
        img = img.convert("RGB")
    img.save(path)
    return path


def write_neo_8bit_tiff(path, index: np.ndarray):
    """A NEO 8-bit GeoTIFF: uint8 indices with a colour map and the global geotransform."""
    import rasterio
    from rasterio.transform import from_origin

    height, width = index.shape
    with rasterio.open(path, "w", driver="GTiff", height=height, width=width, count=1, dtype="uint8",
                       crs="EPSG:4326", transform=from_origin(-180.0, 90.0, 360.0 / width, 180.0 / height)) as dst:
        dst.write(index.astype(np.uint8), 1)
        dst.write_colormap(1, {i: (i, 255 - i, 0, 255) for i in range(256)})
    return path


def mod08_attrs(**change):
    """The attributes of a MOD08_E3 C6.1 AOD SDS (``None`` drops one)."""
    attrs = {"valid_range": [-100, 5000], "_FillValue": -9999,
             "long_name": "AOD_550_Dark_Target_Deep_Blue_Combined: Mean of Daily Mean", "units": "None",
             "scale_factor": 0.001, "add_offset": 0.0, "Parameter_Type": "Output",
             "Level_2_Pixel_Values_Read_As": "Real", "Derived_From_Level_2_Data_Set":
             "AOD_550_Dark_Target_Deep_Blue_Combined"}
    attrs.update(change)
    return {k: v for k, v in attrs.items() if v is not None}


STRUCT_METADATA = """GROUP=SwathStructure
END_GROUP=SwathStructure
GROUP=GridStructure
\tGROUP=GRID_1
\t\tGridName="mod08"
\t\tXDim=360
\t\tYDim=180
\t\tUpperLeftPointMtrs=(-180000000.000000,90000000.000000)
\t\tLowerRightMtrs=(180000000.000000,-90000000.000000)
\t\tProjection=GCTP_GEO
\t\tGROUP=Dimension
\t\tEND_GROUP=Dimension
\t\tGROUP=DataField
\t\tEND_GROUP=DataField
\tEND_GROUP=GRID_1
END_GROUP=GridStructure
END
"""


def write_mod08(path, stored: np.ndarray | None = None, *, sds=SDS, attrs=None, ydim=None, xdim=None,
                axes=True):
    """A MOD08_E3 C6.1 granule: int16 AOD SDS (180 x 360, dims YDim:mod08 / XDim:mod08) with its
    attributes, the ``XDim`` / ``YDim`` coordinate SDSs and the HDF-EOS StructMetadata.0."""
    from pyhdf.SD import SD, SDC

    if stored is None:
        stored = np.round(_field(180, 360) * 1000).astype(np.int16)
    attrs = mod08_attrs() if attrs is None else attrs
    ydim = np.arange(89.5, -90.0, -1.0, dtype=np.float32) if ydim is None else ydim
    xdim = np.arange(-179.5, 180.0, 1.0, dtype=np.float32) if xdim is None else xdim
    f = SD(str(path), SDC.WRITE | SDC.CREATE | SDC.TRUNC)
    f.attr("HDFEOSVersion").set(SDC.CHAR8, "HDFEOS_V2.19")
    f.attr("StructMetadata.0").set(SDC.CHAR8, STRUCT_METADATA)
    if axes:
        for name, values in (("XDim", xdim), ("YDim", ydim)):
            s = f.create(name, SDC.FLOAT32, values.shape)
            s.dim(0).setname(f"{name}:mod08")
            s[:] = values
            s.endaccess()
    s = f.create(sds, SDC.INT16, stored.shape)
    if stored.shape == (180, 360):  # shared dimensions with the coordinate SDSs, as in the product
        s.dim(0).setname("YDim:mod08")
        s.dim(1).setname("XDim:mod08")
    for key, value in attrs.items():
        if isinstance(value, str):
            s.attr(key).set(SDC.CHAR8, value)
        elif isinstance(value, float):
            s.attr(key).set(SDC.FLOAT64, value)
        else:
            s.attr(key).set(SDC.INT16, value)
    s[:] = stored
    s.endaccess()
    f.end()
    return path


def _check_common(ds, height, width, date, product):
    assert list(ds.data_vars) == ["aot"] and ds["aot"].dims == ("lat", "lon")
    assert ds["aot"].dtype == np.float32 and ds.sizes == {"lat": height, "lon": width}
    lat, lon = ds["lat"].values, ds["lon"].values
    assert lat.dtype == np.float64 and lon.dtype == np.float64
    res = 180.0 / height
    assert lat[0] == pytest.approx(90 - res / 2) and lat[-1] == pytest.approx(-90 + res / 2) and (np.diff(lat) < 0).all()
    assert lon[0] == pytest.approx(-180 + res / 2) and lon[-1] == pytest.approx(180 - res / 2) and (np.diff(lon) > 0).all()
    assert ds["time"].ndim == 0 and ds["time"].dtype == np.dtype("datetime64[ns]")
    assert ds["time"].values == np.datetime64(date, "ns")
    assert ds.attrs["product"] == product
    for name in ("aot", "lat", "lon"):
        assert ds[name].attrs["units"] and ds[name].attrs["long_name"]


def _check_orientation(ds, expected, atol=2e-3):
    """Every cell holds the value written for its latitude / longitude; the two known places too."""
    np.testing.assert_allclose(ds["aot"].values, expected, rtol=0, atol=atol, equal_nan=True)
    res = 180.0 / ds.sizes["lat"]
    for lat, lon in PLACES.values():
        cell = ds["aot"].sel(lat=lat, lon=lon, method="nearest")
        assert abs(float(cell["lat"]) - lat) < res / 2 and abs(float(cell["lon"]) - lon) < res / 2
        row, col = _cell(lat, lon, res)
        assert float(cell) == pytest.approx(expected[row, col], abs=atol)


# --------------------------------------------------------------------------------------------
# NEO float GeoTIFF


@pytest.mark.parametrize("width", [3600, 1440, 720, 360])
def test_neo_geotiff_values_fill_and_orientation(tmp_path, width):
    height = width // 2
    data = _field(height, width)
    res = 180.0 / height
    med, pac = _cell(*PLACES["Mediterranean"], res), _cell(*PLACES["south-east Pacific"], res)
    data[med] = 0.9
    data[pac] = 1.7
    data[0, :5] = 99999.0  # NEO's fill
    data[1, 0] = 123456.0  # anything at or above the fill value
    data[2, 0], data[2, 1] = np.nan, np.inf
    path = write_neo_float(tmp_path / NEO_NAME.format(date="2020-07-03", w=width, h=height), data)
    ds = readers.read_neo_geotiff(path)
    _check_common(ds, height, width, "2020-07-03", "MODAL2_E_AER_OD")
    assert ds.attrs["source"] == path.name and ds.attrs["format"] == "neo_geotiff"
    expected = data.copy()
    expected[data >= 99999.0] = np.nan
    expected[~np.isfinite(data)] = np.nan
    assert np.array_equal(np.isnan(ds["aot"].values), np.isnan(expected))
    assert np.isnan(ds["aot"].values).sum() == 8
    _check_orientation(ds, expected)
    assert float(ds["aot"].sel(lat=40.53, lon=10.53, method="nearest")) == pytest.approx(0.9)
    assert float(ds["aot"].sel(lat=-30.53, lon=-120.53, method="nearest")) == pytest.approx(1.7)
    assert np.array_equal(ds["aot"].values[np.isfinite(expected)], expected[np.isfinite(expected)])  # float32 as stored


def test_neo_geotiff_own_nodata_is_unread(tmp_path):
    data = _field(180, 360)
    data[5, 5] = -1.0
    path = write_neo_float(tmp_path / NEO_NAME.format(date="2021-01-01", w=360, h=180), data, nodata=-1.0)
    aot = readers.read_neo_geotiff(path)["aot"].values
    assert np.isnan(aot[5, 5]) and np.isfinite(aot).sum() == 180 * 360 - 1


@pytest.mark.parametrize("problem, kwargs, match", [
    ("south-up", {"transform": "south_up"}, "south-up"),
    ("0-360 longitudes", {"transform": "lon_0_360"}, "not the global grid"),
    ("half the globe", {"transform": "half"}, "not the global grid"),
    ("projected", {"crs": "EPSG:3857"}, "not geographic"),
    ("east-west mirrored", {"transform": "mirrored"}, "column 0 is the eastern edge"),
])
def test_neo_geotiff_wrong_geotransform_is_refused(tmp_path, problem, kwargs, match):
    from affine import Affine
    from rasterio.transform import from_origin

    transforms = {"south_up": Affine(1.0, 0.0, -180.0, 0.0, 1.0, -90.0), "lon_0_360": from_origin(0.0, 90.0, 1, 1),
                  "half": from_origin(-180.0, 90.0, 0.5, 0.5), "mirrored": Affine(-1.0, 0.0, 180.0, 0.0, -1.0, 90.0)}
    if "transform" in kwargs:
        kwargs = {"transform": transforms[kwargs["transform"]]}
    path = write_neo_float(tmp_path / NEO_NAME.format(date="2020-01-01", w=360, h=180), _field(180, 360), **kwargs)
    with pytest.raises(InputFileError, match=match) as err:
        readers.read_neo_geotiff(path)
    assert str(err.value).startswith(str(path))


def test_neo_geotiff_bad_files(tmp_path):
    name = NEO_NAME.format(date="2020-01-01", w=400, h=200)
    with pytest.raises(InputFileError, match=r"400 x 200 pixels .* is not a NEO global grid"):
        readers.read_neo_geotiff(write_neo_float(tmp_path / name, _field(200, 400)))
    good = write_neo_float(tmp_path / NEO_NAME.format(date="2020-01-01", w=360, h=180), _field(180, 360),
                           nodata=None)
    data = good.read_bytes()
    cut = tmp_path / "cut" / good.name
    cut.parent.mkdir()
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputFileError, match="not a readable image file, truncated or corrupt") as err:
        readers.read_neo_geotiff(cut)
    assert str(err.value).startswith(str(cut))
    with pytest.raises(InputFileError, match="does not exist"):
        readers.read_neo_geotiff(tmp_path / "MODAL2_E_AER_OD_2020-01-09.FLOAT.TIFF")
    (tmp_path / "int").mkdir()
    ints = write_neo_float(tmp_path / "int" / good.name, np.zeros((180, 360), np.uint8), nodata=None)
    with pytest.raises(InputFileError, match="not floats"):
        readers.read_neo_geotiff(ints)
    renamed = tmp_path / "aot_january.FLOAT.TIFF"
    renamed.write_bytes(data)
    with pytest.raises(InputFileError, match="no composite date") as err:
        readers.read_neo_geotiff(renamed)
    assert str(err.value).startswith(str(renamed))


def test_neo_geotiff_without_geotransform_is_refused(tmp_path):
    import rasterio

    path = tmp_path / NEO_NAME.format(date="2020-01-01", w=360, h=180)
    with (pytest.warns(rasterio.errors.NotGeoreferencedWarning),
          rasterio.open(path, "w", driver="GTiff", height=180, width=360, count=1, dtype="float32") as dst):
        dst.write(_field(180, 360), 1)
    with pytest.raises(InputFileError, match="no geotransform"):
        readers.read_neo_geotiff(path)


# --------------------------------------------------------------------------------------------
# NEO 8-bit PNG / TIFF


def _indices(height, width):
    idx = np.round(_field(height, width) / 1.5 * 254).astype(np.uint8)  # the field spans 0.25 .. 1.5
    idx[0, :3] = 255  # fill
    idx[1, 0], idx[1, 1], idx[1, 2] = 0, 127, 254
    return idx


@pytest.mark.parametrize("kind", ["png", "png_grey", "tiff"])
def test_neo_8bit_scaling_fill_and_orientation(tmp_path, kind):
    idx = _indices(180, 360)
    name = NEO_NAME.format(date="2019-12-27", w=360, h=180).replace(".FLOAT.TIFF", ".PNG" if "png" in kind else
                                                                    ".TIFF")
    path = tmp_path / name
    if kind == "tiff":
        write_neo_8bit_tiff(path, idx)
    else:
        write_neo_png(path, idx, mode="P" if kind == "png" else "L")
    ds = readers.read_neo_8bit(path, (0.0, 1.5))
    _check_common(ds, 180, 360, "2019-12-27", "MODAL2_E_AER_OD")  # doy 361: the year's last composite
    assert ds.attrs["format"] == "neo_8bit"
    aot = ds["aot"].values
    assert np.isnan(aot[0, :3]).all() and np.isfinite(aot).sum() == 180 * 360 - 3
    assert aot[1, 0] == 0.0 and aot[1, 1] == pytest.approx(0.75, abs=1e-6) and aot[1, 2] == pytest.approx(1.5)
    expected = np.where(idx == 255, np.nan, idx * (1.5 / 254)).astype(np.float32)
    np.testing.assert_allclose(aot, expected, rtol=1e-6, equal_nan=True)
    written = np.where(idx == 255, np.nan, _field(180, 360))
    written[1, :3] = 0.0, 0.75, 1.5
    _check_orientation(ds, written, atol=0.5 * 1.5 / 254 + 1e-6)  # within half an index step
    other = readers.read_neo_8bit(path, [0.1, 0.6])  # NEO's legend for another product
    assert other["aot"].values[1, 2] == pytest.approx(0.6) and other["aot"].values[1, 0] == pytest.approx(0.1)


def test_neo_8bit_bad_files(tmp_path):
    name = "MODAL2_E_AER_OD_2020-01-01_rgb_{}.PNG"
    with pytest.raises(InputFileError, match="not a NEO global grid"):
        readers.read_neo_8bit(write_neo_png(tmp_path / name.format("400x200"), np.zeros((200, 400))), (0, 1))
    with pytest.raises(InputFileError, match="has 3 bands"):
        readers.read_neo_8bit(write_neo_png(tmp_path / name.format("rgb"), np.zeros((180, 360)), mode="RGB"), (0, 1))
    floats = write_neo_float(tmp_path / NEO_NAME.format(date="2020-01-01", w=360, h=180), _field(180, 360))
    with pytest.raises(InputFileError, match="not 8-bit indices"):
        readers.read_neo_8bit(floats, (0, 1))
    png = write_neo_png(tmp_path / name.format("ok"), np.zeros((180, 360)))
    cut = tmp_path / name.format("cut")
    cut.write_bytes(png.read_bytes()[:200])
    with pytest.raises(InputFileError, match="truncated or corrupt"):
        readers.read_neo_8bit(cut, (0, 1))
    with pytest.raises(ValueError, match="increasing"):
        readers.read_neo_8bit(png, (1.0, 0.0))
    odd = tmp_path / "MODAL2_E_AER_OD_2020-01-05.PNG"  # not the first day of an 8-day period
    odd.write_bytes(png.read_bytes())
    with pytest.raises(InputFileError, match="day-of-year 5\\) is not the first day"):
        readers.read_neo_8bit(odd, (0, 1))


# --------------------------------------------------------------------------------------------
# MOD08_E3 HDF4


def test_mod08_e3_values_fill_range_and_orientation(tmp_path):
    stored = np.round(_field(180, 360) * 1000).astype(np.int16)
    med, pac = _cell(*PLACES["Mediterranean"], 1.0), _cell(*PLACES["south-east Pacific"], 1.0)
    assert med == (49, 190) and pac == (120, 59)
    stored[med], stored[pac] = 812, 2345
    stored[0, 0] = -9999  # fill
    stored[0, 1], stored[0, 2] = -101, 5001  # outside valid_range [-100, 5000]
    stored[0, 3], stored[0, 4] = -100, 5000  # its ends are valid
    path = write_mod08(tmp_path / MOD08_NAME, stored)
    ds = readers.read_mod08_e3(path)
    _check_common(ds, 180, 360, "2020-07-03", "MOD08_E3")
    assert ds.attrs["sds"] == SDS and ds.attrs["format"] == "mod08_e3" and ds.attrs["source"] == MOD08_NAME
    aot = ds["aot"].values
    assert np.isnan(aot[0, :3]).all() and np.isfinite(aot).sum() == 180 * 360 - 3
    assert aot[0, 3] == pytest.approx(-0.1) and aot[0, 4] == pytest.approx(5.0)
    assert float(ds["aot"].sel(lat=40.5, lon=10.5)) == pytest.approx(0.812)
    assert float(ds["aot"].sel(lat=-30.5, lon=-120.5)) == pytest.approx(2.345)
    expected = np.where(np.isin(stored, [-9999, -101, 5001]), np.nan, stored * 0.001)
    np.testing.assert_allclose(aot, expected, rtol=1e-6, equal_nan=True)
    _check_orientation(ds, np.where(np.isnan(expected), np.nan, expected))
    assert readers.parse_date(path) == ds["time"].values


def test_mod08_e3_scale_and_offset_from_the_sds_attributes(tmp_path):
    """MODIS atmosphere convention: value = scale_factor * (stored - add_offset)."""
    stored = np.full((180, 360), 850, np.int16)
    stored[0, 0] = -1  # this file's fill
    path = write_mod08(tmp_path / MOD08_NAME.replace("MOD08", "MYD08"), stored,
                       attrs=mod08_attrs(scale_factor=0.002, add_offset=50.0, _FillValue=-1))
    ds = readers.read_mod08_e3(path)
    assert ds.attrs["product"] == "MYD08_E3"
    aot = ds["aot"].values
    assert aot[1, 1] == pytest.approx(0.002 * (850 - 50))  # 1.6, not 850 * 0.002 + 50
    assert np.isnan(aot[0, 0]) and np.isfinite(aot).sum() == 180 * 360 - 1


def test_mod08_e3_other_sds_and_axes_absent(tmp_path):
    stored = np.full((180, 360), 300, np.int16)
    path = write_mod08(tmp_path / MOD08_NAME, stored, sds="AOD_550_Dark_Target_Deep_Blue_Combined_Mean_Min",
                       axes=False)
    with pytest.raises(InputFileError, match=f"missing SDS '{SDS}'") as err:
        readers.read_mod08_e3(path)
    assert str(err.value).startswith(str(path)) and "MOD08_E3" in str(err.value)
    ds = readers.read_any(path, "mod08_e3", neo_8bit_range=(0, 1),
                          mod08_sds="AOD_550_Dark_Target_Deep_Blue_Combined_Mean_Min")
    assert float(ds["aot"][0, 0]) == pytest.approx(0.3)  # no XDim / YDim: the 180 x 360 shape implies the grid


@pytest.mark.parametrize("missing", ["scale_factor", "add_offset", "_FillValue", "valid_range"])
def test_mod08_e3_missing_attribute_names_file_and_sds(tmp_path, missing):
    path = write_mod08(tmp_path / MOD08_NAME, attrs=mod08_attrs(**{missing: None}))
    with pytest.raises(InputFileError, match=f"SDS '{SDS}' has no '{missing}' attribute") as err:
        readers.read_mod08_e3(path)
    assert str(err.value).startswith(str(path))


def test_mod08_e3_wrong_grid_or_orientation(tmp_path):
    path = write_mod08(tmp_path / MOD08_NAME, np.zeros((90, 180), np.int16))
    with pytest.raises(InputFileError, match=r"dimensions \(90, 180\), not the 1 degree global grid"):
        readers.read_mod08_e3(path)
    flipped = np.arange(-89.5, 90.0, 1.0, dtype=np.float32)  # south-up
    path = write_mod08(tmp_path / MOD08_NAME, ydim=flipped)
    with pytest.raises(InputFileError, match="'YDim' .* first -89.5"):
        readers.read_mod08_e3(path)
    path = write_mod08(tmp_path / MOD08_NAME, xdim=np.arange(0.5, 360.0, 1.0, dtype=np.float32))
    with pytest.raises(InputFileError, match="'XDim'"):
        readers.read_mod08_e3(path)


def test_mod08_e3_truncated_and_foreign_files(tmp_path):
    good = write_mod08(tmp_path / MOD08_NAME)
    data = good.read_bytes()
    for frac in (0.5, 0.99):
        cut = tmp_path / f"cut{frac}" / MOD08_NAME
        cut.parent.mkdir()
        cut.write_bytes(data[: int(len(data) * frac)])
        with pytest.raises(InputFileError, match="truncated HDF4 file") as err:
            readers.read_mod08_e3(cut)
        assert str(err.value).startswith(str(cut))
    text = tmp_path / "text" / MOD08_NAME
    text.parent.mkdir()
    text.write_text("not HDF\n")
    with pytest.raises(InputFileError, match="not an HDF4 file"):
        readers.read_mod08_e3(text)
    with pytest.raises(InputFileError, match="does not exist"):
        readers.read_mod08_e3(tmp_path / "gone" / MOD08_NAME)


@pytest.mark.parametrize("name, match", [
    ("MOD08_E3.hdf", "not a MOD08_E3 / MYD08_E3 granule name"),
    ("MOD08_M3.A2020183.061.2020195203815.hdf", "not a MOD08_E3 / MYD08_E3 granule name"),
    ("MOD08_E3.A2021366.061.2022010000000.hdf", "day-of-year 366 in the file name does not exist in 2021"),
    ("MOD08_E3.A2020186.061.2020195203815.hdf", r"day-of-year 186\) is not the first day"),
])
def test_mod08_e3_bad_names(tmp_path, name, match):
    path = tmp_path / name
    path.write_bytes((write_mod08(tmp_path / MOD08_NAME)).read_bytes())
    with pytest.raises(InputFileError, match=match) as err:
        readers.read_mod08_e3(path)
    assert str(err.value).startswith(str(path))


# --------------------------------------------------------------------------------------------
# dates and dispatch


def test_parse_date():
    assert readers.parse_date("/x/MODAL2_E_AER_OD_2020-01-01_rgb_3600x1800.FLOAT.TIFF") == np.datetime64("2020-01-01")
    assert readers.parse_date("MODAL2_E_AER_OD_2020-12-26.PNG") == np.datetime64("2020-12-26")  # leap: doy 361
    assert readers.parse_date("MODAL2_E_AER_OD_2021-12-27.PNG") == np.datetime64("2021-12-27")
    assert readers.parse_date("MOD08_E3.A2020361.061.2021004000000.hdf") == np.datetime64("2020-12-26")
    assert readers.parse_date("MYD08_E3.A2003001.061.2017001000000.hdf") == np.datetime64("2003-01-01")
    assert readers.parse_date("MODAL2_E_AER_OD_2020-02-26.PNG").dtype == np.dtype("datetime64[ns]")  # doy 57
    for bad, match in (("MODAL2_E_AER_OD_2020-02-30.PNG", "not a calendar date"),
                       ("MODAL2_E_AER_OD_2021-03-01.PNG", "day-of-year 60"),
                       ("notes.txt", "no composite date")):
        with pytest.raises(InputFileError, match=match) as err:
            readers.parse_date(bad)
        assert str(err.value).startswith(bad)


def test_read_any_dispatches_on_source(tmp_path):
    tif = write_neo_float(tmp_path / NEO_NAME.format(date="2020-01-09", w=360, h=180), _field(180, 360))
    png = write_neo_png(tmp_path / "MODAL2_E_AER_OD_2020-01-09.PNG", _indices(180, 360))
    hdf = write_mod08(tmp_path / "MOD08_E3.A2020009.061.2020020000000.hdf")
    sets = [readers.read_any(tif, "neo_geotiff", neo_8bit_range=(0.0, 1.0)),
            readers.read_any(png, "neo_8bit", neo_8bit_range=(0.0, 1.5)),
            readers.read_any(hdf, "mod08_e3", neo_8bit_range=(0.0, 1.0))]
    assert [ds.attrs["format"] for ds in sets] == list(readers.SOURCES)
    for ds in sets:  # the same field in three formats
        assert ds["time"].values == np.datetime64("2020-01-09", "ns")
        np.testing.assert_allclose(ds["aot"].values[5:, :], _field(180, 360)[5:, :], atol=3e-3)
    with pytest.raises(ConfigError, match="aot.source: 'demo'"):
        readers.read_any(tif, "demo", neo_8bit_range=(0.0, 1.0))
