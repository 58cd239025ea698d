"""Segment colours shared by the Slicer bridge and the pictures, so a label looks the same in both.

Close to Slicer's GenericAnatomyColors for the first abdominal organs, then well-separated hues.
"""

from __future__ import annotations

SEGMENT_COLORS: tuple[tuple[float, float, float], ...] = (
    (0.87, 0.51, 0.40),  # liver-like brown-red
    (0.62, 0.33, 0.69),  # spleen-like purple
    (0.72, 0.84, 0.30),  # kidney-like green
    (0.30, 0.62, 0.91),
    (0.95, 0.79, 0.23),
    (0.20, 0.75, 0.67),
    (0.93, 0.42, 0.64),
    (0.55, 0.55, 0.55),
)


def segment_color(index: int) -> tuple[float, float, float]:
    """Colour (RGB in 0–1) of the ``index``-th segment (0-based), cycling through the palette."""
    return SEGMENT_COLORS[index % len(SEGMENT_COLORS)]
