"""Tests of eoml.radbelt.readers on real agency bytes (shared/realdata) and tiny written files."""

from __future__ import annotations

import math

import numpy as np
import pytest

from eoml.core.errors import InputFileError
from eoml.radbelt import readers

F32 = np.float32


def _half(src, dst):
    data = src.read_bytes()
    dst.write_bytes(data[: len(data) // 2])
    return dst


# ------------------------------------------------------------------------------------------
# POES, real NCEI proc file
# ------------------------------------------------------------------------------------------


def test_poes_real_proc_values(radbelt_real_poes_proc):
    ds = readers.read_poes(radbelt_real_poes_proc)
    assert ds.sizes["time"] == 11827
    assert ds.time.dtype == np.dtype("datetime64[ns]")
    # time: uint64 ms since 1970 (its valid_range [0, 0] must not mask it)
    assert ds.time.values[0] == np.datetime64("2019-10-24T00:00:01.088")
    assert ds.time.values[-1] == np.datetime64("2019-10-24T06:34:13.083")
    assert ds.attrs["satellite"] == "n15"
    assert ds.attrs["product"] == "proc"
    assert ds.attrs["units"] == "#/cm2-s-str"
    for name in ("L", "e2", "e3", "p6"):
        assert ds[name].dtype == np.float64
    # outer-belt records, values as stored (float32)
    assert ds.L.values[271] == pytest.approx(float(F32(4.97)))
    assert ds.e2.values[271] == pytest.approx(float(F32(1180.5555)))
    assert ds.e3.values[271] == pytest.approx(float(F32(533.3333)))
    assert ds.p6.values[271] == pytest.approx(float(F32(243.90244)))
    assert ds.L.values[274] == pytest.approx(float(F32(4.86)))
    assert ds.p6.values[274] == pytest.approx(float(F32(487.80487)))
    assert ds.e2.values[5000] == pytest.approx(float(F32(277.77777)))
    assert ds.L.values[5000] == pytest.approx(float(F32(1.78)))
    # zero counts stay zero (valid), they are not fill
    assert ds.p6.values[5000] == 0.0
    assert float(ds.e2.max()) == pytest.approx(float(F32(49965.277)))


def test_poes_real_L_masks(radbelt_real_poes_proc):
    ds = readers.read_poes(radbelt_real_poes_proc)
    L = ds.L.values
    # L_IGRF = -1 (invalid) -> NaN; first such records are 9477, 9478; 200 of them
    assert np.isnan(L[9477]) and np.isnan(L[9478])
    # above valid_range (20): index 100 holds 28.8 -> NaN
    assert np.isnan(L[100])
    assert np.isnan(L).sum() == 200 + 313
    assert np.nanmin(L) >= 1.0 and np.nanmax(L) <= 20.0


def test_poes_real_minus999_is_nan(radbelt_real_poes_proc):
    import netCDF4

    # the real file's -999 values sit in the 90-degree E4 channel; the reader's channel mask
    # (used for e2/e3/p6) must turn exactly those into NaN
    with netCDF4.Dataset(radbelt_real_poes_proc) as nc:
        nc.set_auto_mask(False)
        e4 = np.asarray(nc["mep_ele_tel90_flux_e4"][:])
    masked = readers._mask_poes_channel(e4)
    assert (e4 == -999).sum() == 67
    assert np.array_equal(np.isnan(masked), e4 == -999)
    assert np.isnan(masked[[2055, 2063, 2079]]).all()
    assert masked.dtype == np.float64


def test_poes_truncated_real_file(radbelt_real_poes_proc, tmp_path):
    bad = _half(radbelt_real_poes_proc, tmp_path / radbelt_real_poes_proc.name)
    with pytest.raises(InputFileError) as err:
        readers.read_poes(bad)
    assert radbelt_real_poes_proc.name in str(err.value)
    assert "truncated" in str(err.value) or "readable" in str(err.value)


def _poes_vars(n=4, product="proc"):
    kind = "flux" if product == "proc" else "cps"
    ms = 1546300800000 + 2000 * np.arange(n, dtype=np.uint64)
    return {
        "time": ms.astype(np.uint64),
        f"mep_ele_tel90_{kind}_e2": np.array([100.0, -999.0, 300.0, 0.0][:n], np.float32),
        f"mep_ele_tel90_{kind}_e3": np.array([10.0, 20.0, -1.0, 40.0][:n], np.float32),
        f"mep_pro_tel90_{kind}_p6": np.array([1.0, 2.0, 3.0, -999.0][:n], np.float32),
        "L_IGRF": np.array([4.5, -1.0, 25.0, 5.5][:n], np.float32),
    }


def test_poes_small_proc_and_raw(write_poes_nc, tmp_path):
    ds = readers.read_poes(write_poes_nc(tmp_path / "poes_n19_20190101_proc.nc", _poes_vars()))
    assert ds.time.values[0] == np.datetime64("2019-01-01T00:00:00")
    assert ds.time.values[1] == np.datetime64("2019-01-01T00:00:02")
    np.testing.assert_array_equal(ds.L.values, [4.5, np.nan, np.nan, 5.5])
    np.testing.assert_array_equal(ds.e2.values, [100.0, np.nan, 300.0, 0.0])
    np.testing.assert_array_equal(ds.e3.values, [10.0, 20.0, np.nan, 40.0])
    np.testing.assert_array_equal(ds.p6.values, [1.0, 2.0, 3.0, np.nan])
    assert ds.attrs["satellite"] == "n19"

    raw = readers.read_poes(write_poes_nc(tmp_path / "poes_m02_20190101_raw.nc", _poes_vars(product="raw")))
    assert raw.attrs["product"] == "raw"
    assert raw.attrs["satellite"] == "m02"
    assert raw.attrs["units"] == "counts/sec"
    np.testing.assert_array_equal(raw.e2.values, [100.0, np.nan, 300.0, 0.0])


def test_poes_missing_variable(write_poes_nc, tmp_path):
    variables = _poes_vars()
    del variables["mep_ele_tel90_flux_e3"]
    path = write_poes_nc(tmp_path / "poes_n15_20190101_proc.nc", variables)
    with pytest.raises(InputFileError, match="mep_ele_tel90_flux_e3") as err:
        readers.read_poes(path)
    assert "poes_n15_20190101_proc.nc" in str(err.value)


def test_poes_all_fill(write_poes_nc, tmp_path):
    variables = _poes_vars()
    for name in ("mep_ele_tel90_flux_e2", "mep_ele_tel90_flux_e3", "mep_pro_tel90_flux_p6"):
        variables[name] = np.full(4, -999.0, np.float32)
    path = write_poes_nc(tmp_path / "poes_n15_20190102_proc.nc", variables)
    with pytest.raises(InputFileError, match="no valid sample") as err:
        readers.read_poes(path)
    assert "poes_n15_20190102_proc.nc" in str(err.value)


# ------------------------------------------------------------------------------------------
# OMNI
# ------------------------------------------------------------------------------------------


def test_omni2_ascii_real(radbelt_real_omni2_ascii):
    ds = readers.read_omni2_ascii(radbelt_real_omni2_ascii)
    assert sum(readers.OMNI2_FIELD_WIDTHS) == 327 and len(readers.OMNI2_FIELD_WIDTHS) == 55
    assert ds.sizes["time"] == 11
    expected_times = np.arange("2020-01-01T00", "2020-01-01T11", dtype="datetime64[h]").astype("datetime64[ns]")
    np.testing.assert_array_equal(ds.time.values, expected_times)
    np.testing.assert_array_equal(ds.sw_speed.values[:5], [295.0, 299.0, 300.0, 298.0, 302.0])
    assert ds.sw_speed.values[10] == 324.0
    assert ds.sw_speed.dtype == np.float64


def test_omni2_ascii_fill_truncated_and_all_fill(radbelt_real_omni2_ascii, tmp_path):
    lines = radbelt_real_omni2_ascii.read_text().splitlines()
    start, stop = readers._OMNI2_STARTS[24], readers._OMNI2_STARTS[25]
    filled = [line[:start] + " 9999." + line[stop:] for line in lines]
    mixed = tmp_path / "omni2_2020.dat"
    mixed.write_text("\n".join([lines[0], filled[1], *lines[2:]]) + "\n")
    ds = readers.read_omni2_ascii(mixed)
    assert np.isnan(ds.sw_speed.values[1]) and ds.sw_speed.values[0] == 295.0

    all_fill = tmp_path / "allfill" / "omni2_2020.dat"
    all_fill.parent.mkdir()
    all_fill.write_text("\n".join(filled) + "\n")
    with pytest.raises(InputFileError, match="no valid sample") as err:
        readers.read_omni2_ascii(all_fill)
    assert "omni2_2020.dat" in str(err.value)

    (tmp_path / "trunc").mkdir()
    truncated = _half(radbelt_real_omni2_ascii, tmp_path / "trunc" / "omni2_2020.dat")
    with pytest.raises(InputFileError, match="327") as err:
        readers.read_omni2_ascii(truncated)
    assert "omni2_2020.dat" in str(err.value)


def test_omni2_merged_cdf_real(radbelt_real_omni2_cdf):
    ds = readers.read_omni_cdf(radbelt_real_omni2_cdf)
    assert ds.attrs["speed_variable"] == "V"
    assert ds.sizes["time"] == 4344
    assert ds.time.values[0] == np.datetime64("2023-01-01T00:00")
    assert ds.time.values[1] == np.datetime64("2023-01-01T01:00")
    assert ds.time.values[-1] == np.datetime64("2023-06-30T23:00")
    np.testing.assert_array_equal(ds.sw_speed.values[:5], [603.0, 582.0, 581.0, 576.0, 585.0])
    assert ds.sw_speed.values[170] == 380.0
    # FILLVAL 9999. -> NaN (records 171-180 are fill in the file)
    assert np.isnan(ds.sw_speed.values[171:181]).all()
    assert ds.sw_speed.values[183] == 392.0
    assert int(np.isnan(ds.sw_speed.values).sum()) == 129


def test_omni_cdf_truncated(radbelt_real_omni2_cdf, tmp_path):
    bad = _half(radbelt_real_omni2_cdf, tmp_path / radbelt_real_omni2_cdf.name)
    with pytest.raises(InputFileError, match="truncated") as err:
        readers.read_omni_cdf(bad)
    assert radbelt_real_omni2_cdf.name in str(err.value)


def test_omni_hro_cdf_flow_speed(write_omni_hro_cdf, tmp_path):
    path = write_omni_hro_cdf(
        tmp_path / "omni_hro_1min_20190101_v01.cdf",
        ["2019-01-01T00:00:00", "2019-01-01T00:01:00", "2019-01-01T00:02:00"],
        [410.5, 99999.9, 420.0],
    )
    ds = readers.read_omni_cdf(path)
    assert ds.attrs["speed_variable"] == "flow_speed"
    assert ds.sw_speed.values[0] == pytest.approx(410.5)
    assert np.isnan(ds.sw_speed.values[1])
    assert ds.time.values[2] == np.datetime64("2019-01-01T00:02")

    all_fill = write_omni_hro_cdf(tmp_path / "omni_hro_1min_20190102_v01.cdf",
                                  ["2019-01-02T00:00:00"], [99999.9])
    with pytest.raises(InputFileError, match="no valid sample") as err:
        readers.read_omni_cdf(all_fill)
    assert "omni_hro_1min_20190102_v01.cdf" in str(err.value)


# ------------------------------------------------------------------------------------------
# ISTP/CDF pieces on the real HOPE L3 file
# ------------------------------------------------------------------------------------------


def test_istp_helpers_on_real_hope(radbelt_real_hope_cdf):
    import cdflib

    cdf = cdflib.CDF(str(radbelt_real_hope_cdf))
    epoch = readers._read_istp_epoch(cdf, "Epoch_Ele")
    assert epoch.dtype == np.dtype("datetime64[ns]")
    assert epoch[0] == np.datetime64("2012-12-01T00:00:17.864")
    assert epoch[1] == np.datetime64("2012-12-01T00:00:42.210")
    assert epoch[-1] == np.datetime64("2012-12-01T00:36:24.681")
    assert readers._read_istp_epoch(cdf, "Epoch_Ion")[0] == np.datetime64("2012-12-01T00:00:05.691")

    fedu = readers._read_istp_variable(cdf, "FEDU")
    assert fedu.shape == (100, 11, 72) and fedu.dtype == np.float64
    # FILLVAL (float32 -1e31) at the 4.5 and 175.5 deg bins of every record, nothing else
    assert np.isnan(fedu[:, 0, :]).all() and np.isnan(fedu[:, 10, :]).all()
    assert not np.isnan(fedu[:, 1:10, :]).any()
    assert fedu[0, 1, 10] == pytest.approx(float(F32(1.6926664e08)))
    assert fedu[5, 5, 20] == pytest.approx(float(F32(21837748.0)))
    assert fedu[99, 9, 71] == pytest.approx(float(F32(8018.3652)))

    alpha = readers._read_istp_variable(cdf, "PITCH_ANGLE")
    np.testing.assert_allclose(alpha, [4.5, 18, 36, 54, 72, 90, 108, 126, 144, 162, 175.5])
    energy = readers._read_istp_variable(cdf, "HOPE_ENERGY_Ele")
    assert energy.shape == (100, 72)
    assert energy[0, 0] == pytest.approx(float(F32(14.98455)))

    # sin-weighted pitch-angle average skips the fill bins
    avg = readers._pitch_angle_average(fedu, alpha)
    w = np.sin(np.deg2rad(alpha[1:10]))
    assert avg[0, 10] == pytest.approx(float((fedu[0, 1:10, 10] * w).sum() / w.sum()))
    # log-log interpolation between the bracketing HOPE channels (eV here)
    i = int(np.searchsorted(energy[0], 1000.0))
    e_lo, e_hi = energy[0, i - 1], energy[0, i]
    frac = math.log10(1000.0 / e_lo) / math.log10(e_hi / e_lo)
    expected = 10 ** (math.log10(avg[0, i - 1]) + frac * (math.log10(avg[0, i]) - math.log10(avg[0, i - 1])))
    assert readers._interp_log_energy(avg, energy, 1000.0)[0] == pytest.approx(expected, rel=1e-12)


def test_real_hope_is_not_mageis(radbelt_real_hope_cdf):
    with pytest.raises(InputFileError, match="FEDU_Alpha") as err:
        readers.read_mageis_l3(radbelt_real_hope_cdf)
    assert radbelt_real_hope_cdf.name in str(err.value)


def test_hope_truncated(radbelt_real_hope_cdf, tmp_path):
    bad = _half(radbelt_real_hope_cdf, tmp_path / radbelt_real_hope_cdf.name)
    with pytest.raises(InputFileError, match="truncated") as err:
        readers.read_mageis_l3(bad)
    assert radbelt_real_hope_cdf.name in str(err.value)


# ------------------------------------------------------------------------------------------
# MagEIS L3 layout, written here
# ------------------------------------------------------------------------------------------

ALPHA = [30.0, 90.0, 150.0]
ENERGY = [500.0, 800.0, 1200.0, 2000.0]
BASE = np.array([4000.0, 1000.0, 250.0, 40.0])  # flux at 90 deg per energy
PAD = np.array([0.5, 1.0, 0.7])
FILL = -1e31


def _loglog(e_lo, f_lo, e_hi, f_hi, e):
    frac = math.log10(e / e_lo) / math.log10(e_hi / e_lo)
    return 10 ** (math.log10(f_lo) + frac * (math.log10(f_hi) - math.log10(f_lo)))


def test_mageis_spin_average_and_interpolation(write_mageis_cdf, tmp_path):
    fedu = np.repeat((PAD[:, None] * BASE[None, :])[None], 3, axis=0)
    fedu[1, 2, :] = FILL  # record 1: the 150-deg bin is fill -> left out
    fedu[2, :, 2] = FILL  # record 2: the 1200-keV channel is fill -> no upper bracket -> NaN
    path = write_mageis_cdf(tmp_path / "rbspa_rel04_ect-mageis-L3_20190101_v3.0.0.cdf", fedu, ALPHA, ENERGY,
                            L=[4.0, 4.5, 5.0])
    ds = readers.read_mageis_l3(path)

    s = [0.5, 1.0, 0.5]  # sin of 30, 90, 150 deg
    avg0 = BASE * (PAD[0] * s[0] + PAD[1] * s[1] + PAD[2] * s[2]) / sum(s)  # = 0.8 * BASE
    avg1 = BASE * (PAD[0] * s[0] + PAD[1] * s[1]) / (s[0] + s[1])
    assert avg0[1] == pytest.approx(800.0)
    assert ds.flux.values[0] == pytest.approx(_loglog(800.0, avg0[1], 1200.0, avg0[2], 1000.0), rel=1e-6)
    assert ds.flux.values[1] == pytest.approx(_loglog(800.0, avg1[1], 1200.0, avg1[2], 1000.0), rel=1e-6)
    assert np.isnan(ds.flux.values[2])
    np.testing.assert_allclose(ds.L.values, [4.0, 4.5, 5.0])
    np.testing.assert_allclose(ds.L_star.values, [3.6, 4.05, 4.5])
    assert ds.time.values[1] == np.datetime64("2019-01-01T00:05")
    assert ds.flux.dtype == np.float64 and ds.attrs["energy_kev"] == 1000.0
    # an energy at a channel gives that channel's spin average
    assert readers.read_mageis_l3(path, energy_kev=800.0).flux.values[0] == pytest.approx(800.0, rel=1e-6)


def test_mageis_tt2000_per_record_energy_and_negative_flux(write_mageis_cdf, tmp_path):
    fedu = np.repeat((PAD[:, None] * BASE[None, :])[None], 3, axis=0)
    fedu[0, 0, 1] = -5.0  # negative flux is fill: the 800-keV average uses 90 and 150 deg only
    energy = np.array([ENERGY, [500.0, 1000.0, 1500.0, 2000.0], [500.0, 800.0, FILL, 2000.0]])
    path = write_mageis_cdf(tmp_path / "rbspb_rel04_ect-mageis-L3_20190101_v3.0.0.cdf", fedu, ALPHA, energy,
                            times=["2019-01-01T00:00:00", "2019-01-01T00:05:00", "2019-01-01T00:10:00"],
                            tt2000=True)
    ds = readers.read_mageis_l3(path)
    assert ds.time.values[0] == np.datetime64("2019-01-01T00:00")
    avg = BASE * 0.8
    avg_800_rec0 = BASE[1] * (1.0 * 1.0 + 0.7 * 0.5) / 1.5
    assert ds.flux.values[0] == pytest.approx(_loglog(800.0, avg_800_rec0, 1200.0, avg[2], 1000.0), rel=1e-6)
    assert ds.flux.values[1] == pytest.approx(avg[1], rel=1e-6)  # channel exactly at 1000 keV
    assert np.isnan(ds.flux.values[2])  # the bracketing energy is fill


def test_mageis_outside_channel_range_is_all_fill(write_mageis_cdf, tmp_path):
    fedu = np.repeat((PAD[:, None] * BASE[None, :])[None], 3, axis=0)
    path = write_mageis_cdf(tmp_path / "rbspa_rel04_ect-mageis-L3_20190102_v3.0.0.cdf", fedu, ALPHA, ENERGY)
    with pytest.raises(InputFileError, match="no valid sample") as err:
        readers.read_mageis_l3(path, energy_kev=3000.0)
    assert "rbspa_rel04_ect-mageis-L3_20190102_v3.0.0.cdf" in str(err.value)


def test_mageis_all_fill(write_mageis_cdf, tmp_path):
    fedu = np.full((3, 3, 4), FILL)
    path = write_mageis_cdf(tmp_path / "rbspa_rel04_ect-mageis-L3_20190103_v3.0.0.cdf", fedu, ALPHA, ENERGY)
    with pytest.raises(InputFileError, match="no valid sample") as err:
        readers.read_mageis_l3(path)
    assert "rbspa_rel04_ect-mageis-L3_20190103_v3.0.0.cdf" in str(err.value)


def test_mageis_missing_variable(write_mageis_cdf, tmp_path):
    fedu = np.repeat((PAD[:, None] * BASE[None, :])[None], 3, axis=0)
    path = write_mageis_cdf(tmp_path / "rbspa_rel04_ect-mageis-L3_20190104_v3.0.0.cdf", fedu, ALPHA, ENERGY,
                            drop=("FEDU_Energy",))
    with pytest.raises(InputFileError, match="FEDU_Energy") as err:
        readers.read_mageis_l3(path)
    assert "rbspa_rel04_ect-mageis-L3_20190104_v3.0.0.cdf" in str(err.value)

    no_lstar = write_mageis_cdf(tmp_path / "rbspa_rel04_ect-mageis-L3_20190105_v3.0.0.cdf", fedu, ALPHA, ENERGY,
                                drop=("L_star",))
    assert np.isnan(readers.read_mageis_l3(no_lstar).L_star.values).all()


def test_not_a_cdf(tmp_path):
    path = tmp_path / "rbspa_rel04_ect-mageis-L3_20190101_v3.0.0.cdf"
    path.write_text("this is not a CDF\n")
    with pytest.raises(InputFileError, match="CDF") as err:
        readers.read_mageis_l3(path)
    assert path.name in str(err.value)
    with pytest.raises(InputFileError, match="does not exist"):
        readers.read_mageis_l3(tmp_path / "missing.cdf")


# ------------------------------------------------------------------------------------------
# PreMevE exchange ASCII
# ------------------------------------------------------------------------------------------


def test_premeve_l_shell_file(tmp_path):
    path = tmp_path / "Target_data_RBSP_1MeV_2013_2016.txt"
    path.write_text(
        "; PreMevE 2.0 target file\n"
        "; log10 flux, 5-hour bins\n"
        "S/N Time 2.8 2.9 3.0 GEO\n"
        "1 0.000000 1.25 2.5 -1 0.5\n"
        "2 0.208333 1.30 -999 3.1 9999\n"
        "3 0.416667 nan 2.7 3.2 0.7\n"
    )
    ds = readers.read_premeve_ascii(path)
    assert ds.value.dims == ("time", "L")
    np.testing.assert_allclose(ds.L.values, [2.8, 2.9, 3.0, 6.6])
    np.testing.assert_array_equal(
        ds.time.values,
        np.array(["2013-02-20T00:00", "2013-02-20T05:00", "2013-02-20T10:00"], dtype="datetime64[ns]"),
    )
    expected = [[1.25, 2.5, np.nan, 0.5], [1.30, np.nan, 3.1, np.nan], [np.nan, 2.7, 3.2, 0.7]]
    np.testing.assert_array_equal(ds.value.values, expected)
    assert ds.attrs["premeve_kind"] == "target" and ds.attrs["geo_L"] == 6.6


def test_premeve_omni_file(tmp_path):
    path = tmp_path / "Input_data_OMNI_2013_2016.txt"
    path.write_text(
        ";  PreMevE inputs\n"
        "S/N Time Dst S/W speed S/W p+ den\n"
        "1 0.000000 -1 350.5 4.2\n"
        "2 0.208333 99999 9999 999.9\n"
        "3 0.416667 -45 99999.9 -1\n"
    )
    ds = readers.read_premeve_ascii(path)
    assert set(ds.data_vars) == {"dst", "sw_speed", "sw_density"}
    np.testing.assert_array_equal(ds.dst.values, [-1.0, np.nan, -45.0])  # a real Dst of -1 nT stays
    np.testing.assert_array_equal(ds.sw_speed.values, [350.5, np.nan, np.nan])
    np.testing.assert_array_equal(ds.sw_density.values, [4.2, np.nan, np.nan])
    assert ds.time.values[2] == np.datetime64("2013-02-20T10:00")


def test_premeve_bad_files(tmp_path):
    ragged = tmp_path / "Input_data_POES_E2_2013.txt"
    ragged.write_text("S/N Time 3.0 3.1\n1 0.0 1 2\n2 0.208333 1\n")
    with pytest.raises(InputFileError, match="columns") as err:
        readers.read_premeve_ascii(ragged)
    assert ragged.name in str(err.value)
    all_fill = tmp_path / "Input_data_POES_P6_2013.txt"
    all_fill.write_text("S/N Time 3.0 3.1\n1 0.0 -999 -1\n")
    with pytest.raises(InputFileError, match="no valid sample"):
        readers.read_premeve_ascii(all_fill)


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("Target_data_RBSP_1MeV.txt", "target"),
        ("Input_data_POES_E2_2013.txt", "e2"),
        ("input_data_poes_e3_x.txt", "e3"),
        ("Input_data_POES_P6_2013.txt", "p6"),
        ("Input_data_OMNI_2013.txt", "omni"),
    ],
)
def test_premeve_file_kind(name, kind):
    assert readers.premeve_file_kind(f"/some/dir/{name}") == kind


