"""DRAM row-buffer model against first principles: streams, random rows, bandwidth scaling.

Hand figures use the presets' JEDEC numbers. DDR4-3200AA, one 64-bit channel: 25.6 GB/s,
8 KiB rows, tCK 0.625 ns, tRRD_S 4 tCK = 2.5 ns, tFAW 34 tCK = 21.25 ns, tRC = (52 + 22) tCK
= 46.25 ns over 16 banks; so the activation interval is max(2.5, 21.25/4, 46.25/16) =
5.3125 ns, and refresh leaves 1 - 350/7800 = 0.955128 of the time.
"""

from __future__ import annotations

import simpy
import pytest

from accelsim.hw.dram_timing import PRESETS, visits_per_channel
from accelsim.hw.system import System
from accelsim.sim.engine import Simulation
from accelsim.workload.graph import Workload
from accelsim.workload.op import Op, Phase, Tensor
from tests.conftest import gemm_workload, make_config

DDR4_REFRESH = 1 - 350 / 7800
DDR4_ACT_NS = 21.25 / 4


def ddr4_system(channels: int = 1, **link):
    config = make_config(8, 8, "os", ideal=False, dram={
        "preset": "ddr4_3200", "channels": channels, "latency": "0ns", "interleave": "256B",
        "access_energy_pj_per_64b": 1300},
        interconnect={"bandwidth": "4096B/cycle", "latency": "0cycles", **link})
    env = simpy.Environment()
    return System(config, env), env


def timed_transfer(system, env, nbytes, visits, channels):
    process = env.process(system.transfer({"ifmap": nbytes}, False, visits, channels))
    env.run()
    return process.value


def test_preset_timings_as_published():
    """The DDR4 preset's activation interval and refresh factor are the hand figures."""
    ddr4 = PRESETS["ddr4_3200"]
    assert ddr4.channel_bandwidth == pytest.approx(25.6e9)
    assert ddr4.activation_interval == pytest.approx(DDR4_ACT_NS * 1e-9)
    assert ddr4.refresh_factor == pytest.approx(DDR4_REFRESH)


def test_long_sequential_stream_reaches_peak_times_refresh_efficiency():
    """64 MiB in one sequential stream: each 8 KiB row visit takes 320 ns of data, far above
    the 5.3 ns activation interval, so the stream runs at 25.6 GB/s x 0.955128 (within 2%)."""
    system, env = ddr4_system()
    nbytes = 64 * 2**20
    visits = float(visits_per_channel(nbytes, 1, nbytes, 1, 256, 8192))
    times = timed_transfer(system, env, nbytes, visits, 1)
    achieved = nbytes / (env.now / 1e9)  # the test clock is 1 GHz
    assert visits == nbytes / 8192
    assert achieved == pytest.approx(25.6e9 * DDR4_REFRESH, rel=0.02)
    assert times.row_overhead == pytest.approx(env.now * (1 - DDR4_REFRESH), rel=0.01)


def test_random_rows_are_slower_by_the_activation_bound():
    """65536 bursts of 64 B, each in its own row (1 MiB apart): each visit takes the 5.3125 ns
    activation interval instead of 2.5 ns of data, 2.125x the sequential time."""
    count = 65536
    visits = float(visits_per_channel(64, count, 2**20, 1, 256, 8192))
    assert visits == count
    random_system, random_env = ddr4_system()
    timed_transfer(random_system, random_env, 64 * count, visits, 1)
    stream_system, stream_env = ddr4_system()
    timed_transfer(stream_system, stream_env, 64 * count, 64 * count / 8192, 1)
    assert random_env.now / stream_env.now == pytest.approx(DDR4_ACT_NS / 2.5, rel=0.02)


