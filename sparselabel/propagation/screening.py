"""Screening: which slices represent a volume — for self-supervised training pairs and for the slice to annotate.

Each slice is described by a vector (its feature map pooled on a coarse grid, so the layout of the anatomy
counts, and L2-normalised). Slices are clustered with k-means; in each cluster, the representative is the slice
with the highest summed cosine similarity to the cluster's other slices. Consecutive representatives make the
training pairs. At annotation time, the single most representative slice — of the volume, or of a slice range the
user gives — is the one proposed for drawing; there the slices' nearness counts too (a label drawn amid the
other slices has fewer steps to travel).

Measurements: docs/OneSliceSeg-measurements.md, "Screening".
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..core.errors import UserInputError


def slice_descriptors(features: torch.Tensor, grid: int = 4) -> np.ndarray:
    """Per-slice descriptors ``[slices, C·grid²]`` from feature maps ``[slices, C, h, w]``, L2-normalised."""
    pooled = F.adaptive_avg_pool2d(features.float(), grid).flatten(1)
    return F.normalize(pooled, dim=1).cpu().numpy()


def gabor_descriptors(volume: np.ndarray, grid: int = 1) -> np.ndarray:
    """Network-free descriptors from the Gabor bottleneck alone, for suggesting a slice before any training.

    Pooled over the whole slice by default (``grid=1``): finer pooling offers slices with smaller cross-sections.
    """
    from ..core.gabor import GaborBank

    bank = GaborBank()
    slices = torch.from_numpy(np.ascontiguousarray(volume, dtype=np.float32))[:, None]
    with torch.no_grad():
        energies = torch.cat([torch.log1p(bank(F.avg_pool2d(slices[i:i + 16], 2)) * 10)
                              for i in range(0, len(slices), 16)])
    return slice_descriptors(energies, grid)


def _summed_similarity(descriptors: np.ndarray, members: np.ndarray) -> np.ndarray:
    block = descriptors[members]
    return (block @ block.T).sum(1)


def representative_slices(descriptors: np.ndarray, clusters: int, seed: int = 0) -> list[int]:
    """One representative slice per k-means cluster (sorted by index): the member most similar to its cluster."""
    from sklearn.cluster import KMeans

    count = len(descriptors)
    clusters = max(1, min(clusters, count))
    labels = KMeans(n_clusters=clusters, n_init=4, random_state=seed).fit_predict(descriptors)
    chosen = []
    for cluster in range(clusters):
        members = np.flatnonzero(labels == cluster)
        if members.size:
            chosen.append(int(members[_summed_similarity(descriptors, members).argmax()]))
    return sorted(chosen)


def _candidates(descriptors: np.ndarray, candidates: np.ndarray | list[int] | None) -> np.ndarray:
    members = np.arange(len(descriptors)) if candidates is None else np.asarray(sorted(candidates), dtype=int)
    if members.size == 0:
        raise UserInputError("no slice to choose from: the slice range is empty")
    if members.min() < 0 or members.max() >= len(descriptors):
        raise UserInputError(f"slice range {members.min()}…{members.max()} is outside the volume "
                             f"(0…{len(descriptors) - 1})")
    return members


def most_representative_slice(descriptors: np.ndarray, candidates: np.ndarray | list[int] | None = None) -> int:
    """The candidate slice (default: all) with the highest summed cosine similarity to the other candidates, each
    similarity weighted by how near the two slices lie.

    The label drawn on this slice has to travel to every other candidate, one slice at a time, and each step costs
    accuracy; so among alike slices the one amid the others wins. The weight is a Gaussian of the slice distance
    with the candidates' span as its width — mild enough that appearance still decides, strong enough that a
    structure's tip is not offered merely because its texture is typical.
    """
    members = _candidates(descriptors, candidates)
    block = descriptors[members]
    span = float(members[-1] - members[0] + 1)
    nearness = np.exp(-0.5 * ((members[:, None] - members[None, :]) / span) ** 2)
    return int(members[((block @ block.T) * nearness).sum(1).argmax()])


def most_representative_slices(descriptors: np.ndarray, candidates: np.ndarray | list[int] | None = None,
                               count: int = 1, seed: int = 0) -> list[int]:
    """``count`` slices to draw on among the candidates (default: all), sorted: for one,
    :func:`most_representative_slice`; for more, the candidates are clustered into ``count`` groups and each group
    offers its representative."""
    members = _candidates(descriptors, candidates)
    if count < 1:
        raise UserInputError(f"number of slices to draw must be at least 1, got {count}")
    if count > members.size:
        raise UserInputError(f"cannot choose {count} slices among {members.size}")
    if count == 1:
        return [most_representative_slice(descriptors, members)]
    return [int(members[i]) for i in representative_slices(descriptors[members], count, seed)]
