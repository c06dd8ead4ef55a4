"""Classical LST sharpeners: bilinear, bicubic, TsHARP, ATPRK and AATPRK.

Every method maps a coarse LST image ``lst_coarse`` (h, w, K) to the ``factor``-times finer grid
(h·f, w·f) and returns float64 with NaN for invalid pixels. The index-based methods also take the
fine index ``index_fine`` (NDVI, (h·f, w·f)) and the same index on the coarse grid
``index_coarse`` (h, w) — normally ``eoml.lst.scaling.block_mean(index_fine, factor)``, which is
what makes them *coherent* (below).

* **bilinear / bicubic** — :func:`eoml.lst.scaling.upsample` (pixel-area geometry, Keys' cubic
  convolution with a = −0.5). The index is not used.
* **TsHARP** (Kustas et al. 2003, RSE 85:429; Agam, Kustas, Anderson, Li & Neale 2007, RSE
  107:545) — ordinary least squares of the coarse LST on the coarse index over the valid coarse
  pixels, ``T = a + b·x``; the fine prediction ``a + b·x_fine`` plus the coarse residual
  ``ΔT = T_coarse − (a + b·x_coarse)`` added to every fine pixel of its coarse pixel (Agam's
  residual correction, "replication"). ``x`` is NDVI (``index="ndvi"``) or the fractional
  vegetation cover ``fc = 1 − ((NDVImax − NDVI) / (NDVImax − NDVImin))^0.625`` (Agam 2007,
  their eq. 5, from Choudhury et al. 1994) computed on the fine grid, clipped to [0, 1], and
  block-averaged for the coarse fit so that the coarse regressor stays the aggregate of the fine
  one.
* **ATPRK** (Wang, Shi, Atkinson & Zhao 2015, "Downscaling MODIS images with area-to-point
  regression kriging", RSE 166:191–204, doi:10.1016/j.rse.2015.06.003) — the same global
  regression, then the coarse residuals are downscaled by area-to-point kriging (ATPK) instead of
  replication, with a point-support semivariogram deconvolved from the residuals' areal one
  (Goovaerts 2008): see :mod:`eoml.lst.variogram`. Fine LST = ``a + b·x_fine + ATPK(ΔT)``.
* **AATPRK** (adaptive ATPRK: Wang, Shi & Atkinson 2016, ISPRS J. 114:151; for LST e.g.
  Granero-Belinchon et al. 2019, Remote Sens. 11:1449) — ATPRK with a local regression: the
  coefficients ``a(i)``, ``b(i)`` are fitted by least squares in a ``reg_window x reg_window``
  moving window of coarse pixels around each coarse pixel (vectorised: moving sums of
  ``n, Σx, Σy, Σx², Σxy`` over the valid pixels with :func:`scipy.ndimage.uniform_filter`; the
  global fit where a window has fewer than 3 valid pixels or no index variance); every fine pixel
  uses its parent's coefficients, and the residuals ``T − (a(i) + b(i)·x)`` are downscaled by
  ATPK as in ATPRK.

Coherence: with ``index_coarse = block_mean(index_fine)`` the block mean of ``a + b·x_fine`` is
``a + b·x_coarse`` (likewise per pixel for AATPRK), TsHARP's replicated residual and ATPK's
residual both average back to ``ΔT``, so the output's arithmetic block mean reproduces the coarse
input (to rounding). It is the *arithmetic* mean: a coarse LST aggregated radiance-consistently
(``(mean T^4)^(1/4)``) is reproduced by the arithmetic mean of the prediction, not by its
radiance mean (they differ by ~0.01–0.1 K for typical sub-pixel contrasts).

Missing data: a NaN coarse LST gives NaN at its fine pixels and is no regression point nor kriging
neighbour; a NaN fine index gives a NaN fine pixel. Where the caller's ``index_coarse`` is NaN
(some fine index of the block missing) but the coarse LST is valid, that pixel is left out of the
regression fit but its residual is still formed, against the mean of the block's *valid* fine
index values — so the block's remaining fine pixels are predicted and still average back to the
coarse LST (for ATPRK / AATPRK after shifting the block's kriged residuals by the difference
between their mean over the whole block and over its valid pixels). A block with no valid fine
index is left out entirely.

All options are keyword-only and documented in each function; :func:`sharpen` dispatches by name
and turns unknown methods or options into ValueError. See ``docs/lst_baselines.md``.
"""

