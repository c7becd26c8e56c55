"""The im2col fetch rule that sets every convolution's DRAM bytes (README "Memory hierarchy").

An operand that is an im2col view of a convolution's input is fetched from DRAM once per
element of the input tensor per block, not once per window: a fetched block of the view costs
``block elements / reuse`` elements, rounded up per block, with ``reuse = view elements /
tensor elements`` (halo overlap between neighbouring blocks is not counted). Every expected
figure below is derived by hand from that rule and the convolution's sizes (fp16: 2 bytes
per element), never from the simulator's own lowering.
"""

from __future__ import annotations

import math
from fractions import Fraction

import pytest

from accelsim.sim.engine import Simulation
from accelsim.workload.graph import Workload
from accelsim.workload.op import Gemm, Op, Phase, Tensor
from tests.conftest import make_config

ELEMENT_BYTES = 2


def conv(batch: int, cin: int, size: int, cout: int, kernel: int, stride: int, pad: int
         ) -> dict:
    """A square convolution's geometry (the keys of accelsim.workload.network's conv)."""
    out = (size + 2 * pad - kernel) // stride + 1
    return {"batch": batch, "cin": cin, "cout": cout, "h": size, "w": size, "r": kernel,
            "s": kernel, "stride": stride, "pad": pad, "ho": out, "wo": out}


def conv_op_workload(g: dict, phase: str) -> Workload:
    """One op of the convolution ``g`` as a whole workload, built as
    accelsim.workload.training builds it: the tensors it reads (A operand's tensor first) and
    writes, and its GEMM from the README's table (fwd (B*Ho*Wo) x Cout x (Cin*R*S), bwd_data
    (B*H*W) x Cin x (Cout*R*S), bwd_weight Cout x (Cin*R*S) x (B*Ho*Wo))."""
    b, window = g["batch"], g["r"] * g["s"]
    x = Tensor("x", b * g["cin"] * g["h"] * g["w"], ELEMENT_BYTES)
    y = Tensor("y", b * g["cout"] * g["ho"] * g["wo"], ELEMENT_BYTES)
    dy = Tensor("grad(y)", y.elements, ELEMENT_BYTES)
    w = Tensor("conv/weight", g["cout"] * g["cin"] * window, ELEMENT_BYTES)
    out_rows, in_rows = b * g["ho"] * g["wo"], b * g["h"] * g["w"]
    reads, writes, gemm = {
        "fwd": ((x, w), (y,), Gemm(out_rows, g["cout"], g["cin"] * window)),
        "bwd_data": ((dy, w), (Tensor("grad(x)", x.elements, ELEMENT_BYTES),),
                     Gemm(in_rows, g["cin"], g["cout"] * window)),
        "bwd_weight": ((dy, x), (Tensor("conv/weight.grad", w.elements, ELEMENT_BYTES),),
                       Gemm(g["cout"], g["cin"] * window, out_rows)),
    }[phase]
    attrs = {key: value for key, value in g.items() if key != "batch"}
    op = Op(f"conv.{phase}", "conv", Phase(phase), "conv", reads, writes, gemm=gemm,
            attrs=attrs)
    return Workload("conv", [op])


def small_ifmap_config(ifmap_bytes: int):
    """8x8 os, ideal DRAM; an ifmap buffer of exactly ``ifmap_bytes`` (single-buffered), the
    filter and ofmap buffers far larger than any operand."""
    def buffer(role: str, capacity: str) -> dict:
        return {"capacity": capacity, "holds": [role], "bandwidth": "4096B/cycle",
                "double_buffered": False}

    return make_config(sram={"ifmap": buffer("ifmap", f"{ifmap_bytes}B"),
                             "filter": buffer("filter", "64MiB"),
                             "ofmap": buffer("ofmap", "64MiB")})


def run(config, workload: Workload) -> dict:
    return Simulation(config, workload).run().data


# B=2, Cin=3, 10x10, Cout=8, 3x3, stride 1, pad 1 -> 10x10 output. x: 2*3*10*10 = 600
# elements (1,200 B); dy and y: 2*8*10*10 = 1,600 (3,200 B); w: 8*3*3*3 = 216 (432 B).
SAME_3X3 = conv(2, 3, 10, 8, 3, 1, 1)

# B=1, Cin=3, 13x13, Cout=8, 3x3, stride 1, pad 2 -> 15x15 output: GEMM 225 x 8 x 27, an
# im2col view of 6,075 elements over x's 507 (reuse 6075/507, not an exact binary fraction).
PAD2_3X3 = conv(1, 3, 13, 8, 3, 1, 2)

@pytest.mark.parametrize("g, phase, read, written", [
    # fwd: A = im2col(x), 200 x 27 = 5,400 elements over x's 600; B = w. Read x + w.
    (SAME_3X3, "fwd", 1200 + 432, 3200),
    # bwd_data: A = im2col of dy, 200 x 72 = 14,400 elements over dy's 1,600; B = w.
    (SAME_3X3, "bwd_data", 3200 + 432, 1200),
    # bwd_weight: A = dy (8 x 200, the tensor itself); B = im2col(x), 200 x 27 over x's 600.
    (SAME_3X3, "bwd_weight", 3200 + 1200, 432),
    # reuse 6075/507 is no exact binary fraction: x is still exactly its 507 elements
    (PAD2_3X3, "fwd", 1014 + 432, 225 * 8 * 2),
], ids=["same3x3-fwd", "same3x3-bwd_data", "same3x3-bwd_weight", "pad2-fwd"])
def test_unsplit_conv_reads_the_tensors_not_the_im2col_view(g, phase, read, written):
    """With buffers that hold every operand (one tile), a convolution reads the bytes of the
    tensors behind its operands (x and w for fwd, dy and w for bwd_data, dy and x for
    bwd_weight), each once, not the im2col view (for SAME_3X3 fwd that would be
    200*27*2 + 432 = 11,232 B), and writes its output once."""
    result = run(make_config(), conv_op_workload(g, phase))
    (row,) = result["ops"]
    assert row["tiles"] == 1
    assert result["dram_bytes"]["read"] == row["dram_bytes_read"] == read
    assert result["dram_bytes"]["written"] == row["dram_bytes_written"] == written


