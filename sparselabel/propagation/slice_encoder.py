"""The slice encoder: Gabor bottleneck → ResNet-18 trunk → per-pixel features at a chosen stride.

The trunk has ResNet-18's shape (a stem and four stages of two basic blocks) with narrow widths and GroupNorm
instead of BatchNorm, so it trains from a handful of crops (test-time adaptation) and behaves the same in
training and inference. ``stride`` (1, 2, 4 or 8) sets the feature grid: 4 keeps boundaries within a few pixels
at a sixteenth of the full-resolution cost.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..core.gabor import GaborBank


@dataclass(frozen=True)
class EncoderConfig:
    stride: int = 4
    widths: tuple[int, int, int, int] = (16, 32, 64, 64)
    feature_channels: int = 64
    gabor_scales: int = 4
    gabor_orientations: int = 8

    def __post_init__(self) -> None:
        if self.stride not in (1, 2, 4, 8):
            raise ValueError(f"stride must be 1, 2, 4 or 8, got {self.stride}")
        if len(self.widths) != 4 or min(self.widths) < 1:
            raise ValueError(f"widths must be four positive numbers, got {self.widths}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> EncoderConfig:
        values = dict(values)
        values["widths"] = tuple(values["widths"])
        return cls(**values)


def _norm(channels: int) -> nn.GroupNorm:
    return nn.GroupNorm(min(8, channels), channels)


class BasicBlock(nn.Module):
    """ResNet's basic block: two 3×3 convolutions with a (projected when needed) identity shortcut."""

    def __init__(self, inputs: int, outputs: int, stride: int = 1):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(inputs, outputs, 3, stride, 1, bias=False), _norm(outputs), nn.ReLU(inplace=True),
            nn.Conv2d(outputs, outputs, 3, 1, 1, bias=False), _norm(outputs),
        )
        self.shortcut = nn.Identity() if stride == 1 and inputs == outputs else nn.Sequential(
            nn.Conv2d(inputs, outputs, 1, stride, bias=False), _norm(outputs))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.body(x) + self.shortcut(x))


class SliceEncoder(nn.Module):
    """``[B, 1, H, W]`` intensities in [0, 1] → ``[B, feature_channels, ⌈H/stride⌉, ⌈W/stride⌉]`` features."""

    def __init__(self, config: EncoderConfig | None = None):
        super().__init__()
        self.config = config = config or EncoderConfig()
        self.gabor = GaborBank(config.gabor_scales, config.gabor_orientations)
        w0, w1, w2, w3 = config.widths
        s = config.stride
        self.stem = nn.Sequential(nn.Conv2d(self.gabor.channels, w0, 3, 2 if s >= 2 else 1, 1, bias=False),
                                  _norm(w0), nn.ReLU(inplace=True))
        self.stages = nn.Sequential(
            BasicBlock(w0, w0), BasicBlock(w0, w0),
            BasicBlock(w0, w1, 2 if s >= 4 else 1), BasicBlock(w1, w1),
            BasicBlock(w1, w2, 2 if s >= 8 else 1), BasicBlock(w2, w2),
            BasicBlock(w2, w3), BasicBlock(w3, w3),
        )
        self.head = nn.Conv2d(w3, config.feature_channels, 1)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        stride = self.config.stride
        height, width = image.shape[-2:]
        pad_h, pad_w = (-height) % stride, (-width) % stride
        if pad_h or pad_w:
            image = F.pad(image, (0, pad_w, 0, pad_h), mode="replicate")
        # Gabor energies span orders of magnitude; a log keeps faint texture and strong edges on one scale.
        energies = torch.log1p(self.gabor(image) * 10)
        return self.head(self.stages(self.stem(energies)))
