"""The ``tensor_core`` kind: GEMM cycles against hand counts of MMAs, waves and partial tiles,
split-K traffic, bad hwconfig keys, and ResNet-50 training on tensor_core_like.yaml."""

from __future__ import annotations

import pytest
import simpy

from accelsim.api import simulate
from accelsim.config.loader import load_hwconfig, validate_hwconfig
from accelsim.context import RunContext
from accelsim.errors import ConfigError, SimulationError
from accelsim.hw.system import System
from accelsim.sim.engine import Simulation
from accelsim.sim.lowering import lower
from tests.conftest import HWCONFIGS, gemm_workload

V100 = HWCONFIGS / "tensor_core_like.yaml"


def small_config(**pe) -> object:
    """4 cores of 2 MMA units (4x4x4), CTA tiles of 16 x 16 x 8, ideal DRAM, large buffers:
    the figures stay small enough to count by hand."""
    pe_array = {"kind": "tensor_core", "cores": 4, "mma_units": 2, "tile_m": 16,
                "tile_n": 16, "tile_k": 8, "shared_memory": "1KiB", **pe}
    return validate_hwconfig({
        "name": "tc_small", "clock": "1GHz", "pe_array": pe_array,
        "sram": {"l2": {"capacity": "64MiB", "holds": ["ifmap", "filter"],
                        "bandwidth": "4096B/cycle"},
                 "registers": {"capacity": "64MiB", "holds": ["ofmap"],
                               "bandwidth": "4096B/cycle"}},
        "dram": {"ideal": True, "bandwidth": "16B/cycle", "latency": "0ns",
                 "access_energy_pj_per_64b": 1300},
        "interconnect": {"bandwidth": "1024B/cycle", "latency": "0cycles"},
        "vector_unit": {"lanes": 16, "buffer": "64KiB"},
        "residency": {"policy": "none"}}, "<test>")


def plan_of(config, m: int, n: int, k: int):
    workload = gemm_workload(m, n, k)
    system = System(config, simpy.Environment())
    return lower(workload.ops()[0], RunContext(system, workload))


def run(config, m: int, n: int, k: int) -> dict:
    return Simulation(config, gemm_workload(m, n, k), []).run().data


@pytest.mark.parametrize("m, n, k, cycles", [(1024, 1280, 4096, 131_072),
                                              (2048, 2560, 512, 65_536)])
