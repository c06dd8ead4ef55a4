"""clouds.tiles: seeded triplets (convml-data's scheme), scene splits, triplet stores, labelled tiles, grids."""

from __future__ import annotations

import math

import numpy as np
import pytest
import xarray as xr

from eoml.clouds.tiles import (
    Scene,
    grid_tiles,
    labelled_squares,
    labelled_tiles,
    largest_empty_square,
    open_triplets,
    rectangles,
    resize_tiles,
    sample_triplets,
    split_scenes,
    unlabelled_squares,
    write_triplets,
)
from eoml.core.errors import InputFileError

T = 32


def _scenes(n: int = 4, shape=(96, 128), seed: int = 0, valid=None) -> list[Scene]:
    rng = np.random.default_rng(seed)
    return [Scene(f"S{k}", rng.integers(0, 256, (*shape, 3), dtype=np.uint8), valid) for k in range(n)]


def _triplets(scenes, seed=1, n=200, offset=0.5, min_valid=0.0, splits=None):
    return sample_triplets(scenes, n=n, tile_px=T, neighbour_offset=offset, seed=seed, min_valid=min_valid,
                           splits=splits)


# --------------------------------------------------------------------------------------------
# triplets
# --------------------------------------------------------------------------------------------
def test_triplets_are_seeded_and_read_from_their_positions():
    scenes = _scenes()
    ds = _triplets(scenes)
    xr.testing.assert_identical(ds, _triplets(scenes))
    other = _triplets(scenes, seed=2)
    assert not np.array_equal(ds["y0"].values, other["y0"].values)
    assert ds["anchor"].dtype == np.uint8 and ds["anchor"].dims == ("triplet", "y", "x", "band")
    assert ds["anchor"].shape == (200, T, T, 3) and list(ds["tile"].values) == ["anchor", "neighbour", "distant"]
    by_id = {s.id: s for s in scenes}
    for i in range(0, 200, 7):
        for slot, name in enumerate(("anchor", "neighbour", "distant")):
            s = by_id[str(ds["scene"].values[i, slot])]
            y, x = int(ds["y0"].values[i, slot]), int(ds["x0"].values[i, slot])
            assert 0 <= y <= 96 - T and 0 <= x <= 128 - T
            np.testing.assert_array_equal(ds[name].values[i], s.rgb[y:y + T, x:x + T])


