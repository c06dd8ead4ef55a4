"""Data helpers shared by the learning studies: one normaliser, seeded augmentation.

* :class:`Normalizer` — per-channel (or per-feature) mean and standard deviation fitted on the
  training data, NaN-aware, serialisable (:meth:`Normalizer.to_dict`) into the model file
  (:mod:`eoml.core.modelfile`).
* :func:`sample_key` / :func:`flip_rotate` — a dataset's item key is a plain index (validation)
  or ``(index, sample seed)`` (training, from :class:`eoml.core.training.SeededEpochSampler`);
  the seed drives the sample's random flips / 90° rotations, so the augmentation of a sample
  depends only on ``(seed, epoch, index)``, never on when the loader drew from a global RNG.
* :class:`ImageDataset` — uint8 images in memory as float samples in [0, 1], with a label, the
  image itself as the target (an autoencoder) and/or its index, and the seeded quarter turns and
  flips of :func:`flip_rotate` (classified images, labelled squares, unlabelled tiles).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

__all__ = ["ImageDataset", "Normalizer", "flip_rotate", "sample_key"]


def _axes(ndim: int, axis: int | None) -> tuple[int, ...] | None:
    """The axes reduced when fitting: all but the channel axis (None = all when ``axis`` is None)."""
    if axis is None:
        return None
    keep = axis % ndim
    return tuple(a for a in range(ndim) if a != keep)


class Normalizer:
    """Standardisation ``(x - mean) / std`` per channel, with training-set statistics.

    ``axis`` is the channel axis of the arrays this normaliser transforms (``-1`` for
    ``(..., features)``, ``1`` for ``(N, C, H, W)``, ``0`` for ``(C, H, W)``); ``None`` means one
    mean and one standard deviation for the whole array. A standard deviation below ``min_std``
    is raised to it; one that is then zero or not finite (a constant or empty channel) becomes
    1, so such a channel is only centred.
    """

    def __init__(self, mean, std, axis: int | None = -1):
        self.mean = np.asarray(mean, dtype=np.float64)
        self.std = np.asarray(std, dtype=np.float64)
        if self.mean.shape != self.std.shape or self.mean.ndim > 1:
            raise ValueError(f"mean {self.mean.shape} and std {self.std.shape} must be equal scalars or vectors")
        if axis is None and self.mean.ndim:
            raise ValueError("a normaliser without a channel axis holds one mean and one std")
        self.axis = None if axis is None else int(axis)

    # ---------------------------------------------------------------------------------------- fit
    @staticmethod
    def _clean(mean: np.ndarray, std: np.ndarray, min_std: float) -> tuple[np.ndarray, np.ndarray]:
        std = np.maximum(std, float(min_std)) if min_std > 0 else std
        std = np.where(np.isfinite(std) & (std > 0), std, 1.0)
        mean = np.where(np.isfinite(mean), mean, 0.0)
        return mean, std

    @classmethod
    def fit(cls, x, axis: int | None = -1, min_std: float = 0.0) -> Normalizer:
        """Mean and standard deviation of ``x`` (float64) over every axis but ``axis``, NaNs ignored."""
        x = np.asarray(x, dtype=np.float64)
        if x.size == 0:
            raise ValueError("cannot fit a normaliser on an empty array")
        axes = _axes(x.ndim, axis)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN channel: handled below
            if np.isnan(x).any():
                mean, std = np.nanmean(x, axis=axes), np.nanstd(x, axis=axes)
            else:
                mean, std = x.mean(axis=axes), x.std(axis=axes)
        return cls(*cls._clean(np.asarray(mean), np.asarray(std), min_std), axis=axis)

    @classmethod
    def from_moments(cls, count: int, total, total_sq, axis: int | None = -1, min_std: float = 0.0) -> Normalizer:
        """From pooled sums ``Σx`` and ``Σx²`` over ``count`` values per channel (data fitted in pieces)."""
        if int(count) <= 0:
            raise ValueError("cannot fit a normaliser on 0 values")
        mean = np.asarray(total, dtype=np.float64) / int(count)
        std = np.sqrt(np.maximum(np.asarray(total_sq, dtype=np.float64) / int(count) - mean**2, 0.0))
        return cls(*cls._clean(mean, std, min_std), axis=axis)

    # ---------------------------------------------------------------------------------- transform
    def _shaped(self, values: np.ndarray, ndim: int) -> np.ndarray:
        if self.axis is None or values.ndim == 0:
            return values
        shape = [1] * ndim
        shape[self.axis % ndim] = values.size
        return values.reshape(shape)

    def _check(self, x: np.ndarray) -> None:
        if self.axis is not None and self.mean.ndim:
            n = x.shape[self.axis] if x.ndim else 0
            if n != self.mean.size:
                raise ValueError(f"array of shape {x.shape} has {n} channels on axis {self.axis}; "
                                 f"the normaliser has {self.mean.size}")

    def transform(self, x, dtype=np.float64) -> np.ndarray:
        """``(x - mean) / std`` in float64, returned as ``dtype``."""
        x = np.asarray(x, dtype=np.float64)
        self._check(x)
        out = (x - self._shaped(self.mean, x.ndim)) / self._shaped(self.std, x.ndim)
        return out.astype(dtype, copy=False)

    def inverse(self, z, dtype=np.float64) -> np.ndarray:
        """``z * std + mean`` in float64, returned as ``dtype``."""
        z = np.asarray(z, dtype=np.float64)
        self._check(z)
        out = z * self._shaped(self.std, z.ndim) + self._shaped(self.mean, z.ndim)
        return out.astype(dtype, copy=False)

    # ------------------------------------------------------------------------------ serialisation
    def to_dict(self) -> dict[str, Any]:
        """Plain numbers (JSON- and ``torch.load(weights_only=True)``-safe)."""
        return {"mean": self.mean.tolist(), "std": self.std.tolist(), "axis": self.axis}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Normalizer:
        return cls(d["mean"], d["std"], axis=d["axis"])

    def __repr__(self) -> str:
        return f"Normalizer(mean={self.mean.tolist()}, std={self.std.tolist()}, axis={self.axis})"

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, Normalizer) and self.axis == other.axis
                and np.array_equal(self.mean, other.mean) and np.array_equal(self.std, other.std))


# --------------------------------------------------------------------------------------------
# augmentation
# --------------------------------------------------------------------------------------------
def sample_key(key) -> tuple[int, int | None]:
    """A dataset key as ``(index, sample seed or None)``: ``i`` (validation) or ``(i, seed)`` (training)."""
    if isinstance(key, (tuple, list)):
        return int(key[0]), int(key[1])
    return int(key), None


_FLIP_DIMS = {"x": -1, "y": -2}


def flip_rotate(
    arrays: Mapping[str, torch.Tensor],
    rng: np.random.Generator | int,
    *,
    rotate: bool = True,
    flips: Sequence[str] = ("x",),
) -> dict[str, torch.Tensor]:
    """The same random 90° rotation and flips of every array of one sample (last two dims = y, x).

    Draws from ``rng`` (a generator, or a sample seed for a fresh one), in this order: the number
    of quarter turns ``k = integers(4)`` when ``rotate``, then one ``integers(2)`` coin per entry
    of ``flips`` (``"x"`` mirrors left-right, ``"y"`` up-down). Rotations and flips move whole
    pixels, so aligned grids of different sizes (a coarse target and its fine guide) stay aligned.
    Returns contiguous tensors.
    """
    if not isinstance(rng, np.random.Generator):
        rng = np.random.default_rng(int(rng))
    unknown = [f for f in flips if f not in _FLIP_DIMS]
    if unknown:
        raise ValueError(f"flips: unknown axis {unknown}; use 'x' and/or 'y'")
    k = int(rng.integers(4)) if rotate else 0
    dims = [_FLIP_DIMS[f] for f in flips if bool(rng.integers(2))]
    out = {}
    for key, a in arrays.items():
        if k:
            a = torch.rot90(a, k, dims=(-2, -1))
        if dims:
            a = torch.flip(a, dims=dims)
        out[key] = a.contiguous()
    return out


# --------------------------------------------------------------------------------------------
# images in memory
# --------------------------------------------------------------------------------------------
class ImageDataset(Dataset):
    """``{"x": float32 (C, H, W) in [0, 1]}`` for the samples ``index`` (default all) of uint8
    ``images`` ``(N, C, H, W)``, with ``"y"`` the sample's class (``labels``, one per image, as
    int64) or, with ``target``, the image itself (an autoencoder's target), and ``"i"`` its index
    in ``images`` with ``with_index``.

    Keys are ``j`` or ``(j, sample seed)`` (:func:`sample_key`); with ``augment`` and a seed the
    image gets a random quarter turn and left-right flip (:func:`flip_rotate`) drawn from the
    sample seed, so a sample's augmentation depends only on ``(seed, epoch, index)``.
    """

    def __init__(self, images: torch.Tensor, index: np.ndarray | None = None, *, labels=None,
                 augment: bool = False, target: bool = False, with_index: bool = False):
        if labels is not None and target:
            raise ValueError("an image dataset has labels or the image as its target, not both")
        self.images = images
        self.index = np.arange(len(images), dtype=np.int64) if index is None else np.asarray(index, dtype=np.int64)
        self.labels = None if labels is None else torch.from_numpy(np.asarray(labels, dtype=np.int64))
        self.augment, self.target, self.with_index = bool(augment), bool(target), bool(with_index)

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, key) -> dict[str, torch.Tensor]:
        j, seed = sample_key(key)
        i = int(self.index[j])
        x = self.images[i].to(torch.float32) / 255.0
        if self.augment and seed is not None:
            x = flip_rotate({"x": x}, seed, rotate=True, flips=("x",))["x"]
        out = {"x": x}
        if self.labels is not None:
            out["y"] = self.labels[i]
        elif self.target:
            out["y"] = x
        if self.with_index:
            out["i"] = torch.tensor(i, dtype=torch.int64)
        return out
