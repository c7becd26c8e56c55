"""The link between DRAM and the on-chip buffers: bytes per cycle and a traversal latency."""

from __future__ import annotations

from dataclasses import dataclass

from accelsim.config.models import InterconnectParams


@dataclass
class LinkStats:
    bytes_down: int = 0  # DRAM -> chip
    bytes_up: int = 0  # chip -> DRAM


class Link:
    def __init__(self, params: InterconnectParams, clock_hz: float) -> None:
        self.params = params
        self.bytes_per_cycle = params.bandwidth.bytes_per_cycle(clock_hz)
        self.latency_cycles = params.latency.cycles(clock_hz)
        self.stats = LinkStats()

    def service_cycles(self, nbytes: int) -> float:
        return nbytes / self.bytes_per_cycle

    def record(self, nbytes: int, write: bool) -> None:
        if write:
            self.stats.bytes_up += nbytes
        else:
            self.stats.bytes_down += nbytes
