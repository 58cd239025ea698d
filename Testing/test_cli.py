"""The ``sparselabel`` command as a user runs it: the demo, inspection, pictures, and bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import SimpleITK as sitk

from sparselabel.cli import main
from sparselabel.core import phantoms
from sparselabel.core.image import Image
from sparselabel.core.io import write_image

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sparselabel", *args], capture_output=True, encoding="utf-8",
                          timeout=300)


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sample")
    image, label = phantoms.abdomen_volume(seed=2, shape=(16, 48, 48))
    return write_image(image, folder / "ct.nii.gz"), write_image(label, folder / "ct_label.nii.gz"), image, label


def test_help_lists_the_commands():
    result = run("--help")
    assert result.returncode == 0
    for command in ("demo", "inspect", "overlay"):
        assert command in result.stdout


def test_demo_writes_sample_data_and_pictures(tmp_path):
    out = tmp_path / "demo"
    result = run("demo", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "liver (1)" in result.stdout and "4 groups" in result.stdout
    assert "OneSliceSeg: Dice liver" in result.stdout
    for picture in ("phantom_volume.png", "phantom_cohort.png", "activeseg_map.png", "onesliceseg_result.png"):
        data = (out / picture).read_bytes()
        assert data.startswith(PNG_SIGNATURE) and len(data) > 10_000  # a real picture, not an empty canvas
    report = json.loads((out / "demo_report.json").read_text())
    assert report["cohort"]["scans"] == 40 and report["volume"]["size_ijk"] == [128, 128, 40]
    assert set(report["onesliceseg"]["dice"]) == {"liver", "spleen"}
    # Six cold-start picks reach every one of the four groups, and nothing was written into the sample labels.
    assert len(report["activeseg"]["picks"]) == 6 and min(report["activeseg"]["picks_per_group"].values()) >= 1
    # A second run replaces its own output ...
    assert run("demo", "--out", str(out)).returncode == 0
    # ... but not once the user has added a file there or changed one: then nothing is touched.
    (out / "data" / "cohort" / "mine.png").write_bytes((out / "phantom_cohort.png").read_bytes())
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    result = run("demo", "--out", str(out))
    assert result.returncode == 2 and "data/cohort/mine.png added or changed since the last demo" in result.stderr
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before


def test_demo_never_writes_into_a_folder_it_did_not_make(tmp_path, capsys):
    (tmp_path / "thesis.docx").write_text("precious")
    assert main(["demo", "--out", str(tmp_path)]) == 2
    assert "not empty and was not made by 'sparselabel demo'" in capsys.readouterr().err
    assert [p.name for p in tmp_path.iterdir()] == ["thesis.docx"]


def test_inspect_prints_geometry_and_label_volumes(sample, capsys):
    volume, label, _, label_image = sample
    assert main(["inspect", str(volume), "--label", str(label)]) == 0
    out = capsys.readouterr().out
    assert "3D 48×48×16 voxels, spacing 1.6×1.6×5 mm, oblique" in out
    liver_ml = (label_image.array == 1).sum() * 1.6 * 1.6 * 5 / 1000
    assert f"label 1: {(label_image.array == 1).sum()} voxels, {liver_ml:.2f} mL" in out


def test_inspect_folder_skips_unreadable_scans(tmp_path, capsys):
    for case in phantoms.chest_cohort(per_group=1, groups=("normal", "opacity")):
        write_image(case.image, tmp_path / f"{case.name}.png")
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    assert main(["inspect", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    assert captured.out.count("2D 128×128") == 2
    assert "unreadable, skipped:" in captured.out and "broken.png" in captured.out
    assert "1 unreadable scan(s) skipped" in captured.err


def test_overlay_writes_a_picture_and_refuses_to_overwrite(sample, tmp_path, capsys):
    volume, label, _, _ = sample
    out = tmp_path / "overlay.png"
    assert main(["overlay", str(volume), str(label), "--out", str(out)]) == 0
    assert out.read_bytes().startswith(PNG_SIGNATURE)
    before = out.read_bytes()
    assert main(["overlay", str(volume), str(label), "--out", str(out)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert out.read_bytes() == before


def _bad_inputs(folder, sample):
    volume, _, _, label = sample
    (folder / "corrupt.nii.gz").write_bytes(b"\x1f\x8b\x08\x00 definitely not gzip data")
    four_d = sitk.GetImageFromArray(np.zeros((2, 3, 4, 5), np.int16), isVector=False)
    sitk.WriteImage(four_d, str(folder / "series.nii.gz"))
    (folder / "empty").mkdir()
    (folder / "empty" / "readme.txt").write_text("no images here")
    write_image(Image(label.array[:8], label.geometry), folder / "short_label.nii.gz")
    return {
        "missing file": (["inspect", str(folder / "nope.nii.gz")], "nope.nii.gz: no such file"),
        "corrupt NIfTI": (["inspect", str(folder / "corrupt.nii.gz")], "corrupt.nii.gz: corrupt or truncated"),
        "4D image": (["overlay", str(folder / "series.nii.gz"), str(folder / "series.nii.gz"), "--out",
                      str(folder / "a.png")], "series.nii.gz: is a 4D image"),
        "folder with no images": (["inspect", str(folder / "empty")], "empty: holds no images"),
        "label on another grid": (["overlay", str(volume), str(folder / "short_label.nii.gz"), "--out",
                                   str(folder / "b.png")], "short_label.nii.gz: label geometry does not match"),
    }


@pytest.mark.parametrize("case", ["missing file", "corrupt NIfTI", "4D image", "folder with no images",
                                  "label on another grid"])
def test_bad_input_gives_one_line_and_writes_nothing(case, sample, tmp_path):
    args, message = _bad_inputs(tmp_path, sample)[case]
    before = sorted(p.name for p in tmp_path.rglob("*"))
    result = run(*args)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("sparselabel: error: ")
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert sorted(p.name for p in tmp_path.rglob("*")) == before
