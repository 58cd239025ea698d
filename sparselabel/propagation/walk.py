"""Slice-by-slice propagation of drawn (anchor) slices through a volume, whatever moves the label between slices.

A *stepper* moves class probabilities from one slice to the next (the reconstruction network, or a baseline).
:func:`propagate` walks from every anchor in both directions, along any axis, several segments at once; it returns the
anchors exactly as drawn, may have the outlines re-drawn once walked (:mod:`.outline_refinement`) and walks large
slices on blocks (:mod:`.matching_grid`). The rules on each step, and why (see :func:`propagate` for their arguments):

* the drawn slice's label copied onto the target is blended in: a part missed once is otherwise never found again;
* what a step's matches do not come back to goes to background: a neighbour entering the slice has no counterpart;
* between two anchors the nearer one counts more: it knows more of the slices near it;
* a segment that vanishes, or grows back after narrowing, stops: growth at an organ's end is a walk onto a neighbour;
* a slice of one value throughout ends the walk: it holds no structure, yet a matcher would copy onto it;
* in its tail a segment gains only near where it lay and within its edges: a narrowing end lies within the slice before;
* a narrowing segment goes on from the step's probabilities: a pixel the matcher doubts twice is let go;
* a piece must continue its segment on the slice before and not hang on by a neck: a label does not jump or leak.

Measurements: docs/OneSliceSeg-measurements.md, "The drawn slice's say" to "Necks".
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
from scipy import ndimage

from ..core.errors import CancelledError, UserInputError
from .matching_grid import coarsen, expand, grid_factor
from .random_walker import random_walker

# The random walker that judges what a segment in its tail gains: edge weight, and its pull towards the matched label.
_GAIN_BETA = 10.0
_GAIN_PRIOR = 0.01
# How far (pixels) a segment in its tail may reach beyond where it lay on the slice before: an oblique tip drifts.
_TAIL_DRIFT = 2

Progress = Callable[[float, str], None]
Cancel = Callable[[], bool]


class Stepper(Protocol):
    """Moves class probabilities from one slice to another of the same volume. A matcher may also offer
    ``matched_step(reference, target, probabilities)``: the step and, per class and pixel of ``target``, how strongly
    it is matched (:mod:`.window_attention`), and ``round_trip_error(reference, target)``: per pixel of ``target``,
    how far its matches come back (see :func:`propagate`)."""

    name: str

    def prepare(self, volume: np.ndarray) -> None:
        """Called once with the normalised volume ``[slices, rows, columns]`` (slice axis first) before any step."""

    def step(self, reference: int, target: int, probabilities: np.ndarray) -> np.ndarray:
        """``probabilities`` ``[classes, rows, columns]`` on slice ``reference`` → the same on slice ``target``."""


@dataclass
class PropagationResult:
    label: np.ndarray  # the propagated label volume, in the input's axis order and label values
    seconds: float
    steps: int
    reached: dict[int, tuple[int, int]] = field(default_factory=dict)  # value → first and last slice with it


def _one_hot(label: np.ndarray, values: list[int]) -> np.ndarray:
    classes = np.zeros((len(values) + 1, *label.shape), dtype=np.float32)
    classes[0] = 1.0
    for index, value in enumerate(values, start=1):
        inside = label == value
        classes[index][inside] = 1.0
        classes[0][inside] = 0.0
    return classes


@dataclass
class _Walk:
    """One walk from an anchor in one direction: which segments still travel, where they lay on the slice before,
    and the smallest area each met. ``open_end``: the walk heads beyond the outermost drawn slices, where the
    structure ends (between two drawn slices it is known to go on, narrowing and widening as it may)."""

    anchor_area: np.ndarray  # per class, on the anchor
    previous: np.ndarray  # the winning class per pixel on the slice before (first the anchor)
    stop_fraction: float
    tail_fraction: float
    regrowth: float
    continuity: float
    neck: float
    doubt_fraction: float
    open_end: bool
    alive: np.ndarray = field(init=False)
    area: np.ndarray = field(init=False)  # per class, on the slice walked last (first the anchor)
    smallest: np.ndarray = field(init=False)
    neck_radius: dict[int, float] = field(init=False)  # per class: half the narrowest strip a segment may run through

    def __post_init__(self):
        self.alive = self.anchor_area > 0
        self.alive[0] = True
        self.area = self.anchor_area.copy()
        self.smallest = self.anchor_area.copy()
        self.neck_radius = {int(value): self.neck * float(ndimage.distance_transform_edt(self.previous == value).max())
                            for value in np.unique(self.previous) if value != 0}

    def in_tail(self) -> np.ndarray:
        """Per class: has the segment narrowed below ``tail_fraction`` of its anchor area on this walk (only beyond
        the outermost drawn slices)?"""
        return self.open_end & (self.smallest < self.tail_fraction * self.anchor_area)

    def narrowing(self) -> np.ndarray:
        """Per class: is the segment narrower than ``doubt_fraction`` of its anchor area on the slice walked last
        (only beyond the outermost drawn slices; never the background)? Such a segment carries its doubt to the next
        step (once it has widened again, no longer): made certain, a pixel the matcher was unsure of would count as
        sure on the next slice, and the label would linger where a retreating organ was."""
        narrowing = self.open_end & (self.area < self.doubt_fraction * self.anchor_area)
        narrowing[0] = False
        return narrowing

    def steady(self) -> np.ndarray:
        """Per class: is the segment still travelling and not yet in its tail (never the background)? Only such a
        segment hears from the drawn slice: a narrowing end is smaller than the drawn outline, whose copy would keep it
        going onto its neighbours."""
        steady = self.alive & ~self.in_tail()
        steady[0] = False
        return steady

    def recall(self, probabilities: np.ndarray, from_anchor: np.ndarray, weight: float | np.ndarray) -> np.ndarray:
        """The step's ``probabilities`` blended, with ``weight`` (per class and pixel, or one for all), with the drawn
        slice's label copied straight onto the target, for the steady segments (see the module's description)."""
        steady = self.steady()
        weight = np.broadcast_to(np.asarray(weight, dtype=np.float32), probabilities.shape)[steady]
        blended = probabilities.copy()
        blended[steady] = (1 - weight) * probabilities[steady] + weight * from_anchor[steady]
        blended[0] = np.clip(1.0 - blended[1:].sum(0), 0.0, 1.0)
        return blended

    def sharpen(self, probabilities: np.ndarray, image: np.ndarray) -> np.ndarray:
        """The argmax on the slice ``image`` without what a segment in its tail gained across an edge, what ran
        through a neck or jumped, and with segments that vanished or grew back switched off for good: one-hot, but
        where a narrowing segment wins a pixel the step's own probabilities, so that its doubt goes on with it."""
        chosen = probabilities.argmax(0)
        winner = chosen.copy()
        in_tail = self.in_tail()
        for value in np.flatnonzero(self.alive & in_tail):
            if value != 0:
                _keep_reached_gain(winner, value, self.previous == value, image)
        for value, radius in self.neck_radius.items():
            segment = winner == value
            winner[segment & ~_without_necks(segment, radius)] = 0
        winner = _continuing_pieces(winner, self.previous, self.continuity)
        area = np.bincount(winner.ravel(), minlength=len(probabilities)).astype(float)
        vanished = area < np.maximum(self.stop_fraction * self.anchor_area, 1.0)
        grew_back = in_tail & (area > (1 + self.regrowth) * self.smallest)
        self.alive = self.alive & ~vanished & ~grew_back
        self.alive[0] = True
        self.area = area
        self.smallest = np.minimum(self.smallest, area)
        winner[~self.alive[winner]] = 0
        self.previous = winner
        sharpened = np.eye(len(probabilities), dtype=np.float32)[winner].transpose(2, 0, 1)
        doubted = self.narrowing()[winner] & (chosen == winner)
        if doubted.any():
            kept = np.clip(probabilities[:, doubted], 0.0, None)
            sharpened[:, doubted] = kept / np.maximum(kept.sum(0), 1e-6)
        return sharpened


