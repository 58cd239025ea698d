"""Local window attention: every target pixel soft-copies values from a P×P window of a reference slice.

For a target position, the weights are a softmax over the window of the similarity between the target's feature
and each reference feature (cosine similarity, negative squared distance, or plain dot product, / temperature); the
output is the weighted sum of the reference values at those positions — intensities while training, one-hot labels
when propagating, several segments at once. Positions outside the reference slice get no weight.

Computed tile by tile, as matrix products, which is several times faster than one operation per window offset: the
target grid is cut into 8×8 tiles (``_TILE``; smaller tiles waste fewer cells outside a target's window), each tile's
features meet those of the reference tile grown by the window's radius, and a mask keeps each target to its own
window. Rows of tiles are processed at a time, so that their weights stay under ``max_elements``.

With ``strength=True`` it also returns how well each target is matched in its window: the log of the mean, over the
window's P² cells, of exp(similarity / temperature) — the softmax's log partition less log P². Two references can
be weighed against each other by it: the one where the target finds stronger matches has more to say.

Measurements: docs/OneSliceSeg-measurements.md, "Window attention".
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

SIMILARITIES = ("cosine", "distance", "dot")
_TILE = 8


def window_attention(query: torch.Tensor, key: torch.Tensor, values: torch.Tensor, window: int = 13,
                     temperature: float | torch.Tensor = 0.05, similarity: str = "cosine",
                     max_elements: int = 1 << 24, strength: bool = False
                     ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Soft-copy ``values`` of the reference onto the target.

    ``query``: target features ``[B, C, h, w]``; ``key``: reference features ``[B, C, h, w]``; ``values``: reference
    values ``[B, V, h, w]`` on the same grid. Returns ``[B, V, h, w]``, and with ``strength`` also each target's
    match strength ``[B, h, w]`` (see the module's description). ``window`` (P) must be odd.
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
    radius = window // 2
    tile = min(_TILE, max(height, width))
    span = tile + 2 * radius  # a tile grown by the window's radius on every side
    rows, columns = math.ceil(height / tile), math.ceil(width / tile)
    grow_h, grow_w = rows * tile - height, columns * tile - width
    reference_pad = (radius, radius + grow_w, radius, radius + grow_h)
    # Views of the tiles (no copy yet): [B, C, tile rows, tile columns, span, span].
    targets = _patches(F.pad(query, (0, grow_w, 0, grow_h)), tile, tile)
    keys = _patches(F.pad(key, reference_pad), span, tile)
    reference_values = _patches(F.pad(values, reference_pad), span, tile)
    inside = _patches(F.pad(torch.ones_like(key[:, :1]), reference_pad), span, tile)
    outside_window = ~_window_mask(tile, radius, query.device)
    # Rows of tiles at a time, so that both the weights and the copied tiles stay under max_elements.
    per_row = batch * columns * tile * tile * span * span
    group = max(1, max_elements // per_row)
    outputs, strengths = [], []
    for first in range(0, rows, group):
        part = slice(first, first + group)
        logits = _flat(targets[:, :, part]) @ _flat(keys[:, :, part]).transpose(-1, -2)
        if similarity == "distance":  # −|q − k|² = 2 q·k − |k|² − |q|², and the softmax ignores −|q|²
            logits = 2 * logits - (_flat(keys[:, :, part]) ** 2).sum(-1)[:, :, None, :]
        outside = outside_window | (_flat(inside[:, :, part])[..., 0] == 0)[:, :, None, :]
        # A large finite floor, not −inf: the grid's padding cells have no valid key and must not give NaN.
        logits = (logits.float() / temperature).masked_fill_(outside, -1e30)  # in place: the largest tensor here
        weights = torch.softmax(logits, dim=-1)
        if strength:  # the log partition from the strongest match and its weight: log Z = peak − log w(peak)
            peak, strongest = logits.max(dim=-1, keepdim=True)
            strengths.append((peak - weights.gather(-1, strongest).log()).squeeze(-1) - 2 * math.log(window))
        outputs.append(weights.to(values.dtype) @ _flat(reference_values[:, :, part]))
    copied = _untiled(torch.cat(outputs, 1), rows, columns, tile)[..., :height, :width]
    if not strength:
        return copied
    return copied, _untiled(torch.cat(strengths, 1)[..., None], rows, columns, tile)[:, 0, :height, :width]


def _untiled(tiles: torch.Tensor, rows: int, columns: int, tile: int) -> torch.Tensor:
    """``[B, rows·columns, tile², V]`` (row-major tiles) → ``[B, V, rows·tile, columns·tile]``."""
    batch, channels = tiles.shape[0], tiles.shape[-1]
    grid = tiles.reshape(batch, rows, columns, tile, tile, channels).permute(0, 5, 1, 3, 2, 4)
    return grid.reshape(batch, channels, rows * tile, columns * tile)


def _patches(grid: torch.Tensor, span: int, step: int) -> torch.Tensor:
    """``[B, C, H, W]`` → a view ``[B, C, rows, columns, span, span]`` of the patches every ``step`` cells."""
    return grid.unfold(2, span, step).unfold(3, span, step)


def _flat(patches: torch.Tensor) -> torch.Tensor:
    """``[B, C, rows, columns, span, span]`` → ``[B, rows·columns, span², C]`` (row-major tiles; a copy)."""
    batch, channels, rows, columns, span = patches.shape[:5]
    return patches.permute(0, 2, 3, 4, 5, 1).reshape(batch, rows * columns, span * span, channels)


def _window_mask(tile: int, radius: int, device: torch.device) -> torch.Tensor:
    """``[tile², span²]``: which cells of a grown tile lie in each of its targets' windows."""
    target = torch.arange(tile, device=device)
    source = torch.arange(tile + 2 * radius, device=device)
    offset = source[None, :] - target[:, None]  # a target at t sees the grown tile's cells t … t + 2·radius
    near = (offset >= 0) & (offset <= 2 * radius)  # [tile, span] along one axis
    return (near[:, None, :, None] & near[None, :, None, :]).reshape(tile * tile, -1)
