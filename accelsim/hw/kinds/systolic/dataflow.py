"""Systolic dataflows as small strategy objects: how a GEMM maps onto a rows x cols array.

A GEMM C[M x N] = A[M x K] . B[K x N] has two dimensions mapped spatially (one on the array
rows, one on the columns) and one streamed through the array in time. The array computes one
*fold* (a rows x cols block of the two spatial dimensions) at a time; a fold costs its
streamed length plus a fixed fill-and-drain overhead. The cycle formulas are those of
SCALE-Sim (Samajdar et al., ISPASS 2020), which runs folds one after another and charges the
full-array overhead on every fold, partial or not:

==== ============ ============ ========= ===================================
flow rows hold    cols hold    streamed  cycles per fold
==== ============ ============ ========= ===================================
os   M (outputs)  N (outputs)  K         K + rows + cols - 2
ws   K (weights)  N (weights)  M         M + 2*rows + cols - 2
is   K (inputs)   M (inputs)   N         N + 2*rows + cols - 2
==== ============ ============ ========= ===================================

Each strategy also says which operand stays in the PEs and which enter at the row and column
edges, so the SRAM traffic of a fold can be counted (see :func:`fold_sram_elements`).
"""

from __future__ import annotations

from dataclasses import dataclass

from accelsim.registry import Registry

DATAFLOWS: Registry[Dataflow] = Registry("dataflow")


@dataclass(frozen=True)
class Dataflow:
    """The mapping of GEMM dimensions (``m``, ``n``, ``k``) onto the array."""

    name: str
    row_dim: str
    col_dim: str
    stream_dim: str
    stationary: str  # operand role that stays in the PEs: ifmap, filter or ofmap
    row_edge: str  # operand role streamed in (or out) along the rows
    col_edge: str  # operand role streamed along the columns
    fill_rows: int  # multiples of `rows` in the per-fold overhead
    #: role of the edge operand read down a column of its row-major block each cycle (one
    #: element from each of the edge's block rows, a block row apart), or None
    strided_edge: str | None = None

    def fold_overhead(self, rows: int, cols: int) -> int:
        """Fill and drain cycles paid by every fold (a fold costs its streamed length plus
        this)."""
        return self.fill_rows * rows + cols - 2


for _flow in (
    Dataflow("os", row_dim="m", col_dim="n", stream_dim="k", stationary="ofmap",
             row_edge="ifmap", col_edge="filter", fill_rows=1, strided_edge="ifmap"),
    Dataflow("ws", row_dim="k", col_dim="n", stream_dim="m", stationary="filter",
             row_edge="ifmap", col_edge="ofmap", fill_rows=2),
    Dataflow("is", row_dim="k", col_dim="m", stream_dim="n", stationary="ifmap",
             row_edge="filter", col_edge="ofmap", fill_rows=2, strided_edge="filter"),
):
    DATAFLOWS.register(_flow.name)(_flow)
