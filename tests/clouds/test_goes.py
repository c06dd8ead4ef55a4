"""Tests of eoml.clouds.goes: ABI L1b names, scenes, reflectance, navigation and true colour.

Real-file tests read the GOES-16 mesoscale scene of ``../shared/realdata/GOES_ABI_L1b`` (C01 and
C03, 2017-07-12 18:11 UTC, post-launch test position 89.5 W). True-colour tests write small
C01 / C02 / C03 files in the real L1b layout (:func:`write_l1b`, modelled on ``ncdump -h`` of the
real files) with reflectances chosen here, so the composite's numbers can be computed by hand.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import shutil
from pathlib import Path

import netCDF4
import numpy as np
import pytest
from pyproj import Proj
from realdata_files import realdata_file

from eoml.clouds.goes import (
    abi_lonlat,
    domain_grid,
    group_scenes,
    parse_abi_name,
    read_reflectance,
    true_colour,
)
from eoml.core.errors import InputFileError

REAL_C01 = "GOES_ABI_L1b/OR_ABI-L1b-RadM1-M3C01_G16_s20171931811268_e20171931811326_c20171931811369.nc"
REAL_C03 = "GOES_ABI_L1b/OR_ABI-L1b-RadM1-M3C03_G16_s20171931811268_e20171931811326_c20171931811371.nc"
RECIPE = {"red": 0.45, "nir": 0.10, "blue": 0.45}

# ------------------------------------------------------------------------------------------------
# a writer of small L1b files in the real layout

#: GOES-R fixed grid (PUG vol. 3 table 5.1.2.8; the real files' goes_imager_projection)
PPH, A_AX, B_AX = 35786023.0, 6378137.0, 6356752.31414
LON0 = -75.0
ESUN = {1: 2017.1648, 2: 1631.3351, 3: 957.0699}
WAVELENGTH = {1: 0.47, 2: 0.64, 3: 0.865, 13: 10.33}
RAD_SCALE = {1: 0.8121064, 2: 0.6769648, 3: 0.3787302, 13: 0.04572892}
RAD_OFFSET = {1: -25.936647, 2: -20.289911, 3: -12.037643, 13: -1.6443433}
ESD = 1.0166  # Earth-Sun distance (AU) in July


def kappa0_of(channel: int) -> np.float32:
    """kappa0 = pi d^2 / E_sun, as float32 as in the files."""
    return np.float32(math.pi * ESD**2 / ESUN.get(channel, 1.0))


def abi_time_field(t: dt.datetime) -> str:
    """datetime -> ``YYYYjjjHHMMSSt``."""
    return t.strftime("%Y%j%H%M%S") + str(t.microsecond // 100000)


def l1b_name(channel: int, start: dt.datetime, *, sector: str = "M1", platform: str = "G16",
             duration_s: float = 5.8) -> str:
    end = start + dt.timedelta(seconds=duration_s)
    created = end + dt.timedelta(seconds=4.3)
    return (f"OR_ABI-L1b-Rad{sector}-M3C{channel:02d}_{platform}_s{abi_time_field(start)}"
            f"_e{abi_time_field(end)}_c{abi_time_field(created)}.nc")


def write_l1b(path: Path, channel: int, x0: float, y0: float, counts: np.ndarray, *, step: float,
              start: dt.datetime, duration_s: float = 5.8, dqf: np.ndarray | None = None,
              omit: tuple[str, ...] = ()) -> Path:
    """Write an ABI L1b radiance file: ``counts`` (y, x) with first pixel centre (x0, y0) rad.

    ``step`` is the pixel size in rad (2.8e-05 at 1 km, 1.4e-05 at 0.5 km); y decreases down the
    rows. ``omit`` leaves variables out (error tests).
    """
    ny, nx = counts.shape
    end = start + dt.timedelta(seconds=duration_s)
    j2000 = dt.datetime(2000, 1, 1, 12)
    with netCDF4.Dataset(path, "w", format="NETCDF4") as nc:
        nc.createDimension("y", ny)
        nc.createDimension("x", nx)
        nc.createDimension("number_of_time_bounds", 2)
        nc.createDimension("band", 1)
        nc.createDimension("number_of_image_bounds", 2)
        nc.setncatts({
            "naming_authority": "gov.nesdis.noaa",
            "Conventions": "CF-1.7",
            "title": "ABI L1b Radiances",
            "platform_ID": path.name.split("_")[2] if path.name.startswith("OR_") else "G16",
            "instrument_type": "GOES R Series Advanced Baseline Imager",
            "scene_id": "Mesoscale",
            "instrument_ID": "FM1",
            "dataset_name": path.name,
            "orbital_slot": "GOES-Test",
            "timeline_id": "ABI Mode 3",
            "production_site": "RBU",
            "spatial_resolution": "0.5km at nadir" if step < 2e-5 else "1km at nadir",
            "time_coverage_start": start.strftime("%Y-%m-%dT%H:%M:%S.") + f"{start.microsecond // 100000}Z",
            "time_coverage_end": end.strftime("%Y-%m-%dT%H:%M:%S.") + f"{end.microsecond // 100000}Z",
        })
        if "Rad" not in omit:
            fill = 4095 if channel == 2 else 1023  # C02 has 12-bit counts, C01 / C03 10-bit
            rad = nc.createVariable("Rad", "i2", ("y", "x"), fill_value=np.int16(fill))
            rad.setncatts({
                "long_name": "ABI L1b Radiances", "standard_name": "toa_outgoing_radiance_per_unit_wavelength",
                "_Unsigned": "true", "sensor_band_bit_depth": np.int8(12 if channel == 2 else 10),
                "valid_range": np.array([0, fill - 1], dtype=np.int16),
                "scale_factor": np.float32(RAD_SCALE[channel]), "add_offset": np.float32(RAD_OFFSET[channel]),
                "units": "W m-2 sr-1 um-1", "coordinates": "band_id band_wavelength t y x",
                "grid_mapping": "goes_imager_projection", "cell_methods": "t: point area: point",
                "ancillary_variables": "DQF",
            })
            rad.set_auto_maskandscale(False)  # write the packed counts as they are
            rad[:] = counts.astype(np.uint16).view(np.int16)
        if "DQF" not in omit:
            q = nc.createVariable("DQF", "i1", ("y", "x"), fill_value=np.int8(-1))
            q.setncatts({
                "long_name": "ABI L1b Radiances data quality flags", "standard_name": "status_flag",
                "_Unsigned": "true", "valid_range": np.array([0, 3], dtype=np.int8),
                "units": "1", "coordinates": "band_id band_wavelength t y x",
                "grid_mapping": "goes_imager_projection", "cell_methods": "t: point area: point",
                "flag_values": np.array([0, 1, 2, 3, 4], dtype=np.int8),
                "flag_meanings": "good_pixel_qf conditionally_usable_pixel_qf out_of_range_pixel_qf "
                                 "no_value_pixel_qf focal_plane_temperature_threshold_exceeded_qf",
            })
            q.set_auto_maskandscale(False)
            q[:] = (np.zeros((ny, nx), np.int8) if dqf is None else dqf.astype(np.int8))
        t = nc.createVariable("t", "f8")
        t.setncatts({"long_name": "J2000 epoch mid-point between the start and end image scan in seconds",
                     "standard_name": "time", "units": "seconds since 2000-01-01 12:00:00", "axis": "T",
                     "bounds": "time_bounds"})
        t.assignValue(((start - j2000) + (end - start) / 2).total_seconds())
        tb = nc.createVariable("time_bounds", "f8", ("number_of_time_bounds",))
        tb[:] = [(start - j2000).total_seconds(), (end - j2000).total_seconds()]
        for name, first, sign in (("y", y0, -1.0), ("x", x0, 1.0)):
            if name in omit:
                continue
            v = nc.createVariable(name, "i2", (name,))
            v.setncatts({"scale_factor": np.float32(sign * step), "add_offset": np.float32(first),
                         "units": "rad", "axis": name.upper(),
                         "long_name": f"GOES fixed grid projection {name}-coordinate",
                         "standard_name": f"projection_{name}_coordinate"})
            v.set_auto_maskandscale(False)
            v[:] = np.arange(ny if name == "y" else nx, dtype=np.int16)
        if "goes_imager_projection" not in omit:
            p = nc.createVariable("goes_imager_projection", "i4")
            p.setncatts({"long_name": "GOES-R ABI fixed grid projection", "grid_mapping_name": "geostationary",
                         "perspective_point_height": PPH, "semi_major_axis": A_AX, "semi_minor_axis": B_AX,
                         "inverse_flattening": 298.2572221, "latitude_of_projection_origin": 0.0,
                         "longitude_of_projection_origin": LON0, "sweep_angle_axis": "x"})
        for name, value, dtype, units in (
            ("nominal_satellite_subpoint_lat", 0.0, "f4", "degrees_north"),
            ("nominal_satellite_subpoint_lon", LON0, "f4", "degrees_east"),
            ("nominal_satellite_height", PPH / 1000.0, "f4", "km"),
            ("earth_sun_distance_anomaly_in_AU", ESD, "f4", "ua"),
            ("esun", ESUN.get(channel, -999.0), "f4", "W m-2 um-1"),
            ("kappa0", float(kappa0_of(channel)) if channel <= 6 else -999.0, "f4", "(W m-2 um-1 sr-1)-1"),
            ("yaw_flip_flag", 0, "i1", "1"),
        ):
            if name in omit:
                continue
            v = nc.createVariable(name, dtype)
            v.units = units
            v.assignValue(value)
        b = nc.createVariable("band_id", "i1", ("band",))
        b[:] = [channel]
        w = nc.createVariable("band_wavelength", "f4", ("band",))
        w.units = "um"
        w[:] = [WAVELENGTH[channel]]
    return path


def reflectance_of(channel: int, counts: np.ndarray) -> np.ndarray:
    """Hand decoding: kappa0 * (counts * scale + offset)."""
    return float(kappa0_of(channel)) * (counts * float(np.float32(RAD_SCALE[channel]))
                                        + float(np.float32(RAD_OFFSET[channel])))


def geos_proj() -> Proj:
    return Proj(proj="geos", h=PPH, a=A_AX, b=B_AX, lon_0=LON0, sweep="x")


#: the small scene: 40 x 40 pixels at 1 km around 13.6 N, 57.6 W (the EUREC4A area)
N1 = 40
START = dt.datetime(2017, 7, 12, 18, 11, 26, 800000)


def scene_grid() -> tuple[float, float]:
    """First C01 pixel centre (x0, y0), rad, 6 decimals as in real files."""
    xc, yc = geos_proj()(-57.6, 13.6)
    return round(xc / PPH - N1 / 2 * 2.8e-05, 6), round(yc / PPH + N1 / 2 * 2.8e-05, 6)


def pixel_lonlat(x0: float, y0: float, n: int, step: float) -> tuple[np.ndarray, np.ndarray]:
    """Longitude and latitude of every pixel of a grid, by pyproj (independent of abi_lonlat)."""
    x = x0 + step * np.arange(n)
    y = y0 - step * np.arange(n)
    xx, yy = np.meshgrid(x * PPH, y * PPH)
    return geos_proj()(xx, yy, inverse=True)


def checker(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """True on the 'odd' squares of a 0.1 degree checkerboard."""
    return ((np.floor(lon / 0.1) + np.floor(lat / 0.1)) % 2).astype(bool)


BLUE_COUNTS = (200, 400)  # even / odd squares: reflectance factors 0.22, 0.48
RED_COUNTS = (550, 300)  # 0.70, 0.36
NIR_COUNTS = 400  # 0.47


def write_scene(folder: Path, *, start: dt.datetime = START, dqf3: np.ndarray | None = None) -> dict[int, Path]:
    """C01 / C02 / C03 of one scan with a 0.1 degree checkerboard in C01 and C02."""
    x0, y0 = scene_grid()
    lon1, lat1 = pixel_lonlat(x0, y0, N1, 2.8e-05)
    lon2, lat2 = pixel_lonlat(round(x0 - 7e-06, 6), round(y0 + 7e-06, 6), 2 * N1, 1.4e-05)
    odd1, odd2 = checker(lon1, lat1), checker(lon2, lat2)
    files = {}
    for ch, counts, x, y, step in (
        (1, np.where(odd1, BLUE_COUNTS[1], BLUE_COUNTS[0]), x0, y0, 2.8e-05),
        (2, np.where(odd2, RED_COUNTS[1], RED_COUNTS[0]), round(x0 - 7e-06, 6), round(y0 + 7e-06, 6), 1.4e-05),
        (3, np.full((N1, N1), NIR_COUNTS), x0, y0, 2.8e-05),
    ):
        files[ch] = write_l1b(folder / l1b_name(ch, start), ch, x, y, counts.astype(np.uint16), step=step,
                              start=start, dqf=dqf3 if ch == 3 else None)
    return files


def hand_rgb(blue: float, red: float, nir: float, gamma: float, cos_sza: float = 1.0) -> np.ndarray:
    r, n, b = red / cos_sza, nir / cos_sza, blue / cos_sza
    g = 0.45 * r + 0.10 * n + 0.45 * b
    return np.round(255 * np.clip([r, g, b], 0, 1) ** (1 / gamma))


def hand_solar_zenith(t: dt.datetime, lon: float, lat: float) -> float:
    """Solar zenith (deg) from Spencer's (1971) declination and equation of time (~0.1 deg)."""
    gam = 2 * math.pi / 365 * (t.timetuple().tm_yday - 1 + (t.hour - 12) / 24)
    decl = (0.006918 - 0.399912 * math.cos(gam) + 0.070257 * math.sin(gam) - 0.006758 * math.cos(2 * gam)
            + 0.000907 * math.sin(2 * gam) - 0.002697 * math.cos(3 * gam) + 0.00148 * math.sin(3 * gam))
    eqtime = 229.18 * (0.000075 + 0.001868 * math.cos(gam) - 0.032077 * math.sin(gam)
                       - 0.014615 * math.cos(2 * gam) - 0.040849 * math.sin(2 * gam))
    minutes = t.hour * 60 + t.minute + t.second / 60 + eqtime + 4 * lon
    hour_angle = math.radians(minutes / 4 - 180)
    phi = math.radians(lat)
    cos_z = math.sin(phi) * math.sin(decl) + math.cos(phi) * math.cos(decl) * math.cos(hour_angle)
    return math.degrees(math.acos(cos_z))


