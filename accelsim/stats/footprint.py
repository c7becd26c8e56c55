"""DRAM capacity used over the iteration: resident tensors plus live intermediate tensors.

Tensors nobody writes (network input, labels, weights, master weights, optimizer state) are
resident throughout. Every other tensor occupies DRAM from the start of the op that writes it
to the end of its last reader (an activation kept for the backward pass lives until its
backward op ends: that is the activation footprint). Writes of an in-place update reuse the
storage they overwrite. The peak must fit ``dram.capacity`` when one is configured.
"""

from __future__ import annotations

import numpy as np

from accelsim.errors import SimulationError
from accelsim.stats.records import OpRecord
from accelsim.workload.graph import Workload

GIB = 2**30


def planned_footprint(workload: Workload) -> dict:
    """The footprint of running the ops one after another in workload order (before a run)."""
    when = {op.name: (float(i), float(i) + 1.0) for i, op in enumerate(workload.ops())}
    return _footprint(workload, when, float(len(when)), bins=1)


def footprint(workload: Workload, records: list[OpRecord], total: float,
              bins: int = 100) -> dict:
    """Peak and timeline of DRAM bytes in use, from the executed schedule."""
    return _footprint(workload, {r.name: (r.start_cycle, r.end_cycle) for r in records},
                      total, bins)


def _footprint(workload: Workload, when: dict[str, tuple[float, float]], total: float,
               bins: int) -> dict:
    size: dict[str, int] = {}
    born: dict[str, float] = {}
    dies: dict[str, float] = {}
    for op in workload.ops():
        if op.name not in when:
            continue
        start, end = when[op.name]
        for tensor in op.reads:
            size[tensor.name] = max(size.get(tensor.name, 0), tensor.bytes)
            dies[tensor.name] = max(dies.get(tensor.name, 0.0), end)
        if op.overwrites:
            continue
        for tensor in op.writes:
            size[tensor.name] = max(size.get(tensor.name, 0), tensor.bytes)
            born[tensor.name] = start
            dies.setdefault(tensor.name, end)
    resident = sum(nbytes for name, nbytes in size.items() if name not in born)
    events = sorted([(born[n], size[n]) for n in born]
                    + [(max(dies[n], born[n]), -size[n]) for n in born],
                    key=lambda e: (e[0], e[1] > 0))  # at one cycle, free before allocating
    live, peak, peak_cycle = resident, resident, 0.0
    times, levels = [0.0], [resident]
    for cycle, delta in events:
        live += delta
        times.append(cycle)
        levels.append(live)
        if live > peak:
            peak, peak_cycle = live, cycle
    edges = np.linspace(0.0, max(total, 1.0), bins + 1)
    times_arr, levels_arr = np.array(times), np.array(levels)
    timeline = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        at_start = levels_arr[max(0, int(np.searchsorted(times_arr, lo, side="right")) - 1)]
        inside = levels_arr[(times_arr >= lo) & (times_arr < hi)]
        timeline.append(int(max(at_start, inside.max(initial=0))))
    return {"peak_bytes": int(peak), "peak_cycle": peak_cycle, "resident_bytes": int(resident),
            "bin_cycles": float(edges[1] - edges[0]), "timeline_bytes": timeline}


def check_capacity(usage: dict, capacity: int | None, workload: Workload, source: str) -> None:
    """Refuse a run whose peak footprint exceeds the configured DRAM capacity."""
    if capacity is None or usage["peak_bytes"] <= capacity:
        return
    raise SimulationError(
        f"{source}: dram.capacity: workload {workload.name} needs "
        f"{usage['peak_bytes'] / GIB:.2f} GiB of DRAM "
        f"({usage['resident_bytes'] / GIB:.2f} GiB resident weights, optimizer state and "
        f"inputs, the rest live activations and gradients), but the hwconfig has "
        f"{capacity / GIB:.2f} GiB")
