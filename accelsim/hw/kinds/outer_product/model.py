"""Cycle model of an SCNN-like outer-product PE grid (Parashar et al., ISCA 2017).

Mapping (SCNN's PlanarTiled-InputStationary-CartesianProduct). Every GEMM op is an
outer-product convolution (:mod:`accelsim.hw.kinds.outer_product.rcp`): for each *reduction channel* c, the A plane
of c is split planarly over the rows x cols PEs (each PE holds a tile of it, compressed), and
the B planes of (c, k) for the Kc output channels k of the current *output-channel group* are
broadcast to every PE in chunks of F non-zeros (the Kc output channels innermost)
and the PE takes its A non-zeros in chunks of I and multiplies every (B chunk, A chunk) pair
on its F x I multipliers. Each product's output coordinate is computed from the two input
coordinates and the product is scattered through a crossbar into the queue of its
accumulator bank (:mod:`accelsim.hw.kinds.outer_product.accumulators`: banks interleaved
over output channels and output positions, a bank adds one product per cycle, the
multipliers stall only while a queue is full); invalid products (RCPs) are dropped at the
crossbar but took their multiplier slot. After a group, each PE exchanges the
partial sums it computed for its neighbours' outputs (halos). A pass over one output-channel
group of one image (or GEMM instance) is one *tile*; its multipliers are busy as long as its
slowest PE. SCNN double-buffers the accumulator banks, so a group's halo exchange and drain
overlap the next group's products: a tile lasts ``max(its multiplier cycles, the previous
tile's halo cycles)``, and the op's last tile adds its own halo exchange. For a weight
gradient every channel's outputs are partial over the PEs, so its "halo" is the reduction of
all of them. Stride is handled as SCNN does: products whose output coordinate is not a
multiple of the stride are invalid (RCPs) rather than pre-filtered.

Convolutions (groups 1, no dilation; stride and padding per axis) use their geometry per
phase: forward A = x, B = w; backward-data A = dy, B = w (transposed convolution);
backward-weight A = x, B = dy (one dy plane per output channel, shared by every channel c).
Any other GEMM (linear, attention matmul, grouped or dilated conv) is a sparse matrix product: a 1x1 convolution whose rows are laid out as a plane.

Inside a tile everything is numpy. The chunk-level figures (chunk pairs, bank conflicts) are
computed exactly on masks of a sample of channels and output channels
(for planes so large that one pair exceeds :data:`SAMPLE_PRODUCTS`, also on a sample of PEs
evenly spread over the grid) and scaled to the tile, so every tile of an op of one group size
has the same figures. Sums (products, checks) scale linearly; the slowest PE, whose sampled
load carries sampling noise, is estimated from each PE's mean and spread over the sampled
channels (:meth:`ProductSample.slowest_pe`). The masks come from one of two sources, recorded per op row as
``mask_source``:

* ``traced``: a convolution (groups 1) of a traced workload whose layer carries Top-K
  coordinate masks (:meth:`accelsim.workload.value_stats.ValueStats.masks`, at the masked
  step nearest to the simulated training step; by default the last, the one the graph was
  traced at). The tracer keeps 2 images and 8 evenly
  spaced channels of x and dy and the matching channels of w, so the sample is those
  (image, channel) planes against those output channels, exact on them; the rest of the op
  is assumed to behave like the sample: products issued and valid per plane pair are the
  mean of exact counts over every sampled plane pair (:func:`accelsim.hw.kinds.outer_product.rcp.count_exact`),
  and the operand densities (compressed bytes, group size) are those of the sampled masks,
  so that every figure of the op comes from the same masks.
* ``density``: every other op (no masks; or a linear, attention or grouped-conv product,
  whose planes of matrix rows the sampled masks do not cover): random masks of the operand densities, seeded by the
  geometry (the statistical fallback); product and RCP totals are the exact expectations
  (:func:`accelsim.hw.kinds.outer_product.rcp.count_expected`).

Operand densities of ``density`` ops are an op's ``density`` attribute, else the traced
densities of the op (Top-K densities when the trace masked at a sparsity, the densities as
run otherwise), else the hwconfig's ``operand_density``. Compressed operands cost
``element bytes + index_bits / 8`` per non-zero in DRAM and SRAM traffic. The PE's ports
(weight FIFO: F weights, IARAM: I activations per cycle) deliver one chunk pair per cycle by
construction, so SRAM bandwidth does not stretch these tiles; buffer capacity is enforced.
Not modelled: the cross-PE reduction of weight-gradient partial sums (each image's partial
dW leaves at accumulator width) and the accumulator read-out beyond the halo exchange.

Dense operands (density 1.0, ``scnn_like.yaml``): a dense chunk pair's 16 outputs fall in 16
distinct banks, so stride-1 convolutions are multiplier-bound; valid products keep 90% of the
1,024 multipliers busy on ResNet-18's 56x56 layers, 73% on 28x28 and 69% on 14x14 (95% on
64 -> 64 channels of 32x32), against SCNN's report of dense layers at about 0.79x the
performance of DCNN, a dense accelerator of equal multipliers (Parashar et al., ISCA 2017,
Section VI, density sweep). The losses are SCNN's own: partial activation and weight
chunks (a 7x7 plane gives each PE of the 8x8 grid at most one activation: 19% of the
multiplier slots), off-stride products of strided layers (three quarters at stride 2) and
the halo exchanges. DNNsim's SCNN model gives the same multiplier cycles on the same chunk
pairs (``scripts/dnnsim_compare.py``, goldens in ``tests/golden/dnnsim_scnn``).
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, replace
from functools import cached_property, lru_cache

import numpy as np

from accelsim.hw.kinds.outer_product.accumulators import bank_of, issue_intervals
from accelsim.hw.kinds.outer_product.rcp import (
    Axis,
    Counts,
    conv_axes,
    count_exact,
    count_expected,
    matmul_axes,
    per_axis,
)
from accelsim.workload.op import Op

#: Products the chunk model of one op evaluates at most; larger ops are sampled by channel and
#: output channel and scaled.
SAMPLE_PRODUCTS = 300_000

#: Tensor roles (x, w, dy) of the A and B operands of a convolution's outer product, by phase.
CONV_ROLES = {"fwd": ("x", "w"), "bwd_data": ("dy", "w"), "bwd_weight": ("x", "dy")}


@dataclass(frozen=True)
class OpGeometry:
    """An op as an outer-product convolution (see the module docstring)."""

    phase: str
    images: int  # independent passes: images or GEMM instances
    channels: int  # reduction channels (one A plane each)
    outputs: int  # output channels (one B plane per channel and output channel)
    axes: tuple[Axis, Axis]
    b_shared: bool  # the B plane of an output channel is the same for every channel
    a_elements: int  # elements of an A plane that exist (a matrix's rows; the rest is padding)
    dense_macs: int
    out_dense: bool  # outputs leave uncompressed, at accumulator width (weight gradients)
    out_per_channel: bool  # every reduction channel has its own outputs (conv bwd_weight)
    conv: bool = False  # a convolution's own geometry (else a matrix product as a 1x1 conv)

    @property
    def a_shape(self) -> tuple[int, int]:
        return self.axes[0].a_size, self.axes[1].a_size

    @property
    def b_shape(self) -> tuple[int, int]:
        return self.axes[0].b_size, self.axes[1].b_size

    @property
    def out_shape(self) -> tuple[int, int]:
        return self.axes[0].out_size, self.axes[1].out_size


_CONV_KEYS = ("cin", "cout", "h", "w", "r", "s", "ho", "wo")


def op_geometry(op: Op) -> OpGeometry:
    """The outer-product geometry of a GEMM op's issued samples."""
    attrs, gemm, phase = op.attrs, op.issued_gemm, str(op.phase)
    undilated = all(per_axis(attrs.get("dilation", 1), axis) == 1 for axis in (0, 1))
    if (op.kind == "conv" and all(k in attrs for k in _CONV_KEYS)
            and int(attrs.get("groups", 1)) == 1 and undilated
            and phase in ("fwd", "bwd_data", "bwd_weight")):
        axes = conv_axes(attrs, phase)
        cin, cout = int(attrs["cin"]), int(attrs["cout"])
        # the GEMM's per-image MACs, the useful ones of every phase: Ho*Wo output positions
        # times Cin * Cout * R * S (bwd_data: the col2im GEMM's rows are dY's positions, and
        # the transposed-convolution GEMM kept where H*W = Ho*Wo has as many)
        per_image = cin * cout * int(attrs["r"]) * int(attrs["s"]) * int(attrs["ho"]) \
            * int(attrs["wo"])
        channels, outputs = (cout, cin) if phase == "bwd_data" else (cin, cout)
        wgrad = phase == "bwd_weight"
        return OpGeometry(phase, max(1, gemm.macs // per_image), channels, outputs, axes,
                          wgrad, axes[0].a_size * axes[1].a_size, gemm.macs, wgrad, wgrad,
                          conv=True)
    height = math.ceil(math.sqrt(gemm.m))
    axes = matmul_axes(height, math.ceil(gemm.m / height))
    return OpGeometry(phase, gemm.count, gemm.k, gemm.n, axes, False, gemm.m, gemm.macs,
                      phase == "bwd_weight", False)


def op_densities(op: Op, default: float, value_stats=None, step: int | None = None
                 ) -> tuple[float, float]:
    """Non-zero fractions of the A and B operands: ``op.attrs["density"]`` (a number, or a
    mapping with ``a`` and ``b``), else the traced densities of the op in ``value_stats`` at
    the sampled step nearest to ``step``, else ``default``."""
    if "density" not in op.attrs:
        traced = _traced_densities(value_stats, op.name, op_geometry(op), step)
        if traced is not None:
            return traced
    given = op.attrs.get("density", default)
    if isinstance(given, dict):
        return float(given.get("a", default)), float(given.get("b", default))
    return float(given), float(given)


def _traced_densities(stats, op_name: str, geom: OpGeometry, step: int | None
                      ) -> tuple[float, float] | None:
    """Densities of the A and B operands from a traced op's statistics (Top-K densities when
    the trace masked at a sparsity), or None without them."""
    if stats is None:
        return None
    topk = float(stats.params.get("sparsity", 0.0)) > 0
    if not stats.has("topk_density" if topk else "density", op_name):
        return None
    keys = ("a", "b")
    if geom.conv:  # the outer product's A and B by role, whatever the GEMM's order
        by_role = {role: key for key, role in stats.operands(op_name).items()}
        keys = tuple(by_role.get(role) for role in CONV_ROLES[geom.phase])
        if None in keys:
            return None
    return tuple(stats.density(op_name, key, step, topk=topk) for key in keys)


@dataclass(frozen=True, eq=False)
class TracedMasks:
    """Sampled operand masks of a traced convolution, as plane pairs (hashed by identity).

    ``a`` (n, Ha, Wa): the A plane of each sampled (image, channel); ``b`` (n, K, Hb, Wb): the B
    planes of the K sampled output channels it meets; ``per_pair``: products issued and valid
    of one plane pair, the mean of exact counts over all those pairs; ``density_a``,
    ``density_b``: the non-zero fractions of the sampled planes.
    """

    a: np.ndarray
    b: np.ndarray
    per_pair: Counts
    density_a: float
    density_b: float


@lru_cache(maxsize=256)
def traced_masks(stats, layer: str, geom: OpGeometry, step: int | None = None
                 ) -> TracedMasks | None:
    """The plane pairs of a convolution from its layer's traced masks (module docstring) at the
    masked step nearest to ``step`` (None: the last), or None when ``stats`` has no masks of the
    layer's operands or they are not whole planes."""
    if stats is None or not geom.conv or not stats.has("masks", layer):
        return None
    roles = CONV_ROLES[geom.phase]
    stored = stats.require("masks", layer)
    if any(role not in stored for role in roles):
        return None
    masks, index = zip(*(stats.masks(layer, role, step, technique="outer_product")
                         for role in roles))
    if any(mask.ndim != 4 for mask in masks):  # a 1-D or 3-D convolution's masks
        return None
    first, second = {"fwd": ("channels", "in_channels"),
                     "bwd_data": ("channels", "out_channels"),
                     "bwd_weight": ("images", "images")}[geom.phase]
    aligned = index[0].get(first) == index[1].get(second)
    return plane_pairs(geom, *masks) if aligned else None


def plane_pairs(geom: OpGeometry, first: np.ndarray, second: np.ndarray
                ) -> TracedMasks | None:
    """The plane pairs of a convolution from the masks of its two operands in the order of
    :data:`CONV_ROLES` (fwd: x (I, C, H, W), w (K, C, R, S); bwd_data: dy (I, K, Ho, Wo), w;
    bwd_weight: x, dy), or None when they are not the op's planes."""
    if geom.phase == "fwd":  # x against w
        x, w = first, second
        a = x.reshape(-1, *x.shape[2:])
        b = np.tile(w.transpose(1, 0, 2, 3), (x.shape[0], 1, 1, 1))
    elif geom.phase == "bwd_data":  # dy against w
        dy, w = first, second
        a = dy.reshape(-1, *dy.shape[2:])
        b = np.tile(w, (dy.shape[0], 1, 1, 1))
    else:  # bwd_weight: x against dy of the same image
        x, dy = first, second
        a = x.reshape(-1, *x.shape[2:])
        b = np.repeat(dy, x.shape[1], axis=0)
    if a.shape[1:] != geom.a_shape or b.shape[2:] != geom.b_shape:
        return None
    counts = count_exact(a[:, None], b, geom.axes)
    per_pair = Counts(float(counts.issued.mean()), float(counts.valid.mean()))
    return TracedMasks(a, b, per_pair, float(a.mean()), float(b.mean()))


@dataclass(frozen=True)
class ChunkPairs:
    """Every chunk pair of a set of plane pairs on the PE grid, one value per pair: the PE that
    multiplies it, the plane pair (reduction ``channel``) it belongs to, its ``products``, how
    many of them pass the coordinate-bound check on both axes (``in_bounds``) and are
    ``valid``, and the coordinate bounding boxes of its A chunk and B chunk per axis
    (``a_lo[axis]``, ``a_hi[axis]``, ``b_lo[axis]``, ``b_hi[axis]``); and, sparse, its valid
    products per accumulator bank (``entry_load[e]`` products of pair ``entry_pair[e]`` to
    bank ``entry_bank[e]``), from which the banks' queues
    (:mod:`accelsim.hw.kinds.outer_product.accumulators`, ``queue_depth`` deep) give each
    pair's cycles. A PE issues its pairs in array order (channel after channel)."""

    axes: tuple[Axis, Axis]
    pes: int
    channels: int
    pe: np.ndarray
    channel: np.ndarray
    products: np.ndarray
    in_bounds: np.ndarray
    valid: np.ndarray
    a_lo: tuple[np.ndarray, np.ndarray]
    a_hi: tuple[np.ndarray, np.ndarray]
    b_lo: tuple[np.ndarray, np.ndarray]
    b_hi: tuple[np.ndarray, np.ndarray]
    entry_pair: np.ndarray
    entry_bank: np.ndarray
    entry_load: np.ndarray
    queue_depth: int

    def __len__(self) -> int:
        return len(self.pe)

    @cached_property
    def cycles(self) -> np.ndarray:
        """Multiplier cycles of each pair when every pair issues (:meth:`pair_cycles`)."""
        return self.pair_cycles()

    def pair_cycles(self, kept: np.ndarray | None = None) -> np.ndarray:
        """Cycles from the issue of each pair to the issue of its PE's next pair (the last:
        until its banks drain); with ``kept``, only the kept pairs issue (the others take 0)."""
        if kept is None:
            return issue_intervals(self.pe, self.entry_pair, self.entry_bank,
                                   self.entry_load, self.queue_depth)
        kept = np.asarray(kept, dtype=bool)
        key = np.packbits(kept).tobytes()
        if key not in self._kept_cycles:  # ops of one geometry share their pairs
            self._kept_cycles[key] = self._kept_pair_cycles(kept)
        return self._kept_cycles[key]

    @cached_property
    def _kept_cycles(self) -> dict[bytes, np.ndarray]:
        return {}

    def _kept_pair_cycles(self, kept: np.ndarray) -> np.ndarray:
        index = np.flatnonzero(kept)
        renumber = np.cumsum(kept) - 1
        entries = kept[self.entry_pair]
        cycles = np.zeros(len(self), dtype=np.int64)
        cycles[index] = issue_intervals(self.pe[index], renumber[self.entry_pair[entries]],
                                        self.entry_bank[entries], self.entry_load[entries],
                                        self.queue_depth)
        return cycles

    def pe_cycles(self, kept: np.ndarray | None = None) -> np.ndarray:
        """(PEs,) multiplier cycles of each PE over the pairs (only the ``kept`` ones)."""
        return self.channel_pe_cycles(kept).sum(axis=0)

    def channel_pe_cycles(self, kept: np.ndarray | None = None) -> np.ndarray:
        """(channels, PEs) multiplier cycles of each PE in each channel's plane pairs."""
        weights = self.cycles if kept is None else self.pair_cycles(kept)
        return np.bincount(self.channel * self.pes + self.pe, weights=weights,
                           minlength=self.channels * self.pes).reshape(self.channels, self.pes)


def _segments(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(owner, position within owner, owner start) of ``counts.sum()`` items, owner-major."""
    starts = np.concatenate(([0], np.cumsum(counts)[:-1])).astype(np.int64)
    owner = np.repeat(np.arange(len(counts)), counts)
    return owner, np.arange(int(counts.sum()), dtype=np.int64) - starts[owner], starts


def _chunk_bounds(owner_chunk: np.ndarray, coords: list[np.ndarray], chunks: int) -> list:
    """Per chunk, (min, max) of each coordinate array; chunks are contiguous runs."""
    out = []
    if chunks == 0:
        return [(np.zeros(0, np.int64), np.zeros(0, np.int64)) for _ in coords]
    starts = np.flatnonzero(np.r_[True, owner_chunk[1:] != owner_chunk[:-1]])
    for values in coords:
        out.append((np.minimum.reduceat(values, starts), np.maximum.reduceat(values, starts)))
    return out


def _in_range(num: np.ndarray, axis: Axis) -> np.ndarray:
    """The coordinate-bound check of :meth:`Axis.in_bounds` on precomputed 32-bit numerators,
    as one unsigned comparison (a negative numerator wraps above the bound)."""
    return num.view(np.uint32) <= (axis.out_size - 1) * axis.divisor


def _tally(keys: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """The distinct values of ``keys`` (non-negative, below ``size``) in ascending order and
    how often each occurs, as ``np.unique(keys, return_counts=True)``; sorted as 32-bit
    integers when they fit (several times faster than 64-bit)."""
    if size <= np.iinfo(np.int32).max:
        present, counts = np.unique(keys.astype(np.int32), return_counts=True)
        return present.astype(np.int64), counts
    return np.unique(keys, return_counts=True)


def chunk_model(a: np.ndarray, b: np.ndarray, axes: tuple[Axis, Axis], f: int, i: int,
                banks: int, grid: tuple[int, int],
                pe_subset: np.ndarray | None = None, queue_depth: int = 0) -> ChunkPairs:
    """Exact chunk-level figures of ``a`` (n, Ha, Wa) A masks, one per channel, against
    ``b`` (n, Kc, Hb, Wb) B masks on a ``grid`` of PEs with F x I multipliers and ``banks``
    accumulator banks behind queues ``queue_depth`` deep; with ``pe_subset`` only those PEs
    work (the others report 0 cycles). A PE's A non-zeros form chunks of I in row-major order;
    the B non-zeros of a channel form chunks of F with the output channel innermost (every
    tap of the Kc output channels in turn, as SCNN's weight FIFO and DNNsim order them)."""
    rows, cols = grid
    n, ha, wa = a.shape
    th, tw = -(-ha // rows), -(-wa // cols)
    padded = np.zeros((n, rows * th, cols * tw), dtype=bool)
    padded[:, :ha, :wa] = a
    tiles = padded.reshape(n, rows, th, cols, tw).transpose(0, 1, 3, 2, 4).reshape(
        n * rows * cols, th, tw)
    pes = rows * cols
    if pe_subset is not None:
        tiles[np.isin(np.arange(len(tiles)) % pes, pe_subset, invert=True)] = False
    group, ty, tx = np.nonzero(tiles)  # group = channel * pes + pe, row-major inside a tile
    pe = group % pes
    xh, xw = (pe // cols) * th + ty, (pe % cols) * tw + tx
    na = np.bincount(group, minlength=n * pes)
    bc, uh, uw, bk = np.nonzero(b.transpose(0, 2, 3, 1))
    nb_c = np.bincount(bc, minlength=n)
    nb = nb_c[np.arange(n * pes) // pes]
    _, a_rank, a_start = _segments(na)
    _, b_rank, b_start_c = _segments(nb_c)
    b_start = b_start_c[np.arange(n * pes) // pes]
    h_ax, w_ax = axes
    # chunk pairs of each group, B-chunk major
    nca, ncb = -(-na // i), -(-nb // f)
    pair_group, pair_local, pair_start = _segments(nca * ncb)
    npairs = len(pair_group)
    # every product, A element major: a term that depends on the A element alone is repeated
    # over its products, one of the B element is gathered at ``bi`` (32-bit values)
    a_channel = group // pes
    per_a = nb_c[a_channel]
    first_product = np.cumsum(per_a) - per_a
    bi = np.repeat(b_start_c[a_channel] - first_product, per_a) + np.arange(int(per_a.sum()))

    def product_term(a_term: np.ndarray, b_term: np.ndarray) -> np.ndarray:
        return np.repeat(a_term.astype(np.int32), per_a) + b_term.astype(np.int32)[bi]

    num_h = product_term(h_ax.a_coef * xh + h_ax.offset, h_ax.b_coef * uh)
    num_w = product_term(w_ax.a_coef * xw + w_ax.offset, w_ax.b_coef * uw)
    in_both = _in_range(num_h, h_ax) & _in_range(num_w, w_ax)
    valid = in_both.copy()
    for num, axis in ((num_h, h_ax), (num_w, w_ax)):
        if axis.divisor != 1:
            valid &= num % axis.divisor == 0
    pair_id = product_term(pair_start[group] + (a_rank // i) * ncb[group], b_rank // f)
    valid_pair = pair_id[valid]
    bank = bank_of(bk[bi[valid]], num_h[valid] // h_ax.divisor, num_w[valid] // w_ax.divisor,
                   banks, f)
    valid_pair = valid_pair.astype(np.int64)
    keys, counts = _tally(valid_pair * banks + bank, npairs * banks)
    pair_pe = pair_group % pes
    # bounding boxes of each pair's A chunk and B chunk, per axis
    a_chunk_start = np.concatenate(([0], np.cumsum(nca)[:-1]))
    b_chunk_start_c = np.concatenate(([0], np.cumsum(-(-nb_c // f))[:-1]))
    a_chunk = a_chunk_start[group] + a_rank // i
    b_chunk = b_chunk_start_c[bc] + b_rank // f
    (xh_lo, xh_hi), (xw_lo, xw_hi) = _chunk_bounds(a_chunk, [xh, xw], int(nca.sum()))
    (uh_lo, uh_hi), (uw_lo, uw_hi) = _chunk_bounds(b_chunk, [uh, uw],
                                                   int((-(-nb_c // f)).sum()))
    ncb_g = np.maximum(ncb[pair_group], 1)
    pa = a_chunk_start[pair_group] + pair_local // ncb_g
    pb = b_chunk_start_c[pair_group // pes] + pair_local % ncb_g
    return ChunkPairs(
        axes=axes, pes=pes, channels=n, pe=pair_pe, channel=pair_group // pes,
        products=(np.minimum(i, na[pair_group] - pair_local // ncb_g * i)
                  * np.minimum(f, nb[pair_group] - pair_local % ncb_g * f)),
        in_bounds=np.bincount(pair_id[in_both], minlength=npairs),
        valid=np.bincount(valid_pair, minlength=npairs),
        a_lo=(xh_lo[pa], xw_lo[pa]), a_hi=(xh_hi[pa], xw_hi[pa]),
        b_lo=(uh_lo[pb], uw_lo[pb]), b_hi=(uh_hi[pb], uw_hi[pb]),
        entry_pair=keys // banks, entry_bank=keys % banks, entry_load=counts,
        queue_depth=queue_depth)


#: Draws of the Monte-Carlo estimate of the slowest PE of a scaled sample.
SLOWEST_PE_DRAWS = 256


@dataclass(frozen=True)
class ProductSample:
    """What a technique needs of an outer-product op (a plan's ``detail``): the chunk pairs of
    the sampled plane pairs (:class:`ChunkPairs`), how many times more reduction channels the
    op has than the sample (``channel_scale``), and how a PE's sampled cycles become a tile's
    cycles. A plan's ``pair_scale`` column scales the sample to each tile (channels and output
    channels) and its ``halo_cycles`` column holds each tile's halo exchange."""

    pairs: ChunkPairs
    channel_scale: float = 1.0
    seed: int = 0

    def slowest_pe(self, kept: np.ndarray | None = None) -> float:
        """Multiplier cycles of the op's slowest PE over all its channels (for the sample's
        output channels), from the sampled channels' (only the ``kept`` pairs') cycles.

        Unscaled, this is exactly the busiest PE. Scaled, multiplying the busiest sampled PE by
        ``channel_scale`` would also multiply its sampling noise and overstate the slowest PE
        (by about 10% for 8 of 64 channels at density 0.5): a PE's load over the op's n channels is a
        sum of n independent channel loads, so its mean grows with n and its spread with
        sqrt(n). The estimate takes each PE's mean and variance over the sampled channels,
        shrinks the means toward their common value by the share of their spread that the
        sampling noise does not explain (empirical Bayes), and averages the slowest PE over
        Monte-Carlo draws of normal PE totals (seeded, deterministic). One sampled channel
        leaves no variance to measure: then the busiest sampled PE is scaled."""
        loads = self.pairs.channel_pe_cycles(kept)
        sampled = loads.shape[0]
        if self.channel_scale <= 1.0 or sampled < 2:
            return float(loads.sum(axis=0).max(initial=0.0) * self.channel_scale)
        channels = sampled * self.channel_scale
        mean, variance = loads.mean(axis=0), loads.var(axis=0, ddof=1)
        noise = variance.mean() / sampled  # variance of a PE's sampled mean
        spread = mean.var(ddof=1) if mean.size > 1 else 0.0
        systematic = max(0.0, spread - noise)
        shrink = systematic / (systematic + noise) if systematic + noise > 0 else 0.0
        expected = mean.mean() + shrink * (mean - mean.mean())
        rng = np.random.default_rng(self.seed)
        draws = rng.standard_normal((SLOWEST_PE_DRAWS, loads.shape[1]))
        totals = channels * expected + np.sqrt(channels * variance) * draws
        return float(np.maximum(totals.max(axis=1), 0.0).mean())

    def tile_cycles(self, slowest_pe: float, pair_scale: np.ndarray,
                    halo_cycles: np.ndarray) -> np.ndarray:
        """Tile cycles from the op's slowest PE (:meth:`slowest_pe`): scaled to each tile's
        output channels, each halo exchange overlapping the next tile and the last tile's added
        at the end."""
        return with_halos(slowest_pe * pair_scale / self.channel_scale, halo_cycles)


def with_halos(multiplier_cycles: np.ndarray, halo_cycles: np.ndarray) -> np.ndarray:
    """Tile cycles when each tile's halo exchange overlaps the next tile (module docstring)."""
    if len(multiplier_cycles) == 0:
        return np.zeros(0, dtype=np.int64)
    previous = np.concatenate(([0.0], halo_cycles[:-1]))
    cycles = np.maximum(np.ceil(multiplier_cycles), previous)
    cycles[-1] += halo_cycles[-1]
    return cycles.astype(np.int64)


@dataclass
class OuterProductTiles:
    """What an op does on the grid, tile by tile (tiles: images outer, groups inner)."""

    compute_cycles: np.ndarray
    dense_macs: int  # the op's workload MACs; the valid products are the MACs done
    a_load: np.ndarray  # compressed A bytes fetched (first group of each image, or every
    # group when the A planes of all channels do not fit the ifmap buffer)
    a_read: np.ndarray  # compressed A bytes read by the PEs (every group)
    a_resident: np.ndarray  # compressed A bytes held on chip (all channels, or one)
    b_bytes: np.ndarray  # compressed B bytes of the group fetched from DRAM
    b_read: np.ndarray  # compressed B bytes broadcast to the PEs (one channel at a time)
    b_resident: np.ndarray  # compressed B bytes of one channel of the group (held on chip)
    out_bytes: np.ndarray
    products_issued: np.ndarray
    products_valid: np.ndarray
    pair_scale: np.ndarray  # the sampled chunk pairs' share of each tile (module docstring)
    halo_cycles: np.ndarray
    sample: ProductSample
    mask_source: str  # traced or density

    def __len__(self) -> int:
        return len(self.compute_cycles)


class OuterProductModel:
    """Per-tile figures of ops on an outer-product grid (see the module docstring)."""

    def __init__(self, params, element_bytes: int, psum_bytes: int) -> None:
        self.params = params
        self.grid = (params.rows, params.cols)
        self.f, self.i = params.multipliers_f, params.multipliers_i
        self.banks = params.accumulator_banks
        self.queue_depth = params.accumulator_queue_depth
        self.element_bytes = element_bytes
        self.psum_bytes = psum_bytes
        self.compressed_bytes = self.element_bytes + params.index_bits / 8

    def _reach(self, axis: Axis, grid_dim: int) -> tuple[int, int]:
        """(outputs a PE's A tile reaches, outputs a PE owns) along one axis."""
        tile = -(-axis.a_size // grid_dim)
        span = abs(axis.a_coef) * (tile - 1) + abs(axis.b_coef) * (axis.b_size - 1)
        return min(axis.out_size, span // axis.divisor + 1), -(-axis.out_size // grid_dim)

    def group_size(self, geom: OpGeometry, db: float, capacity: dict[str, float]) -> int:
        """Kc: output channels whose partial sums fit the accumulator banks of a PE, whose
        B planes of one channel fit the ``filter`` buffer and whose outputs fit ``ofmap``."""
        (reach_h, _), (reach_w, _) = (self._reach(geom.axes[0], self.grid[0]),
                                      self._reach(geom.axes[1], self.grid[1]))
        entries = self.banks * self.params.accumulator_entries
        by_acc = entries // max(1, reach_h * reach_w)
        by_out = capacity["ofmap"] // max(1.0, self._out_bytes_per_channel(geom))
        b_plane = geom.b_shape[0] * geom.b_shape[1] * db * self.compressed_bytes
        by_b = capacity["filter"] // max(1.0, b_plane)
        return int(max(1, min(geom.outputs, by_acc, by_out, by_b)))

    def _out_bytes_per_channel(self, geom: OpGeometry, density: float = 1.0) -> float:
        """Output bytes of one output channel (of every reduction channel if each has its
        own outputs): uncompressed at accumulator width, or compressed at ``density``."""
        elements = geom.out_shape[0] * geom.out_shape[1]
        if geom.out_per_channel:
            elements *= geom.channels
        if geom.out_dense:
            return elements * self.psum_bytes
        return elements * density * self.compressed_bytes

    def tiles(self, op: Op, capacity: dict[str, float], value_stats=None,
              step: int | None = None, seed: int = 0,
              masks: TracedMasks | None = None) -> OuterProductTiles:
        """The tiles of the op's issued samples; ``capacity``: usable bytes of the ``ifmap``,
        ``filter`` and ``ofmap`` buffers. The last two bound the output-channel group; A planes
        that do not all fit ``ifmap`` stream channel by channel, fetched again for every group.
        ``value_stats``: the workload's traced statistics, if any (masks and densities, at the
        sampled step nearest to ``step``); ``seed``: mixed into the random masks' seeds;
        ``masks``: the op's plane pairs given directly (:func:`plane_pairs`) instead."""
        geom = op_geometry(op)
        if masks is None:
            masks = traced_masks(value_stats, op.layer, geom, step)
        da, db = ((masks.density_a, masks.density_b) if masks is not None
                  else op_densities(op, self.params.operand_density, value_stats, step))
        kc = self.group_size(geom, db, capacity)
        tiles = _tiles(self, geom, da, db, kc, masks, seed)
        if tiles.a_read[0] > capacity["ifmap"]:
            tiles.a_load = tiles.a_read.copy()
            tiles.a_resident = np.ceil(tiles.a_read / geom.channels).astype(np.int64)
        return tiles

    def halo_cycles(self, geom: OpGeometry, kc: np.ndarray) -> np.ndarray:
        """Cycles of a pass's halo exchange: the partial sums a PE computed for outputs it
        does not own (its reach beyond its own output tile), for ``kc`` output channels."""
        (reach_h, own_h), (reach_w, own_w) = (self._reach(geom.axes[0], self.grid[0]),
                                              self._reach(geom.axes[1], self.grid[1]))
        halo = max(0, reach_h * reach_w - own_h * own_w)
        if geom.out_per_channel:
            halo *= geom.channels
        return np.ceil(kc * halo / self.params.halo_elements_per_cycle)


@lru_cache(maxsize=1024)
def _sample_stats(geom: OpGeometry, da: float, db: float, kc: int, f: int, i: int,
                  banks: int, grid: tuple[int, int], masks: TracedMasks | None = None,
                  seed: int = 0, queue_depth: int = 0) -> tuple[ChunkPairs, int, int]:
    """The chunk model on masks of a sample of channels and output channels (and of PEs,
    evenly spread over the grid, when one plane pair alone exceeds the budget): random masks
    of the densities (seeded by the geometry of one image and ``seed``), or evenly spaced planes of the
    traced ``masks``; returns the chunk pairs and the sampled (planes, output channels)."""
    ha, wa = geom.a_shape
    hb, wb = geom.b_shape
    per_plane_pair = max(1e-9, geom.a_elements * da * hb * wb * db)
    k_sample = int(max(1, min(kc, SAMPLE_PRODUCTS // per_plane_pair)))
    c_sample = int(max(1, min(geom.channels, SAMPLE_PRODUCTS // (per_plane_pair * k_sample))))
    pes = grid[0] * grid[1]
    pe_subset = None
    if per_plane_pair > SAMPLE_PRODUCTS:
        count = max(1, int(SAMPLE_PRODUCTS * pes // per_plane_pair))
        pe_subset = np.unique(np.linspace(0, pes - 1, count).round().astype(np.int64))
    if masks is not None:
        planes = _spread(len(masks.a), c_sample)
        outputs = _spread(masks.b.shape[1], k_sample)
        a, b = masks.a[planes], masks.b[planes][:, outputs]
    else:
        per_image = replace(geom, images=1, dense_macs=0)  # the same masks at any batch
        rng = np.random.default_rng(zlib.crc32(repr((per_image, da, db, kc)).encode()) ^ seed)
        a = rng.random((c_sample, ha * wa)) < da
        a[:, geom.a_elements:] = False
        a = a.reshape(c_sample, ha, wa)
        b_planes = 1 if geom.b_shared else c_sample
        b = np.broadcast_to(rng.random((b_planes, k_sample, hb, wb)) < db,
                            (c_sample, k_sample, hb, wb))
    return (chunk_model(a, b, geom.axes, f, i, banks, grid, pe_subset, queue_depth), len(a),
            b.shape[1])


def _spread(size: int, count: int) -> np.ndarray:
    """``min(size, count)`` distinct indices evenly spread over ``range(size)``."""
    return np.unique(np.linspace(0, size - 1, min(size, count)).round().astype(np.int64))


def _tiles(model: OuterProductModel, geom: OpGeometry, da: float, db: float,
           kc: int, masks: TracedMasks | None = None, seed: int = 0) -> OuterProductTiles:
    groups = -(-geom.outputs // kc)
    k_of_group = np.minimum(kc, geom.outputs - np.arange(groups) * kc)
    k_tile = np.tile(k_of_group, geom.images)
    first = np.tile(np.arange(groups) == 0, geom.images)
    pairs, c_sample, k_sample = _sample_stats(geom, da, db, kc, model.f, model.i, model.banks,
                                              model.grid, masks, seed, model.queue_depth)
    scale = (geom.channels / c_sample) * (k_tile / k_sample)
    halo = model.halo_cycles(geom, k_tile)
    expected = masks.per_pair if masks is not None else count_expected(
        da * geom.a_elements / (geom.a_shape[0] * geom.a_shape[1]), db, geom.axes)
    plane_pairs = geom.channels * k_tile
    issued = np.rint(expected.issued * plane_pairs).astype(np.int64)
    valid = np.minimum(np.rint(expected.valid * plane_pairs).astype(np.int64), issued)
    sample = ProductSample(pairs, geom.channels / c_sample, seed)
    a_bytes = geom.channels * geom.a_elements * da * model.compressed_bytes
    b_plane = geom.b_shape[0] * geom.b_shape[1] * db * model.compressed_bytes
    b_bytes = (k_tile if geom.b_shared else geom.channels * k_tile) * b_plane
    out_bytes = k_tile * model._out_bytes_per_channel(geom, da)
    return OuterProductTiles(
        compute_cycles=sample.tile_cycles(sample.slowest_pe(), scale, halo),
        dense_macs=geom.dense_macs,
        a_load=np.where(first, np.ceil(a_bytes), 0).astype(np.int64),
        a_read=np.full(len(k_tile), math.ceil(a_bytes), dtype=np.int64),
        a_resident=np.full(len(k_tile), math.ceil(a_bytes), dtype=np.int64),
        b_bytes=np.ceil(b_bytes).astype(np.int64),
        b_read=np.ceil(geom.channels * k_tile * b_plane).astype(np.int64),
        b_resident=np.ceil(k_tile * b_plane).astype(np.int64),
        out_bytes=np.ceil(out_bytes).astype(np.int64),
        products_issued=issued, products_valid=valid, pair_scale=scale, halo_cycles=halo,
        sample=sample, mask_source="density" if masks is None else "traced")
