"""OneSliceSeg's commands: ``suggest-slice``, ``propagate``, ``train-propagator`` and ``evaluate propagation``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from ..core.atomic import write_text
from ..core.errors import UserInputError
from .checks import COUNT, SECONDS, SEED, STEPS, output_file
from .common import adaptation_text, add_device_option, add_overwrite_option, slice_axis
from .progress import progress_for


def _plain(value):
    """numpy numbers (and anything else JSON does not know) as JSON can write them."""
    return value.item() if hasattr(value, "item") else str(value)


def _suggest_slice(args: argparse.Namespace) -> int:
    from ..core.io import read_volume
    from ..propagation.one_slice import suggest_slices

    axis = slice_axis(args.axis)
    slice_range = None
    if args.range:
        try:
            first, last = (int(v) for v in args.range.split(":"))
        except ValueError:
            raise UserInputError(f"range '{args.range}': expected FIRST:LAST slice numbers, e.g. 10:25") from None
        if first > last:
            raise UserInputError(f"range '{args.range}': the first slice comes after the last; expected FIRST:LAST "
                                 "with FIRST ≤ LAST")
        slice_range = (first, last)
    image = read_volume(args.volume)
    chosen = suggest_slices(image, axis, slice_range, Path(args.model) if args.model else None, args.device,
                            args.count)
    print("\n".join(map(str, chosen)))
    print(f"suggested slice{'s' if len(chosen) > 1 else ''} {', '.join(map(str, chosen))} along {'kji'[axis]} "
          f"(slices 0…{image.shape[axis] - 1}): draw the structure on {'them' if len(chosen) > 1 else 'it'}, "
          "then run 'sparselabel propagate'", file=sys.stderr)
    return 0


def _propagate(args: argparse.Namespace) -> int:
    from ..core.io import base_name, read_label, read_volume, write_image
    from ..propagation.one_slice import PropagationOptions, propagate_label

    volume_path = Path(args.volume)
    out = Path(args.out) if args.out else volume_path.with_name(f"{base_name(volume_path)}_propagated.nii.gz")
    output_file(out, (".nii.gz", ".nii", ".nrrd", ".mha"), args.overwrite, "a label volume")  # one file each
    record_path = output_file(args.record, (".json",), args.overwrite, "the run's record") if args.record else None
    options = PropagationOptions(method=args.method, model=Path(args.model) if args.model else None,
                                 adaptation_steps=args.adaptation_steps, adaptation_limit=args.adaptation_limit,
                                 axis=slice_axis(args.axis), device=args.device)
    adapted = None
    if args.network_cache:
        from ..propagation.adapted_networks import AdaptedNetworks

        adapted = AdaptedNetworks(folder=args.network_cache)
    image = read_volume(volume_path)
    label = read_label(args.slice_label, image)
    with progress_for(args, "propagate") as progress:
        result, record = propagate_label(image, label, options, progress=progress, adapted=adapted)
    write_image(result, out)
    if record_path is not None:
        write_text(record_path, json.dumps(record, indent=1, default=_plain))
    print(f"anchors: slices {', '.join(map(str, record['anchors']))} along {'kji'[record['axis']]}")
    for value in (int(v) for v in np.unique(result.array) if v != 0):
        present = np.moveaxis(result.array == value, record["axis"], 0).reshape(result.shape[record["axis"]], -1)
        slices = np.flatnonzero(present.any(1))
        print(f"label {value}: slices {slices[0]}…{slices[-1]}")
    print(f"{adaptation_text(record)}propagation {record['propagation_seconds']:.1f} s; wrote {out}")
    return 0


def _train_propagator(args: argparse.Namespace) -> int:
    from ..core.devices import describe_device, select_device
    from ..propagation.checkpoint import save_checkpoint
    from ..propagation.training import TrainingConfig, load_training_volumes, train_propagator

    out = output_file(args.out, (".pt", ".pth"), args.overwrite, "a checkpoint")
    device = select_device(args.device)
    volumes = load_training_volumes(args.volumes, lambda reason: print(f"skipped: {reason}", file=sys.stderr))
    print(f"training on {len(volumes)} volume(s), {describe_device(device)}")
    config = TrainingConfig(steps=args.steps, seed=args.seed)
    with progress_for(args, "train-propagator") as progress:
        result = train_propagator([v for _, v in volumes], config, time_limit=args.time_limit, device=device,
                                  progress=progress)
    save_checkpoint(result.network, out, {"volumes": [p.name for p, _ in volumes], "steps": result.steps,
                                          "seconds": round(result.seconds, 1), "limit_hit": result.limit_hit,
                                          "config": config.to_dict(),
                                          "final_loss": float(np.mean(result.losses[-20:]))})
    stopped = f" (stopped by the {args.time_limit:g} s time limit, of {args.steps})" if result.limit_hit else ""
    print(f"{result.steps} steps{stopped} in {result.seconds:.0f} s, final loss "
          f"{np.mean(result.losses[-20:]):.4f}; wrote {out}")
    return 0


def _evaluate_propagation(args: argparse.Namespace) -> int:
    from ..propagation.evaluation import evaluate_propagation

    out = output_file(args.json, (".json",), args.overwrite, "the report") if args.json else None
    try:
        structures = [int(s) for s in args.structure.split(",")]
    except ValueError:
        raise UserInputError(f"--structure '{args.structure}': expected label values like 1 or 1,4") from None
    with progress_for(args, "evaluate propagation") as progress:
        report = evaluate_propagation(args.images, args.labels, structures, args.anchor, args.methods.split(","),
                                      Path(args.model) if args.model else None, args.adaptation_steps, args.device,
                                      args.cases.split(",") if args.cases else None, args.slices,
                                      log=progress.log, progress=progress)
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


def add_adaptation_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--adaptation-steps", type=STEPS, default=0,
                        help="fine-tune the network on this volume for this many steps before propagating (the same "
                        "steps give the same result; default: 0, the network as it is)")
    parser.add_argument("--adaptation-limit", type=SECONDS, default=600.0, metavar="SECONDS",
                        help="a safety: fine-tuning that runs this long stops early, and says so "
                        "(default: %(default)s)")


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Adds this group's commands to the ``sparselabel`` parser."""
    suggest = commands.add_parser("suggest-slice",
                                  help="the most representative slice(s) to draw on (prints their numbers)")
    suggest.add_argument("volume", help="3D image file or DICOM series folder")
    suggest.add_argument("--model", help="trained propagation checkpoint (default: network-free Gabor descriptors)")
    suggest.add_argument("--axis", default="k", help="slice axis: k (default), j or i")
    suggest.add_argument("--range", help="only consider slices FIRST:LAST (inclusive)")
    suggest.add_argument("--count", type=COUNT, default=1,
                         help="how many slices to suggest, one per cluster of similar slices (default: %(default)s)")
    add_device_option(suggest)
    suggest.set_defaults(run=_suggest_slice)

    propagate = commands.add_parser("propagate", help="turn the drawn slice(s) of a label into a full 3D label")
    propagate.add_argument("volume", help="3D image file or DICOM series folder")
    propagate.add_argument("slice_label", help="label file on the volume's grid; its non-empty slices are the anchors")
    propagate.add_argument("--model", help="trained checkpoint (default: the network shipped with SparseLabel)")
    propagate.add_argument("--out", help="label file to write (default: <volume>_propagated.nii.gz beside it)")
    propagate.add_argument("--method", default="ours", help="ours (default), raw, demons or copy")
    propagate.add_argument("--axis", help="slice axis k, j or i (default: the one the slices were drawn along)")
    add_adaptation_options(propagate)
    propagate.add_argument("--record", metavar="JSON", help="also write the run's record here (anchors, axis, "
                           "timings, whether an adapted network was used again)")
    propagate.add_argument("--network-cache", metavar="FOLDER", help="keep networks adapted to a volume here, so "
                           "that propagating the same volume again (after a correction) starts at once")
    add_device_option(propagate)
    add_overwrite_option(propagate, "--out")
    propagate.set_defaults(run=_propagate)

    train = commands.add_parser("train-propagator", help="train the propagation network on unlabelled volumes")
    train.add_argument("volumes", nargs="+", metavar="VOLUME_OR_DIR", help="3D images, or folders of them")
    train.add_argument("--out", required=True, help="checkpoint file to write (.pt)")
    train.add_argument("--steps", type=COUNT, default=3000, help="training steps (default: %(default)s)")
    train.add_argument("--time-limit", type=SECONDS, metavar="SECONDS",
                       help="a safety: stop training early after this long, and say so (default: none)")
    train.add_argument("--seed", type=SEED, default=0, help="random seed (default: %(default)s)")
    add_device_option(train)
    add_overwrite_option(train, "--out")
    train.set_defaults(run=_train_propagator)


