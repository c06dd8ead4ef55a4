"""clouds tiles: scenes, Tile2Vec triplets (convml-data's scheme), labelled tiles, rectangles, grids.

A :class:`Scene` is one true-colour image (a GOES scene on its lat/lon grid, or one MODIS image of
the Kaggle layout): ``rgb`` uint8 ``(y, x, 3)``, ``valid`` bool ``(y, x)`` or None (every pixel
valid), ``masks`` bool ``(class, y, x)`` or None (the expert labels of
:data:`eoml.clouds.labels.CLASSES`, Kaggle's order).

Triplets (:func:`sample_triplets`), after convml-data (``convml_data.sampling.triplets``) and
Jean et al. (2019): per triplet

1. the anchor scene is drawn uniformly among the scenes with at least one *valid window* (a
   ``tile_px`` square whose valid fraction is at least ``min_valid``), then the anchor uniformly
   among that scene's valid windows (rejection sampling over all windows, which is exactly
   uniform over the accepted ones);
2. the neighbour's centre lies ``neighbour_offset · tile_px`` pixels from the anchor's, in a
   direction ``θ ~ U[0, 2π)`` (offsets rounded to whole pixels); a direction that leaves the scene
   or lands on a window that is not valid is drawn again (up to :data:`NEIGHBOUR_TRIES` times,
   then a new anchor is drawn). ``neighbour_offset = 0.5`` (the default of the study) overlaps
   the anchor by half a tile along an axis (50 %) and by ``(1 − 0.5/√2)² ≈ 42 %`` of its area
   along a diagonal;
3. the distant tile is drawn uniformly among the valid windows of *another* scene (another time
   or another image), chosen uniformly among the other eligible scenes of the anchor's split.

Everything is drawn from one :class:`numpy.random.Generator` seeded with ``seed``, in that order,
so the same scenes and settings give the same triplets. :func:`split_scenes` assigns whole scenes
to ``train`` or ``val``, so validation triplets come from scenes the network never trains on;
with ``splits``, the distant tile comes from another scene of the same split, except that a
split of a single scene takes its distant tiles from the other split (logged: its anchor and
neighbour tiles, what the validation measures, are still held out).

Triplet store (:func:`write_triplets`, :func:`open_triplets`; a Zarr store of
:func:`eoml.core.store.write_store`)::

    anchor, neighbour, distant  uint8 (triplet, y, x, band)   RGB digital numbers, band = red, green, blue
    scene                       str   (triplet, tile)         scene id of each tile, tile = anchor, neighbour, distant
    y0, x0                      int32 (triplet, tile)         the tile's top-left pixel in its scene
    split                       int8  (triplet)               0 train, 1 val (CF flag_values / flag_meanings)

Labelled tiles and rectangles (:func:`labelled_tiles`, :func:`rectangles`), sliding-window tiles
(:func:`grid_tiles`), the largest square of each labelled rectangle (:func:`labelled_squares`)
and the largest unlabelled square of each image (:func:`unlabelled_squares`,
:func:`largest_empty_square`) are datasets of ``image`` uint8 ``(sample, y, x, band)`` with per-sample
provenance (scene id, position, label, valid fraction). Labelled regions are the bounding
rectangles of the connected regions of each class mask (:func:`eoml.clouds.labels.label_rectangles`,
end indices exclusive).

References: Jean et al. (2019) "Tile2Vec", AAAI; Denby (2020) "Discovering the importance of
mesoscale cloud organization through unsupervised classification", GRL; the convml-data sampling
code (github.com/convml/convml-data).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
from PIL import Image

from eoml.clouds.labels import label_rectangles
from eoml.core.errors import InputFileError
from eoml.core.store import open_store, write_store

log = logging.getLogger(__name__)

__all__ = [
    "BANDS",
    "NEIGHBOUR_TRIES",
    "SPLITS",
    "TILES",
    "Scene",
    "grid_tiles",
    "labelled_squares",
    "labelled_tiles",
    "largest_empty_square",
    "open_triplets",
    "rectangles",
    "resize_tiles",
    "sample_triplets",
    "split_scenes",
    "unlabelled_squares",
    "write_triplets",
]

#: band coordinate of every tile array
BANDS = ("red", "green", "blue")
#: the tiles of a triplet, in the order of the ``tile`` coordinate
TILES = ("anchor", "neighbour", "distant")
#: split names, in the order of their codes in the ``split`` variable (0, 1)
SPLITS = ("train", "val")
#: directions drawn for one anchor's neighbour before a new anchor is drawn
NEIGHBOUR_TRIES = 100
#: anchors drawn per triplet before the sampling gives up (a scene too small or invalid)
_ANCHOR_TRIES = 1000
#: candidate windows drawn per rejection-sampling round, and rounds before enumerating
_REJECT_BATCH, _REJECT_ROUNDS = 256, 8


# --------------------------------------------------------------------------------------------
# scenes
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class Scene:
    """One true-colour image: ``rgb`` uint8 ``(y, x, 3)``, ``valid`` bool ``(y, x)`` or None (all
    valid), ``masks`` bool ``(class, y, x)`` or None (unlabelled). Shapes and dtypes are checked
    (``ValueError`` naming the scene)."""

    id: str
    rgb: np.ndarray
    valid: np.ndarray | None = None
    masks: np.ndarray | None = None

    def __post_init__(self) -> None:
        rgb = np.asarray(self.rgb)
        if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[-1] != 3:
            raise ValueError(f"scene {self.id}: rgb must be uint8 (y, x, 3), got {rgb.dtype} {rgb.shape}")
        object.__setattr__(self, "rgb", rgb)
        for name, ndim in (("valid", 2), ("masks", 3)):
            value = getattr(self, name)
            if value is None:
                continue
            value = np.asarray(value)
            if value.dtype != bool or value.ndim != ndim or value.shape[-2:] != rgb.shape[:2]:
                raise ValueError(f"scene {self.id}: {name} must be bool {'(class, ' if ndim == 3 else '('}y, x) "
                                 f"with the image's {rgb.shape[:2]}, got {value.dtype} {value.shape}")
            object.__setattr__(self, name, value)

    @property
    def shape(self) -> tuple[int, int]:
        return int(self.rgb.shape[0]), int(self.rgb.shape[1])


def _window_fraction(valid: np.ndarray, tile_px: int) -> np.ndarray:
    """Valid fraction of every ``tile_px`` window ``(H − t + 1, W − t + 1)`` (summed-area table)."""
    t = int(tile_px)
    table = np.zeros((valid.shape[0] + 1, valid.shape[1] + 1), dtype=np.int64)
    table[1:, 1:] = valid.cumsum(0, dtype=np.int64).cumsum(1)
    total = table[t:, t:] - table[:-t, t:] - table[t:, :-t] + table[:-t, :-t]
    return total / float(t * t)


def _tile_fraction(scene: Scene, y0: int, x0: int, h: int, w: int) -> float:
    if scene.valid is None:
        return 1.0
    return float(scene.valid[y0:y0 + h, x0:x0 + w].mean())


class _Windows:
    """A scene's valid ``tile_px`` windows (top-left corners) and uniform draws among them."""

    def __init__(self, scene: Scene, tile_px: int, min_valid: float):
        self.scene = scene
        h, w = scene.shape
        self.ny, self.nx = h - tile_px + 1, w - tile_px + 1
        if self.ny < 1 or self.nx < 1:
            self.ok, self.count = None, 0
        elif scene.valid is None:
            self.ok, self.count = None, self.ny * self.nx
        else:
            self.ok = _window_fraction(scene.valid, tile_px) >= min_valid
            self.count = int(self.ok.sum())

    def valid_at(self, y0: int, x0: int) -> bool:
        if not (0 <= y0 < self.ny and 0 <= x0 < self.nx):
            return False
        return self.ok is None or bool(self.ok[y0, x0])

    def draw(self, rng: np.random.Generator) -> tuple[int, int]:
        """A window uniform among the valid ones (rejection sampling, then enumeration)."""
        if self.ok is None:
            return int(rng.integers(self.ny)), int(rng.integers(self.nx))
        for _ in range(_REJECT_ROUNDS):
            ys = rng.integers(self.ny, size=_REJECT_BATCH)
            xs = rng.integers(self.nx, size=_REJECT_BATCH)
            hit = np.flatnonzero(self.ok[ys, xs])
            if hit.size:
                return int(ys[hit[0]]), int(xs[hit[0]])
        k = int(np.flatnonzero(self.ok.ravel())[rng.integers(self.count)])
        return divmod(k, self.nx)


