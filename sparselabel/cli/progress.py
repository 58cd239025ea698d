"""Progress of long commands on stderr: one bar per phase, with time elapsed and left, as tqdm draws them.

The science reports ``progress(fraction, message)``, where the message reads ``"phase: detail"`` (``"training: step
120, loss 0.071"``, ``"ours: slice 12 of 40"``); each phase gets its own bar, so a later phase is never hidden
behind an earlier one's count. When stderr is not a terminal (a log file, a pipeline) each phase gets one line as it
starts and one as it ends, with its duration; ``--quiet`` silences progress. ``--progress json`` is for programs
that run the command (the Slicer panels): one JSON object per line on stdout, ``{"fraction", "phase", "message"}``
for progress and ``{"log"}`` for a line meant for the user. Log lines go through :meth:`Progress.log` so that they
never tear a bar apart.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

MODES = ("auto", "json")


class Progress:
    """A ``progress(fraction, message)`` callback for the command ``command``; close it (or use ``with``) at the end.
    """

    def __init__(self, command: str, quiet: bool = False, stream=None, machine: bool = False):
        self.command = command
        self.stream = stream if stream is not None else sys.stdout if machine else sys.stderr
        self.mode = "quiet" if quiet else "json" if machine else "bar" if self.stream.isatty() else "lines"
        self.phase: str | None = None
        self.bar = None
        self.started = 0.0

    def __call__(self, fraction: float, message: str) -> None:
        if self.mode == "quiet":
            return
        phase, _, detail = message.partition(":")
        phase, detail = phase.strip(), detail.strip()
        if self.mode == "json":
            self._emit({"fraction": round(min(max(float(fraction), 0.0), 1.0), 4), "phase": phase, "message": detail})
            return
        if phase != self.phase:
            self._end_phase()
            self._start_phase(phase)
        if self.bar is not None:
            self.bar.n = round(100 * min(max(fraction, 0.0), 1.0), 1)
            self.bar.set_postfix_str(detail, refresh=False)
            self.bar.refresh()

    def log(self, line: str) -> None:
        """A line for the user (always shown, above the bar when there is one)."""
        if self.mode == "json":
            self._emit({"log": line})
        elif self.bar is not None:
            self.bar.write(line, file=self.stream)
        else:
            print(line, file=self.stream, flush=True)

    def close(self) -> None:
        self._end_phase()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *_) -> None:
        self.close()

    def _emit(self, record: dict) -> None:
        print(json.dumps(record, ensure_ascii=False), file=self.stream, flush=True)

    def _start_phase(self, phase: str) -> None:
        self.phase, self.started = phase, time.perf_counter()
        if self.mode == "bar":
            from tqdm import tqdm

            self.bar = tqdm(total=100, desc=f"{self.command}: {phase}", file=self.stream, leave=True,
                            bar_format="{desc} {percentage:3.0f}%|{bar:20}| {elapsed}<{remaining} {postfix}")
        else:
            print(f"{self.command}: {phase} …", file=self.stream, flush=True)

    def _end_phase(self) -> None:
        if self.phase is None:
            return
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        else:
            print(f"{self.command}: {self.phase} done in {time.perf_counter() - self.started:.1f} s",
                  file=self.stream, flush=True)
        self.phase = None


def progress_for(args: argparse.Namespace, command: str) -> Progress:
    """The progress the command line's global options ask for (``--quiet``, ``--progress``)."""
    return Progress(command, quiet=args.quiet, machine=args.progress == "json")
