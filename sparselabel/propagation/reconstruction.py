"""The reconstruction network: a target slice is rebuilt by soft-copying a reference slice through window attention.

Features come from the :class:`~.slice_encoder.SliceEncoder` at a stride ``s``; what is copied are ``s × s`` blocks of
full-resolution values (``pixel_unshuffle``): intensities while training, one-hot labels when propagating. The drawn
slice is thus never blurred; only *where* to copy from is decided on the coarse grid. When labels are copied
(:class:`NetworkStepper`):

* the learned features' cosine similarity gets an intensity term, ``intensity_weight`` × the negative squared
  difference of 3×3 neighbourhoods of mean intensity: the Gabor bottleneck hides grey level from the encoder, yet
  in MR it is much of what tells organs apart. Training never uses it: copying grey levels, it would learn nothing;
* each segment is copied over a window of ``window_scale`` × √(its area on the reference) pixels, within the trained
  window and ``max_window`` cells: a pixel takes the label its look-alikes carry across a region of the segment's
  size. A copy across several slices (from the drawn one, :mod:`.walk`) reaches at least ``far_window`` cells, as
  the structure may have moved farther;
* :meth:`NetworkStepper.round_trip_error` tells, over the trained window, how far a pixel's matches come back.

Measurements: docs/OneSliceSeg-measurements.md, "The intensity term" and "A segment's own window".
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..core.digests import voxel_digest
from .mutual_matches import round_trip_error
from .slice_encoder import EncoderConfig, SliceEncoder
from .window_attention import window_attention


@dataclass(frozen=True)
class ReconstructionConfig:
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    window: int = 13  # P: the attention window on the feature grid, in grid cells
    temperature: float = 0.05  # initial value; learned during training
    intensity_weight: float = 1.0  # weight of the intensity term when propagating labels (0: features only)
    intensity_temperature: float = 0.03

    def to_dict(self) -> dict:
        values = asdict(self)
        values["encoder"] = self.encoder.to_dict()
        return values

    @classmethod
    def from_dict(cls, values: dict) -> ReconstructionConfig:
        defaults = cls()
        return cls(EncoderConfig.from_dict(values["encoder"]), int(values["window"]), float(values["temperature"]),
                   float(values.get("intensity_weight", defaults.intensity_weight)),
                   float(values.get("intensity_temperature", defaults.intensity_temperature)))


def to_blocks(values: torch.Tensor, stride: int) -> torch.Tensor:
    """``[B, V, H, W]`` → ``[B, V·s², ⌈H/s⌉, ⌈W/s⌉]`` (edge-padded to a multiple of the stride)."""
    height, width = values.shape[-2:]
    pad_h, pad_w = (-height) % stride, (-width) % stride
    if pad_h or pad_w:
        values = F.pad(values, (0, pad_w, 0, pad_h), mode="replicate")
    return F.pixel_unshuffle(values, stride)


def from_blocks(blocks: torch.Tensor, stride: int, size: tuple[int, int]) -> torch.Tensor:
    """Inverse of :func:`to_blocks`, cropped back to ``size``."""
    return F.pixel_shuffle(blocks, stride)[..., : size[0], : size[1]]


def cell_to_pixels(cells: torch.Tensor, stride: int, size: tuple[int, int]) -> torch.Tensor:
    """One value per grid cell ``[B, h, w]`` → the same value on each of its pixels ``[B, H, W]``."""
    return cells.repeat_interleave(stride, -2).repeat_interleave(stride, -1)[..., : size[0], : size[1]]


def intensity_descriptors(slices: torch.Tensor, stride: int) -> torch.Tensor:
    """``[B, 1, H, W]`` → ``[B, 9, h, w]``: each grid cell's mean intensity and those of its 8 neighbours."""
    cells = to_blocks(slices, stride).mean(1, keepdim=True)
    height, width = cells.shape[-2:]
    return F.unfold(F.pad(cells, (1, 1, 1, 1), mode="replicate"), 3).view(len(slices), 9, height, width)