def split_scenes(ids: Sequence[str], val_fraction: float, seed: int) -> dict[str, str]:
    """Scene id → ``"train"`` or ``"val"``: ``round(val_fraction · n)`` scenes (at least one, and
    at most ``n − 1``, when ``val_fraction > 0``) held out for validation, drawn by a generator
    seeded with ``seed`` from the sorted ids (so the order of ``ids`` does not matter)."""
    ids = [str(i) for i in ids]
    if len(set(ids)) != len(ids):
        raise ValueError(f"scene ids are not unique: {sorted({i for i in ids if ids.count(i) > 1})}")
    if not 0.0 <= float(val_fraction) < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
    n = len(ids)
    n_val = 0
    if float(val_fraction) > 0:
        if n < 2:
            raise ValueError(f"cannot hold out validation scenes from {n} scene(s): at least 2 are needed")
        n_val = min(max(round(float(val_fraction) * n), 1), n - 1)
    order = sorted(ids)
    held = {order[i] for i in np.random.default_rng(int(seed)).permutation(n)[:n_val]}
    return {i: "val" if i in held else "train" for i in ids}


def sample_triplets(
    scenes: Sequence[Scene],
    *,
    n: int,
    tile_px: int,
    neighbour_offset: float,
    seed: int,
    min_valid: float,
    splits: Mapping[str, str] | None = None,
) -> xr.Dataset:
    """``n`` triplets of ``tile_px`` tiles from ``scenes`` (module docstring: the scheme and the
    dataset's layout). ``splits`` (scene id → ``train`` / ``val``, :func:`split_scenes`; default:
    every scene ``train``) keeps the distant tile in the anchor's split and fills the ``split``
    variable. Raises ``ValueError`` for bad settings, duplicate ids, fewer than two scenes with a
    valid window, or scenes where no neighbour fits."""
    n, tile_px, seed = int(n), int(tile_px), int(seed)
    neighbour_offset, min_valid = float(neighbour_offset), float(min_valid)
    if n < 1 or tile_px < 1:
        raise ValueError(f"n ({n}) and tile_px ({tile_px}) must be positive")
    if neighbour_offset < 0 or not 0.0 <= min_valid <= 1.0:
        raise ValueError(f"neighbour_offset ({neighbour_offset}) must be >= 0 and min_valid ({min_valid}) "
                         "in [0, 1]")
    ids = [s.id for s in scenes]
    if len(set(ids)) != len(ids):
        raise ValueError(f"scene ids are not unique: {sorted({i for i in ids if ids.count(i) > 1})}")
    if splits is not None and any(i not in splits for i in ids):
        raise ValueError(f"splits: no split for scene(s) {[i for i in ids if i not in splits][:10]}")
    splits = {i: "train" for i in ids} if splits is None else {i: str(splits[i]) for i in ids}
    bad = sorted({v for v in splits.values() if v not in SPLITS})
    if bad:
        raise ValueError(f"splits: {bad} are not one of {SPLITS}")

    windows = [_Windows(s, tile_px, min_valid) for s in scenes]
    eligible = [k for k, w in enumerate(windows) if w.count > 0]
    skipped = [ids[k] for k, w in enumerate(windows) if w.count == 0]
    if skipped:
        log.warning("%d scene(s) have no %d px window with a valid fraction >= %g: %s", len(skipped), tile_px,
                    min_valid, ", ".join(skipped[:10]) + (" ..." if len(skipped) > 10 else ""))
    if len(eligible) < 2:
        raise ValueError(f"triplets need at least two scenes with a {tile_px} px window of valid fraction >= "
                         f"{min_valid} (the distant tile comes from another scene); {len(eligible)} of "
                         f"{len(scenes)} have one")
    partners, lonely = {}, set()
    for k in eligible:
        same = [j for j in eligible if j != k and splits[ids[j]] == splits[ids[k]]]
        if not same:
            lonely.add(splits[ids[k]])
        partners[k] = same or [j for j in eligible if j != k]
    if lonely:
        log.warning("split(s) %s hold a single scene: their distant tiles come from the other split", sorted(lonely))

    rng = np.random.default_rng(seed)
    radius = neighbour_offset * tile_px
    tiles = {name: np.empty((n, tile_px, tile_px, 3), dtype=np.uint8) for name in TILES}
    where = np.empty((n, 3), dtype=object)
    y0s = np.empty((n, 3), dtype=np.int32)
    x0s = np.empty((n, 3), dtype=np.int32)
    split = np.empty(n, dtype=np.int8)
    for i in range(n):
        for _ in range(_ANCHOR_TRIES):
            k = eligible[int(rng.integers(len(eligible)))]
            ay, ax = windows[k].draw(rng)
            for _ in range(NEIGHBOUR_TRIES):
                theta = 2.0 * np.pi * rng.random()
                ny, nx = ay + round(radius * np.sin(theta)), ax + round(radius * np.cos(theta))
                if windows[k].valid_at(ny, nx):
                    break
            else:
                continue
            break
        else:
            raise ValueError(f"no neighbour at {neighbour_offset} tile(s) from an anchor fits inside the valid part "
                             f"of the scenes ({_ANCHOR_TRIES} anchors tried): scenes too small for {tile_px} px tiles?")
        j = partners[k][int(rng.integers(len(partners[k])))]
        dy, dx = windows[j].draw(rng)
        for slot, (s, y, x) in enumerate(((k, ay, ax), (k, ny, nx), (j, dy, dx))):
            tiles[TILES[slot]][i] = scenes[s].rgb[y:y + tile_px, x:x + tile_px]
            where[i, slot], y0s[i, slot], x0s[i, slot] = ids[s], y, x
        split[i] = SPLITS.index(splits[ids[k]])

    dims = ("triplet", "y", "x", "band")
    data = {name: (dims, tiles[name], {"long_name": f"{name} tile (RGB digital numbers)", "units": "1"})
            for name in TILES}
    ds = xr.Dataset(
        {
            **data,
            "scene": (("triplet", "tile"), where.astype(str), {"long_name": "scene id of each tile"}),
            "y0": (("triplet", "tile"), y0s, {"long_name": "row of the tile's top-left pixel in its scene",
                                               "units": "1"}),
            "x0": (("triplet", "tile"), x0s, {"long_name": "column of the tile's top-left pixel in its scene",
                                               "units": "1"}),
            "split": (("triplet",), split, {"long_name": "split of the triplet (by anchor scene)", "units": "1",
                                            "flag_values": np.arange(len(SPLITS), dtype=np.int8),
                                            "flag_meanings": " ".join(SPLITS)}),
        },
        coords={"band": ("band", list(BANDS), {"long_name": "colour band"}),
                "tile": ("tile", list(TILES), {"long_name": "tile of the triplet"})},
        attrs={"tile_px": tile_px, "neighbour_offset": neighbour_offset, "min_valid": min_valid, "seed": seed,
               "n_scenes": len(scenes), "sampling": "convml-data: anchor uniform over valid windows, neighbour "
               "at neighbour_offset * tile_px in a uniform direction, distant tile from another scene"},
    )
    return ds


