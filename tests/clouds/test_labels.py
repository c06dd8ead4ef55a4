"""Label readers of the clouds study (eoml.clouds.labels): Kaggle RLE, the Kaggle layout, expert labels.

Every test builds a small real tree in ``tmp_path``: JPEG / PNG files written by Pillow, csv files
written by pandas, and broken files (a truncated JPEG, text named .jpg) written as bytes.
"""

from __future__ import annotations

import logging
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from skimage.measure import regionprops

from eoml.clouds.labels import (
    CLASSES,
    Rectangle,
    class_index,
    label_rectangles,
    read_expert,
    read_kaggle,
    read_masks,
    read_rgb,
    rle_decode,
    rle_encode,
)
from eoml.core.errors import ConfigError, InputFileError

H, W = 20, 30  # image size of the Kaggle trees (height, width)

# --------------------------------------------------------------------------------------------
# run-length encoding


def test_classes_are_kaggles_order():
    assert CLASSES == ("Fish", "Flower", "Gravel", "Sugar")
    assert class_index("Sugar") == 3
    assert class_index(" fish ") == 0
    assert class_index("Cumulus") is None


# a 3 x 4 (height x width) mask and its encoding written by hand: pixels are numbered from 1 down
# the columns (column-major): column 0 holds 1 2 3, column 1 holds 4 5 6, ... column 3 holds 10 11 12
HAND_MASK = np.array([[1, 0, 0, 1],
                      [1, 0, 1, 1],
                      [0, 1, 1, 1]], dtype=bool)
# pixels 1, 2 (top of column 0); 6 (bottom of column 1); 8 to 12 (column 2 from row 1, all column 3:
# a run crossing a column boundary and ending on the last pixel)
HAND_RLE = "1 2 6 1 8 5"


def test_rle_decode_hand_example():
    np.testing.assert_array_equal(rle_decode(HAND_RLE, (3, 4)), HAND_MASK)


def test_rle_encode_hand_example():
    assert rle_encode(HAND_MASK) == HAND_RLE


def test_rle_off_by_one_and_order_pinned():
    """One pixel at (y=0, x=1) is pixel number x*h + y + 1 = 4: not 3 (0-indexed), not 2 (row-major)."""
    mask = np.zeros((3, 4), dtype=bool)
    mask[0, 1] = True
    assert rle_encode(mask) == "4 1"
    np.testing.assert_array_equal(rle_decode("4 1", (3, 4)), mask)
    # the two common mistakes give other pixels
    assert not rle_decode("3 1", (3, 4))[0, 1]  # a 0-indexed start: (2, 0)
    assert rle_decode("3 1", (3, 4))[2, 0]
    assert rle_decode("2 1", (3, 4))[1, 0]  # a row-major reading of (0, 1) is column-major (1, 0)
    # first and last pixel
    first, last = np.zeros((3, 4), bool), np.zeros((3, 4), bool)
    first[0, 0], last[2, 3] = True, True
    assert rle_encode(first) == "1 1"
    assert rle_encode(last) == "12 1"
    np.testing.assert_array_equal(rle_decode("12 1", (3, 4)), last)
    # a run from the bottom of column 0 to the top of column 1
    np.testing.assert_array_equal(np.argwhere(rle_decode("3 2", (3, 4))), [[0, 1], [2, 0]])


def _test_masks() -> list[np.ndarray]:
    rng = np.random.default_rng(11)
    masks = [np.zeros((7, 5), bool), np.ones((7, 5), bool), rng.random((7, 5)) < 0.5, rng.random((1, 9)) < 0.5,
             rng.random((9, 1)) < 0.5, rng.random((40, 60)) < 0.05]
    edges = np.zeros((6, 8), bool)
    edges[0, 0] = edges[-1, -1] = True  # first and last pixel
    edges[4:, 2] = edges[:3, 3] = True  # a run crossing the column boundary 2 -> 3
    masks.append(edges)
    rects = np.zeros((H, W), bool)
    rects[2:9, 3:17] = True
    rects[5:19, 12:30] = True  # overlaps the first rectangle and touches the right edge
    masks.append(rects)
    masks.append(~rects)  # touches the first and the last pixel
    return masks


