"""OneSliceSeg's logic on real MRML nodes (slicer-core): painted slices in, propagated segments out."""

from __future__ import annotations

import numpy as np
import pytest

from sparselabel.core import phantoms
from sparselabel.core.errors import CancelledError, UserInputError
from sparselabel.core.metrics import dice
from sparselabel.propagation.adapted_networks import AdaptedNetworks
from sparselabel.propagation.one_slice import PropagationOptions, propagate_label
from sparselabel.slicer import mrml
from sparselabel.slicer.segment_propagation import read_painted_segments, write_propagated_segments


@pytest.fixture
def painted(mrml_scene):
    image, label = phantoms.abdomen_volume(seed=5, shape=(24, 64, 64), spacing=(2.0, 2.0, 5.0))
    volume = mrml.image_to_volume_node(mrml_scene, image, "Abdomen")
    segmentation = mrml.new_segmentation_node(mrml_scene, volume, "Abdomen segmentation")
    drawn = {}
    for value, name in ((1, "liver"), (2, "spleen")):
        segment_id = mrml.add_segment(segmentation, name)
        slices = np.flatnonzero((label.array == value).any((1, 2)))
        anchor = int(slices[len(slices) // 2])
        mask = np.zeros(image.shape, np.uint8)
        mask[anchor] = label.array[anchor] == value
        mrml.write_segment(segmentation, segment_id, mask, volume)
        drawn[segment_id] = (anchor, mask[anchor].copy(), label.array == value)
    return volume, segmentation, drawn


def test_painted_slices_become_full_segments_with_anchors_unchanged(painted):
    volume, segmentation, drawn = painted
    inputs = read_painted_segments(volume, segmentation)
    result, record = propagate_label(inputs.volume, inputs.label, PropagationOptions(method="raw"))
    write_propagated_segments(segmentation, volume, inputs, result)
    assert record["anchors"] == sorted({a for a, _, _ in drawn.values()})
    for segment_id, (anchor, slice_mask, truth) in drawn.items():
        propagated = mrml.segment_array(segmentation, segment_id, volume)
        np.testing.assert_array_equal(propagated[anchor], slice_mask)  # exactly as drawn
        assert propagated.reshape(len(propagated), -1).any(1).sum() > 3  # reached other slices
        assert dice(propagated > 0, truth) > 0.6


def test_cancel_leaves_the_segmentation_as_it_was(painted):
    volume, segmentation, drawn = painted
    before = {s: mrml.segment_array(segmentation, s, volume) for s in drawn}
    inputs = read_painted_segments(volume, segmentation)
    with pytest.raises(CancelledError):
        propagate_label(inputs.volume, inputs.label, PropagationOptions(method="raw"), cancel=lambda: True)
    for segment_id, mask in before.items():
        np.testing.assert_array_equal(mrml.segment_array(segmentation, segment_id, volume), mask)


def test_empty_segment_and_missing_inputs_are_explained(painted, mrml_scene):
    volume, segmentation, _ = painted
    mrml.add_segment(segmentation, "kidney")
    with pytest.raises(UserInputError, match="kidney are empty"):
        read_painted_segments(volume, segmentation)
    with pytest.raises(UserInputError, match="select a volume"):
        read_painted_segments(None, segmentation)
    with pytest.raises(UserInputError, match="select \\(or create\\) a segmentation"):
        read_painted_segments(volume, None)
    empty = mrml.new_segmentation_node(mrml_scene, volume, "nothing")
    with pytest.raises(UserInputError, match="has no segments"):
        read_painted_segments(volume, empty)


def test_only_the_chosen_segments_are_propagated_and_the_others_left_alone(painted):
    volume, segmentation, drawn = painted
    liver_id, spleen_id = drawn
    kidney_id = mrml.add_segment(segmentation, "kidney")  # added, not painted yet: left out, no complaint
    before = {s: mrml.segment_array(segmentation, s, volume) for s in (spleen_id, kidney_id)}
    inputs = read_painted_segments(volume, segmentation, [liver_id])
    assert inputs.segment_ids == [liver_id] and set(np.unique(inputs.label.array)) == {0, 1}
    result, _record = propagate_label(inputs.volume, inputs.label, PropagationOptions(method="raw"))
    write_propagated_segments(segmentation, volume, inputs, result)
    liver = mrml.segment_array(segmentation, liver_id, volume)
    assert liver.reshape(len(liver), -1).any(1).sum() > 3 and dice(liver > 0, drawn[liver_id][2]) > 0.6
    for segment_id, mask in before.items():
        np.testing.assert_array_equal(mrml.segment_array(segmentation, segment_id, volume), mask)
    with pytest.raises(UserInputError, match="kidney are empty: paint them on a slice, or leave them out"):
        read_painted_segments(volume, segmentation, [liver_id, kidney_id])


def test_overlapping_segments_are_refused_and_left_as_they_are(painted):
    volume, segmentation, drawn = painted
    liver_id = next(iter(drawn))
    anchor, slice_mask, _ = drawn[liver_id]
    rows, columns = np.nonzero(slice_mask)
    lesion = np.zeros(mrml.volume_node_to_image(volume).shape, np.uint8)
    lesion[anchor, rows[len(rows) // 2], columns[len(columns) // 2]] = 1  # a lesion drawn inside the liver
    lesion_id = mrml.add_segment(segmentation, "lesion")
    mrml.write_segment(segmentation, lesion_id, lesion, volume)
    before = {s: mrml.segment_array(segmentation, s, volume) for s in (*drawn, lesion_id)}
    assert before[liver_id][anchor].sum() == slice_mask.sum()  # the segmentation holds the overlap
    with pytest.raises(UserInputError, match="'lesion' overlaps segment 'liver'"):
        read_painted_segments(volume, segmentation)
    for segment_id, mask in before.items():
        np.testing.assert_array_equal(mrml.segment_array(segmentation, segment_id, volume), mask)


def test_propagating_again_starts_from_the_drawn_slices_and_a_correction(painted):
    volume, segmentation, drawn = painted
    options = PropagationOptions(method="raw")
    first = read_painted_segments(volume, segmentation)
    result, _ = propagate_label(first.volume, first.label, options)
    write_propagated_segments(segmentation, volume, first, result)
    after_first = {s: mrml.segment_array(segmentation, s, volume) for s in drawn}

    again = read_painted_segments(volume, segmentation)  # nothing changed: only the drawn slices are anchors
    np.testing.assert_array_equal(again.label.array, first.label.array)
    result, _ = propagate_label(again.volume, again.label, options)
    write_propagated_segments(segmentation, volume, again, result)
    for segment_id, mask in after_first.items():
        np.testing.assert_array_equal(mrml.segment_array(segmentation, segment_id, volume), mask)

    liver_id = next(iter(drawn))
    anchor, slice_mask, truth = drawn[liver_id]
    corrected = after_first[liver_id].copy()
    slices = np.flatnonzero(truth.any((1, 2)))
    fixed = int(slices[-2])  # the user redraws a slice near the liver's end as it truly is
    corrected[fixed] = truth[fixed]
    mrml.write_segment(segmentation, liver_id, corrected, volume)
    third = read_painted_segments(volume, segmentation)
    liver_value = third.segment_ids.index(liver_id) + 1
    assert np.flatnonzero((third.label.array == liver_value).any((1, 2))).tolist() == sorted({anchor, fixed})
    result, record = propagate_label(third.volume, third.label, options)
    assert fixed in record["anchors"]
    write_propagated_segments(segmentation, volume, third, result)
    liver = mrml.segment_array(segmentation, liver_id, volume)
    np.testing.assert_array_equal(liver[fixed], truth[fixed])
    np.testing.assert_array_equal(liver[anchor], slice_mask)


def test_a_correction_propagates_with_the_network_adapted_before(painted):
    volume, segmentation, drawn = painted
    memory = AdaptedNetworks()
    options = PropagationOptions(adaptation_steps=4, device="cpu")
    first = read_painted_segments(volume, segmentation)
    result, record = propagate_label(first.volume, first.label, options, adapted=memory)
    assert not record["adaptation_reused"]
    write_propagated_segments(segmentation, volume, first, result)

    liver_id = next(iter(drawn))
    anchor, slice_mask, truth = drawn[liver_id]
    corrected = mrml.segment_array(segmentation, liver_id, volume)
    fixed = int(np.flatnonzero(truth.any((1, 2)))[1])
    corrected[fixed] = truth[fixed]
    mrml.write_segment(segmentation, liver_id, corrected, volume)
    second = read_painted_segments(volume, segmentation)
    result, record = propagate_label(second.volume, second.label, options, adapted=memory)
    assert record["adaptation_reused"] and fixed in record["anchors"]
    write_propagated_segments(segmentation, volume, second, result)
    liver = mrml.segment_array(segmentation, liver_id, volume)
    np.testing.assert_array_equal(liver[fixed], truth[fixed])
    np.testing.assert_array_equal(liver[anchor], slice_mask)
