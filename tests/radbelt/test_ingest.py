"""eoml.radbelt.ingest: per-file binning, exact combination of partials, PreMevE ASCII ingest.

Raw readers are replaced by a fake ``read_any`` returning small synthetic datasets, so the
binning arithmetic can be checked against hand-computed means.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from eoml.core.errors import InputFileError
from eoml.radbelt import ingest
from eoml.radbelt.grid import L_centers, bin_start_times, time_bin_index
from eoml.radbelt.ingest import STORE_VARIABLES, bin_file, combine, ingest_premeve

from realdata_files import realdata_file
from synthetic import GRID  # tests/radbelt is on sys.path
L = L_centers(GRID)
NAN = np.nan


def T(s: str) -> np.datetime64:
    return np.datetime64(s, "ns")


def L_index(value: float) -> int:
    return int(np.flatnonzero(np.isclose(L, value))[0])


def _rbsp(times, Ls, flux, units="cm-2 s-1 sr-1 keV-1") -> xr.Dataset:
    return xr.Dataset(
        {"flux": ("time", np.asarray(flux, float), {"units": units}), "L": ("time", np.asarray(Ls, float)),
         "L_star": ("time", np.asarray(Ls, float))},
        coords={"time": np.asarray(times, dtype="datetime64[ns]")},
    )


def _poes(times, Ls, e2, e3, p6, units="cm-2 s-1 sr-1") -> xr.Dataset:
    return xr.Dataset(
        {"L": ("time", np.asarray(Ls, float)), "e2": ("time", np.asarray(e2, float), {"units": units}),
         "e3": ("time", np.asarray(e3, float), {"units": units}), "p6": ("time", np.asarray(p6, float), {"units": units})},
        coords={"time": np.asarray(times, dtype="datetime64[ns]")},
    )


def _omni(times, speed) -> xr.Dataset:
    return xr.Dataset({"sw_speed": ("time", np.asarray(speed, float), {"units": "km s-1"})},
                      coords={"time": np.asarray(times, dtype="datetime64[ns]")})


class FakeReaders:
    """Registry of synthetic datasets by raw file name, standing in for eoml.radbelt.readers.read_any."""

    def __init__(self, tmp_path: Path):
        self.dir = tmp_path / "raw"
        self.dir.mkdir()
        self.datasets: dict[str, object] = {}
        self.calls: list[tuple[str, str, dict]] = []

    def add(self, name: str, ds_or_exc) -> Path:
        path = self.dir / name
        path.write_bytes(f"raw bytes of {name}".encode())
        self.datasets[name] = ds_or_exc
        return path

    def __call__(self, path, kind, **kwargs):
        self.calls.append((Path(path).name, kind, kwargs))
        item = self.datasets[Path(path).name]
        if isinstance(item, Exception):
            raise item
        return item


@pytest.fixture
def fake(tmp_path, monkeypatch) -> FakeReaders:
    readers = FakeReaders(tmp_path)
    monkeypatch.setattr(ingest, "read_any", readers)
    return readers


def _bin(fake, tmp_path, name, kind, **kw) -> Path:
    return bin_file(fake.dir / name, kind, tmp_path / "partials" / f"{name}.nc", GRID, **kw)


# --------------------------------------------------------------------------------------------
# binning arithmetic


def test_poes_binning_by_hand(fake, tmp_path):
    t0 = T("2019-01-01T00:00")
    k0 = int(time_bin_index(np.array([t0]), GRID)[0])
    start = bin_start_times([k0], GRID)[0]
    h = np.timedelta64(1, "h")
    times = [start, start + h, start + 2 * h, start + 3 * h, start + 4 * h, start + 5 * h, start + 6 * h, start + 7 * h]
    Ls = [4.0, 4.02, 4.04, 4.0, 6.62, NAN, 7.5, 4.0]
    e2 = [10.0, 1000.0, -5.0, 0.0, 100.0, 10.0, 10.0, 1e4]
    e3 = [NAN, 100.0, 100.0, 1.0, NAN, 10.0, 10.0, 1e2]
    p6 = [NAN] * 8
    fake.add("poes_a.nc", _poes(times, Ls, e2, e3, p6))
    part = _bin(fake, tmp_path, "poes_a.nc", "poes")
    assert fake.calls == [("poes_a.nc", "poes", {})]

    p = xr.open_dataset(part)
    assert p["tbin"].dtype == np.int64
    assert p["tbin"].values.tolist() == [k0, k0 + 1]
    np.testing.assert_allclose(p["L"].values, L)
    i4, geo = L_index(4.0), L.size - 1
    # bin k0: e2 at L=4.0 from 10 and 1000 (-5 and 0 dropped), GEO from 100; NaN L and L=7.5 dropped
    assert p["e2_count"].values[0, i4] == 2 and p["e2_sum"].values[0, i4] == pytest.approx(1 + 3)
    assert p["e2_count"].values[0, geo] == 1 and p["e2_sum"].values[0, geo] == pytest.approx(2)
    assert p["e3_count"].values[0, i4] == 3 and p["e3_sum"].values[0, i4] == pytest.approx(2 + 2 + 0)
    assert p["e2_count"].values.sum() == 4 and p["e3_count"].values.sum() == 4
    # bin k0+1 (start + 7 h): one sample each
    assert p["e2_sum"].values[1, i4] == pytest.approx(4) and p["e3_sum"].values[1, i4] == pytest.approx(2)
    assert p["p6_count"].values.sum() == 0
    assert p.attrs["kind"] == "poes"
    assert p.attrs["source_file"] == "poes_a.nc"
    assert p.attrs["source_sha256"] == hashlib.sha256((fake.dir / "poes_a.nc").read_bytes()).hexdigest()
    assert "skipped" not in p.attrs
    p.close()

    store = xr.open_zarr(combine([part], tmp_path / "store.zarr", GRID))
    assert store["time"].values.tolist() == bin_start_times([k0, k0 + 1], GRID).tolist()
    assert store["log10_e2"].values[0, i4] == pytest.approx(2.0)
    assert store["log10_e3"].values[0, i4] == pytest.approx(4 / 3)
    assert store["log10_e2"].values[0, geo] == pytest.approx(2.0)
    assert store["n_poes"].values[0, i4] == 3  # largest of the e2 (2), e3 (3), p6 (0) counts
    assert np.isnan(store["log10_p6"].values).all()
    assert np.isnan(store["log10_e2"].values[0, L_index(4.1)])


def test_rbsp_energy_and_omni_plain_mean(fake, tmp_path):
    t = T("2019-03-01T00:00")
    k = int(time_bin_index(np.array([t]), GRID)[0])
    start = bin_start_times([k], GRID)[0]
    times = [start + np.timedelta64(m, "m") for m in (0, 30, 60)]
    fake.add("rbsp.cdf", _rbsp(times, [3.0, 3.0, 5.55], [1e2, 1e4, 1e3]))
    fake.add("omni2_2019.dat", _omni(times, [400.0, 500.0, NAN]))
    parts = [_bin(fake, tmp_path, "rbsp.cdf", "rbsp_mageis", energy_kev=750.0),
             _bin(fake, tmp_path, "omni2_2019.dat", "omni2_ascii")]
    assert fake.calls[0] == ("rbsp.cdf", "rbsp_mageis", {"energy_kev": 750.0})
    assert fake.calls[1] == ("omni2_2019.dat", "omni2_ascii", {"on_bad_record": "error"})
    with xr.open_dataset(parts[1]) as p:
        assert p["sw_speed_sum"].dims == ("tbin",)
        assert p["sw_speed_sum"].values.tolist() == [900.0]
        assert p["sw_speed_count"].values.tolist() == [2]
    ds = xr.open_zarr(combine(parts, tmp_path / "s.zarr", GRID))
    assert ds["sw_speed"].values.tolist() == [450.0]
    assert ds["log10_flux_1mev"].values[0, L_index(3.0)] == pytest.approx(3.0)
    assert ds["log10_flux_1mev"].values[0, L_index(5.6)] == pytest.approx(3.0)  # 5.55 -> bin [5.55, 5.65)
    assert ds["n_rbsp"].values[0, L_index(3.0)] == 2
    assert ds.attrs["energy_kev"] == 750.0
    assert "750 keV" in ds["log10_flux_1mev"].attrs["long_name"]


def test_bin_straddling_two_files_combines_exactly(fake, tmp_path):
    # a 5-hour bin that contains midnight: samples from two daily files land in it
    before, after = T("2019-01-01T23:30"), T("2019-01-02T00:30")
    kb, ka = time_bin_index(np.array([before, after]), GRID)
    assert kb == ka, "test premise: midnight is inside a bin"
    start = bin_start_times([kb], GRID)[0]
    day1 = [start, before]  # earliest time of the bin, and just before midnight
    day2 = [after, T("2019-01-02T12:00")]
    fake.add("rbsp_20190101.cdf", _rbsp(day1, [4.5, 4.5], [1e1, 1e2]))
    fake.add("rbsp_20190102.cdf", _rbsp(day2, [4.5, 4.5], [1e6, 1e5]))
    parts = [_bin(fake, tmp_path, n, "rbsp_mageis") for n in ("rbsp_20190101.cdf", "rbsp_20190102.cdf")]
    ds = xr.open_zarr(combine(parts, tmp_path / "s.zarr", GRID)).load()
    i = L_index(4.5)
    assert ds["log10_flux_1mev"].values[0, i] == pytest.approx((1 + 2 + 6) / 3)  # not mean of means
    assert ds["n_rbsp"].values[0, i] == 3
    last = int(time_bin_index(np.array([T("2019-01-02T12:00")]), GRID)[0])
    assert ds.sizes["time"] == last - kb + 1
    assert ds["log10_flux_1mev"].values[-1, i] == pytest.approx(5.0)


def test_gaps_stay_nan_and_layout(fake, tmp_path):
    fake.add("rbsp_1.cdf", _rbsp([T("2019-01-01T01:00")], [3.3], [1e3]))
    fake.add("rbsp_5.cdf", _rbsp([T("2019-01-05T01:00")], [3.3], [1e5]))
    parts = [_bin(fake, tmp_path, n, "rbsp_mageis") for n in ("rbsp_5.cdf", "rbsp_1.cdf")]  # order free
    path = combine(parts, tmp_path / "s.zarr", GRID, config={"grid": GRID})
    ds = xr.open_zarr(path, consolidated=True).load()
    assert set(ds.data_vars) == set(STORE_VARIABLES)
    k1, k5 = time_bin_index(np.array([T("2019-01-01T01:00"), T("2019-01-05T01:00")]), GRID)
    assert ds.sizes["time"] == k5 - k1 + 1
    assert ds["time"].values[0] == bin_start_times([k1], GRID)[0]
    step = np.diff(ds["time"].values)
    assert (step == np.timedelta64(5, "h")).all()
    i = L_index(3.3)
    flux = ds["log10_flux_1mev"].values[:, i]
    assert flux[0] == pytest.approx(3.0) and flux[-1] == pytest.approx(5.0)
    assert np.isnan(flux[1:-1]).all()
    assert (ds["n_rbsp"].values[1:-1] == 0).all()
    assert ds["n_rbsp"].dtype == np.int32
    for v in ("log10_e2", "log10_e3", "log10_p6", "sw_speed"):  # absent from every partial
        assert np.isnan(ds[v].values).all()
    assert ds["sw_speed"].dims == ("time",)
    for v in ("log10_flux_1mev", "log10_e2", "n_rbsp", "n_poes"):
        assert ds[v].dims == ("time", "L")
    # CF attributes
    assert ds["log10_flux_1mev"].attrs["units"] == "log10(cm-2 s-1 sr-1 keV-1)"
    assert ds["log10_e2"].attrs["units"] == "log10(cm-2 s-1 sr-1)"
    assert ds["sw_speed"].attrs["units"] == "km s-1"
    assert ds["n_poes"].attrs["units"] == "1"
    assert ds["L"].attrs == {"units": "1", "long_name": "McIlwain L-shell (dipole/IGRF) bin centre; GEO bin = 6.6"}
    assert ds["time"].attrs["standard_name"] == "time"
    for v in ds.variables.values():
        assert v.attrs.get("long_name")
    assert ds["L"].values[-1] == 6.6 and ds.sizes["L"] == 34
    assert ds.attrs["bin_hours"] == 5 and ds.attrs["geo_L"] == 6.6
    assert ds.attrs["time_origin"] == "2013-02-20T00:00:00"
    assert ds.attrs["source_kind"] == "raw" and ds.attrs["skipped_files"] == []
    # provenance carried from the partials, in partial order
    assert ds.attrs["source_files"] == ["rbsp_5.cdf", "rbsp_1.cdf"]
    assert ds.attrs["source_sha256"] == [
        hashlib.sha256((fake.dir / n).read_bytes()).hexdigest() for n in ("rbsp_5.cdf", "rbsp_1.cdf")
    ]


def test_sources_given_are_digested(fake, tmp_path):
    raw = fake.add("rbsp.cdf", _rbsp([T("2019-01-01T01:00")], [3.3], [1e3]))
    part = _bin(fake, tmp_path, "rbsp.cdf", "rbsp_mageis")
    ds = xr.open_zarr(combine([part], tmp_path / "s.zarr", GRID, sources=[raw]))
    assert ds.attrs["source_files"] == ["rbsp.cdf"]
    assert ds.attrs["source_sha256"] == [hashlib.sha256(raw.read_bytes()).hexdigest()]


def test_poes_units_carried_and_mixing_refused(fake, tmp_path):
    fake.add("poes_raw_a.nc", _poes([T("2019-01-01T01:00")], [4.0], [10.0], [10.0], [10.0], units="counts/s"))
    fake.add("poes_proc_b.nc", _poes([T("2019-01-01T02:00")], [4.0], [10.0], [10.0], [10.0]))
    a = _bin(fake, tmp_path, "poes_raw_a.nc", "poes")
    ds = xr.open_zarr(combine([a], tmp_path / "s.zarr", GRID))
    assert ds["log10_e2"].attrs["units"] == "log10(counts/s)"
    assert "count rate" in ds["log10_e2"].attrs["long_name"]
    b = _bin(fake, tmp_path, "poes_proc_b.nc", "poes")
    with pytest.raises(InputFileError, match="poes_proc_b.nc.nc.*counts/s"):
        combine([a, b], tmp_path / "s2.zarr", GRID)
    assert not (tmp_path / "s2.zarr").exists()


# --------------------------------------------------------------------------------------------
# bad files


def test_reader_error_raises_or_skips(fake, tmp_path, caplog):
    path = fake.add("poes_bad.nc", InputFileError("/somewhere/raw/poes_bad.nc", "truncated netCDF"))
    out = tmp_path / "partials" / "poes_bad.nc.nc"
    with pytest.raises(InputFileError, match="poes_bad.nc: truncated"):
        bin_file(path, "poes", out, GRID)
    assert not out.exists()

    with caplog.at_level(logging.WARNING, logger="eoml.radbelt.ingest"):
        got = bin_file(path, "poes", out, GRID, on_bad_file="skip")
    assert got == out and out.exists()
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "poes_bad.nc" in warnings[0].getMessage() and "truncated" in warnings[0].getMessage()
    with xr.open_dataset(out) as p:
        assert p.sizes["tbin"] == 0
        assert "truncated netCDF" in p.attrs["skipped"]
        assert {"e2_sum", "e2_count", "e3_sum", "p6_count"} <= set(p.data_vars)


@pytest.mark.parametrize(
    "ds",
    [
        _rbsp([T("2019-01-01T01:00"), T("2019-01-01T02:00")], [4.0, 4.0], [NAN, -1e31]),  # fill / negative
        _rbsp([T("2019-01-01T01:00")], [9.0], [1e3]),  # outside every L bin
        _rbsp(np.array([], "datetime64[ns]"), [], []),  # no record
    ],
    ids=["fill", "outside-grid", "empty"],
)
def test_all_fill_file(fake, tmp_path, caplog, ds):
    path = fake.add("rbsp_fill.cdf", ds)
    with pytest.raises(InputFileError, match=r"rbsp_fill\.cdf: all-fill"):
        bin_file(path, "rbsp_mageis", tmp_path / "p.nc", GRID)
    assert not (tmp_path / "p.nc").exists()
    with caplog.at_level(logging.WARNING):
        bin_file(path, "rbsp_mageis", tmp_path / "p.nc", GRID, on_bad_file="skip")
    assert "rbsp_fill.cdf" in caplog.text and "all-fill" in caplog.text
    with xr.open_dataset(tmp_path / "p.nc") as p:
        assert p.sizes["tbin"] == 0 and p.attrs["skipped"].startswith("all-fill")


def test_missing_reader_variable_names_file(fake, tmp_path):
    path = fake.add("poes_odd.nc", _omni([T("2019-01-01")], [400.0]))
    with pytest.raises(InputFileError, match=r"poes_odd\.nc: reader returned no .*e2"):
        bin_file(path, "poes", tmp_path / "p.nc", GRID)


def test_bad_arguments(fake, tmp_path):
    path = fake.add("x.cdf", _omni([T("2019-01-01")], [400.0]))
    with pytest.raises(ValueError, match="kind"):
        bin_file(path, "goes", tmp_path / "p.nc", GRID)
    with pytest.raises(ValueError, match="on_bad_file"):
        bin_file(path, "omni_cdf", tmp_path / "p.nc", GRID, on_bad_file="ignore")


def test_skipped_partial_in_combine(fake, tmp_path):
    fake.add("good.cdf", _rbsp([T("2019-01-01T01:00")], [3.3], [1e3]))
    fake.add("bad.cdf", InputFileError("bad.cdf", "no Epoch variable"))
    parts = [_bin(fake, tmp_path, "good.cdf", "rbsp_mageis"),
             _bin(fake, tmp_path, "bad.cdf", "rbsp_mageis", on_bad_file="skip")]
    ds = xr.open_zarr(combine(parts, tmp_path / "s.zarr", GRID))
    assert ds.attrs["skipped_files"] == ["bad.cdf: no Epoch variable"]
    assert ds.sizes["time"] == 1


def test_all_partials_empty(fake, tmp_path):
    fake.add("bad1.cdf", InputFileError("bad1.cdf", "truncated"))
    fake.add("bad2.cdf", _rbsp([T("2019-01-01T01:00")], [3.3], [NAN]))
    parts = [_bin(fake, tmp_path, n, "rbsp_mageis", on_bad_file="skip") for n in ("bad1.cdf", "bad2.cdf")]
    with pytest.raises(InputFileError, match=r"all 2 partials are empty.*bad1\.cdf: truncated"):
        combine(parts, tmp_path / "s.zarr", GRID)
    assert not (tmp_path / "s.zarr").exists()
    with pytest.raises(ValueError, match="no partials"):
        combine([], tmp_path / "s.zarr", GRID)


# --------------------------------------------------------------------------------------------
# atomicity and partial checks


def test_combine_failure_leaves_no_half_store(fake, tmp_path, monkeypatch):
    fake.add("a.cdf", _rbsp([T("2019-01-01T01:00")], [3.3], [1e3]))
    fake.add("b.cdf", _rbsp([T("2019-01-03T01:00")], [3.3], [1e4]))
    parts = [_bin(fake, tmp_path, n, "rbsp_mageis") for n in ("a.cdf", "b.cdf")]
    store = tmp_path / "out" / "store.zarr"
    real_to_zarr = xr.Dataset.to_zarr

    def to_zarr_then_fail(self, target, *args, **kwargs):
        real_to_zarr(self, target, *args, **kwargs)  # the whole store is on disk (temporary path)
        raise OSError("killed during rename")

    monkeypatch.setattr(xr.Dataset, "to_zarr", to_zarr_then_fail)
    with pytest.raises(OSError, match="killed"):
        combine(parts, store, GRID)
    assert not store.exists() and list(store.parent.iterdir()) == []

    monkeypatch.undo()
    combine(parts[:1], store, GRID)
    # a corrupt partial in the list: error names it, previous store untouched
    bad = tmp_path / "partials" / "corrupt.nc"
    bad.write_bytes(b"\x89HDF\r\n\x1a\n truncated")
    with pytest.raises(InputFileError, match="corrupt.nc"):
        combine([parts[1], bad], store, GRID)
    assert xr.open_zarr(store).sizes["time"] == 1


def test_partial_from_other_grid_refused(fake, tmp_path):
    fake.add("a.cdf", _rbsp([T("2019-01-01T01:00")], [3.3], [1e3]))
    other = {**GRID, "bin_hours": 3}
    part = bin_file(fake.dir / "a.cdf", "rbsp_mageis", tmp_path / "a.nc", other)
    with pytest.raises(InputFileError, match="a.nc.*time_origin/bin_hours"):
        combine([part], tmp_path / "s.zarr", GRID)
    part = bin_file(fake.dir / "a.cdf", "rbsp_mageis", tmp_path / "b.nc", {**GRID, "L_max": 5.0})
    with pytest.raises(InputFileError, match="b.nc.*L grid"):
        combine([part], tmp_path / "s.zarr", GRID)


def test_combine_400_partials_fast(fake, tmp_path):
    rng = np.random.default_rng(1)
    seeds = []
    for day in range(20):  # 20 distinct daily POES files, each copied 20 times -> 400 partials
        t0 = T("2019-01-01") + np.timedelta64(day, "D")
        times = t0 + (np.arange(0, 86400, 60) * 1_000_000_000).astype("timedelta64[ns]")
        n = times.size
        ds = _poes(times, rng.uniform(2.5, 7.0, n), 10 ** rng.normal(4, 1, n), 10 ** rng.normal(3, 1, n),
                   10 ** rng.normal(1, 1, n))
        fake.add(f"poes_{day:02d}.nc", ds)
        seeds.append(_bin(fake, tmp_path, f"poes_{day:02d}.nc", "poes"))
    parts = []
    for i in range(400):
        dst = tmp_path / "many" / f"p{i:03d}.nc"
        dst.parent.mkdir(exist_ok=True)
        shutil.copyfile(seeds[i % 20], dst)
        parts.append(dst)
    start = time.perf_counter()
    ds = xr.open_zarr(combine(parts, tmp_path / "s.zarr", GRID)).load()
    elapsed = time.perf_counter() - start
    assert elapsed < 10, f"combine of 400 partials took {elapsed:.1f} s"
    one = xr.open_zarr(combine(seeds, tmp_path / "one.zarr", GRID)).load()
    # 20 identical copies: same means, 20 times the counts
    np.testing.assert_allclose(ds["log10_e2"].values, one["log10_e2"].values, rtol=1e-12)
    np.testing.assert_array_equal(ds["n_poes"].values, 20 * one["n_poes"].values)


# --------------------------------------------------------------------------------------------
# real sample files through the real readers (shared/realdata, next to the project root)


@pytest.mark.realdata
def test_real_poes_and_omni_files(tmp_path):
    poes = realdata_file("poes/poes_n15_20191024_proc.nc")
    omni = realdata_file("OMNI/omni2_2020.dat")
    parts = [bin_file(poes, "poes", tmp_path / "poes.nc", GRID), bin_file(omni, "omni2_ascii", tmp_path / "omni.nc", GRID)]
    with xr.open_dataset(parts[0]) as p:
        assert p.attrs["source_sha256"] == hashlib.sha256(poes.read_bytes()).hexdigest()
        assert int(p["e2_count"].sum()) > 100
    ds = xr.open_zarr(combine(parts, tmp_path / "s.zarr", GRID)).load()
    assert ds.attrs["source_files"] == [poes.name, omni.name]
    e2 = ds["log10_e2"].values
    assert np.isfinite(e2).any() and np.nanmin(e2) > -3 and np.nanmax(e2) < 10  # log10 of fluxes
    assert np.isfinite(ds["sw_speed"].values).any()
    assert (ds["n_poes"].values[np.isfinite(e2)] > 0).all()


# --------------------------------------------------------------------------------------------
# PreMevE exchange files


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


HEADER_COMMENT = "; LANL PreMevE 2.0 exchange file\n; time in days since 2013-02-20 00:00 UTC, 5-hour bins\n"


@pytest.fixture
def premeve_dir(tmp_path) -> Path:
    d = tmp_path / "premeve"
    d.mkdir()
    flux = HEADER_COMMENT + "S/N Time 3.0 3.1 GEO\n"
    _write(d / "Target_data_RBSP_2013.txt", flux + "1 0.0000 1.2e3 1.0e2 1.0e4\n"
                                                  "2 0.2083 -1 1e3 1e5\n"
                                                  "3 0.6250 1e1 0 1e1\n")
    _write(d / "Input_data_POES_E2_2013.txt", flux + "1 0.0000 1e5 1e6 1e7\n"
                                                    "2 0.2083 1e5 1e6 1e7\n"
                                                    "3 0.6250 1e4 1e4 1e4\n")
    _write(d / "Input_data_POES_E3_2013.txt", flux + "1 0.0000 1e3 1e3 1e3\n"
                                                    "2 0.2083 1e3 1e3 1e3\n"
                                                    "3 0.6250 1e3 1e3 1e3\n")
    # already log10-scaled (all values < 20, some negative): kept as they are
    _write(d / "Input_data_POES_P6_2013.txt", flux + "1 0.0000 1.5 -0.25 2.0\n"
                                                    "2 0.2083 1.25 -0.5 2.5\n"
                                                    "3 0.6250 1.0 0.5 3.0\n")
    _write(d / "Input_data_OMNI_2013.txt", HEADER_COMMENT + "S/N Time Dst S/W speed S/W p+ den\n"
                                                            "1 0.0000 -10 400 5.0\n"
                                                            "2 0.2083 -35 9999 6.0\n"
                                                            "3 0.6250 -5 550 4.0\n")
    _write(d / "README.txt", "not a PreMevE exchange file\n")
    return d


def test_ingest_premeve(premeve_dir, tmp_path):
    path = ingest_premeve(premeve_dir, tmp_path / "store.zarr", GRID, config={"source": "premeve_ascii"})
    ds = xr.open_zarr(path).load()
    assert set(ds.data_vars) == set(STORE_VARIABLES)
    assert ds["L"].values.tolist() == [3.0, 3.1, 6.6]
    # rows at 0 h, 5 h and 15 h after the origin: bins 0, 1, 3; bin 2 is a NaN gap
    assert ds["time"].values.tolist() == bin_start_times([0, 1, 2, 3], GRID).tolist()
    f = ds["log10_flux_1mev"].values
    np.testing.assert_allclose(f[0], [np.log10(1.2e3), 2.0, 4.0])
    assert np.isnan(f[1, 0]) and f[1, 1] == pytest.approx(3.0)  # -1 is fill
    assert np.isnan(f[3, 1])  # 0 flux has no log
    assert np.isnan(f[2]).all() and (ds["n_rbsp"].values[2] == 0).all()
    assert ds["n_rbsp"].values[0].tolist() == [1, 1, 1] and ds["n_rbsp"].values[1].tolist() == [0, 1, 1]
    np.testing.assert_allclose(ds["log10_e2"].values[0], [5.0, 6.0, 7.0])
    np.testing.assert_allclose(ds["log10_e3"].values[3], [3.0, 3.0, 3.0])
    np.testing.assert_allclose(ds["log10_p6"].values[[0, 1, 3]], [[1.5, -0.25, 2.0], [1.25, -0.5, 2.5], [1.0, 0.5, 3.0]])
    np.testing.assert_allclose(ds["sw_speed"].values, [400.0, NAN, NAN, 550.0])  # 9999 is fill
    assert ds["n_poes"].values[0].tolist() == [1, 1, 1]
    assert ds.attrs["source_kind"] == "premeve_ascii"
    assert ds.attrs["bin_hours"] == 5 and ds.attrs["geo_L"] == 6.6
    names = sorted(p.name for p in premeve_dir.iterdir() if p.name != "README.txt")
    assert sorted(ds.attrs["source_files"]) == names
    for name, digest in zip(ds.attrs["source_files"], ds.attrs["source_sha256"], strict=True):
        assert digest == hashlib.sha256((premeve_dir / name).read_bytes()).hexdigest()
    assert ds["L"].attrs["units"] == "1" and ds["log10_flux_1mev"].attrs["units"].startswith("log10(")


def test_ingest_premeve_missing_kind(premeve_dir, tmp_path):
    (premeve_dir / "Input_data_POES_P6_2013.txt").unlink()
    with pytest.raises(InputFileError, match=r"premeve: .*p6 \(Input_data_POES_P6_\*\)"):
        ingest_premeve(premeve_dir, tmp_path / "store.zarr", GRID)
    assert not (tmp_path / "store.zarr").exists()
    with pytest.raises(InputFileError, match="nowhere"):
        ingest_premeve(tmp_path / "nowhere", tmp_path / "store.zarr", GRID)


# --------------------------------------------------------------------------------------------
# on_bad_file: skip acts on a bad line of a line-based file; a required variable left empty fails

FEATURES = {"channels": ["e2", "e3", "p6"], "sw_speed": True, "cross_L_e2": None, "delta_e2": False,
            "geo_input_L": 4.6}


def test_garbled_omni_line_skips_the_line_not_the_year(tmp_path, caplog):
    """The real OMNI2 reader through bin_file: with skip the year keeps its good hours."""
    from omni2_text import omni2_text

    lines = omni2_text(2019, [400.0 + k for k in range(10)]).splitlines()
    lines[3] = lines[3][:50]
    raw = tmp_path / "omni2_2019.dat"
    raw.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputFileError, match=r"omni2_2019\.dat: line 4 has 50 characters"):
        bin_file(raw, "omni2_ascii", tmp_path / "p_err.nc", GRID)
    with caplog.at_level(logging.WARNING):
        part = bin_file(raw, "omni2_ascii", tmp_path / "p.nc", GRID, on_bad_file="skip")
    assert "skipping line 4" in caplog.text
    with xr.open_dataset(part) as p:
        assert int(p["sw_speed_count"].sum()) == 9
        assert "skipped" not in p.attrs and "skipped_files" not in p.attrs
        assert p.attrs["skipped_records"].startswith("omni2_2019.dat: line 4: has 50 characters")
    ds = xr.open_zarr(combine([part], tmp_path / "s.zarr", GRID)).load()
    assert ds.attrs["skipped_files"] == []
    assert len(ds.attrs["skipped_records"]) == 1 and ds.attrs["skipped_records"][0].startswith("omni2_2019.dat: line 4")
    assert np.isfinite(ds["sw_speed"].values).all()


def _day(fake, tmp_path, omni):
    """A day's RBSP + POES partial and an OMNI partial (the OMNI file as ``omni``)."""
    t = [T("2019-01-01T01:00"), T("2019-01-01T06:00")]
    fake.add("rbsp_20190101_.cdf", _rbsp(t, [4.0, 4.0], [1e3, 2e3]))
    fake.add("poes_n15_20190101_proc.nc", _poes(t, [4.0, 4.0], [1e5, 1e5], [1e4, 1e4], [NAN, NAN]))
    fake.add("omni2_2019.dat", omni)
    day = bin_files_([("rbsp_20190101_.cdf", "rbsp_mageis"), ("poes_n15_20190101_proc.nc", "poes")],
                     fake, tmp_path / "day.nc", on_bad_file="skip")
    return [day, _bin(fake, tmp_path, "omni2_2019.dat", "omni2_ascii", on_bad_file="skip")]


