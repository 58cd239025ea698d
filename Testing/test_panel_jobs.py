"""The panels' job follower, on real child processes: a result is applied on the GUI thread only when the job
ended well; a cancel or an error applies nothing and says so."""

from __future__ import annotations

import contextlib
import sys
import time
import types

import pytest

from sparselabel.core import phantoms
from sparselabel.core.errors import UserInputError
from sparselabel.core.io import write_image
from sparselabel.slicer.child_job import ChildJob
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


def _job(tmp_path, *arguments: str) -> ChildJob:
    folder = tmp_path / "job"
    folder.mkdir(exist_ok=True)
    return ChildJob(list(arguments), folder, lambda job: job.output)


def _until_idle(panel, timeout: float = 120.0) -> None:
    start = time.perf_counter()
    while panel.busy and time.perf_counter() - start < timeout:
        panel.poll()
        time.sleep(0.05)


@pytest.fixture(scope="module")
def scan(tmp_path_factory):
    image, _ = phantoms.abdomen_volume(seed=1, shape=(6, 32, 32))
    return write_image(image, tmp_path_factory.mktemp("scan") / "scan.nii.gz")


def test_a_finished_job_is_applied(panel, tmp_path, scan):
    applied = []
    panel.start(_job(tmp_path, "inspect", str(scan)), applied.append)
    _until_idle(panel)
    assert len(applied) == 1 and "3D 32×32×6 voxels" in applied[0][0] and panel.errors == []


def test_a_cancelled_job_applies_nothing_and_says_so_until_it_has_ended(panel, tmp_path, scan):
    applied = []
    panel.start(_job(tmp_path, "train-propagator", str(scan), "--out", str(tmp_path / "n.pt"), "--steps", "100000"),
                applied.append)
    panel.cancel()
    panel.poll()
    assert panel.progress_bar.format == "Cancelling…"  # not overwritten by the next look at the job
    _until_idle(panel)
    assert applied == [] and panel.status_label.text == "Cancelled; nothing was changed."
    assert panel.errors == [] and not (tmp_path / "n.pt").exists() and not (tmp_path / "job").exists()


def test_bad_input_is_shown_as_its_one_line(panel, tmp_path):
    applied = []
    panel.start(_job(tmp_path, "inspect", str(tmp_path / "absent.nii.gz")), applied.append)
    _until_idle(panel)
    assert applied == [] and panel.errors == [f"{tmp_path / 'absent.nii.gz'}: no such file or folder"]


def test_a_result_that_cannot_be_applied_is_shown_and_ends_there(panel, tmp_path, scan):
    def apply(result):
        raise UserInputError("the segmentation was deleted meanwhile")

    panel.start(_job(tmp_path, "inspect", str(scan)), apply)
    _until_idle(panel)  # nothing escapes the timer's slot
    assert panel.errors == ["Failed to apply the result.\n\nthe segmentation was deleted meanwhile"]
    assert not panel.busy


class _LogView:
    def __init__(self):
        self.lines = []

    def appendPlainText(self, line):  # noqa: N802 (Qt's name)
        self.lines.append(line)


def test_the_panel_log_shows_what_the_job_said(panel, tmp_path):
    panel.log_view = _LogView()
    panel.start(_job(tmp_path, "inspect", str(tmp_path / "absent.nii.gz")), lambda result: None)
    _until_idle(panel)
    assert panel.log_view.lines == [f"{tmp_path / 'absent.nii.gz'}: no such file or folder"]
