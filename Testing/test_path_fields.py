"""Path fields left empty stay empty: an unset path parameter is None and shows as nothing, never as ".".

Slicer's ``ctk`` and parameter-node wrapper are replaced by fakes with the same interface (slicer-core has neither).
"""

from __future__ import annotations

import pathlib
import sys
import types
import typing

import pytest

from sparselabel.slicer import path_fields


def test_empty_field_means_no_path_and_no_path_shows_nothing():
    assert path_fields.path_from_field("") is None
    assert path_fields.path_from_field("   ") is None
    assert path_fields.path_from_field("/data/cohort") == pathlib.Path("/data/cohort")
    assert path_fields.field_from_path(None) == ""
    assert path_fields.field_from_path(pathlib.Path("/data/cohort")) == str(pathlib.Path("/data/cohort"))
    assert str(pathlib.Path()) == "."  # what a plain Path parameter would show when unset


class _Signal:
    def __init__(self):
        self.slots = []

    def connect(self, slot):
        self.slots.append(slot)

    def disconnect(self, slot):
        self.slots.remove(slot)


@pytest.fixture
def fake_slicer(monkeypatch):
    registered = []
    ctk = types.ModuleType("ctk")
    qt = types.ModuleType("qt")

    class LineEdit:
        def __init__(self):
            self.textChanged = _Signal()

    class PathLineEdit:  # like CTK's: currentPathChanged only for an acceptable (non-empty) path
        def __init__(self):
            self.currentPath = ""
            self.currentPathChanged = _Signal()
            self.lineEdit = LineEdit()

        def findChildren(self, kind):  # noqa: N802 (Qt's name)
            return [self.lineEdit] if kind is LineEdit else []

        def type(self, text):  # what typing does: the line edit always reports, the field only real paths
            self.currentPath = text
            for slot in list(self.lineEdit.textChanged.slots):
                slot(text)
            if text:
                for slot in list(self.currentPathChanged.slots):
                    slot(text)

    qt.QLineEdit = LineEdit

    ctk.ctkPathLineEdit = PathLineEdit
    wrapper = types.ModuleType("slicer.parameterNodeWrapper")

    class GuiConnector:
        def __init__(self):
            self._callback = None

        def changed(self, *args):
            if self._callback:
                self._callback()

    wrapper.GuiConnector = GuiConnector
    wrapper.parameterNodeGuiConnector = lambda cls: registered.append(cls) or cls
    wrapper.unannotatedType = lambda t: typing.get_args(t)[0] if typing.get_origin(t) is typing.Annotated else t
    slicer = types.ModuleType("slicer")
    slicer.parameterNodeWrapper = wrapper
    for name, module in (("ctk", ctk), ("qt", qt), ("slicer", slicer), ("slicer.parameterNodeWrapper", wrapper)):
        monkeypatch.setitem(sys.modules, name, module)
    monkeypatch.setattr(path_fields, "_registered", False)
    return types.SimpleNamespace(registered=registered, PathLineEdit=PathLineEdit)


def test_the_connector_is_registered_once_and_maps_empty_to_none(fake_slicer):
    path_fields.register_optional_path_connector()
    path_fields.register_optional_path_connector()  # the second module changes nothing
    assert len(fake_slicer.registered) == 1
    connector_type = fake_slicer.registered[0]
    widget = fake_slicer.PathLineEdit()
    assert connector_type.canRepresent(widget, pathlib.Path | None)
    assert connector_type.canRepresent(widget, typing.Annotated[typing.Optional[pathlib.Path], "x"])  # noqa: UP045
    assert not connector_type.canRepresent(widget, pathlib.Path)  # Slicer's own connector keeps plain paths
    assert not connector_type.canRepresent(object(), pathlib.Path | None)

    connector = connector_type.create(widget, pathlib.Path | None)
    connector.write(None)
    assert widget.currentPath == ""
    assert connector.read() is None
    connector.write(pathlib.Path("/data/cohort"))
    assert widget.currentPath == str(pathlib.Path("/data/cohort"))
    widget.currentPath = ""  # the user empties the field
    assert connector.read() is None
    reads = []
    connector._callback = lambda: reads.append(connector.read())
    connector._connect()
    widget.type("/data/cohort")
    widget.type("")  # emptying the field sets the parameter back to None
    assert reads == [pathlib.Path("/data/cohort"), None]
    connector._disconnect()
    assert widget.currentPathChanged.slots == [] and widget.lineEdit.textChanged.slots == []
