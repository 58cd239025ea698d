"""The cohort's project state: saved atomically, resumed, and aware of scans added, removed or changed."""

from __future__ import annotations

import os

import pytest

from sparselabel.core import atomic, phantoms
from sparselabel.core.errors import UserInputError
from sparselabel.core.io import write_image
from sparselabel.selection.cohort_state import CohortState, load_state, refresh_scans, save_state, state_path


@pytest.fixture
def cohort(tmp_path):
    for case in phantoms.chest_cohort(per_group=2, groups=("normal", "opacity")):
        write_image(case.image, tmp_path / f"{case.name}.png")
    return tmp_path


def test_state_round_trip_and_resume(cohort):
    assert load_state(cohort) is None
    state = CohortState(embedder="filterbank")
    changes = refresh_scans(cohort, state)
    assert changes.added == ["scan_000", "scan_001", "scan_002", "scan_003"] and not changes.removed
    state.coordinates = {"scan_000": [1.0, 2.0]}
    state.rounds.append({"strategy": "coldstart", "budget": 2, "picks": [{"scan": "scan_001", "rank": 1}]})
    save_state(cohort, state)
    resumed = load_state(cohort)
    assert resumed == state
    assert not refresh_scans(cohort, resumed)  # nothing changed since


def test_added_removed_and_changed_scans_are_noticed(cohort):
    state = CohortState()
    refresh_scans(cohort, state)
    state.coordinates = {name: [0.0, 0.0] for name in state.scans}
    (cohort / "scan_000.png").unlink()
    write_image(phantoms.chest_cohort(per_group=1, seed=9)[0].image, cohort / "scan_001.png")  # same name, new image
    write_image(phantoms.chest_cohort(per_group=1, seed=8)[0].image, cohort / "late_arrival.png")
    changes = refresh_scans(cohort, state)
    assert changes.added == ["late_arrival"] and changes.removed == ["scan_000"] and changes.changed == ["scan_001"]
    assert "scan_001" not in state.coordinates and "scan_002" in state.coordinates


def test_a_crash_while_saving_leaves_the_previous_state_readable(cohort, monkeypatch):
    state = CohortState(embedder="filterbank")
    refresh_scans(cohort, state)
    save_state(cohort, state)
    before = state_path(cohort).read_bytes()

    def crash(source, destination):
        raise OSError("power cut")

    monkeypatch.setattr(atomic.os, "replace", crash)
    state.rounds.append({"strategy": "al"})
    with pytest.raises(OSError, match="power cut"):
        save_state(cohort, state)
    monkeypatch.setattr(atomic.os, "replace", os.replace)
    assert state_path(cohort).read_bytes() == before
    assert load_state(cohort).rounds == []
    assert [p.name for p in state_path(cohort).parent.iterdir()] == ["state.json"]  # no temporary file left


def test_a_damaged_state_file_is_named(cohort):
    state_path(cohort).parent.mkdir()
    state_path(cohort).write_text("{ not json")
    with pytest.raises(UserInputError, match=r"state\.json: not a readable SparseLabel project state"):
        load_state(cohort)


def test_atomic_writes_reach_the_disk_before_and_after_the_rename(tmp_path, monkeypatch):
    flushed = []
    real_fsync = atomic.os.fsync
    monkeypatch.setattr(atomic.os, "fsync", lambda descriptor: (flushed.append(descriptor), real_fsync(descriptor)))
    replaced = []
    real_replace = atomic.os.replace
    monkeypatch.setattr(atomic.os, "replace", lambda a, b: (replaced.append(len(flushed)), real_replace(a, b)))
    atomic.write_text(tmp_path / "state.json", "{}")
    assert replaced == [1] and len(flushed) == 2  # the file before the rename, its folder after
