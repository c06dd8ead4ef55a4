"""Benchmark of whole-scene seaice inference on CPU: wall time and peak resident memory.

Runnable on its own (``python benchmarks/seaice_inference.py [--size 5000] [--tile 1024]``).
A Sentinel-1 EW scene is ~10000 × 10000 pixels at 40 m, i.e. 5000 × 5000 at the study's 80 m.
Each model (randomly initialised EfficientNet-Lite0 and ResNet-18 segmenters; the weights do not
change the cost) is run over a synthetic 3-channel scene in overlapping tiles: each tile of
``tile × tile`` pixels is read with ``overlap`` pixels of context on every side (clipped at the
scene edges), and only its central part is written to the uint8 class map, so seams see the same
receptive field as the interior. Memory is the input scene (3 × float32) + the class map + one
tile's activations; the tile size sets the last term and is chosen so the peak RSS stays ≤ 4 GB.

Peak RSS is ``resource.getrusage(RUSAGE_SELF).ru_maxrss`` — the process high-water mark, so the
models are run in separate child processes to get one peak per model. Not a test.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import time

import numpy as np
import torch

from eoml.seaice.models import build_segmenter, count_parameters


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def predict_tiled(
    model: torch.nn.Module, image: np.ndarray, tile: int = 1024, overlap: int = 64
) -> np.ndarray:
    """Class map ``(H, W)`` uint8 of a ``(C, H, W)`` float32 image, tile by tile (centre crops)."""
    _, h, w = image.shape
    out = np.empty((h, w), dtype=np.uint8)
    model.eval()
    with torch.inference_mode():
        for y0 in range(0, h, tile):
            for x0 in range(0, w, tile):
                y1, x1 = min(y0 + tile, h), min(x0 + tile, w)
                ya, xa = max(y0 - overlap, 0), max(x0 - overlap, 0)
                yb, xb = min(y1 + overlap, h), min(x1 + overlap, w)
                x = torch.from_numpy(np.ascontiguousarray(image[:, ya:yb, xa:xb]))[None]
                cls = model(x).argmax(1)[0].numpy().astype(np.uint8)
                out[y0:y1, x0:x1] = cls[y0 - ya : y1 - ya, x0 - xa : x1 - xa]
    return out


def _run(encoder: str, size: int, tile: int, overlap: int, threads: int, queue) -> None:
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = build_segmenter(encoder, "random")
    rng = np.random.default_rng(0)
    image = rng.standard_normal((3, size, size), dtype=np.float32)
    base = peak_mb()
    t = time.perf_counter()
    classes = predict_tiled(model, image, tile=tile, overlap=overlap)
    wall = time.perf_counter() - t
    queue.put((encoder, count_parameters(model), wall, base, peak_mb(), float(classes.mean())))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=5000, help="scene side at 80 m (pixels)")
    parser.add_argument("--tile", type=int, default=1024)
    parser.add_argument("--overlap", type=int, default=64)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--encoders", nargs="+", default=["efficientnet_lite0", "resnet18"])
    args = parser.parse_args()
    ctx = mp.get_context("spawn")
    print(f"scene {args.size} x {args.size} px (80 m), tile {args.tile} + {args.overlap} overlap, "
          f"{args.threads} threads, CPU")
    print(f"{'encoder':20s} {'params':>9s} {'wall (s)':>9s} {'Mpx/s':>7s} "
          f"{'RSS before (MB)':>16s} {'peak RSS (MB)':>14s}")
    for enc in args.encoders:
        queue = ctx.Queue()
        proc = ctx.Process(target=_run, args=(enc, args.size, args.tile, args.overlap,
                                              args.threads, queue))
        proc.start()
        name, params, wall, base, peak, _ = queue.get()
        proc.join()
        print(f"{name:20s} {params:9d} {wall:9.1f} {args.size**2 / 1e6 / wall:7.2f} "
              f"{base:16.0f} {peak:14.0f}")


if __name__ == "__main__":
    main()
