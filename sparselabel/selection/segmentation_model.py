"""The segmentation model ActiveSeg trains on the labelled scans: a MONAI 2D U-Net with Dice + cross-entropy.

Volumes are handled slice by slice (:func:`as_slices`): the model is 2D whatever the cohort. Images are normalised
(robust window) and resized to ``size``×``size`` by area averaging; labels are binary
(structure vs background). Training uses random affine augmentation (rotation, scale, shift — image and label
together) and gamma/contrast changes, Adam, and keeps the weights that scored best on the validation images when
some are given. Prediction returns per-pixel class probabilities at each image's own size — what the acquisition's
entropy is computed from. CUDA with autocast when present; progress and cancel like every long job.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..core.errors import CancelledError, UserInputError, brief
from ..core.image import Geometry, Image
from ..core.intensity import normalise
from ..core.weights import load_weights


@dataclass(frozen=True)
class SegmentationConfig:
    size: int = 128
    channels: tuple[int, ...] = (16, 32, 64, 128)
    steps: int = 600
    batch: int = 8
    learning_rate: float = 1e-3
    validate_every: int = 50
    seed: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class SegmenterResult:
    network: torch.nn.Module
    config: SegmentationConfig
    steps: int
    seconds: float
    validation_dice: list[float] = field(default_factory=list)


def build_network(config: SegmentationConfig) -> torch.nn.Module:
    from monai.networks.nets import UNet

    return UNet(spatial_dims=2, in_channels=1, out_channels=2, channels=config.channels,
                strides=(2,) * (len(config.channels) - 1), num_res_units=2)


def _prepare(images: Sequence[Image], size: int) -> torch.Tensor:
    slices = []
    for image in images:
        if image.geometry.dim != 2:
            raise UserInputError(f"the segmentation model works on 2D images; got a {image.geometry.dim}D image")
        pixels = torch.from_numpy(normalise(image.array))[None, None]
        slices.append(F.interpolate(pixels, size=(size, size), mode="area")[0])
    return torch.stack(slices)


def _prepare_labels(labels: Sequence[np.ndarray], size: int) -> torch.Tensor:
    masks = [torch.from_numpy((np.asarray(m) > 0).astype(np.float32))[None, None] for m in labels]
    return torch.cat([F.interpolate(m, size=(size, size), mode="area") for m in masks]).round()


def _augment(images: torch.Tensor, masks: torch.Tensor,
             generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    count = len(images)
    angle = (torch.rand(count, generator=generator) - 0.5) * math.radians(20)
    scale = 0.9 + 0.2 * torch.rand(count, generator=generator)
    shift = (torch.rand(count, 2, generator=generator) - 0.5) * 0.1
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    images = F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=False)
    masks = F.grid_sample(masks, grid, mode="nearest", padding_mode="zeros", align_corners=False)
    gamma = torch.exp((torch.rand(count, 1, 1, 1, generator=generator) - 0.5) * 0.6)
    contrast = 0.85 + 0.3 * torch.rand(count, 1, 1, 1, generator=generator)
    return (images.clamp(0, 1) ** gamma * contrast).clamp(0, 1), masks


def _dice(prediction: torch.Tensor, truth: torch.Tensor) -> float:
    inter = (prediction * truth).sum((1, 2, 3))
    total = prediction.sum((1, 2, 3)) + truth.sum((1, 2, 3))
    return float(torch.where(total > 0, 2 * inter / total.clamp(min=1), torch.ones_like(total)).mean())


def train_segmenter(images: Sequence[Image], labels: Sequence[np.ndarray], config: SegmentationConfig | None = None,
                    validation: tuple[Sequence[Image], Sequence[np.ndarray]] | None = None,
                    device: torch.device | str = "cpu", progress: Callable[[float, str], None] | None = None,
                    cancel: Callable[[], bool] | None = None) -> SegmenterResult:
    """Train a U-Net on ``images`` with binary ``labels`` (non-zero = structure)."""
    from monai.losses import DiceCELoss

    config = config or SegmentationConfig()
    if not images or len(images) != len(labels):
        raise UserInputError(f"training needs labelled images: got {len(images)} images and {len(labels)} labels")
    torch.manual_seed(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    device = torch.device(device)
    inputs, masks = _prepare(images, config.size), _prepare_labels(labels, config.size)
    if validation is not None:
        valid_inputs, valid_masks = _prepare(validation[0], config.size), _prepare_labels(validation[1], config.size)
    network = build_network(config).to(device)
    loss_function = DiceCELoss(to_onehot_y=True, softmax=True)
    optimiser = torch.optim.Adam(network.parameters(), lr=config.learning_rate)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, config.steps)
    use_amp = device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
    best_score, best_state, scores = -1.0, None, []
    start = time.perf_counter()
    for step in range(1, config.steps + 1):
        if cancel is not None and cancel():
            raise CancelledError("training cancelled")
        network.train()
        chosen = torch.randint(0, len(inputs), (config.batch,), generator=generator)
        batch_images, batch_masks = _augment(inputs[chosen], masks[chosen], generator)
        with torch.autocast(device.type, dtype=torch.float16, enabled=use_amp):
            loss = loss_function(network(batch_images.to(device)), batch_masks.to(device))
        optimiser.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimiser)
        scaler.update()
        schedule.step()
        if validation is not None and (step % config.validate_every == 0 or step == config.steps):
            network.eval()
            with torch.no_grad():
                predicted = torch.cat([network(valid_inputs[i:i + 16].to(device)).argmax(1, keepdim=True).float().cpu()
                                       for i in range(0, len(valid_inputs), 16)])
            scores.append(_dice(predicted, valid_masks))
            if scores[-1] > best_score:
                best_score, best_state = scores[-1], copy.deepcopy(network.state_dict())
        if progress is not None:
            progress(step / config.steps, f"training: step {step}, loss {float(loss):.3f}")
    if best_state is not None:
        network.load_state_dict(best_state)
    network.eval()
    return SegmenterResult(network, config, config.steps, time.perf_counter() - start, scores)


@torch.no_grad()
def predict_probabilities(result: SegmenterResult, images: Sequence[Image],
                          device: torch.device | str = "cpu") -> list[np.ndarray]:
    """Class probabilities ``[2, H, W]`` (background, structure) for each image, at the image's own size."""
    device = torch.device(device)
    network = result.network.to(device).eval()
    probabilities = []
    for image in images:
        logits = network(_prepare([image], result.config.size).to(device)).float()
        resized = F.interpolate(logits, size=image.array.shape, mode="bilinear", align_corners=False)
        probabilities.append(torch.softmax(resized, 1)[0].cpu().numpy())
    return probabilities


