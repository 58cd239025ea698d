"""Speed of one ranking round on cached embeddings: map (openTSNE) + cold start, synthetic vectors.

    .venv/bin/python benchmarks/ranking_speed.py 10000 [100000 ...] [--budget 40] [--dimension 512]

Vectors come from 8 Gaussian groups (seeded), standing in for cached scan embeddings; each size runs in turn and
prints seconds for the map, for the cold start and in total.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from sparselabel.selection.cohort_map import fit_map
from sparselabel.selection.cold_start import cold_start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sizes", nargs="+", type=int)
    parser.add_argument("--budget", type=int, default=40)
    parser.add_argument("--dimension", type=int, default=512)
    args = parser.parse_args()
    print(f"{'scans':>8} {'map s':>8} {'cold start s':>13} {'total s':>8} {'k':>3}")
    for size in args.sizes:
        rng = np.random.default_rng(0)
        centres = rng.normal(0, 4, (8, args.dimension))
        vectors = centres[rng.integers(0, 8, size)] + rng.normal(0, 1, (size, args.dimension))
        started = time.perf_counter()
        points = fit_map(vectors.astype(np.float32), seed=0).coordinates
        mapped = time.perf_counter()
        result = cold_start(points, args.budget, seed=0)
        done = time.perf_counter()
        print(f"{size:8d} {mapped - started:8.1f} {done - mapped:13.1f} {done - started:8.1f} {result.k:3d}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
