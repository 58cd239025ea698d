"""Path fields that may be left empty: ``Optional[pathlib.Path]`` panel parameters shown in a ``ctkPathLineEdit``.

Slicer's parameter-node wrapper connects a ``pathlib.Path`` parameter to a ``ctkPathLineEdit``, but an unset path is
``Path()``, which the field shows as ".". An ``Optional[pathlib.Path]`` parameter is None while unset; the connector
registered here shows None as an empty field, and an emptied field sets the parameter back to None.
"""

from __future__ import annotations

import pathlib
import typing

OPTIONAL_PATH = typing.Optional[pathlib.Path]  # noqa: UP045 (the form the wrapper compares with)


def path_from_field(text: str) -> pathlib.Path | None:
    """What a field's text means: None when it is empty (or only blanks), else the path typed or chosen."""
    text = text.strip()
    return pathlib.Path(text) if text else None


def field_from_path(path: pathlib.Path | None) -> str:
    """What a field shows for a parameter: nothing for None."""
    return "" if path is None else str(path)


_registered = False


def register_optional_path_connector() -> None:
    """Teach the parameter-node wrapper to connect ``Optional[pathlib.Path]`` to ``ctkPathLineEdit`` (once: both
    modules call this when they are imported)."""
    global _registered
    if _registered:
        return
    import ctk
    import qt
    from slicer.parameterNodeWrapper import GuiConnector, parameterNodeGuiConnector, unannotatedType

    @parameterNodeGuiConnector
    class OptionalPathLineEditConnector(GuiConnector):
        @staticmethod
        def canRepresent(widget, datatype) -> bool:
            return type(widget) is ctk.ctkPathLineEdit and unannotatedType(datatype) == OPTIONAL_PATH

        @staticmethod
        def create(widget, datatype):
            return OptionalPathLineEditConnector(widget) if OptionalPathLineEditConnector.canRepresent(
                widget, datatype) else None

        def __init__(self, widget) -> None:
            super().__init__()
            self._widget = widget
            # The field reports only acceptable paths, never its emptying: that comes from its line edit.
            line_edits = widget.findChildren(qt.QLineEdit)
            self._lineEdit = line_edits[0] if line_edits else None

        def _connect(self) -> None:
            self._widget.currentPathChanged.connect(self.changed)
            if self._lineEdit is not None:
                self._lineEdit.textChanged.connect(self._textChanged)

        def _disconnect(self) -> None:
            self._widget.currentPathChanged.disconnect(self.changed)
            if self._lineEdit is not None:
                self._lineEdit.textChanged.disconnect(self._textChanged)

        def _textChanged(self, text: str) -> None:
            if path_from_field(text) is None:
                self.changed()

        def widget(self):
            return self._widget

        def read(self) -> pathlib.Path | None:
            return path_from_field(self._widget.currentPath)

        def write(self, value: pathlib.Path | None) -> None:
            self._widget.currentPath = field_from_path(value)

    _registered = True
