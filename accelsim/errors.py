"""Errors a user can cause, each rendered as one clear message (the CLI exits with code 2)."""

from __future__ import annotations

from collections.abc import Iterable


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
        where = f"{self.file}: {self.key_path}" if self.key_path else self.file
        text = f"{where}: expected {self.expected}"
        if self.got is not None:
            text += f", got {self.got!r}"
        if self.choices:
            text += f" (valid choices: {', '.join(self.choices)})"
        return text


class WorkloadError(ConfigError):
    """A workload (zoo name, YAML or CSV file) that is malformed or unknown."""


class SimulationError(AccelsimError):
    """A simulation that cannot finish: deadlock, violated invariant, capacity overflow."""
