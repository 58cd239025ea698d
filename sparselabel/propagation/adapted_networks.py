"""Networks adapted to a volume, kept for the next propagation of the same volume.

Test-time adaptation trains the reconstruction network on the volume at hand for a time budget (a minute by
default). A user who corrects a slice and propagates again works on the same voxels: the network adapted before
still fits them. Adapting again would cost the minute once more, and give a slightly different network (the budget,
not a step count, ends training), so slices the user has already checked could change for no reason.

A kept network is used again when the voxels, the slice axis and the time budget are the same, and the contrast
window it was trained in (:func:`~sparselabel.core.intensity.structure_window`) is close to the new one: each bound
within a tenth of the window's width, inside the brightness and contrast changes that training's intensity
augmentation already shows the network. A correction that nudges the window keeps the network; a structure of
another brightness gets its own. The last few volumes' networks are kept: a network is small.

Measurements: docs/OneSliceSeg-measurements.md, "Networks kept between runs".
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from ..core.digests import voxel_digest

WINDOW_TOLERANCE = 0.1  # how far (a fraction of the window's width) each bound may move and the network still fit


@dataclass(frozen=True)
class Adaptation:
    """What a network was adapted to: the voxels (a digest), the slice axis, the contrast window and the time
    budget."""

    voxels: str
    axis: int
    window: tuple[float, float]
    seconds: float

    @classmethod
    def of(cls, volume: np.ndarray, axis: int, window: tuple[float, float], seconds: float) -> Adaptation:
        return cls(voxel_digest(volume), int(axis), (float(window[0]), float(window[1])), float(seconds))

    def fits(self, other: Adaptation) -> bool:
        """Would a network adapted to ``self`` serve ``other`` as well as one adapted to it?"""
        if (self.voxels, self.axis, self.seconds) != (other.voxels, other.axis, other.seconds):
            return False
        reach = WINDOW_TOLERANCE * (self.window[1] - self.window[0])
        return all(abs(mine - theirs) <= reach for mine, theirs in zip(self.window, other.window, strict=True))


class AdaptedNetworks:
    """The networks adapted most recently, with what each was adapted to (safe to share between threads)."""

    def __init__(self, capacity: int = 4):
        if capacity < 1:
            raise ValueError(f"capacity must be at least 1, got {capacity}")
        self.capacity = capacity
        self._kept: OrderedDict[Adaptation, tuple[object, dict]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._kept)

    def recall(self, wanted: Adaptation) -> tuple[object, dict] | None:
        """The network kept for an adaptation that fits ``wanted`` and its record (how long it trained), or None."""
        with self._lock:
            for adaptation, kept in reversed(self._kept.items()):
                if adaptation.fits(wanted):
                    self._kept.move_to_end(adaptation)
                    return kept
        return None

    def keep(self, adaptation: Adaptation, network: object, record: dict) -> None:
        """Remember ``network``, adapted as ``adaptation`` says; the least recently used one goes when full."""
        with self._lock:
            self._kept[adaptation] = (network, dict(record))
            self._kept.move_to_end(adaptation)
            while len(self._kept) > self.capacity:
                self._kept.popitem(last=False)
