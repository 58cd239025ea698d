"""The ``sparselabel`` command: SparseLabel's workflows without the Slicer GUI, and the engine behind both faces.

One file per command group: ``inspection`` (inspect, overlay), ``demo``, ``one_slice`` (OneSliceSeg's commands),
``cohort`` (ActiveSeg's), with what they share in ``common``. Problems with the user's input end as one line
``sparselabel: error: …`` on stderr and exit status 2, with nothing written; any other exception is a bug and keeps
its traceback. The command line may import ``core``, ``propagation`` and ``selection``, never ``slicer``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .. import __version__
from ..core.errors import UserInputError
from . import cohort, demo, inspection, one_slice
from .common import EXIT_CANCELLED, EXIT_SYSTEM_ERROR, EXIT_USER_ERROR
from .progress import MODES


def _add_output_options(parser: argparse.ArgumentParser, default) -> None:
    parser.add_argument("--quiet", action="store_true", default=default,
                        help="no progress on stderr (results and errors still show)")
    parser.add_argument("--progress", choices=MODES, default=default, help="auto (default): bars on a terminal, a "
                        "line per phase otherwise; json: one JSON object per line on stdout, for programs")


class _Commands:
    """The sub-command adder, giving every command the output options too (before or after its name alike)."""

    def __init__(self, actions):
        self.actions = actions

    def add_parser(self, name: str, **kwargs) -> argparse.ArgumentParser:
        parser = self.actions.add_parser(name, **kwargs)
        _add_output_options(parser, argparse.SUPPRESS)
        return parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sparselabel",
        description="SparseLabel: rank scans for labeling (ActiveSeg) and turn one annotated slice into a 3D "
                    "label (OneSliceSeg), from the command line.",
    )
    parser.add_argument("--version", action="version", version=f"sparselabel {__version__}")
    _add_output_options(parser, argparse.SUPPRESS)
    parser.set_defaults(quiet=False, progress="auto")
    commands = _Commands(parser.add_subparsers(dest="command", metavar="COMMAND", required=True))
    demo.add_commands(commands)
    inspection.add_commands(commands)
    cohort.add_commands(commands)
    one_slice.add_commands(commands)
    evaluate = commands.add_parser("evaluate", help="measure a workflow on labelled data")
    evaluations = _Commands(evaluate.add_subparsers(dest="kind", metavar="KIND", required=True))
    one_slice.add_evaluation(evaluations)
    cohort.add_evaluation(evaluations)
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
    except OSError as error:  # the system refused (disk full, no permission): not a bug, and nothing half-written
        where = f"{error.filename}: " if error.filename else ""
        print(f"sparselabel: error: {where}{error.strerror or error}", file=sys.stderr)
        return EXIT_SYSTEM_ERROR
    except KeyboardInterrupt:
        print("sparselabel: cancelled", file=sys.stderr)
        return EXIT_CANCELLED
