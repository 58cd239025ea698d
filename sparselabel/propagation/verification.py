"""Verification of a propagated slice: keep only pixels whose intensity fits the structure the user drew.

After each propagation step a pixel stays in a segment only if its intensity lies within a robust band (median ±
``spread`` × 1.4826·MAD) of that segment's intensities on the *anchor* — the slice the user drew, so the band does
not drift as errors accumulate; holes are then filled and the outline smoothed with a closing. This is what lets
propagation notice that a structure has ended instead of copying its outline onto neighbouring tissue.

Sli2Vol's verification (closer to the previous slice's mean inside than to a surrounding ring's) was measured as
well and dropped: on CHAOS MR it starved growing structures (liver Dice 0.44 vs 0.75 with this band, raw matcher,
six volumes, representative anchors).

The band's half-width stays at 3 robust SDs. 2.5 trades a little of the kidneys for the liver and the spleen on CHAOS
MR, for the learned matcher and raw intensities alike (20 volumes, one representative slice, the drawn slice blended
into each step; liver / spleen / right / left kidney): learned 0.891 / 0.843 / 0.911 / 0.881 at 3, 0.894 / 0.855 /
0.909 / 0.880 at 2.5; raw 0.866 / 0.826 / 0.909 / 0.895 at 3, 0.872 / 0.836 / 0.906 / 0.890 at 2.5. But on the test
phantom, whose organs drift ± 15 % in brightness across slices like a bias field, the liver falls from 0.952 to 0.915
(0.80 at 2), and a tighter band also cuts what differs from the drawn slice at an organ's edge (a lesion, a vessel
entering it) in other scanners and modalities: the gain is a fit to CHAOS's liver and spleen, not kept.
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
