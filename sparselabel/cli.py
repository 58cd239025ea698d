"""The ``sparselabel`` command: SparseLabel's workflows without the Slicer GUI.

Problems with the user's input end as one line ``sparselabel: error: …`` on stderr and exit status 2, with
nothing written; any other exception is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from . import __version__
from .atomic import write_text
from .errors import UserInputError
from .image import Image

EXIT_USER_ERROR = 2
EXIT_CANCELLED = 130
DEMO_MARKER = ".sparselabel-demo"


def _size(image: Image) -> str:
    return "×".join(str(s) for s in reversed(image.shape))


def _spacing(image: Image) -> str:
    return "×".join(f"{s:.3g}" for s in image.spacing)


def _describe(path: Path, image: Image) -> str:
    oblique = "" if np.allclose(image.geometry.direction_matrix, np.eye(image.geometry.dim), atol=1e-6) \
        else ", oblique"
    low, high = (float(image.array.min()), float(image.array.max())) if image.array.size else (0.0, 0.0)
    return (f"{path}: {image.geometry.dim}D {_size(image)} voxels, spacing {_spacing(image)} mm{oblique}, "
            f"{image.array.dtype}, values {low:g}…{high:g}")


def _label_summary(label: Image) -> list[str]:
    voxel = float(np.prod(label.spacing))
    unit, scale = ("mL", 1e-3) if label.geometry.dim == 3 else ("cm²", 1e-2)
    values, counts = np.unique(label.array, return_counts=True)
    return [f"  label {int(v)}: {int(c)} voxels, {c * voxel * scale:.2f} {unit}"
            for v, c in zip(values, counts, strict=True) if v != 0] or ["  label is empty"]


def _refuse_to_overwrite(path: Path, overwrite: bool) -> None:
    if path.exists() and not overwrite:
        raise UserInputError(f"{path}: already exists; choose another path or pass --overwrite")


# ---------------------------------------------------------------------------------------------------- commands


def _inspect(args: argparse.Namespace) -> int:
    from .io import dicom_series_ids, discover_images, read_image, read_label

    path = Path(args.path)
    if path.is_dir() and args.label is None and not dicom_series_ids(path):
        unreadable = 0
        for scan in discover_images(path):
            try:
                print(_describe(scan, read_image(scan)))
            except UserInputError as error:
                unreadable += 1
                print(f"unreadable, skipped: {error}")
        if unreadable:
            print(f"{unreadable} unreadable scan(s) skipped", file=sys.stderr)
        return 0
    image = read_image(path)
    label = read_label(args.label, image) if args.label is not None else None
    print(_describe(path, image))
    if label is not None:
        print(f"{args.label}: on the same voxel grid")
        print("\n".join(_label_summary(label)))
    return 0


def _overlay(args: argparse.Namespace) -> int:
    from .figures import overlay_slices
    from .io import read_image, read_label

    out = Path(args.out)
    if out.suffix.lower() not in (".png", ".jpg", ".pdf", ".svg"):
        raise UserInputError(f"{out}: unknown picture type; expected a .png, .jpg, .pdf or .svg file")
    _refuse_to_overwrite(out, args.overwrite)
    image = read_image(args.image)
    label = read_label(args.label, image)
    overlay_slices(image, label, out, slices=args.slices, title=Path(args.image).name)
    print(f"wrote {out}")
    return 0


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
    from . import figures, phantoms
    from .metrics import dice
    from .one_slice import PropagationOptions, propagate_label, suggest_slice

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
    from .ranking import draw_map, rank_cohort, write_worklist

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
    from . import figures, phantoms
    from .io import discover_images, read_image, read_label, read_volume

    out = Path(args.out)
    _prepare_demo_folder(out)
    start = time.perf_counter()
    print(f"SparseLabel {__version__} demo → {out}")

    paths = phantoms.write_sample_data(out / "data", seed=args.seed)
    volume = read_volume(paths["volume"])
    label = read_label(paths["volume_label"], volume)
    print(f"sample volume: {_size(volume)} voxels at {_spacing(volume)} mm ({paths['volume']})")
    for line in _label_summary(label):
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


AXES = {"k": 0, "j": 1, "i": 2, "0": 0, "1": 1, "2": 2}


def _axis(text: str | None) -> int | None:
    if text is None:
        return None
    if text.lower() not in AXES:
        raise UserInputError(f"axis '{text}': expected k, j or i (array axes; k = the acquisition slices)")
    return AXES[text.lower()]


def _progress(label: str):
    """A progress callback printing to stderr about every tenth of the work."""
    last = [-1]

    def report(fraction: float, message: str) -> None:
        tenth = int(fraction * 10)
        if tenth > last[0]:
            last[0] = tenth
            print(f"{label}: {fraction:4.0%} {message}", file=sys.stderr, flush=True)

    return report


def _suggest_slice(args: argparse.Namespace) -> int:
    from .io import read_volume
    from .one_slice import suggest_slices

    image = read_volume(args.volume)
    axis = _axis(args.axis)
    slice_range = None
    if args.range:
        try:
            first, last = (int(v) for v in args.range.split(":"))
        except ValueError:
            raise UserInputError(f"range '{args.range}': expected FIRST:LAST slice numbers, e.g. 10:25") from None
        slice_range = (first, last)
    chosen = suggest_slices(image, axis, slice_range, Path(args.model) if args.model else None, args.device,
                            args.count)
    print("\n".join(map(str, chosen)))
    print(f"suggested slice{'s' if len(chosen) > 1 else ''} {', '.join(map(str, chosen))} along {'kji'[axis]} "
          f"(slices 0…{image.shape[axis] - 1}): draw the structure on {'them' if len(chosen) > 1 else 'it'}, "
          "then run 'sparselabel propagate'", file=sys.stderr)
    return 0


def _propagate(args: argparse.Namespace) -> int:
    from .io import base_name, read_label, read_volume, write_image
    from .one_slice import PropagationOptions, propagate_label

    volume_path = Path(args.volume)
    out = Path(args.out) if args.out else volume_path.with_name(f"{base_name(volume_path)}_propagated.nii.gz")
    _refuse_to_overwrite(out, args.overwrite)
    options = PropagationOptions(method=args.method, model=Path(args.model) if args.model else None,
                                 adaptation_seconds=args.adaptation_seconds, axis=_axis(args.axis),
                                 device=args.device)
    image = read_volume(volume_path)
    label = read_label(args.slice_label, image)
    result, record = propagate_label(image, label, options, progress=_progress("propagate"))
    write_image(result, out)
    print(f"anchors: slices {', '.join(map(str, record['anchors']))} along {'kji'[record['axis']]}")
    for value in (int(v) for v in np.unique(result.array) if v != 0):
        present = np.moveaxis(result.array == value, record["axis"], 0).reshape(result.shape[record["axis"]], -1)
        slices = np.flatnonzero(present.any(1))
        print(f"label {value}: slices {slices[0]}…{slices[-1]}")
    timing = f"propagation {record['propagation_seconds']:.1f} s"
    if "adaptation_seconds" in record:
        timing = f"test-time adaptation {record['adaptation_seconds']:.1f} s, " + timing
    print(f"{timing}; wrote {out}")
    return 0


def _train_propagator(args: argparse.Namespace) -> int:
    from .devices import describe_device, select_device
    from .propagator_checkpoint import save_checkpoint
    from .propagator_training import TrainingConfig, load_training_volumes, train_propagator

    out = Path(args.out)
    _refuse_to_overwrite(out, args.overwrite)
    device = select_device(args.device)
    volumes = load_training_volumes(args.volumes, lambda reason: print(f"skipped: {reason}", file=sys.stderr))
    print(f"training on {len(volumes)} volume(s), {describe_device(device)}")
    config = TrainingConfig(steps=args.steps, seed=args.seed)
    result = train_propagator([v for _, v in volumes], config, time_budget=args.budget, device=device,
                              progress=_progress("train"))
    save_checkpoint(result.network, out, {"volumes": [p.name for p, _ in volumes], "steps": result.steps,
                                          "seconds": round(result.seconds, 1), "config": config.to_dict(),
                                          "final_loss": float(np.mean(result.losses[-20:]))})
    print(f"{result.steps} steps in {result.seconds:.0f} s, final loss {np.mean(result.losses[-20:]):.4f}; "
          f"wrote {out}")
    return 0


def _evaluate_propagation(args: argparse.Namespace) -> int:
    from .propagation_evaluation import evaluate_propagation

    out = Path(args.json) if args.json else None
    if out is not None:
        _refuse_to_overwrite(out, args.overwrite)
    try:
        structures = [int(s) for s in args.structure.split(",")]
    except ValueError:
        raise UserInputError(f"--structure '{args.structure}': expected label values like 1 or 1,4") from None
    report = evaluate_propagation(args.images, args.labels, structures, args.anchor, args.methods.split(","),
                                  Path(args.model) if args.model else None, args.adaptation_seconds, args.device,
                                  args.cases.split(",") if args.cases else None, args.slices,
                                  log=lambda line: print(line, file=sys.stderr, flush=True))
    print(f"{report['cases']} cases, anchor: {report['anchor']}, {report['slices']} slice(s) drawn per structure")
    print(f"{'method':8} {'structure':>9} {'Dice':>13} {'HD95 mm':>13} {'ASSD mm':>13} {'RAVD %':>13}")
    for method, summary in report["methods"].items():
        for structure, scores in summary["by_structure"].items():
            cells = [f"{scores[k]['mean']:6.3f}±{scores[k]['std']:5.3f}" if k == "dice"
                     else f"{scores[k]['mean']:6.2f}±{scores[k]['std']:5.2f}" for k in ("dice", "hd95", "assd", "ravd")]
            print(f"{method:8} {structure:>9} " + " ".join(f"{c:>13}" for c in cells))
    if out is not None:
        write_text(out, json.dumps(report, indent=2))
        print(f"wrote {out}")
    return 0


def _evaluate_selection(args: argparse.Namespace) -> int:
    from .devices import select_device
    from .segmentation_model import SegmentationConfig
    from .selection_evaluation import SelectionProtocol, SelectionStudy, load_labelled_images, parse_strategy

    out = Path(args.json) if args.json else None
    if out is not None:
        _refuse_to_overwrite(out, args.overwrite)
    budgets = _integers(args.budgets, "--budgets")
    structures = _integers(args.structure, "--structure") if args.structure else None
    strategies = tuple(s for s in args.strategies.split(",") if s)
    for name in strategies:
        parse_strategy(name, args.embedder)
    if args.seeds < 1 or min(budgets) < 2 or args.steps < 1:
        raise UserInputError("expected --seeds ≥ 1, every budget ≥ 2 and --steps ≥ 1")
    protocol = SelectionProtocol(tuple(budgets), args.seeds, strategies, args.test, alpha=args.alpha,
                                 embedder=args.embedder, training=SegmentationConfig(steps=args.steps))
    log = lambda line: print(line, file=sys.stderr, flush=True)  # noqa: E731
    images, masks, names = load_labelled_images(args.images, args.labels, structures, log)
    study = SelectionStudy(images, masks, names, protocol, str(select_device(args.device)), log)
    save = (lambda report: write_text(out, json.dumps(report, indent=1))) if out is not None else None
    report = study.run(save)
    print(f"{len(study.test)} test images, {len(study.pool)} in the pool, {args.seeds} seeds")
    print(f"{'strategy':22} {'budget':>6} {'Dice':>15} {'HD95':>15}")
    for name, by_budget in report["strategies"].items():
        for budget, scores in by_budget.items():
            print(f"{name:22} {budget:>6} {scores['dice']['mean']:7.4f}±{scores['dice']['std']:6.4f} "
                  f"{scores['hd95']['mean']:7.2f}±{scores['hd95']['std']:6.2f}")
    if out is not None:
        print(f"wrote {out}")
    return 0


def _integers(text: str, option: str) -> list[int]:
    try:
        return [int(v) for v in text.split(",") if v]
    except ValueError:
        raise UserInputError(f"{option} '{text}': expected whole numbers separated by commas, e.g. 10,20,40") from None


def _rank(args: argparse.Namespace) -> int:
    from .ranking import draw_map, rank_cohort, write_worklist

    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UserInputError(f"{out}: is a file; expected a folder for ranking.csv and map.png")
    if args.from_list:
        from .cohort_list import link_cohort

        link_cohort(args.from_list, args.cohort, log=lambda line: print(line, file=sys.stderr))
    worklist, state, points, names = rank_cohort(args.cohort, args.budget, args.strategy, args.alpha, args.embedder,
                                                 args.labels, args.seed, log=lambda line: print(line, file=sys.stderr),
                                                 embedder_path=args.embedder_path, progress=_progress("ranking"))
    csv_path = write_worklist(worklist, out / "ranking.csv")
    round_number = len(state.rounds)
    map_path = draw_map(points, names, worklist, out / "map.png",
                        title=f"Cohort map — round {round_number} ({args.strategy}), {len(names)} scans")
    picks = [w for w in worklist if w.status == "next"]
    labelled = sum(w.status == "labelled" for w in worklist)
    print(f"round {round_number}: {args.strategy}, {len(names)} scans on the map, {labelled} labelled, "
          f"{len({w.cluster for w in worklist})} clusters")
    for pick in picks:
        parts = "" if pick.score is None else (f"  score {pick.score:.3f} (entropy {pick.entropy:.3f}, "
                                              f"diversity {pick.diversity:.3f})")
        print(f"{pick.rank:3d}. {pick.scan}  cluster {pick.cluster + 1}{parts}")
    print(f"wrote {csv_path} and {map_path}")
    return 0


# ---------------------------------------------------------------------------------------------------- parser


SELECTION_STRATEGIES = ("random", "kmeans", "coldstart", "al", "entropy", "diversity")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sparselabel",
        description="SparseLabel: rank scans for labeling (ActiveSeg) and turn one annotated slice into a 3D "
                    "label (OneSliceSeg), from the command line.",
    )
    parser.add_argument("--version", action="version", version=f"sparselabel {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    demo = commands.add_parser("demo", help="run the main job on built-in sample data and write pictures")
    demo.add_argument("--out", default="sparselabel-demo", help="output folder (default: %(default)s)")
    demo.add_argument("--seed", type=int, default=0, help="sample-data seed (default: %(default)s)")
    demo.add_argument("--adaptation-seconds", type=float, default=30.0,
                      help="OneSliceSeg test-time adaptation on the sample volume (default: %(default)s)")
    demo.set_defaults(run=_demo)

    inspect = commands.add_parser("inspect", help="describe an image (and its label), or every image in a folder")
    inspect.add_argument("path", help="image file, DICOM series folder, or folder of images")
    inspect.add_argument("--label", help="label file to check against the image and summarise")
    inspect.set_defaults(run=_inspect)

    overlay = commands.add_parser("overlay", help="write a picture of an image's slices with its label laid over")
    overlay.add_argument("image", help="image file or DICOM series folder")
    overlay.add_argument("label", help="label file on the same voxel grid")
    overlay.add_argument("--out", required=True, help="picture to write (.png, .jpg, .pdf, .svg)")
    overlay.add_argument("--slices", type=int, default=6, help="number of slices shown (default: %(default)s)")
    overlay.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    overlay.set_defaults(run=_overlay)

    rank = commands.add_parser("rank", help="rank a cohort's scans for labelling (ActiveSeg)")
    rank.add_argument("cohort", help="folder of scans (NIfTI, NRRD, MHA, PNG/JPEG, DICOM series folders)")
    rank.add_argument("--labels", help="labels folder with the scans' file names (default: COHORT/labels)")
    rank.add_argument("--from-list", metavar="LIST", help="a text file of scan paths (one per line): COHORT is then "
                      "made (or updated) as a project folder of links to them")
    rank.add_argument("--budget", type=int, default=10, help="scans to pick this round (default: %(default)s)")
    rank.add_argument("--strategy", default="coldstart", help="coldstart (default), al or random")
    rank.add_argument("--alpha", type=float, default=0.5,
                      help="weight of entropy against diversity for al (default: %(default)s)")
    rank.add_argument("--embedder", default="filterbank",
                      help="filterbank (default, built in), pixels, dinov2 or resnet50 (local model files)")
    rank.add_argument("--embedder-path", help="model folder (dinov2) or checkpoint file (resnet50); default: "
                      "$SPARSELABEL_MODELS/<embedder>")
    rank.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    rank.add_argument("--out", default=".", help="folder for ranking.csv and map.png (default: current folder)")
    rank.set_defaults(run=_rank)

    suggest = commands.add_parser("suggest-slice",
                                  help="the most representative slice(s) to draw on (prints their numbers)")
    suggest.add_argument("volume", help="3D image file or DICOM series folder")
    suggest.add_argument("--model", help="trained propagation checkpoint (default: network-free Gabor descriptors)")
    suggest.add_argument("--axis", default="k", help="slice axis: k (default), j or i")
    suggest.add_argument("--range", help="only consider slices FIRST:LAST (inclusive)")
    suggest.add_argument("--count", type=int, default=1,
                         help="how many slices to suggest, one per cluster of similar slices (default: %(default)s)")
    suggest.add_argument("--device", default="auto", help="auto (default), cuda, mps or cpu")
    suggest.set_defaults(run=_suggest_slice)

    propagate = commands.add_parser("propagate", help="turn the drawn slice(s) of a label into a full 3D label")
    propagate.add_argument("volume", help="3D image file or DICOM series folder")
    propagate.add_argument("slice_label", help="label file on the volume's grid; its non-empty slices are the anchors")
    propagate.add_argument("--model", help="trained checkpoint (default: test-time adaptation on this volume)")
    propagate.add_argument("--out", help="label file to write (default: <volume>_propagated.nii.gz beside it)")
    propagate.add_argument("--method", default="ours", help="ours (default), raw, demons or copy")
    propagate.add_argument("--axis", help="slice axis k, j or i (default: the one the slices were drawn along)")
    propagate.add_argument("--adaptation-seconds", type=float, default=60.0,
                           help="test-time adaptation budget when no --model is given (default: %(default)s)")
    propagate.add_argument("--device", default="auto", help="auto (default), cuda, mps or cpu")
    propagate.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    propagate.set_defaults(run=_propagate)

    train = commands.add_parser("train-propagator", help="train the propagation network on unlabelled volumes")
    train.add_argument("volumes", nargs="+", metavar="VOLUME_OR_DIR", help="3D images, or folders of them")
    train.add_argument("--out", required=True, help="checkpoint file to write (.pt)")
    train.add_argument("--budget", type=float, help="training time in seconds (default: --steps steps)")
    train.add_argument("--steps", type=int, default=2000, help="training steps without --budget (default: %(default)s)")
    train.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    train.add_argument("--device", default="auto", help="auto (default), cuda, mps or cpu")
    train.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    train.set_defaults(run=_train_propagator)

    evaluate = commands.add_parser("evaluate", help="measure a workflow on labelled data")
    kinds = evaluate.add_subparsers(dest="kind", metavar="KIND", required=True)
    evaluation = kinds.add_parser("propagation", help="one-slice propagation against full ground truth")
    evaluation.add_argument("--images", required=True, help="folder of volumes")
    evaluation.add_argument("--labels", required=True, help="folder of label volumes with the same file names")
    evaluation.add_argument("--structure", required=True, help="label value(s) to evaluate, e.g. 1,4")
    evaluation.add_argument("--anchor", default="representative", help="representative (default), largest or middle")
    evaluation.add_argument("--slices", type=int, default=1,
                            help="slices drawn per structure, chosen by the --anchor rule (default: %(default)s)")
    evaluation.add_argument("--methods", default="ours,copy,demons,raw", help="default: %(default)s")
    evaluation.add_argument("--model", help="trained checkpoint for 'ours' (default: test-time adaptation per volume)")
    evaluation.add_argument("--adaptation-seconds", type=float, default=60.0, help="default: %(default)s")
    evaluation.add_argument("--cases", help="only these cases (file names without suffix, comma-separated)")
    evaluation.add_argument("--json", help="write the report here")
    evaluation.add_argument("--device", default="auto", help="auto (default), cuda, mps or cpu")
    evaluation.add_argument("--overwrite", action="store_true", help="replace --json if it exists")
    evaluation.set_defaults(run=_evaluate_propagation)
    selection = kinds.add_parser("selection", help="scan selection strategies: train on the picks, score a test split")
    selection.add_argument("--images", required=True, help="folder of 2D images")
    selection.add_argument("--labels", required=True, help="folder of masks with the same file names")
    selection.add_argument("--structure", help="label value(s) of the structure (default: any non-zero value)")
    selection.add_argument("--budgets", default="10,20,40", help="default: %(default)s")
    selection.add_argument("--seeds", type=int, default=5, help="default: %(default)s")
    selection.add_argument("--strategies", default=",".join(SELECTION_STRATEGIES),
                           help="default: %(default)s; also coldstart-typical, mapkmeans; NAME@EMBEDDER uses "
                                "another embedder, e.g. coldstart@pixels")
    selection.add_argument("--test", type=int, default=300, help="size of the fixed test split (default: %(default)s)")
    selection.add_argument("--alpha", type=float, default=0.5, help="weight of entropy for 'al' (default: %(default)s)")
    selection.add_argument("--embedder", default="filterbank", help="default: %(default)s")
    selection.add_argument("--steps", type=int, default=400, help="U-Net training steps (default: %(default)s)")
    selection.add_argument("--json", help="write the report here (rewritten after every trained model)")
    selection.add_argument("--device", default="auto", help="auto (default), cuda, mps or cpu")
    selection.add_argument("--overwrite", action="store_true", help="replace --json if it exists")
    selection.set_defaults(run=_evaluate_selection)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    import SimpleITK as sitk

    sitk.ProcessObject_SetGlobalWarningDisplay(False)  # ITK warnings would drown our one-line errors
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except UserInputError as error:
        print(f"sparselabel: error: {error}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("sparselabel: cancelled", file=sys.stderr)
        return EXIT_CANCELLED


if __name__ == "__main__":
    sys.exit(main())
