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


def test_string_labels_read_back_can_be_written_again(tmp_path):
    """Strings come back from a Zarr v3 store as NumPy's StringDType (kind "T"): still labels."""
    ds = _series_ds(nt=10)
    ds["source"] = xr.DataArray(np.array([f"file {i}.tif" for i in range(10)]), dims="time",
                                attrs={"long_name": "source file"})
    back = open_store(write_store(ds, tmp_path / "a.zarr"))
    again = open_store(write_store(back.load(), tmp_path / "b.zarr"))
    assert list(again["source"].values) == [f"file {i}.tif" for i in range(10)]


def test_module_exports():
    assert set(store_mod.__all__) == {"provenance_attrs", "chunk_policy", "check_cf", "write_store", "open_store",
                                      "write_collection", "open_collection", "GROUP_NAME"}


# --------------------------------------------------------------------------------------------
# collections


def _image_ds(n: int = 2, size: int = 8) -> xr.Dataset:
    rng = np.random.default_rng(1)
    t = rng.normal(290.0, 5.0, (n, size, size)).astype(np.float32)
    t[0, 0, 0] = np.nan
    cls = np.array([[0, 1], [255, 1]], dtype=np.uint8)
    return xr.Dataset(
        {"t": (("n", "y", "x"), t, {"units": "K", "long_name": "temperature"}),
         "cls": (("yc", "xc"), cls, {"units": "1", "long_name": "class", "flag_meanings": "water ice no_data"})},
        attrs={"factor": 4},
    )


def _collection(tmp_path, sources=(), **kwargs):
    groups = {"zeta": _image_ds(2, 8), "alpha_1.b-2": _image_ds(1, 12), "m": _series_ds(nt=10)}
    return groups, store_mod.write_collection(groups, tmp_path / "c.zarr", sources=sources, **kwargs)


def test_collection_roundtrip(tmp_path, sources):
    groups, path = _collection(tmp_path, sources, config={"a": 1}, attrs={"method": "x", "seed": 3})
    assert path == tmp_path / "c.zarr"
    tree = store_mod.open_collection(path)
    assert list(tree.children) == ["zeta", "alpha_1.b-2", "m"]  # the order written, not sorted
    for name, ds in groups.items():
        back = tree[name].to_dataset().load()
        xr.testing.assert_identical(back, ds)  # values, dtypes (float32, uint8, int32), attrs
        for var in ds.data_vars:
            assert back[var].dtype == ds[var].dtype
    assert tree["zeta"]["cls"].values[1, 0] == 255  # uint8 kept as is, no fill-value masking
    assert tree.attrs["method"] == "x" and tree.attrs["seed"] == 3
    assert tree.attrs["groups"] == ["zeta", "alpha_1.b-2", "m"]
    # provenance on the root group
    prov = provenance_attrs(sources, {"a": 1})
    for key in ("source_files", "source_sha256", "config_digest", "eoml_version", "Conventions"):
        assert tree.attrs[key] == prov[key]
    # one Zarr v3 store, consolidated metadata listing every group's arrays
    meta = json.loads((path / "zarr.json").read_text())
    assert meta["zarr_format"] == 3
    assert {"zeta/t", "alpha_1.b-2/cls", "m/log10_flux"} <= set(meta["consolidated_metadata"]["metadata"])
    # chunked like write_store: images as square tiles, one chunk here
    assert tree["zeta"]["t"].encoding["chunks"] == (2, 8, 8)


def test_collection_chunks_and_encoding(tmp_path):
    groups = {"a": _image_ds(3, 16)}
    path = store_mod.write_collection(groups, tmp_path / "c.zarr", chunks={"n": 1, "y": 8})
    t = store_mod.open_collection(path)["a"]["t"]
    assert t.encoding["chunks"] == (1, 8, 16)
    assert np.isnan(t.encoding["_FillValue"])


