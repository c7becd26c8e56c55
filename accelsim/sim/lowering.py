"""Lowering: an op becomes a :class:`TilePlan`, the per-tile figures its events replay.

GEMM ops are tiled for the PE array (:mod:`accelsim.sim.tiling`); a tile's time is its
dataflow compute cycles, stretched where an SRAM buffer cannot feed the array fast enough.
Vector ops are chunked through the vector unit's buffer. Everything inside a tile is numpy;
only the tile boundaries become SimPy events.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np

from accelsim.hw.system import System
from accelsim.sim.tiling import ArraySpec, GemmTiler, TileArrays
from accelsim.workload.op import Op


@dataclass
class TilePlan:
    """What one op does, tile by tile. Every field with a value per tile is a numpy array of
    the plan's length; byte arrays are kept per buffer so that totals always follow the tiles.
    """

    unit: str
    compute_cycles: np.ndarray  # dataflow (or vector-lane) cycles per tile
    tile_cycles: np.ndarray  # >= compute_cycles: stretched by SRAM bandwidth
    macs: np.ndarray
    loads: dict[str, np.ndarray]  # buffer -> bytes fetched from DRAM before each tile
    stores: dict[str, np.ndarray]  # buffer -> bytes written to DRAM after each tile
    array_access: dict[str, np.ndarray]  # buffer -> bytes moved between buffer and unit
    vector_ops: np.ndarray
    folds: np.ndarray
    macs_skipped: int = 0
    slots: int = 2

    def __len__(self) -> int:
        return len(self.tile_cycles)

    @property
    def load_bytes(self) -> np.ndarray:
        return _sum_arrays(self.loads, len(self))

    @property
    def store_bytes(self) -> np.ndarray:
        return _sum_arrays(self.stores, len(self))

    def without(self, dropped: np.ndarray) -> TilePlan:
        """The plan with the tiles where ``dropped`` is true removed; their MACs are skipped."""
        keep = ~np.asarray(dropped, dtype=bool)

        def cut(table: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
            return {name: values[keep] for name, values in table.items()}

        return replace(self, compute_cycles=self.compute_cycles[keep],
                       tile_cycles=self.tile_cycles[keep], macs=self.macs[keep],
                       loads=cut(self.loads), stores=cut(self.stores),
                       array_access=cut(self.array_access), vector_ops=self.vector_ops[keep],
                       folds=self.folds[keep],
                       macs_skipped=self.macs_skipped + int(self.macs[~keep].sum()))


def _sum_arrays(table: dict[str, np.ndarray], length: int) -> np.ndarray:
    total = np.zeros(length, dtype=np.int64)
    for values in table.values():
        total = total + values
    return total


def _by_buffer(by_role: dict[str, np.ndarray], buffer_of_role: dict[str, str]) -> dict:
    grouped: dict[str, np.ndarray] = {}
    for role, values in by_role.items():
        name = buffer_of_role[role]
        grouped[name] = grouped.get(name, 0) + values
    return grouped


#: Name under which the vector unit's local buffer appears in a plan's byte tables.
VECTOR_BUFFER = "vector_unit"


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
        for name, nbytes in _by_buffer(tiles.footprint_bytes, self.buffer_of_role).items():
            srams[name].check_fits(int(np.max(nbytes)), op.name)
        access = _by_buffer(tiles.array_access_bytes, self.buffer_of_role)
        sram_cycles = np.zeros(len(tiles), dtype=float)
        for name, nbytes in access.items():
            sram_cycles = np.maximum(sram_cycles, srams[name].array_cycles(nbytes))
        n = len(tiles)
        return TilePlan(
            unit="pe_array", compute_cycles=tiles.compute_cycles,
            tile_cycles=np.maximum(tiles.compute_cycles, np.ceil(sram_cycles)).astype(np.int64),
            macs=tiles.macs, loads=_by_buffer(tiles.load_bytes, self.buffer_of_role),
            stores={self.buffer_of_role["ofmap"]: tiles.store_bytes}, array_access=access,
            vector_ops=np.zeros(n), folds=tiles.folds, slots=self.slots)

    def _lower_vector(self, op: Op) -> TilePlan:
        chunks = self.system.vector.plan(op.elements, op.vector_ops, op.bytes_read,
                                         op.bytes_written)
        n = len(chunks.compute_cycles)
        zeros = np.zeros(n, dtype=np.int64)
        return TilePlan(
            unit="vector", compute_cycles=chunks.compute_cycles,
            tile_cycles=chunks.compute_cycles, macs=zeros,
            loads={VECTOR_BUFFER: chunks.load_bytes}, stores={VECTOR_BUFFER: chunks.store_bytes},
            array_access={VECTOR_BUFFER: chunks.load_bytes + chunks.store_bytes},
            vector_ops=chunks.elements * op.vector_ops, folds=zeros, slots=2)