def test_premeve_file_kind_unknown():
    with pytest.raises(InputFileError, match="PreMevE"):
        readers.premeve_file_kind("notes.txt")


# ------------------------------------------------------------------------------------------
# dispatch
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("rbspa_rel04_ect-mageis-L3_20190101_v3.0.0.cdf", "rbsp_mageis"),
        ("poes_n15_20191024_proc.nc", "poes"),
        ("poes_m02_20191024_raw.nc", "poes"),
        ("omni2_2020.dat", "omni2_ascii"),
        ("omni2_h0_mrg1hr_20230101_v01.cdf", "omni_cdf"),
        ("omni_hro_1min_20190101_v01.cdf", "omni_cdf"),
    ],
)
def test_guess_kind(name, kind):
    assert readers.guess_kind(name) == kind


def test_guess_kind_unknown_and_read_any(radbelt_real_omni2_ascii):
    with pytest.raises(InputFileError, match="cannot tell"):
        readers.guess_kind("data.bin")
    with pytest.raises(ValueError, match="unknown product kind"):
        readers.read_any(radbelt_real_omni2_ascii, "goes")
    ds = readers.read_any(radbelt_real_omni2_ascii, readers.guess_kind(radbelt_real_omni2_ascii))
    assert ds.sw_speed.values[0] == 295.0
    assert set(readers.KINDS) == {"rbsp_mageis", "poes", "omni2_ascii", "omni_cdf"}