def test_visits_of_strided_patterns():
    """Segments closer than a row share rows; farther apart each visits its own."""
    # 100 segments of 512 B every 1 KiB: a span of 99 KiB + 512 B -> 13 rows of 8 KiB
    assert float(visits_per_channel(512, 100, 1024, 1, 256, 8192)) == 13
    # 100 segments of 512 B every 64 KiB: 100 rows
    assert float(visits_per_channel(512, 100, 65536, 1, 256, 8192)) == 100
    # 4 channels, 256 B interleave: a 1 MiB stream gives each channel 256 KiB = 32 rows
    assert float(visits_per_channel(2**20, 1, 2**20, 4, 256, 8192)) == 32


def test_hbm2_stream_efficiency():
    """HBM2: 1 KiB rows at 16 GB/s per pseudo-channel take 64 ns per visit, above the
    3.75 ns activation interval (tFAW 15 ns / 4): efficiency is refresh, 1 - 260/3900."""
    assert PRESETS["hbm2"].stream_efficiency(1024) == pytest.approx(1 - 260 / 3900)


def vector_workload(elements: int) -> Workload:
    op = Op("v.fwd", "v", Phase.FWD, "add",
            reads=(Tensor("x", elements, 2), Tensor("y", elements, 2)),
            writes=(Tensor("z", elements, 2),), elements=elements, vector_ops=1.0)
    return Workload("v", [op])


def hbm_config(bandwidth: str, layout: str = "blocked"):
    return make_config(32, 32, "ws", ideal=False, capacity="4MiB", dram={
        "preset": "hbm2", "channels": 16, "bandwidth": bandwidth, "latency": "40ns",
        "layout": layout, "access_energy_pj_per_64b": 250},
        interconnect={"bandwidth": "4096B/cycle", "latency": "2cycles"},
        vector_unit={"lanes": 1024, "buffer": "1MiB"})


def test_compute_bound_gemm_ignores_bandwidth():
    """A 2048^3 GEMM (high arithmetic intensity) barely changes from 200 to 800 GB/s."""
    cycles = [Simulation(hbm_config(bw), gemm_workload(2048, 2048, 2048)).run().total_cycles
              for bw in ("200GB/s", "800GB/s")]
    assert cycles[0] / cycles[1] < 1.03


def test_memory_bound_op_scales_with_bandwidth():
    """An elementwise add (1 op per 6 bytes, 1024 lanes) runs ~4x faster with 4x the
    bandwidth."""
    cycles = [Simulation(hbm_config(bw), vector_workload(2**24)).run().total_cycles
              for bw in ("100GB/s", "400GB/s")]
    assert cycles[0] / cycles[1] == pytest.approx(4.0, rel=0.1)


def test_row_major_layout_costs_row_visits():
    """Narrow blocks of row-major matrices (K = 64 columns: 128 B rows) make many more row
    visits than blocked storage; where a visit's data (128 B = 5 ns at 25.6 GB/s) is shorter
    than the 5.3 ns activation interval the stream slows down, with the same bytes."""
    def ddr4(layout: str):
        return make_config(32, 32, "ws", ideal=False, capacity="16KiB", dram={
            "preset": "ddr4_3200", "channels": 1, "latency": "40ns", "layout": layout,
            "access_energy_pj_per_64b": 1300},
            interconnect={"bandwidth": "4096B/cycle", "latency": "2cycles"})
    workload = gemm_workload(2048, 2048, 64)
    blocked = Simulation(ddr4("blocked"), workload).run()
    strided = Simulation(ddr4("row_major"), workload).run()
    assert strided["dram_bytes"] == blocked["dram_bytes"]
    assert strided["dram"]["row_visits"] > 10 * blocked["dram"]["row_visits"]
    assert strided.total_cycles > blocked.total_cycles


def test_detailed_dram_runs_are_deterministic():
    """The same inputs give the same cycles and DRAM figures twice."""
    first = Simulation(hbm_config("150GB/s"), gemm_workload(1024, 512, 768)).run()
    second = Simulation(hbm_config("150GB/s"), gemm_workload(1024, 512, 768)).run()
    assert first.data == second.data