def test_gemm_filling_every_mma_unit_runs_at_peak(m, n, k, cycles):
    """On tensor_core_like.yaml with ideal DRAM, a GEMM whose 128 x 128 CTA tiles fill whole
    waves of the 80 SMs and whose K is a multiple of 4 takes MMA count / (80 x 8) cycles:
    1024 x 1280 x 4096 has 8 x 10 = 80 CTA tiles (one wave) and (1024/4)(1280/4)(4096/4) =
    83,886,080 MMAs, 131,072 cycles; 2048 x 2560 x 512 has 16 x 20 = 320 tiles (4 waves) and
    512 x 640 x 128 = 41,943,040 MMAs, 65,536 cycles. PE utilisation MACs / (cycles x 40,960)
    is then exactly 1.0 (5,368,709,120 / (131,072 x 40,960))."""
    config = load_hwconfig(V100, ["dram.ideal=true"])
    data = run(config, m, n, k)
    assert data["total_cycles"] == cycles
    assert data["pe_array"]["mma_ops"] == (m // 4) * (n // 4) * (k // 4)
    assert data["pe_array"]["pes"] == 40_960
    assert data["macs"] / (data["total_cycles"] * 40_960) == 1.0
    assert data["utilization"]["pe_array"] == pytest.approx(1.0)


def test_ragged_gemm_counts_waves_and_partial_tiles():
    """40 x 20 x 30 on 4 cores of 2 units (peak 4 x 2 x 64 = 512 MACs per cycle), 16 x 16
    CTA tiles: 3 x 2 = 6 tiles (rows 16, 16, 8; columns 16, 4) in 2 waves. N fastest, the
    waves read (32 + 20) and (8 + 20) rows and columns over K, 80 in all, against
    (40 + 20) and (24 + 4), 88, M fastest: so N fastest. Wave 1 holds two 16 x 16 tiles
    (4 x 4 x ceil(30/4) = 128 MMAs over 2 units, 64 cycles) and two 16 x 4 (32 MMAs, 16
    cycles): its slowest core takes 64; wave 2 holds 8 x 16 (2 x 4 x 8 =
    64 MMAs, 32 cycles) and 8 x 4 (16 MMAs, 8 cycles): its slowest core takes 32. Total 96
    cycles; utilisation 24,000 MACs / (96 x 512) = 0.488."""
    config = small_config()
    plan = plan_of(config, 40, 20, 30)
    waves = plan["compute_cycles"].reshape(2, -1).sum(axis=1)
    assert waves.tolist() == [64, 32]
    data = run(config, 40, 20, 30)
    assert data["total_cycles"] == 96
    # MMAs issued, partial ones padded: wave 1 2 x 128 + 2 x 32, wave 2 64 + 16
    assert data["pe_array"]["mma_ops"] == 2 * 128 + 2 * 32 + 64 + 16
    assert data["macs"] == 24_000
    assert data["macs"] / (data["total_cycles"] * 512) == pytest.approx(0.48828125)
    # A: rows 0-32 then 32-40, all 30 of K; B: all 20 columns twice (2 bytes each)
    assert int(plan["fetch:ifmap"].sum()) == 40 * 30 * 2
    assert int(plan["fetch:filter"].sum()) == 2 * 20 * 30 * 2


def test_small_grid_splits_k_and_reads_back_partial_sums():
    """16 x 16 x 256: one CTA tile for 4 cores, so K is split in 4 slices of 64 (split-K):
    each slice 4 x 4 x 16 = 256 MMAs over 2 units = 128 cycles, all in one wave, 128 cycles
    in all, at peak (65,536 MACs / (128 x 512)). Slices 1-3 read the partial
    sums of the one before (16 x 16 x 4 B = 1,024 B each: 3,072 B), slices 0-2 write theirs
    (3,072 B) and slice 3 the fp16 result (512 B)."""
    config = small_config()
    data = run(config, 16, 16, 256)
    assert data["total_cycles"] == 128
    assert data["macs"] / (128 * 512) == 1.0
    plan = plan_of(config, 16, 16, 256)
    assert int(plan["fetch:ofmap"].sum()) == 3 * 1024
    assert int(plan["drain:ofmap"].sum()) == 3 * 1024 + 512
    assert int(plan["fetch:ifmap"].sum()) == 16 * 256 * 2
    assert int(plan["fetch:filter"].sum()) == 256 * 16 * 2
    assert int(plan["outputs"].sum()) == 16 * 16


def test_plan_reports_roles_footprint_and_outputs():
    """Residency and fusion need the role columns, the footprint and the finished outputs:
    the one-wave GEMM 1024 x 1280 x 4096 holds at most one K chunk of its 1,024 A rows and
    1,280 B columns in the L2 (chunks of 320: the 1.5 MiB usable per slot / 4,608 B per K,
    rounded down to 32) and 80 accumulator tiles of 128 x 128 x 4 B in the registers, each
    doubled for the two slots; its outputs all leave after the last chunk."""
    config = load_hwconfig(V100, ["dram.ideal=true"])
    plan = plan_of(config, 1024, 1280, 4096)
    assert plan.footprint == {"l2": 2 * 320 * (1024 + 1280) * 2,
                              "registers": 2 * 80 * 128 * 128 * 4}
    assert len(plan) == 13  # 12 chunks of 320 and one of 256
    assert int(plan["outputs"][-1]) == 1024 * 1280 and int(plan["outputs"][:-1].sum()) == 0
    assert int(plan["fetch:ifmap"].sum()) == 1024 * 4096 * 2
    assert int(plan["fetch:filter"].sum()) == 4096 * 1280 * 2
    assert int(plan["drain:ofmap"].sum()) == 1024 * 1280 * 2


@pytest.mark.parametrize("override, message", [
    ("pe_array.mma_unit=8", "pe_array.mma_unit: expected a known key"),
    ("pe_array.tile_m=130", "pe_array.tile_m: expected a multiple of mma_m (4), got 130"),
    ("pe_array.shared_memory=16KiB", "pe_array.shared_memory: expected room for a CTA's 2 "
                                     "stages"),
    ("pe_array.cores=0", "pe_array.cores: expected a value that is greater than 0"),
    ("pe_array.mma_units=65", "pe_array.mma_units: expected a value that is less than or "
                              "equal to 64"),
])
def test_bad_keys_give_clear_errors(override, message):
    """A misspelt key, a tile that is not a multiple of the MMA shape, shared memory too
    small for a CTA's stages and out-of-range counts are each one ConfigError naming the
    key."""
    with pytest.raises(ConfigError) as error:
        load_hwconfig(V100, [override])
    assert message in str(error.value)


def test_absurd_gemm_is_refused_before_its_tiles_are_built():
    """16,016 x 16,016 on 16 x 16 CTA tiles is 1,001 x 1,001 = 1,002,001 CTAs, over the
    million an op may take: one SimulationError naming the count, no arrays built."""
    with pytest.raises(SimulationError, match="1,002,001 CTA tiles of 16x16"):
        plan_of(small_config(), 16_016, 16_016, 8)


def test_runs_are_deterministic():
    """The same GEMM twice gives the same cycles, bytes and energy."""
    config = load_hwconfig(V100)
    first, second = run(config, 3000, 700, 900), run(config, 3000, 700, 900)
    for key in ("total_cycles", "dram_bytes", "energy_pj"):
        assert first[key] == second[key]


def test_resnet50_training_on_v100_like_config():
    """ResNet-50, batch 32, one training iteration on tensor_core_like.yaml. Lower bounds by
    hand: 4.09 GMACs per image forward, as many for the weight gradients and slightly fewer
    for the input gradients (none for conv1's input), about 3 x 4.09 x 32 = 392 GMACs, at
    40,960 MACs per cycle at least 9.4 M cycles; the
    run also moves every byte through 900 GB/s HBM2 (588 B per cycle). NVIDIA's
    DeepLearningExamples (PyTorch ResNet-50 v1.5, DGX-1 V100 16 GB, 1 GPU, mixed precision)
    publish 1,200 img/s; the simulated throughput is checked to be within a factor of 2."""
    data = simulate({"hwconfig": str(V100), "workload": "resnet50", "batch": 32}).data
    cycles = data["total_cycles"]
    assert cycles >= data["macs"] / 40_960 >= 9.4e6
    assert cycles >= data["dram_bytes"]["total"] / (900e9 / 1.53e9)
    assert 0 < data["utilization"]["pe_array"] < 1
    images_per_second = 32 / data["seconds"]
    assert 600 <= images_per_second <= 2400


def test_convolution_fetches_distinct_inputs_once():
    """A 3x3, stride-1, pad-1 convolution of a 16-channel 8x8 image into 16 channels: the
    forward GEMM is 64 x 16 x 144, four 16 x 16 CTA tiles, one wave on 4 cores, K in one
    chunk (tile_k 144). Its A operand is the im2col view of x: the wave fetches each of x's
    16 x 8 x 8 = 1,024 inputs once (2,048 B), not the 64 x 144 im2col entries (18,432 B);
    its B operand, the 16 x 144 weights, 4,608 B."""
    from tests.test_im2col_fetch import conv, conv_op_workload

    config = small_config(tile_k=144, shared_memory="32KiB")
    workload = conv_op_workload(conv(1, 16, 8, 16, 3, 1, 1), "fwd")
    system = System(config, simpy.Environment())
    plan = lower(workload.ops()[0], RunContext(system, workload))
    assert len(plan) == 1
    assert int(plan["fetch:ifmap"].sum()) == 1024 * 2
    assert int(plan["fetch:filter"].sum()) == 16 * 144 * 2


def test_one_buffer_may_hold_operands_and_accumulators():
    """With a single buffer for every role, the operand chunks are sized beside the wave's
    accumulators: 1024 x 1280 x 4096 on 80 cores in a 24 MiB buffer (6 MiB usable per slot
    with residency's half share) leaves 6 MiB - 80 x 128 x 128 x 4 B = 1 MiB for 4,608 B per
    K: chunks of 224, 19 tiles (18 of 224, one of 64); the cycles stay 131,072."""
    data = load_hwconfig(V100, ["dram.ideal=true"]).model_dump(mode="json")
    data["sram"] = {"onchip": {"capacity": "24MiB", "holds": ["ifmap", "filter", "ofmap"],
                               "bandwidth": "4096B/cycle"}}
    config = validate_hwconfig(data, "<test>")
    plan = plan_of(config, 1024, 1280, 4096)
    assert len(plan) == 19
    assert int(plan["compute_cycles"].sum()) == 131_072
