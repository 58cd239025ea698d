"""The OneSliceSeg workflow without a GUI: suggest the slice to draw, then turn drawn slices into a 3D label.

Used by the ``sparselabel`` command and by the Slicer module's logic alike. The propagation method is chosen by
name: ``ours`` (the reconstruction network: the one shipped with SparseLabel, or a checkpoint, optionally fine-tuned
on the volume at hand for a fixed number of steps), or a baseline: ``raw``, ``demons``, ``copy``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..core.errors import UserInputError
from ..core.image import Image
from ..core.intensity import apply_window, normalise, structure_window
from .adapted_networks import Adaptation, AdaptedNetworks
from .matching_grid import coarsen, grid_factor
from .outline_refinement import OutlineRefinement
from .verification import IntensityVerification
from .walk import Cancel, Progress, check_anchors, keep_largest_component, propagate

METHODS = ("ours", "raw", "demons", "copy")
MATCHERS = ("ours", "raw")  # the window-attention matchers: each step also hears from the drawn slice
ANCHOR_WEIGHT = 0.3  # the drawn slice's least say in each step of a matcher (see :mod:`.walk`)
ROUND_TRIP = 3.0  # the learned matcher's matches must come back within 3 spreads (see :mod:`.mutual_matches`)


@dataclass(frozen=True)
class PropagationOptions:
    method: str = "ours"
    model: Path | None = None  # a trained checkpoint; None → the network shipped with SparseLabel
    adaptation_steps: int = 0  # fine-tuning steps on the volume itself before propagating (0: none)
    adaptation_limit: float = 600.0  # seconds: a safety only; fine-tuning that reaches it stops, and says so
    axis: int | None = None  # array axis of the drawn slices; None → the axis they were evidently drawn along
    device: str = "auto"
    verify: bool = True  # per-step intensity verification (not for 'copy', which copies by definition)
    refine: bool = True  # outlines re-drawn on the volume's edges, across slices, once propagated (not for 'copy')
    largest_component: bool = True

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise UserInputError(f"method '{self.method}': unknown; expected one of {', '.join(METHODS)}")
        if self.adaptation_steps < 0:
            raise UserInputError(f"adaptation steps must be 0 or more, got {self.adaptation_steps}")
        if not self.adaptation_limit > 0:
            raise UserInputError(f"the adaptation time limit must be positive, got {self.adaptation_limit} s")

    @property
    def adapts(self) -> bool:
        """Is the network fine-tuned on the volume at hand before propagating?"""
        return self.method == "ours" and self.adaptation_steps > 0

    @property
    def checkpoint(self) -> Path:
        """The network's checkpoint: the one given, or the one shipped with SparseLabel."""
        from .checkpoint import shipped_checkpoint

        return self.model if self.model is not None else shipped_checkpoint()


def labelled_slices(mask: np.ndarray, axis: int) -> list[int]:
    """The indices of the slices along ``axis`` where ``mask`` is non-zero."""
    return [int(k) for k in np.flatnonzero(np.moveaxis(mask != 0, axis, 0).reshape(mask.shape[axis], -1).any(1))]


def infer_axis(label: np.ndarray) -> int:
    """The array axis the label was drawn along: the one with the fewest slices holding any label."""
    return int(np.argmin([len(labelled_slices(label, axis)) for axis in range(label.ndim)]))


def anchors_from_label(label: np.ndarray, axis: int) -> dict[int, np.ndarray]:
    """Every slice along ``axis`` that holds a label, as an anchor."""
    moved = np.moveaxis(label, axis, 0)
    return {k: moved[k].copy() for k in labelled_slices(label, axis)}


def anchor_groups(label: np.ndarray, axis: int) -> dict[tuple[int, ...], list[int]]:
    """Label values grouped by the slices they were drawn on: ``{(slice, …): [value, …]}``."""
    groups: dict[tuple[int, ...], list[int]] = {}
    for value in (int(v) for v in np.unique(label) if v != 0):
        groups.setdefault(tuple(labelled_slices(label == value, axis)), []).append(value)
    return groups


