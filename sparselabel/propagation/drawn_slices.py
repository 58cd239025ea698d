"""Which slices of a segment the user drew, remembered across propagations.

After a propagation a segment fills many slices, yet only the slices the user drew are anchors: pressing
*Propagate* again must not treat the propagated slices as drawn (the walk would then restart from the segment's
tips and grow it a little more each time). So each propagated segment carries a small record: the axis, the
slices drawn, and a checksum of every slice as written. Next time a slice counts as drawn if it was drawn before or
if the user changed it since (a correction); the others are propagated again. A record that does not fit the
segment (another grid, a damaged tag) is ignored and every labelled slice counts as drawn, as without a record.
"""

from __future__ import annotations

import json
import zlib

import numpy as np

from .one_slice import labelled_slices


def _checksums(mask: np.ndarray, axis: int) -> list[str]:
    return [format(zlib.crc32(np.packbits(plane != 0).tobytes()), "08x") for plane in np.moveaxis(mask, axis, 0)]


def drawn_record(mask: np.ndarray, drawn: np.ndarray, axis: int) -> str:
    """The record (JSON text) of a segment written as ``mask`` whose slices drawn by the user are those of
    ``drawn`` that hold a label, along ``axis``."""
    return json.dumps({"axis": axis, "drawn": labelled_slices(drawn, axis), "slices": _checksums(mask, axis)},
                      separators=(",", ":"))


def drawn_part(mask: np.ndarray, record: str | None) -> np.ndarray:
    """``mask`` restricted to the slices the user drew (see the module's text); the whole mask without a record."""
    if not record:
        return mask
    try:
        content = json.loads(record)
        axis, drawn, written = int(content["axis"]), {int(k) for k in content["drawn"]}, list(content["slices"])
    except (ValueError, TypeError, KeyError):
        return mask
    if not 0 <= axis < mask.ndim or len(written) != mask.shape[axis]:
        return mask
    current = _checksums(mask, axis)
    keep = [k for k in range(len(current)) if k in drawn or current[k] != written[k]]
    result = np.zeros_like(mask)
    np.moveaxis(result, axis, 0)[keep] = np.moveaxis(mask, axis, 0)[keep]
    return result
