"""scenes ingest: one image-folder dataset → one Zarr scene store (images resized, labels, split).

Steps (one job per dataset):

1. :func:`eoml.scenes.readers.scan_dataset` lists the class folders and checks every image
   (decodable, 8-bit RGB, the layout's size); bad files raise, or are skipped and recorded when
   ``on_bad_file`` is ``skip``.
2. Each image is resized to ``image_size`` x ``image_size`` px with Pillow's bicubic filter
   (:func:`resize_image`); ``image_size: native`` takes the dataset's own size
   (:func:`native_size`: its most common short side, within 32 px and ``max_image_size``). When shrinking, Pillow widens the filter's support by the scale factor,
   so every output pixel is a weighted mean over the input pixels it covers (antialiased, no
   aliasing of roof edges or crop rows); when enlarging (EuroSAT 64 px to a larger input) it is
   plain bicubic interpolation. The image is stretched to the square, not cropped: the layouts'
   images are square (within the readers' tolerance); a ``folder`` dataset of other aspect
   ratios is distorted, as by Keras' ``flow_from_directory`` of the paper. Values stay uint8.
3. The split (:func:`stratified_split`) is drawn per class: each class's files (sorted by
   name) are permuted with a generator seeded by ``(split.seed, CRC-32 of the class name)`` — so a
   class's split does not change when other classes are added or removed — and the first
   ``n_test`` go to test, the next ``n_val`` to val, the rest to train (:func:`split_counts`).
4. The store (:func:`eoml.core.store.write_store`, layout in :mod:`eoml.scenes.data`), written
   atomically, chunked along ``sample`` (whole images, about 4 MB per chunk). Images are streamed:
   each chunk is read, resized and written by a dask task, so memory holds a few chunks, never the
   dataset, and no float copy of an image is made. Provenance: the image files are the store's
   sources (their names and SHA-256 in the global attributes), the ``cfg`` keys read here its
   config digest.
"""

from __future__ import annotations

import logging
import math
import os
import zlib
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from eoml.core.errors import ConfigError
from eoml.core.io import sha256_file
from eoml.core.settings import required_keys
from eoml.core.store import write_store
from eoml.scenes.data import BANDS, SPLITS
from eoml.scenes.readers import read_image, scan_dataset

log = logging.getLogger(__name__)

__all__ = ["INGEST_KEYS", "NATIVE", "build_store", "native_size", "resize_image", "split_counts", "stratified_split"]

#: the keys of the ``scenes`` config section :func:`build_store` reads
INGEST_KEYS = ("image_size", "max_image_size", "on_bad_file", "split")
#: ``image_size`` value: each dataset at its own size (:func:`native_size`)
NATIVE = "native"
#: smallest image side a ``native`` size may take (px; the schema's minimum ``image_size``)
MIN_NATIVE = 32
SPLIT_KEYS = ("train", "val", "test", "seed")
#: target size of one chunk of the ``image`` variable (bytes)
CHUNK_BYTES = 4_000_000
#: the Pillow filter of :func:`resize_image` (a name of ``PIL.Image.Resampling``)
RESAMPLE = "BICUBIC"


# --------------------------------------------------------------------------------------------
# split


def _round_half_up(x: float) -> int:
    return math.floor(x + 0.5 + 1e-9)


def split_counts(n: int, fractions: Sequence[float]) -> tuple[int, int, int]:
    """``(n_train, n_val, n_test)`` of a class of ``n`` images for fractions ``(train, val, test)``.

    ``n_val`` and ``n_test`` are ``n x fraction`` rounded half up (70/10/20 of 100 images:
    70/10/20; of 220: 154/22/44; of 7: 5/1/1 after rounding 0.7 → 1 and 1.4 → 1); train gets the
    rest. A class of at least 3 images gets at least one val and one test image (for each of
    val and test whose fraction is above 0); while rounding leaves train without an image, val or
    test (the larger; test on a tie) gives one back. A class of 1 or 2 images may thus go entirely to train.
    """
    _, f_val, f_test = (float(f) for f in fractions)
    n = int(n)
    n_val, n_test = _round_half_up(n * f_val), _round_half_up(n * f_test)
    if n >= 3:
        n_val = max(n_val, 1) if f_val > 0 else 0
        n_test = max(n_test, 1) if f_test > 0 else 0
    floor = 1 if n >= 3 else 0
    while n - n_val - n_test < 1 and (n_val > floor or n_test > floor):
        if n_test >= n_val and n_test > floor:
            n_test -= 1
        else:
            n_val -= 1
    return n - n_val - n_test, n_val, n_test


