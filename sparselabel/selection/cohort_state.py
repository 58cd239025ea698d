"""The project state of a cohort: what ActiveSeg knows about it, kept beside the scans so work resumes.

``<cohort>/.sparselabel/state.json`` holds the scans (with a content hash, so a changed file is noticed), the
embedder used, the map coordinates and clusters, and every round's selections with their score parts. It is
written atomically (temporary file + rename): a crash or a cancel while saving leaves the previous state intact and
readable. Scans added, removed or changed since the last run are reported by :func:`refresh_scans`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..core.atomic import write_text
from ..core.errors import UserInputError
from ..core.io import base_name, discover_images

STATE_FOLDER = ".sparselabel"
STATE_FILE = "state.json"
STATE_VERSION = 1


@dataclass
class ScanRecord:
    path: str  # relative to the cohort folder
    sha256: str
    dim: int | None = None  # 2 or 3, once the scan has been read


@dataclass
class CohortState:
    version: int = STATE_VERSION
    scans: dict[str, ScanRecord] = field(default_factory=dict)  # scan name (file name without suffix) → record
    embedder: str | None = None
    coordinates: dict[str, list[float]] = field(default_factory=dict)  # scan name → map position
    clusters: dict[str, int] = field(default_factory=dict)
    rounds: list[dict] = field(default_factory=list)  # each: strategy, budget, alpha, picks with score parts
    checkpoints: list[str] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> CohortState:
        """The state ``text`` holds; ``ValueError`` when it is not JSON of the state's shape."""
        data = json.loads(text)
        if isinstance(data, dict) and data.get("version", STATE_VERSION) != STATE_VERSION:
            return cls(version=data["version"])  # the caller names the version
        if not isinstance(data, dict) or not set(data) <= set(_SHAPE):
            raise ValueError("expected an object with the fields " + ", ".join(_SHAPE))
        for name, kind in _SHAPE.items():
            if name in data and not isinstance(data[name], kind):
                raise ValueError(f"field '{name}' holds {type(data[name]).__name__}")
        try:
            data["scans"] = {name: ScanRecord(**record) for name, record in data.get("scans", {}).items()}
        except TypeError as error:
            raise ValueError(f"a scan record is not of the expected shape ({error})") from None
        if not all(isinstance(past, dict) for past in data.get("rounds", [])):
            raise ValueError("a round is not an object")
        return cls(**data)


_SHAPE = {"version": int, "scans": dict, "embedder": (str, type(None)), "coordinates": dict, "clusters": dict,
          "rounds": list, "checkpoints": list}


@dataclass
class ScanChanges:
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.changed)


def state_path(cohort: str | Path) -> Path:
    return Path(cohort) / STATE_FOLDER / STATE_FILE


def load_state(cohort: str | Path) -> CohortState | None:
    """The saved state of ``cohort``, or None when it has none yet."""
    path = state_path(cohort)
    if not path.exists():
        return None
    try:
        state = CohortState.from_json(path.read_text())
    except ValueError as error:  # json.JSONDecodeError is one
        raise UserInputError(f"{path}: not a readable SparseLabel project state ({error}); move it away to start "
                             "the cohort afresh") from None
    if state.version != STATE_VERSION:
        raise UserInputError(f"{path}: project state version {state.version}; this SparseLabel reads version "
                             f"{STATE_VERSION}")
    return state


def save_state(cohort: str | Path, state: CohortState) -> Path:
    """Write ``state`` atomically; the previous file stays whole until the new one is complete."""
    return write_text(state_path(cohort), state.to_json())


def content_hash(path: Path) -> str:
    """SHA-256 of a file, or of a DICOM series folder's files (names and contents, in name order)."""
    digest = hashlib.sha256()
    files = sorted(p for p in path.iterdir() if p.is_file()) if path.is_dir() else [path]
    for file in files:
        if path.is_dir():
            digest.update(file.name.encode())
        with open(file, "rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
    return digest.hexdigest()


def refresh_scans(cohort: str | Path, state: CohortState) -> ScanChanges:
    """Bring ``state.scans`` up to date with the folder; returns what was added, removed or changed.

    Changed and removed scans lose their map position and cluster (they must be embedded and placed again).
    """
    cohort = Path(cohort)
    current = {base_name(p): p for p in discover_images(cohort)}
    changes = ScanChanges()
    for name in sorted(set(state.scans) - set(current)):
        changes.removed.append(name)
        del state.scans[name]
    for name, path in current.items():
        digest = content_hash(path)
        known = state.scans.get(name)
        if known is None:
            changes.added.append(name)
        elif known.sha256 != digest:
            changes.changed.append(name)
        state.scans[name] = ScanRecord(path.relative_to(cohort).as_posix(), digest,
                                       known.dim if known is not None and known.sha256 == digest else None)
    for name in changes.removed + changes.changed:
        state.coordinates.pop(name, None)
        state.clusters.pop(name, None)
    return changes
