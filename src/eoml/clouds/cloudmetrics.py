"""Cloud-organisation metrics of a tile's cloud mask (Janssens et al. 2021's set, via ``cloudmetrics``).

A tile (RGB 0–255 or a reflectance image) becomes a boolean cloud mask with :func:`cloud_mask`
(a threshold); :func:`tile_metrics` describes the mask with the :data:`METRICS` below, and
:func:`metrics_table` does it for a batch of tiles (one row per tile, the rows of
``cloud_metrics.csv``). Lengths are in pixels and areas in pixels² (multiply by the pixel size).

Cloud *objects* are the connected components of the mask (4-connectivity by default, as
``cloudmetrics``; ``connectivity=2`` for 8-connectivity), labelled by :func:`skimage.measure.label`.
Tiles cut out of satellite images are **not periodic**: every metric is computed with
``periodic_domain=False`` and objects cut by the tile edge count as they appear in the tile.

==========================  ================================================================
``cloud_fraction``          cloudy pixels / all pixels.
``n_objects``               number of cloud objects.
``mean_object_size``        mean object area (px); NaN without clouds.
``max_object_size``         largest object area (px); NaN without clouds.
``mean_perimeter``          mean object perimeter (px), :func:`skimage.measure.regionprops`'
                            ``perimeter`` (a line through the centres of the border pixels,
                            4-neighbourhood) as ``cloudmetrics``' ``mean_perimeter_length``;
                            ≈ 1.05 · the true length of smooth boundaries.
``size_exponent``           α of a discrete power law p(A) ∝ A^-α fitted to the object areas
                            A ≥ ``min_size`` by maximum likelihood (:func:`size_exponent`).
``open_sky``                Antonissen (2018)'s open-sky measure, the largest clear-sky
                            "cross" rectangle over the tile area (:func:`open_sky`).
``iorg``                    organisation index Iorg (Weger et al. 1992; Tompkins & Semie 2017):
                            ∫ F_scene dF_Poisson of the nearest-neighbour distances of the
                            object centroids; 0.5 random, < 0.5 regular, > 0.5 clustered.
``scai``                    Simple Convective Aggregation Index (Tobin et al. 2012):
                            N / N_max · D0 / L · 1000, D0 the geometric mean of all
                            centroid–centroid distances, N_max = n_y n_x / 2, L = √(n_y n_x).
``cop``                     Convective Organisation Potential (White et al. 2018): the mean over
                            all pairs of V_ij = (√(A_i/π) + √(A_j/π)) / d_ij.
``spectral_length_scale``   2π / k̄, k̄ the first moment of the radially integrated power
                            spectrum of the mask (Pino et al. 2006; ``cloudmetrics.scalar``).
``fractal_dimension``       box-counting dimension of the cloud edges
                            (``cloudmetrics.mask.fractal_dimension``).
``orientation``             √(1 − λ_min/λ_max) of the mask's second-moment (covariance) matrix:
                            0 no preferred direction, 1 all cloud along one line
                            (``cloudmetrics.mask.orientation``).
==========================  ================================================================

Undefined values are NaN, never an error: with no cloud, every object metric, the spectral
length, the fractal dimension and the orientation; with fewer than two objects, the pairwise
metrics (Iorg, SCAI, COP — ``cloudmetrics`` would return Iorg 0 and SCAI 0 for one object, and
a 0/0 COP) and the size exponent; a full mask has no edge, hence no spectral length or fractal
dimension (its open sky is 0 and a clear tile's 1).

What comes from ``cloudmetrics`` (0.3, cloudsci/cloudmetrics) and what does not, and why:

* ``cloudmetrics`` computes the spectral length, the fractal dimension and the orientation, and
  its nearest-neighbour search serves Iorg. It calls ``np.trapz`` (Iorg, spectral length),
  which numpy 2.4 removed: :func:`_provide_trapz` — the one place that handles it — gives those
  two ``cloudmetrics`` modules a numpy namespace whose ``trapz`` is ``np.trapezoid`` when this
  module is imported. numpy itself is not modified, and nothing is pinned.
* Iorg, SCAI, COP and the object perimeters follow ``cloudmetrics``' definitions and code
  exactly (tests compare them with ``cloudmetrics.objects.iorg/scai/cop`` and with
  :func:`skimage.measure.regionprops`), but from areas, centroids and perimeters computed once
  for all objects (:func:`object_properties`): ``cloudmetrics`` rebuilds ``regionprops`` six
  times per tile and walks the objects in Python, 80 ms per 128 px tile against 10 ms here.
* ``open_sky`` is computed here (vectorised numpy, :func:`open_sky`): ``cloudmetrics``'
  numba version counts a clear run that reaches the west/north tile edge one pixel short and one
  that reaches the east/south edge one pixel long (non-periodic case), which matters for tiles
  where most clear runs reach an edge; it also compiles a parallel numba kernel per process.
* object areas, counts and the size-distribution exponent are computed here: ``cloudmetrics``
  0.3 returns square roots of areas, and has no size-distribution fit.

Iorg with the analytic Poisson reference has the known edge bias of a bounded, non-periodic
domain: points near the tile edge have fewer neighbours, so a random field scores a little below
0.5: 0.474 on average (standard deviation 0.025 from field to field) over 200 seeded fields of
~150 single-pixel clouds in a 128² tile (tests/clouds/test_cloudmetrics.py).

References: Janssens, M., et al. (2021) Cloud patterns in the trades have four interpretable
dimensions, GRL 48, e2020GL091001 (the metric set); Tompkins, A. M. & Semie, A. G. (2017)
Organization of tropical convection in low vertical wind shears: role of updraft entrainment,
JAMES 9, 1046–1068 (Iorg); Weger, R. C., et al. (1992), J. Appl. Meteor. 31 (the nearest-neighbour
CDF comparison); Tobin, I., Bony, S. & Roca, R. (2012) Observational evidence for relationships
between the degree of aggregation of deep convection, water vapor, surface fluxes, and
radiation, J. Climate 25, 6885–6904 (SCAI); White, B. A., et al. (2018) Quantifying the effects
of horizontal grid length and parameterized convection on the degree of convective
organization using a metric of the potential for convective interaction, J. Atmos. Sci. 75,
425–450, doi:10.1175/JAS-D-16-0307.1 (COP); Antonissen, M. (2018) MSc thesis, TU Delft (open
sky); Pino et al. (2006), doi:10.1007/s10546-006-9080-6 (spectral length, as cited by
``cloudmetrics``); Clauset, A., Shalizi, C. R. & Newman, M. E. J. (2009) Power-law distributions
in empirical data, SIAM Rev. 51, 661–703 (discrete power-law maximum likelihood); Kulpa, Z.
(1977) Area and perimeter measurement of blobs in discrete binary pictures, Comput. Graph.
Image Process. 6, 434–451.
"""

