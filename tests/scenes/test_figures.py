"""scenes figures from small run directories written as the contract says."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from eoml.core.plotting import paper_style
from eoml.scenes.evaluate import score_runs, write_run
from eoml.scenes.figures import (
    accuracy_curves_figure,
    accuracy_grid_figure,
    best_confusions_figure,
    gradcam_figure,
    plot_accuracy_curves,
    plot_accuracy_gap,
    plot_accuracy_grid,
    plot_best_confusions,
    plot_gradcam,
)

K = 3
SIZES = {"train": 30, "val": 9, "test": 15}


def _run(root, *, dataset="ucm", depth="deep", mode="fine_tune", init="imagenet", seed=0,
         backbone="efficientnet_lite0", optimizer="sgd", n_classes=K,
         accs=((1.0, 0.8, 0.8),), collapsed=(False,), history=True):
    """A run directory: per attempt (train, val, test) accuracies; history.csv when asked."""
    job = {"dataset": dataset, "backbone": backbone, "depth": depth, "mode": mode,
           "optimizer": optimizer, "seed": seed, "init": init}
    out = root / "_".join(str(v) for v in job.values())
    preds, attempts, hist = [], [], []
    for a, (acc, col) in enumerate(zip(accs, collapsed, strict=True)):
        sample = 0
        for (split, n), frac in zip(SIZES.items(), acc, strict=True):
            label = np.arange(n) % n_classes
            pred = label.copy()
            wrong = np.arange(round((1 - frac) * n))
            pred[wrong] = (label[wrong] + 1) % n_classes
            preds.append(pd.DataFrame({"attempt": a, "sample": np.arange(sample, sample + n),
                                       "split": split, "label": label, "pred": pred}))
            sample += n
        attempts.append({"attempt": a, "learning_rate": 0.01, "collapsed": col, "best_epoch": 2,
                         "epochs_run": 4, "best_val_acc": acc[1], "chance_acc": 1 / n_classes,
                         "seconds_per_epoch": 0.1})
        e = np.arange(4)
        hist.append(pd.DataFrame({"epoch": e, "train_loss": 1.0 / (e + 1), "val_loss": 1.2 / (e + 1),
                                  "lr": 0.01, "train_acc": acc[0] * (e + 1) / 4,
                                  "val_acc": acc[1] * (e + 1) / 4, "attempt": a}))
    write_run(out, job, attempts, pd.concat(preds), n_parameters=10, n_trainable=10)
    if history:
        pd.concat(hist).to_csv(out / "history.csv", index=False)
    return out


@pytest.fixture()
def runs(tmp_path):
    dirs = []
    for seed in (0, 1):
        for depth in ("shallow", "deep"):
            dirs.append(_run(tmp_path, depth=depth, seed=seed,  # deep: best validation accuracy
                             accs=((1.0, 0.9 if depth == "deep" else 0.8, 0.8),)))
            dirs.append(_run(tmp_path, depth=depth, seed=seed, mode="random", init="random",
                             accs=((0.9, 0.5, 0.45),)))
        dirs.append(_run(tmp_path, depth="shallow", seed=seed, mode="feature_extraction",
                         accs=((0.34, 1 / 3, 1 / 3), (0.9, 0.7, 0.6)), collapsed=(True, False)))
        dirs.append(_run(tmp_path, depth="deep", seed=seed, mode="feature_extraction",
                         accs=((0.34, 1 / 3, 1 / 3),), collapsed=(True,)))
        dirs.append(_run(tmp_path, dataset="big", seed=seed, n_classes=20, accs=((1.0, 0.9, 0.8),)))
        dirs.append(_run(tmp_path, backbone="colour_histogram", depth="none", mode="baseline",
                         optimizer="logistic_regression", init="none", seed=seed,
                         accs=((0.6, 0.4, 0.4),), history=False))
    acc = tmp_path / "accuracy.csv"
    score_runs(dirs, acc)
    return dirs, acc


def test_accuracy_curves(runs, tmp_path):
    dirs, _ = runs
    with paper_style():
        fig, axes = accuracy_curves_figure(dirs)
    plt.close(fig)
    # rows: (big, deep), (ucm, shallow), (ucm, deep); columns: the three modes (baseline skipped)
    assert axes.shape == (3, 3)
    assert [ax.get_title() for ax in axes[0]] == ["feature_extraction", "fine_tune", "random"]
    assert axes[1, 0].get_ylabel().startswith("ucm · efficientnet_lite0 · shallow")
    fe = axes[1, 0]  # collapsed then retried, two seeds: train + val + retry val each
    styles = [ln.get_linestyle() for ln in fe.get_lines() if np.size(ln.get_xdata()) > 2]
    assert sorted(styles) == ["-", "-", "--", "--", ":", ":"]
    assert not axes[0, 0].get_lines()  # no feature extraction run on "big"
    png, svg = plot_accuracy_curves(dirs, tmp_path / "curves.png")
    assert png.stat().st_size > 10_000 and svg.exists()


def test_accuracy_grid_and_gap(runs, tmp_path):
    _, acc = runs
    with paper_style():
        fig, axes = accuracy_grid_figure(acc, "test")
    plt.close(fig)
    assert axes.shape == (2, 1)  # datasets big, ucm × one backbone
    ucm = axes[1, 0]
    assert [t.get_text() for t in ucm.get_xticklabels()] == ["shallow", "deep"]
    heights = sorted(round(p.get_height(), 4) for p in ucm.patches)
    # fe shallow (retries 0.6), fe deep (collapsed 1/3), fine_tune 0.8 ×2, random 0.4667 ×2
    assert heights == [0.3333, 0.4667, 0.4667, 0.6, 0.8, 0.8]
    crosses = [ln for ln in ucm.get_lines() if ln.get_marker() == "x" and ln.get_xdata().size]
    assert sum(ln.get_xdata().size for ln in crosses) == 2  # the two collapsed (deep) seeds
    dashed = [ln for ln in ucm.get_lines() if ln.get_linestyle() == "--"]
    assert len(dashed) == 1 and dashed[0].get_ydata()[0] == pytest.approx(0.4)  # baseline
    assert not [ln for ln in axes[0, 0].get_lines() if ln.get_linestyle() == "--"]
    with paper_style():
        fig, axes = accuracy_grid_figure(acc, "gap")
    plt.close(fig)
    gaps = sorted(round(p.get_height(), 4) for p in axes[1, 0].patches)
    assert gaps[-1] == pytest.approx(0.4333, abs=1e-4)  # random: 0.9 − 0.4667
    for plot, name in ((plot_accuracy_grid, "grid.png"), (plot_accuracy_gap, "gap.png")):
        png, svg = plot(acc, tmp_path / name)
        assert png.stat().st_size > 10_000 and svg.exists()
    with pytest.raises(ValueError, match="'test' or 'gap'"):
        accuracy_grid_figure(acc, "val")


def test_best_confusions(runs, tmp_path):
    dirs, acc = runs
    names = {"ucm": ["water", "forest", "runway"], "big": [f"class {i}" for i in range(20)]}
    with paper_style():
        fig, axes = best_confusions_figure(dirs, acc, names)
    plt.close(fig)
    big, ucm = axes[0]
    assert ucm.get_title().startswith("ucm: efficientnet_lite0 deep fine_tune")
    assert "test accuracy 0.800" in ucm.get_title()
    assert len(ucm.texts) == 9 and not big.texts  # 20 classes: no numbers in the cells
    png, _ = plot_best_confusions(dirs, acc, names, tmp_path / "conf.png")
    assert png.stat().st_size > 10_000
    with pytest.raises(ValueError, match=r"no class names given for dataset\(s\) \['big'\]"):
        best_confusions_figure(dirs, acc, {"ucm": names["ucm"]})


def test_gradcam_panel(tmp_path):
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                        nn.Flatten(), nn.Linear(4, 3))
    images = np.random.default_rng(0).integers(0, 256, (3, 24, 24, 3), dtype=np.uint8)
    inputs = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255.0
    with paper_style():
        fig, axes = gradcam_figure(net, "0", inputs, images, [0, 1, 2], ["a", "b", "c"],
                                   invert_dark=0.2, title="test")
    plt.close(fig)
    assert axes.shape == (2, 3)
    assert [ax.get_title() for ax in axes[0]] == ["a", "b", "c"]
    assert all(ax.get_title().startswith("pred. ") for ax in axes[1])
    assert axes[1, 0].get_images()[0].get_array().shape == (24, 24, 3)
    png, svg = plot_gradcam(net, "0", inputs, images, [0, 1, 2], ["a", "b", "c"], tmp_path / "cam.png")
    assert png.stat().st_size > 5_000 and svg.exists()
    with pytest.raises(ValueError, match="2 labels"):
        gradcam_figure(net, "0", inputs, images, [0, 1], ["a", "b", "c"])
