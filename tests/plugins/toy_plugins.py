"""A PE-array kind and a technique defined outside accelsim, as a third party would write them.

They join accelsim through the entry-point groups ``accelsim.pe_array`` and
``accelsim.technique`` (``accelsim_test_plugins-0.1.dist-info/entry_points.txt`` beside this
file); the tests put this folder on ``PYTHONPATH`` of a subprocess, so accelsim finds them
without being edited.

* ``toy_dot``: ``lanes`` multiply-accumulate units fed from the hwconfig's buffers; a GEMM is
  one tile of ``ceil(MACs / (lanes * packing))`` cycles, where int8 operands pack two per lane
  (so its cycles follow the op's precision). It reads A and B once and writes C once.
* ``skip_samples``: drops the backward work (GEMMs and vector ops) of a fraction of every batch
  (the batch axis), at a fixed decision energy per op it decides on.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from pydantic import Field

from accelsim.config.models import PEArrayParams
from accelsim.hw.kinds import PEArrayKind
from accelsim.plan import TilePlan
from accelsim.techniques.base import Technique, TechniqueParams


class ToyDotParams(PEArrayParams):
    kind: Literal["toy_dot"] = Field(description="PE-array kind")
    lanes: int = Field(gt=0, description="MAC units")


class ToyDotArray(PEArrayKind):
    name = "toy_dot"
    Params = ToyDotParams
    description = "lanes of MAC units, one tile per GEMM (a test plugin)"

    @property
    def pes(self) -> int:
        return self.params.lanes

    def lower(self, op, ctx) -> TilePlan:
        system = ctx.system
        gemm = op.issued_gemm
        element, _ = self.element_bytes(op)
        packing = 2 if self.precision(op).operand == "int8" else 1
        one = lambda value: np.array([value], dtype=np.int64)  # noqa: E731
        a = gemm.m * gemm.k * gemm.count * element
        b = gemm.k * gemm.n * gemm.count * element
        c = gemm.m * gemm.n * gemm.count * element
        buffers = system.buffer_of_role
        return TilePlan.build(
            "pe_array", compute_cycles=one(math.ceil(gemm.macs / (self.pes * packing))),
            macs=one(gemm.macs), load_visits=np.ones(1), store_visits=np.ones(1),
            load_channels=np.ones(1), store_channels=np.ones(1),
            loads=system.by_buffer({"ifmap": one(a), "filter": one(b)}),
            stores={buffers["ofmap"]: one(c)}, access={},
            macs_skipped=op.macs - gemm.macs, slots=system.slots)


class SkipSamplesParams(TechniqueParams):
    keep_fraction: float = Field(0.5, ge=0, le=1, description="share of each batch whose "
                                 "backward work is issued")
    decision_energy_pj: float = Field(1.0, ge=0, description="energy of deciding one op",
                                      json_schema_extra={"unit": "pJ"})


class SkipSamples(Technique):
    name = "skip_samples"
    Params = SkipSamplesParams
    description = "drop the backward work of part of every batch (a test plugin)"

    def __init__(self, params, ctx) -> None:
        super().__init__(params, ctx)
        self.decisions = 0

    def prepare(self, op):
        if op.batch is None or op.phase.value not in ("bwd_data", "bwd_weight"):
            return op
        self.decisions += 1
        return op.with_samples(round(op.batch.samples * self.params.keep_fraction))

    def finalize(self, stats: dict) -> None:
        stats[self.name] = {"decisions": self.decisions}

    def energy_pj(self) -> dict[str, float]:
        return {"decisions": self.decisions * self.params.decision_energy_pj}
