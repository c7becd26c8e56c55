"""Lowering: an op becomes a :class:`TilePlan`, the per-tile figures its events replay.

GEMM ops are tiled for the PE array (:mod:`accelsim.sim.tiling`); a tile's time is its
dataflow compute cycles, stretched where an SRAM buffer cannot feed the array fast enough.
On an ``outer_product`` array a GEMM op's tiles come from :mod:`accelsim.hw.outer_product`
instead (one tile per output-channel group and image, compressed-sparse operands; masks and
densities from the workload's traced value statistics where it has them).
An operand that is an im2col view of a smaller tensor (a convolution's input) is fetched once
per element of the tensor per block, not once per window: the operand fetcher rebuilds the
windows on chip (halo overlap between neighbouring blocks is not counted). Each tile's DRAM
traffic carries its address pattern (row visits per channel, channels touched) from the
DRAM layout, for the row-buffer model.
Vector ops are chunked through the vector unit's buffer. Everything inside a tile is numpy;
only the tile boundaries become SimPy events.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np

from accelsim.hw.dram_timing import channels_used, visits_per_channel
from accelsim.hw.outer_product import OuterProductModel, ProductTiles
from accelsim.hw.system import VECTOR_ENDPOINT, System
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
    load_visits: np.ndarray  # DRAM row visits per channel of each tile's loads
    store_visits: np.ndarray
    load_channels: np.ndarray  # DRAM channels each tile's loads touch
    store_channels: np.ndarray
    macs_skipped: int = 0
    slots: int = 2
    products: ProductTiles | None = None  # outer-product arrays: products, RCPs per tile

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
                       folds=self.folds[keep], load_visits=self.load_visits[keep],
                       store_visits=self.store_visits[keep],
                       load_channels=self.load_channels[keep],
                       store_channels=self.store_channels[keep],
                       macs_skipped=self.macs_skipped + int(self.macs[~keep].sum()),
                       products=None if self.products is None else self.products.select(keep))

    def row_extras(self) -> dict:
        """Figures an op row carries beyond the common ones (products and RCPs)."""
        return {} if self.products is None else self.products.totals()


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


#: Name under which the vector unit's local buffer appears in a plan's byte tables (it is
#: also the vector unit's interconnect endpoint).
VECTOR_BUFFER = VECTOR_ENDPOINT


class Lowering:
    """Turns ops into tile plans for one built :class:`System`; ``value_stats``: the
    workload's traced value statistics, if any (outer-product masks and densities)."""

    def __init__(self, system: System, value_stats=None) -> None:
        self.system = system
        self.value_stats = value_stats
        array = system.pe_array
        roles = ("ifmap", "filter", "ofmap")
        self.buffer_of_role = {r: system.config.buffer_for(r) for r in roles}
        self.slots = 2 if system.double_buffered else 1
        self.outer: OuterProductModel | None = None
        if system.config.pe_array.kind == "outer_product":
            self.outer = OuterProductModel(system.config.pe_array)
            return
        self.tiler = GemmTiler(ArraySpec(
            rows=array.rows, cols=array.cols, dataflow=array.dataflow,
            element_bytes=array.element_bytes, psum_bytes=array.psum_bytes,
            buffer_of_role=self.buffer_of_role,
            usable_bytes={n: s.usable_bytes for n, s in system.srams.items()},
            dram_bytes_per_cycle=system.offchip_bytes_per_cycle))
        self._gemm_tiles = lru_cache(maxsize=4096)(self.tiler.tiles)

    def lower(self, op: Op) -> TilePlan:
        if op.gemm is None:
            return self._lower_vector(op)
        if self.outer is not None:
            return self._lower_outer_product(op)
        return self._lower_gemm(op)

    def _patterns(self, nbytes: np.ndarray, rows, cols, matrix_cols: int
                  ) -> tuple[np.ndarray, np.ndarray]:
        """(row visits per channel, channels) of fetching ``nbytes`` per tile.

        Blocked layout: each block is one contiguous segment. Row-major layout: a block is
        ``rows`` segments of its row length, one matrix row apart.
        """
        dram = self.system.dram
        channels, interleave, row_bytes = dram.channels, dram.params.interleave, dram.row_bytes
        nbytes = np.asarray(nbytes, dtype=float)
        if dram.params.layout == "blocked":
            seg, count, stride = nbytes, np.ones_like(nbytes), nbytes
        else:
            seg = nbytes / np.maximum(rows, 1)
            count = np.maximum(rows, 1).astype(float)
            stride = np.maximum(seg * matrix_cols / np.maximum(cols, 1), seg)
        visits = visits_per_channel(np.maximum(seg, 1), count, np.maximum(stride, 1), channels,
                                    interleave, row_bytes)
        used = channels_used(np.maximum(seg, 1), count, channels, interleave)
        moving = nbytes > 0
        return np.where(moving, visits, 0.0), np.where(moving, used, 0.0)

    def _operand_reuse(self, op: Op) -> dict[str, float]:
        """Uses of each fetched element of an operand: > 1 for an im2col view of a tensor."""
        gemm = op.gemm
        operand_elements = {"ifmap": gemm.m * gemm.k * gemm.count,
                            "filter": gemm.k * gemm.n * gemm.count}
        reuse = {}
        for role, tensor in zip(("ifmap", "filter"), op.reads):
            reuse[role] = max(1.0, operand_elements[role] / max(tensor.elements, 1))
        return reuse

    def _lower_gemm(self, op: Op) -> TilePlan:
        tiles: TileArrays = self._gemm_tiles(op.gemm)
        srams = self.system.srams
        for name, nbytes in _by_buffer(tiles.footprint_bytes, self.buffer_of_role).items():
            srams[name].check_fits(int(np.max(nbytes)), op.name)
        access = _by_buffer(tiles.array_access_bytes, self.buffer_of_role)
        n = len(tiles)
        reuse = self._operand_reuse(op)
        sram_cycles = self._sram_cycles(tiles, access)
        loads_by_role, load_visits, load_channels = {}, np.zeros(n), np.zeros(n)
        for role, nbytes in tiles.load_bytes.items():
            fetched = np.ceil(nbytes / reuse.get(role, 1.0)).astype(np.int64)
            loads_by_role[role] = fetched
            visits, used = self._patterns(fetched, tiles.block_rows[role],
                                          tiles.block_cols[role], tiles.matrix_cols[role])
            load_visits += visits
            load_channels = np.maximum(load_channels, used)
        store_visits, store_channels = self._patterns(
            tiles.store_bytes, tiles.block_rows["ofmap"], tiles.block_cols["ofmap"],
            tiles.matrix_cols["ofmap"])
        return TilePlan(
            unit="pe_array", compute_cycles=tiles.compute_cycles,
            tile_cycles=np.maximum(tiles.compute_cycles, np.ceil(sram_cycles)).astype(np.int64),
            macs=tiles.macs, loads=_by_buffer(loads_by_role, self.buffer_of_role),
            stores={self.buffer_of_role["ofmap"]: tiles.store_bytes}, array_access=access,
            vector_ops=np.zeros(n), folds=tiles.folds, load_visits=load_visits,
            store_visits=store_visits, load_channels=load_channels,
            store_channels=store_channels, slots=self.slots)

    def _lower_outer_product(self, op: Op) -> TilePlan:
        srams, buf = self.system.srams, self.buffer_of_role
        tiles = self.outer.tiles(op, {role: srams[buf[role]].usable_bytes
                                      for role in ("ifmap", "filter", "ofmap")},
                                 self.value_stats)
        footprint = {"ifmap": tiles.a_resident, "filter": tiles.b_resident,
                     "ofmap": tiles.out_bytes}
        for name, nbytes in _by_buffer(footprint, buf).items():
            srams[name].check_fits(int(np.max(nbytes)), op.name)
        n = len(tiles)
        loads = _by_buffer({"ifmap": tiles.a_load, "filter": tiles.b_bytes}, buf)
        ones = np.ones(n)
        load_visits, load_channels = self._patterns(sum(loads.values()), ones, ones, 1)
        store_visits, store_channels = self._patterns(tiles.out_bytes, ones, ones, 1)
        valid = tiles.products.valid
        return TilePlan(
            unit="pe_array", compute_cycles=tiles.compute_cycles,
            tile_cycles=tiles.compute_cycles, macs=valid, loads=loads,
            stores={buf["ofmap"]: tiles.out_bytes},
            array_access=_by_buffer({"ifmap": tiles.a_read, "filter": tiles.b_read,
                                     "ofmap": tiles.out_bytes}, buf),
            vector_ops=np.zeros(n), folds=np.zeros(n, dtype=np.int64),
            load_visits=load_visits, store_visits=store_visits, load_channels=load_channels,
            store_channels=store_channels, macs_skipped=tiles.dense_macs - int(valid.sum()),
            slots=self.slots, products=tiles.products)

    def _sram_cycles(self, tiles: TileArrays, access: dict[str, np.ndarray]) -> np.ndarray:
        """Cycles each tile needs from its busiest buffer: array traffic (slowed by bank
        conflicts on a strided edge), plus DRAM traffic on single-ported buffers."""
        srams, array = self.system.srams, self.system.pe_array
        flow = array.dataflow
        per_buffer = {name: np.asarray(v, dtype=float) for name, v in access.items()}
        if flow.strided_edge is not None:
            role = flow.strided_edge
            name = self.buffer_of_role[role]
            lanes = array.rows if role == flow.row_edge else array.cols
            edge_bytes = np.asarray(tiles.array_access_bytes[role], dtype=float)
            slowdown = srams[name].column_read_slowdown(
                lanes, array.element_bytes, tiles.block_cols[role] * array.element_bytes)
            per_buffer[name] = per_buffer[name] + edge_bytes * (slowdown - 1.0)
        dram = _by_buffer(tiles.load_bytes, self.buffer_of_role)
        dram_out = {self.buffer_of_role["ofmap"]: tiles.store_bytes}
        cycles = np.zeros(len(tiles), dtype=float)
        for name, nbytes in per_buffer.items():
            moved = dram.get(name, 0) + dram_out.get(name, 0)
            cycles = np.maximum(cycles, srams[name].array_cycles(nbytes, moved))
        return cycles

    def _lower_vector(self, op: Op) -> TilePlan:
        chunks = self.system.vector.plan(op.elements, op.vector_ops, op.bytes_read,
                                         op.bytes_written)
        n = len(chunks.compute_cycles)
        zeros = np.zeros(n, dtype=np.int64)
        ones = np.ones(n)
        load_visits, load_channels = self._patterns(chunks.load_bytes, ones, ones, 1)
        store_visits, store_channels = self._patterns(chunks.store_bytes, ones, ones, 1)
        return TilePlan(
            unit="vector", compute_cycles=chunks.compute_cycles,
            tile_cycles=chunks.compute_cycles, macs=zeros,
            loads={VECTOR_BUFFER: chunks.load_bytes}, stores={VECTOR_BUFFER: chunks.store_bytes},
            array_access={VECTOR_BUFFER: chunks.load_bytes + chunks.store_bytes},
            vector_ops=chunks.elements * op.vector_ops, folds=zeros, load_visits=load_visits,
            store_visits=store_visits, load_channels=load_channels,
            store_channels=store_channels, slots=2)
