"""``--numerics NAME[:KEY=VALUE,...]``: which emulation and its validated parameters
(a bad name or value is an error before any training starts)."""

from __future__ import annotations

from dataclasses import dataclass

from accelsim.errors import ConfigError
from accelsim.techniques.chain import TechniqueSpec
from accelsim.validation import printable


@dataclass(frozen=True)
class NumericsSpec(TechniqueSpec):
    """A technique's numerics emulation by name with its parameters: parsed, written and
    validated as a ``--technique`` is, against the emulation's ``Params``."""

    source: str = "--numerics"

    @classmethod
    def parse(cls, text: str, source: str = "--numerics") -> NumericsSpec:
        """``name`` or ``name:key=value,key=value`` (values read as ``--technique`` reads
        them)."""
        return cls(*cls.split(text, source), source)

    @property
    def technique_class(self):
        """The registered emulation of this name (what :meth:`validated` checks against)."""
        from accelsim.trace.numerics import NUMERICS, load_builtin

        load_builtin()
        found = NUMERICS.get(self.name)
        if found is None:
            raise ConfigError(self.source, printable(self.name) or "(empty)",
                              "a technique with a numerics emulation", choices=NUMERICS.names())
        return found

    numerics_class = technique_class
