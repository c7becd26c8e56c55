"""An op's tile plan with the on-chip share of its operands taken off its DRAM traffic.

The residency plan (:mod:`accelsim.sim.residency`) says, per op, how many bytes of each tensor
it reads from on-chip copies, how many bytes of each output it writes to DRAM, and which
evicted tensors it writes back. Here that becomes the op's traffic: every tile's DRAM fetch
of an operand role keeps the DRAM share of the role's tensors (``fetch:<role>`` times
DRAM bytes / bytes read, in whole bytes), so an operand fetched several times (a re-read
filter) saves each fetch; a tile's drain of finished outputs keeps the share written to DRAM
(where the plan has an ``outputs`` column, tiles that finish no output drain partial sums,
which the reduction reads back, and keep them whole); the write-back of evicted tensors is
spread over the op's tiles in proportion to the outputs each tile finishes. The row visits of a tile's transfers shrink with its bytes.

Tensors by role: a GEMM's input roles are the PE array's
(:meth:`~accelsim.hw.kinds.base.PEArrayKind.input_roles`; by default ``ifmap`` is its first
read and ``filter`` its second), ``input`` its reads after the two operands (the element-wise
inputs of a fused GEMM, :mod:`accelsim.sim.fusion`), ``ofmap`` its writes; a vector op's
``input`` is every read and ``output`` every write. The pool of resident tensors is the
buffers' capacity less the tiles' share; a tensor takes its on-chip bytes there, as the
workload sizes it unless the PE array stores it otherwise
(:meth:`~accelsim.hw.kinds.base.PEArrayKind.stored_bytes_per_element`: an array that keeps
tensors compressed holds more of them). A plan without role
columns (a kind that does not report them) has its loads and stores scaled by the op's total
DRAM share: an approximation stated here.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

import numpy as np

from accelsim.errors import SimulationError
from accelsim.hw.kinds.base import PEArrayKind
from accelsim.hw.system import VECTOR_ENDPOINT
from accelsim.plan import DRAIN, FETCH, LOAD, STORE, TilePlan
from accelsim.sim.residency import OpResidency, Residency, check_balance
from accelsim.workload.op import Op, Tensor


@dataclass(frozen=True)
class OnChipFigures:
    """Bytes an op did not move to or from DRAM because of residency."""

    served_from_sram: int  # reads found on chip
    kept_on_chip: int  # writes that stayed on chip
    written_back: int  # evicted tensors written back by this op


def operand_tensors(op: Op, kind: PEArrayKind | None = None
                    ) -> tuple[dict[str, tuple[Tensor, ...]], dict[str, tuple[Tensor, ...]]]:
    """(input tensors by role, output tensors by role) of ``op`` on the PE array ``kind``
    (module docstring; None: the GEMM's order)."""
    if op.gemm is not None:
        inputs = dict(kind.input_roles(op) if kind is not None
                      else {"ifmap": op.reads[:1], "filter": op.reads[1:2]})
        if op.reads[2:]:  # a fused GEMM's element-wise inputs follow its two operands
            inputs["input"] = op.reads[2:]
        return inputs, {"ofmap": op.writes}
    return {"input": op.reads}, {"output": op.writes}


def _share(tensors: tuple[Tensor, ...], moved: Mapping[str, int]) -> tuple[int, int]:
    """(bytes moved to or from DRAM, bytes) of ``tensors``."""
    total = sum(t.bytes for t in tensors)
    return sum(moved.get(t.name, 0) for t in tensors), total


def scaled(values: np.ndarray, part: int, whole: int) -> np.ndarray:
    """``values * part / whole`` in whole bytes whose total is the floor of the exact total
    (in Python integers where the products would overflow 64 bits)."""
    cumulative = np.cumsum(np.asarray(values, dtype=np.int64))
    if cumulative.size and int(cumulative[-1]) * int(part) >= 2**63:
        cumulative = np.array([c * int(part) // whole for c in cumulative.tolist()],
                              dtype=np.int64)
    else:
        cumulative = cumulative * part // whole
    return np.diff(np.concatenate(([0], cumulative)))


def stored_op(op: Op, stored: Mapping[str, float]) -> Op:
    """``op`` with each tensor named in ``stored`` at that many bytes per element (rounded up
    to whole bytes), the others as they are."""
    def sized(tensor: Tensor) -> Tensor:
        per = stored.get(tensor.name)
        return tensor if per is None else Tensor(tensor.name, math.ceil(tensor.elements * per), 1)
    return replace(op, reads=tuple(map(sized, op.reads)), writes=tuple(map(sized, op.writes)))


def serve_on_chip(plan: TilePlan, op: Op, use: OpResidency, buffer_of: Mapping[str, str],
                  pattern: Callable, kind: PEArrayKind | None = None
                  ) -> tuple[TilePlan, OnChipFigures]:
    """``plan`` with the traffic ``use`` keeps on chip removed (module docstring);
    ``buffer_of`` names the SRAM buffer of each operand role; ``pattern``: the (row visits,
    channels) of contiguous transfers of given bytes (the system's ``fetch_pattern``), for the
    write-backs; ``kind``: the PE array, whose roles a GEMM's reads take."""
    if len(plan) == 0:
        return plan, OnChipFigures(0, 0, 0)
    inputs, outputs = operand_tensors(op, kind)
    columns: dict[str, np.ndarray] = {}
    loads = {name: np.asarray(v, dtype=np.int64) for name, v in plan.loads.items()}
    stores = {name: np.asarray(v, dtype=np.int64) for name, v in plan.stores.items()}
    saved = {FETCH: 0, DRAIN: 0}
    for table, roles, moved, prefix, by_buffer in (
            (plan.fetches, inputs, use.dram_reads, FETCH, loads),
            (plan.drains, outputs, use.dram_writes, DRAIN, stores)):
        if not table:  # no role columns: every buffer keeps the op's total DRAM share
            roles = {"all": tuple(t for ts in roles.values() for t in ts)}
            table = {"all": None}
        for role, values in table.items():
            part, whole = _share(roles.get(role, ()), moved)
            if not whole or part == whole:
                continue
            buffers = list(by_buffer) if values is None else [buffer_of[role]]
            for name in buffers:
                before = by_buffer[name] if values is None else np.asarray(values, np.int64)
                final = before
                if prefix == DRAIN and "outputs" in plan.columns:
                    # tiles that finish no output drain partial sums: those stay as they are
                    final = np.where(plan["outputs"] > 0, before, 0)
                left = before - final + scaled(final, part, whole)
                by_buffer[name] = by_buffer[name] - (before - left)
                saved[prefix] += int((before - left).sum())
                if values is not None:
                    columns[prefix + role] = left
    served, kept = saved[FETCH], saved[DRAIN]
    columns.update({LOAD + name: v for name, v in loads.items()})
    columns.update({STORE + name: v for name, v in stores.items()})
    new_plan = plan.with_columns(**columns)
    new_plan = new_plan.with_columns(**{
        f"{way}_visits": scaled_visits(plan[f"{way}_visits"], before, after)
        for way, before, after in (("load", plan.load_bytes, new_plan.load_bytes),
                                   ("store", plan.store_bytes, new_plan.store_bytes))})
    written_back = sum(use.writebacks.values())
    if written_back:
        new_plan = _with_writebacks(new_plan, written_back, next(iter(outputs)), buffer_of,
                                    pattern)
    return new_plan, OnChipFigures(served, kept, written_back)


def _with_writebacks(plan: TilePlan, nbytes: int, role: str, buffer_of: Mapping[str, str],
                     pattern: Callable) -> TilePlan:
    """``plan`` with ``nbytes`` of evicted tensors written back from the output role's buffer,
    spread over the tiles in proportion to the outputs each finishes (evenly if none says).
    Each tile's write-back is a contiguous transfer of its own address pattern (``pattern``,
    the system's), added to the tile's stores: row visits add up, and the channels busy are
    those of the two transfers' bytes at their own spreads."""
    name = buffer_of[role]
    weights = plan.drains.get(role, plan.stores.get(name, np.zeros(len(plan))))
    if "outputs" in plan.columns:
        weights = np.where(plan["outputs"] > 0, weights, 0)
    spread = _spread(nbytes, weights)
    visits, used = pattern(spread)
    before = plan.store_bytes.astype(float)
    per_channel = (np.divide(before, plan["store_channels"], out=np.zeros(len(plan)),
                             where=plan["store_channels"] > 0)
                   + np.divide(spread, used, out=np.zeros(len(plan)), where=used > 0))
    columns = {STORE + name: plan.stores.get(name, 0) + spread,
               "store_visits": plan["store_visits"] + visits,
               "store_channels": np.divide(before + spread, per_channel,
                                           out=np.zeros(len(plan)), where=per_channel > 0)}
    if plan.drains:
        columns[DRAIN + role] = plan.drains[role] + spread
    return plan.with_columns(**columns)


def _spread(nbytes: int, weights: np.ndarray) -> np.ndarray:
    """``nbytes`` split over tiles in proportion to ``weights`` (evenly if all are zero), in
    whole bytes that add up exactly."""
    weights = np.asarray(weights, dtype=np.int64)
    if weights.sum() <= 0:
        weights = np.ones(len(weights), dtype=np.int64)
    cumulative = np.cumsum(weights) * nbytes // weights.sum()
    return np.diff(np.concatenate(([0], cumulative)))


def scaled_visits(visits: np.ndarray, before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """Row visits of transfers that moved ``before`` bytes and now move ``after``: scaled with
    the bytes, one at least (a tile that moved nothing before gets one per channel)."""
    before = np.asarray(before, dtype=float)
    after = np.asarray(after, dtype=float)
    ratio = np.divide(after, before, out=np.ones_like(after), where=before > 0)
    scaled = np.asarray(visits, dtype=float) * ratio
    return np.where(after > 0, np.maximum(scaled, 1.0), 0.0)


class OnChip:
    """The run's on-chip residency (:class:`accelsim.sim.residency.Residency`), applied to each
    op's tile plan as the op starts.

    The buffers are split: ``residency.tile_share`` of each is the working space of the ops'
    tiles (every slot), the rest the pool of resident tensors; a buffer that only streams
    operands (the PE array's ``streamed_roles``) is the tiles' alone. An op's tiles never leave
    the tiles' share (the tiler plans within it; checked again here), resident tensors never exceed
    the pool (:class:`Residency` checks), so the buffers are never over capacity. An op whose
    first tile is fetched early into the slot the op before it has freed
    (:mod:`accelsim.sim.prefetch`) stays within the tiles' share too: the two ops hold one slot
    each.
    """

    def __init__(self, system, ops: list[Op]) -> None:
        params = system.config.residency
        self.system = system
        self.capacity = sum(s.params.capacity for s in system.srams.values())
        self.working_bytes = sum(s.usable_bytes * system.slots for s in system.srams.values())
        self.stored = system.pe_array.stored_bytes_per_element(ops)
        for name, per in self.stored.items():
            if not (math.isfinite(per) and per > 0):
                raise SimulationError(f"on-chip residency: the PE array stores {name} at "
                                      f"{per} bytes per element, not a positive number")
        pool = sum(max(0, s.params.capacity - s.usable_bytes * system.slots)
                   for name, s in system.srams.items() if name in system.pooled_buffers)
        self.residency = Residency([self.as_stored(op) for op in ops], pool, params.policy,
                                   params.keep_fetched)
        self.buffer_of = operand_buffers(system)
        self.uses: dict[str, OpResidency] = {}
        self.peak_tiles = 0

    def as_stored(self, op: Op) -> Op:
        """``op`` with each tensor at its on-chip bytes (module docstring)."""
        return stored_op(op, self.stored) if self.stored else op

    def begin(self, op: Op, plan: TilePlan) -> tuple[TilePlan, OnChipFigures]:
        """The op's plan with its resident share served on chip."""
        op = self.as_stored(op)
        if len(plan) == 0:  # no work issued: nothing read, written or kept
            self.residency.skip(op)
            self.uses[op.name] = OpResidency()
            return plan, OnChipFigures(0, 0, 0)
        held = sum(plan.footprint.values())
        if held > self.working_bytes:
            raise SimulationError(f"on-chip residency: {op.name} holds {held} bytes in its "
                                  f"tiles, over the tiles' share of {self.working_bytes}")
        self.peak_tiles = max(self.peak_tiles, held)
        use = self.residency.begin(op)
        check_balance([op], {op.name: use})
        self.uses[op.name] = use
        return serve_on_chip(plan, op, use, self.buffer_of, self.system.fetch_pattern,
                             self.system.pe_array)

    def end(self, op: Op) -> None:
        self.residency.end(op)

    def holds(self, tensor: str) -> bool:
        """Whether any part of ``tensor`` is on chip now."""
        return tensor in self.residency.resident

    def summary(self) -> dict:
        residency = self.residency
        return {"policy": residency.policy, "capacity_bytes": self.capacity,
                "working_bytes": self.working_bytes, "pool_bytes": residency.pool_bytes,
                "peak_resident_bytes": residency.peak_bytes,
                "peak_tile_bytes": self.peak_tiles,
                "dirty_bytes_at_end": residency.dirty_bytes}


def operand_buffers(system) -> dict[str, str]:
    """The buffer (interconnect endpoint) of every operand role of GEMM and vector ops."""
    return {**system.buffer_of_role, "input": VECTOR_ENDPOINT, "output": VECTOR_ENDPOINT}
