"""Replays a :class:`TilePlan` as SimPy events: load, compute and store, double-buffered.

Three activities overlap as in a double-buffered accelerator: a loader (a DMA engine that
keeps requests in flight: latency does not hold it) fetches tile i+1 while the unit computes
tile i (``slots`` tiles may be resident at once), and writers drain finished outputs. Per
tile this costs one compute timeout plus the requests and one timeout per non-empty
transfer.

Every cycle of the op is given a cause: ``compute``; ``sram`` (a tile stretched because a
buffer cannot feed the unit, precomputed in the plan); and, for the cycles the unit waits
for a tile's data or, at the end, for its last stores, the causes of the transfers it waits
on, in proportion (:meth:`accelsim.hw.system.TransferTimes.causes`): ``dram_bandwidth``,
``dram_latency`` (latency, row activations, refresh) and ``interconnect``.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field

import simpy

from accelsim.hw.system import System, TransferTimes
from accelsim.sim.lowering import TilePlan
from accelsim.stats.records import STALL_CAUSES



@dataclass
class PipelineTimes:
    compute_cycles: float = 0.0
    stalls: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STALL_CAUSES, 0.0))

    def blame(self, wait: float, transfers: list[TransferTimes]) -> None:
        """Split ``wait`` cycles over the causes of ``transfers``."""
        if wait <= 0:
            return
        weights: dict[str, float] = {}
        for times in transfers:
            for cause, cycles in times.causes().items():
                weights[cause] = weights.get(cause, 0.0) + cycles
        total = sum(weights.values())
        if total <= 0:
            self.stalls["dram_bandwidth"] += wait
            return
        for cause, cycles in weights.items():
            self.stalls[cause] += wait * cycles / total


def run_tiles(system: System, plan: TilePlan) -> Generator:
    """SimPy process body that executes ``plan``; returns :class:`PipelineTimes`.

    The plan's buffer names are the interconnect endpoints its transfers go to or from.
    """
    env = system.env
    n = len(plan)
    times = PipelineTimes()
    if n == 0:
        return times
    loads = {name: values.tolist() for name, values in plan.loads.items()}
    stores = {name: values.tolist() for name, values in plan.stores.items()}
    load_total, store_total = plan.load_bytes.tolist(), plan.store_bytes.tolist()
    load_visits, store_visits = plan.load_visits.tolist(), plan.store_visits.tolist()
    load_channels, store_channels = plan.load_channels.tolist(), plan.store_channels.tolist()
    tile_cycles = plan.tile_cycles.tolist()
    free_slots = simpy.Container(env, capacity=max(plan.slots, 1), init=plan.slots)
    loaded = [env.event() for _ in range(n)]
    store_times: list[TransferTimes] = []

    def loader() -> Generator:
        for i in range(n):
            yield free_slots.get(1)
            if not load_total[i]:
                loaded[i].succeed(TransferTimes())
                continue
            moved = {ep: values[i] for ep, values in loads.items() if values[i]}
            done = yield from system.transfer(moved, False, load_visits[i], load_channels[i])
            delay = system.landing_delay(done)
            if delay:  # the data lands later; the next request may go out now
                env.timeout(delay, done).callbacks.append(
                    lambda event, tile=loaded[i]: tile.succeed(event.value))
            else:
                loaded[i].succeed(done)

    def writer(i: int) -> Generator:
        moved = {ep: values[i] for ep, values in stores.items() if values[i]}
        done = yield from system.transfer(moved, True, store_visits[i], store_channels[i])
        store_times.append(done)
        delay = system.landing_delay(done)
        if delay:
            yield env.timeout(delay)

    env.process(loader())
    pending = []
    for i in range(n):
        if not loaded[i].triggered:
            wait = env.now
            yield loaded[i]
            times.blame(env.now - wait, [loaded[i].value])
        yield env.timeout(tile_cycles[i])
        free_slots.put(1)
        if store_total[i]:
            pending.append(env.process(writer(i)))
    alive = [p for p in pending if p.is_alive]
    if alive:
        wait = env.now
        yield env.all_of(alive)
        times.blame(env.now - wait, store_times[-len(alive):])
    times.compute_cycles = float(plan.compute_cycles.sum())
    times.stalls["sram"] = float(plan.tile_cycles.sum()) - times.compute_cycles
    return times
