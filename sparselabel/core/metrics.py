"""Segmentation metrics with voxel spacing: Dice, HD95, ASSD (MONAI's surface distances) and RAVD.

Masks are boolean arrays indexed like the image (``[k, j, i]`` or ``[j, i]``); ``spacing`` is the image's
``(i, j, k)`` spacing in mm (:attr:`Geometry.spacing`), reversed here to the array's axis order.

Empty masks follow the convention of the segmentation-challenge literature: both empty → Dice 1, distances 0,
RAVD 0; exactly one empty → Dice 0 and infinite distances/RAVD, so callers can count such failures instead of
averaging NaN away.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import numpy as np


def _check(prediction: np.ndarray, reference: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    prediction, reference = np.asarray(prediction).astype(bool), np.asarray(reference).astype(bool)
    if prediction.shape != reference.shape:
        raise ValueError(f"prediction shape {prediction.shape} differs from reference shape {reference.shape}")
    return prediction, reference


def dice(prediction: np.ndarray, reference: np.ndarray) -> float:
    """Dice similarity coefficient, 2|P ∩ R| / (|P| + |R|), in [0, 1]; 1 when both masks are empty."""
    prediction, reference = _check(prediction, reference)
    total = int(prediction.sum()) + int(reference.sum())
    return 1.0 if total == 0 else 2.0 * int((prediction & reference).sum()) / total


def ravd(prediction: np.ndarray, reference: np.ndarray) -> float:
    """Relative absolute volume difference in percent, |V_P − V_R| / V_R × 100 (CHAOS / OneSeg definition).

    Spacing cancels out of the ratio. Empty reference: 0 if the prediction is empty too, infinity otherwise.
    """
    prediction, reference = _check(prediction, reference)
    volume_p, volume_r = int(prediction.sum()), int(reference.sum())
    if volume_r == 0:
        return 0.0 if volume_p == 0 else math.inf
    return abs(volume_p - volume_r) / volume_r * 100.0


def _surface_distance(prediction: np.ndarray, reference: np.ndarray, spacing: Sequence[float],
                      kind: str) -> float:
    import torch
    from monai.metrics import compute_average_surface_distance, compute_hausdorff_distance

    prediction, reference = _check(prediction, reference)
    if len(spacing) != prediction.ndim:
        raise ValueError(f"spacing {tuple(spacing)} has {len(spacing)} values for a {prediction.ndim}D mask")
    has_p, has_r = bool(prediction.any()), bool(reference.any())
    if not has_p and not has_r:
        return 0.0
    if has_p != has_r:
        return math.inf
    # MONAI wants one-hot [batch, class, *spatial] tensors and spacing in the tensor's axis order.
    as_tensor = lambda mask: torch.from_numpy(np.ascontiguousarray(mask))[None, None]  # noqa: E731
    array_spacing = [float(s) for s in reversed(tuple(spacing))]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # MONAI's own internal deprecation notices
        if kind == "hd95":
            value = compute_hausdorff_distance(as_tensor(prediction), as_tensor(reference), include_background=True,
                                               percentile=95, directed=False, spacing=array_spacing)
        else:
            value = compute_average_surface_distance(as_tensor(prediction), as_tensor(reference),
                                                     include_background=True, symmetric=True, spacing=array_spacing)
    return float(value.reshape(-1)[0])


def hd95(prediction: np.ndarray, reference: np.ndarray, spacing: Sequence[float]) -> float:
    """95th-percentile Hausdorff distance in mm (MONAI): the larger of the two directed 95th percentiles of the
    distances from each mask's surface voxels to the other mask's surface."""
    return _surface_distance(prediction, reference, spacing, "hd95")


def assd(prediction: np.ndarray, reference: np.ndarray, spacing: Sequence[float]) -> float:
    """Average symmetric surface distance in mm (MONAI): the mean of the surface-to-surface distances taken from
    both masks' surface voxels, each surface voxel counting once."""
    return _surface_distance(prediction, reference, spacing, "assd")


def _both_surface_distances(prediction: np.ndarray, reference: np.ndarray,
                            spacing: Sequence[float]) -> tuple[float, float]:
    """HD95 and ASSD from one pass: MONAI's mask edges and the two directed surface-distance sets, computed once
    (the separate :func:`hd95` and :func:`assd` each compute them again); the same values."""
    import torch
    from monai.metrics.utils import get_edge_surface_distance

    prediction, reference = _check(prediction, reference)
    if len(spacing) != prediction.ndim:
        raise ValueError(f"spacing {tuple(spacing)} has {len(spacing)} values for a {prediction.ndim}D mask")
    has_p, has_r = bool(prediction.any()), bool(reference.any())
    if not has_p and not has_r:
        return 0.0, 0.0
    if has_p != has_r:
        return math.inf, math.inf
    as_tensor = lambda mask: torch.from_numpy(np.ascontiguousarray(mask)).float()  # noqa: E731
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        _, distances, _ = get_edge_surface_distance(as_tensor(prediction), as_tensor(reference), symmetric=True,
                                                    spacing=[float(s) for s in reversed(tuple(spacing))])
    hausdorff = max(float(torch.quantile(d, 0.95)) if d.numel() else 0.0 for d in distances)
    return hausdorff, float(torch.cat(distances).mean())


def segmentation_metrics(prediction: np.ndarray, reference: np.ndarray, spacing: Sequence[float]) -> dict[str, float]:
    """All four metrics at once: ``dice``, ``hd95`` (mm), ``assd`` (mm), ``ravd`` (%); the two distances from one
    surface-distance pass."""
    hausdorff, average = _both_surface_distances(prediction, reference, spacing)
    return {"dice": dice(prediction, reference), "hd95": hausdorff, "assd": average,
            "ravd": ravd(prediction, reference)}


def mean_std(values: Sequence[float]) -> dict[str, float]:
    """``{"mean", "std"}`` of the finite values (population std), with ``failures`` counting non-finite ones."""
    array = np.asarray(values, dtype=float)
    finite = array[np.isfinite(array)]
    summary = {"mean": float(finite.mean()) if finite.size else math.nan,
               "std": float(finite.std()) if finite.size else math.nan}
    if finite.size < array.size:
        summary["failures"] = int(array.size - finite.size)
    return summary
