"""eoml.core.store: CF check, provenance, chunk policy, atomic Zarr writes, open_store."""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import eoml
from eoml.core import store as store_mod
from eoml.core.errors import InputFileError
from eoml.core.store import check_cf, chunk_policy, open_store, provenance_attrs, write_store


def _series_ds(nt: int = 40, fill_nan: bool = True) -> xr.Dataset:
    rng = np.random.default_rng(0)
    flux = rng.normal(3.0, 1.0, (nt, 3))
    if fill_nan:
        flux[5, 1] = np.nan
    return xr.Dataset(
        {
            "log10_flux": (("time", "L"), flux, {"units": "log10(cm-2 s-1 sr-1 keV-1)", "long_name": "flux"}),
            "n": (("time", "L"), np.arange(nt * 3, dtype="int32").reshape(nt, 3), {"units": "1", "long_name": "count"}),
            "speed": ("time", np.linspace(300, 700, nt), {"units": "km s-1", "long_name": "solar wind speed"}),
        },
        coords={
            "time": ("time", pd.date_range("2019-01-01", periods=nt, freq="5h"), {"standard_name": "time", "long_name": "bin start"}),
            "L": ("L", [3.0, 4.0, 6.6], {"units": "1", "long_name": "L-shell"}),
        },
        attrs={"title": "test store"},
    )


@pytest.fixture
def sources(tmp_path: Path) -> list[Path]:
    paths = []
    for i, content in enumerate([b"first raw file", b"second raw file \x00\x01"]):
        p = tmp_path / "raw" / f"raw_{i}.cdf"
        p.parent.mkdir(exist_ok=True)
        p.write_bytes(content)
        paths.append(p)
    return paths


def test_roundtrip_values_attrs_units(tmp_path, sources):
    ds = _series_ds()
    path = write_store(ds, tmp_path / "s.zarr", sources=sources, config={"b": 1, "a": [1, 2]})
    assert path == tmp_path / "s.zarr"
    back = open_store(path)
    xr.testing.assert_equal(back.load(), ds.assign_attrs(back.attrs))
    assert back["log10_flux"].attrs["units"] == "log10(cm-2 s-1 sr-1 keV-1)"
    assert back["L"].attrs == {"units": "1", "long_name": "L-shell"}
    assert back["time"].attrs["standard_name"] == "time"
    assert back["n"].dtype == np.int32
    assert np.isnan(back["log10_flux"].values[5, 1])
    assert back.attrs["title"] == "test store"
    assert back.attrs["Conventions"] == "CF-1.10"
    assert back.attrs["eoml_version"] == eoml.__version__
    # consolidated metadata: the plain xarray call opens it with consolidated=True
    plain = xr.open_zarr(path, consolidated=True)
    assert set(plain.data_vars) == {"log10_flux", "n", "speed"}
    assert json.loads((path / "zarr.json").read_text())["zarr_format"] == 3
    # caller's dataset untouched
    assert "source_files" not in ds.attrs


def test_provenance_digests(tmp_path, sources):
    config = {"z": 1, "a": {"y": [1, 2], "x": "s"}}
    attrs = provenance_attrs(sources, config)
    assert attrs["source_files"] == ["raw_0.cdf", "raw_1.cdf"]
    assert attrs["source_sha256"] == [hashlib.sha256(p.read_bytes()).hexdigest() for p in sources]
    canonical = json.dumps(config, sort_keys=True, separators=(",", ":"))
    assert attrs["config_digest"] == hashlib.sha256(canonical.encode()).hexdigest()
    # key order does not change the digest
    assert provenance_attrs([], {"a": {"x": "s", "y": [1, 2]}, "z": 1})["config_digest"] == attrs["config_digest"]
    assert attrs["created"].endswith("Z")
    for key in ("eoml_version", "Conventions", "history"):
        assert isinstance(attrs[key], str)
    # the digests survive a write
    back = open_store(write_store(_series_ds(), tmp_path / "s.zarr", sources=sources, config=config))
    assert back.attrs["source_sha256"] == attrs["source_sha256"]
    assert back.attrs["source_files"] == attrs["source_files"]
    assert back.attrs["config_digest"] == attrs["config_digest"]


def test_missing_source_named(tmp_path):
    with pytest.raises(InputFileError, match="nope.cdf"):
        provenance_attrs([tmp_path / "nope.cdf"], None)


def test_extra_attrs_override(tmp_path):
    back = open_store(
        write_store(_series_ds(), tmp_path / "s.zarr", extra_attrs={"source_files": ["a", "b"], "bin_hours": 5})
    )
    assert back.attrs["source_files"] == ["a", "b"]
    assert back.attrs["bin_hours"] == 5


def _raise_midway(self, store, *args, **kwargs):
    # write part of the store for real, then fail like an interrupted job
    Path(store).mkdir(parents=True, exist_ok=True)
    (Path(store) / "zarr.json").write_text("{}")
    raise RuntimeError("disk full")


def test_failed_write_leaves_no_store(tmp_path, monkeypatch):
    monkeypatch.setattr(xr.Dataset, "to_zarr", _raise_midway)
    with pytest.raises(RuntimeError, match="disk full"):
        write_store(_series_ds(), tmp_path / "s.zarr")
    assert not (tmp_path / "s.zarr").exists()
    assert list(tmp_path.iterdir()) == []  # no temporary left either


