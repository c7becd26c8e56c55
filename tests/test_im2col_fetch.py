"""The im2col fetch rule that sets every convolution's DRAM bytes (README "Memory hierarchy").

A block of a convolution's im2col view is fetched from DRAM as the distinct input elements its
windows name, halos included and padding excluded (accelsim.workload.conv_window). Every
expected figure below comes from outside that closed form: a brute-force numpy enumeration of
the input coordinates each im2col entry names, or a hand count from the convolution's sizes
(fp16: 2 bytes per element), never from the simulator's own lowering.
"""

from __future__ import annotations

import numpy as np
import pytest

from accelsim.sim.engine import Simulation
from accelsim.workload.conv_window import ConvWindow
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
    (B*H*W) x Cin x (Cout*R*S) for a stride-1 same-size conv, bwd_weight Cout x (Cin*R*S) x
    (B*Ho*Wo))."""
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


def run(config, workload: Workload) -> dict:
    return Simulation(config, workload).run().data


# -- the count itself, against a brute-force enumeration ------------------------------------
def im2col_coordinates(w: ConvWindow, images: int, channels: int) -> np.ndarray:
    """The flat input index (image, channel, iy, ix) each entry of the im2col view names, -1
    for a padding position: a (pixels x columns) array built entry by entry from the
    convolution's definition, with no reference to the closed form."""
    pixel = np.arange(images * w.out_h * w.out_w)
    column = np.arange(channels * w.kernel_h * w.kernel_w)
    image, rest = np.divmod(pixel, w.out_h * w.out_w)
    oy, ox = np.divmod(rest, w.out_w)
    channel, rest = np.divmod(column, w.kernel_h * w.kernel_w)
    kr, kc = np.divmod(rest, w.kernel_w)
    iy = oy[:, None] * w.stride[0] + kr[None, :] * w.dilation[0] - w.pad[0]
    ix = ox[:, None] * w.stride[1] + kc[None, :] * w.dilation[1] - w.pad[1]
    inside = (iy >= 0) & (iy < w.in_h) & (ix >= 0) & (ix < w.in_w)
    flat = ((image[:, None] * channels + channel[None, :]) * w.in_h + iy) * w.in_w + ix
    return np.where(inside, flat, -1)


def brute_force_count(coordinates: np.ndarray, rows: slice, cols: slice) -> int:
    """Distinct input elements (padding excluded) named by a block of the view."""
    block = coordinates[rows, cols]
    return len(np.unique(block[block >= 0]))


def random_windows(rng: np.random.Generator, count: int):
    """Random small convolutions: strides 1-3, dilations 1-2, paddings 0-2, non-square."""
    made = 0
    while made < count:
        h, w = (int(v) for v in rng.integers(1, 11, 2))
        r, s = (int(v) for v in rng.integers(1, 5, 2))
        stride = tuple(int(v) for v in rng.integers(1, 4, 2))
        dilation = tuple(int(v) for v in rng.integers(1, 3, 2))
        pad = tuple(int(v) for v in rng.integers(0, 3, 2))
        ho = (h + 2 * pad[0] - dilation[0] * (r - 1) - 1) // stride[0] + 1
        wo = (w + 2 * pad[1] - dilation[1] * (s - 1) - 1) // stride[1] + 1
        if ho < 1 or wo < 1:
            continue
        made += 1
        yield ConvWindow(h, w, ho, wo, r, s, stride=stride, pad=pad, dilation=dilation)


def test_block_counts_match_brute_force_enumeration():
    """For 200 random convolutions (strides, dilations, paddings, 1-3 images and channels) and
    random blocks that cut through images, output rows, channels and kernel rows, the count
    equals the distinct non-padding input indices the block's im2col entries name."""
    rng = np.random.default_rng(20261202)
    for window in random_windows(rng, 200):
        images, channels = (int(v) for v in rng.integers(1, 4, 2))
        coords = im2col_coordinates(window, images, channels)
        rows, cols = coords.shape
        r0, r1 = np.sort(rng.integers(0, rows + 1, (2, 12)), axis=0)
        c0, c1 = np.sort(rng.integers(0, cols + 1, (2, 12)), axis=0)
        keep = (r1 > r0) & (c1 > c0)
        r0, r1, c0, c1 = r0[keep], r1[keep], c0[keep], c1[keep]
        expected = [brute_force_count(coords, slice(a, b), slice(c, d))
                    for a, b, c, d in zip(r0, r1, c0, c1)]
        assert window.unique_inputs(r0, r1, c0, c1).tolist() == expected, window


