"""Replays a :class:`TilePlan` with the figures of :func:`accelsim.sim.pipeline.run_tiles` and
far fewer SimPy events and Python steps.

Two savings, neither of which changes a figure:

* **Own clock.** Between two events of other processes nothing else can book a link or a
  DRAM lane, so the op keeps its own clock (the same additions SimPy would make) and books
  its tiles arithmetically; it yields to SimPy only when its next step would reach the next
  queued event (``env.peek()``), when it hands a free buffer slot to the next op, and at its
  end. Events at one cycle keep their order: a queued event always runs before a step of the
  op at its cycle, as in the per-tile replay.
* **Runs of tiles in closed form.** When one DRAM lane carries every transfer (as in every
  shipped hwconfig) the schedule of a run of tiles is a max-plus recurrence: a tile ends at
  ``max(previous end, its data landing) + its cycles``, and a transfer ends at ``max(its
  request, the previous transfer's end) + its hold``. Given the tiles' end cycles, both are
  prefix maxima (``np.maximum.accumulate``); a transfer requested at a tile's end lands at the
  earliest ``slots`` tiles later, so iterating "tile ends -> transfers -> tile ends" from the
  no-wait schedule fixes the schedule tile by tile, and the tiles on which two iterations agree
  are exact. Such a run (up to :data:`WINDOW` tiles, ending before the next queued event) is
  booked in one step and its transfers and stall cycles recorded in bulk, every float sum in
  the per-tile order (:mod:`accelsim.stats.ordered_sum`). Only whole cycle counts are handled
  so (the engine's cycles are whole: transfers hold whole cycles); otherwise tiles are stepped.

``sim.reference: true`` in a hwconfig selects the per-tile replay instead, the reference
these figures are tested against (tests/test_fast_forward.py).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator

import numpy as np

from accelsim.errors import SimulationError
from accelsim.hw.system import System, TransferShapes, TransferTimes
from accelsim.plan import TilePlan
from accelsim.sim.pipeline import PipelineTimes, TileColumns
from accelsim.stats.transfers import TransferTag
from accelsim.sim.prefetch import Prefetch

#: tiles solved at once
WINDOW = 4096
#: iterations of the schedule per window
ROUNDS = 6
#: a solved run shorter than this is not worth its numpy overhead: step tiles for a while
SHORTEST_RUN = 24
#: the largest whole cycle count a float holds exactly, with room for sums
WHOLE_LIMIT = 2.0 ** 52


def _delay(now: float, target: float) -> float:
    """The timeout delay that brings SimPy's clock from ``now`` to exactly ``target``."""
    delay = target - now
    for _ in range(4):
        if now + delay == target:
            return delay
        delay = math.nextafter(delay, math.inf if now + delay < target else -math.inf)
    raise SimulationError(f"cannot reach cycle {target!r} from {now!r} with one timeout")


def _integers(now, free, known: list) -> bool:
    """Whether the per-tile replay would keep every cycle of a run from ``now`` a Python
    ``int`` (as it does when the clock, the landings and the lane start whole and a float
    lane time is never the later one): the solved run then gives the same numbers of the same
    type."""
    return (type(now) is int and all(type(lands) is int for lands in known)
            and (type(free) is int or free <= now))


def _whole(values) -> bool:
    values = np.asarray(values, dtype=float)
    return bool(np.all((values == np.floor(values)) & (np.abs(values) < WHOLE_LIMIT)))


