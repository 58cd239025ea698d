"""The grid a propagation walks on: large slices are matched on blocks of pixels, their result drawn back in full.

The propagation networks are built and trained on slices of about ``SIDE`` (256) pixels a side; a CT slice shows the
same body in twice the pixels. Walked at full resolution, every structure covers four times the grid cells, each
segment's attention window reaches its cap, and a liver through a CT's hundreds of slices takes minutes on a CPU. So a
slice larger than about 1.5 × 256 pixels on its shorter side is walked on ``factor`` × ``factor`` blocks (their mean),
``factor`` = its shorter side / 256, rounded: the network sees anatomy at the scale it learnt it, on a fraction of the
cells. The walk's result is brought back to full resolution (its per-class probabilities interpolated, then the most
likely class per pixel), the drawn slices are put back as drawn, and the outline refinement
(:mod:`.outline_refinement`) re-draws every outline on the full resolution slices' own edges.

Measurements: docs/OneSliceSeg-measurements.md, "The matching grid".
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

SIDE = 256  # pixels a side the networks are built and measured on


def grid_factor(shape: tuple[int, ...]) -> int:
    """The block size (pixels a side) to walk slices of ``shape`` (rows, columns) on: 1 up to about 384 pixels on
    the shorter side, then that side / 256, rounded."""
    return max(1, round(min(shape[-2:]) / SIDE))


def _padded(slices: np.ndarray, factor: int) -> np.ndarray:
    rows, columns = slices.shape[-2:]
    padding = [(0, 0)] * (slices.ndim - 2) + [(0, (-rows) % factor), (0, (-columns) % factor)]
    return np.pad(slices, padding, mode="edge") if any(p[1] for p in padding) else slices


def coarsen(slices: np.ndarray, factor: int) -> np.ndarray:
    """``[…, rows, columns]`` → the means of ``factor`` × ``factor`` blocks (edge-padded to whole blocks)."""
    if factor == 1:
        return slices
    padded = _padded(slices, factor)
    rows, columns = padded.shape[-2:]
    blocks = padded.reshape(*padded.shape[:-2], rows // factor, factor, columns // factor, factor)
    return blocks.mean(axis=(-3, -1), dtype=np.float32)


def expand(probabilities: np.ndarray, factor: int, size: tuple[int, int]) -> np.ndarray:
    """``[classes, rows / factor, columns / factor]`` probabilities on blocks → ``[classes, *size]`` (linear
    interpolation between block centres)."""
    if factor == 1:
        return probabilities
    zoomed = ndimage.zoom(probabilities, (1, factor, factor), order=1, mode="nearest", grid_mode=True)
    return zoomed[:, : size[0], : size[1]]
