"""What the commands share: one-line descriptions of images, and options several commands take."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from ..core.errors import UserInputError
from ..core.image import Image

EXIT_USER_ERROR = 2
EXIT_SYSTEM_ERROR = 1  # the system refused: disk full, no permission
EXIT_CANCELLED = 130


def size_text(image: Image) -> str:
    return "×".join(str(s) for s in reversed(image.shape))


def spacing_text(image: Image) -> str:
    return "×".join(f"{s:.3g}" for s in image.spacing)


def describe_image(path: Path, image: Image) -> str:
    oblique = "" if np.allclose(image.geometry.direction_matrix, np.eye(image.geometry.dim), atol=1e-6) \
        else ", oblique"
    low, high = (float(image.array.min()), float(image.array.max())) if image.array.size else (0.0, 0.0)
    return (f"{path}: {image.geometry.dim}D {size_text(image)} voxels, spacing {spacing_text(image)} mm{oblique}, "
            f"{image.array.dtype}, values {low:g}…{high:g}")


def label_summary(label: Image) -> list[str]:
    voxel = float(np.prod(label.spacing))
    unit, scale = ("mL", 1e-3) if label.geometry.dim == 3 else ("cm²", 1e-2)
    values, counts = np.unique(label.array, return_counts=True)
    return [f"  label {int(v)}: {int(c)} voxels, {c * voxel * scale:.2f} {unit}"
            for v, c in zip(values, counts, strict=True) if v != 0] or ["  label is empty"]


AXES = {"k": 0, "j": 1, "i": 2, "0": 0, "1": 1, "2": 2}


def slice_axis(text: str | None) -> int | None:
    if text is None:
        return None
    if text.lower() not in AXES:
        raise UserInputError(f"axis '{text}': expected k, j or i (array axes; k = the acquisition slices)")
    return AXES[text.lower()]


def whole_numbers(text: str, option: str) -> list[int]:
    try:
        return [int(v) for v in text.split(",") if v]
    except ValueError:
        raise UserInputError(f"{option} '{text}': expected whole numbers separated by commas, e.g. 10,20,40") from None


def adaptation_text(record: dict) -> str:
    """How the network was adapted to the volume, as the start of a sentence ("" when it was not)."""
    if record.get("adaptation_reused"):
        return "the network adapted to this volume before, "
    if "adaptation_steps" not in record:
        return ""
    text = f"adapted to the volume in {record['adaptation_steps']} steps ({record['adaptation_seconds']:.1f} s"
    return text + (", stopped by the time limit), " if record.get("adaptation_limit_hit") else "), ")


def add_device_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default="auto", help="auto (default), cuda, mps or cpu")


def add_overwrite_option(parser: argparse.ArgumentParser, option: str) -> None:
    """``--overwrite``: replace the file ``option`` names if it exists (see :func:`.checks.output_file`)."""
    parser.add_argument("--overwrite", action="store_true", help=f"replace {option} if it exists")