class RunSolver:
    """The closed-form schedule of runs of one plan's tiles (module docstring)."""

    def __init__(self, system: System, plan: TilePlan, tiles: TileColumns) -> None:
        self.system = system
        self.slots = plan.slots
        self.cycles = np.asarray(plan.tile_cycles, dtype=float)
        self.has_load = plan.load_bytes != 0
        self.has_store = plan.store_bytes != 0
        self.usable = bool(len(tiles.tile_cycles)) and type(tiles.tile_cycles[0]) is int
        load_index = np.flatnonzero(self.has_load)
        store_index = np.flatnonzero(self.has_store)
        # each tile's load and store shape, by tile (rows of tiles without one are unused)
        self.load_of = np.full(len(plan), -1)
        self.load_of[load_index] = np.arange(len(load_index))
        self.store_of = np.full(len(plan), -1)
        self.store_of[store_index] = np.arange(len(store_index))
        moved = sum(values[load_index] for values in plan.loads.values())
        share = moved / plan.load_bytes[load_index] if len(load_index) else np.zeros(0)
        self.loads = system.transfer_shapes(
            {ep: values[load_index] for ep, values in plan.loads.items()},
            plan["load_visits"][load_index] * share, plan["load_channels"][load_index]
        ) if len(load_index) else None
        self.stores = system.transfer_shapes(
            {ep: values[store_index] for ep, values in plan.stores.items()},
            plan["store_visits"][store_index], plan["store_channels"][store_index]
        ) if len(store_index) else None
        self.usable = self.usable and all(
            shapes is None or (_whole(shapes.hold) and _whole(shapes.settle))
            for shapes in (self.loads, self.stores))

    def solve(self, first: int, stop: int, now: float, free: float,
              known: list[float], horizon: float):
        """The schedule of tiles ``first`` .. ``stop - 1`` from cycle ``now`` with the lane
        free at ``free`` and the first ``slots`` tiles' data landing at ``known``: returns the
        number of tiles it fixes exactly before ``horizon`` and the arrays of the run."""
        slots = self.slots
        tiles = np.arange(first, stop)
        cycles = self.cycles[first:stop]
        ends_before = np.add.accumulate(cycles)  # cycles summed from the run's start
        # the transfers of the run in booking order: at each tile's end, the load of the tile
        # ``slots`` later, then the tile's store
        booked_load = tiles + slots
        load_here = self.has_load[booked_load]
        store_here = self.has_store[tiles]
        order = np.stack([load_here, store_here], axis=1).reshape(-1)
        owner = np.repeat(tiles, 2)[order]
        is_store = np.tile([False, True], len(tiles))[order]
        shape_row = np.where(is_store, self.store_of[owner], self.load_of[owner + slots])
        hold = np.zeros(len(shape_row))
        settle = np.zeros(len(shape_row))
        if self.stores is not None:
            hold[is_store] = self.stores.hold[shape_row[is_store]]
        if self.loads is not None:
            hold[~is_store] = self.loads.hold[shape_row[~is_store]]
            settle[~is_store] = self.loads.settle[shape_row[~is_store]]
        hold_sum = np.add.accumulate(hold)
        hold_before = hold_sum - hold
        lands = np.full(len(tiles), -math.inf)
        lands[:min(slots, len(tiles))] = known[:len(tiles)]
        starts_before = np.concatenate(([0.0], ends_before[:-1]))
        ends = now + ends_before  # no tile waits: a lower bound of the schedule
        loads_at = np.flatnonzero(~is_store)
        target = owner[loads_at] + slots - first
        inside = target < len(tiles)
        empty = np.flatnonzero(~load_here) + slots  # no bytes: lands at the request
        empty = empty[empty < len(tiles)]
        for _ in range(ROUNDS):
            requests = ends[owner - first]
            # a transfer ends at max(request, previous end) + hold, from the lane's free cycle
            finish = hold_sum + np.maximum(free, np.maximum.accumulate(requests - hold_before))
            lands[target[inside]] = (finish + settle)[loads_at[inside]]
            lands[empty] = ends[empty - slots]
            # a tile ends at max(previous end, its data landing) + its cycles
            update = ends_before + np.maximum(now, np.maximum.accumulate(lands - starts_before))
            differ = np.flatnonzero(update != ends)
            ends = update
            fixed = int(differ[0]) if len(differ) else len(tiles)
            if fixed == len(tiles):
                break
        late = np.flatnonzero(ends >= horizon)
        if len(late):
            fixed = min(fixed, int(late[0]))
        return fixed, (tiles, ends, lands, owner, is_store, shape_row, finish, hold, requests)


