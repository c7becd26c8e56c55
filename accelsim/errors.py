"""Errors a user can cause, each rendered as one clear message (the CLI exits with code 2).

A rendered :class:`ConfigError` message is bounded (:data:`MAX_MESSAGE` characters): the
value it got, a file name or a key path taken from the input cannot make it longer, however
large they are (a YAML alias bomb once produced a 2 GB error line).
"""

from __future__ import annotations

import reprlib
from collections.abc import Iterable

#: Longest rendered ConfigError message, in characters.
MAX_MESSAGE = 500
#: Longest rendering of the value a ConfigError got, and of its file and key path.
MAX_GOT = 160
MAX_WHERE = 200
ELLIPSIS = "\u2026"

_REPR = reprlib.Repr()
_REPR.maxlevel = 3
_REPR.maxstring = _REPR.maxother = MAX_GOT
_REPR.maxlist = _REPR.maxtuple = _REPR.maxset = _REPR.maxfrozenset = _REPR.maxdict = 12


def clip(text: str, limit: int, keep_end: bool = False) -> str:
    """``text`` cut to at most ``limit`` characters, the cut marked by an ellipsis (at the
    start when ``keep_end``: the informative end of a path)."""
    if len(text) <= limit:
        return text
    return ELLIPSIS + text[-(limit - 1):] if keep_end else text[:limit - 1] + ELLIPSIS


def bounded_repr(value: object, limit: int = MAX_GOT) -> str:
    """``repr(value)`` in at most ``limit`` characters, computed without rendering all of a
    huge or deeply shared value (strings and bytes are cut before ``repr``, containers show
    their first items and levels)."""
    if isinstance(value, (str, bytes)):
        return clip(repr(value[:limit]), limit)  # longer than limit when value is cut
    try:
        text = _REPR.repr(value)
    except ValueError:  # an integer too long to convert to decimal, inside value
        text = f"<{type(value).__name__} too large to show>"
    return clip(text, limit)


class AccelsimError(Exception):
    """Base of every error that is the user's input rather than a bug."""


class ConfigError(AccelsimError):
    """A hwconfig (or any YAML input) that does not validate.

    The message names the file, the dotted key path, what was expected and, where the
    value is one of a closed set, the valid choices.
    """

    def __init__(self, file: str, key_path: str, expected: str,
                 choices: Iterable[str] | None = None, got: object = None) -> None:
        self.file = str(file)
        self.key_path = key_path
        self.expected = expected
        self.choices = sorted(choices) if choices is not None else None
        self.got = got
        super().__init__(self._render())

    def _render(self) -> str:
        file = clip(self.file, MAX_WHERE, keep_end=True)
        where = f"{file}: {clip(str(self.key_path), MAX_WHERE)}" if self.key_path else file
        text = f"{where}: expected {self.expected}"
        if self.got is not None:
            text += f", got {bounded_repr(self.got)}"
        if self.choices:
            text += self._choices_text(MAX_MESSAGE - len(text))
        return clip(text, MAX_MESSAGE)

    def _choices_text(self, room: int) -> str:
        """`` (valid choices: a, b, ...)``, as many choices as fit in ``room`` characters and
        how many more there are."""
        shown = list(self.choices)
        while True:
            more = len(self.choices) - len(shown)
            tail = f", ... and {more} more" if more else ""
            text = f" (valid choices: {', '.join(shown)}{tail})"
            if len(text) <= room or len(shown) <= 1:
                return text
            shown.pop()


class OutputError(ConfigError):
    """An output path that could cost the user a file or cannot be written, or a write that
    failed (nothing was replaced: any earlier file is unchanged)."""


class WorkloadError(ConfigError):
    """A workload (zoo name, YAML or CSV file) that is malformed or unknown."""


class SimulationError(AccelsimError):
    """A simulation that cannot finish: deadlock, violated invariant, capacity overflow."""
