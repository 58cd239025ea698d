"""A cohort given as a list of scan paths instead of a folder: the list becomes a project folder of links.

ActiveSeg keeps its state and labels beside the scans, so a list (one path per line, absolute or relative to the
list file; blank lines and ``#`` comments ignored) is turned into a folder holding one symbolic link per scan, named
like the scan. Running it again adds links for new entries and removes links whose entry left the list (the state
then reports them as added or removed). Nothing but links this function made is ever replaced or removed; listed
paths that do not exist are reported and skipped; two scans with the same name are refused.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from ..core.errors import UserInputError
from ..core.io import base_name, dicom_series_ids, is_image_file


def read_scan_list(list_file: str | Path) -> list[Path]:
    """The paths listed in ``list_file``, resolved against its folder."""
    list_file = Path(list_file)
    try:
        lines = list_file.read_text().splitlines()
    except OSError as error:
        raise UserInputError(f"{list_file}: cannot read the scan list ({error.strerror})") from None
    paths = []
    for line in lines:
        entry = line.split("#", 1)[0].strip()
        if entry:
            path = Path(entry).expanduser()
            paths.append(path if path.is_absolute() else (list_file.parent / path))
    if not paths:
        raise UserInputError(f"{list_file}: lists no scans; expected one scan path per line")
    return paths


def link_cohort(list_file: str | Path, folder: str | Path, log: Callable[[str], None] = print) -> Path:
    """Make (or bring up to date) ``folder`` as a cohort of links to the scans of ``list_file``."""
    folder = Path(folder)
    wanted: dict[str, Path] = {}
    for path in read_scan_list(list_file):
        if not path.exists() or not (is_image_file(path) or (path.is_dir() and dicom_series_ids(path))):
            log(f"not a readable scan, skipped: {path}")
            continue
        name = base_name(path)
        if name in wanted and wanted[name] != path.resolve():
            raise UserInputError(f"{list_file}: two scans are named '{name}' ({wanted[name]} and {path}); "
                                 "expected one scan per name")
        wanted[name] = path.resolve()
    if not wanted:
        raise UserInputError(f"{list_file}: none of the listed scans exists")
    folder.mkdir(parents=True, exist_ok=True)
    present = {base_name(p): p for p in folder.iterdir() if p.is_symlink()}
    for name, link in present.items():
        if name not in wanted or link.resolve() != wanted[name]:
            link.unlink()  # only links: scans and labels the user made are never touched
    for name, target in wanted.items():
        suffix = target.name[len(name):] if target.is_file() else ""
        link = folder / f"{name}{suffix}"
        if link.is_symlink():
            continue
        if link.exists():
            raise UserInputError(f"{link}: exists and is not a link made from a scan list; choose another folder")
        os.symlink(target, link, target_is_directory=target.is_dir())
    return folder
