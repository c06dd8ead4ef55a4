"""Readers of the labelled cloud images: the Kaggle "Understanding Clouds" layout and expert labels.

Classes
-------
:data:`CLASSES` = ``("Fish", "Flower", "Gravel", "Sugar")`` (Kaggle's order; mask and label index
``k`` is ``CLASSES[k]``). Class names in files match case-insensitively (``sugar`` is ``Sugar``).

Kaggle run-length encoding (:func:`rle_decode`, :func:`rle_encode`)
-------------------------------------------------------------------
``EncodedPixels`` holds pairs ``start length``: ``start`` is a 1-indexed pixel number counted in
column-major (Fortran) order — down the first column (``y`` = 0 … h-1 at ``x`` = 0), then down the
second — and the run covers pixels ``start … start + length - 1``. Pixel ``(y, x)`` of an
``(h, w)`` image is number ``x·h + y + 1``: ``"1 3"`` marks ``(0, 0), (1, 0), (2, 0)``, and a run
may go on from the bottom of one column to the top of the next. The common off-by-one (0-indexed
starts, or row-major order) shifts every mask by one pixel or transposes it: the tests pin both
against a hand-written example. An empty string, whitespace, ``None`` or NaN is an empty mask.
Malformed encodings raise :class:`ValueError` with the reason: an odd number of values,
a value that is not a whole number, a start < 1 or a length < 1, runs not sorted or overlapping
(touching runs are accepted), a run past the image end.

Kaggle layout (:func:`read_kaggle`)
-----------------------------------
``train_images/<id>.jpg`` and ``train.csv`` with columns ``Image_Label`` (``<id>.jpg_<Class>``)
and ``EncodedPixels`` (other columns are ignored). Kaggle's file has four rows per image, one per
class, an empty ``EncodedPixels`` for an absent class; a class with no row is empty too. The
listing holds every image named in the csv with its four encodings, plus every ``.jpg``/``.jpeg``
file of the image folder the csv does not name (``labelled`` False: unlabelled tiles). Rows are
counted from 1 after the header ("row 3 (line 4)"); blank lines are ignored. Every image is
decoded once (a truncated or corrupt JPEG is found here, not in a later job), its size
``(height, width)`` taken from the file, and every encoding checked against that size.

Problems: an unreadable csv or missing column; a row whose ``Image_Label`` is not
``<file name>_<class>``; an unknown class; a second row of one image and class; a malformed
encoding (checked against the image size); a label for an image that is not in the folder; an
image Pillow cannot decode or that is not 8-bit RGB. ``on_bad_file="error"`` raises
:class:`~eoml.core.errors.InputFileError` at the first one, naming the csv and the row (or the
image file). ``on_bad_file="skip"`` logs a warning naming the same and leaves the image out of the
listing (a bad row makes all labels of its image untrustworthy: the image is not listed, not even
as unlabelled); the reasons are in ``skipped``.

Expert labels (:func:`read_expert`)
-----------------------------------
One label per image, either as class folders ``<root>/<Class>/*.jpg|*.jpeg|*.png`` or as a CSV
with columns ``image`` (a path relative to ``root``, or absolute) and ``label``. The same checks
and ``on_bad_file`` rules apply (an unknown class folder, an unknown label, an image listed
twice, a missing or unreadable image).

Images are read as stored (no EXIF rotation): Kaggle's run-length pixels refer to the stored pixel
grid. Hidden files (``.name``) are ignored; files are sorted by code point.
"""

from __future__ import annotations

import logging
import math
import os
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

from eoml.core.errors import ConfigError, InputFileError

log = logging.getLogger(__name__)

__all__ = [
    "CLASSES",
    "EXPERT_COLUMNS",
    "EXPERT_EXTENSIONS",
    "KAGGLE_COLUMNS",
    "KAGGLE_EXTENSIONS",
    "ON_BAD_FILE",
    "ExpertListing",
    "KaggleListing",
    "Rectangle",
    "class_index",
    "label_rectangles",
    "read_expert",
    "read_kaggle",
    "read_masks",
    "read_rgb",
    "rle_decode",
    "rle_encode",
]

