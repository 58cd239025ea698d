"""Speed and memory of the outline refinement alone, on a phantom of a given size.

    .venv/bin/python benchmarks/refinement_speed.py [--size 512x512x300] [--off 2]

The phantom's label, eroded by ``--off`` pixels on every slice (as a propagated outline misses the edge), is refined
once for its first segment and once for all of them together; prints seconds, Dice per segment before and after,
and the process's peak resident memory (which includes the phantom itself).
"""

from __future__ import annotations

import argparse
import resource
import sys
import time

import numpy as np
from scipy import ndimage


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", default="512x512x300", help="columns x rows x slices")
    parser.add_argument("--off", type=int, default=2, help="pixels the label is eroded by on every slice")
    args = parser.parse_args()
    from sparselabel.core import phantoms
    from sparselabel.core.intensity import normalise
    from sparselabel.core.metrics import dice
    from sparselabel.propagation.outline_refinement import OutlineRefinement

    columns, rows, slices = (int(v) for v in args.size.split("x"))
    image, label = phantoms.abdomen_volume(seed=0, shape=(slices, rows, columns), spacing=(0.8, 0.8, 1.5))
    volume = normalise(image.array)
    values = [int(v) for v in np.unique(label.array) if v != 0]
    for chosen in (values[:1], values):
        truth = np.zeros(label.array.shape, dtype=np.int64)
        for index, value in enumerate(chosen, start=1):
            truth[label.array == value] = index
        size = 2 * args.off + 1
        off = np.stack([ndimage.grey_erosion(s, size=(size, size)) for s in truth])
        started = time.perf_counter()
        refined = OutlineRefinement()(volume, off, len(chosen) + 1)
        seconds = time.perf_counter() - started
        before = [dice(off == i, truth == i) for i in range(1, len(chosen) + 1)]
        after = [dice(refined == i, truth == i) for i in range(1, len(chosen) + 1)]
        print(f"{len(chosen)} segment(s) on {args.size}: {seconds:.1f} s, Dice {' / '.join(f'{d:.3f}' for d in before)}"
              f" → {' / '.join(f'{d:.3f}' for d in after)}, peak RSS "
              f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GiB", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
