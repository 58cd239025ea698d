"""Intensity windows: the percentile window of a volume, and the window narrowed to what the user drew."""

from __future__ import annotations

import numpy as np
import pytest

from sparselabel.core import phantoms
from sparselabel.core.intensity import apply_window, normalise, structure_window
from sparselabel.core.metrics import dice
from sparselabel.propagation.one_slice import PropagationOptions, propagate_label


@pytest.fixture(scope="module")
def phantom():
    return phantoms.abdomen_volume(seed=7, shape=(28, 80, 80), spacing=(2.0, 2.0, 5.0))


def _ct_like(image):
    """The phantom as CT shows it: the body's intensities squeezed into an eighth of the range (soft tissue among
    air at −1000 HU and bone up to +1500), with a strip of bone behind the body."""
    array = image.array.astype(np.float32)
    body = array > 100
    squeezed = np.where(body, -100 + 300 * array / array[body].max(), -1000.0)
    squeezed[:, -6:, 25:55] = 1500.0
    return image.with_array(squeezed.astype(np.int16))


def _liver_drawn_on_one_slice(label):
    mask = (label.array == 1).astype(np.uint8)
    present = np.flatnonzero(mask.any((1, 2)))
    anchor = int(present[len(present) // 2])
    drawn = np.zeros_like(mask)
    drawn[anchor] = mask[anchor]
    return mask, drawn


def test_window_spans_what_was_drawn_and_its_contrast():
    volume = np.full((3, 20, 20), 0.5, dtype=np.float32)
    volume[1, :10] = np.linspace(0.499, 0.501, 200).reshape(10, 20)  # a structure with little texture
    volume[1, 10:] = np.linspace(0.28, 0.32, 200).reshape(10, 20)  # one with much
    drawn = np.zeros((20, 20), dtype=np.uint8)
    low, high = structure_window(volume, {1: drawn})
    assert (low, high) == (0.0, 1.0)  # nothing drawn: the window stays
    drawn[:10] = 1
    low, high = structure_window(volume, {1: drawn})
    assert low == pytest.approx(0.45) and high == pytest.approx(0.55)  # never narrower than a tenth of the range
    drawn[10:] = 2
    low, high = structure_window(volume, {1: drawn})
    assert low == pytest.approx(0.3 - 15 * 1.4826 * 0.01, abs=3e-3) and high == pytest.approx(0.55)  # the union
    volume[1, 10:] = np.linspace(0.1, 0.5, 200).reshape(10, 20)
    assert structure_window(volume, {1: drawn})[0] == 0.0  # inside [0, 1]
    ramp = np.array([0.4, 0.45, 0.5, 0.55, 0.6], dtype=np.float32)
    np.testing.assert_allclose(apply_window(ramp, (0.45, 0.55)), [0, 0, 0.5, 1, 1], atol=1e-6)
    assert apply_window(ramp, (0.0, 1.0)) is ramp


def test_a_ct_like_volume_propagates_as_well_as_an_mr_like_one(phantom, monkeypatch):
    image, label = phantom
    mask, drawn = _liver_drawn_on_one_slice(label)
    options = PropagationOptions(method="raw")
    ct = _ct_like(image)
    soft_tissue = normalise(ct.array)[ct.array > -1000]
    assert np.ptp(soft_tissue[soft_tissue < 0.9]) < 0.2  # the percentile window leaves the body little contrast
    mr_dice = dice(propagate_label(image, label.with_array(drawn), options)[0].array > 0, mask)
    ct_dice = dice(propagate_label(ct, label.with_array(drawn), options)[0].array > 0, mask)
    assert ct_dice >= 0.9 and ct_dice >= mr_dice - 0.03
    monkeypatch.setattr("sparselabel.propagation.one_slice.structure_window", lambda volume, drawn: (0.0, 1.0))
    unwindowed = dice(propagate_label(ct, label.with_array(drawn), options)[0].array > 0, mask)
    assert unwindowed < ct_dice - 0.05  # what the window is for
