"""The ActiveSeg round, headless: cohort folder in → worklist (``ranking.csv``), map picture, updated project state.

1. The cohort's scans are listed and compared with the saved state (added / removed / changed are reported);
   unreadable scans are reported and skipped, never the end of the run.
2. Every readable scan is embedded, cached per embedder and content hash (:mod:`.embedding_cache`).
3. The map stays put: last round's map (``.sparselabel/map.npz``) is kept and new scans are placed into it; it is
   fitted afresh on the first round, when asked (``refit_map``), or when new scans outnumber the mapped ones.
4. The strategy picks ``budget`` unlabelled scans: ``coldstart`` (medoids + proportional farthest-point sampling),
   ``al`` (a U-Net trained on the labelled scans; α·entropy + (1 − α)·diversity), or ``random``.
5. The caller's outputs are written (``outputs``), then the round is recorded in the state, saved atomically: the
   state never claims a round whose outputs are missing.

The cohort is locked from start to end (:mod:`.cohort_lock`): a second command on it is refused, not interleaved.
"""

from __future__ import annotations

import csv
import io as text_io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..core.atomic import write_text
from ..core.errors import CancelledError, UserInputError
from ..core.io import base_name, discover_images, grid_mismatch, read_image, read_label
from .cohort_lock import cohort_lock
from .cohort_map import CohortMap
from .cohort_state import STATE_FOLDER, CohortState, load_state, refresh_scans, save_state
from .embedding_batches import LocalEngine
from .embedding_cache import cached_embeddings

STRATEGIES = ("coldstart", "al", "random")
MAP_FILE = Path(STATE_FOLDER) / "map.npz"
Log = Callable[[str], None]
Progress = Callable[[float, str], None]
Cancel = Callable[[], bool]
Outputs = Callable[["RankedRound"], None]


@dataclass
class RankedScan:
    scan: str
    status: str  # "next" (picked this round), "unlabelled" or "labelled"
    rank: int | None = None
    cluster: int | None = None
    entropy: float | None = None
    diversity: float | None = None
    score: float | None = None


@dataclass
class RankedRound:
    """One round's result: the worklist, the round's number, and the map (coordinates and scan names)."""

    worklist: list[RankedScan]
    number: int
    points: np.ndarray
    names: list[str]
    state: CohortState
    map: CohortMap  # saved with the state: the next round places new scans into it


def _labelled(labels: Path, names: list[str]) -> set[str]:
    if not labels.is_dir():
        return set()
    present = {base_name(p) for p in labels.iterdir() if p.is_file() and not p.name.startswith(".")}
    return present & set(names)


def _fitting_labels(scans: dict[str, Path], labels: Path, log: Log) -> list[str]:
    """The scans (name → path) whose label in ``labels`` lies on the scan's voxel grid (from the files' headers);
    labels that do not, or cannot be read, are named and not counted."""
    if not labels.is_dir():
        return []
    files = {base_name(p): p for p in labels.iterdir() if p.is_file() and not p.name.startswith(".")}
    fitting = []
    for name in sorted(set(files) & set(scans)):
        try:
            problems = grid_mismatch(scans[name], files[name])
        except UserInputError as error:
            log(f"unreadable label, not counted as labelled: {error}")
            continue
        if problems:
            log(f"{files[name]}: does not lie on its scan's voxel grid ({problems}); not counted as labelled")
        else:
            fitting.append(name)
    return fitting


def _mixed_dimensions(state: CohortState, names: list[str], log: Log) -> None:
    dims = [state.scans[n].dim for n in names if state.scans[n].dim is not None]
    if 2 in dims and 3 in dims:
        log(f"the cohort mixes {dims.count(2)} 2D image(s) and {dims.count(3)} 3D volume(s): they are mapped "
            "together, but a picture and a volume are described differently; rank them as separate cohorts")


