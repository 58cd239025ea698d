"""Self-supervised training of the reconstruction network: no labels, only slices of unlabelled volumes.

A triplet of slices ``s0 → s1 → s2`` (nearby slices, or consecutive representatives from screening) is cut to
the same random crop. The network reconstructs ``s1`` from ``s0`` and ``s2`` from ``s1`` by copying intensities:

* **scheduled sampling** — the reference for ``s2`` is the true ``s1`` with a probability annealed 0.9 → 0.5, and
  otherwise the network's own reconstruction of ``s1``, as it will be when propagating slice after slice;
* **cycle consistency** — the reconstruction of ``s1`` is copied back onto ``s0`` and compared with it;
* loss = 0.9 · reconstruction + 0.1 · cycle (smooth L1); Adam, learning rate halved every epoch;
* intensity augmentation (gamma, contrast, noise) on what the encoder sees — never on what is copied, so the
  network must match structure, not grey levels — and the same flips/rotations on the three slices.

Two uses: training once on a folder of volumes (a reusable checkpoint, such as the network shipped with SparseLabel),
and fine-tuning a trained network on the volume being segmented. Both run a fixed number of steps, and every schedule
follows the step count: the same volumes and seed give the same network on any machine, however loaded. A time limit
only guards against a runaway run, and the result says when it ended one.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..core.errors import CancelledError, UserInputError
from .reconstruction import ReconstructionConfig, ReconstructionNetwork
from .screening import gabor_descriptors, representative_slices


@dataclass(frozen=True)
class TrainingConfig:
    crop: int = 128  # full-resolution crop side, pixels
    batch: int = 4
    learning_rate: float = 1e-3
    epochs: int = 4  # the learning rate halves after each
    steps: int = 400
    max_gap: int = 2  # largest slice distance inside a random triplet
    sampling_start: float = 0.9
    sampling_end: float = 0.5
    main_weight: float = 0.9
    cycle_weight: float = 0.1
    representative_share: float = 0.5  # share of triplets made of consecutive screened representatives
    seed: int = 0

    def to_dict(self) -> dict:
        return asdict(self)

    def with_steps(self, steps: int) -> TrainingConfig:
        return replace(self, steps=int(steps))


# Fine-tuning a trained network on the volume at hand: a gentler start than training from scratch, so the few steps
# adjust the features to this scan rather than unlearn them.
ADAPTATION = TrainingConfig(learning_rate=2.5e-4, epochs=2)


@dataclass
class TrainingResult:
    network: ReconstructionNetwork
    steps: int
    seconds: float
    losses: list[float] = field(default_factory=list)
    limit_hit: bool = False  # the time limit ended training before its steps were done


class _TripletSampler:
    def __init__(self, volumes: Sequence[np.ndarray], config: TrainingConfig, rng: np.random.Generator):
        self.volumes = [np.ascontiguousarray(v, dtype=np.float32) for v in volumes]
        self.config = config
        self.rng = rng
        self.representatives = [representative_slices(gabor_descriptors(v), max(3, len(v) // 4), config.seed)
                                if len(v) >= 6 else [] for v in self.volumes]

    def _indices(self, volume_index: int) -> tuple[int, int, int]:
        count = len(self.volumes[volume_index])
        chosen = self.representatives[volume_index]
        if len(chosen) >= 3 and self.rng.random() < self.config.representative_share:
            start = int(self.rng.integers(0, len(chosen) - 2))
            triplet = chosen[start:start + 3]
            return tuple(triplet if self.rng.random() < 0.5 else triplet[::-1])
        gaps = self.rng.integers(1, self.config.max_gap + 1, size=2)
        direction = 1 if self.rng.random() < 0.5 else -1
        span = int(gaps.sum())
        first = int(self.rng.integers(0, max(1, count - span)))
        triplet = [first, first + int(gaps[0]), first + span]
        triplet = [min(i, count - 1) for i in triplet]
        return tuple(triplet if direction > 0 else triplet[::-1])

    def _crop(self, slices: np.ndarray) -> np.ndarray:
        size = self.config.crop
        height, width = slices.shape[-2:]
        if height < size or width < size:
            slices = np.pad(slices, ((0, 0), (0, max(0, size - height)), (0, max(0, size - width))), mode="edge")
            height, width = slices.shape[-2:]
        best = None
        for _ in range(6):  # prefer crops with anatomy in them rather than air
            top = int(self.rng.integers(0, height - size + 1))
            left = int(self.rng.integers(0, width - size + 1))
            crop = slices[:, top:top + size, left:left + size]
            if best is None or crop.mean() > best.mean():
                best = crop
            if crop.mean() > 0.15:
                break
        turns = int(self.rng.integers(0, 4))
        best = np.rot90(best, turns, axes=(1, 2))
        if self.rng.random() < 0.5:
            best = best[:, :, ::-1]
        return np.ascontiguousarray(best)

    def batch(self) -> torch.Tensor:
        """``[3, B, 1, crop, crop]``: the three slices of ``B`` triplets."""
        triplets = []
        for _ in range(self.config.batch):
            volume_index = int(self.rng.integers(0, len(self.volumes)))
            triplets.append(self._crop(self.volumes[volume_index][list(self._indices(volume_index))]))
        return torch.from_numpy(np.stack(triplets, axis=1))[:, :, None]


def _augment(slices: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    """Same random intensity change for the slices of one triplet (they stay comparable), different per triplet."""
    count = slices.shape[1]
    shape = (1, count, 1, 1, 1)
    gamma = torch.from_numpy(np.exp(rng.uniform(np.log(0.7), np.log(1.4), count))).float().view(shape)
    contrast = torch.from_numpy(rng.uniform(0.8, 1.2, count)).float().view(shape)
    shift = torch.from_numpy(rng.uniform(-0.1, 0.1, count)).float().view(shape)
    noisy = slices.clamp(0, 1) ** gamma * contrast + shift
    return noisy + 0.02 * torch.randn_like(noisy)


def load_training_volumes(paths: Sequence[str | Path],
                          skipped: Callable[[str], None] | None = None) -> list[tuple[Path, np.ndarray]]:
    """Normalised volumes from files, DICOM series folders, or folders of them; unreadable ones are reported
    through ``skipped`` and left out, never the end of training. None readable at all is a :class:`UserInputError`.
    """
    from ..core.intensity import normalise
    from ..core.io import dicom_series_ids, discover_images, read_volume

    found = []
    for given in map(Path, paths):
        candidates = discover_images(given) if given.is_dir() and not dicom_series_ids(given) else [given]
        for path in candidates:
            try:
                array = read_volume(path).array
                values = _label_values(array)
                if values is not None:
                    raise UserInputError(f"{path}: looks like a label volume ({values} distinct whole values), not a "
                                         "scan; left out of training")
                found.append((path, normalise(array, str(path))))
            except UserInputError as error:
                if skipped is not None:
                    skipped(str(error))
    if not found:
        raise UserInputError(f"no readable 3D volume in {', '.join(map(str, paths))}")
    return found


LABEL_VALUES = 16  # a volume of whole numbers with no more distinct values than this is a label map, not a scan


def _label_values(array: np.ndarray) -> int | None:
    """How many distinct values ``array`` holds when it looks like a label map (few whole numbers), else None."""
    sample = array.ravel()[:: max(1, array.size // 1_000_000)]  # distinct values of a scan show in any sample
    if np.issubdtype(array.dtype, np.floating) and not np.array_equal(sample, np.round(sample)):
        return None
    count = len(np.unique(sample))
    if count > LABEL_VALUES:
        return None
    count = len(np.unique(array))
    return count if count <= LABEL_VALUES else None


def _loss(reconstruction: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
    return F.smooth_l1_loss(reconstruction, truth, beta=0.05)


def train_propagator(volumes: Sequence[np.ndarray], config: TrainingConfig | None = None,
                     network: ReconstructionNetwork | None = None, time_limit: float | None = None,
                     device: torch.device | str = "cpu", progress: Callable[[float, str], None] | None = None,
                     cancel: Callable[[], bool] | None = None) -> TrainingResult:
    """Train ``network`` (a new one if None) on ``volumes`` (each ``[slices, H, W]``, normalised to [0, 1]).

    Runs ``config.steps`` steps; the learning rate and sampling schedules follow the step count. ``time_limit``
    seconds, when given, is a safety: reaching it ends training early and sets ``limit_hit``. Raises
    :class:`CancelledError` on cancel.
    """
    config = config or TrainingConfig()
    if not volumes or any(np.asarray(v).ndim != 3 or len(v) < 3 for v in volumes):
        raise UserInputError("training needs volumes of at least 3 slices")
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    device = torch.device(device)
    network = (network or ReconstructionNetwork(ReconstructionConfig())).to(device).train()
    sampler = _TripletSampler(volumes, config, rng)
    optimiser = torch.optim.Adam(network.parameters(), lr=config.learning_rate)
    use_amp = device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
    start = time.perf_counter()
    losses: list[float] = []
    step = 0
    limit_hit = False
    while step < config.steps:
        if time_limit is not None and time.perf_counter() - start >= time_limit:
            limit_hit = True
            break
        fraction = step / config.steps
        if cancel is not None and cancel():
            raise CancelledError("training cancelled")
        for group in optimiser.param_groups:
            group["lr"] = config.learning_rate * 0.5 ** math.floor(fraction * config.epochs)
        keep_truth = config.sampling_start + (config.sampling_end - config.sampling_start) * fraction
        slices = sampler.batch().to(device)
        seen = _augment(slices, rng).to(device)
        with torch.autocast(device.type, dtype=torch.float16, enabled=use_amp):
            features = network.encode(seen.flatten(0, 1)).unflatten(0, seen.shape[:2])
            first = network.reconstruct(features[1], features[0], slices[0])
            truth = (torch.rand(slices.shape[1], 1, 1, 1, device=device) < keep_truth).to(slices.dtype)
            reference = truth * slices[1] + (1 - truth) * first.detach()
            second = network.reconstruct(features[2], features[1], reference)
            back = network.reconstruct(features[0], features[1], first)
            main = 0.5 * (_loss(first, slices[1]) + _loss(second, slices[2]))
            loss = config.main_weight * main + config.cycle_weight * _loss(back, slices[0])
        optimiser.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimiser)
        scaler.update()
        losses.append(float(loss.detach()))
        step += 1
        if progress is not None:
            progress(step / config.steps, f"training: step {step}, loss {losses[-1]:.4f}")
    network.eval()
    return TrainingResult(network, step, time.perf_counter() - start, losses, limit_hit)