def slice_checks(method: str, verify: bool = True, refine: bool = True) -> dict:
    """What :func:`propagate` does to ``method``'s slices, as its keyword arguments: for the matchers, the drawn
    slice's label copied straight onto each slice as a second opinion (``anchor_weight``); the intensity
    verification after each step (is this still the structure that was drawn?) and, once the walk is done, the
    outline refinement (where exactly is its edge on each slice?). Neither for ``copy``, which copies by
    definition."""
    copies = method == "copy"
    return {"anchor_weight": ANCHOR_WEIGHT if method in MATCHERS else 0.0,
            "round_trip": ROUND_TRIP if method == "ours" else 0.0,
            "verification": IntensityVerification() if verify and not copies else None,
            "refinement": OutlineRefinement() if refine and not copies else None}


def _device(name: str):
    from ..core.devices import select_device

    return select_device(name)


def build_stepper(method: str, volume: np.ndarray, options: PropagationOptions, progress: Progress | None = None,
                  cancel: Cancel | None = None, adapted: AdaptedNetworks | None = None,
                  adaptation: Adaptation | None = None, grid: int | None = None):
    """The stepper for ``method`` on ``volume`` (normalised, slice axis first) and a record of how it was made.

    ``ours`` loads the options' checkpoint (by default the shipped network). With ``adaptation_steps``, a copy of it
    is fine-tuned on the blocks of pixels the walk will match (``grid``, by default as
    :func:`.matching_grid.grid_factor` says, the same rule as :func:`.walk.propagate`). With ``adapted`` and
    ``adaptation`` (what ``volume`` is), a network fine-tuned on the same volume before is used again instead, and a
    newly fine-tuned one is kept there (see :mod:`.adapted_networks`).
    """
    from .baselines import CopyStepper, DemonsStepper, RawStepper

    if method == "copy":
        return CopyStepper(), {}
    if method == "demons":
        return DemonsStepper(), {}
    if method == "raw":
        return RawStepper(), {}
    from .checkpoint import load_checkpoint
    from .reconstruction import NetworkStepper

    device = _device(options.device)
    record = {"model": str(options.model) if options.model is not None else "shipped"}

    remember = options.adapts and adapted is not None and adaptation is not None
    kept = adapted.recall(adaptation) if remember else None
    if kept is not None:
        network, kept_record = kept
        return NetworkStepper(network, device), {**record, **kept_record, "adaptation_reused": True}
    network, _ = load_checkpoint(options.checkpoint, device)
    if not options.adapts:
        return NetworkStepper(network, device), record
    from .training import ADAPTATION, train_propagator

    grid = grid or grid_factor(volume.shape[1:])
    result = train_propagator([coarsen(volume, grid)], ADAPTATION.with_steps(options.adaptation_steps), network,
                              time_limit=options.adaptation_limit, device=device, progress=progress, cancel=cancel)
    record.update({"adaptation_steps": result.steps, "adaptation_seconds": round(result.seconds, 2),
                   "adaptation_limit_hit": result.limit_hit})
    if remember:
        adapted.keep(adaptation, result.network, record)
    return NetworkStepper(result.network, device), {**record, "adaptation_reused": False}