def _split_settings(split: Mapping[str, Any]) -> tuple[tuple[float, float, float], int]:
    s = required_keys(split, SPLIT_KEYS, "scenes.split", only=True)
    fractions = tuple(float(s[k]) for k in ("train", "val", "test"))
    if min(fractions) < 0 or fractions[0] <= 0 or abs(sum(fractions) - 1.0) > 1e-6:
        raise ConfigError(f"scenes.split: train, val and test must be >= 0 (train > 0) and sum to 1, got "
                          f"{fractions[0]:g}, {fractions[1]:g}, {fractions[2]:g}")
    if not isinstance(s["seed"], int) or isinstance(s["seed"], bool) or s["seed"] < 0:
        raise ConfigError(f"scenes.split.seed: must be a non-negative integer, got {s['seed']!r}")
    return fractions, int(s["seed"])


def stratified_split(labels: Sequence[int], classes: Sequence[str], fractions: Sequence[float],
                     seed: int) -> np.ndarray:
    """Split code per sample (int8: 0 train, 1 val, 2 test), drawn per class (see the module doc).

    ``labels[i]`` is the class index of sample ``i`` (samples of a class in file-name order),
    ``classes`` the class names (their CRC-32 seeds the class's draw with ``seed``).
    """
    labels = np.asarray(labels)
    out = np.zeros(labels.shape, np.int8)
    for k, name in enumerate(classes):
        idx = np.flatnonzero(labels == k)
        _, n_val, n_test = split_counts(idx.size, fractions)
        rng = np.random.default_rng(np.random.SeedSequence([int(seed), zlib.crc32(str(name).encode())]))
        order = idx[rng.permutation(idx.size)]
        out[order[:n_test]] = SPLITS.index("test")
        out[order[n_test:n_test + n_val]] = SPLITS.index("val")
    return out


# --------------------------------------------------------------------------------------------
# images


def resize_image(image: np.ndarray, size: int) -> np.ndarray:
    """``image`` ((H, W, 3) uint8) resized to ``(size, size, 3)`` uint8 with Pillow's bicubic filter.

    Antialiased when shrinking (the filter support grows with the scale factor); an image
    already ``size`` x ``size`` is returned unchanged.
    """
    from PIL import Image

    size = int(size)
    if image.shape[:2] == (size, size):
        return image
    resample = getattr(Image.Resampling, RESAMPLE)
    return np.asarray(Image.fromarray(image).resize((size, size), resample=resample))


def _load_chunk(paths: Sequence[Path], size: int) -> np.ndarray:
    out = np.empty((len(paths), size, size, 3), np.uint8)
    for i, path in enumerate(paths):
        out[i] = resize_image(read_image(path), size)
    return out


def _image_array(paths: Sequence[Path], size: int, chunk: int):
    """A dask array (sample, y, x, band) whose chunks read and resize ``chunk`` images each."""
    import dask
    import dask.array as da

    blocks = []
    for i in range(0, len(paths), chunk):
        part = list(paths[i:i + chunk])
        blocks.append(da.from_delayed(dask.delayed(_load_chunk, pure=True)(part, size),
                                      shape=(len(part), size, size, 3), dtype=np.uint8))
    return da.concatenate(blocks, axis=0)


# --------------------------------------------------------------------------------------------
# the store


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def native_size(sizes: Sequence[tuple[int, int]], largest: int) -> int:
    """The ``native`` image size of a dataset whose images are ``sizes`` ``(height, width)``: the
    most common short side (ties: the larger), at least :data:`MIN_NATIVE` and at most ``largest``
    px — a dataset of small scenes keeps its detail and costs no more than its pixels, one of large
    scenes (AID's 600 px) is shrunk to what the networks were trained at."""
    if not sizes:
        raise ValueError("native_size: no image sizes")
    counts = Counter(min(int(h), int(w)) for h, w in sizes)
    side = max(counts, key=lambda s: (counts[s], s))
    return int(min(max(side, MIN_NATIVE), int(largest)))


