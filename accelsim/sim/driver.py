"""The driver: one SimPy process per op, issued when its inputs are ready.

An op waits for every predecessor in the workload graph, then for its unit (PE array or
vector unit; granted in workload order), is lowered to a tile plan, passed through the
technique chain and replayed tile by tile. Ops on different units overlap. If the event
queue empties with ops unfinished, that is a deadlock: :meth:`Driver.check_finished` names
them and what they wait on.
"""

from __future__ import annotations

from collections.abc import Generator

from accelsim.errors import SimulationError
from accelsim.hw.system import System
from accelsim.sim.lowering import VECTOR_BUFFER, Lowering, TilePlan
from accelsim.sim.pipeline import run_tiles
from accelsim.stats.records import OpRecord
from accelsim.techniques.chain import TechniqueChain
from accelsim.workload.graph import Workload
from accelsim.workload.op import Op


class Driver:
    def __init__(self, system: System, workload: Workload, chain: TechniqueChain) -> None:
        self.system = system
        self.workload = workload
        self.chain = chain
        self.lowering = Lowering(system, workload.value_stats)
        self.records: list[OpRecord] = []
        self.done = {}

    def start(self) -> None:
        env = self.system.env
        for index, op in enumerate(self.workload.ops()):
            self.done[op.name] = env.event()
            env.process(self._run(op, index))

    def _run(self, op: Op, priority: int) -> Generator:
        env, system = self.system.env, self.system
        waits = [self.done[p] for p in self.workload.graph.predecessors(op.name)]
        if waits:
            yield env.all_of(waits)
        ready = env.now
        unit = system.unit(op.unit)
        with unit.resource.request(priority=priority) as request:
            yield request
            start = env.now
            plan = self.chain.transform(op, self.lowering.lower(op))
            times = yield from run_tiles(system, plan)
            end = env.now
        record = OpRecord(
            name=op.name, layer=op.layer, phase=op.phase.value, kind=op.kind, unit=op.unit,
            ready_cycle=ready, start_cycle=start, end_cycle=end,
            macs=int(plan.macs.sum()), macs_skipped=int(plan.macs_skipped),
            dram_bytes_read=int(plan.load_bytes.sum()),
            dram_bytes_written=int(plan.store_bytes.sum()),
            compute_cycles=times.compute_cycles, tiles=len(plan),
            vector_ops=float(plan.vector_ops.sum()),
            stalls={**times.stalls, "unit_wait": start - ready}, extras=plan.row_extras())
        self._account(plan, record)
        self.records.append(record)
        self.chain.on_complete(op, record, end)
        self.done[op.name].succeed()

    def _account(self, plan: TilePlan, record: OpRecord) -> None:
        """Add what the op did to the counters of the components that did it."""
        system = self.system
        for name, nbytes in plan.loads.items():
            self._buffer_stats(name).filled_bytes += int(nbytes.sum())
        for name, nbytes in plan.stores.items():
            self._buffer_stats(name).drained_bytes += int(nbytes.sum())
        if plan.unit == "pe_array":
            stats = system.pe_array.stats
            stats.macs += record.macs
            stats.macs_skipped += record.macs_skipped
            stats.folds += int(plan.folds.sum())
            stats.rcps_multiplied += (record.extras.get("rcps", 0)
                                      - record.extras.get("rcps_anticipated", 0))
            for name, nbytes in plan.array_access.items():
                system.srams[name].stats.array_bytes += int(nbytes.sum())
        else:
            stats = system.vector.stats
            stats.operations += float(plan.vector_ops.sum())
        stats.busy_cycles += record.cycles
        stats.compute_cycles += record.compute_cycles
        stats.tiles += record.tiles

    def _buffer_stats(self, name: str):
        if name == VECTOR_BUFFER:
            return self.system.vector.stats
        return self.system.srams[name].stats

    def check_finished(self) -> None:
        unfinished = [name for name, event in self.done.items() if not event.triggered]
        if not unfinished:
            return
        lines = []
        for name in unfinished[:10]:
            blockers = [p for p in self.workload.graph.predecessors(name)
                        if not self.done[p].triggered]
            why = (f"waits on unfinished {', '.join(blockers)}" if blockers
                   else "inputs ready but never completed on its unit")
            lines.append(f"  {name}: {why}")
        more = f"\n  ... and {len(unfinished) - 10} more" if len(unfinished) > 10 else ""
        raise SimulationError(f"deadlock: {len(unfinished)} of {len(self.done)} ops did not "
                              f"finish\n" + "\n".join(lines) + more)