def test_failed_write_keeps_previous_store(tmp_path, monkeypatch):
    old = _series_ds(nt=10)
    path = write_store(old, tmp_path / "s.zarr")
    monkeypatch.setattr(xr.Dataset, "to_zarr", _raise_midway)
    with pytest.raises(RuntimeError):
        write_store(_series_ds(nt=20), path)
    monkeypatch.undo()
    back = open_store(path)
    assert back.sizes["time"] == 10
    np.testing.assert_array_equal(back["log10_flux"].values, old["log10_flux"].values)
    assert [p.name for p in tmp_path.iterdir()] == ["s.zarr"]


def test_overwrite_replaces_store(tmp_path):
    path = write_store(_series_ds(nt=10), tmp_path / "s.zarr")
    write_store(_series_ds(nt=30), path)
    assert open_store(path).sizes["time"] == 30


@pytest.mark.parametrize(
    ("var", "attr"), [("speed", "units"), ("log10_flux", "long_name"), ("L", "units")]
)
def test_check_cf_names_variable(var, attr):
    ds = _series_ds()
    del ds[var].attrs[attr]
    with pytest.raises(ValueError, match=rf"'{var}' has no {attr}"):
        check_cf(ds)


def test_write_store_checks_cf_before_writing(tmp_path):
    ds = _series_ds()
    ds["speed"].attrs["units"] = " "
    with pytest.raises(ValueError, match="'speed'"):
        write_store(ds, tmp_path / "s.zarr")
    assert not (tmp_path / "s.zarr").exists()


def test_check_cf_exemptions():
    ds = _series_ds()
    ds = ds.assign_coords(split=("time", np.array(["train"] * ds.sizes["time"]), {"long_name": "split"}))
    ds["spatial_ref"] = xr.DataArray(0, attrs={"grid_mapping_name": "latitude_longitude"})
    check_cf(ds)  # datetime time (no units attr), string labels, grid mapping: all fine


def test_open_store_errors(tmp_path):
    with pytest.raises(InputFileError, match="missing.zarr"):
        open_store(tmp_path / "missing.zarr")
    bad = tmp_path / "bad.zarr"
    bad.mkdir()
    (bad / "zarr.json").write_text("{ not json")
    with pytest.raises(InputFileError, match="bad.zarr"):
        open_store(bad)


def _chunk_mb(ds, chunks):
    itemsize = max(v.dtype.itemsize for v in ds.data_vars.values())
    return math.prod(chunks.values()) * itemsize / 1e6


def test_chunk_policy_time_series_keeps_L_whole():
    nt, nl = 2_000_000, 34
    ds = xr.Dataset(
        {"f": (("time", "L"), np.broadcast_to(np.float64(0), (nt, nl)))},
        coords={"time": pd.date_range("2000", periods=nt, freq="min"), "L": np.arange(nl, dtype=float)},
    )
    chunks = chunk_policy(ds)
    assert chunks["L"] == nl
    assert 1 <= _chunk_mb(ds, chunks) <= 100
    assert chunks["time"] > 10_000  # long time runs
    assert 1 <= _chunk_mb(ds, chunk_policy(ds, target_mb=64)) <= 100


def test_chunk_policy_images_square_tiles():
    ds = xr.Dataset(
        {"rad": (("time", "band", "y", "x"), np.broadcast_to(np.float32(0), (6, 3, 5000, 5000)))},
        coords={"time": pd.date_range("2020", periods=6, freq="D")},
    )
    chunks = chunk_policy(ds)
    assert chunks["time"] == 1 and chunks["band"] == 3
    assert chunks["x"] == chunks["y"]
    assert 1 <= _chunk_mb(ds, chunks) <= 100


def test_chunk_policy_small_and_explicit():
    ds = _series_ds(nt=40)
    assert chunk_policy(ds) == {"time": 40, "L": 3}  # tiny dataset: one chunk
    assert chunk_policy(ds, target_mb=0.0001, along="time")["L"] == 3
    # a narrow swath: the short spatial dim is kept whole and the long one takes the rest
    swath = xr.Dataset({"v": (("y", "x"), np.broadcast_to(np.float64(0), (100_000, 50)))})
    chunks = chunk_policy(swath)
    assert chunks["x"] == 50 and 1 <= _chunk_mb(swath, chunks) <= 100
    with pytest.raises(ValueError, match="nope"):
        chunk_policy(ds, along="nope")


def test_write_store_uses_policy_and_explicit_chunks(tmp_path):
    ds = _series_ds(nt=40)
    back = open_store(write_store(ds, tmp_path / "a.zarr"))
    assert back["log10_flux"].encoding["chunks"] == (40, 3)
    back = open_store(write_store(ds, tmp_path / "b.zarr", chunks={"time": 8}))
    assert back["log10_flux"].encoding["chunks"] == (8, 3)
    assert back["speed"].encoding["chunks"] == (8,)


def test_rewrite_of_opened_store(tmp_path):
    """A store read back (carrying zarr encodings) can be written again with other chunks."""
    first = open_store(write_store(_series_ds(nt=40), tmp_path / "a.zarr", chunks={"time": 8}))
    back = open_store(write_store(first, tmp_path / "b.zarr", chunks={"time": 20}))
    assert back["log10_flux"].encoding["chunks"] == (20, 3)
    assert "written by eoml" in back.attrs["history"].splitlines()[0]
    assert len(back.attrs["history"].splitlines()) == 2


def test_module_exports():
    assert set(store_mod.__all__) == {"provenance_attrs", "chunk_policy", "check_cf", "write_store", "open_store"}