def propagate_label(image: Image, label: Image, options: PropagationOptions | None = None,
                    progress: Progress | None = None, cancel: Cancel | None = None,
                    adapted: AdaptedNetworks | None = None) -> tuple[Image, dict]:
    """A full label volume from ``label``'s drawn slices (kept exactly), on ``image``'s grid.

    ``label`` must already be on ``image``'s grid (see :func:`sparselabel.core.io.read_label`). With ``adapted``, a
    network adapted to this volume in an earlier call is used again (see :mod:`.adapted_networks`).
    """
    options = options or PropagationOptions()
    if image.geometry.dim != 3:
        raise UserInputError(f"propagation needs a 3D volume; got a {image.geometry.dim}D image")
    problems = image.mismatch(label)
    if problems:
        raise UserInputError(f"the label does not lie on the volume's voxel grid: {'; '.join(problems)}")
    volume = normalise(image.array)
    axis = infer_axis(label.array) if options.axis is None else options.axis
    anchors = anchors_from_label(label.array, axis)
    check_anchors(volume.shape, anchors, axis)  # before any training: bad input fails at once
    window = structure_window(np.moveaxis(volume, axis, 0), anchors)
    adaptation = None
    if adapted is not None and options.adapts:
        adaptation = Adaptation.of(image.array, axis, window, options.checkpoint, options.adaptation_steps)
    volume = apply_window(volume, window)
    moved = np.moveaxis(volume, axis, 0)
    grid = grid_factor(moved.shape[1:])  # for the record: propagate and build_stepper walk and adapt on it
    start = time.perf_counter()
    stepper, record = build_stepper(options.method, moved, options, progress, cancel, adapted, adaptation)
    checks = slice_checks(options.method, options.verify, options.refine)
    output = np.zeros_like(label.array)
    seconds = 0.0
    # A slice is an anchor for the segments drawn on it: segments drawn on different slices travel separately
    # (a slice showing only the liver says nothing about where the spleen is).
    for slices, values in anchor_groups(label.array, axis).items():
        group = {k: np.where(np.isin(anchors[k], values), anchors[k], 0) for k in slices}
        result = propagate(volume, group, stepper, axis=axis, progress=progress, cancel=cancel, **checks)
        seconds += result.seconds
        grouped = keep_largest_component(result.label, group, axis) if options.largest_component else result.label
        output[(output == 0) & (grouped != 0)] = grouped[(output == 0) & (grouped != 0)]
    # Another group's walk may have reached a slice drawn for a different segment: what was drawn wins there.
    for index, drawn in anchors.items():
        np.moveaxis(output, axis, 0)[index][drawn != 0] = drawn[drawn != 0]
    record.update({"method": options.method, "axis": axis, "anchors": sorted(anchors), "grid": grid,
                   "propagation_seconds": round(seconds, 3),
                   "total_seconds": round(time.perf_counter() - start, 3)})
    return label.with_array(output.astype(label.array.dtype)), record


def suggest_slice(image: Image, axis: int = 0, slice_range: tuple[int, int] | None = None,
                  model: Path | None = None, device: str = "auto") -> int:
    """The most representative slice along ``axis`` (within ``slice_range``, inclusive, when given)."""
    return suggest_slices(image, axis, slice_range, model, device)[0]


def suggest_slices(image: Image, axis: int = 0, slice_range: tuple[int, int] | None = None,
                   model: Path | None = None, device: str = "auto", count: int = 1) -> list[int]:
    """``count`` slices to draw along ``axis`` (within ``slice_range``, inclusive, when given), sorted: for one, the
    most representative; for more, the representatives of as many clusters of similar slices."""
    from .screening import gabor_descriptors, most_representative_slices, slice_descriptors

    if image.geometry.dim != 3:
        raise UserInputError(f"suggesting a slice needs a 3D volume; got a {image.geometry.dim}D image")
    volume = np.moveaxis(normalise(image.array), axis, 0)
    if model is not None:
        import torch

        from .checkpoint import load_checkpoint
        from .reconstruction import NetworkStepper

        network, _ = load_checkpoint(model, _device(device))
        stepper = NetworkStepper(network, _device(device))
        stepper.prepare(volume)
        with torch.no_grad():
            descriptors = slice_descriptors(stepper.all_features())
    else:
        descriptors = gabor_descriptors(volume)
    candidates = None
    if slice_range is not None:
        first, last = slice_range
        if first > last or first < 0 or last >= len(volume):
            raise UserInputError(f"slice range {first}:{last} is not inside the volume's 0…{len(volume) - 1}")
        candidates = list(range(first, last + 1))
    return most_representative_slices(descriptors, candidates, count)
