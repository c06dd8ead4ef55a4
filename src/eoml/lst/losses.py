"""Losses for LST super-resolution without a fine-scale reference: MGE, radiance aggregation, MixGL.

There is no 250 m LST to learn 1 km → 250 m from, so the ``mixgl`` protocol constrains the 250 m
output in two ways (the mixed gradient loss of Lu & Chen 2021, adapted to guided LST sharpening
in the IMT-Project-LTS-SR student work that followed Nguyen et al. 2022):

* **coarse consistency** (MSE): the output aggregated back to 1 km must reproduce the observed 1 km
  LST. The aggregation is the radiance-consistent ``(mean T^4)^(1/4)`` of
  :func:`eoml.lst.scaling.aggregate_lst` (Stefan–Boltzmann with equal emissivities), so a 250 m
  field is judged by the 1 km temperature a sensor would actually have measured. The squared
  Kelvin difference is divided by the training LST variance (``lst_std**2``), making the term
  ~1 for an error of one standard deviation, the same scale as the ``wald`` protocol's MSE on
  standardised LST and comparable with MGE.
* **gradient similarity** (MGE, mean gradient error): the output's 250 m edges must lie where the
  250 m NDVI's edges lie. Both images are standardised *per sample* (zero mean, unit standard
  deviation over the image), which makes Kelvin and unitless NDVI comparable and leaves only the
  spatial pattern, then their Sobel gradient **magnitudes** are compared with a mean squared
  error. Magnitudes, not gradient vectors: daytime LST and NDVI are usually *anti*-correlated
  (vegetation is cooler through transpiration: the basis of TsHARP, Agam et al. 2007), so their
  signed gradients point in opposite directions across a field edge — and the sign of the relation
  changes with the surface (water, snow, shadowed slopes). Matching magnitudes transfers the edge
  locations and relative strengths whatever the sign; matching vectors would push the output
  towards a positive correlation with NDVI.

``MixGL = alpha · MGE + beta · MSE`` with ``alpha + beta = 1``; ``alpha = 0`` is pure coarse
consistency (any 250 m field whose aggregate matches, e.g. a smooth one), ``alpha = 1`` pure
edge transfer with no temperature anchor. MGE is zero only when the LST is an affine function of
NDVI; real LST has other drivers (soil moisture, topography, materials), so MGE is best a
regulariser: on synthetic patches with such drivers (``tests/lst/lst_patches.py``) ``alpha = 0.5``
made the 250 m field *worse* than bicubic while ``alpha = 0.1``–``0.2`` gave a 250 m RMSE
2.5 times smaller than bicubic's.

Sobel operator: the 3×3 kernels ``[[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]] / 8`` (and transposed),
scaled so that a unit-slope ramp has gradient 1 per pixel; images are padded by replicating the
border pixels, so the image edge itself produces no gradient.

References: Z. Lu, Y. Chen, "Single image super-resolution based on a modified U-net with mixed
gradient loss", Signal Image Video Process. (2022), arXiv:1911.09428; B. M. Nguyen
et al., EUSIPCO 2022 (hal-03580148); N. Agam et al., "A vegetation index based technique for spatial
sharpening of thermal imagery", Remote Sens. Environ. 107 (2007) 545–558.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["sobel", "standardize_per_sample", "gradient_magnitude", "mge", "aggregate_lst_torch", "MixGL"]

_EPS = 1e-6


def _as_nchw(x: torch.Tensor) -> torch.Tensor:
    if x.ndim == 2:
        return x[None, None]
    if x.ndim == 3:
        return x[:, None]
    if x.ndim == 4:
        return x
    raise ValueError(f"expected an image tensor (H, W), (N, H, W) or (N, C, H, W), got shape {tuple(x.shape)}")


def sobel(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Sobel gradients ``(gx, gy)`` of an ``(N, C, H, W)`` tensor (each channel alone), same shape.

    ``gx`` is the derivative along the columns (x, increasing to the right), ``gy`` along the rows
    (increasing downwards), in units of the input per pixel; replicate padding at the borders.
    """
    x = _as_nchw(x)
    n, c, h, w = x.shape
    kx = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]], dtype=x.dtype, device=x.device) / 8
    kernels = torch.stack([kx, kx.T])[:, None]  # (2, 1, 3, 3)
    padded = F.pad(x.reshape(n * c, 1, h, w), (1, 1, 1, 1), mode="replicate")
    g = F.conv2d(padded, kernels).reshape(n, c, 2, h, w)
    return g[:, :, 0], g[:, :, 1]


def standardize_per_sample(x: torch.Tensor, eps: float = _EPS) -> torch.Tensor:
    """``(x - mean) / std`` over the last two axes of each sample and channel (``eps`` guards flat images)."""
    x = _as_nchw(x)
    mean = x.mean(dim=(-2, -1), keepdim=True)
    std = x.std(dim=(-2, -1), keepdim=True, unbiased=False)
    return (x - mean) / (std + eps)


