"""Pictures for people: slices of an image with its label laid over, and grids of 2D cases.

matplotlib (Agg, no screen needed) is imported when a picture is drawn, not when SparseLabel is imported.
Files are written atomically.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from .atomic import atomic_path
from .image import Image
from .palette import segment_color


def pyplot():
    """matplotlib's pyplot on the Agg backend (no screen needed), imported on first use."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(figure, path: str | Path, dpi: int = 110) -> Path:
    """Save ``figure`` to ``path`` (format from its suffix) through a temporary file, then close it."""
    path = Path(path)
    try:
        with atomic_path(path) as temporary:
            figure.savefig(temporary, dpi=dpi, bbox_inches="tight", facecolor=figure.get_facecolor())
    finally:
        pyplot().close(figure)
    return path


def _window(pixels: np.ndarray) -> tuple[float, float]:
    finite = pixels[np.isfinite(pixels)]
    if finite.size == 0:
        return 0.0, 1.0
    low, high = np.percentile(finite, [1, 99.5])
    return float(low), float(high if high > low else low + 1)


def _overlay(axis, pixels: np.ndarray, label: np.ndarray | None, window: tuple[float, float], aspect: float,
             values: Sequence[int]) -> None:
    axis.imshow(pixels, cmap="gray", vmin=window[0], vmax=window[1], aspect=aspect, interpolation="nearest")
    if label is not None:
        rgba = np.zeros((*label.shape, 4))
        for index, value in enumerate(values):
            inside = label == value
            rgba[inside, :3] = segment_color(index)
            rgba[inside, 3] = 0.38
            if inside.any() and not inside.all():
                axis.contour(inside, levels=[0.5], colors=[segment_color(index)], linewidths=0.9)
        axis.imshow(rgba, aspect=aspect, interpolation="nearest")
    axis.set_xticks([])
    axis.set_yticks([])


def overlay_slices(image: Image, label: Image | None, path: str | Path, slices: int = 6,
                   names: Mapping[int, str] | None = None, title: str | None = None,
                   slice_indices: Sequence[int] | None = None) -> Path:
    """Axial slices of ``image`` (a row of ``slices`` panels through the labelled range) with ``label`` laid over.

    A 2D image gives a single panel. Pixel aspect follows the voxel spacing. Segment colours match Slicer's.
    """
    plt = pyplot()
    volume = image.array if image.array.ndim == 3 else image.array[None]
    labels = None if label is None else (label.array if label.array.ndim == 3 else label.array[None])
    values = sorted(int(v) for v in np.unique(labels) if v != 0) if labels is not None else []
    if slice_indices is None:
        present = np.flatnonzero(labels.reshape(len(labels), -1).any(axis=1)) if labels is not None else []
        first, last = (present[0], present[-1]) if len(present) else (0, len(volume) - 1)
        slice_indices = sorted(set(np.linspace(first, last, min(slices, last - first + 1)).round().astype(int)))
    spacing = image.spacing
    aspect = spacing[1] / spacing[0]
    window = _window(volume)
    figure, axes = plt.subplots(1, len(slice_indices), figsize=(2.4 * len(slice_indices), 2.7), squeeze=False)
    for axis, k in zip(axes[0], slice_indices, strict=True):
        _overlay(axis, volume[k], None if labels is None else labels[k], window, aspect, values)
        if volume.shape[0] > 1:
            axis.set_title(f"slice {k}", fontsize=8)
    if values:
        handles = [plt.Rectangle((0, 0), 1, 1, color=segment_color(i)) for i in range(len(values))]
        legend = [(names or {}).get(v, f"label {v}") for v in values]
        figure.legend(handles, legend, loc="lower center", ncol=len(values), fontsize=8, frameon=False,
                      bbox_to_anchor=(0.5, -0.04))
    if title:
        figure.suptitle(title, fontsize=10)
    return save_figure(figure, path)


def case_grid(cases: Sequence[tuple[str, Image, Image | None]], path: str | Path, columns: int = 8,
              title: str | None = None) -> Path:
    """A grid of 2D cases ``(caption, image, label)``, each with its label laid over."""
    plt = pyplot()
    rows = max(1, int(np.ceil(len(cases) / columns)))
    figure, axes = plt.subplots(rows, columns, figsize=(1.6 * columns, 1.75 * rows), squeeze=False)
    for axis in axes.ravel():
        axis.axis("off")
    for axis, (caption, image, label) in zip(axes.ravel(), cases, strict=False):
        values = [] if label is None else sorted(int(v) for v in np.unique(label.array) if v != 0)
        aspect = image.spacing[1] / image.spacing[0]
        _overlay(axis, image.array, None if label is None else label.array, _window(image.array), aspect, values)
        axis.axis("on")
        axis.set_title(caption, fontsize=7)
    if title:
        figure.suptitle(title, fontsize=10)
    return save_figure(figure, path)