from __future__ import annotations

import importlib
import math
import types
from collections.abc import Iterable, Sequence
from typing import Any

import cloudmetrics.mask as _cm_mask
import cloudmetrics.scalar as _cm_scalar
import cloudmetrics.utils as _cm_utils
import numpy as np
import pandas as pd
import scipy.optimize
import scipy.spatial.distance
import scipy.special
import skimage.measure

#: the metrics of :func:`tile_metrics`, in the order of the columns of :func:`metrics_table`
METRICS: tuple[str, ...] = (
    "cloud_fraction",
    "n_objects",
    "mean_object_size",
    "max_object_size",
    "mean_perimeter",
    "size_exponent",
    "open_sky",
    "iorg",
    "scai",
    "cop",
    "spectral_length_scale",
    "fractal_dimension",
    "orientation",
)

#: how :func:`cloud_mask` turns an image into a mask
MASK_KINDS = ("grey", "reflectance")


# ------------------------------------------------------------------------------------------------
# numpy 2.4 compatibility of cloudmetrics (the one place)


#: numpy's trapezoidal rule: ``trapezoid`` (numpy ≥ 2.0) or ``trapz`` (numpy < 2.0; gone in 2.4)
_trapezoid = np.trapezoid if hasattr(np, "trapezoid") else np.trapz


