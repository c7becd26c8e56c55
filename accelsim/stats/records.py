"""The record of one executed op: when it ran, what it did, where its cycles went."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


#: Where an op's non-compute cycles go while it holds its unit (accelsim.sim.pipeline).
STALL_CAUSES = ("dram_bandwidth", "dram_latency", "interconnect", "sram")


@dataclass
class OpRecord:
    name: str
    layer: str
    phase: str
    kind: str
    unit: str
    ready_cycle: float  # every input available
    start_cycle: float  # unit granted
    end_cycle: float
    macs: int
    macs_skipped: int
    dram_bytes_read: int
    dram_bytes_written: int
    compute_cycles: float
    tiles: int
    vector_ops: float = 0.0  # elementwise operations on the vector unit
    onchip_bytes_read: int = 0  # input bytes found resident on chip instead of in DRAM
    onchip_bytes_kept: int = 0  # output bytes that stayed on chip instead of going to DRAM
    prefetched_bytes: int = 0  # first-tile bytes loaded before the op started
    #: DRAM bytes ``read`` and ``written`` by tensor class (accelsim.stats.tensor_classes)
    dram_bytes_by_class: dict[str, dict[str, int]] = field(default_factory=dict)
    stalls: dict[str, float] = field(default_factory=dict)
    #: kind-specific figures merged into the row (outer-product arrays: ``products_issued``,
    #: ``products_valid``, ``rcps``, ``rcps_anticipated`` and ``mask_source``)
    extras: dict[str, float | str] = field(default_factory=dict)

    @property
    def cycles(self) -> float:
        return self.end_cycle - self.start_cycle

    @property
    def dram_bytes(self) -> int:
        return self.dram_bytes_read + self.dram_bytes_written

    @property
    def flops(self) -> float:
        """Arithmetic operations: two per MAC, one per vector operation."""
        return 2.0 * self.macs + self.vector_ops

    @property
    def stall_cycles(self) -> float:
        """Cycles of the op that were not compute: waiting on DRAM or on SRAM bandwidth."""
        return self.cycles - self.compute_cycles

    def as_row(self) -> dict:
        row = asdict(self)
        row.update(row.pop("extras"))
        row.update(cycles=self.cycles, dram_bytes=self.dram_bytes,
                   stall_cycles=self.stall_cycles, flops=self.flops)
        return row
