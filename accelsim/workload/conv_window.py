"""The input elements a block of a convolution's im2col view touches (halos included).

The im2col view of a convolution has one row per output pixel, ordered (image, oy, ox), and
one column per weight position, ordered (channel, kernel row kr, kernel column kc); entry
(pixel, column) is the input element (image, channel, oy*sy + kr*dy - py, ox*sx + kc*dx - px)
(stride s, dilation d, padding p per axis), or a padding zero when that position lies outside
the H x W input. A block of the view (a range of rows by a range of columns) needs from memory
exactly the distinct in-bounds input elements its entries name: the union of its windows,
halos included, padding excluded. :meth:`ConvWindow.unique_inputs` counts them exactly for
many blocks at once (numpy, no per-element loop):

* a row range splits into at most three pieces (a partial first image, whole images, a
  partial last image), a column range likewise into channels; distinct images and channels
  never share an element, so the count is a sum over the at most 3 x 3 piece pairs;
* within one image and channel, a range of output pixels (row-major over Ho x Wo) is at most
  three rectangles (a partial first row, whole rows, a partial last row), a range of kernel
  positions (row-major over R x S) likewise; a rectangle of outputs by a rectangle of kernel
  positions touches a product set Y x X of input rows and columns;
* the union of those (at most nine) products is counted row by row: each input row iy lies
  in some of the Y sets (a 9-bit code) and contributes the size of the union of the matching
  X sets. The 1-D sets are boolean masks over H or W, computed once per distinct range.
  Only the band of input rows between a block's first and last touched row is coded; a block
  that touches no padding row counts as the same block moved up by whole output rows (as far
  as it still touches none), so blocks that differ only by their output row share one count;
  and counts are remembered per convolution, for the ops and calls that ask again.

:func:`im2col_views` says which operand of a conv op is such a view and along which GEMM
dimensions its rows (pixels) and columns (weight positions) run, from the op's ``attrs`` (zoo,
workload YAML, SCALE-Sim CSV and traced workloads all carry them). A convolution whose spatial
axes were folded into one (the traced 3-D case: its sizes do not follow the 2-D size rule) has
no window here and gets no view: its operand is fetched as the whole im2col block, an upper
bound of its traffic.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from accelsim.workload.op import Op, Phase
from accelsim.workload.training import col2im_lowered

#: Pieces of a range split at image (or channel) boundaries, and rectangles of a range inside
#: one image (or channel): a partial first, the whole middle, a partial last.
_PIECES = 3
#: Product sets Y x X of one image and channel: an output rectangle by a kernel rectangle.
_PRODUCTS = _PIECES * _PIECES
#: Keys x band rows coded at once (bounds the working memory to a few tens of MB).
_CHUNK_ELEMENTS = 1 << 20
#: (row piece, column piece) pairs of candidate blockings summed at once (bounds the memory).
_CHUNK_PAIRS = 1 << 17
#: Keys counted at once at most (each holds a row of 2^9 union sizes while it is counted).
_CHUNK_KEYS = 1 << 10
#: Plane counts remembered across calls at most (16 bytes each).
_MEMO_KEYS = 1 << 20
#: Blocks asked at once above which each distinct block is counted once.
DISTINCT_BLOCKS_FIRST = 256
#: No counts yet.
_EMPTY = np.zeros(0, dtype=np.int64)
#: Counts taken so far per convolution: its keys' ranks (sorted) and their counts.
_KNOWN: dict[ConvWindow, tuple[np.ndarray, np.ndarray]] = {}


def _axis(value, axis: int) -> int:
    """One spatial axis (0: rows, 1: columns) of an attribute given as a number or a pair."""
    if isinstance(value, (list, tuple)):
        return int(value[axis])
    return int(value)


@dataclass(frozen=True)
class ConvWindow:
    """A 2-D convolution as an im2col view: output ``out_h`` x ``out_w`` over an ``in_h`` x
    ``in_w`` input, ``kernel_h`` x ``kernel_w`` kernel, stride, padding and dilation per axis
    (rows, columns). Counts are per image and channel; images and channels follow from a
    block's row and column ranges."""

    in_h: int
    in_w: int
    out_h: int
    out_w: int
    kernel_h: int
    kernel_w: int
    stride: tuple[int, int] = (1, 1)
    pad: tuple[int, int] = (0, 0)
    dilation: tuple[int, int] = (1, 1)

    @property
    def pixels(self) -> int:
        """Rows of the view per image."""
        return self.out_h * self.out_w

    @property
    def positions(self) -> int:
        """Columns of the view per channel."""
        return self.kernel_h * self.kernel_w

    def consistent(self) -> bool:
        """Whether each axis's output size follows from its input, kernel, stride, padding and
        dilation (PyTorch's rule); an axis folded from several is not."""
        for n_in, n_out, k, axis in ((self.in_h, self.out_h, self.kernel_h, 0),
                                     (self.in_w, self.out_w, self.kernel_w, 1)):
            span = self.dilation[axis] * (k - 1) + 1
            if (n_in + 2 * self.pad[axis] - span) // self.stride[axis] + 1 != n_out:
                return False
        return True

    # -- counting ----------------------------------------------------------------------------
    def unique_inputs(self, pix0, pix1, win0, win1) -> np.ndarray:
        """Distinct in-bounds input elements of each block rows [pix0, pix1) x columns
        [win0, win1) of the view (arrays of equal shape, non-empty ranges), halos included."""
        pix0, pix1, win0, win1 = np.broadcast_arrays(*(np.asarray(v, dtype=np.int64)
                                                       for v in (pix0, pix1, win0, win1)))
        shape = pix0.shape
        blocks = np.stack([v.ravel() for v in (pix0, pix1, win0, win1)], axis=1)
        if len(blocks) > DISTINCT_BLOCKS_FIRST:  # tiles repeat blocks: count each one once
            bounds = tuple(int(b) + 1 for b in blocks.max(axis=0))
            distinct, inverse = _unique_rows(blocks, bounds)
            return self._block_counts(*distinct.T)[inverse].reshape(shape)
        return self._block_counts(*blocks.T).reshape(shape)

    def _block_counts(self, pix0, pix1, win0, win1) -> np.ndarray:
        """:meth:`unique_inputs` of 1-D arrays of blocks."""
        o_pieces = _split(pix0.ravel(), pix1.ravel(), self.pixels)
        q_pieces = _split(win0.ravel(), win1.ravel(), self.positions)
        lo_o, hi_o, mult_o = (np.stack([p[i] for p in o_pieces], axis=1) for i in range(3))
        lo_q, hi_q, mult_q = (np.stack([p[i] for p in q_pieces], axis=1) for i in range(3))
        # every (image piece, channel piece) pair: (blocks, 3, 3)
        mult = mult_o[:, :, None] * mult_q[:, None, :]
        keys = np.stack(np.broadcast_arrays(lo_o[:, :, None], hi_o[:, :, None],
                                            lo_q[:, None, :], hi_q[:, None, :]), axis=-1)
        keys = keys.reshape(-1, 4)
        mult = mult.reshape(-1)
        live = mult > 0
        counts = np.zeros(len(keys), dtype=np.int64)
        counts[live] = self._plane_counts(keys[live]) * mult[live]
        return counts.reshape(len(pix0), -1).sum(axis=1)

    def total_unique_inputs(self, rows: int, cols: int, block_rows, block_cols) -> np.ndarray:
        """Sum of :meth:`unique_inputs` over every block of a view of ``rows`` x ``cols``
        split into blocks of ``block_rows`` x ``block_cols`` (arrays of equal shape: one sum
        per pair). A block's count is a sum over (image piece, channel piece) pairs, so the
        sum over all blocks weighs each distinct pair of pieces by how often the row blocks
        hold the one and the column blocks the other."""
        block_rows, block_cols = np.broadcast_arrays(np.asarray(block_rows, dtype=np.int64),
                                                     np.asarray(block_cols, dtype=np.int64))
        if block_rows.size == 0:
            return np.zeros(block_rows.shape, dtype=np.int64)
        sizes_r, which_r = np.unique(block_rows.ravel(), return_inverse=True)
        sizes_c, which_c = np.unique(block_cols.ravel(), return_inverse=True)
        o_keys, o_weights, o_start, o_count = _stacked(
            [_piece_weights(rows, int(b), self.pixels) for b in sizes_r])
        q_keys, q_weights, q_start, q_count = _stacked(
            [_piece_weights(cols, int(b), self.positions) for b in sizes_c])
        # every (row piece, column piece) pair of every blocking, blocking by blocking
        i, j = which_r.ravel(), which_c.ravel()
        ends = np.cumsum(o_count[i] * q_count[j])
        parts, first = [], 0
        while first < len(ends):  # blockings in groups of about _CHUNK_PAIRS pairs at most
            base = ends[first - 1] if first else 0
            last = max(first + 1, int(np.searchsorted(ends, base + _CHUNK_PAIRS, side="right")))
            ii, jj = i[first:last], j[first:last]
            sizes = o_count[ii] * q_count[jj]
            starts = np.cumsum(sizes) - sizes
            blocking = np.repeat(np.arange(len(sizes)), sizes)
            local = np.arange(int(sizes.sum())) - starts[blocking]
            o_at = o_start[ii][blocking] + local // q_count[jj][blocking]
            q_at = q_start[jj][blocking] + local % q_count[jj][blocking]
            counts = (self._plane_counts(np.concatenate([o_keys[o_at], q_keys[q_at]], axis=1))
                      * o_weights[o_at] * q_weights[q_at])
            parts.append(np.add.reduceat(counts, starts))
            first = last
        return np.concatenate(parts).reshape(block_rows.shape)

    def _plane_counts(self, keys: np.ndarray) -> np.ndarray:
        """Distinct input positions of one image and channel touched by output pixels
        [o0, o1) and kernel positions [q0, q1), for each row (o0, o1, q0, q1) of ``keys``.

        Keys that :meth:`_raised` maps to one key share its count; counts already taken for
        this convolution (by any call, for any op of the same geometry) are looked up, the
        others are counted (:meth:`_count`) and remembered."""
        if len(keys) == 0:
            return np.zeros(0, dtype=np.int64)
        bounds = (self.pixels + 1, self.pixels + 1, self.positions + 1, self.positions + 1)
        distinct, inverse = _unique_rows(self._raised(keys), bounds)
        ranks = _ranks(distinct, bounds)
        if ranks is None:
            return self._count(distinct)[inverse]
        known_ranks, known_counts = _KNOWN.get(self, (_EMPTY, _EMPTY))
        at = np.searchsorted(known_ranks, ranks)
        hit = at < len(known_ranks)
        hit[hit] = known_ranks[at[hit]] == ranks[hit]
        counts = np.zeros(len(ranks), dtype=np.int64)
        counts[hit] = known_counts[at[hit]]
        if not hit.all():
            counts[~hit] = self._count(distinct[~hit])
            _remember(self, np.concatenate([known_ranks, ranks[~hit]]),
                      np.concatenate([known_counts, counts[~hit]]))
        return counts[inverse]

    def _count(self, keys: np.ndarray) -> np.ndarray:
        """:meth:`_plane_counts` of distinct keys, taken by :meth:`_plane_chunk`: each key's
        rows are coded over the band of input rows it can touch only (:meth:`_bands`), keys
        taken longest band first, as many at once as bound the working memory."""
        first, length = self._bands(keys)
        counts = np.zeros(len(keys), dtype=np.int64)
        live = np.flatnonzero(length > 0)
        order = live[np.argsort(-length[live], kind="stable")]
        start = 0
        while start < len(order):
            size = int(length[order[start]])
            pick = order[start:start + max(1, min(_CHUNK_KEYS, _CHUNK_ELEMENTS // size))]
            counts[pick] = self._plane_chunk(keys[pick], first[pick], length[pick], size)
            start += len(pick)
        return counts

    def _row_span(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The first and last input row (unclipped, padding rows negative or past the input)
        each key (o0, o1, q0, q1) touches: its first output row by its first kernel row, its
        last by its last (both pairs occur in the key's ranges)."""
        sy, dy, py = self.stride[0], self.dilation[0], self.pad[0]
        top = (keys[:, 0] // self.out_w) * sy + (keys[:, 2] // self.kernel_w) * dy - py
        bottom = (((keys[:, 1] - 1) // self.out_w) * sy
                  + ((keys[:, 3] - 1) // self.kernel_w) * dy - py)
        return top, bottom

    def _bands(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The first in-bounds input row each key can touch and how many rows from there (0
        or less: it touches none)."""
        top, bottom = self._row_span(keys)
        first = np.maximum(top, 0)
        return first, np.minimum(bottom, self.in_h - 1) - first + 1

    def _raised(self, keys: np.ndarray) -> np.ndarray:
        """Each key (o0, o1, q0, q1) moved up by as many whole output rows as keep every
        input row it touches inside the input, when none of them is clipped before: the
        input positions it touches move up by that many strides with nothing gained or lost,
        so the count is the same. Keys of blocks that differ only by their output row meet."""
        top, bottom = self._row_span(keys)
        first_row = keys[:, 0] // self.out_w
        inside = (top >= 0) & (bottom < self.in_h)
        shift = np.where(inside, np.minimum(first_row, top // self.stride[0]), 0) * self.out_w
        raised = keys.copy()
        raised[:, 0] -= shift
        raised[:, 1] -= shift
        return raised

    def _plane_chunk(self, keys: np.ndarray, first: np.ndarray, length: np.ndarray,
                     size: int) -> np.ndarray:
        """:meth:`_plane_counts` of ``keys`` whose touched input rows lie in [first,
        first + length), length <= ``size``."""
        o_rects = np.array(_rectangles(keys[:, 0], keys[:, 1], self.out_w))  # (3, 4, n)
        q_rects = np.array(_rectangles(keys[:, 2], keys[:, 3], self.kernel_w))
        # product t = 3 i + j: output rectangle i by kernel rectangle j, (n, 9, 8)
        products = np.concatenate(np.broadcast_arrays(o_rects[:, None], q_rects[None, :]),
                                  axis=2).reshape(_PRODUCTS, 8, -1).transpose(2, 0, 1)
        y_masks, y_index = self._axis_masks(products[:, :, [0, 1, 4, 5]], axis=0)
        x_masks, x_index = self._axis_masks(products[:, :, [2, 3, 6, 7]], axis=1)
        # code[i, j]: which of key i's nine Y sets hold input row first[i] + j
        offsets = np.arange(size, dtype=np.int64)
        rows = np.minimum(first[:, None] + offsets, self.in_h - 1)
        hits = y_masks[y_index[:, :, None], rows[:, None, :]].astype(np.uint16)  # (n, 9, size)
        bits = np.arange(_PRODUCTS, dtype=np.uint16)[None, :, None]
        code = (hits << bits).sum(axis=1, dtype=np.uint16)
        code[offsets >= length[:, None]] = 0
        x_sig, x_sig_index = _unique_rows(x_index, (len(x_masks),) * _PRODUCTS)
        wanted = np.zeros((len(x_sig), 1 << _PRODUCTS), dtype=bool)
        wanted[x_sig_index[:, None], code] = True
        sig, codes = np.nonzero(wanted)
        table = np.zeros(wanted.shape, dtype=np.int32)
        packed = _pack(x_masks)  # (masks, words) uint64
        chunk = 1 << 14
        for start in range(0, len(sig), chunk):
            s, c = sig[start:start + chunk], codes[start:start + chunk]
            chosen = ((c[:, None] >> np.arange(_PRODUCTS)) & 1).astype(bool)  # (p, 9)
            words = np.where(chosen[:, :, None], packed[x_sig[s]], np.uint64(0))
            union = np.bitwise_or.reduce(words, axis=1)
            table[s, c] = np.bitwise_count(union).sum(axis=1)
        table[:, 0] = 0
        return table[x_sig_index[:, None], code].sum(axis=1, dtype=np.int64)

    def _axis_masks(self, keys: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
        """Boolean masks over the input positions of one axis touched by outputs [a0, a1) and
        kernel positions [k0, k1) of that axis, per distinct row of ``keys`` (..., 4), and the
        index of each row's mask."""
        size = self.in_h if axis == 0 else self.in_w
        kernel = self.kernel_h if axis == 0 else self.kernel_w
        outputs = self.out_h if axis == 0 else self.out_w
        distinct, inverse = _unique_rows(keys.reshape(-1, 4),
                                         (outputs + 1, outputs + 1, kernel + 1, kernel + 1))
        stride, pad, dil = self.stride[axis], self.pad[axis], self.dilation[axis]
        a0, a1, k0, k1 = (distinct[:, i, None, None] for i in range(4))
        taps = np.arange(kernel, dtype=np.int64)[None, :, None]
        pos = np.arange(size, dtype=np.int64)[None, None, :]
        offset = pos + pad - taps * dil  # = output index * stride where it is a multiple
        hit = ((offset % stride == 0) & (offset >= a0 * stride) & (offset < a1 * stride)
               & (taps >= k0) & (taps < k1))
        return hit.any(axis=1), inverse.reshape(keys.shape[:-1])


def _unique_rows(rows: np.ndarray, bounds: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Distinct rows of a 2-D integer array and each row's index among them; ``bounds``:
    an exclusive upper bound per column (rows are ranked as one integer where that fits)."""
    radix = [int(b) + 1 for b in bounds]
    if np.prod(np.array(radix, dtype=float)) >= 2.0 ** 62:
        distinct, inverse = np.unique(rows, axis=0, return_inverse=True)
        return distinct, inverse.ravel()
    key = np.zeros(len(rows), dtype=np.int64)
    for column, r in enumerate(radix):
        key = key * r + rows[:, column]
    _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    return rows[first], inverse.ravel()


def _ranks(rows: np.ndarray, bounds: tuple[int, ...]) -> np.ndarray | None:
    """Each row of a 2-D integer array as one integer (mixed radix, ``bounds``: an exclusive
    upper bound per column), ordered as the rows are lexicographically; None when the ranks
    would not fit in 62 bits."""
    if np.prod(np.array(bounds, dtype=float)) >= 2.0 ** 62:
        return None
    rank = np.zeros(len(rows), dtype=np.int64)
    for column, bound in enumerate(bounds):
        rank = rank * int(bound) + rows[:, column]
    return rank


def _remember(window: ConvWindow, ranks: np.ndarray, counts: np.ndarray) -> None:
    """Keep a convolution's counts by key rank (sorted for lookup); all are forgotten once
    more than :data:`_MEMO_KEYS` keys are kept, so the memory stays bounded."""
    if sum(len(r) for r, _ in _KNOWN.values()) + len(ranks) > _MEMO_KEYS:
        _KNOWN.clear()
    order = np.argsort(ranks, kind="stable")
    _KNOWN[window] = (ranks[order], counts[order])


def _pack(masks: np.ndarray) -> np.ndarray:
    """Boolean masks (n, L) as bit sets (n, ceil(L / 64)) of uint64 words."""
    packed = np.packbits(masks, axis=-1)
    pad = (-packed.shape[-1]) % 8
    packed = np.pad(packed, ((0, 0), (0, pad)))
    return np.ascontiguousarray(packed).view(np.uint64)


def _stacked(pieces: list[tuple[np.ndarray, np.ndarray]]
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The (keys, weights) of several blockings stacked: all keys, all weights, where each
    blocking's rows start and how many it has."""
    count = np.array([len(keys) for keys, _ in pieces], dtype=np.int64)
    return (np.concatenate([keys for keys, _ in pieces]),
            np.concatenate([weights for _, weights in pieces]), np.cumsum(count) - count, count)


@functools.lru_cache(maxsize=4096)
def _piece_weights(length: int, block: int, period: int) -> tuple[np.ndarray, np.ndarray]:
    """The distinct pieces (start, end) within one period of the blocks of ``block`` that
    split ``length``, and how many times the blocks hold each (:func:`_split`).

    Whole blocks ``period / gcd(block, period)`` apart start at the same offset within a
    period and so hold the same pieces: only one cycle of them is split, each weighed by how
    many whole blocks share its offset, and the shorter last block, if any, once."""
    whole = length // block
    cycle = period // math.gcd(block, period)
    firsts = np.arange(min(cycle, whole), dtype=np.int64)
    lo = firsts * block
    hi = lo + block
    repeats = (whole - firsts + cycle - 1) // cycle
    if length % block:
        lo = np.append(lo, whole * block)
        hi = np.append(hi, length)
        repeats = np.append(repeats, 1)
    pieces = _split(lo, hi, period)
    starts = np.concatenate([p[0] for p in pieces])
    ends = np.concatenate([p[1] for p in pieces])
    mults = np.concatenate([p[2] * repeats for p in pieces])
    live = mults > 0
    rows = np.stack([starts[live], ends[live]], axis=1)
    distinct, inverse = _unique_rows(rows, (period + 1, period + 1))
    weights = np.zeros(len(distinct), dtype=np.int64)
    np.add.at(weights, inverse, mults[live])
    distinct.setflags(write=False)  # remembered by the cache: shared, never changed
    weights.setflags(write=False)
    return distinct, weights


def _split(lo: np.ndarray, hi: np.ndarray, period: int) -> list[tuple[np.ndarray, ...]]:
    """[lo, hi) split at multiples of ``period``: (start, end, multiplicity) within one
    period of a partial first period, the whole periods between, a partial last period."""
    first, last = lo // period, (hi - 1) // period
    same = first == last
    end_last = (hi - 1) % period + 1
    zero, full = np.zeros_like(lo), np.full_like(lo, period)
    one = np.ones_like(lo)
    return [(lo % period, np.where(same, end_last, period), one),
            (zero, full, np.maximum(last - first - 1, 0)),
            (zero, end_last, np.where(same, 0, 1))]


def _rectangles(lo: np.ndarray, hi: np.ndarray, width: int) -> list[tuple[np.ndarray, ...]]:
    """[lo, hi) of a row-major grid ``width`` wide as three rectangles (row0, row1, col0,
    col1): the partial first row, the whole rows between, the partial last row (empty ones
    have an empty column range)."""
    ya, xa = lo // width, lo % width
    yb, xb = (hi - 1) // width, (hi - 1) % width + 1
    same = ya == yb
    zero, full = np.zeros_like(lo), np.full_like(lo, width)
    return [(ya, ya + 1, xa, np.where(same, xb, width)),
            (ya + 1, np.maximum(yb, ya + 1), zero, full),
            (yb, yb + 1, zero, np.where(same, zero, xb))]


@dataclass(frozen=True)
class Im2colView:
    """A GEMM operand that is an im2col view: its role (``ifmap`` or ``filter``), the GEMM
    dimension its rows (output pixels) run along and the one its columns (channel x kernel
    positions) run along, and the convolution."""

    role: str
    pixel_dim: str
    window_dim: str
    window: ConvWindow


def _window(attrs: dict, over_gradient: bool) -> ConvWindow | None:
    """The convolution of ``attrs`` (``over_gradient``: the convolution over dY whose output
    has the input's size, for the input gradient of a stride-1 conv and both gradients of a
    transposed conv), or None when its axes do not follow PyTorch's size rule."""
    a = attrs
    stride = tuple(_axis(a.get("stride", 1), i) for i in (0, 1))
    pad = tuple(_axis(a.get("pad", 0), i) for i in (0, 1))
    dilation = tuple(_axis(a.get("dilation", 1), i) for i in (0, 1))
    kernel = (a["r"], a["s"])
    if over_gradient and not a.get("transposed"):
        # dX = conv(dY, flipped W) at stride 1, padded by d*(k-1) - p
        pad = tuple(dilation[i] * (kernel[i] - 1) - pad[i] for i in (0, 1))
        stride = (1, 1)
    if over_gradient:
        sizes = (a["ho"], a["wo"], a["h"], a["w"])
    else:
        sizes = (a["h"], a["w"], a["ho"], a["wo"])
    trivial_w = sizes[1] == sizes[3] == kernel[1] == 1  # a 1-D conv along the rows
    if trivial_w:
        stride, pad, dilation = (stride[0], 1), (pad[0], 0), (dilation[0], 1)
    window = ConvWindow(*sizes, *kernel, stride=stride, pad=pad, dilation=dilation)
    return window if window.consistent() else None


GEOMETRY_KEYS = ("h", "w", "ho", "wo", "r", "s")


def im2col_views(op: Op) -> tuple[Im2colView, ...]:
    """The operands of a conv GEMM op that are im2col views (the lowering of
    :mod:`accelsim.workload.training`): the forward's A operand (im2col of x; ``ifmap``),
    the backward-weight's B operand (im2col of x, rows along K; ``filter``) and, when the
    input gradient is the stride-1 transposed-convolution GEMM, its A operand (im2col of dY).
    A transposed convolution's views are those of the ordinary convolution over dY (its
    backward-data A operand and backward-weight B operand). Empty for every other op."""
    attrs = op.attrs or {}
    if op.gemm is None or op.kind != "conv" or any(k not in attrs for k in GEOMETRY_KEYS):
        return ()
    transposed = bool(attrs.get("transposed"))
    if op.phase is Phase.FWD and not transposed:
        spec = ("ifmap", "m", "k", False)
    elif op.phase is Phase.BWD_WEIGHT:
        spec = ("filter", "k", "n", transposed)
    elif op.phase is Phase.BWD_DATA and (transposed or not col2im_lowered(attrs)):
        spec = ("ifmap", "m", "k", True)
    else:
        return ()
    role, pixel_dim, window_dim, over_gradient = spec
    window = _window(attrs, over_gradient)
    if window is None:
        return ()
    gemm = op.gemm
    rows, cols = getattr(gemm, pixel_dim), getattr(gemm, window_dim)
    if rows % window.pixels or cols % window.positions:
        raise ValueError(f"op {op.name}: its GEMM {gemm.m}x{gemm.n}x{gemm.k} is no im2col view "
                         f"of its conv attrs ({window.pixels} output pixels per image, "
                         f"{window.positions} kernel positions per channel)")
    return (Im2colView(role, pixel_dim, window_dim, window),)
