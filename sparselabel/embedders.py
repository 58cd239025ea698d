"""Scan embedders behind one registry: a scan in, one vector out, for the cohort map.

``filterbank`` is built in and needs no downloaded weights: the image is resized to 128×128 and described by its
Gabor energies (4 scales × 8 orientations, the same frozen bank as OneSliceSeg's bottleneck) averaged on a 4×4
grid, plus its grey-level histogram; each part is scaled to unit norm so that texture, layout and contrast all
count. 3D scans are described by the mean of the descriptors of the slices through their middle half along the
acquisition axis (the central anatomy, without the near-empty end slices).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from .errors import UserInputError
from .image import Image
from .intensity import normalise


class FilterBankEmbedder:
    name = "filterbank"
    size = 128

    def __init__(self, grid: int = 4, bins: int = 16):
        from .gabor import GaborBank

        self.grid = grid
        self.bins = bins
        self.bank = GaborBank()

    def _slices(self, image: Image) -> np.ndarray:
        array = normalise(image.array, "scan")
        if array.ndim == 2:
            return array[None]
        count = len(array)
        return array[count // 4: max(count // 4 + 1, 3 * count // 4)]

    def embed(self, images: Sequence[Image]) -> np.ndarray:
        """``[len(images), dimension]`` descriptors (float32)."""
        import torch
        import torch.nn.functional as F

        vectors = []
        with torch.no_grad():
            for image in images:
                slices = torch.from_numpy(np.ascontiguousarray(self._slices(image), dtype=np.float32))[:, None]
                slices = F.interpolate(slices, size=(self.size, self.size), mode="area")
                energies = torch.log1p(self.bank(slices) * 10)
                texture = F.adaptive_avg_pool2d(energies, self.grid).flatten(1).mean(0)
                histogram = torch.histc(slices, bins=self.bins, min=0.0, max=1.0)
                parts = [texture / (texture.norm() + 1e-8), histogram / (histogram.norm() + 1e-8)]
                vectors.append(torch.cat(parts).numpy())
        return np.stack(vectors).astype(np.float32)


class PixelEmbedder(FilterBankEmbedder):
    """Baseline: the normalised image shrunk to 32×32, as a unit vector (layout and contrast, no texture)."""

    name = "pixels"
    size = 32

    def embed(self, images: Sequence[Image]) -> np.ndarray:
        import torch
        import torch.nn.functional as F

        vectors = []
        for image in images:
            slices = torch.from_numpy(np.ascontiguousarray(self._slices(image), dtype=np.float32))[:, None]
            thumbnail = F.interpolate(slices, size=(self.size, self.size), mode="area").mean(0).flatten()
            vectors.append((thumbnail / (thumbnail.norm() + 1e-8)).numpy())
        return np.stack(vectors).astype(np.float32)


EMBEDDERS: dict[str, Callable[[], object]] = {"filterbank": FilterBankEmbedder, "pixels": PixelEmbedder}


def get_embedder(name: str):
    """The embedder registered under ``name``."""
    if name not in EMBEDDERS:
        raise UserInputError(f"embedder '{name}': unknown; expected one of {', '.join(EMBEDDERS)}")
    return EMBEDDERS[name]()
