"""Scan embedders behind one registry: a scan in, one vector out, for the cohort map.

Every embedder describes 2D slices; a 3D scan is described by the mean of the descriptors of the slices through
the middle half of its first array axis (the slice axis as read: axial for CT/MR in the usual orientation) — the
central anatomy, without the near-empty end slices — at most ``max_slices`` of them, evenly spaced.

* ``filterbank`` (built in, no downloaded weights, the default): the image resized to 128×128 and described by its
  Gabor energies (4 scales × 8 orientations, the same frozen bank as OneSliceSeg's bottleneck) averaged on a 4×4
  grid, plus its grey-level histogram; each part scaled to unit norm so that texture, layout and contrast all count.
* ``pixels`` (built in, a baseline): the image shrunk to 32×32, as a unit vector.
* ``dinov2`` and ``resnet50`` (foundation encoders from a local folder or file, see
  :mod:`sparselabel.selection.foundation_embedders`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..core.errors import UserInputError
from .slice_embedder import SliceEmbedder


class FilterBankEmbedder(SliceEmbedder):
    name = identity = "filterbank"
    size = 128

    def __init__(self, grid: int = 4, bins: int = 16):
        from ..core.gabor import GaborBank

        self.grid = grid
        self.bins = bins
        self.bank = GaborBank()

    def describe(self, slices) -> np.ndarray:
        import torch
        import torch.nn.functional as F

        slices = F.interpolate(slices, size=(self.size, self.size), mode="area")
        energies = torch.log1p(self.bank(slices) * 10)
        texture = F.adaptive_avg_pool2d(energies, self.grid).flatten(1)
        histogram = torch.stack([torch.histc(s, bins=self.bins, min=0.0, max=1.0) for s in slices])
        return torch.cat([F.normalize(texture, dim=1), F.normalize(histogram, dim=1)], 1).numpy()


class PixelEmbedder(SliceEmbedder):
    """Baseline: the normalised image shrunk to 32×32, as a unit vector (layout and contrast, no texture)."""

    name = identity = "pixels"
    size = 32

    def describe(self, slices) -> np.ndarray:
        import torch.nn.functional as F

        thumbnails = F.interpolate(slices, size=(self.size, self.size), mode="area").flatten(1)
        return F.normalize(thumbnails, dim=1).numpy()


def _foundation(kind: str) -> Callable[..., SliceEmbedder]:
    def build(path: str | Path | None = None, device: str = "auto") -> SliceEmbedder:
        from . import foundation_embedders

        return getattr(foundation_embedders, kind)(path, device)

    return build


EMBEDDERS: dict[str, Callable[..., SliceEmbedder]] = {
    "filterbank": lambda path=None, device="auto": FilterBankEmbedder(),
    "pixels": lambda path=None, device="auto": PixelEmbedder(),
    "dinov2": _foundation("DinoEmbedder"),
    "resnet50": _foundation("ResNetEmbedder"),
}


def get_embedder(name: str, path: str | Path | None = None, device: str = "auto") -> SliceEmbedder:
    """The embedder registered under ``name``; foundation encoders load from ``path`` (see :func:`model_path`)."""
    if name not in EMBEDDERS:
        raise UserInputError(f"embedder '{name}': unknown; expected one of {', '.join(EMBEDDERS)}")
    return EMBEDDERS[name](path, device)
