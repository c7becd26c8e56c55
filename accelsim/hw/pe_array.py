"""The PE array: a systolic array of rows x cols MAC units running one dataflow.

The array executes one op at a time (a SimPy resource of capacity 1, granted in workload
order). Compute cycles of a tile come from its dataflow (:mod:`accelsim.hw.dataflow`) via
the tiler (:mod:`accelsim.sim.tiling`); the array keeps the counters of what it did.
"""

from __future__ import annotations

from dataclasses import dataclass

import simpy

from accelsim.config.models import DATATYPE_BYTES, PEArrayParams
from accelsim.hw.dataflow import DATAFLOWS, Dataflow


@dataclass
class PEArrayStats:
    macs: int = 0
    macs_skipped: int = 0
    busy_cycles: float = 0.0
    compute_cycles: float = 0.0
    folds: int = 0
    tiles: int = 0


class SystolicArray:
    def __init__(self, env: simpy.Environment, params: PEArrayParams) -> None:
        self.params = params
        self.rows, self.cols = params.rows, params.cols
        self.dataflow: Dataflow = DATAFLOWS.get(params.dataflow)
        self.element_bytes = DATATYPE_BYTES[params.datatype]
        self.psum_bytes = DATATYPE_BYTES[params.accumulator]
        self.resource = simpy.PriorityResource(env, capacity=1)
        self.stats = PEArrayStats()

    @property
    def pes(self) -> int:
        return self.rows * self.cols
