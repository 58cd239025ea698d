"""Local window attention: every target pixel soft-copies values from a P×P window of a reference slice.

For a target position, the weights are a softmax over the window of the similarity between the target's feature
and each reference feature (cosine similarity, negative squared distance, or plain dot product, / temperature); the
output is the weighted sum of the reference values at those positions — intensities while training, one-hot labels
when propagating, several segments at once. Positions outside the reference slice get no weight.

Computed as a correlation layer: one vectorised multiply-and-sum over the whole slice per window offset (P²
tensor operations, never a loop over pixels). Memory is bounded by processing bands of rows so that the
``[P², rows, width]`` weights stay under ``max_elements``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

SIMILARITIES = ("cosine", "distance", "dot")


def window_attention(query: torch.Tensor, key: torch.Tensor, values: torch.Tensor, window: int = 13,
                     temperature: float | torch.Tensor = 0.05, similarity: str = "cosine",
                     max_elements: int = 1 << 24) -> torch.Tensor:
    """Soft-copy ``values`` of the reference onto the target.

    ``query``: target features ``[B, C, h, w]``; ``key``: reference features ``[B, C, h, w]``; ``values``: reference
    values ``[B, V, h, w]`` on the same grid. Returns ``[B, V, h, w]``. ``window`` (P) must be odd.
    """
    if window % 2 != 1 or window < 1:
        raise ValueError(f"window must be an odd number of pixels, got {window}")
    if similarity not in SIMILARITIES:
        raise ValueError(f"similarity must be one of {SIMILARITIES}, got {similarity!r}")
    if query.shape != key.shape or query.shape[-2:] != values.shape[-2:] or query.shape[0] != values.shape[0]:
        raise ValueError(f"shapes do not match: query {tuple(query.shape)}, key {tuple(key.shape)}, "
                         f"values {tuple(values.shape)}")
    batch, _, height, width = query.shape
    if similarity == "cosine":
        query, key = F.normalize(query, dim=1), F.normalize(key, dim=1)
    rows = max(1, min(height, max_elements // max(1, batch * window * window * width)))
    bands = [_band(query[:, :, top:top + rows], key, values, top, window, temperature, similarity == "distance")
             for top in range(0, height, rows)]
    return torch.cat(bands, dim=2)


def _band(query: torch.Tensor, key: torch.Tensor, values: torch.Tensor, top: int, window: int,
          temperature: float | torch.Tensor, distance: bool) -> torch.Tensor:
    """Attention for the target rows ``top … top + query rows`` (the reference band around them is sliced here)."""
    radius = window // 2
    rows, width = query.shape[-2:]
    height = key.shape[-2]
    # Reference rows top - radius … top + rows + radius, zero-padded outside the slice; `inside` marks real pixels.
    first, last = top - radius, top + rows + radius
    pad = (radius, radius, max(0, -first), max(0, last - height))
    crop = slice(max(0, first), min(height, last))
    padded_key = F.pad(key[:, :, crop], pad)
    padded_values = F.pad(values[:, :, crop], pad)
    inside = F.pad(torch.ones_like(key[:, :1, crop]), pad)
    offsets = [(dy, dx) for dy in range(window) for dx in range(window)]
    logits = torch.stack([(query * padded_key[:, :, dy:dy + rows, dx:dx + width]).sum(1) for dy, dx in offsets], 1)
    if distance:  # −|q − k|² = 2 q·k − |k|² − |q|²
        squared = (padded_key**2).sum(1)
        logits = 2 * logits - torch.stack([squared[:, dy:dy + rows, dx:dx + width] for dy, dx in offsets], 1)
        logits = logits - (query**2).sum(1, keepdim=True)
    valid = torch.stack([inside[:, 0, dy:dy + rows, dx:dx + width] for dy, dx in offsets], 1) > 0
    weights = torch.softmax((logits.float() / temperature).masked_fill(~valid, float("-inf")), dim=1)
    weights = weights.to(values.dtype)
    output = torch.zeros(values.shape[0], values.shape[1], rows, width, dtype=values.dtype, device=values.device)
    for index, (dy, dx) in enumerate(offsets):
        output = output + weights[:, index:index + 1] * padded_values[:, :, dy:dy + rows, dx:dx + width]
    return output
