"""Evaluation of scan selection on a labelled cohort, following Levy & Assayag's protocol.

A fixed test split (``test`` images drawn once with ``split_seed``) is never selected from. For every budget and
seed, each strategy picks ``budget`` images from the rest (the pool), the same U-Net is trained on the picks and
scored on the test split: Dice, and HD95 in the images' physical units (pixels for PNG, which carries no spacing).
The report gives mean ± std over seeds of the mean over test images (for HD95, those where it is finite). The map
is fitted once per seed, with that seed, so seeds vary the map, the clustering and the training. Strategies (an
``@embedder`` suffix, e.g. ``coldstart@pixels``, uses another embedder):

* ``random`` — uniform picks; ``kmeans`` — k-means (k = budget) on the raw embeddings, nearest image per centre;
* ``coldstart`` — ours: t-SNE map, k-means with k by stability, medoids + proportional farthest-point sampling;
* ``coldstart-silhouette`` — the same with the paper's k rule (the best mean silhouette);
* ``coldstart-typical`` — the same, farthest-point sampling only among the most typical half of each cluster;
* ``mapkmeans`` — k-means on the map with k = budget (no silhouette), each cluster's medoid;
* ``al`` / ``entropy`` / ``diversity`` — the cold start picks half the budget, a U-Net trained on it scores the pool,
  and the other half is picked greedily by α·H + (1 − α)·D (α = ``alpha``, 1 and 0); the three share that round.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from ..core.errors import UserInputError
from ..core.image import Image
from ..core.io import base_name, pair_images_with_labels, read_image, read_label
from ..core.metrics import dice, hd95, mean_std
from .segmentation_model import SegmentationConfig, predict_probabilities, train_segmenter

STRATEGIES = ("random", "kmeans", "coldstart", "coldstart-silhouette", "coldstart-typical", "mapkmeans", "al",
              "entropy", "diversity")
ACTIVE = {"al": None, "entropy": 1.0, "diversity": 0.0}  # α per active strategy (None: the chosen alpha)
Log = Callable[[str], None]


@dataclass(frozen=True)
class SelectionProtocol:
    budgets: tuple[int, ...] = (10, 20, 40)
    seeds: int = 5
    strategies: tuple[str, ...] = ("random", "kmeans", "coldstart", "al", "entropy", "diversity")
    test: int = 300
    split_seed: int = 0
    alpha: float = 0.5
    embedder: str = "filterbank"
    training: SegmentationConfig = field(default_factory=lambda: SegmentationConfig(steps=400))


def parse_strategy(name: str, default_embedder: str) -> tuple[str, str]:
    """``"coldstart@pixels"`` → ``("coldstart", "pixels")``; no suffix → the default embedder."""
    strategy, _, embedder = name.partition("@")
    if strategy not in STRATEGIES:
        raise UserInputError(f"strategy '{strategy}': unknown; expected some of {', '.join(STRATEGIES)} "
                             "(optionally with @embedder)")
    return strategy, embedder or default_embedder


def kmeans_picks(embeddings: np.ndarray, budget: int, seed: int) -> list[int]:
    """Naive baseline: k-means (k = budget) on the embeddings' 50 principal components; nearest image per centre."""
    from sklearn.cluster import KMeans
    from sklearn.decomposition import PCA

    reduced = PCA(n_components=min(50, *embeddings.shape), random_state=seed).fit_transform(embeddings)
    model = KMeans(n_clusters=budget, n_init=10, random_state=seed).fit(reduced)
    picks: list[int] = []
    for centre in model.cluster_centers_:
        order = np.argsort(((reduced - centre) ** 2).sum(1))
        picks.append(int(next(i for i in order if i not in picks)))
    return picks


