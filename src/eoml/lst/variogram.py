"""Semivariograms on a pixel grid, their deconvolution to point support, and area-to-point kriging.

The geostatistical half of ATPRK / AATPRK (:mod:`eoml.lst.baselines`). Everything here works in
**coarse-pixel units**: a coarse pixel is the unit square, its ``factor x factor`` fine pixels are
its *discretisation points* (their centres, at ``(p + 0.5) / factor``), and lag vectors, distances
and variogram ranges are measured in coarse pixels.

Semivariogram models (isotropic, ``gamma(0) = 0``):

* exponential ``gamma(h) = c0 + c (1 - exp(-h / a))``
* spherical ``gamma(h) = c0 + c (1.5 h/a - 0.5 (h/a)^3)`` for ``h < a``, ``c0 + c`` beyond,

with nugget ``c0`` (0 unless asked for), partial sill ``c`` and range parameter ``a`` (the
exponential reaches 95 % of its sill at ``3a``). The point covariance is ``C(h) = c0 + c - gamma(h)``.

Block (support) averages use the discretisation exactly: for two coarse pixels ``u`` and ``v``
``gamma_bar(u, v) = mean over the f^2 x f^2 pairs of points of gamma(|x - y|)``; because the pixels
are congruent this is a sum over the ``(2f - 1)^2`` point offsets ``d`` weighted by their
multiplicity ``(f - |d_y|)(f - |d_x|)``. The point-to-area covariance ``C(x, v)`` is the mean of
``C(|x - y|)`` over the points ``y`` of ``v``; the area-to-area covariance used in the kriging
system is computed *as the mean of the point-to-area ones over the points of the first pixel*, so
the two are consistent to rounding. That consistency is what makes ATPK coherent.

1. :func:`experimental_variogram` — the areal (coarse) semivariogram of a gridded field at integer
   lags ``k = 1 .. max_lag`` along both axes (pooled: lag vector ``(k, 0)``, distance ``k``) and
   along both diagonals (pooled: ``(k, k)``, distance ``k sqrt 2 <= max_lag``), all pairs of valid
   pixels at each lag by array shifts (vectorised; NaN = missing).
2. :func:`fit_variogram` — weighted least squares (weights ``N(h) / h^2``, gstat's default
   ``fit.method = 7``, Pebesma 2004) with :func:`scipy.optimize.least_squares`, bounded parameters.
3. :func:`regularize` — the regularised (areal) semivariogram of a point model,
   ``gamma_v(h) = gamma_bar(v, v_h) - gamma_bar(v, v)`` (Journel & Huijbregts 1978; Atkinson &
   Curran 1995; Kyriakidis 2004).
4. :func:`deconvolve` — Goovaerts' (2008, Math. Geosci. 40:101–128, sect. 3) iterative
   deconvolution: fit the areal model, take it as initial point model, regularise it, measure the
   mean relative difference ``D`` to the experimental areal values, rescale the point values by
   ``w(h) = 1 + (gamma_exp(h) - gamma_reg(h)) / (s^2 sqrt(i + 1))`` (``s^2``: the field's variance)
   and refit; a trial that lowers ``D`` becomes the new optimum, one that does not halves the
   rescaling (``w <- 1 + (w - 1) / 2``); stop after ``max_iter`` trials, when ``D < tol`` or after
   ``patience`` trials without improvement; return the best point model.
5. :func:`atpk_weights` / :func:`atpk` — area-to-point ordinary kriging (Kyriakidis 2004; Wang,
   Shi, Atkinson & Zhao 2015, Remote Sens. Environ. 166:191–204). For a fine point ``x`` of coarse pixel ``V0``
   and the coarse pixels ``V_j`` of the ``window x window`` neighbourhood of ``V0``:
   ``[C_VV 1; 1^T 0] [lambda; mu] = [C_xV; 1]``. With a stationary model the weights depend only
   on the sub-pixel position of ``x`` (``factor^2`` cases) and on which neighbours are valid: the
   neighbourhood validity pattern of each coarse pixel is bit-packed into an integer key, the
   system is solved once per distinct pattern (batched :func:`numpy.linalg.solve`, missing
   neighbours get weight 0 through identity rows) and applied by a gather + matrix product. Pixels
   with a complete neighbourhood (the vast majority in a tile) share one set of ``factor^2``
   kernels, applied as one ``(n, window^2) @ (window^2, factor^2)`` product.

Coherence: the mean of the ATPK predictions over the ``factor^2`` points of ``V0`` solves the
system whose right-hand side is the column ``C(V0, V_j)`` of ``C_VV`` itself, whose solution is
``lambda = e_0, mu = 0``: the block mean of the predictions equals the coarse value exactly
whenever ``V0`` is among its own neighbours (always: only pixels with a valid value are
predicted). This is the arithmetic mean; see ``docs/lst_baselines.md``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
from scipy import optimize

__all__ = [
    "MODELS",
    "VariogramModel",
    "ExperimentalVariogram",
    "Deconvolution",
    "experimental_variogram",
    "default_max_lag",
    "fit_variogram",
    "regularize",
    "deconvolve",
    "point_variogram",
    "point_to_area_covariance",
    "atpk_weights",
    "atpk",
]

MODELS = ("exponential", "spherical")
_MAX_BATCH = 2048  # kriging systems solved per batched call (memory ~ batch * (w^2 + 1)^2 * 8 B)
_CHUNK_SHARED = 1 << 16  # coarse pixels per chunk in atpk, complete neighbourhoods (one kernel set)
_CHUNK_MIXED = 1 << 13  # ... incomplete ones (their gathered weights: chunk * w^2 * f^2 * 8 B)


# --------------------------------------------------------------------------------------------
# models
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class VariogramModel:
    """An isotropic semivariogram model; distances in coarse pixels, values in K^2.

    ``sill`` is the partial sill (``c``), ``range`` the range parameter ``a``, ``nugget`` ``c0``.
    """

    kind: str
    sill: float
    range: float
    nugget: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in MODELS:
            raise ValueError(f"unknown variogram model {self.kind!r}; one of {MODELS}")
        if not (np.isfinite(self.sill) and self.sill >= 0):
            raise ValueError(f"variogram sill must be finite and >= 0, got {self.sill}")
        if not (np.isfinite(self.range) and self.range > 0):
            raise ValueError(f"variogram range must be finite and > 0, got {self.range}")
        if not (np.isfinite(self.nugget) and self.nugget >= 0):
            raise ValueError(f"variogram nugget must be finite and >= 0, got {self.nugget}")

    @property
    def total_sill(self) -> float:
        return float(self.sill + self.nugget)

    def __call__(self, h: NDArray | float) -> NDArray:
        """Semivariance ``gamma(h)`` (0 at ``h = 0``)."""
        h = np.abs(np.asarray(h, dtype=np.float64))
        r = h / self.range
        if self.kind == "exponential":
            g = self.sill * -np.expm1(-r)
        else:
            rc = np.minimum(r, 1.0)
            g = self.sill * (1.5 * rc - 0.5 * rc**3)
        return np.where(h > 0, self.nugget + g, 0.0)

    def covariance(self, h: NDArray | float) -> NDArray:
        """Point covariance ``C(h) = nugget + sill - gamma(h)``."""
        return self.total_sill - self(h)


@dataclass(frozen=True)
class ExperimentalVariogram:
    """Experimental semivariogram: one entry per lag class.

    ``vectors`` are the representative lag vectors (coarse pixels) — ``(k, 0)`` for the pooled
    axis lags, ``(k, k)`` for the pooled diagonal ones — used to regularise a point model at the
    same lags; ``lags`` their lengths; ``counts`` the numbers of pixel pairs; ``variance`` the
    sample variance of the field's valid pixels.
    """

    lags: NDArray
    gamma: NDArray
    counts: NDArray
    vectors: NDArray
    variance: float

    @property
    def usable(self) -> NDArray:
        return (self.counts > 0) & np.isfinite(self.gamma)


@dataclass(frozen=True)
class Deconvolution:
    """Result of :func:`deconvolve` / :func:`point_variogram`.

    ``d_initial``: mean relative difference between the regularised *areal* model (the initial
    point model) and the experimental values; ``d_best``: the same for the returned point model.
    ``degenerate`` is True when the field had (numerically) no spatial variance or too few lag
    classes to fit a model; ``point`` is then a unit exponential model, which ATPK can use safely
    (any valid model reproduces a constant field).
    """

    point: VariogramModel
    areal: VariogramModel
    experimental: ExperimentalVariogram
    d_initial: float
    d_best: float
    iterations: int
    degenerate: bool = False
    history: list[float] = field(default_factory=list)


# --------------------------------------------------------------------------------------------
# experimental variogram and fitting
# --------------------------------------------------------------------------------------------
def default_max_lag(shape: tuple[int, int]) -> int:
    """``min(10, min(h, w) // 3)``, at least 1."""
    return int(max(1, min(10, min(shape[-2:]) // 3)))


def _pair_stats(a: NDArray, b: NDArray) -> tuple[float, int]:
    d = a - b
    ok = np.isfinite(d)
    n = int(np.count_nonzero(ok))
    if n == 0:
        return 0.0, 0
    d = d[ok] if n < d.size else d
    return float(np.dot(d.ravel(), d.ravel())), n


def experimental_variogram(values: NDArray, max_lag: int | None = None) -> ExperimentalVariogram:
    """Areal semivariogram of a 2-D grid (NaN = missing) at integer axis and diagonal lags."""
    z = np.asarray(values, dtype=np.float64)
    if z.ndim != 2:
        raise ValueError(f"experimental_variogram needs a 2-D field, got shape {z.shape}")
    max_lag = default_max_lag(z.shape) if max_lag is None else int(max_lag)
    if max_lag < 1:
        raise ValueError(f"max_lag must be >= 1, got {max_lag}")
    finite = z[np.isfinite(z)]
    variance = float(finite.var()) if finite.size else float("nan")
    lags, gammas, counts, vectors = [], [], [], []
    for k in range(1, max_lag + 1):
        for diagonal in (False, True):
            dist = k * np.sqrt(2.0) if diagonal else float(k)
            if dist > max_lag + 1e-9:
                continue
            if diagonal:
                pairs = [(z[:-k, :-k], z[k:, k:]), (z[:-k, k:], z[k:, :-k])]
            else:
                pairs = [(z[:, :-k], z[:, k:]), (z[:-k, :], z[k:, :])]
            ssq, n = 0.0, 0
            for a, b in pairs:
                if a.size == 0:
                    continue
                s, c = _pair_stats(a, b)
                ssq += s
                n += c
            lags.append(dist)
            gammas.append(ssq / (2 * n) if n else np.nan)
            counts.append(n)
            vectors.append((k, k) if diagonal else (k, 0))
    order = np.argsort(lags, kind="stable")
    return ExperimentalVariogram(
        lags=np.asarray(lags, dtype=np.float64)[order],
        gamma=np.asarray(gammas, dtype=np.float64)[order],
        counts=np.asarray(counts, dtype=np.int64)[order],
        vectors=np.asarray(vectors, dtype=np.float64).reshape(-1, 2)[order],
        variance=variance,
    )


def fit_variogram(lags: NDArray, gamma: NDArray, counts: NDArray | None = None,
                  kind: str = "exponential", nugget: bool = False,
                  start: VariogramModel | None = None) -> VariogramModel:
    """Weighted least-squares fit (weights ``N(h) / h^2``) of a model to semivariances.

    ``nugget=False`` fixes ``c0 = 0``. ``start`` warm-starts the optimiser (else three starting
    ranges are tried and the best fit kept). Raises ValueError with fewer than two usable lags or
    no positive semivariance.
    """
    if kind not in MODELS:
        raise ValueError(f"unknown variogram model {kind!r}; one of {MODELS}")
    h = np.asarray(lags, dtype=np.float64)
    g = np.asarray(gamma, dtype=np.float64)
    n = np.ones_like(h) if counts is None else np.asarray(counts, dtype=np.float64)
    use = np.isfinite(g) & (n > 0) & (h > 0)
    if use.sum() < 2:
        raise ValueError(f"need at least 2 usable lags to fit a variogram, got {int(use.sum())}")
    h, g, n = h[use], np.maximum(g[use], 0.0), n[use]
    scale = float(g.max())
    if not scale > 0:
        raise ValueError("all semivariances are zero: nothing to fit")
    gn = g / scale
    w = np.sqrt(n / h**2)
    w /= w.max()
    hmax = float(h.max())
    lo = [1e-9, 0.05] + ([0.0] if nugget else [])
    hi = [20.0, 100.0 * hmax] + ([2.0] if nugget else [])

    def unpack(p: NDArray) -> VariogramModel:
        return VariogramModel(kind, float(p[0]), float(p[1]), float(p[2]) if nugget else 0.0)

    def resid(p: NDArray) -> NDArray:
        return w * (unpack(p)(h) - gn)

    if start is not None:
        s = [start.sill / scale, start.range] + ([start.nugget / scale] if nugget else [])
        starts = [np.clip(s, lo, hi)]
    else:
        rng = [hmax / 3.0, hmax, 0.5] if kind == "exponential" else [hmax / 1.5, 2.0 * hmax, 1.5]
        starts = [np.clip([gn.max()] + [r] + ([0.1 * gn.min()] if nugget else []), lo, hi)
                  for r in rng]
    best = None
    for x0 in starts:
        res = optimize.least_squares(resid, x0, bounds=(lo, hi), method="trf", x_scale="jac")
        if best is None or res.cost < best.cost:
            best = res
    p = best.x
    return VariogramModel(kind, float(p[0]) * scale, float(p[1]),
                          float(p[2]) * scale if nugget else 0.0)


# --------------------------------------------------------------------------------------------
# support changes
# --------------------------------------------------------------------------------------------
def _offsets(factor: int) -> NDArray:
    return np.arange(-(factor - 1), factor)


def regularize(model: VariogramModel, factor: int, vectors: NDArray) -> NDArray:
    """Regularised semivariogram ``gamma_bar(v, v_h) - gamma_bar(v, v)`` at lag vectors ``(n, 2)``.

    ``v`` is a coarse pixel discretised into its ``factor x factor`` fine-pixel centres.
    """
    f = int(factor)
    vec = np.atleast_2d(np.asarray(vectors, dtype=np.float64))
    d = _offsets(f)
    mult = (f - np.abs(d)).astype(np.float64)
    mm = np.outer(mult, mult) / f**4

    def gbar(v: NDArray) -> NDArray:
        py = v[:, 0, None, None] * f + d[None, :, None]
        px = v[:, 1, None, None] * f + d[None, None, :]
        return (model(np.hypot(py, px) / f) * mm).sum(axis=(1, 2))

    return gbar(vec) - gbar(np.zeros((1, 2)))[0]


def _mean_relative_difference(reg: NDArray, exp: NDArray) -> float:
    return float(np.mean(np.abs(reg - exp) / exp))


def deconvolve(exp: ExperimentalVariogram, factor: int, kind: str = "exponential",
               nugget: bool = False, max_iter: int = 20, tol: float = 1e-3,
               patience: int = 3) -> Deconvolution:
    """Point-support model whose regularisation matches an experimental areal variogram.

    Goovaerts (2008) iterative procedure (module doc, step 4). Raises ValueError when no model
    can be fitted (fewer than two usable lags, or zero semivariance).
    """
    if max_iter < 0 or patience < 1 or not tol >= 0:
        raise ValueError(f"need max_iter >= 0, patience >= 1, tol >= 0; got {max_iter}, {patience}, {tol}")
    use = exp.usable & (exp.gamma > 0)
    h, g, n, vec = exp.lags[use], exp.gamma[use], exp.counts[use], exp.vectors[use]
    areal = fit_variogram(h, g, n, kind=kind, nugget=nugget)
    s2 = exp.variance if np.isfinite(exp.variance) and exp.variance > 0 else float(g.max())
    best = areal
    reg = regularize(best, factor, vec)
    d_initial = d_best = _mean_relative_difference(reg, g)
    history = [d_initial]
    w = 1.0 + (g - reg) / s2
    fails, it = 0, 0
    while it < max_iter and d_best >= tol and fails < patience:
        it += 1
        target = np.maximum(best(h) * w, 0.0)
        if not target.max() > 0:
            break
        try:
            cand = fit_variogram(h, target, n, kind=kind, nugget=nugget, start=best)
        except ValueError:
            break
        reg = regularize(cand, factor, vec)
        d = _mean_relative_difference(reg, g)
        history.append(d)
        if d < d_best:
            best, d_best, fails = cand, d, 0
            w = 1.0 + (g - reg) / (s2 * np.sqrt(it + 1))
        else:
            w = 1.0 + (w - 1.0) / 2.0
            fails += 1
    return Deconvolution(point=best, areal=areal, experimental=exp, d_initial=d_initial,
                         d_best=d_best, iterations=it, history=history)


def point_variogram(values: NDArray, factor: int, kind: str = "exponential",
                    max_lag: int | None = None, nugget: bool = False, max_iter: int = 20,
                    tol: float = 1e-3) -> Deconvolution:
    """Experimental variogram of a coarse field + deconvolution, with a safe degenerate case.

    When the field is (numerically) constant, or has fewer than two lag classes with pairs, no
    model can be fitted: the result is flagged ``degenerate`` and carries a unit exponential
    model (ATPK of a constant is that constant whatever the model).
    """
    if kind not in MODELS:
        raise ValueError(f"unknown variogram model {kind!r}; one of {MODELS}")
    exp = experimental_variogram(values, max_lag)
    use = exp.usable & (exp.gamma > 0)
    scale = np.nanmax(np.abs(values)) if np.isfinite(values).any() else 0.0
    tiny = 1e-20 * max(1.0, float(scale) ** 2)
    if use.sum() < 2 or not np.nanmax(np.where(use, exp.gamma, 0.0)) > tiny:
        unit = VariogramModel(kind, 1.0, 1.0)
        return Deconvolution(point=unit, areal=unit, experimental=exp, d_initial=float("nan"),
                             d_best=float("nan"), iterations=0, degenerate=True)
    return deconvolve(exp, factor, kind=kind, nugget=nugget, max_iter=max_iter, tol=tol)


# --------------------------------------------------------------------------------------------
# area-to-point kriging
# --------------------------------------------------------------------------------------------
def _check_window(window: int) -> int:
    window = int(window)
    if window < 1 or window % 2 == 0:
        raise ValueError(f"the kriging window must be an odd number >= 1, got {window}")
    return window


def point_to_area_covariance(model: VariogramModel, factor: int, reach: int) -> NDArray:
    """``P[p, q, dy + reach, dx + reach] = C(x_pq, V_(dy, dx)) / C(0)``.

    ``x_pq`` is the centre of fine pixel ``(p, q)`` of the coarse pixel at the origin and
    ``V_(dy, dx)`` the coarse pixel at offset ``(dy, dx)``, ``|dy|, |dx| <= reach``; covariances
    are normalised by the total sill.
    """
    f = int(factor)
    d = _offsets(f)
    big = np.arange(-reach, reach + 1)
    py = big[:, None, None, None] * f + d[None, None, :, None]
    px = big[None, :, None, None] * f + d[None, None, None, :]
    g = model.covariance(np.hypot(py, px) / f) / model.total_sill  # (2R+1, 2R+1, 2f-1, 2f-1)
    p = np.arange(f)
    ind = ((p[:, None] + d[None, :] >= 0) & (p[:, None] + d[None, :] < f)).astype(np.float64)
    return np.einsum("pa,qb,yxab->pqyx", ind, ind, g, optimize=True) / f**2


def _system(model: VariogramModel, factor: int, window: int) -> tuple[NDArray, NDArray]:
    """Full-neighbourhood ``C_VV`` (w^2, w^2) and ``C_xV`` (w^2, f^2), normalised."""
    r = window // 2
    f = int(factor)
    P = point_to_area_covariance(model, f, 2 * r)  # offsets up to 2r for C_VV
    cbar = P.mean(axis=(0, 1))  # area-to-area = mean of point-to-area (consistent discretisation)
    oy, ox = np.divmod(np.arange(window * window), window)
    oy, ox = oy - r, ox - r
    cvv = cbar[oy[None, :] - oy[:, None] + 2 * r, ox[None, :] - ox[:, None] + 2 * r]
    cxv = P[:, :, oy + 2 * r, ox + 2 * r].reshape(f * f, -1).T  # (w^2, f^2)
    return cvv, cxv


def atpk_weights(model: VariogramModel, factor: int, window: int = 5,
                 valid: NDArray | None = None) -> NDArray:
    """ATPK weights ``(n_patterns, window^2, factor^2)``.

    ``valid`` (``(n_patterns, window^2)`` bool, row-major window order, default one complete
    neighbourhood) says which neighbours hold data; missing ones get weight 0. Each column sums
    to 1 (unbiasedness). The centre of every pattern must be valid.
    """
    window = _check_window(window)
    f = int(factor)
    n = window * window
    cvv, cxv = _system(model, f, window)
    if valid is None:
        valid = np.ones((1, n), dtype=bool)
    valid = np.asarray(valid, dtype=bool).reshape(-1, n)
    if not valid[:, n // 2].all():
        raise ValueError("every ATPK neighbourhood must contain its centre pixel")
    out = np.empty((valid.shape[0], n, f * f))
    eye = np.eye(n, dtype=bool)
    for s in range(0, valid.shape[0], _MAX_BATCH):
        v = valid[s:s + _MAX_BATCH]
        m = v.shape[0]
        a = np.zeros((m, n + 1, n + 1))
        both = v[:, :, None] & v[:, None, :]
        a[:, :n, :n] = np.where(both, cvv, 0.0)
        a[:, :n, :n][(~v)[:, :, None] & eye[None]] = 1.0
        a[:, :n, n] = v
        a[:, n, :n] = v
        b = np.zeros((m, n + 1, f * f))
        b[:, :n, :] = np.where(v[:, :, None], cxv[None], 0.0)
        b[:, n, :] = 1.0
        out[s:s + m] = np.linalg.solve(a, b)[:, :n, :]
    return out


def _pattern_keys(valid_padded: NDArray, shape: tuple[int, int], window: int) -> NDArray:
    """Neighbourhood validity pattern of every pixel, bit-packed (int64, or bytes if > 62 bits)."""
    h, w = shape
    n = window * window
    if n <= 62:
        key = np.zeros((h, w), dtype=np.int64)
        for k in range(n):
            dy, dx = divmod(k, window)
            key |= valid_padded[dy:dy + h, dx:dx + w].astype(np.int64) << k
        return key
    shifts = [divmod(k, window) for k in range(n)]
    bits = np.stack([valid_padded[dy:dy + h, dx:dx + w] for dy, dx in shifts], axis=-1)
    packed = np.ascontiguousarray(np.packbits(bits, axis=-1, bitorder="little"))
    return packed.view(f"V{packed.shape[-1]}")[..., 0]


def _key_bits(keys: NDArray, window: int) -> NDArray:
    n = window * window
    if keys.dtype == np.int64:
        return ((keys[:, None] >> np.arange(n)) & 1).astype(bool)
    raw = np.frombuffer(keys.tobytes(), dtype=np.uint8).reshape(keys.size, -1)
    return np.unpackbits(raw, axis=-1, bitorder="little")[:, :n].astype(bool)


def atpk(residual: NDArray, factor: int, model: VariogramModel, window: int = 5) -> NDArray:
    """Area-to-point kriging of a coarse field onto the ``factor``-times finer grid.

    NaN coarse pixels are missing data: they get NaN fine pixels and take no part in their
    neighbours' predictions. The block mean of the output equals the input on every valid pixel.
    """
    window = _check_window(window)
    f = int(factor)
    if f < 1:
        raise ValueError(f"scale factor must be a positive integer, got {factor}")
    z = np.asarray(residual, dtype=np.float64)
    if z.ndim != 2:
        raise ValueError(f"atpk needs a 2-D coarse field, got shape {z.shape}")
    h, w = z.shape
    r = window // 2
    valid = np.isfinite(z)
    zp = np.pad(np.where(valid, z, 0.0), r)
    vp = np.pad(valid, r)
    out = np.full((h * w, f * f), np.nan)
    target = np.flatnonzero(valid.ravel())
    if target.size:
        keys = _pattern_keys(vp, (h, w), window).ravel()[target]
        uniq, inverse = np.unique(keys, return_inverse=True)
        inverse = inverse.ravel()
        weights = atpk_weights(model, f, window, _key_bits(uniq, window))
        wp = w + 2 * r
        oy, ox = np.divmod(np.arange(window * window), window)
        off = oy * wp + ox
        flat = zp.ravel()
        base_all = (target // w) * wp + target % w
        full_key = (1 << (window * window)) - 1 if uniq.dtype == np.int64 else None
        full = int(np.searchsorted(uniq, full_key)) if full_key is not None else -1
        has_full = full_key is not None and full < uniq.size and uniq[full] == full_key
        is_full = inverse == full if has_full else np.zeros(target.size, dtype=bool)
        for sel, shared in ((np.flatnonzero(is_full), True), (np.flatnonzero(~is_full), False)):
            chunk = _CHUNK_SHARED if shared else _CHUNK_MIXED
            for s in range(0, sel.size, chunk):
                idx = sel[s:s + chunk]
                win = flat[base_all[idx, None] + off[None, :]]
                if shared:
                    out[target[idx]] = win @ weights[full]
                else:
                    out[target[idx]] = np.einsum("nj,njs->ns", win, weights[inverse[idx]])
    return out.reshape(h, w, f, f).transpose(0, 2, 1, 3).reshape(h * f, w * f)
