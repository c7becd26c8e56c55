"""Tiling of a GEMM into SRAM-resident tiles, and the per-tile figures of the chosen tiling.

A *tile* is the block of a GEMM that sits in the on-chip buffers while the PE array computes
it: ``b_row`` x ``b_col`` of the two spatially mapped dimensions (multiples of the array size)
times ``b_stream`` of the streamed dimension. Tiles run in a loop nest with the streamed
dimension innermost; the two spatial loops are ordered either way. An operand block is
fetched from DRAM whenever its block index changes between consecutive tiles (so a block
reused by the next tile is not fetched again); output blocks are written back when the loop
leaves them, as partial sums (accumulator width) while the reduction is unfinished, and read
back when it resumes. A block of an operand that is an im2col view of a convolution's input
is fetched as the distinct input elements its windows touch, halos included
(:meth:`accelsim.workload.conv_window.ConvWindow.unique_inputs`): one function prices it both
in the blocking choice and in the per-tile figures. It is held on chip as the im2col block.

The blocking is chosen among power-of-two multiples of the array size (and the full
dimension) to minimise an estimate of the op's time, ``max(compute cycles, DRAM bytes / DRAM
bandwidth)`` plus the first tile's load and the last tile's store, which nothing overlaps;
among the blockings within 1% of the best estimate the one with the fewest tiles wins, then
the one with the fewest DRAM bytes; every buffer must hold its operand blocks (in half its
capacity when double-buffered). With buffers large enough nothing is
split and the compute cycles equal SCALE-Sim's fold-by-fold count.

Batched GEMMs (``count`` > 1, e.g. attention heads) pack whole instances into one tile when
an instance fits, else tile each instance alike.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from accelsim.errors import SimulationError
from accelsim.hw.kinds.systolic.dataflow import Dataflow
from accelsim.workload.conv_window import Im2colView
from accelsim.workload.op import Gemm

#: Blockings whose estimated time is within this fraction of the best are equally good; among
#: them the one with the fewest tiles wins (fewer, larger transfers and fewer events).
ESTIMATE_TOLERANCE = 0.01

#: Tiles one op may be lowered to. Each tile costs about 15 us of simulation and ~150 bytes of
#: per-tile arrays, so a million tiles is ~15 s and ~150 MB: buffers so small that an op needs
#: more are refused before any array is built.
MAX_TILES = 1_000_000

#: Which GEMM dimensions index each operand role.
OPERAND_DIMS = {"ifmap": ("m", "k"), "filter": ("k", "n"), "ofmap": ("m", "n")}


@dataclass(frozen=True)
class ArraySpec:
    """What the tiler needs of the hardware."""

    rows: int
    cols: int
    dataflow: Dataflow
    element_bytes: int
    psum_bytes: int
    buffer_of_role: dict[str, str]  # role -> buffer name
    usable_bytes: dict[str, int]  # buffer name -> bytes one tile may occupy
    dram_bytes_per_cycle: float  # math.inf for ideal DRAM


@dataclass(frozen=True)
class Blocking:
    """A chosen tiling: block sizes per dimension, spatial loop order, instances per tile."""

    blocks: dict[str, int]
    outer: str  # the spatial dimension of the outermost loop
    instances: int


@dataclass
class TileArrays:
    """Per-tile figures of one op, in execution order (numpy arrays of equal length)."""

    compute_cycles: np.ndarray
    macs: np.ndarray
    load_bytes: dict[str, np.ndarray]  # role -> bytes fetched from DRAM before the tile
    store_bytes: np.ndarray  # ofmap bytes written to DRAM after the tile
    outputs: np.ndarray  # finished output elements written after the tile (reduction done)
    array_access_bytes: dict[str, np.ndarray]  # role -> bytes between SRAM and the PE array
    footprint_bytes: dict[str, np.ndarray]  # role -> bytes of the tile's block held on chip
    block_rows: dict[str, np.ndarray]  # role -> matrix rows in the tile's block (all instances)
    block_cols: dict[str, np.ndarray]  # role -> matrix columns in the tile's block
    matrix_cols: dict[str, int]  # role -> row length of the whole operand matrix
    folds: np.ndarray
    #: the part of ``compute_cycles`` that streams the streamed dimension through the folds
    #: (folds x streamed length; the rest is fill and drain), or None
    stream_cycles: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.compute_cycles)


def _candidates(dim: int, unit: int) -> np.ndarray:
    """Block sizes for a dimension: unit * 2^i below the (rounded-up) full size, and full."""
    full = math.ceil(dim / unit) * unit
    sizes = {full}
    size = unit
    while size < full:
        sizes.add(size)
        size *= 2
    return np.array(sorted(sizes), dtype=np.int64)


def _stream_candidates(dim: int) -> np.ndarray:
    sizes = {dim}
    size = dim
    while size > 1:
        size = math.ceil(size / 2)
        sizes.add(size)
    return np.array(sorted(sizes), dtype=np.int64)


class GemmTiler:
    """Chooses a :class:`Blocking` for a GEMM and expands it into :class:`TileArrays`."""

    def __init__(self, spec: ArraySpec) -> None:
        self.spec = spec
        flow = spec.dataflow
        self.unit = {flow.row_dim: spec.rows, flow.col_dim: spec.cols, flow.stream_dim: 1}
        self._sums: dict[tuple, int] = {}  # im2col block sums already taken

    # -- blocking choice -------------------------------------------------------------------
    def _footprints(self, b: dict[str, np.ndarray], instances) -> dict[str, np.ndarray]:
        spec = self.spec
        per_buffer: dict[str, np.ndarray] = {}
        for role, (d1, d2) in OPERAND_DIMS.items():
            width = spec.psum_bytes if role == "ofmap" else spec.element_bytes
            block = b[d1] * b[d2] * width * instances
            name = spec.buffer_of_role[role]
            per_buffer[name] = per_buffer.get(name, 0) + block
        return per_buffer

    def _fits(self, b: dict[str, np.ndarray], instances=1) -> np.ndarray:
        ok = np.ones(np.broadcast(*b.values()).shape, dtype=bool)
        for name, used in self._footprints(b, instances).items():
            ok &= used <= self.spec.usable_bytes[name]
        return ok

    def _operand_elements(self, gemm: Gemm, b: dict[str, np.ndarray],
                          views: tuple[Im2colView, ...] = (), bound: bool = False
                          ) -> dict[str, np.ndarray]:
        """Elements one pass over all blocks of each input operand fetches, per candidate:
        the operand's size, or for an im2col view the sum over its blocks of their distinct
        input elements (:meth:`~accelsim.workload.conv_window.ConvWindow.unique_inputs`).
        ``bound``: instead a lower bound that is cheap to take, the larger of the sums over
        the blocks of one dimension alone (the blocks of the other dimension split each of
        those sets further, and a union is never larger than the sum of its parts)."""
        dims = {"m": gemm.m, "n": gemm.n, "k": gemm.k}
        elements = {role: dims[d1] * dims[d2] for role, (d1, d2) in OPERAND_DIMS.items()
                    if role != "ofmap"}
        for view in views:
            rows, cols = dims[view.pixel_dim], dims[view.window_dim]
            pix, win = np.broadcast_arrays(np.asarray(b[view.pixel_dim], dtype=np.int64),
                                           np.asarray(b[view.window_dim], dtype=np.int64))
            pairs, inverse = np.unique(np.stack([pix.ravel(), win.ravel()], axis=1), axis=0,
                                       return_inverse=True)
            if bound:  # the row blocks alone, the column blocks alone
                sums = np.maximum(self._block_sums(view, rows, cols, pairs[:, 0], cols),
                                  self._block_sums(view, rows, cols, rows, pairs[:, 1]))
            else:
                sums = self._block_sums(view, rows, cols, pairs[:, 0], pairs[:, 1])
            elements[view.role] = np.array(sums, dtype=np.int64)[inverse.ravel()].reshape(
                pix.shape)
        return elements

    def _block_sums(self, view: Im2colView, rows: int, cols: int, block_rows,
                    block_cols) -> np.ndarray:
        """:meth:`~accelsim.workload.conv_window.ConvWindow.total_unique_inputs` of the
        view's blockings, remembered across the ops this tiler lowers (layers repeat)."""
        block_rows, block_cols = (v.ravel() for v in np.broadcast_arrays(
            np.asarray(block_rows, dtype=np.int64), np.asarray(block_cols, dtype=np.int64)))
        keys = [(view.window, rows, cols, int(p), int(q)) for p, q in zip(block_rows, block_cols)]
        missing = [i for i, key in enumerate(keys) if key not in self._sums]
        if missing:
            found = view.window.total_unique_inputs(rows, cols, block_rows[missing],
                                                    block_cols[missing])
            self._sums.update(zip((keys[i] for i in missing), found.tolist()))
        return np.array([self._sums[key] for key in keys], dtype=np.int64)

    def _traffic(self, gemm: Gemm, b: dict[str, np.ndarray], outer: str,
                 views: tuple[Im2colView, ...] = (),
                 elements: dict[str, np.ndarray] | None = None) -> np.ndarray:
        """DRAM bytes of the loop nest (outer spatial, inner spatial, stream) per candidate.

        A block is fetched again each time a loop outside it advances, unless no loop inside
        that one changes the block's index (a loop over a single block changes nothing).
        ``elements``: each input operand's elements per pass (default: exact,
        :meth:`_operand_elements`).
        """
        flow, spec = self.spec.dataflow, self.spec
        dims = {"m": gemm.m, "n": gemm.n, "k": gemm.k}
        inner = flow.col_dim if outer == flow.row_dim else flow.row_dim
        order = (outer, inner, flow.stream_dim)
        nblk = {d: -(-dims[d] // b[d]) for d in dims}
        if elements is None:
            elements = self._operand_elements(gemm, b, views)

        def revisits(own: tuple[str, str], over: tuple[str, ...]) -> np.ndarray:
            """How often a block indexed by ``own`` is re-entered by the loops in ``over``."""
            factor = 1
            for pos, d in enumerate(order):
                if d in own or d not in over:
                    continue
                moves_later = np.zeros(np.shape(nblk[d]), dtype=bool)
                for e in order[pos + 1:]:
                    if e in own:
                        moves_later |= nblk[e] > 1
                factor = factor * np.where(moves_later, nblk[d], 1)
            return factor

        total = 0
        for role in ("ifmap", "filter"):
            total = total + elements[role] * spec.element_bytes * revisits(OPERAND_DIMS[role],
                                                                            order)
        visits = revisits(("m", "n"), ("k",))
        size_c = gemm.m * gemm.n
        return total + size_c * spec.element_bytes + 2 * size_c * spec.psum_bytes * (visits - 1)

    def _first_loads(self, gemm: Gemm, b: dict[str, np.ndarray],
                     views: tuple[Im2colView, ...]) -> np.ndarray:
        """Bytes of the first tile's input blocks as fetched (a candidate's block sizes, an
        im2col view's first block as its distinct input elements)."""
        dims = {"m": gemm.m, "n": gemm.n, "k": gemm.k}
        first = {role: b[d1] * b[d2] for role, (d1, d2) in OPERAND_DIMS.items()
                 if role != "ofmap"}
        for view in views:
            first[view.role] = view.window.unique_inputs(
                0, np.minimum(b[view.pixel_dim], dims[view.pixel_dim]),
                0, np.minimum(b[view.window_dim], dims[view.window_dim]))
        return sum(first.values()) * self.spec.element_bytes

    def _compute(self, gemm: Gemm, b: dict[str, np.ndarray]) -> np.ndarray:
        """Compute cycles of one instance per candidate, as :meth:`tiles` counts them.

        Every fold pays the fill/drain overhead once per stream block, except in tiles that
        hold a single fold: there the stream blocks follow one another without a refill.
        """
        flow, spec = self.spec.dataflow, self.spec
        dims = {"m": gemm.m, "n": gemm.n, "k": gemm.k}
        row, col, stream = flow.row_dim, flow.col_dim, flow.stream_dim

        def single_fold_blocks(d: str, unit: int) -> np.ndarray:
            nblk = -(-dims[d] // b[d])
            last = dims[d] - (nblk - 1) * b[d]
            return np.where(b[d] <= unit, nblk, (last <= unit).astype(np.int64))

        folds = -(-dims[row] // spec.rows) * -(-dims[col] // spec.cols)
        n_stream = -(-dims[stream] // b[stream])
        single = single_fold_blocks(row, spec.rows) * single_fold_blocks(col, spec.cols)
        restarts = n_stream * folds - (n_stream - 1) * single
        return folds * dims[stream] + restarts * flow.fold_overhead(spec.rows, spec.cols)

    def choose(self, gemm: Gemm, views: tuple[Im2colView, ...] = ()) -> Blocking:
        flow, spec = self.spec.dataflow, self.spec
        dims = {"m": gemm.m, "n": gemm.n, "k": gemm.k}
        whole = {d: np.int64(dims[d]) for d in dims}
        if gemm.count > 1 and self._fits(whole):
            per_instance = self._footprints(whole, 1)
            instances = min(gemm.count, *(spec.usable_bytes[name] // int(used)
                                          for name, used in per_instance.items() if used))
            return Blocking({d: dims[d] for d in dims}, flow.row_dim, int(instances))
        grids = np.meshgrid(_candidates(dims[flow.row_dim], spec.rows),
                            _candidates(dims[flow.col_dim], spec.cols),
                            _stream_candidates(dims[flow.stream_dim]), indexing="ij")
        b = {flow.row_dim: grids[0].ravel(), flow.col_dim: grids[1].ravel(),
             flow.stream_dim: grids[2].ravel()}
        fits = self._fits(b)
        if not fits.any():
            smallest = {flow.row_dim: np.int64(spec.rows), flow.col_dim: np.int64(spec.cols),
                        flow.stream_dim: np.int64(1)}
            need = {name: int(v) for name, v in self._footprints(smallest, 1).items()}
            raise SimulationError(
                f"a {gemm.m}x{gemm.n}x{gemm.k} GEMM cannot be tiled: even one "
                f"{spec.rows}x{spec.cols} fold needs {need} bytes per buffer, usable "
                f"{spec.usable_bytes}")
        b = {d: v[fits] for d, v in b.items()}
        compute = self._compute(gemm, b)
        # the first tile's loads and the last tile's store cannot overlap any compute
        exposed = self._first_loads(gemm, b, views) + b["m"] * b["n"] * spec.element_bytes
        n_tiles = np.prod([-(-dims[d] // b[d]) for d in dims], axis=0)
        outers = (flow.row_dim, flow.col_dim)

        def estimate_of(traffic: np.ndarray) -> np.ndarray:
            """Estimated time per candidate (infinite where the traffic is not known)."""
            known = np.isfinite(traffic)
            time = (np.maximum(compute, np.where(known, traffic, 0) / spec.dram_bytes_per_cycle)
                    + exposed / spec.dram_bytes_per_cycle)
            return np.where(known, time, np.inf)

        # Exact im2col traffic costs a pass over a candidate's blocks. A candidate's estimate
        # is known without it when a lower and an upper bound of its traffic (the operands'
        # im2col sizes) give the same estimate (compute-bound either way); otherwise it is
        # taken only when the lower bound leaves the candidate in reach of the best known
        # estimate. Exact traffic then breaks ties among the near-best with the fewest tiles.
        # The choice is that of an exact evaluation of every candidate.
        def traffic_with(elements: dict[str, np.ndarray]) -> np.ndarray:
            return np.stack([self._traffic(gemm, b, outer, views, elements)
                             * np.ones_like(compute) for outer in outers])

        low = estimate_of(traffic_with(self._operand_elements(gemm, b, views, bound=True)))
        known = low == estimate_of(traffic_with(self._operand_elements(gemm, b)))
        estimate = np.where(known, low, np.inf)
        traffic = np.full(low.shape, np.inf)
        exact = np.zeros(low.shape[1], dtype=bool)

        def take_exact(columns: np.ndarray) -> None:
            if not columns.any():
                return
            pick = {d: v[columns] for d, v in b.items()}
            elements = self._operand_elements(gemm, pick, views)
            for which, outer in enumerate(outers):
                traffic[which, columns] = self._traffic(gemm, pick, outer, views, elements)
            exact[columns] = True
            estimate[:, columns] = estimate_of(traffic)[:, columns]

        while True:
            best = estimate.min() if np.isfinite(estimate).any() else low.min()
            need = ((low <= best * (1 + ESTIMATE_TOLERANCE)) & ~known).any(axis=0) & ~exact
            if not need.any():
                break
            take_exact(need)
            known[:, need] = True
        near_best = estimate <= estimate.min() * (1 + ESTIMATE_TOLERANCE)
        tiles = np.broadcast_to(n_tiles, estimate.shape)
        fewest = near_best & (tiles == tiles[near_best].min())
        take_exact(fewest.any(axis=0) & ~exact)
        order = np.lexsort((estimate.ravel(), traffic.ravel(), tiles.ravel(),
                            ~near_best.ravel()))
        which, i = np.unravel_index(order[0], estimate.shape)
        return Blocking({d: int(b[d][i]) for d in b}, outers[which], 1)

    # -- expansion into tiles ----------------------------------------------------------------
    def tiles(self, gemm: Gemm, blocking: Blocking | None = None,
              views: tuple[Im2colView, ...] = ()) -> TileArrays:
        """The per-tile figures of ``gemm`` under ``blocking`` (default: :meth:`choose`'s);
        ``views``: the operands that are im2col views of a convolution's input, fetched as
        their blocks' distinct input elements."""
        blocking = blocking or self.choose(gemm, views)
        flow, spec = self.spec.dataflow, self.spec
        dims = {"m": gemm.m, "n": gemm.n, "k": gemm.k}
        bs = blocking.blocks
        nblk = {d: -(-dims[d] // bs[d]) for d in dims}
        inner = flow.col_dim if blocking.outer == flow.row_dim else flow.row_dim
        order = (blocking.outer, inner, flow.stream_dim)
        groups = -(-gemm.count // blocking.instances)
        shape = (groups, nblk[order[0]], nblk[order[1]], nblk[order[2]])
        if math.prod(shape) > MAX_TILES:
            raise SimulationError(
                f"a {gemm.m}x{gemm.n}x{gemm.k} GEMM (x{gemm.count}) needs {math.prod(shape):,} "
                f"tiles with these buffers ({spec.usable_bytes} usable bytes), more than the "
                f"{MAX_TILES:,} an op may take: give the SRAM buffers more capacity")
        grid = np.indices(shape).reshape(4, -1)
        group = grid[0]
        idx = {order[i]: grid[i + 1] for i in range(3)}
        inst = np.minimum(blocking.instances, gemm.count - group * blocking.instances)
        size = {d: np.minimum(bs[d], dims[d] - idx[d] * bs[d]) for d in dims}

        def changed(keys: list[np.ndarray]) -> np.ndarray:
            flag = np.ones(len(group), dtype=bool)
            if len(group) > 1:
                diff = np.zeros(len(group) - 1, dtype=bool)
                for key in keys:
                    diff |= key[1:] != key[:-1]
                flag[1:] = diff
            return flag

        load = {}
        view_of = {view.role: view for view in views}
        for role in ("ifmap", "filter"):
            d1, d2 = OPERAND_DIMS[role]
            fetch = changed([group, idx[d1], idx[d2]])
            elements = size[d1] * size[d2]
            if role in view_of:
                view = view_of[role]
                p, w = view.pixel_dim, view.window_dim
                elements = np.zeros_like(elements)
                start_p, start_w = idx[p][fetch] * bs[p], idx[w][fetch] * bs[w]
                elements[fetch] = view.window.unique_inputs(
                    start_p, start_p + size[p][fetch], start_w, start_w + size[w][fetch])
            load[role] = np.where(fetch, elements * inst * spec.element_bytes, 0)
        c_keys = [group, idx["m"], idx["n"]]
        run_start = changed(c_keys)
        run_end = np.ones_like(run_start)
        run_end[:-1] = run_start[1:]
        c_elems = size["m"] * size["n"] * inst
        load["ofmap"] = np.where(run_start & (idx["k"] > 0), c_elems * spec.psum_bytes, 0)
        final = idx["k"] == nblk["k"] - 1
        store = np.where(run_end, c_elems * np.where(final, spec.element_bytes,
                                                     spec.psum_bytes), 0)
        outputs = np.where(run_end & final, c_elems, 0)

        row, col, stream = flow.row_dim, flow.col_dim, flow.stream_dim
        row_folds = -(-size[row] // spec.rows)
        col_folds = -(-size[col] // spec.cols)
        folds = row_folds * col_folds * inst
        continuing = (row_folds * col_folds == 1) & (inst == 1) & (idx[stream] > 0)
        overhead = flow.fold_overhead(spec.rows, spec.cols)
        compute = folds * size[stream] + np.where(continuing, 0, folds * overhead)
        eb = spec.element_bytes
        # partial sums leave a ws/is array at accumulator width; an os array drains finals
        edge_width = {role: spec.psum_bytes if role == "ofmap" else eb
                      for role in (flow.row_edge, flow.col_edge)}
        access = {flow.row_edge: size[stream] * size[row] * col_folds * inst
                  * edge_width[flow.row_edge],
                  flow.col_edge: size[stream] * size[col] * row_folds * inst
                  * edge_width[flow.col_edge],
                  flow.stationary: size[row] * size[col] * inst * eb}
        footprint = {role: size[d1] * size[d2] * inst
                     * (spec.psum_bytes if role == "ofmap" else eb)
                     for role, (d1, d2) in OPERAND_DIMS.items()}
        macs = size["m"] * size["n"] * size["k"] * inst
        rows_of = {role: size[d1] * inst for role, (d1, _) in OPERAND_DIMS.items()}
        block_cols = {role: size[d2] for role, (_, d2) in OPERAND_DIMS.items()}
        cols_of = {role: dims[d2] for role, (_, d2) in OPERAND_DIMS.items()}
        return TileArrays(compute.astype(np.int64), macs.astype(np.int64),
                          {r: v.astype(np.int64) for r, v in load.items()},
                          store.astype(np.int64), outputs.astype(np.int64),
                          {r: np.asarray(v, dtype=np.int64) for r, v in access.items()},
                          {r: np.asarray(v, dtype=np.int64) for r, v in footprint.items()},
                          {r: np.asarray(v, dtype=np.int64) for r, v in rows_of.items()},
                          {r: np.asarray(v, dtype=np.int64) for r, v in block_cols.items()},
                          cols_of, folds.astype(np.int64),
                          (folds * size[stream]).astype(np.int64))
