"""DRAM: channels of aggregate bandwidth behind one request queue, with a fixed latency.

A transfer of ``n`` bytes is interleaved over the channels in ``interleave``-byte pieces, so
it uses ``min(channels, ceil(n / interleave))`` of them and streams at that share of the peak
bandwidth. Transfers queue in arrival order; latency is paid per transfer but overlaps other
transfers (it does not hold the data bus). ``ideal: true`` means infinite bandwidth and zero
latency. Row-buffer timing is not modelled here: the peak bandwidth is the sustained one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from accelsim.config.models import DramParams


@dataclass
class DramStats:
    bytes_read: int = 0
    bytes_written: int = 0
    busy_cycles: float = 0.0
    transfers: int = 0
    timeline: list[tuple[float, float, int]] = field(default_factory=list)  # (start, end, bytes)


class Dram:
    """Timing and counters of the DRAM; the queue itself lives in the memory path."""

    def __init__(self, params: DramParams, clock_hz: float) -> None:
        self.params = params
        self.ideal = params.ideal
        self.bytes_per_cycle = math.inf if params.ideal else params.bandwidth.bytes_per_cycle(clock_hz)
        self.latency_cycles = 0.0 if params.ideal else params.latency.cycles(clock_hz)
        self.stats = DramStats()

    def service_cycles(self, nbytes: int) -> float:
        """Cycles the data bus is busy moving ``nbytes`` (latency excluded)."""
        if self.ideal or nbytes == 0:
            return 0.0
        channels = self.params.channels
        used = min(channels, math.ceil(nbytes / self.params.interleave))
        return nbytes / (self.bytes_per_cycle * used / channels)

    def record(self, nbytes: int, write: bool, start: float, end: float) -> None:
        if write:
            self.stats.bytes_written += nbytes
        else:
            self.stats.bytes_read += nbytes
        self.stats.transfers += 1
        self.stats.busy_cycles += end - start
        if not self.ideal:
            self.stats.timeline.append((start, end, nbytes))
