"""LST scoring: PSNR / SSIM / RMSE on common pixels, border crop, ranking."""

import numpy as np
import pandas as pd
import pytest
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from eoml.lst.evaluate import METRIC_COLUMNS, image_scores, rank_methods, score


def _truth(n=3, size=48, seed=0):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size]
    return np.stack([295 + 5 * np.sin(x / 5 + k) + 3 * np.cos(y / 7) + rng.normal(0, 0.3, (size, size))
                     for k in range(n)])


def test_perfect_prediction_scores_best():
    t = _truth()
    table = score(t, {"perfect": t.copy(), "noisy": t + 1.0}, border_crop=8).set_index("method")
    assert table.loc["perfect", "rmse_k"] == 0
    assert table.loc["perfect", "ssim"] == pytest.approx(1.0)
    assert np.isinf(table.loc["perfect", "psnr"])
    assert table.loc["noisy", "rmse_k"] == pytest.approx(1.0)
    assert table.loc["noisy", "n_pixels"] == 3 * 32 * 32


def test_scores_match_scikit_image_on_whole_images():
    t = _truth(n=1)[0]
    p = t + np.random.default_rng(3).normal(0, 0.8, t.shape)
    mask = np.ones(t.shape, bool)
    psnr, ssim = image_scores(t, p, mask)
    rng_ = t.max() - t.min()
    assert psnr == pytest.approx(peak_signal_noise_ratio(t, p, data_range=rng_))
    assert ssim == pytest.approx(structural_similarity(t, p, data_range=rng_))


def test_all_methods_are_scored_on_the_same_pixels():
    t = _truth(n=1)
    a = t + 0.5
    b = t + 0.5
    b[0, 20:30, 20:30] = np.nan  # method b could not sharpen these pixels
    table = score(t, {"a": a, "b": b}, border_crop=4).set_index("method")
    assert table.loc["a", "n_pixels"] == table.loc["b", "n_pixels"] == 40 * 40 - 100
    assert table.loc["a", "rmse_k"] == pytest.approx(table.loc["b", "rmse_k"])


def test_border_crop_removes_edges():
    t = _truth(n=1)
    p = t.copy()
    p[0, :4, :] += 50  # errors only in the border
    assert score(t, {"m": p}, border_crop=4)["rmse_k"].iloc[0] == 0
    assert score(t, {"m": p}, border_crop=0)["rmse_k"].iloc[0] > 1
    with pytest.raises(ValueError, match="border crop"):
        score(t, {"m": p}, border_crop=24)


def test_ranking():
    metrics = pd.DataFrame({
        "method": ["x", "y", "x", "y"], "dataset": ["d1", "d1", "d2", "d2"], "factor": 4,
        "psnr": [30, 20, 25, 26], "ssim": [0.9, 0.8, 0.7, 0.75], "rmse_k": [1.0, 2.0, 1.5, 1.4],
        "n_pixels": 100,
    })[METRIC_COLUMNS]
    r = rank_methods(metrics).set_index(["dataset", "method"])
    assert r.loc[("d1", "x"), "rank"] == 1 and r.loc[("d1", "y"), "rank"] == 2
    assert r.loc[("d2", "y"), "rank"] == 1
    assert r.loc[("d1", "x"), "mean_rank_all_datasets"] == pytest.approx(1.5)
