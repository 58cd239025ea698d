"""Labelling a cohort scan on a real MRML scene: open with its label, save with the scan's own geometry."""

from __future__ import annotations

import numpy as np
import pytest

from sparselabel.core import phantoms
from sparselabel.core.errors import UserInputError
from sparselabel.core.io import read_image, read_label, write_image
from sparselabel.selection.ranking import RankedScan
from sparselabel.slicer import mrml
from sparselabel.slicer.scan_labelling import open_scan, save_label, scan_at
from sparselabel.slicer.worklist_nodes import worklist_nodes


def test_a_2d_scan_is_labelled_and_saved_as_a_2d_picture(mrml_scene, tmp_path):
    case = phantoms.chest_cohort(per_group=1, seed=4)[0]
    scan = write_image(case.image, tmp_path / "cohort" / "case1.png")
    labels = tmp_path / "cohort" / "labels"
    volume, segmentation = open_scan(mrml_scene, scan, labels)
    assert mrml.segment_ids(segmentation) and not labels.exists()  # one empty segment, nothing written yet
    with pytest.raises(UserInputError, match="label of case1 is empty"):
        save_label(segmentation, volume, scan, labels)
    assert not labels.exists()
    negative = save_label(segmentation, volume, scan, labels, allow_empty=True)  # a scan without the structure
    assert not read_label(negative, read_image(scan)).array.any()
    mrml.write_segment(segmentation, mrml.segment_ids(segmentation)[0], case.label.array[None] > 0, volume)
    saved = save_label(segmentation, volume, scan, labels)
    assert saved == labels / "case1.png"
    label = read_label(saved, read_image(scan))  # geometry checked against the scan by read_label
    np.testing.assert_array_equal(label.array > 0, case.label.array > 0)
    # Reopening shows the saved label again, with its value kept.
    _, again = open_scan(mrml_scene, scan, labels)
    assert (mrml.segmentation_to_label_image(again, volume).array[0] == label.array).all()


def test_an_oblique_volume_label_keeps_the_volume_geometry(mrml_scene, tmp_path):
    image, truth = phantoms.abdomen_volume(seed=2, shape=(10, 40, 40))
    scan = write_image(image, tmp_path / "case.nrrd")
    volume, segmentation = open_scan(mrml_scene, scan, tmp_path / "labels")
    mrml.write_segment(segmentation, mrml.segment_ids(segmentation)[0], truth.array == 1, volume)
    saved = save_label(segmentation, volume, scan, tmp_path / "labels")
    assert saved.name == "case.nrrd"
    label = read_label(saved, image)
    assert not label.mismatch(image) and ((label.array > 0) == (truth.array == 1)).all()


def test_a_clicked_map_point_names_its_scan(mrml_scene):
    points = np.array([[0, 0], [5, 5], [9, 9]], dtype=float)
    worklist = [RankedScan("b", "next", 1, 0), RankedScan("a", "unlabelled", cluster=0),
                RankedScan("c", "labelled", cluster=1)]
    _, chart = worklist_nodes(mrml_scene, worklist, points, ["a", "b", "c"])
    series = {chart.GetNthPlotSeriesNode(i).GetName(): chart.GetNthPlotSeriesNode(i)
              for i in range(chart.GetNumberOfPlotSeriesNodes())}
    assert scan_at(series["next picks"], 0) == "b" and scan_at(series["labelled"], 0) == "c"
    with pytest.raises(UserInputError, match="no scan at row 3"):
        scan_at(series["cluster 1"], 3)
