"""Walking a volume from its drawn slices: order, blending, stopping, anchors, axes, cancel and bad input."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from sparselabel.core import phantoms
from sparselabel.core.errors import CancelledError, UserInputError
from sparselabel.propagation import walk
from sparselabel.propagation.baselines import CopyStepper
from sparselabel.propagation.walk import keep_largest_component, propagate


class OracleStepper:
    """Knows the true label of every slice: isolates the walk from the quality of the matcher."""

    name = "oracle"

    def __init__(self, truth: np.ndarray, values: list[int], axis: int = 0):
        self.truth = np.moveaxis(truth, axis, 0)
        self.values = values
        self.calls: list[tuple[int, int]] = []

    def prepare(self, volume):
        assert volume.shape == self.truth.shape

    def step(self, reference, target, probabilities):
        assert abs(reference - target) == 1  # always one slice at a time
        self.calls.append((reference, target))
        one_hot = np.zeros_like(probabilities)
        one_hot[0] = 1
        for index, value in enumerate(self.values, start=1):
            inside = self.truth[target] == value
            one_hot[index][inside], one_hot[0][inside] = 1, 0
        return one_hot


@pytest.fixture(scope="module")
def phantom():
    image, label = phantoms.abdomen_volume(seed=4, shape=(24, 56, 56))
    return image.array.astype(np.float32) / 1000, label.array


def test_perfect_steps_rebuild_the_structure_and_stop_where_it_ends(phantom):
    volume, label = phantom
    liver = (label == 1).astype(np.uint8)
    middle = int(np.flatnonzero(liver.any((1, 2))).mean())
    stepper = OracleStepper(liver, [1])
    result = propagate(volume, {middle: liver[middle]}, stepper)
    np.testing.assert_array_equal(result.label, liver)
    extent = np.flatnonzero(liver.any((1, 2)))
    # It walked one slice beyond each end of the organ, noticed it was gone, and went no further.
    targets = [t for _, t in stepper.calls]
    assert min(targets) == extent[0] - 1 and max(targets) == extent[-1] + 1


def test_a_slice_without_signal_holds_no_structure_and_is_not_crossed(phantom):
    # A series that ends on an empty slice (all zeros, as some scanners add), with the organ reaching into it. The
    # copy would carry the label on regardless; the walk ends there instead, and nothing beyond it is labelled.
    volume, label = phantom
    liver = (label == 1).astype(np.uint8)
    extent = np.flatnonzero(liver.any((1, 2)))
    volume = volume.copy()
    volume[extent[-1] - 2] = 0.0
    middle = int(extent.mean())
    result = propagate(volume, {middle: liver[middle]}, CopyStepper())
    assert result.label[middle:extent[-1] - 2].all(axis=0).sum() == liver[middle].sum()  # carried up to it
    assert not result.label[extent[-1] - 2:].any()
    assert result.reached[1][1] == extent[-1] - 3


def test_anchor_is_kept_exactly_as_drawn(phantom):
    volume, label = phantom
    liver = (label == 1).astype(np.uint8)
    middle = int(np.flatnonzero(liver.any((1, 2))).mean())
    drawn = liver[middle].copy()
    drawn[:, : drawn.shape[1] // 2] = 0  # the user drew something other than the "truth"
    result = propagate(volume, {middle: drawn}, OracleStepper(liver, [1]))
    np.testing.assert_array_equal(result.label[middle], drawn)


def test_several_segments_in_one_pass(phantom):
    volume, label = phantom
    both = np.where(np.isin(label, (1, 2)), label, 0).astype(np.uint8)
    spleen_slices = np.flatnonzero((label == 2).any((1, 2)))
    anchor = int(spleen_slices[len(spleen_slices) // 2])
    result = propagate(volume, {anchor: both[anchor]}, OracleStepper(both, [1, 2]))
    np.testing.assert_array_equal(result.label, both)
    assert set(result.reached) == {1, 2}


def test_another_axis(phantom):
    volume, label = phantom
    kidney = (label == 3).astype(np.uint8)
    columns = np.flatnonzero(kidney.any((0, 1)))
    anchor = int(columns[len(columns) // 2])
    result = propagate(volume, {anchor: kidney[:, :, anchor]}, OracleStepper(kidney, [1], axis=2), axis=2)
    np.testing.assert_array_equal(result.label, kidney)


# Disk radius per slice: narrowing from slice 15 to a waist at 8, widening again below it.
_WAIST = {4: 7, 5: 6, 6: 5, 7: 4, 8: 3, 9: 4, 10: 5, 11: 6, 12: 7, 13: 8, 14: 9, 15: 10, 16: 9, 17: 7, 18: 4}


def _disks(radii: dict[int, int], size: int = 32) -> np.ndarray:
    rows, columns = np.mgrid[:size, :size]
    label = np.zeros((max(radii) + 2, size, size), np.uint8)
    for k, radius in radii.items():
        label[k] = (rows - size // 2) ** 2 + (columns - size // 2) ** 2 <= radius ** 2
    return label


def test_a_label_that_grows_back_after_narrowing_has_walked_onto_a_neighbour():
    # The matcher follows the organ as it narrows (slices 15 → 8), then onto an adjacent look-alike that widens
    # again (7 → 4); the walk ends there. Towards the other end the organ narrows and vanishes as usual.
    followed = _disks(_WAIST)
    result = propagate(np.zeros(followed.shape, np.float32), {15: followed[15]}, OracleStepper(followed, [1]))
    organ = followed.copy()
    organ[:8] = 0
    np.testing.assert_array_equal(result.label, organ)


def test_between_drawn_slices_a_structure_may_narrow_and_widen_again():
    organ = _disks(_WAIST)
    result = propagate(np.zeros(organ.shape, np.float32), {4: organ[4], 15: organ[15]}, OracleStepper(organ, [1]))
    np.testing.assert_array_equal(result.label, organ)


def test_a_label_drawn_at_the_tip_grows_with_the_organ(phantom):
    volume, label = phantom
    liver = (label == 1).astype(np.uint8)
    tip = int(np.flatnonzero(liver.any((1, 2)))[0])
    result = propagate(volume, {tip: liver[tip]}, OracleStepper(liver, [1]))
    np.testing.assert_array_equal(result.label, liver)


class SelfMatchingStepper:
    """Knows the truth, but like a real matcher is unsure of a part of the structure left unlabelled on its
    reference: that part finds its best match in itself, unlabelled."""

    name = "self-matching"

    def __init__(self, truth: np.ndarray):
        self.truth = truth

    def prepare(self, volume):
        pass

    def step(self, reference, target, probabilities):
        inside = self.truth[target] > 0
        segment = np.where(inside, np.where(probabilities[1] > 0.5, 1.0, 0.45), 0.0).astype(np.float32)
        return np.stack([1 - segment, segment])


def test_a_part_missed_once_is_found_again_where_the_drawn_slice_vouches_for_it():
    # A square organ whose right part is missing on slice 6 only (a notch between two lobes). Copied from slice to
    # slice alone, the part stays missed from slice 7 on; the drawn slice, where it is labelled, brings it back.
    organ = np.zeros((14, 32, 32), np.uint8)
    organ[2:13, 8:25, 8:25] = 1
    organ[6, :, 20:25] = 0
    alone = propagate(np.zeros(organ.shape, np.float32), {4: organ[4]}, SelfMatchingStepper(organ))
    assert not alone.label[7:, :, 20:].any()
    helped = propagate(np.zeros(organ.shape, np.float32), {4: organ[4]}, SelfMatchingStepper(organ),
                       anchor_weight=0.3)
    np.testing.assert_array_equal(helped.label, organ)


class UnsureStepper(SelfMatchingStepper):
    """Surer than :class:`SelfMatchingStepper` that an unlabelled part is not the structure (0.2)."""

    def step(self, reference, target, probabilities):
        inside = self.truth[target] > 0
        segment = np.where(inside, np.where(probabilities[1] > 0.5, 1.0, 0.2), 0.0).astype(np.float32)
        return np.stack([1 - segment, segment])


class StrengthStepper(UnsureStepper):
    """Also says how strongly each pixel is matched: a part left unlabelled on its reference is matched there only
    weakly (it has changed), everything else strongly."""

    def matched_step(self, reference, target, probabilities):
        changed = (self.truth[target] > 0) & (probabilities[1] <= 0.5)
        strength = np.where(changed, 0.0, 4.0).astype(np.float32)
        return self.step(reference, target, probabilities), np.broadcast_to(strength, probabilities.shape)


def test_the_drawn_slice_speaks_louder_where_it_matches_better_than_the_slice_before():
    organ = np.zeros((14, 32, 32), np.uint8)
    organ[2:13, 8:25, 8:25] = 1
    organ[6, :, 20:25] = 0
    # A fixed say of 0.3 does not outweigh a step sure of the wrong answer: 0.7 × 0.2 + 0.3 < 0.5.
    fixed = propagate(np.zeros(organ.shape, np.float32), {4: organ[4]}, UnsureStepper(organ), anchor_weight=0.3)
    assert not fixed.label[7:, :, 20:].any()
    # Where the drawn slice matches the pixel far better than the slice before, its say rises towards 1.
    louder = propagate(np.zeros(organ.shape, np.float32), {4: organ[4]}, StrengthStepper(organ), anchor_weight=0.3)
    np.testing.assert_array_equal(louder.label, organ)


class LingeringStepper(SelfMatchingStepper):
    """Knows the truth, but like a real matcher is unsure of the tissue an organ has just left within 2 pixels of
    where it now lies (same intensity, no edge between them): there it gives 0.7 of what its reference held."""

    name = "lingering"

    def step(self, reference, target, probabilities):
        organ = self.truth[target] > 0
        near = ndimage.distance_transform_edt(~organ) <= 2 if organ.any() else organ
        segment = np.where(organ, 1.0, np.where(near, 0.7 * probabilities[1], 0.0)).astype(np.float32)
        return np.stack([1 - segment, segment])


def test_a_narrowing_segment_carries_its_doubt_and_lingers_less_where_the_organ_was():
    # A cone narrowing by a pixel per slice below the drawn slice. Made certain after every step, what the matcher
    # was unsure of counts as sure on the next slice, and the label lingers 2 pixels beyond the organ all the way
    # to its tip. Once the segment has narrowed, its doubt goes on with it: a pixel unsure twice is let go.
    cone = _disks({k: k - 2 for k in range(3, 13)})

    def lingering(result) -> list[int]:  # per slice below the drawn one: how far the label reaches beyond the organ
        return [int(ndimage.distance_transform_edt(~cone[k].astype(bool))[result.label[k] > 0].max())
                for k in range(3, 12)]

    certain = propagate(np.zeros(cone.shape, np.float32), {12: cone[12]}, LingeringStepper(cone), doubt_fraction=0)
    assert lingering(certain) == [2] * 8 + [1]
    doubting = propagate(np.zeros(cone.shape, np.float32), {12: cone[12]}, LingeringStepper(cone))
    assert lingering(doubting) == [1] * 6 + [2, 2, 1]  # from where it has narrowed below 0.9 of the drawn area
    assert not doubting.label[:3].any() and not doubting.label[13:].any()


class HesitantStepper(SelfMatchingStepper):
    """Knows the truth, sure of what its reference held for sure; unsure (0.6) of tissue new to the organ, and less
    sure still (0.8 of it) of what its reference held in doubt."""

    name = "hesitant"

    def step(self, reference, target, probabilities):
        held = probabilities[1]
        segment = np.where(held > 0.99, 1.0, np.where(held > 0, 0.8 * held, 0.6)) * (self.truth[target] > 0)
        return np.stack([1 - segment, segment]).astype(np.float32)


def test_a_segment_that_widens_again_after_narrowing_no_longer_carries_its_doubt():
    # Above the drawn slice the organ narrows for one slice, then widens (as a liver towards its dome): what it gains
    # there the matcher gives 0.6. Were the doubt still carried, that gain would count as unsure on the next slice and
    # be let go (0.8 × 0.6 < 0.5): the label would stay behind the widening organ.
    organ = _disks({2: 6, 3: 7, 4: 8, 5: 7, 6: 8, 7: 9, 8: 10, 9: 11, 10: 11})
    result = propagate(np.zeros(organ.shape, np.float32), {4: organ[4]}, HesitantStepper(organ))
    np.testing.assert_array_equal(result.label, organ)


def test_a_look_alike_coming_into_reach_as_a_separate_piece_is_left_out():
    # The matcher claims a separate look-alike (a kidney beside the spleen) from slice 9 on; it does not continue
    # the segment of the slice before, so the walk leaves it out and follows the organ alone.
    organ = _disks({k: 6 for k in range(2, 15)}, size=40)
    claimed = organ.copy()
    rows, columns = np.mgrid[:40, :40]
    claimed[9:15] |= ((rows - 20) ** 2 + (columns - 32) ** 2 <= 16).astype(np.uint8)
    result = propagate(np.zeros(organ.shape, np.float32), {5: organ[5]}, OracleStepper(claimed, [1]))
    np.testing.assert_array_equal(result.label, organ)
    # With the check switched off the look-alike is taken.
    unchecked = propagate(np.zeros(organ.shape, np.float32), {5: organ[5]}, OracleStepper(claimed, [1]),
                          continuity=0.0)
    np.testing.assert_array_equal(unchecked.label, claimed)


def test_a_look_alike_reached_through_a_narrow_strip_is_cut_off():
    # From slice 8 on the matcher runs from the organ (a disk of radius 12) along a 3-pixel strip onto a touching
    # look-alike: one piece with the organ, so only the neck rule can tell them apart.
    rows, columns = np.mgrid[:64, :72]
    disk = ((rows - 32) ** 2 + (columns - 30) ** 2 <= 144).astype(np.uint8)
    organ = np.stack([disk if 2 <= k < 18 else np.zeros_like(disk) for k in range(20)])
    claimed = organ.copy()
    look_alike = ((rows - 32) ** 2 + (columns - 60) ** 2 <= 49) | ((abs(rows - 32) <= 1) & (columns >= 40))
    claimed[8:18] |= look_alike.astype(np.uint8)
    result = propagate(np.zeros(organ.shape, np.float32), {5: organ[5]}, OracleStepper(claimed, [1]))
    assert not result.label[:, :, 46:].any()  # neither the look-alike nor most of the strip
    assert (result.label >= organ).all()  # the organ itself is whole
    # Without the rule the look-alike is taken with the organ.
    unchecked = propagate(np.zeros(organ.shape, np.float32), {5: organ[5]}, OracleStepper(claimed, [1]), neck=0.0)
    np.testing.assert_array_equal(unchecked.label, claimed)


def test_in_its_tail_a_segment_does_not_cross_an_edge_onto_a_touching_neighbour():
    # A bright organ narrows from a 24-pixel square (slices 14–17, drawn on 16) to a 15-pixel one (4–13). From
    # slice 10 down a same-intensity neighbour lies against its right side, behind a one-pixel dark line, and the
    # matcher claims part of it: one piece with the organ, its contact too wide for the neck rule.
    organ = np.zeros((20, 48, 80), np.uint8)
    organ[14:18, 12:36, 14:38] = 1
    organ[4:14, 17:32, 23:38] = 1
    image = np.where(organ > 0, 0.6, 0.2).astype(np.float32)
    image[4:11, 14:35, 39:] = 0.6
    image[4:11, 14:35, 38] = 0.0
    claimed = organ.copy()
    claimed[4:11, 14:35, 38:48] = 1
    result = propagate(image, {16: organ[16]}, OracleStepper(claimed, [1]))
    assert not result.label[:, :, 39:].any()  # the neighbour is left out (the one-pixel line is the refinement's)
    assert (result.label >= organ).all()  # and the organ followed to its end
    # Outside the tail (tail_fraction 0) the neighbour is taken.
    unchecked = propagate(image, {16: organ[16]}, OracleStepper(claimed, [1]), tail_fraction=0.0)
    np.testing.assert_array_equal(unchecked.label, claimed)


def test_in_its_tail_a_segment_still_moves_within_its_own_edges():
    # The narrowed organ's tip drifts 2 pixels per slice (an oblique organ): each slice gains a crescent inside
    # the organ's own edge, and keeps it.
    rows, columns = np.mgrid[:64, :80]
    organ = np.zeros((20, 64, 80), np.uint8)
    for k in range(4, 18):
        centre, radius = (12 + 2 * k, 7) if k < 14 else (30, 12)
        organ[k] = (rows - 32) ** 2 + (columns - centre) ** 2 <= radius ** 2
    image = np.where(organ > 0, 0.6, 0.2).astype(np.float32)
    result = propagate(image, {16: organ[16]}, OracleStepper(organ, [1]))
    np.testing.assert_array_equal(result.label, organ)


def test_in_its_tail_a_segment_reaches_little_beyond_where_it_lay_where_no_edge_parts_it_from_a_neighbour(
        monkeypatch):
    # The organ narrows as above; on slice 8 the matcher also claims a 12-pixel strip against its right side, of the
    # organ's own intensity, with no edge between them.
    organ = np.zeros((20, 48, 80), np.uint8)
    organ[14:18, 12:36, 14:38] = 1
    organ[4:14, 17:32, 23:38] = 1
    image = np.where(organ > 0, 0.6, 0.2).astype(np.float32)
    image[8, 17:32, 38:50] = 0.6
    claimed = organ.copy()
    claimed[8, 17:32, 38:50] = 1
    result = propagate(image, {16: organ[16]}, OracleStepper(claimed, [1]))
    assert not result.label[8, :, 40:].any()  # no more than 2 pixels of the strip
    assert (result.label >= organ).all()  # and the organ followed to its end
    # Were it free to reach as far as the walker goes, the strip would count as growth at the organ's end, and the
    # walk would stop there: the organ's last slices lost.
    monkeypatch.setattr(walk, "_TAIL_DRIFT", 100)
    unchecked = propagate(image, {16: organ[16]}, OracleStepper(claimed, [1]))
    assert not unchecked.label[4:9].any()


def test_a_piece_thin_all_through_is_still_followed():
    # Towards its end a thick disk splits into a small round lobe and a 3-pixel band: the band has no body to be
    # cut from, so it stays.
    rows, columns = np.mgrid[:64, :64]
    disk = ((rows - 32) ** 2 + (columns - 32) ** 2 <= 144).astype(np.uint8)
    band = (abs(rows - 23) <= 1) & (abs(columns - 32) <= 6)
    lobe = (rows - 38) ** 2 + (columns - 32) ** 2 <= 16
    tail = (band | lobe).astype(np.uint8)
    organ = np.stack([tail] * 3 + [disk] * 6 + [np.zeros_like(disk)])
    result = propagate(np.zeros(organ.shape, np.float32), {6: organ[6]}, OracleStepper(organ, [1]))
    np.testing.assert_array_equal(result.label, organ)


def test_a_structure_moving_fast_between_thick_slices_is_still_followed():
    # A small disk moving 5 pixels per slice overlaps its previous position by little, but it is the only piece.
    rows, columns = np.mgrid[:40, :64]
    moving = np.stack([((rows - 20) ** 2 + (columns - 6 - 5 * k) ** 2 <= 9).astype(np.uint8) for k in range(10)])
    result = propagate(np.zeros(moving.shape, np.float32), {0: moving[0]}, OracleStepper(moving, [1]))
    np.testing.assert_array_equal(result.label, moving)


def test_between_two_anchors_the_nearer_one_wins():
    volume = np.zeros((11, 8, 8), np.float32)
    first = np.zeros((8, 8), np.uint8)
    first[1:4, 1:4] = 1
    last = np.zeros((8, 8), np.uint8)
    last[4:7, 4:7] = 1
    result = propagate(volume, {0: first, 10: last}, CopyStepper())
    for k in range(1, 5):
        np.testing.assert_array_equal(result.label[k], first)
    for k in range(6, 10):
        np.testing.assert_array_equal(result.label[k], last)


def test_cancel_stops_and_returns_nothing(phantom):
    volume, label = phantom
    liver = (label == 1).astype(np.uint8)
    middle = int(np.flatnonzero(liver.any((1, 2))).mean())
    calls = []

    def cancel():
        calls.append(1)
        return len(calls) > 3

    with pytest.raises(CancelledError):
        propagate(volume, {middle: liver[middle]}, CopyStepper(), cancel=cancel)


def test_progress_reaches_the_end(phantom):
    volume, label = phantom
    seen = []
    propagate(volume, {5: (label[5] == 1).astype(np.uint8)}, CopyStepper(), progress=lambda f, m: seen.append(f))
    assert seen[-1] == pytest.approx(1.0) and seen == sorted(seen)


def test_bad_anchors_are_explained(phantom):
    volume, label = phantom
    with pytest.raises(UserInputError, match="no slice is labelled"):
        propagate(volume, {}, CopyStepper())
    with pytest.raises(UserInputError, match="labelled slices are empty"):
        propagate(volume, {3: np.zeros(volume.shape[1:], np.uint8)}, CopyStepper())
    every = {k: (label[k] == 1).astype(np.uint8) for k in range(len(volume))}
    with pytest.raises(UserInputError, match="every slice is already labelled"):
        propagate(volume, every, CopyStepper())
    with pytest.raises(UserInputError, match="needs a 3D volume"):
        propagate(volume[0], {0: label[0, 0]}, CopyStepper())
    with pytest.raises(UserInputError, match="outside the volume"):
        propagate(volume, {99: label[0]}, CopyStepper())


def test_largest_component_drops_islands_but_never_anchors():
    label = np.zeros((6, 10, 10), np.uint8)
    label[1:5, 2:6, 2:6] = 1
    label[3, 8, 8] = 1  # a stray island
    anchor = np.zeros((10, 10), np.uint8)
    anchor[0, 0] = 1  # the user's own island on the anchor slice
    cleaned = keep_largest_component(label, {0: anchor})
    assert cleaned[3, 8, 8] == 0 and cleaned[2, 3, 3] == 1
    np.testing.assert_array_equal(cleaned[0], anchor)


def test_a_segment_drawn_in_two_parts_keeps_both_through_the_volume():
    label = np.zeros((6, 12, 12), np.uint8)
    label[:, 1:5, 1:5] = 1  # the larger part
    label[:, 8:10, 8:10] = 1  # a second, smaller part of the same segment, drawn on the anchor slice too
    label[2, 6, 10] = 1  # a stray island nobody drew
    anchor = label[3].copy()
    anchor[6, 10] = 0
    cleaned = keep_largest_component(label, {3: anchor})
    assert cleaned[:, 8:10, 8:10].all() and cleaned[:, 1:5, 1:5].all()
    assert cleaned[2, 6, 10] == 0
