"""The MRML bridge on a real Slicer scene (slicer-core): volumes, segmentations, labelmaps, tables, plots."""

from __future__ import annotations

import numpy as np
import pytest

from sparselabel.core import phantoms
from sparselabel.core.errors import UserInputError
from sparselabel.core.image import Geometry, Image
from sparselabel.core.io import read_label, read_volume, write_image
from sparselabel.slicer import mrml

# A volume whose geometry exercises every part of IJK→RAS: anisotropic spacing, offset origin, oblique direction.
_ANGLE = np.deg2rad(20)
OBLIQUE = Geometry(
    spacing=(0.7, 0.9, 3.5),
    origin=(-40.0, 25.5, 110.0),
    direction=(np.cos(_ANGLE), 0.0, np.sin(_ANGLE), 0.0, 1.0, 0.0, -np.sin(_ANGLE), 0.0, np.cos(_ANGLE)),
)


@pytest.fixture
def phantom():
    return phantoms.abdomen_volume(seed=3, shape=(18, 48, 56))


@pytest.fixture
def oblique_volume():
    rng = np.random.default_rng(0)
    return Image(rng.integers(-1000, 3000, size=(9, 11, 13)).astype(np.int16), OBLIQUE)


def test_volume_round_trip_keeps_voxels_and_geometry(mrml_scene, oblique_volume):
    node = mrml.image_to_volume_node(mrml_scene, oblique_volume, "CT")
    # The node's own view of the geometry is what Slicer shows the user.
    assert node.GetSpacing() == pytest.approx(OBLIQUE.spacing)
    expected_ras_origin = (-OBLIQUE.origin[0], -OBLIQUE.origin[1], OBLIQUE.origin[2])  # LPS → RAS
    assert node.GetOrigin() == pytest.approx(expected_ras_origin)
    image_data = node.GetImageData()
    assert image_data.GetDimensions() == (13, 11, 9)  # VTK is (i, j, k)
    back = mrml.volume_node_to_image(node)
    assert back.array.dtype == np.int16
    np.testing.assert_array_equal(back.array, oblique_volume.array)
    assert back.geometry.differences(OBLIQUE, tolerance=1e-9) == []


def test_voxel_lands_at_the_right_ras_position(mrml_scene, oblique_volume):
    node = mrml.image_to_volume_node(mrml_scene, oblique_volume, "CT")
    import vtk

    matrix = vtk.vtkMatrix4x4()
    node.GetIJKToRASMatrix(matrix)
    i, j, k = 4, 7, 2
    ras = matrix.MultiplyPoint((i, j, k, 1))[:3]
    # The same point from SimpleITK's physical-space convention (LPS), flipped to RAS.
    import SimpleITK as sitk

    image = sitk.GetImageFromArray(oblique_volume.array)
    image.SetSpacing(OBLIQUE.spacing)
    image.SetOrigin(OBLIQUE.origin)
    image.SetDirection(OBLIQUE.direction)
    lps = image.TransformIndexToPhysicalPoint((i, j, k))
    assert ras == pytest.approx((-lps[0], -lps[1], lps[2]))


def test_file_loaded_by_slicer_matches_file_read_by_sparselabel(mrml_scene, phantom, tmp_path):
    image, _ = phantom
    path = write_image(image, tmp_path / "phantom.nrrd")
    volumes = mrml_scene.logics["Volumes"]
    node = volumes.AddArchetypeVolume(str(path), "phantom", 0)
    assert node is not None
    from_slicer = mrml.volume_node_to_image(node)
    np.testing.assert_array_equal(from_slicer.array, image.array)
    assert from_slicer.geometry.differences(image.geometry, tolerance=1e-6) == []


def test_node_saved_by_slicer_reads_back_in_sparselabel(mrml_scene, oblique_volume, tmp_path):
    node = mrml.image_to_volume_node(mrml_scene, oblique_volume, "CT")
    storage = node.CreateDefaultStorageNode()
    storage.SetFileName(str(tmp_path / "saved.nrrd"))
    assert storage.WriteData(node)
    back = read_volume(tmp_path / "saved.nrrd")
    np.testing.assert_array_equal(back.array, oblique_volume.array)
    assert back.geometry.differences(OBLIQUE, tolerance=1e-6) == []


