"""Where torch work runs: CUDA when there is a usable GPU, Apple's MPS when asked for, the CPU otherwise.

torch is imported inside the functions so that importing SparseLabel (and opening a Slicer module) stays fast and
works before torch is installed.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from .errors import UserInputError

if TYPE_CHECKING:
    import torch

DEVICE_CHOICES = ("auto", "cuda", "mps", "cpu")


def select_device(preference: str = "auto") -> torch.device:
    """The torch device for ``preference`` (``auto``, ``cuda``, ``cuda:N``, ``mps`` or ``cpu``).

    ``auto`` takes CUDA when available and the CPU otherwise. MPS is used only when asked for: several
    operations the propagation network needs are still missing or slow on it.
    """
    import torch

    choice = preference.strip().lower()
    if choice == "auto":
        return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")
    if choice == "cpu":
        return torch.device("cpu")
    if choice.startswith("cuda"):
        if not torch.cuda.is_available():
            raise UserInputError(f"device '{preference}': no CUDA GPU is available to PyTorch "
                                 f"(PyTorch {torch.__version__}); use 'cpu' or 'auto'")
        device = torch.device(choice)
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise UserInputError(f"device '{preference}': only {torch.cuda.device_count()} CUDA GPU(s) present")
        return device
    if choice == "mps":
        if not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
            raise UserInputError(f"device '{preference}': Apple MPS is not available; use 'cpu' or 'auto'")
        return torch.device("mps")
    raise UserInputError(f"device '{preference}': unknown; expected one of {', '.join(DEVICE_CHOICES)} or cuda:N")


def describe_device(device: torch.device | str) -> str:
    """One line for the user: GPU name and memory, or the CPU and how many cores torch uses."""
    import torch

    device = torch.device(device)
    if device.type == "cuda":
        properties = torch.cuda.get_device_properties(device.index or 0)
        memory = properties.total_memory / 2**30
        return f"GPU: {properties.name} ({memory:.1f} GiB, CUDA {torch.version.cuda}, PyTorch {torch.__version__})"
    if device.type == "mps":
        return f"GPU: Apple MPS (PyTorch {torch.__version__})"
    cores = os.cpu_count() or 1
    return f"CPU: {cores} cores, {torch.get_num_threads()} threads (PyTorch {torch.__version__})"
