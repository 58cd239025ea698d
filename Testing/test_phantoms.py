"""The built-in sample data has the properties the demo and the workflow tests rely on."""

from __future__ import annotations

import numpy as np

from sparselabel.core import phantoms


def test_volume_is_deterministic_and_differs_by_seed():
    a, label_a = phantoms.abdomen_volume(seed=5)
    b, label_b = phantoms.abdomen_volume(seed=5)
    c, _ = phantoms.abdomen_volume(seed=6)
    np.testing.assert_array_equal(a.array, b.array)
    np.testing.assert_array_equal(label_a.array, label_b.array)
    assert not np.array_equal(a.array, c.array)


def test_organs_start_and_end_inside_the_volume_and_change_along_it():
    image, label = phantoms.abdomen_volume(seed=0)
    assert image.array.dtype == np.int16 and image.spacing[2] > 2 * image.spacing[0]  # anisotropic
    for value in phantoms.ABDOMEN_LABELS:
        area = (label.array == value).reshape(len(label.array), -1).sum(axis=1)
        present = np.flatnonzero(area)
        assert present.size >= 5, value
        assert present[0] > 0 and present[-1] < len(area) - 1  # the organ starts and ends inside
        # The cross-section grows then shrinks, and the shape moves: consecutive slices are not copies.
        assert area.max() > 3 * area[present[0]]
        slices = label.array == value
        overlaps = [(slices[k] & slices[k + 1]).sum() / max((slices[k] | slices[k + 1]).sum(), 1)
                    for k in present[:-1]]
        assert min(overlaps) < 0.9


def test_organs_are_visible_in_the_intensities():
    image, label = phantoms.abdomen_volume(seed=0)
    background = image.array[(label.array == 0) & (image.array > 100)]
    for value in phantoms.ABDOMEN_LABELS:
        inside = image.array[label.array == value]
        assert abs(np.median(inside) - np.median(background)) > 3 * background.std() / 2


def test_chest_groups_are_distinct_and_names_do_not_reveal_them():
    cohort = phantoms.chest_cohort(per_group=6, seed=1)
    assert len(cohort) == 6 * len(phantoms.CHEST_GROUPS)
    assert [c.name for c in cohort] == sorted(c.name for c in cohort)
    groups_in_order = [c.group for c in cohort]
    assert groups_in_order != sorted(groups_in_order)  # shuffled
    # A simple image statistic already tells groups apart on average: they are visibly different.
    lung_fraction = {g: np.mean([(c.label.array > 0).mean() for c in cohort if c.group == g])
                     for g in phantoms.CHEST_GROUPS}
    assert lung_fraction["small-rotated"] < 0.8 * lung_fraction["normal"]
    roughness = {g: np.mean([np.abs(np.diff(c.image.array.astype(float), axis=1)).mean()
                             for c in cohort if c.group == g]) for g in phantoms.CHEST_GROUPS}
    assert roughness["low-dose"] > 1.3 * roughness["normal"]
    for case in cohort:
        assert set(np.unique(case.label.array)) == {0, phantoms.LUNG_VALUE}
        assert case.image.array.dtype == np.uint8


def test_sample_data_on_disk(tmp_path):
    paths = phantoms.write_sample_data(tmp_path, per_group=2)
    assert paths["volume"].is_file() and paths["volume_label"].is_file()
    assert len(list((tmp_path / "cohort").glob("*.png"))) == 2 * len(phantoms.CHEST_GROUPS)
    assert len(list((tmp_path / "cohort" / "labels").glob("*.png"))) == 2 * len(phantoms.CHEST_GROUPS)
    assert (tmp_path / "cohort" / "groups.csv").read_text().startswith("scan,group\n")
