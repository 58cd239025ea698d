"""Geometry conversions between ITK's LPS convention and Slicer's IJK→RAS matrix."""

from __future__ import annotations

import numpy as np
import pytest

from sparselabel.core.image import Geometry, Image


def test_ijk_to_ras_round_trip_with_oblique_direction():
    angle = np.deg2rad(30)
    geometry = Geometry((0.8, 0.8, 2.5), (10.0, -20.0, 30.0),
                        (np.cos(angle), -np.sin(angle), 0, np.sin(angle), np.cos(angle), 0, 0, 0, 1))
    matrix = geometry.ijk_to_ras()
    # RAS flips the first two LPS axes.
    assert matrix[:3, 3] == pytest.approx((-10.0, 20.0, 30.0))
    assert np.linalg.norm(matrix[:3, :3], axis=0) == pytest.approx((0.8, 0.8, 2.5))
    assert Geometry.from_ijk_to_ras(matrix).differences(geometry, 1e-12) == []


def test_two_dimensional_geometry_lifts_to_a_one_slice_volume():
    flat = Geometry((0.5, 0.25), (1.0, 2.0), (1, 0, 0, 1))
    lifted = flat.as_3d()
    assert lifted.spacing == (0.5, 0.25, 1.0) and lifted.origin == (1.0, 2.0, 0.0)
    assert flat.array_spacing == (0.25, 0.5)


def test_mismatch_lists_what_differs():
    a = Image(np.zeros((4, 5, 6)), Geometry.identity(3, (1.0, 1.0, 3.0)))
    b = Image(np.zeros((4, 5, 7)), Geometry((1.0, 1.0, 2.0), (0.0, 0.0, 5.0), a.geometry.direction))
    problems = a.mismatch(b)
    assert any("size 7×5×4 vs 6×5×4" in p for p in problems)
    assert any("spacing" in p for p in problems) and any("origin" in p for p in problems)
    assert a.mismatch(Image(np.ones((4, 5, 6)), a.geometry)) == []


def test_invalid_geometry_is_refused():
    with pytest.raises(ValueError, match="spacing must be positive"):
        Geometry((1.0, 0.0, 1.0), (0, 0, 0), tuple(np.eye(3).ravel()))
    with pytest.raises(ValueError, match="array is 2D but geometry is 3D"):
        Image(np.zeros((3, 3)), Geometry.identity(3))
