"""Cold start: which scans to label first when nothing is labelled yet (Levy & Assayag 2026).

On the cohort map (2D t-SNE coordinates):

1. k-means for every k from ``k_min`` (2) to min(budget, k_max); the k with the highest mean silhouette wins
   (scored on at most ``silhouette_sample`` points);
2. each cluster's medoid (least summed distance to its members) is picked first;
3. the rest of the budget is split across clusters in proportion to their size (largest remainder, never more than
   a cluster holds) and farthest-point sampling from the points already chosen fills each share; anything left over
   is filled by farthest-point sampling over the whole cohort.

With ``typical`` below 1, each cluster's farthest-point sampling draws only from its most typical share (the densest
neighbourhoods on the map, as TypiClust argues for small budgets): the spread is kept, the map's outliers are left
out. ``typical=1`` is the paper's method. Deterministic for a given seed; labelled scans are never picked and count
as already chosen.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ..core.errors import UserInputError


@dataclass
class ColdStartResult:
    picks: list[int]  # in the order they were chosen: medoids first
    clusters: np.ndarray  # cluster of every point
    k: int
    medoids: list[int]
    silhouettes: dict[int, float] = field(default_factory=dict)  # k → mean silhouette


def cluster_map(points: np.ndarray, k_max: int, seed: int = 0, silhouette_sample: int = 1500,
                k_min: int = 2) -> tuple[int, np.ndarray, dict[int, float]]:
    """k-means with k chosen by silhouette among k_min…k_max; returns (k, labels, silhouette per k)."""
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score

    count = len(points)
    k_max = min(k_max, count - 1)
    if k_max < 2:
        return 1, np.zeros(count, dtype=int), {}
    best, scores = None, {}
    for k in range(min(max(2, k_min), k_max), k_max + 1):
        labels = KMeans(n_clusters=k, n_init=10, random_state=seed).fit_predict(points)
        if len(np.unique(labels)) < 2:
            continue
        scores[k] = float(silhouette_score(points, labels, sample_size=min(count, silhouette_sample),
                                           random_state=seed))
        if best is None or scores[k] > scores[best[0]]:
            best = (k, labels)
    if best is None:
        return 1, np.zeros(count, dtype=int), scores
    return best[0], best[1], scores


def medoid(points: np.ndarray, members: np.ndarray) -> int:
    """The member with the least summed Euclidean distance to the other members."""
    block = points[members]
    distances = np.sqrt(((block[:, None] - block[None]) ** 2).sum(-1)).sum(1)
    return int(members[distances.argmin()])


def largest_remainder(total: int, sizes: Sequence[int], capacities: Sequence[int]) -> list[int]:
    """Split ``total`` in proportion to ``sizes`` (largest-remainder rounding), never above ``capacities``."""
    sizes = np.asarray(sizes, dtype=float)
    capacities = np.asarray(capacities, dtype=int)
    shares = np.zeros(len(sizes), dtype=int)
    remaining = min(total, int(capacities.sum()))
    while remaining > 0:
        open_ = shares < capacities
        quota = remaining * sizes * open_ / max(sizes[open_].sum(), 1e-12)
        extra = np.minimum(np.floor(quota).astype(int), capacities - shares)
        leftover = remaining - int(extra.sum())
        order = np.argsort(-(quota - np.floor(quota)) * open_, kind="stable")
        for index in order[:leftover]:
            if shares[index] + extra[index] < capacities[index]:
                extra[index] += 1
        if extra.sum() == 0:
            break
        shares += extra
        remaining -= int(extra.sum())
    return shares.tolist()


def farthest_point_sampling(points: np.ndarray, chosen: Sequence[int], candidates: Sequence[int],
                            count: int) -> list[int]:
    """``count`` candidates, each the one farthest from everything chosen so far (ties → lowest index)."""
    candidates = np.asarray(sorted(set(candidates) - set(chosen)), dtype=int)
    if count <= 0 or candidates.size == 0:
        return []
    if chosen:
        nearest = np.sqrt(((points[candidates][:, None] - points[list(chosen)][None]) ** 2).sum(-1)).min(1)
    else:  # nothing to be far from yet: start from the candidates' medoid
        first = medoid(points, candidates)
        nearest = np.where(candidates == first, np.inf, 0.0)
    picked = []
    for _ in range(min(count, candidates.size)):
        index = int(nearest.argmax())
        picked.append(int(candidates[index]))
        nearest = np.minimum(nearest, np.sqrt(((points[candidates] - points[candidates[index]]) ** 2).sum(-1)))
        nearest[index] = -np.inf
    return picked


def typical_members(points: np.ndarray, members: np.ndarray, fraction: float, neighbours: int = 10) -> np.ndarray:
    """The ``fraction`` of ``members`` with the smallest mean distance to their nearest fellow members."""
    if fraction >= 1 or len(members) <= 2:
        return members
    block = points[members]
    distances = np.sqrt(((block[:, None] - block[None]) ** 2).sum(-1))
    count = min(neighbours, len(members) - 1)
    spread = np.sort(distances, axis=1)[:, 1:count + 1].mean(1)
    keep = max(1, int(np.ceil(fraction * len(members))))
    return members[np.sort(np.argsort(spread, kind="stable")[:keep])]


def cold_start(points: np.ndarray, budget: int, labelled: Sequence[int] = (), k_max: int = 50,
               seed: int = 0, typical: float = 1.0, k_min: int = 2) -> ColdStartResult:
    """Pick ``budget`` scans (indices into ``points``) to label first. See the module docstring."""
    points = np.asarray(points, dtype=float)
    labelled = sorted(set(int(i) for i in labelled))
    available = [i for i in range(len(points)) if i not in set(labelled)]
    if budget < 1:
        raise UserInputError(f"budget must be at least 1, got {budget}")
    if budget > len(available):
        raise UserInputError(f"budget {budget} is larger than the {len(available)} unlabelled scans")
    k, clusters, silhouettes = cluster_map(points[available], min(budget, k_max), seed, k_min=k_min)
    members = [np.asarray(available)[clusters == c] for c in range(k)]
    medoids = [medoid(points, m) for m in members]
    picks = list(medoids)
    shares = largest_remainder(budget - k, [len(m) for m in members], [len(m) - 1 for m in members])
    for share, cluster_members in zip(shares, members, strict=True):
        pool = typical_members(points, cluster_members, typical)
        found = farthest_point_sampling(points, labelled + picks, pool, share)
        picks += found + farthest_point_sampling(points, labelled + picks + found, cluster_members, share - len(found))
    picks += farthest_point_sampling(points, labelled + picks, available, budget - len(picks))
    full = np.zeros(len(points), dtype=int)
    full[available] = clusters
    for index in labelled:  # labelled scans belong to the cluster of their nearest medoid
        full[index] = clusters[available.index(min(medoids, key=lambda m: ((points[m] - points[index]) ** 2).sum()))]
    return ColdStartResult(picks, full, k, medoids, silhouettes)
