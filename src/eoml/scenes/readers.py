"""Readers for scene-classification datasets as they are distributed: image folders, one per class.

A scene dataset is a folder of class folders, each holding the images of one class; the class
of an image is the name of its folder. The layouts (``scenes.datasets[].layout``) say where the
class folders are below the folder the archive was unpacked into (``root``), which image files
count, and whether all images have one size (the size of the distributed images is given):

==============  ====================================  ======================  ===============
layout          class folders (below ``root``)        image files             size
==============  ====================================  ======================  ===============
``ucmerced``    ``UCMerced_LandUse/Images/<class>/``  .tif .tiff              one (256 px)
``aid``         ``AID/<class>/``                      .jpg .jpeg              one (600 px)
``patternnet``  ``PatternNet/images/<class>/``        .jpg .jpeg              one (256 px)
``eurosat``     ``2750/<class>/``                     .jpg .jpeg              one (64 px)
``folder``      ``<class>/``                          .tif .tiff .jpg .jpeg   any (resized)
                                                      .png
==============  ====================================  ======================  ===============

``root`` may also point at any level of that path (``.../UCMerced_LandUse``,
``.../UCMerced_LandUse/Images``) or straight at a folder of class folders (e.g. EuroSAT unpacked
as ``EuroSAT_RGB/<class>/``): the first of ``root/<full path>``, ``root/<rest of the path>`` (when
``root`` ends with the path's first parts) and ``root`` itself that exists is used. Extensions
match case-insensitively (``.JPG``). Hidden files (``.DS_Store``, macOS ``._name`` resource
forks), sub-folders of class folders, files of other types and files lying beside the class
folders are not images of the dataset and are ignored (counted in a log message). File names are
used as they are (spaces, parentheses, non-ASCII letters); classes and files are sorted by
code point, so the order, and hence the class indices, do not depend on the file system.

Checks (:func:`scan_dataset` decodes every image once; :func:`read_image` applies them to one file):

* a file Pillow (or, for TIFFs Pillow cannot open, tifffile) cannot decode, or that is cut short;
* anything but 8-bit RGB: grey (1 band, also grey + alpha), 4 bands (RGBA with any transparency,
  CMYK, RGB + NIR), other bit depths (16-bit, float). Palette images are expanded to RGB, an
  RGBA/RGBX image whose fourth band is all 255 (opaque PNG exports) is read as its RGB bands, and
  a JPEG's EXIF orientation is applied (:func:`PIL.ImageOps.exif_transpose`), as image viewers do;
* mixed sizes in a one-size layout: the dataset's size is its most common image size (normally
  the distributed size; a resized copy of a dataset, or the demo's small UC Merced, has another
  one, which is logged) and each side of every image must be within :data:`SIZE_TOLERANCE`
  (10 %) of it. The tolerance lets through what the publishers ship: UC Merced holds a few dozen
  images a few pixels short of 256 (e.g. 256 x 247), and the store resizes every image to the
  model's input size anyway. ``folder`` datasets may mix sizes freely;
* an empty class folder (no image files).

``on_bad_file="error"`` (default of the schema) raises :class:`~eoml.core.errors.InputFileError`
at the first problem, naming the file (or class folder) and the problem. ``on_bad_file="skip"``
logs a warning naming the file and the reason, leaves the file out and records it in
:attr:`SceneListing.skipped`. A class left without images — an empty folder, or one whose every
file was skipped — is then itself skipped (logged, recorded with the folder as the path) and
takes no class index, so the model's classes are the classes that have images. Either way a
dataset needs at least two classes with images, otherwise :class:`InputFileError` names ``root``.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from eoml.core.errors import ConfigError, InputFileError

log = logging.getLogger(__name__)

__all__ = [
    "IMAGE_EXTENSIONS",
    "LAYOUTS",
    "ON_BAD_FILE",
    "SIZE_TOLERANCE",
    "Layout",
    "SceneListing",
    "class_root",
    "list_image_files",
    "read_image",
    "reference_size",
    "scan_dataset",
    "size_problem",
]

#: image file extensions the ``folder`` layout accepts (lower case, matched case-insensitively)
IMAGE_EXTENSIONS = (".jpeg", ".jpg", ".png", ".tif", ".tiff")
#: the values of ``scenes.on_bad_file``
ON_BAD_FILE = ("error", "skip")
#: relative tolerance on each side of a one-size dataset's image size (UC Merced: 231-281 px pass)
SIZE_TOLERANCE = 0.10


@dataclass(frozen=True)
class Layout:
    """How a distributed dataset is laid out.

    ``path``: the folders from the unpacked ``root`` down to the class folders; ``extensions``:
    the image files (lower case); ``size``: the square side in px of the distributed images
    (``None``: a dataset of any sizes).
    """

    name: str
    path: tuple[str, ...]
    extensions: tuple[str, ...]
    size: int | None


#: the supported layouts, by ``scenes.datasets[].layout``
LAYOUTS: dict[str, Layout] = {
    "ucmerced": Layout("ucmerced", ("UCMerced_LandUse", "Images"), (".tif", ".tiff"), 256),
    "aid": Layout("aid", ("AID",), (".jpg", ".jpeg"), 600),
    "patternnet": Layout("patternnet", ("PatternNet", "images"), (".jpg", ".jpeg"), 256),
    "eurosat": Layout("eurosat", ("2750",), (".jpg", ".jpeg"), 64),
    "folder": Layout("folder", (), IMAGE_EXTENSIONS, None),
}


@dataclass(frozen=True)
class SceneListing:
    """What :func:`scan_dataset` found: the checked images of a dataset and what it left out.

    ``classes`` are the class folder names (sorted; only classes with images); ``files[i]`` is an
    image of class ``classes[labels[i]]`` and ``sizes[i]`` its ``(height, width)`` in px as
    stored (files in class order, then by name); ``skipped`` holds ``(path, reason)`` of every file
    or class folder left out under ``on_bad_file="skip"`` (empty under ``"error"``).
    """

    root: Path
    class_root: Path
    layout: str
    classes: tuple[str, ...]
    files: tuple[Path, ...]
    labels: tuple[int, ...]
    sizes: tuple[tuple[int, int], ...]
    skipped: tuple[tuple[Path, str], ...]

    def counts(self) -> dict[str, int]:
        """Number of images per class, in class order."""
        n = Counter(self.labels)
        return {name: n[k] for k, name in enumerate(self.classes)}

    def relative(self, path: Path) -> str:
        """``path`` relative to :attr:`root`, with ``/`` separators (how stores name a file)."""
        return Path(path).relative_to(self.root).as_posix()


# --------------------------------------------------------------------------------------------
# listing


def _layout(layout: str) -> Layout:
    try:
        return LAYOUTS[layout]
    except (KeyError, TypeError):
        raise ConfigError(f"scenes.datasets: unknown layout {layout!r} (known: {', '.join(LAYOUTS)})") from None


def class_root(root: str | os.PathLike, layout: str) -> Path:
    """The folder holding the class folders of the dataset unpacked at ``root`` (see the module doc).

    Raises :class:`InputFileError` naming ``root`` when it is not a folder.
    """
    lay = _layout(layout)
    root = Path(root)
    if not root.is_dir():
        raise InputFileError(root, f"dataset root does not exist or is not a folder ({layout} layout expects "
                                   f"{'/'.join((*lay.path, '<class>'))} below it)")
    parts = lay.path
    for k in range(len(parts)):
        # root may already be the first k folders of the layout's path
        if k == 0 or (len(root.parts) >= k and tuple(root.parts[-k:]) == parts[:k]):
            candidate = root.joinpath(*parts[k:])
            if candidate.is_dir():
                return candidate
    return root


def _hidden(name: str) -> bool:
    return name.startswith(".")


def _class_folders(croot: Path) -> list[Path]:
    return sorted((p for p in croot.iterdir() if p.is_dir() and not _hidden(p.name)), key=lambda p: p.name)


def _images_of(folder: Path, lay: Layout) -> tuple[list[Path], int]:
    """The image files directly in ``folder`` (sorted by name) and the number of other entries."""
    images, other = [], 0
    for p in folder.iterdir():
        if _hidden(p.name):
            continue
        if p.is_file() and p.suffix.lower() in lay.extensions:
            images.append(p)
        else:
            other += 1
    return sorted(images, key=lambda p: p.name), other


def _listing(root: str | os.PathLike, layout: str) -> tuple[Path, list[tuple[Path, list[Path]]]]:
    """The class root and ``(class folder, its image files)`` of every class folder, sorted."""
    lay = _layout(layout)
    croot = class_root(root, layout)
    folders = _class_folders(croot)
    if not folders:
        raise InputFileError(croot, f"no class folders found (the {layout} layout expects "
                                    f"{'/'.join((*lay.path, '<class>', '<image>'))} below the dataset root)")
    out, ignored = [], 0
    for folder in folders:
        images, other = _images_of(folder, lay)
        out.append((folder, images))
        ignored += other
    if ignored:
        log.info("%s: ignored %d entries of class folders that are not %s image files", croot, ignored,
                 "/".join(lay.extensions))
    if not any(images for _, images in out):
        raise InputFileError(croot, f"no image files ({' '.join(lay.extensions)}) in any of its "
                                    f"{len(folders)} class folders")
    return croot, out


def list_image_files(root: str | os.PathLike, layout: str) -> list[Path]:
    """Every image file of the dataset at ``root`` (class by class, sorted), without opening any.

    Cheap (directory listings only): the workflow calls it when it is parsed, to declare the
    images as the inputs of the dataset's ingest job. Raises :class:`InputFileError` when
    ``root`` is missing, has no class folders or no image files at all, and
    :class:`~eoml.core.errors.ConfigError` for an unknown layout.
    """
    _, classes = _listing(root, layout)
    return [p for _, images in classes for p in images]


# --------------------------------------------------------------------------------------------
# reading one image


def _describe_mode(mode: str) -> str | None:
    """Why a Pillow mode is not RGB, or None when it converts to RGB without loss."""
    if mode in ("RGB", "P", "YCbCr", "RGBX", "RGBA", "PA"):
        return None
    if mode in ("1", "L", "LA", "La", "I", "F") or mode.startswith(("I;", "L;")):
        return f"grey image (Pillow mode {mode}, 1 band), expected RGB"
    if mode == "CMYK":
        return "4-band CMYK image, expected RGB"
    if mode.startswith(("RGB;", "BGR;")) or mode in ("RGBa",):
        return f"Pillow mode {mode}: expected 8-bit RGB"
    return f"Pillow mode {mode} ({len(mode)} bands?), expected 8-bit RGB"


def _pillow_bits(img) -> int:
    """Bits per sample of a file Pillow opened (Pillow reads 16-bit RGB TIFF/PNG as 8-bit RGB)."""
    if img.format == "TIFF":
        bits = img.tag_v2.get(258, (8,))
        return max(bits) if isinstance(bits, tuple) else int(bits)
    for tile in img.tile:
        args = tile.args if isinstance(tile.args, tuple) else (tile.args,)
        if args and isinstance(args[0], str) and ";16" in args[0]:
            return 16
    return 8


def _from_pillow(path: Path) -> np.ndarray:
    from PIL import Image, ImageOps

    with Image.open(path) as img:
        bits = _pillow_bits(img)  # from the header, before decoding
        img.load()  # decodes now: a truncated or corrupt file raises here
        samples = int(img.tag_v2.get(277, 1)) if img.format == "TIFF" else 0
        if samples > len(img.getbands()):  # Pillow reads RGB + extra bands as RGB, 4-band grey as L
            raise InputFileError(path, f"{samples}-band TIFF (SamplesPerPixel {samples}, Pillow mode {img.mode}), "
                                       "expected RGB")
        problem = _describe_mode(img.mode)
        if problem is not None:
            raise InputFileError(path, problem)
        if bits != 8:
            raise InputFileError(path, f"image has {bits} bits per sample, expected 8-bit RGB")
        if img.mode in ("P", "PA"):
            img = img.convert("RGBA")
        img = ImageOps.exif_transpose(img)
        if img.mode == "YCbCr":
            img = img.convert("RGB")
        arr = np.asarray(img)
    return _rgb(path, arr, f"Pillow mode {img.mode}")


def _from_tifffile(path: Path) -> np.ndarray:
    import tifffile

    with tifffile.TiffFile(path) as tif:
        page = tif.pages[0]
        arr = page.asarray()
        planar = getattr(page, "planarconfig", None)
    if arr.ndim == 3 and arr.shape[0] in (3, 4) and arr.shape[-1] not in (3, 4) and planar == 2:
        arr = np.moveaxis(arr, 0, -1)  # separate planes (band, y, x)
    if arr.dtype != np.uint8:
        raise InputFileError(path, f"image has {8 * arr.dtype.itemsize} bits per sample ({arr.dtype}), "
                                   "expected 8-bit RGB")
    if arr.ndim == 2 or (arr.ndim == 3 and arr.shape[-1] in (1, 2)):
        raise InputFileError(path, f"grey image ({arr.shape}, 1 band), expected RGB")
    return _rgb(path, arr, "TIFF")


def _rgb(path: Path, arr: np.ndarray, what: str) -> np.ndarray:
    """``arr`` as (H, W, 3) uint8; a 4th band must be an all-opaque alpha (or padding)."""
    if arr.ndim != 3 or arr.shape[-1] not in (3, 4):
        raise InputFileError(path, f"image of shape {arr.shape} ({what}), expected (height, width, 3) RGB")
    if arr.shape[-1] == 4:
        if not np.all(arr[..., 3] == 255):
            raise InputFileError(path, f"4-band image ({what}) whose 4th band is not an opaque alpha channel, "
                                       "expected RGB")
        arr = arr[..., :3]
    if arr.dtype != np.uint8:
        raise InputFileError(path, f"image has {8 * arr.dtype.itemsize} bits per sample ({arr.dtype}), "
                                   "expected 8-bit RGB")
    if arr.shape[0] < 1 or arr.shape[1] < 1:
        raise InputFileError(path, f"empty image ({arr.shape[1]} x {arr.shape[0]} px)")
    return np.ascontiguousarray(arr)


def read_image(path: str | os.PathLike) -> np.ndarray:
    """The image at ``path`` as an ``(height, width, 3)`` uint8 RGB array (digital numbers 0-255).

    Decoded with Pillow; TIFFs Pillow cannot open (e.g. unusual compressions or band layouts)
    with tifffile. Palette images are expanded to RGB, an opaque 4th band is dropped and EXIF
    orientation is applied (see the module doc). Raises :class:`InputFileError` naming the file
    for a missing, unreadable, corrupt or truncated file and for an image that is not 8-bit RGB
    (grey, 4 bands with data, 16-bit, ...).
    """
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        raise InputFileError(path, "image file does not exist")
    errors = (OSError, ValueError, SyntaxError, EOFError, UnidentifiedImageError, Image.DecompressionBombError)
    try:
        return _from_pillow(path)
    except InputFileError:
        raise
    except errors as exc:
        first = f"{type(exc).__name__}: {exc}"
    if path.suffix.lower() in (".tif", ".tiff"):
        try:
            return _from_tifffile(path)
        except InputFileError:
            raise
        except Exception as exc:  # noqa: BLE001 - tifffile raises many types for a broken file
            first = f"{first}; tifffile: {type(exc).__name__}: {exc}"
    raise InputFileError(path, f"cannot decode image ({first})")


def reference_size(sizes: Sequence[tuple[int, int]], layout: str) -> tuple[int, int] | None:
    """The ``(height, width)`` every image of a one-size dataset must have (within tolerance).

    The most common size among ``sizes`` (ties: the one nearest the layout's nominal size, then
    the larger); ``None`` for the ``folder`` layout (any sizes) or when ``sizes`` is empty. A
    reference other than the nominal size (a resized copy of a dataset, the demo's small UC
    Merced) is accepted and logged.
    """
    lay = _layout(layout)
    if lay.size is None or not sizes:
        return None
    counts = Counter((int(h), int(w)) for h, w in sizes)
    nominal = lay.size
    ref = max(counts, key=lambda hw: (counts[hw], -abs(hw[0] - nominal) - abs(hw[1] - nominal), hw))
    if ref != (nominal, nominal):
        log.info("%s layout: most images (%d of %d) are %d x %d px, not the %d x %d of the distributed "
                 "dataset; that size is used as the dataset's", layout, counts[ref], len(sizes), ref[1], ref[0],
                 nominal, nominal)
    return ref


def size_problem(size: tuple[int, int], reference: tuple[int, int] | None, layout: str) -> str | None:
    """Why an image of ``size`` ``(height, width)`` does not belong to a dataset of ``reference`` size.

    ``None`` when each side is within :data:`SIZE_TOLERANCE` of the reference's (or there is no
    reference: ``folder`` layout), else the message of the mixed-sizes error.
    """
    if reference is None:
        return None
    (h, w), (rh, rw) = size, reference
    if abs(h - rh) <= SIZE_TOLERANCE * rh and abs(w - rw) <= SIZE_TOLERANCE * rw:
        return None
    return (f"image is {w} x {h} px (width x height), but the images of this {layout} dataset are {rw} x {rh} "
            f"(each side within {SIZE_TOLERANCE:.0%} accepted): mixed sizes; use layout 'folder' for a dataset "
            "of mixed sizes")


# --------------------------------------------------------------------------------------------
# scanning a dataset


def scan_dataset(root: str | os.PathLike, layout: str, on_bad_file: str = "error") -> SceneListing:
    """List and check every image of the dataset unpacked at ``root`` (see the module doc).

    Every image is decoded once (:func:`read_image`); then, for layouts of one size, each image's
    size is compared with the dataset's (:func:`reference_size`, :func:`size_problem`).
    ``on_bad_file``: ``"error"`` raises :class:`InputFileError` at the first bad file (decoding
    problems first, in file order, then sizes) or empty class folder; ``"skip"`` logs a warning
    naming it and the reason and leaves it out (a class left without images is left out too).
    Raises :class:`InputFileError` naming ``root`` when fewer than two classes have images, and
    :class:`ConfigError` for an unknown layout or ``on_bad_file``.
    """
    if on_bad_file not in ON_BAD_FILE:
        raise ConfigError(f"scenes.on_bad_file: {on_bad_file!r} is not one of {', '.join(ON_BAD_FILE)}")
    skip = on_bad_file == "skip"
    root = Path(root)
    croot, folders = _listing(root, layout)
    skipped: list[tuple[Path, str]] = []

    def bad(path: Path, reason: str) -> None:
        if not skip:
            raise InputFileError(path, reason)
        log.warning("skipping %s: %s", path, reason)
        skipped.append((path, reason))

    # pass 1: decode every image
    decoded: list[tuple[Path, list[tuple[Path, tuple[int, int]]], int]] = []
    for folder, images in folders:
        if not images:
            bad(folder, f"empty class folder: no image files ({' '.join(_layout(layout).extensions)})")
            continue
        good = []
        for path in images:
            try:
                image = read_image(path)
            except InputFileError as exc:
                bad(path, exc.problem)
                continue
            good.append((path, (int(image.shape[0]), int(image.shape[1]))))
        decoded.append((folder, good, len(images)))
    # pass 2: one size per dataset where the layout promises one
    ref = reference_size([hw for _, good, _ in decoded for _, hw in good], layout)
    classes: list[str] = []
    files: list[Path] = []
    labels: list[int] = []
    sizes: list[tuple[int, int]] = []
    for folder, good, n_files in decoded:
        kept = []
        for path, hw in good:
            problem = size_problem(hw, ref, layout)
            if problem is not None:
                bad(path, problem)
                continue
            kept.append((path, hw))
        if not kept:
            bad(folder, f"class left without images: all {n_files} of its image files were skipped")
            continue
        label = len(classes)
        classes.append(folder.name)
        for path, hw in kept:
            files.append(path)
            labels.append(label)
            sizes.append(hw)
    if len(classes) < 2:
        raise InputFileError(root, f"a scene dataset needs at least two classes with images, found "
                                   f"{len(classes)} ({', '.join(classes) or 'none'}) in {croot}")
    listing = SceneListing(root=root, class_root=croot, layout=layout, classes=tuple(classes), files=tuple(files),
                           labels=tuple(labels), sizes=tuple(sizes), skipped=tuple(skipped))
    log.info("%s (%s): %d images in %d classes, %d skipped", root, layout, len(files), len(classes), len(skipped))
    return listing