# --------------------------------------------------------------------------------------------
# triplet stores
# --------------------------------------------------------------------------------------------
_TRIPLET_VARS = {
    **{name: (("triplet", "y", "x", "band"), "u1") for name in TILES},
    "scene": (("triplet", "tile"), None),
    "y0": (("triplet", "tile"), "i"),
    "x0": (("triplet", "tile"), "i"),
    "split": (("triplet",), "i"),
}


def write_triplets(ds: xr.Dataset, path: str | Path, *, sources=(), config: Any = None) -> Path:
    """Write a triplet dataset (:func:`sample_triplets`) as a Zarr store (atomically); return its path."""
    return write_store(ds, path, sources=sources, config=config)


def open_triplets(path: str | Path) -> xr.Dataset:
    """Open a triplet store (lazily) after checking its variables, their dimensions and types, the
    split codes and the tile size; :class:`InputFileError` naming the store otherwise."""
    ds = open_store(path)
    for name, (dims, kind) in _TRIPLET_VARS.items():
        if name not in ds:
            raise InputFileError(path, f"triplet store lacks the variable {name!r}")
        var = ds[name]
        if var.dims != dims:
            raise InputFileError(path, f"triplet store variable {name!r} has dims {var.dims}, expected {dims}")
        if kind == "u1" and var.dtype != np.uint8:
            raise InputFileError(path, f"triplet store variable {name!r} is {var.dtype}, expected uint8")
        if kind == "i" and var.dtype.kind not in "iu":
            raise InputFileError(path, f"triplet store variable {name!r} is {var.dtype}, expected integers")
    if ds.sizes["band"] != 3 or ds.sizes["tile"] != 3 or ds.sizes["y"] != ds.sizes["x"]:
        raise InputFileError(path, f"triplet store tiles must be square RGB with 3 tiles per triplet, got "
                                   f"{dict(ds.sizes)}")
    split = np.asarray(ds["split"].values)
    bad = np.setdiff1d(np.unique(split), np.arange(len(SPLITS)))
    if bad.size:
        raise InputFileError(path, f"triplet store split holds codes {bad.tolist()}, expected 0 train, 1 val")
    return ds


