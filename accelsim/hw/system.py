"""A built accelerator: the components of a :class:`HwConfig`, wired to one SimPy environment.

All off-chip traffic crosses one path: the DRAM data bus and the DRAM <-> chip link, held
together for the time the slower of the two needs (one SimPy request and one timeout per
transfer, rounded up to whole cycles); the two latencies follow and overlap other transfers
(a DMA engine keeps several requests in flight). With ``dram.ideal`` the
whole off-chip path is free: transfers take no time but are still counted.
"""

from __future__ import annotations

import math
from collections.abc import Generator

import simpy

from accelsim.config.models import HwConfig
from accelsim.hw.dram import Dram
from accelsim.hw.interconnect import Link
from accelsim.hw.pe_array import SystolicArray
from accelsim.hw.sram import Sram
from accelsim.hw.vector_unit import VectorUnit


class System:
    def __init__(self, config: HwConfig, env: simpy.Environment) -> None:
        self.config = config
        self.env = env
        self.clock_hz = config.clock
        self.pe_array = SystolicArray(env, config.pe_array)
        self.srams = {name: Sram(name, params, config.clock)
                      for name, params in config.sram.items()}
        self.dram = Dram(config.dram, config.clock)
        self.link = Link(config.interconnect, config.clock)
        self.vector = VectorUnit(env, config.vector_unit)
        self.memory_bus = simpy.Resource(env, capacity=1)
        self._latency = 0 if self.dram.ideal else math.ceil(self.dram.latency_cycles
                                                             + self.link.latency_cycles)

    def unit(self, name: str):
        return self.pe_array if name == "pe_array" else self.vector

    def sram_for(self, role: str) -> Sram:
        return self.srams[self.config.buffer_for(role)]

    @property
    def double_buffered(self) -> bool:
        return all(s.params.double_buffered for s in self.srams.values())

    @property
    def offchip_bytes_per_cycle(self) -> float:
        return min(self.dram.bytes_per_cycle, float("inf") if self.dram.ideal
                   else self.link.bytes_per_cycle)

    @property
    def offchip_latency(self) -> int:
        """Cycles from the end of a transfer's bus occupancy to its data being usable."""
        return self._latency

    def transfer(self, nbytes: int, write: bool) -> Generator:
        """Occupy the off-chip path to move ``nbytes``; a SimPy process body.

        Returns when the path is free again; the data lands :attr:`offchip_latency` cycles
        later, so a DMA engine may issue its next transfer meanwhile.
        """
        env = self.env
        if self.dram.ideal:
            self.dram.record(nbytes, write, env.now, env.now)
            self.link.record(nbytes, write)
            return
        with self.memory_bus.request() as request:
            yield request
            start = env.now
            yield env.timeout(math.ceil(max(self.dram.service_cycles(nbytes),
                                            self.link.service_cycles(nbytes))))
        self.dram.record(nbytes, write, start, env.now)
        self.link.record(nbytes, write)
