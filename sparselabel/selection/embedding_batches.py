"""A batch of scans in, one result per scan out: what an embedding engine runs, here or on a cluster's worker.

An engine has one method, ``run(batches)``, which yields each batch's results (a list of :class:`Embedded`, one per
scan) as it is done; closing the iterator stops the work still running. :class:`LocalEngine` runs the batches one
after the other in this process; :class:`.dask_engine.DaskEngine` runs them as Dask tasks.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from ..core.errors import UserInputError
from ..core.io import read_image

BATCH = 16  # scans embedded at once here


@dataclass
class Embedded:
    """One scan's result: its vector and dimensionality, or why it could not be read."""

    name: str
    vector: np.ndarray | None = None
    dim: int | None = None
    error: str | None = None


def embed_batch(embedder, scans: Sequence[tuple[str, str]]) -> list[Embedded]:
    """Read and embed ``scans`` (name, path) with ``embedder``; unreadable scans come back with their error."""
    images, readable, results = [], [], {}
    for name, path in scans:
        try:
            images.append(read_image(path))
            readable.append(name)
        except UserInputError as error:
            results[name] = Embedded(name, error=str(error))
    for name, image, vector in zip(readable, images, embedder.embed(images) if images else [], strict=True):
        results[name] = Embedded(name, np.asarray(vector), image.geometry.dim)
    return [results[name] for name, _ in scans]


class LocalEngine:
    """Embeds the batches one after the other in this process."""

    def __init__(self, embedder):
        self.embedder = embedder

    def run(self, batches: list[list[tuple[str, str]]]) -> Iterator[list[Embedded]]:
        for batch in batches:
            yield embed_batch(self.embedder, batch)
