"""What running a propagation as a child process costs, against running it in the calling process.

    .venv/bin/python benchmarks/job_overhead.py DATA_DIR [--cases 5] [--method raw] [--structure 1]

The Slicer panels run each propagation as ``sparselabel propagate`` in a process of its own (the job protocol:
volume and drawn slices written to a job folder, the child started with the panel's Python, progress read as JSON
lines, the result read back). Per volume, the same propagation (the structure drawn on its representative slice) is
timed both ways, one after the other in this process; the difference is the protocol's overhead per job: writing and
reading the files, handing the command to the process started ahead (see ``sparselabel.slicer.child_job.Spare``),
reading its lines. A first, uncounted run warms both ways up, as a panel's first job does; each timing starts after a
pause (``--pause``), in which the next job's process does its imports as it does while a user looks at a result.
The labels of both ways are compared voxel for voxel.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np


def main() -> None:
    from sparselabel.core.intensity import normalise
    from sparselabel.core.io import base_name, pair_images_with_labels, read_label, read_volume
    from sparselabel.propagation.evaluation import choose_anchors
    from sparselabel.propagation.one_slice import PropagationOptions, propagate_label
    from sparselabel.propagation.screening import gabor_descriptors
    from sparselabel.slicer.jobs import propagation_job
    from sparselabel.slicer.segment_propagation import PaintedSegments

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, help="folder with images/ and labels/")
    parser.add_argument("--cases", type=int, default=5)
    parser.add_argument("--method", default="raw", help="raw (default): no training, so the model's work is fixed")
    parser.add_argument("--structure", type=int, default=1)
    parser.add_argument("--pause", type=float, default=6.0,
                        help="seconds between a job and the next timing, as a user looks at a result (default 6)")
    args = parser.parse_args()
    options = PropagationOptions(method=args.method, device="cpu")
    rows = []
    pairs = pair_images_with_labels(args.data / "images", args.data / "labels")[:args.cases]
    for number, (image_path, label_path) in enumerate([pairs[0], *pairs]):  # the first one warms both ways up
        image = read_volume(image_path)
        mask = read_label(label_path, image).array == args.structure
        anchor = choose_anchors(mask, "representative", gabor_descriptors(normalise(image.array)))[0]
        drawn = np.zeros(image.shape, np.uint8)
        drawn[anchor] = mask[anchor]
        painted = PaintedSegments(image, image.with_array(drawn), ["segment"])

        time.sleep(args.pause)  # the user's time between two jobs, in which the next job's process does its imports
        start = time.perf_counter()
        inside, _ = propagate_label(image, painted.label, options)
        in_process = time.perf_counter() - start

        start = time.perf_counter()
        job = propagation_job(painted, options)
        while not job.done:
            time.sleep(0.02)  # a panel's timer polls every 100 ms; finer here, so as not to add to the overhead
        through_job = time.perf_counter() - start
        if job.error is not None:
            raise job.error
        same = np.array_equal(job.result[0].array, inside.array)
        if number == 0:
            continue  # the panel's first job starts cold; from the second on, a process waits with its imports done
        rows.append((base_name(image_path), in_process, through_job, same))
        print(f"{base_name(image_path)}: in process {in_process:.2f} s, as a job {through_job:.2f} s, overhead "
              f"{through_job - in_process:.2f} s, same labels: {same}", flush=True)
    overhead = np.array([job - inside for _, inside, job, _ in rows])
    print(f"{len(rows)} volumes, {args.method}: in process {np.mean([r[1] for r in rows]):.2f} s, as a job "
          f"{np.mean([r[2] for r in rows]):.2f} s per volume; overhead {overhead.mean():.2f} ± {overhead.std():.2f} s "
          f"per job; labels identical in {sum(r[3] for r in rows)} of {len(rows)}")


if __name__ == "__main__":
    main()