# --------------------------------------------------------------------------------------------
# OMNI2 ASCII: a bad line is a bad record, not a bad file


def _garbled_omni2(tmp_path):
    from omni2_text import omni2_text  # tests/radbelt is on sys.path

    lines = omni2_text(2019, [400.0, 410.0, 420.0, 430.0, 440.0, 450.0]).splitlines()
    lines[2] = lines[2][:100]  # truncated record
    start = int(readers._OMNI2_STARTS[24])  # word 25, the flow speed
    lines[4] = lines[4][:start] + "4#0.0 " + lines[4][start + 6:]  # a speed that is not a number
    path = tmp_path / "omni2_2019.dat"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_omni2_garbled_line_skip_keeps_the_other_records(tmp_path, caplog):
    path = _garbled_omni2(tmp_path)
    with caplog.at_level("WARNING", logger="eoml.radbelt.readers"):
        ds = readers.read_omni2_ascii(path, on_bad_record="skip")
    assert ds.sizes["time"] == 4
    np.testing.assert_array_equal(ds.sw_speed.values, [400.0, 410.0, 430.0, 450.0])
    hours = (ds.time.values - np.datetime64("2019-01-01T00", "ns")) / np.timedelta64(1, "h")
    assert hours.tolist() == [0, 1, 3, 5]
    records = ds.attrs["skipped_records"].split("\n")
    assert len(records) == 2 and records[0].startswith("line 3: has 100 characters")
    assert records[1].startswith("line 5: is not an OMNI2 record")
    assert f"{path}: skipping line 3" in caplog.text and f"{path}: skipping line 5" in caplog.text


