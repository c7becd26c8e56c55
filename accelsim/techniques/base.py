"""The technique interface: optional hooks that change what an op does on the hardware.

A technique is a class registered in :data:`TECHNIQUES` under a name, with its own pydantic
``Params``. Its hooks default to doing nothing, so a technique overrides only what it needs:

* ``attach(system, workload)``: once before the run; may return a rewritten workload;
* ``transform(op, plan)``: per op, may return a changed :class:`TilePlan` (drop or shorten
  tiles, count skipped MACs in ``plan.macs_skipped``);
* ``on_complete(op, record, now)``: when an op finishes;
* ``finalize(stats)``: once at the end; may add its own figures to the nested stats dict.

Third parties register through the entry-point group ``accelsim.technique``.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from accelsim.registry import Registry


class TechniqueParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Technique:
    """Base class: every hook is a no-op."""

    name = "technique"
    Params = TechniqueParams

    def __init__(self, params: TechniqueParams | None = None) -> None:
        self.params = params or self.Params()

    def attach(self, system, workload):
        return workload

    def transform(self, op, plan):
        return plan

    def on_complete(self, op, record, now) -> None:
        return None

    def finalize(self, stats: dict) -> None:
        return None


TECHNIQUES: Registry[type[Technique]] = Registry("technique")