def run_tiles_fast(system: System, plan: TilePlan, prefetched: Prefetch | None = None,
                   on_slot_free: Callable[[], None] | None = None,
                   tag: TransferTag | None = None) -> Generator:
    """SimPy process body with the contract and figures of
    :func:`accelsim.sim.pipeline.run_tiles` (module docstring)."""
    env = system.env
    n = len(plan)
    times = PipelineTimes()
    if n == 0:
        return times
    slots = plan.slots
    tiles = TileColumns(system, plan, tag)
    tile_cycles, store_total = tiles.tile_cycles, tiles.store_total
    now = env.now
    landed = tiles.first_loads(plan, prefetched, now)
    if on_slot_free is not None and n < slots:
        on_slot_free()
    stores_done, last_store = now, TransferTimes()
    horizon = env.peek()
    solver = None
    if n >= SHORTEST_RUN + slots and system.single_lane_free() is not None:
        solver = RunSolver(system, plan, tiles)
        if not solver.usable:
            solver = None
    step_until = 0  # tiles are stepped one by one until this one
    backoff = 1
    i = 0
    while i < n:
        if solver is not None and i >= step_until and n - slots - i >= SHORTEST_RUN:
            free = system.single_lane_free()
            known = [lands for _, lands in landed[i:i + slots]]
            if free is not None and _integers(now, free, known):
                stop = min(n - slots, i + WINDOW)
                fixed, run = solver.solve(i, stop, now, free, known, horizon)
                if fixed >= SHORTEST_RUN:
                    now, stores_done, last_store = _book_run(
                        system, solver, times, landed, run, i, fixed, now, stores_done,
                        last_store)
                    i += fixed
                    backoff = 1
                    continue
                step_until = i + backoff
                backoff = min(2 * backoff, 256)
        load_times, lands = landed[i]
        landed[i] = None
        if lands > now:
            wait = lands - now
            later = now + wait
            if later >= horizon:
                yield env.timeout(_delay(env.now, later))
                horizon = env.peek()
            now = later
            times.blame(wait, load_times)
        later = now + tile_cycles[i]
        if later >= horizon:
            yield env.timeout(_delay(env.now, later))
            horizon = env.peek()
        now = later
        if i + slots < n:  # this tile's buffer slot is free: fetch a later tile into it
            landed[i + slots] = tiles.book_load(i + slots, now)
        elif on_slot_free is not None and i + slots == n:
            if env.now != now:
                yield env.timeout(_delay(env.now, now))
            on_slot_free()  # the slot stays free: the next op may use it
            horizon = env.peek()
        if store_total[i]:
            store_times, done = tiles.book_store(i, now)
            if done >= stores_done:
                stores_done, last_store = done, store_times
        i += 1
    if stores_done > now:
        wait = stores_done - now
        now = now + wait
        times.blame(wait, [last_store])
    if env.now != now:
        yield env.timeout(_delay(env.now, now))
    return times.finish(plan)


