"""The built-in embedder tells the phantom cohort's groups apart and describes volumes too."""

from __future__ import annotations

import numpy as np
import pytest

from sparselabel.core import phantoms
from sparselabel.core.errors import UserInputError
from sparselabel.selection.embedders import get_embedder


def test_groups_are_closer_to_themselves_than_to_others():
    cohort = phantoms.chest_cohort(per_group=6, seed=2)
    vectors = get_embedder("filterbank").embed([c.image for c in cohort])
    assert vectors.shape[0] == len(cohort) and np.isfinite(vectors).all()
    groups = np.array([c.group for c in cohort])
    distances = np.sqrt(((vectors[:, None] - vectors[None]) ** 2).sum(-1))
    np.fill_diagonal(distances, np.inf)
    nearest_same = (groups[distances.argmin(1)] == groups).mean()
    assert nearest_same >= 0.9  # the nearest scan is nearly always one of the same group


def test_a_volume_becomes_one_vector_like_an_image():
    embedder = get_embedder("filterbank")
    image, _ = phantoms.abdomen_volume(seed=1, shape=(12, 48, 48))
    two_d = phantoms.chest_cohort(per_group=1)[0].image
    vectors = embedder.embed([image, two_d])
    assert vectors.shape == (2, embedder.embed([two_d]).shape[1])


def test_unknown_embedder_is_named():
    with pytest.raises(UserInputError, match="embedder 'dinov9': unknown; expected one of filterbank"):
        get_embedder("dinov9")
