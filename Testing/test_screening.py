"""The slice offered for drawing: typical in appearance, and amid the other candidates."""

import numpy as np
import pytest

from sparselabel.core.errors import UserInputError
from sparselabel.propagation.screening import most_representative_slice


def _alike(count: int) -> np.ndarray:
    return np.tile(np.array([[0.6, 0.8, 0.0]]), (count, 1))


def test_among_alike_slices_the_one_amid_the_others_is_offered():
    assert most_representative_slice(_alike(11)) == 5
    assert most_representative_slice(_alike(11), candidates=range(6, 11)) == 8


def test_appearance_decides_before_position():
    descriptors = np.eye(12)  # the middle slices each look like nothing else ...
    descriptors[:4] = descriptors[0]  # ... while the first four look alike
    assert most_representative_slice(descriptors) in range(0, 4)


def test_candidates_outside_the_volume_are_refused():
    with pytest.raises(UserInputError, match="outside the volume"):
        most_representative_slice(_alike(5), candidates=[3, 4, 5])
