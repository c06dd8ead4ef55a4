"""Reading a scene store (written by :func:`eoml.scenes.ingest.build_store`): checks, splits, classes.

A scene store holds one image-folder dataset, its images resized to the model's input size::

    image       uint8 (sample, y, x, band)   RGB digital numbers, band = red, green, blue
    label       int16 (sample)               index into class_name
    class_name  str   (class)                class folder names, sorted (a coordinate)
    source      str   (sample)               image file, relative to the dataset root
    sha256      str   (sample)               SHA-256 of the image file's bytes
    split       int8  (sample)               0 train, 1 val, 2 test (CF flag_values / flag_meanings)

:func:`open_scene_store` opens it lazily (dask) after checking all of that, so a consumer never
meets a half-right store; :func:`split_indices` and :func:`class_names` read the split and the
class list.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import xarray as xr

from eoml.core.errors import InputFileError
from eoml.core.store import open_store

__all__ = ["BANDS", "SPLITS", "class_names", "open_scene_store", "split_indices"]

#: split names, in the order of their codes in the ``split`` variable (0, 1, 2)
SPLITS = ("train", "val", "test")
#: the ``band`` coordinate of the ``image`` variable
BANDS = ("red", "green", "blue")

#: variable -> (dimensions, dtype check, what the dtype must be)
_VARIABLES = {
    "image": (("sample", "y", "x", "band"), lambda d: d == np.uint8, "uint8"),
    "label": (("sample",), lambda d: d.kind in "iu", "integer"),
    "split": (("sample",), lambda d: d == np.int8, "int8"),
    "source": (("sample",), lambda d: d.kind in "OUT", "string"),
    "sha256": (("sample",), lambda d: d.kind in "OUT", "string"),
    "class_name": (("class",), lambda d: d.kind in "OUT", "string"),
}


def open_scene_store(path: str | os.PathLike) -> xr.Dataset:
    """Open the scene store at ``path`` (lazily) after checking its variables, dims and dtypes.

    Checks: every variable of the module doc with its dimensions and dtype; ``band`` holds red,
    green, blue; square images; at least two classes; every ``label`` a valid class index and
    every ``split`` code 0, 1 or 2. Raises :class:`InputFileError` naming the store and the
    problem (also when it is missing or not a Zarr store).
    """
    path = Path(path)
    ds = open_store(path)
    for name, (dims, ok, want) in _VARIABLES.items():
        if name not in ds.variables:
            raise InputFileError(path, f"not a scene store: variable {name!r} is missing")
        var = ds[name]
        if var.dims != dims:
            raise InputFileError(path, f"scene store variable {name!r} has dims {var.dims}, expected {dims}")
        if not ok(var.dtype):
            raise InputFileError(path, f"scene store variable {name!r} is {var.dtype}, expected {want}")
    bands = tuple(str(b) for b in ds["band"].values) if "band" in ds.coords else ()
    if bands != BANDS:
        raise InputFileError(path, f"scene store band coordinate is {list(bands)}, expected {list(BANDS)}")
    if ds.sizes["y"] != ds.sizes["x"] or ds.sizes["y"] < 1:
        raise InputFileError(path, f"scene store images are {ds.sizes['x']} x {ds.sizes['y']} px, expected square")
    n_class = ds.sizes["class"]
    if n_class < 2:
        raise InputFileError(path, f"scene store has {n_class} class(es), a classifier needs at least two")
    label = ds["label"].values
    if label.size and (label.min() < 0 or label.max() >= n_class):
        raise InputFileError(path, f"scene store labels span {label.min()}..{label.max()}, outside the "
                                   f"{n_class} classes")
    split = ds["split"].values
    bad = np.setdiff1d(np.unique(split), np.arange(len(SPLITS)))
    if bad.size:
        raise InputFileError(path, f"scene store split holds codes {bad.tolist()}, expected 0 train, 1 val, 2 test")
    return ds


def split_indices(ds: xr.Dataset) -> dict[str, np.ndarray]:
    """Sample indices (ascending int64) of each split: ``{"train": ..., "val": ..., "test": ...}``."""
    split = np.asarray(ds["split"].values)
    return {name: np.flatnonzero(split == code).astype(np.int64) for code, name in enumerate(SPLITS)}


def class_names(ds: xr.Dataset) -> list[str]:
    """The class names of a scene store, in label order (label k is ``class_names(ds)[k]``)."""
    return [str(name) for name in ds["class_name"].values]
