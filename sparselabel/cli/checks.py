"""Checks that run before any work: numbers in range, and outputs that can be written without replacing anything.

Numbers are checked by ``argparse`` as the command line is read (``type=`` below), so a bad one ends in the usual
usage line and exit status 2 before a file is opened. Output paths are checked as soon as the command starts: the
suffix is one that can be written, the folder exists or can be made, is a folder and is writable, and nothing there
is replaced without ``--overwrite``. A long run that fails at its very end for a reason known at its start is the
one failure a user cannot forgive.
"""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Callable, Sequence
from pathlib import Path

from ..core.errors import UserInputError


def whole_number(minimum: int) -> Callable[[str], int]:
    """An ``argparse`` type: a whole number of at least ``minimum``."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{value} is too small; expected a whole number ≥ {minimum}")
        return value

    return parse


def number(low: float, high: float = math.inf, low_inclusive: bool = True) -> Callable[[str], float]:
    """An ``argparse`` type: a finite number in [``low``, ``high``] (``low`` excluded unless ``low_inclusive``)."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"'{text}' is not a number") from None
        above = value >= low if low_inclusive else value > low
        if not (math.isfinite(value) and above and value <= high):
            bound = "≥" if low_inclusive else ">"
            expected = f"{bound} {low:g}" if high == math.inf else f"between {low:g} and {high:g}"
            raise argparse.ArgumentTypeError(f"{text} is out of range; expected a number {expected}")
        return value

    return parse


def check_writable_folder(folder: Path) -> None:
    """``folder`` is, or can be made as, a writable folder: its nearest existing ancestor is a writable folder."""
    existing = folder
    while not existing.exists():
        if existing.parent == existing:
            break
        existing = existing.parent
    if existing.exists() and not existing.is_dir():
        raise UserInputError(f"{existing}: is a file; expected a folder to write into")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UserInputError(f"{existing}: folder is not writable; choose an output in a folder you can write to")


def output_file(path: str | Path, suffixes: Sequence[str], overwrite: bool, what: str) -> Path:
    """``path`` as a file to write ``what`` to: a known suffix, a writable folder, and no file replaced unasked."""
    path = Path(path)
    if not path.name.lower().endswith(tuple(suffixes)):
        raise UserInputError(f"{path}: cannot write {what} as this file type; expected a name ending in "
                             f"{', '.join(suffixes)}")
    if path.is_dir():
        raise UserInputError(f"{path}: is a folder; expected a file name for {what}")
    if path.exists() and not overwrite:
        raise UserInputError(f"{path}: already exists; choose another path or pass --overwrite")
    check_writable_folder(path.parent)
    return path


def output_folder(folder: str | Path, files: Sequence[str], overwrite: bool) -> Path:
    """``folder`` as a place for ``files``: a writable folder (made if needed) where none of them is replaced unasked.
    """
    folder = Path(folder)
    check_writable_folder(folder)
    present = [name for name in files if (folder / name).exists()]
    if present and not overwrite:
        raise UserInputError(f"{folder}: already holds {' and '.join(present)}; choose another --out folder or pass "
                             "--overwrite")
    return folder


COUNT = whole_number(1)  # how many of something: at least one
SEED = whole_number(0)  # random seeds are non-negative
STEPS = whole_number(0)  # fine-tuning steps: none or more
SECONDS = number(0, low_inclusive=False)  # a time budget: more than nothing
FRACTION = number(0, 1)  # a weight between 0 and 1
