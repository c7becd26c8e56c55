"""An on-chip SRAM buffer: capacity (enforced), banks, read bandwidth, latency, counters.

The buffer feeds the PE array at ``bandwidth`` bytes per cycle; a tile whose array traffic
needs more cycles than its compute is stretched (an SRAM stall). Port limits: a
single-ported buffer serves its DRAM fills and writebacks on the same port. Bank conflicts:
an edge operand read down a column of a row-major block (os inputs, is weights) with a
stride that maps to few banks is slowed (:meth:`Sram.column_read_slowdown`). Capacity is enforced by the
tiler, and checked again here for every tile (:meth:`check_fits`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

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
    exchanged_bytes: int = 0  # resident tensors moved to or from the vector unit
    peak_tile_bytes: int = 0


class Sram:
    def __init__(self, name: str, params: SramParams, clock_hz: float,
                 tile_share: float = 1.0) -> None:
        self.name = name
        self.params = params
        self.bytes_per_cycle = params.bandwidth.bytes_per_cycle(clock_hz)
        #: bytes one tile may occupy: the tiles' share of the capacity, per buffer slot
        tiles = int(params.capacity * tile_share)
        self.usable_bytes = tiles // 2 if params.double_buffered else tiles
        self.energy_pj_per_64b = (params.access_energy_pj_per_64b
                                  if params.access_energy_pj_per_64b is not None
                                  else horowitz_sram_energy(params.capacity))
        self.stats = SramStats()

    def check_fits(self, tile_bytes: int, what: str) -> None:
        if tile_bytes > self.usable_bytes:
            raise SimulationError(f"{what}: a tile of {tile_bytes} bytes overflows SRAM "
                                  f"buffer {self.name} ({self.usable_bytes} usable bytes)")
        self.stats.peak_tile_bytes = max(self.stats.peak_tile_bytes, tile_bytes)

    def array_cycles(self, nbytes, dram_bytes=0):
        """Cycles to move ``nbytes`` between this buffer and the array (vectorised); with a
        single port the buffer's DRAM fills and writebacks (``dram_bytes``) share it."""
        shared = dram_bytes if self.params.ports == 1 else 0
        return (nbytes + shared) / self.bytes_per_cycle

    def column_read_slowdown(self, lanes: int, element_bytes: int, stride_bytes):
        """Factor by which reading ``lanes`` elements one ``stride_bytes`` apart per cycle is
        slowed by bank conflicts (vectorised over strides).

        Banks interleave every ``bank_width`` bytes, so the accesses hit ``banks /
        gcd(stride / bank_width, banks)`` distinct banks when the stride is a multiple of the
        bank width (otherwise they spread over all banks). The lanes need
        ceil(lanes * element_bytes / bank_width) bank accesses per cycle; with fewer distinct
        banks they serialise.
        """
        banks, width = self.params.banks, self.params.bank_width
        stride = np.asarray(stride_bytes, dtype=np.int64)
        aligned = stride % width == 0
        distinct = np.where(aligned, banks // np.gcd(np.maximum(stride // width, 1), banks),
                            banks)
        needed = -(-lanes * element_bytes // width)
        ideal = -(-needed // banks)
        return np.maximum(1.0, -(-needed // distinct) / ideal)
