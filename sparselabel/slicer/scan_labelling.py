"""Labelling one scan of a cohort in Slicer: open it (with its label, if any), save the label with its geometry.

The label file is named like the scan and written atomically into the labels folder: same format as the scan for
NIfTI / NRRD / MHA / PNG, NIfTI for DICOM series and JPEG (a lossy format would corrupt a label). Its geometry is the
scan file's own — a 2D picture's label is a 2D picture again, not the one-slice volume Slicer shows. Segments keep
the label value they were read with (0/255 masks stay 0/255); a new segment is written as 1.
"""

from __future__ import annotations

from pathlib import Path

from ..core.errors import UserInputError
from ..core.image import Image
from ..core.io import IMAGE_SUFFIXES, base_name, read_image, read_label, write_image
from . import mrml

KEEP_FORMAT = (".nii.gz", ".nii", ".nrrd", ".mha", ".mhd", ".png")
STRUCTURE_SEGMENT = "structure"


def label_path_for(scan: Path, labels_folder: Path) -> Path:
    """Where the label of ``scan`` lives: an existing file with its name, else the name it will be saved under."""
    name = base_name(scan)
    if labels_folder.is_dir():
        existing = sorted(p for p in labels_folder.iterdir() if p.is_file() and base_name(p) == name)
        if existing:
            return existing[0]
    suffix = next((s for s in KEEP_FORMAT if scan.name.lower().endswith(s)), ".nii.gz") if scan.is_file() \
        else ".nii.gz"
    return labels_folder / f"{name}{suffix}"


def open_scan(scene, scan: Path, labels_folder: Path):
    """Load ``scan`` as a volume node and its label (or one empty segment) as a segmentation node."""
    image = read_image(scan)
    name = base_name(scan)
    volume = mrml.image_to_volume_node(scene, image, name)
    label_file = label_path_for(scan, labels_folder)
    if label_file.exists():
        label = read_label(label_file, image)
        if label.array.any():
            return volume, mrml.label_image_to_segmentation(scene, label, volume, f"{name} label")
    segmentation = mrml.new_segmentation_node(scene, volume, f"{name} label")
    mrml.add_segment(segmentation, STRUCTURE_SEGMENT)
    return volume, segmentation


class EmptyLabelError(UserInputError):
    """The label to save holds no structure: a mistake, or a scan without it (a negative case, a label too)."""


def save_label(segmentation_node, volume_node, scan: Path, labels_folder: Path, allow_empty: bool = False) -> Path:
    """Write the segmentation as the scan's label file (see the module docstring); returns its path. An empty
    label is written only with ``allow_empty`` (the user said the scan does not show the structure)."""
    painted = mrml.segmentation_to_label_image(segmentation_node, volume_node)
    if not painted.array.any() and not allow_empty:
        raise EmptyLabelError(f"the label of {base_name(scan)} is empty; paint the structure before saving, or "
                              "save it as a scan without the structure")
    image = read_image(scan)
    if painted.array.size != image.array.size:
        raise UserInputError(f"{scan}: the scan has {image.array.shape} voxels but the segmentation was painted on "
                             f"{painted.array.shape}; reopen the scan")
    label = Image(painted.array.reshape(image.array.shape), image.geometry)
    target = label_path_for(scan, labels_folder)
    if not target.name.lower().endswith(IMAGE_SUFFIXES):
        target = labels_folder / f"{base_name(scan)}.nii.gz"
    labels_folder.mkdir(parents=True, exist_ok=True)
    return write_image(label, target)


def scan_at(series_node, row: int) -> str:
    """The scan name behind point ``row`` of a map series (the series' table has a ``scan`` column)."""
    table = series_node.GetTableNode().GetTable()
    column = table.GetColumnByName("scan")
    if column is None or not 0 <= row < table.GetNumberOfRows():
        raise UserInputError(f"plot series '{series_node.GetName()}' has no scan at row {row}")
    return column.GetValue(row)
