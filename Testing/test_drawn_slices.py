"""The record of which slices of a segment were drawn, and what counts as drawn when propagating again."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sparselabel.propagation.drawn_slices import drawn_part, drawn_record


@pytest.fixture
def segment():
    mask = np.zeros((6, 8, 8), np.uint8)
    mask[1:5, 2:6, 2:6] = 1  # propagated through slices 1–4
    drawn = np.zeros_like(mask)
    drawn[:, 3] = mask[:, 3]  # drawn on coronal slice 3 (array axis 1)
    return mask, drawn


def test_only_the_drawn_slices_and_the_changed_ones_count(segment):
    mask, drawn = segment
    record = drawn_record(mask, drawn, axis=1)
    np.testing.assert_array_equal(drawn_part(mask, record), drawn)
    edited = mask.copy()
    edited[:, 5, 2] = 0  # a correction on coronal slice 5
    expected = drawn.copy()
    expected[:, 5] = edited[:, 5]
    np.testing.assert_array_equal(drawn_part(edited, record), expected)


@pytest.mark.parametrize("record", [None, "", "not json", json.dumps({"axis": 0}),
                                    json.dumps({"axis": 7, "drawn": [], "slices": []}),
                                    json.dumps({"axis": 0, "drawn": [1], "slices": ["0"] * 3})])
def test_without_a_fitting_record_every_labelled_slice_counts(segment, record):
    mask, _ = segment
    np.testing.assert_array_equal(drawn_part(mask, record), mask)
