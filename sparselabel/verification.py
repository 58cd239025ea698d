"""Verification of a propagated slice: keep only pixels that look like the structure did on the previous slice.

After each propagation step, a pixel stays in a segment only if its intensity is closer to the segment's mean on
the reference slice than to the mean of a ring of tissue around it there (Sli2Vol's verification module); holes
are then filled and the outline smoothed with a closing. This is what lets propagation notice that an organ is
shrinking or has ended, instead of copying its outline onto the neighbouring tissue.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage


class IntensityVerification:
    def __init__(self, ring: int = 5, closing: int = 2, spread: float | None = 2.5):
        self.ring = ring
        self.closing = closing
        self.spread = spread
        self.volume: np.ndarray | None = None

    def prepare(self, volume: np.ndarray) -> None:
        self.volume = volume

    def __call__(self, reference: int, target: int, reference_label: np.ndarray,
                 probabilities: np.ndarray) -> np.ndarray:
        """``reference_label``: one-hot ``[classes, H, W]`` on the reference slice; returns adjusted probabilities."""
        before, after = self.volume[reference], self.volume[target]
        result = probabilities.copy()
        winner = probabilities.argmax(0)
        for index in range(1, len(probabilities)):
            inside = reference_label[index] > 0.5
            if not inside.any():
                continue
            ring = ndimage.binary_dilation(inside, iterations=self.ring) & ~inside
            positive = before[inside].mean()
            negative = before[ring].mean() if ring.any() else before[~inside].mean()
            kept = (winner == index) & (np.abs(after - positive) < np.abs(after - negative))
            if self.spread is not None:
                values = before[inside]
                median = np.median(values)
                sigma = 1.4826 * np.median(np.abs(values - median)) + 1e-3
                kept &= np.abs(after - median) < self.spread * sigma
            kept = ndimage.binary_fill_holes(kept)
            if self.closing:
                kept = ndimage.binary_closing(kept, iterations=self.closing)
                kept = ndimage.binary_fill_holes(kept)
            dropped = (winner == index) & ~kept
            result[index][dropped] = 0.0
            result[0][dropped] = np.maximum(result[0][dropped], 1.0)
            added = kept & (winner != index)
            result[index][added] = result[:, added].max(0) + 1e-3
        return result