#: the four patterns of Stevens et al. (2020) / Rasp et al. (2020), in Kaggle's order
CLASSES: tuple[str, ...] = ("Fish", "Flower", "Gravel", "Sugar")
#: the values of ``on_bad_file``
ON_BAD_FILE = ("error", "skip")
#: image files of a Kaggle image folder (lower case; matched case-insensitively)
KAGGLE_EXTENSIONS = (".jpg", ".jpeg")
#: image files of an expert class folder
EXPERT_EXTENSIONS = (".jpg", ".jpeg", ".png")
#: the csv columns of the Kaggle layout and of an expert label csv
KAGGLE_COLUMNS = ("Image_Label", "EncodedPixels")
EXPERT_COLUMNS = ("image", "label")


def class_index(name: str) -> int | None:
    """Index of class ``name`` in :data:`CLASSES` (case-insensitive), ``None`` for an unknown name."""
    lower = [c.lower() for c in CLASSES]
    try:
        return lower.index(str(name).strip().lower())
    except ValueError:
        return None


def _known() -> str:
    return ", ".join(CLASSES)


# --------------------------------------------------------------------------------------------
# run-length encoding


def _empty_rle(rle: object) -> bool:
    if rle is None:
        return True
    if isinstance(rle, float | np.floating) and math.isnan(rle):
        return True
    return isinstance(rle, str) and not rle.strip()


def _shape2(shape: Sequence[int]) -> tuple[int, int]:
    try:
        h, w = (int(v) for v in shape)
    except (TypeError, ValueError):
        raise ValueError(f"image shape must be (height, width), got {shape!r}") from None
    if h < 1 or w < 1:
        raise ValueError(f"image shape must be positive, got {h} x {w} (height x width)")
    return h, w


def _first(condition: np.ndarray) -> int | None:
    """Index of the first True of ``condition``, ``None`` when there is none."""
    hits = np.flatnonzero(condition)
    return int(hits[0]) if hits.size else None


def _parse_rle(rle: object, n_pixels: int) -> tuple[np.ndarray, np.ndarray]:
    """0-indexed column-major starts and lengths of the runs of ``rle`` (checked, see the module doc)."""
    empty = np.zeros(0, np.int64)
    if _empty_rle(rle):
        return empty, empty
    if not isinstance(rle, str):
        raise TypeError(f"run-length encoding must be a string of numbers, got {type(rle).__name__} {rle!r}")
    tokens = rle.split()
    for t in tokens:
        if not (t.isascii() and t.isdigit()):
            raise ValueError(f"{t!r} is not a whole number (expected pairs 'start length')")
    if len(tokens) % 2:
        raise ValueError(f"odd number of values ({len(tokens)}): expected pairs 'start length'")
    try:
        values = np.array(tokens).astype(np.int64)
    except (OverflowError, ValueError):
        raise ValueError(f"a value is too large for an image of {n_pixels} pixels") from None
    starts, lengths = values[0::2], values[1::2]
    k = _first(starts < 1)
    if k is not None:
        raise ValueError(f"run {k + 1}: start {starts[k]} < 1 (starts are 1-indexed)")
    k = _first(lengths < 1)
    if k is not None:
        raise ValueError(f"run {k + 1}: length {lengths[k]} < 1")
    last = starts + lengths - 1  # 1-indexed last pixel of each run
    k = _first(last > n_pixels)
    if k is not None:
        raise ValueError(f"run {k + 1} (pixels {starts[k]} to {last[k]}) goes past the image end "
                         f"({n_pixels} pixels)")
    k = _first(starts[1:] <= last[:-1])
    if k is not None:
        raise ValueError(f"run {k + 2} (start {starts[k + 1]}) is not after run {k + 1} (pixels {starts[k]} to "
                         f"{last[k]}): runs must be sorted and must not overlap")
    return starts - 1, lengths


