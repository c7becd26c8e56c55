"""Lowering: an op becomes a :class:`~accelsim.plan.TilePlan`, the per-tile figures its events
replay.

A GEMM op is lowered by the system's PE-array kind (:meth:`accelsim.hw.kinds.PEArrayKind.lower`),
whatever the kind is; an op whose samples were all dropped issues no tile. A vector op is
chunked through the vector unit's buffer (the elements and bytes of its issued samples). Every plan is checked before it leaves
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
    if op.samples_kept == 0:
        plan = _no_tiles(op, ctx)
    elif op.gemm is None:
        plan = _lower_vector(op, ctx)
    else:
        plan = ctx.system.pe_array.lower(op, ctx)
    plan.check(op.name, op.macs, f"the {ctx.system.pe_array.name} lowering")
    return plan


def _no_tiles(op: Op, ctx: RunContext) -> TilePlan:
    """The plan of an op none of whose samples is issued: no tile, every MAC skipped."""
    empty = np.zeros(0, dtype=np.int64)
    return TilePlan.build(op.unit, compute_cycles=empty, loads={}, stores={}, access={},
                          macs_skipped=op.macs, slots=ctx.system.slots)


def _lower_vector(op: Op, ctx: RunContext) -> TilePlan:
    system = ctx.system
    share = op.issued_share  # dropped samples: their share of the traffic is not moved
    chunks = system.vector.plan(op.issued_elements, op.vector_ops,
                                round(op.bytes_read * share), round(op.bytes_written * share))
    load_visits, load_channels = system.fetch_pattern(chunks.load_bytes)
    store_visits, store_channels = system.fetch_pattern(chunks.store_bytes)
    return TilePlan.build(
        "vector", compute_cycles=chunks.compute_cycles,
        vector_ops=chunks.elements * op.vector_ops, load_visits=load_visits,
        store_visits=store_visits, load_channels=load_channels, store_channels=store_channels,
        loads={VECTOR_BUFFER: chunks.load_bytes}, stores={VECTOR_BUFFER: chunks.store_bytes},
        access={VECTOR_BUFFER: chunks.load_bytes + chunks.store_bytes},
        fetches={"input": chunks.load_bytes}, drains={"output": chunks.store_bytes}, slots=2)
