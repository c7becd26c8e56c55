"""Tiling: per-tile figures agree with the loop-nest formulas, and capacity is respected."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from accelsim.errors import SimulationError
from accelsim.hw.kinds.systolic.dataflow import DATAFLOWS
from accelsim.hw.kinds.systolic.tiling import OPERAND_DIMS, ArraySpec, Blocking, GemmTiler
from accelsim.workload.conv_window import im2col_views
from accelsim.workload.op import Gemm, Op, Phase, Tensor
from accelsim.workload.training import layer_gemms


def spec(flow: str, capacity: int, bandwidth: float, rows: int = 8, cols: int = 8) -> ArraySpec:
    return ArraySpec(rows, cols, DATAFLOWS.get(flow), element_bytes=2, psum_bytes=4,
                     buffer_of_role={"ifmap": "a", "filter": "b", "ofmap": "c"},
                     usable_bytes={"a": capacity, "b": capacity, "c": capacity},
                     dram_bytes_per_cycle=bandwidth)


@pytest.mark.parametrize("flow", ["os", "ws", "is"])
def test_tiles_agree_with_loop_nest_formulas(flow):
    """For random GEMMs and buffers, summed tiles equal the analytic traffic and cycles."""
    rng = np.random.default_rng(7)
    for _ in range(150):
        s = spec(flow, int(rng.choice([2**12, 2**14, 2**16, 2**20])),
                 float(rng.choice([4.0, 64.0, math.inf])))
        tiler = GemmTiler(s)
        gemm = Gemm(*(int(v) for v in rng.integers(1, [300, 300, 3000])),
                    count=int(rng.choice([1, 3])))
        blocking = tiler.choose(gemm)
        tiles = tiler.tiles(gemm, blocking)
        blocks = {d: np.int64(v) for d, v in blocking.blocks.items()}
        moved = sum(int(v.sum()) for v in tiles.load_bytes.values()) + int(tiles.store_bytes.sum())
        assert int(tiles.macs.sum()) == gemm.macs
        assert moved == int(tiler._traffic(gemm, blocks, blocking.outer)) * gemm.count
        assert int(tiles.compute_cycles.sum()) == int(tiler._compute(gemm, blocks)) * gemm.count
        for role in OPERAND_DIMS:
            assert int(tiles.footprint_bytes[role].max()) <= s.usable_bytes["abc"[
                ("ifmap", "filter", "ofmap").index(role)]]


def test_unsplit_gemm_reads_each_operand_once():
    """With buffers that hold everything, each input is read once and the output written once."""
    tiler = GemmTiler(spec("ws", 2**30, math.inf))
    gemm = Gemm(100, 70, 50)
    tiles = tiler.tiles(gemm)
    assert len(tiles) == 1
    assert int(tiles.load_bytes["ifmap"].sum()) == 100 * 50 * 2
    assert int(tiles.load_bytes["filter"].sum()) == 50 * 70 * 2
    assert int(tiles.store_bytes.sum()) == 100 * 70 * 2


def test_split_reduction_spills_partial_sums():
    """ws with K split in two row blocks and M in two stream blocks: partial sums spill.

    Hand count, M=32, N=8, K=16 on 8x8, blocks m=16, k=8; loop order k, n, m gives tiles
    (k0,m0) (k0,m1) (k1,m0) (k1,m1). Each C block (16x8) is left after k0 as fp32 partials
    (16*8*4 B), read back for k1, and finally written in fp16 (16*8*2 B).
    """
    tiler = GemmTiler(spec("ws", 2**30, math.inf))
    tiles = tiler.tiles(Gemm(32, 8, 16), Blocking({"k": 8, "n": 8, "m": 16}, "k", 1))
    assert tiles.load_bytes["ofmap"].tolist() == [0, 0, 512, 512]
    assert tiles.store_bytes.tolist() == [512, 512, 256, 256]
    assert tiles.load_bytes["filter"].tolist() == [128, 0, 128, 0]
    # one fold per tile, never continuing (the stream block changes the C block):
    # 16 streamed rows + 2*8 + 8 - 2 cycles of fill and drain
    assert tiles.compute_cycles.tolist() == [38, 16, 38, 16]


def test_resident_output_block_is_not_spilled():
    """When M and N fit in one block, C stays on chip across the K blocks: no partials move."""
    tiler = GemmTiler(spec("ws", 2**30, math.inf))
    tiles = tiler.tiles(Gemm(16, 8, 16), Blocking({"k": 8, "n": 8, "m": 16}, "k", 1))
    assert tiles.load_bytes["ofmap"].tolist() == [0, 0]
    assert tiles.store_bytes.tolist() == [0, 16 * 8 * 2]


def test_stream_split_of_single_fold_pays_fill_once():
    """os, one 8x8 fold with K split in 4 blocks: the fill/drain (8+8-2) is paid once."""
    tiler = GemmTiler(spec("os", 2**30, math.inf))
    tiles = tiler.tiles(Gemm(8, 8, 100), Blocking({"m": 8, "n": 8, "k": 25}, "m", 1))
    assert tiles.compute_cycles.tolist() == [25 + 14, 25, 25, 25]


def test_too_small_buffer_is_an_error():
    """A buffer that cannot hold a single fold's blocks is refused with a SimulationError giving
    the sizes. Hand count for os on 8x8, 16 usable bytes per buffer: the smallest fold is
    m=8, n=8, k=1: A 8*1*2 = 16 B, B 1*8*2 = 16 B, C 8*8 fp32 partial sums = 256 B > 16."""
    tiler = GemmTiler(spec("os", 16, math.inf))
    expected = ("a 64x64x64 GEMM cannot be tiled: even one 8x8 fold needs "
                "{'a': 16, 'b': 16, 'c': 256} bytes per buffer, usable "
                "{'a': 16, 'b': 16, 'c': 16}")
    with pytest.raises(SimulationError, match=re.escape(expected)):
        tiler.choose(Gemm(64, 64, 64))


def test_tile_budget_refuses_before_building_arrays():
    """A 4096^3 GEMM on an 8x8 os array with 256 usable bytes per buffer (8 x 16 fp16 blocks of
    A and B, an 8 x 8 fp32 block of C) would be 512 * 512 * 256 = 67,108,864 tiles: refused at
    once, naming the count and the limit."""
    import time

    from accelsim.errors import SimulationError
    from accelsim.sim.engine import Simulation
    from tests.conftest import gemm_workload, make_config

    start = time.process_time()
    with pytest.raises(SimulationError, match=r"needs 67,108,864 tiles .* more than the "
                       r"1,000,000 an op may take"):
        Simulation(make_config(capacity="512B"), gemm_workload(4096, 4096, 4096)).run()
    assert time.process_time() - start < 5


def random_conv_op(rng: np.random.Generator, phase: Phase) -> Op:
    """A random convolution op (stride 1-2, padding 0-1, 1-3 images) of ``phase``, built by
    accelsim.workload.training's lowering of its geometry."""
    while True:
        size, kernel = int(rng.integers(4, 15)), int(rng.choice([1, 3, 5]))
        stride, pad = int(rng.integers(1, 3)), int(rng.integers(0, 2))
        out = (size + 2 * pad - kernel) // stride + 1
        if out >= 1:
            break
    geometry = {"cin": int(rng.integers(1, 9)), "cout": int(rng.integers(1, 40)), "h": size,
                "w": size, "r": kernel, "s": kernel, "stride": stride, "pad": pad, "ho": out,
                "wo": out}
    gemm = layer_gemms("conv", geometry, int(rng.integers(1, 4)))[phase]
    tensor = Tensor("t", 1, 2)
    return Op(f"c.{phase.value}", "c", phase, "conv", (tensor, tensor), (tensor,), gemm=gemm,
              attrs=geometry)