def rle_decode(rle: str | float | None, shape: Sequence[int]) -> np.ndarray:
    """The bool mask ``(height, width)`` of Kaggle run-length pairs ``rle`` (see the module doc).

    ``shape`` is the image's ``(height, width)``; ``rle`` an ``EncodedPixels`` string (1-indexed
    starts, column-major); empty string, ``None`` or NaN give an all-False mask. Raises
    :class:`ValueError` with the reason for a malformed encoding (the caller names the file), and
    :class:`TypeError` when ``rle`` is neither a string nor empty.
    """
    h, w = _shape2(shape)
    starts, lengths = _parse_rle(rle, h * w)
    flat = np.zeros(h * w, dtype=bool)
    for s, n in zip(starts.tolist(), lengths.tolist(), strict=True):
        flat[s:s + n] = True
    return flat.reshape((h, w), order="F")


def rle_encode(mask: np.ndarray) -> str:
    """Kaggle run-length pairs of a 2-D mask (bool, or 0/1 numbers): the inverse of :func:`rle_decode`.

    Runs are maximal (no two runs touch), starts 1-indexed in column-major order; an all-False
    mask gives ``""`` (Kaggle's empty ``EncodedPixels``).
    """
    m = np.asarray(mask)
    if m.ndim != 2:
        raise ValueError(f"mask must be 2-D (height, width), got shape {m.shape}")
    if m.dtype != bool:
        if not np.isin(m, (0, 1)).all():
            raise ValueError(f"mask of {m.dtype} holds values other than 0 and 1")
        m = m.astype(bool)
    flat = np.concatenate(([False], m.ravel(order="F"), [False]))
    # position (1-indexed pixel number) where a run starts and where the pixel after it lies
    edges = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    starts, after = edges[0::2], edges[1::2]
    pairs = np.column_stack((starts, after - starts)).ravel()
    return " ".join(str(v) for v in pairs.tolist())


# --------------------------------------------------------------------------------------------
# images


def read_rgb(path: str | os.PathLike) -> np.ndarray:
    """The image at ``path`` as ``(height, width, 3)`` uint8 RGB, pixels as stored (no EXIF rotation).

    Palette images are expanded and an opaque alpha band dropped. Raises :class:`InputFileError`
    naming the file when it is missing, cannot be decoded (corrupt, truncated) or is not 8-bit RGB
    (grey, CMYK, transparent, 16-bit).
    """
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        raise InputFileError(path, "image file does not exist")
    errors = (OSError, ValueError, SyntaxError, EOFError, UnidentifiedImageError, Image.DecompressionBombError)
    try:
        with Image.open(path) as img:
            img.load()  # decodes now: a truncated or corrupt file raises here
            mode = img.mode
            if mode in ("P", "PA"):
                img = img.convert("RGBA")
            elif mode == "YCbCr":
                img = img.convert("RGB")
            arr = np.asarray(img)
    except errors as exc:
        raise InputFileError(path, f"cannot decode image ({type(exc).__name__}: {exc})") from None
    if arr.dtype != np.uint8:
        raise InputFileError(path, f"image is {arr.dtype} (Pillow mode {mode}), expected 8-bit RGB")
    if arr.ndim != 3 or arr.shape[-1] not in (3, 4) or mode in ("CMYK", "LAB", "HSV"):
        raise InputFileError(path, f"image of shape {arr.shape} (Pillow mode {mode}), expected 8-bit RGB")
    if arr.shape[-1] == 4:
        if not np.all(arr[..., 3] == 255):
            raise InputFileError(path, f"image has a transparent alpha band (Pillow mode {mode}), expected RGB")
        arr = arr[..., :3]
    return np.ascontiguousarray(arr)


def _image_size(path: Path) -> tuple[int, int]:
    """``(height, width)`` of the image at ``path`` after decoding it all (:func:`read_rgb`'s checks)."""
    arr = read_rgb(path)
    return int(arr.shape[0]), int(arr.shape[1])


# --------------------------------------------------------------------------------------------
# shared helpers of the listings


