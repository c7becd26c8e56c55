"""Replays a :class:`TilePlan` as SimPy events: load, compute and store, double-buffered.

Three activities overlap as in a double-buffered accelerator: a loader (a DMA engine that
keeps requests in flight: the off-chip latency does not hold it) fetches tile i+1 while the
unit computes tile i (``slots`` tiles may be resident at once), and writers drain finished
outputs. Per tile this costs one compute timeout plus one request and timeout per
non-empty transfer. Waiting for a tile's data is a DRAM stall; waiting at the end for the
last stores to drain is a DRAM stall too; SRAM stretching comes precomputed in the plan.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass

import simpy

from accelsim.hw.system import System
from accelsim.sim.lowering import TilePlan


@dataclass
class PipelineTimes:
    compute_cycles: float = 0.0
    sram_stall: float = 0.0
    dram_stall: float = 0.0


def run_tiles(system: System, plan: TilePlan) -> Generator:
    """SimPy process body that executes ``plan``; returns :class:`PipelineTimes`."""
    env = system.env
    n = len(plan)
    times = PipelineTimes()
    if n == 0:
        return times
    loads = plan.load_bytes.tolist()
    stores = plan.store_bytes.tolist()
    tile_cycles = plan.tile_cycles.tolist()
    free_slots = simpy.Container(env, capacity=max(plan.slots, 1), init=plan.slots)
    loaded = [env.event() for _ in range(n)]

    latency = system.offchip_latency

    def loader() -> Generator:
        for i in range(n):
            yield free_slots.get(1)
            if not loads[i]:
                loaded[i].succeed()
                continue
            yield from system.transfer(loads[i], write=False)
            if latency:  # the data lands later; the next request may go out now
                env.timeout(latency).callbacks.append(lambda _, done=loaded[i]: done.succeed())
            else:
                loaded[i].succeed()

    def writer(nbytes: int) -> Generator:
        yield from system.transfer(nbytes, write=True)
        if latency:
            yield env.timeout(latency)

    env.process(loader())
    pending_stores = []
    for i in range(n):
        if not loaded[i].triggered:
            wait = env.now
            yield loaded[i]
            times.dram_stall += env.now - wait
        yield env.timeout(tile_cycles[i])
        free_slots.put(1)
        if stores[i]:
            pending_stores.append(env.process(writer(stores[i])))
    wait = env.now
    pending = [p for p in pending_stores if p.is_alive]
    if pending:
        yield env.all_of(pending)
    times.dram_stall += env.now - wait
    times.compute_cycles = float(plan.compute_cycles.sum())
    times.sram_stall = float(plan.tile_cycles.sum()) - times.compute_cycles
    return times