# ------------------------------------------------------------------------------------------------
# names and scenes


@pytest.mark.realdata(REAL_C01, REAL_C03)
def test_parse_real_names():
    n = parse_abi_name(realdata_file(REAL_C01))
    assert (n.environment, n.platform, n.sector, n.mode, n.channel) == ("OR", "G16", "M1", "M3", 1)
    # day 193 of 2017 is 12 July
    assert n.start == np.datetime64("2017-07-12T18:11:26.800")
    assert n.end == np.datetime64("2017-07-12T18:11:32.600")
    assert n.created == np.datetime64("2017-07-12T18:11:36.900")
    assert n.scene_id == "G16_M1_20171931811268"
    assert parse_abi_name(realdata_file(REAL_C03)).channel == 3


def test_parse_name_errors(tmp_path):
    for bad in ("foo.nc",
                "OR_ABI-L2-CMIPM1-M3C01_G16_s20171931811268_e20171931811326_c20171931811369.nc",
                "OR_ABI-L1b-RadM3-M3C01_G16_s20171931811268_e20171931811326_c20171931811369.nc",
                "OR_ABI-L1b-RadM1-M3C17_G16_s20171931811268_e20171931811326_c20171931811369.nc",
                "OR_ABI-L1b-RadM1-M3C01_G16_s20173671811268_e20171931811326_c20171931811369.nc"):
        with pytest.raises(InputFileError, match=bad.replace(".", r"\.")):
            parse_abi_name(tmp_path / bad)
    leap = parse_abi_name("OR_ABI-L1b-RadF-M6C02_G17_s20203661200204_e20203661209512_c20203661209546.nc")
    assert (leap.start, leap.sector, leap.mode) == (np.datetime64("2020-12-31T12:00:20.400"), "F", "M6")


