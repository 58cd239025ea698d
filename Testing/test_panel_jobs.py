"""The panels' job follower: a result is applied on the GUI thread only when the job was not cancelled."""

from __future__ import annotations

import contextlib
import sys
import types

import pytest

from sparselabel.slicer.background import Job
from sparselabel.slicer.panel_jobs import JobPanel


class _Widget:
    def __init__(self):
        self.value, self.text, self.format = 0, "", ""

    def setFormat(self, text):  # noqa: N802 (Qt's name)
        self.format = text


class _Timer:
    def setInterval(self, milliseconds):  # noqa: N802 (Qt's name)
        pass

    def connect(self, signal, slot):
        pass

    def start(self):
        pass

    def stop(self):
        pass


@pytest.fixture
def panel(monkeypatch):
    errors = []
    monkeypatch.setitem(sys.modules, "qt", types.SimpleNamespace(QTimer=_Timer))
    util = types.SimpleNamespace(errorDisplay=errors.append,
                                 tryWithErrorDisplay=lambda *args, **kwargs: contextlib.nullcontext())
    monkeypatch.setitem(sys.modules, "slicer", types.SimpleNamespace(util=util))
    follower = JobPanel(_Widget(), _Widget(), lambda busy: None, "OneSliceSeg", "Cancelled; nothing was changed.")
    follower.errors = errors
    return follower


def _finished_job(result) -> Job:
    job = Job(lambda progress, cancel: result)
    job._run()
    return job


def test_a_finished_job_is_applied(panel):
    applied = []
    panel.start(_finished_job("label"), applied.append)
    panel.poll()
    assert applied == ["label"] and not panel.busy


def test_a_cancel_after_the_last_check_leaves_things_as_they_were(panel):
    applied = []
    job = _finished_job("label")  # the work ended before it could see the cancel
    panel.start(job, applied.append)
    panel.cancel()
    panel.poll()
    assert applied == [] and panel.status_label.text == "Cancelled; nothing was changed."
    assert panel.errors == [] and not panel.busy
