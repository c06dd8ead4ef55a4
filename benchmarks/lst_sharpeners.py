"""Benchmark of the classical LST sharpeners on one full MODIS-tile-sized scene.

Runnable on its own (``python benchmarks/lst_sharpeners.py [--size 1200] [--factor 4]``): builds a
synthetic tile — ``size x size`` coarse LST with ~10 % cloud (NaN) in blobs, and the
``size*factor`` square fine NDVI — then runs bicubic, TsHARP, ATPRK and AATPRK (default options)
and prints, per method, the wall time, the peak of memory allocated during the call (tracemalloc,
which NumPy reports its array buffers to; allocations inside LAPACK/C code are not seen) and, for
reference, the RMSE against the synthetic fine truth. Not a test: the figures go into notes and
docs (``docs/lst_baselines.md``).

Synthetic scene: Gaussian random fields with an exponential covariance (FFT filtering of white
noise): fine NDVI = land-cover structure at ~2 and ~12 fine pixels mapped to [-0.1, 0.9] (a few
water pixels below 0); fine LST = 318 K − 22 K·NDVI + a smooth ~4 K "terrain / weather" field
(range ~60 fine pixels) + 0.4 K of unexplained sub-pixel variability; coarse LST = radiance
aggregation ``(mean T^4)^(1/4)`` of the fine LST (Wald's protocol), clouds from a thresholded
coarse field.
"""

from __future__ import annotations

import argparse
import resource
import time
import tracemalloc

import numpy as np

from eoml.lst import baselines
from eoml.lst.scaling import aggregate_lst, block_mean


def exponential_field(shape: tuple[int, int], corr_range: float, rng: np.random.Generator) -> np.ndarray:
    """Zero-mean, unit-variance Gaussian field with covariance ~exp(-h / corr_range) (pixels)."""
    ky = np.fft.fftfreq(shape[0])[:, None]
    kx = np.fft.rfftfreq(shape[1])[None, :]
    k2 = (2 * np.pi * corr_range) ** 2 * (ky**2 + kx**2)
    amp = (1.0 + k2) ** -0.75  # sqrt of the 2-D exponential-covariance spectrum (1 + k^2 a^2)^-3/2
    field = np.fft.irfft2(np.fft.rfft2(rng.standard_normal(shape)) * amp, s=shape)
    field -= field.mean()
    field /= field.std()
    return field


def synthetic_tile(size: int, factor: int, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    fine = (size * factor, size * factor)
    cover = 0.6 * exponential_field(fine, 2.0, rng) + 0.8 * exponential_field(fine, 12.0, rng)
    ndvi = -0.1 + 1.0 / (1.0 + np.exp(-1.6 * cover))
    truth = (318.0 - 22.0 * ndvi + 4.0 * exponential_field(fine, 60.0, rng)
             + 0.4 * rng.standard_normal(fine))
    lst = aggregate_lst(truth, factor, "radiance")
    clouds = exponential_field((size, size), 8.0, rng)
    lst[clouds > np.quantile(clouds, 0.9)] = np.nan
    return {"lst": lst, "ndvi_c": block_mean(ndvi, factor), "ndvi": ndvi, "truth": truth}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1200, help="coarse pixels per side")
    parser.add_argument("--factor", type=int, default=4)
    parser.add_argument("--methods", nargs="+", default=["bicubic", "tsharp", "atprk", "aatprk"])
    args = parser.parse_args()
    t = time.perf_counter()
    tile = synthetic_tile(args.size, args.factor)
    t_build = time.perf_counter() - t
    cloud = float(np.isnan(tile["lst"]).mean())
    fine_side = args.size * args.factor
    print(f"scene: {args.size}x{args.size} coarse LST ({100 * cloud:.1f} % NaN), "
          f"{fine_side}x{fine_side} fine NDVI; built in {t_build:.1f} s")
    print(f"{'method':8s} {'wall s':>8s} {'peak MB':>8s} {'RMSE K':>7s} {'coherence K':>12s}")
    for method in args.methods:
        tracemalloc.start()
        t = time.perf_counter()
        out = baselines.sharpen(method, tile["lst"], tile["ndvi_c"], tile["ndvi"], args.factor)
        wall = time.perf_counter() - t
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
        ok = np.isfinite(out)
        rmse = float(np.sqrt(np.mean((out - tile["truth"])[ok] ** 2)))
        coherence = float(np.nanmax(np.abs(block_mean(out, args.factor) - tile["lst"])))
        print(f"{method:8s} {wall:8.2f} {peak:8.0f} {rmse:7.3f} {coherence:12.2e}")
        del out
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak resident memory of the process (ru_maxrss): {rss:.0f} MB")


if __name__ == "__main__":
    main()