@pytest.mark.parametrize("flow", ["os", "ws", "is"])
def test_tiler_prices_the_bytes_the_tiles_fetch(flow):
    """For random convolutions (forward: im2col(x) as A; backward-weight: im2col(x) as B) and
    buffers, the traffic the tiler's objective prices for its choice equals the bytes its
    tiles fetch and store: both come from one count of each block's distinct inputs."""
    rng = np.random.default_rng(11)
    for trial in range(60):
        phase = (Phase.FWD, Phase.BWD_WEIGHT)[trial % 2]
        op = random_conv_op(rng, phase)
        views = im2col_views(op)
        assert [v.role for v in views] == ["ifmap" if phase is Phase.FWD else "filter"]
        tiler = GemmTiler(spec(flow, int(rng.choice([2**10, 2**12, 2**20])),
                               float(rng.choice([4.0, math.inf]))))
        blocking = tiler.choose(op.gemm, views)
        tiles = tiler.tiles(op.gemm, blocking, views)
        blocks = {d: np.int64(v) for d, v in blocking.blocks.items()}
        moved = sum(int(v.sum()) for v in tiles.load_bytes.values()) + int(tiles.store_bytes.sum())
        assert moved == int(tiler._traffic(op.gemm, blocks, blocking.outer, views))


def test_pruned_choice_equals_the_choice_over_every_candidate(monkeypatch):
    """The tiler takes exact im2col traffic only for candidates whose cheap lower bound leaves
    them in reach of the best; with the bound replaced by zero (every candidate in reach of
    compute alone is priced exactly) it chooses the same blocking."""
    rng = np.random.default_rng(5)
    ops = [random_conv_op(rng, (Phase.FWD, Phase.BWD_WEIGHT)[i % 2]) for i in range(40)]
    specs = [spec("os", int(rng.choice([2**10, 2**12])), float(rng.choice([2.0, 16.0])))
             for _ in ops]
    pruned = [GemmTiler(s).choose(op.gemm, im2col_views(op)) for s, op in zip(specs, ops)]
    exact = GemmTiler._operand_elements

    def zero_bound(self, gemm, b, views=(), bound=False):
        elements = exact(self, gemm, b, views, False)
        if not bound:
            return elements
        return {role: np.zeros_like(np.asarray(v)) for role, v in elements.items()}

    monkeypatch.setattr(GemmTiler, "_operand_elements", zero_bound)
    full = [GemmTiler(s).choose(op.gemm, im2col_views(op)) for s, op in zip(specs, ops)]
    assert pruned == full
