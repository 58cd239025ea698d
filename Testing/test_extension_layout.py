"""The extension as Slicer's build and the Extensions Index see it, checked without a Slicer build.

* CMake is configured against ``Testing/SlicerStub`` (a stand-in SDK whose macros fail on missing files and record
  what they would install), so the real CMake files are evaluated, not pattern-matched.
* Module files are parsed: every ``self.ui.<name>`` exists in the ``.ui``, every ``SlicerParameterName`` is a
  parameter of the module's parameter node, Logic classes stay GUI-free, and file scope imports nothing heavy.
"""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest
from conftest import REPOSITORY

MODULES = ("ActiveSeg", "OneSliceSeg")
# What a Slicer module file may import at file scope (the Index's review asks exactly this).
FILE_SCOPE_IMPORTS = {"logging", "os", "pathlib", "typing", "types", "enum", "dataclasses",
                      "slicer", "vtk", "qt", "ctk"}


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> list[tuple[str, str, str]]:
    cmake = shutil.which("cmake")
    if cmake is None:
        pytest.skip("cmake is not installed")
    build = tmp_path_factory.mktemp("cmake-build")
    result = subprocess.run([cmake, "-S", str(REPOSITORY), "-B", str(build),
                             f"-DSlicer_DIR={REPOSITORY / 'Testing' / 'SlicerStub'}"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = (build / "slicer-stub-install.txt").read_text().splitlines()
    return [tuple(line.split("|", 2)) for line in lines]


def _records(installed, kind):
    return [(destination, source) for k, destination, source in installed if k == kind]


def test_package_installs_whole_and_alone_into_the_scripted_modules_folder(installed):
    scripts = _records(installed, "script")
    package = {source for destination, source in scripts if source.startswith("sparselabel/")}
    on_disk = {p.relative_to(REPOSITORY).as_posix() for p in (REPOSITORY / "sparselabel").rglob("*.py")}
    assert package == on_disk  # every package file, and nothing but package files (no tests, no packaging)
    for destination, source in scripts:
        if source.startswith("sparselabel/"):
            assert destination.endswith("qt-scripted-modules/" + source)
    # The shipped network and its description travel with the package, into the same folders.
    resources = {source for _, source in _records(installed, "resource") if source.startswith("sparselabel/")}
    assert resources == {p.relative_to(REPOSITORY).as_posix() for p in (REPOSITORY / "sparselabel").rglob("*")
                         if p.is_file() and p.suffix not in (".py", ".pyc")}
    assert "sparselabel/propagation/shipped/propagator.pt" in resources
    # The module factory registers every top-level .py of that folder as a module: only the two modules are there.
    top_level = {Path(d).name for d, _ in scripts if Path(d).parent.name == "qt-scripted-modules"}
    assert top_level == {f"{m}.py" for m in MODULES}


@pytest.mark.parametrize("module", MODULES)
def test_every_module_file_is_listed_and_tested(installed, module):
    listed = {source for k, _, source in installed if k in ("script", "resource")}
    on_disk = {p.relative_to(REPOSITORY).as_posix() for p in (REPOSITORY / module).rglob("*")
               if p.is_file() and p.name != "CMakeLists.txt" and "__pycache__" not in p.parts}
    assert on_disk <= listed, f"not listed in {module}/CMakeLists.txt: {sorted(on_disk - listed)}"
    assert {f"{module}/Resources/Icons/{module}.png", f"{module}/Resources/UI/{module}.ui"} <= on_disk
    assert ("generic-test", module, "") in installed
    assert (f"tests/{module}.py", f"{module}/{module}.py") in _records(installed, "unittest")


def test_extension_metadata_matches_the_index_entry(installed):
    metadata = {name: value for kind, name, value in installed if kind == "metadata"}
    assert metadata["PROJECT_NAME"] == "SparseLabel"
    assert not metadata["PROJECT_NAME"].startswith("Slicer")  # the Index refuses extension names with the prefix
    assert metadata["EXTENSION_CATEGORY"] == "Segmentation"
    assert metadata["EXTENSION_DEPENDS"] == "PyTorch"
    entry = json.loads((REPOSITORY / f"{metadata['PROJECT_NAME']}.json").read_text())
    assert entry["category"] == metadata["EXTENSION_CATEGORY"]
    assert entry["build_dependencies"] == metadata["EXTENSION_DEPENDS"].split()
    assert entry["scm_url"] == metadata["EXTENSION_HOMEPAGE"]
    assert Path(entry["scm_url"]).name.startswith("Slicer")  # ... and repository names without it
    for url in (metadata["EXTENSION_ICONURL"], *metadata["EXTENSION_SCREENSHOTURLS"].split()):
        local = REPOSITORY / url.split("/main/", 1)[1]
        assert local.is_file() and local.read_bytes().startswith(b"\x89PNG"), url
    assert "Apache License" in (REPOSITORY / "LICENSE").read_text()


def _module_tree(module: str) -> ast.Module:
    return ast.parse((REPOSITORY / module / f"{module}.py").read_text(), filename=f"{module}.py")


def _class(tree: ast.Module, name: str) -> ast.ClassDef:
    return next(node for node in tree.body if isinstance(node, ast.ClassDef) and node.name == name)


def _ui_widgets(module: str) -> dict[str, ElementTree.Element]:
    root = ElementTree.parse(REPOSITORY / module / "Resources" / "UI" / f"{module}.ui").getroot()
    return {w.get("name"): w for w in root.iter("widget")}


@pytest.mark.parametrize("module", MODULES)
def test_module_classes_follow_slicer_naming(module):
    tree = _module_tree(module)
    names = {node.name for node in tree.body if isinstance(node, ast.ClassDef)}
    assert {module, f"{module}Widget", f"{module}Logic", f"{module}Test", f"{module}ParameterNode"} <= names
    source = ast.get_source_segment((REPOSITORY / module / f"{module}.py").read_text(), _class(tree, module))
    for attribute in ("title", "categories", "contributors", "helpText", "acknowledgementText"):
        assert f"self.parent.{attribute} =" in source


@pytest.mark.parametrize("module", MODULES)
def test_every_ui_name_the_widget_uses_exists(module):
    tree = _module_tree(module)
    used = {node.attr for node in ast.walk(tree)
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute)
            and node.value.attr == "ui" and isinstance(node.value.value, ast.Name) and node.value.value.id == "self"}
    assert used, "the widget uses no ui elements?"
    missing = used - set(_ui_widgets(module))
    assert not missing, f"{module}.ui has no widget named {sorted(missing)}"


@pytest.mark.parametrize("module", MODULES)
def test_ui_parameters_are_parameters_of_the_parameter_node(module):
    parameters = {node.target.id for node in _class(_module_tree(module), f"{module}ParameterNode").body
                  if isinstance(node, ast.AnnAssign)}
    bound = set()
    for widget in _ui_widgets(module).values():
        for prop in widget.findall("property"):
            if prop.get("name") == "SlicerParameterName":
                bound.add(prop.findtext("string"))
    assert bound and bound <= parameters, f"unknown parameters in {module}.ui: {sorted(bound - parameters)}"


@pytest.mark.parametrize("module", MODULES)
def test_logic_is_gui_free_and_setup_needs_no_main_window(module):
    path = REPOSITORY / module / f"{module}.py"
    text = path.read_text()
    tree = _module_tree(module)
    logic = ast.get_source_segment(text, _class(tree, f"{module}Logic"))
    for gui in ("qt.", "ctk.", "self.ui", "layoutManager", "Display(", "slicer.app"):
        assert gui not in logic, f"{module}Logic uses {gui!r}"
    widget = _class(tree, f"{module}Widget")
    setup = next(f for f in widget.body if isinstance(f, ast.FunctionDef) and f.name == "setup")
    # Under --no-main-window (Slicer's generic module test) there is no layout manager.
    assert "layoutManager" not in ast.get_source_segment(text, setup)


@pytest.mark.parametrize("module", MODULES)
def test_file_scope_imports_only_what_slicer_ships(module):
    for node in _module_tree(module).body:
        if isinstance(node, ast.Import):
            roots = {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            roots = {(node.module or "").split(".")[0]}
        else:
            continue
        assert roots <= FILE_SCOPE_IMPORTS, f"{module}.py imports {roots - FILE_SCOPE_IMPORTS} at file scope"
