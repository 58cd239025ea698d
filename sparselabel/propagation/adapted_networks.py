"""Networks adapted to a volume, kept for the next propagation of the same volume.

Adaptation fine-tunes the reconstruction network on the volume at hand for a number of steps. A user who corrects a
slice and propagates again works on the same voxels: the network adapted before still fits them, and adapting again
would cost the time once more.

A kept network is used again when the voxels, the slice axis, the network it started from and the step count are
the same, and the contrast
window it was trained in (:func:`~sparselabel.core.intensity.structure_window`) is close to the new one: each bound
within a tenth of the window's width, inside the brightness and contrast changes that training's intensity
augmentation already shows the network. A correction that nudges the window keeps the network; a structure of
another brightness gets its own. The last few volumes' networks are kept: a network is small. Kept in a folder as
well, they outlive the process: each propagation may then run in a process of its own.

Measurements: docs/OneSliceSeg-measurements.md, "Networks kept between runs".
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..core.atomic import write_text
from ..core.digests import voxel_digest
from ..core.errors import UserInputError

WINDOW_TOLERANCE = 0.1  # how far (a fraction of the window's width) each bound may move and the network still fit


@dataclass(frozen=True)
class Adaptation:
    """What a network was adapted to: the voxels (a digest), the slice axis, the contrast window, the network it
    started from (a digest of its checkpoint) and the number of steps."""

    voxels: str
    axis: int
    window: tuple[float, float]
    network: str
    steps: int

    @classmethod
    def of(cls, volume: np.ndarray, axis: int, window: tuple[float, float], checkpoint: Path, steps: int
           ) -> Adaptation:
        from .checkpoint import checkpoint_digest

        return cls(voxel_digest(volume), int(axis), (float(window[0]), float(window[1])),
                   checkpoint_digest(checkpoint), int(steps))

    @classmethod
    def from_dict(cls, data: dict) -> Adaptation:
        return cls(str(data["voxels"]), int(data["axis"]), (float(data["window"][0]), float(data["window"][1])),
                   str(data["network"]), int(data["steps"]))

    def fits(self, other: Adaptation) -> bool:
        """Would a network adapted to ``self`` serve ``other`` as well as one adapted to it?"""
        if (self.voxels, self.axis, self.network, self.steps) != (other.voxels, other.axis, other.network,
                                                                  other.steps):
            return False
        reach = WINDOW_TOLERANCE * (self.window[1] - self.window[0])
        return all(abs(mine - theirs) <= reach for mine, theirs in zip(self.window, other.window, strict=True))


class AdaptedNetworks:
    """The networks adapted most recently, with what each was adapted to (safe to share between threads).

    With ``folder``, they are also kept there (weights-only checkpoints and an index, written atomically), so that
    the next process finds them; the least recently used go first, in memory and on disk alike.
    """

    def __init__(self, capacity: int = 4, folder: str | Path | None = None):
        if capacity < 1:
            raise ValueError(f"capacity must be at least 1, got {capacity}")
        self.capacity = capacity
        self.folder = Path(folder) if folder is not None else None
        self._kept: OrderedDict[Adaptation, tuple[object, dict]] = OrderedDict()
        self._lock = threading.Lock()
        if self.folder is not None:
            try:
                self.folder.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise UserInputError(f"{self.folder}: cannot keep adapted networks there ({error.strerror}); "
                                     "expected a writable folder") from None

    def __len__(self) -> int:
        return len(self._kept)

    def recall(self, wanted: Adaptation) -> tuple[object, dict] | None:
        """The network kept for an adaptation that fits ``wanted`` and its record (how long it trained), or None."""
        with self._lock:
            for adaptation, kept in reversed(self._kept.items()):
                if adaptation.fits(wanted):
                    self._kept.move_to_end(adaptation)
                    self._touch(adaptation)
                    return kept
            return self._recall_from_folder(wanted)

    def keep(self, adaptation: Adaptation, network: object, record: dict) -> None:
        """Remember ``network``, adapted as ``adaptation`` says; the least recently used one goes when full."""
        with self._lock:
            self._kept[adaptation] = (network, dict(record))
            self._kept.move_to_end(adaptation)
            while len(self._kept) > self.capacity:
                self._kept.popitem(last=False)
            if self.folder is not None:
                from .checkpoint import save_checkpoint

                name = f"{adaptation.voxels[:16]}-{adaptation.axis}-{len(self._index()) + 1:x}-{id(network):x}.pt"
                save_checkpoint(network, self.folder / name, record)
                self._touch(adaptation, name, record)

    # ------------------------------------------------------------------------------------------------ on disk

    def _index(self) -> list[dict]:
        """The folder's entries, least recently used first (an unreadable index is an empty one: it is a cache)."""
        try:
            entries = json.loads((self.folder / INDEX).read_text())
        except (OSError, ValueError):
            return []
        keys = set(Adaptation.__dataclass_fields__)  # an entry written with other keys (an older version) is skipped
        return [e for e in entries if isinstance(e, dict) and {"adaptation", "file", "record"} <= set(e)
                and isinstance(e["adaptation"], dict) and keys <= set(e["adaptation"])] \
            if isinstance(entries, list) else []

    def _touch(self, adaptation: Adaptation, file: str | None = None, record: dict | None = None) -> None:
        """Move ``adaptation``'s entry to the end of the index (adding it with ``file``); drop the oldest."""
        if self.folder is None:
            return
        entries = self._index()
        found = [e for e in entries if Adaptation.from_dict(e["adaptation"]) == adaptation]
        if file is None and not found:
            return
        entries = [e for e in entries if e not in found]
        entries.append({"adaptation": asdict(adaptation), "file": file or found[-1]["file"],
                        "record": record if record is not None else found[-1]["record"]})
        for stale in entries[: max(0, len(entries) - self.capacity)]:
            (self.folder / stale["file"]).unlink(missing_ok=True)
        write_text(self.folder / INDEX, json.dumps(entries[-self.capacity:], indent=1))

    def _recall_from_folder(self, wanted: Adaptation) -> tuple[object, dict] | None:
        if self.folder is None:
            return None
        from .checkpoint import load_checkpoint

        for entry in reversed(self._index()):
            adaptation = Adaptation.from_dict(entry["adaptation"])
            if adaptation.fits(wanted) and (self.folder / entry["file"]).is_file():
                try:
                    network, _ = load_checkpoint(self.folder / entry["file"])
                except UserInputError:  # damaged: it is a cache, adapt anew
                    continue
                self._kept[adaptation] = (network, dict(entry["record"]))
                self._touch(adaptation)
                return network, dict(entry["record"])
        return None


INDEX = "index.json"
