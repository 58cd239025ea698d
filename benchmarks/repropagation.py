"""Propagating again after a correction: the network adapted to the volume used again, against adapting anew.

    .venv/bin/python benchmarks/repropagation.py DATA_DIR [--cases 5] [--structures 1,4] [--adaptation-steps 100]

What the OneSliceSeg module does when a user corrects a slice and presses Propagate again. Per volume and
structure: the representative slice is drawn and propagated after adapting the network to the volume; the slice
with the most wrong voxels is then redrawn as the ground truth says (the correction); the two drawn slices are
propagated again, once with the network kept from the first run and once with a network adapted anew. Prints
seconds and Dice of both, and their ratio.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np


def main() -> None:
    from sparselabel.core.intensity import normalise
    from sparselabel.core.io import base_name, pair_images_with_labels, read_label, read_volume
    from sparselabel.core.metrics import dice
    from sparselabel.propagation.adapted_networks import AdaptedNetworks
    from sparselabel.propagation.evaluation import choose_anchors
    from sparselabel.propagation.one_slice import PropagationOptions, propagate_label
    from sparselabel.propagation.screening import gabor_descriptors

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, help="folder with images/ and labels/")
    parser.add_argument("--cases", type=int, default=5)
    parser.add_argument("--structures", default="1,4")
    parser.add_argument("--adaptation-steps", type=int, default=100)
    args = parser.parse_args()
    options = PropagationOptions(adaptation_steps=args.adaptation_steps, device="cpu")
    rows = []
    for image_path, label_path in pair_images_with_labels(args.data / "images", args.data / "labels")[:args.cases]:
        image = read_volume(image_path)
        truth = read_label(label_path, image).array
        descriptors = gabor_descriptors(normalise(image.array))
        for structure in (int(s) for s in args.structures.split(",")):
            mask = truth == structure
            anchor = choose_anchors(mask, "representative", descriptors)[0]
            drawn = np.zeros_like(truth)
            drawn[anchor][mask[anchor]] = structure
            memory = AdaptedNetworks()
            first, _ = propagate_label(image, image.with_array(drawn), options, adapted=memory)
            wrong = ((first.array == structure) != mask).reshape(len(mask), -1).sum(1)
            wrong[anchor] = -1
            fixed = int(wrong.argmax())  # the user corrects the worst slice
            drawn[fixed][mask[fixed]] = structure
            runs = {}
            for name, kept in (("kept", memory), ("anew", None)):
                started = time.perf_counter()
                result, record = propagate_label(image, image.with_array(drawn), options, adapted=kept)
                runs[name] = (time.perf_counter() - started, dice(result.array == structure, mask),
                              record["adaptation_reused"])
            rows.append(runs)
            print(f"{base_name(image_path)} structure {structure}: corrected slice {fixed} (anchor {anchor}); "
                  f"kept network {runs['kept'][0]:.1f} s, Dice {runs['kept'][1]:.3f} (reused: {runs['kept'][2]}); "
                  f"adapted anew {runs['anew'][0]:.1f} s, Dice {runs['anew'][1]:.3f}", flush=True)
    for name in ("kept", "anew"):
        seconds = [r[name][0] for r in rows]
        dices = [r[name][1] for r in rows]
        print(f"{name}: {np.mean(seconds):.1f} ± {np.std(seconds):.1f} s, Dice {np.mean(dices):.3f} ± "
              f"{np.std(dices):.3f}")
    ratio = np.mean([r["kept"][0] for r in rows]) / np.mean([r["anew"][0] for r in rows])
    print(f"kept / anew: {ratio:.2f}× the time; reused in {sum(r['kept'][2] for r in rows)} of {len(rows)} runs")


if __name__ == "__main__":
    main()
