"""``sparselabel demo``: both workflows on the built-in sample data, with pictures and a report."""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from pathlib import Path

import numpy as np

from .. import __version__
from ..core.atomic import write_text
from ..core.errors import UserInputError
from ..core.image import Image
from .checks import SEED, STEPS, check_writable_folder
from .common import adaptation_text, label_summary, size_text, spacing_text

DEMO_MARKER = ".sparselabel-demo"
_OLD_MARKER = "written by sparselabel demo;"  # the marker of versions that did not list the demo's files


def _demo_files(out: Path) -> dict[str, str]:
    """Every file under ``out`` but the marker, by path relative to it, with its content digest."""
    from ..selection.cohort_state import content_hash

    return {path.relative_to(out).as_posix(): content_hash(path) for path in sorted(out.rglob("*"))
            if path.is_file() and path.name != DEMO_MARKER}


def _prepare_demo_folder(out: Path) -> None:
    """The demo writes only into a new or empty folder, or one an earlier demo made and nobody changed since.

    The marker lists the files the demo wrote, with their digests: on a rerun those are removed and written afresh;
    a file the user added or changed there stops the demo before anything is touched.
    """
    if out.exists() and not out.is_dir():
        raise UserInputError(f"{out}: is a file; expected a folder for the demo's output")
    if out.is_dir() and any(out.iterdir()):
        marker = out / DEMO_MARKER
        if not marker.is_file():
            raise UserInputError(f"{out}: folder is not empty and was not made by 'sparselabel demo'; "
                                 "choose a new or empty folder")
        text = marker.read_text(errors="replace")
        try:
            record = {"files": {}, "complete": False} if text.startswith(_OLD_MARKER) else json.loads(text)
            written, complete = dict(record["files"]), bool(record["complete"])
        except (ValueError, KeyError, TypeError):
            raise UserInputError(f"{marker}: not the list of files an earlier demo wrote; choose a new or empty "
                                 "folder") from None
        present = _demo_files(out)
        foreign = sorted(name for name, digest in present.items() if written.get(name) != digest)
        if foreign and complete:
            raise UserInputError(f"{out}: {foreign[0]}{f' and {len(foreign) - 1} more' if len(foreign) > 1 else ''} "
                                 "added or changed since the last demo; nothing was replaced — move them away or "
                                 "choose a new folder")
        for name in present:  # an interrupted demo's files are written again under the same names
            if name in written:
                (out / name).unlink()
    check_writable_folder(out)
    out.mkdir(parents=True, exist_ok=True)
    _mark_demo_folder(out, complete=False)


def _mark_demo_folder(out: Path, complete: bool) -> None:
    """The marker: the files the demo wrote (once it is complete; while it runs, none are vouched for)."""
    write_text(out / DEMO_MARKER, json.dumps({"written_by": "sparselabel demo", "complete": complete,
                                              "files": _demo_files(out) if complete else {}}, indent=1))


def _demo_onesliceseg(volume: Image, label: Image, out: Path, adaptation_steps: int) -> dict:
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
    adapting = f"adapting the shipped network to the volume ({adaptation_steps} steps), then propagating" \
        if adaptation_steps else "propagating with the shipped network"
    print("OneSliceSeg: drew " + ", ".join(f"the {name} on slice {k}" for name, k in anchors.items()) + f"; {adapting}")
    result, record = propagate_label(volume, label.with_array(drawn),
                                     PropagationOptions(adaptation_steps=adaptation_steps))
    scores = {phantoms.ABDOMEN_LABELS[v]: round(dice(result.array == v, label.array == v), 3) for v in (1, 2)}
    print("OneSliceSeg: Dice " + ", ".join(f"{name} {score:.3f}" for name, score in scores.items())
          + f" ({adaptation_text(record)}propagation {record['propagation_seconds']:.1f} s)")
    picture = figures.overlay_slices(volume, result, out / "onesliceseg_result.png", slices=8,
                                     names={1: "liver", 2: "spleen"},
                                     title="OneSliceSeg: one drawn slice per organ, propagated through the volume")
    print(f"picture: {picture}")
    return {"anchors": anchors, "dice": scores, "propagation_seconds": record["propagation_seconds"],
            "adaptation_seconds": record.get("adaptation_seconds", 0.0), "picture": str(picture)}


def _demo_activeseg(cohort: Path, groups: dict[str, str], out: Path, budget: int = 6) -> dict:
    """ActiveSeg on the sample cohort: map, cold-start picks and which groups they cover."""
    from ..selection.ranking import draw_map, rank_cohort, write_worklist

    ranked = rank_cohort(cohort, budget, "coldstart", labels=out / "activeseg_labels", log=lambda line: None)
    worklist, points, names = ranked.worklist, ranked.points, ranked.names
    picks = [w for w in worklist if w.status == "next"]
    per_group = {g: sum(groups[w.scan] == g for w in picks) for g in dict.fromkeys(groups.values())}
    from sklearn.metrics import adjusted_rand_score

    clusters = {w.scan: w.cluster for w in worklist}
    found = {c: Counter(groups[n] for n in names if clusters[n] == c).most_common()
             for c in sorted(set(clusters.values()))}
    agreement = adjusted_rand_score([groups[n] for n in names], [clusters[n] for n in names])
    print(f"ActiveSeg: {len(names)} scans mapped; {len(found)} clusters found for the {len(per_group)} groups the "
          f"cohort was built from (adjusted Rand index {agreement:.2f}):")
    for cluster, members in found.items():
        print(f"  cluster {cluster + 1}: " + ", ".join(f"{g} {n}" for g, n in members))
    print("cold-start picks per group: " + ", ".join(f"{g} {n}" for g, n in per_group.items()))
    write_worklist(worklist, out / "activeseg_ranking.csv")
    picture = draw_map(points, names, worklist, out / "activeseg_map.png",
                       title=f"ActiveSeg: sample cohort map, {budget} cold-start picks")
    print(f"picture: {picture}")
    return {"picks": [w.scan for w in picks], "picks_per_group": per_group, "clusters_found": len(found),
            "groups_agreement_ari": round(float(agreement), 4), "picture": str(picture),
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
    onesliceseg = _demo_onesliceseg(volume, label, out, args.adaptation_steps)

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
    _mark_demo_folder(out, complete=True)
    print(f"done in {report['seconds']:.1f} s; report: {out / 'demo_report.json'}")
    return 0


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Adds this group's commands to the ``sparselabel`` parser."""
    demo = commands.add_parser("demo", help="run the main job on built-in sample data and write pictures")
    demo.add_argument("--out", default="sparselabel-demo", help="output folder (default: %(default)s)")
    demo.add_argument("--seed", type=SEED, default=0, help="sample-data seed (default: %(default)s)")
    demo.add_argument("--adaptation-steps", type=STEPS, default=0,
                      help="fine-tune OneSliceSeg's network on the sample volume first (default: %(default)s)")
    demo.set_defaults(run=_demo)
