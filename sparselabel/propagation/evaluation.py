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


def _check_structures(pairs: Sequence[tuple[Path, Path]], structures: Sequence[int], slices: int,
                      log: Callable[[str], None]) -> None:
    """Before any propagation: every structure is in some label, and where one lies on fewer slices than are to be
    drawn, or is missing from a case, the log says so."""
    from ..core.io import read_image

    cases_with: dict[int, list[str]] = {s: [] for s in structures}
    values: set[int] = set()
    for _, label_path in pairs:
        array = read_image(label_path, dims=(3,)).array
        values |= {int(v) for v in np.unique(array) if v != 0}
        for structure in structures:
            present = int((array == structure).reshape(len(array), -1).any(1).sum())
            if present:
                cases_with[structure].append(base_name(label_path))
            if 0 < present < slices:
                log(f"{base_name(label_path)}: structure {structure} lies on {present} slice(s), fewer than the "
                    f"{slices} to draw; all {present} are drawn")
    absent = [s for s, found in cases_with.items() if not found]
    if absent:
        raise UserInputError(f"structure(s) {', '.join(map(str, absent))} found in none of the {len(pairs)} label "
                             f"file(s); their values are {', '.join(map(str, sorted(values))) or 'all 0'}")
    for structure, found in cases_with.items():
        if len(found) < len(pairs):
            missing = sorted({base_name(p) for _, p in pairs} - set(found))
            log(f"structure {structure} is missing from {len(missing)} case(s), scored without them: "
                f"{', '.join(missing)}")


def evaluate_propagation(images: str | Path, labels: str | Path, structures: Sequence[int],
                         anchor: str = "representative", methods: Sequence[str] = METHODS,
                         model: Path | None = None, adaptation_steps: int = 0, device: str = "auto",
                         cases: Sequence[str] | None = None, slices: int = 1,
                         log: Callable[[str], None] = print,
                         progress: Callable[[float, str], None] | None = None) -> dict:
    """Run the protocol over every image/label pair (or the named ``cases``) and return the JSON-ready report;
    ``progress(fraction, "cases: …")`` hears of each case as it starts."""
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise UserInputError(f"unknown method(s) {', '.join(unknown)}; expected some of {', '.join(METHODS)}")
    if anchor not in ANCHORS:
        raise UserInputError(f"anchor rule '{anchor}': unknown; expected one of {', '.join(ANCHORS)}")
    if slices < 1:
        raise UserInputError(f"slices to draw per structure must be at least 1, got {slices}")
    pairs = pair_images_with_labels(images, labels, log)
    if cases:
        wanted = set(cases)
        pairs = [p for p in pairs if base_name(p[0]) in wanted]
        missing = wanted - {base_name(p[0]) for p in pairs}
        if missing:
            raise UserInputError(f"case(s) {', '.join(sorted(missing))} not found among the labelled images")
    _check_structures(pairs, structures, slices, log)
    rows: dict[str, list[dict]] = {m: [] for m in methods}
    adaptation: list[float] = []
    for number, (image_path, label_path) in enumerate(pairs, start=1):
        if progress is not None:
            progress((number - 1) / len(pairs), f"cases: {number} of {len(pairs)}, {base_name(image_path)}")
        image = read_volume(image_path)
        label = read_label(label_path, image)
        volume = normalise(image.array, str(image_path))
        descriptors = gabor_descriptors(volume) if anchor == "representative" else None
        present = [s for s in structures if (label.array == s).any()]
        for method in methods:
            options = PropagationOptions(method=method, model=model, adaptation_steps=adaptation_steps,
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
    if "ours" in methods:
        report["model"] = str(model) if model is not None else "shipped"
        report["adaptation_steps"] = adaptation_steps
    return report
