"""Cold start: which scans to label first when nothing is labelled yet (after Levy & Assayag 2026).

On the cohort map (2D t-SNE coordinates):

1. k-means for every k from ``k_min`` (2) to min(budget, k_max), and one k kept by the ``k_rule``:
   * ``stability`` (default): the largest k whose every cluster comes back when the map is clustered again from
     other subsamples — k-means on 10 samples of 80 %, each labelling compared with the next, each cluster matched
     to its best Jaccard counterpart, the least of these averaged, at least 0.8 (Hennig's clusterwise stability):
     a cohort's groups are found again however it is sampled, an arbitrary cut through one group is not;
   * ``silhouette`` (the paper's rule): the k with the highest mean silhouette. On t-SNE maps it prefers k = 2
     whenever two families of groups lie apart, however many groups each holds.
   The k search runs on at most ``search_sample`` points of the map; the chosen k then clusters every point.
2. each cluster's medoid (least summed distance to its members) is picked first;
3. the rest of the budget is split across clusters in proportion to their size (largest remainder, never more than
   a cluster holds) and farthest-point sampling from the points already chosen fills each share; anything left over
   is filled by farthest-point sampling over the whole cohort.

With ``typical`` below 1, each cluster's farthest-point sampling draws only from its most typical share (the densest
neighbourhoods on the map, as TypiClust argues for small budgets). Deterministic for a given seed; labelled scans
are never picked and count as already chosen. Memory stays linear in the number of scans: no step builds a matrix
of all pairwise distances.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ..core.errors import UserInputError

K_RULES = ("stability", "silhouette")
STABLE = 0.8  # the least clusterwise Jaccard (mean over draws) a k must reach to count as stable
STABILITY_DRAWS = 10
STABILITY_FRACTION = 0.8
EXACT_MEDOID = 4096  # larger clusters: the medoid is estimated on samples of this many members


@dataclass
class ColdStartResult:
    picks: list[int]  # in the order they were chosen: medoids first
    clusters: np.ndarray  # cluster of every point
    k: int
    medoids: list[int]
    scores: dict[int, float] = field(default_factory=dict)  # k → the rule's score (stability or silhouette)


def _kmeans(points: np.ndarray, k: int, seed: int, restarts: int = 10):
    from sklearn.cluster import KMeans

    return KMeans(n_clusters=k, n_init=restarts, random_state=seed).fit(points)


def _silhouettes(points: np.ndarray, ks: range, seed: int) -> tuple[dict[int, float], dict[int, object]]:
    from sklearn.metrics import silhouette_score

    scores, models = {}, {}
    for k in ks:
        model = _kmeans(points, k, seed)
        if len(np.unique(model.labels_)) < 2:
            continue
        scores[k] = float(silhouette_score(points, model.labels_, sample_size=min(len(points), 1500),
                                           random_state=seed))
        models[k] = model
    return scores, models


def _least_jaccard(first: np.ndarray, second: np.ndarray) -> float:
    """The least, over the clusters of both labellings, of a cluster's best Jaccard index in the other."""
    from sklearn.metrics.cluster import contingency_matrix

    shared = contingency_matrix(first, second).astype(float)
    jaccard = shared / (shared.sum(1, keepdims=True) + shared.sum(0, keepdims=True) - shared)
    return float(min(jaccard.max(1).min(), jaccard.max(0).min()))


def _stabilities(points: np.ndarray, ks: range, seed: int) -> dict[int, float]:
    """Per k: k-means on each of ``STABILITY_DRAWS`` 80 % samples labels every point; each labelling is compared
    with the next one's (round the ring) by the least clusterwise Jaccard, and the comparisons are averaged."""
    rng = np.random.default_rng(seed)
    size = max(ks.stop, int(STABILITY_FRACTION * len(points)))
    draws = [rng.choice(len(points), size, replace=False) for _ in range(STABILITY_DRAWS)]
    scores = {}
    for k in ks:
        labels = [_kmeans(points[draw], k, seed + d, 3).predict(points) for d, draw in enumerate(draws)]
        scores[k] = float(np.mean([_least_jaccard(labels[d], labels[(d + 1) % len(labels)])
                                   for d in range(len(labels))]))
    return scores


def cluster_map(points: np.ndarray, k_max: int, seed: int = 0, k_rule: str = "stability", k_min: int = 2,
                search_sample: int = 2000) -> tuple[int, np.ndarray, dict[int, float]]:
    """k-means with k chosen by ``k_rule`` among k_min…k_max (see the module docstring); returns
    (k, labels, the rule's score per k)."""
    if k_rule not in K_RULES:
        raise UserInputError(f"k rule '{k_rule}': unknown; expected one of {', '.join(K_RULES)}")
    points = np.asarray(points, dtype=np.float64)
    k_max = min(k_max, len(points) - 1)
    if k_max < 2:
        return 1, np.zeros(len(points), dtype=int), {}
    from threadpoolctl import threadpool_limits

    count = len(points)
    sample = points
    if count > search_sample:
        sample = points[np.sort(np.random.default_rng(seed).choice(count, search_sample, replace=False))]
    ks = range(min(max(2, k_min), k_max), k_max + 1)
    with threadpool_limits(1):  # many small k-means runs: one thread each is faster than a pool, and never idles
        found = _search_k(sample, ks, seed, k_rule)
    if found is None:
        return 1, np.zeros(count, dtype=int), {}
    k, model, scores = found
    if count == len(sample):
        return k, model.labels_.astype(int), scores
    from sklearn.cluster import KMeans  # every point, from the sample's centres

    labels = KMeans(n_clusters=k, init=model.cluster_centers_, n_init=1).fit_predict(points)
    return k, labels.astype(int), scores


