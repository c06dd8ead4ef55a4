"""Readers of image-folder scene datasets (eoml.scenes.readers) on real trees of TIFF, JPEG and PNG files."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image

from eoml.core.errors import ConfigError, InputFileError
from eoml.scenes import readers
from eoml.scenes.readers import (
    class_root,
    list_image_files,
    read_image,
    reference_size,
    scan_dataset,
    size_problem,
)


def _rgb(h: int, w: int, value: int) -> np.ndarray:
    """An RGB image whose red band holds ``value`` and green/blue a gradient (so it is not flat)."""
    img = np.zeros((h, w, 3), np.uint8)
    img[..., 0] = value
    img[..., 1] = np.arange(w, dtype=np.uint8)[None, :]
    img[..., 2] = np.arange(h, dtype=np.uint8)[:, None]
    return img


def _save(path: Path, img: np.ndarray, **kw) -> Path:
    """Save ``img`` with Pillow (mode from the array: L, RGB or RGBA; format from the suffix)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(img).save(path, **kw)
    return path


def _png(width: int, height: int, bits: int, colour_type: int, idat: bytes) -> bytes:
    """A minimal PNG file from its IHDR fields and compressed image data (Pillow writes no 16-bit RGB)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, bits, colour_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def _folder_tree(root: Path) -> dict[str, list[str]]:
    """A ``folder`` dataset with odd names and all three formats; returns class -> file names."""
    files = {
        "a class (1)": ["img (1).png", "img 2.tif", "Zeta.JPG"],
        "forêt": ["café.jpg", "naïve scène.tiff", "x.jpeg"],
        "water": ["w1.png", "w2.png", "w3.tif"],
    }
    for k, (cls, names) in enumerate(files.items()):
        for i, name in enumerate(names):
            kw = {"quality": 95} if name.lower().endswith((".jpg", ".jpeg")) else {}
            _save(root / cls / name, _rgb(40 + i, 50, 60 * k + 10), **kw)
    # not images of the dataset: hidden files, other types, sub-folders, files beside the classes
    (root / "forêt" / ".DS_Store").write_bytes(b"\0\0\1")
    (root / "forêt" / "._café.jpg").write_bytes(b"resource fork")
    (root / "water" / "notes.txt").write_text("not an image")
    (root / "water" / "thumbs").mkdir()
    _save(root / "water" / "thumbs" / "t.png", _rgb(8, 8, 0))
    (root / "README.txt").write_text("dataset")
    (root / ".hidden_class").mkdir()
    _save(root / ".hidden_class" / "h.png", _rgb(8, 8, 0))
    return files


def test_list_image_files_sorted_with_odd_names(tmp_path):
    files = _folder_tree(tmp_path)
    listed = list_image_files(tmp_path, "folder")
    expected = [tmp_path / cls / name for cls in sorted(files) for name in sorted(files[cls])]
    assert listed == expected
    assert all(p.is_file() for p in listed)
    # ucmerced layout: only TIFFs count
    assert list_image_files(tmp_path, "ucmerced") == [p for p in expected if p.suffix.lower() in (".tif", ".tiff")]


def test_scan_labels_classes_and_sizes(tmp_path):
    files = _folder_tree(tmp_path)
    listing = scan_dataset(tmp_path, "folder")
    assert listing.classes == ("a class (1)", "forêt", "water")
    assert listing.counts() == {"a class (1)": 3, "forêt": 3, "water": 3}
    assert listing.skipped == ()
    for path, label in zip(listing.files, listing.labels):
        assert path.parent.name == listing.classes[label]
        img = read_image(path)
        assert img.dtype == np.uint8 and img.shape[2] == 3
        # the red band tells the class (JPEG is lossy: within a few DN)
        assert abs(int(img[..., 0].mean()) - (60 * sorted(files).index(path.parent.name) + 10)) <= 3
    assert set(listing.sizes) == {(40, 50), (41, 50), (42, 50)}  # mixed sizes pass in a folder dataset
    assert listing.relative(listing.files[0]) == "a class (1)/Zeta.JPG"  # code-point order: Z < i


def test_read_image_formats_exact(tmp_path):
    img = _rgb(30, 20, 99)
    for name in ("a.png", "a.tif", "a.tiff"):
        assert np.array_equal(read_image(_save(tmp_path / name, img)), img)
    # palette PNG is expanded to RGB; an opaque RGBA PNG is read as its RGB bands
    pal = Image.fromarray(img).convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    pal.save(tmp_path / "p.png")
    assert np.array_equal(read_image(tmp_path / "p.png"), np.asarray(pal.convert("RGB")))
    rgba = np.concatenate([img, np.full((30, 20, 1), 255, np.uint8)], axis=2)
    assert np.array_equal(read_image(_save(tmp_path / "opaque.png", rgba)), img)


def test_tiff_that_pillow_cannot_open_is_read_with_tifffile(tmp_path, monkeypatch):
    img = _rgb(30, 20, 99)
    tifffile.imwrite(tmp_path / "planar.tif", np.moveaxis(img, 2, 0), planarconfig="separate", photometric="rgb")
    assert np.array_equal(read_image(tmp_path / "planar.tif"), img)

    def pillow_fails(path):
        raise OSError("unsupported TIFF layout")

    monkeypatch.setattr(readers, "_from_pillow", pillow_fails)
    assert np.array_equal(read_image(tmp_path / "planar.tif"), img)
    (tmp_path / "junk.tif").write_bytes(b"MM\0*junk")
    with pytest.raises(InputFileError) as exc:
        read_image(tmp_path / "junk.tif")
    assert str(exc.value).startswith(f"{tmp_path / 'junk.tif'}: cannot decode image (OSError: unsupported TIFF "
                                     "layout; tifffile: ")


@pytest.mark.parametrize("kind, message", [
    ("grey", "grey image (Pillow mode L, 1 band), expected RGB"),
    ("rgba", "4-band image (Pillow mode RGBA) whose 4th band is not an opaque alpha channel, expected RGB"),
    ("cmyk", "4-band CMYK image, expected RGB"),
    ("uint16", "image has 16 bits per sample"),
    ("png16", "image has 16 bits per sample"),
    ("rgbn", "4-band TIFF (SamplesPerPixel 4, Pillow mode RGB), expected RGB"),
    ("minisblack4", "4-band image (TIFF) whose 4th band is not an opaque alpha channel, expected RGB"),
    ("corrupt", "cannot decode image (UnidentifiedImageError"),
    ("truncated", "cannot decode image (OSError: Truncated File Read)"),
    ("empty", "cannot decode image"),
])
@pytest.mark.filterwarnings("ignore:Corrupt EXIF data")
def test_read_image_refuses_bad_files_naming_them(tmp_path, kind, message):
    img = _rgb(20, 20, 5)
    path = tmp_path / f"bad {kind}.{'tif' if kind in ('uint16', 'rgbn', 'minisblack4', 'corrupt') else 'png'}"
    if kind == "grey":
        _save(path, img[..., 0])
    elif kind == "rgba":
        rgba = np.concatenate([img, np.full((20, 20, 1), 128, np.uint8)], axis=2)
        _save(path, rgba)
    elif kind == "cmyk":
        path = path.with_suffix(".jpg")
        Image.fromarray(img).convert("CMYK").save(path)
    elif kind == "uint16":
        tifffile.imwrite(path, img.astype(np.uint16) * 200, photometric="rgb")
    elif kind == "png16":  # 16-bit RGB PNG (Pillow would read it as 8-bit RGB, silently)
        import zlib
        rows = (img.astype(np.uint16) * 250).astype(">u2").reshape(20, -1)
        path.write_bytes(_png(20, 20, 16, 2, zlib.compress(b"".join(b"\0" + r.tobytes() for r in rows))))
    elif kind == "rgbn":
        tifffile.imwrite(path, np.concatenate([img, img[..., :1]], axis=2), photometric="rgb",
                         extrasamples=["unspecified"])
    elif kind == "minisblack4":  # a 4-band grey-photometric TIFF: Pillow cannot open it, tifffile can
        tifffile.imwrite(path, np.concatenate([img, img[..., :1]], axis=2), photometric="minisblack",
                         planarconfig="contig")
    elif kind == "corrupt":
        path.write_bytes(b"II*\0 this is not a TIFF at all" * 10)
    elif kind == "truncated":
        path = path.with_suffix(".jpg")
        _save(path, _rgb(64, 64, 5), quality=90)
        path.write_bytes(path.read_bytes()[:400])
    elif kind == "empty":
        path.write_bytes(b"")
    with pytest.raises(InputFileError) as exc:
        read_image(path)
    assert str(exc.value).startswith(f"{path}: ")
    assert message in str(exc.value)
    assert exc.value.path == str(path)


def test_read_image_missing_file(tmp_path):
    with pytest.raises(InputFileError, match="image file does not exist"):
        read_image(tmp_path / "nope.png")


def _ucmerced(root: Path, sizes: dict[str, list[tuple[int, int]]]) -> Path:
    base = root / "UCMerced_LandUse" / "Images"
    for cls, hws in sizes.items():
        for i, (h, w) in enumerate(hws):
            _save(base / cls / f"{cls}{i:02d}.tif", _rgb(h, w, 7 * i))
    return base


def test_class_root_at_every_level_of_the_layout(tmp_path):
    base = _ucmerced(tmp_path, {"forest": [(256, 256)], "beach": [(256, 256)]})
    for root in (tmp_path, tmp_path / "UCMerced_LandUse", base):
        assert class_root(root, "ucmerced") == base
        assert [p.name for p in list_image_files(root, "ucmerced")] == ["beach00.tif", "forest00.tif"]
    # EuroSAT unpacked under another name: root straight at the class folders
    _save(tmp_path / "EuroSAT_RGB" / "Forest" / "Forest_1.jpg", _rgb(64, 64, 1))
    _save(tmp_path / "EuroSAT_RGB" / "River" / "River_1.jpg", _rgb(64, 64, 2))
    assert class_root(tmp_path / "EuroSAT_RGB", "eurosat") == tmp_path / "EuroSAT_RGB"
    _save(tmp_path / "x" / "2750" / "Forest" / "Forest_1.jpg", _rgb(64, 64, 1))
    assert class_root(tmp_path / "x", "eurosat") == tmp_path / "x" / "2750"


def test_mixed_sizes_in_a_one_size_layout(tmp_path, caplog):
    # UC Merced ships a few 256 x 247 images: accepted; a 256 x 200 one is a mixed-size error
    base = _ucmerced(tmp_path, {"beach": [(256, 256), (247, 256), (256, 256)],
                                "forest": [(256, 256), (256, 200), (256, 252)]})
    bad = base / "forest" / "forest01.tif"
    with pytest.raises(InputFileError) as exc:
        scan_dataset(tmp_path, "ucmerced")
    assert str(exc.value) == (f"{bad}: image is 200 x 256 px (width x height), but the images of this ucmerced "
                              "dataset are 256 x 256 (each side within 10% accepted): mixed sizes; use layout "
                              "'folder' for a dataset of mixed sizes")
    with caplog.at_level(logging.WARNING, logger="eoml.scenes.readers"):
        listing = scan_dataset(tmp_path, "ucmerced", "skip")
    assert listing.counts() == {"beach": 3, "forest": 2}
    assert [p for p, _ in listing.skipped] == [bad]
    assert f"skipping {bad}: image is 200 x 256 px" in caplog.text
    # the same tree as a folder dataset: any sizes
    assert scan_dataset(base, "folder").counts() == {"beach": 3, "forest": 3}


def test_reference_size_is_the_most_common(tmp_path):
    assert reference_size([(96, 96)] * 5 + [(256, 256)], "ucmerced") == (96, 96)  # a resized copy
    assert reference_size([(600, 600), (96, 96)], "aid") == (600, 600)  # tie: nearest the nominal
    assert reference_size([(5, 5)], "folder") is None
    assert size_problem((247, 256), (256, 256), "ucmerced") is None
    assert size_problem((64, 70), (64, 64), "eurosat") is None
    assert "mixed sizes" in size_problem((64, 71), (64, 64), "eurosat")


def _bad_tree(root: Path) -> dict[str, Path]:
    """A folder dataset with one bad file of each kind and an empty class."""
    for cls in ("alpha", "beta", "gamma"):
        for i in range(3):
            _save(root / cls / f"{cls}_{i}.png", _rgb(32, 32, 10 * i))
    bad = {
        "corrupt": root / "alpha" / "alpha_9 (broken).jpg",
        "grey": root / "beta" / "beta_grey.png",
        "rgba": root / "gamma" / "gamma_rgba.png",
        "empty": root / "delta (empty)",
    }
    bad["corrupt"].write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    _save(bad["grey"], _rgb(32, 32, 1)[..., 0])
    _save(bad["rgba"], np.concatenate([_rgb(32, 32, 1), np.zeros((32, 32, 1), np.uint8)], axis=2))
    bad["empty"].mkdir()
    return bad


def test_bad_files_raise_naming_the_file(tmp_path):
    bad = _bad_tree(tmp_path)
    with pytest.raises(InputFileError) as exc:
        scan_dataset(tmp_path, "folder", "error")
    # files in class order: alpha's corrupt JPEG comes first
    assert str(exc.value).startswith(f"{bad['corrupt']}: cannot decode image (OSError: ")
    bad["corrupt"].unlink()
    with pytest.raises(InputFileError, match="grey image") as exc:
        scan_dataset(tmp_path, "folder")
    assert exc.value.path == str(bad["grey"])
    bad["grey"].unlink()
    with pytest.raises(InputFileError) as exc:
        scan_dataset(tmp_path, "folder")
    assert str(exc.value) == f"{bad['empty']}: empty class folder: no image files (.jpeg .jpg .png .tif .tiff)"


def test_bad_files_skipped_and_logged(tmp_path, caplog):
    bad = _bad_tree(tmp_path)
    with caplog.at_level(logging.WARNING, logger="eoml.scenes.readers"):
        listing = scan_dataset(tmp_path, "folder", "skip")
    assert listing.classes == ("alpha", "beta", "gamma")  # the empty class takes no index
    assert listing.counts() == {"alpha": 3, "beta": 3, "gamma": 3}
    assert not set(bad.values()) & set(listing.files)
    reasons = dict(listing.skipped)
    assert set(reasons) == set(bad.values())
    assert reasons[bad["grey"]] == "grey image (Pillow mode L, 1 band), expected RGB"
    assert reasons[bad["empty"]].startswith("empty class folder")
    for path in bad.values():
        assert f"skipping {path}: {reasons[path]}" in caplog.text


def test_class_whose_every_file_is_bad(tmp_path):
    for cls in ("a", "b", "c"):
        _save(tmp_path / cls / "ok.png", _rgb(16, 16, 3))
    for cls in ("b", "c"):
        (tmp_path / cls / "ok.png").unlink()
        (tmp_path / cls / "bad.png").write_bytes(b"garbage")
    with pytest.raises(InputFileError, match="cannot decode"):
        scan_dataset(tmp_path, "folder", "error")
    # skip mode: b and c are left without images and dropped; one class is not a dataset
    with pytest.raises(InputFileError) as exc:
        scan_dataset(tmp_path, "folder", "skip")
    assert str(exc.value).startswith(f"{tmp_path}: a scene dataset needs at least two classes with images, found 1 (a)")
    _save(tmp_path / "d" / "ok.png", _rgb(16, 16, 3))
    listing = scan_dataset(tmp_path, "folder", "skip")
    assert listing.classes == ("a", "d")
    assert (tmp_path / "b", "class left without images: all 1 of its image files were skipped") in listing.skipped


def test_root_and_settings_errors(tmp_path):
    with pytest.raises(InputFileError) as exc:
        list_image_files(tmp_path / "missing", "aid")
    assert str(exc.value).startswith(f"{tmp_path / 'missing'}: dataset root does not exist")
    with pytest.raises(InputFileError, match="no class folders found"):
        list_image_files(tmp_path, "folder")
    (tmp_path / "only").mkdir()
    (tmp_path / "only" / "a.txt").write_text("x")
    with pytest.raises(InputFileError, match=r"no image files \(.jpg .jpeg\) in any of its 1 class folders"):
        list_image_files(tmp_path, "aid")
    with pytest.raises(ConfigError, match="unknown layout 'ucm'"):
        list_image_files(tmp_path, "ucm")
    with pytest.raises(ConfigError, match="scenes.on_bad_file: 'ignore'"):
        scan_dataset(tmp_path, "folder", "ignore")
