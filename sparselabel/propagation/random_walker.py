"""The random walker (Grady, *Random walks for image segmentation*, 2006), on a slice or a stack of slices.

Some pixels are seeds, each of a known class; every other pixel takes the class that a random walker starting there
most probably reaches first. The walker steps between neighbours along every axis of the image (4-neighbours on a
slice, 6 in a stack) with weight exp(−β·Δ²/σ²), where Δ is their difference in intensity and σ² a variance given by
the caller, so it rarely crosses an edge. A weak pull (``prior``) towards a guessed class per pixel decides a region
that no seed reaches. The probabilities solve one sparse, symmetric positive definite system over the pixels to be
decided, by conjugate gradients with a Jacobi preconditioner: memory grows with the pixels to decide, not faster,
so a band through a whole CT volume can be solved as well as one on a slice.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from scipy.sparse.linalg import LinearOperator, cg

_TOLERANCE = 1e-6  # relative residual of the conjugate gradients; far below what moves an argmax


def random_walker(image: np.ndarray, seeds: np.ndarray, classes: int, beta: float, variance: float,
                  guess: np.ndarray, prior: float) -> np.ndarray:
    """The class of each pixel of ``image`` (2D or 3D): ``seeds`` where it is ≥ 0, else the class the walker most
    probably reaches first, pulled with weight ``prior`` towards ``guess`` (a class per pixel)."""
    result = seeds.copy()
    free = seeds < 0
    if free.any():
        result[free] = reach_probabilities(image, seeds, classes, beta, variance, guess, prior).argmax(1)
    return result


def reach_probabilities(image: np.ndarray, seeds: np.ndarray, classes: int, beta: float, variance: float,
                        guess: np.ndarray, prior: float) -> np.ndarray:
    """For each pixel to decide (``seeds < 0``, in the order of ``np.nonzero``), the probability that the walker
    starting there reaches each class first: ``[pixels, classes]``. Arguments as for :func:`random_walker`."""
    free = seeds < 0
    count = int(free.sum())
    if count == 0:
        return np.zeros((0, classes))
    index = np.full(seeds.shape, -1, dtype=np.int64)
    index[free] = np.arange(count)
    diagonal = np.full(count, prior)
    right_side = np.zeros((count, classes))
    right_side[np.arange(count), guess[free]] = prior
    rows, columns, weights = [], [], []
    # Every pair of neighbours with at least one free pixel, once each way.
    for axis in range(image.ndim):
        first = tuple(slice(0, -1) if a == axis else slice(None) for a in range(image.ndim))
        second = tuple(slice(1, None) if a == axis else slice(None) for a in range(image.ndim))
        for a, b in ((first, second), (second, first)):
            from_free = free[a]
            weight = np.exp(-beta * (image[a] - image[b]) ** 2 / variance)[from_free]
            i = index[a][from_free]
            j = index[b][from_free]
            diagonal += np.bincount(i, weight, minlength=count)
            walks_on = j >= 0
            rows.append(i[walks_on])
            columns.append(j[walks_on])
            weights.append(-weight[walks_on])
            seeded = ~walks_on
            right_side += np.bincount(i[seeded] * classes + seeds[b][from_free][seeded], weight[seeded],
                                      minlength=count * classes).reshape(count, classes)
    matrix = sparse.csr_matrix((np.concatenate(weights), (np.concatenate(rows), np.concatenate(columns))),
                               shape=(count, count)) + sparse.diags(diagonal, format="csr")
    inverse = 1.0 / diagonal
    preconditioner = LinearOperator((count, count), matvec=lambda x: inverse * x.ravel(), dtype=float)
    reached = np.empty((count, classes))
    # The probabilities of all classes sum to one (the all-ones vector solves the system for the right sides'
    # sum), so the last class needs no solve. Each solve starts from the guess.
    for value in range(classes - 1):
        start = (guess[free] == value).astype(float)
        reached[:, value] = cg(matrix, right_side[:, value], x0=start, rtol=_TOLERANCE, maxiter=10 * count,
                               M=preconditioner)[0]
    reached[:, -1] = 1.0 - reached[:, :-1].sum(1)
    return reached
