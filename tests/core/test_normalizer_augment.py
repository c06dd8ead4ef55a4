"""The one normaliser (per-channel, NaN-aware, serialisable) and the seeded flip/rotation."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from eoml.core.data import Normalizer, flip_rotate, sample_key


def test_per_channel_statistics_on_any_axis():
    rng = np.random.default_rng(0)
    x = rng.normal([1.0, -5.0, 300.0], [0.1, 2.0, 10.0], size=(50, 7, 3)).astype(np.float32)
    norm = Normalizer.fit(x, axis=-1)
    flat = x.astype(np.float64).reshape(-1, 3)
    assert np.array_equal(norm.mean, flat.mean(axis=0)) and np.array_equal(norm.std, flat.std(axis=0))
    z = norm.transform(x, np.float32)
    assert z.dtype == np.float32 and z.shape == x.shape
    np.testing.assert_allclose(z.reshape(-1, 3).mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(z.reshape(-1, 3).std(axis=0), 1.0, rtol=1e-5)
    np.testing.assert_allclose(norm.inverse(z), x, rtol=1e-6)
    # channels first, (N, C, H, W): the same statistics
    images = np.moveaxis(x, -1, 1)[..., None]
    first = Normalizer.fit(images, axis=1)
    np.testing.assert_allclose(first.mean, norm.mean, rtol=1e-12)
    np.testing.assert_allclose(first.transform(images)[:, 2, :, 0], norm.transform(x)[..., 2], rtol=1e-12)
    with pytest.raises(ValueError, match="2 channels on axis 1; the normaliser has 3"):
        first.transform(images[:, :2])
    # one statistic for the whole array
    whole = Normalizer.fit(x[..., 2], axis=None)
    assert whole.mean.shape == () and float(whole.mean) == x[..., 2].astype(np.float64).mean()


def test_nan_aware_and_degenerate_channels():
    x = np.array([[1.0, 5.0, np.nan], [3.0, 5.0, np.nan], [np.nan, 5.0, np.nan]])
    with np.errstate(all="raise"):  # no warnings escape either
        norm = Normalizer.fit(x, axis=-1)
    assert norm.mean.tolist() == [2.0, 5.0, 0.0]
    assert norm.std.tolist() == [1.0, 1.0, 1.0]  # constant / empty channels: unit scale
    z = norm.transform(x)
    assert np.isnan(z[2, 0]) and z[0, 0] == -1.0 and z[0, 1] == 0.0
    floored = Normalizer.fit(np.array([300.0, 300.0 + 1e-6]), axis=None, min_std=1e-3)
    assert float(floored.std) == 1e-3


def test_from_moments_matches_fit_and_serialises():
    rng = np.random.default_rng(1)
    parts = [rng.normal(size=(n, 2)) * [1.0, 3.0] + [0.0, 10.0] for n in (10, 25, 7)]
    count = sum(len(p) for p in parts)
    total = sum(p.sum(axis=0) for p in parts)
    total_sq = sum((p * p).sum(axis=0) for p in parts)
    pooled = Normalizer.from_moments(count, total, total_sq, axis=-1, min_std=1e-6)
    direct = Normalizer.fit(np.concatenate(parts), axis=-1)
    np.testing.assert_allclose(pooled.mean, direct.mean, rtol=1e-12)
    np.testing.assert_allclose(pooled.std, direct.std, rtol=1e-9)
    back = Normalizer.from_dict(json.loads(json.dumps(pooled.to_dict())))
    assert back == pooled and back.axis == -1
    with pytest.raises(ValueError, match="0 values"):
        Normalizer.from_moments(0, [0.0], [0.0])


def test_sample_key():
    assert sample_key(4) == (4, None) and sample_key((4, 99)) == (4, 99)
    assert sample_key(torch.tensor([2, 7]).tolist()) == (2, 7)


def test_flip_rotate_is_seeded_and_keeps_grids_aligned():
    coarse = torch.arange(16.0).reshape(1, 4, 4)
    fine = coarse.repeat_interleave(2, -1).repeat_interleave(2, -2)  # the same field, 2x finer
    outcomes = set()
    for seed in range(60):
        out = flip_rotate({"coarse": coarse, "fine": fine}, seed)
        again = flip_rotate({"coarse": coarse, "fine": fine}, np.random.default_rng(seed))
        assert torch.equal(out["coarse"], again["coarse"]) and out["coarse"].is_contiguous()
        # the fine grid is still the coarse one repeated: aligned after any flip / rotation
        assert torch.equal(out["fine"], out["coarse"].repeat_interleave(2, -1).repeat_interleave(2, -2))
        outcomes.add(tuple(out["coarse"].flatten().tolist()))
    assert len(outcomes) == 8  # 4 rotations x 2 mirror images
    # the draws: k = integers(4) then one integers(2) per flip
    rng = np.random.default_rng(11)
    k, fx = int(rng.integers(4)), bool(rng.integers(2))
    expected = torch.rot90(coarse, k, dims=(-2, -1))
    expected = torch.flip(expected, (-1,)) if fx else expected
    assert torch.equal(flip_rotate({"a": coarse}, 11)["a"], expected)
    # flips only, both axes: 4 outcomes
    flips = {tuple(flip_rotate({"a": coarse}, s, rotate=False, flips=("x", "y"))["a"].flatten().tolist())
             for s in range(40)}
    assert len(flips) == 4
    with pytest.raises(ValueError, match="unknown axis"):
        flip_rotate({"a": coarse}, 0, flips=("z",))


# --------------------------------------------------------------------------------------------
# ImageDataset
# --------------------------------------------------------------------------------------------
def test_image_dataset_labels_targets_indices_and_seeded_augmentation():
    from eoml.core.data import ImageDataset

    images = torch.from_numpy(np.random.default_rng(0).integers(0, 256, (3, 3, 8, 8), dtype=np.uint8))
    ds = ImageDataset(images, np.array([2, 0]), labels=np.array([0, 1, 2]), augment=True)
    assert len(ds) == 2 and int(ds[0]["y"]) == 2 and ds[0]["y"].dtype == torch.int64 and set(ds[0]) == {"x", "y"}
    torch.testing.assert_close(ds[0]["x"], images[2].float() / 255)  # no seed (validation): as stored
    torch.testing.assert_close(ds[(0, 7)]["x"], ds[(0, 7)]["x"])     # one seed, one augmentation
    flips = (images[2].float() / 255, images[2].float().flip(-1) / 255)
    variants = [torch.rot90(f, r, dims=(-2, -1)) for f in flips for r in range(4)]
    seen = {next(k for k, v in enumerate(variants) if torch.equal(v, ds[(0, seed)]["x"])) for seed in range(60)}
    assert len(seen) == 8  # the 8 symmetries of a square
    # an autoencoder's batch: the (augmented) image is its own target; the index on request
    auto = ImageDataset(images, augment=True, target=True, with_index=True)
    item = auto[(1, 3)]
    assert torch.equal(item["x"], item["y"]) and int(item["i"]) == 1 and len(auto) == 3
    plain = ImageDataset(images, np.array([2]), with_index=True)[0]
    assert set(plain) == {"x", "i"} and int(plain["i"]) == 2
    with pytest.raises(ValueError, match="not both"):
        ImageDataset(images, labels=np.zeros(3), target=True)
