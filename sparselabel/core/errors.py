"""Errors that describe a problem with what the user gave us, not a bug in SparseLabel.

The command line prints these as one line and exits non-zero without a traceback; the Slicer modules show them in
an error dialog. Anything else that escapes is a bug and keeps its traceback.
"""


class UserInputError(Exception):
    """Bad input: names the file or parameter and says what was expected instead."""


class CancelledError(Exception):
    """Long work was cancelled by the user; whatever it was about to change is left as it was."""
