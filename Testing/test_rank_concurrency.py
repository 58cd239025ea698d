"""``rank`` under concurrency and faults: a round is committed whole or not at all, and never lost.

Two ``rank`` processes on one cohort: one works, the other is refused with a message (or runs after it), and the
state holds exactly the rounds that were reported. A ``rank`` killed (SIGKILL) at points spread over its run never
leaves a state that disagrees with its outputs, and the next run goes on without being asked to overwrite.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REPOSITORY, write_scans

from sparselabel.selection.cohort_lock import is_locked
from sparselabel.selection.cohort_state import content_hash, load_state

pytestmark = pytest.mark.skipif(os.name == "nt", reason="SIGKILL is POSIX")


def _start(cohort: Path, out: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "sparselabel", "--quiet", "rank", str(cohort), "--budget", "2",
                             "--out", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, encoding="utf-8",
                            cwd=REPOSITORY, env={**os.environ, "PYTHONPATH": str(REPOSITORY)})


@pytest.fixture
def cohort(tmp_path):
    return write_scans(tmp_path / "cohort", per_group=3, size=64)


def test_two_ranks_on_one_cohort_never_lose_a_round(cohort, tmp_path):
    reported = []
    for attempt in range(2):
        runs = [_start(cohort, tmp_path / f"out-{attempt}-{i}") for i in range(2)]
        for run in runs:
            stdout, stderr = run.communicate(timeout=600)
            if run.returncode == 0:
                reported += [line.split(":")[0] for line in stdout.splitlines() if line.startswith("round ")]
            else:
                assert run.returncode == 2 and "another SparseLabel command is working on this cohort" in stderr, \
                    stderr
    state = load_state(cohort)
    assert sorted(reported) == [f"round {n}" for n in range(1, len(state.rounds) + 1)]  # each once, none lost
    assert not is_locked(cohort / ".sparselabel")


def _consistent(cohort: Path, out: Path) -> None:
    """The state names the outputs of its last round exactly, unless newer outputs of a round that was never
    committed (the journal vouches for them) took their place."""
    state = load_state(cohort)  # readable, whatever the moment of the kill
    present = {str((out / name).resolve()): content_hash(out / name) for name in ("ranking.csv", "map.png")
               if (out / name).exists()}
    if state is None or not state.rounds:
        return
    committed = state.rounds[-1]["outputs"]
    journal = json.loads((cohort / ".sparselabel" / "outputs.json").read_text())
    assert present == committed or all(journal.get(path) == digest for path, digest in present.items())
    assert len(present) == 2  # a committed round's files are never missing
    with open(out / "ranking.csv") as handle:
        assert {row["scan"] for row in csv.DictReader(handle)} == set(state.scans)


def test_a_rank_killed_at_any_point_leaves_a_consistent_state(cohort, tmp_path):
    out = tmp_path / "out"
    started = time.perf_counter()
    first = _start(cohort, out)
    assert first.wait(timeout=600) == 0, first.stderr.read()
    duration = time.perf_counter() - started
    for fraction in (0.15, 0.3, 0.45, 0.6, 0.75, 0.85, 0.92, 0.97):
        run = _start(cohort, out)
        time.sleep(duration * fraction)
        run.send_signal(signal.SIGKILL)
        run.wait(timeout=60)
        _consistent(cohort, out)
    rounds = len(load_state(cohort).rounds)
    last = _start(cohort, out)
    stdout, stderr = last.communicate(timeout=600)
    assert last.returncode == 0, stderr
    assert f"round {rounds + 1}:" in stdout
    _consistent(cohort, out)
    assert load_state(cohort).rounds[-1]["outputs"] == {
        str((out / name).resolve()): content_hash(out / name) for name in ("ranking.csv", "map.png")}