class _NumpyWithTrapz(types.ModuleType):
    """numpy as seen by a ``cloudmetrics`` module: every attribute is numpy's, plus ``trapz``."""

    def __getattr__(self, name: str) -> Any:  # called only for names not set on the instance
        return getattr(np, name)


def _provide_trapz(*modules: types.ModuleType) -> None:
    """Give ``modules`` (which call ``np.trapz``) a ``np`` whose ``trapz`` is ``np.trapezoid``.

    numpy 2.0 renamed ``trapz`` to ``trapezoid`` (same arguments) and numpy 2.4 removed
    ``trapz``; ``cloudmetrics`` 0.3 still calls ``np.trapz`` in ``objects/metrics/iorg.py`` and
    ``scalar/spectral.py``. Their module-level name ``np`` is replaced by a proxy of numpy that
    adds ``trapz`` — numpy itself, and every other module, are left alone. With a numpy that has
    no ``trapezoid`` (< 2.0) ``np.trapz`` exists and nothing is done.
    """
    if not hasattr(np, "trapezoid"):
        return
    proxy = _NumpyWithTrapz("numpy")
    proxy.trapz = _trapezoid
    for module in modules:
        if not isinstance(getattr(module, "np", None), types.ModuleType):
            raise TypeError(f"{module.__name__} has no module-level numpy `np` to give `trapz` to")
        if module.np is np:
            module.np = proxy


# importlib, not ``import a.b.iorg as m``: ``cloudmetrics.objects.metrics.iorg`` is also the name
# of the function that package exports, which the import statement would return
_provide_trapz(
    importlib.import_module("cloudmetrics.objects.metrics.iorg"),
    importlib.import_module("cloudmetrics.scalar.spectral"),
)


# ------------------------------------------------------------------------------------------------
# masks


def cloud_mask(image: Any, threshold: float, kind: str) -> np.ndarray:
    """Boolean cloud mask of an image (or a stack of images): brightness above ``threshold``.

    ``kind``:

    * ``"grey"``: ``image`` is RGB with values 0–255 (uint8 tiles, shape ``(..., y, x, 3)``); the
      greyscale is the mean of the three bands / 255 and ``threshold`` is in [0, 1];
    * ``"reflectance"``: ``image`` is a reflectance factor (``(..., y, x)``, e.g. GOES ABI C02 or
      C03 from :func:`eoml.clouds.goes.read_reflectance`); NaN (invalid) pixels are not cloud.

    Returns a bool array of shape ``(..., y, x)``. Raises ValueError for an unknown ``kind``, a
    non-finite threshold (or one outside [0, 1] for ``"grey"``) or an image of the wrong shape.
    """
    if kind not in MASK_KINDS:
        raise ValueError(f"cloud mask kind {kind!r} is not one of {MASK_KINDS}")
    threshold = float(threshold)
    if not math.isfinite(threshold):
        raise ValueError(f"cloud mask threshold {threshold} is not a finite number")
    image = np.asarray(image)
    if kind == "grey":
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(f"grey cloud mask threshold {threshold} is outside [0, 1]")
        if image.ndim < 3 or image.shape[-1] != 3:
            raise ValueError(f"grey cloud mask needs an RGB image (..., y, x, 3), got shape {image.shape}")
        grey = image.astype(np.float64).mean(axis=-1) / 255.0
        return grey > threshold
    if image.ndim < 2:
        raise ValueError(f"reflectance cloud mask needs an image (..., y, x), got shape {image.shape}")
    with np.errstate(invalid="ignore"):
        return np.asarray(image, dtype=np.float64) > threshold  # NaN > t is False


def _check_mask(mask: Any) -> np.ndarray:
    mask = np.asarray(mask)
    if mask.ndim != 2 or min(mask.shape) < 1:
        raise ValueError(f"a cloud mask must be a non-empty 2-D array (y, x), got shape {mask.shape}")
    if mask.dtype != bool:
        if not np.isin(mask, (0, 1)).all():
            raise ValueError("a cloud mask must be boolean (or hold only 0 and 1)")
        mask = mask.astype(bool)
    return mask


