"""Errors that describe a problem with what the user gave us, not a bug in SparseLabel.

The command line prints these as one line and exits non-zero without a traceback; the Slicer modules show them in
an error dialog. Anything else that escapes is a bug and keeps its traceback.
"""


class UserInputError(Exception):
    """Bad input: names the file or parameter and says what was expected instead."""


class CancelledError(Exception):
    """Long work was cancelled by the user; whatever it was about to change is left as it was."""


def brief(error: BaseException, limit: int = 160) -> str:
    """The first line of a library's error message, cut to ``limit`` characters: enough to name the problem inside
    one line of ours (PyTorch and ITK add paragraphs of advice that do not apply)."""
    lines = str(error).strip().splitlines()
    line = lines[0].strip() if lines else type(error).__name__
    return line if len(line) <= limit else line[: limit - 1] + "…"
