"""The one place that calls technique hooks, in the order the run names the techniques."""

from __future__ import annotations

from collections.abc import Iterable

from accelsim.errors import ConfigError
from accelsim.techniques.base import TECHNIQUES, Technique


class TechniqueChain:
    def __init__(self, techniques: Iterable[Technique] = ()) -> None:
        self.techniques = list(techniques)

    @classmethod
    def from_names(cls, names: Iterable[str]) -> TechniqueChain:
        chosen = []
        for name in names:
            technique_class = TECHNIQUES.get(name)
            if technique_class is None:
                raise ConfigError("--technique", name, "a registered technique",
                                  choices=TECHNIQUES.names() or ["(none registered)"])
            chosen.append(technique_class())
        return cls(chosen)

    @property
    def names(self) -> list[str]:
        return [t.name for t in self.techniques]

    def attach(self, system, workload):
        for technique in self.techniques:
            workload = technique.attach(system, workload)
        return workload

    def transform(self, op, plan):
        for technique in self.techniques:
            plan = technique.transform(op, plan)
        return plan

    def on_complete(self, op, record, now) -> None:
        for technique in self.techniques:
            technique.on_complete(op, record, now)

    def finalize(self, stats: dict) -> None:
        for technique in self.techniques:
            technique.finalize(stats)