def test_omni2_garbled_line_error_names_file_and_line(tmp_path):
    path = _garbled_omni2(tmp_path)
    with pytest.raises(InputFileError, match=r"omni2_2019\.dat: line 3 has 100 characters.*327"):
        readers.read_omni2_ascii(path)
    path.write_text("\n".join(line for k, line in enumerate(path.read_text().splitlines()) if k != 2) + "\n")
    with pytest.raises(InputFileError, match=r"omni2_2019\.dat: line 4 is not an OMNI2 record"):
        readers.read_omni2_ascii(path, on_bad_record="error")
    with pytest.raises(ValueError, match="on_bad_record"):
        readers.read_omni2_ascii(path, on_bad_record="ignore")


def test_omni2_every_line_bad_or_bad_time(tmp_path):
    from omni2_text import omni2_line  # tests/radbelt is on sys.path

    path = tmp_path / "omni2_2019.dat"
    path.write_bytes(b"\xff\xfe not ascii\n" + b"x" * 40 + b"\n")
    with pytest.raises(InputFileError, match=r"no OMNI2 record \(2 bad lines skipped, the first: line 1 not ASCII"):
        readers.read_omni2_ascii(path, on_bad_record="skip")
    path.write_text(omni2_line(2019, 1, 0, 400) + "\n" + omni2_line(2019, 367, 0, 400) + "\n")
    with pytest.raises(InputFileError, match=r"line 2 has an invalid year/day/hour \(2019 367 0\)"):
        readers.read_omni2_ascii(path)
    assert readers.read_omni2_ascii(path, on_bad_record="skip").sizes["time"] == 1
