"""The cohort map: scan embeddings placed in 2D with t-SNE, so that similar scans sit together.

openTSNE does the work: embeddings are first reduced to at most 50 principal components, the perplexity scales with
the cohort (min(30, max(5, (n − 1) / 3))), and the layout starts from PCA (stable and reproducible) with a fixed
seed. Cohorts too small for openTSNE's neighbour search fall back to scikit-learn's exact t-SNE, and a handful of
scans to their first two principal components.

A map is saved beside the cohort's state (:meth:`CohortMap.save`: the reduction, the mapped scans' reduced
embeddings and their positions — plain arrays, no pickled objects), so that a later round places new scans into it
with openTSNE's ``transform`` (:meth:`CohortMap.transform`) and the picture the user knows does not move.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..core.atomic import atomic_path
from ..core.errors import UserInputError

MAP_VERSION = 1
FIT_LIMIT = 10_000  # above this many scans, t-SNE maps a sample of landmarks and places the rest (see fit_map)
CHUNK = 65_536  # rows handled at once where a whole cohort would not fit in memory


def perplexity_for(count: int) -> float:
    """The perplexity used for ``count`` scans: 30 for large cohorts, lower for small ones (never below 5)."""
    return float(min(30.0, max(5.0, (count - 1) / 3)))


@dataclass
class CohortMap:
    """A fitted map: 2D coordinates for the scans it was fitted on, and what is needed to place new ones."""

    coordinates: np.ndarray
    method: str  # "opentsne", "opentsne-landmarks" (large cohorts), "sklearn-tsne" or "pca"
    mean: np.ndarray = field(repr=False)
    basis: np.ndarray = field(repr=False)  # principal axes, [components, features]
    reduced: np.ndarray = field(repr=False)  # the mapped scans' reduced embeddings
    seed: int = 0
    _embedding: object = field(repr=False, default=None)  # openTSNE's TSNEEmbedding, rebuilt when needed

    def reduce(self, embeddings: np.ndarray) -> np.ndarray:
        """Embeddings in the map's principal components."""
        embeddings = np.asarray(embeddings)
        reduced = np.empty((len(embeddings), len(self.basis)))
        for rows in _chunks(len(embeddings)):
            reduced[rows] = (embeddings[rows].astype(np.float64) - self.mean) @ self.basis.T
        return reduced

    def transform(self, embeddings: np.ndarray) -> np.ndarray:
        """2D positions for new scans, existing points kept where they are: optimised against the fixed map by
        openTSNE on t-SNE maps of up to ``FIT_LIMIT`` scans, else each at the median position of its nearest
        mapped scans (as the landmark maps of large cohorts place their scans)."""
        reduced = self.reduce(embeddings)
        if self.method == "opentsne" and len(self.reduced) <= FIT_LIMIT:
            embedding = self._tsne_embedding()
            # openTSNE re-centres the reference embedding in place while placing new points: measure that shift,
            # undo it, and express the new points in the map's own frame.
            reference = np.array(embedding, copy=True)
            placed = np.asarray(embedding.transform(reduced))
            shift = (np.asarray(embedding) - reference).mean(0)
            embedding[:] = reference
            return placed - shift
        return _placed_by_neighbours(reduced, self.reduced, self.coordinates)

    def _tsne_embedding(self):
        """openTSNE's embedding object for this map: the one fitted, or one rebuilt from the saved arrays (the
        reference scans' neighbourhoods are recomputed; their positions are the saved ones)."""
        if self._embedding is None:
            from openTSNE import TSNEEmbedding
            from openTSNE.affinity import PerplexityBasedNN

            affinities = PerplexityBasedNN(np.asarray(self.reduced, dtype=np.float64),
                                           perplexity=perplexity_for(len(self.reduced)), random_state=self.seed,
                                           n_jobs=-1)
            self._embedding = TSNEEmbedding(np.array(self.coordinates, copy=True), affinities,
                                            random_state=self.seed, n_jobs=-1)
        return self._embedding

    def subset(self, keep: np.ndarray) -> CohortMap:
        """The map of only the scans ``keep`` (indices), at the same positions."""
        keep = np.asarray(keep, dtype=int)
        return CohortMap(self.coordinates[keep], self.method, self.mean, self.basis, self.reduced[keep], self.seed)

    def save(self, path: str | Path, names: list[str], embedder: str) -> Path:
        """Write the map (its scans ``names``, in order, embedded by ``embedder``) atomically to ``path``."""
        with atomic_path(path, suffix=".npz") as temporary, open(temporary, "wb") as handle:
            np.savez(handle, version=MAP_VERSION, names=np.array(names, dtype=str), embedder=embedder,
                     method=self.method, seed=self.seed, coordinates=self.coordinates, mean=self.mean,
                     basis=self.basis, reduced=self.reduced)
        return Path(path)


