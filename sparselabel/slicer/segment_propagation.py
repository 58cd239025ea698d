"""OneSliceSeg on Slicer nodes: painted segments in, propagated segments out (through the MRML bridge).

:func:`read_painted_segments` and :func:`write_propagated_segments` touch MRML and run on the main thread; between
them the propagation runs as ``sparselabel propagate`` in a child process (:func:`.jobs.propagation_job`). Segments
are written back only when the computation finished: a cancel or an error leaves the segmentation exactly as it
was.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..core.errors import UserInputError
from ..core.image import Image
from ..propagation.drawn_slices import drawn_part, drawn_record
from ..propagation.one_slice import infer_axis
from . import mrml

DRAWN_SLICES_TAG = "SparseLabel.DrawnSlices"  # see propagation/drawn_slices.py


@dataclass
class PaintedSegments:
    """What was read from the scene: the volume, and the chosen segments as one label image (value i+1 ↔ ids[i])."""

    volume: Image
    label: Image
    segment_ids: list[str]


def read_painted_segments(volume_node, segmentation_node, segment_ids: Sequence[str] | None = None) -> PaintedSegments:
    """The volume and the painted slices of ``segment_ids`` (default: every segment) on the volume's grid; of a
    segment propagated before, only the slices the user drew or changed since."""
    if volume_node is None:
        raise UserInputError("select a volume to segment")
    if segmentation_node is None:
        raise UserInputError("select (or create) a segmentation and paint the structure on one slice")
    ids = list(segment_ids) if segment_ids else mrml.segment_ids(segmentation_node)
    if not ids:
        raise UserInputError(f"segmentation '{segmentation_node.GetName()}' has no segments; add one and paint it")
    volume = mrml.volume_node_to_image(volume_node)
    if volume.shape[0] < 2:
        raise UserInputError(f"volume '{volume_node.GetName()}' has a single slice; propagation needs a 3D volume")
    label = np.zeros(volume.shape, dtype=np.uint8 if len(ids) < 255 else np.uint16)
    empty = []
    names = [segmentation_node.GetSegmentation().GetSegment(segment_id).GetName() for segment_id in ids]
    for value, segment_id in enumerate(ids, start=1):
        mask = drawn_part(mrml.segment_array(segmentation_node, segment_id, volume_node) > 0,
                          mrml.segment_tag(segmentation_node, segment_id, DRAWN_SLICES_TAG))
        if not mask.any():
            empty.append(names[value - 1])
        # One label value per voxel: overlapping segments would lose voxels on the way back.
        shared = np.unique(label[mask & (label != 0)])
        if shared.size:
            raise UserInputError(f"segment '{names[value - 1]}' overlaps segment '{names[shared[0] - 1]}'; "
                                 "propagation needs segments that do not overlap — choose the segments to "
                                 "propagate so that they do not, and propagate the others in a second run")
        label[mask] = value
    if len(empty) == len(ids):
        raise UserInputError(f"segment(s) {', '.join(empty)} are empty: paint the structure on one slice first")
    if empty:
        raise UserInputError(f"segment(s) {', '.join(empty)} are empty: paint them on a slice, or leave them out of "
                             "the segments to propagate")
    return PaintedSegments(volume, volume.with_array(label), ids)


def write_propagated_segments(segmentation_node, volume_node, painted: PaintedSegments, result: Image,
                              axis: int | None = None) -> None:
    """Replace each segment with its propagated voxels (the painted slices are part of the result, unchanged) and
    remember which slices were drawn along ``axis`` (default: the one they were drawn along)."""
    axis = infer_axis(painted.label.array) if axis is None else axis
    for value, segment_id in enumerate(painted.segment_ids, start=1):
        mask = (result.array == value).astype(np.uint8)
        mrml.write_segment(segmentation_node, segment_id, mask, volume_node)
        mrml.set_segment_tag(segmentation_node, segment_id, DRAWN_SLICES_TAG,
                             drawn_record(mask, painted.label.array == value, axis))
