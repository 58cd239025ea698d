"""Slice-by-slice propagation of labelled anchor slices through a volume, whatever moves the label between slices.

A *stepper* moves a label from one slice to the next (the reconstruction network, or a baseline). This module
walks the volume from every anchor slice in both directions:

* each step may also hear from the drawn slice itself: the anchor's label copied straight onto the target slice is
  blended in with ``anchor_weight`` (the matchers use 0.3), for every segment not yet in its tail (see below). A
  matcher that tells how strongly each pixel is matched (``matched_step``) gives the drawn slice more say where it
  matches the pixel more strongly than the slice before does: the logistic of the lead, never less than
  ``anchor_weight`` — a half where both match alike, nearly all where only the drawn slice has a look-alike of the
  pixel. Neighbouring slices mostly match each other best, and there the say stays at ``anchor_weight``.
  Copied only from slice to slice, a part of an organ that is missed once stays missed: on the next slice it finds
  its best match in itself, unlabelled. A lobe that joins the liver as it widens towards the dome is one such part;
  the drawn slice, where the liver is labelled whole, still says it is liver. Near a segment's end the drawn outline
  is no guide (the end is smaller than the drawn slice, and the copy would keep the segment going onto its
  neighbours), so there the steps go on alone. Measured on CHAOS MR (20 volumes, one representative slice, networks
  trained on the other half, intensity band of 3 robust SDs; liver / spleen / right / left kidney): without 0.872 /
  0.847 / 0.911 / 0.888; with, the drawn slice copied over 35 cells, 0.891 / 0.843 / 0.911 / 0.881 (the worst
  livers: CHAOS 31 0.67 → 0.82, CHAOS 15 0.70 → 0.81); blended in near the end too, the liver gains less and the
  spleen walks farther onto the kidney (0.888 / 0.839); with weight 0.2 or 0.5 instead of 0.3 (blended near the end
  too) 0.880 / 0.843 and 0.880 / 0.820. The untrained matcher on raw intensities: 0.860 / 0.825 / 0.908 / 0.893
  without, 0.866 / 0.826 / 0.909 / 0.895 with. Demons gain nothing from it (liver / spleen 0.763 / 0.839 with, 0.769
  / 0.839 without) and would take twice as long, so only the matchers use it;
* a step keeps a segment only where its matches come back: a target pixel whose matches on the slice before lead
  back, on the round trip, farther from it than ``round_trip`` times the matches' spread has no counterpart there,
  and is moved to background (:mod:`.mutual_matches`; the learned matcher uses 3, over its trained window). That is
  what a neighbour coming into the slice looks like: the left kidney's upper pole appearing under the spleen finds
  its look-alike in the spleen and would take its label, but the spleen's own matches lie on the spleen. Measured on
  CHAOS MR (20 volumes, one representative slice, networks trained on the other half; liver / spleen / right / left
  kidney): without 0.890 / 0.842 / 0.911 / 0.882; at 3 spreads 0.890 / 0.851 / 0.912 / 0.880 (spleen HD95 25.4 →
  22.8 mm); at 2.5 0.890 / 0.858 / 0.909 / 0.876; at 2 0.890 / 0.864 / 0.907 / 0.865 — an organ's own part that
  widens into the slice has no counterpart either, and the kidneys pay. Letting the drawn slice vouch for a pixel in
  doubt instead (its own round trip onto the target over 35 cells) keeps the kidneys (0.911 / 0.880 at 2) but also
  most of the leaks (spleen 0.848). On raw intensities the matches are too loose to judge: at 3, spleen 0.826 →
  0.842 but kidneys 0.909 / 0.895 → 0.893 / 0.860, so only the learned matcher checks its round trips;
* a slice between two anchors is reached from both and the two predictions are blended, each weighted by its
  closeness (the nearer anchor counts more);
* in each direction a segment stops where the structure vanishes (its area falls below ``stop_fraction`` of its area
  in the anchor), or where it grows back after having narrowed (its area, once below ``tail_fraction`` of the
  anchor's, exceeds the smallest area met so far on this walk by more than ``regrowth``; only beyond the outermost
  drawn slices): an organ's cross-section shrinks towards its end, so growth there means the label has walked onto
  a neighbour of the same intensity (on CHAOS MR: spleen onto the kidney, liver tip onto kidney and bowel). From
  there on that direction votes for background;
* a slice without any signal (one value throughout, as the empty slice some scanners add at the end of a series; 16
  of CHAOS MR's 20 volumes end on one) holds no structure, and a walk that reaches it ends there. A matcher finds
  nothing to tell apart on it and copies whatever its window holds, and a structure as dark as the volume's floor
  passes the intensity band: CHAOS 15's liver, as dark as the lungs beside it, took 6 000–28 000 voxels there (liver
  Dice 0.772 → 0.790 and 0.709 → 0.772 in two of the three trainings; nothing else changed);
* in its tail (once its area has been below ``tail_fraction`` of the anchor's; again only beyond the outermost drawn
  slices) a segment keeps what it gains beyond where it lay on the slice before only within ``_TAIL_DRIFT`` (2)
  pixels of it, and only where a random walker (:mod:`.random_walker`) starting there reaches the part it kept
  before it reaches the background: a narrowing organ's outline may move within its own edges, as an oblique tip
  drifts, but not across an edge onto the tissue beside it, nor far where no edge parts them. A narrowing end lies
  within its cross-section on the slice before: in CHAOS MR's ground truth (20 volumes, tails as defined here, from
  the representative slice) 98.7 % of the liver's tail area does, 99.7 % within 3 pixels (spleen 94.7 % and 97.1 %,
  kidneys 98.8–99.4 % and all of it). Measured on CHAOS MR (20 volumes, one representative slice, networks trained on
  the other half; liver / spleen / right / left kidney): the walker alone 0.890 / 0.851 / 0.912 / 0.880 (liver and
  spleen HD95 18.6 / 22.8 mm); within 2 pixels 0.892 / 0.855 / 0.912 / 0.880 (18.0 / 20.6 mm); within 1, 3 and 6
  pixels 0.892 / 0.856, 0.892 / 0.853 and 0.890 / 0.850 (kidneys as within 2); within 0 (no gain at all) 0.893 /
  0.859 / 0.912 / 0.881, but an oblique tip is then cut off slice by slice; with the tail from 0.8 of the anchor's
  area instead of 0.6, the kidneys lose (0.888 / 0.868 / 0.900 / 0.852);
* a narrowing segment carries its doubt: while its area is below ``doubt_fraction`` (0.9) of the anchor's (again
  only beyond the outermost drawn slices), the next step starts from the probabilities the step gave it where
  it won, not from certainty. Made certain after every step, a pixel the matcher was unsure of counts as sure on the
  next slice, and where an organ retreats from tissue of its own intensity with no edge between them (the liver's
  lower tip from bowel, CHAOS MR), its label lingers where the organ was, slice after slice: the label's area there
  shrank like the truth's one slice later. With its doubt carried, a pixel the matcher is unsure of twice is let go.
  Measured on CHAOS MR (20 volumes, one representative slice, three trainings of the networks on the other half,
  pooled; liver / spleen / right / left kidney): one-hot after every step 0.893 / 0.859 / 0.925 / 0.886 (HD95 18.3 /
  22.9 / 6.8 / 14.2 mm); doubt carried below 0.9 of the anchor's area 0.898 / 0.864 / 0.923 / 0.882 (14.6 / 20.9 /
  6.7 / 13.1 mm); below 1.0 the same to 0.001 (two trainings); carried from the anchor on, the growth towards the dome
  suffers (0.894 / 0.863 / 0.922 / 0.886). Carried once the segment has narrowed, even where it widens again, it
  let go of what a liver gained towards its dome after being narrower for one slice (CHAOS 31 0.853 → 0.762 with
  one training); carried only while it is narrow, the liver gives 0.900 (HD95 14.1 mm), the rest as above;
* a structure does not jump: a piece of a segment (a 2D connected component) is kept only if at least
  ``continuity`` of its area lies on that segment in the slice before, or if it is the piece that overlaps it most
  (so that a structure moving fast between thick slices is still followed). A look-alike that comes into the
  matcher's reach as a separate piece — the spleen beside the left kidney, the kidney below the spleen — is left out;
* a structure does not squeeze through a neck: a part of a segment joined to its body only by a strip narrower than
  ``neck`` × the segment's thickness on the anchor (twice its largest inscribed radius) is cut off at the strip, and
  what lies beyond must then continue from the slice before like any other piece. The label walks onto a touching
  neighbour of the same intensity — liver onto heart or bowel — through such strips; a piece that is thin all
  through (an organ's tip) has no body to be cut from and is left to the continuity rule;
* once the walk is done, a ``refinement`` may re-draw the outlines of all propagated slices on the volume's own
  edges, across slices, each segment's where the drawn slices show the user puts it on a blurred edge
  (:mod:`.outline_refinement`);
* slices larger than about 384 pixels a side (CT) are walked on blocks of pixels, and the walk's result is brought
  back to full resolution before the refinement (``grid``, :mod:`.matching_grid`);
* anchors are returned exactly as drawn; several segments travel in one pass (one-hot labels);
* any axis can be the slice axis.
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
        step; once it has widened again, it no longer does."""
        narrowing = self.open_end & (self.area < self.doubt_fraction * self.anchor_area)
        narrowing[0] = False
        return narrowing

    def steady(self) -> np.ndarray:
        """Per class: is the segment still travelling and not yet in its tail (never the background)?"""
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
    """``winner`` with the pieces that do not continue their segment from ``previous`` moved to background."""
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

    ``axis`` is the array axis the slices are taken along (0 = k, the acquisition slices). ``anchor_weight`` blends
    each step's result with the anchor's label copied straight onto the target slice (at least that much, more where
    a stepper's ``matched_step`` says the anchor matches better than the slice before); ``round_trip`` (in spreads; 0:
    not checked) moves to background what a step's matches do not come back to, and needs a stepper with
    ``round_trip_error(reference, target)`` (see the module's description). A segment narrower than ``doubt_fraction``
    of its anchor area goes on from the step's probabilities rather than from certainty (0: never).
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