def _matched_step(stepper: Stepper, reference: int, target: int, probabilities: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray | None]:
    """The step, and how strongly each pixel is matched where the stepper tells it (else ``None``)."""
    if hasattr(stepper, "matched_step"):
        return stepper.matched_step(reference, target, probabilities)
    return stepper.step(reference, target, probabilities), None


def _say(least: float, lead: np.ndarray) -> np.ndarray:
    """The drawn slice's say per class and pixel: ``least``, or more where its matches lead the slice before's by
    ``lead`` (match strengths, :mod:`.window_attention`): the logistic of the lead, half where both match alike."""
    return np.maximum(least, 1.0 / (1.0 + np.exp(-np.clip(lead, -50.0, 50.0)))).astype(np.float32)


def _without(probabilities: np.ndarray, doubt: np.ndarray) -> np.ndarray:
    """``probabilities`` with every segment moved to background where the step's matches are in ``doubt``."""
    kept = probabilities.copy()
    kept[1:, doubt] = 0.0
    kept[0, doubt] = 1.0
    return kept


def _keep_reached_gain(winner: np.ndarray, value: int, before: np.ndarray, image: np.ndarray) -> None:
    """Move to background (in place) what segment ``value`` of ``winner`` gained beyond ``before`` (where it lay on
    the slice before): all of it farther than ``_TAIL_DRIFT`` pixels, and the rest unless a random walker from what
    it kept reaches it before it reaches the background."""
    winner[(winner == value) & ~ndimage.binary_dilation(before, iterations=_TAIL_DRIFT)] = 0
    segment = winner == value
    kept = segment & before
    if not kept.any() or not (segment & ~before).any():
        return
    seeds = np.where(segment, -1, 0)
    seeds[kept] = 1
    variance = float(image[ndimage.binary_dilation(segment, iterations=3)].var()) + 1e-6
    reached = random_walker(image, seeds, 2, _GAIN_BETA, variance, segment.astype(np.int64), _GAIN_PRIOR)
    winner[segment & (reached == 0)] = 0