def load_map(path: str | Path, embedder: str) -> tuple[CohortMap, list[str]] | None:
    """The map saved at ``path`` and its scans' names, or None when there is none, it is of another embedder or
    another version, or it cannot be read (the caller fits a new one)."""
    path = Path(path)
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as saved:
            if int(saved["version"]) != MAP_VERSION or str(saved["embedder"]) != embedder:
                return None
            loaded = CohortMap(saved["coordinates"], str(saved["method"]), saved["mean"], saved["basis"],
                               saved["reduced"], int(saved["seed"]))
            names = [str(n) for n in saved["names"]]
    except (OSError, ValueError, KeyError):
        return None
    if not (len(names) == len(loaded.coordinates) == len(loaded.reduced)):
        return None
    return loaded, names


def _chunks(count: int, size: int = CHUNK) -> list[slice]:
    return [slice(start, min(start + size, count)) for start in range(0, count, size)]


def _principal_axes(embeddings: np.ndarray, components: int) -> tuple[np.ndarray, np.ndarray]:
    """The mean and the ``components`` leading principal axes (signs fixed: each axis's largest loading is
    positive), from the scatter matrix accumulated a block of rows at a time — memory stays features², whatever
    the number of scans."""
    count, features = embeddings.shape
    mean = np.zeros(features)
    for rows in _chunks(count):
        mean += embeddings[rows].sum(0, dtype=np.float64)
    mean /= count
    scatter = np.zeros((features, features))
    for rows in _chunks(count):
        centred = embeddings[rows].astype(np.float64) - mean
        scatter += centred.T @ centred
    values, vectors = np.linalg.eigh(scatter)
    basis = vectors[:, np.argsort(values)[::-1][:components]].T
    basis *= np.sign(basis[np.arange(len(basis)), np.abs(basis).argmax(1)])[:, None]
    return mean, basis


