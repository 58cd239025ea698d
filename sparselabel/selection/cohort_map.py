"""The cohort map: scan embeddings placed in 2D with t-SNE, so that similar scans sit together.

openTSNE does the work: embeddings are first reduced to at most 50 principal components, the perplexity scales with
the cohort (min(30, max(5, (n − 1) / 3))), and the layout starts from PCA (stable and reproducible) with a fixed
seed. Cohorts too small for openTSNE's neighbour search fall back to scikit-learn's exact t-SNE, and a handful of
scans to their first two principal components.

A map is saved beside the cohort's state (:meth:`CohortMap.save`: the reduction, the mapped scans' reduced
embeddings and their positions — plain arrays, no pickled objects), so that a later round places new scans into it
(:meth:`CohortMap.transform`) and the picture the user knows does not move. New scans are placed against the
map's anchors — the scans t-SNE itself laid out — never against scans placed before them.
"""

from __future__ import annotations

import zipfile
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
    """A map: 2D coordinates for its scans, and what is needed to place new ones."""

    coordinates: np.ndarray
    method: str  # "opentsne", "opentsne-landmarks" (large cohorts), "sklearn-tsne" or "pca"
    mean: np.ndarray = field(repr=False)
    basis: np.ndarray = field(repr=False)  # principal axes, [components, features]
    reduced: np.ndarray = field(repr=False)  # the mapped scans' reduced embeddings
    anchors: np.ndarray = field(repr=False)  # whether each scan was laid out by the fit (not placed afterwards)
    seed: int = 0
    _embedding: object = field(repr=False, default=None)  # openTSNE's TSNEEmbedding of the anchors, when built

    def reduce(self, embeddings: np.ndarray) -> np.ndarray:
        """Embeddings in the map's principal components."""
        return _reduced(np.asarray(embeddings), self.mean, self.basis, np.float64)

    def transform(self, embeddings: np.ndarray) -> np.ndarray:
        """2D positions for new scans; the map's scans keep theirs (:meth:`place`)."""
        return self.place(self.reduce(embeddings))

    def place(self, reduced: np.ndarray) -> np.ndarray:
        """2D positions for new scans given in the map's principal components, optimised against the fixed
        anchors by openTSNE on t-SNE maps, else each at the median position of its nearest anchors (as the
        landmark maps of large cohorts place their scans)."""
        if self.method == "opentsne":
            embedding = self._tsne_embedding()
            # openTSNE re-centres the reference embedding in place while placing new points: measure that shift,
            # undo it, and express the new points in the map's own frame.
            reference = np.array(embedding, copy=True)
            placed = np.asarray(embedding.transform(reduced))
            shift = (np.asarray(embedding) - reference).mean(0)
            embedding[:] = reference
            return placed - shift
        return _placed_by_neighbours(reduced, self.reduced[self.anchors], self.coordinates[self.anchors])

    def _tsne_embedding(self):
        """openTSNE's embedding object for the anchors: the one fitted, or one rebuilt from the saved arrays (the
        anchors' neighbourhoods are recomputed; their positions are the saved ones)."""
        if self._embedding is None:
            from openTSNE import TSNEEmbedding
            from openTSNE.affinity import PerplexityBasedNN

            reduced = np.asarray(self.reduced[self.anchors], dtype=np.float64)
            affinities = PerplexityBasedNN(reduced, perplexity=perplexity_for(len(reduced)), random_state=self.seed,
                                           n_jobs=-1)
            self._embedding = TSNEEmbedding(np.array(self.coordinates[self.anchors], copy=True), affinities,
                                            random_state=self.seed, n_jobs=-1)
        return self._embedding

    def subset(self, keep: np.ndarray) -> CohortMap:
        """The map of only the scans ``keep`` (indices), at the same positions."""
        keep = np.asarray(keep, dtype=int)
        return CohortMap(self.coordinates[keep], self.method, self.mean, self.basis, self.reduced[keep],
                         self.anchors[keep], self.seed)

    def save(self, path: str | Path, names: list[str], embedder: str) -> Path:
        """Write the map (its scans ``names``, in order, embedded by ``embedder``) atomically to ``path``."""
        with atomic_path(path, suffix=".npz") as temporary, open(temporary, "wb") as handle:
            np.savez(handle, version=MAP_VERSION, names=np.array(names, dtype=str), embedder=embedder,
                     method=self.method, seed=self.seed, coordinates=self.coordinates, mean=self.mean,
                     basis=self.basis, reduced=self.reduced, anchors=self.anchors)
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
                               saved["reduced"], saved["anchors"].astype(bool), int(saved["seed"]))
            names = [str(n) for n in saved["names"]]
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None
    if not (len(names) == len(loaded.coordinates) == len(loaded.reduced) == len(loaded.anchors)):
        return None
    return loaded, names


