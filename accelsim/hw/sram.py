"""An on-chip SRAM buffer: capacity (enforced), banks, read bandwidth, latency, counters.

The buffer feeds the PE array at ``bandwidth`` bytes per cycle; a tile whose array traffic
needs more cycles than its compute is stretched (an SRAM stall). Capacity is enforced by the
tiler, and checked again here for every tile (:meth:`check_fits`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from accelsim.config.models import SramParams
from accelsim.errors import SimulationError

#: Horowitz ISSCC 2014 (45 nm): energy of a 64-bit SRAM read by array capacity.
HOROWITZ_SRAM_PJ_PER_64B = ((8 * 1024, 10.0), (32 * 1024, 20.0), (1024 * 1024, 100.0))


def horowitz_sram_energy(capacity: int) -> float:
    """pJ per 64-bit access, log-log interpolated between Horowitz's three points.

    Outside the 8 KiB .. 1 MiB range the nearest segment's slope is extended (energy grows
    as capacity^0.50 below 32 KiB and capacity^0.46 above): an approximation.
    """
    points = HOROWITZ_SRAM_PJ_PER_64B
    if capacity <= points[1][0]:
        (c0, e0), (c1, e1) = points[0], points[1]
    else:
        (c0, e0), (c1, e1) = points[1], points[2]
    slope = math.log(e1 / e0) / math.log(c1 / c0)
    return e0 * (max(capacity, 1) / c0) ** slope


@dataclass
class SramStats:
    filled_bytes: int = 0  # written from DRAM
    drained_bytes: int = 0  # read out towards DRAM
    array_bytes: int = 0  # moved between the buffer and the PE array
    peak_tile_bytes: int = 0


class Sram:
    def __init__(self, name: str, params: SramParams, clock_hz: float) -> None:
        self.name = name
        self.params = params
        self.bytes_per_cycle = params.bandwidth.bytes_per_cycle(clock_hz)
        self.usable_bytes = params.capacity // 2 if params.double_buffered else params.capacity
        self.energy_pj_per_64b = (params.access_energy_pj_per_64b
                                  if params.access_energy_pj_per_64b is not None
                                  else horowitz_sram_energy(params.capacity))
        self.stats = SramStats()

    def check_fits(self, tile_bytes: int, what: str) -> None:
        if tile_bytes > self.usable_bytes:
            raise SimulationError(f"{what}: a tile of {tile_bytes} bytes overflows SRAM "
                                  f"buffer {self.name} ({self.usable_bytes} usable bytes)")
        self.stats.peak_tile_bytes = max(self.stats.peak_tile_bytes, tile_bytes)

    def array_cycles(self, nbytes):
        """Cycles to move ``nbytes`` between this buffer and the array (vectorised)."""
        return nbytes / self.bytes_per_cycle

    @property
    def accessed_bytes(self) -> int:
        return self.stats.filled_bytes + self.stats.drained_bytes + self.stats.array_bytes
