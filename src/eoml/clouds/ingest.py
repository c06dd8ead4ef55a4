"""clouds ingest: GOES ABI scenes and Kaggle-layout image folders → Zarr stores → :class:`Scene` lists.

Stores (each written atomically by :func:`eoml.core.store.write_store`, with the input files as
provenance and the config keys read here as the config digest):

* **GOES scene** (:func:`build_goes_store`, one job per scene = one scan of C01, C02 and C03):
  the true colour of :func:`eoml.clouds.goes.true_colour` on the configured latitude/longitude
  grid — ``rgb`` uint8 ``(lat, lon, band)`` and ``valid`` bool ``(lat, lon)``; unlabelled.
* **Kaggle dataset** (:func:`build_kaggle_store`, one job per dataset; an expert-labelled set,
  :func:`build_expert_store`, the same with each image's mask its whole frame): ``image`` uint8
  ``(sample, y, x, band)`` as stored in the JPEGs (the dataset's most common size; another size is
  resized to it, bilinear, and logged), ``mask`` bool ``(sample, class, y, x)`` decoded from the
  run-length labels (nearest neighbour when resized), ``labelled`` bool ``(sample)``, ``image_id``
  and ``sha256`` ``(sample)``; chunked by image and streamed (one image in memory per task).

:func:`load_scenes` turns stores into the :class:`eoml.clouds.tiles.Scene` objects that triplets,
tiles and maps are drawn from (scene ids: the GOES scene id, or ``<dataset>/<image id>``).
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
from PIL import Image

from eoml.clouds.goes import group_scenes, true_colour
from eoml.clouds.labels import (
    CLASSES,
    EXPERT_EXTENSIONS,
    read_expert,
    read_kaggle,
    read_masks,
    read_rgb,
)
from eoml.clouds.tiles import Scene
from eoml.core.errors import InputFileError
from eoml.core.io import sha256_file
from eoml.core.settings import required_keys
from eoml.core.store import open_store, write_store

log = logging.getLogger(__name__)

__all__ = ["GOES_KEYS", "KAGGLE_KEYS", "build_expert_store", "build_goes_store", "build_kaggle_store",
           "expert_image_files", "goes_scenes", "load_scenes"]

#: the ``clouds`` keys each builder reads (and digests)
GOES_KEYS = ("on_bad_file", "max_time_offset_s", "domain", "true_colour")
KAGGLE_KEYS = ("on_bad_file",)
BANDS = ("red", "green", "blue")


def goes_scenes(paths: Sequence[str | os.PathLike], cfg: Mapping[str, Any]) -> dict[str, dict[int, Path]]:
    """The scenes of the L1b files ``paths`` (:func:`eoml.clouds.goes.group_scenes` with the
    configured ``on_bad_file`` and ``max_time_offset_s``): ``{scene id: {channel: file}}``."""
    c = required_keys(cfg, ("on_bad_file", "max_time_offset_s"), "clouds")
    return group_scenes(paths, on_bad_file=c["on_bad_file"], max_time_offset_s=float(c["max_time_offset_s"]))


def build_goes_store(files: Sequence[str | os.PathLike], output: str | os.PathLike, cfg: Mapping[str, Any]) -> Path:
    """The true-colour store of the one scene whose C01, C02 and C03 files are ``files``."""
    c = required_keys(cfg, GOES_KEYS, "clouds")
    scenes = goes_scenes(files, c)
    if len(scenes) != 1:
        raise InputFileError(Path(files[0]), f"expected the C01, C02 and C03 files of one scene, found "
                                             f"{len(scenes)} scene(s) among {len(files)} files")
    (scene_id, channels), = scenes.items()
    tc = c["true_colour"]
    ds = true_colour(channels, domain=c["domain"], green=tc["green"], gamma=float(tc["gamma"]),
                     sza_correction=bool(tc["sza_correction"]), max_sza=float(tc["max_sza"]),
                     keep_conditional=bool(tc["keep_conditional"]))
    for name, long_name in (("lat", "latitude of the pixel centre"), ("lon", "longitude of the pixel centre"),
                            ("band", "colour band")):
        ds[name].attrs.setdefault("long_name", long_name)
    n_valid = int(ds["valid"].sum())
    log.info("%s: %d x %d px true colour, %.1f %% valid", scene_id, ds.sizes["lat"], ds.sizes["lon"],
             100 * n_valid / max(1, ds["valid"].size))
    if n_valid == 0:
        log.warning("%s: no valid pixel in the domain (outside the sector, the disk or the daylight)", scene_id)
    return write_store(ds, output, sources=[channels[k] for k in sorted(channels)],
                       config={k: c[k] for k in GOES_KEYS},
                       chunks={"lat": min(ds.sizes["lat"], 1024), "lon": min(ds.sizes["lon"], 1024), "band": 3})


def _read_image(path: Path, shape: tuple[int, int]) -> np.ndarray:
    rgb = read_rgb(path)
    if rgb.shape[:2] != shape:
        rgb = np.asarray(Image.fromarray(rgb).resize((shape[1], shape[0]), Image.Resampling.BILINEAR))
    return rgb[None]


def _read_mask(listing, i: int, shape: tuple[int, int]) -> np.ndarray:
    return read_masks(listing, i, shape=shape)[None]


def _full_mask(label: int, shape: tuple[int, int]) -> np.ndarray:
    mask = np.zeros((1, len(CLASSES), *shape), bool)
    mask[0, label] = True
    return mask


def _image_store(name: str, listing, masks, labelled: Sequence[bool], output, config: Mapping[str, Any],
                 attrs: Mapping[str, Any], sources: Sequence[Path]) -> Path:
    """The image + mask store of ``listing`` (files, ids, sizes); ``masks(i, shape)`` the class
    masks ``(1, class, y, x)`` of image ``i`` at ``shape``."""
    import dask
    import dask.array as da

    n = len(listing)
    sizes = Counter(listing.sizes)
    shape = max(sizes, key=lambda hw: (sizes[hw], hw))
    other = n - sizes[shape]
    if other:
        log.warning("%s: %d of %d images are not %d x %d px (width x height) and are resized to it", name, other, n,
                    shape[1], shape[0])
    h, w = shape
    image = da.concatenate([da.from_delayed(dask.delayed(_read_image, pure=True)(p, shape), shape=(1, h, w, 3),
                                            dtype=np.uint8) for p in listing.files])
    mask = da.concatenate([da.from_delayed(dask.delayed(masks, pure=True)(i, shape),
                                           shape=(1, len(CLASSES), h, w), dtype=bool) for i in range(n)])
    ds = xr.Dataset(
        {
            "image": (("sample", "y", "x", "band"), image,
                      {"units": "1", "long_name": "true-colour RGB digital numbers (the image file's)"}),
            "mask": (("sample", "class", "y", "x"), mask,
                     {"units": "1", "long_name": "labelled region of each class"}),
            "labelled": (("sample",), np.asarray(labelled, bool),
                         {"units": "1", "long_name": "the image has at least one label"}),
            "image_id": (("sample",), np.array(listing.ids, dtype=object), {"long_name": "image id"}),
            "sha256": (("sample",), np.array([sha256_file(p) for p in listing.files], dtype=object),
                       {"long_name": "SHA-256 digest of the image file"}),
        },
        coords={
            "band": ("band", np.array(BANDS, dtype=object), {"long_name": "colour band"}),
            "class_name": ("class", np.array(CLASSES, dtype=object), {"long_name": "cloud pattern"}),
        },
        attrs={"dataset": str(name), **attrs, "n_skipped": len(listing.skipped),
               "skipped": [f"{p}: {reason}" for p, reason in listing.skipped]},
    )
    log.info("%s: %d images (%d labelled), %d x %d px; images per class: %s; %d skipped", name, n, sum(labelled),
             w, h, ", ".join(f"{k} {v}" for k, v in listing.counts().items()), len(listing.skipped))
    return write_store(ds, output, sources=sources, config=config,
                       chunks={"sample": 1, "y": h, "x": w, "band": 3, "class": len(CLASSES)})


def build_kaggle_store(name: str, images: str | os.PathLike, labels: str | os.PathLike,
                       output: str | os.PathLike, cfg: Mapping[str, Any]) -> Path:
    """The store of the Kaggle-layout dataset ``name``: the JPEGs in ``images`` and their
    ``labels`` csv (:func:`eoml.clouds.labels.read_kaggle`); masks decoded from the RLE."""
    c = required_keys(cfg, KAGGLE_KEYS, "clouds")
    listing = read_kaggle(images, labels, c["on_bad_file"])
    return _image_store(name, listing, lambda i, shape: _read_mask(listing, i, shape), listing.labelled, output,
                        {k: c[k] for k in KAGGLE_KEYS}, {"layout": "kaggle", "images": str(images),
                                                         "labels": str(labels)},
                        [*listing.files, listing.labels_csv])


def build_expert_store(name: str, root: str | os.PathLike, labels: str | os.PathLike | None,
                       output: str | os.PathLike, cfg: Mapping[str, Any]) -> Path:
    """The store of the expert-labelled set ``name`` (:func:`eoml.clouds.labels.read_expert`: class
    folders below ``root``, or the csv ``labels``): one label per image, its mask the whole image."""
    c = required_keys(cfg, KAGGLE_KEYS, "clouds")
    listing = read_expert(root, labels, c["on_bad_file"])
    return _image_store(name, listing, lambda i, shape: _full_mask(listing.labels[i], shape), [True] * len(listing),
                        output, {k: c[k] for k in KAGGLE_KEYS},
                        {"layout": "expert", "root": str(root), "labels": "" if labels is None else str(labels)},
                        [*listing.files, *([] if labels is None else [Path(labels)])])


def expert_image_files(root: str | os.PathLike) -> list[Path]:
    """The image files below ``root`` (the inputs of an expert set's store job; the reader decides
    which of them are labelled)."""
    return sorted(p for p in Path(root).rglob("*") if p.suffix.lower() in EXPERT_EXTENSIONS and p.is_file()
                  and not any(part.startswith(".") for part in p.relative_to(root).parts))


def dataset_name(store: str | os.PathLike) -> str:
    """The name of a labelled store (a Kaggle-layout or expert-labelled dataset); an
    :class:`InputFileError` naming the store for any other."""
    attrs = open_store(store).attrs
    if "dataset" not in attrs:
        raise InputFileError(Path(store), "not a labelled clouds store (a Kaggle-layout or expert-labelled dataset)")
    return str(attrs["dataset"])


def load_scenes(stores: Sequence[str | os.PathLike], *, labelled_only: bool = False) -> list[Scene]:
    """The scenes of GOES and Kaggle stores, in store order (a Kaggle store: one scene per image;
    ``labelled_only`` leaves out unlabelled images and every GOES scene)."""
    scenes: list[Scene] = []
    for path in stores:
        ds = open_store(path)
        if "rgb" in ds:
            if labelled_only:
                continue
            scenes.append(Scene(id=str(ds.attrs["scene_id"]), rgb=np.asarray(ds["rgb"].values, np.uint8),
                                valid=np.asarray(ds["valid"].values, bool)))
        elif "image" in ds and "mask" in ds:
            labelled = ds["labelled"].values
            for i in range(ds.sizes["sample"]):
                if labelled_only and not labelled[i]:
                    continue
                scenes.append(Scene(id=f"{ds.attrs['dataset']}/{ds['image_id'].values[i]}",
                                    rgb=np.asarray(ds["image"][i].values, np.uint8),
                                    masks=np.asarray(ds["mask"][i].values, bool) if labelled[i] else None))
        else:
            raise InputFileError(Path(path), "not a clouds store: neither a GOES scene (rgb) nor a Kaggle dataset "
                                             "(image, mask)")
    return scenes
