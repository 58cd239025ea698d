"""The panels' long work, each as a ``sparselabel`` command in a child process (see :mod:`.child_job`).

Each function writes what the command needs into a new job folder (volumes as uncompressed NRRD, which keeps their
geometry and values exactly), starts the command, and says how to read its result once it has ended: the same
command a user runs in a terminal, so what is measured on the command line is what the panel gives. From the second
job on, the command runs in a process started ahead with its imports done (:class:`.child_job.Spare`).
"""

from __future__ import annotations

import json
from pathlib import Path

from ..core.image import Image
from ..core.io import read_label, write_image
from .child_job import ChildJob, Spare, new_job_folder, work_folder

SPARE = Spare()  # the next job's process, started (with its imports done) while the user works on


def network_cache() -> Path:
    """Where networks adapted to a volume are kept between propagations (Slicer's temporary folder)."""
    return work_folder("adapted-networks")


def propagation_job(painted, options, cache: Path | None = None) -> ChildJob:
    """``propagate`` the painted slices (:class:`.segment_propagation.PaintedSegments`) with ``options``
    (:class:`~sparselabel.propagation.one_slice.PropagationOptions`); the result is ``(label image, record)``."""
    folder = new_job_folder()
    volume, drawn, result, record = (folder / name for name in ("volume.nrrd", "drawn.nrrd", "result.nrrd",
                                                                "record.json"))
    write_image(painted.volume, volume, compress=False)
    write_image(painted.label, drawn, compress=False)
    arguments = ["propagate", str(volume), str(drawn), "--out", str(result), "--record", str(record),
                 "--method", options.method, "--adaptation-steps", str(int(options.adaptation_steps)),
                 "--adaptation-limit", repr(float(options.adaptation_limit)),
                 "--device", options.device, "--network-cache", str(cache or network_cache())]
    if options.model is not None:
        arguments += ["--model", str(options.model)]
    if options.axis is not None:
        arguments += ["--axis", "kji"[options.axis]]

    def read(job: ChildJob) -> tuple[Image, dict]:
        return read_label(result, painted.volume), json.loads(record.read_text())

    return ChildJob(arguments, folder, read, spare=SPARE)


def suggestion_job(image: Image, checkpoint: Path | None = None, count: int = 1, to_world=None,
                   device: str = "auto") -> ChildJob:
    """``suggest-slice`` on ``image``; the result is the suggested slices (along k) in slice order, each as
    ``(index, RAS position of its centre)`` — in world space when ``to_world`` maps a volume's RAS point there (a
    parent transform)."""
    import numpy as np

    folder = new_job_folder()
    write_image(image, folder / "volume.nrrd", compress=False)
    arguments = ["suggest-slice", str(folder / "volume.nrrd"), "--count", str(int(count)), "--device", device]
    if checkpoint is not None:
        arguments += ["--model", str(checkpoint)]
    to_ras = image.geometry.ijk_to_ras()

    def read(job: ChildJob) -> list[tuple[int, tuple[float, ...]]]:
        indices = sorted(int(line) for line in job.output if line.strip().isdigit())
        centre = ((image.shape[2] - 1) / 2, (image.shape[1] - 1) / 2)
        points = [tuple(float(v) for v in (to_ras @ np.array([*centre, k, 1.0]))[:3]) for k in indices]
        return [(k, to_world(p) if to_world is not None else p) for k, p in zip(indices, points, strict=True)]

    return ChildJob(arguments, folder, read, spare=SPARE)


def training_job(volumes: Path, checkpoint: Path, steps: int, device: str = "auto") -> ChildJob:
    """``train-propagator`` on the volumes of a folder for ``steps`` steps; the result is the checkpoint's path.
    The file is chosen in a save dialog, which has asked before replacing it."""
    arguments = ["train-propagator", str(volumes), "--out", str(checkpoint), "--steps", str(int(steps)),
                 "--device", device, "--overwrite"]
    return ChildJob(arguments, new_job_folder(), lambda job: Path(checkpoint), spare=SPARE)


def ranking_job(cohort: Path, labels: Path, budget: int, strategy: str, alpha: float, embedder: str,
                embedder_path: Path | None = None, device: str = "auto", refit_map: bool = False) -> ChildJob:
    """One ``rank`` round of ``cohort`` (the map fitted afresh with ``refit_map``); the result is the round as
    saved: ``(worklist, points, names)``."""
    from ..selection.ranking import saved_round

    folder = new_job_folder()
    arguments = ["rank", str(cohort), "--labels", str(labels), "--budget", str(int(budget)), "--strategy", strategy,
                 "--alpha", repr(float(alpha)), "--embedder", embedder, "--out", str(folder), "--no-map",
                 "--device", device]
    if embedder_path is not None:
        arguments += ["--embedder-path", str(embedder_path)]
    if refit_map:
        arguments.append("--refit-map")
    return ChildJob(arguments, folder, lambda job: saved_round(cohort, labels), spare=SPARE)
