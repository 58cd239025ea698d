"""The U-Net ActiveSeg trains: learns the phantom lungs from a few labelled scans, and says where it is unsure."""

from __future__ import annotations

import numpy as np
import pytest

from sparselabel.core import phantoms
from sparselabel.core.errors import CancelledError, UserInputError
from sparselabel.core.metrics import dice
from sparselabel.selection.acquisition import normalised_entropy
from sparselabel.selection.segmentation_model import SegmentationConfig, predict_probabilities, train_segmenter

TINY = SegmentationConfig(size=64, channels=(8, 16, 32), steps=150, batch=4, validate_every=50)


@pytest.fixture(scope="module")
def trained():
    cohort = phantoms.chest_cohort(per_group=3, groups=("normal", "opacity"), size=96, seed=4)
    train, held_out = cohort[:4], cohort[4:]
    result = train_segmenter([c.image for c in train], [c.label.array for c in train], TINY,
                             validation=([c.image for c in held_out], [c.label.array for c in held_out]))
    return result, held_out


def test_a_few_labelled_scans_teach_the_lungs(trained):
    result, held_out = trained
    assert len(result.validation_dice) == 3 and max(result.validation_dice) > 0.85
    for case, probabilities in zip(held_out, predict_probabilities(result, [c.image for c in held_out]), strict=True):
        assert probabilities.shape == (2, 96, 96)
        np.testing.assert_allclose(probabilities.sum(0), 1.0, atol=1e-5)
        assert dice(probabilities[1] > 0.5, case.label.array > 0) > 0.8


def test_unfamiliar_images_are_less_certain(trained):
    result, held_out = trained
    familiar = normalised_entropy(predict_probabilities(result, [held_out[0].image])[0])
    noise = held_out[0].image.with_array(np.random.default_rng(0).integers(0, 255, (96, 96)).astype(np.uint8))
    assert normalised_entropy(predict_probabilities(result, [noise])[0]) > familiar


def test_cancel_and_bad_input():
    case = phantoms.chest_cohort(per_group=1, groups=("normal",), size=64)[0]
    with pytest.raises(CancelledError):
        train_segmenter([case.image], [case.label.array], TINY, cancel=lambda: True)
    with pytest.raises(UserInputError, match="1 images and 0 labels"):
        train_segmenter([case.image], [], TINY)
    volume, label = phantoms.abdomen_volume(shape=(6, 32, 32))
    with pytest.raises(UserInputError, match="works on 2D images"):
        train_segmenter([volume], [label.array], TINY)
