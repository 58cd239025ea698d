"""The package's rooms and who may import whom, read from the source (see ``sparselabel/__init__.py``).

``core`` imports none of the others; ``propagation`` and ``selection`` import ``core`` only, never each other and
never ``slicer``; ``slicer`` may import all three; the command line (``cli``) all three but ``slicer``. Only
``sparselabel/slicer/`` names Slicer, and even there only inside functions, so that the whole package imports
without Slicer. The Slicer module files reach the package
through ``sparselabel.slicer``, ``sparselabel.core`` and the entry points of their own workflow. Every import counts,
the ones inside functions too: a deferred import is still a dependency.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPOSITORY

ROOMS = ("core", "propagation", "selection", "slicer", "cli")
MAY_IMPORT = {
    "core": {"core"},
    "propagation": {"core", "propagation"},
    "selection": {"core", "selection"},
    "slicer": {"core", "propagation", "selection", "slicer"},
    "cli": {"core", "propagation", "selection", "cli"},
    "__main__": {"cli"},
}
SLICER_NAMES = {"slicer", "qt", "ctk", "vtk"}
# What each Slicer module file may import from the package beyond sparselabel.slicer and sparselabel.core: the
# entry points of its own workflow.
MODULE_ENTRY_POINTS = {
    "ActiveSeg": {"sparselabel.selection.ranking", "sparselabel.selection.cohort_state"},
    "OneSliceSeg": {"sparselabel.propagation.one_slice", "sparselabel.propagation.training",
                    "sparselabel.propagation.checkpoint", "sparselabel.propagation.adapted_networks"},
}


def _module_name(package_root: Path, path: Path) -> str:
    parts = path.relative_to(package_root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, module: str, is_package: bool = False) -> list[tuple[str, bool]]:
    """Every module ``path`` imports, as absolute dotted names, each with whether it is imported at file scope.

    ``from a import b`` counts ``a.b`` when ``b`` is a module; resolving that needs the tree, so both ``a`` and
    ``a.b`` are returned and the caller keeps the ones that exist.
    """
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if is_package else module.rpartition(".")[0]
    found = []
    file_scope = {id(node) for node in tree.body}
    for node in tree.body:  # statements under a file-scope if/try are file scope too
        if isinstance(node, ast.If | ast.Try):
            file_scope |= {id(child) for child in ast.walk(node)}
    for node in ast.walk(tree):
        at_file_scope = id(node) in file_scope
        if isinstance(node, ast.Import):
            found += [(alias.name, at_file_scope) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.append((target, at_file_scope))
            found += [(f"{target}.{alias.name}", at_file_scope) for alias in node.names]
    return found


def package_modules(package_root: Path) -> dict[str, Path]:
    return {_module_name(package_root, p): p for p in sorted(package_root.rglob("*.py"))}


def violations(package_root: Path) -> list[str]:
    """What breaks the rules of the house in the package at ``package_root``, one line each."""
    modules = package_modules(package_root)
    problems = []
    for name, path in modules.items():
        parts = name.split(".")
        room = parts[1] if len(parts) > 1 else None  # None: the package root, which holds only the version
        for target, at_file_scope in imports_of(path, name, path.name == "__init__.py"):
            top = target.split(".")[0]
            if top in SLICER_NAMES and at_file_scope:
                problems.append(f"{name} imports {target} at file scope (Slicer is imported inside functions)")
            if top in SLICER_NAMES and room != "slicer":
                problems.append(f"{name} imports {target}: only sparselabel.slicer may name Slicer")
            target_parts = target.split(".")
            if target not in modules or len(target_parts) == 1:
                continue  # another package, or the package root (its version)
            if room not in MAY_IMPORT or target_parts[1] not in MAY_IMPORT[room]:
                allowed = sorted(MAY_IMPORT.get(room, ()))
                problems.append(f"{name} imports {target}: {room or 'the package root'} may import only {allowed}")
    return problems


def import_cycles(package_root: Path) -> list[list[str]]:
    """Circles of modules importing each other (deferred imports included)."""
    modules = package_modules(package_root)
    graph = {name: sorted({t for t, _ in imports_of(path, name, path.name == "__init__.py")
                           if t in modules and t != name and not name.startswith(t + ".")
                           and t != name.rpartition(".")[0]})
             for name, path in modules.items()}
    cycles, state = [], {}

    def visit(node, trail):
        state[node] = "open"
        for successor in graph[node]:
            if state.get(successor) == "open":
                cycles.append([*trail[trail.index(successor):], successor])
            elif successor not in state:
                visit(successor, [*trail, successor])
        state[node] = "done"

    for name in graph:
        if name not in state:
            visit(name, [name])
    return cycles


def test_every_file_of_the_package_lives_in_a_room():
    package = REPOSITORY / "sparselabel"
    assert {p.name for p in package.glob("*.py")} == {"__init__.py", "__main__.py"}
    rooms = {p.name for p in package.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert set(ROOMS) <= rooms
    for room in rooms:
        docstring = ast.get_docstring(ast.parse((package / room / "__init__.py").read_text(encoding="utf-8")))
        says = docstring and "import" in docstring.lower() and all(r in docstring for r in MAY_IMPORT[room] - {room})
        assert says, f"sparselabel/{room}/__init__.py says what it may import"


def test_the_package_keeps_the_rules_of_the_house():
    assert violations(REPOSITORY / "sparselabel") == []


def test_no_two_modules_import_each_other():
    assert import_cycles(REPOSITORY / "sparselabel") == []


def _write(root: Path, relative: str, text: str) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


@pytest.mark.parametrize(("relative", "text", "expected"), [
    ("propagation/walk.py", "from ..selection import ranking\n", "propagation may import only"),
    ("propagation/walk.py", "def f():\n    from sparselabel.selection.ranking import rank_cohort\n",
     "propagation may import only"),
    ("core/io.py", "from ..propagation.walk import propagate\n", "core may import only"),
    ("selection/ranking.py", "import slicer\n", "only sparselabel.slicer may name Slicer"),
    ("slicer/mrml.py", "import slicer\n", "at file scope"),
])
def test_the_rules_catch_a_module_that_breaks_them(tmp_path, relative, text, expected):
    package = tmp_path / "sparselabel"
    for room in ROOMS:
        _write(package, f"{room}/__init__.py", '"""A room."""\n')
    _write(package, "__init__.py", "")
    for module in ("propagation/walk.py", "selection/ranking.py", "core/io.py", "slicer/mrml.py"):
        _write(package, module, "")
    assert violations(package) == []
    _write(package, relative, text)
    assert any(expected in line for line in violations(package)), violations(package)


def test_the_cycle_check_finds_a_circle(tmp_path):
    package = tmp_path / "sparselabel"
    _write(package, "__init__.py", "")
    _write(package, "selection/__init__.py", "")
    _write(package, "selection/embedders.py", "def f():\n    from . import foundation_embedders\n")
    _write(package, "selection/foundation_embedders.py", "from .embedders import get_embedder\n")
    assert import_cycles(package) == [["sparselabel.selection.embedders", "sparselabel.selection.foundation_embedders",
                                       "sparselabel.selection.embedders"]]


@pytest.mark.parametrize("module", sorted(MODULE_ENTRY_POINTS))
def test_slicer_modules_reach_the_science_only_through_its_entry_points(module):
    path = REPOSITORY / module / f"{module}.py"
    modules = package_modules(REPOSITORY / "sparselabel")
    used = {target for target, _ in imports_of(path, module) if target in modules}
    allowed = MODULE_ENTRY_POINTS[module]
    wrong = {t for t in used if not t.startswith(("sparselabel.slicer", "sparselabel.core")) and t not in allowed
             and t not in {"sparselabel", "sparselabel.propagation", "sparselabel.selection"}}
    assert wrong == set()


def _imported_after(modules) -> list[str]:
    code = ("import sys\n" + "".join(f"import {m}\n" for m in modules)
            + "print(' '.join(sorted(m for m in ('slicer', 'qt', 'ctk', 'vtk', 'torch', 'monai', 'matplotlib') "
              "if m in sys.modules)))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPOSITORY, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def test_importing_any_module_of_the_package_imports_no_slicer_or_qt():
    modules = sorted(m for m in package_modules(REPOSITORY / "sparselabel") if m != "sparselabel.__main__")
    assert not set(_imported_after(modules)) & SLICER_NAMES


# What a Slicer panel or the command line touch before any heavy work: they must not pull torch in.
LIGHT_MODULES = ("sparselabel.cli", "sparselabel.core.atomic", "sparselabel.core.devices", "sparselabel.core.errors",
                 "sparselabel.core.image", "sparselabel.core.io", "sparselabel.core.metrics",
                 "sparselabel.core.palette", "sparselabel.core.phantoms", "sparselabel.core.figures",
                 "sparselabel.slicer.dependencies", "sparselabel.slicer.mrml", "sparselabel.slicer.panel_jobs")


def test_light_modules_do_not_import_torch():
    assert _imported_after(LIGHT_MODULES) == []
