"""Prefetch across ops: the next op's first tile loads while the op before it still computes.

Within an op, double buffering already overlaps tile i+1's load with tile i's compute
(:mod:`accelsim.sim.pipeline`). Across ops it did not: a new op started with an exposed load
of its first tile. With ``prefetch: across_ops`` (the default where every buffer is
double-buffered), when a running op has issued its last load and one of its buffer slots falls
free, the driver looks at the next op of the same unit in issue order. If every op it depends
on has started, it is prepared (technique hooks and lowering) there and then, and the part of
its first tile's DRAM load whose tensors are in DRAM and not on chip is booked at once into the
freed slot: weights and other inputs nobody writes, and outputs of ops that have finished. An
input still being produced (the usual case for the op right after its producer) is loaded when
the op starts, as before. What stays on chip is still decided when the op starts
(:mod:`accelsim.sim.onchip`); if by then a prefetched operand is found on chip after all, the
bytes fetched early were moved for nothing and are counted in the op's DRAM reads
(:func:`settle`).

Approximations: the op prefetched is the next in issue order whose predecessors have started;
if another op takes the unit first, the prefetched tile still holds its slot (not modelled);
technique hooks of the prefetched op run while the op before it still computes. Only plans that
report their operand roles (``fetch:<role>`` columns) are prefetched.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from accelsim.hw.kinds.base import PEArrayKind
from accelsim.hw.system import System, TransferTimes
from accelsim.plan import FETCH, LOAD, TilePlan
from accelsim.sim.onchip import operand_tensors
from accelsim.stats.transfers import TransferTag
from accelsim.workload.op import Op


@dataclass
class Prefetch:
    """Bytes of an op's first tile booked before the op started, per operand role and per
    buffer, and their transfer."""

    bytes_by_role: dict[str, int] = field(default_factory=dict)
    bytes_by_buffer: dict[str, int] = field(default_factory=dict)
    times: TransferTimes = field(default_factory=TransferTimes)
    lands: float = 0.0

    @property
    def bytes(self) -> int:
        return sum(self.bytes_by_role.values())


def first_tile_ready_bytes(op: Op, plan: TilePlan, in_dram: Callable[[str], bool],
                           kind: PEArrayKind | None = None) -> dict[str, int]:
    """DRAM bytes of ``plan``'s first tile, per operand role (as the PE array ``kind`` holds
    them), whose tensors are ``in_dram``."""
    if len(plan) == 0:
        return {}
    inputs, _ = operand_tensors(op, kind)
    ready: dict[str, int] = {}
    for role, values in plan.fetches.items():
        tensors = inputs.get(role)  # an output role's loads are partial sums: never early
        nbytes = int(values[0])
        if tensors and nbytes and all(in_dram(t.name) for t in tensors):
            ready[role] = nbytes
    return ready


def book_prefetch(system: System, plan: TilePlan, by_role: dict[str, int],
                  buffer_of: Mapping[str, str], tag: TransferTag | None = None) -> Prefetch:
    """Book the transfer of ``by_role`` bytes of ``plan``'s first tile now (``tag``: the
    op's, kept with the transfer when every transfer is kept)."""
    if not by_role:
        return Prefetch()
    by_buffer: dict[str, int] = {}
    for role, nbytes in by_role.items():
        by_buffer[buffer_of[role]] = by_buffer.get(buffer_of[role], 0) + nbytes
    share = sum(by_role.values()) / max(int(plan.load_bytes[0]), 1)
    times, lands = system.reserve(by_buffer, False, float(plan["load_visits"][0]) * share,
                                  float(plan["load_channels"][0]), tag=tag)
    return Prefetch(dict(by_role), by_buffer, times, lands)


def settle(plan: TilePlan, prefetch: Prefetch, buffer_of: Mapping[str, str]) -> TilePlan:
    """``plan`` (as it stands once the op has started) with its first tile's loads raised to
    what was fetched early where residency has since made part of it unnecessary: those bytes
    were moved all the same."""
    changed: dict[str, np.ndarray] = {}
    for role, early in prefetch.bytes_by_role.items():
        fetch = plan.fetches[role]
        if early > fetch[0]:
            extra = early - int(fetch[0])
            changed[FETCH + role] = _raise_first(fetch, extra)
            load = LOAD + buffer_of[role]
            changed[load] = _raise_first(changed.get(load, plan[load]), extra)
    return plan.with_columns(**changed) if changed else plan


def _raise_first(values: np.ndarray, extra: int) -> np.ndarray:
    raised = np.array(values, dtype=np.int64)
    raised[0] += extra
    return raised
