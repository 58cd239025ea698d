"""ActiveSeg's commands: ``rank`` (one round of a cohort) and ``evaluate selection``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..core.atomic import write_text
from ..core.errors import UserInputError
from .checks import COUNT, FRACTION, SEED, output_file, output_folder
from .common import add_device_option, add_overwrite_option, whole_numbers
from .progress import progress_for

SELECTION_STRATEGIES = ("random", "kmeans", "coldstart", "al", "entropy", "diversity")


def _rank(args: argparse.Namespace) -> int:
    from ..selection.ranking import RankedRound, rank_cohort
    from ..selection.round_outputs import OUTPUTS, foreign_outputs, write_round_outputs

    if Path(args.out).resolve() == Path(args.cohort).resolve():
        raise UserInputError(f"--out {args.out}: is the cohort folder, where map.png would count as a scan; expected "
                             "another folder for ranking.csv and map.png")
    outputs = OUTPUTS[:1] if args.no_map else OUTPUTS
    out = output_folder(args.out, foreign_outputs(args.cohort, args.out, outputs), args.overwrite)
    if args.from_list:
        from ..selection.cohort_list import link_cohort

        link_cohort(args.from_list, args.cohort, log=lambda line: print(line, file=sys.stderr))

    def write_outputs(ranked: RankedRound) -> None:  # before the state records the round
        output_folder(out, foreign_outputs(args.cohort, out, outputs), args.overwrite)  # none of the user's came
        write_round_outputs(args.cohort, ranked, out, None if args.no_map else
                            f"Cohort map — round {ranked.number} ({args.strategy}), {len(ranked.names)} scans")

    with progress_for(args, "rank") as progress:
        ranked = rank_cohort(args.cohort, args.budget, args.strategy, args.alpha, args.embedder, args.labels,
                             args.seed, log=progress.log, embedder_path=args.embedder_path, progress=progress,
                             outputs=write_outputs, device=args.device, refit_map=args.refit_map,
                             k_rule=args.k_rule)
    worklist, round_number, names = ranked.worklist, ranked.number, ranked.names
    written = " and ".join(str(out / name) for name in outputs)
    picks = [w for w in worklist if w.status == "next"]
    labelled = sum(w.status == "labelled" for w in worklist)
    print(f"round {round_number}: {args.strategy}, {len(names)} scans on the map, {labelled} labelled, "
          f"{len({w.cluster for w in worklist})} clusters")
    for pick in picks:
        parts = "" if pick.score is None else (f"  score {pick.score:.3f} (entropy {pick.entropy:.3f}, "
                                              f"diversity {pick.diversity:.3f})")
        print(f"{pick.rank:3d}. {pick.scan}  cluster {pick.cluster + 1}{parts}")
    print(f"wrote {written}")
    return 0


def _embed(args: argparse.Namespace) -> int:
    from ..selection.embedding_cache import embed_cohort

    with progress_for(args, "embed") as progress:
        embedded, cached = embed_cohort(args.cohort, args.embedder, args.embedder_path, args.device, args.dask,
                                        args.batch, log=progress.log, progress=progress)
    print(f"{embedded} scan(s) embedded, {cached} already cached ({args.embedder}); rank uses them")
    return 0


def _evaluate_selection(args: argparse.Namespace) -> int:
    from ..core.devices import select_device
    from ..selection.evaluation import SelectionProtocol, SelectionStudy, load_labelled_images, parse_strategy
    from ..selection.segmentation_model import SegmentationConfig

    out = output_file(args.json, (".json",), args.overwrite, "the report") if args.json else None
    budgets = whole_numbers(args.budgets, "--budgets")
    structures = whole_numbers(args.structure, "--structure") if args.structure else None
    strategies = tuple(s for s in args.strategies.split(",") if s)
    for name in strategies:
        parse_strategy(name, args.embedder)
    if not budgets or min(budgets) < 2:
        raise UserInputError(f"--budgets '{args.budgets}': expected budgets of at least 2 images, e.g. 10,20,40")
    if not strategies:
        raise UserInputError(f"--strategies '{args.strategies}': expected at least one strategy")
    protocol = SelectionProtocol(tuple(budgets), args.seeds, strategies, args.test, alpha=args.alpha,
                                 embedder=args.embedder, training=SegmentationConfig(steps=args.steps))
    with progress_for(args, "evaluate selection") as progress:
        images, masks, names = load_labelled_images(args.images, args.labels, structures, progress.log)
        study = SelectionStudy(images, masks, names, protocol, str(select_device(args.device)), progress.log)
        save = (lambda report: write_text(out, json.dumps(report, indent=1))) if out is not None else None
        report = study.run(save, progress)
    print(f"{len(study.test)} test images, {len(study.pool)} in the pool, {args.seeds} seeds")
    print(f"{'strategy':22} {'budget':>6} {'Dice':>15} {'HD95':>15}")
    for name, by_budget in report["strategies"].items():
        for budget, scores in by_budget.items():
            print(f"{name:22} {budget:>6} {scores['dice']['mean']:7.4f}±{scores['dice']['std']:6.4f} "
                  f"{scores['hd95']['mean']:7.2f}±{scores['hd95']['std']:6.2f}")
    if out is not None:
        print(f"wrote {out}")
    return 0


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Adds this group's commands to the ``sparselabel`` parser."""
    rank = commands.add_parser("rank", help="rank a cohort's scans for labelling (ActiveSeg)")
    rank.add_argument("cohort", help="folder of scans (NIfTI, NRRD, MHA, PNG/JPEG, DICOM series folders)")
    rank.add_argument("--labels", help="labels folder with the scans' file names (default: COHORT/labels)")
    rank.add_argument("--from-list", metavar="LIST", help="a text file of scan paths (one per line): COHORT is then "
                      "made (or updated) as a project folder of links to them")
    rank.add_argument("--budget", type=COUNT, default=10, help="scans to pick this round (default: %(default)s)")
    rank.add_argument("--strategy", default="coldstart", choices=("coldstart", "al", "random"),
                      help="coldstart (default), al or random")
    rank.add_argument("--alpha", type=FRACTION, default=0.5,
                      help="weight of entropy against diversity for al (default: %(default)s)")
    rank.add_argument("--embedder", default="filterbank",
                      help="filterbank (default, built in), pixels, dinov2 or resnet50 (local model files)")
    rank.add_argument("--embedder-path", help="model folder (dinov2) or checkpoint file (resnet50); default: "
                      "$SPARSELABEL_MODELS/<embedder>")
    rank.add_argument("--seed", type=SEED, default=0, help="random seed (default: %(default)s)")
    rank.add_argument("--out", default=".", help="folder for ranking.csv and map.png (default: current folder)")
    add_device_option(rank)
    rank.add_argument("--no-map", action="store_true", help="write ranking.csv only, no map.png (the map's "
                      "coordinates are kept in the cohort's state all the same)")
    rank.add_argument("--k-rule", default="stability", choices=("stability", "silhouette"),
                      help="how many clusters the map is read as: stability (default: the most clusters that come "
                      "back when the map is subsampled) or silhouette (the paper's: the best mean silhouette)")
    rank.add_argument("--refit-map", action="store_true", help="fit the cohort map afresh; by default the last "
                      "round's map is kept and new scans are placed into it (refitted anyway when the new scans "
                      "outnumber the mapped ones)")
    rank.add_argument("--overwrite", action="store_true", help="replace ranking.csv and map.png in --out even when "
                      "they are not the ones an earlier round of this cohort wrote")
    rank.set_defaults(run=_rank)

    embed = commands.add_parser("embed", help="compute a cohort's embeddings ahead of rank, here or on a Dask "
                                "cluster (ActiveSeg)")
    embed.add_argument("cohort", help="folder of scans, as for rank")
    embed.add_argument("--embedder", default="filterbank", help="as for rank (default: %(default)s)")
    embed.add_argument("--embedder-path", help="as for rank")
    add_device_option(embed)
    embed.add_argument("--dask", metavar="ADDRESS", help="run the embedding as Dask tasks on the scheduler at "
                       "ADDRESS (tcp://host:8786), or on local[:N] worker processes here; the workers must see the "
                       "cohort folder at the same path (needs the dask extra)")
    embed.add_argument("--batch", type=COUNT, help="scans per task (default: 64 with --dask, 16 here)")
    embed.set_defaults(run=_embed)