def _entropies(cohort: Path, state: CohortState, labels: Path, labelled: list[str], candidates: list[str],
               segmentation, log: Log, progress: Progress | None, cancel: Cancel | None,
               device_name: str = "auto") -> dict[str, float]:
    """Train the segmentation model on the labelled scans (volumes slice by slice); each candidate's entropy."""
    from ..core.devices import select_device
    from .segmentation_model import as_slices, save_segmenter, scan_entropy, train_segmenter

    images, masks = [], []
    for name in labelled:
        image = read_image(cohort / state.scans[name].path)
        label_file = next(p for p in labels.iterdir() if base_name(p) == name and not p.name.startswith("."))
        slices, label_slices = as_slices(image, read_label(label_file, image).array)
        images += slices
        masks += label_slices
    device = select_device(device_name)
    log(f"training the segmentation model on {len(labelled)} labelled scan(s) ({len(images)} images)")
    model = train_segmenter(images, masks, segmentation, device=device, progress=progress, cancel=cancel)
    checkpoint = Path(STATE_FOLDER) / "models" / f"round-{len(state.rounds) + 1}.pt"
    save_segmenter(model, cohort / checkpoint, trained_on=labelled)
    state.checkpoints.append(checkpoint.as_posix())
    log(f"segmentation model saved: {cohort / checkpoint}")
    scores = {}
    for index, name in enumerate(candidates):
        if cancel is not None and cancel():
            raise CancelledError("cancelled while scoring the scans; the project state is unchanged")
        if progress is not None:
            progress(index / len(candidates), f"scoring scans: {index} of {len(candidates)}")
        scores[name] = scan_entropy(model, read_image(cohort / state.scans[name].path), device)
    return scores


def rank_cohort(cohort: str | Path, budget: int, strategy: str = "coldstart", alpha: float = 0.5,
                embedder: str = "filterbank", labels: str | Path | None = None, seed: int = 0,
                segmentation=None, log: Log = print, embedder_path: str | Path | None = None,
                progress: Progress | None = None, cancel: Cancel | None = None,
                outputs: Outputs | None = None, device: str = "auto", refit_map: bool = False,
                k_rule: str = "stability") -> RankedRound:
    """Run one round (see the module docstring) and return it.

    ``progress(fraction, message)`` is told how the work goes; when ``cancel()`` turns true the round stops with
    :class:`CancelledError` and the saved state is left as it was. ``outputs(round)``, when given, writes the
    caller's files for the round before the state records it; if it fails, the state is left as it was.
    The map stays put between rounds (new scans are placed into it) unless ``refit_map`` asks for a new one;
    ``k_rule`` chooses how many clusters the map is read as (:data:`.cold_start.K_RULES`).
    """
    if strategy not in STRATEGIES:
        raise UserInputError(f"strategy '{strategy}': unknown; expected one of {', '.join(STRATEGIES)}")
    if not 0.0 <= alpha <= 1.0:
        raise UserInputError(f"alpha {alpha:g}: expected a weight between 0 and 1")
    if budget < 1:
        raise UserInputError(f"budget {budget}: expected at least one scan to pick")
    from .cold_start import K_RULES

    if k_rule not in K_RULES:
        raise UserInputError(f"k rule '{k_rule}': unknown; expected one of {', '.join(K_RULES)}")
    from .embedders import get_embedder

    cohort = Path(cohort)
    scans = {base_name(p): p for p in discover_images(cohort)}  # a missing or empty folder fails here
    labels = Path(labels) if labels is not None else cohort / "labels"
    labelled = _fitting_labels(scans, labels, log)
    if budget > len(scans) - len(labelled):  # before anything is written
        raise UserInputError(f"budget {budget} is larger than the {len(scans) - len(labelled)} unlabelled scans")
    if strategy == "al" and not labelled:
        raise UserInputError("active learning needs labelled scans to train on; run the cold start first and save "
                             f"labels in {labels}")
    load_state(cohort)  # a damaged state is refused here too, before the lock file is made
    from ..core.devices import select_device

    select_device(device)  # an unknown or absent device, too
    model = get_embedder(embedder, embedder_path, device)  # and so do missing or unreadable model files
    try:
        (cohort / STATE_FOLDER).mkdir(exist_ok=True)
    except OSError as error:
        raise UserInputError(f"{cohort}: cannot keep the project state there ({error.strerror}); ActiveSeg needs a "
                             "writable cohort folder (copy or link the scans into one)") from None
    with cohort_lock(cohort / STATE_FOLDER, log):
        ranked = _rank(cohort, budget, strategy, alpha, model, labels, labelled, seed, segmentation, log, progress,
                       cancel, device, refit_map, k_rule)
        if outputs is not None:
            outputs(ranked)
        ranked.map.save(cohort / MAP_FILE, ranked.names, model.identity)  # a map without its state is harmless
        save_state(cohort, ranked.state)
    return ranked


