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

import numpy as np

from accelsim.hw.system import System, TransferTimes
from accelsim.plan import TilePlan
from accelsim.sim.prefetch import Prefetch
from accelsim.stats.ordered_sum import ordered_sum
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

    def add_stalls(self, cause: str, cycles: np.ndarray) -> None:
        """Add each of ``cycles`` to ``cause`` in turn (as :meth:`blame` would, one by one)."""
        self.stalls[cause] = ordered_sum(self.stalls[cause], cycles)

    def finish(self, plan: TilePlan) -> PipelineTimes:
        """The compute cycles and SRAM stretch of the whole plan."""
        self.compute_cycles = float(plan["compute_cycles"].sum())
        self.stalls["sram"] = float(plan.tile_cycles.sum()) - self.compute_cycles
        return self


class TileColumns:
    """A plan's per-tile figures as Python lists (fast to index one tile at a time), and the
    booking of a tile's loads and stores."""

    def __init__(self, system: System, plan: TilePlan, tag: TransferTag | None = None
                 ) -> None:
        self.system = system
        self.tag = tag  # who asks, kept with each transfer when the timeline records them
        self.loads = {name: values.tolist() for name, values in plan.loads.items()}
        self.stores = {name: values.tolist() for name, values in plan.stores.items()}
        self.load_total = plan.load_bytes.tolist()
        self.store_total = plan.store_bytes.tolist()
        self.load_visits = plan["load_visits"].tolist()
        self.store_visits = plan["store_visits"].tolist()
        self.load_channels = plan["load_channels"].tolist()
        self.store_channels = plan["store_channels"].tolist()
        self.tile_cycles = plan.tile_cycles.tolist()

    def book_load(self, i: int, now: float, already: dict[str, int] | None = None
                  ) -> tuple[list[TransferTimes], float]:
        """Book tile ``i``'s loads (less ``already`` fetched) at ``now``: (times, landing)."""
        if already:
            moved = {ep: values[i] - already.get(ep, 0) for ep, values in self.loads.items()}
            moved = {ep: nbytes for ep, nbytes in moved.items() if nbytes}
        else:
            moved = {ep: values[i] for ep, values in self.loads.items() if values[i]}
        if not moved:
            return [], now
        share = sum(moved.values()) / self.load_total[i]
        transfer, lands = self.system.reserve(moved, False, self.load_visits[i] * share,
                                              self.load_channels[i], now, self.tag)
        return [transfer], lands

    def book_store(self, i: int, now: float) -> tuple[TransferTimes, float]:
        """Book tile ``i``'s stores (it has some) at ``now``: (times, done)."""
        moved = {ep: values[i] for ep, values in self.stores.items() if values[i]}
        return self.system.reserve(moved, True, self.store_visits[i], self.store_channels[i],
                                   now, self.tag)

    def first_loads(self, plan: TilePlan, prefetched: Prefetch | None, now: float
                    ) -> list[tuple[list[TransferTimes], float] | None]:
        """Landing of every tile's loads, booked for the tiles resident at the start (the
        first one less what was prefetched), ``None`` for the others."""
        n = len(plan)
        landed: list[tuple[list[TransferTimes], float] | None] = [None] * n
        if prefetched is not None and prefetched.bytes:
            rest, lands = self.book_load(0, now, prefetched.bytes_by_buffer)
            landed[0] = ([prefetched.times, *rest], max(prefetched.lands, lands))
        else:
            landed[0] = self.book_load(0, now)
        for i in range(1, min(plan.slots, n)):
            landed[i] = self.book_load(i, now)
        return landed


def run_tiles(system: System, plan: TilePlan, prefetched: Prefetch | None = None,
              on_slot_free: Callable[[], None] | None = None,
              tag: TransferTag | None = None) -> Generator:
    """SimPy process body that executes ``plan`` with two SimPy events per tile (the
    reference path; :func:`accelsim.sim.fast_forward.run_tiles_fast` gives the same figures
    with fewer); returns :class:`PipelineTimes`.

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
    tiles = TileColumns(system, plan, tag)
    landed = tiles.first_loads(plan, prefetched, env.now)
    if on_slot_free is not None and n < plan.slots:
        on_slot_free()
    stores_done, last_store = env.now, TransferTimes()
    for i in range(n):
        load_times, lands = landed[i]
        if lands > env.now:
            wait = lands - env.now
            yield env.timeout(wait)
            times.blame(wait, load_times)
        yield env.timeout(tiles.tile_cycles[i])
        if i + plan.slots < n:  # this tile's buffer slot is free: fetch a later tile into it
            landed[i + plan.slots] = tiles.book_load(i + plan.slots, env.now)
        elif on_slot_free is not None and i + plan.slots == n:
            on_slot_free()  # the slot stays free: the next op may use it
        if tiles.store_total[i]:
            store_times, done = tiles.book_store(i, env.now)
            if done >= stores_done:
                stores_done, last_store = done, store_times
    if stores_done > env.now:
        wait = stores_done - env.now
        yield env.timeout(wait)
        times.blame(wait, [last_store])
    return times.finish(plan)
