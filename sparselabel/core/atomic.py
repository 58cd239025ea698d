"""Atomic file writes: a temporary file beside the target, renamed over it only once it is complete.

A crash or a cancel mid-write leaves the previous file untouched and no half-written one behind; the file is flushed
to disk before the rename, and the rename after it, so a power cut cannot leave an empty file in its place either.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def _default_mode() -> int:
    # The umask can only be read by setting it; done once, at import, so that no other thread (Slicer's GUI while
    # a worker saves a checkpoint) ever creates a file under the temporary one.
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


_FILE_MODE = _default_mode()


@contextmanager
def atomic_path(path: str | Path, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path in ``path``'s folder; on success it replaces ``path``, on failure it is removed.

    ``suffix`` (default: ``path``'s own suffix) lets writers that choose a format by file name see the right one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix if suffix is not None
                                             else path.suffix, dir=path.parent)
    os.close(descriptor)
    try:
        yield Path(temporary)
        os.chmod(temporary, _FILE_MODE)  # mkstemp makes owner-only files; keep the usual permissions
        _flush_to_disk(Path(temporary))
        os.replace(temporary, path)
        _flush_to_disk(path.parent)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _flush_to_disk(path: Path) -> None:
    """Have the system write ``path`` (a file, or a folder's entries) to disk: a rename is only as safe as that.

    A file is opened for writing (Windows flushes nothing through a read-only handle); a folder's flush is a best
    effort, as some file systems (and Windows) cannot flush a folder — the rename has happened all the same.
    """
    if path.is_dir():
        if os.name == "nt":
            return
        try:
            descriptor = os.open(path, os.O_RDONLY)
        except OSError:
            return
        try:
            os.fsync(descriptor)
        except OSError:
            pass
        finally:
            os.close(descriptor)
        return
    descriptor = os.open(path, os.O_RDWR)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` atomically."""
    with atomic_path(path) as temporary:
        temporary.write_text(text)
    return Path(path)
