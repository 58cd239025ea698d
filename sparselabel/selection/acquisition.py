"""Active-learning acquisition: which unlabelled scans to label next once a segmentation model exists.

S(i) = α·H(i) + (1 − α)·D(i), picked greedily (Levy & Assayag 2026):

* H — image-level uncertainty: the mean over pixels of the predictive entropy −Σ_c p_c log p_c, divided by
  log(C) so that it lies in [0, 1] whatever the number of classes C (a per-image normalisation that does not depend
  on which other scans are in the pool, so scores from different rounds stay comparable);
* D — diversity: distance on the cohort map to the nearest scan that is labelled or already picked, divided by the
  largest such distance in the pool, so it lies in [0, 1]; it is recomputed after every pick, which spreads a
  batch over the map instead of stacking it where the model is unsure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..core.errors import UserInputError


def normalised_entropy(probabilities: np.ndarray) -> float:
    """Mean pixel entropy of class probabilities ``[C, ...]`` divided by log(C): 0 certain, 1 uniform."""
    p = np.clip(np.asarray(probabilities, dtype=np.float64), 1e-12, 1.0)
    classes = p.shape[0]
    if classes < 2:
        raise ValueError("entropy needs at least two classes (background and one structure)")
    return float((-(p * np.log(p)).sum(0)).mean() / np.log(classes))


@dataclass
class Pick:
    index: int
    score: float
    entropy: float
    diversity: float


def select(points: np.ndarray, entropies: Sequence[float], candidates: Sequence[int], labelled: Sequence[int],
           budget: int, alpha: float) -> list[Pick]:
    """Greedy selection of ``budget`` candidates by α·entropy + (1 − α)·diversity (see the module docstring)."""
    if not 0.0 <= alpha <= 1.0:
        raise UserInputError(f"alpha must lie between 0 and 1, got {alpha}")
    candidates = [int(c) for c in candidates]
    if budget < 1 or budget > len(candidates):
        raise UserInputError(f"budget {budget} must be between 1 and the {len(candidates)} unlabelled scans")
    points = np.asarray(points, dtype=float)
    entropies = np.asarray(entropies, dtype=float)
    block = points[candidates]
    entropy = entropies[candidates]
    # Distance to the nearest labelled or picked scan, kept as a running minimum (one value per candidate).
    distance = np.full(len(candidates), np.inf)
    for index in labelled:
        distance = np.minimum(distance, np.sqrt(((block - points[int(index)]) ** 2).sum(-1)))
    open_ = np.ones(len(candidates), dtype=bool)
    picks: list[Pick] = []
    for _ in range(budget):
        if np.isinf(distance).all():  # nothing labelled yet: every scan is equally new
            diversity = np.where(open_, 1.0, 0.0)
        else:
            largest = distance[open_].max()
            diversity = distance / largest if largest > 0 else np.zeros_like(distance)
        score = np.where(open_, alpha * entropy + (1 - alpha) * diversity, -np.inf)
        best = int(np.argmax(score))
        picks.append(Pick(candidates[best], float(score[best]), float(entropy[best]), float(diversity[best])))
        open_[best] = False
        distance = np.minimum(distance, np.sqrt(((block - block[best]) ** 2).sum(-1)))
    return picks
