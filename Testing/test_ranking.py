"""An ActiveSeg round from the command line and the logic: worklist, map, state, resume, bad input."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from sparselabel.cli import main
from sparselabel.core import phantoms
from sparselabel.core.errors import CancelledError, UserInputError
from sparselabel.core.io import write_image
from sparselabel.selection.cohort_state import load_state
from sparselabel.selection.ranking import rank_cohort, saved_round
from sparselabel.selection.segmentation_model import SegmentationConfig, load_segmenter, predict_probabilities


@pytest.fixture
def cohort(tmp_path):
    paths = phantoms.write_sample_data(tmp_path / "sample", per_group=5)
    groups = dict(line.split(",") for line in (paths["cohort"] / "groups.csv").read_text().splitlines()[1:])
    labels = paths["cohort"] / "labels"
    stash = tmp_path / "all-labels"
    labels.rename(stash)  # nothing is labelled yet; the test hands labels over as a radiologist would
    return paths["cohort"], stash, groups


def _rows(path):
    with open(path) as handle:
        return list(csv.DictReader(handle))


def test_cold_start_round_writes_worklist_map_and_state(cohort, tmp_path, capsys):
    folder, _, groups = cohort
    out = tmp_path / "round1"
    # Budget 6 for 4 groups: silhouette prefers k = 2 here (the noisy low-dose group against the rest), so the
    # proportional farthest-point step must find the other groups inside the big cluster.
    assert main(["rank", str(folder), "--budget", "6", "--out", str(out)]) == 0
    rows = _rows(out / "ranking.csv")
    picks = [r for r in rows if r["status"] == "next"]
    assert [r["rank"] for r in picks] == ["1", "2", "3", "4", "5", "6"] and len(rows) == 20
    assert {groups[r["scan"]] for r in picks} == set(phantoms.CHEST_GROUPS)  # every group is represented
    assert (out / "map.png").read_bytes().startswith(b"\x89PNG")
    state = load_state(folder)
    assert len(state.rounds) == 1 and len(state.coordinates) == 20
    assert "round 1: coldstart, 20 scans" in capsys.readouterr().out


def test_labels_then_active_learning_then_resume(cohort, tmp_path):
    folder, stash, _ = cohort
    first = rank_cohort(folder, 4, log=lambda line: None).worklist
    (folder / "labels").mkdir()
    for row in first[:4]:
        (stash / f"{row.scan}.png").rename(folder / "labels" / f"{row.scan}.png")
    tiny = SegmentationConfig(size=64, channels=(8, 16, 32), steps=40, batch=4)
    ranked = rank_cohort(folder, 3, "al", alpha=0.5, segmentation=tiny, log=lambda line: None)
    second, points = ranked.worklist, ranked.points
    picks = [r for r in second if r.status == "next"]
    assert len(picks) == 3 and all(0 <= r.entropy <= 1 and 0 <= r.diversity <= 1 for r in picks)
    assert not {r.scan for r in picks} & {r.scan for r in first[:4]}  # labelled scans are not picked again
    assert sum(r.status == "labelled" for r in second) == 4
    np.testing.assert_array_equal(points, rank_cohort(folder, 3, log=lambda line: None).points)  # map unchanged
    state = load_state(folder)
    assert len(state.rounds) == 3
    # The model that scored the round is kept and reloads to the same predictions.
    model = load_segmenter(folder / state.checkpoints[-1])
    assert model.config == tiny
    image = phantoms.chest_cohort(per_group=1)[0].image
    assert predict_probabilities(model, [image])[0].shape == (2, *image.array.shape)


def test_the_map_stays_put_when_scans_are_added_unless_refitted(cohort, capsys):
    folder, _, groups = cohort
    first = rank_cohort(folder, 3, log=lambda line: None)
    before = dict(zip(first.names, first.points, strict=True))
    added = phantoms.chest_cohort(per_group=1, seed=21)
    for index, case in enumerate(added):
        write_image(case.image, folder / f"added{index}.png")
    messages = []
    second = rank_cohort(folder, 3, log=messages.append)
    assert any(f"{len(added)} new scan(s) placed into the map of 20" in m for m in messages)
    after = dict(zip(second.names, second.points, strict=True))
    for name, point in before.items():  # not one old point moved
        np.testing.assert_array_equal(after[name], point)
    low_dose = next(i for i, case in enumerate(added) if case.group == "low-dose")  # the group kept most apart
    nearest = sorted(before, key=lambda n: float(((before[n] - after[f"added{low_dose}"]) ** 2).sum()))[:3]
    assert [groups[n] for n in nearest] == ["low-dose"] * 3
    # Asked for, the map is fitted afresh (from the known places); through the command line too.
    assert main(["rank", str(folder), "--budget", "3", "--out", str(folder.parent / "r3"), "--refit-map"]) == 0
    assert "fitted afresh (as asked)" in capsys.readouterr().err
    refitted = load_state(folder).coordinates
    assert any(not np.array_equal(refitted[n], after[n]) for n in after)


def test_a_map_outnumbered_by_new_scans_is_fitted_afresh(cohort):
    folder, _, _ = cohort
    rank_cohort(folder, 2, log=lambda line: None)
    for index, case in enumerate(phantoms.chest_cohort(per_group=6, seed=22)):
        write_image(case.image, folder / f"added{index}.png")
    messages = []
    rank_cohort(folder, 2, log=messages.append)
    assert any("fitted afresh (24 new scan(s) outnumber the 20 mapped)" in m for m in messages)


def test_cancel_leaves_the_saved_state_as_it_was(cohort):
    folder, _, _ = cohort
    rank_cohort(folder, 3, log=lambda line: None)
    before = (folder / ".sparselabel" / "state.json").read_bytes()
    write_image(phantoms.chest_cohort(per_group=1, seed=12)[0].image, folder / "later.png")  # must be embedded
    seen = []
    with pytest.raises(CancelledError):
        rank_cohort(folder, 3, log=lambda line: None, progress=lambda f, m: seen.append(m), cancel=lambda: True)
    assert (folder / ".sparselabel" / "state.json").read_bytes() == before
    assert "later" not in load_state(folder).scans


def test_new_and_unreadable_scans_are_reported_not_fatal(cohort, tmp_path):
    folder, _, _ = cohort
    rank_cohort(folder, 2, log=lambda line: None)
    write_image(phantoms.chest_cohort(per_group=1, seed=11)[0].image, folder / "newcomer.png")
    (folder / "damaged.png").write_bytes(b"\x89PNG\r\n\x1a\n nothing")
    messages = []
    names = rank_cohort(folder, 2, log=messages.append).names
    assert "newcomer" in names and "damaged" not in names
    assert any("added: damaged, newcomer" in m for m in messages)
    assert any("unreadable, skipped" in m and "damaged.png" in m for m in messages)


def test_bad_requests_are_explained(cohort, tmp_path, capsys):
    folder, _, _ = cohort
    with pytest.raises(UserInputError, match="budget 25 is larger than the 20 unlabelled scans"):
        rank_cohort(folder, 25, log=lambda line: None)
    with pytest.raises(UserInputError, match="active learning needs labelled scans"):
        rank_cohort(folder, 2, "al", log=lambda line: None)
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["rank", str(empty), "--out", str(tmp_path / "x")]) == 2
    assert "holds no images" in capsys.readouterr().err
    assert not (tmp_path / "x").exists() and not (empty / ".sparselabel").exists()


def test_reopening_shows_the_saved_round_with_new_labels(cohort):
    folder, stash, _ = cohort
    ranked = rank_cohort(folder, 3, log=lambda line: None)
    first, points, names = ranked.worklist, ranked.points, ranked.names
    (folder / "labels").mkdir()
    (stash / f"{first[0].scan}.png").rename(folder / "labels" / f"{first[0].scan}.png")
    worklist, saved_points, saved_names = saved_round(folder)
    assert saved_names == names and np.allclose(saved_points, points)
    status = {w.scan: w.status for w in worklist}
    assert status[first[0].scan] == "labelled" and status[first[1].scan] == "next"
    assert [w.scan for w in worklist[:3]] == [w.scan for w in first[:3]]


def test_active_learning_on_volumes_works_slice_by_slice(tmp_path):
    cohort, labels = tmp_path / "volumes", tmp_path / "volumes" / "labels"
    labels.mkdir(parents=True)
    for index in range(6):
        image, label = phantoms.abdomen_volume(seed=index, shape=(6, 32, 32))
        write_image(image, cohort / f"case{index}.nii.gz")
        if index < 2:
            write_image(label, labels / f"case{index}.nii.gz")
    tiny = SegmentationConfig(size=32, channels=(8, 16), steps=5, batch=4)
    ranked = rank_cohort(cohort, 2, "al", segmentation=tiny, log=lambda line: None)
    worklist, state = ranked.worklist, ranked.state
    picks = [w for w in worklist if w.status == "next"]
    assert len(picks) == 2 and all(0 <= w.entropy <= 1 for w in picks)
    assert {w.scan for w in worklist if w.status == "labelled"} == {"case0", "case1"}
    assert load_segmenter(cohort / state.checkpoints[-1]).steps == 5