class ReconstructionNetwork(nn.Module):
    def __init__(self, config: ReconstructionConfig | None = None):
        super().__init__()
        self.config = config = config or ReconstructionConfig()
        self.encoder = SliceEncoder(config.encoder)
        self.log_temperature = nn.Parameter(torch.tensor(math.log(config.temperature)))

    @property
    def stride(self) -> int:
        return self.config.encoder.stride

    @property
    def temperature(self) -> torch.Tensor:
        return self.log_temperature.exp().clamp(1e-3, 1.0)

    def encode(self, slices: torch.Tensor) -> torch.Tensor:
        """``[B, 1, H, W]`` in [0, 1] → features ``[B, C, h, w]``."""
        return self.encoder(slices)

    def reconstruct(self, target_features: torch.Tensor, reference_features: torch.Tensor,
                    reference_values: torch.Tensor) -> torch.Tensor:
        """Full-resolution ``reference_values`` ``[B, V, H, W]`` soft-copied onto the target → ``[B, V, H, W]``."""
        size = reference_values.shape[-2:]
        copied = window_attention(target_features, reference_features, to_blocks(reference_values, self.stride),
                                  self.config.window, self.temperature)
        return from_blocks(copied, self.stride, size)

    def transfer_labels(self, target_features: torch.Tensor, reference_features: torch.Tensor,
                        target_intensities: torch.Tensor, reference_intensities: torch.Tensor,
                        labels: torch.Tensor, window: int | None = None
                        ) -> tuple[torch.Tensor, torch.Tensor]:
        """Labels ``[B, C, H, W]`` soft-copied with the learned similarity plus the intensity term, over ``window``
        cells (default: the trained window), and each pixel's match strength ``[B, H, W]`` (see
        :mod:`.window_attention`; the same for the pixels of one grid cell).

        Both terms become one dot product of augmented vectors, so one attention pass computes
        cos(f_t, f_r)/τ − w·|g_t − g_r|²/τ_i (up to a per-target constant, which the softmax ignores).
        """
        query, key = self.match_vectors(target_features, reference_features, target_intensities,
                                        reference_intensities)
        copied, strength = window_attention(query, key, to_blocks(labels, self.stride), window or self.config.window,
                                            1.0, similarity="dot", strength=True)
        return from_blocks(copied, self.stride, labels.shape[-2:]), cell_to_pixels(strength, self.stride,
                                                                                   labels.shape[-2:])

    def match_vectors(self, target_features: torch.Tensor, reference_features: torch.Tensor,
                      target_intensities: torch.Tensor, reference_intensities: torch.Tensor
                      ) -> tuple[torch.Tensor, torch.Tensor]:
        """The query and key whose dot product (temperature 1) is the similarity labels are copied with."""
        weight, tau_i = self.config.intensity_weight, self.config.intensity_temperature
        scale = self.temperature.rsqrt()
        query = [F.normalize(target_features, dim=1) * scale]
        key = [F.normalize(reference_features, dim=1) * scale]
        if weight > 0:
            root = math.sqrt(2 * weight / tau_i)
            query += [target_intensities * root, torch.ones_like(target_intensities[:, :1])]
            key += [reference_intensities * root, -(weight / tau_i) * (reference_intensities**2).sum(1, keepdim=True)]
        return torch.cat(query, 1), torch.cat(key, 1)


