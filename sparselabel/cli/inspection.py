"""``sparselabel inspect`` and ``sparselabel overlay``: what an image and its label are, in words and in a picture."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..core.errors import UserInputError
from .checks import COUNT, output_file
from .common import add_overwrite_option, describe_image, label_summary


def _inspect(args: argparse.Namespace) -> int:
    from ..core.io import dicom_series_ids, discover_images, read_image, read_label

    path = Path(args.path)
    if path.is_dir() and args.label is None and not dicom_series_ids(path):
        unreadable = 0
        for scan in discover_images(path):
            try:
                print(describe_image(scan, read_image(scan)))
            except UserInputError as error:
                unreadable += 1
                print(f"unreadable, skipped: {error}")
        if unreadable:
            print(f"{unreadable} unreadable scan(s) skipped", file=sys.stderr)
        return 0
    image = read_image(path)
    label = read_label(args.label, image) if args.label is not None else None
    print(describe_image(path, image))
    if label is not None:
        print(f"{args.label}: on the same voxel grid")
        print("\n".join(label_summary(label)))
    return 0


def _overlay(args: argparse.Namespace) -> int:
    from ..core.figures import overlay_slices
    from ..core.io import read_image, read_label

    out = output_file(args.out, (".png", ".jpg", ".pdf", ".svg"), args.overwrite, "a picture")
    image = read_image(args.image)
    label = read_label(args.label, image)
    overlay_slices(image, label, out, slices=args.slices, title=Path(args.image).name)
    print(f"wrote {out}")
    return 0


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Adds this group's commands to the ``sparselabel`` parser."""
    inspect = commands.add_parser("inspect", help="describe an image (and its label), or every image in a folder")
    inspect.add_argument("path", help="image file, DICOM series folder, or folder of images")
    inspect.add_argument("--label", help="label file to check against the image and summarise")
    inspect.set_defaults(run=_inspect)

    overlay = commands.add_parser("overlay", help="write a picture of an image's slices with its label laid over")
    overlay.add_argument("image", help="image file or DICOM series folder")
    overlay.add_argument("label", help="label file on the same voxel grid")
    overlay.add_argument("--out", required=True, help="picture to write (.png, .jpg, .pdf, .svg)")
    overlay.add_argument("--slices", type=COUNT, default=6, help="number of slices shown (default: %(default)s)")
    add_overwrite_option(overlay, "--out")
    overlay.set_defaults(run=_overlay)
