"""One command at a time on a cohort: a lock file in its project folder, naming the process that holds it.

``<cohort>/.sparselabel/lock`` is created exclusively (``O_EXCL``) and holds the owner's pid, host and start time. A
second command on the same cohort is refused with a message naming the owner, rather than both reading round N and
one of the two rounds being lost. A lock whose process no longer runs on this host (killed, crashed) is stale: it is
taken over, and the log says so. The lock is removed when the work ends, however it ends.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from ..core.errors import UserInputError

LOCK_FILE = "lock"


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: it runs
        return True
    except OSError:  # Windows raises OSError for a pid that is gone
        return False
    return True


def _owner(path: Path) -> dict | None:
    """What the lock file says of its owner; None when it is unreadable (half-written, or being removed)."""
    try:
        owner = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return owner if isinstance(owner, dict) and isinstance(owner.get("pid"), int) else None


@contextmanager
def cohort_lock(folder: str | Path, log: Callable[[str], None] = print) -> Iterator[Path]:
    """Hold the lock of the project folder ``folder`` (``<cohort>/.sparselabel``) while the block runs."""
    path = Path(folder) / LOCK_FILE
    me = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.strftime("%Y-%m-%d %H:%M:%S")}
    for _ in range(3):
        try:
            descriptor = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            owner = _owner(path)
            if owner is not None and owner.get("host") == me["host"] and not _running(owner["pid"]):
                log(f"{path}: removed a stale lock of process {owner['pid']} (since {owner.get('since')}), "
                    "which no longer runs")
                path.unlink(missing_ok=True)
                continue
            if owner is None and time.time() - _modified(path) > 60:
                log(f"{path}: removed an unreadable lock left more than a minute ago")
                path.unlink(missing_ok=True)
                continue
            who = (f"process {owner['pid']} on {owner.get('host')}, since {owner.get('since')}" if owner
                   else "a process that is starting")
            raise UserInputError(f"{path.parent.parent}: another SparseLabel command is working on this cohort "
                                 f"({who}); wait for it to finish, or remove {path} if no such process runs") from None
        with os.fdopen(descriptor, "w") as handle:
            handle.write(json.dumps(me))
        break
    else:
        raise UserInputError(f"{path}: could not take the cohort's lock; another command keeps taking it")
    try:
        yield path
    finally:
        if (_owner(path) or {}).get("pid") == me["pid"]:
            path.unlink(missing_ok=True)


def _modified(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return time.time()
