"""Invariants checked at the end of every run; a violation is a simulator bug, reported loudly."""

from __future__ import annotations

from accelsim.errors import SimulationError
from accelsim.hw.system import System
from accelsim.stats.records import OpRecord
from accelsim.workload.graph import Workload


def check_invariants(system: System, workload: Workload, records: list[OpRecord],
                     total_cycles: float) -> dict[str, str]:
    """Check MAC conservation, byte conservation between levels and busy times."""
    problems = []
    issued = sum(r.macs for r in records)
    skipped = sum(r.macs_skipped for r in records)
    if issued + skipped != workload.macs:
        problems.append(f"MACs issued {issued} + skipped {skipped} != workload MACs "
                        f"{workload.macs}")
    chip_in = sum(s.stats.filled_bytes for s in system.srams.values()) \
        + system.vector.stats.filled_bytes
    chip_out = sum(s.stats.drained_bytes for s in system.srams.values()) \
        + system.vector.stats.drained_bytes
    dram, link = system.dram.stats, system.interconnect.stats
    if not dram.bytes_read == link.bytes_down == chip_in:
        problems.append(f"bytes read from DRAM {dram.bytes_read}, carried by the link "
                        f"{link.bytes_down} and filled on chip {chip_in} differ")
    if not dram.bytes_written == link.bytes_up == chip_out:
        problems.append(f"bytes written to DRAM {dram.bytes_written}, carried by the link "
                        f"{link.bytes_up} and drained from chip {chip_out} differ")
    for record in records:
        split = record.dram_bytes_by_class
        for direction, moved in (("read", record.dram_bytes_read),
                                 ("written", record.dram_bytes_written)):
            if sum(split.get(direction, {}).values()) != moved:
                problems.append(f"{record.name}: DRAM bytes {direction} by tensor class "
                                f"{split.get(direction)} do not add up to {moved}")
    for name, busy in (("pe_array", system.pe_array.stats.busy_cycles),
                       ("vector_unit", system.vector.stats.busy_cycles),
                       ("dram", dram.busy_cycles / system.lanes)):
        if busy > total_cycles + 1e-6:
            problems.append(f"{name} busy {busy} cycles beyond the end at {total_cycles}")
    if problems:
        raise SimulationError("invariant violated: " + "; ".join(problems))
    return {"macs_conserved": "ok", "bytes_conserved": "ok", "bytes_by_class": "ok",
            "busy_within_run": "ok"}