@pytest.mark.realdata(REAL_C01, REAL_C03)
def test_group_real_scene(caplog):
    files = [realdata_file(REAL_C03), realdata_file(REAL_C01)]
    scenes = group_scenes(files, channels=(1, 3), on_bad_file="error", max_time_offset_s=1.0)
    assert scenes == {"G16_M1_20171931811268": {1: files[1], 3: files[0]}}
    # the real scene has no C02: the true-colour channels are incomplete
    with pytest.raises(InputFileError, match=r"C01_G16.*scene G16_M1_20171931811268 has no file of channel\(s\) C02"):
        group_scenes(files, on_bad_file="error", max_time_offset_s=1.0)
    with caplog.at_level(logging.WARNING, logger="eoml.clouds.goes"):
        assert group_scenes(files, on_bad_file="skip", max_time_offset_s=1.0) == {}
    assert "no file of channel(s) C02" in caplog.text


def test_group_scenes_several_scans_and_errors(tmp_path, caplog):
    t0 = START
    t1 = START + dt.timedelta(minutes=1)
    good = [tmp_path / l1b_name(ch, t) for t in (t0, t1) for ch in (1, 2, 3)]
    # an IR band (ignored) and a complete scene of the other mesoscale sector
    extra = [tmp_path / l1b_name(13, t0)] + [tmp_path / l1b_name(ch, t0, sector="M2") for ch in (1, 2, 3)]
    scenes = group_scenes(good + extra, on_bad_file="error", max_time_offset_s=1.0)
    assert list(scenes) == ["G16_M1_20171931811268", "G16_M1_20171931812268", "G16_M2_20171931811268"]
    assert scenes["G16_M1_20171931812268"] == {ch: tmp_path / l1b_name(ch, t1) for ch in (1, 2, 3)}

    # a band that started 5 s after the others
    late = tmp_path / l1b_name(2, t0 + dt.timedelta(seconds=5))
    files = [tmp_path / l1b_name(1, t0), late, tmp_path / l1b_name(3, t0)]
    with pytest.raises(InputFileError, match=rf"{late.name}: scan start .* differs by 5 s .*G16_M1_20171931811268"):
        group_scenes(files, on_bad_file="error", max_time_offset_s=1.0)
    assert list(group_scenes(files, on_bad_file="error", max_time_offset_s=10.0)) == ["G16_M1_20171931811268"]

    # two files of one channel (reprocessed: another creation time)
    dup = tmp_path / l1b_name(1, t0).replace("_c2017", "_c2018")
    files = [tmp_path / l1b_name(ch, t0) for ch in (1, 2, 3)] + [dup]
    with pytest.raises(InputFileError, match=r"a second file of channel C01 for scene G16_M1_20171931811268"):
        group_scenes(files, on_bad_file="error", max_time_offset_s=1.0)

    # not an ABI name: error, or skipped with the rest kept
    files = good + [tmp_path / "notes.nc"]
    with pytest.raises(InputFileError, match=r"notes\.nc: not an ABI L1b radiance file name"):
        group_scenes(files, on_bad_file="error", max_time_offset_s=1.0)
    with caplog.at_level(logging.WARNING, logger="eoml.clouds.goes"):
        bad_c2 = [tmp_path / l1b_name(1, t0), tmp_path / l1b_name(3, t0)]
        kept = group_scenes(good[3:] + bad_c2 + [tmp_path / "notes.nc"], on_bad_file="skip", max_time_offset_s=1.0)
    assert list(kept) == ["G16_M1_20171931812268"]
    assert "notes.nc" in caplog.text and "G16_M1_20171931811268 left out" in caplog.text
    with pytest.raises(ValueError, match="on_bad_file"):
        group_scenes(good, on_bad_file="ignore", max_time_offset_s=1.0)