def bin_files_(names, fake, out, **kw):
    return ingest.bin_files([(fake.dir / n, k) for n, k in names], out, GRID, **kw)


def test_combine_refuses_an_empty_required_variable(fake, tmp_path):
    bad = InputFileError("omni2_2019.dat", "line 7 is not an OMNI2 record")
    parts = _day(fake, tmp_path, bad)
    features = {**FEATURES, "channels": ["e2", "e3"]}  # p6 is all NaN in this store, and not used
    with pytest.raises(InputFileError) as err:
        combine(parts, tmp_path / "s.zarr", GRID, features=features)
    msg = str(err.value)
    assert msg.startswith(f"{tmp_path / 's.zarr'}: not written")
    assert "sw_speed (the solar-wind speed; radbelt.features.sw_speed is true) has no valid value" in msg
    assert "Skipped: omni2_2019.dat: line 7 is not an OMNI2 record" in msg
    assert "set radbelt.features.sw_speed: false" in msg and "log10_e2" not in msg
    assert not (tmp_path / "s.zarr").exists()

    # the same from the config section the rule passes (features among its keys)
    with pytest.raises(InputFileError, match="sw_speed .* has no valid value"):
        combine(parts, tmp_path / "s.zarr", GRID, config={"grid": GRID, "energy_kev": 1000.0, "features": features})
    # a configured channel without a single value, nothing skipped: named, with what to change
    with pytest.raises(InputFileError, match=r"log10_p6 \(POES P6; radbelt.features.channels includes p6\) has no "
                                             r"valid value: no raw file was skipped for it.*remove p6 from"):
        combine(parts, tmp_path / "s.zarr", GRID, features={**FEATURES, "sw_speed": False})
    # without sw_speed and p6 the store is written; without features nothing is checked
    combine(parts, tmp_path / "ok.zarr", GRID, features={**features, "sw_speed": False})
    skipped = xr.open_zarr(tmp_path / "ok.zarr").attrs["skipped_files"]
    assert skipped == ["omni2_2019.dat: line 7 is not an OMNI2 record"]
    combine(parts, tmp_path / "unchecked.zarr", GRID)


