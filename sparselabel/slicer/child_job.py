"""Long work as a child process: one ``sparselabel`` command run by Slicer's own Python, followed from the GUI.

Inside Slicer a Python thread starves (PythonQt keeps the GIL while the application idles), so a panel's long work —
adapting and propagating, training, embedding and ranking — runs as the command line does, in a process of its own:
``PythonSlicer -m sparselabel --progress json COMMAND …``. Inputs and outputs go through a job folder (volumes as
NRRD with their geometry); the child reports progress as one JSON object per line on stdout and ends with its exit
status, and on failure one line on stderr naming the problem. The panel calls :meth:`ChildJob.poll` from a timer on
the main thread, reads the results there and only there touches MRML. Cancel kills the process and its children;
a child that dies (killed, crashed, out of memory) ends the job with a message and changes nothing; the job folder
is removed when the job ends, however it ends.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..core.errors import CancelledError, UserInputError

ERROR_PREFIX = "sparselabel: error: "


def _start(command: list[str], folder: Path, stdin) -> subprocess.Popen:
    """``command`` in its own process group (so that Cancel stops its children too), with this package importable."""
    package = Path(__file__).resolve().parents[2]  # the folder that holds the sparselabel package
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(package), *filter(None, [os.environ.get("PYTHONPATH")])]), "PYTHONUNBUFFERED": "1"}
    group = {"start_new_session": True} if os.name != "nt" else {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP}
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=stdin, text=True,
                            encoding="utf-8", errors="replace", cwd=folder, env=environment, **group)


class Spare:
    """A child process started ahead of the next job, with its imports done (``python -m sparselabel.cli.spare``):
    starting Python and importing PyTorch costs seconds that a job then does not pay. It waits for one command on
    stdin, runs it, and ends, so every job still has a process of its own; it ends by itself when Slicer does (its
    stdin closes). None is started before the first job asks for one."""

    def __init__(self, python: str | None = None):
        self.python = python
        self.process: subprocess.Popen | None = None

    def take(self) -> subprocess.Popen | None:
        """The waiting process, if one is ready; None the first time (the job then starts its own)."""
        ready = self.process if self.process is not None and self.process.poll() is None else None
        self.process = None
        return ready

    def prepare(self) -> None:
        """Start the next job's process, once a job has ended: its imports then use no core a job needs."""
        if self.process is None or self.process.poll() is not None:
            self.process = _start([self.python or slicer_python(), "-m", "sparselabel.cli.spare"],
                                  Path(tempfile.gettempdir()), subprocess.PIPE)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
        self.process = None


def slicer_python() -> str:
    """Slicer's ``PythonSlicer`` beside the running Python (``.exe`` on Windows); this Python outside Slicer."""
    launcher = Path(sys.executable).parent / ("PythonSlicer.exe" if os.name == "nt" else "PythonSlicer")
    return str(launcher) if launcher.is_file() else sys.executable


def work_folder(*parts: str) -> Path:
    """A folder under Slicer's temporary folder (the system's outside Slicer), made if needed."""
    try:
        import slicer

        root = Path(slicer.app.temporaryPath)
    except (ImportError, AttributeError):
        root = Path(tempfile.gettempdir())
    folder = root.joinpath("SparseLabel", *parts)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def new_job_folder() -> Path:
    return Path(tempfile.mkdtemp(prefix="job-", dir=work_folder("jobs")))


