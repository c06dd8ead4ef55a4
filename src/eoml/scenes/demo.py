"""A generated scene-classification dataset in the UC Merced layout, for the scenes demo.

The scenes study (transfer learning for remote-sensing scene classification, Pires de Lima &
Marfurt 2020) reads image-folder datasets as they are distributed. For an offline demo this module
writes one in the layout of UC Merced Land Use (Yang & Newsam 2010)::

    <out_dir>/UCMerced_LandUse/Images/<class>/<class>00.tif, <class>01.tif, ...

uncompressed 8-bit RGB TIFFs as in the real archive, which :mod:`eoml.scenes.readers` (layout
``ucmerced``) reads unchanged.

The scenes are rendered top-down views of landscapes, one generator per class (:data:`CLASSES`):
an albedo map built from materials, a height map of the objects that stand up (trees, houses,
tanks, cars), then illumination and a sensor:

* **Materials** — vegetation from lush green to dry olive, bare soil, sand, water from deep blue
  through green to turbid brown, asphalt, concrete, roofs, paint, cars — are drawn for every image
  from pools that all classes share, and each carries multi-scale texture (fractal noise: the sum
  of smooth noise fields of correlation lengths 2-32 px, amplitudes halving per octave).
* **Structure** is what makes a class: the arrangement of the materials in a rotated, scaled and
  shifted frame (rotation uniform in 0-360 deg, scale 0.8-1.25, random offset), e.g. parallel crop
  rows in rectangular fields, circles with wheel-track rings, a lattice of lots with houses at three
  densities, a long marked strip, crossing roads with crosswalks, rows of stalls with cars, sets of
  bright circular tanks, a meandering channel, a surf zone. Classes overlap in colour on purpose
  (fields, pivots, chaparral and forest all mix vegetation and soil; runway, freeway, intersection,
  parking lot and the residential classes mix asphalt, roofs and lawns; water, river and beach
  share water, sand and vegetation), so a colour-histogram classifier confuses the classes within
  each group while a convolutional network can learn their shapes. Measured on 12 classes x 40
  images of 96 px (5-fold cross-validation, chance 0.083): a random forest on 8 x 8 x 8 joint RGB
  histograms 0.66 (it confuses fields with pivots, the three residential densities, runway with
  intersection), on the mean and standard deviation of R, G, B 0.29; logistic regression on
  frozen EfficientNet-Lite0 features (ImageNet weights, intermediate cut, global average
  pooling) 0.99, on the same network with random weights 0.29.
* **Illumination** — sun elevation 30-65 deg and azimuth 0-360 deg: Lambertian shading of the height
  map and cast shadows (an object of height h shades the ground up to h / tan(elevation) away),
  30-50 % diffuse skylight.
* **Look** (camera, season, processing; :func:`_shared_look`) — drawn from one distribution for
  every class: the luma is mapped by rank onto a logit-normal histogram of random mean and spread
  (a monotonic map, so every edge, shadow and texture stays) and the chroma is re-centred on a
  random tint (green, olive, dry brown, blue-grey haze, neutral) with a random spread; then 0-6 %
  haze. Brightness, contrast and mean colour therefore carry no class information: a water scene
  is not darker or bluer than a forest on average (class mean RGB within 10 digital numbers).
* **Sensor** — a Gaussian point-spread function (sigma 0.4-0.8 px), Gaussian read noise (1.5-4
  digital numbers) plus shot noise, rounding to 8 bits.

Each image is generated from its own random stream, seeded by ``(seed, CRC-32 of the class name,
image index)``, so a class's images do not depend on which other classes are generated, and the
bytes written are identical for a given seed. The tree is written to a temporary folder that is
renamed into place when complete (:func:`eoml.core.io.atomic_path`).
"""

from __future__ import annotations

import functools
import math
import zlib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from eoml.core.errors import ConfigError
from eoml.core.io import atomic_path
from eoml.core.settings import required_keys

__all__ = ["CLASSES", "DEMO_KEYS", "demo_plan", "generate_demo", "render_scene"]

#: the keys of the ``scenes.demo`` config section (the schema gives their defaults and meanings)
DEMO_KEYS = ("classes", "n_per_class", "size", "seed")
#: the dataset folders below ``out_dir`` (the UC Merced archive's layout)
LAYOUT_PATH = ("UCMerced_LandUse", "Images")
#: smallest image side the generator draws structures at
MIN_SIZE = 32
#: design resolution: lengths below are in units of a 96 px scene (1 unit = size / 96 px)
_DESIGN = 96.0