from __future__ import annotations

import inspect
import operator
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from eoml.lst.scaling import block_view, upsample
from eoml.lst.variogram import MODELS, Deconvolution, atpk, point_variogram

__all__ = ["bilinear", "bicubic", "tsharp", "atprk", "aatprk", "sharpen", "METHODS",
           "fractional_cover", "fit_global", "fit_local", "atprk_details", "TooFewValidPixels"]

FC_EXPONENT = 0.625  # Agam et al. (2007), after Choudhury et al. (1994)
FC_PERCENTILES = (1.0, 99.0)  # scene NDVImin / NDVImax when not given


# --------------------------------------------------------------------------------------------
# validation
# --------------------------------------------------------------------------------------------

class TooFewValidPixels(ValueError):
    """An image has too few valid pixels for a regression-based sharpener."""


def _factor(factor: Any) -> int:
    if isinstance(factor, bool):
        raise ValueError(f"scale factor must be a positive integer, got {factor!r}")
    try:
        f = operator.index(factor)
    except TypeError:
        if isinstance(factor, float) and factor.is_integer():
            f = int(factor)
        else:
            raise ValueError(f"scale factor must be a positive integer, got {factor!r}") from None
    if f < 1:
        raise ValueError(f"scale factor must be a positive integer, got {factor!r}")
    return f


def _inputs(lst_coarse: NDArray, index_coarse: NDArray | None, index_fine: NDArray | None,
            factor: Any, need_index: bool) -> tuple[NDArray, NDArray | None, NDArray | None, int]:
    f = _factor(factor)
    lst = np.asarray(lst_coarse, dtype=np.float64)
    if lst.ndim != 2:
        raise ValueError(f"lst_coarse must be a 2-D (h, w) image, got shape {lst.shape}")
    h, w = lst.shape
    if h == 0 or w == 0:
        raise ValueError(f"lst_coarse is empty (shape {lst.shape})")
    if need_index and (index_coarse is None or index_fine is None):
        raise ValueError("this method needs index_coarse (h, w) and index_fine (h*factor, w*factor)")
    idx_c = idx_f = None
    if index_coarse is not None:
        idx_c = np.asarray(index_coarse, dtype=np.float64)
        if idx_c.shape != lst.shape:
            raise ValueError(f"index_coarse has shape {idx_c.shape}, expected {lst.shape} "
                             "(the shape of lst_coarse)")
    if index_fine is not None:
        idx_f = np.asarray(index_fine, dtype=np.float64)
        if idx_f.shape != (h * f, w * f):
            raise ValueError(f"index_fine has shape {idx_f.shape}, expected {(h * f, w * f)} "
                             f"(lst_coarse {lst.shape} times factor {f})")
    return lst, idx_c, idx_f, f


def _check_choice(name: str, value: Any, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise ValueError(f"option {name}={value!r} is not one of {choices}")
    return value


def _check_int(name: str, value: Any, minimum: int, odd: bool = False) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"option {name} must be an integer, got {value!r}")
    value = int(value)
    if value < minimum or (odd and value % 2 == 0):
        kind = "an odd integer" if odd else "an integer"
        raise ValueError(f"option {name} must be {kind} >= {minimum}, got {value}")
    return value


