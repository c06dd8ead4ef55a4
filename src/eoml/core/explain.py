"""Explanations of image classifiers: Grad-CAM maps and their overlay on the image.

:func:`gradcam_maps` runs Grad-CAM (Selvaraju et al. 2017) through the ``pytorch-grad-cam``
package (module ``pytorch_grad_cam``: ``GradCAM(model, target_layers)``, targets
``ClassifierOutputTarget(k)``): the target layer's activations are weighted by the spatial mean of
the gradient of the class score, summed over channels, passed through a ReLU, min–max scaled per
image to [0, 1] and resized to the input's height and width. Any ``nn.Module`` classifier whose
output is ``(N, classes)`` logits works; the target layer is given as a module or by its name in
``model.named_modules()`` (e.g. ``"base.features.6"``); usually the last convolutional block.

:func:`overlay_heatmap` blends a map over its image with a colour map. With ``invert_dark`` the
heat-map colours are inverted (``1 − RGB``) over pixels darker than that luminance, so the map
stays readable over a dark background (open ocean under bright cumulus, shadows) where a plain
colour map would vanish into the dark image.

Reference: Selvaraju et al. (2017) "Grad-CAM: visual explanations from deep networks via
gradient-based localization", ICCV; jacobgil/pytorch-grad-cam documentation.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from matplotlib import colormaps
from numpy.typing import ArrayLike
from torch import nn

__all__ = ["gradcam_maps", "overlay_heatmap", "resolve_layer"]

#: ITU-R BT.601 luma weights, for the darkness test of :func:`overlay_heatmap`
LUMA = np.array([0.299, 0.587, 0.114])


def resolve_layer(model: nn.Module, layer: nn.Module | str) -> nn.Module:
    """The sub-module ``layer`` of ``model`` (itself, or looked up by its dotted name).

    Raises ``ValueError`` naming the layer and a few valid names when there is no such module.
    """
    if isinstance(layer, nn.Module):
        if not any(m is layer for m in model.modules()):
            raise ValueError(f"target layer {type(layer).__name__} is not a module of the model")
        return layer
    try:
        return model.get_submodule(layer)
    except AttributeError as exc:
        names = [n for n, _ in model.named_modules() if n]
        raise ValueError(
            f"model has no layer {layer!r}; some of its layers: {names[-8:]}"
        ) from exc


def _targets(targets, n: int) -> list[Callable] | None:
    if targets is None:
        return None
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    targets = list(targets)
    if len(targets) != n:
        raise ValueError(f"{len(targets)} targets for {n} images")
    return [t if callable(t) else ClassifierOutputTarget(int(t)) for t in targets]


def gradcam_maps(
    model: nn.Module,
    target_layer: nn.Module | str,
    images: torch.Tensor,
    targets: Sequence[int] | Sequence[Callable] | None = None,
    *,
    batch_size: int = 32,
) -> np.ndarray:
    """Grad-CAM maps of ``images`` ``(N, C, H, W)`` → float32 ``(N, H, W)`` in [0, 1].

    ``targets``: the class index per image (or any ``pytorch_grad_cam`` target callable); ``None``
    explains the predicted class of each image. The model runs in evaluation mode on its own
    device, with gradients on even when the caller is inside ``torch.no_grad()``; its parameters
    need not require gradients (a frozen base works: the input is made to require them), and its
    training mode is restored afterwards. Each map is scaled to [0, 1] on its own (a map with no
    positive evidence is all 0). Images are processed ``batch_size`` at a time.
    """
    from pytorch_grad_cam import GradCAM

    if not isinstance(images, torch.Tensor) or images.ndim != 4:
        raise ValueError(
            f"images must be an (N, C, H, W) tensor, got {type(images).__name__} "
            f"of shape {tuple(getattr(images, 'shape', ()))}"
        )
    layer = resolve_layer(model, target_layer)
    n = images.shape[0]
    target_list = _targets(targets, n)
    was_training = model.training
    cam = GradCAM(model=model, target_layers=[layer])
    out = []
    try:
        with torch.enable_grad():
            for start in range(0, n, batch_size):
                # an input that requires gradients makes every activation require them, so a
                # frozen (requires_grad=False) target layer still gets its gradient hook
                batch = images[start : start + batch_size].detach().float().requires_grad_(True)
                sub = None if target_list is None else target_list[start : start + batch_size]
                try:
                    maps = cam(input_tensor=batch, targets=sub)
                except (IndexError, TypeError, AttributeError) as exc:
                    if not cam.activations_and_grads.activations:
                        raise ValueError(
                            f"target layer {target_layer!r} was not run by the model's forward pass"
                        ) from exc
                    raise
                out.append(np.asarray(maps, dtype=np.float32))
    finally:
        cam.activations_and_grads.release()
        model.zero_grad(set_to_none=True)
        model.train(was_training)
    maps = np.concatenate(out, axis=0) if out else np.zeros((0, *images.shape[-2:]), np.float32)
    if maps.shape != (n, *images.shape[-2:]):
        raise RuntimeError(f"Grad-CAM returned shape {maps.shape} for images of shape {tuple(images.shape)}")
    return np.clip(maps, 0.0, 1.0)


def overlay_heatmap(
    image: ArrayLike,
    heatmap: ArrayLike,
    *,
    cmap: str = "jet",
    alpha: float = 0.45,
    invert_dark: float | None = None,
) -> np.ndarray:
    """Blend ``heatmap`` ``(H, W)`` in [0, 1] over ``image`` → float RGB ``(H, W, 3)`` in [0, 1].

    ``image`` is ``(H, W, 3)`` RGB or ``(H, W)`` grey, uint8 (0–255) or float (0–1). The result
    is ``(1 − alpha) · image + alpha · cmap(heatmap)``. With ``invert_dark`` (a luminance in
    [0, 1]), the heat-map colours are inverted (``1 − RGB``) where the image's luminance (BT.601)
    is below it.
    """
    img = np.asarray(image)
    img = img.astype(np.float64) / 255.0 if np.issubdtype(img.dtype, np.integer) else img.astype(np.float64)
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=-1)
    if img.ndim != 3 or img.shape[-1] != 3:
        raise ValueError(f"image must be (H, W, 3) or (H, W), got shape {np.shape(image)}")
    heat = np.asarray(heatmap, dtype=np.float64)
    if heat.shape != img.shape[:2]:
        raise ValueError(f"heat map of shape {heat.shape} for an image of shape {img.shape[:2]}")
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must lie in [0, 1], got {alpha}")
    img = np.clip(img, 0.0, 1.0)
    colours = colormaps[cmap](np.clip(heat, 0.0, 1.0))[..., :3]
    if invert_dark is not None:
        dark = img @ LUMA < invert_dark
        colours[dark] = 1.0 - colours[dark]
    return np.clip((1.0 - alpha) * img + alpha * colours, 0.0, 1.0)
