"""The bridge between SparseLabel's arrays and Slicer's MRML nodes — the only file that touches MRML.

Works on any ``vtkMRMLScene``: the one of a running Slicer (``slicer.mrmlScene``) or one built from the
``slicer-core`` wheel in tests and scripts. Nothing here needs Qt or ``slicer.app``. ``slicer`` and ``vtk`` are
imported inside the functions so that importing SparseLabel never requires them.

Conventions:
* arrays are ``[k, j, i]`` like ``slicer.util.arrayFromVolume``; geometry is :class:`~sparselabel.core.image.Geometry`
  (LPS, as SimpleITK) and is converted to and from the node's IJK→RAS matrix;
* a segment is addressed by its segment ID; its voxels are exchanged as a 0/1 ``uint8`` array on the voxel grid
  of a reference volume node;
* parent transforms are not applied: arrays are in the node's own (untransformed) coordinates, as in Slicer's
  ``arrayFromVolume``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from ..core.errors import UserInputError
from ..core.image import Geometry, Image
from ..core.palette import segment_color

# Segment tag recording the label value a segment came from, so labelmap → segmentation → labelmap keeps values.
LABEL_VALUE_TAG = "SparseLabel.LabelValue"


def _segmentations_logic():
    import slicer

    return slicer.vtkSlicerSegmentationsModuleLogic


def _matrix_to_numpy(matrix) -> np.ndarray:
    return np.array([[matrix.GetElement(r, c) for c in range(4)] for r in range(4)])


def _numpy_to_matrix(array: np.ndarray):
    import vtk

    matrix = vtk.vtkMatrix4x4()
    for r in range(4):
        for c in range(4):
            matrix.SetElement(r, c, float(array[r, c]))
    return matrix


# ---------------------------------------------------------------------------------------------------- volumes


def to_world(node, point) -> tuple[float, float, float]:
    """``point`` (RAS, in the node's own space) where Slicer shows it: through the node's parent transforms."""
    import vtk

    parent = node.GetParentTransformNode()
    if parent is None:
        return tuple(float(v) for v in point)
    transform = vtk.vtkGeneralTransform()
    parent.GetTransformToWorld(transform)
    return tuple(float(v) for v in transform.TransformPoint([float(v) for v in point]))


def volume_node_to_image(node) -> Image:
    """A copy of a scalar volume node's voxels with the geometry of its IJK→RAS matrix."""
    import vtk
    from vtk.util.numpy_support import vtk_to_numpy

    image_data = node.GetImageData() if node is not None else None
    if image_data is None or image_data.GetPointData().GetScalars() is None:
        raise UserInputError(f"volume '{node.GetName() if node else None}' holds no image data")
    if image_data.GetNumberOfScalarComponents() != 1:
        raise UserInputError(f"volume '{node.GetName()}' has {image_data.GetNumberOfScalarComponents()} "
                             "components per voxel; expected a scalar volume")
    dims = image_data.GetDimensions()
    array = vtk_to_numpy(image_data.GetPointData().GetScalars()).reshape(dims[::-1]).copy()
    matrix = vtk.vtkMatrix4x4()
    node.GetIJKToRASMatrix(matrix)
    return Image(array, Geometry.from_ijk_to_ras(_matrix_to_numpy(matrix)))


def update_volume_node(node, image: Image) -> None:
    """Replace a volume node's voxels and geometry with ``image`` (2D images become one-slice volumes)."""
    import vtk
    from vtk.util.numpy_support import get_vtk_array_type, numpy_to_vtk

    array = image.array if image.array.ndim == 3 else image.array[None]
    if array.dtype == bool:
        array = array.astype(np.uint8)
    image_data = vtk.vtkImageData()
    image_data.SetDimensions(array.shape[2], array.shape[1], array.shape[0])
    scalars = numpy_to_vtk(np.ascontiguousarray(array).ravel(), deep=True,
                           array_type=get_vtk_array_type(array.dtype))
    scalars.SetName("ImageScalars")
    image_data.GetPointData().SetScalars(scalars)
    node.SetIJKToRASMatrix(_numpy_to_matrix(image.geometry.ijk_to_ras()))
    node.SetAndObserveImageData(image_data)


def image_to_volume_node(scene, image: Image, name: str, labelmap: bool = False):
    """A new scalar (or labelmap) volume node in ``scene`` holding ``image``, with display nodes."""
    node_class = "vtkMRMLLabelMapVolumeNode" if labelmap else "vtkMRMLScalarVolumeNode"
    node = scene.AddNewNodeByClass(node_class, name)
    update_volume_node(node, image)
    node.CreateDefaultDisplayNodes()
    return node


@contextmanager
def _temporary_labelmap_node(scene, image: Image | None = None):
    """A hidden labelmap node that is removed from the scene however the block ends — with every node made for it
    meanwhile (exporting a segment into it adds a display node and a colour table, which would otherwise pile up
    in the user's scene, one pair per call)."""
    before = {scene.GetNthNode(index).GetID() for index in range(scene.GetNumberOfNodes())}
    node = scene.AddNewNodeByClass("vtkMRMLLabelMapVolumeNode", scene.GenerateUniqueName("SparseLabelTemporary"))
    node.SetHideFromEditors(True)
    try:
        if image is not None:
            update_volume_node(node, image)
        yield node
    finally:
        added = [scene.GetNthNode(index) for index in range(scene.GetNumberOfNodes())]
        for made in [n for n in added if n.GetID() not in before]:
            scene.RemoveNode(made)


# ---------------------------------------------------------------------------------------------------- segmentations


def new_segmentation_node(scene, reference_volume, name: str):
    """An empty segmentation node whose geometry follows ``reference_volume``."""
    node = scene.AddNewNodeByClass("vtkMRMLSegmentationNode", name)
    node.CreateDefaultDisplayNodes()
    node.SetReferenceImageGeometryParameterFromVolumeNode(reference_volume)
    return node


def segment_editor_node(scene):
    """The scene's Segment Editor parameter node (the Segment Editor module's own), created if absent.

    Editors embedded in a module panel share it, so tools and settings carry over between panels.
    """
    node = scene.GetSingletonNode("SegmentEditor", "vtkMRMLSegmentEditorNode")
    if node is None:
        node = scene.CreateNodeByClass("vtkMRMLSegmentEditorNode")
        node.UnRegister(None)
        node.SetSingletonTag("SegmentEditor")
        node = scene.AddNode(node)
    return node


def add_segment(segmentation_node, name: str, color: Sequence[float] | None = None) -> str:
    """Add an empty segment called ``name`` (coloured from the shared palette unless given) and return its ID."""
    segmentation = segmentation_node.GetSegmentation()
    if segmentation.GetSegmentIdBySegmentName(name):
        raise UserInputError(f"segmentation '{segmentation_node.GetName()}' already has a segment named '{name}'")
    color = tuple(color) if color is not None else segment_color(segmentation.GetNumberOfSegments())
    return segmentation.AddEmptySegment("", name, color)


def segment_ids(segmentation_node) -> list[str]:
    segmentation = segmentation_node.GetSegmentation()
    return [segmentation.GetNthSegmentID(i) for i in range(segmentation.GetNumberOfSegments())]


def _require_segment(segmentation_node, segment_id: str):
    segment = segmentation_node.GetSegmentation().GetSegment(segment_id)
    if segment is None:
        raise UserInputError(f"segmentation '{segmentation_node.GetName()}' has no segment '{segment_id}'; "
                             f"it has {segment_ids(segmentation_node)}")
    return segment


def _string_array(values: Sequence[str]):
    import vtk

    array = vtk.vtkStringArray()
    for value in values:
        array.InsertNextValue(value)
    return array


def segment_array(segmentation_node, segment_id: str, reference_volume) -> np.ndarray:
    """The segment as a 0/1 ``uint8`` array on ``reference_volume``'s voxel grid (a copy)."""
    _require_segment(segmentation_node, segment_id)
    scene = segmentation_node.GetScene()
    with _temporary_labelmap_node(scene) as labelmap:
        exported = _segmentations_logic().ExportSegmentsToLabelmapNode(
            segmentation_node, _string_array([segment_id]), labelmap, reference_volume)
        if not exported:
            raise RuntimeError(f"could not export segment '{segment_id}' of '{segmentation_node.GetName()}'")
        return (volume_node_to_image(labelmap).array > 0).astype(np.uint8)


def segment_slice(segmentation_node, segment_id: str, reference_volume, axis: int, index: int) -> np.ndarray:
    """One slice of the segment: ``axis`` is an array axis (0 = k, the acquisition slices), ``index`` the slice."""
    mask = segment_array(segmentation_node, segment_id, reference_volume)
    if not 0 <= axis < mask.ndim or not 0 <= index < mask.shape[axis]:
        raise UserInputError(f"slice {index} along axis {axis} is outside the volume of size {mask.shape}")
    return np.take(mask, index, axis=axis)


def write_segment(segmentation_node, segment_id: str, mask: np.ndarray, reference_volume) -> None:
    """Replace the segment's voxels with ``mask`` (non-zero = inside) given on ``reference_volume``'s grid.

    Other segments keep their voxels even where they overlap the new mask.
    """
    _require_segment(segmentation_node, segment_id)
    reference = volume_node_to_image(reference_volume)
    if mask.shape != reference.shape:
        raise UserInputError(f"mask of size {mask.shape} does not match volume '{reference_volume.GetName()}' "
                             f"of size {reference.shape}")
    logic = _segmentations_logic()
    with _temporary_labelmap_node(segmentation_node.GetScene(), reference.with_array((mask > 0).astype(np.uint8))) \
            as labelmap:
        oriented = logic.CreateOrientedImageDataFromVolumeNode(labelmap)
        if not logic.SetBinaryLabelmapToSegment(oriented, segmentation_node, segment_id, logic.MODE_REPLACE):
            raise RuntimeError(f"could not write segment '{segment_id}' of '{segmentation_node.GetName()}'")


def label_image_to_segmentation(scene, label: Image, reference_volume, name: str,
                                names: Mapping[int, str] | None = None, segmentation_node=None):
    """Import a label image (one segment per non-zero value) into a new or given segmentation node.

    Segments are named from ``names`` (``label N`` otherwise), coloured from the shared palette, and remember
    their value so :func:`segmentation_to_label_image` gives it back.
    """
    values = [int(v) for v in np.unique(label.array) if v != 0]
    if segmentation_node is None:
        segmentation_node = new_segmentation_node(scene, reference_volume, name)
    logic = _segmentations_logic()
    segmentation = segmentation_node.GetSegmentation()
    for index, value in enumerate(values):
        segment_name = (names or {}).get(value, f"label {value}")
        segment_id = add_segment(segmentation_node, segment_name,
                                 segment_color(segmentation.GetNumberOfSegments() if names is None else index))
        segmentation.GetSegment(segment_id).SetTag(LABEL_VALUE_TAG, str(value))
        with _temporary_labelmap_node(scene, label.with_array((label.array == value).astype(np.uint8))) as labelmap:
            oriented = logic.CreateOrientedImageDataFromVolumeNode(labelmap)
            logic.SetBinaryLabelmapToSegment(oriented, segmentation_node, segment_id, logic.MODE_REPLACE)
    return segmentation_node


def segment_tag(segmentation_node, segment_id: str, name: str) -> str | None:
    """The segment's tag ``name`` (tags are saved with the segmentation), or None when it has none."""
    return _tag(_require_segment(segmentation_node, segment_id), name)


def set_segment_tag(segmentation_node, segment_id: str, name: str, value: str) -> None:
    _require_segment(segmentation_node, segment_id).SetTag(name, value)


def _tag(segment, name: str) -> str | None:
    import vtk

    value = vtk.reference("")
    return value.get() if segment.GetTag(name, value) else None


def _label_value_tag(segment) -> int | None:
    try:
        return int(_tag(segment, LABEL_VALUE_TAG))
    except (TypeError, ValueError):
        return None


def segmentation_to_label_image(segmentation_node, reference_volume,
                                segment_ids_to_export: Sequence[str] | None = None) -> Image:
    """The segments as one label image on ``reference_volume``'s grid.

    Each segment gets the value it was imported with, or its 1-based position otherwise; where segments overlap,
    the later one wins.
    """
    reference = volume_node_to_image(reference_volume)
    ids = list(segment_ids_to_export) if segment_ids_to_export is not None else segment_ids(segmentation_node)
    dtype = np.uint8 if len(ids) < 256 else np.uint16
    label = np.zeros(reference.shape, dtype=dtype)
    for position, segment_id in enumerate(ids, start=1):
        value = _label_value_tag(_require_segment(segmentation_node, segment_id)) or position
        label[segment_array(segmentation_node, segment_id, reference_volume) > 0] = value
    return reference.with_array(label)


def import_labelmap_node(labelmap_node, segmentation_node, names: Mapping[int, str] | None = None) -> list[str]:
    """Import a labelmap volume node (one segment per non-zero value) with Slicer's own importer.

    Returns the new segment IDs; segments are renamed from ``names`` where given and remember their value.
    """
    logic = _segmentations_logic()
    before = set(segment_ids(segmentation_node))
    if not logic.ImportLabelmapToSegmentationNode(labelmap_node, segmentation_node):
        raise UserInputError(f"could not import labelmap '{labelmap_node.GetName()}' into "
                             f"'{segmentation_node.GetName()}'")
    added = [s for s in segment_ids(segmentation_node) if s not in before]
    segmentation = segmentation_node.GetSegmentation()
    for segment_id in added:
        segment = segmentation.GetSegment(segment_id)
        value = segment.GetLabelValue()
        segment.SetTag(LABEL_VALUE_TAG, str(value))
        if names and value in names:
            segment.SetName(names[value])
    return added


def export_labelmap_node(segmentation_node, reference_volume, name: str):
    """A new labelmap volume node holding the segments on ``reference_volume``'s grid, via Slicer's exporter.

    Values follow the segments' order (1, 2, …), as Slicer's *Export to labelmap* does.
    """
    scene = segmentation_node.GetScene()
    labelmap = scene.AddNewNodeByClass("vtkMRMLLabelMapVolumeNode", name)
    ids = _string_array(segment_ids(segmentation_node))
    if not _segmentations_logic().ExportSegmentsToLabelmapNode(segmentation_node, ids, labelmap, reference_volume):
        scene.RemoveNode(labelmap)
        raise RuntimeError(f"could not export '{segmentation_node.GetName()}' to a labelmap")
    return labelmap


# ---------------------------------------------------------------------------------------------------- tables and plots


def _vtk_column(name: str, values: Sequence[Any]):
    import vtk

    if all(isinstance(v, (bool, int, np.integer)) for v in values) and values:
        column = vtk.vtkIntArray()
        convert = int
    elif all(isinstance(v, (bool, int, float, np.integer, np.floating)) for v in values) and values:
        column = vtk.vtkDoubleArray()
        convert = float
    else:
        column = vtk.vtkStringArray()
        convert = lambda v: "" if v is None else str(v)  # noqa: E731
    column.SetName(name)
    for value in values:
        column.InsertNextValue(convert(value))
    return column


def update_table_node(table_node, rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None) -> None:
    """Fill a table node from dict rows: integers → int columns, numbers → double, anything else → text."""
    if columns is None:
        columns = list(dict.fromkeys(key for row in rows for key in row))
    table = table_node.GetTable()
    table.Initialize()
    for name in columns:
        table.AddColumn(_vtk_column(name, [row.get(name) for row in rows]))
    table_node.Modified()


def table_node_from_rows(scene, rows: Sequence[Mapping[str, Any]], name: str,
                         columns: Sequence[str] | None = None):
    """A new table node holding ``rows`` (see :func:`update_table_node`)."""
    node = scene.AddNewNodeByClass("vtkMRMLTableNode", name)
    update_table_node(node, rows, columns)
    return node


def rows_from_table_node(table_node) -> list[dict[str, Any]]:
    """The table's rows as dicts (numbers as Python numbers, text as str)."""
    table = table_node.GetTable()
    columns = [table.GetColumn(c) for c in range(table.GetNumberOfColumns())]
    rows = []
    for r in range(table.GetNumberOfRows()):
        row = {}
        for column in columns:
            value = column.GetValue(r)
            row[column.GetName()] = value
        rows.append(row)
    return rows


def scatter_chart(scene, series: Mapping[str, Sequence[Mapping[str, Any]]], x: str, y: str, name: str,
                  label_column: str | None = None, colors: Mapping[str, Sequence[float]] | None = None,
                  x_title: str | None = None, y_title: str | None = None):
    """A plot chart node with one scatter series per entry of ``series`` (name → rows with ``x``/``y`` values).

    Each series gets its own table node, so a selected point's row index maps back to its rows; ``label_column``
    values become the points' tooltips. Slicer colours a series, not a point: colour-by-group needs one series per
    group. Returns the chart node; its series are ``chart.GetNthPlotSeriesNode(i)`` in the order given.
    """
    chart = scene.AddNewNodeByClass("vtkMRMLPlotChartNode", name)
    for index, (series_name, rows) in enumerate(series.items()):
        table = table_node_from_rows(scene, rows, f"{name} — {series_name}")
        plot = scene.AddNewNodeByClass("vtkMRMLPlotSeriesNode", series_name)
        plot.SetAndObserveTableNodeID(table.GetID())
        plot.SetXColumnName(x)
        plot.SetYColumnName(y)
        if label_column:
            plot.SetLabelColumnName(label_column)
        plot.SetPlotType(plot.PlotTypeScatter)
        plot.SetLineStyle(plot.LineStyleNone)
        plot.SetMarkerStyle(plot.MarkerStyleCircle)
        plot.SetColor(*(colors or {}).get(series_name, segment_color(index)))
        chart.AddAndObservePlotSeriesNodeID(plot.GetID())
    chart.SetXAxisTitle(x_title or x)
    chart.SetYAxisTitle(y_title or y)
    chart.SetTitle(name)
    return chart
