"""What every scan embedder is, and where one built on a model finds that model's files.

:class:`SliceEmbedder` turns scans into normalised 2D slices and averages the descriptors its subclass gives them
(see :mod:`sparselabel.selection.embedders` for which slices); :func:`model_path` and :func:`model_identity` say
where a foundation model's files are and name them for the embedding cache. Kept apart from the registry so that
the built-in and the foundation embedders both build on it without importing each other.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..core.errors import UserInputError
from ..core.image import Image
from ..core.intensity import normalise

MODELS_ENVIRONMENT = "SPARSELABEL_MODELS"  # folder holding <embedder name>/ model files when no path is given


class SliceEmbedder:
    """Base: scans → normalised slices ``[S, 1, H, W]`` in [0, 1] → ``describe`` → one vector per scan."""

    name = ""
    identity = ""  # names the cache: the same identity means the same vectors
    max_slices = 16

    def _slices(self, image: Image):
        import torch

        array = normalise(image.array, "scan")
        if array.ndim == 2:
            array = array[None]
        else:
            count = len(array)
            middle = np.arange(count // 4, max(count // 4 + 1, 3 * count // 4))
            array = array[middle[np.linspace(0, len(middle) - 1, min(len(middle), self.max_slices)).round()
                                 .astype(int)]]
        return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))[:, None]

    def describe(self, slices) -> np.ndarray:
        """``[S, D]`` descriptors of ``S`` slices."""
        raise NotImplementedError

    def embed(self, images: Sequence[Image]) -> np.ndarray:
        """``[len(images), dimension]`` descriptors (float32)."""
        import torch

        with torch.no_grad():
            return np.stack([self.describe(self._slices(image)).mean(0) for image in images]).astype(np.float32)


def model_identity(name: str, path: Path) -> str:
    """``name-<digest>`` of a model file or folder (file names, sizes and first megabyte): the embedding cache key."""
    digest = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for file in files:
        digest.update(f"{file.relative_to(path) if path.is_dir() else file.name}:{file.stat().st_size}".encode())
        with open(file, "rb") as handle:
            digest.update(handle.read(1 << 20))
    return f"{name}-{digest.hexdigest()[:10]}"


def model_path(name: str, path: str | Path | None) -> Path:
    """Where the weights of foundation embedder ``name`` are: ``path``, else ``$SPARSELABEL_MODELS/<name>``."""
    if path is None:
        root = os.environ.get(MODELS_ENVIRONMENT)
        if not root:
            raise UserInputError(f"embedder '{name}' needs its model files: give their path, or put them in "
                                 f"${MODELS_ENVIRONMENT}/{name}; nothing is downloaded")
        path = Path(root) / name
    path = Path(path).expanduser()
    if not path.exists():
        raise UserInputError(f"embedder '{name}': {path} does not exist; expected the model's local files")
    return path