def test_labelmap_to_segments_and_back(mrml_scene, phantom):
    image, label = phantom
    volume = mrml.image_to_volume_node(mrml_scene, image, "phantom")
    segmentation = mrml.label_image_to_segmentation(mrml_scene, label, volume, "organs", phantoms.ABDOMEN_LABELS)
    names = [segmentation.GetSegmentation().GetSegment(s).GetName() for s in mrml.segment_ids(segmentation)]
    assert names == ["liver", "spleen", "kidney"]
    for segment_id, value in zip(mrml.segment_ids(segmentation), (1, 2, 3), strict=True):
        np.testing.assert_array_equal(mrml.segment_array(segmentation, segment_id, volume), label.array == value)
    back = mrml.segmentation_to_label_image(segmentation, volume)
    np.testing.assert_array_equal(back.array, label.array)
    assert back.geometry == image.geometry or back.geometry.differences(image.geometry, 1e-9) == []
    # No temporary nodes are left behind in the user's scene.
    assert mrml_scene.GetNodesByClass("vtkMRMLLabelMapVolumeNode").GetNumberOfItems() == 0


def test_labelmap_nodes_import_and_export_with_slicers_own_logic(mrml_scene, phantom):
    image, label = phantom
    volume = mrml.image_to_volume_node(mrml_scene, image, "phantom")
    labelmap = mrml.image_to_volume_node(mrml_scene, label, "organs-label", labelmap=True)
    assert labelmap.IsA("vtkMRMLLabelMapVolumeNode")
    segmentation = mrml.new_segmentation_node(mrml_scene, volume, "organs")
    added = mrml.import_labelmap_node(labelmap, segmentation, phantoms.ABDOMEN_LABELS)
    names = [segmentation.GetSegmentation().GetSegment(s).GetName() for s in added]
    assert names == ["liver", "spleen", "kidney"]
    np.testing.assert_array_equal(mrml.segmentation_to_label_image(segmentation, volume).array, label.array)
    exported = mrml.export_labelmap_node(segmentation, volume, "exported")
    back = mrml.volume_node_to_image(exported)
    np.testing.assert_array_equal(back.array, label.array)
    assert back.geometry.differences(image.geometry, 1e-9) == []


def test_label_values_survive_gaps(mrml_scene, phantom):
    image, label = phantom
    gappy = label.with_array(np.where(label.array == 2, 4, label.array).astype(np.uint8))  # values 1, 3, 4
    volume = mrml.image_to_volume_node(mrml_scene, image, "phantom")
    segmentation = mrml.label_image_to_segmentation(mrml_scene, gappy, volume, "organs")
    np.testing.assert_array_equal(mrml.segmentation_to_label_image(segmentation, volume).array, gappy.array)


def test_segments_written_one_by_one_keep_their_overlap(mrml_scene, oblique_volume):
    volume = mrml.image_to_volume_node(mrml_scene, oblique_volume, "CT")
    segmentation = mrml.new_segmentation_node(mrml_scene, volume, "drawing")
    first = mrml.add_segment(segmentation, "tumour")
    second = mrml.add_segment(segmentation, "oedema", (0.1, 0.9, 0.2))
    assert segmentation.GetSegmentation().GetSegment(second).GetColor() == pytest.approx((0.1, 0.9, 0.2))
    a = np.zeros(oblique_volume.shape, np.uint8)
    a[2:6, 3:8, 4:10] = 1
    b = np.zeros_like(a)
    b[4:8, 5:10, 2:7] = 1
    mrml.write_segment(segmentation, first, a, volume)
    mrml.write_segment(segmentation, second, b, volume)
    np.testing.assert_array_equal(mrml.segment_array(segmentation, first, volume), a)
    np.testing.assert_array_equal(mrml.segment_array(segmentation, second, volume), b)
    # Rewriting one segment replaces it and leaves the other alone.
    a2 = np.zeros_like(a)
    a2[0:2, 0:2, 0:2] = 1
    mrml.write_segment(segmentation, first, a2, volume)
    np.testing.assert_array_equal(mrml.segment_array(segmentation, first, volume), a2)
    np.testing.assert_array_equal(mrml.segment_array(segmentation, second, volume), b)


