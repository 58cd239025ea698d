"""A ``sparselabel`` process that does its imports first and is told its command afterwards (see
:class:`sparselabel.slicer.child_job.Spare`).

Run as ``python -m sparselabel.cli.spare``: imports what the panels' jobs use (PyTorch, the propagation and the
selection), then reads one line from stdin — ``{"arguments": [...], "folder": ...}`` — and runs the command line
with those arguments in that folder, exactly as ``python -m sparselabel ARGUMENTS`` would. An empty stdin (the
panel's process ended) ends it without doing anything.
"""

from __future__ import annotations

import json
import os
import sys


def main() -> int:
    import SimpleITK  # noqa: F401  (the imports are the point: they are what a job would wait for)
    import torch  # noqa: F401

    from ..propagation import one_slice, training  # noqa: F401
    from ..selection import cohort_map, cold_start, embedders  # noqa: F401
    from . import main as command_line

    line = sys.stdin.readline()
    if not line.strip():
        return 0
    request = json.loads(line)
    os.chdir(request["folder"])
    return command_line(request["arguments"])


if __name__ == "__main__":
    sys.exit(main())
