"""Re-drawing propagated outlines on the edges of the volume, within a slice and across slices."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from sparselabel.core.metrics import dice
from sparselabel.propagation.baselines import CopyStepper
from sparselabel.propagation.one_slice import slice_checks
from sparselabel.propagation.outline_refinement import OutlineRefinement
from sparselabel.propagation.outline_refinement import refine_outlines as refine_stack
from sparselabel.propagation.walk import propagate


def disk(shape, centre, radius):
    rows, columns = np.ogrid[:shape[0], :shape[1]]
    return (rows - centre[0]) ** 2 + (columns - centre[1]) ** 2 <= radius ** 2


def noisy_slice(*organs, seed=0):
    """A slice with each (mask, intensity) organ on a 0.2 background, and a little noise."""
    image = np.full(organs[0][0].shape, 0.2, dtype=np.float32)
    for mask, intensity in organs:
        image[mask] = intensity
    return image + np.random.default_rng(seed).normal(0, 0.02, image.shape).astype(np.float32)


def refine_outlines(image, label, classes, margin, beta, prior):
    """One slice refined on its own: a stack of one."""
    return refine_stack(image[None], label[None], classes, margin, beta, prior)[0]


def one_hot(label, classes):
    return np.eye(classes, dtype=np.float32)[label].transpose(2, 0, 1)


@pytest.mark.parametrize(("centre", "radius"), [((32, 32), 12), ((34, 32), 14), ((33, 31), 13)],
                         ids=["two pixels too small", "two pixels off", "off and too small"])
def test_an_outline_copied_a_little_off_settles_on_the_edge(centre, radius):
    truth = disk((64, 64), (32, 32), 14)
    image = noisy_slice((truth, 0.7))
    copied = disk((64, 64), centre, radius).astype(np.int64)
    refined = refine_outlines(image, copied, 2, margin=3, beta=10.0, prior=1e-3)
    assert dice(copied == 1, truth) < 0.95
    assert dice(refined == 1, truth) > 0.99


def test_only_the_band_around_outlines_changes():
    truth = disk((64, 64), (32, 32), 14)
    image = noisy_slice((truth, 0.7))
    copied = disk((64, 64), (32, 32), 8).astype(np.int64)  # far too small: the edge lies beyond the band
    refined = refine_outlines(image, copied, 2, margin=3, beta=10.0, prior=1e-3)
    # It can grow by at most the band's width; the rest is the propagation's job, not the refinement's.
    assert (refined == 1).sum() <= disk((64, 64), (32, 32), 8 + 3).sum()
    assert (refined[copied == 1] == 1).sum() >= disk((64, 64), (32, 32), 8 - 3).sum()
    assert (refined == 1).sum() > (copied == 1).sum()


def test_two_touching_segments_each_find_their_own_edge():
    left, right = disk((64, 80), (32, 24), 14), disk((64, 80), (32, 52), 13)
    right &= ~left
    image = noisy_slice((left, 0.5), (right, 0.9))
    truth = left.astype(np.int64) + 2 * right
    copied = np.roll(truth, 2, axis=1)
    refined = refine_outlines(image, copied, 3, margin=3, beta=10.0, prior=1e-3)
    for value in (1, 2):
        assert dice(refined == value, truth == value) > 0.97 > dice(copied == value, truth == value) + 0.02


def test_on_a_flat_slice_outlines_stay_within_the_band():
    # No edge anywhere: nothing to settle on. The outline may move, but never beyond the band, and a band out of
    # every seed's reach is no error.
    image = np.full((40, 40), 0.5, dtype=np.float32)
    copied = disk((40, 40), (20, 20), 9).astype(np.int64)
    refined = refine_outlines(image, copied, 2, margin=3, beta=10.0, prior=1e-3)
    assert (disk((40, 40), (20, 20), 6) <= (refined == 1)).all()
    assert ((refined == 1) <= disk((40, 40), (20, 20), 12)).all()
    tiny = disk((40, 40), (20, 20), 2).astype(np.int64)  # thinner than the band: no pixel three deep
    assert (refine_outlines(image, tiny, 2, margin=3, beta=10.0, prior=1e-3) == 1).any()


def test_a_piece_thinner_than_the_band_keeps_its_shape():
    # An organ's tip, or a vessel: no pixel lies deeper than the band, yet the piece must not be lost.
    tip = disk((40, 40), (20, 20), 2) | disk((40, 40), (20, 26), 1)
    image = noisy_slice((tip, 0.7))
    refined = refine_outlines(image, tip.astype(np.int64), 2, margin=3, beta=10.0, prior=1e-3)
    assert dice(refined == 1, tip) > 0.95


def test_an_empty_slice_is_returned_untouched():
    label = np.zeros((30, 30), np.int64)
    assert OutlineRefinement()(np.random.default_rng(0).random((1, 30, 30)), label[None], 2)[0].sum() == 0


def test_propagated_slices_are_refined_but_not_the_drawn_one_nor_by_copy():
    assert slice_checks("copy") == {"anchor_weight": 0.0, "round_trip": 0.0, "verification": None, "refinement": None}
    assert slice_checks("raw", refine=False)["refinement"] is None
    truth = disk((64, 64), (32, 32), 14)
    volume = np.stack([noisy_slice((truth, 0.7), seed=s) for s in range(3)])
    drawn = np.roll(truth, 2, axis=0).astype(np.uint8)  # drawn a little off: kept as drawn all the same
    plain = propagate(volume, {1: drawn}, CopyStepper())
    refined = propagate(volume, {1: drawn}, CopyStepper(), **slice_checks("raw"))
    np.testing.assert_array_equal(refined.label[1], drawn)
    for target in (0, 2):
        assert dice(plain.label[target] == 1, truth) < 0.95
        assert dice(refined.label[target] == 1, truth) > 0.99


def test_an_outline_on_a_slice_with_a_faint_edge_follows_the_slices_above_and_below():
    # Motion or partial volume can blur an edge on one slice; the slices beside it still show where the structure
    # ends, and the walker steps between slices as well as within them.
    truth = disk((64, 64), (32, 32), 14)
    blurred = ndimage.gaussian_filter(np.where(truth, 0.7, 0.2), 3) + noisy_slice((truth, 0.2), seed=1) - 0.2
    volume = np.stack([noisy_slice((truth, 0.7), seed=0), blurred, noisy_slice((truth, 0.7), seed=2)])
    copied = np.stack([disk((64, 64), (32, 32), 11)] * 3).astype(np.int64)  # three pixels too small everywhere
    across = refine_stack(volume, copied, 2, margin=5, beta=10.0, prior=1e-3)
    alone = refine_outlines(volume[1], copied[1], 2, margin=5, beta=10.0, prior=1e-3)
    # Dice on the blurred slice: copied 0.76, refined on its own 0.82, refined across slices 0.87.
    assert dice(across[1] == 1, truth) > dice(alone == 1, truth) + 0.04
    assert dice(across[1] == 1, truth) > dice(copied[1] == 1, truth) + 0.1


def blurred_disks(radii):
    """A stack of disks of the given radii whose edges are blurred over a few pixels, as partial volume does."""
    return np.stack([ndimage.gaussian_filter(np.where(disk((64, 64), (32, 32), r), 0.7, 0.2), 1.5)
                     + noisy_slice((disk((64, 64), (32, 32), r), 0.2), seed=k) - 0.2
                     for k, r in enumerate(radii)]).astype(np.float32)


@pytest.mark.parametrize("wider", [1, 2], ids=["one pixel", "two pixels"])
def test_outlines_are_drawn_the_way_the_user_drew_the_drawn_slice(wider):
    # A user who takes in the blurred rim of an organ draws its outline a pixel or two outside the steepest edge. The
    # drawn slice shows it, and the refined outlines of the other slices follow suit.
    radii = [11, 12, 13, 14, 15]
    volume = blurred_disks(radii)
    as_drawn = np.stack([disk((64, 64), (32, 32), r + wider) for r in radii]).astype(np.int64)
    copied = np.stack([disk((64, 64), (32, 32), r - 1) for r in radii]).astype(np.int64)
    copied[2] = as_drawn[2]
    plain = refine_stack(volume, copied, 2, margin=5, beta=10.0, prior=1e-3)
    following = refine_stack(volume, copied, 2, margin=5, beta=10.0, prior=1e-3, drawn=[2])
    for k in (0, 1, 3, 4):
        # Dice against the user's way, per slice: one pixel wider 0.89–0.93 plain, 0.95–0.97 following; two pixels
        # wider 0.83–0.85 plain, 0.89–0.93 following.
        assert dice(following[k] == 1, as_drawn[k] == 1) > dice(plain[k] == 1, as_drawn[k] == 1) + 0.03


def test_propagation_redraws_outlines_the_way_the_drawn_slice_was_drawn():
    radii = [11, 12, 13, 14, 15]
    volume = blurred_disks(radii)
    as_drawn = np.stack([disk((64, 64), (32, 32), r + 2) for r in radii])  # two pixels outside the blurred edge
    anchors = {2: as_drawn[2].astype(np.uint8)}
    copied = propagate(volume, anchors, CopyStepper()).label
    followed = propagate(volume, anchors, CopyStepper(), refinement=OutlineRefinement()).label
    on_the_edge = refine_stack(volume, copied.astype(np.int64), 2, margin=5, beta=10.0, prior=1e-3)
    others = (0, 1, 3, 4)
    # Mean Dice against the user's way on the other slices: 0.93 followed, 0.87 refined on the steepest edge.
    assert (np.mean([dice(followed[k] == 1, as_drawn[k]) for k in others])
            > np.mean([dice(on_the_edge[k] == 1, as_drawn[k]) for k in others]) + 0.04)
    np.testing.assert_array_equal(followed[2], anchors[2])