def _check_on_bad_file(on_bad_file: str) -> bool:
    if on_bad_file not in ON_BAD_FILE:
        raise ConfigError(f"on_bad_file: {on_bad_file!r} is not one of {', '.join(ON_BAD_FILE)}")
    return on_bad_file == "skip"


def _reporter(skip: bool, skipped: list[tuple[Path, str]]) -> Callable[[str | os.PathLike, str], None]:
    """``bad(path, problem)``: raise :class:`InputFileError` or, when skipping, log and record it."""

    def bad(path: str | os.PathLike, problem: str) -> None:
        if not skip:
            raise InputFileError(path, problem)
        log.warning("skipping: %s: %s", path, problem)
        skipped.append((Path(path), problem))

    return bad


def _read_table(path: Path, columns: Sequence[str]):
    """The csv at ``path`` as strings (empty cells ``""``, blank lines kept as empty rows)."""
    import pandas as pd

    if not path.is_file():
        raise InputFileError(path, "labels file does not exist")
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False, skip_blank_lines=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError, OSError) as exc:
        raise InputFileError(path, f"cannot read as CSV ({type(exc).__name__}: {exc})") from None
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise InputFileError(path, f"missing column(s) {', '.join(missing)} (found: {', '.join(map(str, table.columns))}"
                                   f"; expected {','.join(columns)})")
    return table.fillna("")  # blank lines are rows of missing values


def _row(k: int) -> str:
    """How messages name data row ``k`` (0-based) of a csv with one header line."""
    return f"row {k + 1} (line {k + 2})"


def _hidden(name: str) -> bool:
    return name.startswith(".")


def _images_in(folder: Path, extensions: Sequence[str]) -> list[Path]:
    return sorted((p for p in folder.iterdir()
                   if not _hidden(p.name) and p.is_file() and p.suffix.lower() in extensions),
                  key=lambda p: p.name)


# --------------------------------------------------------------------------------------------
# Kaggle "Understanding Clouds" layout


@dataclass(frozen=True)
class KaggleListing:
    """What :func:`read_kaggle` found (see the module doc).

    Image ``i``: file ``files[i]`` (in ``images_dir``), id ``ids[i]`` (its file name without the
    extension, Kaggle's ``<id>``), size ``sizes[i]`` = ``(height, width)`` in px, ``rles[i][k]``
    the ``EncodedPixels`` of class ``CLASSES[k]`` (checked; ``""`` when empty or without a row),
    ``labelled[i]`` whether the csv has rows for it (False: an unlabelled image of the folder).
    Images are sorted by file name. ``skipped`` holds ``(path, reason)`` of what
    ``on_bad_file="skip"`` left out (the csv for a bad row, the image for a bad image).
    """

    images_dir: Path
    labels_csv: Path
    ids: tuple[str, ...]
    files: tuple[Path, ...]
    sizes: tuple[tuple[int, int], ...]
    rles: tuple[tuple[str, ...], ...]
    labelled: tuple[bool, ...]
    skipped: tuple[tuple[Path, str], ...]
    classes: tuple[str, ...] = CLASSES

    def __len__(self) -> int:
        return len(self.files)

    def counts(self) -> dict[str, int]:
        """Number of images with a non-empty mask of each class, in class order."""
        return {name: sum(1 for r in self.rles if r[k]) for k, name in enumerate(self.classes)}


