"""Metrics on shapes whose answer is known analytically, with anisotropic spacing."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sparselabel.core.metrics import assd, dice, hd95, mean_std, ravd, segmentation_metrics

SPACING = (0.7, 0.9, 5.0)  # (i, j, k) mm: thick slices, like abdominal MR
SHAPE = (40, 200, 160)  # [k, j, i]


def sphere(radius_mm: float, centre_mm=(100.0, 90.0, 70.0)) -> np.ndarray:
    k, j, i = np.ogrid[: SHAPE[0], : SHAPE[1], : SHAPE[2]]
    return ((k * SPACING[2] - centre_mm[0]) ** 2 + (j * SPACING[1] - centre_mm[1]) ** 2
            + (i * SPACING[0] - centre_mm[2]) ** 2) <= radius_mm**2


@pytest.fixture(scope="module")
def spheres():
    return sphere(40.0), sphere(30.0)


def test_concentric_spheres(spheres):
    big, small = spheres
    # Dice of concentric spheres: 2 r³ / (R³ + r³); volumes in the ratio (R/r)³.
    assert dice(big, small) == pytest.approx(2 * 30**3 / (40**3 + 30**3), abs=0.01)
    assert ravd(big, small) == pytest.approx((40**3 - 30**3) / 30**3 * 100, rel=0.02)
    # Every surface point of one sphere is 10 mm from the other: HD95 and ASSD are 10 mm up to discretisation
    # (a 5 mm slice spacing blurs the poles).
    assert hd95(big, small, SPACING) == pytest.approx(10.0, abs=1.0)
    assert assd(big, small, SPACING) == pytest.approx(10.0, abs=1.5)


def test_spacing_is_applied_per_axis():
    box = np.zeros(SHAPE, dtype=bool)
    box[10:20, 50:100, 40:90] = True
    along_k = np.roll(box, 2, axis=0)  # two 5 mm slices
    along_i = np.roll(box, 2, axis=2)  # two 0.7 mm columns
    assert hd95(box, along_k, SPACING) == pytest.approx(10.0)
    assert hd95(box, along_i, SPACING) == pytest.approx(1.4)
    assert dice(box, along_k) == pytest.approx(0.8)
    assert ravd(box, along_k) == 0.0


def test_two_dimensional_masks():
    square = np.zeros((64, 64), dtype=bool)
    square[10:30, 10:30] = True
    moved = np.roll(square, 5, axis=1)
    assert hd95(square, moved, (0.5, 2.0)) == pytest.approx(2.5)  # 5 columns × 0.5 mm


def test_empty_masks_follow_the_challenge_convention():
    empty = np.zeros((8, 8, 8), dtype=bool)
    some = empty.copy()
    some[2:4, 2:4, 2:4] = True
    assert segmentation_metrics(empty, empty, (1, 1, 1)) == {"dice": 1.0, "hd95": 0.0, "assd": 0.0, "ravd": 0.0}
    missed = segmentation_metrics(empty, some, (1, 1, 1))
    assert missed["dice"] == 0.0 and math.isinf(missed["hd95"]) and math.isinf(missed["assd"])
    assert ravd(empty, some) == 100.0 and math.isinf(ravd(some, empty))


def test_mismatched_inputs_are_refused():
    with pytest.raises(ValueError, match="shape"):
        dice(np.zeros((3, 3)), np.zeros((3, 4)))
    with pytest.raises(ValueError, match="spacing"):
        hd95(np.ones((3, 3, 3)), np.ones((3, 3, 3)), (1.0, 1.0))


def test_summary_counts_failures_instead_of_averaging_them():
    assert mean_std([0.8, 0.9, math.inf]) == {"mean": pytest.approx(0.85), "std": pytest.approx(0.05),
                                              "failures": 1}
    assert mean_std([1.0, 3.0]) == {"mean": 2.0, "std": 1.0}


@pytest.mark.parametrize("spacing", [(0.7, 0.7, 5.0), (1.0, 2.0, 0.5)])
def test_the_single_surface_pass_gives_monais_hd95_and_assd(spacing):
    """segmentation_metrics computes the surface distances once; the values are those of the separate calls."""
    rng = np.random.default_rng(3)
    from scipy import ndimage

    for _ in range(3):
        reference = ndimage.binary_dilation(rng.random((12, 40, 40)) > 0.995, iterations=4)
        prediction = ndimage.binary_dilation(reference, iterations=1) ^ (rng.random(reference.shape) > 0.97)
        both = segmentation_metrics(prediction, reference, spacing)
        assert both["hd95"] == pytest.approx(hd95(prediction, reference, spacing), rel=1e-6)
        assert both["assd"] == pytest.approx(assd(prediction, reference, spacing), rel=1e-6)