# --------------------------------------------------------------------------------------------
# regressors and fits
# --------------------------------------------------------------------------------------------
def fractional_cover(ndvi: NDArray, ndvi_min: float, ndvi_max: float) -> NDArray:
    """``fc = 1 − ((NDVImax − NDVI) / (NDVImax − NDVImin))^0.625``, ratio clipped to [0, 1]."""
    if not (np.isfinite(ndvi_min) and np.isfinite(ndvi_max) and ndvi_max > ndvi_min):
        raise ValueError(f"need finite ndvi_min < ndvi_max, got {ndvi_min}, {ndvi_max}")
    ratio = np.clip((ndvi_max - np.asarray(ndvi, dtype=np.float64)) / (ndvi_max - ndvi_min), 0.0, 1.0)
    return 1.0 - ratio**FC_EXPONENT


def _block_nanmean(a: NDArray, factor: int) -> NDArray:
    blocks = block_view(a, factor)
    ok = np.isfinite(blocks)
    n = ok.sum(axis=(-2, -1))
    s = np.where(ok, blocks, 0.0).sum(axis=(-2, -1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, s / np.maximum(n, 1), np.nan)


def _regressors(lst: NDArray, idx_c: NDArray, idx_f: NDArray, factor: int, index: str,
                ndvi_min: float | None, ndvi_max: float | None) -> tuple[NDArray, NDArray, NDArray]:
    """(coarse regressor for the fit, coarse regressor for the residuals, fine regressor)."""
    _check_choice("index", index, ("ndvi", "fc"))
    if index == "ndvi":
        if ndvi_min is not None or ndvi_max is not None:
            raise ValueError("options ndvi_min / ndvi_max only apply with index='fc'")
        x_fine, x_fit = idx_f, idx_c
    else:
        finite = idx_f[np.isfinite(idx_f)]
        if (ndvi_min is None or ndvi_max is None) and finite.size == 0:
            raise TooFewValidPixels("index_fine has no valid pixel to take NDVImin / NDVImax from")
        lo, hi = (np.percentile(finite, FC_PERCENTILES) if finite.size else (np.nan, np.nan))
        ndvi_min = float(lo) if ndvi_min is None else float(ndvi_min)
        ndvi_max = float(hi) if ndvi_max is None else float(ndvi_max)
        x_fine = fractional_cover(idx_f, ndvi_min, ndvi_max)
        x_fit = block_view(x_fine, factor).mean(axis=(-2, -1))
    # residual regressor: the fit one, completed by the mean of the valid fine values where the
    # coarse one is missing but the coarse LST is not (keeps those blocks coherent)
    holes = ~np.isfinite(x_fit) & np.isfinite(lst)
    x_res = x_fit
    if holes.any():
        x_res = np.where(holes, _block_nanmean(x_fine, factor), x_fit)
    return x_fit, x_res, x_fine


def fit_global(y: NDArray, x: NDArray, min_valid: int = 3) -> tuple[float, float, int]:
    """OLS ``y = a + b·x`` over pixels where both are finite → ``(a, b, n)``.

    ValueError with fewer than ``min_valid`` pixels; ``b = 0`` (the mean) when ``x`` has no
    variance.
    """
    ok = np.isfinite(y) & np.isfinite(x)
    n = int(np.count_nonzero(ok))
    if n < max(int(min_valid), 1):
        raise TooFewValidPixels(f"only {n} coarse pixel(s) have a valid LST and index; the regression "
                         f"needs at least min_valid={min_valid}")
    xv, yv = x[ok], y[ok]
    xm, ym = float(xv.mean()), float(yv.mean())
    dx = xv - xm
    sxx = float(np.dot(dx, dx))
    b = float(np.dot(dx, yv - ym)) / sxx if sxx > 1e-12 * n * max(1.0, xm * xm) else 0.0
    return ym - b * xm, b, n


def fit_local(y: NDArray, x: NDArray, reg_window: int,
              global_fit: tuple[float, float]) -> tuple[NDArray, NDArray, NDArray]:
    """Moving-window OLS coefficients ``a(i), b(i)`` on the coarse grid → ``(a, b, local)``.

    Windows of ``reg_window x reg_window`` coarse pixels (truncated at the image edges); pixels
    whose window has fewer than 3 valid pairs, or an index variance below 1e-6 of the scene's,
    take ``global_fit`` and ``local`` is False there.
    """
    ok = np.isfinite(y) & np.isfinite(x)
    xm, ym = float(x[ok].mean()), float(y[ok].mean())
    xc = np.where(ok, x - xm, 0.0)  # centred: no cancellation in Σx² − (Σx)²/n
    yc = np.where(ok, y - ym, 0.0)
    k = int(reg_window)
    area = float(k * k)

    def msum(a: NDArray) -> NDArray:
        return ndimage.uniform_filter(a, size=k, mode="constant", cval=0.0) * area

    n = np.rint(msum(ok.astype(np.float64)))
    sx, sy = msum(xc), msum(yc)
    sxx, sxy = msum(xc * xc), msum(xc * yc)
    nn = np.maximum(n, 1.0)
    varx = sxx - sx * sx / nn
    cov = sxy - sx * sy / nn
    scene_var = float(np.mean(xc[ok] ** 2))
    local = (n >= 3) & (varx > 1e-6 * n * max(scene_var, 1e-300))
    with np.errstate(invalid="ignore", divide="ignore"):
        b = np.where(local, cov / np.where(local, varx, 1.0), global_fit[1])
        a_centred = (sy - b * sx) / nn
        a = np.where(local, ym + a_centred - b * xm, global_fit[0])
    return a, b, local


def _prediction(x_fine: NDArray, a: float | NDArray, b: float | NDArray, factor: int) -> NDArray:
    """``a + b·x_fine`` with scalar or per-coarse-pixel coefficients (parent's)."""
    out = np.array(x_fine, dtype=np.float64, copy=True)
    if np.ndim(a) == 0:
        out *= b
        out += a
    else:
        v = block_view(out, factor)
        v *= np.asarray(b)[:, :, None, None]
        v += np.asarray(a)[:, :, None, None]
    return out


def _add_parent(fine: NDArray, coarse: NDArray, factor: int) -> NDArray:
    block_view(fine, factor)[...] += coarse[:, :, None, None]
    return fine


# --------------------------------------------------------------------------------------------
# methods
# --------------------------------------------------------------------------------------------
def bilinear(lst_coarse: NDArray, index_coarse: NDArray | None = None,
             index_fine: NDArray | None = None, factor: int = 4) -> NDArray:
    """Bilinear interpolation (pixel-area geometry, border replication). No options; the index
    arrays are ignored (their shapes are checked when given)."""
    lst, _, _, f = _inputs(lst_coarse, index_coarse, index_fine, factor, need_index=False)
    return upsample(lst, f, "bilinear")


def bicubic(lst_coarse: NDArray, index_coarse: NDArray | None = None,
            index_fine: NDArray | None = None, factor: int = 4) -> NDArray:
    """Keys' bicubic convolution (a = −0.5, exact for quadratics). No options; the index arrays
    are ignored (their shapes are checked when given)."""
    lst, _, _, f = _inputs(lst_coarse, index_coarse, index_fine, factor, need_index=False)
    return upsample(lst, f, "bicubic")


def tsharp(lst_coarse: NDArray, index_coarse: NDArray, index_fine: NDArray, factor: int, *,
           index: str = "ndvi", ndvi_min: float | None = None, ndvi_max: float | None = None,
           min_valid: int = 3) -> NDArray:
    """TsHARP: global LST–index regression + replicated coarse residual (Agam et al. 2007).

    Options
    -------
    index : ``"ndvi"`` (default: regress on the index as given) or ``"fc"`` (fractional
        vegetation cover from NDVI, computed at the fine scale and block-averaged for the fit).
    ndvi_min, ndvi_max : NDVI of bare soil / full cover for ``fc`` (default: the 1st and 99th
        percentiles of the scene's valid fine NDVI).
    min_valid : minimum number of coarse pixels with valid LST and index (default 3, the fewest
        that leave the line a residual degree of freedom); fewer → ValueError.
    """
    lst, idx_c, idx_f, f = _inputs(lst_coarse, index_coarse, index_fine, factor, need_index=True)
    min_valid = _check_int("min_valid", min_valid, 2)
    x_fit, x_res, x_fine = _regressors(lst, idx_c, idx_f, f, index, ndvi_min, ndvi_max)
    a, b, _ = fit_global(lst, x_fit, min_valid)
    residual = lst - (a + b * x_res)
    return _add_parent(_prediction(x_fine, a, b, f), residual, f)


def _atprk_core(lst: NDArray, x_fit: NDArray, x_res: NDArray, x_fine: NDArray, f: int,
                a: float | NDArray, b: float | NDArray, window: int, variogram_model: str,
                max_lag: int | None, nugget: bool, max_iter: int) -> tuple[NDArray, Deconvolution]:
    residual = lst - (a + b * x_res)
    deconv = point_variogram(residual, f, kind=variogram_model, max_lag=max_lag, nugget=nugget,
                             max_iter=max_iter)
    fine = _prediction(x_fine, a, b, f)
    fine += atpk(residual, f, deconv.point, window)
    # blocks with some fine index missing: ATPK's residuals average to the coarse residual over
    # the whole block, not over its valid pixels; shift them so the valid pixels do (coherence)
    partial = np.isfinite(residual) & ~np.isfinite(x_fit)
    if partial.any():
        blocks = block_view(fine, f)
        sub = blocks[partial]
        with np.errstate(invalid="ignore"):
            shift = lst[partial] - np.nanmean(sub, axis=(-2, -1))
        blocks[partial] = sub + shift[:, None, None]
    return fine, deconv


def _kriging_options(window: Any, variogram_model: Any, max_lag: Any, nugget: Any,
                     max_iter: Any) -> tuple[int, str, int | None, bool, int]:
    window = _check_int("window", window, 1, odd=True)
    variogram_model = _check_choice("variogram_model", variogram_model, MODELS)
    if max_lag is not None:
        max_lag = _check_int("max_lag", max_lag, 1)
    if not isinstance(nugget, (bool, np.bool_)):
        raise ValueError(f"option nugget must be True or False, got {nugget!r}")
    max_iter = _check_int("max_iter", max_iter, 0)
    return window, variogram_model, max_lag, bool(nugget), max_iter


def atprk_details(lst_coarse: NDArray, index_coarse: NDArray, index_fine: NDArray, factor: int, *,
                  adaptive: bool = False, index: str = "ndvi", ndvi_min: float | None = None,
                  ndvi_max: float | None = None, min_valid: int = 3, window: int = 5,
                  reg_window: int = 5, variogram_model: str = "exponential",
                  max_lag: int | None = None, nugget: bool = False,
                  max_iter: int = 20) -> tuple[NDArray, dict[str, Any]]:
    """ATPRK (``adaptive=False``) or AATPRK with its diagnostics.

    Returns ``(fine_lst, details)``; ``details`` holds the regression coefficients ``a``, ``b``
    (floats, or coarse arrays for AATPRK, with the boolean array ``local``), the coarse
    ``residual``, and the :class:`eoml.lst.variogram.Deconvolution` result ``variogram``.
    Options: see :func:`atprk` and :func:`aatprk`.
    """
    lst, idx_c, idx_f, f = _inputs(lst_coarse, index_coarse, index_fine, factor, need_index=True)
    min_valid = _check_int("min_valid", min_valid, 2)
    window, variogram_model, max_lag, nugget, max_iter = _kriging_options(
        window, variogram_model, max_lag, nugget, max_iter)
    x_fit, x_res, x_fine = _regressors(lst, idx_c, idx_f, f, index, ndvi_min, ndvi_max)
    a, b, _ = fit_global(lst, x_fit, min_valid)
    details: dict[str, Any] = {"a_global": a, "b_global": b}
    if adaptive:
        reg_window = _check_int("reg_window", reg_window, 3, odd=True)
        a, b, local = fit_local(lst, x_fit, reg_window, (a, b))
        details["local"] = local
    fine, deconv = _atprk_core(lst, x_fit, x_res, x_fine, f, a, b, window, variogram_model, max_lag,
                               nugget, max_iter)
    details.update(a=a, b=b, residual=lst - (a + b * x_res), variogram=deconv)
    return fine, details


def atprk(lst_coarse: NDArray, index_coarse: NDArray, index_fine: NDArray, factor: int, *,
          index: str = "ndvi", ndvi_min: float | None = None, ndvi_max: float | None = None,
          min_valid: int = 3, window: int = 5, variogram_model: str = "exponential",
          max_lag: int | None = None, nugget: bool = False, max_iter: int = 20) -> NDArray:
    """ATPRK: global regression + area-to-point kriging of the residuals (Wang et al. 2015).

    Options
    -------
    index, ndvi_min, ndvi_max, min_valid : the regression, as in :func:`tsharp`.
    window : odd size of the square neighbourhood of coarse pixels used by ATPK (default 5).
    variogram_model : ``"exponential"`` (default) or ``"spherical"`` point-support model.
    max_lag : largest lag (coarse pixels) of the experimental residual variogram (default
        ``min(10, min(h, w) // 3)``).
    nugget : fit a nugget in the areal and point models (default False: ``c0 = 0``).
    max_iter : deconvolution iterations (Goovaerts 2008; default 20; 0 = use the areal model).
    """
    return atprk_details(lst_coarse, index_coarse, index_fine, factor, adaptive=False,
                         index=index, ndvi_min=ndvi_min, ndvi_max=ndvi_max, min_valid=min_valid,
                         window=window, variogram_model=variogram_model, max_lag=max_lag,
                         nugget=nugget, max_iter=max_iter)[0]


def aatprk(lst_coarse: NDArray, index_coarse: NDArray, index_fine: NDArray, factor: int, *,
           index: str = "ndvi", ndvi_min: float | None = None, ndvi_max: float | None = None,
           min_valid: int = 3, window: int = 5, reg_window: int = 5,
           variogram_model: str = "exponential", max_lag: int | None = None,
           nugget: bool = False, max_iter: int = 20) -> NDArray:
    """AATPRK: moving-window regression + area-to-point kriging of the residuals.

    Options
    -------
    reg_window : odd size (>= 3) of the square moving window of coarse pixels in which each coarse
        pixel's regression coefficients are fitted (default 5); windows with fewer than 3 valid
        pixels or no index variance use the global fit.
    index, ndvi_min, ndvi_max, min_valid, window, variogram_model, max_lag, nugget, max_iter :
        as in :func:`atprk` (``min_valid`` applies to the global fit).
    """
    return atprk_details(lst_coarse, index_coarse, index_fine, factor, adaptive=True,
                         index=index, ndvi_min=ndvi_min, ndvi_max=ndvi_max, min_valid=min_valid,
                         window=window, reg_window=reg_window, variogram_model=variogram_model,
                         max_lag=max_lag, nugget=nugget, max_iter=max_iter)[0]


METHODS: dict[str, Callable[..., NDArray]] = {
    "bilinear": bilinear,
    "bicubic": bicubic,
    "tsharp": tsharp,
    "atprk": atprk,
    "aatprk": aatprk,
}


def _options_of(fn: Callable[..., NDArray]) -> list[str]:
    return [p.name for p in inspect.signature(fn).parameters.values()
            if p.kind is inspect.Parameter.KEYWORD_ONLY]


def sharpen(method: str, lst_coarse: NDArray, index_coarse: NDArray | None,
            index_fine: NDArray | None, factor: int, **options: Any) -> NDArray:
    """Run the sharpener ``method`` (a key of :data:`METHODS`) with its keyword options."""
    if method not in METHODS:
        raise ValueError(f"unknown LST sharpener {method!r}; one of {sorted(METHODS)}")
    fn = METHODS[method]
    allowed = _options_of(fn)
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ValueError(f"unknown option(s) {unknown} for {method}; allowed: {allowed or 'none'}")
    return fn(lst_coarse, index_coarse, index_fine, factor, **options)