# --------------------------------------------------------------------------------------------
# labelled tiles, rectangles, grids
# --------------------------------------------------------------------------------------------
def resize_tiles(tiles: np.ndarray, size: int) -> np.ndarray:
    """uint8 images ``(n, y, x, 3)`` resized to ``(n, size, size, 3)`` (Pillow's bilinear filter,
    antialiased when reducing: its support widens with the scale); unchanged when already that
    size. A non-square image is stretched to the square, as the study resizes labelled rectangles."""
    tiles = np.asarray(tiles)
    if tiles.dtype != np.uint8 or tiles.ndim != 4 or tiles.shape[-1] != 3:
        raise ValueError(f"tiles must be uint8 (n, y, x, 3), got {tiles.dtype} {tiles.shape}")
    size = int(size)
    if tiles.shape[1:3] == (size, size):
        return tiles
    out = np.empty((tiles.shape[0], size, size, 3), dtype=np.uint8)
    for i, tile in enumerate(tiles):
        out[i] = _resize(tile, size)
    return out


def _resize(image: np.ndarray, size: int) -> np.ndarray:
    return np.asarray(Image.fromarray(np.ascontiguousarray(image)).resize((size, size), Image.Resampling.BILINEAR))


def _scene_rectangles(scene: Scene) -> list[tuple[int, int, int, int, int]]:
    if scene.masks is None:
        return []
    return [tuple(int(v) for v in r) for r in label_rectangles(scene.masks)]