@pytest.mark.parametrize("k", range(9))
def test_rle_round_trip(k):
    mask = _test_masks()[k]
    rle = rle_encode(mask)
    back = rle_decode(rle, mask.shape)
    assert back.dtype == bool and back.shape == mask.shape
    np.testing.assert_array_equal(back, mask)
    assert rle_encode(back) == rle
    # the number of runs equals the number of column-major False -> True transitions
    flat = np.concatenate(([False], mask.ravel(order="F")))
    assert len(rle.split()) == 2 * int(np.sum(flat[1:] & ~flat[:-1]))
    assert int(np.sum(np.array(rle.split(), int)[1::2])) == int(mask.sum())


def test_rle_empty_forms():
    for empty in ("", "   ", None, float("nan"), np.nan):
        out = rle_decode(empty, (3, 4))
        assert out.shape == (3, 4) and not out.any()
    assert rle_encode(np.zeros((3, 4), bool)) == ""


def test_rle_touching_runs_are_accepted_and_encoded_merged():
    np.testing.assert_array_equal(rle_decode("1 2 3 2", (3, 4)), rle_decode("1 4", (3, 4)))
    assert rle_encode(rle_decode("1 2 3 2", (3, 4))) == "1 4"


def test_rle_encode_accepts_01_numbers_and_refuses_others():
    assert rle_encode(HAND_MASK.astype(np.uint8)) == HAND_RLE
    with pytest.raises(ValueError, match="other than 0 and 1"):
        rle_encode(HAND_MASK * 2)
    with pytest.raises(ValueError, match="2-D"):
        rle_encode(np.zeros((2, 3, 4), bool))


@pytest.mark.parametrize(("rle", "reason"), [
    ("1", "odd number of values"),
    ("1 2 3", "odd number of values"),
    ("a 2", "'a' is not a whole number"),
    ("1.5 2", "'1.5' is not a whole number"),
    ("-1 2", "'-1' is not a whole number"),
    ("0 2", "run 1: start 0 < 1"),
    ("1 2 4 0", "run 2: length 0 < 1"),
    ("11 3", r"run 1 \(pixels 11 to 13\) goes past the image end \(12 pixels\)"),
    ("13 1", "goes past the image end"),
    ("99999999999999999999999 1", "too large"),
    ("6 2 1 2", r"run 2 \(start 1\) is not after run 1 .*sorted"),
    ("1 5 3 2", r"run 2 \(start 3\) is not after run 1 \(pixels 1 to 5\)"),
])
def test_rle_malformed(rle, reason):
    with pytest.raises(ValueError, match=reason):
        rle_decode(rle, (3, 4))


def test_rle_decode_bad_shape_and_type():
    with pytest.raises(ValueError, match="height, width"):
        rle_decode("1 1", (3,))
    with pytest.raises(ValueError, match="positive"):
        rle_decode("1 1", (0, 4))
    with pytest.raises(TypeError, match="string"):
        rle_decode([1, 1], (3, 4))


# --------------------------------------------------------------------------------------------
# images


