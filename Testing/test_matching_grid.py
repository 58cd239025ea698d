"""Large slices are walked on blocks of pixels, and the result comes back at full resolution."""

from __future__ import annotations

import numpy as np
import pytest

from sparselabel.core import phantoms
from sparselabel.core.metrics import dice
from sparselabel.propagation.matching_grid import coarsen, expand, grid_factor
from sparselabel.propagation.one_slice import PropagationOptions, propagate_label


def test_slices_up_to_about_384_pixels_are_walked_whole_and_larger_ones_on_blocks():
    assert [grid_factor((n, n)) for n in (64, 256, 288, 383, 384, 512, 768)] == [1, 1, 1, 1, 2, 2, 3]
    assert grid_factor((300, 512, 400)) == 2  # the shorter side of the slice decides
    assert grid_factor((512, 300)) == 1


def test_blocks_are_means_of_their_pixels_and_come_back_on_the_full_grid():
    slices = np.arange(2 * 5 * 6, dtype=np.float32).reshape(2, 5, 6)
    blocks = coarsen(slices, 2)
    assert blocks.shape == (2, 3, 3)
    assert blocks[0, 0, 0] == pytest.approx(slices[0, :2, :2].mean())
    assert blocks[1, 2, 2] == pytest.approx(slices[1, 4, 4:6].mean())  # the edge padded to a whole block
    assert coarsen(slices, 1) is slices
    probabilities = np.zeros((2, 3, 3), np.float32)
    probabilities[1, 1, 1] = 1.0
    probabilities[0] = 1.0 - probabilities[1]
    back = expand(probabilities, 2, (5, 6))
    assert back.shape == (2, 5, 6)
    assert np.array_equal(np.argwhere(back.argmax(0) == 1).min(0), [2, 2])  # the block's own pixels
    assert np.array_equal(np.argwhere(back.argmax(0) == 1).max(0), [3, 3])


@pytest.fixture(scope="module")
def large():
    return phantoms.abdomen_volume(seed=2, shape=(14, 400, 400), spacing=(0.8, 0.8, 5.0))


def test_a_large_volume_is_walked_on_blocks_and_its_drawn_slice_kept_at_full_resolution(large):
    image, label = large
    liver = label.array == 1
    present = np.flatnonzero(liver.any((1, 2)))
    anchor = int(present[len(present) // 2])
    drawn = np.zeros_like(label.array)
    drawn[anchor][liver[anchor]] = 1
    result, record = propagate_label(image, label.with_array(drawn), PropagationOptions(method="raw"))
    assert record["grid"] == 2
    np.testing.assert_array_equal(result.array[anchor], drawn[anchor])
    assert dice(result.array == 1, liver) > 0.9
