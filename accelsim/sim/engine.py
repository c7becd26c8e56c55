"""The engine: ``Simulation(config, workload, techniques).run()`` -> :class:`RunResult`."""

from __future__ import annotations

import simpy

from accelsim.config.models import HwConfig
from accelsim.hw.system import System
from accelsim.sim.driver import Driver
from accelsim.stats.footprint import check_capacity, footprint, planned_footprint
from accelsim.stats.invariants import check_invariants
from accelsim.stats.result import RunResult, build_result
from accelsim.techniques.chain import TechniqueChain
from accelsim.workload.graph import Workload


def scheduled_events(env: simpy.Environment) -> int:
    """Events the environment scheduled so far (SimPy numbers each one it queues)."""
    return next(env._eid)


class Simulation:
    """One run of a workload on a hwconfig; holds no state beyond its own run."""

    def __init__(self, config: HwConfig, workload: Workload,
                 chain: TechniqueChain | None = None) -> None:
        self.config = config
        self.workload = workload
        self.chain = chain or TechniqueChain()

    def run(self) -> RunResult:
        check_capacity(planned_footprint(self.workload), self.config.dram.capacity,
                       self.workload, self.config.source)
        env = simpy.Environment()
        system = System(self.config, env)
        workload = self.chain.attach(system, self.workload)
        driver = Driver(system, workload, self.chain)
        driver.start()
        env.run()
        driver.check_finished()
        total = max((r.end_cycle for r in driver.records), default=0.0)
        invariants = check_invariants(system, workload, driver.records, total)
        usage = footprint(workload, driver.records, total)
        check_capacity(usage, self.config.dram.capacity, workload, self.config.source)
        technique_stats: dict = {}
        self.chain.finalize(technique_stats)
        return build_result(system, workload, driver.records, total, invariants,
                            techniques=self.chain.names, technique_stats=technique_stats,
                            events=scheduled_events(env), footprint=usage)