# ------------------------------------------------------------------------------------------------
# metrics computed here


def open_sky(mask: Any) -> float:
    """Antonissen (2018)'s open-sky measure of a (non-periodic) mask, as a fraction of its area.

    For each clear pixel, the clear run through it along its row (bounded by the nearest cloud
    pixel, or the tile edge, west and east) times the clear run along its column (north and south)
    is the area of its reference rectangle; the measure is the largest such area / the tile's
    area: 1 for a clear tile (and for any tile with a clear row crossing a clear column), 0 for a
    fully cloudy one. Same definition as ``cloudmetrics.mask.open_sky(summary_measure="max")``,
    which miscounts runs that reach the tile edge by one pixel (see the module docstring);
    vectorised with running maxima/minima of cloud column/row indices.
    """
    mask = _check_mask(mask)
    clear = ~mask
    if not clear.any():
        return 0.0
    ny, nx = mask.shape
    cols = np.arange(nx)
    rows = np.arange(ny)[:, None]
    west = np.maximum.accumulate(np.where(mask, cols, -1), axis=1)  # nearest cloud at or west
    east = np.minimum.accumulate(np.where(mask, cols, nx)[:, ::-1], axis=1)[:, ::-1]
    north = np.maximum.accumulate(np.where(mask, rows, -1), axis=0)
    south = np.minimum.accumulate(np.where(mask, rows, ny)[::-1, :], axis=0)[::-1, :]
    area = (east - west - 1) * (south - north - 1)
    return float(area[clear].max()) / (ny * nx)


def size_exponent(sizes: Iterable[float], min_size: int = 1) -> float:
    """Exponent α of a discrete power law p(A) = A^-α / ζ(α, A_min) fitted to object sizes.

    Maximum likelihood for integer sizes A ≥ A_min = ``min_size`` (Clauset et al. 2009, Eq. 3.5:
    maximise L(α) = −n ln ζ(α, A_min) − α Σ ln A_i, ζ the Hurwitz zeta function), found by a
    bounded scalar search on α ∈ (1, 50]. The maximum-likelihood estimate is preferred to a
    straight line through a log-binned histogram, which is biased (Clauset et al. 2009, §3.1)
    and unstable with the tens of objects of a tile; its standard error is about
    (α − 1)/√n. NaN when fewer than two sizes are ≥ ``min_size`` or all of them equal
    ``min_size`` (the likelihood then grows without bound).
    """
    if int(min_size) != min_size or min_size < 1:
        raise ValueError(f"min_size must be a positive integer, got {min_size}")
    a = np.asarray(list(sizes) if not isinstance(sizes, np.ndarray) else sizes, dtype=np.float64)
    a = a[a >= min_size]
    if a.size < 2 or np.all(a == min_size):
        return math.nan
    n = a.size
    sum_log = float(np.log(a).sum())

    def negative_log_likelihood(alpha: float) -> float:
        return n * math.log(scipy.special.zeta(alpha, min_size)) + alpha * sum_log

    result = scipy.optimize.minimize_scalar(
        negative_log_likelihood, bounds=(1.0 + 1e-6, 50.0), method="bounded", options={"xatol": 1e-6}
    )
    return float(result.x)


# ------------------------------------------------------------------------------------------------
# object properties and pairwise metrics (cloudmetrics' definitions, one pass over the labels)

_PERIMETER_WEIGHTS = np.zeros(50, dtype=np.float64)  # skimage.measure.perimeter's, 4-neighbourhood
_PERIMETER_WEIGHTS[[5, 7, 15, 17, 25, 27]] = 1.0
_PERIMETER_WEIGHTS[[21, 33]] = math.sqrt(2.0)
_PERIMETER_WEIGHTS[[13, 23]] = (1.0 + math.sqrt(2.0)) / 2.0
_ORTHOGONAL = ((-1, 0), (1, 0), (0, -1), (0, 1))
_DIAGONAL = ((-1, -1), (-1, 1), (1, -1), (1, 1))


