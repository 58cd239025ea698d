"""The panels' long work as child processes, end to end: real ``sparselabel`` commands, real MRML (slicer-core).

Progress lines are parsed as they come, the result is loaded into the scene, and Cancel, a killed child or bad
input leave the segmentation, the cohort's state and the temporary folders as they were.
"""

from __future__ import annotations

import os
import signal
import time

import numpy as np
import pytest
from conftest import write_scans

from sparselabel.core import phantoms
from sparselabel.core.errors import CancelledError, UserInputError
from sparselabel.core.io import write_image
from sparselabel.core.metrics import dice
from sparselabel.propagation.one_slice import PropagationOptions
from sparselabel.selection.cohort_lock import is_locked
from sparselabel.slicer import jobs, mrml
from sparselabel.slicer.segment_propagation import read_painted_segments, write_propagated_segments


@pytest.fixture
def scene(mrml_scene):
    image, label = phantoms.abdomen_volume(seed=5, shape=(20, 56, 56), spacing=(2.0, 2.0, 5.0))
    volume = mrml.image_to_volume_node(mrml_scene, image, "Abdomen")
    segmentation = mrml.new_segmentation_node(mrml_scene, volume, "Abdomen segmentation")
    segment_id = mrml.add_segment(segmentation, "liver")
    slices = np.flatnonzero((label.array == 1).any((1, 2)))
    anchor = int(slices[len(slices) // 2])
    mask = np.zeros(image.shape, np.uint8)
    mask[anchor] = label.array[anchor] == 1
    mrml.write_segment(segmentation, segment_id, mask, volume)
    return volume, segmentation, segment_id, label.array == 1


def _follow(job, timeout: float = 300.0, until=None) -> list[tuple[float, str]]:
    """Poll ``job`` as a panel's timer does; the progress seen. Stops early once ``until(progress)`` is true."""
    seen, start = [], time.perf_counter()
    while not job.done and time.perf_counter() - start < timeout:
        if not seen or seen[-1] != job.progress:
            seen.append(job.progress)
        if until is not None and until(job.progress):
            break
        time.sleep(0.05)
    return seen


def test_a_propagation_job_reports_progress_and_its_result_goes_into_the_scene(scene, tmp_path):
    volume, segmentation, segment_id, truth = scene
    painted = read_painted_segments(volume, segmentation)
    job = jobs.propagation_job(painted, PropagationOptions(adaptation_steps=4), cache=tmp_path / "cache")
    seen = _follow(job)
    assert job.error is None, job.error
    phases = {message.split(":")[0] for _, message in seen}
    assert {"training", "ours"} <= phases  # the adaptation's and the walk's progress, parsed from the child's lines
    label, record = job.result
    write_propagated_segments(segmentation, volume, painted, label, record["axis"])
    assert dice(mrml.segment_array(segmentation, segment_id, volume) > 0, truth) > 0.8
    assert not job.folder.exists()  # the job folder is gone once the result is read

    # Propagating again (a correction) starts from the network adapted the first time, kept in the cache folder.
    started = time.perf_counter()
    again = jobs.propagation_job(read_painted_segments(volume, segmentation),
                                 PropagationOptions(adaptation_steps=4), cache=tmp_path / "cache")
    _follow(again)
    assert again.error is None and again.result[1]["adaptation_reused"], again.error
    assert not any(m.startswith("training") for _, m in [again.progress]) and time.perf_counter() - started < 60


def _adapting(scene, tmp_path):
    """A propagation job, followed until its network is adapting (a thousand steps: it is still at it)."""
    volume, segmentation, _, _ = scene
    job = jobs.propagation_job(read_painted_segments(volume, segmentation),
                               PropagationOptions(adaptation_steps=1000), cache=tmp_path / "cache")
    _follow(job, until=lambda progress: progress[1].startswith("training"))
    return job


def test_cancel_mid_adaptation_changes_nothing(scene, tmp_path):
    volume, segmentation, segment_id, _ = scene
    before = mrml.segment_array(segmentation, segment_id, volume)
    job = _adapting(scene, tmp_path)
    job.cancel()
    _follow(job)
    assert isinstance(job.error, CancelledError) and job.result is None
    assert job.process.returncode is not None and not job.folder.exists()
    assert list((tmp_path / "cache").glob("*.pt")) == []
    np.testing.assert_array_equal(mrml.segment_array(segmentation, segment_id, volume), before)


def test_a_killed_child_ends_the_job_with_a_message(scene, tmp_path):
    volume, segmentation, segment_id, _ = scene
    before = mrml.segment_array(segmentation, segment_id, volume)
    job = _adapting(scene, tmp_path)
    os.kill(job.process.pid, signal.SIGKILL)  # out of memory, a crash in native code, a user's kill
    _follow(job)
    assert isinstance(job.error, RuntimeError) and "ended unexpectedly (SIGKILL" in str(job.error)
    assert not job.folder.exists()
    np.testing.assert_array_equal(mrml.segment_array(segmentation, segment_id, volume), before)


def test_bad_input_reaches_the_panel_as_one_line(scene, tmp_path):
    volume, segmentation, _, _ = scene
    job = jobs.propagation_job(read_painted_segments(volume, segmentation),
                               PropagationOptions(model=tmp_path / "absent.pt"))
    job.wait(300)
    assert isinstance(job.error, UserInputError)
    assert str(job.error).startswith(f"{tmp_path / 'absent.pt'}: no such checkpoint file")
    assert "\n" not in str(job.error) and job.log[-1] == str(job.error)


@pytest.fixture
def cohort(tmp_path):
    return write_scans(tmp_path / "cohort", per_group=10, size=96)


def test_a_ranking_job_and_a_cancelled_one(cohort, tmp_path):
    job = jobs.ranking_job(cohort, cohort / "labels", 4, "coldstart", 0.5, "filterbank")
    seen = _follow(job)
    assert job.error is None, job.error
    assert any(message.startswith("embedding scans") for _, message in seen)
    worklist, points, names = job.result
    assert sum(w.status == "next" for w in worklist) == 4 and points.shape == (len(names), 2)
    state = (cohort / ".sparselabel" / "state.json").read_bytes()

    write_scans(cohort, per_group=10, size=96, seed=7, prefix="new")  # to embed: the cancel comes while embedding
    cancelled = jobs.ranking_job(cohort, cohort / "labels", 4, "coldstart", 0.5, "filterbank")
    _follow(cancelled, until=lambda progress: progress[1].startswith("embedding scans"))
    cancelled.cancel()
    _follow(cancelled)
    assert isinstance(cancelled.error, CancelledError) and not cancelled.folder.exists()
    assert (cohort / ".sparselabel" / "state.json").read_bytes() == state
    assert not is_locked(cohort / ".sparselabel")  # the killed child's lock is taken away

    refitted = jobs.ranking_job(cohort, cohort / "labels", 4, "coldstart", 0.5, "filterbank", refit_map=True)
    _follow(refitted)
    assert refitted.error is None, refitted.error
    assert any("map: fitted afresh (as asked)" in line for line in refitted.log)


def test_the_next_job_runs_in_a_process_started_ahead_with_its_imports_done(tmp_path):
    from sparselabel.slicer.child_job import ChildJob, Spare

    image, _ = phantoms.abdomen_volume(seed=1, shape=(6, 32, 32))
    scan = write_image(image, tmp_path / "scan.nii.gz")
    spare = Spare()
    first = ChildJob(["inspect", str(scan)], tmp_path / "first", lambda job: job.output, spare=spare)
    assert spare.process is None  # nothing is started alongside a job: it would take the job's cores
    assert first.wait(120) and first.error is None and "3D 32×32×6" in first.result[0]
    waiting = spare.process  # started for the next job once the first has ended
    assert waiting is not None and waiting.poll() is None
    second = ChildJob(["inspect", str(scan)], tmp_path / "second", lambda job: job.output, spare=spare)
    assert second.process is waiting
    assert second.wait(120) and second.error is None and second.result == first.result
    leftover = spare.process
    leftover.stdin.close()  # what happens when Slicer ends: the waiting process ends by itself
    assert leftover.wait(60) == 0