def _without_necks(mask: np.ndarray, radius: float) -> np.ndarray:
    """``mask`` without the strips narrower than ``2 × radius`` that join parts of a piece to its body (the pixels
    farther than ``radius`` from the mask's opening by a disk of that radius); pieces thin all through stay whole."""
    if radius < 1 or not mask.any():
        return mask
    # Every distance needed is found inside the mask's bounding box and a one-pixel margin (the opening lies inside
    # the mask): work there. The image's own edge is no margin, as without the crop.
    rows, columns = (np.flatnonzero(mask.any(axis)) for axis in (1, 0))
    box = (slice(max(rows[0] - 1, 0), rows[-1] + 2), slice(max(columns[0] - 1, 0), columns[-1] + 2))
    inside = mask[box]
    body = ndimage.distance_transform_edt(inside) > radius
    if not body.any():
        return mask
    opened = ndimage.distance_transform_edt(~body) <= radius
    kept = inside & (ndimage.distance_transform_edt(~opened) <= radius)
    pieces, count = ndimage.label(inside)
    has_body = np.zeros(count + 1, dtype=bool)
    has_body[np.unique(pieces[body])] = True
    has_body[0] = True
    result = np.zeros_like(mask)
    result[box] = kept | (inside & ~has_body[pieces])
    return result


def _continuing_pieces(winner: np.ndarray, previous: np.ndarray, continuity: float) -> np.ndarray:
    """``winner`` with the pieces that do not continue their segment from ``previous`` moved to background: a piece
    keeps ``continuity`` of its area on the segment there, or is the one that overlaps it most (a structure moving
    fast between thick slices is still followed)."""
    kept = winner.copy()
    for value in np.unique(winner[winner > 0]):
        pieces, count = ndimage.label(winner == value)
        indices = np.arange(1, count + 1)
        on_previous = ndimage.sum_labels(previous == value, pieces, indices)
        keep = on_previous >= continuity * np.bincount(pieces.ravel(), minlength=count + 1)[1:]
        if on_previous.max() > 0:
            keep[on_previous.argmax()] = True
        kept[np.isin(pieces, indices[~keep])] = 0
    return kept


def check_anchors(shape: tuple[int, ...], anchors: Mapping[int, np.ndarray], axis: int) -> list[int]:
    """Validate anchor slices; returns the non-zero label values they carry (sorted)."""
    if len(shape) != 3:
        raise UserInputError(f"propagation needs a 3D volume; got an image of size {shape}")
    if not 0 <= axis < 3:
        raise UserInputError(f"axis must be 0, 1 or 2 (array axes k, j, i); got {axis}")
    if not anchors:
        raise UserInputError("no slice is labelled; paint the structure on at least one slice")
    plane = tuple(s for a, s in enumerate(shape) if a != axis)
    for index, label in anchors.items():
        if not 0 <= index < shape[axis]:
            raise UserInputError(f"anchor slice {index} is outside the volume (0…{shape[axis] - 1} along axis {axis})")
        if label.shape != plane:
            raise UserInputError(f"anchor slice {index} has size {label.shape}; expected {plane}")
    if len(anchors) == shape[axis]:
        raise UserInputError("every slice is already labelled; there is nothing to propagate")
    values = sorted({int(v) for label in anchors.values() for v in np.unique(label) if v != 0})
    if not values:
        raise UserInputError("the labelled slices are empty; paint the structure on at least one slice")
    return values