def test_skipped_file_in_a_day_group_is_named_for_its_variable(fake, tmp_path):
    t = [T("2019-01-01T01:00")]
    fake.add("rbsp_20190101_.cdf", InputFileError("rbsp_20190101_.cdf", "truncated CDF"))
    fake.add("poes_n15_20190101_proc.nc", _poes(t, [4.0], [1e5], [1e4], [1e2]))
    fake.add("omni2_2019.dat", _omni(t, [400.0]))
    day = bin_files_([("rbsp_20190101_.cdf", "rbsp_mageis"), ("poes_n15_20190101_proc.nc", "poes")],
                     fake, tmp_path / "day.nc", on_bad_file="skip")
    with xr.open_dataset(day) as p:
        assert p.attrs["skipped_kinds"] == "rbsp_mageis"
    omni = _bin(fake, tmp_path, "omni2_2019.dat", "omni2_ascii")
    with pytest.raises(InputFileError, match=r"log10_flux_1mev \(the 1 MeV target flux; the forecast target, always "
                                             r"required\) has no valid value: every one of the RBSP MagEIS files "
                                             r"\(radbelt.raw.rbsp\) was skipped .*Skipped: rbsp_20190101_.cdf: "
                                             r"truncated CDF"):
        combine([day, omni], tmp_path / "s.zarr", GRID, features=FEATURES)


def test_premeve_required_variable(premeve_dir, tmp_path):
    omni = premeve_dir / "Input_data_OMNI_2013.txt"
    omni.write_text(omni.read_text().replace(" 400 ", " 9999 ").replace(" 550 ", " 9999 "))
    with pytest.raises(InputFileError, match=r"sw_speed .* no valid value: no raw file was skipped for it: the "
                                             r"Input_data_OMNI_\* files hold no valid value"):
        ingest_premeve(premeve_dir, tmp_path / "store.zarr", GRID, features=FEATURES)
    assert not (tmp_path / "store.zarr").exists()
    ingest_premeve(premeve_dir, tmp_path / "store.zarr", GRID, config={"features": {**FEATURES, "sw_speed": False}})
