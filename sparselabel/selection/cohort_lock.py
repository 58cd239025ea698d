"""One command at a time on a cohort: a lock the operating system holds for the process working on it.

``<cohort>/.sparselabel/lock`` is locked exclusively (``flock`` on POSIX, ``msvcrt.locking`` on Windows) for as long
as a command works on the cohort, and holds the owner's pid, host and start time for the message a second command
gets: refused, rather than both reading round N and one of the two rounds being lost. The system releases the lock
when its process ends, however it ends (killed, crashed), so a lock is never stale; a command that finds the last
owner's details still in the file knows that owner ended without finishing, and says so. The file itself stays.
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
_WINDOWS_LOCK_OFFSET = 1 << 20  # Windows locks bytes: lock one far beyond the text, which stays readable


def _try_lock(descriptor: int) -> bool:
    if os.name == "nt":
        import msvcrt

        os.lseek(descriptor, _WINDOWS_LOCK_OFFSET, os.SEEK_SET)
        try:
            msvcrt.locking(descriptor, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


def _unlock(descriptor: int) -> None:
    if os.name == "nt":
        import msvcrt

        os.lseek(descriptor, _WINDOWS_LOCK_OFFSET, os.SEEK_SET)
        msvcrt.locking(descriptor, msvcrt.LK_UNLCK, 1)
    else:
        import fcntl

        fcntl.flock(descriptor, fcntl.LOCK_UN)


def _owner(descriptor: int) -> dict | None:
    """What the lock file says of its owner; None when it says nothing (no owner yet, or a clean end)."""
    os.lseek(descriptor, 0, os.SEEK_SET)
    try:
        owner = json.loads(os.read(descriptor, 4096).decode("utf-8", "replace") or "null")
    except ValueError:
        return None
    return owner if isinstance(owner, dict) and isinstance(owner.get("pid"), int) else None


def _describe(owner: dict | None) -> str:
    if owner is None:
        return "a process that is starting"
    return f"process {owner['pid']} on {owner.get('host')}, since {owner.get('since')}"


@contextmanager
def cohort_lock(folder: str | Path, log: Callable[[str], None] = print) -> Iterator[Path]:
    """Hold the lock of the project folder ``folder`` (``<cohort>/.sparselabel``) while the block runs."""
    path = Path(folder) / LOCK_FILE
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        if not _try_lock(descriptor):
            raise UserInputError(f"{path.parent.parent}: another SparseLabel command is working on this cohort "
                                 f"({_describe(_owner(descriptor))}); wait for it to finish")
        try:
            last = _owner(descriptor)
            if last is not None:
                log(f"{path.parent.parent}: the last command on this cohort ({_describe(last)}) ended without "
                    "finishing; its round was not saved")
            me = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.strftime("%Y-%m-%d %H:%M:%S")}
            os.ftruncate(descriptor, 0)
            os.lseek(descriptor, 0, os.SEEK_SET)
            os.write(descriptor, json.dumps(me).encode())
            yield path
            os.ftruncate(descriptor, 0)  # a clean end: the next command finds no owner
        finally:
            _unlock(descriptor)
    finally:
        os.close(descriptor)


def is_locked(folder: str | Path) -> bool:
    """Does a process hold the lock of project folder ``folder`` now?"""
    path = Path(folder) / LOCK_FILE
    if not path.exists():
        return False
    descriptor = os.open(path, os.O_RDWR)
    try:
        if _try_lock(descriptor):
            _unlock(descriptor)
            return False
        return True
    finally:
        os.close(descriptor)
