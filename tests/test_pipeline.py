"""Tile replay: double buffering overlaps loads with compute, exactly as hand-derived."""

from __future__ import annotations

from accelsim.sim.engine import Simulation
from accelsim.workload.graph import Workload
from accelsim.workload.op import Gemm, Op, Phase, Tensor
from tests.conftest import make_config


def one_gemm(m: int, n: int, k: int) -> Workload:
    op = Op("g.fwd", "g", Phase.FWD, "linear",
            reads=(Tensor("a", m * k, 2), Tensor("b", k * n, 2)),
            writes=(Tensor("c", m * n, 2),), gemm=Gemm(m, n, k))
    return Workload("g", [op])


def run(capacity: str, double_buffered: bool):
    config = make_config(8, 8, "os", ideal=False, capacity=capacity,
                         dram_bandwidth="16B/cycle", double_buffered=double_buffered)
    return Simulation(config, one_gemm(8, 8, 256)).run()


def test_double_buffered_stream_is_load_bound():
    """8x8x256 GEMM, one 8x8 fold, K in 8 blocks of 32 (512 usable bytes hold 8x32 fp16).

    Each tile loads 8*32*2 + 32*8*2 = 1024 B = 64 cycles at 16 B/cycle and computes 32
    cycles (the first adds 8+8-2 = 14 of fill/drain). Loads run back to back, so the last
    compute starts at 8*64 = 512 and ends at 544; the 8x8 fp16 result (128 B) drains in 8:
    552 cycles, of which 8*32 + 14 = 270 compute and 282 DRAM stall.
    """
    result = run("1KiB", double_buffered=True)
    (op,) = result["ops"]
    assert result.total_cycles == 552
    assert op["compute_cycles"] == 270
    assert op["stalls"]["dram"] == 282
    assert op["tiles"] == 8


def test_single_buffered_serialises_load_and_compute():
    """Same GEMM with one 512-byte buffer each: load, then compute, tile after tile.

    8 * (64 + 32) + 14 + 8 = 790 cycles.
    """
    result = run("512B", double_buffered=False)
    assert result.total_cycles == 790


def test_ideal_dram_has_no_dram_stall_and_counts_bytes():
    """With ideal DRAM the op takes exactly its compute cycles, and every byte is counted."""
    config = make_config(8, 8, "os", ideal=True)
    result = Simulation(config, one_gemm(8, 8, 256)).run()
    (op,) = result["ops"]
    assert result.total_cycles == 256 + 14
    assert op["stalls"]["dram"] == 0
    assert result["dram_bytes"]["read"] == 8 * 256 * 2 * 2
    assert result["dram_bytes"]["written"] == 8 * 8 * 2
