"""The driver: one SimPy process per op, issued when its inputs are ready.

An op waits for every predecessor in the workload graph, then for its unit (PE array or
vector unit; granted in workload order), is prepared by the technique chain (precision,
dropped samples), lowered to a tile plan, passed through the chain's transforms and replayed
tile by tile. Ops on different units overlap. If the event
queue empties with ops unfinished, that is a deadlock: :meth:`Driver.check_finished` names
them and what they wait on.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass

from accelsim.context import RunContext
from accelsim.errors import SimulationError
from accelsim.plan import TilePlan
from accelsim.sim.lowering import VECTOR_BUFFER, lower
from accelsim.sim.onchip import OnChip, OnChipFigures, operand_buffers, operand_tensors
from accelsim.sim.output_stream import stream_elementwise
from accelsim.sim.prefetch import Prefetch, book_prefetch, first_tile_ready_bytes, settle
from accelsim.sim.fast_forward import run_tiles_fast
from accelsim.sim.pipeline import run_tiles
from accelsim.stats.records import OpRecord
from accelsim.stats.tensor_classes import split_by_class, tensor_classes
from accelsim.stats.transfers import TransferTag
from accelsim.techniques.chain import TechniqueChain
from accelsim.workload.op import Op


@dataclass
class Prepared:
    """An op made ready to run: as the techniques changed it, its plan, and the part of its
    first tile fetched before it started."""

    op: Op
    plan: TilePlan
    prefetch: Prefetch | None = None


#: Tiles one run may replay: about 15 us and a few hundred bytes each on this engine, so the
#: budget bounds a run to roughly two minutes and a gigabyte before it is refused.
MAX_TILES_PER_RUN = 5_000_000


class Driver:
    def __init__(self, ctx: RunContext, chain: TechniqueChain,
                 progress: Callable[[int, int, float], None] | None = None) -> None:
        self.ctx = ctx
        self.system = ctx.system
        self.workload = ctx.workload
        self.chain = chain
        self.records: list[OpRecord] = []
        self.progress = progress
        self.done = {}
        self.tiles = 0
        self.onchip: OnChip | None = None
        self.classes = tensor_classes(self.workload)
        self.prefetch_across_ops = ctx.system.config.resolved_prefetch == "across_ops"
        self.buffer_of = operand_buffers(ctx.system)
        self.writer = {t.name: op.name for op in self.workload.ops() for t in op.writes}
        self.prepared_or_started: set[str] = set()
        self.started: set[str] = set()  # ops whose on-chip share is decided
        self.prepared: dict[str, Prepared] = {}
        self.unit_ops: dict[str, list[str]] = {}  # each unit's ops in issue order
        self.unit_cursor: dict[str, int] = {}  # where each unit's first unprepared op is
        #: tile replay: per tile (the reference) or in repeating periods (same figures)
        self.replay = run_tiles if ctx.system.config.sim.reference else run_tiles_fast

    def start(self) -> None:
        env = self.system.env
        ops = self.workload.ops()
        if self.system.config.residency.policy != "none":
            self.onchip = OnChip(self.system, ops)
        for index, op in enumerate(ops):
            self.unit_ops.setdefault(op.unit, []).append(op.name)
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
            prepared = self.prepared.pop(op.name, None) or self._prepare(op)
            op, plan, onchip = self._begin(prepared)
            next_on_unit = None
            if self.prefetch_across_ops:
                def next_on_unit():
                    self._prefetch_next(op.unit)
            times = yield from self.replay(system, plan, prepared.prefetch, next_on_unit,
                                           TransferTag(op.name))
            end = env.now
            if self.onchip is not None:
                self.onchip.end(op)
        record = OpRecord(
            name=op.name, layer=op.layer, phase=op.phase.value, kind=op.kind, unit=op.unit,
            ready_cycle=ready, start_cycle=start, end_cycle=end,
            macs=plan.macs_issued, macs_skipped=int(plan.macs_skipped),
            dram_bytes_read=int(plan.load_bytes.sum()),
            dram_bytes_written=int(plan.store_bytes.sum()),
            compute_cycles=times.compute_cycles, tiles=len(plan),
            vector_ops=float(plan["vector_ops"].sum()),
            stalls={**times.stalls, "unit_wait": start - ready},
            onchip_bytes_read=onchip.served_from_sram if onchip else 0,
            onchip_bytes_kept=onchip.kept_on_chip if onchip else 0,
            prefetched_bytes=prepared.prefetch.bytes if prepared.prefetch else 0,
            dram_bytes_by_class=self._traffic_by_class(op, plan, onchip),
            extras={**plan.row_figures(), **plan.traffic_figures(), **_op_figures(op)})
        self._account(op, plan, record)
        if plan.unit == "pe_array":  # element-wise work run in the array's output stream
            system.vector.stats.operations += record.vector_ops
        if plan.unit == "vector" and onchip is not None:
            # resident tensors move between an SRAM buffer and the vector unit's buffer
            moved = onchip.served_from_sram + onchip.kept_on_chip
            self.system.srams[system.buffer_of_role["ofmap"]].stats.exchanged_bytes += moved
            system.vector.stats.exchanged_bytes += moved
        self.records.append(record)
        if self.progress is not None:
            self.progress(len(self.records), len(self.done), end)
        self.chain.on_complete(op, record, end)
        self.done[op.name].succeed()

    def _prepare(self, op: Op) -> Prepared:
        """The op as the techniques change it, and its tile plan."""
        self.prepared_or_started.add(op.name)
        op = self.chain.prepare(op)
        plan = stream_elementwise(op, self.chain.transform(op, lower(op, self.ctx)),
                                  self.system)
        self._count_tiles(op, plan)
        return Prepared(op, plan)

    def _begin(self, prepared: Prepared) -> tuple[Op, TilePlan, OnChipFigures | None]:
        """The op starts: its on-chip share is decided and taken off its plan."""
        op, plan, onchip = prepared.op, prepared.plan, None
        self.started.add(op.name)
        if self.onchip is not None:
            plan, onchip = self.onchip.begin(op, plan)
        if prepared.prefetch is not None:
            plan = settle(plan, prepared.prefetch, self.buffer_of)
        return op, plan, onchip

    def _prefetch_next(self, unit: str) -> None:
        """Prepare the next op of ``unit`` in issue order and book the part of its first tile
        whose tensors exist, if every op it depends on has started (accelsim.sim.prefetch)."""
        ops, cursor = self.unit_ops[unit], self.unit_cursor.get(unit, 0)
        while cursor < len(ops) and ops[cursor] in self.prepared_or_started:
            cursor += 1  # ops stay prepared: the first unprepared one only moves forward
        self.unit_cursor[unit] = cursor
        name = ops[cursor] if cursor < len(ops) else None
        if name is None or not all(p in self.started
                                   for p in self.workload.graph.predecessors(name)):
            return
        prepared = self._prepare(self.workload.op(name))
        ready = first_tile_ready_bytes(prepared.op, prepared.plan, self._in_dram,
                                       self.system.pe_array)
        prepared.prefetch = book_prefetch(self.system, prepared.plan, ready, self.buffer_of,
                                          TransferTag(name, prefetch=True))
        self.prepared[name] = prepared

    def _in_dram(self, tensor: str) -> bool:
        """Whether ``tensor`` can be fetched from DRAM now: nobody writes it or its writer has
        finished, and no part of it is on chip."""
        writer = self.writer.get(tensor)
        written = writer is None or self.done[writer].triggered
        return written and (self.onchip is None or not self.onchip.holds(tensor))

    def _traffic_by_class(self, op: Op, plan: TilePlan, onchip) -> dict[str, dict[str, int]]:
        """The op's DRAM bytes read and written, by tensor class: each role's traffic over
        the role's tensors in proportion to what each moves to or from DRAM; write-backs of
        evicted tensors by their own class."""
        use = self.onchip.uses.pop(op.name) if self.onchip is not None else None
        inputs, outputs = operand_tensors(op, self.system.pe_array)
        inputs = {**outputs, **inputs}  # an output role's loads re-read its partial sums
        written_back = onchip.written_back if onchip else 0
        read: dict[str, int] = {}
        written: dict[str, int] = {}
        for totals, roles, moved, out, minus in (
                (plan.fetches, inputs, use.dram_reads if use else {}, read, 0),
                (plan.drains, outputs, use.dram_writes if use else {}, written,
                 written_back)):
            if totals:
                parts = [(roles.get(role, ()), int(values.sum())) for role, values
                         in totals.items()]
            else:
                whole = plan.load_bytes if out is read else plan.store_bytes
                parts = [(tuple(t for ts in roles.values() for t in ts), int(whole.sum()))]
            if minus:  # write-backs ride on the output role's drains
                tensors, total = parts[0]
                parts[0] = (tensors, total - minus)
            for tensors, total in parts:
                weights = {t.name: moved.get(t.name, 0) if use else t.bytes for t in tensors}
                for cls, nbytes in split_by_class(tensors, total, weights,
                                                  self.classes).items():
                    out[cls] = out.get(cls, 0) + nbytes
        for name, nbytes in (use.writebacks.items() if use else ()):
            cls = self.classes.get(name, "activations")
            written[cls] = written.get(cls, 0) + nbytes
        return {"read": read, "written": written}

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
    """Op-row figures of the GEMM it issued (``gemm``: m, n, k, count) and of what a technique
    changed: the precision it ran at and the samples it issued (only when they differ from the
    defaults)."""
    figures: dict = {}
    if op.gemm is not None:
        gemm = op.issued_gemm
        figures["gemm"] = {"m": gemm.m, "n": gemm.n, "k": gemm.k, "count": gemm.count}
    if op.precision is not None:
        figures["datatype"] = op.precision.operand
        figures["accumulator"] = op.precision.accumulator
    if op.samples_kept is not None:
        figures["samples"] = op.batch.samples
        figures["samples_kept"] = op.samples_kept
    return figures