def test_neighbours_overlap_their_anchors_by_the_offset_in_every_direction():
    ds = _triplets(_scenes(), n=400)
    dy = (ds["y0"][:, 1] - ds["y0"][:, 0]).values.astype(float)
    dx = (ds["x0"][:, 1] - ds["x0"][:, 0]).values.astype(float)
    r = 0.5 * T
    # the centres lie offset * tile_px apart (directions rounded to whole pixels)
    assert np.all(np.abs(np.hypot(dy, dx) - r) <= math.sqrt(0.5) + 1e-9)
    overlap = (1 - np.abs(dy) / T) * (1 - np.abs(dx) / T)
    # 50 % along an axis, (1 - 0.5 / sqrt 2)^2 along a diagonal
    assert overlap.max() == pytest.approx(0.5, abs=0.02)
    assert overlap.min() == pytest.approx((1 - 0.5 / math.sqrt(2)) ** 2, abs=0.03)
    # the shared pixels are the same pixels
    i = int(np.flatnonzero((dy >= 0) & (dx >= 0))[0])
    a, nb = ds["anchor"].values[i], ds["neighbour"].values[i]
    ky, kx = int(dy[i]), int(dx[i])
    np.testing.assert_array_equal(a[ky:, kx:], nb[:T - ky, :T - kx])
    # directions cover the circle: each quadrant gets its share
    quadrant = (np.arctan2(dy, dx) // (np.pi / 2)).astype(int)
    assert np.all(np.bincount(quadrant % 4, minlength=4) > 60)
    # a larger offset moves the neighbour further
    far = _triplets(_scenes(), n=50, offset=1.0)
    d = np.hypot(*(far[v][:, 1] - far[v][:, 0] for v in ("y0", "x0")))
    assert np.all(np.abs(d - T) <= math.sqrt(0.5) + 1e-9)


def test_distant_tiles_come_from_another_scene():
    ds = _triplets(_scenes(n=3))
    scene = ds["scene"].values
    assert np.all(scene[:, 0] == scene[:, 1])
    assert np.all(scene[:, 2] != scene[:, 0])
    assert set(scene[:, 0]) == {"S0", "S1", "S2"}  # anchors from every scene
    with pytest.raises(ValueError, match="at least two scenes"):
        _triplets(_scenes(n=1))


def test_min_valid_keeps_tiles_on_valid_pixels():
    valid = np.ones((96, 128), dtype=bool)
    valid[:, :64] = False  # the left half is outside the disk / night / bad quality
    scenes = _scenes(valid=valid)
    ds = _triplets(scenes, min_valid=0.9)
    x0 = ds["x0"].values
    # a window is at least 90 % valid: at most 3 of its 32 columns left of x = 64
    assert x0.min() >= 64 - 3
    assert _triplets(scenes, min_valid=0.0)["x0"].values.min() < 30
    # a scene without any valid window is left out; with one scene left, no triplet can be made
    empty = Scene("E", scenes[0].rgb, np.zeros((96, 128), dtype=bool))
    assert "E" not in set(_triplets([*scenes[:2], empty], min_valid=0.5)["scene"].values.ravel())
    with pytest.raises(ValueError, match="at least two scenes"):
        _triplets([scenes[0], empty], min_valid=0.5)
    # scenes where no neighbour fits
    with pytest.raises(ValueError, match="no neighbour"):
        _triplets(_scenes(shape=(T, T)), n=2)


def test_split_scenes_by_scene_and_triplets_follow_it():
    ids = [f"S{k}" for k in range(6)]
    split = split_scenes(ids, 0.34, seed=3)
    assert list(split) == ids and sorted(split.values()).count("val") == 2
    assert split_scenes(ids[::-1], 0.34, seed=3) == split  # the order of the ids does not matter
    assert any(split_scenes(ids, 0.34, seed=s) != split for s in range(4, 10))
    assert set(split_scenes(ids, 0.0, seed=3).values()) == {"train"}
    assert sorted(split_scenes(ids[:2], 0.01, seed=3).values()) == ["train", "val"]  # at least one held out
    with pytest.raises(ValueError, match="at least 2"):
        split_scenes(ids[:1], 0.2, seed=0)
    with pytest.raises(ValueError, match="unique"):
        split_scenes(["a", "a"], 0.5, seed=0)

    scenes = _scenes(n=6)
    ds = _triplets(scenes, splits=split)
    scene, code = ds["scene"].values, ds["split"].values
    names = np.array(["train", "val"])[code]
    for i in range(ds.sizes["triplet"]):
        assert split[scene[i, 0]] == names[i] == split[scene[i, 2]]  # distant tile from the same split
    assert set(names) == {"train", "val"}
    # a split of one scene borrows its distant tiles from the other split
    lonely = _triplets(scenes[:3], splits=split_scenes([s.id for s in scenes[:3]], 0.3, seed=0))
    assert np.all(lonely["scene"].values[:, 2] != lonely["scene"].values[:, 0])


def test_triplet_store_round_trip_and_errors(tmp_path):
    ds = _triplets(_scenes(), n=20, splits={"S0": "train", "S1": "train", "S2": "val", "S3": "val"})
    path = write_triplets(ds, tmp_path / "triplets.zarr", config={"n": 20})
    back = open_triplets(path)
    for name in ("anchor", "neighbour", "distant", "scene", "y0", "x0", "split"):
        np.testing.assert_array_equal(back[name].values, ds[name].values)
    assert back["anchor"].dtype == np.uint8 and back.attrs["tile_px"] == T
    broken = ds.drop_vars("distant")
    write_triplets(broken, tmp_path / "broken.zarr")
    with pytest.raises(InputFileError, match="broken.zarr.*distant"):
        open_triplets(tmp_path / "broken.zarr")
    with pytest.raises(InputFileError, match="missing.zarr"):
        open_triplets(tmp_path / "missing.zarr")


def test_scene_checks_its_arrays():
    rgb = np.zeros((8, 8, 3), dtype=np.uint8)
    with pytest.raises(ValueError, match="scene X: rgb"):
        Scene("X", rgb.astype(np.float32))
    with pytest.raises(ValueError, match="scene X: valid"):
        Scene("X", rgb, np.ones((8, 9), dtype=bool))
    with pytest.raises(ValueError, match="scene X: masks"):
        Scene("X", rgb, None, np.ones((8, 8), dtype=bool))


# --------------------------------------------------------------------------------------------
# grids, resizing
# --------------------------------------------------------------------------------------------
def test_grid_tiles_cover_the_scene_with_a_stride():
    valid = np.ones((96, 128), dtype=bool)
    valid[:16] = False
    scene = _scenes(n=1, valid=valid)[0]
    ds = grid_tiles(scene, T, 16)
    assert (ds.attrs["n_rows"], ds.attrs["n_cols"]) == (5, 7) and ds.sizes["sample"] == 35
    assert ds["y0"].values.max() == 64 and ds["x0"].values.max() == 96
    for i in (0, 8, 34):
        y, x = int(ds["y0"][i]), int(ds["x0"][i])
        assert (int(ds["row"][i]), int(ds["col"][i])) == (y // 16, x // 16)
        np.testing.assert_array_equal(ds["image"].values[i], scene.rgb[y:y + T, x:x + T])
        assert ds["valid_fraction"].values[i] == pytest.approx(valid[y:y + T, x:x + T].mean())
    with pytest.raises(ValueError, match="does not fit"):
        grid_tiles(scene, 100, 8)


def test_resize_tiles():
    tiles = np.zeros((2, 64, 48, 3), dtype=np.uint8)
    tiles[:, :32] = 200
    out = resize_tiles(tiles, 16)
    assert out.shape == (2, 16, 16, 3) and out.dtype == np.uint8
    assert out[0, :7].min() == 200 and out[0, 9:].max() == 0  # the top half stays the top half
    assert resize_tiles(out, 16) is out


# --------------------------------------------------------------------------------------------
# labelled tiles and rectangles (the rectangles of eoml.clouds.labels)
# --------------------------------------------------------------------------------------------
def _labelled_scene() -> Scene:
    rgb = np.random.default_rng(5).integers(0, 256, (96, 128, 3), dtype=np.uint8)
    masks = np.zeros((4, 96, 128), dtype=bool)
    masks[0, 0:70, 0:40] = True  # Fish: 70 x 40 -> 2 x 1 tiles
    masks[2, 10:90, 60:128] = True  # Gravel: 80 x 68 -> 2 x 2 tiles
    masks[3, 80:96, 0:20] = True  # Sugar: too small for a tile
    return Scene("L", rgb, None, masks)


def test_labelled_tiles_lie_inside_their_rectangles():
    scene = _labelled_scene()
    ds = labelled_tiles([scene], T, max_tiles=100, seed=0)
    assert ds.sizes["sample"] == 6
    assert sorted(ds["label"].values.tolist()) == [0, 0, 2, 2, 2, 2]
    for i in range(6):
        y, x, label = int(ds["y0"][i]), int(ds["x0"][i]), int(ds["label"][i])
        assert scene.masks[label, y:y + T, x:x + T].all()
        np.testing.assert_array_equal(ds["image"].values[i], scene.rgb[y:y + T, x:x + T])
    # centred in the rectangle: (70 - 64) / 2 = 3 rows above the first Fish tile
    assert sorted(ds["y0"].values[ds["label"].values == 0].tolist()) == [3, 35]
    capped = labelled_tiles([scene], T, max_tiles=4, seed=0)
    assert capped.sizes["sample"] == 4
    xr.testing.assert_identical(capped, labelled_tiles([scene], T, max_tiles=4, seed=0))


def test_rectangles_are_resized_with_their_class():
    ds = rectangles([_labelled_scene()], 24)
    assert ds["image"].shape == (3, 24, 24, 3)
    got = sorted(zip(ds["label"].values.tolist(), ds["y0"].values.tolist(), ds["y1"].values.tolist(),
                     ds["x0"].values.tolist(), ds["x1"].values.tolist()))
    assert got == [(0, 0, 70, 0, 40), (2, 10, 90, 60, 128), (3, 80, 96, 0, 20)]


# --------------------------------------------------------------------------------------------
# largest squares: of each labelled rectangle, and unlabelled
# --------------------------------------------------------------------------------------------
def _brute_largest(blocked: np.ndarray) -> int:
    h, w = blocked.shape
    best = 0
    for s in range(1, min(h, w) + 1):
        if any(not blocked[y:y + s, x:x + s].any() for y in range(h - s + 1) for x in range(w - s + 1)):
            best = s
    return best


@pytest.mark.parametrize("seed", range(6))
def test_largest_empty_square_is_the_brute_force_one(seed):
    rng = np.random.default_rng(seed)
    blocked = rng.random((rng.integers(5, 14), rng.integers(5, 14))) < rng.uniform(0.05, 0.4)
    y0, x0, side = largest_empty_square(blocked)
    assert side == _brute_largest(blocked)
    assert not blocked[y0:y0 + side, x0:x0 + side].any()
    # the first such square in row-major order of its corner
    h, w = blocked.shape
    first = next((y, x) for y in range(h - side + 1) for x in range(w - side + 1)
                 if not blocked[y:y + side, x:x + side].any())
    assert (y0, x0) == first


def test_largest_empty_square_edge_cases():
    assert largest_empty_square(np.ones((4, 6), bool)) == (0, 0, 0)
    assert largest_empty_square(np.zeros((4, 6), bool)) == (0, 0, 4)
    with pytest.raises(ValueError, match="2-D"):
        largest_empty_square(np.zeros(5, bool))


def _rect_scene() -> Scene:
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (60, 90, 3), dtype=np.uint8)
    masks = np.zeros((4, 60, 90), bool)
    masks[2, 10:50, 5:25] = True     # Gravel: 40 x 20 -> a 20 px square at rows 20-40
    masks[0, 0:30, 40:90] = True     # Fish: 30 x 50 -> a 30 px square at columns 50-80
    return Scene(id="d/a", rgb=rgb, masks=masks)


def test_labelled_squares_are_the_centred_largest_square_of_each_rectangle():
    scene = _rect_scene()
    ds = labelled_squares([scene], 16)
    assert ds["image"].shape == (2, 16, 16, 3)
    rows = {int(lab): (int(y0), int(x0), int(side)) for lab, y0, x0, side in
            zip(ds["label"].values, ds["y0"].values, ds["x0"].values, ds["side"].values, strict=True)}
    assert rows == {2: (20, 5, 20), 0: (0, 50, 30)}
    i = list(ds["label"].values).index(0)
    np.testing.assert_array_equal(ds["image"].values[i], resize_tiles(scene.rgb[None, 0:30, 50:80], 16)[0])
    assert set(ds["scene"].values) == {"d/a"} and (ds["valid_fraction"].values == 1).all()
    # an image labelled as a whole (an expert image) is one rectangle: its centred square
    whole = Scene(id="e/x", rgb=scene.rgb, masks=np.zeros((4, 60, 90), bool))
    whole.masks[3] = True
    one = labelled_squares([whole], 8)
    assert one.sizes["sample"] == 1 and (int(one["y0"][0]), int(one["x0"][0]), int(one["side"][0])) == (0, 15, 60)


def test_unlabelled_squares_keep_the_largest_free_square_of_the_minimum_size():
    scene = _rect_scene()
    blank = Scene(id="d/b", rgb=scene.rgb, masks=None)  # an unlabelled image: all of it is free
    ds = unlabelled_squares([scene, blank], min_px=20, size=8)
    got = {s: (int(y0), int(x0), int(side)) for s, y0, x0, side in
           zip(ds["scene"].values, ds["y0"].values, ds["x0"].values, ds["side"].values, strict=True)}
    free = scene.masks.any(axis=0)
    y0, x0, side = largest_empty_square(free)
    assert got == {"d/a": (y0, x0, side), "d/b": (0, 0, 60)} and side >= 20
    assert not free[y0:y0 + side, x0:x0 + side].any()
    np.testing.assert_array_equal(ds["image"].values[0], resize_tiles(scene.rgb[None, y0:y0 + side, x0:x0 + side],
                                                                       8)[0])
    # a larger minimum leaves the labelled image out; invalid pixels count as taken
    assert list(unlabelled_squares([scene, blank], min_px=side + 1, size=8)["scene"].values) == ["d/b"]
    valid = np.ones((60, 90), bool)
    valid[:, 45:] = False
    half = Scene(id="d/c", rgb=scene.rgb, valid=valid)
    assert int(unlabelled_squares([half], min_px=1, size=8)["side"][0]) == 45
