"""``sparselabel demo``: both workflows on the built-in sample data, with pictures and a report."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from .. import __version__
from ..core.atomic import write_text
from ..core.errors import UserInputError
from ..core.image import Image
from .common import label_summary, size_text, spacing_text

DEMO_MARKER = ".sparselabel-demo"


def _prepare_demo_folder(out: Path) -> None:
    """The demo writes only into a new or empty folder, or one an earlier demo made (it carries a marker)."""
    if out.exists() and not out.is_dir():
        raise UserInputError(f"{out}: is a file; expected a folder for the demo's output")
    if out.is_dir() and any(out.iterdir()) and not (out / DEMO_MARKER).exists():
        raise UserInputError(f"{out}: folder is not empty and was not made by 'sparselabel demo'; "
                             "choose a new or empty folder")
    out.mkdir(parents=True, exist_ok=True)
    (out / DEMO_MARKER).write_text("written by sparselabel demo; its files are replaced on the next run\n")


def _demo_onesliceseg(volume: Image, label: Image, out: Path, adaptation_seconds: float) -> dict:
    """OneSliceSeg on the sample volume: one drawn slice per organ (the one screening suggests) → 3D label."""
    from ..core import figures, phantoms
    from ..core.metrics import dice
    from ..propagation.one_slice import PropagationOptions, propagate_label, suggest_slice

    drawn = np.zeros_like(label.array)
    anchors = {}
    for value in (1, 2):  # liver and spleen, each drawn on its own suggested slice
        present = np.flatnonzero((label.array == value).any((1, 2)))
        anchor = suggest_slice(volume, slice_range=(int(present[0]), int(present[-1])))
        drawn[anchor][label.array[anchor] == value] = value
        anchors[phantoms.ABDOMEN_LABELS[value]] = anchor
    print("OneSliceSeg: drew " + ", ".join(f"the {name} on slice {k}" for name, k in anchors.items())
          + f"; adapting the network to the volume for {adaptation_seconds:.0f} s, then propagating")
    result, record = propagate_label(volume, label.with_array(drawn),
                                     PropagationOptions(adaptation_seconds=adaptation_seconds))
    scores = {phantoms.ABDOMEN_LABELS[v]: round(dice(result.array == v, label.array == v), 3) for v in (1, 2)}
    print("OneSliceSeg: Dice " + ", ".join(f"{name} {score:.3f}" for name, score in scores.items())
          + f" (propagation {record['propagation_seconds']:.1f} s after {record['adaptation_seconds']:.0f} s of "
          "adaptation)")
    picture = figures.overlay_slices(volume, result, out / "onesliceseg_result.png", slices=8,
                                     names={1: "liver", 2: "spleen"},
                                     title="OneSliceSeg: one drawn slice per organ, propagated through the volume")
    print(f"picture: {picture}")
    return {"anchors": anchors, "dice": scores, "propagation_seconds": record["propagation_seconds"],
            "adaptation_seconds": record["adaptation_seconds"], "picture": str(picture)}


def _demo_activeseg(cohort: Path, groups: dict[str, str], out: Path, budget: int = 6) -> dict:
    """ActiveSeg on the sample cohort: map, cold-start picks and which groups they cover."""
    from ..selection.ranking import draw_map, rank_cohort, write_worklist

    worklist, _, points, names = rank_cohort(cohort, budget, "coldstart", labels=out / "activeseg_labels",
                                             log=lambda line: None)
    picks = [w for w in worklist if w.status == "next"]
    per_group = {g: sum(groups[w.scan] == g for w in picks) for g in dict.fromkeys(groups.values())}
    print(f"ActiveSeg: {len(names)} scans mapped into {len({w.cluster for w in worklist})} clusters; cold-start "
          f"picks per group: " + ", ".join(f"{g} {n}" for g, n in per_group.items()))
    write_worklist(worklist, out / "activeseg_ranking.csv")
    picture = draw_map(points, names, worklist, out / "activeseg_map.png",
                       title=f"ActiveSeg: sample cohort map, {budget} cold-start picks")
    print(f"picture: {picture}")
    return {"picks": [w.scan for w in picks], "picks_per_group": per_group, "picture": str(picture),
            "worklist": str(out / "activeseg_ranking.csv")}


def _demo(args: argparse.Namespace) -> int:
    from ..core import figures, phantoms
    from ..core.io import discover_images, read_image, read_label, read_volume

    out = Path(args.out)
    _prepare_demo_folder(out)
    start = time.perf_counter()
    print(f"SparseLabel {__version__} demo → {out}")

    paths = phantoms.write_sample_data(out / "data", seed=args.seed)
    volume = read_volume(paths["volume"])
    label = read_label(paths["volume_label"], volume)
    print(f"sample volume: {size_text(volume)} voxels at {spacing_text(volume)} mm ({paths['volume']})")
    for line in label_summary(label):
        value = int(line.split()[1].rstrip(":"))
        print(line.replace(f"label {value}", f"{phantoms.ABDOMEN_LABELS[value]} ({value})"))
    volume_picture = figures.overlay_slices(volume, label, out / "phantom_volume.png", slices=8,
                                            names=phantoms.ABDOMEN_LABELS,
                                            title="Sample abdominal volume with its organ labels")
    print(f"picture: {volume_picture}")

    scans = discover_images(paths["cohort"])
    groups = dict(line.split(",") for line in (paths["cohort"] / "groups.csv").read_text().splitlines()[1:])
    shown = []
    for scan in scans[:16]:
        image = read_image(scan)
        shown.append((f"{scan.stem} · {groups[scan.stem]}", image,
                      read_label(paths["cohort"] / "labels" / scan.name, image)))
    counts = {g: list(groups.values()).count(g) for g in dict.fromkeys(groups.values())}
    print(f"sample cohort: {len(scans)} chest images in {len(counts)} groups "
          f"({', '.join(f'{g}: {n}' for g, n in counts.items())}) ({paths['cohort']})")
    cohort_picture = figures.case_grid(shown, out / "phantom_cohort.png",
                                       title="Sample chest cohort (first 16 scans) with lung labels")
    print(f"picture: {cohort_picture}")

    activeseg = _demo_activeseg(paths["cohort"], groups, out)
    onesliceseg = _demo_onesliceseg(volume, label, out, args.adaptation_seconds)

    report = {
        "version": __version__,
        "seed": args.seed,
        "volume": {"file": str(paths["volume"]), "size_ijk": list(reversed(volume.shape)),
                   "spacing_mm": list(volume.spacing)},
        "cohort": {"folder": str(paths["cohort"]), "scans": len(scans), "groups": counts},
        "activeseg": activeseg,
        "onesliceseg": onesliceseg,
        "pictures": [str(volume_picture), str(cohort_picture), activeseg["picture"], onesliceseg["picture"]],
        "seconds": round(time.perf_counter() - start, 2),
    }
    write_text(out / "demo_report.json", json.dumps(report, indent=2))
    print(f"done in {report['seconds']:.1f} s; report: {out / 'demo_report.json'}")
    return 0


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Adds this group's commands to the ``sparselabel`` parser."""
    demo = commands.add_parser("demo", help="run the main job on built-in sample data and write pictures")
    demo.add_argument("--out", default="sparselabel-demo", help="output folder (default: %(default)s)")
    demo.add_argument("--seed", type=int, default=0, help="sample-data seed (default: %(default)s)")
    demo.add_argument("--adaptation-seconds", type=float, default=30.0,
                      help="OneSliceSeg test-time adaptation on the sample volume (default: %(default)s)")
    demo.set_defaults(run=_demo)
