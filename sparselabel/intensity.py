"""Intensity normalisation that works for CT and MR alike, before any network sees a volume.

CT has calibrated Hounsfield units, MR arbitrary scanner units with bias fields and outliers; a robust per-volume
percentile window maps either to about [0, 1] without knowing the modality, so one network serves both.
"""

from __future__ import annotations

import numpy as np

from .errors import UserInputError


def robust_window(array: np.ndarray, low: float = 0.5, high: float = 99.5) -> tuple[float, float]:
    """The ``low``–``high`` percentile range of the voxels (air outside the body is included, as in any window)."""
    values = np.asarray(array, dtype=np.float32)
    lower, upper = np.percentile(values, [low, high])
    return float(lower), float(upper)


def normalise(array: np.ndarray, name: str = "volume") -> np.ndarray:
    """``array`` as float32 clipped to its robust window and scaled to [0, 1].

    Refuses volumes a network cannot use: NaN or infinite voxels, or no contrast at all.
    """
    values = np.asarray(array, dtype=np.float32)
    if not np.all(np.isfinite(values)):
        bad = int((~np.isfinite(values)).sum())
        raise UserInputError(f"{name}: {bad} voxels are NaN or infinite; expected finite intensities")
    lower, upper = robust_window(values)
    if upper - lower <= 1e-6 * max(1.0, abs(upper)):
        lower, upper = float(values.min()), float(values.max())
        if upper - lower <= 0:
            raise UserInputError(f"{name}: every voxel has the value {lower:g}; expected an image with contrast")
    return np.clip((values - lower) / (upper - lower), 0.0, 1.0)