def test_read_one_slice_along_each_axis(mrml_scene, phantom):
    image, label = phantom
    volume = mrml.image_to_volume_node(mrml_scene, image, "phantom")
    segmentation = mrml.label_image_to_segmentation(mrml_scene, label, volume, "organs", phantoms.ABDOMEN_LABELS)
    liver = segmentation.GetSegmentation().GetSegmentIdBySegmentName("liver")
    centre = np.argwhere(label.array == 1).mean(axis=0).round().astype(int)
    for axis, index in enumerate(centre):
        expected = np.take(label.array == 1, index, axis=axis)
        assert expected.any()
        np.testing.assert_array_equal(mrml.segment_slice(segmentation, liver, volume, axis, index), expected)
    with pytest.raises(UserInputError, match="outside the volume"):
        mrml.segment_slice(segmentation, liver, volume, 0, 18)


def test_closed_surface_from_written_segment(mrml_scene, phantom):
    import vtk

    image, label = phantom
    volume = mrml.image_to_volume_node(mrml_scene, image, "phantom")
    segmentation = mrml.label_image_to_segmentation(mrml_scene, label, volume, "organs", phantoms.ABDOMEN_LABELS)
    assert segmentation.CreateClosedSurfaceRepresentation()
    surface = vtk.vtkPolyData()
    liver = segmentation.GetSegmentation().GetSegmentIdBySegmentName("liver")
    segmentation.GetClosedSurfaceRepresentation(liver, surface)
    assert surface.GetNumberOfPoints() > 100
    # The surface lies where the liver is in RAS: its bounds hold the RAS positions of liver voxels.
    k, j, i = np.argwhere(label.array == 1).mean(axis=0)
    centre = image.geometry.ijk_to_ras() @ np.array([i, j, k, 1.0])
    bounds = surface.GetBounds()
    for axis in range(3):
        assert bounds[2 * axis] < centre[axis] < bounds[2 * axis + 1]


def test_segmentation_saved_by_slicer_reads_back_as_label(mrml_scene, phantom, tmp_path):
    image, label = phantom
    volume = mrml.image_to_volume_node(mrml_scene, image, "phantom")
    segmentation = mrml.label_image_to_segmentation(mrml_scene, label, volume, "organs", phantoms.ABDOMEN_LABELS)
    labelmap = mrml_scene.AddNewNodeByClass("vtkMRMLLabelMapVolumeNode", "export")
    logic = mrml_scene.logics["Segmentations"]
    assert logic.ExportAllSegmentsToLabelmapNode(segmentation, labelmap, 0)
    storage = labelmap.CreateDefaultStorageNode()
    storage.SetFileName(str(tmp_path / "organs.nii.gz"))
    assert storage.WriteData(labelmap)
    back = read_label(tmp_path / "organs.nii.gz", image)
    np.testing.assert_array_equal(back.array > 0, label.array > 0)


def test_segment_errors_name_the_problem(mrml_scene, oblique_volume):
    volume = mrml.image_to_volume_node(mrml_scene, oblique_volume, "CT")
    segmentation = mrml.new_segmentation_node(mrml_scene, volume, "drawing")
    mrml.add_segment(segmentation, "tumour")
    with pytest.raises(UserInputError, match="already has a segment named 'tumour'"):
        mrml.add_segment(segmentation, "tumour")
    with pytest.raises(UserInputError, match="no segment 'nope'"):
        mrml.segment_array(segmentation, "nope", volume)
    with pytest.raises(UserInputError, match="does not match volume"):
        mrml.write_segment(segmentation, mrml.segment_ids(segmentation)[0], np.zeros((2, 2, 2)), volume)
    empty = mrml_scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "empty")
    with pytest.raises(UserInputError, match="holds no image data"):
        mrml.volume_node_to_image(empty)