# ------------------------------------------------------------------------------------------------
# reflectance on the real files


def raw_real(path: Path) -> dict:
    """The real file's variables as stored (no xarray): counts, DQF, kappa0, scale, offset, fill."""
    with netCDF4.Dataset(path) as nc:
        nc.set_auto_maskandscale(False)
        rad, dqf = nc["Rad"], nc["DQF"]
        counts = rad[:]
        fill = rad.getncattr("_FillValue")
        if getattr(rad, "_Unsigned", "false") == "true":
            counts = counts.view(np.uint16)
            fill = np.array(fill, dtype=np.int16).view(np.uint16)
        flags = dqf[:].view(np.uint8) if getattr(dqf, "_Unsigned", "false") == "true" else dqf[:]
        return {"counts": counts, "dqf": flags, "kappa0": float(nc["kappa0"][...]),
                "scale": float(rad.scale_factor), "offset": float(rad.add_offset), "fill": fill,
                "x": nc["x"][:] * float(nc["x"].scale_factor) + float(nc["x"].add_offset),
                "y": nc["y"][:] * float(nc["y"].scale_factor) + float(nc["y"].add_offset),
                "proj": {k: nc["goes_imager_projection"].getncattr(k)
                         for k in nc["goes_imager_projection"].ncattrs()}}