# ------------------------------------------------------------------------------------------------
# canvas: rotated frame, noise, materials
# ------------------------------------------------------------------------------------------------
class _Canvas:
    """The pixel grid of one scene and its random, rotated, scaled and shifted design frame.

    ``U``, ``V``: design coordinates of each pixel (rotated by a random angle, scaled by a random
    factor, shifted by a random offset); ``px``: image pixels per design unit; ``rng`` the image's
    random stream.
    """

    def __init__(self, size: int, rng: np.random.Generator, rotate: bool = True, offset: float = 20.0):
        self.S = size
        self.rng = rng
        self.px = size / _DESIGN * rng.uniform(0.8, 1.25)
        theta = rng.uniform(0.0, 2 * np.pi) if rotate else 0.0
        c = (np.arange(size) + 0.5 - size / 2) / self.px
        x, y = np.meshgrid(c, c)  # x along columns, y along rows
        self.U = x * np.cos(theta) + y * np.sin(theta) + rng.uniform(-offset, offset)
        self.V = -x * np.sin(theta) + y * np.cos(theta) + rng.uniform(-offset, offset)
        self.albedo = np.zeros((size, size, 3))
        self.height = np.zeros((size, size))
        self._fine = self.fbm(2.0, 3)  # one shared fine texture field

    def noise(self, cell: float) -> np.ndarray:
        """Smooth periodic noise (mean 0, std ~1) with correlation length ``cell`` design units.

        White noise on a coarse grid of ``cell``-sized cells, interpolated to the pixels with
        cubic B-spline weights (separable, periodic): smooth to the second derivative.
        """
        cell_px = max(cell * self.px, 1.0)
        n = max(4, math.ceil(self.S / cell_px))
        small = self.rng.standard_normal((n, n))
        idx, w = _bspline_weights(self.S, n)
        rows = sum(w[k][:, None] * small[idx[k], :] for k in range(4))  # (S, n)
        return sum(w[k][None, :] * rows[:, idx[k]] for k in range(4)) / 0.5

    def fbm(self, cell: float, octaves: int = 4) -> np.ndarray:
        """Fractal noise: octaves of :meth:`noise` from ``cell`` up (cell x 2 per octave, amplitude / 2)."""
        out = np.zeros((self.S, self.S))
        for k in range(octaves):
            out += self.noise(cell * 2**k) * 0.5 ** (octaves - 1 - k)
        return out / np.sqrt(sum(0.25**k for k in range(octaves)))

    def paint(self, mask: np.ndarray, colour: np.ndarray, texture: float = 0.08, height: float | None = None) -> None:
        """Set the albedo under ``mask`` to ``colour`` (RGB or an image) with fine texture of amplitude ``texture``.

        ``height`` (design units), when given, sets the height map under ``mask`` too.
        """
        col = np.asarray(colour, float)
        tex = 1.0 + texture * self._fine[mask]
        self.albedo[mask] = (col[mask] if col.ndim == 3 else col) * tex[:, None]
        if height is not None:
            self.height[mask] = height

    def ground(self, colour: np.ndarray, patchiness: float = 0.15, cell: float = 12.0) -> None:
        """Fill the whole scene with ``colour`` and multi-scale texture (patches of ``cell`` units)."""
        tex = 1.0 + patchiness * self.fbm(cell, 3) + 0.06 * self._fine
        self.albedo = np.asarray(colour, float) * tex[..., None]

    def cell_table(self, m: int, k: int) -> np.ndarray:
        """A random (m, m, k) table of uniforms, for per-cell parameters looked up by cell index."""
        return self.rng.uniform(0.0, 1.0, (m, m, k))


@functools.lru_cache(maxsize=64)
def _bspline_weights(size: int, n: int) -> tuple[tuple[np.ndarray, ...], tuple[np.ndarray, ...]]:
    """Indices (periodic) and cubic B-spline weights of ``size`` pixels on a grid of ``n`` cells."""
    t = (np.arange(size) + 0.5) * n / size - 0.5
    base = np.floor(t).astype(int)
    f = t - base
    w = ((1 - f) ** 3 / 6, (3 * f**3 - 6 * f**2 + 4) / 6, (-3 * f**3 + 3 * f**2 + 3 * f + 1) / 6, f**3 / 6)
    idx = tuple(np.mod(base + k - 1, n) for k in range(4))
    return idx, w


# material pools: every class draws from the same ones -------------------------------------------
def _jit(rng: np.random.Generator, rgb, spread: float = 0.12) -> np.ndarray:
    return np.asarray(rgb, float) * rng.uniform(1 - spread, 1 + spread) * np.exp(rng.normal(0, 0.04, 3))


def _veg(rng: np.random.Generator) -> np.ndarray:
    """Vegetation: lush green to dry olive."""
    t = rng.uniform(0.0, 1.0) ** 1.5
    return _jit(rng, (1 - t) * np.array([0.17, 0.28, 0.11]) + t * np.array([0.38, 0.36, 0.22]))


def _tree(rng: np.random.Generator) -> np.ndarray:
    t = rng.uniform(0.0, 0.6)
    return _jit(rng, (1 - t) * np.array([0.10, 0.18, 0.08]) + t * np.array([0.22, 0.25, 0.14]))


def _soil(rng: np.random.Generator) -> np.ndarray:
    t = rng.uniform(0.0, 1.0)
    return _jit(rng, (1 - t) * np.array([0.36, 0.28, 0.20]) + t * np.array([0.58, 0.51, 0.41]))


def _sand(rng: np.random.Generator) -> np.ndarray:
    return _jit(rng, (0.70, 0.64, 0.50), 0.1)


def _water_colour(rng: np.random.Generator) -> np.ndarray:
    """Water: deep blue, green, turbid brown and grey mixed."""
    pool = np.array([[0.06, 0.11, 0.15], [0.10, 0.16, 0.13], [0.20, 0.20, 0.15], [0.13, 0.17, 0.19]])
    w = rng.dirichlet(np.ones(len(pool)) * 0.7)
    return _jit(rng, w @ pool, 0.25)


def _asphalt(rng: np.random.Generator) -> np.ndarray:
    return _jit(rng, np.full(3, rng.uniform(0.18, 0.36)), 0.05)


def _concrete(rng: np.random.Generator) -> np.ndarray:
    return _jit(rng, np.array([0.62, 0.61, 0.58]) * rng.uniform(0.8, 1.15), 0.05)


def _roof(rng: np.random.Generator) -> np.ndarray:
    pool = np.array([[0.50, 0.30, 0.24], [0.45, 0.45, 0.45], [0.25, 0.25, 0.26], [0.78, 0.77, 0.74],
                     [0.58, 0.49, 0.38], [0.36, 0.40, 0.44]])
    return _jit(rng, pool[rng.integers(len(pool))], 0.12)


def _paint(rng: np.random.Generator, yellow: bool = False) -> np.ndarray:
    return _jit(rng, (0.85, 0.75, 0.30) if yellow else (0.86, 0.86, 0.84), 0.06)


def _car_colours(rng: np.random.Generator, n: int) -> np.ndarray:
    pool = np.array([[0.85, 0.85, 0.85], [0.10, 0.10, 0.11], [0.55, 0.56, 0.58], [0.60, 0.12, 0.10],
                     [0.12, 0.20, 0.50], [0.35, 0.36, 0.38], [0.75, 0.72, 0.65]])
    return pool[rng.integers(len(pool), size=n)] * rng.uniform(0.85, 1.15, (n, 1))


