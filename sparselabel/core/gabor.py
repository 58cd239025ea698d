"""A fixed Gabor filter bank: the information bottleneck in front of the slice encoder.

Gabor energies (the magnitude of the complex response) describe edges and texture at several scales and
orientations while discarding absolute intensity: the kernels have zero mean, so a brightness offset between
slices, scanners or MR sequences does not change them. That pushes the encoder to match slices by structure
rather than by grey level.

Scales are obtained with an image pyramid — the same small bank applied to the image downsampled by 1, 2, 4, … —
which costs a fraction of large kernels and covers wavelengths from a few pixels to a few dozen.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def gabor_kernels(orientations: int = 8, wavelength: float = 4.0, size: int = 11) -> torch.Tensor:
    """Real and imaginary Gabor kernels, ``[2 × orientations, 1, size, size]``, each with zero mean and unit L2 norm.

    The envelope's sigma is 0.56 × wavelength (a one-octave bandwidth), the aspect ratio 0.5 (elongated along the
    stripes), as in the classic texture-analysis banks.
    """
    sigma = 0.56 * wavelength
    half = size // 2
    y, x = torch.meshgrid(torch.arange(-half, half + 1, dtype=torch.float64),
                          torch.arange(-half, half + 1, dtype=torch.float64), indexing="ij")
    kernels = []
    for part in ("real", "imaginary"):
        for index in range(orientations):
            theta = math.pi * index / orientations
            along = x * math.cos(theta) + y * math.sin(theta)
            across = -x * math.sin(theta) + y * math.cos(theta)
            envelope = torch.exp(-(along**2 + (0.5 * across) ** 2) / (2 * sigma**2))
            phase = 2 * math.pi * along / wavelength
            kernel = envelope * (torch.cos(phase) if part == "real" else torch.sin(phase))
            kernel = kernel - kernel.mean()
            kernels.append(kernel / kernel.norm())
    return torch.stack(kernels)[:, None].float()


class GaborBank(nn.Module):
    """Frozen Gabor energies: ``[B, 1, H, W]`` → ``[B, scales × orientations, H, W]`` at the input resolution.

    The convolution weights are a buffer, not a parameter: training never changes them.
    """

    def __init__(self, scales: int = 4, orientations: int = 8, wavelength: float = 4.0, size: int = 11):
        super().__init__()
        if scales < 1 or orientations < 1:
            raise ValueError("the Gabor bank needs at least one scale and one orientation")
        self.scales = scales
        self.orientations = orientations
        self.register_buffer("kernels", gabor_kernels(orientations, wavelength, size))

    @property
    def channels(self) -> int:
        return self.scales * self.orientations

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        height, width = image.shape[-2:]
        padding = self.kernels.shape[-1] // 2
        responses = []
        level = image
        for scale in range(self.scales):
            if scale:
                level = F.avg_pool2d(level, 2, ceil_mode=True)
            filtered = F.conv2d(F.pad(level, (padding,) * 4, mode="replicate"), self.kernels.to(level.dtype))
            real, imaginary = filtered.split(self.orientations, dim=1)
            energy = torch.sqrt(real**2 + imaginary**2 + 1e-8)
            if scale:
                energy = F.interpolate(energy, size=(height, width), mode="bilinear", align_corners=False)
            responses.append(energy)
        return torch.cat(responses, dim=1)
