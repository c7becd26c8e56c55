"""The driver: one SimPy process per op, issued when its inputs are ready.

An op waits for every predecessor in the workload graph, then for its unit (PE array or
vector unit; granted in workload order), is prepared by the technique chain (precision,
dropped samples), lowered to a tile plan, passed through the chain's transforms and replayed
tile by tile. Ops on different units overlap. If the event
queue empties with ops unfinished, that is a deadlock: :meth:`Driver.check_finished` names
them and what they wait on.
"""

from __future__ import annotations

from collections.abc import Generator

from accelsim.context import RunContext
from accelsim.errors import SimulationError
from accelsim.plan import TilePlan
from accelsim.sim.lowering import VECTOR_BUFFER, lower
from accelsim.sim.pipeline import run_tiles
from accelsim.stats.records import OpRecord
from accelsim.techniques.chain import TechniqueChain
from accelsim.workload.op import Op


#: Tiles one run may replay: about 15 us and a few hundred bytes each on this engine, so the
#: budget bounds a run to roughly two minutes and a gigabyte before it is refused.
MAX_TILES_PER_RUN = 5_000_000


class Driver:
    def __init__(self, ctx: RunContext, chain: TechniqueChain) -> None:
        self.ctx = ctx
        self.system = ctx.system
        self.workload = ctx.workload
        self.chain = chain
        self.records: list[OpRecord] = []
        self.done = {}
        self.tiles = 0

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
            op = self.chain.prepare(op)
            plan = self.chain.transform(op, lower(op, self.ctx))
            self._count_tiles(op, plan)
            times = yield from run_tiles(system, plan)
            end = env.now
        record = OpRecord(
            name=op.name, layer=op.layer, phase=op.phase.value, kind=op.kind, unit=op.unit,
            ready_cycle=ready, start_cycle=start, end_cycle=end,
            macs=plan.macs_issued, macs_skipped=int(plan.macs_skipped),
            dram_bytes_read=int(plan.load_bytes.sum()),
            dram_bytes_written=int(plan.store_bytes.sum()),
            compute_cycles=times.compute_cycles, tiles=len(plan),
            vector_ops=float(plan["vector_ops"].sum()),
            stalls={**times.stalls, "unit_wait": start - ready},
            extras={**plan.row_figures(), **_op_figures(op)})
        self._account(op, plan, record)
        self.records.append(record)
        self.chain.on_complete(op, record, end)
        self.done[op.name].succeed()

    def _count_tiles(self, op: Op, plan: TilePlan) -> None:
        self.tiles += len(plan)
        if self.tiles > MAX_TILES_PER_RUN:
            raise SimulationError(
                f"the run needs more than {MAX_TILES_PER_RUN:,} tiles (op {op.name} brings it "
                f"to {self.tiles:,}): its buffers are too small for the workload; give the SRAM "
                "buffers or the vector unit's buffer more capacity, or run fewer phases")

    def _account(self, op: Op, plan: TilePlan, record: OpRecord) -> None:
        """Add what the op did to the counters of the components that did it."""
        for name, nbytes in plan.loads.items():
            self._buffer_stats(name).filled_bytes += int(nbytes.sum())
        for name, nbytes in plan.stores.items():
            self._buffer_stats(name).drained_bytes += int(nbytes.sum())
        if plan.unit == "pe_array":
            for name, nbytes in plan.array_access.items():
                self.system.srams[name].stats.array_bytes += int(nbytes.sum())
        self.system.unit(plan.unit).account(op, plan, record)

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


def _op_figures(op: Op) -> dict:
    """Op-row figures of what a technique changed: the precision it ran at and the samples it
    issued (only when they differ from the defaults)."""
    figures: dict = {}
    if op.precision is not None:
        figures["datatype"] = op.precision.operand
        figures["accumulator"] = op.precision.accumulator
    if op.samples_kept is not None:
        figures["samples"] = op.batch.samples
        figures["samples_kept"] = op.samples_kept
    return figures
