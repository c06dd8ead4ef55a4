"""Seconds per epoch of the scenes feature extraction with and without the feature cache.

``feature_extraction`` trains only the top model on a frozen base. Without the cache the frozen
base runs on every (augmented) training and validation image in every epoch; with the cache
(``scenes.feature_cache: true``) it runs once per image before training and the epochs train the
top model on the pooled features. This script times both on a synthetic dataset (by default 300
images of 64 px in 10 classes, split 70/10/20, EfficientNet-Lite0 with its offline ImageNet weights,
batch 32) at each depth, through the study's own training job (:func:`eoml.scenes.train.
train_on_data`: Lightning, checkpoints, logging included), and prints per depth: the median epoch
time of each path (the wall time of training + validation per epoch, from ``history.csv``), the
speed-up per epoch (the issue asks for >= 10x), and the one-off cost of the cache.

Run alone: ``.venv/bin/python benchmarks/scenes_feature_cache.py [--images 300 --size 64 --epochs 4
--threads N]``. CPU by default (Lightning picks the training device itself).

Measured 2026-11-30 on the quiet 2-core development machine, 1 torch thread, seconds per epoch
without / with the cache: 64 px, 4 epochs: shallow 0.531 / 0.044 (12.2x), intermediate 0.803 /
0.045 (17.8x), deep 1.217 / 0.083 (14.7x), the cache itself 0.6-1.2 s once; 128 px, 3 epochs:
84.7x, 106.2x, 56.7x (cache 4.5-7.6 s once). Under load (other jobs on both cores) the 64 px
figures dropped to 6.5-9x for the shallow cut: a cached epoch (7 + 1 batches of a small MLP) costs
Lightning's per-step overhead only, so the speed-up grows with the image size (the base's cost)
and the number of images per batch.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from eoml.scenes.train import SceneData, train_on_data


def synthetic_data(n_images: int, size: int, n_classes: int, seed: int = 0) -> SceneData:
    """Random textured RGB images with a class-dependent tint; a stratified 70/10/20 split."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n_images) % n_classes
    tint = rng.uniform(40, 200, (n_classes, 3))
    images = np.clip(tint[labels][:, None, None, :] + rng.normal(0, 30, (n_images, size, size, 3)), 0, 255)
    rank = np.arange(n_images) // n_classes
    per_class = n_images // n_classes
    split = np.where(rank < 0.7 * per_class, 0, np.where(rank < 0.8 * per_class, 1, 2))
    splits = {name: np.flatnonzero(split == code) for code, name in enumerate(("train", "val", "test"))}
    return SceneData.from_arrays(images.astype(np.uint8), labels, splits, [f"class{k}" for k in range(n_classes)],
                                 "synthetic")


def config(cache: bool, epochs: int, batch: int) -> dict:
    return {
        "top": {"hidden": 512, "dropout": 0.5},
        "optimizers": {"adam": {"algorithm": "adam", "learning_rate": 1e-3, "momentum": 0.0, "clip_norm": None}},
        "training": {"max_epochs": epochs, "batch_size": batch, "early_stopping_patience": epochs, "lr_patience": epochs,
                     "lr_factor": 0.5, "min_lr": 1e-6, "monitor": "val_acc", "mixed_precision": True},
        "feature_cache": cache,
        "collapse": {"retry": False, "lr_divisor": 10},
        "weights_path": None,
    }


def time_run(data: SceneData, depth: str, cache: bool, epochs: int, batch: int, root: Path) -> dict:
    job = {"dataset": "synthetic", "backbone": "efficientnet_lite0", "depth": depth, "mode": "feature_extraction",
           "optimizer": "adam", "seed": 0, "init": "imagenet"}
    name = f"{depth}_{'cache' if cache else 'nocache'}"
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):  # progress bars
        train_on_data(data, root / name, root / f"{name}_ckpt", job, config(cache, epochs, batch))
    total = time.perf_counter() - start
    history = pd.read_csv(root / name / "history.csv")
    attempt = json.loads((root / name / "run.json").read_text())["attempts"][0]
    return {"epoch_s": float(history["seconds"].median()), "total_s": total,
            "cache_s": attempt["feature_seconds"], "val_acc": attempt["best_val_acc"]}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=300)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    parser.add_argument("--depths", nargs="+", default=["shallow", "intermediate", "deep"])
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    for name in ("lightning", "lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.ERROR)
    if args.threads:
        torch.set_num_threads(args.threads)
    data = synthetic_data(args.images, args.size, args.classes)
    n = {k: len(v) for k, v in data.splits.items()}
    print(f"feature_extraction, efficientnet_lite0 (ImageNet), {args.images} images of {args.size} px "
          f"({n['train']} train / {n['val']} val / {n['test']} test), batch {args.batch}, {args.epochs} epochs, "
          f"{torch.get_num_threads()} torch thread(s), {'CUDA' if torch.cuda.is_available() else 'CPU'}")
    print(f"{'depth':<13}{'no cache s/epoch':>17}{'cache s/epoch':>15}{'speed-up':>10}{'cache once s':>14}"
          f"{'val acc (no cache / cache)':>29}")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for depth in args.depths:
            plain = time_run(data, depth, False, args.epochs, args.batch, Path(tmp))
            cached = time_run(data, depth, True, args.epochs, args.batch, Path(tmp))
            speedup = plain["epoch_s"] / cached["epoch_s"]
            rows.append((depth, plain, cached, speedup))
            print(f"{depth:<13}{plain['epoch_s']:>17.3f}{cached['epoch_s']:>15.3f}{speedup:>9.1f}x"
                  f"{cached['cache_s']:>14.2f}{plain['val_acc']:>17.3f} / {cached['val_acc']:.3f}")
    worst = min(r[3] for r in rows)
    print(f"smallest speed-up per epoch: {worst:.1f}x ({'meets' if worst >= 10 else 'BELOW'} the 10x the issue asks)")


if __name__ == "__main__":
    main()
