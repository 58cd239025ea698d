"""The matcher that propagates a volume is the one whose round trips from the drawn slice come back best."""

from __future__ import annotations

import numpy as np
import pytest

from sparselabel.core import phantoms
from sparselabel.propagation.baselines import CopyStepper
from sparselabel.propagation.matcher_choice import CheckedMatcher, reach_for, round_trip_agreement
from sparselabel.propagation.one_slice import PropagationOptions, propagate_label


class Drifting:
    """A matcher that moves the label ``shift`` pixels down at every step, whichever way it goes: it never comes
    back."""

    name = "drifting"

    def __init__(self, shift: int = 2):
        self.shift = shift

    def prepare(self, volume):
        pass

    def step(self, reference, target, probabilities):
        return np.roll(probabilities, self.shift, axis=1)


def _disc(size=40, radius=8):
    rows, columns = np.mgrid[:size, :size]
    inside = (rows - size // 2) ** 2 + (columns - size // 2) ** 2 <= radius**2
    return np.stack([~inside, inside]).astype(np.float32)


def test_a_matcher_that_drifts_comes_back_worse_the_farther_it_goes():
    start = _disc()
    assert round_trip_agreement(CopyStepper(), 5, start, 10, 3) == 1.0
    near, far = (round_trip_agreement(Drifting(), 5, start, 10, reach) for reach in (1, 3))
    assert far < near < 1.0
    # At the volume's first slice only one direction exists; a one-slice volume has none, and nothing to judge.
    assert round_trip_agreement(Drifting(), 0, start, 10, 2) < 1.0
    assert round_trip_agreement(Drifting(), 0, start, 1, 2) == 1.0


def test_the_reach_covers_the_same_distance_on_thin_and_thick_slices():
    assert reach_for(10.0) == 1 and reach_for(5.0) == 2 and reach_for(1.25) == 8
    assert reach_for(0.1) == 16  # very thin slices: at most 16 slices
    assert reach_for(40.0) == 1  # at least one


def test_the_matcher_whose_round_trip_comes_back_best_walks_the_volume_and_a_tie_keeps_the_first():
    checked = CheckedMatcher({"learned": Drifting(), "raw": CopyStepper()}, spacing=5.0)
    checked.prepare(np.zeros((10, 40, 40), np.float32))
    assert checked.choose({5: _disc()}) == "raw"
    assert checked.agreement["raw"] == 1.0 > checked.agreement["learned"]
    moved = checked.matched_step(5, 6, _disc())
    np.testing.assert_array_equal(moved[0], _disc())  # the chosen one's step, with no match strengths
    assert moved[1] is None
    assert not checked.round_trip_error(5, 6).any()  # raw intensities raise no doubt
    tie = CheckedMatcher({"learned": CopyStepper(), "raw": CopyStepper()}, spacing=5.0)
    tie.prepare(np.zeros((10, 40, 40), np.float32))
    assert tie.choose({5: _disc()}) == "learned"


@pytest.mark.parametrize("checked", [True, False])
def test_the_record_says_which_matcher_each_group_of_segments_used(checked):
    image, label = phantoms.abdomen_volume(seed=3, shape=(16, 48, 48), spacing=(2.0, 2.0, 5.0))
    drawn = np.zeros_like(label.array)
    drawn[8][label.array[8] == 1] = 1
    _, record = propagate_label(image, label.with_array(drawn), PropagationOptions(checked=checked, device="cpu"))
    if checked:
        assert len(record["matchers"]) == 1 and record["matchers"][0]["values"] == [1]
        assert record["matchers"][0]["matcher"] in ("learned", "raw")
        assert set(record["matchers"][0]["agreement"]) == {"learned", "raw"}
    else:
        assert "matchers" not in record
