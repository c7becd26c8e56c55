"""Tile replay: double buffering overlaps loads with compute, exactly as hand-derived."""

from __future__ import annotations

import numpy as np
import simpy

from accelsim.hw.system import System
from accelsim.sim.engine import Simulation
from accelsim.plan import TilePlan
from accelsim.sim.pipeline import run_tiles
from tests.conftest import gemm_workload, make_config


def stream_plan(slots: int) -> TilePlan:
    """8 tiles of an 8x8 fold with K in blocks of 32: each loads 8*32*2 + 32*8*2 = 1024 B and
    computes 32 cycles (the first also the 8+8-2 = 14 of fill and drain); the 8x8 fp16 result
    (128 B) is stored after the last."""
    n = 8
    compute = np.array([46] + [32] * 7)
    stores = np.zeros(n, dtype=np.int64)
    stores[-1] = 128
    ones = np.ones(n)
    return TilePlan.build("pe_array", compute_cycles=compute, macs=np.full(n, 8 * 8 * 32),
                          loads={"ifmap": np.full(n, 1024)}, stores={"ofmap": stores},
                          access={}, folds=np.ones(n, dtype=np.int64), load_visits=ones,
                          store_visits=ones, load_channels=ones, store_channels=ones,
                          slots=slots)


def replay(plan: TilePlan, latency: str = "0ns"):
    config = make_config(8, 8, "os", ideal=False, dram_bandwidth="16B/cycle",
                         dram={"ideal": False, "bandwidth": "16B/cycle", "latency": latency,
                               "access_energy_pj_per_64b": 1300})
    env = simpy.Environment()
    system = System(config, env)
    process = env.process(run_tiles(system, plan))
    env.run()
    return env.now, process.value


def test_double_buffered_stream_is_load_bound():
    """Loads (1024 B = 64 cycles at 16 B/cycle) run back to back while tiles compute, so the
    last compute starts at 8*64 = 512 and ends at 544; the result drains in 128/16 = 8:
    552 cycles, of which 46 + 7*32 = 270 compute and 282 DRAM stall."""
    end, times = replay(stream_plan(slots=2))
    assert end == 552
    assert times.compute_cycles == 270
    assert times.stalls["dram_bandwidth"] == 282
    assert times.stalls["dram_latency"] == times.stalls["interconnect"] == 0


def test_single_buffered_serialises_load_and_compute():
    """With one slot each load waits for the previous compute: 8*64 + 270 + 8 = 790 cycles."""
    end, _ = replay(stream_plan(slots=1))
    assert end == 790


def test_latency_beyond_compute_is_exposed():
    """100 cycles of latency: data lands 100 cycles after its bus transfer, and two slots
    cannot hide it. Hand trace (bus transfer, landing, compute): tile 0 [0,64] 164
    [164,210]; tile 1 [64,128] 228 [228,260]; tile 2 waits for slot 0 until 210: [210,274]
    374 [374,406]; tile 3 [274,338] 438 [438,470]; tile 4 [406,470] 570 [570,602]; tile 5
    [470,534] 634 [634,666]; tile 6 [602,666] 766 [766,798]; tile 7 [666,730] 830 [830,862];
    the store [862,870] lands at 970."""
    end, _ = replay(stream_plan(slots=2), latency="100ns")
    assert end == 970


def test_chosen_tiling_replays_without_overflow():
    """Through the whole engine the same GEMM fits its 1 KiB buffers and counts every byte."""
    config = make_config(8, 8, "os", ideal=False, capacity="1KiB", dram_bandwidth="16B/cycle")
    result = Simulation(config, gemm_workload(8, 8, 256)).run()
    assert result["dram_bytes"]["read"] == 8 * 256 * 2 * 2
    assert result["dram_bytes"]["written"] == 8 * 8 * 2
    assert max(s["peak_tile_bytes"] for s in result["sram"].values()) <= 512


def test_ideal_dram_has_no_dram_stall_and_counts_bytes():
    """With ideal DRAM the op takes exactly its compute cycles, and every byte is counted."""
    config = make_config(8, 8, "os", ideal=True)
    result = Simulation(config, gemm_workload(8, 8, 256)).run()
    (op,) = result["ops"]
    assert result.total_cycles == 256 + 14
    assert op["stalls"]["dram_bandwidth"] == op["stalls"]["dram_latency"] == 0
    assert result["dram_bytes"]["read"] == 8 * 256 * 2 * 2
    assert result["dram_bytes"]["written"] == 8 * 8 * 2
