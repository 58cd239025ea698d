"""Saving and loading trained propagation networks safely.

A checkpoint holds the network's configuration, the SparseLabel version and format it was written with, what it
was trained on, and its weights — plain tensors and numbers only. Loading uses ``torch.load(weights_only=True)``,
which refuses any pickled Python object that could run code; files that are not checkpoints, come from another
format version, or do not fit the network are refused with a message naming the file.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch

from .. import __version__
from ..core.atomic import atomic_path
from ..core.errors import UserInputError, brief
from ..core.weights import load_weights
from .reconstruction import ReconstructionConfig, ReconstructionNetwork

FORMAT = "sparselabel-propagator"
FORMAT_VERSION = 1
SHIPPED = Path(__file__).parent / "shipped" / "propagator.pt"  # how it was trained: shipped/README.md


def shipped_checkpoint() -> Path:
    """The network shipped with SparseLabel, pre-trained without labels on unlabelled MR volumes."""
    if not SHIPPED.is_file():
        raise UserInputError(f"{SHIPPED}: the network shipped with SparseLabel is missing from this installation; "
                             "reinstall SparseLabel, or give a trained checkpoint (--model)")
    return SHIPPED


def checkpoint_digest(path: str | Path) -> str:
    """A digest of a checkpoint file's bytes: networks from different files are different networks."""
    return hashlib.blake2b(Path(path).read_bytes(), digest_size=16).hexdigest()


def save_checkpoint(network: ReconstructionNetwork, path: str | Path, training: dict | None = None) -> Path:
    """Write ``network`` to ``path`` atomically (a crash leaves any earlier file as it was)."""
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "sparselabel_version": __version__,
        "config": network.config.to_dict(),
        "training": dict(training or {}),
        "state_dict": {k: v.detach().cpu() for k, v in network.state_dict().items()},
    }
    with atomic_path(path) as temporary:
        torch.save(payload, temporary)
    return Path(path)


def load_checkpoint(path: str | Path, device: torch.device | str = "cpu") -> tuple[ReconstructionNetwork, dict]:
    """The network stored in ``path`` (in eval mode, on ``device``) and its training record."""
    path = Path(path)
    payload = load_weights(path, "a file written by 'sparselabel train-propagator'", device)
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise UserInputError(f"{path}: not a SparseLabel propagation checkpoint; expected a file written by "
                             "'sparselabel train-propagator'")
    if payload.get("format_version") != FORMAT_VERSION:
        raise UserInputError(f"{path}: checkpoint format {payload.get('format_version')} (SparseLabel "
                             f"{payload.get('sparselabel_version')}); this SparseLabel reads format {FORMAT_VERSION}: "
                             "train the network again")
    try:
        config = ReconstructionConfig.from_dict(payload["config"])
        if config.window < 1 or config.window % 2 == 0:
            raise ValueError(f"attention window {config.window}, expected an odd number of cells")
        network = ReconstructionNetwork(config)
        network.load_state_dict(payload["state_dict"])
        training = dict(payload.get("training", {}))
    except (KeyError, TypeError, ValueError, RuntimeError) as error:
        raise UserInputError(f"{path}: the stored weights do not fit the network ({brief(error)})"
                             ) from None
    return network.to(device).eval(), training