class ChildJob:
    """``sparselabel ARGUMENTS`` in a child process, with ``folder`` as its job folder.

    ``read_result(job)`` turns the finished job's files (and its stdout lines, :attr:`output`) into the result; it
    runs in :meth:`poll`, on the caller's thread.
    The interface is the one the panels follow: :attr:`progress`, :attr:`done`, :attr:`result`, :attr:`error`,
    :meth:`cancel`, :attr:`cancelled`, :attr:`log`.
    """

    def __init__(self, arguments: Sequence[str], folder: Path, read_result: Callable[[ChildJob], Any] | None = None,
                 python: str | None = None, spare: Spare | None = None):
        self.folder = Path(folder)
        self.read_result = read_result
        self.progress: tuple[float, str] = (0.0, "starting")
        self.log: list[str] = []  # lines for the user: the child's log lines and, at the end, its error
        self.output: list[str] = []  # what the child printed on stdout besides progress
        self.result: Any = None
        self.error: BaseException | None = None
        self.cancelled = False
        self._stderr: list[str] = []
        self._finished = False
        self._lines: queue.Queue[tuple[str, str | None]] = queue.Queue()
        self.folder.mkdir(parents=True, exist_ok=True)
        command = ["--progress", "json", *arguments]
        self.spare = spare
        process = spare.take() if spare is not None else None
        if process is not None:  # a process that has its imports done already: it is told the command
            process.stdin.write(json.dumps({"arguments": command, "folder": str(self.folder)}) + "\n")
            process.stdin.close()
            self.process = process
        else:
            self.process = _start([python or slicer_python(), "-m", "sparselabel", *command], self.folder,
                                  subprocess.DEVNULL)
        self._readers = [threading.Thread(target=self._read, args=(stream, name), daemon=True)
                         for stream, name in ((self.process.stdout, "out"), (self.process.stderr, "err"))]
        for reader in self._readers:
            reader.start()

    def _read(self, stream, name: str) -> None:  # a reader thread: it only moves lines into the queue
        for line in stream:
            self._lines.put((name, line.rstrip("\n")))
        self._lines.put((name, None))

    @property
    def done(self) -> bool:
        self.poll()
        return self._finished

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job ends (scripts and tests; a panel polls instead); True if it did."""
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            return False
        for reader in self._readers:
            reader.join(timeout)
        return self.done

    def poll(self) -> None:
        """Take in what the child printed; once it has ended, read its result or name its failure."""
        if self._finished:
            return
        while True:
            try:
                name, line = self._lines.get_nowait()
            except queue.Empty:
                break
            if line is not None:
                self._take(name, line)
        if self.process.poll() is None or any(reader.is_alive() for reader in self._readers):
            return
        while not self._lines.empty():
            name, line = self._lines.get_nowait()
            if line is not None:
                self._take(name, line)
        self._end()

    def _take(self, name: str, line: str) -> None:
        if name == "err":
            self._stderr.append(line)
            return
        try:
            record = json.loads(line) if line.startswith("{") else None
        except ValueError:
            record = None
        if not isinstance(record, dict):
            self.output.append(line)
        elif "log" in record:
            self.log.append(str(record["log"]))
        elif "fraction" in record:
            message = ": ".join(filter(None, [str(record.get("phase", "")), str(record.get("message", ""))]))
            self.progress = (float(record["fraction"]), message)

    def _end(self) -> None:
        self._finished = True
        code = self.process.returncode
        try:
            if self.cancelled:
                self.error = CancelledError("cancelled; nothing was changed")
            elif code == 0:
                self.result = self.read_result(self) if self.read_result is not None else None
            else:
                self.error = self._failure(code)
        except BaseException as error:  # reading the result failed: handed to the panel like any failure
            self.error = error
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)
            if self.spare is not None:
                self.spare.prepare()
        if self.error is not None and not isinstance(self.error, CancelledError):
            self.log.append(str(self.error))

    def _failure(self, code: int) -> BaseException:
        message = next((line[len(ERROR_PREFIX):] for line in reversed(self._stderr) if line.startswith(ERROR_PREFIX)),
                       None)
        if message is not None:
            return UserInputError(message)
        if code < 0:  # ended by a signal (POSIX): killed, out of memory, a crash in native code
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            return RuntimeError(f"the job's process ended unexpectedly ({name}; killed, out of memory or crashed); "
                                "nothing was changed")
        last = next((line for line in reversed(self._stderr) if line.strip()), "no message")
        return RuntimeError(f"the job's process failed (exit status {code}): {last}; nothing was changed")

    def cancel(self) -> None:
        """Stop the child and everything it started, at once; the job then ends as cancelled."""
        if self._finished or self.cancelled:
            return
        self.cancelled = True
        try:
            if os.name == "nt":
                subprocess.run(["taskkill", "/F", "/T", "/PID", str(self.process.pid)], capture_output=True)
            else:
                os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, OSError):
            pass  # it had ended already
