"""Embedding a cohort on a Dask cluster (a LocalCluster of 2 worker processes): the same vectors as here, a killed
worker's tasks run again, an interrupted run leaves a cache of complete vectors only."""

from __future__ import annotations

import os
import signal

import numpy as np
import pytest

from sparselabel.cli import main
from sparselabel.core import phantoms
from sparselabel.core.errors import UserInputError
from sparselabel.selection.cohort_lock import is_locked
from sparselabel.selection.cohort_state import load_state
from sparselabel.selection.embedding_cache import cache_folder, embed_cohort
from sparselabel.selection.ranking import rank_cohort

distributed = pytest.importorskip("distributed")


def _cohort(folder, per_group=3):
    return phantoms.write_sample_data(folder, per_group=per_group)["cohort"]


def _vectors(cohort) -> dict[str, np.ndarray]:
    return {p.name: np.load(p) for p in sorted(cache_folder(cohort, "filterbank").glob("*.npy"))}


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The vectors of the 24-scan phantom cohort, computed here."""
    cohort = _cohort(tmp_path_factory.mktemp("here"), per_group=6)
    assert embed_cohort(cohort, log=lambda line: None) == (24, 0)
    return _vectors(cohort)


def test_the_cluster_gives_the_vectors_computed_here_and_rank_uses_them(tmp_path, reference, capsys):
    cohort = _cohort(tmp_path, per_group=6)
    assert main(["embed", str(cohort), "--dask", "local:2", "--batch", "5"]) == 0
    assert "24 scan(s) embedded, 0 already cached" in capsys.readouterr().out
    vectors = _vectors(cohort)
    assert vectors.keys() == reference.keys()
    for name, vector in vectors.items():
        np.testing.assert_array_equal(vector, reference[name])
    assert all(record.dim == 2 for record in load_state(cohort).scans.values())
    before = {p: p.stat().st_mtime_ns for p in cache_folder(cohort, "filterbank").glob("*.npy")}
    messages = []
    rank_cohort(cohort, 3, labels=tmp_path / "none yet", log=messages.append,
                progress=lambda fraction, message: messages.append(message))
    assert not any("embedding scans" in m for m in messages)  # nothing left to embed
    assert {p: p.stat().st_mtime_ns for p in cache_folder(cohort, "filterbank").glob("*.npy")} == before


def test_the_tasks_of_a_killed_worker_run_again(tmp_path, reference):
    from distributed import LocalCluster

    from sparselabel.selection.cohort_state import CohortState, refresh_scans
    from sparselabel.selection.dask_engine import DaskEngine
    from sparselabel.selection.embedding_cache import cached_embeddings

    cohort = _cohort(tmp_path, per_group=6)
    state = CohortState()
    refresh_scans(cohort, state)
    killed = []
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            DaskEngine(cluster.scheduler_address, "filterbank") as engine:

        def kill_a_worker(fraction, message):  # once the first results are in, one worker dies mid-run
            if fraction > 0 and not killed:
                killed.append(next(iter(engine.client.run(os.getpid).values())))
                os.kill(killed[0], signal.SIGKILL)

        names, _ = cached_embeddings(cohort, state, sorted(state.scans), "filterbank", engine, lambda line: None,
                                     kill_a_worker, batch=1)
    assert killed and len(names) == 24
    vectors = _vectors(cohort)
    assert vectors.keys() == reference.keys()
    for name, vector in vectors.items():
        np.testing.assert_array_equal(vector, reference[name])


def test_an_interrupted_run_keeps_complete_vectors_only_and_the_next_run_finishes(tmp_path, reference):
    cohort = _cohort(tmp_path, per_group=6)

    def interrupt(fraction, message):
        if fraction > 0:
            raise KeyboardInterrupt  # Ctrl-C once some scans are done

    with pytest.raises(KeyboardInterrupt):
        embed_cohort(cohort, dask="local:2", batch=2, log=lambda line: None, progress=interrupt)
    assert load_state(cohort) is None  # the state is saved only when the run completes
    assert not is_locked(cohort / ".sparselabel")
    partial = _vectors(cohort)
    assert 0 < len(partial) < 24
    for name, vector in partial.items():  # every file is a whole vector
        np.testing.assert_array_equal(vector, reference[name])
    assert not [p for p in cache_folder(cohort, "filterbank").iterdir() if p.name.startswith(".")]
    embedded, cached = embed_cohort(cohort, log=lambda line: None)
    assert (embedded, cached) == (24 - len(partial), len(partial))
    assert _vectors(cohort).keys() == reference.keys()


def test_a_bad_address_is_explained_before_any_work(tmp_path):
    cohort = _cohort(tmp_path)
    with pytest.raises(UserInputError, match="expected local or local:N"):
        embed_cohort(cohort, dask="local:none", log=lambda line: None)
    assert not cache_folder(cohort, "filterbank").exists()


def test_a_scan_a_worker_cannot_see_fails_its_task_instead_of_being_skipped(tmp_path):
    from sparselabel.selection.dask_engine import embed_on_worker

    with pytest.raises(UserInputError, match=r"not found on Dask worker .* at the same path"):
        embed_on_worker([("lost", str(tmp_path / "elsewhere" / "lost.png"))], "filterbank", None, "cpu")