class NetworkStepper:
    """Propagation stepper using a :class:`ReconstructionNetwork` (each slice's features computed once, when a step
    first needs them); each segment is copied over a window sized to it (see the module's description)."""

    name = "ours"

    def __init__(self, network: ReconstructionNetwork, device: torch.device | str = "cpu", batch: int | None = None,
                 window_scale: float = 1.6, max_window: int = 49, far_window: int = 35):
        self.network = network.eval().to(device)
        self.device = torch.device(device)
        # Slices encoded together: a GPU gains from batches; on a CPU two at a time are as fast per slice as eight
        # (faster on large slices), and fewer slices are encoded past a structure's end.
        self.batch = batch or (8 if self.device.type == "cuda" else 2)
        self.window_scale = window_scale
        self.max_window = max_window
        self.far_window = far_window  # the least window for a copy across several slices (from the drawn one)
        self.intensities: torch.Tensor | None = None
        self.size: tuple[int, int] = (0, 0)
        self._prepared_for: str | None = None  # the digest of the voxels prepared
        self._slices: torch.Tensor | None = None
        self._features: list[torch.Tensor | None] = []  # per slice, once encoded

    def _autocast(self):
        if self.device.type == "cuda":
            return torch.autocast("cuda", dtype=torch.float16)
        return torch.autocast("cpu", enabled=False)

    @torch.no_grad()
    def prepare(self, volume: np.ndarray) -> None:
        key = voxel_digest(volume)
        if key == self._prepared_for:  # the same voxels again (another group of segments): keep the features
            return
        self._prepared_for = key
        self.size = volume.shape[1:]
        self._slices = torch.from_numpy(np.ascontiguousarray(volume, dtype=np.float32))[:, None]
        self._features = [None] * len(volume)
        self.intensities = intensity_descriptors(self._slices, self.network.stride).to(self.device)

    @torch.no_grad()
    def _encoded(self, index: int, heading: int = 1) -> torch.Tensor:
        """The features ``[1, C, h, w]`` of slice ``index``. A slice is encoded when a step first needs it, together
        with up to ``batch`` − 1 slices after it in the walk's ``heading`` (+1 or −1): the walk stops where its
        structure ends, and the slices beyond are never encoded."""
        if self._features[index] is None:
            wanted = []
            for position in range(index, index + heading * self.batch, heading):
                if not 0 <= position < len(self._features) or self._features[position] is not None:
                    break
                wanted.append(position)
            with self._autocast():
                encoded = self.network.encode(self._slices[wanted].to(self.device)).float()
            for position, features in zip(wanted, encoded, strict=True):
                self._features[position] = features[None]
        return self._features[index]

    def _pair(self, target: int, reference: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The features of ``target`` and ``reference``, encoding ahead in the walk's heading (from reference to
        target)."""
        heading = 1 if target > reference else -1
        return self._encoded(target, heading), self._encoded(reference, heading)

    @property
    def encoded_slices(self) -> list[int]:
        """The slices whose features have been computed so far."""
        return [index for index, features in enumerate(self._features) if features is not None]

    @torch.no_grad()
    def all_features(self) -> torch.Tensor:
        """The features ``[slices, C, h, w]`` of every slice of the prepared volume."""
        for index in range(len(self._features)):
            self._encoded(index)
        return torch.cat(self._features)

    def step(self, reference: int, target: int, probabilities: np.ndarray) -> np.ndarray:
        return self.matched_step(reference, target, probabilities)[0]

    @torch.no_grad()
    def matched_step(self, reference: int, target: int, probabilities: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`step`, and per class and pixel how strongly the target is matched over that class's window
        ``[classes, rows, columns]``."""
        values = torch.from_numpy(probabilities)[None].to(self.device)
        smallest = self.network.config.window
        if abs(target - reference) > 1:  # the structure may have moved farther: reach farther
            smallest = max(smallest, min(self.far_window, self.max_window))
        windows = segment_windows(probabilities, self.network.stride, smallest, self.window_scale, self.max_window)
        target_features, reference_features = self._pair(target, reference)
        copied, strength = {}, {}
        for window in sorted(set(windows)):  # one pass per window size; segments of alike size share it
            with self._autocast():
                labels, matched = self.network.transfer_labels(
                    target_features, reference_features,
                    self.intensities[target:target + 1], self.intensities[reference:reference + 1], values,
                    window)
            copied[window], strength[window] = labels[0].float().cpu().numpy(), matched[0].float().cpu().numpy()
        strengths = np.stack([strength[window] for window in windows])
        if len(copied) == 1:
            return copied[windows[0]], strengths
        result = np.stack([copied[window][index] for index, window in enumerate(windows)])
        result[0] = np.clip(1.0 - result[1:].sum(0), 0.0, 1.0)
        return result, strengths

    @torch.no_grad()
    def round_trip_error(self, reference: int, target: int) -> np.ndarray:
        """Per pixel of ``target``, how far its matches on ``reference`` come back from it, in spreads, over the
        trained window (see :mod:`.mutual_matches`). In float32: squared positions need its precision."""
        features = self._pair(target, reference)
        intensities = (self.intensities[target:target + 1], self.intensities[reference:reference + 1])
        there = self.network.match_vectors(*features, *intensities)
        back = self.network.match_vectors(*features[::-1], *intensities[::-1])
        return round_trip_error(there, back, self.network.config.window, 1.0, "dot", self.size).cpu().numpy()

def segment_windows(probabilities: np.ndarray, stride: int, smallest: int, scale: float, largest: int) -> list[int]:
    """The attention window (odd, in grid cells of ``stride`` pixels) for each class of ``probabilities``
    ``[classes, rows, columns]``: ``scale`` × √(the segment's area in pixels), within ``smallest`` … ``largest``.
    The background (class 0) shares the segments' window when they all have one size, else gets ``smallest`` (its
    probability is then one minus the segments')."""
    windows = [smallest]
    for index in range(1, len(probabilities)):
        cells = round(scale * math.sqrt(float(probabilities[index].sum())) / stride)
        cells += 1 - cells % 2
        windows.append(max(smallest, min(largest, cells)))
    if len(set(windows[1:])) == 1:  # one segment, or all alike: the background travels with them
        windows[0] = windows[1]
    return windows
