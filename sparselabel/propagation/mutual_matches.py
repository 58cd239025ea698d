"""Which pixels of a step's target its matches vouch for: the round trip of the matches, target → reference → target.

A step copies labels onto each target pixel from the reference pixels that look like it. Where a structure first
comes into the slice beside the one being followed — the left kidney's upper pole appearing under the spleen — its
pixels still find look-alikes on the reference (the spleen), and copy their label. But the match is one-sided: the
spleen's own look-alikes on the target are the spleen's continuation, not the kidney. Per target pixel ``x``: ``m(x)``,
the mean position of its matches on the reference (positions weighted by the attention), and ``m'(m(x))``, the mean
position of the matches of that point back on the target. The round trip's error is the distance from ``x`` to where
it comes back, in units of how widely the matches spread (the standard deviations of both attention distributions
added in quadrature, at least a quarter of a grid cell): in a homogeneous region a pixel's matches spread widely and
their mean comes back only roughly, which is no doubt; a pixel whose matches are tight and still come back elsewhere
has no counterpart on the reference.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .window_attention import window_attention

_LEAST_SPREAD = 0.25  # grid cells: the spread no match is held to a finer precision than


def round_trip_error(there: tuple[torch.Tensor, torch.Tensor], back: tuple[torch.Tensor, torch.Tensor], window: int,
                     temperature: float, similarity: str, size: tuple[int, int]) -> torch.Tensor:
    """Per pixel of the target (``size``: rows, columns), the round trip's error in spreads (see the module).

    ``there`` and ``back`` are the (query, key) descriptors, ``[1, C, h, w]``, a step matches with
    ``window_attention`` (``window``, ``temperature``, ``similarity`` as in the step): the target's against the
    reference's, then the reference's against the target's, on a grid of ``h × w`` cells covering ``size``.
    """
    height, width = there[0].shape[-2:]
    device = there[0].device
    rows, columns = torch.meshgrid(torch.arange(height, dtype=torch.float32, device=device),
                                   torch.arange(width, dtype=torch.float32, device=device), indexing="ij")
    positions = torch.stack([rows, columns, rows**2, columns**2])[None]
    going = window_attention(*there, positions, window, temperature, similarity)[0].float()
    coming = window_attention(*back, positions, window, temperature, similarity)[0].float()
    # Where each target cell's matches lie on the reference (rounded to a cell), and where those come back.
    row = going[0].round().clamp(0, height - 1).long()
    column = going[1].round().clamp(0, width - 1).long()
    returned = coming[:2, row, column]
    miss = torch.hypot(returned[0] - rows, returned[1] - columns)
    spread = _variance(going) + _variance(coming)[row, column] + _LEAST_SPREAD**2
    error = (miss / spread.sqrt())[None, None]
    stride = (-(-size[0] // height), -(-size[1] // width))
    return F.interpolate(error, scale_factor=stride, mode="nearest")[0, 0, : size[0], : size[1]]


def _variance(moments: torch.Tensor) -> torch.Tensor:
    """Rows, columns, their squares (attention-weighted means) → the summed variance of the two coordinates."""
    return (moments[2] - moments[0] ** 2).clamp_min(0) + (moments[3] - moments[1] ** 2).clamp_min(0)