def as_slices(image: Image, label: np.ndarray | None = None) -> tuple[list[Image], list[np.ndarray]]:
    """A scan as 2D images for the 2D model: a 2D image as it is, a volume as its slices along the first axis.

    Returns the slice images and, when ``label`` is given, the matching label slices.
    """
    if image.geometry.dim == 2:
        return [image], ([] if label is None else [np.asarray(label)])
    geometry = Geometry.identity(2, tuple(image.geometry.array_spacing[1:][::-1]))
    slices = [Image(np.ascontiguousarray(plane), geometry) for plane in image.array]
    return slices, ([] if label is None else [np.asarray(plane) for plane in label])


def scan_entropy(result: SegmenterResult, image: Image, device: torch.device | str = "cpu") -> float:
    """Normalised predictive entropy of a whole scan (a volume: the mean over its slices, i.e. over its voxels)."""
    from .acquisition import normalised_entropy

    slices, _ = as_slices(image)
    return float(np.mean([normalised_entropy(p) for p in predict_probabilities(result, slices, device)]))


def save_segmenter(result: SegmenterResult, path, trained_on: Sequence[str] = ()) -> Path:
    """Write the model (weights, configuration, scans it was trained on) atomically."""
    from ..core.atomic import atomic_path

    payload = {"state_dict": {k: v.cpu() for k, v in result.network.state_dict().items()},
               "config": result.config.to_dict(), "trained_on": list(trained_on), "steps": result.steps}
    with atomic_path(path) as temporary:
        torch.save(payload, temporary)
    return Path(path)


def load_segmenter(path, device: torch.device | str = "cpu") -> SegmenterResult:
    """A model written by :func:`save_segmenter` (loaded with ``weights_only=True``)."""
    payload = load_weights(path, "a model written by SparseLabel's active learning")
    try:
        config = SegmentationConfig(**{k: tuple(v) if isinstance(v, list) else v
                                       for k, v in payload["config"].items()})
        network = build_network(config)
        network.load_state_dict(payload["state_dict"])
    except (RuntimeError, KeyError, TypeError, AttributeError) as error:
        raise UserInputError(f"{path}: not a SparseLabel segmentation model ({brief(error)})") from None
    return SegmenterResult(network.to(device).eval(), config, int(payload.get("steps", 0)), 0.0)
