"""Whole-image inference of fully convolutional networks: padding to a size multiple, tiling.

A network with output stride ``m`` (``2**depth`` for a U-Net, 16 for a DeepLab-style encoder)
needs image sides divisible by ``m``. :func:`predict_padded` pads each image by reflection to the
next multiple (replicating the edge instead when an image is too small to reflect), runs the
network in batches of about ``batch_pixels`` padded pixels and crops the output back.
:func:`predict_tiled` covers a large image with overlapping tiles and keeps only the centre of
each tile (:func:`tile_spans`), for images that do not fit in memory at once.

Both are generic over the model (any callable ``(N, C, H, W) → (N, K, H, W)`` tensor function,
e.g. an ``nn.Module`` in eval mode) and the channel counts; they run under ``torch.no_grad()``
on the device of ``device`` (default: where the model's parameters are, else the CPU) and
return CPU float tensors.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["pad_amounts", "predict_padded", "predict_tiled", "tile_spans"]

Model = Callable[[torch.Tensor], torch.Tensor]


def pad_amounts(n: int, multiple: int, centred: bool = False) -> tuple[int, int]:
    """``(before, after)`` padding that brings ``n`` to a multiple of ``multiple``.

    ``centred`` splits it (the smaller half before), otherwise it all goes after.
    """
    extra = (-int(n)) % int(multiple)
    if centred:
        return extra // 2, extra - extra // 2
    return 0, extra


def _device_of(model: Model, device) -> torch.device:
    if device is not None:
        return torch.device(device)
    if isinstance(model, torch.nn.Module):
        for p in model.parameters():
            return p.device
    return torch.device("cpu")


def predict_padded(
    model: Model,
    x: np.ndarray | torch.Tensor,
    multiple: int,
    *,
    centred: bool = False,
    batch_pixels: int | None = None,
    device: str | torch.device | None = None,
) -> torch.Tensor:
    """``model`` applied to ``(N, C, H, W)`` images of any size → ``(N, K, H, W)`` on the CPU.

    Each batch is padded to sides divisible by ``multiple`` (reflect, or replicate when the pad is
    not smaller than the side; ``centred`` splits the pad between both edges, else it goes to the
    bottom / right) and the output cropped back. ``batch_pixels`` limits a batch to about that
    many padded pixels (at least one image); None runs all images at once.
    """
    x = torch.as_tensor(x)
    if x.ndim != 4:
        raise ValueError(f"expected (N, C, H, W) images, got shape {tuple(x.shape)}")
    n, _, h, w = x.shape
    (top, bottom), (left, right) = pad_amounts(h, multiple, centred), pad_amounts(w, multiple, centred)
    mode = "reflect" if max(top, bottom) < h and max(left, right) < w else "replicate"
    per_batch = n if batch_pixels is None else max(1, int(batch_pixels) // ((h + top + bottom) * (w + left + right)))
    dev = _device_of(model, device)
    outputs = []
    with torch.no_grad():
        for i in range(0, n, max(per_batch, 1)):
            xb = x[i:i + per_batch].to(dev).contiguous()
            if top or bottom or left or right:
                xb = F.pad(xb, (left, right, top, bottom), mode=mode)
            outputs.append(model(xb)[:, :, top:top + h, left:left + w].cpu())
    if not outputs:
        raise ValueError("no image to predict")
    return outputs[0] if len(outputs) == 1 else torch.cat(outputs)


def tile_spans(n: int, tile: int, overlap: int) -> list[tuple[int, int, int]]:
    """``(start, keep_lo, keep_hi)`` of ``tile``-long windows covering ``range(n)``.

    Consecutive windows overlap by ``2·overlap``; each keeps ``[keep_lo, keep_hi)``, its part away
    from the other windows' edges (the image borders are kept by the first and last window), so
    every index is kept exactly once. One window when ``n <= tile``.
    """
    n, tile, overlap = int(n), int(tile), int(overlap)
    if overlap < 0 or tile <= 2 * overlap:
        raise ValueError(f"tile {tile} must exceed twice the overlap {overlap}")
    if n <= tile:
        return [(0, 0, n)]
    step = tile - 2 * overlap
    starts = list(range(0, n - tile, step)) + [n - tile]
    spans, lo = [], 0
    for k, s in enumerate(starts):
        hi = n if k == len(starts) - 1 else s + tile - overlap
        spans.append((s, lo, hi))
        lo = hi
    return spans


def predict_tiled(
    model: Model,
    x: np.ndarray | torch.Tensor,
    multiple: int,
    *,
    tile: int | None = None,
    overlap: int = 0,
    centred: bool = False,
    device: str | torch.device | None = None,
) -> torch.Tensor:
    """``model`` applied to one ``(C, H, W)`` image → ``(K, H, W)`` on the CPU.

    ``tile=None``: one padded pass (:func:`predict_padded`). Otherwise ``tile × tile`` windows
    overlapping by ``overlap`` pixels on each side, each padded and predicted alone, of which only
    the centre (:func:`tile_spans`) is kept. (A network with a global branch, e.g. image pooling,
    gives slightly different tiles than one pass.)
    """
    x = torch.as_tensor(x)
    if x.ndim != 3:
        raise ValueError(f"expected a (C, H, W) image, got shape {tuple(x.shape)}")
    if tile is None:
        return predict_padded(model, x[None], multiple, centred=centred, device=device)[0]
    _, h, w = x.shape
    rows, cols = tile_spans(h, tile, overlap), tile_spans(w, tile, overlap)
    out: torch.Tensor | None = None
    for r0, rlo, rhi in rows:
        for c0, clo, chi in cols:
            pred = predict_padded(model, x[None, :, r0:r0 + tile, c0:c0 + tile], multiple, centred=centred,
                                  device=device)[0]
            if out is None:
                out = torch.empty((pred.shape[0], h, w), dtype=pred.dtype)
            out[:, rlo:rhi, clo:chi] = pred[:, rlo - r0:rhi - r0, clo - c0:chi - c0]
    assert out is not None
    return out
