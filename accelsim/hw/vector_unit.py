"""The vector unit: ``lanes`` elementwise operations per cycle for the non-GEMM ops.

Operands stream from DRAM through the unit's local buffer in chunks (half the buffer each
when double-buffered): a chunk's inputs are loaded, computed in ceil(elements * ops / lanes)
cycles, and its outputs written back. Each chunk is simulated as a tile (about 15 us of
simulation each), so an op may take at most :data:`MAX_CHUNKS` of them: a buffer too small for
the workload (``vector_unit.buffer: 8``) is one error instead of hours.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import simpy

from accelsim.config.models import VectorUnitParams
from accelsim.errors import SimulationError
from accelsim.hw.sram import horowitz_sram_energy

#: Most chunks one op may stream through the buffer (80x what the largest vector op of
#: ResNet-50 at batch 32 takes on edge_16x16's 16 KiB buffer).
MAX_CHUNKS = 1_000_000


@dataclass
class VectorStats:
    operations: float = 0.0
    busy_cycles: float = 0.0
    compute_cycles: float = 0.0
    filled_bytes: int = 0  # from DRAM into the buffer
    drained_bytes: int = 0  # from the buffer to DRAM
    exchanged_bytes: int = 0  # to or from resident tensors in the SRAM buffers
    tiles: int = 0

    @property
    def buffer_access_bytes(self) -> int:
        """Each byte is written into the buffer and read out once on each side of the lanes."""
        return 2 * (self.filled_bytes + self.drained_bytes + self.exchanged_bytes)


@dataclass
class ChunkPlan:
    elements: np.ndarray
    compute_cycles: np.ndarray
    load_bytes: np.ndarray
    store_bytes: np.ndarray


class VectorUnit:
    def __init__(self, env: simpy.Environment, params: VectorUnitParams) -> None:
        self.params = params
        self.lanes = params.lanes
        self.chunk_bytes = params.buffer // 2
        self.energy_pj_per_64b = horowitz_sram_energy(params.buffer)
        self.resource = simpy.PriorityResource(env, capacity=1)
        self.stats = VectorStats()

    def plan(self, elements: int, ops_per_element: float, read_bytes: int,
             write_bytes: int) -> ChunkPlan:
        """Split an op into equal chunks that fit half the buffer (the last may be smaller)."""
        chunks = max(1, -(-(read_bytes + write_bytes) // self.chunk_bytes))
        chunks = min(chunks, max(elements, 1))
        if chunks > MAX_CHUNKS:
            raise SimulationError(
                f"a vector op streaming {read_bytes + write_bytes:,} bytes through chunks of "
                f"{self.chunk_bytes:,} bytes (half of vector_unit.buffer) takes {chunks:,} "
                f"chunks, more than the {MAX_CHUNKS:,} an op may take: give the vector unit a "
                "larger buffer")

        def split(total: int) -> np.ndarray:
            base, extra = divmod(int(total), chunks)
            return np.full(chunks, base, dtype=np.int64) + (np.arange(chunks) < extra)

        per_chunk = split(elements)
        cycles = np.ceil(per_chunk * ops_per_element / self.lanes).astype(np.int64)
        return ChunkPlan(per_chunk, cycles, split(read_bytes), split(write_bytes))

    def account(self, op, plan, record) -> None:
        """Add what ``op`` did (its plan and record) to the unit's counters."""
        stats = self.stats
        stats.operations += float(plan["vector_ops"].sum())
        stats.busy_cycles += record.cycles
        stats.compute_cycles += record.compute_cycles
        stats.tiles += record.tiles