def build_store(name: str, root: str | os.PathLike, layout: str, output: str | os.PathLike,
                cfg: Mapping[str, Any]) -> Path:
    """Write the scene store of the dataset ``name`` unpacked at ``root`` to ``output``; returns ``output``.

    ``layout`` is one of :data:`eoml.scenes.readers.LAYOUTS`; ``cfg`` holds the validated
    ``scenes`` keys ``image_size`` (px), ``on_bad_file`` (``error`` | ``skip``) and ``split``
    (``train``, ``val``, ``test`` fractions, ``seed``); other keys are ignored and only these
    enter the store's config digest. Raises :class:`~eoml.core.errors.InputFileError` for bad
    input (see :func:`eoml.scenes.readers.scan_dataset`) and :class:`ConfigError` for bad settings.
    """
    c = required_keys(cfg, INGEST_KEYS, "scenes")
    size, largest = c["image_size"], c["max_image_size"]
    if size != NATIVE and not _positive_int(size):
        raise ConfigError(f"scenes.image_size: must be a positive integer (px) or {NATIVE!r}, got {size!r}")
    if not _positive_int(largest):
        raise ConfigError(f"scenes.max_image_size: must be a positive integer (px), got {largest!r}")
    fractions, seed = _split_settings(c["split"])
    config = {"image_size": size, "on_bad_file": str(c["on_bad_file"]),
              "split": {"train": fractions[0], "val": fractions[1], "test": fractions[2], "seed": seed}}
    if size == NATIVE:
        config["max_image_size"] = int(largest)

    listing = scan_dataset(root, layout, c["on_bad_file"])
    if size == NATIVE:
        size = native_size(listing.sizes, largest)
        log.info("%s: native image size %d px (images resized to %d x %d)", name, size, size, size)
    files = list(listing.files)
    labels = np.asarray(listing.labels, np.int16)
    split = stratified_split(labels, listing.classes, fractions, seed)
    chunk = max(1, min(len(files), CHUNK_BYTES // (size * size * 3)))

    def rel(path: Path) -> str:
        try:
            return listing.relative(path)
        except ValueError:
            return str(path)

    ds = xr.Dataset(
        {
            "image": (("sample", "y", "x", "band"), _image_array(files, size, chunk),
                      {"units": "1", "long_name": f"RGB digital numbers of the scene resized to {size} x {size} px "
                                                  f"(Pillow {RESAMPLE.lower()}, antialiased)"}),
            "label": (("sample",), labels, {"units": "1", "long_name": "class index (into class_name)"}),
            "source": (("sample",), np.array([rel(p) for p in files], dtype=object),
                       {"long_name": "image file, relative to the dataset root"}),
            "sha256": (("sample",), np.array([sha256_file(p) for p in files], dtype=object),
                       {"long_name": "SHA-256 digest of the image file"}),
            "split": (("sample",), split, {"units": "1", "long_name": "data split",
                                           "flag_values": np.arange(len(SPLITS), dtype=np.int8),
                                           "flag_meanings": " ".join(SPLITS)}),
        },
        coords={
            "band": ("band", np.array(BANDS, dtype=object), {"long_name": "colour band"}),
            "class_name": ("class", np.array(listing.classes, dtype=object),
                           {"long_name": "scene class (class folder name)"}),
        },
        attrs={
            "dataset": str(name), "layout": layout, "root": str(root), "class_root": str(listing.class_root),
            "image_size": size, "resample": f"Pillow {RESAMPLE.lower()} (antialiased when shrinking)",
            "split_seed": seed, "split_fractions": list(fractions), "n_skipped": len(listing.skipped),
            "skipped": [f"{rel(p)}: {reason}" for p, reason in listing.skipped],
        },
    )
    counts = {k: np.bincount(labels[split == code], minlength=len(listing.classes))
              for code, k in enumerate(SPLITS)}
    log.info("%s: %d images, %d classes; train %d, val %d, test %d; %d skipped", name, len(files),
             len(listing.classes), counts["train"].sum(), counts["val"].sum(), counts["test"].sum(),
             len(listing.skipped))
    return write_store(ds, output, sources=files, config=config,
                       chunks={"sample": chunk, "y": size, "x": size, "band": 3})