def _search_k(sample: np.ndarray, ks: range, seed: int, k_rule: str):
    """(k, its k-means model on ``sample``, the rule's score per k), or None when no k splits the sample."""
    if k_rule == "silhouette":
        scores, models = _silhouettes(sample, ks, seed)
        if not scores:
            return None
        k = max(scores, key=lambda key: (scores[key], -key))
        return k, models[k], scores
    scores = _stabilities(sample, ks, seed)
    stable = [key for key, score in scores.items() if score >= STABLE]
    k = max(stable) if stable else max(scores, key=lambda key: (scores[key], -key))
    return k, _kmeans(sample, k, seed), scores


def medoid(points: np.ndarray, members: np.ndarray, seed: int = 0) -> int:
    """The member with the least summed Euclidean distance to the other members (for clusters above
    ``EXACT_MEDOID`` members: among a sample of members, against a sample of members)."""
    from sklearn.metrics import pairwise_distances_chunked

    members = np.asarray(members)
    candidates = reference = members
    if len(members) > EXACT_MEDOID:
        rng = np.random.default_rng(seed)
        candidates = np.sort(rng.choice(members, EXACT_MEDOID, replace=False))
        reference = np.sort(rng.choice(members, EXACT_MEDOID, replace=False))
    sums = np.concatenate(list(pairwise_distances_chunked(points[candidates], points[reference],
                                                          reduce_func=lambda chunk, start: chunk.sum(1))))
    return int(candidates[sums.argmin()])


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


def _distance_to(points: np.ndarray, point: np.ndarray) -> np.ndarray:
    return np.sqrt(((points - point) ** 2).sum(-1))


def farthest_point_sampling(points: np.ndarray, chosen: Sequence[int], candidates: Sequence[int],
                            count: int) -> list[int]:
    """``count`` candidates, each the one farthest from everything chosen so far (ties → lowest index); with
    nothing chosen yet, the candidates' medoid comes first."""
    candidates = np.setdiff1d(np.asarray(candidates, dtype=int), np.asarray(chosen, dtype=int))
    if count <= 0 or candidates.size == 0:
        return []
    block = points[candidates]
    picked: list[int] = []
    nearest = np.full(len(candidates), np.inf)
    for index in chosen:  # a running minimum: memory stays one value per candidate
        nearest = np.minimum(nearest, _distance_to(block, points[index]))
    if not len(chosen):
        picked.append(medoid(points, candidates))
        first = int(np.searchsorted(candidates, picked[0]))
        nearest = _distance_to(block, block[first])
        nearest[first] = -np.inf
    while len(picked) < min(count, candidates.size):
        index = int(nearest.argmax())
        picked.append(int(candidates[index]))
        nearest = np.minimum(nearest, _distance_to(block, block[index]))
        nearest[index] = -np.inf
    return picked


def typical_members(points: np.ndarray, members: np.ndarray, fraction: float, neighbours: int = 10) -> np.ndarray:
    """The ``fraction`` of ``members`` with the smallest mean distance to their nearest fellow members."""
    if fraction >= 1 or len(members) <= 2:
        return members
    from sklearn.neighbors import NearestNeighbors

    block = points[members]
    count = min(neighbours, len(members) - 1)
    distances, _ = NearestNeighbors(n_neighbors=count + 1).fit(block).kneighbors(block)
    spread = distances[:, 1:].mean(1)
    keep = max(1, int(np.ceil(fraction * len(members))))
    return members[np.sort(np.argsort(spread, kind="stable")[:keep])]


def cold_start(points: np.ndarray, budget: int, labelled: Sequence[int] = (), k_max: int = 50,
               seed: int = 0, typical: float = 1.0, k_min: int = 2, k_rule: str = "stability") -> ColdStartResult:
    """Pick ``budget`` scans (indices into ``points``) to label first. See the module docstring."""
    points = np.asarray(points, dtype=float)
    labelled = sorted(set(int(i) for i in labelled))
    available = np.setdiff1d(np.arange(len(points)), np.asarray(labelled, dtype=int))
    if budget < 1:
        raise UserInputError(f"budget must be at least 1, got {budget}")
    if budget > len(available):
        raise UserInputError(f"budget {budget} is larger than the {len(available)} unlabelled scans")
    k, clusters, scores = cluster_map(points[available], min(budget, k_max), seed, k_rule, k_min)
    members = [available[clusters == c] for c in range(k)]
    medoids = [medoid(points, m, seed) for m in members]
    picks = list(medoids)
    shares = largest_remainder(budget - k, [len(m) for m in members], [len(m) - 1 for m in members])
    for share, cluster_members in zip(shares, members, strict=True):
        pool = typical_members(points, cluster_members, typical)
        found = farthest_point_sampling(points, labelled + picks, pool, share)
        picks += found + farthest_point_sampling(points, labelled + picks + found, cluster_members, share - len(found))
    picks += farthest_point_sampling(points, labelled + picks, available, budget - len(picks))
    full = np.zeros(len(points), dtype=int)
    full[available] = clusters
    if labelled:  # labelled scans belong to the cluster of their nearest medoid
        from sklearn.metrics import pairwise_distances_argmin

        full[labelled] = full[np.asarray(medoids)[pairwise_distances_argmin(points[labelled], points[medoids])]]
    return ColdStartResult(picks, full, k, medoids, scores)