@pytest.mark.realdata(REAL_C01, REAL_C03)
@pytest.mark.parametrize("rel", [REAL_C01, REAL_C03])
def test_read_reflectance_real_pixels(rel):
    path = realdata_file(rel)
    raw = raw_real(path)
    refl = read_reflectance(path)
    assert refl.dims == ("y", "x") and refl.shape == raw["counts"].shape and refl.dtype == np.float32
    assert refl.attrs["units"] == "1" and refl.attrs["channel"] == parse_abi_name(path).channel
    good = np.argwhere((raw["dqf"] == 0) & (raw["counts"] != raw["fill"]))
    rng = np.random.default_rng(0)
    for i, j in list(good[rng.choice(len(good), 20, replace=False)]) + [tuple(good[0]), tuple(good[-1])]:
        hand = raw["kappa0"] * (int(raw["counts"][i, j]) * raw["scale"] + raw["offset"])
        assert float(refl[i, j]) == pytest.approx(hand, rel=2e-6, abs=1e-6)
    # a plausible daytime reflectance factor (ocean and clouds)
    assert 0.0 < float(np.nanmedian(refl)) < 1.0 and float(np.nanmax(refl)) < 1.6
    # DQF mask: NaN exactly where the flag is not 0 or Rad is fill
    bad = (raw["dqf"] != 0) | (raw["counts"] == raw["fill"])
    np.testing.assert_array_equal(np.isnan(refl.values), bad)
    np.testing.assert_array_equal(refl["dqf"].values, raw["dqf"])
    conditional = read_reflectance(path, keep_conditional=True)
    np.testing.assert_array_equal(np.isnan(conditional.values),
                                  ((raw["dqf"] != 0) & (raw["dqf"] != 1)) | (raw["counts"] == raw["fill"]))
    # scan angles decoded from int16 (to float32 rounding of the file's scale and offset)
    np.testing.assert_allclose(refl["x"].values, raw["x"], rtol=0, atol=1e-8)
    np.testing.assert_allclose(refl["y"].values, raw["y"], rtol=0, atol=1e-8)
    assert np.all(np.diff(refl["y"].values) < 0) and np.all(np.diff(refl["x"].values) > 0)


@pytest.mark.realdata(REAL_C01)
def test_satpy_reflectance_agrees_with_kappa0():
    """satpy's abi_l1b 'reflectance' is 100 pi d^2 / esun * Rad: kappa0 * Rad to 3e-5.

    The file's kappa0 (0.0015852) is pi d^2 / esun (0.00158515) rounded to 5 digits: the two
    differ by a constant factor of 1 - 3.0e-5, far below the radiometric accuracy (3 %).
    """
    from satpy import Scene

    path = realdata_file(REAL_C01)
    ours = read_reflectance(path, keep_conditional=True)
    scn = Scene(reader="abi_l1b", filenames=[str(path)])
    scn.load(["C01"], calibration="reflectance")
    theirs = scn["C01"].values / 100.0
    with netCDF4.Dataset(path) as nc:
        d, esun = float(nc["earth_sun_distance_anomaly_in_AU"][...]), float(nc["esun"][...])
    factor = math.pi * d * d / esun / ours.attrs["kappa0"]
    assert abs(factor - 1) < 1e-4
    ok = np.isfinite(ours.values)
    assert ok.sum() > 0.99 * ok.size
    np.testing.assert_allclose(theirs[ok], factor * ours.values[ok], rtol=2e-6, atol=1e-7)
    # satpy does not mask the DQF: the out-of-range pixels are finite there
    assert np.isfinite(theirs[~ok]).any()


# ------------------------------------------------------------------------------------------------
# navigation


def pug_navigation(x: float, y: float, proj: dict) -> tuple[float, float]:
    """PUG vol. 3 §5.1.2.8.1, written out for one pixel."""
    r_eq, r_pol = float(proj["semi_major_axis"]), float(proj["semi_minor_axis"])
    h = float(proj["perspective_point_height"]) + r_eq
    lam0 = math.radians(float(proj["longitude_of_projection_origin"]))
    a = math.sin(x) ** 2 + math.cos(x) ** 2 * (math.cos(y) ** 2 + r_eq**2 / r_pol**2 * math.sin(y) ** 2)
    b = -2 * h * math.cos(x) * math.cos(y)
    c = h**2 - r_eq**2
    r_s = (-b - math.sqrt(b * b - 4 * a * c)) / (2 * a)
    s_x, s_y, s_z = r_s * math.cos(x) * math.cos(y), -r_s * math.sin(x), r_s * math.cos(x) * math.sin(y)
    lat = math.degrees(math.atan(r_eq**2 / r_pol**2 * s_z / math.sqrt((h - s_x) ** 2 + s_y**2)))
    lon = math.degrees(lam0 - math.atan(s_y / (h - s_x)))
    return lon, lat


def test_navigation_pug_example():
    """The PUG's worked example (GOES-East 75 W): x = -0.024052, y = 0.095340 rad."""
    proj = {"perspective_point_height": PPH, "semi_major_axis": A_AX, "semi_minor_axis": B_AX,
            "longitude_of_projection_origin": -75.0, "sweep_angle_axis": "x"}
    lon, lat = abi_lonlat(proj, -0.024052, 0.095340)
    assert float(lon) == pytest.approx(-84.690932, abs=1e-5)
    assert float(lat) == pytest.approx(33.846162, abs=1e-5)
    # the sub-satellite point and a look past the limb
    lon, lat = abi_lonlat(proj, np.array([0.0, 0.16]), np.array([0.0, 0.0]))
    assert (lon[0], lat[0]) == (pytest.approx(-75.0), pytest.approx(0.0))
    assert np.isnan(lon[1]) and np.isnan(lat[1])