def propagate(volume: np.ndarray, anchors: Mapping[int, np.ndarray], stepper: Stepper, axis: int = 0,
              stop_fraction: float = 0.02, tail_fraction: float = 0.6, regrowth: float = 0.2, continuity: float = 0.5,
              neck: float = 0.2, doubt_fraction: float = 0.9, anchor_weight: float = 0.0, round_trip: float = 0.0,
              verification=None, refinement=None, grid: int | None = None, progress: Progress | None = None,
              cancel: Cancel | None = None) -> PropagationResult:
    """Propagate the labels of ``anchors`` (slice index → label slice) through ``volume`` (normalised to [0, 1]).

    ``axis`` is the array axis the slices are taken along (0 = k, the acquisition slices). A slice between two
    anchors gets both walks' predictions, each weighted by its closeness. In each direction a segment stops where its
    area falls below ``stop_fraction`` of its anchor area, or, once below ``tail_fraction`` of it (its tail), where it
    exceeds the smallest area met on the walk by more than ``regrowth``; in its tail it keeps what it gains only within
    ``_TAIL_DRIFT`` pixels of the slice before and where a random walker from what it kept reaches first. A segment
    narrower than ``doubt_fraction`` of its anchor area goes on from the step's probabilities rather than from
    certainty (0: never). Tail, regrowth and doubt apply only beyond the outermost anchors. A 2D piece of a segment is
    kept only if ``continuity`` of its area lies on the segment on the slice before, or if it overlaps it most; a
    strip narrower than ``neck`` × the segment's thickness on the anchor (twice its largest inscribed radius) cuts
    off what lies beyond it. A slice of one value throughout ends the walk. ``anchor_weight`` blends each step's
    result, for the segments not in their tail, with the anchor's label copied straight onto the target slice (at
    least that much, more where a stepper's ``matched_step`` says the anchor matches better than the slice before);
    ``round_trip`` (in spreads; 0: not checked) moves to background what a step's matches do not come back to, and
    needs a stepper with ``round_trip_error(reference, target)`` (see :mod:`.mutual_matches`).
    ``verification`` checks each step's result (see :mod:`.verification`); ``refinement`` re-draws the outlines of
    every propagated slice once the walk is done, told which slices are drawn (see :mod:`.outline_refinement`). The
    walk matches ``grid`` × ``grid`` blocks of pixels (by default as :func:`.matching_grid.grid_factor` says for the
    slices' size), and its result is brought back to full resolution before the refinement (see
    :mod:`.matching_grid`). Raises :class:`CancelledError` when ``cancel()`` turns true; nothing is returned then.
    """
    values = check_anchors(volume.shape, anchors, axis)
    start = time.perf_counter()
    moved = np.moveaxis(np.asarray(volume, dtype=np.float32), axis, 0)
    count = moved.shape[0]
    order = sorted(anchors)
    grid = grid or grid_factor(moved.shape[1:])
    walked = coarsen(moved, grid)  # the slices the walk matches
    blank = _blank_slices(moved)
    stepper.prepare(walked)
    if verification is not None:
        verification.prepare(walked)
    # Per slice: weighted sum of the predictions that reached it.
    blended = np.zeros((count, len(values) + 1, *walked.shape[1:]), dtype=np.float32)
    total = sum(_span(order, i, count) for i in range(len(order)))
    done = 0
    for position, anchor in enumerate(order):
        start_label = coarsen(_one_hot(np.asarray(anchors[anchor]), values), grid)
        anchor_area = start_label.reshape(len(start_label), -1).sum(1)
        for direction in (-1, 1):
            neighbour = position + direction
            towards_anchor = 0 <= neighbour < len(order)
            limit = order[neighbour] if towards_anchor else (-1 if direction < 0 else count)
            walk = _Walk(anchor_area, start_label.argmax(0), stop_fraction, tail_fraction, regrowth, continuity, neck,
                         doubt_fraction, open_end=not towards_anchor)
            current = start_label
            if verification is not None:
                verification.start(anchor, start_label)
            for target in range(anchor + direction, limit, direction):
                if cancel is not None and cancel():
                    raise CancelledError("propagation cancelled; nothing was changed")
                distance = abs(target - anchor)
                span = abs(limit - anchor) if 0 <= limit < count else None
                # Between two anchors the nearer one counts more; beyond the outermost anchor only one voice.
                weight = 1.0 if span is None else (span - distance) / span
                if blank[target]:  # no structure there, and none followed across it
                    walk.alive[1:] = False
                if walk.alive[1:].any():
                    probabilities, near = _matched_step(stepper, target - direction, target, current)
                    if anchor_weight > 0 and target - direction != anchor and walk.steady().any():
                        from_anchor, far = _matched_step(stepper, anchor, target, start_label)
                        say = anchor_weight if near is None else _say(anchor_weight, far - near)
                        probabilities = walk.recall(probabilities, from_anchor, say)
                    if round_trip > 0:
                        probabilities = _without(probabilities,
                                                 stepper.round_trip_error(target - direction, target) > round_trip)
                    if verification is not None:
                        probabilities = verification(target, probabilities)
                    current = walk.sharpen(probabilities, walked[target])
                else:
                    current = _one_hot(np.zeros(walked.shape[1:], np.uint8), values)
                blended[target] += weight * current
                done += 1
                if progress is not None:
                    progress(done / max(total, 1), f"{stepper.name}: slice {target + 1} of {count}")
    # Class indices at full resolution; the drawn slices next (the refinement moves their outlines too).
    winners = np.stack([expand(probabilities, grid, moved.shape[1:]).argmax(0) for probabilities in blended])
    for anchor in order:
        winners[anchor] = _one_hot(np.asarray(anchors[anchor]), values).argmax(0)
    if refinement is not None:
        winners = refinement(moved, winners, len(values) + 1, drawn=order)
    lookup = np.array([0, *values])
    label = lookup[winners].astype(np.result_type(np.uint8, *[np.asarray(a).dtype for a in anchors.values()]))
    for anchor in order:  # returned exactly as drawn
        label[anchor] = anchors[anchor]
    label = np.moveaxis(label, 0, axis)
    reached = {}
    for value in values:
        present = np.flatnonzero(np.moveaxis(label == value, axis, 0).reshape(count, -1).any(1))
        if present.size:
            reached[value] = (int(present[0]), int(present[-1]))
    return PropagationResult(label, time.perf_counter() - start, done, reached)


