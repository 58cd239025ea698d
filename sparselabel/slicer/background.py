"""Long work off the GUI thread: one persistent worker thread, jobs with progress and cancel.

One thread for all jobs, not a thread per job: PyTorch keeps per-thread state (cuDNN plans, autocast caches), so
reusing the same thread keeps the second propagation as fast as the first. The GUI thread never waits on a job:
it polls :attr:`Job.done` (e.g. from a timer), reads :attr:`Job.progress`, and takes the result — so MRML and Qt
are only ever touched from the GUI thread.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Job:
    """A submitted call. ``function(*args, progress=…, cancel=…)`` runs on the worker thread."""

    function: Callable[..., Any]
    args: tuple = ()
    progress: tuple[float, str] = (0.0, "waiting")
    result: Any = None
    error: BaseException | None = None
    _cancelled: threading.Event = field(default_factory=threading.Event)
    _finished: threading.Event = field(default_factory=threading.Event)

    def cancel(self) -> None:
        """Ask the job to stop at its next check; it then ends with a :class:`CancelledError`."""
        self._cancelled.set()

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    @property
    def done(self) -> bool:
        return self._finished.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        return self._finished.wait(timeout)

    def _run(self) -> None:
        def report(fraction: float, message: str) -> None:
            self.progress = (float(fraction), message)

        try:
            self.result = self.function(*self.args, progress=report, cancel=self._cancelled.is_set)
        except BaseException as error:  # handed to the GUI thread, which decides how to show it
            self.error = error
        finally:
            self._finished.set()


class BackgroundRunner:
    """Runs jobs one after another on a single persistent daemon thread, started by the first job."""

    def __init__(self, name: str = "SparseLabelWorker"):
        self.name = name
        self._jobs: queue.Queue[Job | None] = queue.Queue()
        self.thread: threading.Thread | None = None

    def submit(self, function: Callable[..., Any], *args) -> Job:
        if self.thread is None or not self.thread.is_alive():
            self._jobs = queue.Queue()
            self.thread = threading.Thread(target=self._loop, args=(self._jobs,), name=self.name, daemon=True)
            self.thread.start()
        job = Job(function, args)
        self._jobs.put(job)
        return job

    def stop(self) -> None:
        """Let the thread end after the current job (used when the module is closed); a later job starts a new one."""
        if self.thread is not None:
            self._jobs.put(None)
            self.thread = None

    @staticmethod
    def _loop(jobs: queue.Queue) -> None:
        while (job := jobs.get()) is not None:
            if job.cancelled:
                from ..core.errors import CancelledError

                job.error = CancelledError("cancelled before it started")
                job._finished.set()
                continue
            job._run()