def test_sum_over_a_blocking_matches_brute_force_enumeration():
    """The sum over every block of a blocking (what the tiler prices) equals the brute-force
    counts of those blocks added up."""
    rng = np.random.default_rng(7)
    for window in random_windows(rng, 60):
        images, channels = (int(v) for v in rng.integers(1, 4, 2))
        coords = im2col_coordinates(window, images, channels)
        rows, cols = coords.shape
        block_rows, block_cols = int(rng.integers(1, rows + 1)), int(rng.integers(1, cols + 1))
        expected = sum(brute_force_count(coords, slice(a, a + block_rows),
                                         slice(c, c + block_cols))
                       for a in range(0, rows, block_rows) for c in range(0, cols, block_cols))
        assert window.total_unique_inputs(rows, cols, block_rows, block_cols) == expected


def test_remembered_counts_and_row_shifted_blocks_match_brute_force():
    """Counts are remembered per convolution and shared between blocks a whole output row
    apart: asking twice, and for blockings whose blocks repeat by output rows, still gives the
    brute-force counts (a wider convolution, 3 images, stride 1 and 2)."""
    for window in (ConvWindow(14, 14, 14, 14, 3, 3, stride=(1, 1), pad=(1, 1)),
                   ConvWindow(15, 15, 7, 7, 3, 3, stride=(2, 2), pad=(0, 0))):
        coords = im2col_coordinates(window, 3, 2)
        rows, cols = coords.shape
        for block_rows in (window.out_w, 2 * window.out_w, 5, 7):
            for block_cols in (9, 18, 4):
                expected = sum(brute_force_count(coords, slice(a, a + block_rows),
                                                 slice(c, c + block_cols))
                               for a in range(0, rows, block_rows)
                               for c in range(0, cols, block_cols))
                for _ in range(2):  # the second call is answered from what was remembered
                    assert window.total_unique_inputs(rows, cols, block_rows,
                                                      block_cols) == expected


# -- hand counts through the simulator ------------------------------------------------------
# B=2, Cin=3, 10x10, Cout=8, 3x3, stride 1, pad 1 -> 10x10 output. x: 2*3*10*10 = 600
# elements (1,200 B); dy and y: 2*8*10*10 = 1,600 (3,200 B); w: 8*3*3*3 = 216 (432 B).
SAME_3X3 = conv(2, 3, 10, 8, 3, 1, 1)
# B=1, Cin=3, 13x13, Cout=8, 3x3, stride 1, pad 2 -> 15x15 output: every input is named.
PAD2_3X3 = conv(1, 3, 13, 8, 3, 1, 2)
# B=1, Cin=4, 8x8, Cout=8, 1x1, stride 2 -> 4x4 output: only the 4x4 even positions of each
# channel are named, 4*16 = 64 of x's 256 elements (128 B); w 32 elements (64 B).
STRIDE2_1X1 = conv(1, 4, 8, 8, 1, 2, 0)


@pytest.mark.parametrize("g, phase, read, written", [
    # fwd: A = im2col(x), 200 x 27 = 5,400 entries naming all of x's 600; B = w. Read x + w.
    (SAME_3X3, "fwd", 1200 + 432, 3200),
    # bwd_data: A = im2col of dy, 200 x 72 = 14,400 entries naming all of dy's 1,600; B = w.
    (SAME_3X3, "bwd_data", 3200 + 432, 1200),
    # bwd_weight: A = dy (8 x 200, the tensor itself); B = im2col(x), 200 x 27 over x's 600.
    (SAME_3X3, "bwd_weight", 3200 + 1200, 432),
    (PAD2_3X3, "fwd", 1014 + 432, 225 * 8 * 2),
    (STRIDE2_1X1, "fwd", 128 + 64, 16 * 8 * 2),
], ids=["same3x3-fwd", "same3x3-bwd_data", "same3x3-bwd_weight", "pad2-fwd", "stride2-1x1"])
def test_unsplit_conv_reads_the_named_inputs_not_the_im2col_view(g, phase, read, written):
    """With buffers that hold every operand (one tile), a convolution reads each input element
    its windows name once (x and w for fwd, dy and w for bwd_data, dy and x for bwd_weight),
    not the im2col view (for SAME_3X3 fwd that would be 200*27*2 + 432 = 11,232 B), and a
    strided 1x1 conv only the positions it samples; it writes its output once."""
    result = run(make_config(), conv_op_workload(g, phase))
    (row,) = result["ops"]
    assert row["tiles"] == 1
    assert result["dram_bytes"]["read"] == row["dram_bytes_read"] == read
    assert result["dram_bytes"]["written"] == row["dram_bytes_written"] == written


