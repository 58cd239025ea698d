"""Bad input, as a user gives it: each command ends in one clear line, exit status 2, and nothing written or changed.

Every case runs the real command in a subprocess and compares the folders it could touch — every file's digest and
modification time — before and after.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk
from conftest import REPOSITORY, write_scans

from sparselabel.core import phantoms
from sparselabel.core.io import write_image


def sparselabel(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sparselabel", *args], capture_output=True, encoding="utf-8",
                          cwd=cwd or REPOSITORY, timeout=600, env={**os.environ, "PYTHONPATH": str(REPOSITORY)})


def snapshot(*folders: Path) -> dict[str, tuple[str, int]]:
    """Every file under ``folders``: digest and modification time (what 'nothing changed' means)."""
    return {str(p): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
            for folder in folders for p in sorted(folder.rglob("*")) if p.is_file()}


def refused(result: subprocess.CompletedProcess, says: str) -> str:
    """The first line of stderr, after checking the run was refused cleanly with a message containing ``says``."""
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    assert says in result.stderr, result.stderr
    return result.stderr.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def volume(tmp_path_factory):
    folder = tmp_path_factory.mktemp("volume")
    image, label = phantoms.abdomen_volume(seed=3, shape=(10, 48, 48))
    write_image(image, folder / "case.nii.gz")
    drawn = label.array.copy()
    drawn[np.arange(len(drawn)) != 5] = 0
    write_image(label.with_array(drawn), folder / "drawn.nii.gz")
    write_image(label, folder / "truth.nii.gz")
    return folder


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    return write_scans(tmp_path_factory.mktemp("cohort"), per_group=3, size=64)


ARGUMENT_CASES = [
    (["train-propagator", "{volume}/case.nii.gz", "--out", "{out}/n.pt", "--steps", "0"], "--steps: 0 is too small"),
    (["train-propagator", "{volume}/case.nii.gz", "--out", "{out}/n.pt", "--steps", "-5"], "--steps: -5 is too small"),
    (["train-propagator", "{volume}/case.nii.gz", "--out", "{out}/n.pt", "--time-limit", "-1"],
     "--time-limit: -1 is out of"),
    (["train-propagator", "{volume}/case.nii.gz", "--out", "{out}/n.txt"], "expected a name ending in .pt, .pth"),
    (["rank", "{cohort}", "--strategy", "al", "--alpha", "1.5", "--out", "{out}"], "--alpha: 1.5 is out of range"),
    (["rank", "{cohort}", "--budget", "0", "--out", "{out}"], "--budget: 0 is too small"),
    (["rank", "{cohort}", "--strategy", "best", "--out", "{out}"], "invalid choice: 'best'"),
    (["rank", "{cohort}", "--seed", "-3", "--out", "{out}"], "--seed: -3 is too small"),
    (["rank", "{cohort}", "--budget", "99", "--out", "{out}"], "budget 99 is larger than the 12 unlabelled scans"),
    (["rank", "{cohort}", "--out", "{volume}/case.nii.gz"], "is a file; expected a folder"),
    (["propagate", "{volume}/case.nii.gz", "{volume}/drawn.nii.gz", "--out", "{out}/result.txt"],
     "expected a name ending in .nii.gz"),
    (["propagate", "{volume}/case.nii.gz", "{volume}/drawn.nii.gz", "--out", "{volume}/case.nii.gz/x.nii.gz"],
     "is a file; expected a folder"),
    (["propagate", "{volume}/case.nii.gz", "{volume}/drawn.nii.gz", "--out", "{volume}/truth.nii.gz"],
     "already exists; choose another path or pass --overwrite"),
    (["propagate", "{volume}/case.nii.gz", "{volume}/drawn.nii.gz", "--adaptation-limit", "0"], "out of range"),
    (["propagate", "{volume}/case.nii.gz", "{volume}/drawn.nii.gz", "--adaptation-steps", "-5"],
     "--adaptation-steps: -5 is too small"),
    (["propagate", "{volume}/case.nii.gz", "{volume}/drawn.nii.gz", "--model", "{volume}/truth.nii.gz"],
     "not a PyTorch checkpoint; expected a file written by"),
    (["suggest-slice", "{volume}/case.nii.gz", "--count", "0"], "--count: 0 is too small"),
    (["suggest-slice", "{volume}/case.nii.gz", "--range", "7"], "expected FIRST:LAST"),
    (["suggest-slice", "{volume}/case.nii.gz", "--range", "8:2"], "the first slice comes after the last"),
    (["evaluate", "propagation", "--images", "{volume}", "--labels", "{volume}", "--structure", "1", "--slices",
      "0"], "--slices: 0 is too small"),
    (["evaluate", "propagation", "--images", "{volume}", "--labels", "{volume}", "--structure", "1", "--json",
      "{out}/report.txt"], "expected a name ending in .json"),
    (["evaluate", "selection", "--images", "{cohort}", "--labels", "{cohort}", "--alpha", "2"], "--alpha: 2 is out"),
    (["evaluate", "selection", "--images", "{cohort}", "--labels", "{cohort}", "--seeds", "0"], "--seeds: 0 is too"),
    (["overlay", "{volume}/case.nii.gz", "{volume}/truth.nii.gz", "--out", "{volume}/case.nii.gz/pic.png"],
     "is a file; expected a folder"),
    (["overlay", "{volume}/case.nii.gz", "{volume}/truth.nii.gz", "--out", "{out}/pic.png", "--slices", "-2"],
     "--slices: -2 is too small"),
    (["demo", "--out", "{out}/demo", "--seed", "-1"], "--seed: -1 is too small"),
    (["demo", "--out", "{out}/demo", "--adaptation-steps", "many"], "--adaptation-steps: 'many'"),
]


@pytest.mark.parametrize(("arguments", "says"), ARGUMENT_CASES, ids=[" ".join(a[:1] + a[-2:]) for a, _ in
                                                                    ARGUMENT_CASES])
def test_bad_arguments_are_refused_before_any_work(arguments, says, volume, cohort, tmp_path):
    out = tmp_path / "out"
    before = snapshot(volume, cohort, tmp_path)
    result = sparselabel(*(a.format(volume=volume, cohort=cohort, out=out) for a in arguments))
    refused(result, says)
    assert snapshot(volume, cohort, tmp_path) == before
    assert not (cohort / ".sparselabel").exists()


@pytest.mark.skipif(os.name == "nt" or os.geteuid() == 0, reason="a read-only folder binds no administrator")
def test_an_output_folder_that_cannot_be_written_is_refused_before_propagating(volume, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        result = sparselabel("propagate", str(volume / "case.nii.gz"), str(volume / "drawn.nii.gz"), "--out",
                             str(locked / "result.nii.gz"))
        refused(result, "folder is not writable")
        assert list(locked.iterdir()) == []
    finally:
        locked.chmod(0o700)


def _nifti_with(tmp_path: Path, value: float, dtype=np.float32) -> Path:
    array = np.random.default_rng(0).random((6, 16, 16)).astype(dtype)
    array[2, 3, 4] = value
    path = tmp_path / "odd.nii.gz"
    sitk.WriteImage(sitk.GetImageFromArray(array), str(path))
    return path


@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_nan_or_infinite_voxels_in_a_nifti_file_are_refused(tmp_path, value):
    result = sparselabel("suggest-slice", str(_nifti_with(tmp_path, value)))
    assert "1 voxels are NaN or infinite" in refused(result, "NaN or infinite")


def test_a_volume_of_infinities_is_called_infinite_not_constant(tmp_path):
    path = tmp_path / "inf.nii.gz"
    sitk.WriteImage(sitk.GetImageFromArray(np.full((4, 8, 8), np.inf, np.float32)), str(path))
    refused(sparselabel("suggest-slice", str(path)), "256 voxels are NaN or infinite")


def test_huge_finite_values_are_read_as_they_are(tmp_path):
    array = np.random.default_rng(0).random((6, 32, 32)) * 1e302
    path = tmp_path / "huge.nii.gz"
    sitk.WriteImage(sitk.GetImageFromArray(array), str(path))
    result = sparselabel("suggest-slice", str(path))
    assert result.returncode == 0, result.stderr
    assert "NaN" not in result.stderr and "Warning" not in result.stderr


def test_a_project_state_of_the_wrong_shape_is_explained(cohort, tmp_path):
    project = _copy(cohort, tmp_path / "project", 4)
    (project / ".sparselabel").mkdir()
    for text in ('{"scans": [1, 2]}', "[1, 2, 3]", '{"version": 1, "scans": {"a": {"sha": 1}}}', "{not json"):
        (project / ".sparselabel" / "state.json").write_text(text)
        before = snapshot(project)
        result = sparselabel("rank", str(project), "--budget", "1", "--out", str(tmp_path / "out"))
        refused(result, "not a readable SparseLabel project state")
        assert snapshot(project) == before and not (tmp_path / "out").exists()


def test_a_checkpoint_that_is_not_a_model_gives_one_line(cohort, tmp_path):
    notes = tmp_path / "notes.pt"
    notes.write_text("my notes")
    result = sparselabel("rank", str(cohort), "--embedder", "resnet50", "--embedder-path", str(notes), "--out",
                         str(tmp_path / "out"))
    assert len(refused(result, "not a PyTorch checkpoint").splitlines()) == 1
    assert "weights_only" not in result.stderr


def test_evaluation_names_absent_structures_unlabelled_images_and_short_structures(volume, tmp_path):
    images, labels = tmp_path / "images", tmp_path / "labels"
    images.mkdir()
    labels.mkdir()
    for name in ("a", "b"):
        (images / f"{name}.nii.gz").write_bytes((volume / "case.nii.gz").read_bytes())
    (labels / "a.nii.gz").write_bytes((volume / "truth.nii.gz").read_bytes())
    refused(sparselabel("evaluate", "propagation", "--images", str(images), "--labels", str(labels), "--structure",
                        "9", "--methods", "copy"), "structure(s) 9 found in none of the 1 label file(s)")
    result = sparselabel("evaluate", "propagation", "--images", str(images), "--labels", str(labels), "--structure",
                         "3", "--methods", "copy", "--anchor", "middle", "--slices", "40")
    assert result.returncode == 0, result.stderr
    assert "have no label" in result.stderr and "left out: b" in result.stderr
    assert "fewer than the 40 to draw" in result.stderr


def test_training_leaves_label_volumes_in_its_folder_out(volume, tmp_path):
    folder = tmp_path / "mixed"
    folder.mkdir()
    for name in ("case.nii.gz", "truth.nii.gz"):
        (folder / name).write_bytes((volume / name).read_bytes())
    result = sparselabel("train-propagator", str(folder), "--out", str(tmp_path / "n.pt"), "--steps", "2")
    assert result.returncode == 0, result.stderr
    assert "truth.nii.gz: looks like a label volume" in result.stderr
    assert "training on 1 volume(s)" in result.stdout


def test_rank_warns_of_labels_off_their_grid_and_of_mixed_dimensions(cohort, volume, tmp_path):
    project = tmp_path / "project"
    (project / "labels").mkdir(parents=True)
    scans = sorted(cohort.glob("*.png"))
    for scan in scans[:6]:
        (project / scan.name).write_bytes(scan.read_bytes())
    (project / "volume.nii.gz").write_bytes((volume / "case.nii.gz").read_bytes())
    small = phantoms.chest_cohort(per_group=1, size=32)[0].label
    write_image(small, project / "labels" / scans[0].name)
    result = sparselabel("rank", str(project), "--budget", "2", "--out", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    assert f"{scans[0].name}: does not lie on its scan's voxel grid" in result.stderr
    assert "0 labelled" in result.stdout
    assert "mixes 6 2D image(s) and 1 3D volume(s)" in result.stderr


def _copy(cohort: Path, folder: Path, count: int | None = None) -> Path:
    folder.mkdir(parents=True)
    for scan in sorted(cohort.glob("*.png"))[:count]:
        (folder / scan.name).write_bytes(scan.read_bytes())
    return folder


def test_rank_never_writes_over_a_users_files_but_replaces_its_own(cohort, tmp_path):
    cohort = _copy(cohort, tmp_path / "cohort")
    out = tmp_path / "out"
    out.mkdir()
    (out / "ranking.csv").write_text("my own spreadsheet\n")
    before = snapshot(out)
    refused(sparselabel("rank", str(cohort), "--budget", "2", "--out", str(out)), "already holds ranking.csv")
    assert snapshot(out) == before
    fresh = tmp_path / "fresh"
    for round_number in (1, 2):  # a second round replaces the first round's files without being asked
        result = sparselabel("rank", str(cohort), "--budget", "2", "--out", str(fresh))
        assert result.returncode == 0 and f"round {round_number}:" in result.stdout, result.stderr
    (fresh / "map.png").write_bytes(b"changed by the user")
    refused(sparselabel("rank", str(cohort), "--budget", "2", "--out", str(fresh)), "already holds map.png")
    assert sparselabel("rank", str(cohort), "--budget", "2", "--out", str(fresh), "--overwrite").returncode == 0


def test_a_folder_without_write_permission_is_named_even_for_an_administrator(volume, tmp_path, monkeypatch, capsys):
    from sparselabel.cli import checks, main

    monkeypatch.setattr(checks.os, "access", lambda path, mode: Path(path) != tmp_path)
    before = snapshot(volume, tmp_path)
    assert main(["propagate", str(volume / "case.nii.gz"), str(volume / "drawn.nii.gz"), "--out",
                 str(tmp_path / "new" / "result.nii.gz")]) == 2
    assert f"{tmp_path}: folder is not writable" in capsys.readouterr().err
    assert snapshot(volume, tmp_path) == before and not (tmp_path / "new").exists()


def test_a_state_of_a_later_version_is_named_as_such(cohort, tmp_path):
    project = _copy(cohort, tmp_path / "project", 4)
    (project / ".sparselabel").mkdir()
    (project / ".sparselabel" / "state.json").write_text('{"version": 2, "scans": {}, "notes": {}}')
    refused(sparselabel("rank", str(project), "--budget", "1", "--out", str(tmp_path / "out")),
            "project state version 2; this SparseLabel reads version 1")


def test_a_budget_beyond_the_unlabelled_scans_is_refused_before_anything_is_written(cohort, tmp_path):
    project = _copy(cohort, tmp_path / "project", 4)
    (project / "labels").mkdir()
    scans = sorted(project.glob("*.png"))
    for scan in scans[:2]:
        write_image(phantoms.chest_cohort(per_group=1, size=64)[0].label, project / "labels" / scan.name)
    (project / "labels" / scans[2].name).write_bytes(b"")  # an unreadable label is named, not counted
    before = snapshot(project)
    result = sparselabel("rank", str(project), "--budget", "3", "--out", str(tmp_path / "out"))
    refused(result, "budget 3 is larger than the 2 unlabelled scans")
    assert f"unreadable label, not counted as labelled: {project / 'labels' / scans[2].name}" in result.stderr
    assert snapshot(project) == before and not (project / ".sparselabel").exists()


def test_rank_refuses_to_write_its_map_among_the_scans(cohort, tmp_path):
    project = _copy(cohort, tmp_path / "project", 4)
    refused(sparselabel("rank", str(project), "--budget", "1", "--out", str(project)), "is the cohort folder")
    assert not (project / "map.png").exists()


def test_output_options_go_before_or_after_the_command(volume):
    result = sparselabel("suggest-slice", str(volume / "case.nii.gz"), "--quiet", "--progress", "json")
    assert result.returncode == 0, result.stderr