def _rank(cohort: Path, budget: int, strategy: str, alpha: float, model, labels: Path, fitting: list[str], seed: int,
          segmentation, log: Log, progress: Progress | None, cancel: Cancel | None, device: str,
          refit_map: bool = False, k_rule: str = "stability") -> RankedRound:
    """The round's work, under the cohort's lock; nothing of the state is saved here."""
    embedder = model.name
    from .cohort_map import load_map, update_map
    from .cold_start import cold_start

    state = load_state(cohort) or CohortState()
    changes = refresh_scans(cohort, state)
    for kind in ("added", "removed", "changed"):
        if getattr(changes, kind) and state.rounds:
            log(f"since the last run, {kind}: {', '.join(getattr(changes, kind))}")
    if state.embedder not in (None, embedder):
        state.coordinates, state.clusters = {}, {}
    state.embedder = embedder
    names, vectors = cached_embeddings(cohort, state, sorted(state.scans), model.identity, LocalEngine(model), log,
                                       progress, cancel)
    if len(names) < 2:
        raise UserInputError(f"{cohort}: fewer than two readable scans; a cohort map needs at least two")
    cohort_map = update_map(load_map(cohort / MAP_FILE, model.identity), names, vectors, state.coordinates, seed,
                            refit_map, log)
    points = cohort_map.coordinates
    _mixed_dimensions(state, names, log)
    position = {name: index for index, name in enumerate(names)}
    labelled = [name for name in fitting if name in position]  # the readable ones
    labelled_index = [position[n] for n in labelled]
    labelled_set = set(labelled)
    candidates = [i for i in range(len(names)) if names[i] not in labelled_set]
    if budget > len(candidates):
        raise UserInputError(f"budget {budget} is larger than the {len(candidates)} unlabelled scans")
    picks: list[tuple[int, float | None, float | None, float | None]] = []
    if strategy == "coldstart":
        result = cold_start(points, budget, labelled_index, seed=seed, k_rule=k_rule)
        clusters = result.clusters
        picks = [(i, None, None, None) for i in result.picks]
    else:
        from .cold_start import cluster_map

        _, found, _ = cluster_map(points, min(10, len(points) - 1), seed, k_rule)
        clusters = found
        if strategy == "random":
            order = np.random.default_rng(seed).permutation(candidates)[:budget]
            picks = [(int(i), None, None, None) for i in order]
        else:
            from .acquisition import select

            if not labelled:
                raise UserInputError("active learning needs labelled scans to train on; run the cold start first "
                                     f"and save labels in {labels}")
            entropy = _entropies(cohort, state, labels, labelled, [names[i] for i in candidates], segmentation, log,
                                 progress, cancel, device)
            scores = np.zeros(len(names))
            scores[candidates] = [entropy[names[i]] for i in candidates]
            picks = [(p.index, p.entropy, p.diversity, p.score)
                     for p in select(points, scores, candidates, labelled_index, budget, alpha)]
    state.coordinates = {n: [float(x), float(y)] for n, (x, y) in zip(names, points, strict=True)}
    state.clusters = {n: int(c) for n, c in zip(names, clusters, strict=True)}
    worklist = [RankedScan(names[i], "next", rank, int(clusters[i]), h, d, s)
                for rank, (i, h, d, s) in enumerate(picks, start=1)]
    picked = {i for i, *_ in picks}
    worklist += [RankedScan(names[i], "unlabelled", cluster=int(clusters[i])) for i in candidates if i not in picked]
    worklist += [RankedScan(n, "labelled", cluster=int(clusters[position[n]])) for n in labelled]
    state.rounds.append({"strategy": strategy, "budget": budget, "alpha": alpha, "embedder": embedder,
                         "labelled": labelled, "picks": [vars(w) for w in worklist if w.status == "next"]})
    return RankedRound(worklist, len(state.rounds), points, names, state, cohort_map)


