"""Which slices the evaluation draws for a structure, under each rule and count."""

from __future__ import annotations

import numpy as np
import pytest

from sparselabel.core.errors import UserInputError
from sparselabel.propagation.evaluation import choose_anchors


@pytest.fixture
def structure():
    mask = np.zeros((30, 8, 8), bool)
    areas = {k: 1 + min(k - 5, 24 - k) for k in range(5, 25)}  # present on slices 5…24, largest in the middle
    for k, area in areas.items():
        mask[k].flat[:area] = True
    return mask


def test_anchors_lie_on_the_structure_and_spread_over_it(structure):
    present = set(np.flatnonzero(structure.any((1, 2))))
    descriptors = np.random.default_rng(0).normal(size=(30, 6))
    descriptors /= np.linalg.norm(descriptors, axis=1, keepdims=True)
    for rule in ("largest", "middle", "representative"):
        for count in (1, 2, 3):
            chosen = choose_anchors(structure, rule, descriptors, count)
            assert len(set(chosen)) == count and set(chosen) <= present and chosen == sorted(chosen)
    assert choose_anchors(structure, "largest") == [14]
    assert choose_anchors(structure, "middle", count=2) == [10, 20]


def test_more_slices_than_the_structure_has_draws_them_all_and_unknown_rules_are_refused(structure):
    assert len(choose_anchors(structure, "middle", count=50)) == 20
    with pytest.raises(UserInputError, match="anchor rule 'biggest'"):
        choose_anchors(structure, "biggest")
