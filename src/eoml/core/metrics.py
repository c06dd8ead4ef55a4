"""NaN-aware forecast-verification metrics shared by every study.

All functions take an observation array ``y`` and a forecast array ``f`` of the same shape (any
number of dimensions; they are flattened) and use only the pairs where *both* are finite, so a
gap in either the data or the forecast simply drops that sample.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike


def nan_pairs(y: ArrayLike, f: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Flattened float64 copies of ``y`` and ``f`` restricted to the pairs where both are finite.

    Raises ``ValueError`` if the two arrays do not have the same shape.
    """
    y = np.asarray(y, dtype=np.float64)
    f = np.asarray(f, dtype=np.float64)
    if y.shape != f.shape:
        raise ValueError(f"observation shape {y.shape} != forecast shape {f.shape}")
    y = y.ravel()
    f = f.ravel()
    keep = np.isfinite(y) & np.isfinite(f)
    return y[keep], f[keep]


def performance_efficiency(y: ArrayLike, f: ArrayLike) -> float:
    """Performance efficiency PE = 1 − Σ(y − f)² / Σ(y − ȳ)² over the finite pairs.

    ȳ is the mean of the observations *of those pairs*. PE is exactly the coefficient of
    determination R² as computed by ``sklearn.metrics.r2_score(y, f)`` (not the squared
    correlation): 1 is a perfect forecast, 0 is no better than the observed mean, and it is
    unbounded below. This is the PE of PreMevE 2.0 (Pires de Lima et al. 2020), computed on
    log10 flux.

    Returns NaN when fewer than two finite pairs remain or the observations have zero variance.
    """
    y, f = nan_pairs(y, f)
    if y.size < 2:
        return float("nan")
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    if ss_tot == 0.0:
        return float("nan")
    ss_res = float(np.sum((y - f) ** 2))
    return 1.0 - ss_res / ss_tot


def rmse(y: ArrayLike, f: ArrayLike) -> float:
    """Root-mean-square error over the finite pairs (NaN if there is none)."""
    y, f = nan_pairs(y, f)
    if y.size == 0:
        return float("nan")
    return float(np.sqrt(np.mean((y - f) ** 2)))


def bias(y: ArrayLike, f: ArrayLike) -> float:
    """Mean error ⟨f − y⟩ over the finite pairs (NaN if there is none)."""
    y, f = nan_pairs(y, f)
    if y.size == 0:
        return float("nan")
    return float(np.mean(f - y))
