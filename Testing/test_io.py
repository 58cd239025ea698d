"""Reading and writing images with geometry, labels, folders — and refusing bad files clearly."""

from __future__ import annotations

import gzip

import numpy as np
import pytest
import SimpleITK as sitk

from sparselabel.core import phantoms
from sparselabel.core.errors import UserInputError
from sparselabel.core.image import Geometry, Image
from sparselabel.core.io import (
    base_name,
    discover_images,
    pair_images_with_labels,
    read_image,
    read_label,
    read_volume,
    write_image,
)


@pytest.fixture
def volume():
    return phantoms.abdomen_volume(seed=1, shape=(12, 40, 44))


@pytest.mark.parametrize("suffix", [".nii.gz", ".nii", ".nrrd", ".mha"])
def test_volume_round_trip_keeps_geometry(tmp_path, volume, suffix):
    image, _ = volume
    path = write_image(image, tmp_path / f"ct{suffix}")
    back = read_volume(path)
    np.testing.assert_array_equal(back.array, image.array)
    assert back.geometry.differences(image.geometry, tolerance=1e-6) == []
    assert back.spacing == pytest.approx((1.6, 1.6, 5.0))


def test_png_round_trip_and_colour_pictures_become_grey(tmp_path):
    case = phantoms.chest_cohort(per_group=1, seed=2)[0]
    path = write_image(case.image, tmp_path / "xray.png")
    back = read_image(path, dims=(2,))
    np.testing.assert_array_equal(back.array, case.image.array)
    rgb = sitk.Compose(*[sitk.GetImageFromArray(case.image.array)] * 3)
    sitk.WriteImage(rgb, str(tmp_path / "rgb.png"))
    grey = read_image(tmp_path / "rgb.png", dims=(2,))
    assert grey.array.ndim == 2
    np.testing.assert_allclose(grey.array, case.image.array, atol=1)


def test_write_is_atomic_and_leaves_no_temporary_files(tmp_path, volume, monkeypatch):
    image, _ = volume
    target = tmp_path / "ct.nii.gz"
    write_image(image, target)
    before = target.read_bytes()

    def crash_half_way(sitk_image, file_name, compress):
        with open(file_name, "wb") as handle:
            handle.write(b"half an image")
        raise RuntimeError("disk full")

    monkeypatch.setattr(sitk, "WriteImage", crash_half_way)
    with pytest.raises(RuntimeError, match="disk full"):
        write_image(image, target)
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["ct.nii.gz"]


def test_label_on_another_grid_is_refused_with_the_reason(tmp_path, volume):
    image, label = volume
    shifted = Image(label.array, Geometry(label.spacing, (0.0, 0.0, 12.0), label.geometry.direction))
    write_image(shifted, tmp_path / "shifted.nii.gz")
    with pytest.raises(UserInputError, match=r"shifted.nii.gz: label geometry does not match.*origin"):
        read_label(tmp_path / "shifted.nii.gz", image)
    cropped = Image(label.array[:6], label.geometry)
    write_image(cropped, tmp_path / "cropped.nii.gz")
    with pytest.raises(UserInputError, match=r"size 44×40×6 vs 44×40×12"):
        read_label(tmp_path / "cropped.nii.gz", image)


def test_label_values_must_be_non_negative_integers(tmp_path, volume):
    image, label = volume
    write_image(label.with_array(label.array.astype(np.float32) * 0.5), tmp_path / "soft.nii.gz")
    with pytest.raises(UserInputError, match="non-negative integers"):
        read_label(tmp_path / "soft.nii.gz", image)
    write_image(label, tmp_path / "good.nii.gz")
    good = read_label(tmp_path / "good.nii.gz", image)
    assert good.array.dtype == np.uint8
    np.testing.assert_array_equal(good.array, label.array)


def test_bad_files_get_one_clear_message(tmp_path):
    with pytest.raises(UserInputError, match="no such file"):
        read_image(tmp_path / "missing.nii.gz")
    (tmp_path / "junk.nii.gz").write_bytes(b"this is not an image")
    with pytest.raises(UserInputError, match=r"junk\.nii\.gz: corrupt or truncated"):
        read_image(tmp_path / "junk.nii.gz")
    (tmp_path / "junk.nrrd").write_bytes(b"NRRD0004\nnonsense\n")
    with pytest.raises(UserInputError, match=r"junk\.nrrd: cannot read it as an image"):
        read_image(tmp_path / "junk.nrrd")
    four_d = sitk.GetImageFromArray(np.zeros((3, 4, 5, 6), np.int16), isVector=False)
    sitk.WriteImage(four_d, str(tmp_path / "series.nii.gz"))
    with pytest.raises(UserInputError, match=r"series\.nii\.gz: is a 4D image \(6×5×4×3\); expected a 3D image"):
        read_volume(tmp_path / "series.nii.gz")
    write_image(phantoms.chest_cohort(per_group=1)[0].image, tmp_path / "xray.png")
    with pytest.raises(UserInputError, match=r"is a 2D image .*expected a 3D image"):
        read_volume(tmp_path / "xray.png")


