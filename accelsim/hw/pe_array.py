"""The PE array component: a systolic array of rows x cols MAC units running one dataflow,
or an SCNN-like outer-product grid of PEs (:func:`build_pe_array` picks by ``kind``).

The array executes one op at a time (a SimPy resource of capacity 1, granted in workload
order). Compute cycles of a tile come from its dataflow (:mod:`accelsim.hw.dataflow`) via
the tiler (:mod:`accelsim.sim.tiling`), or from the outer-product model
(:mod:`accelsim.hw.outer_product`); the array keeps the counters of what it did.
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
    rcps_multiplied: int = 0  # outer-product products multiplied, then dropped as invalid


class PEArray:
    """What every PE array kind has: its parameters, operand widths, the resource that
    grants it to one op at a time, and its counters."""

    dataflow: Dataflow | None = None

    def __init__(self, env: simpy.Environment, params: PEArrayParams) -> None:
        self.params = params
        self.rows, self.cols = params.rows, params.cols
        self.element_bytes = DATATYPE_BYTES[params.datatype]
        self.psum_bytes = DATATYPE_BYTES[params.accumulator]
        self.resource = simpy.PriorityResource(env, capacity=1)
        self.stats = PEArrayStats()

    @property
    def pes(self) -> int:
        """Multipliers of the whole array (the peak MACs per cycle)."""
        return self.rows * self.cols


class SystolicArray(PEArray):
    """A rows x cols systolic array running one dataflow."""

    def __init__(self, env: simpy.Environment, params: PEArrayParams) -> None:
        super().__init__(env, params)
        self.dataflow = DATAFLOWS.get(params.dataflow)


class OuterProductArray(PEArray):
    """An SCNN-like grid of rows x cols PEs, each with an F x I multiplier array."""

    def __init__(self, env: simpy.Environment, params: PEArrayParams) -> None:
        super().__init__(env, params)
        self.f, self.i = params.multipliers_f, params.multipliers_i

    @property
    def pes(self) -> int:
        return self.rows * self.cols * self.f * self.i


def build_pe_array(env: simpy.Environment, params: PEArrayParams) -> PEArray:
    """The PE array component of ``params.kind``."""
    kinds = {"systolic": SystolicArray, "outer_product": OuterProductArray}
    return kinds[params.kind](env, params)
