"""Verification of a propagated slice: keep only pixels whose intensity fits the structure the user drew.

After each propagation step a pixel stays in a segment only if its intensity lies within a robust band (median ±
``spread`` × 1.4826·MAD) of that segment's intensities on the *anchor* — the slice the user drew, so the band does
not drift as errors accumulate; holes are then filled and the outline smoothed with a closing. This is what lets
propagation notice that a structure has ended instead of copying its outline onto neighbouring tissue. ``spread`` is
3 by default: a tighter band would also cut an organ whose brightness drifts across slices (a bias field) and what
differs from the drawn slice at an organ's edge (a lesion, a vessel entering it).

Measurements: docs/OneSliceSeg-measurements.md, "The intensity band".
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage


class IntensityVerification:
    def __init__(self, spread: float = 3.0, closing: int = 2):
        self.spread = spread
        self.closing = closing
        self.volume: np.ndarray | None = None
        self.bands: dict[int, tuple[float, float]] = {}

    def prepare(self, volume: np.ndarray) -> None:
        self.volume = volume

    def start(self, anchor: int, anchor_label: np.ndarray) -> None:
        """Record each segment's intensity band on the anchor slice (``anchor_label`` is one-hot)."""
        self.bands = {}
        for index in range(1, len(anchor_label)):
            values = self.volume[anchor][anchor_label[index] > 0.5]
            if values.size:
                median = float(np.median(values))
                self.bands[index] = (median, 1.4826 * float(np.median(np.abs(values - median))) + 1e-3)

    def __call__(self, target: int, probabilities: np.ndarray) -> np.ndarray:
        """Probabilities on ``target`` with the pixels that do not fit their segment moved to background."""
        intensity = self.volume[target]
        result = probabilities.copy()
        winner = probabilities.argmax(0)
        for index, (median, sigma) in self.bands.items():
            claimed = winner == index
            kept = ndimage.binary_fill_holes(claimed & (np.abs(intensity - median) < self.spread * sigma))
            if self.closing:
                kept = ndimage.binary_fill_holes(ndimage.binary_closing(kept, iterations=self.closing))
            dropped = claimed & ~kept
            result[index][dropped] = 0.0
            result[0][dropped] = np.maximum(result[0][dropped], 1.0)
        return result