def _blank_slices(volume: np.ndarray) -> np.ndarray:
    """Per slice (axis 0): does it hold no signal at all — one value throughout, where the volume has more (the
    empty slice a scanner may add at the end of a series)?"""
    flat = volume.reshape(len(volume), -1)
    blank = flat.min(1) == flat.max(1)
    return blank if not blank.all() else np.zeros_like(blank)


def _span(order: list[int], position: int, count: int) -> int:
    below = order[position - 1] if position > 0 else -1
    above = order[position + 1] if position + 1 < len(order) else count
    return (order[position] - below - 1) + (above - order[position] - 1)


def keep_largest_component(label: np.ndarray, anchors: Mapping[int, np.ndarray] | None = None,
                           axis: int = 0) -> np.ndarray:
    """Per label value, keep the largest 3D connected component and every component holding voxels drawn with
    that value (a segment drawn as two separate parts keeps both), and fill holes slice by slice; anchors stay as
    drawn."""
    result = np.zeros_like(label)
    for value in (int(v) for v in np.unique(label) if v != 0):
        mask = label == value
        components, count = ndimage.label(mask)
        if count > 1:
            sizes = np.bincount(components.ravel())
            sizes[0] = 0
            keep = np.zeros(count + 1, dtype=bool)
            keep[sizes.argmax()] = True
            for index, drawn in (anchors or {}).items():
                keep[np.moveaxis(components, axis, 0)[index][np.asarray(drawn) == value]] = True
            keep[0] = False
            mask = keep[components]
        moved = np.moveaxis(mask, axis, 0)
        filled = np.stack([ndimage.binary_fill_holes(s) for s in moved])
        result[np.moveaxis(filled, 0, axis) & (result == 0)] = value
    if anchors:
        moved = np.moveaxis(result, axis, 0)
        for index, anchor in anchors.items():
            moved[index] = anchor
    return result
