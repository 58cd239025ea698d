"""Speed and memory of one-slice propagation, every method in one run, each in a fresh process.

    .venv/bin/python benchmarks/propagation_speed.py DATA_DIR [--model CKPT] [--cases 5] [--adaptation-steps 0]
    .venv/bin/python benchmarks/propagation_speed.py --synthetic 512x512x300 --model CKPT --device cuda [--grid 1]

For each method: seconds per volume for the propagation itself (one structure, from its largest slice, with the
intensity verification and the outline refinement each method gets in the product and the evaluation), seconds
of adaptation to the volume where asked for, and the peak resident memory of the process. ``--synthetic`` times a
phantom of the given size instead (the GPU target). Slices are walked on the grid the product uses (blocks of
2 × 2 pixels on a 512-pixel slice, see ``sparselabel/propagation/matching_grid.py``); ``--grid 1`` walks them at full
resolution instead.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import resource
import sys
import time
from pathlib import Path

import numpy as np


def _measure(method: str, volumes: list[str], labels: list[str], model: str | None, adaptation: int,
             device: str, synthetic: str | None, grid: int | None, queue) -> None:
    import torch

    from sparselabel.core import phantoms
    from sparselabel.core.intensity import apply_window, normalise, structure_window
    from sparselabel.core.io import read_label, read_volume
    from sparselabel.propagation.matching_grid import grid_factor
    from sparselabel.propagation.one_slice import PropagationOptions, build_stepper, slice_checks
    from sparselabel.propagation.walk import propagate

    torch.set_num_threads(max(1, torch.get_num_threads()))
    runs = []
    inputs = []
    if synthetic:
        columns, rows, slices = (int(v) for v in synthetic.split("x"))
        image, label = phantoms.abdomen_volume(seed=0, shape=(slices, rows, columns),
                                               spacing=(0.8, 0.8, 1.5))
        inputs.append((image.array, label.array == 1))
    else:
        for volume_path, label_path in zip(volumes, labels, strict=True):
            image = read_volume(volume_path)
            inputs.append((image.array, read_label(label_path, image).array == 1))
    for array, mask in inputs:
        anchor = int(mask.reshape(len(mask), -1).sum(1).argmax())
        drawn = {anchor: mask[anchor].astype(np.uint8)}
        volume = normalise(array)
        volume = apply_window(volume, structure_window(volume, drawn))  # as the user's path does
        options = PropagationOptions(method=method, model=Path(model) if model else None,
                                     adaptation_steps=adaptation, device=device)
        factor = grid or grid_factor(volume.shape[1:])
        started = time.perf_counter()
        stepper, record = build_stepper(method, volume, options, grid=factor)
        adaptation_seconds = time.perf_counter() - started if "adaptation_steps" in record else 0.0
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        result = propagate(volume, drawn, stepper, grid=factor, **slice_checks(method))
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        runs.append({"propagation_seconds": result.seconds, "adaptation_seconds": adaptation_seconds,
                     "slices": int(volume.shape[0]), "steps": result.steps, "grid": factor})
    peak_gpu = torch.cuda.max_memory_allocated() / 2**30 if torch.cuda.is_available() else 0.0
    queue.put({"method": method, "runs": runs,
               "peak_rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
               "peak_gpu_gib": peak_gpu})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data", nargs="?", help="folder with images/ and labels/ (label 1 is propagated)")
    parser.add_argument("--model", help="checkpoint for 'ours' (default: the shipped network)")
    parser.add_argument("--methods", default="ours,demons,raw,copy")
    parser.add_argument("--cases", type=int, default=5)
    parser.add_argument("--adaptation-steps", type=int, default=0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--synthetic", help="time a phantom of this size (columns x rows x slices) instead")
    parser.add_argument("--grid", type=int, help="walk on blocks of this many pixels a side (default: as the product)")
    parser.add_argument("--json", help="write the measurements here")
    args = parser.parse_args()
    volumes, labels = [], []
    if not args.synthetic:
        if not args.data:
            parser.error("give DATA_DIR or --synthetic")
        volumes = sorted(str(p) for p in Path(args.data, "images").glob("*.nii.gz"))[: args.cases]
        labels = [str(Path(args.data, "labels", Path(v).name)) for v in volumes]
    context = multiprocessing.get_context("spawn")
    results = []
    for method in args.methods.split(","):
        queue = context.Queue()
        process = context.Process(target=_measure, args=(method, volumes, labels, args.model,
                                                         args.adaptation_steps, args.device, args.synthetic,
                                                         args.grid, queue))
        process.start()
        results.append(queue.get())
        process.join()
    baseline = next((r for r in results if r["method"] == "demons"), None)
    base_seconds = np.mean([r["propagation_seconds"] for r in baseline["runs"]]) if baseline else None
    print(f"{'method':8} {'propagation s/volume':>22} {'adaptation s':>13} {'vs demons':>10} {'peak RSS GiB':>13}"
          f" {'peak GPU GiB':>13}")
    for result in results:
        seconds = [r["propagation_seconds"] for r in result["runs"]]
        adaptation = [r["adaptation_seconds"] for r in result["runs"]]
        ratio = f"{np.mean(seconds) / base_seconds:9.2f}×" if base_seconds else "-"
        print(f"{result['method']:8} {np.mean(seconds):15.2f} ± {np.std(seconds):4.2f} {np.mean(adaptation):13.1f} "
              f"{ratio:>10} {result['peak_rss_gib']:13.2f} {result['peak_gpu_gib']:13.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