def _samples(images: np.ndarray, columns: Mapping[str, tuple[np.ndarray, dict]], attrs: Mapping[str, Any]
             ) -> xr.Dataset:
    data = {"image": (("sample", "y", "x", "band"), images,
                      {"long_name": "tile (RGB digital numbers)", "units": "1"})}
    data.update({name: (("sample",), values, meta) for name, (values, meta) in columns.items()})
    return xr.Dataset(data, coords={"band": ("band", list(BANDS), {"long_name": "colour band"})}, attrs=dict(attrs))


_LABEL = {"long_name": "class index (eoml.clouds.labels.CLASSES)", "units": "1"}
_SCENE = {"long_name": "scene id"}
_VALID = {"long_name": "valid fraction of the tile's pixels", "units": "1"}


def labelled_tiles(scenes: Sequence[Scene], tile_px: int, max_tiles: int, seed: int, *,
                   min_valid: float = 0.0) -> xr.Dataset:
    """Tiles of ``tile_px`` lying fully inside one labelled rectangle, with its class.

    Each rectangle holds a grid of non-overlapping tiles, centred in it (``h // t`` rows and
    ``w // t`` columns); tiles whose valid fraction is below ``min_valid`` are left out; when more
    than ``max_tiles`` remain, ``max_tiles`` of them are drawn without replacement by a generator
    seeded with ``seed`` (kept in their scene / rectangle order). Variables: ``image`` uint8
    ``(sample, y, x, band)``, ``label`` int16, ``scene`` str, ``rectangle`` (index among the
    scene's rectangles), ``y0``, ``x0``, ``valid_fraction``."""
    t, max_tiles = int(tile_px), int(max_tiles)
    if t < 1 or max_tiles < 1:
        raise ValueError(f"tile_px ({tile_px}) and max_tiles ({max_tiles}) must be positive")
    found = []  # (scene index, label, rectangle index, y0, x0, valid fraction)
    for s, scene in enumerate(scenes):
        for r, (label, y0, y1, x0, x1) in enumerate(_scene_rectangles(scene)):
            h, w = y1 - y0, x1 - x0
            ny, nx = h // t, w // t
            oy, ox = y0 + (h - ny * t) // 2, x0 + (w - nx * t) // 2
            for a in range(ny):
                for b in range(nx):
                    ty, tx = oy + a * t, ox + b * t
                    frac = _tile_fraction(scene, ty, tx, t, t)
                    if frac >= min_valid:
                        found.append((s, label, r, ty, tx, frac))
    if len(found) > max_tiles:
        keep = np.sort(np.random.default_rng(int(seed)).choice(len(found), max_tiles, replace=False))
        found = [found[k] for k in keep]
    images = np.empty((len(found), t, t, 3), dtype=np.uint8)
    for i, (s, _, _, ty, tx, _) in enumerate(found):
        images[i] = scenes[s].rgb[ty:ty + t, tx:tx + t]
    col = list(zip(*found)) if found else [[] for _ in range(6)]
    return _samples(images, {
        "label": (np.asarray(col[1], dtype=np.int16), _LABEL),
        "scene": (np.asarray([scenes[s].id for s in col[0]], dtype=str), _SCENE),
        "rectangle": (np.asarray(col[2], dtype=np.int32), {"long_name": "index of the labelled rectangle in its "
                                                                        "scene", "units": "1"}),
        "y0": (np.asarray(col[3], dtype=np.int32), {"long_name": "row of the tile's top-left pixel", "units": "1"}),
        "x0": (np.asarray(col[4], dtype=np.int32), {"long_name": "column of the tile's top-left pixel", "units": "1"}),
        "valid_fraction": (np.asarray(col[5], dtype=np.float32), _VALID),
    }, {"tile_px": t, "max_tiles": max_tiles, "seed": int(seed), "min_valid": float(min_valid)})