def read_kaggle(images_dir: str | os.PathLike, labels_csv: str | os.PathLike,
                on_bad_file: str = "error") -> KaggleListing:
    """List and check a Kaggle "Understanding Clouds" image folder and its ``train.csv``.

    See the module doc for the layout, the checks and ``on_bad_file`` (``"error"`` raises
    :class:`InputFileError` naming the csv and row, or the image; ``"skip"`` logs and leaves the
    image out). Raises :class:`InputFileError` naming ``images_dir`` when it is not a folder or no
    image is left, and :class:`~eoml.core.errors.ConfigError` for another ``on_bad_file``.
    """
    skip = _check_on_bad_file(on_bad_file)
    images_dir, labels_csv = Path(images_dir), Path(labels_csv)
    if not images_dir.is_dir():
        raise InputFileError(images_dir, "image folder does not exist or is not a folder "
                                         "(the Kaggle layout has train_images/<id>.jpg)")
    table = _read_table(labels_csv, KAGGLE_COLUMNS)
    skipped: list[tuple[Path, str]] = []
    bad = _reporter(skip, skipped)

    # the csv's rows by image name, then class: (row, label, encoding)
    rows: dict[str, dict[int, tuple[int, str, str]]] = {}
    bad_images: set[str] = set()
    for k, (label, rle) in enumerate(zip(table["Image_Label"], table["EncodedPixels"], strict=True)):
        if not label.strip() and not rle.strip():
            continue  # blank line
        name, sep, cls = label.strip().rpartition("_")
        if not sep or not name or Path(name).name != name or name in (".", ".."):
            bad(labels_csv, f"{_row(k)}: Image_Label {label!r} is not '<image file>_<class>' "
                            f"(e.g. '0011165.jpg_Fish')")
            continue
        c = class_index(cls)
        if c is None:
            bad(labels_csv, f"{_row(k)}: unknown class {cls!r} in Image_Label {label!r} (known: {_known()})")
            bad_images.add(name)
            continue
        first = rows.setdefault(name, {}).get(c)
        if first is not None:
            bad(labels_csv, f"{_row(k)}: a second {CLASSES[c]} label for image {name} "
                            f"(the first is in {_row(first[0])})")
            bad_images.add(name)
            continue
        rows[name][c] = (k, label, rle.strip())

    for name in sorted(rows):
        if name not in bad_images and not (images_dir / name).is_file():
            k = min(r[0] for r in rows[name].values())
            bad(labels_csv, f"{_row(k)}: label for image {name}, but {images_dir / name} does not exist")
            bad_images.add(name)

    folder = {p.name for p in _images_in(images_dir, KAGGLE_EXTENSIONS)}
    ids: list[str] = []
    files: list[Path] = []
    sizes: list[tuple[int, int]] = []
    rles: list[tuple[str, ...]] = []
    labelled: list[bool] = []
    seen: dict[str, str] = {}
    for name in sorted((set(rows) | folder) - bad_images):
        path = images_dir / name
        try:
            h, w = _image_size(path)
        except InputFileError as exc:
            bad(exc.path, exc.problem)
            continue
        ok = True
        for c, (k, label, rle) in sorted(rows.get(name, {}).items()):
            try:
                _parse_rle(rle, h * w)
            except ValueError as exc:
                bad(labels_csv, f"{_row(k)}: EncodedPixels of {label} for the {w} x {h} px image {name} "
                                f"(width x height): {exc}")
                ok = False
                break
        if not ok:
            continue
        image_id = Path(name).stem
        if image_id in seen:
            bad(path, f"two images with id {image_id!r} ({seen[image_id]} and {name})")
            continue
        seen[image_id] = name
        per_class = rows.get(name, {})
        ids.append(image_id)
        files.append(path)
        sizes.append((h, w))
        rles.append(tuple(per_class[c][2] if c in per_class else "" for c in range(len(CLASSES))))
        labelled.append(name in rows)
    if not files:
        raise InputFileError(images_dir, f"no usable images (labels: {labels_csv}; {len(skipped)} problems skipped)")
    listing = KaggleListing(images_dir=images_dir, labels_csv=labels_csv, ids=tuple(ids), files=tuple(files),
                            sizes=tuple(sizes), rles=tuple(rles), labelled=tuple(labelled), skipped=tuple(skipped))
    log.info("%s + %s: %d images (%d labelled; images per class %s), %d skipped", images_dir, labels_csv.name,
             len(files), sum(labelled), listing.counts(), len(skipped))
    return listing