def small_ifmap_config(ifmap_bytes: int):
    """8x8 os, ideal DRAM; an ifmap buffer of exactly ``ifmap_bytes`` (single-buffered), the
    filter and ofmap buffers far larger than any operand."""
    def buffer(role: str, capacity: str) -> dict:
        return {"capacity": capacity, "holds": [role], "bandwidth": "4096B/cycle",
                "double_buffered": False}

    return make_config(sram={"ifmap": buffer("ifmap", f"{ifmap_bytes}B"),
                             "filter": buffer("filter", "64MiB"),
                             "ofmap": buffer("ofmap", "64MiB")})


# EVEN: B=1, Cin=3, 10x10, 3x3, stride 1, pad 1 -> 10x10 output: M = 100, K = 27. An ifmap
# buffer of 32 x 27 x 2 bytes holds 32 GEMM rows of the whole K (64 do not fit), so M is split
# into blocks of 32 output pixels (the tiler could split K instead, but that pays every fold's
# fill and drain again). Input positions per channel each block names (rows iy, cols ix):
#   pixels  0-31: oy 0-2 whole (iy 0-3, all ix: 40) + oy 3, ox 0-1 (adds iy 4, ix 0-2: 3) = 43
#   pixels 32-63: oy 3, ox 2-9 (iy 2-4, ix 1-9: 27) + oy 4-5 (iy 3-6 all: adds iy 3-4 ix 0
#                 and iy 5-6: 22) + oy 6, ox 0-3 (adds iy 7, ix 0-4: 5) = 54
#   pixels 64-95: oy 6, ox 4-9 (iy 5-7, ix 3-9: 21) + oy 7-8 (iy 6-9 all: adds iy 6-7 ix 0-2
#                 and iy 8-9: 26) + oy 9, ox 0-5 (iy 8-9: nothing new) = 47
#   pixels 96-99: oy 9, ox 6-9 (iy 8-9, ix 5-9) = 10
# 43 + 54 + 47 + 10 = 154 per channel, x 3 channels = 462 elements = 924 B (halos: x itself is
# 300 elements), + w 8*27 elements = 432 B: 1,356 B. The old per-tensor-share rule read 1,032.
EVEN = conv(1, 3, 10, 8, 3, 1, 1)


def test_blocked_conv_fetches_each_blocks_windows_with_halos():
    """A forward conv whose M dimension is split into blocks of 32 output pixels by a small
    ifmap buffer reads, per block, the input elements its windows name (halo rows shared by
    neighbouring blocks are fetched by each), plus the weights once: 1,356 B by the hand count
    above EVEN; the output is written once."""
    k = 27
    result = run(small_ifmap_config(32 * k * ELEMENT_BYTES), conv_op_workload(EVEN, "fwd"))
    (row,) = result["ops"]
    assert row["tiles"] == 4
    assert result["dram_bytes"]["read"] == row["dram_bytes_read"] == 1356
    assert result["dram_bytes"]["written"] == 100 * 8 * ELEMENT_BYTES


def test_traced_and_zoo_convolutions_expose_the_same_im2col_views():
    """The traced ResNet-18 (CIFAR) folder and the zoo's resnet18_cifar lower to the same
    im2col views (role, GEMM dimensions and window per conv op and phase): the traced
    attributes (strides, paddings and dilations as PyTorch records them) and the zoo's
    geometry describe the same convolutions."""
    from collections import Counter

    from accelsim.workload.conv_window import im2col_views
    from accelsim.workload.loader import load_workload
    from accelsim.workload.training import TrainingOptions
    from tests.conftest import ROOT

    def views(ref: str) -> Counter:
        workload = load_workload(ref, TrainingOptions(batch=32))  # the traced batch
        return Counter((op.phase.value, view) for op in workload.ops()
                       if op.gemm is not None for view in im2col_views(op))

    zoo = views("resnet18_cifar")
    assert sum(zoo.values()) == 20 + 20 + 13  # fwd, bwd_weight, stride-1 bwd_data
    assert views(str(ROOT / "workloads/traced/resnet18_cifar")) == zoo