def _book_run(system: System, solver: RunSolver, times: PipelineTimes, landed: list,
              run: tuple, first: int, fixed: int, now: float, stores_done: float,
              last_store: TransferTimes) -> tuple[float, float, TransferTimes]:
    """Take the first ``fixed`` tiles of a solved run: record their transfers, add their
    stall cycles, leave the loads they booked for later tiles in ``landed``; returns the new
    (now, stores_done, last_store)."""
    tiles, ends, lands, owner, is_store, shape_row, finish, hold, requests = run
    slots = solver.slots
    starts_at = np.concatenate(([now], ends[:-1]))[:fixed]  # each tile's start, before waits
    waits = lands[:fixed] - starts_at
    # stall cycles of the tiles whose data had been booked before the run, one by one
    for k in range(min(slots, fixed)):
        if waits[k] > 0:
            times.blame(float(waits[k]), landed[first + k][0])
    taken = np.flatnonzero(owner < first + fixed)
    start = finish[taken] - hold[taken]
    write = is_store[taken]
    queue = start - requests[taken]
    load_rows = shape_row[taken][~write]
    store_rows = shape_row[taken][write]
    if solver.loads is not None and len(load_rows):
        _blame_loads(times, solver.loads.take(load_rows), queue[~write],
                     owner[taken][~write] + slots - first, waits, slots)
    if len(taken):
        system.commit(_merge(solver, write, load_rows, store_rows), write,
                      start.astype(np.int64), finish[taken].astype(np.int64))
    landed[first:first + fixed] = [None] * fixed
    for k in np.flatnonzero(~write)[-slots:]:  # the loads booked for tiles after the run
        tile = int(owner[taken][k]) + slots
        if tile >= first + fixed:
            row = int(shape_row[taken][k])
            landed[tile] = ([solver.loads.times(row, int(queue[k]))],
                            int(finish[taken][k] + solver.loads.settle[row]))
    for tile in range(max(first + fixed, first + slots), first + fixed + slots):
        if landed[tile] is None:  # no bytes to load: its data is there at the request
            landed[tile] = ([], int(ends[tile - slots - first]))
    stored = np.flatnonzero(write)
    if len(stored):  # the latest store done (the last of equals), as one by one
        rows = shape_row[taken][stored]
        done = finish[taken][stored] + solver.stores.settle[rows]
        latest = int(done.max())
        if latest >= stores_done:
            k = int(np.flatnonzero(done == latest)[-1])
            stores_done = latest
            last_store = solver.stores.times(int(rows[k]), int(queue[stored[k]]))
    return int(ends[fixed - 1]), stores_done, last_store


def _merge(solver: RunSolver, write: np.ndarray, load_rows: np.ndarray,
           store_rows: np.ndarray) -> TransferShapes:
    """The shapes of a run's transfers in booking order (loads and stores interleaved)."""
    parts = [shapes.take(rows) for shapes, rows in
             ((solver.loads, load_rows), (solver.stores, store_rows)) if len(rows)]
    if len(parts) == 1:
        return parts[0]
    loads, stores = parts
    merged = {}
    for name in TransferShapes.__dataclass_fields__:
        if name == "routes":
            continue
        a, b = getattr(loads, name), getattr(stores, name)
        column = np.empty(len(write), dtype=np.result_type(a, b))
        column[~write], column[write] = a, b
        merged[name] = column
    # routes are indices into each kind's own list: number the stores' after the loads'
    merged["route"][write] += len(loads.routes)
    merged["routes"] = loads.routes + stores.routes
    return TransferShapes(**merged)


def _blame_loads(times: PipelineTimes, loads: TransferShapes, queue: np.ndarray,
                 tile: np.ndarray, waits: np.ndarray, slots: int) -> None:
    """Stall cycles of the run's tiles that waited for a load booked inside the run, split
    over that load's causes as :meth:`PipelineTimes.blame` does, summed in tile order."""
    mine = (tile >= slots) & (tile < len(waits))
    tile, queue = tile[mine], queue[mine]
    if not len(tile):
        return
    wait = waits[tile]
    waited = wait > 0
    if not waited.any():
        return
    rows = np.flatnonzero(mine)[waited]
    wait, queue = wait[waited], queue[waited]
    weights = {"dram_bandwidth": queue + loads.data[rows],
               "dram_latency": loads.row_overhead[rows] + loads.latency[rows],
               "interconnect": loads.link_extra[rows] + loads.hop[rows]}
    total = 0.0 + weights["dram_bandwidth"] + weights["dram_latency"] + weights["interconnect"]
    blank = total <= 0
    shares = {cause: np.where(blank, 0.0, wait * cycles / np.where(blank, 1.0, total))
              for cause, cycles in weights.items()}
    shares["dram_bandwidth"] = np.where(blank, wait, shares["dram_bandwidth"])
    for cause, values in shares.items():
        keep = ~blank if cause != "dram_bandwidth" else np.ones(len(values), dtype=bool)
        times.add_stalls(cause, values[keep])