def test_table_from_rows_types_columns(mrml_scene):
    rows = [
        {"rank": 1, "scan": "case_07", "score": 0.91, "labelled": False},
        {"rank": 2, "scan": "case_02", "score": 0.5, "labelled": True},
    ]
    table_node = mrml.table_node_from_rows(mrml_scene, rows, "Worklist")
    table = table_node.GetTable()
    assert [table.GetColumn(c).GetName() for c in range(table.GetNumberOfColumns())] == [
        "rank", "scan", "score", "labelled"]
    assert table.GetColumnByName("rank").GetClassName() == "vtkIntArray"
    assert table.GetColumnByName("score").GetClassName() == "vtkDoubleArray"
    assert table.GetColumnByName("scan").GetClassName() == "vtkStringArray"
    back = mrml.rows_from_table_node(table_node)
    assert back[0]["scan"] == "case_07" and back[1]["score"] == pytest.approx(0.5) and back[1]["labelled"] == 1


def test_scatter_chart_has_one_series_per_group(mrml_scene):
    series = {
        "cluster 1": [{"x": 0.0, "y": 1.0, "scan": "a"}, {"x": 0.5, "y": 1.5, "scan": "b"}],
        "cluster 2": [{"x": 3.0, "y": -1.0, "scan": "c"}],
        "next picks": [{"x": 0.5, "y": 1.5, "scan": "b"}],
    }
    chart = mrml.scatter_chart(mrml_scene, series, "x", "y", "Cohort map", label_column="scan",
                               colors={"next picks": (1.0, 0.0, 0.0)})
    assert chart.GetNumberOfPlotSeriesNodes() == 3
    picks = chart.GetNthPlotSeriesNode(2)
    assert picks.GetName() == "next picks"
    assert picks.GetPlotType() == picks.PlotTypeScatter
    assert picks.GetLabelColumnName() == "scan"
    assert picks.GetColor() == pytest.approx((1.0, 0.0, 0.0))
    first = chart.GetNthPlotSeriesNode(0)
    rows = mrml.rows_from_table_node(first.GetTableNode())
    assert [r["scan"] for r in rows] == ["a", "b"]
    assert first.GetColor() != chart.GetNthPlotSeriesNode(1).GetColor()


def test_embedded_editors_share_the_segment_editor_node(mrml_scene):
    first = mrml.segment_editor_node(mrml_scene)
    assert mrml.segment_editor_node(mrml_scene) is first
    assert mrml_scene.GetNumberOfNodesByClass("vtkMRMLSegmentEditorNode") == 1


def test_reading_and_writing_segments_leaves_no_node_behind(mrml_scene):
    image, label = phantoms.abdomen_volume(seed=1, shape=(6, 32, 32))
    volume = mrml.image_to_volume_node(mrml_scene, image, "Abdomen")
    segmentation = mrml.new_segmentation_node(mrml_scene, volume, "Segmentation")
    segment_id = mrml.add_segment(segmentation, "liver")
    nodes = mrml_scene.GetNumberOfNodes()
    for _ in range(5):
        mrml.write_segment(segmentation, segment_id, (label.array == 1).astype(np.uint8), volume)
        mask = mrml.segment_array(segmentation, segment_id, volume)
    assert mask.sum() == (label.array == 1).sum()
    assert mrml_scene.GetNumberOfNodes() == nodes  # no colour tables, display nodes or labelmaps left over


def test_a_point_of_a_transformed_volume_is_where_slicer_shows_it(mrml_scene):
    import vtk

    image, _ = phantoms.abdomen_volume(seed=1, shape=(6, 32, 32))
    volume = mrml.image_to_volume_node(mrml_scene, image, "Abdomen")
    assert mrml.to_world(volume, (1.0, 2.0, 3.0)) == (1.0, 2.0, 3.0)
    shift = mrml_scene.AddNewNodeByClass("vtkMRMLLinearTransformNode")
    matrix = vtk.vtkMatrix4x4()
    matrix.SetElement(0, 3, 10.0)  # 10 mm to the right
    shift.SetMatrixTransformToParent(matrix)
    volume.SetAndObserveTransformNodeID(shift.GetID())
    assert mrml.to_world(volume, (1.0, 2.0, 3.0)) == (11.0, 2.0, 3.0)
