"""What both module panels do around long work: a job in a child process (:mod:`.child_job`) with a progress bar and
Cancel, the outcome shown the Slicer way, and the dependency check before any work.

Slicer and Qt are imported only when a panel uses this (never at import time), like everywhere in the package.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from ..core.errors import CancelledError, UserInputError
from .child_job import ChildJob


class JobPanel:
    """Follows one job at a time from the GUI thread (a 100 ms timer), so results are applied where MRML is safe;
    the job's log lines go to Slicer's log as they come, and to the panel's ``log_view`` (a QPlainTextEdit) if any.

    ``set_busy(bool)`` enables and disables the panel's buttons; ``cancelled_text`` says what a cancel left unchanged.
    """

    def __init__(self, progress_bar, status_label, set_busy: Callable[[bool], None], module_name: str,
                 cancelled_text: str, log_view=None):
        import qt

        self.progress_bar, self.status_label, self.set_busy = progress_bar, status_label, set_busy
        self.module_name, self.cancelled_text, self.log_view = module_name, cancelled_text, log_view
        self.job: ChildJob | None = None
        self._logged = 0
        self._finished: Callable[[Any], None] | None = None
        self.timer = qt.QTimer()
        self.timer.setInterval(100)
        self.timer.connect("timeout()", self.poll)

    @property
    def busy(self) -> bool:
        return self.job is not None

    def start(self, job: ChildJob, finished: Callable[[Any], None]) -> None:
        """Watch ``job``; ``finished(result)`` runs on the GUI thread when it succeeds."""
        self.job, self._finished, self._logged = job, finished, 0
        self.progress_bar.value = 0
        self.set_busy(True)
        self.timer.start()

    def cancel(self) -> None:
        if self.job is not None:
            self.job.cancel()
            self.progress_bar.setFormat("Cancelling…")

    def stop(self) -> None:
        """Cancel what runs and stop watching (panel cleanup)."""
        if self.job is not None:
            self.job.cancel()
        self.timer.stop()

    def poll(self) -> None:
        import slicer

        job = self.job
        if job is None:
            return
        done = job.done  # takes in what the child printed
        for line in job.log[self._logged:]:
            logging.info("%s: %s", self.module_name, line)
            if self.log_view is not None:
                self.log_view.appendPlainText(line)
        self._logged = len(job.log)
        if not job.cancelled:  # "Cancelling…" stays until the job has ended
            fraction, message = job.progress
            self.progress_bar.value = int(100 * fraction)
            self.progress_bar.setFormat(f"{message} (%p%)")
        if not done:
            return
        self.timer.stop()
        self.job = None
        self.set_busy(False)
        # A cancel that came after the job's last look at it still leaves everything as it was.
        if isinstance(job.error, CancelledError) or (job.error is None and job.cancelled):
            self.status_label.text = self.cancelled_text
        elif isinstance(job.error, UserInputError):
            slicer.util.errorDisplay(str(job.error))
        elif job.error is not None:
            logging.error("%s failed", self.module_name, exc_info=job.error)
            slicer.util.errorDisplay(f"{self.module_name} failed: {job.error}")
        else:
            with ShownErrors("Failed to apply the result."):
                self._finished(job.result)


class ShownErrors:
    """A block whose error is shown to the user (and logged) and ends there, unlike ``tryWithErrorDisplay``, which
    shows it and raises it again: the code after the block goes on, and asks :attr:`failed` to know what happened.
    """

    def __init__(self, message: str):
        self.message = message
        self.failed = False

    def __enter__(self) -> ShownErrors:
        return self

    def __exit__(self, kind, error, trace) -> bool:
        if error is None or not isinstance(error, Exception):
            return False
        import slicer

        self.failed = True
        if isinstance(error, UserInputError):
            slicer.util.errorDisplay(f"{self.message}\n\n{error}")
        else:
            logging.error("%s", self.message, exc_info=(kind, error, trace))
            slicer.util.errorDisplay(f"{self.message}\n\n{error}")
        return True


def dependencies_ready(logic, status_label) -> bool:
    """Install what is missing after the user confirms; False (and a note in the status) if they decline."""
    try:
        logic.ensureDependencies()
    except CancelledError as error:
        status_label.text = str(error)
        return False
    return True


def set_up_compute(logic, status_label) -> None:
    """The panels' *Set up and show compute device* button: install what is missing, then show the device."""
    import slicer

    with slicer.util.tryWithErrorDisplay("Failed to set up the compute environment.", waitCursor=True):
        if dependencies_ready(logic, status_label):
            status_label.text = logic.statusText(includeDevice=True)


def editor_entered(editor) -> None:
    """The embedded Segment Editor on entering the module: its keyboard shortcuts, and the view of the scene."""
    editor.installKeyboardShortcuts()
    editor.updateWidgetFromMRML()


def editor_left(editor) -> None:
    """The embedded Segment Editor on leaving the module, as Slicer's Segment Editor module leaves: no effect stays
    active (a Paint effect would otherwise go on painting in other modules' views), no shortcut, no view observer."""
    editor.setActiveEffect(None)
    editor.uninstallKeyboardShortcuts()
    editor.removeViewObservations()
