"""The technique contract: a controller between the workload and the hardware.

A technique is a class registered in :data:`TECHNIQUES` under a name (built-ins in this package;
third parties through the entry-point group ``accelsim.technique``), with:

* ``Params``: its pydantic parameters (a :class:`TechniqueParams`; unknown keys are errors), each
  field with a default, a description and, in ``json_schema_extra={"unit": ...}``, its unit;
* ``applies_to``: the PE-array kinds it works on (None: any); naming it on another kind is an
  error, never a silent no-op;
* hooks, all optional (the defaults change nothing), called only by
  :class:`accelsim.techniques.chain.TechniqueChain` in the order the run names the techniques:

  - ``attach(workload) -> workload``: once before the run; may rewrite the graph;
  - ``prepare(op) -> op``: per op before lowering; may change its precision
    (:meth:`Op.with_precision`) or drop samples' work (:meth:`Op.with_samples`);
  - ``transform(op, plan) -> plan``: per op after lowering; may change the tile plan (shorten
    or drop tiles; dropped MACs go to ``macs_skipped``); the plan is checked after each
    technique;
  - ``on_complete(op, record, now)``: when an op finishes;
  - ``finalize(stats)``: once at the end; adds its figures under ``stats[name]``;
  - ``energy_pj() -> {action: pJ}`` and ``area_mm2()``: what the technique's own hardware
    costs, reported under ``energy_pj.by_component["technique.<name>"]`` and in the total.

A fresh instance is made for every run, with its validated parameters and the run's
:class:`~accelsim.context.RunContext` (``self.ctx``): no state leaks from one run to the next.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict

from accelsim.context import RunContext
from accelsim.registry import Registry


class TechniqueParams(BaseModel):
    """Base of every technique's parameters: unknown keys are errors, types are not coerced."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class Technique:
    """Base class: every hook changes nothing."""

    name: ClassVar[str] = "technique"
    Params: ClassVar[type[TechniqueParams]] = TechniqueParams
    description: ClassVar[str] = ""
    #: PE-array kinds the technique applies to (None: every kind)
    applies_to: ClassVar[tuple[str, ...] | None] = None

    def __init__(self, params: TechniqueParams, ctx: RunContext) -> None:
        self.params = params
        self.ctx = ctx

    def attach(self, workload):
        return workload

    def prepare(self, op):
        return op

    def transform(self, op, plan):
        return plan

    def on_complete(self, op, record, now) -> None:
        return None

    def finalize(self, stats: dict) -> None:
        return None

    def energy_pj(self) -> dict[str, float]:
        return {}

    def area_mm2(self) -> float:
        return 0.0


TECHNIQUES: Registry[type[Technique]] = Registry("technique")
