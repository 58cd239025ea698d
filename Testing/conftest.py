"""Shared fixtures: a real Slicer MRML scene (slicer-core), sample data on disk, the real-data folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parents[1]
# Real evaluation data (never part of the repository): beside the checkout, or wherever SPARSELABEL_DATA points.
SHARED_DATA = Path(os.environ.get("SPARSELABEL_DATA", REPOSITORY.parent / "shared" / "data"))


@pytest.fixture
def mrml_scene(tmp_path):
    """A ``vtkMRMLScene`` with the application, Colors, Volumes and Segmentations logics, as Slicer sets it up.

    Needs the ``slicer-core`` wheel (the ``test`` extra); the bridge tests fail rather than skip without it,
    since testing on real MRML is their whole point.
    """
    import slicer

    scene = slicer.vtkMRMLScene()
    application = slicer.vtkSlicerApplicationLogic()
    application.SetMRMLScene(scene)
    # The Colors logic looks for default and user colour files below these; empty folders are fine.
    (tmp_path / "ColorFiles").mkdir()
    application.SetHomeDirectory(str(tmp_path))
    application.SetShareDirectory(".")
    colors = slicer.vtkSlicerColorLogic()
    application.SetColorLogic(colors)
    logics = {
        "Colors": colors,
        "Volumes": slicer.vtkSlicerVolumesLogic(),
        "Segmentations": slicer.vtkSlicerSegmentationsModuleLogic(),
    }
    for name, logic in logics.items():
        logic.SetMRMLApplicationLogic(application)
        logic.SetMRMLScene(scene)
        application.SetModuleLogic(name, logic)
    scene.logics = logics  # keep the logics alive as long as the scene
    yield scene
    scene.Clear(True)
    for logic in logics.values():
        logic.SetMRMLScene(None)


@pytest.fixture(scope="session")
def chaos_data() -> Path:
    folder = SHARED_DATA / "chaos_mr_t2spir"
    if not (folder / "images").is_dir():
        pytest.skip(f"real data not present at {folder}")
    return folder


def write_scans(folder: Path, per_group: int, size: int, seed: int = 0, prefix: str = "scan") -> Path:
    """Unlabelled chest phantoms as PNG scans ``<prefix>NN.png`` in ``folder``: a cohort to rank."""
    from sparselabel.core import phantoms
    from sparselabel.core.io import write_image

    for index, case in enumerate(phantoms.chest_cohort(per_group=per_group, size=size, seed=seed)):
        write_image(case.image, folder / f"{prefix}{index:02d}.png")
    return folder
