"""Dependencies inside Slicer: torch only through the PyTorch extension, never touching Slicer's own packages.

Slicer's Python is replaced here by recording fakes of exactly the calls the real ones receive.
"""

from __future__ import annotations

import sys
import types

import pytest

from sparselabel.core.errors import CancelledError, UserInputError
from sparselabel.slicer import dependencies


def test_check_reads_metadata_without_importing():
    numpy = dependencies.check("numpy>=1.0")
    assert numpy.satisfied and numpy.installed
    too_new = dependencies.check("numpy>=999")
    assert not too_new.satisfied and "too old (needs numpy>=999)" in too_new.describe()
    absent = dependencies.check("surely-not-a-package-sparselabel>=1")
    assert absent.installed is None and "missing" in absent.describe()
    assert dependencies.report()[0].name == "torch"


class FakeSlicer:
    """Stands in for ``slicer`` (and ``PyTorchUtils``) and records what SparseLabel asks of it."""

    def __init__(self, monkeypatch, tmp_path, version: str, confirm: bool = True, torch_result="torch module"):
        self.calls: list[tuple] = []
        slicer = types.ModuleType("slicer")
        slicer.util = types.SimpleNamespace(
            confirmOkCancelDisplay=lambda text, windowTitle=None: self.calls.append(("confirm", text)) or confirm,
            pip_install=lambda requirements: self.calls.append(("pip_install", requirements)),
            tempDirectory=lambda: str(tmp_path),
        )
        monkeypatch.setitem(sys.modules, "slicer", slicer)
        if version == "5.12":
            packaging = types.ModuleType("slicer.packaging")

            def pip_ensure(requirements, constraints=None, requester=None, prompt_install=True,
                           prompt_restart=True, skip_in_testing=True):
                self.calls.append(("pip_ensure", list(requirements), open(constraints).read().split(), requester))
                self.options = {"prompt_install": prompt_install, "prompt_restart": prompt_restart,
                                "skip_in_testing": skip_in_testing}
                if prompt_install and not confirm:
                    raise RuntimeError("User declined package installation")

            packaging.pip_ensure = pip_ensure
            slicer.packaging = packaging
            monkeypatch.setitem(sys.modules, "slicer.packaging", packaging)
        else:
            monkeypatch.setitem(sys.modules, "slicer.packaging", None)  # import fails, as on Slicer 5.10

        torch_utils = types.ModuleType("PyTorchUtils")

        class Logic:
            def installTorch(logic, askConfirmation, torchVersionRequirement):  # noqa: N805
                self.calls.append(("installTorch", askConfirmation, torchVersionRequirement))
                return torch_result

        torch_utils.PyTorchUtilsLogic = Logic
        monkeypatch.setitem(sys.modules, "PyTorchUtils", torch_utils)


def _pretend_missing(monkeypatch, names):
    real = dependencies.check

    def check(specifier):
        result = real(specifier)
        if result.name in names:
            return dependencies.Requirement(specifier, result.name, None, False)
        return result

    monkeypatch.setattr(dependencies, "check", check)


def test_nothing_happens_when_everything_is_installed(monkeypatch, tmp_path):
    fake = FakeSlicer(monkeypatch, tmp_path, "5.12")
    assert dependencies.ensure_in_slicer("OneSliceSeg") == []
    assert fake.calls == []


def test_torch_comes_from_the_pytorch_extension_with_confirmation(monkeypatch, tmp_path):
    fake = FakeSlicer(monkeypatch, tmp_path, "5.12")
    _pretend_missing(monkeypatch, {"torch", "monai"})
    installed = dependencies.ensure_in_slicer("OneSliceSeg")
    assert fake.calls[0] == ("installTorch", True, ">=2.3")
    kind, requirements, pins, requester = fake.calls[1]
    assert kind == "pip_ensure" and requirements == ["monai>=1.3"] and requester == "OneSliceSeg"
    assert any(p.startswith("numpy==") for p in pins) and any(p.startswith("SimpleITK==") for p in pins)
    assert installed == ["torch>=2.3", "monai>=1.3"]


def test_slicer_5_10_asks_first_and_pins_slicers_own_packages(monkeypatch, tmp_path):
    fake = FakeSlicer(monkeypatch, tmp_path, "5.10")
    _pretend_missing(monkeypatch, {"scikit-learn"})
    dependencies.ensure_in_slicer("ActiveSeg")
    assert fake.calls[0][0] == "confirm" and "scikit-learn>=1.3" in fake.calls[0][1]
    kind, arguments = fake.calls[1]
    assert kind == "pip_install" and arguments[0] == "scikit-learn>=1.3" and arguments[1] == "--constraint"
    pins = open(arguments[2]).read().split()
    assert any(p.startswith("numpy==") for p in pins)
    assert not any("torch" in str(a) for a in arguments)