@pytest.mark.parametrize(("group", "var", "attr"), [("zeta", "t", "units"), ("m", "L", "long_name")])
def test_collection_cf_failure_names_group_and_variable(tmp_path, group, var, attr):
    groups = {"zeta": _image_ds(), "m": _series_ds(nt=8)}
    del groups[group][var].attrs[attr]
    with pytest.raises(ValueError, match=rf"c.zarr: group '{group}': .*'{var}' has no {attr}"):
        store_mod.write_collection(groups, tmp_path / "c.zarr")
    assert list(tmp_path.iterdir()) == []


def test_group_names_are_the_workflow_safe_ids():
    from eoml.core.workflow import SAFE_ID

    assert store_mod.GROUP_NAME == SAFE_ID


@pytest.mark.parametrize("name", ["a/b", "", "_x", "a b", "..", 3])
def test_collection_refuses_unsafe_group_names(tmp_path, name):
    with pytest.raises(ValueError, match="group names must match"):
        store_mod.write_collection({name: _image_ds()}, tmp_path / "c.zarr")
    assert list(tmp_path.iterdir()) == []


def test_collection_refuses_empty_and_reserved(tmp_path):
    with pytest.raises(ValueError, match="at least one group"):
        store_mod.write_collection({}, tmp_path / "c.zarr")
    with pytest.raises(ValueError, match="'groups' is reserved"):
        store_mod.write_collection({"a": _image_ds()}, tmp_path / "c.zarr", attrs={"groups": ["a"]})


def _tree_raise_midway(self, store, *args, **kwargs):
    Path(store).mkdir(parents=True, exist_ok=True)
    (Path(store) / "zarr.json").write_text("{}")
    raise RuntimeError("disk full")


def test_collection_failed_write_is_atomic(tmp_path, monkeypatch):
    monkeypatch.setattr(xr.DataTree, "to_zarr", _tree_raise_midway)
    with pytest.raises(RuntimeError, match="disk full"):
        store_mod.write_collection({"a": _image_ds()}, tmp_path / "c.zarr")
    assert list(tmp_path.iterdir()) == []  # neither the store nor a temporary
    monkeypatch.undo()
    path = store_mod.write_collection({"a": _image_ds(1)}, tmp_path / "c.zarr")
    monkeypatch.setattr(xr.DataTree, "to_zarr", _tree_raise_midway)
    with pytest.raises(RuntimeError):
        store_mod.write_collection({"b": _image_ds(2)}, path)
    monkeypatch.undo()
    assert list(store_mod.open_collection(path).children) == ["a"]  # the previous store intact
    assert [p.name for p in tmp_path.iterdir()] == ["c.zarr"]


def test_open_collection_errors(tmp_path):
    with pytest.raises(InputFileError, match="missing.zarr.*does not exist"):
        store_mod.open_collection(tmp_path / "missing.zarr")
    bad = tmp_path / "bad.zarr"
    bad.mkdir()
    (bad / "zarr.json").write_text("{ not json")
    with pytest.raises(InputFileError, match="bad.zarr.*not a readable Zarr store"):
        store_mod.open_collection(bad)
    # a plain store is not a collection
    plain = write_store(_series_ds(nt=8), tmp_path / "plain.zarr")
    with pytest.raises(InputFileError, match="plain.zarr.*not a collection"):
        store_mod.open_collection(plain)
    # a listed group removed from disk
    _, path = _collection(tmp_path)
    import shutil

    shutil.rmtree(path / "m")
    meta = json.loads((path / "zarr.json").read_text())
    meta["consolidated_metadata"]["metadata"] = {k: v for k, v in meta["consolidated_metadata"]["metadata"].items()
                                                 if not k.startswith("m")}
    (path / "zarr.json").write_text(json.dumps(meta))
    with pytest.raises(InputFileError, match=r"c.zarr.*lacks the group\(s\) \['m'\]"):
        store_mod.open_collection(path)
