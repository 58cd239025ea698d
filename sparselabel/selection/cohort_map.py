"""The cohort map: scan embeddings placed in 2D with t-SNE, so that similar scans sit together.

openTSNE does the work: embeddings are first reduced to at most 50 principal components, the perplexity scales with
the cohort (min(30, max(5, (n − 1) / 3))), the layout starts from PCA (stable and reproducible) with a fixed seed,
and scans added later are placed into the existing map with ``transform`` — the picture the user knows does not
move between rounds. Cohorts too small for openTSNE's neighbour search fall back to scikit-learn's exact t-SNE,
and a handful of scans to their first two principal components.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..core.errors import UserInputError


def perplexity_for(count: int) -> float:
    """The perplexity used for ``count`` scans: 30 for large cohorts, lower for small ones (never below 5)."""
    return float(min(30.0, max(5.0, (count - 1) / 3)))


@dataclass
class CohortMap:
    """A fitted map: 2D coordinates for the scans it was fitted on, and what is needed to place new ones."""

    coordinates: np.ndarray
    method: str
    _mean: np.ndarray = field(repr=False, default=None)
    _components: np.ndarray = field(repr=False, default=None)
    _fitted: np.ndarray = field(repr=False, default=None)  # the fitted scans' reduced embeddings
    _embedding: object = field(repr=False, default=None)  # openTSNE's TSNEEmbedding when available

    def _reduce(self, embeddings: np.ndarray) -> np.ndarray:
        return (np.asarray(embeddings, dtype=np.float64) - self._mean) @ self._components.T

    def transform(self, embeddings: np.ndarray) -> np.ndarray:
        """2D positions for new scans, optimised against the fixed map (existing points do not move)."""
        reduced = self._reduce(embeddings)
        if self._embedding is not None:
            # openTSNE re-centres the reference embedding in place while placing new points: measure that shift,
            # undo it, and express the new points in the map's own frame.
            reference = np.array(self._embedding, copy=True)
            placed = np.asarray(self._embedding.transform(reduced))
            shift = (np.asarray(self._embedding) - reference).mean(0)
            self._embedding[:] = reference
            return placed - shift
        # Fallback maps: place each new scan at the mean position of its three nearest fitted scans.
        fitted = self._fitted
        distances = ((reduced[:, None] - fitted[None]) ** 2).sum(-1)
        nearest = np.argsort(distances, axis=1)[:, : min(3, len(fitted))]
        return self.coordinates[nearest].mean(1)


def fit_map(embeddings: np.ndarray, seed: int = 0, components: int = 50,
            initial: np.ndarray | None = None) -> CohortMap:
    """Fit a 2D map to ``embeddings`` ``[scans, features]``.

    ``initial`` (``[scans, 2]``) starts the layout from known positions — last round's map — so that a refit after
    scans were added keeps the picture the user knows; otherwise the layout starts from PCA.
    """
    embeddings = np.asarray(embeddings, dtype=np.float64)
    if embeddings.ndim != 2 or len(embeddings) < 2:
        raise UserInputError(f"a cohort map needs at least two scans with embeddings; got {embeddings.shape}")
    if not np.all(np.isfinite(embeddings)):
        raise UserInputError("some scan embeddings are not finite numbers; recompute them")
    mean = embeddings.mean(0)
    centred = embeddings - mean
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    basis = vt[: min(components, len(embeddings) - 1, embeddings.shape[1])]
    reduced = centred @ basis.T
    count = len(embeddings)
    if count < 4:
        coordinates = np.zeros((count, 2))
        coordinates[:, : min(2, reduced.shape[1])] = reduced[:, :2]
        return CohortMap(coordinates, "pca", mean, basis, reduced)
    if count <= 3 * perplexity_for(count):  # openTSNE needs 3 × perplexity neighbours: fewer than 16 scans
        from sklearn.manifold import TSNE

        coordinates = TSNE(perplexity=(count - 1) / 3, init="pca", random_state=seed).fit_transform(reduced)
        return CohortMap(coordinates, "sklearn-tsne", mean, basis, reduced)
    from openTSNE import TSNE
    from openTSNE.initialization import rescale

    start = "pca" if initial is None else rescale(np.asarray(initial, dtype=np.float64))
    embedding = TSNE(perplexity=perplexity_for(count), initialization=start, random_state=seed, n_jobs=-1,
                     verbose=False).fit(reduced)
    return CohortMap(np.array(embedding, copy=True), "opentsne", mean, basis, reduced, embedding)