@pytest.mark.parametrize("suffix", [".nii.gz", ".nii"])
def test_truncated_nifti_is_refused_not_zero_filled(tmp_path, volume, suffix):
    # ITK reads a truncated NIfTI without complaint and fills the missing voxels with zeros.
    image, _ = volume
    whole = write_image(image, tmp_path / f"whole{suffix}", compress=False)
    raw = gzip.decompress(whole.read_bytes()) if suffix == ".nii.gz" else whole.read_bytes()
    cut = raw[: len(raw) * 2 // 3]
    (tmp_path / f"cut{suffix}").write_bytes(gzip.compress(cut) if suffix == ".nii.gz" else cut)
    with pytest.raises(UserInputError, match=rf"cut{suffix.replace('.', '[.]')}: truncated NIfTI"):
        read_volume(tmp_path / f"cut{suffix}")


def test_dicom_series_folder_reads_as_one_volume(tmp_path, volume):
    image, _ = volume
    series = sitk.GetImageFromArray(image.array)
    series.SetSpacing(image.spacing)
    series.SetOrigin(image.geometry.origin)
    folder = tmp_path / "dicom"
    folder.mkdir()
    writer = sitk.ImageFileWriter()
    writer.KeepOriginalImageUIDOn()
    for k in range(series.GetDepth()):
        piece = series[:, :, k]
        for key, value in {"0020|000e": "1.2.826.0.1.3680043.2.1125.1", "0020|0013": str(k + 1),
                           "0008|0060": "MR", "0020|0032": "\\".join(
                               map(str, series.TransformIndexToPhysicalPoint((0, 0, k)))),
                           "0020|0037": "1\\0\\0\\0\\1\\0", "0018|0050": "5.0"}.items():
            piece.SetMetaData(key, value)
        writer.SetFileName(str(folder / f"slice{k:03d}.dcm"))
        writer.Execute(piece)
    back = read_volume(folder)
    assert back.shape == image.shape
    np.testing.assert_array_equal(back.array, image.array)
    assert back.spacing == pytest.approx(image.spacing, rel=1e-3)
    assert discover_images(tmp_path) == [folder]


def test_discover_images_finds_scans_and_explains_empty_folders(tmp_path):
    for case in phantoms.chest_cohort(per_group=1, groups=("normal", "opacity")):
        write_image(case.image, tmp_path / f"{case.name}.png")
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / ".hidden.png").write_bytes(b"")
    assert [p.name for p in discover_images(tmp_path)] == ["scan_000.png", "scan_001.png"]
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(UserInputError, match="empty: holds no images"):
        discover_images(empty)
    with pytest.raises(UserInputError, match="no such folder"):
        discover_images(tmp_path / "absent")
    write_image(phantoms.chest_cohort(per_group=1)[0].image, tmp_path / "scan_000.nii.gz")
    with pytest.raises(UserInputError, match="several files share the name scan_000"):
        discover_images(tmp_path)


def test_pairs_match_by_name(tmp_path):
    cases = phantoms.chest_cohort(per_group=1, groups=("normal", "opacity", "low-dose"))
    for case in cases:
        write_image(case.image, tmp_path / "images" / f"{case.name}.png")
    for case in cases[:2]:
        write_image(case.label, tmp_path / "labels" / f"{case.name}.png")
    pairs = pair_images_with_labels(tmp_path / "images", tmp_path / "labels")
    assert [(base_name(i), base_name(label)) for i, label in pairs] == [("scan_000", "scan_000"),
                                                                        ("scan_001", "scan_001")]


def test_real_chaos_volume_and_label_share_a_grid(chaos_data):
    image = read_volume(chaos_data / "images" / "chaos_t2spir_01.nii.gz")
    label = read_label(chaos_data / "labels" / "chaos_t2spir_01.nii.gz", image)
    assert image.shape == (37, 256, 256)
    assert image.spacing == pytest.approx((1.25, 1.25, 7.7), rel=1e-3)
    assert set(np.unique(label.array)) == {0, 1, 2, 3, 4}
    assert int((label.array == 1).sum()) == 153742  # liver voxels, as the data set's manifest says
