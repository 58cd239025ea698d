"""A cohort's embedding cache: one vector per scan and embedder, computed once, kept beside the scans.

``<cohort>/.sparselabel/embeddings/<embedder>/<sha256 of the scan>.npy`` — keyed by content, so a renamed scan is
not embedded again and a changed one is. Each file is written atomically by the process that owns the cohort (the
one holding its lock): an interrupted run leaves complete vectors only, and the next run embeds what is missing.

Missing vectors are computed in batches of scans, here (:class:`.embedding_batches.LocalEngine`) or on a Dask
cluster (:class:`.dask_engine.DaskEngine`); both hand back the same per-scan results, written here the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from ..core.atomic import atomic_path
from ..core.errors import CancelledError, UserInputError
from .cohort_state import STATE_FOLDER, CohortState
from .embedding_batches import BATCH, LocalEngine


def cache_folder(cohort: Path, identity: str) -> Path:
    return Path(cohort) / STATE_FOLDER / "embeddings" / identity


def cached_embeddings(cohort: Path, state: CohortState, names: Sequence[str], identity: str, engine,
                      log: Callable[[str], None], progress: Callable[[float, str], None] | None = None,
                      cancel: Callable[[], bool] | None = None, batch: int = BATCH) -> tuple[list[str], np.ndarray]:
    """The vectors of ``names`` (scans of ``state``), from the cache or computed by ``engine`` and cached; returns
    the readable names, in order, and their vectors. Unreadable scans are logged and left out."""
    cache = cache_folder(cohort, identity)
    vectors: dict[str, np.ndarray] = {}
    missing = []
    for name in names:
        cached = cache / f"{state.scans[name].sha256}.npy"
        if cached.exists():
            vectors[name] = np.load(cached)
        else:
            missing.append(name)
    batches = [[(name, str(Path(cohort).resolve() / state.scans[name].path)) for name in missing[start:start + batch]]
               for start in range(0, len(missing), batch)]
    done = 0
    if missing and cancel is not None and cancel():
        raise CancelledError("cancelled while embedding the scans; the project state is unchanged")
    if missing and progress is not None:
        progress(0.0, f"embedding scans: 0 of {len(missing)}")
    results = engine.run(batches)
    try:
        for results_of_batch in results:
            for result in results_of_batch:
                if result.error is not None:
                    log(f"unreadable, skipped: {result.error}")
                    continue
                state.scans[result.name].dim = result.dim
                with atomic_path(cache / f"{state.scans[result.name].sha256}.npy") as temporary:
                    np.save(temporary, result.vector)
                vectors[result.name] = result.vector
            done += len(results_of_batch)
            if cancel is not None and cancel():
                raise CancelledError("cancelled while embedding the scans; the project state is unchanged (the "
                                     f"{done} scans embedded so far are kept in the cache)")
            if progress is not None:
                progress(done / len(missing), f"embedding scans: {done} of {len(missing)}")
    finally:
        results.close()  # an engine stops what it still runs
    readable = [n for n in names if n in vectors]
    return readable, np.stack([vectors[n] for n in readable]) if readable else np.zeros((0, 0))


def embed_cohort(cohort: str | Path, embedder: str = "filterbank", embedder_path: str | Path | None = None,
                 device: str = "auto", dask: str | None = None, batch: int | None = None,
                 log: Callable[[str], None] = print, progress: Callable[[float, str], None] | None = None,
                 cancel: Callable[[], bool] | None = None) -> tuple[int, int]:
    """Fill the cache with the vectors ``rank`` will need for ``cohort``: here, or on the Dask cluster at ``dask``
    (:mod:`.dask_engine`); returns (scans embedded now, scans whose vector was cached already).

    Runs under the cohort's lock and saves the refreshed scan list (with each scan's dimensionality) in its state;
    the map and the rounds are left to ``rank``.
    """
    from contextlib import nullcontext

    from ..core.io import discover_images
    from .cohort_lock import cohort_lock
    from .cohort_state import load_state, refresh_scans, save_state
    from .embedders import get_embedder

    cohort = Path(cohort)
    discover_images(cohort)  # a missing or empty folder fails here
    load_state(cohort)  # so does a damaged state
    model = get_embedder(embedder, embedder_path, device)  # and a missing model file, before any work starts
    if batch is not None and batch < 1:
        raise UserInputError(f"batch {batch}: expected at least one scan per task")
    try:
        (cohort / STATE_FOLDER).mkdir(exist_ok=True)
    except OSError as error:
        raise UserInputError(f"{cohort}: cannot keep the project state there ({error.strerror}); ActiveSeg needs a "
                             "writable cohort folder") from None
    if dask is not None:
        from .dask_engine import DaskEngine

        engine = DaskEngine(dask, embedder, embedder_path, device)
    else:
        engine = nullcontext(LocalEngine(model))
    with cohort_lock(cohort / STATE_FOLDER, log), engine as running:
        state = load_state(cohort) or CohortState()
        refresh_scans(cohort, state)
        names = sorted(state.scans)
        cache = cache_folder(cohort, model.identity)
        before = sum((cache / f"{state.scans[n].sha256}.npy").exists() for n in names)
        readable, _ = cached_embeddings(cohort, state, names, model.identity, running, log, progress, cancel,
                                        batch or (64 if dask is not None else BATCH))
        save_state(cohort, state)
    return len(readable) - before, before
