"""An image array together with where it sits in the patient: the one currency between I/O, Slicer and the science.

Arrays are indexed like SimpleITK's and Slicer's ``arrayFromVolume``: ``[k, j, i]`` for volumes (slice, row,
column) and ``[j, i]`` for 2D images. ``Geometry`` stores spacing and origin in ITK's ``(i, j, k)`` order and the
direction cosines in LPS, as SimpleITK does; :meth:`Geometry.ijk_to_ras` gives the matrix Slicer uses.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Slicer works in RAS, ITK (and so SimpleITK, NIfTI/NRRD readers) in LPS: the first two axes flip.
_LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0])


@dataclass(frozen=True)
class Geometry:
    """Voxel spacing (mm), origin (mm, LPS) and direction cosines (row-major, LPS), all in ``(i, j, k)`` order."""

    spacing: tuple[float, ...]
    origin: tuple[float, ...]
    direction: tuple[float, ...]

    def __post_init__(self) -> None:
        dim = len(self.spacing)
        if dim not in (2, 3) or len(self.origin) != dim or len(self.direction) != dim * dim:
            raise ValueError(f"inconsistent geometry: spacing {self.spacing}, origin {self.origin}, "
                             f"direction {self.direction}")
        if any(s <= 0 or not np.isfinite(s) for s in self.spacing):
            raise ValueError(f"voxel spacing must be positive and finite, got {self.spacing}")

    @classmethod
    def identity(cls, dim: int, spacing: tuple[float, ...] | None = None) -> Geometry:
        spacing = tuple(float(s) for s in (spacing or (1.0,) * dim))
        return cls(spacing, (0.0,) * dim, tuple(np.eye(dim).ravel().tolist()))

    @property
    def dim(self) -> int:
        return len(self.spacing)

    @property
    def direction_matrix(self) -> np.ndarray:
        return np.asarray(self.direction, dtype=float).reshape(self.dim, self.dim)

    @property
    def array_spacing(self) -> tuple[float, ...]:
        """Spacing in array axis order (``[k, j, i]``), what distance transforms on the array need."""
        return tuple(reversed(self.spacing))

    def as_3d(self, slice_spacing: float = 1.0) -> Geometry:
        """A 2D geometry lifted to a one-slice volume (Slicer volumes are always 3D)."""
        if self.dim == 3:
            return self
        direction = np.eye(3)
        direction[:2, :2] = self.direction_matrix
        return Geometry((*self.spacing, slice_spacing), (*self.origin, 0.0), tuple(direction.ravel().tolist()))

    def ijk_to_ras(self) -> np.ndarray:
        """The 4×4 matrix mapping voxel ``(i, j, k, 1)`` to RAS millimetres, as Slicer's ``GetIJKToRASMatrix``."""
        g = self.as_3d()
        matrix = np.eye(4)
        matrix[:3, :3] = _LPS_TO_RAS @ g.direction_matrix @ np.diag(g.spacing)
        matrix[:3, 3] = _LPS_TO_RAS @ np.asarray(g.origin)
        return matrix

    @classmethod
    def from_ijk_to_ras(cls, matrix: np.ndarray) -> Geometry:
        """Inverse of :meth:`ijk_to_ras` for a 3D volume."""
        matrix = np.asarray(matrix, dtype=float)
        lps = _LPS_TO_RAS @ matrix[:3, :3]
        spacing = np.linalg.norm(lps, axis=0)
        if np.any(spacing <= 0):
            raise ValueError("IJK to RAS matrix has a zero-length axis")
        direction = lps / spacing
        origin = _LPS_TO_RAS @ matrix[:3, 3]
        return cls(tuple(spacing.tolist()), tuple(origin.tolist()), tuple(direction.ravel().tolist()))

    def differences(self, other: Geometry, tolerance: float = 1e-3) -> list[str]:
        """What differs from ``other`` beyond ``tolerance`` (relative for spacing, mm for origin), in words."""
        found = []
        if self.dim != other.dim:
            return [f"{self.dim}D vs {other.dim}D"]
        if not np.allclose(self.spacing, other.spacing, rtol=tolerance, atol=0):
            found.append(f"spacing {_fmt(self.spacing)} vs {_fmt(other.spacing)} mm")
        scale = max(max(self.spacing), 1.0)
        if not np.allclose(self.origin, other.origin, rtol=0, atol=tolerance * scale):
            found.append(f"origin {_fmt(self.origin)} vs {_fmt(other.origin)} mm")
        if not np.allclose(self.direction, other.direction, rtol=0, atol=tolerance):
            found.append("direction cosines differ")
        return found


@dataclass(frozen=True)
class Image:
    """A 2D or 3D scalar image: ``array`` indexed ``[k, j, i]`` (or ``[j, i]``) and its :class:`Geometry`."""

    array: np.ndarray
    geometry: Geometry

    def __post_init__(self) -> None:
        if self.array.ndim != self.geometry.dim:
            raise ValueError(f"array is {self.array.ndim}D but geometry is {self.geometry.dim}D")

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.array.shape)

    @property
    def spacing(self) -> tuple[float, ...]:
        return self.geometry.spacing

    def with_array(self, array: np.ndarray) -> Image:
        """Same geometry, new voxels (for labels and results computed on this image)."""
        if array.shape != self.array.shape:
            raise ValueError(f"array shape {array.shape} does not match image shape {self.array.shape}")
        return Image(array, self.geometry)

    def mismatch(self, other: Image, tolerance: float = 1e-3) -> list[str]:
        """Ways in which ``other`` does not sit on the same voxel grid, in words; empty when it does."""
        found = []
        if self.shape != other.shape:
            found.append(f"size {_fmt_size(other.shape)} vs {_fmt_size(self.shape)} voxels")
        found += other.geometry.differences(self.geometry, tolerance) if self.geometry.dim == other.geometry.dim \
            else [f"{other.geometry.dim}D vs {self.geometry.dim}D"]
        return found


def _fmt(values: tuple[float, ...]) -> str:
    return "(" + ", ".join(f"{v:.4g}" for v in values) + ")"


def _fmt_size(shape: tuple[int, ...]) -> str:
    """Sizes the way radiologists read them: columns × rows × slices."""
    return "×".join(str(s) for s in reversed(shape))
