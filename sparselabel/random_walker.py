"""The random walker on one slice (Grady, *Random walks for image segmentation*, 2006), solved where it is needed.

Some pixels are seeds, each of a known class; every other pixel takes the class that a random walker starting there
most probably reaches first. The walker steps between 4-neighbours with weight exp(−β·Δ²/σ²), where Δ is their
difference in intensity and σ² a variance given by the caller, so it rarely crosses an edge. A weak pull
(``prior``) towards a guessed class per pixel decides a region that no seed reaches. One sparse LU solve over the
pixels to be decided, with scipy only.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from scipy.sparse.linalg import splu


def random_walker(image: np.ndarray, seeds: np.ndarray, classes: int, beta: float, variance: float,
                  guess: np.ndarray, prior: float) -> np.ndarray:
    """The class of each pixel of ``image``: ``seeds`` where it is ≥ 0, else the class the walker most probably
    reaches first, pulled with weight ``prior`` towards ``guess`` (a class per pixel)."""
    free = seeds < 0
    count = int(free.sum())
    if count == 0:
        return seeds.copy()
    index = np.full(seeds.shape, -1, dtype=np.int64)
    index[free] = np.arange(count)
    diagonal = np.full(count, prior)
    right_side = np.zeros((count, classes))
    right_side[np.arange(count), guess[free]] = prior
    rows, columns, weights = [], [], []
    # Every pair of 4-neighbours with at least one free pixel, once each way.
    for first, second in (((slice(None), slice(0, -1)), (slice(None), slice(1, None))),
                          ((slice(0, -1), slice(None)), (slice(1, None), slice(None)))):
        for a, b in ((first, second), (second, first)):
            from_free = free[a]
            weight = np.exp(-beta * (image[a] - image[b]) ** 2 / variance)[from_free]
            i = index[a][from_free]
            j = index[b][from_free]
            np.add.at(diagonal, i, weight)
            walks_on = j >= 0
            rows.append(i[walks_on])
            columns.append(j[walks_on])
            weights.append(-weight[walks_on])
            seeded = ~walks_on
            np.add.at(right_side, (i[seeded], seeds[b][from_free][seeded]), weight[seeded])
    matrix = sparse.csc_matrix((np.concatenate(weights), (np.concatenate(rows), np.concatenate(columns))),
                               shape=(count, count)) + sparse.diags(diagonal, format="csc")
    reached = splu(matrix).solve(right_side)
    result = seeds.copy()
    result[free] = reached.argmax(1)
    return result
