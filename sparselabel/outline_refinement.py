"""Refinement of propagated outlines to the edges of each slice: a random walker in a thin band.

Propagation copies labels from slice to slice. Between thick slices an outline does not simply move: it changes shape,
and the copy misses the target slice's own edge by a pixel or two along much of its length. Here each outline is
drawn again on the target slice itself. Pixels deeper than ``margin`` inside a segment, and pixels farther than
``margin`` from every segment, keep their label and act as seeds. Each pixel of the band between takes the label
that a random walker starting there most probably reaches first (:mod:`.random_walker`; σ² is the variance of
intensity around the segments), so outlines settle where intensity changes. A piece of a segment too thin to have
pixels that deep (an organ's tip) is seeded at its deepest pixels, so that the refinement never erases it; a weak
pull (``prior``) towards the propagated label decides a part of the band that no seed reaches.

The band is thin on purpose: the refinement corrects where an outline lies, not whether a structure is there; that
is the propagation's and the intensity verification's job. It is applied once the walk is done, to every propagated
slice: applied after each step instead, it keeps a narrowing organ's area up, the walk then stops later, and the
label reaches farther onto neighbouring tissue (CHAOS MR, raw matcher, 20 volumes: liver HD95 39.7 mm against 34.4
mm; Dice 0.837 against 0.851).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from .random_walker import random_walker


@dataclass(frozen=True)
class OutlineRefinement:
    margin: int = 3
    beta: float = 10.0
    prior: float = 1e-3

    def __call__(self, image: np.ndarray, label: np.ndarray, classes: int) -> np.ndarray:
        """``label`` (class indices 0 … ``classes`` − 1 on the slice ``image``) with every outline re-drawn within
        ``margin`` pixels of where it was (itself when there is no outline)."""
        return refine_outlines(image, label, classes, self.margin, self.beta, self.prior)


def refine_outlines(image: np.ndarray, label: np.ndarray, classes: int, margin: int, beta: float,
                    prior: float) -> np.ndarray:
    """``label`` (values 0 … ``classes`` − 1 on ``image``) with the band of ``margin`` pixels either side of every
    outline relabelled by a random walker; see the module's description."""
    seeds = np.full(label.shape, -1, dtype=np.int64)  # -1: in the band, to be decided
    near = np.zeros(label.shape, dtype=bool)
    for value in range(1, classes):
        segment = label == value
        if segment.any():
            seeds[_cores(segment, margin)] = value
            near |= ndimage.binary_dilation(segment, iterations=margin)
    seeds[~near] = 0
    if not (seeds < 0).any():
        return label
    variance = float(image[ndimage.binary_dilation(near, iterations=2)].var()) + 1e-6
    return random_walker(image, seeds, classes, beta, variance, label, prior)


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