@pytest.mark.parametrize("version", ["5.10", "5.12"])
def test_declining_changes_nothing(monkeypatch, tmp_path, version):
    fake = FakeSlicer(monkeypatch, tmp_path, version, confirm=False)
    _pretend_missing(monkeypatch, {"openTSNE"})
    with pytest.raises(CancelledError, match="declined"):
        dependencies.ensure_in_slicer("ActiveSeg")
    assert not any(call[0] == "pip_install" for call in fake.calls)


def test_declined_torch_install_is_a_cancel(monkeypatch, tmp_path):
    FakeSlicer(monkeypatch, tmp_path, "5.12", torch_result=None)
    _pretend_missing(monkeypatch, {"torch"})
    with pytest.raises(CancelledError, match="PyTorch installation was declined"):
        dependencies.ensure_in_slicer("OneSliceSeg")


def test_missing_pytorch_extension_says_what_to_install(monkeypatch, tmp_path):
    FakeSlicer(monkeypatch, tmp_path, "5.12")
    monkeypatch.setitem(sys.modules, "PyTorchUtils", None)
    _pretend_missing(monkeypatch, {"torch"})
    with pytest.raises(UserInputError, match="install 'PyTorch' from the Extensions Manager"):
        dependencies.ensure_in_slicer("OneSliceSeg")


@pytest.mark.parametrize("version", ["5.10", "5.12"])
def test_a_self_test_installs_without_asking_even_in_testing_mode(monkeypatch, tmp_path, version):
    fake = FakeSlicer(monkeypatch, tmp_path, version, confirm=False)  # nobody answers a question in a self-test
    _pretend_missing(monkeypatch, {"torch", "openTSNE"})
    assert dependencies.ensure_for_self_test("ActiveSeg") is None
    assert fake.calls[0] == ("installTorch", False, ">=2.3")
    assert not any(call[0] == "confirm" for call in fake.calls)
    if version == "5.12":
        assert fake.calls[1][:2] == ("pip_ensure", ["openTSNE>=1.0"])
        assert fake.options == {"prompt_install": False, "prompt_restart": False, "skip_in_testing": False}
    else:
        assert fake.calls[1][0] == "pip_install" and fake.calls[1][1][0] == "openTSNE>=1.0"


def test_a_self_test_without_the_pytorch_extension_is_skipped_with_the_reason(monkeypatch, tmp_path):
    fake = FakeSlicer(monkeypatch, tmp_path, "5.12")
    monkeypatch.setitem(sys.modules, "PyTorchUtils", None)
    _pretend_missing(monkeypatch, {"torch"})
    assert "install 'PyTorch' from the Extensions Manager" in dependencies.ensure_for_self_test("OneSliceSeg")
    assert fake.calls == []


def test_status_names_what_is_missing_or_the_device(monkeypatch):
    assert dependencies.status_text(include_device=True).endswith(")")
    assert "Compute device: " in dependencies.status_text(include_device=True)
    _pretend_missing(monkeypatch, {"monai"})
    text = dependencies.status_text(include_device=True)
    assert "monai: missing (needs monai>=1.3)" in text and "Compute device" not in text


def test_the_torch_floor_is_the_same_everywhere_and_has_every_api_used():
    from conftest import REPOSITORY
    from packaging.requirements import Requirement

    floor = Requirement(dependencies.TORCH_REQUIREMENT).specifier
    declared = (REPOSITORY / "pyproject.toml").read_text()
    assert f'"{dependencies.TORCH_REQUIREMENT}"' in declared  # the pip package and the Slicer set-up agree
    source = "".join(p.read_text() for p in (REPOSITORY / "sparselabel").rglob("*.py"))
    if "torch.amp.GradScaler(" in source:  # torch.amp.GradScaler(device) is in PyTorch 2.3 and later only
        assert not floor.contains("2.2.2") and floor.contains("2.3.0")


def test_scipy_numpy_simpleitk_and_vtk_are_slicers_own_and_matplotlib_is_never_asked_for():
    names = {r.split(">")[0].split("=")[0].lower() for r in dependencies.REQUIREMENTS}
    assert not names & {"numpy", "simpleitk", "scipy", "vtk", "matplotlib"}
    assert {"numpy", "SimpleITK", "scipy", "vtk"} <= set(dependencies.SLICER_PROVIDED)


def test_a_ranking_job_runs_without_matplotlib(tmp_path):
    import subprocess

    from conftest import write_scans

    cohort = write_scans(tmp_path / "cohort", per_group=2, size=48)
    code = ("import sys; sys.modules['matplotlib'] = None\n"  # as inside Slicer, where nobody installs it
            "from sparselabel.cli import main\n"
            f"sys.exit(main(['rank', {str(cohort)!r}, '--budget', '2', '--no-map', '--out', "
            f"{str(tmp_path / 'out')!r}]))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, encoding="utf-8", timeout=300)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out" / "ranking.csv").exists() and not (tmp_path / "out" / "map.png").exists()
