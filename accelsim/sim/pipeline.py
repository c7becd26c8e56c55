"""Replays a :class:`TilePlan` as SimPy events: load, compute and store, double-buffered.

Three activities overlap as in a double-buffered accelerator: the load of tile i+slots is
requested as soon as tile i has computed and freed its buffer slot (``slots`` tiles may be
resident at once; the first ones are requested at the start), the unit computes tile i once
its data has landed, and each tile's outputs are written back as soon as it is done. The
off-chip path books transfers arithmetically (:meth:`accelsim.hw.system.System.reserve`),
so a tile costs at most two SimPy events: waiting for its data and computing it.

Every cycle of the op is given a cause: ``compute``; ``sram`` (a tile stretched because a
buffer cannot feed the unit, precomputed in the plan); and, for the cycles the unit waits
for a tile's data or, at the end, for its last stores, the causes of the transfers it waits
on, in proportion (:meth:`accelsim.hw.system.TransferTimes.causes`): ``dram_bandwidth``,
``dram_latency`` (latency, row activations, refresh) and ``interconnect``.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass, field

from accelsim.hw.system import System, TransferTimes
from accelsim.plan import TilePlan
from accelsim.sim.prefetch import Prefetch
from accelsim.stats.records import STALL_CAUSES
from accelsim.stats.transfers import TransferTag



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


def run_tiles(system: System, plan: TilePlan, prefetched: Prefetch | None = None,
              on_slot_free: Callable[[], None] | None = None,
              tag: TransferTag | None = None) -> Generator:
    """SimPy process body that executes ``plan``; returns :class:`PipelineTimes`.

    The plan's buffer names are the interconnect endpoints its transfers go to or from.
    ``prefetched``: bytes of the first tile already booked before the op started
    (:mod:`accelsim.sim.prefetch`); the rest of that tile is booked now. ``on_slot_free`` is
    called once, when a buffer slot falls free that this op will not fill again. ``tag``: the
    op's transfer tag, kept with each transfer when every transfer is kept.
    """
    env = system.env
    n = len(plan)
    times = PipelineTimes()
    if n == 0:
        return times
    loads = {name: values.tolist() for name, values in plan.loads.items()}
    stores = {name: values.tolist() for name, values in plan.stores.items()}
    load_total, store_total = plan.load_bytes.tolist(), plan.store_bytes.tolist()
    load_visits, store_visits = plan["load_visits"].tolist(), plan["store_visits"].tolist()
    load_channels = plan["load_channels"].tolist()
    store_channels = plan["store_channels"].tolist()
    tile_cycle_array = plan.tile_cycles
    tile_cycles = tile_cycle_array.tolist()

    def book_load(i: int, already: dict[str, int] | None = None
                  ) -> tuple[list[TransferTimes], float]:
        moved = {ep: values[i] - (already or {}).get(ep, 0) for ep, values in loads.items()}
        moved = {ep: nbytes for ep, nbytes in moved.items() if nbytes}
        if not moved:
            return [], env.now
        share = sum(moved.values()) / load_total[i]
        transfer, lands = system.reserve(moved, False, load_visits[i] * share,
                                         load_channels[i], tag)
        return [transfer], lands

    landed: list[tuple[list[TransferTimes], float] | None] = [None] * n
    if prefetched is not None and prefetched.bytes:
        rest, lands = book_load(0, prefetched.bytes_by_buffer)
        landed[0] = ([prefetched.times, *rest], max(prefetched.lands, lands))
    else:
        landed[0] = book_load(0)
    for i in range(1, min(plan.slots, n)):
        landed[i] = book_load(i)
    if on_slot_free is not None and n < plan.slots:
        on_slot_free()
    stores_done, last_store = env.now, TransferTimes()
    for i in range(n):
        load_times, lands = landed[i]
        if lands > env.now:
            wait = lands - env.now
            yield env.timeout(wait)
            times.blame(wait, load_times)
        yield env.timeout(tile_cycles[i])
        if i + plan.slots < n:  # this tile's buffer slot is free: fetch a later tile into it
            landed[i + plan.slots] = book_load(i + plan.slots)
        elif on_slot_free is not None and i + plan.slots == n:
            on_slot_free()  # the slot stays free: the next op may use it
        if store_total[i]:
            moved = {ep: values[i] for ep, values in stores.items() if values[i]}
            store_times, done = system.reserve(moved, True, store_visits[i], store_channels[i],
                                               tag)
            if done >= stores_done:
                stores_done, last_store = done, store_times
    if stores_done > env.now:
        wait = stores_done - env.now
        yield env.timeout(wait)
        times.blame(wait, [last_store])
    times.compute_cycles = float(plan["compute_cycles"].sum())
    times.stalls["sram"] = float(tile_cycle_array.sum()) - times.compute_cycles
    return times