def _rgb(h: int, w: int, value: int) -> np.ndarray:
    """An RGB image of flat 8 x 8 blocks (JPEG keeps it within a few levels)."""
    img = np.zeros((h, w, 3), np.uint8)
    img[..., 0] = value
    img[..., 1] = (np.arange(w)[None, :] // 8) * 40
    img[..., 2] = (np.arange(h)[:, None] // 8) * 60
    return img


def _save(path: Path, img: np.ndarray, **kw) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(img).save(path, **kw)
    return path


def test_read_rgb_jpeg_png_and_palette(tmp_path):
    img = _rgb(H, W, 200)
    jpg = read_rgb(_save(tmp_path / "a.jpg", img, quality=95, subsampling=0))
    assert jpg.dtype == np.uint8 and jpg.shape == (H, W, 3)
    with Image.open(tmp_path / "a.jpg") as decoded:
        np.testing.assert_array_equal(jpg, np.asarray(decoded))
    assert np.abs(jpg.astype(int) - img).mean() < 2  # lossy, but the same picture
    np.testing.assert_array_equal(read_rgb(_save(tmp_path / "b.png", img)), img)
    pal = Image.fromarray(img).convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    pal.save(tmp_path / "p.png")
    np.testing.assert_array_equal(read_rgb(tmp_path / "p.png"), np.asarray(pal.convert("RGB")))
    opaque = np.concatenate([img, np.full((H, W, 1), 255, np.uint8)], axis=-1)
    np.testing.assert_array_equal(read_rgb(_save(tmp_path / "o.png", opaque)), img)


def test_read_rgb_errors(tmp_path):
    good = _save(tmp_path / "good.jpg", _rgb(H, W, 10))
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(good.read_bytes()[: len(good.read_bytes()) // 2])
    text = tmp_path / "text.jpg"
    text.write_text("not an image")
    grey = _save(tmp_path / "grey.png", np.zeros((H, W), np.uint8))
    alpha = _save(tmp_path / "alpha.png", np.zeros((H, W, 4), np.uint8))
    for path, problem in [(tmp_path / "none.jpg", "does not exist"), (cut, "cannot decode image"),
                          (text, "cannot decode image"), (grey, "expected 8-bit RGB"), (alpha, "transparent")]:
        with pytest.raises(InputFileError, match=problem) as err:
            read_rgb(path)
        assert err.value.path == str(path)


# --------------------------------------------------------------------------------------------
# Kaggle layout


def _kaggle_masks() -> dict[str, np.ndarray]:
    """Masks (class, y, x) of the labelled images: rectangles on even pixel coordinates."""
    a = np.zeros((len(CLASSES), H, W), bool)
    a[0, 2:10, 4:14] = True  # Fish
    a[0, 12:20, 20:30] = True  # Fish again, to the last pixel
    a[3, 0:6, 0:8] = True  # Sugar from the first pixel
    b = np.zeros((len(CLASSES), H, W), bool)
    b[2, 4:16, 6:24] = True  # Gravel
    return {"a.jpg": a, "b.jpg": b, "d.jpg": np.zeros((len(CLASSES), H, W), bool)}


def _kaggle_tree(root: Path, extra_rows: list[tuple[str, str]] = (), rows_of=None) -> tuple[Path, Path]:
    """``root/train_images/{a,b,c,d}.jpg`` and ``root/train.csv`` (4 rows per image; c.jpg has none)."""
    images = root / "train_images"
    for k, name in enumerate(["a.jpg", "b.jpg", "c.jpg", "d.jpg"]):
        _save(images / name, _rgb(H, W, 50 * k), quality=95)
    rows = []
    for name, masks in _kaggle_masks().items():
        rows += [(f"{name}_{cls}", rle_encode(masks[c])) for c, cls in enumerate(CLASSES)]
    if rows_of is not None:
        rows = rows_of(rows)
    rows += list(extra_rows)
    csv = root / "train.csv"
    pd.DataFrame(rows, columns=["Image_Label", "EncodedPixels"]).to_csv(csv, index=False)
    return images, csv


def test_read_kaggle_listing_and_masks(tmp_path):
    images, csv = _kaggle_tree(tmp_path)
    listing = read_kaggle(images, csv, "error")
    assert listing.ids == ("a", "b", "c", "d")
    assert listing.files == tuple(images / f"{n}.jpg" for n in "abcd")
    assert listing.sizes == ((H, W),) * 4
    assert listing.labelled == (True, True, False, True)
    assert listing.skipped == ()
    assert listing.classes == CLASSES and len(listing) == 4
    assert listing.counts() == {"Fish": 1, "Flower": 0, "Gravel": 1, "Sugar": 1}
    assert listing.rles[1] == ("", "", rle_encode(_kaggle_masks()["b.jpg"][2]), "")
    # the csv as pandas writes it: an empty EncodedPixels cell for an absent class
    assert pd.read_csv(csv)["EncodedPixels"].isna().sum() == 3 * 4 - 3
    truth = _kaggle_masks()
    for i, name in enumerate(["a.jpg", "b.jpg", "c.jpg", "d.jpg"]):
        masks = read_masks(listing, i)
        assert masks.dtype == bool and masks.shape == (4, H, W)
        np.testing.assert_array_equal(masks, truth.get(name, np.zeros((4, H, W), bool)))
    # nearest-neighbour resampling to half the size (rectangles on even coordinates)
    np.testing.assert_array_equal(read_masks(listing, 0, (H // 2, W // 2)), truth["a.jpg"][:, ::2, ::2])
    np.testing.assert_array_equal(read_masks(listing, 0, (H, W)), truth["a.jpg"])
    # the pixels as stored
    assert read_rgb(listing.files[1]).shape == (H, W, 3)


def test_read_kaggle_hand_written_rle_pins_orientation(tmp_path):
    """A hand-written row: "1 3 21 2" on a 20 x 30 image = (0..2, 0) and (0..1, 1) (column-major)."""
    images, csv = _kaggle_tree(tmp_path, rows_of=lambda rows: [
        (label, "1 3 21 2" if label == "d.jpg_Flower" else rle) for label, rle in rows])
    listing = read_kaggle(images, csv)
    flower = read_masks(listing, listing.ids.index("d"))[1]
    np.testing.assert_array_equal(np.argwhere(flower), [[0, 0], [0, 1], [1, 0], [1, 1], [2, 0]])


def test_read_kaggle_partial_rows_and_class_case(tmp_path):
    """Only the non-empty rows (some derived csv files), class names in another case."""
    def positives(rows):
        return [(label.replace("_Sugar", "_sugar"), rle) for label, rle in rows if rle]

    images, csv = _kaggle_tree(tmp_path, rows_of=positives)
    listing = read_kaggle(images, csv)
    assert listing.labelled == (True, True, False, False)  # d.jpg has no row left: unlabelled
    for i, name in enumerate(["a.jpg", "b.jpg"]):
        np.testing.assert_array_equal(read_masks(listing, i), _kaggle_masks()[name])


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


# each case: rows to add or a change to the tree, what the error names, the problem
KAGGLE_PROBLEMS = {
    "missing image": ({"extra_rows": [("zzz.jpg_Fish", "1 3")]}, "csv",
                      r"row 13 \(line 14\): label for image zzz.jpg, but .*zzz.jpg does not exist"),
    "unknown class": ({"extra_rows": [("a.jpg_Cumulus", "1 3")]}, "csv",
                      r"row 13 \(line 14\): unknown class 'Cumulus' in Image_Label 'a.jpg_Cumulus' \(known: Fish"),
    "odd rle": ({"rows_of": lambda rows: [(rows[0][0], "1 2 3")] + rows[1:]}, "csv",
                r"row 1 \(line 2\): EncodedPixels of a.jpg_Fish .*: odd number of values"),
    "rle past the end": ({"rows_of": lambda rows: rows[:5] + [(rows[5][0], "590 20")] + rows[6:]}, "csv",
                         (r"row 6 \(line 7\): EncodedPixels of b.jpg_Flower for the 30 x 20 px image b.jpg "
                          r"\(width x height\): run 1 \(pixels 590 to 609\) goes past the image end \(600 pixels\)")),
    "not a number": ({"rows_of": lambda rows: rows[:4] + [(rows[4][0], "1 x")] + rows[5:]}, "csv",
                     r"row 5 \(line 6\): .*'x' is not a whole number"),
    "bad Image_Label": ({"extra_rows": [("a.jpgFish", "")]}, "csv",
                        r"row 13 \(line 14\): Image_Label 'a.jpgFish' is not '<image file>_<class>'"),
    "second label": ({"extra_rows": [("b.jpg_Gravel", "1 1")]}, "csv",
                     r"row 13 \(line 14\): a second Gravel label for image b.jpg \(the first is in row 7 \(line 8\)\)"),
    "corrupt jpeg": ("truncate b.jpg", "b.jpg", "cannot decode image"),
    "unlabelled corrupt jpeg": ("truncate c.jpg", "c.jpg", "cannot decode image"),
}


def _broken_kaggle(root: Path, case: str) -> tuple[Path, Path]:
    change = KAGGLE_PROBLEMS[case][0]
    if isinstance(change, dict):
        return _kaggle_tree(root, **change)
    images, csv = _kaggle_tree(root)
    _truncate(images / change.split()[-1])
    return images, csv


@pytest.mark.parametrize("case", KAGGLE_PROBLEMS)
def test_read_kaggle_errors_name_the_file_and_row(tmp_path, case):
    images, csv = _broken_kaggle(tmp_path, case)
    _, names, problem = KAGGLE_PROBLEMS[case]
    with pytest.raises(InputFileError, match=problem) as err:
        read_kaggle(images, csv, "error")
    expected = csv if names == "csv" else images / names
    assert err.value.path == str(expected)
    assert str(err.value).startswith(str(expected))


@pytest.mark.parametrize("case", KAGGLE_PROBLEMS)
def test_read_kaggle_skip_logs_and_leaves_the_image_out(tmp_path, case, caplog):
    images, csv = _broken_kaggle(tmp_path, case)
    _, names, problem = KAGGLE_PROBLEMS[case]
    with caplog.at_level(logging.WARNING, logger="eoml.clouds.labels"):
        listing = read_kaggle(images, csv, "skip")
    expected = csv if names == "csv" else images / names
    assert len(listing.skipped) == 1
    path, reason = listing.skipped[0]
    assert path == expected
    assert re.search(problem, reason)
    assert any(str(expected) in r.getMessage() and r.levelno == logging.WARNING for r in caplog.records)
    # the image the problem belongs to is left out; the others are complete
    left_out = {"missing image": set(), "unknown class": {"a"}, "odd rle": {"a"}, "rle past the end": {"b"},
                "not a number": {"b"}, "bad Image_Label": set(), "second label": {"b"}, "corrupt jpeg": {"b"},
                "unlabelled corrupt jpeg": {"c"}}[case]
    assert set(listing.ids) == {"a", "b", "c", "d"} - left_out
    truth = _kaggle_masks()
    for i, image_id in enumerate(listing.ids):
        expected_masks = truth.get(f"{image_id}.jpg", np.zeros((4, H, W), bool))
        np.testing.assert_array_equal(read_masks(listing, i), expected_masks)


def test_read_kaggle_all_problems_at_once_skipped(tmp_path):
    images, csv = _kaggle_tree(tmp_path, extra_rows=[("zzz.jpg_Fish", "1 3"), ("a.jpg_Cumulus", ""),
                                                      ("b.jpg_Gravel", "1 1")])
    _truncate(images / "d.jpg")
    listing = read_kaggle(images, csv, "skip")
    assert listing.ids == ("c",)
    assert [p.name for p, _ in listing.skipped] == ["train.csv", "train.csv", "train.csv", "d.jpg"]


def test_read_kaggle_csv_and_folder_errors(tmp_path):
    images, csv = _kaggle_tree(tmp_path)
    other = tmp_path / "other.csv"
    pd.DataFrame({"ImageId": ["a.jpg"], "EncodedPixels": [""]}).to_csv(other, index=False)
    with pytest.raises(InputFileError, match=r"missing column\(s\) Image_Label") as err:
        read_kaggle(images, other)
    assert err.value.path == str(other)
    with pytest.raises(InputFileError, match="labels file does not exist"):
        read_kaggle(images, tmp_path / "none.csv")
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(InputFileError, match="cannot read as CSV") as err:
        read_kaggle(images, empty)
    assert err.value.path == str(empty)
    with pytest.raises(InputFileError, match="not a folder") as err:
        read_kaggle(tmp_path / "test_images", csv)
    assert err.value.path == str(tmp_path / "test_images")
    with pytest.raises(ConfigError, match="on_bad_file"):
        read_kaggle(images, csv, "ignore")


def test_read_kaggle_blank_lines_and_extra_files(tmp_path):
    images, csv = _kaggle_tree(tmp_path)
    lines = csv.read_text().splitlines()
    csv.write_text("\n".join(lines[:3] + [""] + lines[3:]) + "\n\n")
    (images / "notes.txt").write_text("ignored")
    (images / ".hidden.jpg").write_bytes(b"ignored")
    listing = read_kaggle(images, csv)
    assert listing.ids == ("a", "b", "c", "d")
    # row numbers count the blank line: the bad a.jpg_Gravel row after it is in line 5, row 4
    bad_gravel = lines[3].split(",")[0] + ",1 x"
    assert bad_gravel == "a.jpg_Gravel,1 x"
    csv.write_text("\n".join(lines[:3] + ["", bad_gravel] + lines[4:]) + "\n")
    with pytest.raises(InputFileError, match=r"row 4 \(line 5\): EncodedPixels of a.jpg_Gravel"):
        read_kaggle(images, csv)


# --------------------------------------------------------------------------------------------
# rectangles


def test_label_rectangles_merges_overlaps_and_matches_skimage():
    mask = np.zeros((len(CLASSES), H, W), bool)
    mask[0, 2:8, 3:10] = True
    mask[0, 5:12, 8:15] = True  # overlaps: one L-shaped region
    mask[0, 15:19, 20:29] = True  # separate
    mask[2, 0:H, 0:W] = True  # the whole image
    mask[3, 0:3, 0:3] = True
    mask[3, 3:6, 3:6] = True  # touches the first only at a corner
    rects = label_rectangles(mask)
    assert rects == [Rectangle(0, 2, 12, 3, 15), Rectangle(0, 15, 19, 20, 29), Rectangle(2, 0, H, 0, W),
                     Rectangle(3, 0, 3, 0, 3), Rectangle(3, 3, 6, 3, 6)]
    assert all(isinstance(v, int) for r in rects for v in r)
    assert label_rectangles(mask, connectivity=2)[-1] == Rectangle(3, 0, 6, 0, 6)
    # the same boxes from scikit-image (bbox = min_row, min_col, max_row, max_col; ends exclusive)
    from scipy import ndimage

    for c in range(len(CLASSES)):
        labels, _ = ndimage.label(mask[c])
        boxes = sorted((c, p.bbox[0], p.bbox[2], p.bbox[1], p.bbox[3]) for p in regionprops(labels))
        assert boxes == sorted(tuple(r) for r in rects if r.class_index == c)
    # each rectangle covers its region
    for r in rects:
        assert mask[r.class_index, r.y0:r.y1, r.x0:r.x1].any()
    assert label_rectangles(np.zeros((4, 5, 5), bool)) == []
    with pytest.raises(ValueError, match="class, y, x"):
        label_rectangles(mask[0])


def test_label_rectangles_of_read_masks(tmp_path):
    images, csv = _kaggle_tree(tmp_path)
    listing = read_kaggle(images, csv)
    assert label_rectangles(read_masks(listing, 0)) == [Rectangle(0, 2, 10, 4, 14), Rectangle(0, 12, 20, 20, 30),
                                                        Rectangle(3, 0, 6, 0, 8)]


# --------------------------------------------------------------------------------------------
# expert labels


def _expert_folders(root: Path) -> dict[str, tuple[str, int]]:
    """Class folders with PNG and JPEG files (one folder name in lower case); returns id -> (class, value)."""
    files = {"Fish/f1.png": 10, "Fish/f2.jpg": 20, "gravel/g 1.PNG": 30, "Sugar/s1.jpeg": 40}
    for rel, value in files.items():
        _save(root / rel, _rgb(12, 16, value))
    (root / "Fish" / "readme.txt").write_text("ignored")
    (root / "Fish" / ".DS_Store").write_bytes(b"ignored")
    (root / "Flower").mkdir()  # a class without images
    return {rel: (rel.split("/")[0], value) for rel, value in files.items()}


def test_read_expert_class_folders(tmp_path, caplog):
    _expert_folders(tmp_path)
    with caplog.at_level(logging.INFO, logger="eoml.clouds.labels"):
        listing = read_expert(tmp_path)
    assert listing.ids == ("Fish/f1.png", "Fish/f2.jpg", "gravel/g 1.PNG", "Sugar/s1.jpeg")
    assert listing.labels == (0, 0, 2, 3)
    assert listing.sizes == ((12, 16),) * 4
    assert listing.source == tmp_path and listing.skipped == ()
    assert listing.counts() == {"Fish": 2, "Flower": 0, "Gravel": 1, "Sugar": 1}
    assert read_rgb(listing.files[0])[0, 0, 0] == 10
    assert any("Flower" in r.getMessage() for r in caplog.records)


def test_read_expert_folder_problems(tmp_path, caplog):
    _expert_folders(tmp_path)
    _save(tmp_path / "Other" / "o.png", _rgb(12, 16, 0))
    with pytest.raises(InputFileError, match="unknown class folder 'Other'") as err:
        read_expert(tmp_path)
    assert err.value.path == str(tmp_path / "Other")
    listing = read_expert(tmp_path, on_bad_file="skip")
    assert len(listing) == 4 and listing.skipped[0][0] == tmp_path / "Other"
    shutil.rmtree(tmp_path / "Other")
    _truncate(tmp_path / "Fish" / "f2.jpg")
    with pytest.raises(InputFileError, match="cannot decode") as err:
        read_expert(tmp_path, on_bad_file="error")
    assert err.value.path == str(tmp_path / "Fish" / "f2.jpg")
    with caplog.at_level(logging.WARNING, logger="eoml.clouds.labels"):
        listing = read_expert(tmp_path, on_bad_file="skip")
    assert listing.ids == ("Fish/f1.png", "gravel/g 1.PNG", "Sugar/s1.jpeg")
    assert [p for p, _ in listing.skipped] == [tmp_path / "Fish" / "f2.jpg"]
    assert any("f2.jpg" in r.getMessage() for r in caplog.records)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputFileError, match="no class folders") as err:
        read_expert(empty)
    assert err.value.path == str(empty)
    with pytest.raises(InputFileError, match="not a folder"):
        read_expert(tmp_path / "nowhere")


def test_read_expert_csv(tmp_path):
    root = tmp_path / "root"
    _save(root / "imgs" / "x.png", _rgb(12, 16, 1))
    _save(root / "imgs" / "y.jpg", _rgb(12, 16, 2))
    outside = _save(tmp_path / "elsewhere" / "z.png", _rgb(8, 8, 3))
    csv = tmp_path / "labels.csv"
    pd.DataFrame({"image": ["imgs/y.jpg", "imgs/x.png", str(outside)],
                  "label": ["Flower", "sugar", "Gravel"]}).to_csv(csv, index=False)
    listing = read_expert(root, csv)
    assert listing.ids == ("imgs/y.jpg", "imgs/x.png", outside.as_posix())
    assert listing.files == (root / "imgs" / "y.jpg", root / "imgs" / "x.png", outside)
    assert listing.labels == (1, 3, 2)
    assert listing.sizes == ((12, 16), (12, 16), (8, 8))
    assert listing.source == csv and listing.root == root


@pytest.mark.parametrize(("rows", "names", "problem", "kept"), [
    ([("imgs/z.png", "Fish")], "csv", r"row 3 \(line 4\): label for image imgs/z.png, but .*z.png does not exist",
     ("imgs/x.png", "imgs/y.jpg")),
    ([("imgs/x.png", "Cumulus")], "csv", r"row 3 \(line 4\): unknown label 'Cumulus' for image imgs/x.png",
     ("imgs/y.jpg",)),
    ([("imgs/y.jpg", "Fish")], "csv", r"row 3 \(line 4\): image imgs/y.jpg is listed again \(first in row 2",
     ("imgs/x.png",)),
    ([("", "Fish")], "csv", r"row 3 \(line 4\): empty image name", ("imgs/x.png", "imgs/y.jpg")),
    ([("imgs/bad.jpg", "Fish")], "imgs/bad.jpg", "cannot decode image", ("imgs/x.png", "imgs/y.jpg")),
])
def test_read_expert_csv_problems(tmp_path, rows, names, problem, kept):
    _save(tmp_path / "imgs" / "x.png", _rgb(12, 16, 1))
    _save(tmp_path / "imgs" / "y.jpg", _rgb(12, 16, 2))
    (tmp_path / "imgs" / "bad.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a JPEG")
    csv = tmp_path / "labels.csv"
    pd.DataFrame([("imgs/x.png", "Fish"), ("imgs/y.jpg", "Gravel"), *rows],
                 columns=["image", "label"]).to_csv(csv, index=False)
    expected = csv if names == "csv" else tmp_path / names
    with pytest.raises(InputFileError, match=problem) as err:
        read_expert(tmp_path, csv)
    assert err.value.path == str(expected)
    listing = read_expert(tmp_path, csv, on_bad_file="skip")
    assert listing.ids == kept
    assert [p for p, _ in listing.skipped] == [expected]


def test_read_expert_nothing_usable(tmp_path):
    csv = tmp_path / "labels.csv"
    pd.DataFrame({"image": ["a.png"], "label": ["Fish"]}).to_csv(csv, index=False)
    with pytest.raises(InputFileError, match="no usable labelled images") as err:
        read_expert(tmp_path, csv, on_bad_file="skip")
    assert err.value.path == str(tmp_path)
    bad = tmp_path / "bad.csv"
    pd.DataFrame({"file": ["a.png"], "label": ["Fish"]}).to_csv(bad, index=False)
    with pytest.raises(InputFileError, match=r"missing column\(s\) image"):
        read_expert(tmp_path, bad)