@pytest.mark.realdata(REAL_C01)
def test_navigation_real_pixel_and_pyproj():
    path = realdata_file(REAL_C01)
    raw = raw_real(path)
    refl = read_reflectance(path)
    i, j = 500, 321
    hand = pug_navigation(float(refl["x"][j]), float(refl["y"][i]), raw["proj"])
    lon, lat = abi_lonlat(refl, refl["x"].values[j], refl["y"].values[i])
    assert (float(lon), float(lat)) == (pytest.approx(hand[0], abs=1e-6), pytest.approx(hand[1], abs=1e-6))
    # the 2017 checkout position (89.5 W): the mesoscale sector is over the Americas
    assert raw["proj"]["longitude_of_projection_origin"] == pytest.approx(-89.5)
    # the whole grid against pyproj's geos projection (sweep x)
    x, y = refl["x"].values, refl["y"].values
    lon, lat = abi_lonlat(refl, x[np.newaxis, :], y[:, np.newaxis])
    p = raw["proj"]
    geos = Proj(proj="geos", h=float(p["perspective_point_height"]), a=float(p["semi_major_axis"]),
                b=float(p["semi_minor_axis"]), lon_0=float(p["longitude_of_projection_origin"]), sweep="x")
    xx, yy = np.meshgrid(x * float(p["perspective_point_height"]), y * float(p["perspective_point_height"]))
    plon, plat = geos(xx, yy, inverse=True)
    assert np.isfinite(lon).all()
    np.testing.assert_allclose(lon, plon, atol=1e-6)
    np.testing.assert_allclose(lat, plat, atol=1e-6)


# ------------------------------------------------------------------------------------------------
# reader errors


