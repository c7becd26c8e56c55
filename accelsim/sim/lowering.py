"""Lowering: an op becomes a :class:`~accelsim.plan.TilePlan`, the per-tile figures its events
replay.

A GEMM op is lowered by the system's PE-array kind (:meth:`accelsim.hw.kinds.PEArrayKind.lower`),
whatever the kind is; an op whose samples were all dropped issues no tile. A vector op is
chunked through the vector unit's buffer. Every plan is checked before it leaves
(:meth:`accelsim.plan.TilePlan.check`).
"""

from __future__ import annotations

import numpy as np

from accelsim.context import RunContext
from accelsim.hw.system import VECTOR_ENDPOINT
from accelsim.plan import TilePlan
from accelsim.workload.op import Op

#: Name under which the vector unit's local buffer appears in a plan's byte tables (it is
#: also the vector unit's interconnect endpoint).
VECTOR_BUFFER = VECTOR_ENDPOINT


def lower(op: Op, ctx: RunContext) -> TilePlan:
    """The checked tile plan of ``op`` on the run's system."""
    if op.gemm is None:
        plan = _lower_vector(op, ctx)
    elif op.issued_gemm.macs == 0:
        plan = _no_tiles(op, ctx)
    else:
        plan = ctx.system.pe_array.lower(op, ctx)
    plan.check(op.name, op.macs, f"the {ctx.system.pe_array.name} lowering")
    return plan


def _no_tiles(op: Op, ctx: RunContext) -> TilePlan:
    """The plan of a GEMM op none of whose samples is issued: every MAC is skipped."""
    empty = np.zeros(0, dtype=np.int64)
    return TilePlan.build("pe_array", compute_cycles=empty, loads={}, stores={}, access={},
                          macs_skipped=op.macs, slots=ctx.system.slots)


def _lower_vector(op: Op, ctx: RunContext) -> TilePlan:
    system = ctx.system
    chunks = system.vector.plan(op.elements, op.vector_ops, op.bytes_read, op.bytes_written)
    load_visits, load_channels = system.fetch_pattern(chunks.load_bytes)
    store_visits, store_channels = system.fetch_pattern(chunks.store_bytes)
    return TilePlan.build(
        "vector", compute_cycles=chunks.compute_cycles,
        vector_ops=chunks.elements * op.vector_ops, load_visits=load_visits,
        store_visits=store_visits, load_channels=load_channels, store_channels=store_channels,
        loads={VECTOR_BUFFER: chunks.load_bytes}, stores={VECTOR_BUFFER: chunks.store_bytes},
        access={VECTOR_BUFFER: chunks.load_bytes + chunks.store_bytes}, slots=2)