def add_evaluation(evaluations: argparse._SubParsersAction) -> None:
    """Adds ``evaluate selection`` to the ``evaluate`` command."""
    selection = evaluations.add_parser("selection",
                                       help="scan selection strategies: train on the picks, score a test split")
    selection.add_argument("--images", required=True, help="folder of 2D images")
    selection.add_argument("--labels", required=True, help="folder of masks with the same file names")
    selection.add_argument("--structure", help="label value(s) of the structure (default: any non-zero value)")
    selection.add_argument("--budgets", default="10,20,40", help="default: %(default)s")
    selection.add_argument("--seeds", type=COUNT, default=5, help="default: %(default)s")
    selection.add_argument("--strategies", default=",".join(SELECTION_STRATEGIES),
                           help="default: %(default)s; also coldstart-typical, mapkmeans; NAME@EMBEDDER uses "
                                "another embedder, e.g. coldstart@pixels")
    selection.add_argument("--test", type=COUNT, default=300,
                           help="size of the fixed test split (default: %(default)s)")
    selection.add_argument("--alpha", type=FRACTION, default=0.5,
                           help="weight of entropy for 'al' (default: %(default)s)")
    selection.add_argument("--embedder", default="filterbank", help="default: %(default)s")
    selection.add_argument("--steps", type=COUNT, default=400, help="U-Net training steps (default: %(default)s)")
    selection.add_argument("--json", help="write the report here (rewritten after every trained model)")
    add_device_option(selection)
    add_overwrite_option(selection, "--json")
    selection.set_defaults(run=_evaluate_selection)
