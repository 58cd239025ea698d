"""The Python packages SparseLabel needs inside Slicer, what is missing, and how to get it there safely.

Rules, from how Slicer extensions break users' installations:
* nothing is installed at import time or while a module panel is built — only when the user starts work that
  needs it, and only after the user confirms;
* PyTorch comes only through the PyTorch extension (``PyTorchUtils``), which picks the build that matches the GPU
  driver; a plain ``pip install torch`` could pull the wrong CUDA build or several GB for nothing;
* numpy, SimpleITK, scipy and vtk are Slicer's own builds and are never replaced (Slicer's SimpleITK has its own
  IO); matplotlib is for the command line's pictures and is never asked for inside Slicer;
* everything else goes through ``slicer.packaging.pip_ensure`` (Slicer ≥ 5.12) or a confirmed
  ``slicer.util.pip_install`` (Slicer 5.10), both with a constraints file pinning the installed numpy, SimpleITK,
  scipy, vtk and torch so that pip cannot replace them.

Checking is cheap (package metadata only; torch is not imported), so panels can show what is missing at once.
"""

from __future__ import annotations

import importlib.metadata
from dataclasses import dataclass

from ..core.errors import CancelledError, UserInputError

# The oldest PyTorch with every API the package uses: torch.amp.GradScaler("cuda") came with 2.3. pip then picks a
# MONAI release that works with the torch Slicer has (MONAI 1.3 asks for torch ≥ 1.9, later ones for more).
TORCH_REQUIREMENT = "torch>=2.3"
# Packages installed with pip on first use. torch-dependent ones (monai) come after torch is in place.
REQUIREMENTS = ("monai>=1.3", "scikit-learn>=1.3", "openTSNE>=1.0")
# Slicer ships its own builds of these; pip must never upgrade or replace them.
SLICER_PROVIDED = ("numpy", "SimpleITK", "scipy", "vtk")


@dataclass(frozen=True)
class Requirement:
    """One requirement and what is installed for it (``installed`` is None when the package is absent)."""

    specifier: str
    name: str
    installed: str | None
    satisfied: bool

    def describe(self) -> str:
        if self.satisfied:
            return f"{self.name} {self.installed}"
        if self.installed is None:
            return f"{self.name}: missing (needs {self.specifier})"
        return f"{self.name} {self.installed}: too old (needs {self.specifier})"


def _requirement_class():
    try:
        from packaging.requirements import Requirement as Parsed
    except ImportError:  # Slicer builds without the stand-alone packaging distribution still have pip's copy
        from pip._vendor.packaging.requirements import Requirement as Parsed
    return Parsed


def check(specifier: str) -> Requirement:
    """Whether ``specifier`` (e.g. ``monai>=1.3``) is met by what is installed, from package metadata alone."""
    parsed = _requirement_class()(specifier)
    try:
        installed = importlib.metadata.version(parsed.name)
    except importlib.metadata.PackageNotFoundError:
        return Requirement(specifier, parsed.name, None, False)
    return Requirement(specifier, parsed.name, installed, parsed.specifier.contains(installed, prereleases=True))


def report() -> list[Requirement]:
    """Every requirement with what is installed: torch first, then the pip packages."""
    return [check(TORCH_REQUIREMENT), *(check(s) for s in REQUIREMENTS)]


def missing() -> list[Requirement]:
    return [r for r in report() if not r.satisfied]


def ensure_in_slicer(requester: str, ask: bool = True) -> list[str]:
    """Install what is missing inside Slicer, asking the user first; returns the specifiers that were installed.

    Call from the GUI thread, when the user starts work that needs the packages. Raises
    :class:`CancelledError` if the user declines and :class:`UserInputError` if the PyTorch extension is absent.
    ``ask=False`` is for a module's self-test: nobody to ask, and installing even in Slicer's testing mode (where
    ``pip_ensure`` would otherwise skip it and leave the test to fail at its first import).
    """
    installed = []
    torch = check(TORCH_REQUIREMENT)
    if not torch.satisfied:
        _install_torch(requester, torch, ask)
        installed.append(TORCH_REQUIREMENT)
    pip_missing = [check(s) for s in REQUIREMENTS]
    pip_missing = [r.specifier for r in pip_missing if not r.satisfied]
    if pip_missing:
        _pip_install(requester, pip_missing, ask)
        installed += pip_missing
    return installed