def object_properties(labels: np.ndarray, n_objects: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Areas (px), centroids ``(n, 2)`` (row, column) and perimeters of objects 1..``n_objects``.

    The values of :func:`skimage.measure.regionprops` (``area``, ``centroid``, ``perimeter`` with
    its 4-neighbourhood border-pixel chain weights 1, √2, (1+√2)/2), which ``cloudmetrics``
    evaluates once per metric and per object; here all objects at once with bincounts, which
    makes a tile ~10× faster (tests check equality with regionprops). The chain estimator
    overestimates smooth boundaries by ≈ 5 % (a disc: 1.0495 · 2πr at any radius; Kulpa 1977),
    a constant factor kept for comparability with ``cloudmetrics``.
    """
    flat = labels.ravel()
    areas = np.bincount(flat, minlength=n_objects + 1)[1:].astype(np.float64)
    rows, cols = np.indices(labels.shape)
    centroids = np.stack(
        [
            np.bincount(flat, weights=rows.ravel(), minlength=n_objects + 1)[1:] / areas,
            np.bincount(flat, weights=cols.ravel(), minlength=n_objects + 1)[1:] / areas,
        ],
        axis=1,
    )
    padded = np.pad(labels, 1)
    inner = padded[1:-1, 1:-1]

    def shifted(array: np.ndarray, dy: int, dx: int) -> np.ndarray:
        return array[1 + dy : array.shape[0] - 1 + dy, 1 + dx : array.shape[1] - 1 + dx]

    # border pixels: in an object, with a 4-neighbour outside it (no two objects are 4-adjacent)
    border = (inner > 0) & np.logical_or.reduce([shifted(padded, dy, dx) == 0 for dy, dx in _ORTHOGONAL])
    border_padded = np.pad(border, 1)
    code = np.ones(labels.shape, dtype=np.int64)
    for weight, offsets in ((2, _ORTHOGONAL), (10, _DIAGONAL)):
        for dy, dx in offsets:  # a neighbour counts when it is a border pixel of the same object
            code += weight * (shifted(border_padded, dy, dx) & (shifted(padded, dy, dx) == inner))
    perimeters = np.bincount(
        labels[border], weights=_PERIMETER_WEIGHTS[code[border]], minlength=n_objects + 1
    )[1:]
    return areas, centroids, perimeters


def iorg(centroids: np.ndarray, shape: tuple[int, int]) -> float:
    """Iorg of object centroids in a non-periodic ``shape`` tile (Tompkins & Semie 2017).

    ``cloudmetrics.objects.iorg(periodic_domain=False, reference_dist="poisson")``, on centroids
    computed once: nearest-neighbour distances (k-d tree) binned on 10 000 bins from 0 to the
    tile diagonal, their empirical CDF integrated (trapezoidal rule) against the CDF of a
    Poisson point process of the same density, 1 − exp(−λπr²), λ = n / area (Weger et al. 1992).
    NaN for fewer than two objects.
    """
    n = centroids.shape[0]
    if n < 2:
        return math.nan
    nnd = _cm_utils.find_nearest_neighbors(centroids)
    bins = np.linspace(0.0, math.hypot(*shape), 10000)
    cdf_scene = np.cumsum(np.histogram(nnd, bins)[0]) / n
    centres = (bins[1:] + bins[:-1]) / 2
    cdf_random = 1.0 - np.exp(-n / (shape[0] * shape[1]) * np.pi * centres**2)
    return float(_trapezoid(cdf_scene, cdf_random))


def scai(centroids: np.ndarray, shape: tuple[int, int]) -> float:
    """SCAI (Tobin et al. 2012): N / N_max · D0 / L · 1000, pixels as the unit.

    D0 = geometric mean of all pairwise centroid distances, N_max = n_y n_x / 2 (a checkerboard),
    L = √(n_y n_x), the tile's characteristic length (Tobin et al.'s domain size), as
    ``cloudmetrics.objects.scai(periodic_domain=False, reference_lengthscale=L)``. NaN for fewer
    than two objects (``cloudmetrics`` returns 0 there, "completely aggregated").
    """
    n = centroids.shape[0]
    if n < 2:
        return math.nan
    with np.errstate(divide="ignore"):  # two objects sharing a centroid give D0 = 0
        d0 = float(np.exp(np.mean(np.log(scipy.spatial.distance.pdist(centroids)))))
    return n / (shape[0] * shape[1] / 2) * d0 / math.sqrt(shape[0] * shape[1]) * 1000.0


def cop(areas: np.ndarray, centroids: np.ndarray) -> float:
    """COP (White et al. 2018): mean over object pairs of (√(A_i/π) + √(A_j/π)) / d_ij.

    Each object is a disc of its area (radius √(A/π)); V_ij is the sum of two radii over their
    centroid distance, averaged over all n(n−1)/2 pairs, as ``cloudmetrics.objects.cop``.
    NaN for fewer than two objects.
    """
    n = centroids.shape[0]
    if n < 2:
        return math.nan
    i, j = np.triu_indices(n, k=1)  # pdist's pair order
    radii = np.sqrt(areas / np.pi)
    with np.errstate(divide="ignore"):
        return float(np.mean((radii[i] + radii[j]) / scipy.spatial.distance.pdist(centroids)))


# ------------------------------------------------------------------------------------------------
# one tile


def _spectral_length_scale(mask: np.ndarray) -> float:
    """2π / first moment of the radial power spectrum (``cloudmetrics.scalar``), square tiles.

    ``cloudmetrics``' spectra need a square field: a non-square mask is cut to its centred square
    (side = the shorter side). No window (``cloudmetrics``' default: its authors found windowing
    lost more than it gained); the k = 0 (mean) term is excluded by the radial integral.
    """
    ny, nx = mask.shape
    side = min(ny, nx)
    y0, x0 = (ny - side) // 2, (nx - side) // 2
    field = mask[y0 : y0 + side, x0 : x0 + side].astype(np.float64)
    if side < 4 or field.min() == field.max():
        return math.nan
    with np.errstate(invalid="ignore", divide="ignore"):
        k1d, psd_1d_rad, _ = _cm_scalar.compute_spectra(field, dx=1, periodic_domain=False, window=None)
        if not np.any(psd_1d_rad > 0):
            return math.nan
        value = _cm_scalar.spectral_length_moment(k1d, psd_1d_rad, order=1)
    return float(value) if math.isfinite(value) else math.nan


def _fractal_dimension(mask: np.ndarray) -> float:
    """Box-counting dimension of the cloud edges (``cloudmetrics.mask.fractal_dimension``).

    ``cloudmetrics`` fits log(number of boxes holding both cloud and clear sky) against log(box
    size) for boxes of 4 px to the largest power of two in the tile; a box size with no such box
    (no edge, or edges exactly on box borders) has no logarithm: NaN then.
    """
    if min(mask.shape) < 8 or mask.all() or not mask.any():
        return math.nan
    with np.errstate(divide="ignore", invalid="ignore"):
        try:
            value = _cm_mask.fractal_dimension(mask.astype(np.float64))
        except np.linalg.LinAlgError:
            return math.nan
    return float(value) if math.isfinite(value) else math.nan


def _orientation(mask: np.ndarray) -> float:
    if not mask.any():
        return math.nan
    with np.errstate(invalid="ignore", divide="ignore"):
        value = _cm_mask.orientation(mask.astype(np.float64))
    value = float(np.real(value))
    return value if math.isfinite(value) else math.nan


def tile_metrics(mask: Any, *, connectivity: int = 1, min_size: int = 1) -> dict[str, float]:
    """The :data:`METRICS` of one boolean cloud mask ``(y, x)`` (see the module docstring).

    ``connectivity``: 1 (4-connected objects, ``cloudmetrics``' default) or 2 (8-connected).
    ``min_size``: smallest object area (px) in the size-distribution fit. Every other object
    metric uses every object. Returns ``{name: float}`` in :data:`METRICS` order; NaN where a
    metric is undefined (no cloud, fewer than two objects, no cloud edge).
    """
    mask = _check_mask(mask)
    if connectivity not in (1, 2):
        raise ValueError(f"connectivity must be 1 (4-connected) or 2 (8-connected), got {connectivity}")
    ny, nx = mask.shape
    nan = math.nan
    out: dict[str, float] = dict.fromkeys(METRICS, nan)
    out["cloud_fraction"] = float(np.count_nonzero(mask)) / mask.size
    out["open_sky"] = open_sky(mask)
    out["spectral_length_scale"] = _spectral_length_scale(mask)
    out["fractal_dimension"] = _fractal_dimension(mask)
    out["orientation"] = _orientation(mask)

    labels, n_objects = skimage.measure.label(mask, connectivity=connectivity, return_num=True)
    out["n_objects"] = float(n_objects)
    if n_objects == 0:
        return out
    areas, centroids, perimeters = object_properties(labels, n_objects)
    out["mean_object_size"] = float(areas.mean())
    out["max_object_size"] = float(areas.max())
    out["mean_perimeter"] = float(perimeters.mean())
    out["size_exponent"] = size_exponent(areas, min_size=min_size)
    out["iorg"] = iorg(centroids, (ny, nx))
    out["scai"] = scai(centroids, (ny, nx))
    out["cop"] = cop(areas, centroids)
    return out


# ------------------------------------------------------------------------------------------------
# many tiles


def metrics_table(
    tiles: Any,
    threshold: float | None = None,
    kind: str | None = None,
    *,
    connectivity: int = 1,
    min_size: int = 1,
    index: Sequence[Any] | pd.Index | None = None,
) -> pd.DataFrame:
    """:func:`tile_metrics` of many tiles: a DataFrame with one row per tile, columns :data:`METRICS`.

    ``tiles``: boolean masks (an array ``(n, y, x)`` or a sequence of 2-D bool arrays, then
    ``threshold`` and ``kind`` stay None), or images turned into masks by
    :func:`cloud_mask` with ``threshold`` and ``kind`` (an array ``(n, y, x, 3)`` / ``(n, y, x)``
    or a sequence of tiles, possibly of different sizes). ``index`` labels the rows (default
    0..n−1, named ``tile``). About 10 ms per 128 px tile with ~90 objects on one CPU core
    (1000 tiles ≈ 10 s, measured on thresholded smoothed noise); the pairwise metrics grow as the
    square of the number of objects (a 256 px salt-and-pepper tile, ~8000 objects: ~1.3 s and a
    few hundred MB).
    """
    if isinstance(tiles, np.ndarray) or hasattr(tiles, "dims"):
        tiles = np.asarray(tiles)
        if tiles.ndim < 3:
            raise ValueError(f"metrics_table needs a stack of tiles (n, y, x[, 3]), got shape {tiles.shape}")
        items: Sequence[Any] = list(tiles)
    else:
        items = list(tiles)
    if index is not None and len(index) != len(items):
        raise ValueError(f"index has {len(index)} labels for {len(items)} tiles")
    rows = []
    for tile in items:
        tile = np.asarray(tile)
        if threshold is None and kind is None:
            if tile.dtype != bool:
                raise ValueError(
                    f"tiles of dtype {tile.dtype} need a threshold and a kind to become cloud masks"
                )
            mask = tile
        elif threshold is None or kind is None:
            raise ValueError("give both threshold and kind (images), or neither (boolean masks)")
        else:
            mask = cloud_mask(tile, threshold, kind)
        rows.append(tile_metrics(mask, connectivity=connectivity, min_size=min_size))
    frame = pd.DataFrame(rows, columns=list(METRICS), dtype=np.float64)
    frame.index = pd.Index(range(len(items)), name="tile") if index is None else pd.Index(index, name="tile")
    return frame
