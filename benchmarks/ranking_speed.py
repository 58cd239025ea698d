"""Speed and memory of ranking on cached embeddings: map + cold start + one active-learning pick list.

    .venv/bin/python benchmarks/ranking_speed.py [--sizes 10000,100000,1000000] [--budget 40]
                                                 [--baseline REV] [--baseline-timeout 900]

Synthetic vectors of the default embedder's length (8 seeded Gaussian groups) stand in for a cohort's cached
embeddings. Each size runs in a fresh process, alone, and reports seconds per phase and its peak resident memory.
With ``--baseline REV``, the same work runs on the package as it was at git revision REV (checked out into a
temporary worktree) in the same session, and the table gives the ratio of times; a baseline that does not finish
within ``--baseline-timeout`` seconds is reported as such.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, resource, sys, time
import numpy as np
sys.path.insert(0, sys.argv[1])
from sparselabel.selection.acquisition import select
from sparselabel.selection.cohort_map import fit_map
from sparselabel.selection.cold_start import cold_start
size, dimension, budget = (int(v) for v in sys.argv[2:5])
rng = np.random.default_rng(0)
centres = rng.normal(0, 4, (8, dimension)).astype(np.float32)
vectors = centres[rng.integers(0, 8, size)]
for start in range(0, size, 65536):  # float32 noise a block at a time: the vectors are all the memory they take
    block = vectors[start:start + 65536]
    block += rng.standard_normal(block.shape, dtype=np.float32)
times = {}
start = time.perf_counter()
points = fit_map(vectors, seed=0).coordinates
times["map"] = time.perf_counter() - start
start = time.perf_counter()
first = cold_start(points, budget, seed=0)
times["cold start"] = time.perf_counter() - start
start = time.perf_counter()
picked = set(first.picks)
candidates = [i for i in range(size) if i not in picked]
select(points, rng.random(size), candidates, first.picks, budget, 0.5)
times["acquisition"] = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux
print(json.dumps({"times": times, "k": first.k, "peak_mb": peak}))
"""


def _default_dimension() -> int:
    import numpy as np

    from sparselabel.core.image import Geometry, Image
    from sparselabel.selection.embedders import get_embedder

    image = Image(np.random.default_rng(0).random((64, 64), dtype=np.float32), Geometry.identity(2))
    return int(get_embedder("filterbank").embed([image]).shape[1])


def _run(tree: Path, size: int, dimension: int, budget: int, timeout: float, memory_gb: float) -> dict | str:
    """The child's report, or why there is none."""
    import resource

    def cap_memory() -> None:  # a run that would take the whole machine fails instead
        limit = int(memory_gb * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    try:
        done = subprocess.run([sys.executable, "-c", CHILD, str(tree), str(size), str(dimension), str(budget)],
                              capture_output=True, text=True, timeout=timeout, check=False, preexec_fn=cap_memory)
    except subprocess.TimeoutExpired:
        return f"did not finish in {timeout:.0f} s"
    if done.returncode != 0:
        if "MemoryError" in done.stderr or "Unable to allocate" in done.stderr:
            return f"ran out of its {memory_gb:.0f} GB of address space"
        raise RuntimeError(f"the run on {size} vectors failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--budget", type=int, default=40)
    parser.add_argument("--baseline", metavar="REV", help="git revision to compare with, in the same session")
    parser.add_argument("--baseline-timeout", type=float, default=900.0)
    parser.add_argument("--memory-cap-gb", type=float, default=20.0, help="address-space limit of each run")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    dimension = _default_dimension()
    print(f"synthetic embeddings of {dimension} values (the default embedder's length), budget {args.budget}")
    with tempfile.TemporaryDirectory() as scratch:
        baseline = None
        if args.baseline:
            baseline = Path(scratch) / "baseline"
            subprocess.run(["git", "-C", str(REPOSITORY), "worktree", "add", "--detach", str(baseline), args.baseline],
                           check=True, capture_output=True)
        try:
            print("| scans | map s | cold start s | acquisition s | total s | peak memory | k |"
                  + (" baseline total s | baseline peak | speed-up |" if baseline else ""))
            print("|---|---|---|---|---|---|---|" + ("---|---|---|" if baseline else ""))
            for size in sizes:
                ours = _run(REPOSITORY, size, dimension, args.budget, 3600.0, args.memory_cap_gb)
                if isinstance(ours, str):
                    print(f"| {size:,} | {ours} |", flush=True)
                    continue
                total = sum(ours["times"].values())
                row = (f"| {size:,} | {ours['times']['map']:.1f} | {ours['times']['cold start']:.1f} | "
                       f"{ours['times']['acquisition']:.1f} | {total:.1f} | {ours['peak_mb'] / 1024:.2f} GB | "
                       f"{ours['k']} |")
                if baseline is not None:
                    theirs = _run(baseline, size, dimension, args.budget, args.baseline_timeout,
                                  args.memory_cap_gb)
                    if isinstance(theirs, str):
                        row += f" {theirs} | – | – |"
                    else:
                        before = sum(theirs["times"].values())
                        row += f" {before:.1f} | {theirs['peak_mb'] / 1024:.2f} GB | {before / total:.1f}× |"
                print(row, flush=True)
        finally:
            if baseline is not None:
                subprocess.run(["git", "-C", str(REPOSITORY), "worktree", "remove", "--force", str(baseline)],
                               check=False, capture_output=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