def ensure_for_self_test(requester: str) -> str | None:
    """Make a module self-test's dependencies present: install what is missing without asking; returns why the
    test must be skipped instead (the PyTorch extension is not installed), or None when everything is there."""
    try:
        ensure_in_slicer(requester, ask=False)
    except UserInputError as error:
        return str(error)
    return None


def _install_torch(requester: str, torch: Requirement, ask: bool = True) -> None:
    try:
        import PyTorchUtils
    except ImportError:
        raise UserInputError(f"{requester} needs PyTorch, which Slicer gets from the PyTorch extension: install "
                             "'PyTorch' from the Extensions Manager, restart Slicer and try again") from None
    logic = PyTorchUtils.PyTorchUtilsLogic()
    if torch.installed is not None:
        raise UserInputError(f"{requester} needs {TORCH_REQUIREMENT} but PyTorch {torch.installed} is installed: "
                             "update it in the PyTorch Utils module and restart Slicer")
    version_requirement = TORCH_REQUIREMENT.removeprefix("torch")
    if logic.installTorch(askConfirmation=ask, torchVersionRequirement=version_requirement) is None:
        raise CancelledError("PyTorch installation was declined; nothing was changed")


def _constraints_file(slicer) -> str:
    """A pip constraints file pinning what Slicer (and the PyTorch extension) installed, so pip cannot replace it."""
    pins = [f"{r.name}=={r.installed}" for r in map(check, (*SLICER_PROVIDED, "torch")) if r.installed]
    path = slicer.util.tempDirectory() + "/sparselabel-constraints.txt"
    with open(path, "w") as handle:
        handle.write("\n".join(pins) + "\n")
    return path


def _pip_install(requester: str, specifiers: list[str], ask: bool = True) -> None:
    import slicer

    try:
        import slicer.packaging as packaging
    except ImportError:
        packaging = None
    constraints = _constraints_file(slicer)
    if packaging is not None:  # Slicer ≥ 5.12: asks, shows progress, offers a restart when one is needed
        try:
            packaging.pip_ensure(specifiers, constraints=constraints, requester=requester, prompt_install=ask,
                                 prompt_restart=ask, skip_in_testing=ask)
        except RuntimeError as error:
            if "declined" in str(error).lower():
                raise CancelledError("package installation was declined; nothing was changed") from None
            raise
        return
    # Slicer 5.10 has no pip_ensure: ask first, then install with the same constraints.
    if not ask:
        slicer.util.pip_install([*specifiers, "--constraint", constraints])
        return
    question = (f"{requester} needs these Python packages, which are not installed yet:\n\n"
                + "\n".join(specifiers) + "\n\nInstall them now? This can take a few minutes.")
    if not slicer.util.confirmOkCancelDisplay(question, windowTitle=f"{requester} - Install Python Packages"):
        raise CancelledError("package installation was declined; nothing was changed")
    slicer.util.pip_install([*specifiers, "--constraint", constraints])


def status_text(include_device: bool = False) -> str:
    """What a panel's status area shows: missing packages, or the compute device once everything is there.

    ``include_device`` imports torch (a second or two), so panels ask for it only after the user's first action.
    """
    absent = missing()
    if absent:
        return "Not installed yet (installed on first use, after you confirm): " + "; ".join(
            r.describe() for r in absent)
    if not include_device:
        return "All Python packages are installed."
    from ..core.devices import describe_device, select_device

    return f"All Python packages are installed. Compute device: {describe_device(select_device('auto'))}"
