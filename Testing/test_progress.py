"""Progress of long commands: a bar per phase on a terminal, a line as each phase starts and ends elsewhere."""

from __future__ import annotations

import io
import re
import subprocess
import sys

from sparselabel.cli.progress import Progress
from sparselabel.core import phantoms
from sparselabel.core.io import write_image


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_each_phase_gets_its_own_bar_with_the_time_left():
    stream = Terminal()
    with Progress("rank", stream=stream) as progress:
        for step in range(5):
            progress(step / 5, f"embedding scans: {step * 16} of 80")
        progress.log("unreadable, skipped: a.png")
        for step in range(4):
            progress(step / 4, f"training: step {step * 10}, loss 0.5")
    text = stream.getvalue()
    assert "rank: embedding scans" in text and "rank: training" in text  # the later phase is not hidden
    assert re.search(r"rank: training +75%.*<", text)  # how far, and the time left after "<"
    assert "unreadable, skipped: a.png" in text


def test_off_a_terminal_each_phase_is_one_line_in_and_one_line_out():
    stream = io.StringIO()
    with Progress("propagate", stream=stream) as progress:
        for fraction in (0.0, 0.5, 0.99):
            progress(fraction, "training: step 1")
        for fraction in (0.0, 0.5):
            progress(fraction, "ours: slice 3 of 9")
    lines = stream.getvalue().splitlines()
    assert lines[0] == "propagate: training …" and lines[2] == "propagate: ours …"
    assert re.fullmatch(r"propagate: training done in \d+\.\d s", lines[1]) and len(lines) == 4


def test_quiet_is_quiet():
    stream = Terminal()
    with Progress("rank", quiet=True, stream=stream) as progress:
        progress(0.5, "embedding scans: 1 of 2")
    assert stream.getvalue() == ""


def test_propagate_reports_the_adaptation_and_the_walk(tmp_path):
    image, label = phantoms.abdomen_volume(seed=1, shape=(8, 40, 40))
    drawn = label.array.copy()
    drawn[[k for k in range(len(drawn)) if k != 4]] = 0
    write_image(image, tmp_path / "v.nii.gz")
    write_image(label.with_array(drawn), tmp_path / "d.nii.gz")
    result = subprocess.run([sys.executable, "-m", "sparselabel", "propagate", str(tmp_path / "v.nii.gz"),
                             str(tmp_path / "d.nii.gz"), "--adaptation-steps", "3"], capture_output=True,
                            text=True, encoding="utf-8", timeout=300)
    assert result.returncode == 0, result.stderr
    phases = [line for line in result.stderr.splitlines() if line.startswith("propagate: ")]
    assert any("training …" in line for line in phases) and any("ours …" in line for line in phases)
    assert sum(" done in " in line for line in phases) == sum(line.endswith("…") for line in phases)