def rectangles(scenes: Sequence[Scene], size: int) -> xr.Dataset:
    """Every labelled rectangle of every scene resized to ``size × size`` (:func:`resize_tiles`),
    with its class. Variables: ``image`` uint8 ``(sample, y, x, band)``, ``label`` int16,
    ``scene`` str, ``y0``, ``y1``, ``x0``, ``x1`` (the rectangle, ends exclusive),
    ``valid_fraction``."""
    size = int(size)
    if size < 1:
        raise ValueError(f"size must be positive, got {size}")
    rows = [(s, *rect) for s, scene in enumerate(scenes) for rect in _scene_rectangles(scene)]
    images = np.empty((len(rows), size, size, 3), dtype=np.uint8)
    for i, (s, _, y0, y1, x0, x1) in enumerate(rows):
        images[i] = _resize(scenes[s].rgb[y0:y1, x0:x1], size)
    col = list(zip(*rows)) if rows else [[] for _ in range(6)]
    frac = [_tile_fraction(scenes[s], y0, x0, y1 - y0, x1 - x0) for s, _, y0, y1, x0, x1 in rows]
    edges = {name: (np.asarray(col[k], dtype=np.int32),
                    {"long_name": f"rectangle {what} ({'exclusive' if name in ('y1', 'x1') else 'inclusive'})",
                     "units": "1"})
             for k, name, what in ((2, "y0", "first row"), (3, "y1", "end row"), (4, "x0", "first column"),
                                   (5, "x1", "end column"))}
    return _samples(images, {
        "label": (np.asarray(col[1], dtype=np.int16), _LABEL),
        "scene": (np.asarray([scenes[s].id for s in col[0]], dtype=str), _SCENE),
        **edges,
        "valid_fraction": (np.asarray(frac, dtype=np.float32), _VALID),
    }, {"size": size})