def read_masks(listing: KaggleListing, i: int, shape: Sequence[int] | None = None) -> np.ndarray:
    """The masks of image ``i`` of ``listing`` as bool ``(class, y, x)`` (class order :data:`CLASSES`).

    Decoded at the image's size; ``shape`` = ``(height, width)`` resamples them by nearest
    neighbour (Pillow) to another grid, e.g. that of a resized image. An unlabelled image has
    all-False masks (see ``listing.labelled``).
    """
    from PIL import Image

    h, w = listing.sizes[i]
    masks = np.zeros((len(CLASSES), h, w), dtype=bool)
    for c, rle in enumerate(listing.rles[i]):
        try:
            masks[c] = rle_decode(rle, (h, w))
        except ValueError as exc:
            raise InputFileError(listing.labels_csv, f"EncodedPixels of {listing.files[i].name}_{CLASSES[c]}: "
                                                     f"{exc}") from None
    if shape is None:
        return masks
    th, tw = _shape2(shape)
    if (th, tw) == (h, w):
        return masks
    out = np.zeros((len(CLASSES), th, tw), dtype=bool)
    for c in range(len(CLASSES)):
        img = Image.fromarray(masks[c].astype(np.uint8)).resize((tw, th), Image.Resampling.NEAREST)
        out[c] = np.asarray(img).astype(bool)
    return out


class Rectangle(NamedTuple):
    """A labelled region's bounding rectangle: ``mask[class_index, y0:y1, x0:x1]`` (ends exclusive)."""

    class_index: int
    y0: int
    y1: int
    x0: int
    x1: int


def label_rectangles(mask: np.ndarray, connectivity: int = 1) -> list[Rectangle]:
    """The bounding rectangle of every connected region of every class of ``mask`` ``(class, y, x)``.

    Kaggle's labels are rectangles drawn by several people; overlapping ones merge into one
    region that need not be rectangular, and each region gives its bounding box. Regions are
    :func:`scipy.ndimage.label` components (``connectivity`` 1: pixels sharing an edge, 2: also a
    corner); the list is in class order, then in the order scipy numbers the regions (raster
    order of their first pixel).
    """
    from scipy import ndimage

    m = np.asarray(mask)
    if m.ndim != 3:
        raise ValueError(f"mask must be (class, y, x), got shape {m.shape}")
    if connectivity not in (1, 2):
        raise ValueError(f"connectivity must be 1 or 2, got {connectivity!r}")
    structure = ndimage.generate_binary_structure(2, connectivity)
    out: list[Rectangle] = []
    for c in range(m.shape[0]):
        labels, _ = ndimage.label(m[c].astype(bool), structure=structure)
        for sl in ndimage.find_objects(labels):
            out.append(Rectangle(c, int(sl[0].start), int(sl[0].stop), int(sl[1].start), int(sl[1].stop)))
    return out


# --------------------------------------------------------------------------------------------
# expert labels


@dataclass(frozen=True)
class ExpertListing:
    """What :func:`read_expert` found: one label per image.

    Image ``i``: file ``files[i]``, id ``ids[i]`` (its path relative to ``root``, ``/``
    separators), label ``labels[i]`` (index into :data:`CLASSES`), size ``sizes[i]`` =
    ``(height, width)``. ``source`` is the label csv, or ``root`` for class folders. Images are in
    class order, then by name (class folders), or in csv order. ``skipped``: ``(path, reason)`` of
    what ``on_bad_file="skip"`` left out.
    """

    root: Path
    source: Path
    ids: tuple[str, ...]
    files: tuple[Path, ...]
    labels: tuple[int, ...]
    sizes: tuple[tuple[int, int], ...]
    skipped: tuple[tuple[Path, str], ...]
    classes: tuple[str, ...] = CLASSES

    def __len__(self) -> int:
        return len(self.files)

    def counts(self) -> dict[str, int]:
        """Number of images per class, in class order."""
        n = Counter(self.labels)
        return {name: n[k] for k, name in enumerate(self.classes)}