def _lookup(table: np.ndarray, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    m = table.shape[0]
    return table[np.mod(i, m), np.mod(j, m)]


def _trees(c: _Canvas, where: np.ndarray, cover: float, crown: float, height: float) -> None:
    """Tree crowns (blobs of size ~``crown`` units, up to ``height`` units tall) on ``cover`` of ``where``."""
    blob = c.noise(crown) + 0.35 * c.noise(crown / 2)
    thr = np.quantile(blob, 1 - cover) if 0 < cover < 1 else (-np.inf if cover >= 1 else np.inf)
    crowns = where & (blob > thr)
    h = np.clip(blob - thr, 0, None)
    h = height * np.sqrt(h / (h.max() + 1e-9))
    colour = _tree(c.rng)
    tex = (0.8 + 0.45 * np.clip(h / height, 0, 1))[..., None] * (1 + 0.12 * c._fine[..., None])
    c.albedo = np.where(crowns[..., None], colour * tex, c.albedo)
    c.height = np.where(crowns, np.maximum(c.height, h), c.height)


# ------------------------------------------------------------------------------------------------
# class generators: each paints albedo and height on a canvas
# ------------------------------------------------------------------------------------------------
def _agricultural(c: _Canvas) -> None:
    """Patchwork of rectangular fields: crop rows, ploughed furrows, grass, stubble; tracks between."""
    rng = c.rng
    w = rng.uniform(25, 55)
    col = np.floor(c.U / w).astype(int)
    t = c.cell_table(16, 6)
    p = _lookup(t, col, np.zeros_like(col))
    hgt = w * (0.6 + 0.8 * p[..., 0])
    vv = c.V + hgt * p[..., 1]
    row = np.floor(vv / hgt).astype(int)
    q = _lookup(t, col * 7 + 3, row)
    kind = np.floor(q[..., 0] * 4).astype(int)  # 0 rows, 1 furrows, 2 grass, 3 stubble
    along = np.where(q[..., 1] > 0.5, c.U, vv)
    period = 2.2 + 3.0 * q[..., 2]
    phase = np.sin(2 * np.pi * along / period)
    soil, crop, dry = _soil(rng), _veg(rng), _veg(rng) * 0.5 + _soil(rng) * 0.6
    colours = np.stack([soil, crop, dry])
    frac = np.clip(0.5 * (phase + 1), 0, 1)[..., None]
    base = np.where((kind == 0)[..., None], colours[0] * (1 - frac) + crop * frac * rng.uniform(0.8, 1.2), 0)
    base = np.where((kind == 1)[..., None], soil * (0.85 + 0.2 * frac), base)
    base = np.where((kind == 2)[..., None], crop * (1.0 + 0.1 * c.noise(8))[..., None], base)
    base = np.where((kind == 3)[..., None], dry * (0.92 + 0.12 * frac), base)
    base *= (0.85 + 0.3 * q[..., 3])[..., None]
    c.albedo = base * (1 + 0.07 * c._fine[..., None])
    # field margins: tracks and hedges along the field boundaries
    du = np.abs(c.U - (col + 0.5) * w) - w / 2
    dv = np.abs(vv - (row + 0.5) * hgt) - hgt / 2
    edge = np.maximum(du, dv) > -rng.uniform(0.6, 1.4)
    c.paint(edge, _soil(rng) * 1.1 if rng.uniform() < 0.5 else _tree(rng))


def _centerpivot(c: _Canvas) -> None:
    """Centre-pivot irrigation circles on a square lattice: rings of wheel tracks, a pivot arm, sectors."""
    rng = c.rng
    cell = rng.uniform(55, 80)
    i, j = np.floor(c.U / cell).astype(int), np.floor(c.V / cell).astype(int)
    du, dv = c.U - (i + 0.5) * cell, c.V - (j + 0.5) * cell
    r = np.hypot(du, dv)
    ang = np.arctan2(dv, du)
    t = c.cell_table(16, 5)
    p = _lookup(t, i, j)
    radius = cell * (0.42 + 0.07 * p[..., 0])
    c.ground(_soil(rng) if rng.uniform() < 0.6 else _veg(rng) * 0.6 + _soil(rng) * 0.5, 0.2, 15)
    inside = r < radius
    crop_a, crop_b = _veg(rng), (_soil(rng) if rng.uniform() < 0.5 else _veg(rng))
    split = (np.mod(ang - 2 * np.pi * p[..., 1], 2 * np.pi) < 2 * np.pi * p[..., 2]) & (p[..., 3] > 0.35)
    col = np.where(split[..., None], crop_b, crop_a) * (1 + 0.08 * c.noise(6))[..., None]
    ring_period = rng.uniform(5.0, 8.0)
    rings = np.abs(np.mod(r, ring_period) - ring_period / 2) < 0.45
    col = np.where(rings[..., None], col * 0.8, col)
    arm_ang = 2 * np.pi * p[..., 4]
    arm = (np.abs(du * np.sin(arm_ang) - dv * np.cos(arm_ang)) < 0.5) & (du * np.cos(arm_ang) + dv * np.sin(arm_ang) > 0)
    col = np.where(arm[..., None], _concrete(rng) * 0.9, col)
    c.paint(inside, col, 0.05)
    c.height = np.where(inside & arm, 0.8, c.height)


def _forest(c: _Canvas) -> None:
    """Closed canopy of tree crowns (sizes vary) with a few gaps showing the understory."""
    rng = c.rng
    c.ground(_veg(rng) * 0.7 + _soil(rng) * 0.3, 0.2, 10)
    _trees(c, np.ones((c.S, c.S), bool), rng.uniform(0.8, 0.97), rng.uniform(4.0, 7.0), rng.uniform(6, 10))
    if rng.uniform() < 0.35:  # a clearing: grass, soil or a field edge
        clearing = c.noise(35) > rng.uniform(0.6, 1.4)
        c.paint(clearing, (_veg, _soil, _sand)[rng.integers(3)](rng), 0.15, height=0.0)
    if rng.uniform() < 0.3:  # a forest track
        track = np.abs(c.V - 6 * np.sin(c.U / 25)) < rng.uniform(1.0, 2.0)
        c.paint(track, _soil(rng))
        c.height = np.where(track, 0.0, c.height)


def _chaparral(c: _Canvas) -> None:
    """Dense shrubland: small, low, scattered shrubs on dry grass and bare soil."""
    rng = c.rng
    c.ground(_soil(rng) * 0.55 + _veg(rng) * 0.55, 0.25, 9)
    shrubs = np.ones((c.S, c.S), bool)
    _trees(c, shrubs, rng.uniform(0.3, 0.6), rng.uniform(1.6, 2.6), rng.uniform(1.5, 2.5))
    if rng.uniform() < 0.4:  # a dirt trail
        trail = np.abs(c.V - 10 * np.sin(c.U / 18 + rng.uniform(0, 6))) < 0.8
        c.paint(trail, _soil(rng) * 1.15)
        c.height = np.where(trail, 0.0, c.height)


def _open_water(c: _Canvas) -> None:
    """Open water: wind ripples, sun glint, sometimes a shore, a boat and its wake."""
    rng = c.rng
    water = _water_colour(rng)
    ripple = np.sin(2 * np.pi * (c.U + 2.5 * c.noise(10)) / rng.uniform(2.5, 5.0))
    depth = c.noise(rng.uniform(30, 60))  # shallows, turbidity plumes: the large-scale variation
    c.albedo = water * (1 + 0.25 * depth + 0.03 * ripple + 0.04 * c.fbm(6, 3))[..., None]
    glint = (ripple > 0.93) & (c.noise(12) > 1.0)
    c.paint(glint, water * 2.2, 0.1)
    if rng.uniform() < 0.5:  # a shore of vegetation, sand or built land
        shore = c.V > rng.uniform(15, 45) + 5 * c.fbm(10, 3)
        land = (_veg, _sand, _soil, _concrete)[rng.integers(4)](rng)
        c.paint(shore, land, 0.15)
        _trees(c, shore, rng.uniform(0.1, 0.6), 4.0, 6.0)
    if rng.uniform() < 0.35:  # boat and wake
        bu, bv = rng.uniform(-20, 20, 2)
        boat = (np.abs(c.U - bu) < 3.0) & (np.abs(c.V - bv) < 1.0)
        wake = (c.U < bu) & (np.abs(c.V - bv) < 0.15 * (bu - c.U) + 0.5) & (c.U > bu - 40)
        c.paint(wake & ~boat, water * 1.6, 0.2)
        c.paint(boat, _paint(rng), 0.03, height=1.0)


def _river(c: _Canvas) -> None:
    """A meandering river with sand bars and riparian trees, across grassland or fields."""
    rng = c.rng
    c.ground(_veg(rng), 0.2, 12)
    amp, lam = rng.uniform(5, 18), rng.uniform(60, 120)
    centre = amp * np.sin(2 * np.pi * c.U / lam + rng.uniform(0, 6)) + 3 * c.noise(20)
    width = rng.uniform(7, 16)
    d = np.abs(c.V - centre)
    bank = (d < width / 2 + rng.uniform(6, 14)) & (d >= width / 2)
    _trees(c, bank, 0.6, 3.5, 6.0)
    bars = (d < width / 2 + 2.0) & (d >= width / 2 - 1.0) & (c.noise(15) > 0.6)
    c.paint(bars, _sand(rng), 0.1, height=0.0)
    water = d < width / 2 - (bars * 1.5)
    c.paint(water, _water_colour(rng) * (1 + 0.05 * np.sin(c.U))[..., None], 0.05, height=0.0)


def _beach(c: _Canvas) -> None:
    """A shoreline: water, a surf zone with breaking-wave lines, wet and dry sand, vegetation behind."""
    rng = c.rng
    shore = rng.uniform(-15, 15) + 4 * np.sin(c.U / rng.uniform(15, 40)) + 1.5 * c.noise(12)
    d = c.V - shore  # < 0 sea, > 0 land
    c.ground(_veg(rng), 0.2, 10)
    sand_w = rng.uniform(15, 35)
    c.paint(d < sand_w, _sand(rng) * (1 + 0.05 * c.noise(5))[..., None], 0.05)
    c.paint((d < 3) & (d >= 0), _sand(rng) * 0.75, 0.05)
    sea = d < 0
    c.paint(sea, _water_colour(rng), 0.05)
    surf_w = rng.uniform(6, 15)
    waves = (np.cos(2 * np.pi * d / rng.uniform(3, 5)) > 0.55) & (d > -surf_w) & sea
    foam = (d > -1.5) & sea
    c.paint(waves | foam, _paint(rng) * rng.uniform(0.7, 1.0), 0.2)
    veg = d > sand_w
    _trees(c, veg, rng.uniform(0.1, 0.5), 3.0, 5.0)


def _residential(c: _Canvas, lot: tuple[float, float], house: tuple[float, float], p_house: float,
                 tree_cover: float) -> None:
    """A road grid with lots; a house (roof, shadow) on each lot with probability ``p_house``."""
    rng = c.rng
    lot_w, lot_h = lot[0] * rng.uniform(0.9, 1.1), lot[1] * rng.uniform(0.9, 1.1)
    per_block = int(rng.integers(3, 7))
    road_w = rng.uniform(3.5, 5.0)
    block_w = lot_w * per_block + road_w
    block_h = 2 * lot_h + road_w
    c.ground(_veg(rng), 0.15, 8)
    bu = np.mod(c.U, block_w)
    bv = np.mod(c.V, block_h)
    road = (bu < road_w) | (bv < road_w)
    li = np.floor(c.U / block_w).astype(int) * per_block + np.floor((bu - road_w) / lot_w).astype(int)
    lj = np.floor(c.V / block_h).astype(int) * 2 + (bv - road_w > lot_h)
    lu = np.mod(bu - road_w, lot_w) - lot_w / 2  # position within the lot
    lv = np.mod(bv - road_w, lot_h) - lot_h / 2
    facing = np.where(bv - road_w > lot_h, 1.0, -1.0)  # the lot's street side
    t = c.cell_table(32, 6)
    p = _lookup(t, li, lj)
    hw, hh = house[0] * (0.8 + 0.4 * p[..., 0]) / 2, house[1] * (0.8 + 0.4 * p[..., 1]) / 2
    setback = (lot_h / 2 - hh) * 0.45
    cv = facing * (setback * (0.6 + 0.4 * p[..., 2]))
    has = (p[..., 3] < p_house) & ~road
    roof = has & (np.abs(lu) < hw) & (np.abs(lv - cv) < hh)
    drive = has & ~roof & (np.abs(lu - hw * 0.6) < 1.0) & (facing * (lv - cv) > 0)
    colours = np.stack([_roof(rng) for _ in range(6)])
    roof_col = colours[np.floor(p[..., 4] * 6).astype(int)]
    ridge = np.where(np.abs(lv - cv) < hh * 0.08, 0.85, 1.0)  # gable ridge line
    c.paint(drive, _concrete(rng) * 0.9)
    _trees(c, ~road & ~roof & ~drive, tree_cover, rng.uniform(2.5, 4.0), rng.uniform(4, 7))
    c.paint(roof, roof_col * ridge[..., None], 0.04, height=rng.uniform(2.5, 4.0))
    pool = has & ~roof & (p[..., 5] < 0.12 * (1 - tree_cover)) & (np.abs(lu + hw * 0.3) < 1.6) & \
        (np.abs(lv - cv + facing * (hh + 2.5)) < 1.2)
    c.paint(pool, np.array([0.35, 0.62, 0.70]), 0.02, height=0.0)
    c.paint(road, _asphalt(rng), 0.05, height=0.0)


def _sparseresidential(c: _Canvas) -> None:
    _residential(c, lot=(30.0, 28.0), house=(10.0, 8.0), p_house=0.7, tree_cover=0.35)


def _mediumresidential(c: _Canvas) -> None:
    _residential(c, lot=(16.0, 17.0), house=(9.0, 7.5), p_house=0.92, tree_cover=0.22)


def _denseresidential(c: _Canvas) -> None:
    _residential(c, lot=(10.0, 12.0), house=(8.0, 8.5), p_house=0.98, tree_cover=0.1)


def _road(c: _Canvas, dist: np.ndarray, along: np.ndarray, lanes: int, lane_w: float,
          centre_yellow: bool) -> np.ndarray:
    """Paint a road whose centreline is ``dist == 0`` (``along`` runs with it); returns its mask."""
    rng = c.rng
    half = lanes * lane_w / 2
    road = np.abs(dist) < half
    c.paint(road, _asphalt(rng), 0.06, height=0.0)
    edge = road & (np.abs(np.abs(dist) - half + 0.5) < 0.25)
    dash = (np.mod(along, 6.0) < 3.0)
    lines = np.zeros_like(road)
    for k in range(1, lanes):
        off = -half + k * lane_w
        if k == lanes // 2 and lanes % 2 == 0 and centre_yellow:
            lines |= (np.abs(np.abs(dist - off) - 0.35) < 0.2)
        else:
            lines |= (np.abs(dist - off) < 0.22) & dash
    c.paint(road & lines, _paint(rng, yellow=centre_yellow), 0.05)
    c.paint(edge, _paint(rng), 0.05)
    return road


def _cars_on(c: _Canvas, road: np.ndarray, dist: np.ndarray, along: np.ndarray, lane_w: float,
             density: float) -> None:
    lane = np.floor(dist / lane_w).astype(int)
    slot = np.floor(along / 7.0).astype(int)
    t = c.cell_table(32, 3)
    p = _lookup(t, slot, lane)
    local = np.mod(along, 7.0) - 3.5 + 2.0 * (p[..., 1] - 0.5)
    cross = np.mod(dist, lane_w) - lane_w / 2
    car = road & (p[..., 0] < density) & (np.abs(local) < 2.2) & (np.abs(cross) < 0.9)
    cols = _car_colours(c.rng, 8)
    c.paint(car, cols[np.floor(p[..., 2] * 8).astype(int)], 0.03, height=0.8)


def _freeway(c: _Canvas) -> None:
    """A divided highway: two carriageways of 2-4 lanes, a median, shoulders, traffic, verges."""
    rng = c.rng
    c.ground(_veg(rng) if rng.uniform() < 0.7 else _soil(rng), 0.2, 12)
    lanes = int(rng.integers(2, 5))
    lane_w = rng.uniform(3.2, 4.2)
    median = rng.uniform(2.0, 10.0)
    off = median / 2 + lanes * lane_w / 2
    bend = rng.uniform(-0.0015, 0.0015) * c.U**2
    if rng.uniform() < 0.5:  # concrete barrier or grass median
        c.paint(np.abs(c.V - bend) < median / 2, _concrete(rng) if median < 4 else _veg(rng), 0.1)
    for side in (-1, 1):
        dist = c.V - bend - side * off
        road = _road(c, dist, c.U, lanes, lane_w, centre_yellow=False)
        _cars_on(c, road, dist + lanes * lane_w / 2, c.U, lane_w, rng.uniform(0.15, 0.5))
    verge = np.abs(c.V - bend) > off + lanes * lane_w / 2 + rng.uniform(4, 12)
    _trees(c, verge, rng.uniform(0.0, 0.4), 3.0, 5.0)


def _intersection(c: _Canvas) -> None:
    """Two streets crossing (70-110 deg) with centre lines, stop lines, crosswalks, corner lots."""
    rng = c.rng
    c.ground(_veg(rng), 0.15, 8)
    ang = np.deg2rad(rng.uniform(70, 110))
    u2 = c.U * np.cos(ang) + c.V * np.sin(ang)
    v2 = -c.U * np.sin(ang) + c.V * np.cos(ang)
    lanes_a, lanes_b = 2 * int(rng.integers(1, 3)), 2 * int(rng.integers(1, 3))
    lane_w = rng.uniform(3.3, 4.2)
    ha, hb = lanes_a * lane_w / 2, lanes_b * lane_w / 2
    # corner lots: buildings, parking, lawns with trees
    corner = (np.abs(c.V) > ha + 3) & (np.abs(v2) > hb + 3)
    quadrant = (c.V > 0).astype(int) * 2 + (v2 > 0)
    t = c.cell_table(4, 3)
    p = t[quadrant, 0]
    bld = corner & (p[..., 0] < 0.6) & (np.abs(c.V) > ha + 8) & (np.abs(v2) > hb + 8) & \
        (np.abs(c.V) < ha + 8 + 25 * (0.5 + p[..., 1])) & (np.abs(v2) < hb + 8 + 25 * (0.5 + p[..., 2]))
    _trees(c, corner & ~bld, rng.uniform(0.1, 0.35), 3.0, 5.0)
    c.paint(bld, _roof(rng), 0.05, height=rng.uniform(3, 6))
    sidewalk = (np.abs(c.V) < ha + 2.5) | (np.abs(v2) < hb + 2.5)
    c.paint(sidewalk, _concrete(rng), 0.05, height=0.0)
    ra = _road(c, c.V, c.U, lanes_a, lane_w, centre_yellow=True)
    rb = _road(c, v2, u2, lanes_b, lane_w, centre_yellow=True)
    box = (np.abs(c.V) < ha) & (np.abs(v2) < hb)
    c.paint(box, _asphalt(rng), 0.06)
    # crosswalks: zebra stripes across each road just outside the box
    for dist, along, half in ((c.V, v2, hb), (v2, c.V, ha)):
        zone = (np.abs(along) > half + 0.5) & (np.abs(along) < half + 3.5)
        other = ha if dist is c.V else hb
        stripes = zone & (np.abs(dist) < other) & (np.mod(dist, 1.6) < 0.8)
        c.paint(stripes, _paint(rng), 0.05)
        stop = (np.abs(np.abs(along) - half - 4.2) < 0.3) & (np.abs(dist) < other)
        c.paint(stop, _paint(rng), 0.05)
    _cars_on(c, ra & ~box, c.V + ha, c.U, lane_w, rng.uniform(0.1, 0.4))
    _cars_on(c, rb & ~box, v2 + hb, u2, lane_w, rng.uniform(0.1, 0.4))


def _runway(c: _Canvas) -> None:
    """An airport runway: wide strip with centreline dashes, edge lines, threshold bars; a taxiway."""
    rng = c.rng
    c.ground(_veg(rng) * 0.7 + _soil(rng) * 0.35, 0.15, 14)
    mow = 1 + 0.05 * np.sign(np.sin(2 * np.pi * c.V / rng.uniform(6, 12)))
    c.albedo *= mow[..., None]
    width = rng.uniform(12, 18)
    strip = np.abs(c.V) < width / 2
    surface = _asphalt(rng) if rng.uniform() < 0.6 else _concrete(rng) * 0.85
    c.paint(strip, surface * (1 + 0.05 * c.noise(20))[..., None], 0.05)
    skid = strip & (np.abs(c.V) < width / 4) & (c.noise(10) > 0.5)  # tyre marks
    c.paint(skid, surface * 0.7, 0.1)
    centre = (np.abs(c.V) < 0.35) & (np.mod(c.U, 12.0) < 6.0)
    edges = np.abs(np.abs(c.V) - width / 2 + 0.6) < 0.3
    c.paint(centre | (edges & strip), _paint(rng), 0.04)
    if rng.uniform() < 0.5:  # runway end in view: threshold bars ("piano keys")
        end = rng.uniform(-25, 15)
        bars = strip & (c.U > end) & (c.U < end + 10) & (np.mod(c.V, 1.8) < 0.9) & (np.abs(c.V) < width / 2 - 1.2)
        c.paint(bars, _paint(rng), 0.04)
        c.paint(strip & (c.U < end - 1), _veg(rng) * 0.7 + _soil(rng) * 0.35, 0.15)
    side = 1 if rng.uniform() < 0.5 else -1
    tax_off = side * rng.uniform(25, 38)
    taxi = np.abs(c.V - tax_off) < rng.uniform(3.5, 5.5)
    link = (np.abs(np.mod(c.U, 60.0) - 30) < 3.0) & (side * c.V > width / 2) & (side * (c.V - tax_off) < 0)
    c.paint(taxi | link, surface, 0.05)
    c.paint((np.abs(c.V - tax_off) < 0.25) & taxi, _paint(rng, yellow=True), 0.05)


def _storagetanks(c: _Canvas) -> None:
    """A tank farm: bright circular tank roofs of several sizes with long shadows, berms, gravel pads."""
    rng = c.rng
    c.ground(_soil(rng) * 0.6 + _concrete(rng) * 0.4, 0.15, 10)
    cell = rng.uniform(18, 30)
    i, j = np.floor(c.U / cell).astype(int), np.floor(c.V / cell).astype(int)
    t = c.cell_table(16, 5)
    p = _lookup(t, i, j)
    du = c.U - (i + 0.3 + 0.4 * p[..., 0]) * cell
    dv = c.V - (j + 0.3 + 0.4 * p[..., 1]) * cell
    r = np.hypot(du, dv)
    radius = cell * (0.18 + 0.17 * p[..., 2])
    has = p[..., 3] < 0.8
    tank = has & (r < radius)
    pad = has & (np.maximum(np.abs(du), np.abs(dv)) < radius + 2.5)
    c.paint(pad, _concrete(rng) * 0.85, 0.08)
    berm = np.abs(np.maximum(np.abs(np.mod(c.U, 2 * cell) - cell), np.abs(np.mod(c.V, 2 * cell) - cell)) - cell + 0.8) < 0.5
    c.paint(berm, _soil(rng) * 1.1, 0.08, height=0.6)
    tops = np.array([[0.86, 0.86, 0.84], [0.55, 0.56, 0.55], [0.22, 0.30, 0.22], [0.50, 0.32, 0.22]])
    top = _jit(rng, tops[rng.choice(4, p=[0.55, 0.2, 0.15, 0.1])], 0.1)
    rim = np.abs(r - radius + 0.6) < 0.4
    floating = (r < radius * 0.35) & (p[..., 4] < 0.5)
    col = np.where((rim | floating)[..., None], top * 0.75, top)
    c.paint(tank, col, 0.03, height=rng.uniform(4, 8))
    pipes = (np.abs(np.mod(c.V, cell) - cell * 0.1) < 0.35) & ~tank
    c.paint(pipes, _concrete(rng) * 0.6, 0.05, height=0.3)


def _parkinglot(c: _Canvas) -> None:
    """A parking lot: rows of marked stalls (back to back) with aisles, cars in most stalls, islands."""
    rng = c.rng
    surface = _asphalt(rng)
    c.ground(surface, 0.06, 16)
    stall_w, stall_l, aisle = rng.uniform(2.6, 3.2), rng.uniform(5.5, 6.5), rng.uniform(6, 8)
    module = 2 * stall_l + aisle
    mv = np.mod(c.V, module)
    in_row = mv < 2 * stall_l
    su = np.mod(c.U, stall_w)
    lines = in_row & (su < 0.25)
    lines |= in_row & (np.abs(mv - stall_l) < 0.15)
    c.paint(lines, _paint(rng, yellow=rng.uniform() < 0.3), 0.05)
    si = np.floor(c.U / stall_w).astype(int)
    sj = np.floor(c.V / module).astype(int) * 2 + (mv > stall_l)
    t = c.cell_table(32, 3)
    p = _lookup(t, si, sj)
    local = np.mod(mv, stall_l) - stall_l / 2
    car = in_row & (p[..., 0] < rng.uniform(0.4, 0.95)) & (np.abs(su - stall_w / 2) < stall_w * 0.32) & \
        (np.abs(local) < stall_l * 0.38)
    cols = _car_colours(rng, 8)
    c.paint(car, cols[np.floor(p[..., 2] * 8).astype(int)], 0.03, height=0.8)
    island = (np.abs(np.mod(c.U, 40.0) - 20) < 1.8) & in_row
    if rng.uniform() < 0.6:
        c.paint(island, _veg(rng), 0.1, height=0.0)
        _trees(c, island, 0.6, 2.5, 4.0)
    edge = np.abs(c.U) > rng.uniform(30, 55)
    c.paint(edge, _veg(rng), 0.15, height=0.0)
    _trees(c, edge, 0.4, 3.0, 5.0)


#: the generator of each class, in the order of :data:`CLASSES`
_GENERATORS: dict[str, Callable[[_Canvas], None]] = {
    "agricultural": _agricultural,
    "beach": _beach,
    "centerpivot": _centerpivot,
    "chaparral": _chaparral,
    "denseresidential": _denseresidential,
    "forest": _forest,
    "freeway": _freeway,
    "intersection": _intersection,
    "mediumresidential": _mediumresidential,
    "parkinglot": _parkinglot,
    "river": _river,
    "runway": _runway,
    "sparseresidential": _sparseresidential,
    "storagetanks": _storagetanks,
    "water": _open_water,
}
#: the classes the generator can draw (UC Merced names where UC Merced has the class); the single
#: source of the class list: ``scenes.demo.classes`` picks from it
CLASSES: tuple[str, ...] = tuple(_GENERATORS)


# ------------------------------------------------------------------------------------------------
# illumination and sensor
# ------------------------------------------------------------------------------------------------
def _shadow(height_px: np.ndarray, az: float, el: float) -> np.ndarray:
    """Cast-shadow mask: ground points from which the sun (azimuth ``az``, elevation ``el``) is hidden."""
    t = np.tan(el)
    k_max = min(int(np.ceil(height_px.max() / t)), 40)
    s = height_px.shape[0]
    out = np.zeros(height_px.shape, bool)
    if k_max < 1:
        return out
    dx, dy = np.cos(az), np.sin(az)  # toward the sun, in (column, row)
    pad = k_max + 1
    hp = np.pad(height_px, pad, mode="edge")
    for k in range(1, k_max + 1):
        ox, oy = round(k * dx), round(k * dy)
        occluder = hp[pad + oy: pad + oy + s, pad + ox: pad + ox + s]
        out |= occluder - k * t > height_px + 0.3
    return out


#: luma weights (ITU-R BT.601)
_LUMA = np.array([0.299, 0.587, 0.114])
#: tints of the shared looks (RGB offsets from grey): green summer, olive, brown dry season, blue-grey
#: haze, neutral; every image's mean colour is drawn from their mixtures, whatever its class
_TINTS = np.array([[-0.035, 0.025, -0.045], [0.0, 0.02, -0.06], [0.045, 0.005, -0.07], [-0.03, -0.005, 0.04],
                   [0.0, 0.0, 0.0]])


def _shared_look(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Give ``img`` a look drawn from one distribution for all classes (the camera, season, sensor).

    Luma is mapped by rank onto a logit-normal distribution of random mean and spread (a monotonic
    map: every edge and texture stays, the histogram becomes the look's); the chroma (RGB minus
    luma) is centred on a random mixture of :data:`_TINTS` with a random spread. So brightness,
    contrast and mean colour say nothing about the class: a colour-histogram classifier is left
    with the shape of the colour distribution, the structure is intact.
    """
    from scipy.special import expit, ndtri
    from scipy.stats import rankdata

    luma = img @ _LUMA
    u = (rankdata(luma, method="average").reshape(luma.shape) - 0.5) / luma.size
    target = expit(rng.uniform(-1.1, 0.1) + rng.uniform(0.45, 0.85) * ndtri(u))
    chroma = img - luma[..., None]
    chroma = chroma - chroma.reshape(-1, 3).mean(axis=0)
    spread = np.sqrt((chroma**2).sum(axis=-1).mean()) + 1e-6
    tint = rng.dirichlet(np.full(len(_TINTS), 0.5)) @ _TINTS * rng.uniform(0.5, 1.5)
    gain = min(rng.uniform(0.04, 0.1) / spread, 2.5)  # grey scenes stay nearly grey
    return np.clip(target[..., None] + chroma * gain + tint, 0.0, None)


def _illuminate(c: _Canvas) -> np.ndarray:
    """Radiance-like image (float, ~0-1) of the canvas under a random sun, sky, camera and sensor."""
    # scipy is imported here, not at the top: the workflow imports demo_plan at parse time
    from scipy.ndimage import gaussian_filter

    rng = c.rng
    az, el = rng.uniform(0, 2 * np.pi), np.deg2rad(rng.uniform(30, 65))
    h_px = c.height * c.px
    gy, gx = np.gradient(gaussian_filter(h_px, 0.7))
    dx, dy = np.cos(az), np.sin(az)
    direct = (-gx * np.cos(el) * dx - gy * np.cos(el) * dy + np.sin(el)) / np.sqrt(1 + gx**2 + gy**2)
    direct = np.clip(direct / np.sin(el), 0.0, 1.6)
    shadow = gaussian_filter(_shadow(h_px, az, el).astype(float), 0.6)
    ambient = rng.uniform(0.3, 0.5)
    light = ambient + (1 - ambient) * direct * (1 - shadow)
    img = _shared_look(c.albedo * light[..., None], rng)
    img = img + rng.uniform(0, 0.06) * np.array([0.85, 0.92, 1.0])  # haze (path radiance)
    # sensor: point-spread function, shot + read noise
    psf = rng.uniform(0.4, 0.8)
    img = gaussian_filter(img, (psf, psf, 0.0)) * 255.0
    noise = np.sqrt(rng.uniform(1.5, 4.0) ** 2 + 0.05 * np.clip(img, 0, None))
    return img + noise * rng.standard_normal(img.shape)


def render_scene(class_name: str, size: int, rng: np.random.Generator) -> np.ndarray:
    """One ``(size, size, 3)`` uint8 RGB scene of ``class_name`` (one of :data:`CLASSES`) from ``rng``."""
    if class_name not in _GENERATORS:
        raise ConfigError(f"scenes.demo.classes: unknown class {class_name!r} (known: {', '.join(CLASSES)})")
    canvas = _Canvas(int(size), rng)
    _GENERATORS[class_name](canvas)
    img = _illuminate(canvas)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


# ------------------------------------------------------------------------------------------------
# the dataset
# ------------------------------------------------------------------------------------------------
def _cfg(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """The validated ``scenes.demo`` section; raises :class:`ConfigError` naming the bad key."""
    c = required_keys(cfg, DEMO_KEYS, "scenes.demo", only=True)
    classes = list(c["classes"]) if isinstance(c["classes"], (list, tuple)) else None
    if not classes or len(classes) < 2:
        raise ConfigError(f"scenes.demo.classes: give at least two classes of {', '.join(CLASSES)}, got {c['classes']!r}")
    unknown = [k for k in classes if k not in CLASSES]
    if unknown:
        raise ConfigError(f"scenes.demo.classes: unknown class(es) {', '.join(map(str, unknown))} "
                          f"(the generator draws {', '.join(CLASSES)})")
    if len(set(classes)) != len(classes):
        raise ConfigError(f"scenes.demo.classes: duplicate class names in {classes}")
    for key, low in (("n_per_class", 1), ("size", MIN_SIZE)):
        if not isinstance(c[key], int) or isinstance(c[key], bool) or c[key] < low:
            raise ConfigError(f"scenes.demo.{key}: must be an integer >= {low}, got {c[key]!r}")
    if not isinstance(c["seed"], int) or isinstance(c["seed"], bool) or c["seed"] < 0:
        raise ConfigError(f"scenes.demo.seed: must be a non-negative integer, got {c['seed']!r}")
    return {**c, "classes": classes}


def _name(class_name: str, index: int, n: int) -> str:
    return f"{class_name}{index:0{max(2, len(str(n - 1)))}d}.tif"


def demo_plan(out_dir: str | Path, cfg: Mapping[str, Any]) -> list[Path]:
    """The image files :func:`generate_demo` writes for ``cfg`` (class by class, sorted), writing nothing.

    UC Merced naming: ``<out_dir>/UCMerced_LandUse/Images/<class>/<class>NN.tif`` (two digits, more
    when ``n_per_class`` > 100). Raises :class:`ConfigError` for a bad ``scenes.demo`` section.
    """
    c = _cfg(cfg)
    base = Path(out_dir).joinpath(*LAYOUT_PATH)
    return [base / k / _name(k, i, c["n_per_class"]) for k in sorted(c["classes"]) for i in range(c["n_per_class"])]


def _image_rng(seed: int, class_name: str, index: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([int(seed), zlib.crc32(class_name.encode()), int(index)]))


def generate_demo(out_dir: str | Path, demo_cfg: Mapping[str, Any]) -> Path:
    """Write the demo dataset below ``out_dir`` and return ``out_dir`` (the dataset ``root``, layout ``ucmerced``).

    ``demo_cfg`` is the validated ``scenes.demo`` section: ``classes`` (names from
    :data:`CLASSES`), ``n_per_class``, ``size`` (px, >= 32) and ``seed``. The whole
    ``UCMerced_LandUse`` tree is written to a temporary folder and renamed into place when complete
    (a previous tree there is replaced). Images are uncompressed RGB TIFFs (Pillow), byte-identical
    for the same configuration.
    """
    from PIL import Image

    c = _cfg(demo_cfg)
    out_dir = Path(out_dir)
    files = demo_plan(out_dir, c)
    top = out_dir / LAYOUT_PATH[0]
    with atomic_path(top) as tmp:
        for path in files:
            class_name = path.parent.name
            index = int(path.stem[len(class_name):])
            image = render_scene(class_name, c["size"], _image_rng(c["seed"], class_name, index))
            target = tmp.joinpath(*path.relative_to(top).parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(image).save(target, format="TIFF")
    return out_dir
