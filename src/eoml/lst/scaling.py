"""Changes of scale shared by the LST readers, baselines, models and evaluation.

* :func:`block_mean` — mean over ``factor x factor`` blocks of the last two axes (NaN if any
  pixel of a block is NaN): the coarse version of a reflectance or vegetation index.
* :func:`aggregate_lst` — the coarse version of a temperature field. ``mode="radiance"`` is the
  radiance-consistent ``(mean T^4)^(1/4)`` (Stefan-Boltzmann, equal emissivities) used for Wald's
  protocol; ``mode="mean"`` is the arithmetic mean.
* :func:`upsample` — bilinear / bicubic / nearest interpolation by an integer factor with the
  pixel-area geometry of gridded products (a coarse pixel centre lies at the centre of its
  ``factor x factor`` fine block, PyTorch's ``align_corners=False``). Bicubic is Keys' (1981)
  cubic convolution with ``a = -0.5`` — the kernel of MATLAB ``imresize`` and Pillow, which
  reproduces linear and quadratic fields exactly (third-order accurate); PyTorch's and OpenCV's
  ``a = -0.75`` does not. Edges replicate the border pixels. NaN pixels are filled from their
  nearest valid neighbour before interpolating, and fine pixels whose coarse parent is NaN are NaN
  again. The interpolation is separable: ``W_y @ A @ W_x.T`` with sparse 4-tap (cubic) or 2-tap
  (linear) matrices from :func:`interpolation_matrix`.

All functions take NumPy arrays of shape ``(..., H, W)``; :func:`upsample_torch` is the tensor
version used by the models (same matrices, so a U-Net's input is exactly the bicubic baseline).
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np
from scipy import ndimage, sparse

if TYPE_CHECKING:  # torch is imported where it is used: readers and the demo do not need it
    import torch

__all__ = [
    "block_view",
    "block_mean",
    "aggregate_lst",
    "fill_nan_nearest",
    "upsample",
    "upsample_torch",
    "parent_mask",
    "interpolation_matrix",
    "keys_kernel",
    "INTERPOLATION_MODES",
]

INTERPOLATION_MODES = ("nearest", "bilinear", "bicubic")


def _check_factor(shape: tuple[int, ...], factor: int) -> int:
    factor = int(factor)
    if factor < 1:
        raise ValueError(f"scale factor must be a positive integer, got {factor}")
    if len(shape) < 2:
        raise ValueError(f"need an array of at least 2 dimensions (..., H, W), got shape {shape}")
    h, w = shape[-2:]
    if h % factor or w % factor:
        raise ValueError(f"array of shape {shape} is not divisible into {factor}x{factor} blocks")
    return factor


def block_view(a: np.ndarray, factor: int) -> np.ndarray:
    """View ``(..., H, W)`` as ``(..., H/f, W/f, f, f)`` (no copy)."""
    a = np.asarray(a)
    factor = _check_factor(a.shape, factor)
    h, w = a.shape[-2:]
    v = a.reshape(*a.shape[:-2], h // factor, factor, w // factor, factor)
    return np.moveaxis(v, -3, -2)


def block_mean(a: np.ndarray, factor: int) -> np.ndarray:
    """Mean of each ``factor x factor`` block; NaN where any pixel of the block is NaN."""
    a = np.asarray(a)
    out_dtype = a.dtype if np.issubdtype(a.dtype, np.floating) else np.float64
    return block_view(a.astype(np.float64, copy=False), factor).mean(axis=(-2, -1)).astype(out_dtype)


def aggregate_lst(t: np.ndarray, factor: int, mode: str = "radiance") -> np.ndarray:
    """Coarse LST of each ``factor x factor`` block (K); NaN where any pixel is NaN.

    ``radiance``: ``(mean T^4)^(1/4)``, the temperature of a black body emitting the block's mean
    broadband radiance; ``mean``: the arithmetic mean.
    """
    t = np.asarray(t)
    out_dtype = t.dtype if np.issubdtype(t.dtype, np.floating) else np.float64
    blocks = block_view(t.astype(np.float64, copy=False), factor)
    if mode == "radiance":
        out = np.mean(blocks**4, axis=(-2, -1)) ** 0.25
    elif mode == "mean":
        out = blocks.mean(axis=(-2, -1))
    else:
        raise ValueError(f"unknown LST aggregation mode {mode!r} (radiance or mean)")
    return out.astype(out_dtype)


def fill_nan_nearest(a: np.ndarray) -> np.ndarray:
    """Copy of a 2-D (or ``(..., H, W)``) array with NaNs replaced by the nearest valid pixel.

    An image with no valid pixel stays all-NaN.
    """
    a = np.asarray(a)
    if a.ndim > 2:
        return np.stack([fill_nan_nearest(x) for x in a.reshape(-1, *a.shape[-2:])]).reshape(a.shape)
    bad = ~np.isfinite(a)
    if not bad.any() or bad.all():
        return a.copy()
    idx = ndimage.distance_transform_edt(bad, return_distances=False, return_indices=True)
    return a[tuple(idx)]


def parent_mask(mask_coarse: np.ndarray, factor: int) -> np.ndarray:
    """Repeat a coarse boolean mask onto the fine grid (each pixel takes its parent's value)."""
    m = np.asarray(mask_coarse)
    return np.repeat(np.repeat(m, factor, axis=-2), factor, axis=-1)


def keys_kernel(s: np.ndarray, a: float = -0.5) -> np.ndarray:
    """Keys' cubic convolution kernel W(s) (support |s| < 2)."""
    s = np.abs(np.asarray(s, dtype=np.float64))
    out = np.zeros_like(s)
    near = s <= 1
    far = (s > 1) & (s < 2)
    out[near] = (a + 2) * s[near] ** 3 - (a + 3) * s[near] ** 2 + 1
    out[far] = a * s[far] ** 3 - 5 * a * s[far] ** 2 + 8 * a * s[far] - 4 * a
    return out


@lru_cache(maxsize=64)
def _matrix(n: int, factor: int, mode: str) -> sparse.csr_matrix:
    fine = np.arange(n * factor)
    if mode == "nearest":
        rows, cols, vals = fine, fine // factor, np.ones(fine.size)
    else:
        u = (fine + 0.5) / factor - 0.5  # fine pixel centres in coarse pixel units
        base = np.floor(u).astype(int)
        taps = np.arange(-1, 3) if mode == "bicubic" else np.arange(0, 2)
        idx = base[:, None] + taps[None, :]
        dist = u[:, None] - idx
        vals = keys_kernel(dist) if mode == "bicubic" else np.clip(1 - np.abs(dist), 0, None)
        rows = np.repeat(fine, taps.size)
        cols = np.clip(idx, 0, n - 1).ravel()  # replicate the border pixels
        vals = vals.ravel()
    m = sparse.csr_matrix((vals, (rows, cols)), shape=(n * factor, n))
    m.sum_duplicates()
    return m


def interpolation_matrix(n: int, factor: int, mode: str = "bicubic") -> sparse.csr_matrix:
    """Sparse ``(n*factor, n)`` matrix interpolating a length-``n`` signal by ``factor``.

    Rows sum to one (constants are preserved).
    """
    if mode not in INTERPOLATION_MODES:
        raise ValueError(f"unknown interpolation {mode!r}; one of {INTERPOLATION_MODES}")
    if int(factor) < 1 or int(n) < 1:
        raise ValueError(f"need n >= 1 and factor >= 1, got n={n}, factor={factor}")
    return _matrix(int(n), int(factor), mode)


@lru_cache(maxsize=64)
def _dense_torch(n: int, factor: int, mode: str, dtype) -> "torch.Tensor":
    import torch

    return torch.from_numpy(interpolation_matrix(n, factor, mode).toarray()).to(dtype)


def upsample_torch(x: "torch.Tensor", factor: int, mode: str = "bicubic") -> "torch.Tensor":
    """Interpolate a ``(N, C, H, W)`` tensor by ``factor`` (same kernel as :func:`upsample`)."""
    import torch

    if mode not in INTERPOLATION_MODES:
        raise ValueError(f"unknown interpolation {mode!r}; one of {INTERPOLATION_MODES}")
    h, w = x.shape[-2:]
    wy = _dense_torch(int(h), int(factor), mode, x.dtype).to(x.device)
    wx = _dense_torch(int(w), int(factor), mode, x.dtype).to(x.device)
    return torch.matmul(torch.matmul(wy, x), wx.T)


def upsample(a: np.ndarray, factor: int, mode: str = "bicubic") -> np.ndarray:
    """Interpolate ``(..., h, w)`` to ``(..., h*factor, w*factor)``; NaN-aware (see module doc)."""
    a = np.asarray(a, dtype=np.float64)
    if a.ndim < 2:
        raise ValueError(f"need an array of at least 2 dimensions (..., H, W), got shape {a.shape}")
    factor = int(factor)
    bad = ~np.isfinite(a)
    filled = fill_nan_nearest(a) if bad.any() else a
    h, w = a.shape[-2:]
    wy = interpolation_matrix(h, factor, mode)
    wxt = interpolation_matrix(w, factor, mode).T.tocsr()
    flat = filled.reshape(-1, h, w)
    out = np.empty((flat.shape[0], h * factor, w * factor))
    for i, img in enumerate(flat):
        out[i] = wy @ (img @ wxt)
    out = out.reshape(*a.shape[:-2], h * factor, w * factor)
    if bad.any():
        out = np.where(parent_mask(bad, factor), np.nan, out)
    return out