def _chunks(count: int, size: int = CHUNK) -> list[slice]:
    return [slice(start, min(start + size, count)) for start in range(0, count, size)]


def _reduced(embeddings: np.ndarray, mean: np.ndarray, basis: np.ndarray, dtype) -> np.ndarray:
    reduced = np.empty((len(embeddings), len(basis)), dtype=dtype)
    for rows in _chunks(len(embeddings)):
        reduced[rows] = (embeddings[rows].astype(np.float64) - mean) @ basis.T
    return reduced


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
    """Each scan at the median position of its nearest reference scans (10; fewer for under 100 references)."""
    from sklearn.neighbors import NearestNeighbors

    count = int(np.clip(len(reference) // 10, min(3, len(reference)), 10))
    index = NearestNeighbors(n_neighbors=count, algorithm="brute").fit(reference)
    placed = np.zeros((len(reduced), 2))
    for rows in _chunks(len(reduced)):
        nearest = index.kneighbors(reduced[rows], return_distance=False)
        placed[rows] = np.median(coordinates[nearest], axis=1)
    return placed


def _start_layout(initial: np.ndarray | None, reduced: np.ndarray) -> np.ndarray | None:
    """The layout a fit starts from: ``initial`` (rows of NaN: no known place) with each unknown row at its nearest
    known scan's place, or None — start from PCA — when fewer than half the rows have a place."""
    if initial is None:
        return None
    initial = np.array(initial, dtype=np.float64)
    known = np.flatnonzero(np.isfinite(initial).all(1))
    if len(known) < max(2, len(initial) // 2):
        return None
    unknown = np.flatnonzero(~np.isfinite(initial).all(1))
    if unknown.size:
        from sklearn.metrics import pairwise_distances_argmin  # in blocks: memory stays bounded

        initial[unknown] = initial[known[pairwise_distances_argmin(reduced[unknown], reduced[known])]]
    return initial


def fit_map(embeddings: np.ndarray, seed: int = 0, components: int = 50, initial: np.ndarray | None = None,
            fit_limit: int = FIT_LIMIT) -> CohortMap:
    """Fit a 2D map to ``embeddings`` ``[scans, features]``.

    ``initial`` (``[scans, 2]``; NaN rows: no known place) starts the layout from known positions — last round's
    map — so that a refit keeps the picture the user knows as far as it can (see :func:`_start_layout`); otherwise
    the layout starts from PCA. Above ``fit_limit`` scans, t-SNE maps a seeded sample of that many (the landmarks)
    and every other scan is placed at the median position of its nearest landmarks: time and memory stay bounded
    for any cohort.
    """
    embeddings = np.asarray(embeddings)
    if embeddings.ndim != 2 or len(embeddings) < 2:
        raise UserInputError(f"a cohort map needs at least two scans with embeddings; got {embeddings.shape}")
    count = len(embeddings)
    if not all(np.isfinite(embeddings[rows]).all() for rows in _chunks(count)):
        raise UserInputError("some scan embeddings are not finite numbers; recompute them")
    mean, basis = _principal_axes(embeddings, min(components, count - 1, embeddings.shape[1]))
    reduced = _reduced(embeddings, mean, basis, np.float32 if count > fit_limit else np.float64)
    everything = np.ones(count, dtype=bool)
    if count < 4:
        coordinates = np.zeros((count, 2))
        coordinates[:, : min(2, reduced.shape[1])] = reduced[:, :2]
        return CohortMap(coordinates, "pca", mean, basis, reduced, everything, seed)
    if count <= 3 * perplexity_for(count):  # openTSNE needs 3 × perplexity neighbours: fewer than 16 scans
        from sklearn.manifold import TSNE

        coordinates = TSNE(perplexity=(count - 1) / 3, init="pca", random_state=seed).fit_transform(reduced)
        return CohortMap(coordinates, "sklearn-tsne", mean, basis, reduced, everything, seed)
    from openTSNE import TSNE
    from openTSNE.initialization import rescale

    landmarks = np.arange(count)
    if count > fit_limit:
        landmarks = np.sort(np.random.default_rng(seed).choice(count, fit_limit, replace=False))
    start = _start_layout(None if initial is None else np.asarray(initial)[landmarks], reduced[landmarks])
    embedding = TSNE(perplexity=perplexity_for(len(landmarks)), initialization="pca" if start is None else
                     rescale(start), random_state=seed, n_jobs=-1, verbose=False).fit(
                         reduced[landmarks].astype(np.float64))
    if count <= fit_limit:
        return CohortMap(np.array(embedding, copy=True), "opentsne", mean, basis, reduced, everything, seed,
                         embedding)
    coordinates = np.zeros((count, 2))
    coordinates[landmarks] = np.asarray(embedding)
    others = np.setdiff1d(np.arange(count), landmarks)
    coordinates[others] = _placed_by_neighbours(reduced[others], reduced[landmarks], coordinates[landmarks])
    anchors = np.zeros(count, dtype=bool)
    anchors[landmarks] = True
    return CohortMap(coordinates, "opentsne-landmarks", mean, basis, reduced, anchors, seed)


def update_map(saved: tuple[CohortMap, list[str]] | None, names: list[str], embeddings: np.ndarray,
               positions: dict[str, list[float]], seed: int = 0, refit: bool = False, log=print) -> CohortMap:
    """This round's map of the scans ``names`` (rows of ``embeddings``), in that order.

    With a ``saved`` map, scans it holds that still have a position (``positions``: a changed scan has lost its
    own) keep exactly their place, and new scans are placed into it (:meth:`CohortMap.place`). It is fitted afresh
    when there is none, when ``refit`` asks for it, when new scans outnumber the mapped ones (the old map no longer
    describes the cohort), or when a map too small for openTSNE has grown large enough for it; a refit starts from
    the known positions when at least half the scans have one. Each decision is told to ``log``.
    """
    embeddings = np.asarray(embeddings)
    index = {name: i for i, name in enumerate(saved[1])} if saved is not None else {}
    kept = [i for i, name in enumerate(names) if name in index and name in positions]
    new = [i for i, name in enumerate(names) if not (name in index and name in positions)]
    outgrown = saved is not None and saved[0].method in ("pca", "sklearn-tsne") and \
        len(names) > 3 * perplexity_for(len(names))
    if saved is not None and not refit and not outgrown and len(new) <= len(kept):
        reference = saved[0].subset([index[names[i]] for i in kept])
        if not new:
            log(f"map: the {len(names)} scans are mapped already; the map is unchanged")
            return reference
        placed = reference.reduce(embeddings[new]).astype(reference.reduced.dtype)
        coordinates = np.zeros((len(names), 2))
        coordinates[kept] = reference.coordinates
        coordinates[new] = reference.place(placed)
        reduced = np.zeros((len(names), placed.shape[1]), dtype=placed.dtype)
        reduced[kept], reduced[new] = reference.reduced, placed
        anchors = np.zeros(len(names), dtype=bool)
        anchors[kept] = reference.anchors
        log(f"map: {len(new)} new scan(s) placed into the map of {len(kept)}; mapped scans keep their places")
        return CohortMap(coordinates, reference.method, reference.mean, reference.basis, reduced, anchors,
                         reference.seed)
    initial = np.array([positions.get(name, [np.nan, np.nan]) for name in names], dtype=np.float64)
    known = int(np.isfinite(initial).all(1).sum())
    start = "starting from the scans' known places" if known >= max(2, len(names) // 2) else \
        "from the embeddings' principal components (too few scans have a place)"
    if saved is not None or positions:
        reason = ("as asked" if refit else "the cohort has grown large enough for t-SNE" if outgrown else
                  f"{len(new)} new scan(s) outnumber the {len(kept)} mapped" if saved is not None else "no saved map")
        log(f"map: fitted afresh ({reason}), {start}")
    else:
        log(f"map: fitted to the {len(names)} scans")
    return fit_map(embeddings, seed=seed, initial=initial if known else None)
