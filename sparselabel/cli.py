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

    report = {
        "version": __version__,
        "seed": args.seed,
        "volume": {"file": str(paths["volume"]), "size_ijk": list(reversed(volume.shape)),
                   "spacing_mm": list(volume.spacing)},
        "cohort": {"folder": str(paths["cohort"]), "scans": len(scans), "groups": counts},
        "pictures": [str(volume_picture), str(cohort_picture)],
        "seconds": round(time.perf_counter() - start, 2),
    }
    write_text(out / "demo_report.json", json.dumps(report, indent=2))
    print(f"done in {report['seconds']:.1f} s; report: {out / 'demo_report.json'}")
    return 0


# ---------------------------------------------------------------------------------------------------- parser


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
