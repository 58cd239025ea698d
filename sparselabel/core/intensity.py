"""Intensity normalisation that works for CT and MR alike, before any network sees a volume.

CT has calibrated Hounsfield units, MR arbitrary scanner units with bias fields and outliers; a robust per-volume
percentile window maps either to about [0, 1] without knowing the modality, so one network serves both.

Once the user has drawn, propagation narrows that window to the drawn structures (:func:`structure_window`), as a
reader sets window and level on the organ: in CT the soft tissues share a few percent of the percentile window with
air and bone, so the matcher's intensity term, the verification band and the random walkers would see almost no
contrast between an organ and its neighbours. The window is each drawn segment's median ± ``STRUCTURE_WINDOW`` robust
SDs of its own intensities on the drawn slices (their union over segments, inside [0, 1]): a structure's texture sets
how much contrast around it matters, in HU or scanner units alike. For CT's liver that is about the abdominal window a
reader would choose; MR's organs spread over most of the percentile window, and it stays as it is.

Measurements: docs/OneSliceSeg-measurements.md, "The contrast window".
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .errors import UserInputError


def robust_window(array: np.ndarray, low: float = 0.5, high: float = 99.5) -> tuple[float, float]:
    """The ``low``–``high`` percentile range of the voxels (air outside the body is included, as in any window)."""
    values = _as_float(array)
    lower, upper = np.percentile(values, [low, high])
    return float(lower), float(upper)


def normalise(array: np.ndarray, name: str = "volume") -> np.ndarray:
    """``array`` as float32 clipped to its robust window and scaled to [0, 1].

    Refuses volumes a network cannot use: NaN or infinite voxels, or no contrast at all.
    """
    values = _as_float(array)
    if not np.all(np.isfinite(values)):
        bad = int((~np.isfinite(values)).sum())
        raise UserInputError(f"{name}: {bad} voxels are NaN or infinite; expected finite intensities")
    lower, upper = robust_window(values)
    if upper - lower <= 1e-6 * max(1.0, abs(upper)):
        lower, upper = float(values.min()), float(values.max())
        if upper - lower <= 0:
            raise UserInputError(f"{name}: every voxel has the value {lower:g}; expected an image with contrast")
    return np.clip((values - lower) / (upper - lower), 0.0, 1.0).astype(np.float32, copy=False)


def _as_float(array: np.ndarray) -> np.ndarray:
    """float32, or float64 when the voxels are float64: values beyond float32's range (±3.4e38) stay finite."""
    values = np.asarray(array)
    return values if values.dtype == np.float64 else values.astype(np.float32, copy=False)


STRUCTURE_WINDOW = 15.0  # half-width of the window around a drawn structure, in its robust SDs
_NARROWEST = 0.05  # the window's least half-width, in the normalised range (a uniform structure is no reason for more)


def structure_window(volume: np.ndarray, drawn: Mapping[int, np.ndarray],
                     spread: float = STRUCTURE_WINDOW) -> tuple[float, float]:
    """The window (low, high) within [0, 1] that gives the segments drawn on ``volume`` (normalised, slice axis
    first; ``drawn``: slice index → label slice, 0 = background) their contrast: per segment, its median ± ``spread``
    robust SDs (1.4826 · MAD) over the slices it was drawn on; the union over segments."""
    values: dict[int, list[np.ndarray]] = {}
    for index, label in drawn.items():
        for value in np.unique(label[label != 0]):
            values.setdefault(int(value), []).append(volume[index][label == value])
    low, high = 1.0, 0.0
    for pieces in values.values():
        intensities = np.concatenate(pieces)
        median = float(np.median(intensities))
        half = max(spread * 1.4826 * float(np.median(np.abs(intensities - median))), _NARROWEST)
        low, high = min(low, median - half), max(high, median + half)
    if high <= low:  # nothing drawn
        return 0.0, 1.0
    return max(low, 0.0), min(high, 1.0)


def apply_window(volume: np.ndarray, window: tuple[float, float]) -> np.ndarray:
    """``volume`` (normalised) with ``window`` stretched to [0, 1] and what lies outside clipped."""
    low, high = window
    if low <= 0.0 and high >= 1.0:
        return volume
    return np.clip((volume - low) / (high - low), 0.0, 1.0).astype(np.float32)