@pytest.mark.realdata(REAL_C01)
def test_read_truncated_real_file(tmp_path):
    src = realdata_file(REAL_C01)
    cut = tmp_path / src.name
    cut.write_bytes(src.read_bytes()[: src.stat().st_size // 2])
    with pytest.raises(InputFileError, match=rf"{cut.name}: cannot be read as netCDF"):
        read_reflectance(cut)
    empty = tmp_path / "empty" / src.name
    empty.parent.mkdir()
    empty.write_bytes(b"")
    with pytest.raises(InputFileError, match="cannot be read as netCDF"):
        read_reflectance(empty)


@pytest.mark.parametrize("var", ["Rad", "DQF", "kappa0", "goes_imager_projection", "x", "y"])
def test_read_missing_variable(tmp_path, var):
    path = write_l1b(tmp_path / l1b_name(1, START), 1, 0.05, 0.08, np.full((4, 5), 300, np.uint16),
                     step=2.8e-05, start=START, omit=(var,))
    message = rf"{path.name}: not an ABI L1b radiance file: variable\(s\) {var} missing"
    with pytest.raises(InputFileError, match=message):
        read_reflectance(path)


def test_read_emissive_band_refused(tmp_path):
    path = write_l1b(tmp_path / l1b_name(13, START), 13, 0.05, 0.08, np.full((4, 5), 300, np.uint16),
                     step=2.8e-05, start=START)
    with pytest.raises(InputFileError, match=r"band C13 is emissive"):
        read_reflectance(path)


def test_read_written_file_unsigned_and_fill(tmp_path):
    """Counts above 32767 are unsigned (as _Unsigned says); fill and DQF 2/3/4 become NaN."""
    counts = np.array([[0, 1, 1022, 1023], [40000, 700, 700, 700]], dtype=np.uint16)
    dqf = np.array([[0, 1, 0, 0], [0, 2, 3, 4]], dtype=np.uint8)
    path = write_l1b(tmp_path / l1b_name(3, START), 3, 0.05, 0.08, counts, step=2.8e-05, start=START, dqf=dqf)
    refl = read_reflectance(path)
    k = float(kappa0_of(3))
    hand = k * (counts * float(np.float32(RAD_SCALE[3])) + float(np.float32(RAD_OFFSET[3])))
    expect = np.where(np.array([[1, 0, 1, 0], [1, 0, 0, 0]], bool), hand, np.nan)
    np.testing.assert_allclose(refl.values, expect, rtol=2e-6)
    assert float(refl[1, 0]) > 10  # 40000 read unsigned: a big (unphysical) value, not negative
    assert np.isfinite(read_reflectance(path, keep_conditional=True)[0, 1])
    np.testing.assert_allclose(refl["x"].values, 0.05 + 2.8e-05 * np.arange(4 + 0), atol=1e-12)
    np.testing.assert_allclose(refl["y"].values, 0.08 - 2.8e-05 * np.arange(2), atol=1e-12)


# ------------------------------------------------------------------------------------------------
# true colour on written C01 / C02 / C03 files


def domain_around(lon_c: float = -57.6, lat_c: float = 13.6, half: float = 0.15, res: float = 0.01) -> dict:
    return {"lon_min": lon_c - half, "lon_max": lon_c + half, "lat_min": lat_c - half,
            "lat_max": lat_c + half, "resolution_deg": res}


def test_domain_grid():
    lon, lat = domain_grid({"lon_min": -61.0, "lon_max": -40.0, "lat_min": 10.0, "lat_max": 24.0,
                            "resolution_deg": 0.01})
    assert lon.size == 2100 and lat.size == 1400
    assert lon[0] == pytest.approx(-60.995) and lon[-1] == pytest.approx(-40.005)
    assert lat[0] == pytest.approx(23.995) and lat[-1] == pytest.approx(10.005)
    with pytest.raises(ValueError, match="not a multiple"):
        domain_grid({"lon_min": 0, "lon_max": 1.005, "lat_min": 0, "lat_max": 1, "resolution_deg": 0.01})
    with pytest.raises(ValueError, match="inverted"):
        domain_grid({"lon_min": 1, "lon_max": 0, "lat_min": 0, "lat_max": 1, "resolution_deg": 0.01})
    with pytest.raises(ValueError, match="lacks resolution_deg"):
        domain_grid({"lon_min": 0, "lon_max": 1, "lat_min": 0, "lat_max": 1})


def test_true_colour_numbers_and_regridding(tmp_path):
    """Green formula, gamma and the checkerboard put at the right longitudes / latitudes."""
    files = write_scene(tmp_path)
    domain = domain_around()
    gamma = 2.0
    out = true_colour(files, domain=domain, green=RECIPE, gamma=gamma, sza_correction=False, max_sza=85.0)
    assert out["rgb"].dims == ("lat", "lon", "band") and out["rgb"].dtype == np.uint8
    assert list(out["band"].values) == ["red", "green", "blue"]
    assert out["valid"].dtype == bool and bool(out["valid"].all())
    lon, lat = out["lon"].values, out["lat"].values
    assert np.all(np.diff(lat) < 0) and np.all(np.diff(lon) > 0)
    assert lon.size == 30 and lat.size == 30
    assert out.attrs["platform"] == "G16" and out.attrs["sector"] == "M1"
    assert out.attrs["start_time"] == "2017-07-12T18:11:26.800"
    assert out.attrs["files"] == [files[ch].name for ch in (1, 2, 3)]
    assert out.attrs["gamma"] == 2.0 and out.attrs["green"] == "0.45*red + 0.1*nir + 0.45*blue"

    # pixels whose centre is at least 2 km from a checkerboard edge: the square's values exactly
    lon2, lat2 = np.meshgrid(lon, lat)
    frac_lon = np.abs(lon2 / 0.1 - np.round(lon2 / 0.1)) * 0.1
    frac_lat = np.abs(lat2 / 0.1 - np.round(lat2 / 0.1)) * 0.1
    inner = (frac_lon > 0.02) & (frac_lat > 0.02)
    odd = checker(lon2, lat2)
    assert inner.sum() > 200 and odd[inner].any() and (~odd[inner]).any()
    nir = reflectance_of(3, NIR_COUNTS)
    for parity in (0, 1):
        blue = reflectance_of(1, BLUE_COUNTS[parity])
        red = reflectance_of(2, RED_COUNTS[parity])
        expect = hand_rgb(blue, red, nir, gamma)
        sel = inner & (odd == bool(parity))
        got = out["rgb"].values[sel].astype(int)
        assert np.abs(got - expect).max() <= 1, (parity, expect, np.unique(got, axis=0))
    # the squares are where they should be: a shifted board would put the other colour there
    assert np.all(out["rgb"].values[inner & odd, 2] > out["rgb"].values[inner & ~odd, 2].max())

    # linear display (gamma 1): the green is the weighted sum itself
    lin = true_colour(files, domain=domain, green=RECIPE, gamma=1.0, sza_correction=False, max_sza=85.0)
    blue, red = reflectance_of(1, BLUE_COUNTS[0]), reflectance_of(2, RED_COUNTS[0])
    g = lin["rgb"].values[inner & ~odd, 1].astype(int)
    assert np.abs(g - round(255 * (0.45 * red + 0.10 * nir + 0.45 * blue))).max() <= 1
    other = true_colour(files, domain=domain, green={"red": 0.0, "nir": 1.0, "blue": 0.0}, gamma=1.0,
                        sza_correction=False, max_sza=85.0)
    assert np.abs(other["rgb"].values[inner, 1].astype(int) - round(255 * nir)).max() <= 1


def test_true_colour_georeferencing(tmp_path):
    """Ramps in latitude (C01) and longitude (C03) land at the grid's lat / lon to < 1/4 pixel.

    Nearest-neighbour errors (up to half a 1 km pixel) average out over the domain; a grid off by
    one pixel (0.01 deg) would bias the mean by 2.55 grey levels.
    """
    x0, y0 = scene_grid()
    lon1, lat1 = pixel_lonlat(x0, y0, N1, 2.8e-05)

    def counts(ch: int, rho: np.ndarray) -> np.ndarray:
        return np.round((rho / float(kappa0_of(ch)) - RAD_OFFSET[ch]) / RAD_SCALE[ch]).astype(np.uint16)

    files = {
        1: write_l1b(tmp_path / l1b_name(1, START), 1, x0, y0, counts(1, 0.3 + (lat1 - 13.6)),
                     step=2.8e-05, start=START),
        2: write_l1b(tmp_path / l1b_name(2, START), 2, round(x0 - 7e-06, 6), round(y0 + 7e-06, 6),
                     np.full((2 * N1, 2 * N1), 300, np.uint16), step=1.4e-05, start=START),
        3: write_l1b(tmp_path / l1b_name(3, START), 3, x0, y0, counts(3, 0.4 + (lon1 + 57.6)),
                     step=2.8e-05, start=START),
    }
    out = true_colour(files, domain=domain_around(), green={"red": 0.0, "nir": 1.0, "blue": 0.0}, gamma=1.0,
                      sza_correction=False, max_sza=85.0)
    lon2, lat2 = np.meshgrid(out["lon"].values, out["lat"].values)
    blue_bias = np.mean(out["rgb"].values[..., 2] - 255 * (0.3 + (lat2 - 13.6)))
    green_bias = np.mean(out["rgb"].values[..., 1] - 255 * (0.4 + (lon2 + 57.6)))
    assert abs(blue_bias) < 0.6 and abs(green_bias) < 0.6, (blue_bias, green_bias)


def test_true_colour_solar_zenith(tmp_path):
    files = write_scene(tmp_path)
    domain = domain_around()
    plain = true_colour(files, domain=domain, green=RECIPE, gamma=1.0, sza_correction=False, max_sza=85.0)
    corr = true_colour(files, domain=domain, green=RECIPE, gamma=1.0, sza_correction=True, max_sza=85.0)
    assert corr.attrs["solar_time"] == "2017-07-12T18:11:29.700"
    t = dt.datetime(2017, 7, 12, 18, 11, 29, 700000)
    # the NIR band is uniform: its corrected value follows 1/cos(sza) of each pixel
    nir = reflectance_of(3, NIR_COUNTS)
    for i, j in ((0, 0), (10, 20), (29, 29)):  # centres 0.045 deg from the board's edges
        sza = hand_solar_zenith(t, float(corr["lon"][j]), float(corr["lat"][i]))
        assert 20 < sza < 50
        green_corr = int(corr["rgb"].values[i, j, 1])
        green_plain = int(plain["rgb"].values[i, j, 1])
        assert green_corr / max(green_plain, 1) == pytest.approx(1 / math.cos(math.radians(sza)), rel=0.02)
        # with a uniform NIR and the checkerboard's two colours: the hand value of the pixel's colour
        colours = [hand_rgb(reflectance_of(1, BLUE_COUNTS[p]), reflectance_of(2, RED_COUNTS[p]), nir, 1.0,
                            cos_sza=math.cos(math.radians(sza))) for p in (0, 1)]
        got = corr["rgb"].values[i, j].astype(int)
        assert min(np.abs(got - c).max() for c in colours) <= 2, (got, colours)
    # at or above max_sza nothing is valid; rgb is 0 there
    dark = true_colour(files, domain=domain, green=RECIPE, gamma=1.0, sza_correction=True, max_sza=10.0)
    assert not dark["valid"].any() and not dark["rgb"].values.any()


def test_true_colour_valid_mask(tmp_path):
    """Outside the sector and at bad DQF the domain is not valid."""
    dqf3 = np.zeros((N1, N1), np.uint8)
    dqf3[18:22, 18:22] = 3  # no value, in the middle of the sector
    files = write_scene(tmp_path, dqf3=dqf3)
    # a domain reaching 0.4 deg east of the 40 km sector
    domain = {"lon_min": -57.8, "lon_max": -57.0, "lat_min": 13.5, "lat_max": 13.7, "resolution_deg": 0.01}
    out = true_colour(files, domain=domain, green=RECIPE, gamma=1.0, sza_correction=False, max_sza=85.0)
    valid = out["valid"].values
    lon = out["lon"].values
    # the sector spans about 40 km (0.4 deg) around 57.6 W: the domain's eastern part is outside
    east = lon > -57.3
    assert not valid[:, east].any() and not out["rgb"].values[:, east].any()
    assert valid[:, (lon > -57.7) & (lon < -57.5)].mean() > 0.8
    # the DQF hole (4 x 4 pixels around the sector's centre pixel) is invalid, 6 km around it valid
    lon_c, lat_c = pixel_lonlat(*scene_grid(), N1, 2.8e-05)
    hole_lon, hole_lat = lon_c[20, 20], lat_c[20, 20]
    i = int(np.argmin(np.abs(out["lat"].values - hole_lat)))
    j = int(np.argmin(np.abs(lon - hole_lon)))
    assert not valid[i, j] and not out["rgb"].values[i, j].any()
    assert valid[i, j - 6] and valid[i, j + 6]


def test_true_colour_input_errors(tmp_path):
    files = write_scene(tmp_path)
    domain = domain_around()
    kwargs = {"domain": domain, "green": RECIPE, "gamma": 2.2, "sza_correction": True, "max_sza": 80.0}
    with pytest.raises(ValueError, match="channels 1, 2, 3"):
        true_colour({1: files[1], 3: files[3]}, **kwargs)
    with pytest.raises(ValueError, match="red, nir, blue"):
        true_colour(files, **{**kwargs, "green": {"red": 0.5, "blue": 0.5}})
    # a file of another scan start is fine for the composite's reader only if it is of one sector
    other = tmp_path / "other"
    other.mkdir()
    g17 = write_l1b(other / l1b_name(2, START, platform="G17"), 2, 0.0, 0.0,
                    np.zeros((2 * N1, 2 * N1), np.uint16), step=1.4e-05, start=START)
    with pytest.raises(InputFileError, match=rf"{g17.name}: G17 M1 is not the platform/sector"):
        true_colour({**files, 2: g17}, **kwargs)
    with pytest.raises(InputFileError, match=r"given as channel 2 \(red\) but the file is C03"):
        true_colour({**files, 2: files[3]}, **kwargs)
    # a truncated C02
    cut = other / files[2].name
    cut.write_bytes(files[2].read_bytes()[:2000])
    with pytest.raises(InputFileError, match=rf"{cut.name}: cannot be read as netCDF"):
        true_colour({**files, 2: cut}, **kwargs)
    shutil.rmtree(other)