def documented_ifmap_bytes(g: dict, block_rows: int) -> int:
    """Bytes of a forward conv's im2col ifmap fetched in blocks of ``block_rows`` GEMM rows
    (whole K), by the documented rule: each block's elements / reuse, rounded up to whole
    elements per block, reuse = (M*K) / (x elements), in exact rational arithmetic."""
    m = g["batch"] * g["ho"] * g["wo"]
    k = g["cin"] * g["r"] * g["s"]
    reuse = Fraction(m * k, g["batch"] * g["cin"] * g["h"] * g["w"])
    blocks = [block_rows] * (m // block_rows) + ([m % block_rows] if m % block_rows else [])
    return sum(math.ceil(rows * k / reuse) for rows in blocks) * ELEMENT_BYTES


# The blocked cases: an ifmap buffer of exactly 32 x K x 2 bytes holds 32 GEMM rows of the
# whole K (64 rows do not fit), so M is split into blocks of 32 rows (a multiple of the 8-row
# array; splitting K instead would pay the fill/drain of every fold again, and among blockings
# of equal time the tiler takes the fewest tiles). N = Cout = 8 and K are single blocks, so
# the filter is fetched once and each output block written once.
#
# EVEN: B=1, Cin=3, 10x10, pad 1: M = 100 (blocks 32, 32, 32, 4), K = 27, x = 300 elements,
#   reuse = 2700/300 = 9: blocks fetch 96, 96, 96, 12 elements = 300 (x once, no halo):
#   600 B + w 432 B = 1,032 B (the im2col view would be 5,400 B + 432 B).
EVEN = conv(1, 3, 10, 8, 3, 1, 1)
# ROUNDED: B=2, Cin=1, 11x11, pad 0: M = 2*9*9 = 162 (five blocks of 32 and one of 2), K = 9,
#   x = 242 elements, reuse = 1458/242: a block of 32 rows is 288 elements / reuse = 47.80 ->
#   48, the last 18 / reuse = 2.99 -> 3: 5*48 + 3 = 243 elements = 486 B (one element more
#   than x from rounding up per block) + w 72 elements = 144 B: 630 B.
ROUNDED = conv(2, 1, 11, 8, 3, 1, 0)


@pytest.mark.parametrize("g, tiles, read", [(EVEN, 4, 1032), (ROUNDED, 6, 630)],
                         ids=["even", "rounded"])
def test_blocked_conv_fetches_each_block_once_per_tensor_element(g, tiles, read):
    """A forward conv whose M dimension is split into blocks of 32 rows by a small ifmap
    buffer reads, per block, the block's im2col elements / reuse rounded up to whole
    elements, plus the weights once (hand figures in the comments above EVEN and ROUNDED,
    cross-checked with documented_ifmap_bytes); the output is written once."""
    k = g["cin"] * g["r"] * g["s"]
    w_bytes = g["cout"] * k * ELEMENT_BYTES
    assert documented_ifmap_bytes(g, 32) + w_bytes == read
    result = run(small_ifmap_config(32 * k * ELEMENT_BYTES), conv_op_workload(g, "fwd"))
    (row,) = result["ops"]
    assert row["tiles"] == tiles
    assert result["dram_bytes"]["read"] == row["dram_bytes_read"] == read
    m = g["batch"] * g["ho"] * g["wo"]
    assert result["dram_bytes"]["written"] == m * g["cout"] * ELEMENT_BYTES


# FRACTIONAL: B=1, Cin=3, 12x12, pad 0: M = 100 (blocks 32, 32, 32, 4), K = 27, x = 432
#   elements, reuse = 2700/432 = 6.25: a 32-row block is 864 / 6.25 = 138.24 -> 139 elements,
#   the 4-row block 108 / 6.25 = 17.28 -> 18: 3*139 + 18 = 435 elements = 870 B, + w 432 B =
#   1,302 B.
FRACTIONAL = conv(1, 3, 12, 8, 3, 1, 0)


def test_blocked_conv_rounds_up_to_whole_elements():
    """Each block's fetch is rounded up to whole elements (a DRAM fetch of fp16 data is an
    even number of bytes): FRACTIONAL reads 1,302 B (hand count in the comment above)."""
    k = FRACTIONAL["cin"] * 9
    assert documented_ifmap_bytes(FRACTIONAL, 32) + 8 * k * ELEMENT_BYTES == 1302
    result = run(small_ifmap_config(32 * k * ELEMENT_BYTES), conv_op_workload(FRACTIONAL, "fwd"))
    (row,) = result["ops"]
    assert row["tiles"] == 4
    assert result["dram_bytes"]["read"] == 1302