def write_worklist(worklist: list[RankedScan], path: str | Path) -> Path:
    """``ranking.csv``: rank, scan, cluster, entropy, diversity, score, status."""
    buffer = text_io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["rank", "scan", "cluster", "entropy", "diversity", "score", "status"])
    for row in worklist:
        writer.writerow([row.rank or "", row.scan, "" if row.cluster is None else row.cluster,
                         *("" if v is None else f"{v:.4f}" for v in (row.entropy, row.diversity, row.score)),
                         row.status])
    return write_text(path, buffer.getvalue())


def draw_map(points: np.ndarray, names: list[str], worklist: list[RankedScan], path: str | Path,
             title: str = "Cohort map") -> Path:
    """``map.png``: scans coloured by cluster, labelled scans ringed, next picks starred and numbered."""
    from ..core.figures import pyplot, save_figure
    from ..core.palette import segment_color

    plt = pyplot()
    by_name = {w.scan: w for w in worklist}
    figure, axis = plt.subplots(figsize=(6.5, 5.5))
    clusters = np.array([by_name[n].cluster for n in names])
    for cluster in sorted(set(clusters)):
        inside = clusters == cluster
        axis.scatter(points[inside, 0], points[inside, 1], s=22, color=segment_color(int(cluster)),
                     label=f"cluster {cluster + 1}", alpha=0.85, linewidths=0)
    labelled = np.array([by_name[n].status == "labelled" for n in names])
    if labelled.any():
        axis.scatter(points[labelled, 0], points[labelled, 1], s=70, facecolors="none", edgecolors="black",
                     linewidths=1.2, label="labelled")
    for name, point in zip(names, points, strict=True):
        row = by_name[name]
        if row.status == "next":
            axis.scatter(*point, s=160, marker="*", color="#d62728", edgecolors="white", linewidths=0.6, zorder=3)
            axis.annotate(str(row.rank), point, xytext=(4, 4), textcoords="offset points", fontsize=7)
    axis.scatter([], [], s=160, marker="*", color="#d62728", label="next picks")
    axis.set_xticks([])
    axis.set_yticks([])
    axis.legend(fontsize=7, loc="best", frameon=False)
    axis.set_title(title, fontsize=10)
    return save_figure(figure, path)


def saved_round(cohort: str | Path, labels: str | Path | None = None) -> tuple[list[RankedScan], np.ndarray,
                                                                              list[str]] | None:
    """The last round kept in the cohort's state — worklist, map coordinates, scan names — or None if none yet.

    Reopening a cohort shows it without recomputing anything; scans labelled since are marked labelled.
    """
    cohort = Path(cohort)
    state = load_state(cohort)
    if state is None or not state.rounds or not state.coordinates:
        return None
    labels = Path(labels) if labels is not None else cohort / "labels"
    names = sorted(state.coordinates)
    points = np.array([state.coordinates[n] for n in names], dtype=float)
    labelled = _labelled(labels, names)
    picks = [p for p in state.rounds[-1]["picks"] if p["scan"] in state.coordinates]
    worklist = [RankedScan(p["scan"], "labelled" if p["scan"] in labelled else "next", p["rank"],
                           state.clusters.get(p["scan"]), p["entropy"], p["diversity"], p["score"]) for p in picks]
    picked = {p["scan"] for p in picks}
    worklist += [RankedScan(n, "labelled" if n in labelled else "unlabelled", cluster=state.clusters.get(n))
                 for n in names if n not in picked]
    return worklist, points, names
