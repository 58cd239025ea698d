"""The worker thread: results, progress, cancel, errors, and one thread for every job."""

from __future__ import annotations

import threading
import time

import pytest

from sparselabel.core.errors import CancelledError
from sparselabel.slicer.background import BackgroundRunner


@pytest.fixture
def runner():
    worker = BackgroundRunner()
    yield worker
    worker.stop()


def counting(limit, progress, cancel):
    for step in range(limit):
        if cancel():
            raise CancelledError("stopped")
        progress((step + 1) / limit, f"step {step + 1}")
        time.sleep(0.005)
    return threading.current_thread().name


def test_result_progress_and_the_same_thread_every_time(runner):
    first = runner.submit(counting, 5)
    second = runner.submit(counting, 3)
    assert first.wait(10) and second.wait(10)
    assert first.error is None and first.progress == (1.0, "step 5")
    assert first.result == second.result == runner.thread.name != threading.current_thread().name


def test_cancel_ends_the_job_with_cancelled_error(runner):
    job = runner.submit(counting, 10_000)
    while job.progress[0] == 0:
        time.sleep(0.001)
    job.cancel()
    assert job.wait(10)
    assert isinstance(job.error, CancelledError) and job.result is None
    assert runner.submit(counting, 2).wait(10)  # the worker lives on


def test_errors_are_handed_back_not_raised_on_the_worker(runner):
    def broken(progress, cancel):
        raise ValueError("bad input")

    job = runner.submit(broken)
    assert job.wait(10)
    assert isinstance(job.error, ValueError) and str(job.error) == "bad input"


def test_a_job_cancelled_while_waiting_never_starts(runner):
    blocker = threading.Event()
    started = []

    def blocking(progress, cancel):
        blocker.wait(10)

    def recording(progress, cancel):
        started.append(True)

    runner.submit(blocking)
    waiting = runner.submit(recording)
    waiting.cancel()
    blocker.set()
    assert waiting.wait(10)
    assert isinstance(waiting.error, CancelledError) and not started


def test_no_thread_until_work_and_a_stopped_runner_starts_again():
    worker = BackgroundRunner("LazyWorker")
    assert worker.thread is None  # opening a module panel starts no thread
    first = worker.submit(counting, 2)
    assert first.wait(5) and first.result == "LazyWorker"
    worker.stop()
    second = worker.submit(counting, 2)  # e.g. the module was closed and opened again
    assert second.wait(5) and second.error is None
    worker.stop()
