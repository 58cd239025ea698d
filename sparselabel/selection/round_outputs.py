"""A round's files for the user — ``ranking.csv`` and ``map.png`` — written so that none of the user's is replaced.

The cohort keeps a journal of the outputs its rounds wrote (``.sparselabel/outputs.json``: path → content digest),
written *before* the files themselves: a file in the output folder that matches the journal is the cohort's own and
may be replaced by the next round, even after a crash between the outputs and the state; any other file there is
the user's and is replaced only when asked (``--overwrite``).
"""

from __future__ import annotations

import json
from contextlib import ExitStack
from pathlib import Path

from ..core.atomic import atomic_path, write_text
from .cohort_state import STATE_FOLDER, content_hash

OUTPUTS = ("ranking.csv", "map.png")
JOURNAL = "outputs.json"


def _journal(cohort: Path) -> dict[str, str]:
    try:
        written = json.loads((cohort / STATE_FOLDER / JOURNAL).read_text())
    except (OSError, ValueError):
        return {}
    return written if isinstance(written, dict) else {}


def foreign_outputs(cohort: str | Path, folder: str | Path, names: tuple[str, ...] = OUTPUTS) -> list[str]:
    """The outputs (of ``names``) present in ``folder`` that this cohort's rounds did not write as they are now."""
    written, folder = _journal(Path(cohort)), Path(folder)
    return [name for name in names if (folder / name).exists()
            and written.get(str((folder / name).resolve())) != content_hash(folder / name)]


def write_round_outputs(cohort: str | Path, ranked, folder: str | Path, title: str | None) -> list[Path]:
    """Write ``ranked``'s worklist and (with a ``title``) its map into ``folder``: all rendered first, the journal
    next, then all put in place (each atomically). Without a title no map is drawn, and matplotlib is not needed."""
    from .ranking import draw_map, write_worklist

    cohort, folder = Path(cohort), Path(folder)
    targets = [folder / name for name in (OUTPUTS if title is not None else OUTPUTS[:1])]
    with ExitStack() as stack:
        drafts = [stack.enter_context(atomic_path(target)) for target in targets]
        write_worklist(ranked.worklist, drafts[0])
        if title is not None:
            draw_map(ranked.points, ranked.names, ranked.worklist, drafts[1], title=title)
        digests = {str(t.resolve()): content_hash(d) for t, d in zip(targets, drafts, strict=True)}
        write_text(cohort / STATE_FOLDER / JOURNAL, json.dumps({**_journal(cohort), **digests}, indent=1))
    ranked.state.rounds[-1]["outputs"] = digests  # the round, once committed, names the files it wrote
    return targets
