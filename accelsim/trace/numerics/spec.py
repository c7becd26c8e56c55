"""``--numerics NAME[:KEY=VALUE,...]``: which emulation and its validated parameters
(a bad name or value is an error before any training starts)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

from accelsim.errors import ConfigError
from accelsim.techniques.chain import TechniqueSpec
from accelsim.validation import printable, validate


@dataclass(frozen=True)
class NumericsSpec:
    name: str
    params: Mapping[str, object] = field(default_factory=dict)
    source: str = "--numerics"

    @classmethod
    def parse(cls, text: str, source: str = "--numerics") -> NumericsSpec:
        """``name`` or ``name:key=value,key=value`` (values read as ``--technique`` reads
        them)."""
        name, params = TechniqueSpec.split(text, source)
        spec = cls(name, params, source)
        spec.validated()
        return spec

    @property
    def numerics_class(self):
        from accelsim.trace.numerics import NUMERICS, load_builtin

        load_builtin()
        found = NUMERICS.get(self.name)
        if found is None:
            raise ConfigError(self.source, printable(self.name) or "(empty)",
                              "a technique with a numerics emulation", choices=NUMERICS.names())
        return found

    def validated(self):
        return validate(self.numerics_class.Params, dict(self.params),
                        printable(f"{self.source} {self.text}"), key_prefix=self.name,
                        key_types=True)

    @property
    def text(self) -> str:
        if not self.params:
            return self.name
        return self.name + ":" + ",".join(f"{k}={v}" for k, v in self.params.items())