def gradient_magnitude(x: torch.Tensor, eps: float = _EPS**2) -> torch.Tensor:
    """``sqrt(gx² + gy² + eps)`` of :func:`sobel` (``eps`` keeps the square root differentiable at 0)."""
    gx, gy = sobel(x)
    return torch.sqrt(gx * gx + gy * gy + eps)


def mge(pred: torch.Tensor, guide: torch.Tensor) -> torch.Tensor:
    """Mean gradient error: MSE between Sobel magnitudes of the per-sample standardised images.

    ``pred`` (the output, any units) and ``guide`` (NDVI at the output's resolution) are
    ``(N, 1, H, W)`` (or ``(N, H, W)``) of the same shape. See the module docstring for why
    per-sample standardisation and magnitudes.
    """
    pred, guide = _as_nchw(pred), _as_nchw(guide)
    if pred.shape != guide.shape:
        raise ValueError(f"mge: prediction {tuple(pred.shape)} and guide {tuple(guide.shape)} differ in shape")
    gp = gradient_magnitude(standardize_per_sample(pred))
    gg = gradient_magnitude(standardize_per_sample(guide))
    return torch.mean((gp - gg) ** 2)


def aggregate_lst_torch(t: torch.Tensor, factor: int) -> torch.Tensor:
    """Radiance-consistent ``(mean T^4)^(1/4)`` over ``factor x factor`` blocks (K in, K out).

    Differentiable; same result as :func:`eoml.lst.scaling.aggregate_lst` with ``mode="radiance"``.
    Works on ``(..., H, W)`` with ``H, W`` divisible by ``factor``. Temperatures are divided by a
    per-image reference (their detached mean) before the fourth power, which keeps float32 far from
    overflow and precision loss; the reference cancels exactly.
    """
    factor = int(factor)
    h, w = t.shape[-2:]
    if factor < 1 or h % factor or w % factor:
        raise ValueError(f"aggregate_lst_torch: shape {tuple(t.shape)} is not divisible into {factor}x{factor} blocks")
    lead = t.shape[:-2]
    x = t.reshape(-1, 1, h, w)
    ref = x.detach().abs().mean(dim=(-2, -1), keepdim=True).clamp_min(1e-12)
    out = F.avg_pool2d((x / ref) ** 4, factor).pow(0.25) * ref
    return out.reshape(*lead, h // factor, w // factor)


class MixGL(nn.Module):
    """``alpha · MGE(pred, guide) + beta · MSE(aggregate(pred), lst_coarse) / lst_std²``.

    ``forward(pred_fine_k, lst_coarse_k, guide_fine)`` with the 250 m prediction in K
    ``(N, 1, f·h, f·w)``, the observed 1 km LST in K ``(N, 1, h, w)`` and the 250 m NDVI
    ``(N, 1, f·h, f·w)``; returns ``{"total", "mge", "mse"}`` (scalars). ``lst_std`` (K) is the
    training LST standard deviation: the MSE is in standardised units (see module docstring).
    """

    def __init__(self, alpha: float, beta: float, factor: int, lst_std: float = 1.0):
        super().__init__()
        alpha, beta = float(alpha), float(beta)
        if alpha < 0 or beta < 0 or abs(alpha + beta - 1.0) > 1e-6:
            raise ValueError(f"MixGL needs alpha, beta >= 0 with alpha + beta = 1, got alpha={alpha}, beta={beta}")
        if float(lst_std) <= 0:
            raise ValueError(f"MixGL needs a positive lst_std, got {lst_std}")
        self.alpha, self.beta, self.factor, self.lst_std = alpha, beta, int(factor), float(lst_std)

    def coarse_mse(self, pred_fine_k: torch.Tensor, lst_coarse_k: torch.Tensor) -> torch.Tensor:
        agg = aggregate_lst_torch(_as_nchw(pred_fine_k), self.factor)
        target = _as_nchw(lst_coarse_k)
        if agg.shape != target.shape:
            raise ValueError(f"MixGL: prediction aggregated to {tuple(agg.shape)} but the coarse LST is "
                             f"{tuple(target.shape)} (factor {self.factor})")
        return torch.mean(((agg - target) / self.lst_std) ** 2)

    def forward(self, pred_fine_k: torch.Tensor, lst_coarse_k: torch.Tensor,
                guide_fine: torch.Tensor) -> dict[str, torch.Tensor]:
        mse = self.coarse_mse(pred_fine_k, lst_coarse_k)
        grad = mge(pred_fine_k, guide_fine)
        return {"total": self.alpha * grad + self.beta * mse, "mge": grad, "mse": mse}

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}, beta={self.beta}, factor={self.factor}, lst_std={self.lst_std:.6g}"