def _placed_by_neighbours(reduced: np.ndarray, reference: np.ndarray, coordinates: np.ndarray) -> np.ndarray:
    """Each scan at the median position of its nearest mapped scans (10; fewer on maps under 100 scans)."""
    from sklearn.neighbors import NearestNeighbors

    count = int(np.clip(len(reference) // 10, min(3, len(reference)), 10))
    index = NearestNeighbors(n_neighbors=count, algorithm="brute").fit(reference)
    placed = np.zeros((len(reduced), 2))
    for rows in _chunks(len(reduced)):
        nearest = index.kneighbors(reduced[rows], return_distance=False)
        placed[rows] = np.median(coordinates[nearest], axis=1)
    return placed


def fit_map(embeddings: np.ndarray, seed: int = 0, components: int = 50, initial: np.ndarray | None = None,
            fit_limit: int = FIT_LIMIT) -> CohortMap:
    """Fit a 2D map to ``embeddings`` ``[scans, features]``.

    ``initial`` (``[scans, 2]``) starts the layout from known positions — last round's map — so that a refit after
    scans were added keeps the picture the user knows as far as it can; otherwise the layout starts from PCA.
    Above ``fit_limit`` scans, t-SNE maps a seeded sample of that many (the landmarks) and every other scan is
    placed at the median position of its nearest landmarks: time and memory stay bounded for any cohort.
    """
    embeddings = np.asarray(embeddings)
    if embeddings.ndim != 2 or len(embeddings) < 2:
        raise UserInputError(f"a cohort map needs at least two scans with embeddings; got {embeddings.shape}")
    count = len(embeddings)
    if not all(np.isfinite(embeddings[rows]).all() for rows in _chunks(count)):
        raise UserInputError("some scan embeddings are not finite numbers; recompute them")
    mean, basis = _principal_axes(embeddings, min(components, count - 1, embeddings.shape[1]))
    reduced = np.empty((count, len(basis)), dtype=np.float32 if count > fit_limit else np.float64)
    for rows in _chunks(count):
        reduced[rows] = (embeddings[rows].astype(np.float64) - mean) @ basis.T
    if count < 4:
        coordinates = np.zeros((count, 2))
        coordinates[:, : min(2, reduced.shape[1])] = reduced[:, :2]
        return CohortMap(coordinates, "pca", mean, basis, reduced, seed)
    if count <= 3 * perplexity_for(count):  # openTSNE needs 3 × perplexity neighbours: fewer than 16 scans
        from sklearn.manifold import TSNE

        coordinates = TSNE(perplexity=(count - 1) / 3, init="pca", random_state=seed).fit_transform(reduced)
        return CohortMap(coordinates, "sklearn-tsne", mean, basis, reduced, seed)
    from openTSNE import TSNE
    from openTSNE.initialization import rescale

    landmarks = np.arange(count)
    if count > fit_limit:
        landmarks = np.sort(np.random.default_rng(seed).choice(count, fit_limit, replace=False))
    start = "pca" if initial is None else rescale(np.asarray(initial, dtype=np.float64)[landmarks])
    embedding = TSNE(perplexity=perplexity_for(len(landmarks)), initialization=start, random_state=seed, n_jobs=-1,
                     verbose=False).fit(reduced[landmarks].astype(np.float64))
    if count <= fit_limit:
        return CohortMap(np.array(embedding, copy=True), "opentsne", mean, basis, reduced, seed, embedding)
    coordinates = np.zeros((count, 2))
    coordinates[landmarks] = np.asarray(embedding)
    others = np.setdiff1d(np.arange(count), landmarks)
    coordinates[others] = _placed_by_neighbours(reduced[others], reduced[landmarks], coordinates[landmarks])
    return CohortMap(coordinates, "opentsne-landmarks", mean, basis, reduced, seed)


def update_map(saved: tuple[CohortMap, list[str]] | None, names: list[str], embeddings: np.ndarray,
               positions: dict[str, list[float]], seed: int = 0, refit: bool = False, log=print) -> CohortMap:
    """This round's map of the scans ``names`` (rows of ``embeddings``), in that order.

    With a ``saved`` map, scans it holds that still have a position (``positions``: a changed scan has lost its
    own) keep exactly their place, and new scans are placed into it (:meth:`CohortMap.transform`). It is fitted
    afresh when there is none, when ``refit`` asks for it, or when new scans outnumber the mapped ones (the old map
    no longer describes the cohort); a refit starts from the known positions, so the picture moves as little as
    the new data allows. Each decision is told to ``log``.
    """
    embeddings = np.asarray(embeddings)
    index = {name: i for i, name in enumerate(saved[1])} if saved is not None else {}
    kept = [i for i, name in enumerate(names) if name in index and name in positions]
    new = [i for i, name in enumerate(names) if not (name in index and name in positions)]
    if saved is not None and not refit and new and len(new) <= len(kept):
        reference = saved[0].subset([index[names[i]] for i in kept])
        coordinates = np.zeros((len(names), 2))
        coordinates[kept] = reference.coordinates
        coordinates[new] = reference.transform(embeddings[new])
        reduced = np.zeros((len(names), reference.reduced.shape[1]), dtype=reference.reduced.dtype)
        reduced[kept] = reference.reduced
        reduced[new] = reference.reduce(embeddings[new])
        log(f"map: {len(new)} new scan(s) placed into the map of {len(kept)}; mapped scans keep their places")
        return CohortMap(coordinates, reference.method, reference.mean, reference.basis, reduced, reference.seed)
    if saved is not None and not refit and not new:
        reference = saved[0].subset([index[name] for name in names])
        log(f"map: the {len(names)} scans are mapped already; the map is unchanged")
        return reference
    if saved is not None or positions:
        reason = ("as asked" if refit else f"{len(new)} new scan(s) outnumber the {len(kept)} mapped" if saved
                  is not None else "no saved map")
        log(f"map: fitted afresh ({reason}), starting from the scans' known places")
    else:
        log(f"map: fitted to the {len(names)} scans")
    return fit_map(embeddings, seed=seed, initial=_initial_layout(names, embeddings, positions))


def _initial_layout(names: list[str], embeddings: np.ndarray, positions: dict[str, list[float]]) -> np.ndarray | None:
    """Known places for a refit (a new scan starts at its nearest known scan's), or None (start from PCA) when
    fewer than half the scans have one."""
    known = [i for i, name in enumerate(names) if name in positions]
    if len(known) < max(2, len(names) // 2):
        return None
    initial = np.array([positions.get(name, [0.0, 0.0]) for name in names], dtype=np.float64)
    unknown = [i for i, name in enumerate(names) if name not in positions]
    if unknown:
        from sklearn.metrics import pairwise_distances_argmin  # in blocks: memory stays bounded

        initial[unknown] = initial[np.asarray(known)[pairwise_distances_argmin(embeddings[unknown],
                                                                                embeddings[known])]]
    return initial
