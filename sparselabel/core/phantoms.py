"""Deterministic synthetic sample data: the built-in input of the demo and of most tests.

* :func:`abdomen_volume` — an MR-like abdominal volume with anisotropic spacing and three labelled organs whose
  cross-section grows, shrinks, drifts and changes shape along the slice axis, so propagating a label from one
  slice is a real task. Organs begin and end inside the volume.
* :func:`chest_cohort` — 2D chest-radiograph-like images with lung labels, drawn from a few visibly different
  groups (normal, patchy opacities, small rotated lungs…), so a cohort map has clusters to find.

Everything is a pure function of its arguments and ``seed``.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import ndimage

from .image import Geometry, Image

ABDOMEN_LABELS = {1: "liver", 2: "spleen", 3: "kidney"}
LUNG_VALUE = 255  # as in common chest X-ray mask releases: 0 background, 255 lung
CHEST_GROUPS = ("normal", "opacity", "small-rotated", "low-dose")


@dataclass(frozen=True)
class _Organ:
    label: int
    center: tuple[float, float]  # (row, column) as fractions of the slice
    radii: tuple[float, float]  # (row, column) semi-axes at the organ's widest, as fractions of the slice
    extent: tuple[float, float]  # first and last slice, as fractions of the slice count
    intensity: float
    drift: tuple[float, float]  # centre displacement from first to last slice, as fractions


_ORGANS = (
    _Organ(1, (0.47, 0.33), (0.20, 0.19), (0.12, 0.80), 420.0, (0.06, 0.05)),
    _Organ(2, (0.45, 0.72), (0.09, 0.07), (0.30, 0.66), 640.0, (-0.04, 0.02)),
    _Organ(3, (0.62, 0.62), (0.06, 0.045), (0.52, 0.92), 560.0, (0.02, -0.02)),
)


def _smooth_noise(rng: np.random.Generator, shape: tuple[int, ...], sigma: tuple[float, ...]) -> np.ndarray:
    """Zero-mean, unit-variance correlated noise: the tissue texture."""
    noise = ndimage.gaussian_filter(rng.standard_normal(shape), sigma)
    return (noise - noise.mean()) / (noise.std() + 1e-12)


def _organ_mask(organ: _Organ, shape: tuple[int, int, int], rng: np.random.Generator) -> np.ndarray:
    """A star-shaped blob per slice whose radius, centre and lobes vary smoothly along the slice axis."""
    depth, rows, cols = shape
    first, last = (round(organ.extent[0] * (depth - 1)), round(organ.extent[1] * (depth - 1)))
    row_grid, col_grid = np.mgrid[0:rows, 0:cols].astype(float)
    phases = rng.uniform(0, 2 * np.pi, size=3)
    mask = np.zeros(shape, dtype=bool)
    for k in range(first, last + 1):
        t = (k - first) / max(last - first, 1)  # 0 → 1 through the organ
        profile = np.sin(np.pi * (0.08 + 0.84 * t)) ** 0.6  # small at both ends, widest in the middle
        center_row = (organ.center[0] + organ.drift[0] * (t - 0.5)) * rows
        center_col = (organ.center[1] + organ.drift[1] * (t - 0.5)) * cols
        d_row = (row_grid - center_row) / (organ.radii[0] * rows * profile)
        d_col = (col_grid - center_col) / (organ.radii[1] * cols * profile)
        angle = np.arctan2(d_row, d_col)
        lobes = (1 + 0.16 * np.cos(2 * angle + phases[0] + 2.5 * t)
                 + 0.09 * np.cos(3 * angle + phases[1] - 3.0 * t)
                 + 0.05 * np.sin(angle + phases[2]))
        mask[k] = np.hypot(d_row, d_col) <= lobes
    return mask


def abdomen_volume(seed: int = 0, shape: tuple[int, int, int] = (40, 128, 128),
                   spacing: tuple[float, float, float] = (1.6, 1.6, 5.0)) -> tuple[Image, Image]:
    """An MR-like abdominal volume and its label (``ABDOMEN_LABELS``), ``shape`` as ``[k, j, i]``.

    ``spacing`` is ``(i, j, k)`` in mm; the origin and a slightly oblique direction are not trivial so that
    geometry bugs show. Intensities are int16 around 0–1000 like normalised MR.
    """
    rng = np.random.default_rng(seed)
    depth, rows, cols = shape
    row_grid, col_grid = np.mgrid[0:rows, 0:cols].astype(float)
    body = (((row_grid - 0.5 * rows) / (0.40 * rows)) ** 2 + ((col_grid - 0.5 * cols) / (0.46 * cols)) ** 2) <= 1
    label = np.zeros(shape, dtype=np.uint8)
    intensity = np.where(body, 260.0, 15.0)[None].repeat(depth, axis=0)
    for organ in _ORGANS:
        mask = _organ_mask(organ, shape, rng) & body[None]
        label[mask & (label == 0)] = organ.label
        intensity[mask] = organ.intensity
    texture = _smooth_noise(rng, shape, (0.6, 2.0, 2.0))
    bias = 1 + 0.15 * _smooth_noise(rng, shape, (depth / 3, rows / 4, cols / 4))
    volume = intensity * bias * (1 + 0.08 * texture) + rng.normal(0, 18.0, shape)
    # Partial-volume blur across the thick slices, as in real 2D-acquired MR.
    volume = ndimage.gaussian_filter(volume, (0.5, 0.7, 0.7))
    angle = np.deg2rad(4.0)
    direction = (np.cos(angle), -np.sin(angle), 0.0, np.sin(angle), np.cos(angle), 0.0, 0.0, 0.0, 1.0)
    geometry = Geometry(tuple(map(float, spacing)), (-101.5, 87.25, -60.0), direction)
    image = Image(np.clip(volume, 0, 32767).astype(np.int16), geometry)
    return image, image.with_array(label)


@dataclass(frozen=True)
class ChestCase:
    name: str
    image: Image
    label: Image  # LUNG_VALUE inside the lungs
    group: str


def _chest_case(rng: np.random.Generator, group: str, size: int) -> tuple[np.ndarray, np.ndarray]:
    row_grid, col_grid = np.mgrid[0:size, 0:size].astype(float) / size
    tilt = np.deg2rad(rng.normal(0, 2) + (rng.choice([-1, 1]) * rng.uniform(8, 14) if group == "small-rotated" else 0))
    cos_t, sin_t = np.cos(tilt), np.sin(tilt)
    row_r = 0.5 + (row_grid - 0.5) * cos_t - (col_grid - 0.5) * sin_t
    col_r = 0.5 + (row_grid - 0.5) * sin_t + (col_grid - 0.5) * cos_t
    scale = rng.uniform(0.95, 1.05) * (0.78 if group == "small-rotated" else 1.0)
    body = ((row_r - 0.55) / 0.62) ** 2 + ((col_r - 0.5) / 0.46) ** 2 <= 1
    lungs = np.zeros((size, size), dtype=bool)
    for side in (-1, 1):
        center_col = 0.5 + side * (0.19 + rng.normal(0, 0.01))
        center_row = 0.47 + rng.normal(0, 0.015)
        d_row = (row_r - center_row) / (0.27 * scale * rng.uniform(0.95, 1.05))
        d_col = (col_r - center_col) / (0.13 * scale * rng.uniform(0.93, 1.07))
        # Flatten the medial-lower edge where the heart sits (bigger on the left of the patient).
        heart_cut = (side * (col_r - 0.5) < 0.06 + 0.05 * (side < 0)) & (row_r > center_row + 0.05)
        lungs |= (d_row**2 + d_col**2 <= 1) & ~heart_cut
    lungs &= body
    image = np.where(body, 0.72, 0.05) - 0.42 * lungs
    ribs = 0.06 * np.clip(np.sin(2 * np.pi * (row_r * 9 + 0.8 * np.abs(col_r - 0.5))), 0, None) * body
    image = image + ribs
    if group == "opacity":
        patches = _smooth_noise(rng, (size, size), (size / 20, size / 20)) > rng.uniform(0.3, 0.9)
        image = image + 0.30 * (patches & lungs)
    contrast = rng.uniform(0.55, 0.7) if group == "low-dose" else rng.uniform(0.9, 1.1)
    noise = 0.09 if group == "low-dose" else 0.025
    image = 0.5 + (image - 0.5) * contrast + _smooth_noise(rng, (size, size), (1.0, 1.0)) * noise
    image = ndimage.gaussian_filter(image, 0.8)
    return np.clip(image * 255, 0, 255).astype(np.uint8), np.where(lungs, LUNG_VALUE, 0).astype(np.uint8)


def chest_cohort(per_group: int = 10, groups: tuple[str, ...] = CHEST_GROUPS, size: int = 128,
                 seed: int = 0) -> list[ChestCase]:
    """``per_group`` radiograph-like images for each of ``groups``, shuffled so names do not reveal the group."""
    unknown = [g for g in groups if g not in CHEST_GROUPS]
    if unknown:
        raise ValueError(f"unknown phantom groups {unknown}; expected some of {CHEST_GROUPS}")
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(groups) * per_group)
    geometry = Geometry.identity(2, (0.5 * 256 / size,) * 2)  # about a 13 cm wide field, like a downsampled CXR
    cases = []
    for number, index in enumerate(order):
        group = groups[index // per_group]
        pixels, lungs = _chest_case(rng, group, size)
        cases.append(ChestCase(f"scan_{number:03d}", Image(pixels, geometry), Image(lungs, geometry), group))
    return cases


def write_sample_data(folder: str | Path, seed: int = 0, per_group: int = 10) -> dict[str, Path]:
    """Write the phantom volume (``volume/``) and chest cohort (``cohort/`` with ``labels/``) into ``folder``."""
    from .io import write_image

    folder = Path(folder)
    image, label = abdomen_volume(seed)
    paths = {
        "volume": write_image(image, folder / "volume" / "abdomen.nii.gz"),
        "volume_label": write_image(label, folder / "volume" / "labels" / "abdomen.nii.gz"),
    }
    (folder / "volume" / "labels.json").write_text(json.dumps({str(k): v for k, v in ABDOMEN_LABELS.items()}))
    cohort = chest_cohort(per_group=per_group, seed=seed)
    for case in cohort:
        write_image(case.image, folder / "cohort" / f"{case.name}.png")
        write_image(case.label, folder / "cohort" / "labels" / f"{case.name}.png")
    with open(folder / "cohort" / "groups.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["scan", "group"])
        writer.writerows((case.name, case.group) for case in cohort)
    paths["cohort"] = folder / "cohort"
    return paths
