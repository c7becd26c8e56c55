"""Lowering: an op becomes a :class:`TilePlan`, the per-tile figures its events replay.

GEMM ops are tiled for the PE array (:mod:`accelsim.sim.tiling`); a tile's time is its
dataflow compute cycles, stretched where an SRAM buffer cannot feed the array fast enough.
Vector ops are chunked through the vector unit's buffer. Everything inside a tile is numpy;
only the tile boundaries become SimPy events.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from accelsim.hw.system import System
from accelsim.sim.tiling import ArraySpec, GemmTiler, TileArrays
from accelsim.workload.op import Op


@dataclass
class TilePlan:
    """What one op does, tile by tile (arrays) and in total (per-buffer byte counts)."""

    unit: str
    compute_cycles: np.ndarray  # dataflow (or vector-lane) cycles per tile
    tile_cycles: np.ndarray  # >= compute_cycles: stretched by SRAM bandwidth
    load_bytes: np.ndarray  # DRAM -> chip before each tile
    store_bytes: np.ndarray  # chip -> DRAM after each tile
    macs: np.ndarray
    macs_skipped: int = 0
    slots: int = 2
    sram_fill: dict[str, int] = field(default_factory=dict)
    sram_drain: dict[str, int] = field(default_factory=dict)
    sram_array: dict[str, int] = field(default_factory=dict)
    vector_ops: float = 0.0
    folds: int = 0

    def __len__(self) -> int:
        return len(self.tile_cycles)


class Lowering:
    """Turns ops into tile plans for one built :class:`System`."""

    def __init__(self, system: System) -> None:
        self.system = system
        array = system.pe_array
        roles = ("ifmap", "filter", "ofmap")
        self.buffer_of_role = {r: system.config.buffer_for(r) for r in roles}
        self.tiler = GemmTiler(ArraySpec(
            rows=array.rows, cols=array.cols, dataflow=array.dataflow,
            element_bytes=array.element_bytes, psum_bytes=array.psum_bytes,
            buffer_of_role=self.buffer_of_role,
            usable_bytes={n: s.usable_bytes for n, s in system.srams.items()},
            dram_bytes_per_cycle=system.offchip_bytes_per_cycle))
        self._gemm_tiles = lru_cache(maxsize=4096)(self.tiler.tiles)
        self.slots = 2 if system.double_buffered else 1

    def lower(self, op: Op) -> TilePlan:
        return self._lower_gemm(op) if op.gemm is not None else self._lower_vector(op)

    def _lower_gemm(self, op: Op) -> TilePlan:
        tiles: TileArrays = self._gemm_tiles(op.gemm)
        srams = self.system.srams
        resident: dict[str, np.ndarray] = {}
        for role, nbytes in tiles.footprint_bytes.items():
            name = self.buffer_of_role[role]
            resident[name] = resident.get(name, 0) + nbytes
        for name, nbytes in resident.items():
            srams[name].check_fits(int(np.max(nbytes)), op.name)
        by_buffer: dict[str, np.ndarray] = {}
        for role, nbytes in tiles.array_access_bytes.items():
            name = self.buffer_of_role[role]
            by_buffer[name] = by_buffer.get(name, 0) + nbytes
        sram_cycles = np.zeros(len(tiles), dtype=float)
        for name, nbytes in by_buffer.items():
            sram_cycles = np.maximum(sram_cycles, srams[name].array_cycles(nbytes))
        fill: dict[str, int] = {}
        for role, nbytes in tiles.load_bytes.items():
            name = self.buffer_of_role[role]
            fill[name] = fill.get(name, 0) + int(nbytes.sum())
        return TilePlan(
            unit="pe_array", compute_cycles=tiles.compute_cycles,
            tile_cycles=np.maximum(tiles.compute_cycles, np.ceil(sram_cycles)),
            load_bytes=tiles.total_load_bytes, store_bytes=tiles.store_bytes,
            macs=tiles.macs, slots=self.slots, sram_fill=fill,
            sram_drain={self.buffer_of_role["ofmap"]: int(tiles.store_bytes.sum())},
            sram_array={n: int(v.sum()) for n, v in by_buffer.items()},
            folds=int(tiles.folds.sum()))

    def _lower_vector(self, op: Op) -> TilePlan:
        chunks = self.system.vector.plan(op.elements, op.vector_ops, op.bytes_read,
                                         op.bytes_written)
        return TilePlan(
            unit="vector", compute_cycles=chunks.compute_cycles,
            tile_cycles=chunks.compute_cycles, load_bytes=chunks.load_bytes,
            store_bytes=chunks.store_bytes, macs=np.zeros(len(chunks.compute_cycles), np.int64),
            slots=2, vector_ops=op.elements * op.vector_ops)

