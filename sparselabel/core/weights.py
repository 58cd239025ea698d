"""Loading network weights from a file the user names, safely: plain tensors and numbers only, never code.

``torch.load(weights_only=True)`` refuses any pickled Python object that could run code while it is read; every way a
file can fail to be such a checkpoint ends in one :class:`UserInputError` line naming the file and what was expected,
instead of PyTorch's paragraphs of advice (which would suggest loading it unguarded).
"""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path

from .errors import UserInputError, brief


def load_weights(path: str | Path, expected: str, device: str = "cpu"):
    """What the checkpoint at ``path`` holds, loaded onto ``device``; ``expected`` says what the file should be."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise UserInputError(f"{path}: no such checkpoint file; expected {expected}" if not path.exists()
                             else f"{path}: is a folder; expected {expected}")
    with open(path, "rb") as handle:
        start = handle.read(2)
    # torch.save writes zip archives (since PyTorch 1.6), older versions a pickle (protocol 2: b"\x80\x02").
    if not zipfile.is_zipfile(path) and start != b"\x80\x02":
        raise UserInputError(f"{path}: not a PyTorch checkpoint; expected {expected}")
    try:
        return torch.load(path, map_location=device, weights_only=True)
    except pickle.UnpicklingError:
        raise UserInputError(f"{path}: holds Python objects besides weights (they could run code), so it is not "
                             f"loaded; expected {expected}") from None
    except (RuntimeError, EOFError, ValueError, zipfile.BadZipFile, OSError) as error:
        raise UserInputError(f"{path}: not a PyTorch checkpoint ({brief(error)}); expected {expected}") from None
