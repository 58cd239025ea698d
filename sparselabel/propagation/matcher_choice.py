"""The learned matcher or raw intensities, chosen per volume and structure by a round trip from the drawn slice.

Learned features tell look-alike tissues apart where grey levels do not; on some scans (thin slices, a small
structure) raw intensities match better. Which one serves a volume shows on the drawn slice itself: each matcher
carries the drawn label ``reach`` slices away and back again, slice by slice, and the one that brings it back closer
to what was drawn (mean Dice over the segments, both directions) propagates the volume. ``reach`` covers
:data:`REACH_MM` of the volume, so that thin slices are judged over as much anatomy as thick ones. A tie goes to the
first candidate.

Measurements: docs/OneSliceSeg-measurements.md, "The matcher's round trip".
"""

from __future__ import annotations

import numpy as np

REACH_MM = 10.0  # how far (mm along the slice axis) each matcher carries the drawn label before bringing it back
LONGEST_REACH = 16  # slices: a safety for very thin slices


def reach_for(spacing: float) -> int:
    """Slices covering :data:`REACH_MM` at ``spacing`` mm between slices (at least one)."""
    return int(min(LONGEST_REACH, max(1, round(REACH_MM / max(spacing, 1e-6)))))


def _sharp(probabilities: np.ndarray) -> np.ndarray:
    winners = probabilities.argmax(0)
    return (np.arange(len(probabilities))[:, None, None] == winners).astype(np.float32)


def round_trip_agreement(stepper, anchor: int, start: np.ndarray, count: int, reach: int) -> float:
    """How much of ``start`` (one-hot ``[classes, rows, columns]`` on slice ``anchor`` of ``count``) comes back after
    ``stepper`` (prepared) carries it ``reach`` slices away and back: mean Dice over the segments present."""
    present = [c for c in range(1, len(start)) if start[c].any()]
    scores = []
    for direction in (-1, 1):
        path = [anchor + direction * i for i in range(1, reach + 1) if 0 <= anchor + direction * i < count]
        if not path:
            continue
        current, previous = start, anchor
        for target in path + path[-2::-1] + [anchor]:  # out, and back to the drawn slice
            current, previous = _sharp(stepper.step(previous, target, current)), target
        for c in present:
            overlap = float((current[c] * start[c]).sum())
            scores.append(2 * overlap / max(float(current[c].sum() + start[c].sum()), 1.0))
    return float(np.mean(scores)) if scores else 1.0


class CheckedMatcher:
    """A stepper that is one of its ``candidates`` (name → stepper), the one :meth:`choose` finds best.

    :func:`~.walk.propagate` calls :meth:`choose` once the volume is prepared, with the drawn slices. Match strengths
    and round-trip errors are passed on where the chosen matcher tells them (else none, and no doubt).
    """

    name = "ours"

    def __init__(self, candidates: dict[str, object], spacing: float):
        self.candidates = candidates
        self.spacing = spacing
        self.chosen_name = next(iter(candidates))
        self.chosen = candidates[self.chosen_name]
        self.agreement: dict[str, float] = {}

    def prepare(self, volume: np.ndarray) -> None:
        self.count, self.size = len(volume), volume.shape[1:]
        for stepper in self.candidates.values():
            stepper.prepare(volume)

    def choose(self, starts: dict[int, np.ndarray]) -> str:
        """Choose the candidate whose round trips from the drawn slices (slice → one-hot) come back best."""
        reach = reach_for(self.spacing)
        self.agreement = {name: float(np.mean([round_trip_agreement(stepper, k, start, self.count, reach)
                                               for k, start in starts.items()]))
                          for name, stepper in self.candidates.items()}
        self.chosen_name = max(self.agreement, key=self.agreement.get)  # first of equals: the first candidate
        self.chosen = self.candidates[self.chosen_name]
        return self.chosen_name

    def step(self, reference: int, target: int, probabilities: np.ndarray) -> np.ndarray:
        return self.chosen.step(reference, target, probabilities)

    def matched_step(self, reference: int, target: int, probabilities: np.ndarray):
        if hasattr(self.chosen, "matched_step"):
            return self.chosen.matched_step(reference, target, probabilities)
        return self.chosen.step(reference, target, probabilities), None

    def round_trip_error(self, reference: int, target: int) -> np.ndarray:
        if hasattr(self.chosen, "round_trip_error"):
            return self.chosen.round_trip_error(reference, target)
        return np.zeros(self.size, np.float32)
