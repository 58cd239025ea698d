"""The round trip of a step's matches: a neighbour coming into the slice has no counterpart on the slice before."""

from __future__ import annotations

import numpy as np
import torch

from sparselabel.propagation.mutual_matches import round_trip_error
from sparselabel.propagation.walk import propagate


def _slices_with_a_newcomer(size: int = 16, shift: int = 2):
    """Descriptors of a reference grid (every cell unlike every other) and of a target where the reference has
    moved ``shift`` cells right, plus a newcomer on rows 5–8, columns 10–13: cells that look somewhat like the
    reference cells four columns left of their counterparts (0.8 of their likeness), and like nothing else."""
    cells = size * size
    reference = torch.eye(2 * cells)[:, :cells].reshape(2 * cells, size, size)[None]  # one direction per cell
    target = torch.zeros_like(reference)
    for row in range(size):
        for column in range(size):
            source = column - shift
            index = row * size + source if source >= 0 else cells + row * size + column  # the edge: new cells
            target[0, index, row, column] = 1.0
    newcomer = np.zeros((size, size), bool)
    newcomer[5:9, 10:14] = True
    for row, column in np.argwhere(newcomer):
        target[0, :, row, column] = 0.0
        target[0, row * size + column - shift - 4, row, column] = 0.8
        target[0, cells + row * size + column, row, column] = 0.6
    return reference, target, newcomer


def test_matches_come_back_except_from_a_newcomer():
    reference, target, newcomer = _slices_with_a_newcomer()
    error = round_trip_error((target, reference), (reference, target), 13, 0.05, "dot", (64, 64)).numpy()
    assert error.shape == (64, 64)  # full resolution: each grid cell covers 4 × 4 pixels
    per_cell = error[::4, ::4]
    moved = np.zeros_like(newcomer)
    moved[:, 2:] = True  # cells with a counterpart on the reference
    assert per_cell[moved & ~newcomer].max() < 0.5
    # The newcomer's look-alikes lie on the reference, but their own matches lead back to their counterparts, four
    # cells from it: many spreads of such tight matches.
    assert per_cell[newcomer].min() > 3.0


class NeighbourStepper:
    """Follows an organ exactly; a touching neighbour comes into the slices from slice 9 on and, like a
    look-alike, takes the organ's label on the slice it appears on, and after that whatever label it had on the
    slice before. Its matches on the slice where it appears do not come back (it has no counterpart there)."""

    name = "neighbour"

    def __init__(self, organ: np.ndarray, neighbour: np.ndarray, appears: int):
        self.organ, self.neighbour, self.appears = organ, neighbour, appears

    def prepare(self, volume):
        pass

    def step(self, reference, target, probabilities):
        segment = self.organ[target] > 0
        if target == self.appears:
            segment = segment | (self.neighbour[target] > 0)
        elif target > self.appears:
            segment = segment | ((self.neighbour[target] > 0) & (probabilities[1] > 0.5))
        segment = segment.astype(np.float32)
        return np.stack([1 - segment, segment])

    def round_trip_error(self, reference, target):
        newcomer = (self.neighbour[target] > 0) & ~(self.organ[target] > 0) & (target == self.appears)
        return np.where(newcomer, 10.0, 0.2)


def test_a_neighbour_coming_into_the_slice_is_not_taken_for_the_organ():
    square = np.zeros((40, 40), np.uint8)
    square[12:29, 8:23] = 1
    beside = np.zeros_like(square)
    beside[14:27, 23:31] = 1  # touching the organ along 13 pixels: one piece with it
    organ = np.stack([square if 2 <= k < 15 else np.zeros_like(square) for k in range(18)])
    neighbour = np.stack([beside if k >= 9 else np.zeros_like(beside) for k in range(18)])
    volume = np.zeros(organ.shape, np.float32)
    taken = propagate(volume, {5: organ[5]}, NeighbourStepper(organ, neighbour, 9))
    np.testing.assert_array_equal(taken.label[9:15], (organ | neighbour)[9:15])  # unchecked, the neighbour is taken
    checked = propagate(volume, {5: organ[5]}, NeighbourStepper(organ, neighbour, 9), round_trip=3.0)
    np.testing.assert_array_equal(checked.label, organ)
