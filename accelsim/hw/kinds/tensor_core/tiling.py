"""Thread-block tiling of a GEMM on a tensor-core array: CTA tiles run in waves, K in chunks.

C (M x N, ``count`` instances) is cut into CTA tiles of ``tile_m`` x ``tile_n`` (the last
row and column of tiles partial), as CUTLASS does; each CTA runs on one core (SM) and
streams its whole K range through the core's shared memory in ``tile_k`` stages, its
accumulators in the register file. When the grid of CTA tiles is smaller than the cores,
K is split (split-K, CUTLASS's serial reduction): ``split`` CTAs per C tile each take a
slice of K, a multiple of ``tile_k``; the split is the one with the fewest compute cycles
(the fewest slices among equals). CTAs are dealt to the cores in waves of ``cores``, in
raster order over the C tiles (slices of a tile adjacent), with N or M the fastest-moving
index, whichever moves fewer DRAM bytes (ties: N).

A *tile of the plan* is one wave over one K chunk (``chunk_k``, a multiple of ``tile_k``:
each wave is streamed in at most :data:`CHUNKS_PER_WAVE` chunks, fewer where its operand
slices would not fit the buffers). Its figures:

* compute cycles: the slowest CTA of the wave (per-wave time is the slowest core), a CTA
  taking ceil(ceil(m/mma_m) * ceil(n/mma_n) * ceil(k/mma_k) / mma_units) cycles for its
  m x n x k share (its MMA operations spread over the core's MMA units); no fill or drain
  overhead is added (module :mod:`accelsim.hw.kinds.tensor_core.kind` says why);
* DRAM loads: the distinct A rows and B columns of the wave's CTAs over the chunk (the L2
  serves CTAs that share a panel, which run in the same wave, from one fetch; nothing is
  kept for the next wave), an im2col operand as the distinct input elements of each run of
  adjacent CTA rows (:meth:`accelsim.workload.conv_window.ConvWindow.unique_inputs`); with
  split-K each slice but the first also reads the partial sums of the one before (at
  accumulator width) in the wave's last chunk;
* stores, after a wave's last chunk: its finished outputs at the operand width, and each
  slice's partial sums but the last's at the accumulator width;
* array access: bytes the cores read from the operand buffer (each CTA its own A and B
  slices) and the accumulators read out after the last chunk;
* footprint: the chunk's distinct operand slices in their buffers and the wave's
  accumulators (``tile_m`` x ``tile_n`` at accumulator width per CTA) in the ``ofmap``
  buffer.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from accelsim.errors import SimulationError
from accelsim.hw.kinds.systolic.tiling import MAX_TILES, TileArrays
from accelsim.workload.conv_window import Im2colView
from accelsim.workload.op import Gemm

#: CTA tiles one op may be cut into: each costs a few per-CTA array entries (about 100
#: bytes), so a million is ~100 MB; a GEMM that needs more is refused before any is built.
MAX_CTAS = 1_000_000

#: Most K chunks a wave is streamed in: the first chunk's loads of an op are not overlapped
#: by any compute, so more chunks expose less (at most an eighth of a wave's operands) at the
#: cost of more tiles (SimPy events).
CHUNKS_PER_WAVE = 8


@dataclass(frozen=True)
class CoreSpec:
    """What the tiler needs of the hardware."""

    cores: int
    mma_units: int  # per core
    mma: tuple[int, int, int]  # m, n, k of one MMA operation
    tile_m: int
    tile_n: int
    tile_k: int
    element_bytes: int
    psum_bytes: int
    buffer_of_role: dict[str, str]  # role -> buffer name
    usable_bytes: dict[str, int]  # buffer name -> bytes one tile may occupy


@dataclass(frozen=True)
class Grid:
    """The CTAs of one GEMM in issue order (arrays of one entry per CTA)."""

    instance: np.ndarray
    m_tile: np.ndarray
    n_tile: np.ndarray
    slice: np.ndarray
    wave: np.ndarray
    m_size: np.ndarray  # rows of C the CTA computes
    n_size: np.ndarray  # columns of C
    k_start: np.ndarray  # its K slice
    k_end: np.ndarray
    split: int  # slices of K
    slice_k: int  # K elements per slice (the last may be shorter)
    waves: int


@dataclass
class WaveTiles:
    """The per-tile figures of one GEMM, and the MMA operations each tile issues (padding
    of partial MMAs included)."""

    arrays: TileArrays
    mma_ops: np.ndarray


def ceil_div(a, b):
    return -(-a // b)


class WaveTiler:
    """Lays a GEMM out as CTA tiles in waves and expands it into :class:`TileArrays`."""

    def __init__(self, spec: CoreSpec) -> None:
        self.spec = spec

    # -- the grid ------------------------------------------------------------------------------
    def grid(self, gemm: Gemm, split: int, n_fastest: bool) -> Grid:
        """The CTAs of ``gemm`` with K in ``split`` slices (fewer when K has fewer stages),
        rasterised with N (or M) the fastest index."""
        s = self.spec
        gm, gn = ceil_div(gemm.m, s.tile_m), ceil_div(gemm.n, s.tile_n)
        slice_k = ceil_div(ceil_div(gemm.k, s.tile_k), split) * s.tile_k
        split = ceil_div(gemm.k, slice_k)
        if gemm.count * gm * gn * split > MAX_CTAS:
            raise SimulationError(
                f"a {gemm.m}x{gemm.n}x{gemm.k} GEMM (x{gemm.count}) has "
                f"{gemm.count * gm * gn * split:,} CTA tiles of {s.tile_m}x{s.tile_n}, more "
                f"than the {MAX_CTAS:,} an op may take: use larger CTA tiles")
        shape = (gemm.count, gm, gn, split) if n_fastest else (gemm.count, gn, gm, split)
        idx = np.indices(shape).reshape(4, -1)
        inst, sl = idx[0], idx[3]
        mt, nt = (idx[1], idx[2]) if n_fastest else (idx[2], idx[1])
        ctas = len(inst)
        k_start = sl * slice_k
        return Grid(inst, mt, nt, sl, np.arange(ctas) // s.cores,
                    np.minimum(s.tile_m, gemm.m - mt * s.tile_m),
                    np.minimum(s.tile_n, gemm.n - nt * s.tile_n),
                    k_start, np.minimum(k_start + slice_k, gemm.k), split, slice_k,
                    ceil_div(ctas, s.cores))

    def cta_cycles(self, m_size, n_size, k_size) -> np.ndarray:
        """Cycles of CTAs computing m x n x k each on one core's MMA units."""
        return ceil_div(self.mma_ops(m_size, n_size, k_size), self.spec.mma_units)

    def mma_ops(self, m_size, n_size, k_size) -> np.ndarray:
        """MMA operations of m x n x k products (partial MMAs padded)."""
        mm, mn, mk = self.spec.mma
        return ceil_div(m_size, mm) * ceil_div(n_size, mn) * ceil_div(k_size, mk)

    def wave_max(self, grid: Grid, values: np.ndarray) -> np.ndarray:
        """The largest of ``values`` (one row per CTA) in each wave."""
        cores = self.spec.cores
        padded = np.zeros((grid.waves * cores, *values.shape[1:]), dtype=values.dtype)
        padded[:len(values)] = values
        return padded.reshape(grid.waves, cores, *values.shape[1:]).max(axis=1)

    def choose_split(self, gemm: Gemm) -> int:
        """The split of K with the fewest compute cycles, the fewest slices among equals; a
        split is only considered while every slice's CTAs fit in one wave."""
        s = self.spec
        tiles = gemm.count * ceil_div(gemm.m, s.tile_m) * ceil_div(gemm.n, s.tile_n)
        most = min(ceil_div(gemm.k, s.tile_k), max(1, s.cores // tiles))
        best, best_cycles = 1, None
        for split in range(1, most + 1):
            grid = self.grid(gemm, split, True)
            if grid.split != split:
                continue  # the same slices as a smaller split
            cycles = int(self.wave_max(grid, self.cta_cycles(
                grid.m_size, grid.n_size, grid.k_end - grid.k_start)).sum())
            if best_cycles is None or cycles < best_cycles:
                best, best_cycles = split, cycles
        return best

    # -- operand slices ------------------------------------------------------------------------
    @staticmethod
    def runs(grid: Grid, tile: np.ndarray) -> tuple[np.ndarray, ...]:
        """Runs of adjacent CTA tiles along M (``tile``: ``grid.m_tile``) or N
        (``grid.n_tile``) that a wave reads for each instance and slice: (wave, slice,
        first tile, last tile) arrays, one entry per run."""
        keys = np.unique(np.stack([grid.wave, grid.instance, grid.slice, tile], axis=1),
                         axis=0)
        new = np.ones(len(keys), dtype=bool)
        new[1:] = ((keys[1:, :3] != keys[:-1, :3]).any(axis=1)
                   | (keys[1:, 3] != keys[:-1, 3] + 1))
        starts = np.flatnonzero(new)
        ends = np.append(starts[1:], len(keys)) - 1
        return keys[starts, 0], keys[starts, 2], keys[starts, 3], keys[ends, 3]

    def _spans(self, gemm: Gemm, grid: Grid, dim: str) -> tuple[np.ndarray, ...]:
        """(wave, slice, first row, end row) of each run of CTA tiles along ``dim`` (m or n)."""
        s = self.spec
        tile, size, extent = ((grid.m_tile, s.tile_m, gemm.m) if dim == "m"
                              else (grid.n_tile, s.tile_n, gemm.n))
        wave, sl, first, last = self.runs(grid, tile)
        return wave, sl, first * size, np.minimum((last + 1) * size, extent)

    def dram_elements(self, gemm: Gemm, grid: Grid) -> int:
        """A and B elements the grid fetches from DRAM (each wave its distinct panels)."""
        total = 0
        for dim in ("m", "n"):
            _, sl, lo, hi = self._spans(gemm, grid, dim)
            k_len = np.minimum((sl + 1) * grid.slice_k, gemm.k) - sl * grid.slice_k
            total += int(((hi - lo) * k_len).sum())
        return total

    # -- the plan's tiles ----------------------------------------------------------------------
    def tiles(self, gemm: Gemm, views: tuple[Im2colView, ...] = ()) -> WaveTiles:
        """The per-tile figures of ``gemm`` (module docstring); ``views``: operands that are
        im2col views of a convolution's input, fetched as their distinct input elements."""
        s = self.spec
        split = self.choose_split(gemm)
        grids = [self.grid(gemm, split, n_fastest) for n_fastest in (True, False)]
        grid = min(grids, key=lambda g: self.dram_elements(gemm, g))  # first on ties: N
        chunk_k = self._chunk(gemm, grid)
        chunks = ceil_div(min(grid.slice_k, gemm.k), chunk_k)
        n = grid.waves * chunks
        if n > MAX_TILES:
            raise SimulationError(
                f"a {gemm.m}x{gemm.n}x{gemm.k} GEMM (x{gemm.count}) needs {n:,} tiles "
                f"({grid.waves:,} waves of {chunks:,} K chunks), more than the {MAX_TILES:,} "
                f"an op may take: give the buffers {s.usable_bytes} more capacity")
        j = np.arange(chunks)
        k_lo = grid.k_start[:, None] + j * chunk_k  # per CTA and chunk
        k_len = np.clip(np.minimum(k_lo + chunk_k, grid.k_end[:, None]) - k_lo, 0, None)
        tile_of = (grid.wave[:, None] * chunks + j).ravel()

        def per_tile(values) -> np.ndarray:
            """``values`` (CTA x chunk) summed into the plan's tiles."""
            values = np.broadcast_to(np.asarray(values, dtype=np.int64), k_len.shape)
            return np.bincount(tile_of, weights=values.ravel(), minlength=n).round()

        m_size, n_size = grid.m_size[:, None], grid.n_size[:, None]
        compute = self.wave_max(grid, self.cta_cycles(m_size, n_size, k_len)).ravel()
        eb, pb = s.element_bytes, s.psum_bytes
        last = (j == chunks - 1)[None, :]  # a wave's last chunk: its outputs leave
        c_elems = m_size * n_size
        final = (grid.slice == grid.split - 1)[:, None]
        load, held, rows, cols = {}, {}, {}, {}
        for role in ("ifmap", "filter"):
            load[role], held[role], rows[role], cols[role] = self._operand(
                gemm, grid, role, views, chunk_k, chunks)
        load["ofmap"] = per_tile(np.where(last & (grid.slice > 0)[:, None], c_elems * pb, 0))
        held["ofmap"] = np.repeat(np.bincount(grid.wave, weights=grid.m_size * grid.n_size
                                              * pb, minlength=grid.waves), chunks)
        rows["ofmap"] = per_tile(np.where(last, m_size, 0))
        cols["ofmap"] = np.full(n, min(gemm.n, s.tile_n))
        access = {"ifmap": per_tile(m_size * k_len * eb), "filter": per_tile(n_size * k_len * eb),
                  "ofmap": per_tile(np.where(last, c_elems * pb, 0))}

        def ints(values) -> np.ndarray:
            return np.asarray(values, dtype=np.int64)

        arrays = TileArrays(
            ints(compute), ints(per_tile(m_size * n_size * k_len)),
            {r: ints(v) for r, v in load.items()},
            ints(per_tile(np.where(last, c_elems * np.where(final, eb, pb), 0))),
            ints(per_tile(np.where(last & final, c_elems, 0))),
            {r: ints(v) for r, v in access.items()}, {r: ints(v) for r, v in held.items()},
            {r: ints(v) for r, v in rows.items()}, {r: ints(v) for r, v in cols.items()},
            {"ifmap": gemm.k, "filter": gemm.n, "ofmap": gemm.n},
            ints(per_tile(np.where(j == 0, 1, 0)[None, :])))
        return WaveTiles(arrays, ints(per_tile(self.mma_ops(m_size, n_size, k_len))))

    def _chunk(self, gemm: Gemm, grid: Grid) -> int:
        """K elements per plan tile: a multiple of ``tile_k``, the wave in at most
        :data:`CHUNKS_PER_WAVE` chunks, smaller while a chunk's operand slices overflow
        their buffers (beside the wave's accumulators, where a buffer holds both)."""
        s = self.spec
        slice_k = min(grid.slice_k, gemm.k)
        chunk = ceil_div(ceil_div(slice_k, s.tile_k), CHUNKS_PER_WAVE) * s.tile_k
        per_k: dict[str, int] = {}  # bytes per K element of the largest wave, by buffer
        for role, dim in (("ifmap", "m"), ("filter", "n")):
            wave, _, lo, hi = self._spans(gemm, grid, dim)
            largest = int(np.bincount(wave, weights=hi - lo).max())
            name = s.buffer_of_role[role]
            per_k[name] = per_k.get(name, 0) + largest * s.element_bytes
        room = dict(s.usable_bytes)
        accumulators = np.bincount(grid.wave, weights=grid.m_size * grid.n_size).max()
        room[s.buffer_of_role["ofmap"]] -= int(accumulators) * s.psum_bytes
        fits = min(max(room[name], 0) // need for name, need in per_k.items())
        fits = fits // s.tile_k * s.tile_k
        if fits < s.tile_k:
            need = {name: per * s.tile_k for name, per in per_k.items()}
            raise SimulationError(
                f"a {gemm.m}x{gemm.n}x{gemm.k} GEMM cannot be tiled: one wave's operand "
                f"slices of tile_k = {s.tile_k} K elements need {need} bytes per buffer, "
                f"free beside the accumulators {room}")
        return min(chunk, fits)

    def _operand(self, gemm: Gemm, grid: Grid, role: str, views: tuple[Im2colView, ...],
                 chunk_k: int, chunks: int) -> tuple[np.ndarray, ...]:
        """(DRAM bytes, bytes held, block rows, block columns) of an input role per tile."""
        s = self.spec
        dim = "m" if role == "ifmap" else "n"
        wave, sl, lo, hi = self._spans(gemm, grid, dim)
        k0 = sl[:, None] * grid.slice_k + np.arange(chunks) * chunk_k
        k1 = np.minimum(k0 + chunk_k, np.minimum((sl + 1) * grid.slice_k, gemm.k)[:, None])
        live = k1 > k0
        span = np.where(live, (hi - lo)[:, None], 0)
        held = span * np.where(live, k1 - k0, 0)
        fetched = held
        view = next((v for v in views if v.role == role), None)
        if view is not None and live.any():
            ranges = {dim: (np.broadcast_to(lo[:, None], k0.shape)[live],
                            np.broadcast_to(hi[:, None], k0.shape)[live]),
                      "k": (k0[live], k1[live])}
            fetched = np.zeros_like(held)
            fetched[live] = view.window.unique_inputs(*ranges[view.pixel_dim],
                                                      *ranges[view.window_dim])
        tile_of = (wave[:, None] * chunks + np.arange(chunks)).ravel()
        n = grid.waves * chunks

        def per_tile(values) -> np.ndarray:
            return np.bincount(tile_of, weights=values.ravel(), minlength=n).round()

        k_block = np.tile(np.minimum(chunk_k, min(grid.slice_k, gemm.k)
                                     - np.arange(chunks) * chunk_k), grid.waves)
        spans = per_tile(span)
        if role == "ifmap":  # A: rows along M, the chunk's K as columns
            return (per_tile(fetched * s.element_bytes), per_tile(held * s.element_bytes),
                    spans, k_block)
        return (per_tile(fetched * s.element_bytes), per_tile(held * s.element_bytes),
                k_block, spans)