def add_evaluation(evaluations: argparse._SubParsersAction) -> None:
    """Adds ``evaluate propagation`` to the ``evaluate`` command."""
    evaluation = evaluations.add_parser("propagation", help="one-slice propagation against full ground truth")
    evaluation.add_argument("--images", required=True, help="folder of volumes")
    evaluation.add_argument("--labels", required=True, help="folder of label volumes with the same file names")
    evaluation.add_argument("--structure", required=True, help="label value(s) to evaluate, e.g. 1,4")
    evaluation.add_argument("--anchor", default="representative", help="representative (default), largest or middle")
    evaluation.add_argument("--slices", type=COUNT, default=1,
                            help="slices drawn per structure, chosen by the --anchor rule (default: %(default)s)")
    evaluation.add_argument("--methods", default="ours,copy,demons,raw", help="default: %(default)s")
    evaluation.add_argument("--model", help="trained checkpoint for 'ours' (default: the shipped network)")
    evaluation.add_argument("--adaptation-steps", type=STEPS, default=0,
                            help="fine-tune the network on each volume for this many steps first (default: 0)")
    evaluation.add_argument("--cases", help="only these cases (file names without suffix, comma-separated)")
    evaluation.add_argument("--json", help="write the report here")
    add_device_option(evaluation)
    add_overwrite_option(evaluation, "--json")
    evaluation.set_defaults(run=_evaluate_propagation)