class SelectionStudy:
    """Holds the cohort, its split, embeddings and maps; ``run`` fills the report."""

    def __init__(self, images: list[Image], masks: list[np.ndarray], names: list[str],
                 protocol: SelectionProtocol, device: str = "cpu", log: Log = print):
        if len(images) <= protocol.test + max(protocol.budgets):
            raise UserInputError(f"{len(images)} labelled images cannot hold a test split of {protocol.test} and a "
                                 f"pool larger than the budget {max(protocol.budgets)}")
        self.images, self.masks, self.names = images, masks, names
        self.protocol, self.device, self.log = protocol, device, log
        order = np.random.default_rng(protocol.split_seed).permutation(len(images))
        self.test = sorted(int(i) for i in order[: protocol.test])
        self.pool = sorted(int(i) for i in order[protocol.test:])
        self._embeddings: dict[str, np.ndarray] = {}
        self._maps: dict[tuple[str, int], np.ndarray] = {}

    def embeddings(self, embedder_name: str) -> np.ndarray:
        if embedder_name not in self._embeddings:
            from .embedders import get_embedder

            start = time.perf_counter()
            embedder = get_embedder(embedder_name)
            self._embeddings[embedder_name] = np.concatenate(
                [embedder.embed([self.images[i] for i in self.pool[s:s + 32]]) for s in range(0, len(self.pool), 32)])
            self.log(f"embedded {len(self.pool)} pool images with {embedder_name} "
                     f"in {time.perf_counter() - start:.1f} s")
        return self._embeddings[embedder_name]

    def map_points(self, embedder_name: str, seed: int) -> np.ndarray:
        if (embedder_name, seed) not in self._maps:
            from .cohort_map import fit_map

            self._maps[(embedder_name, seed)] = fit_map(self.embeddings(embedder_name), seed=seed).coordinates
        return self._maps[(embedder_name, seed)]

    def train(self, picks: Sequence[int], seed: int):
        """A U-Net trained on pool positions ``picks``."""
        config = replace(self.protocol.training, seed=seed)
        chosen = [self.pool[i] for i in picks]
        return train_segmenter([self.images[i] for i in chosen], [self.masks[i] for i in chosen], config,
                               device=self.device)

    def score(self, model) -> tuple[float, float]:
        """Mean test Dice and HD95 of ``model``."""
        dices, distances = [], []
        for start in range(0, len(self.test), 32):
            batch = self.test[start:start + 32]
            for index, probabilities in zip(batch, predict_probabilities(model, [self.images[i] for i in batch],
                                                                         self.device), strict=True):
                prediction = probabilities.argmax(0).astype(np.uint8)
                dices.append(dice(prediction, self.masks[index]))
                distances.append(hd95(prediction, self.masks[index], self.images[index].geometry.spacing))
        finite = np.asarray(distances)[np.isfinite(distances)]
        return float(np.mean(dices)), float(finite.mean()) if finite.size else float("nan")

    def pool_entropies(self, model) -> np.ndarray:
        from .acquisition import normalised_entropy

        entropies = np.zeros(len(self.pool))
        for start in range(0, len(self.pool), 32):
            batch = list(range(start, min(start + 32, len(self.pool))))
            probabilities = predict_probabilities(model, [self.images[self.pool[i]] for i in batch], self.device)
            entropies[batch] = [normalised_entropy(p) for p in probabilities]
        return entropies

    def select(self, strategy: str, embedder_name: str, budget: int, seed: int,
               round_models: dict) -> list[int]:
        from .cold_start import cold_start

        if strategy == "random":
            return [int(i) for i in np.random.default_rng(seed).choice(len(self.pool), budget, replace=False)]
        if strategy == "kmeans":
            return kmeans_picks(self.embeddings(embedder_name), budget, seed)
        points = self.map_points(embedder_name, seed)
        if strategy == "coldstart":
            return cold_start(points, budget, seed=seed).picks
        if strategy == "coldstart-silhouette":
            return cold_start(points, budget, seed=seed, k_rule="silhouette").picks
        if strategy == "coldstart-typical":
            return cold_start(points, budget, seed=seed, typical=0.5).picks
        if strategy == "mapkmeans":
            return cold_start(points, budget, seed=seed, k_min=budget).picks
        from .acquisition import select

        first = cold_start(points, budget // 2, seed=seed).picks
        key = (embedder_name, budget, seed)
        if key not in round_models:  # the cold-start round's model, shared by al / entropy / diversity
            round_models[key] = self.pool_entropies(self.train(first, seed))
        alpha = self.protocol.alpha if ACTIVE[strategy] is None else ACTIVE[strategy]
        candidates = [i for i in range(len(self.pool)) if i not in set(first)]
        picks = select(points, round_models[key], candidates, first, budget - len(first), alpha)
        return first + [p.index for p in picks]

    def run(self, on_result: Callable[[dict], None] | None = None,
            progress: Callable[[float, str], None] | None = None) -> dict:
        """Every seed × budget × strategy; ``on_result(report)`` after each trained model, ``progress(fraction,
        "models: …")`` before each."""
        protocol = self.protocol
        strategies = [(name, *parse_strategy(name, protocol.embedder)) for name in protocol.strategies]
        results: dict[str, dict[str, list]] = {n: {str(b): [] for b in protocol.budgets} for n, *_ in strategies}
        report = self._report(results)
        total, done = protocol.seeds * len(protocol.budgets) * len(strategies), 0
        for seed in range(protocol.seeds):
            for budget in protocol.budgets:
                round_models: dict = {}
                for name, strategy, embedder_name in strategies:
                    if progress is not None:
                        progress(done / total, f"models: {done + 1} of {total}, seed {seed} budget {budget} {name}")
                    done += 1
                    start = time.perf_counter()
                    picks = self.select(strategy, embedder_name, budget, seed, round_models)
                    dice_value, hd95_value = self.score(self.train(picks, seed))
                    results[name][str(budget)].append({"seed": seed, "dice": dice_value, "hd95": hd95_value,
                                                       "picks": [self.names[self.pool[i]] for i in picks]})
                    self.log(f"seed {seed} budget {budget} {name}: Dice {dice_value:.4f} HD95 {hd95_value:.2f} "
                             f"({time.perf_counter() - start:.0f} s)")
                    report = self._report(results)
                    if on_result is not None:
                        on_result(report)
        return report

    def _report(self, results: dict[str, dict[str, list]]) -> dict:
        protocol = self.protocol
        strategies = {}
        for name, by_budget in results.items():
            strategies[name] = {budget: {"dice": mean_std([r["dice"] for r in runs]),
                                         "hd95": mean_std([r["hd95"] for r in runs]),
                                         "per_seed": runs} for budget, runs in by_budget.items()}
        return {"budgets": list(protocol.budgets), "strategies": strategies,
                "protocol": {"seeds": protocol.seeds, "test_images": len(self.test), "pool_images": len(self.pool),
                             "split_seed": protocol.split_seed, "alpha": protocol.alpha,
                             "embedder": protocol.embedder, "training": protocol.training.to_dict(),
                             "test": [self.names[i] for i in self.test]}}


def load_labelled_images(images: str | Path, labels: str | Path, structures: Sequence[int] | None,
                         log: Log = print) -> tuple[list[Image], list[np.ndarray], list[str]]:
    """2D images with binary masks (the ``structures`` values, or any non-zero value); unreadable pairs skipped."""
    loaded, masks, names = [], [], []
    for image_path, label_path in pair_images_with_labels(images, labels, log):
        try:
            image = read_image(image_path, dims=(2,))
            label = read_label(label_path, image).array
        except UserInputError as error:
            log(f"skipped: {error}")
            continue
        mask = np.isin(label, list(structures)) if structures else label > 0
        loaded.append(image)
        masks.append(mask.astype(np.uint8))
        names.append(base_name(image_path))
    return loaded, masks, names
