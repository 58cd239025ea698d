"""Refinement of propagated outlines to the edges of the volume: a random walker in a thin band, across slices.

Between thick slices an outline changes shape, and its copy misses the target slice's own edge by a pixel or two. So
once the walk is done, the outlines of all slices are drawn again at once: pixels deeper than ``margin`` inside a
segment, or farther than ``margin`` from every segment, keep their label as seeds, and each pixel of the bands between
takes the label a random walker starting there most probably reaches first (:mod:`.random_walker`; σ² the variance of
intensity around the segments), stepping within and between slices alike, so outlines settle on edges and agree across
slices. The drawn slices take part like any other, so an outline drawn a pixel off does not pull its neighbours off. A
piece too thin to have pixels that deep (an organ's tip) is seeded at its deepest pixels, never erased; a weak
``prior`` towards the propagated label decides what no seed reaches. Where an outline goes on a blurred edge is the
user's choice, and the drawn slices show it: each segment leans (a threshold on its probability between 0.2 and 0.8
against the background) as far as best reproduces the drawn outlines (Dice). The band is thin: the refinement corrects
where an outline lies, not whether a structure is there; refined after each step, a narrowing organ would keep its
area up and the walk would stop later, on neighbouring tissue.

Measurements: docs/OneSliceSeg-measurements.md, "Outline refinement".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from .random_walker import reach_probabilities

# The leanings tried for each segment (added to its probability before the argmax): a threshold on its probability
# from 0.2 to 0.8 in steps of 0.025 when it meets the background alone. Leaning 0 comes first and wins ties.
_LEANINGS = sorted(np.linspace(-0.6, 0.6, 49), key=abs)


@dataclass(frozen=True)
class OutlineRefinement:
    margin: int = 5
    beta: float = 10.0
    prior: float = 1e-3

    def __call__(self, volume: np.ndarray, label: np.ndarray, classes: int,
                 drawn: Sequence[int] = ()) -> np.ndarray:
        """``label`` (class indices 0 … ``classes`` − 1 on the stack of slices ``volume``) with every outline re-drawn
        within ``margin`` pixels of where it was (itself when there is none), on a blurred edge where the user put it
        on the ``drawn`` slices (their indices; there ``label`` is as drawn)."""
        return refine_outlines(volume, label, classes, self.margin, self.beta, self.prior, drawn)


def refine_outlines(volume: np.ndarray, label: np.ndarray, classes: int, margin: int, beta: float,
                    prior: float, drawn: Sequence[int] = ()) -> np.ndarray:
    """``label`` (values 0 … ``classes`` − 1 on ``volume``, both ``[slices, rows, columns]``) with the band of
    ``margin`` pixels either side of every outline relabelled by a random walker, each segment leaning as on the
    ``drawn`` slices; see the module's description."""
    seeds = np.full(label.shape, -1, dtype=np.int64)  # -1: in a band, to be decided
    near = np.zeros(label.shape, dtype=bool)
    for index in range(len(label)):
        for value in range(1, classes):
            segment = label[index] == value
            if segment.any():
                seeds[index][_cores(segment, margin)] = value
                near[index] |= ndimage.binary_dilation(segment, iterations=margin)
    seeds[~near] = 0
    free = np.nonzero(seeds < 0)
    if not free[0].size:
        return label
    # Work in the box around the bands, grown by one so that every neighbour of a pixel to decide lies inside.
    box = tuple(slice(max(int(f.min()) - 1, 0), int(f.max()) + 2) for f in free)
    variance = float(volume[ndimage.binary_dilation(near, iterations=2)].var()) + 1e-6
    reached = reach_probabilities(volume[box], seeds[box], classes, beta, variance, label[box], prior)
    in_box = [index - box[0].start for index in drawn if box[0].start <= index < box[0].stop]
    reached += _leanings(reached, seeds[box], label[box], in_box)
    result = label.copy()
    result[free] = reached.argmax(1)
    return result


def _leanings(reached: np.ndarray, seeds: np.ndarray, label: np.ndarray, drawn: list[int]) -> np.ndarray:
    """Per class, what to add to the probabilities ``reached`` (one row per pixel to decide, ``seeds < 0``) so that
    the outlines on the ``drawn`` slices best match ``label`` there, which is as drawn (Dice): the user's own way of
    drawing an edge. Zero for the background and for a class not drawn."""
    leaning = np.zeros(reached.shape[1])
    free = seeds < 0
    on_drawn = np.isin(np.nonzero(free)[0], drawn)  # the pixels to decide that lie on a drawn slice
    if not on_drawn.any():
        return leaning
    candidates = reached[on_drawn]
    as_drawn = label[free][on_drawn]
    for value in range(1, reached.shape[1]):
        drawn_area = int((label[drawn] == value).sum())
        if not drawn_area:
            continue
        cores = int((seeds[drawn] == value).sum())  # a segment's seeds lie inside its drawn outline
        inside = as_drawn == value
        # argmax picks the first of equals: the class wins over those before it when above them, over those after
        # it when not below them.
        before = candidates[:, :value].max(1)
        after = candidates[:, value + 1:].max(1, initial=-np.inf)
        best = -1.0
        for lean in _LEANINGS:
            shifted = candidates[:, value] + lean
            taken = (shifted > before) & (shifted >= after)
            score = 2 * (cores + int((taken & inside).sum())) / (cores + int(taken.sum()) + drawn_area)
            if score > best + 1e-9:
                best, leaning[value] = score, lean
    return leaning


def _cores(segment: np.ndarray, margin: int) -> np.ndarray:
    """The pixels deeper than ``margin`` inside ``segment``; for a piece thinner than that all through (an organ's
    tip), its deepest pixels, so that no piece is left without a seed and lost to the background."""
    cores = ndimage.binary_erosion(segment, iterations=margin)
    pieces, count = ndimage.label(segment)
    seeded = np.zeros(count + 1, dtype=bool)
    seeded[pieces[cores]] = True
    if seeded[1:].all():
        return cores
    depth = ndimage.distance_transform_edt(segment)
    deepest = ndimage.maximum(depth, pieces, np.arange(count + 1))
    thin = ~seeded[pieces] & (pieces > 0)
    return cores | (thin & (depth >= deepest[pieces]))
