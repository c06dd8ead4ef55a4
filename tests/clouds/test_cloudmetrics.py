"""Cloud-organisation metrics on masks with answers computed by hand from the definitions.

One disc, a regular lattice of squares, random (Poisson) points, crossing cloud lines (open sky),
an empty and a full mask; the discrete power-law fit on seeded Zipf samples; the numpy 2.4
``trapz`` compatibility of ``cloudmetrics``.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest

from eoml.clouds import cloudmetrics as cm


def disc(n: int, radius: float, centre: tuple[float, float]) -> np.ndarray:
    y, x = np.mgrid[:n, :n]
    return (y - centre[0]) ** 2 + (x - centre[1]) ** 2 <= radius**2


def lattice(n: int, period: int, side: int) -> np.ndarray:
    """side × side squares, one per period × period cell, centred in their cells."""
    mask = np.zeros((n, n), bool)
    offset = (period - side) // 2
    for y0 in range(offset, n, period):
        for x0 in range(offset, n, period):
            mask[y0 : y0 + side, x0 : x0 + side] = True
    return mask


def poisson_points(n: int, mean_count: float, seed: int) -> np.ndarray:
    """Single-pixel clouds at a Poisson number of uniformly random pixels."""
    rng = np.random.default_rng(seed)
    count = rng.poisson(mean_count)
    mask = np.zeros((n, n), bool)
    mask[rng.integers(0, n, count), rng.integers(0, n, count)] = True
    return mask


# ------------------------------------------------------------------------------------------------


def test_metrics_names_and_order():
    assert cm.METRICS == (
        "cloud_fraction", "n_objects", "mean_object_size", "max_object_size", "mean_perimeter",
        "size_exponent", "open_sky", "iorg", "scai", "cop", "spectral_length_scale",
        "fractal_dimension", "orientation",
    )
    assert list(cm.tile_metrics(disc(32, 5, (16, 16)))) == list(cm.METRICS)


def test_cloudmetrics_gets_trapz_without_touching_numpy():
    import importlib

    # (``import cloudmetrics.objects.metrics.iorg as m`` would give the function of that name)
    iorg_module = importlib.import_module("cloudmetrics.objects.metrics.iorg")
    spectral_module = importlib.import_module("cloudmetrics.scalar.spectral")

    for module in (iorg_module, spectral_module):
        assert module.np.trapz is np.trapezoid
        assert module.np.histogram is np.histogram  # every other name is numpy's
    assert not hasattr(np, "trapz") or np.lib.NumpyVersion(np.__version__) < "2.4.0"
    # cloudmetrics' own function that calls np.trapz runs and is right: k̄ of psd ∝ δ(k − 2) is 2
    k = np.linspace(1.0, 3.0, 201)
    psd = np.where(np.isclose(k, 2.0), 1.0, 0.0)
    assert spectral_module.spectral_length_moment(k, psd) == pytest.approx(math.pi)


def test_one_disc():
    n, r = 128, 20
    mask = disc(n, r, (64, 64))
    m = cm.tile_metrics(mask)
    # area by hand: pixels (y, x) with (y-64)² + (x-64)² ≤ r² (Gauss' circle count, ≈ π r²)
    area = sum(1 for y in range(n) for x in range(n) if (y - 64) ** 2 + (x - 64) ** 2 <= r * r)
    assert area == 1257
    assert m["cloud_fraction"] == area / n**2
    assert m["n_objects"] == 1
    assert m["mean_object_size"] == m["max_object_size"] == area
    assert area == pytest.approx(math.pi * r**2, rel=0.005)
    # perimeter through the border pixel centres (regionprops' chain of 1, √2, (1+√2)/2 steps):
    # ≈ 2π r, over by the chain estimator's ≈ 5 % on smooth curves (Kulpa 1977; 1.0495 here)
    assert 2 * math.pi * r < m["mean_perimeter"] < 1.06 * 2 * math.pi * r
    # a smooth closed curve has box-counting dimension 1; an isotropic blob orientation 0
    assert m["fractal_dimension"] == pytest.approx(1.0, abs=0.1)
    assert m["orientation"] == pytest.approx(0.0, abs=0.02)
    # row 0 and column 0 are clear across the tile: the open-sky cross spans it all
    assert m["open_sky"] == 1.0
    # pairwise metrics and the size-distribution fit need two objects
    for name in ("iorg", "scai", "cop", "size_exponent"):
        assert math.isnan(m[name]), name
    assert math.isfinite(m["spectral_length_scale"]) and m["spectral_length_scale"] > 0


def test_regular_lattice_iorg_scai_cop_by_hand():
    n, period, side = 64, 16, 4
    mask = lattice(n, period, side)
    m = cm.tile_metrics(mask)
    centres = [(6 + 1.5 + period * i, 6 + 1.5 + period * j) for i in range(4) for j in range(4)]
    n_obj, area = len(centres), side * side
    assert m["n_objects"] == n_obj == 16
    assert m["mean_object_size"] == m["max_object_size"] == area
    assert m["cloud_fraction"] == n_obj * area / n**2
    assert m["mean_perimeter"] == 4 * (side - 1)  # through the border pixel centres
    # Iorg (Tompkins & Semie 2017): every nearest-neighbour distance is the period, so the scene's
    # NND CDF is a step at d = period and Iorg = 1 − F_Poisson(period) = exp(−λ π period²)
    lam = n_obj / n**2
    assert m["iorg"] == pytest.approx(math.exp(-lam * math.pi * period**2), abs=1e-3)  # exp(−π)
    assert m["iorg"] < 0.5
    # SCAI (Tobin et al. 2012): N / N_max · D0 / L · 1000, D0 the geometric mean of all pair distances
    pairs = list(itertools.combinations(centres, 2))
    d0 = math.exp(sum(math.log(math.dist(a, b)) for a, b in pairs) / len(pairs))
    scai = n_obj / (n * n / 2) * d0 / n * 1000
    assert m["scai"] == pytest.approx(scai, rel=1e-12)
    # COP (White et al. 2018): mean over pairs of (√(A_i/π) + √(A_j/π)) / d_ij
    cop = sum(2 * math.sqrt(area / math.pi) / math.dist(a, b) for a, b in pairs) / len(pairs)
    assert m["cop"] == pytest.approx(cop, rel=1e-12)
    # clear rows cross clear columns: open sky 1; a lattice has no preferred direction
    assert m["open_sky"] == 1.0
    assert m["orientation"] == pytest.approx(0.0, abs=1e-9)


def test_poisson_points_iorg_near_half_and_clusters_above():
    # 30 seeded fields of ~150 single-pixel clouds in a 128² tile. Iorg of a Poisson field is 0.5
    # in an unbounded domain; the bounded tile lowers it a little (edge points have fewer
    # neighbours): 0.474 on average over 200 seeds, standard deviation 0.025 per field. The mean
    # of these 30 must be within 0.05 of 0.5, each field within 0.35–0.6.
    values = [cm.tile_metrics(poisson_points(128, 150, seed))["iorg"] for seed in range(30)]
    assert abs(np.mean(values) - 0.5) < 0.05
    assert all(0.35 < v < 0.6 for v in values)
    # the same number of points in tight clumps (16 clusters of radius 4 px) is clustered: Iorg > 0.5
    rng = np.random.default_rng(0)
    mask = np.zeros((128, 128), bool)
    for cy, cx in rng.integers(10, 118, (16, 2)):
        for _ in range(10):
            dy, dx = rng.integers(-4, 5, 2)
            if abs(dy) + abs(dx) > 1 and (dy % 2 == 0 and dx % 2 == 0):  # keep clouds apart
                mask[cy + dy, cx + dx] = True
    clustered = cm.tile_metrics(mask)
    assert clustered["n_objects"] > 30
    assert clustered["iorg"] > 0.7


def test_empty_and_full_masks_give_nan_not_errors():
    empty = cm.tile_metrics(np.zeros((64, 64), bool))
    assert empty["cloud_fraction"] == 0.0 and empty["n_objects"] == 0.0 and empty["open_sky"] == 1.0
    for name in set(cm.METRICS) - {"cloud_fraction", "n_objects", "open_sky"}:
        assert math.isnan(empty[name]), name
    full = cm.tile_metrics(np.ones((64, 64), bool))
    assert full["cloud_fraction"] == 1.0 and full["n_objects"] == 1.0 and full["open_sky"] == 0.0
    assert full["mean_object_size"] == full["max_object_size"] == 64 * 64
    assert full["mean_perimeter"] == 4 * 63
    assert full["orientation"] == pytest.approx(0.0, abs=1e-12)  # a square domain: no direction
    for name in ("size_exponent", "iorg", "scai", "cop", "spectral_length_scale", "fractal_dimension"):
        assert math.isnan(full[name]), name


def test_open_sky_by_hand_and_cloudmetrics_edge_miscount():
    # one cloud column (x = 20) and one cloud row (y = 40) in a 64² tile: four clear quadrants;
    # the largest cross is rows 0–39 (40) × columns 21–63 (43)
    mask = np.zeros((64, 64), bool)
    mask[:, 20] = True
    mask[40, :] = True
    assert cm.open_sky(mask) == 40 * 43 / 64**2
    # the same lines inside a cloud frame: every run bounded by cloud on both sides
    framed = np.ones((66, 66), bool)
    framed[1:-1, 1:-1] = mask
    assert cm.open_sky(framed) == 40 * 43 / 66**2
    assert cm.tile_metrics(mask)["open_sky"] == 40 * 43 / 64**2


@pytest.mark.slow  # numba compiles cloudmetrics' parallel open_sky kernel: ~15 s on two cores
def test_cloudmetrics_open_sky_miscounts_runs_at_the_tile_edge():
    from cloudmetrics.mask import open_sky as cloudmetrics_open_sky

    mask = np.zeros((64, 64), bool)
    mask[:, 20] = True
    mask[40, :] = True
    framed = np.ones((66, 66), bool)
    framed[1:-1, 1:-1] = mask
    # cloudmetrics agrees when no clear run reaches the edge, and miscounts by one pixel at the
    # edges otherwise (44 × 39 for 43 × 40): why open_sky is computed here
    assert cloudmetrics_open_sky(framed.astype(np.int64)) == cm.open_sky(framed) == 40 * 43 / 66**2
    assert cloudmetrics_open_sky(mask.astype(np.int64)) == 44 * 39 / 64**2


def test_orientation_and_fractal_dimension_limits():
    line = np.zeros((64, 64), bool)
    line[30, 10:50] = True  # all cloud along one direction
    assert cm.tile_metrics(line)["orientation"] == pytest.approx(1.0, abs=1e-9)
    # salt-and-pepper noise: cloud edges fill the plane, box-counting dimension ≈ 2
    noise = np.random.default_rng(1).random((128, 128)) < 0.5
    assert cm.tile_metrics(noise)["fractal_dimension"] == pytest.approx(2.0, abs=0.05)


def test_spectral_length_scales_with_the_pattern():
    small = cm.tile_metrics(lattice(128, 16, 8))["spectral_length_scale"]
    large = cm.tile_metrics(lattice(128, 32, 16))["spectral_length_scale"]
    # harmonics pull the mean wavenumber above the fundamental 2π/period: length < period
    assert 16 / 3 < small < 16 and 32 / 3 < large < 32
    # twice the pattern, a longer length; not twice as long, because the binary pattern's
    # harmonics, cut at the Nyquist wavenumber, reach twice as far for the larger pattern
    assert 1.3 < large / small < 2.0


def test_size_exponent_recovers_zipf_exponent():
    for alpha in (1.8, 2.5):
        sizes = np.random.default_rng(3).zipf(alpha, 3000)
        se = (alpha - 1) / math.sqrt(sizes.size)
        assert cm.size_exponent(sizes) == pytest.approx(alpha, abs=3 * se)
        tail = sizes[sizes >= 4]  # a discrete power law above A_min is one with A_min
        assert cm.size_exponent(tail, min_size=4) == pytest.approx(alpha, abs=3 * (alpha - 1) / math.sqrt(tail.size))
    assert math.isnan(cm.size_exponent([5]))
    assert math.isnan(cm.size_exponent([1, 1, 1]))
    with pytest.raises(ValueError, match="min_size"):
        cm.size_exponent([1, 2], min_size=0)


def test_cloud_mask_grey_and_reflectance():
    rgb = np.zeros((2, 3, 3), np.uint8)
    rgb[0, 0] = (255, 255, 255)
    rgb[0, 1] = (200, 100, 0)  # grey 300/765 = 0.392
    rgb[1, 2] = (150, 150, 150)  # grey 0.588
    assert cm.cloud_mask(rgb, 0.5, "grey").tolist() == [[True, False, False], [False, False, True]]
    assert cm.cloud_mask(rgb, 0.39, "grey")[0, 1]
    assert cm.cloud_mask(np.stack([rgb, rgb]), 0.5, "grey").shape == (2, 2, 3)
    refl = np.array([[0.1, np.nan], [0.3, 0.2]])
    assert cm.cloud_mask(refl, 0.2, "reflectance").tolist() == [[False, False], [True, False]]
    with pytest.raises(ValueError, match="kind"):
        cm.cloud_mask(refl, 0.2, "brightness")
    with pytest.raises(ValueError, match="outside"):
        cm.cloud_mask(rgb, 1.5, "grey")
    with pytest.raises(ValueError, match="RGB"):
        cm.cloud_mask(refl, 0.2, "grey")
    with pytest.raises(ValueError, match="2-D"):
        cm.tile_metrics(np.zeros((2, 4, 4), bool))


def test_metrics_table_rows_match_tile_metrics():
    masks = np.stack([disc(64, 10, (32, 32)), lattice(64, 16, 4), np.zeros((64, 64), bool)])
    table = cm.metrics_table(masks)
    assert list(table.columns) == list(cm.METRICS) and table.index.name == "tile"
    for i, mask in enumerate(masks):
        expected = pd.Series(cm.tile_metrics(mask), name=i, dtype=float)
        pd.testing.assert_series_equal(table.loc[i], expected)
    # images with a threshold, tiles of different sizes, labelled rows
    rgb = [np.where(m[..., None], 230, 20).astype(np.uint8).repeat(3, -1) for m in masks[:2]]
    rgb.append(np.full((32, 48, 3), 20, np.uint8))
    images = cm.metrics_table(rgb, 0.5, "grey", index=["a", "b", "c"])
    pd.testing.assert_frame_equal(images.iloc[:2].reset_index(drop=True), table.iloc[:2].reset_index(drop=True))
    assert images.loc["c", "cloud_fraction"] == 0.0
    with pytest.raises(ValueError, match="threshold"):
        cm.metrics_table(rgb)


@pytest.mark.parametrize("connectivity", [1, 2])
def test_object_metrics_equal_cloudmetrics_and_regionprops(connectivity):
    import cloudmetrics.objects as cmo
    import scipy.ndimage as ndi
    import skimage.measure

    rng = np.random.default_rng(7)
    masks = [disc(64, 12, (30, 34)), lattice(64, 16, 4)]
    for sigma, fraction in ((1.0, 0.3), (2.5, 0.45), (0.0, 0.2)):
        field = ndi.gaussian_filter(rng.standard_normal((96, 80)), sigma) if sigma else rng.random((96, 80))
        masks.append(field > np.quantile(field, 1 - fraction))
    for mask in masks:
        labels, n = skimage.measure.label(mask, connectivity=connectivity, return_num=True)
        areas, centroids, perimeters = cm.object_properties(labels, n)
        props = skimage.measure.regionprops(labels)
        np.testing.assert_array_equal(areas, [p.area for p in props])
        np.testing.assert_allclose(centroids, [p.centroid for p in props], rtol=1e-12)
        np.testing.assert_allclose(perimeters, [p.perimeter for p in props], rtol=1e-12)
        m = cm.tile_metrics(mask, connectivity=connectivity)
        assert m["n_objects"] == n
        assert m["mean_perimeter"] == pytest.approx(cmo.mean_perimeter_length(labels), rel=1e-12)
        if n >= 2:
            ny, nx = mask.shape
            assert m["iorg"] == pytest.approx(cmo.iorg(labels), rel=1e-9)
            assert m["cop"] == pytest.approx(cmo.cop(labels), rel=1e-9)
            L = math.sqrt(ny * nx)
            assert m["scai"] == pytest.approx(cmo.scai(labels, reference_lengthscale=L), rel=1e-9)