def grid_tiles(scene: Scene, tile_px: int, stride: int) -> xr.Dataset:
    """Sliding-window tiles over a whole scene (convml-tt's "rect" maps): top-left corners every
    ``stride`` pixels from (0, 0) while the tile fits, row-major. Variables: ``image`` uint8
    ``(sample, y, x, band)``, ``row``, ``col`` (grid position), ``y0``, ``x0``,
    ``valid_fraction``; attributes ``scene``, ``n_rows``, ``n_cols``, ``tile_px``, ``stride``."""
    t, stride = int(tile_px), int(stride)
    if t < 1 or stride < 1:
        raise ValueError(f"tile_px ({tile_px}) and stride ({stride}) must be positive")
    h, w = scene.shape
    if t > h or t > w:
        raise ValueError(f"scene {scene.id}: a {t} px tile does not fit in its {h} x {w} image")
    ys, xs = np.arange(0, h - t + 1, stride), np.arange(0, w - t + 1, stride)
    yy, xx = (a.ravel().astype(np.int32) for a in np.meshgrid(ys, xs, indexing="ij"))
    windows = np.lib.stride_tricks.sliding_window_view(scene.rgb, (t, t), axis=(0, 1))  # (y, x, band, t, t)
    images = np.ascontiguousarray(windows[yy, xx].transpose(0, 2, 3, 1))
    if scene.valid is None:
        frac = np.ones(len(yy))
    else:
        frac = _window_fraction(scene.valid, t)[yy, xx]
    rr, cc = (a.ravel().astype(np.int32) for a in np.meshgrid(np.arange(len(ys)), np.arange(len(xs)), indexing="ij"))
    return _samples(images, {
        "row": (rr, {"long_name": "grid row of the tile", "units": "1"}),
        "col": (cc, {"long_name": "grid column of the tile", "units": "1"}),
        "y0": (yy, {"long_name": "row of the tile's top-left pixel", "units": "1"}),
        "x0": (xx, {"long_name": "column of the tile's top-left pixel", "units": "1"}),
        "valid_fraction": (frac.astype(np.float32), _VALID),
    }, {"scene": scene.id, "n_rows": len(ys), "n_cols": len(xs), "tile_px": t, "stride": stride})


def _centred_square(y0: int, y1: int, x0: int, x1: int) -> tuple[int, int, int]:
    """The largest square inside a rectangle (ends exclusive), centred: ``(y0, x0, side)``."""
    side = min(y1 - y0, x1 - x0)
    return y0 + (y1 - y0 - side) // 2, x0 + (x1 - x0 - side) // 2, side


def labelled_squares(scenes: Sequence[Scene], size: int) -> xr.Dataset:
    """The largest square inside each labelled rectangle of each scene (centred in it; side = the
    rectangle's shorter side), resized to ``size`` (:func:`resize_tiles`), with its class — what
    the study's classifier sees. An expert-labelled image is one rectangle, the whole image.
    Variables: ``image`` uint8 ``(sample, y, x, band)``, ``label`` int16, ``scene``, ``rectangle``
    (index among the scene's rectangles), ``y0``, ``x0``, ``side``, ``valid_fraction``."""
    size = int(size)
    if size < 1:
        raise ValueError(f"size must be positive, got {size}")
    found = []
    for s, scene in enumerate(scenes):
        for r, (label, y0, y1, x0, x1) in enumerate(_scene_rectangles(scene)):
            found.append((s, label, r, *_centred_square(y0, y1, x0, x1)))
    images = np.empty((len(found), size, size, 3), dtype=np.uint8)
    for i, (s, _, _, y0, x0, side) in enumerate(found):
        images[i] = _resize(scenes[s].rgb[y0:y0 + side, x0:x0 + side], size)
    col = list(zip(*found)) if found else [[] for _ in range(6)]
    frac = [_tile_fraction(scenes[s], y0, x0, side, side) for s, _, _, y0, x0, side in found]
    return _samples(images, {
        "label": (np.asarray(col[1], dtype=np.int16), _LABEL),
        "scene": (np.asarray([scenes[s].id for s in col[0]], dtype=str), _SCENE),
        "rectangle": (np.asarray(col[2], dtype=np.int32), {"long_name": "index of the labelled rectangle in its "
                                                                        "scene", "units": "1"}),
        "y0": (np.asarray(col[3], dtype=np.int32), {"long_name": "row of the square's top-left pixel", "units": "1"}),
        "x0": (np.asarray(col[4], dtype=np.int32), {"long_name": "column of the square's top-left pixel",
                                                     "units": "1"}),
        "side": (np.asarray(col[5], dtype=np.int32), {"long_name": "side of the square (px of the image)",
                                                       "units": "1"}),
        "valid_fraction": (np.asarray(frac, dtype=np.float32), _VALID),
    }, {"size": size})


