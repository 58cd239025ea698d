"""Embedding on a Dask cluster: the batches of scans a cohort still misses, computed as Dask tasks.

``sparselabel embed COHORT --dask ADDRESS`` hands each batch to the cluster as one task. A task reads its scans
from their paths — the cohort folder must be visible at the same path on every worker (a shared file system) — and
embeds them with an embedder built once per worker process. Results come back to this process, which writes the
cache exactly as a local run does (:mod:`.embedding_cache`), as they arrive: the cache never holds a half-written
vector, whatever happens to the cluster. Dask runs the tasks of a worker that dies again elsewhere, and a task that
fails is retried ``retries`` times. Leaving early (Ctrl-C, a cancel, an error) cancels what is still queued.

``ADDRESS`` is a scheduler (``tcp://host:8786``; see the README for SLURM and Kubernetes clusters) or
``local[:N]`` for a cluster of N worker processes on this machine. Dask is an optional extra
(``pip install "sparselabel[dask]"``); nothing else in SparseLabel needs it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

from ..core.errors import UserInputError
from .embedding_batches import Embedded, embed_batch

_WORKER_EMBEDDERS: dict[tuple, object] = {}  # per worker process: built by its first task


def embed_on_worker(scans: list[tuple[str, str]], embedder: str, embedder_path: str | None,
                    device: str) -> list[Embedded]:
    """A Dask task: embed ``scans`` (name, path) on this worker. A scan this worker cannot see fails the task (it
    is retried, then reported): unlike an unreadable file, it says nothing about the scan."""
    import socket

    absent = [path for _, path in scans if not Path(path).exists()]
    if absent:
        raise UserInputError(f"{absent[0]}: not found on Dask worker {socket.gethostname()}; the workers must see "
                             "the cohort folder at the same path as this machine (a shared file system)")
    key = (embedder, embedder_path, device)
    if key not in _WORKER_EMBEDDERS:
        from .embedders import get_embedder

        _WORKER_EMBEDDERS[key] = get_embedder(embedder, embedder_path, device)
    return embed_batch(_WORKER_EMBEDDERS[key], scans)


class DaskEngine:
    """Runs embedding batches on the Dask cluster at ``address``; a context manager that connects on entry."""

    def __init__(self, address: str, embedder: str, embedder_path: str | Path | None = None, device: str = "auto",
                 retries: int = 3):
        self.address, self.embedder, self.device, self.retries = address, embedder, device, retries
        self.embedder_path = None if embedder_path is None else str(embedder_path)
        self.client = self.cluster = None

    def __enter__(self) -> DaskEngine:
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise UserInputError('--dask needs Dask: pip install "sparselabel[dask]"') from None
        local = self.address.partition(":")
        if local[0] == "local":
            workers = local[2] or "2"
            if not workers.isdigit() or int(workers) < 1:
                raise UserInputError(f"--dask {self.address}: expected local or local:N with N ≥ 1 workers")
            self.cluster = LocalCluster(n_workers=int(workers), threads_per_worker=1, processes=True,
                                        dashboard_address=None)
        try:
            self.client = Client(self.cluster or self.address, timeout="20s")
        except (OSError, TimeoutError, ValueError) as error:
            self.__exit__()
            raise UserInputError(f"--dask {self.address}: cannot reach a Dask scheduler there ({error}); "
                                 "expected its address, e.g. tcp://host:8786, or local[:N]") from None
        return self

    def __exit__(self, *exc_info) -> None:
        if self.client is not None:
            self.client.close()
        if self.cluster is not None:
            self.cluster.close()

    def run(self, batches: list[list[tuple[str, str]]]) -> Iterator[list[Embedded]]:
        """Each batch's results as its task ends (in the order they end)."""
        from distributed import as_completed

        run = uuid.uuid4().hex[:8]
        futures = [self.client.submit(embed_on_worker, batch, self.embedder, self.embedder_path, self.device,
                                      key=f"sparselabel-embed-{run}-{index}", retries=self.retries, pure=False)
                   for index, batch in enumerate(batches)]
        try:
            for future in as_completed(futures):
                yield future.result()
        finally:
            self.client.cancel(futures)  # whatever is still queued or running for this run
