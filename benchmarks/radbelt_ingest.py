"""Benchmark of the radbelt ingest path: demo generation, per-day binning, combine.

Runnable on its own (``python benchmarks/radbelt_ingest.py [--days N]``); prints wall time and
peak resident memory of each stage. Not a test: the figures go into notes and docs.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

from eoml.core.config import validate_config
from eoml.radbelt.demo import demo_files, generate_demo
from eoml.radbelt.ingest import bin_files, combine


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=120)
    args = parser.parse_args()
    grid = validate_config({})["radbelt"]["grid"]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        t = time.perf_counter()
        generate_demo(tmp / "raw", start="2019-01-01", days=args.days, seed=7)
        t_demo = time.perf_counter() - t
        files = demo_files(tmp / "raw", "2019-01-01", args.days)
        size = sum(p.stat().st_size for group in files.values() for p in group) / 1e6

        t = time.perf_counter()
        partials = []
        for i, (rbsp, poes) in enumerate(zip(files["rbsp"], files["poes"], strict=True)):
            out = tmp / "partials" / f"{i:04d}.nc"
            bin_files([(rbsp, "rbsp_mageis"), (poes, "poes")], out, grid)
            partials.append(out)
        for omni in files["omni"]:
            out = tmp / "partials" / f"{omni.stem}.nc"
            bin_files([(omni, "omni2_ascii")], out, grid)
            partials.append(out)
        t_bin = time.perf_counter() - t

        t = time.perf_counter()
        combine(partials, tmp / "store.zarr", grid)
        t_combine = time.perf_counter() - t

    print(f"days                         {args.days}")
    print(f"raw demo files               {sum(len(v) for v in files.values())} ({size:.1f} MB)")
    print(f"generate_demo                {t_demo:7.2f} s")
    print(f"bin_files, all days          {t_bin:7.2f} s  ({1000 * t_bin / args.days:.0f} ms per day, in-process)")
    print(f"combine                      {t_combine:7.2f} s")
    print(f"peak resident memory         {peak_mb():7.0f} MB")


if __name__ == "__main__":
    main()
