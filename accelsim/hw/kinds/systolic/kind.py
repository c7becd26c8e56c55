"""The ``systolic`` PE-array kind: rows x cols MAC units running one dataflow (os / ws / is).

A GEMM op is tiled for the SRAM buffers (:mod:`accelsim.hw.kinds.systolic.tiling`); a tile's
compute cycles follow the dataflow (:mod:`accelsim.hw.kinds.systolic.dataflow`, SCALE-Sim's
fold formulas) and its ``sram_cycles`` are what the busiest buffer needs to feed it (array
traffic, slowed by bank conflicts on a strided edge, plus DRAM traffic on single-ported
buffers). An operand that is an im2col view of a convolution's input is fetched as the
distinct input elements of each block, halos included and padding excluded
(:mod:`accelsim.workload.conv_window`): the operand fetcher rebuilds the windows on chip, and
the tiler prices the same bytes when it chooses the blocking. Each tile's DRAM traffic carries
its address pattern for the row-buffer model.

Operand and partial-sum widths follow the op's precision (:class:`accelsim.workload.op.Precision`);
the cycles do not (one MAC per PE per cycle at any datatype). A plan's ``stream_cycles`` column is
the part of each tile's compute cycles that streams the dataflow's streamed dimension (folds x
streamed length, without fill and drain), for techniques that change how many operands a PE
takes per cycle.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

import numpy as np
from pydantic import Field

from accelsim.config.models import PEArrayParams
from accelsim.context import RunContext
from accelsim.hw.kinds.base import PE_ARRAY_KINDS, PEArrayKind
from accelsim.errors import SimulationError
from accelsim.hw.kinds.systolic.dataflow import DATAFLOWS
from accelsim.hw.kinds.systolic.tiling import ArraySpec, GemmTiler, TileArrays
from accelsim.hw.kinds.tile_traffic import dram_patterns
from accelsim.plan import TilePlan
from accelsim.workload.conv_window import im2col_views
from accelsim.workload.op import Op

#: expanded tilings of more than :data:`KEPT_TILES` tiles kept per tiler: the ops lowered
#: last (same-shaped ops follow each other); smaller ones and every blocking choice are kept
RECENT_TILINGS = 4
KEPT_TILES = 4096


class SystolicParams(PEArrayParams):
    """A rows x cols systolic array (rows: SCALE-Sim's ArrayHeight, cols: ArrayWidth)."""

    kind: Literal["systolic"] = Field(description="PE-array kind")
    rows: int = Field(gt=0, le=1024, description="PE rows (SCALE-Sim's ArrayHeight; at most "
                      "1024, 4x the 256 of TPUv1's 256x256 array)")
    cols: int = Field(gt=0, le=1024, description="PE columns (SCALE-Sim's ArrayWidth; at most "
                      "1024, 4x the 256 of TPUv1's 256x256 array)")
    dataflow: Literal["os", "ws", "is"] = Field(
        description="output-, weight- or input-stationary mapping of the GEMM")


@PE_ARRAY_KINDS.register("systolic")
class SystolicArray(PEArrayKind):
    """A rows x cols systolic array running one dataflow (module docstring)."""

    name = "systolic"
    Params = SystolicParams
    description = "rows x cols MAC array, os/ws/is dataflow, SCALE-Sim v3 fold timing"
    counted_columns = ("folds",)
    reports_footprint = True
    streams_outputs = True

    def __init__(self, env, params: SystolicParams, energy) -> None:
        super().__init__(env, params, energy)
        self.rows, self.cols = params.rows, params.cols
        self.dataflow = DATAFLOWS.get(params.dataflow)
        self._tilers: dict[tuple[int, int], object] = {}

    @property
    def pes(self) -> int:
        return self.rows * self.cols

    def _tiles(self, ctx: RunContext, op: Op, element_bytes: int, psum_bytes: int
               ) -> TileArrays:
        """The op's tiles at the given widths (one cached tiler per width pair)."""
        key = (element_bytes, psum_bytes)
        if key not in self._tilers:
            system = ctx.system
            tiler = GemmTiler(ArraySpec(
                rows=self.rows, cols=self.cols, dataflow=self.dataflow,
                element_bytes=element_bytes, psum_bytes=psum_bytes,
                buffer_of_role=system.buffer_of_role,
                usable_bytes={n: s.usable_bytes for n, s in system.srams.items()},
                dram_bytes_per_cycle=system.offchip_bytes_per_cycle))
            self._tilers[key] = _cached_tilings(tiler)
        try:
            views = im2col_views(op)
        except ValueError as error:
            raise SimulationError(str(error)) from None
        return self._tilers[key](op.issued_gemm, views)

    def lower(self, op: Op, ctx: RunContext) -> TilePlan:
        system = ctx.system
        element_bytes, psum_bytes = self.element_bytes(op)
        tiles = self._tiles(ctx, op, element_bytes, psum_bytes)
        footprint = system.hold(tiles.footprint_bytes, op.name)
        access = system.by_buffer(tiles.array_access_bytes)
        loads_by_role = dict(tiles.load_bytes)
        return TilePlan.build(
            "pe_array", compute_cycles=tiles.compute_cycles,
            sram_cycles=self._sram_cycles(ctx, tiles, access, element_bytes),
            macs=tiles.macs, folds=tiles.folds, outputs=tiles.outputs,
            stream_cycles=tiles.stream_cycles,
            **dram_patterns(system, tiles), loads=system.by_buffer(loads_by_role),
            stores={system.buffer_of_role["ofmap"]: tiles.store_bytes}, access=access,
            fetches=loads_by_role, drains={"ofmap": tiles.store_bytes}, footprint=footprint,
            macs_skipped=op.macs - int(tiles.macs.sum()), slots=system.slots)

    def _sram_cycles(self, ctx: RunContext, tiles: TileArrays,
                     access: dict[str, np.ndarray], element_bytes: int) -> np.ndarray:
        """Cycles each tile needs from its busiest buffer: array traffic (slowed by bank
        conflicts on a strided edge), plus DRAM traffic on single-ported buffers."""
        system = ctx.system
        srams, flow, buffer_of_role = system.srams, self.dataflow, system.buffer_of_role
        per_buffer = {name: np.asarray(v, dtype=float) for name, v in access.items()}
        if flow.strided_edge is not None:
            role = flow.strided_edge
            name = buffer_of_role[role]
            lanes = self.rows if role == flow.row_edge else self.cols
            edge_bytes = np.asarray(tiles.array_access_bytes[role], dtype=float)
            slowdown = srams[name].column_read_slowdown(
                lanes, element_bytes, tiles.block_cols[role] * element_bytes)
            per_buffer[name] = per_buffer[name] + edge_bytes * (slowdown - 1.0)
        dram = system.by_buffer(tiles.load_bytes)
        dram_out = {buffer_of_role["ofmap"]: tiles.store_bytes}
        cycles = np.zeros(len(tiles), dtype=float)
        for name, nbytes in per_buffer.items():
            moved = dram.get(name, 0) + dram_out.get(name, 0)
            cycles = np.maximum(cycles, srams[name].array_cycles(nbytes, moved))
        return cycles

    def summary(self) -> dict:
        return {**super().summary(), "dataflow": self.dataflow.name}


def _cached_tilings(tiler: GemmTiler):
    """``tiler``'s tiles of a (gemm, views) pair, remembered: every blocking choice and every
    small tiling for the run, large tilings only while they are among the last few (a run of
    a million tiles would otherwise keep them all)."""
    choose = lru_cache(maxsize=4096)(tiler.choose)
    recent = lru_cache(maxsize=RECENT_TILINGS)(
        lambda gemm, views: tiler.tiles(gemm, choose(gemm, views), views))
    small: dict = {}

    def tiles(gemm, views) -> TileArrays:
        arrays = small.get((gemm, views))
        if arrays is None:
            arrays = recent(gemm, views)
            if len(arrays) <= KEPT_TILES:
                small[(gemm, views)] = arrays
        return arrays

    return tiles