def largest_empty_square(blocked: np.ndarray) -> tuple[int, int, int]:
    """The largest axis-aligned square of ``False`` pixels in the bool ``(y, x)`` array
    ``blocked``: ``(y0, x0, side)``, the first such square in row-major order of its top-left
    corner; ``side`` 0 when every pixel is blocked. A binary search on the side over the window
    sums of a summed-area table (a square of side s free implies one of side s − 1 is)."""
    blocked = np.asarray(blocked, dtype=bool)
    if blocked.ndim != 2:
        raise ValueError(f"blocked must be a 2-D bool array, got shape {blocked.shape}")
    table = np.zeros((blocked.shape[0] + 1, blocked.shape[1] + 1), dtype=np.int64)
    table[1:, 1:] = blocked.cumsum(0, dtype=np.int64).cumsum(1)

    def free(s: int) -> np.ndarray:
        return (table[s:, s:] - table[:-s, s:] - table[s:, :-s] + table[:-s, :-s]) == 0

    lo, hi = 0, min(blocked.shape)
    while lo < hi:  # invariant: a free square of side lo exists (0 trivially), none above hi
        mid = (lo + hi + 1) // 2
        if free(mid).any():
            lo = mid
        else:
            hi = mid - 1
    if lo == 0:
        return 0, 0, 0
    y0, x0 = np.unravel_index(int(np.argmax(free(lo))), free(lo).shape)
    return int(y0), int(x0), int(lo)


def unlabelled_squares(scenes: Sequence[Scene], min_px: int, size: int) -> xr.Dataset:
    """The largest unlabelled square of each scene with masks or none (every image of a labelled
    dataset: a pixel is labelled when any class mask holds it, or not valid when the scene has a
    validity mask), kept when its side is at least ``min_px``, resized to ``size``
    (:func:`resize_tiles`). Variables: ``image`` uint8 ``(sample, y, x, band)``, ``scene``, ``y0``,
    ``x0``, ``side``, ``valid_fraction`` (1: only free pixels)."""
    min_px, size = int(min_px), int(size)
    if min_px < 1 or size < 1:
        raise ValueError(f"min_px ({min_px}) and size ({size}) must be positive")
    found = []
    for s, scene in enumerate(scenes):
        blocked = np.zeros(scene.shape, bool) if scene.masks is None else scene.masks.any(axis=0)
        if scene.valid is not None:
            blocked |= ~scene.valid
        y0, x0, side = largest_empty_square(blocked)
        if side >= min_px:
            found.append((s, y0, x0, side))
    images = np.empty((len(found), size, size, 3), dtype=np.uint8)
    for i, (s, y0, x0, side) in enumerate(found):
        images[i] = _resize(scenes[s].rgb[y0:y0 + side, x0:x0 + side], size)
    col = list(zip(*found)) if found else [[] for _ in range(4)]
    return _samples(images, {
        "scene": (np.asarray([scenes[s].id for s in col[0]], dtype=str), _SCENE),
        "y0": (np.asarray(col[1], dtype=np.int32), {"long_name": "row of the square's top-left pixel", "units": "1"}),
        "x0": (np.asarray(col[2], dtype=np.int32), {"long_name": "column of the square's top-left pixel",
                                                     "units": "1"}),
        "side": (np.asarray(col[3], dtype=np.int32), {"long_name": "side of the square (px of the image)",
                                                       "units": "1"}),
        "valid_fraction": (np.ones(len(found), dtype=np.float32), _VALID),
    }, {"size": size, "min_px": min_px})
