"""Technique specs (a name and parameters) and the chain: the one place that calls technique hooks.

A :class:`TechniqueSpec` is what a run names: ``ant`` or ``ant:granularity=row,
comparator_energy_pj=0.2`` on the command line, or ``{name: ant, params: {...}}`` in a run spec.
Its parameters are validated against the technique's ``Params`` when the spec is made, so a bad
name or value fails before any simulation (a NaN or infinite number too). A run names each
technique at most once (:func:`check_unique`): a chain holds one instance of each, whose
figures are reported under its name. :meth:`TechniqueChain.start` makes a fresh instance
of every technique for one run and refuses a technique named on a PE-array kind it does not
apply to. The chain calls the hooks in the order the run names the techniques, checks the tile
plan after every ``transform``, and gathers the techniques' energy and area.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from accelsim.context import RunContext
from accelsim.errors import ConfigError
from accelsim.techniques.base import TECHNIQUES, Technique, TechniqueParams
from accelsim.validation import printable, validate

#: Longest integer a command-line parameter is read as (longer digits stay text).
_MAX_INT_DIGITS = 100


def parse_scalar(text: str) -> object:
    """A command-line parameter value: an integer (at most 100 digits), a number (``nan`` and
    ``inf`` too, which every technique then refuses by name), true/false, or the text
    itself."""
    lowered = text.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    kinds = (int, float) if len(text) <= _MAX_INT_DIGITS + 2 else (float,)
    for kind in kinds:
        try:
            return kind(text)
        except ValueError:
            continue
    return text.strip()


def check_unique(specs: Sequence[TechniqueSpec]) -> None:
    """Refuse a technique named twice in one run (one instance of each per chain)."""
    first: dict[str, TechniqueSpec] = {}
    for spec in specs:
        if spec.name in first:
            earlier = first[spec.name].source
            file, _, where = earlier.partition(": ")
            if where and spec.source.startswith(f"{file}: "):
                earlier = where  # "techniques[0]", not the file again
            raise ConfigError(spec.source, "", f"each technique at most once in a run, got "
                              f"{spec.name!r} again (first: {earlier})")
        first[spec.name] = spec


@dataclass(frozen=True)
class TechniqueSpec:
    """A technique by name with its (validated) parameters; ``source`` says where it was
    written, for error messages."""

    name: str
    params: Mapping[str, object] = field(default_factory=dict)
    source: str = "--technique"

    def __post_init__(self) -> None:
        self.validated()  # a bad name or parameter is an error now, not mid-run

    @classmethod
    def parse(cls, text: str, source: str = "--technique") -> TechniqueSpec:
        """``name`` or ``name:key=value,key=value``."""
        return cls(*cls.split(text, source), source)

    @staticmethod
    def split(text: str, source: str = "--technique") -> tuple[str, dict[str, object]]:
        """The name and the parameters of ``name:key=value,...``, not yet validated."""
        name, _, rest = text.partition(":")
        params: dict[str, object] = {}
        for item in filter(None, (part.strip() for part in rest.split(","))):
            key, sep, value = item.partition("=")
            if not sep or not key.strip():
                raise ConfigError(printable(f"{source} {text}"), printable(name.strip()),
                                  "parameters written as key=value, separated by commas",
                                  got=item)
            params[key.strip()] = parse_scalar(value)
        return name.strip(), params

    @property
    def technique_class(self) -> type[Technique]:
        technique_class = TECHNIQUES.get(self.name)
        if technique_class is None:
            raise ConfigError(self.source, printable(self.name) or "(empty)",
                              "a registered technique",
                              choices=TECHNIQUES.names() or ["(none registered)"])
        return technique_class

    def validated(self) -> TechniqueParams:
        return validate(self.technique_class.Params, dict(self.params),
                        printable(f"{self.source} {self.text}"), key_prefix=self.name,
                        key_types=True)

    @property
    def text(self) -> str:
        """The spec as the command line writes it."""
        if not self.params:
            return self.name
        return self.name + ":" + ",".join(f"{k}={v}" for k, v in self.params.items())

    def as_dict(self) -> dict:
        """Name and every parameter, defaults included (for results)."""
        return {"name": self.name, "params": self.validated().model_dump(mode="json")}


class TechniqueChain:
    """The techniques of one run, fresh instances in the order named (module docstring)."""

    def __init__(self, techniques: Iterable[Technique] = ()) -> None:
        self.techniques = list(techniques)

    @classmethod
    def start(cls, specs: Iterable[TechniqueSpec], ctx: RunContext) -> TechniqueChain:
        specs = list(specs)
        check_unique(specs)
        kind = ctx.system.pe_array.name
        chosen = []
        for spec in specs:
            technique_class = spec.technique_class
            kinds = technique_class.applies_to
            if kinds is not None and kind not in kinds:
                raise ConfigError(f"{spec.source} {spec.text}", spec.name,
                                  f"a PE-array kind it applies to, not {kind} (hwconfig "
                                  f"{ctx.system.config.source})", choices=kinds)
            chosen.append(technique_class(spec.validated(), ctx))
        return cls(chosen)

    @property
    def names(self) -> list[str]:
        return [t.name for t in self.techniques]

    def attach(self, workload):
        """Let each technique rewrite the workload; afterwards every technique's context holds
        the final workload."""
        for technique in self.techniques:
            workload = technique.attach(workload)
        for technique in self.techniques:
            technique.ctx = technique.ctx.with_workload(workload)
        return workload

    def prepare(self, op):
        for technique in self.techniques:
            op = technique.prepare(op)
        return op

    def transform(self, op, plan):
        for technique in self.techniques:
            plan = technique.transform(op, plan)
            plan.check(op.name, op.macs, f"technique {technique.name}")
        return plan

    def on_complete(self, op, record, now) -> None:
        for technique in self.techniques:
            technique.on_complete(op, record, now)

    def finalize(self, stats: dict) -> None:
        for technique in self.techniques:
            technique.finalize(stats)

    def energy_pj(self) -> dict[str, dict[str, float]]:
        """pJ by action of each technique's own hardware, as ``technique.<name>``."""
        return {f"technique.{t.name}": t.energy_pj() for t in self.techniques}

    def area_mm2(self) -> dict[str, float]:
        return {t.name: t.area_mm2() for t in self.techniques}
