"""Evaluation of one-slice propagation on labelled volumes, with every method under the same protocol.

For each volume and structure, one anchor slice (or ``slices`` of them) is chosen among the slices where the
structure is present — ``representative`` (the screening's choice, as a user would be offered; for several, one
per cluster of the structure's slices), ``largest`` (most voxels) or ``middle`` (middle of its extent; for several,
evenly spread over it) — and only those slices' ground truth is given to each method. The propagated structure is
compared with the full ground truth: Dice, HD95 and ASSD (mm, with the volume's spacing) and RAVD (%).
Each structure is propagated on the volume windowed to its own drawn slices
(:func:`~sparselabel.core.intensity.structure_window`), as the Slicer module propagates one segment. Test-time
adaptation, when used, happens once per volume (on its percentile window) and serves all its structures.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from ..core.errors import UserInputError
from ..core.intensity import apply_window, normalise, structure_window
from ..core.io import base_name, pair_images_with_labels, read_label, read_volume
from ..core.metrics import mean_std, segmentation_metrics
from .one_slice import METHODS, PropagationOptions, build_stepper, slice_checks
from .screening import gabor_descriptors, most_representative_slices
from .walk import keep_largest_component, propagate

ANCHORS = ("representative", "largest", "middle")


def choose_anchors(mask: np.ndarray, rule: str, descriptors: np.ndarray | None = None, count: int = 1) -> list[int]:
    """The ``count`` anchor slices (along axis 0, sorted) for a structure ``mask`` under ``rule``."""
    area = mask.reshape(len(mask), -1).sum(1)
    present = np.flatnonzero(area)
    count = min(count, len(present))
    if rule == "largest":
        return sorted(int(k) for k in np.argsort(-area, kind="stable")[:count])
    if rule == "middle":
        return sorted({int(present[int((i + 0.5) * len(present) / count)]) for i in range(count)})
    if rule == "representative":
        return most_representative_slices(descriptors, present, count)
    raise UserInputError(f"anchor rule '{rule}': unknown; expected one of {', '.join(ANCHORS)}")


def evaluate_propagation(images: str | Path, labels: str | Path, structures: Sequence[int],
                         anchor: str = "representative", methods: Sequence[str] = METHODS,
                         model: Path | None = None, adaptation_seconds: float = 60.0, device: str = "auto",
                         cases: Sequence[str] | None = None, slices: int = 1,
                         log: Callable[[str], None] = print) -> dict:
    """Run the protocol over every image/label pair (or the named ``cases``) and return the JSON-ready report."""
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise UserInputError(f"unknown method(s) {', '.join(unknown)}; expected some of {', '.join(METHODS)}")
    if anchor not in ANCHORS:
        raise UserInputError(f"anchor rule '{anchor}': unknown; expected one of {', '.join(ANCHORS)}")
    if slices < 1:
        raise UserInputError(f"slices to draw per structure must be at least 1, got {slices}")
    pairs = pair_images_with_labels(images, labels)
    if cases:
        wanted = set(cases)
        pairs = [p for p in pairs if base_name(p[0]) in wanted]
        missing = wanted - {base_name(p[0]) for p in pairs}
        if missing:
            raise UserInputError(f"case(s) {', '.join(sorted(missing))} not found among the labelled images")
    rows: dict[str, list[dict]] = {m: [] for m in methods}
    adaptation: list[float] = []
    for number, (image_path, label_path) in enumerate(pairs, start=1):
        image = read_volume(image_path)
        label = read_label(label_path, image)
        volume = normalise(image.array, str(image_path))
        descriptors = gabor_descriptors(volume) if anchor == "representative" else None
        present = [s for s in structures if (label.array == s).any()]
        for method in methods:
            options = PropagationOptions(method=method, model=model, adaptation_seconds=adaptation_seconds,
                                         device=device)
            started = time.perf_counter()
            stepper, record = build_stepper(method, volume, options)
            if "adaptation_seconds" in record:
                adaptation.append(time.perf_counter() - started)
            checks = slice_checks(method)
            for structure in present:
                mask = label.array == structure
                chosen = choose_anchors(mask, anchor, descriptors, slices)
                anchors = {k: mask[k].astype(np.uint8) for k in chosen}
                windowed = apply_window(volume, structure_window(volume, anchors))
                result = propagate(windowed, anchors, stepper, **checks)
                predicted = keep_largest_component(result.label, anchors) > 0
                scores = segmentation_metrics(predicted, mask, image.spacing)
                rows[method].append({"case": base_name(image_path), "structure": int(structure),
                                     "anchor_slices": chosen, **{k: round(v, 4) for k, v in scores.items()},
                                     "seconds": round(result.seconds, 3)})
                log(f"[{number}/{len(pairs)}] {base_name(image_path)} structure {structure} {method}: "
                    f"Dice {scores['dice']:.3f}, HD95 {scores['hd95']:.1f} mm, {result.seconds:.2f} s")
    report = {"cases": len(pairs), "structures": [int(s) for s in structures], "anchor": anchor,
              "slices": slices, "methods": {}}
    for method, method_rows in rows.items():
        summary = {key: mean_std([r[key] for r in method_rows]) for key in ("dice", "hd95", "assd", "ravd")}
        summary["seconds_per_volume"] = mean_std([r["seconds"] for r in method_rows])
        summary["by_structure"] = {
            str(s): {key: mean_std([r[key] for r in method_rows if r["structure"] == s])
                     for key in ("dice", "hd95", "assd", "ravd")} for s in structures}
        if method == "ours" and adaptation:
            summary["adaptation_seconds_per_volume"] = mean_std(adaptation)
        summary["per_case"] = method_rows
        report["methods"][method] = summary
    if model is not None:
        report["model"] = str(model)
    return report
