"""The engine: ``Simulation(config, workload, techniques).run()`` -> :class:`RunResult`.

A simulation holds its inputs only: every run builds a new SimPy environment, system, run
context and fresh technique instances, so running it twice gives identical results.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import simpy

from accelsim.config.models import HwConfig
from accelsim.context import RunContext
from accelsim.hw.system import System
from accelsim.sim.driver import Driver
from accelsim.sim.fusion import fuse_elementwise
from accelsim.stats.footprint import check_capacity, footprint, planned_footprint
from accelsim.stats.invariants import check_invariants
from accelsim.stats.result import RunResult, TechniqueFigures, build_result
from accelsim.techniques.chain import TechniqueChain, TechniqueSpec
from accelsim.workload.graph import Workload


def scheduled_events(env: simpy.Environment) -> int:
    """Events the environment scheduled so far (SimPy numbers each one it queues)."""
    return next(env._eid)


def default_step(workload: Workload) -> int | None:
    """The training step simulated when the run names none: the last step with statistics."""
    stats = workload.value_stats
    return stats.steps[-1] if stats is not None and stats.steps else None


class Simulation:
    """One run of a workload on a hwconfig with techniques (specs, in order); ``step``: the
    training step simulated (default: :func:`default_step`); ``seed``: for every random choice;
    ``provenance``: what the result records about how the run was asked for (spec, command)."""

    def __init__(self, config: HwConfig, workload: Workload,
                 techniques: Iterable[TechniqueSpec] = (), step: int | None = None,
                 seed: int = 0, provenance: dict | None = None,
                 keep_transfers: bool = False) -> None:
        self.config = config
        self.workload = workload
        self.techniques = tuple(techniques)
        self.step = default_step(workload) if step is None else step
        self.seed = seed
        self.provenance = provenance or {}
        self.keep_transfers = keep_transfers

    def run(self, progress: Callable[[int, int, float], None] | None = None) -> RunResult:
        """Simulate; ``progress(ops done, ops in all, simulated cycle)`` is called as each op
        finishes (for a progress display; it cannot change the run)."""
        env = simpy.Environment()
        system = System(self.config, env, self.keep_transfers)
        workload = fuse_elementwise(system.pe_array.prepare_workload(self.workload),
                                    self.config.fusion.mode, system.pe_array,
                                    self.config.source)
        check_capacity(planned_footprint(workload), self.config.dram.capacity, workload,
                       self.config.source)
        ctx = RunContext(system, workload, self.step, self.seed)
        chain = TechniqueChain.start(self.techniques, ctx)
        workload = chain.attach(workload)
        ctx = ctx.with_workload(workload)
        driver = Driver(ctx, chain, progress)
        driver.start()
        env.run()
        driver.check_finished()
        total = max((r.end_cycle for r in driver.records), default=0.0)
        invariants = check_invariants(system, workload, driver.records, total)
        usage = footprint(workload, driver.records, total)
        check_capacity(usage, self.config.dram.capacity, workload, self.config.source)
        technique_stats: dict = {}
        chain.finalize(technique_stats)
        techniques = TechniqueFigures(chain.names, technique_stats, chain.energy_pj(),
                                      chain.area_mm2())
        return build_result(system, workload, driver.records, total, invariants, techniques,
                            events=scheduled_events(env), footprint=usage,
                            run={"step": self.step, "seed": self.seed,
                                 "techniques": [t.as_dict() for t in self.techniques],
                                 **self.provenance},
                            onchip=driver.onchip.summary() if driver.onchip else None)