def _expert_from_folders(root: Path, bad) -> list[tuple[Path, int]]:
    """``(image, class index)`` of the class folders below ``root``, in class order then by name."""
    entries: list[tuple[Path, int]] = []
    folders = sorted((p for p in root.iterdir() if p.is_dir() and not _hidden(p.name)), key=lambda p: p.name)
    if not folders:
        raise InputFileError(root, f"no class folders (expected <root>/<class>/<image> with classes {_known()}, "
                                   "or a labels csv)")
    by_class: list[tuple[int, Path]] = []
    for folder in folders:
        c = class_index(folder.name)
        if c is None:
            bad(folder, f"unknown class folder {folder.name!r} (known: {_known()})")
            continue
        by_class.append((c, folder))
    for c, folder in sorted(by_class, key=lambda cf: (cf[0], cf[1].name)):
        images = _images_in(folder, EXPERT_EXTENSIONS)
        if not images:
            log.info("%s: no image files (%s)", folder, " ".join(EXPERT_EXTENSIONS))
        entries.extend((p, c) for p in images)
    return entries


def _expert_from_csv(root: Path, csv: Path, bad) -> list[tuple[Path, int]]:
    """``(image, class index)`` of the rows of ``csv`` (images relative to ``root``), in row order."""
    table = _read_table(csv, EXPERT_COLUMNS)
    entries: list[tuple[Path, int]] = []
    first: dict[Path, int] = {}
    bad_paths: set[Path] = set()
    for k, (image, label) in enumerate(zip(table["image"], table["label"], strict=True)):
        image, label = image.strip(), label.strip()
        if not image and not label:
            continue  # blank line
        if not image:
            bad(csv, f"{_row(k)}: empty image name (label {label!r})")
            continue
        path = root / image  # an absolute image path stays as it is
        c = class_index(label)
        if c is None:
            bad(csv, f"{_row(k)}: unknown label {label!r} for image {image} (known: {_known()})")
            bad_paths.add(path)
            continue
        if path in first:
            bad(csv, f"{_row(k)}: image {image} is listed again (first in {_row(first[path])}); one label per image")
            bad_paths.add(path)
            continue
        first[path] = k
        if not path.is_file():
            bad(csv, f"{_row(k)}: label for image {image}, but {path} does not exist")
            bad_paths.add(path)
            continue
        entries.append((path, c))
    return [e for e in entries if e[0] not in bad_paths]


def read_expert(root: str | os.PathLike, csv: str | os.PathLike | None = None,
                on_bad_file: str = "error") -> ExpertListing:
    """List and check expert-labelled images: class folders below ``root``, or the csv ``csv``.

    See the module doc. Every image is decoded once. ``on_bad_file="error"`` raises
    :class:`InputFileError` naming the csv and row, the folder or the image; ``"skip"`` logs
    and leaves the image (or unknown class folder) out. Raises :class:`InputFileError` naming
    ``root`` when it is not a folder or no image is left.
    """
    skip = _check_on_bad_file(on_bad_file)
    root = Path(root)
    if not root.is_dir():
        raise InputFileError(root, "expert-label root does not exist or is not a folder")
    skipped: list[tuple[Path, str]] = []
    bad = _reporter(skip, skipped)
    source = root if csv is None else Path(csv)
    entries = _expert_from_folders(root, bad) if csv is None else _expert_from_csv(root, source, bad)
    ids, files, labels, sizes = [], [], [], []
    for path, c in entries:
        try:
            hw = _image_size(path)
        except InputFileError as exc:
            bad(exc.path, exc.problem)
            continue
        try:
            image_id = path.relative_to(root).as_posix()
        except ValueError:  # an absolute path outside root
            image_id = path.as_posix()
        ids.append(image_id)
        files.append(path)
        labels.append(c)
        sizes.append(hw)
    if not files:
        raise InputFileError(root, f"no usable labelled images (labels from {source}; {len(skipped)} problems "
                                   "skipped)")
    listing = ExpertListing(root=root, source=source, ids=tuple(ids), files=tuple(files), labels=tuple(labels),
                            sizes=tuple(sizes), skipped=tuple(skipped))
    log.info("%s: %d expert-labelled images %s, %d skipped", source, len(files), listing.counts(), len(skipped))
    return listing
