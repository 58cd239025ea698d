"""Baselines for slice propagation, with the same stepper interface as the network, for honest comparison.

* ``copy`` — the nearest anchor's label, copied unchanged to every slice;
* ``demons`` — slice-to-slice deformable registration (SimpleITK fast symmetric-forces demons) warping the label;
* ``raw`` — the network's window-attention matcher on raw intensities, with no learned features: what training
  buys.
"""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk
import torch

from .reconstruction import from_blocks, intensity_descriptors, to_blocks
from .window_attention import window_attention


class CopyStepper:
    name = "copy"

    def prepare(self, volume: np.ndarray) -> None:
        """Nothing to prepare: the label is copied as it is."""

    def step(self, reference: int, target: int, probabilities: np.ndarray) -> np.ndarray:
        return probabilities


class DemonsStepper:
    """Register the reference slice onto the target slice and warp the label with the displacement field."""

    name = "demons"

    def __init__(self, iterations: int = 60, smoothing: float = 1.5):
        self.iterations = iterations
        self.smoothing = smoothing
        self.slices: list[sitk.Image] = []

    def prepare(self, volume: np.ndarray) -> None:
        self.slices = [sitk.GetImageFromArray(np.ascontiguousarray(s, dtype=np.float32)) for s in volume]

    def step(self, reference: int, target: int, probabilities: np.ndarray) -> np.ndarray:
        demons = sitk.FastSymmetricForcesDemonsRegistrationFilter()
        demons.SetNumberOfIterations(self.iterations)
        demons.SetStandardDeviations(self.smoothing)
        field = demons.Execute(self.slices[target], self.slices[reference])
        transform = sitk.DisplacementFieldTransform(sitk.Cast(field, sitk.sitkVectorFloat64))
        warped = [sitk.GetArrayFromImage(sitk.Resample(sitk.GetImageFromArray(p), self.slices[target], transform,
                                                       sitk.sitkLinear, 0.0)) for p in probabilities[1:]]
        foreground = np.clip(np.stack(warped), 0, 1) if warped else np.zeros((0, *probabilities.shape[1:]))
        background = np.clip(1 - foreground.sum(0), 0, 1)
        return np.concatenate([background[None], foreground]).astype(np.float32)


class RawStepper:
    """Window attention on raw intensities: each grid cell is described by its 3×3 neighbourhood of mean
    intensities and matched by squared distance; labels are copied as full-resolution blocks like the network's.
    The window stays fixed: a window sized to the segment helps learned features, which tell look-alikes apart, not
    raw intensities, which do not."""

    name = "raw"

    def __init__(self, stride: int = 4, window: int = 13, temperature: float = 0.01):
        self.stride = stride
        self.window = window
        self.temperature = temperature
        self.features: torch.Tensor | None = None

    def prepare(self, volume: np.ndarray) -> None:
        slices = torch.from_numpy(np.ascontiguousarray(volume, dtype=np.float32))[:, None]
        self.features = intensity_descriptors(slices, self.stride)

    @torch.no_grad()
    def step(self, reference: int, target: int, probabilities: np.ndarray) -> np.ndarray:
        values = torch.from_numpy(probabilities)[None]
        copied = window_attention(self.features[target:target + 1], self.features[reference:reference + 1],
                                  to_blocks(values, self.stride), self.window, self.temperature, similarity="distance")
        return from_blocks(copied, self.stride, probabilities.shape[-2:])[0].numpy()
