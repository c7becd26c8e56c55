"""Whole runs: invariants, determinism, phases, techniques and deadlock reports."""

from __future__ import annotations

import json

import pytest

from accelsim.config.loader import load_hwconfig
from accelsim.errors import SimulationError, WorkloadError
from accelsim.hw.kinds import PE_ARRAY_KINDS
from accelsim.sim.engine import Simulation
from accelsim.sim.fusion import fuse_elementwise
from accelsim.stats.records import STALL_CAUSES
from accelsim.context import RunContext
from accelsim.hw.system import System
from accelsim.sim.driver import Driver
from accelsim.techniques.base import TECHNIQUES, Technique
from accelsim.techniques.chain import TechniqueChain, TechniqueSpec
from accelsim.workload.loader import load_workload
from accelsim.workload.network import NetworkBuilder
from accelsim.workload.training import TrainingOptions, training_iteration
from tests.conftest import HWCONFIGS, gemm_workload, make_config

# ResNet-18 for CIFAR (3x3 stem, no max pool; He et al. 2016 as in kuangliu/pytorch-cifar),
# forward MACs of one 32x32 sample, counted by hand layer by layer (Cout*Ho*Wo*Cin*R*S):
#   conv1 3->64, 32x32:                         64*32*32*3*9     =   1,769,472
#   layer1, 4 convs 64->64, 32x32:          4 * 64*32*32*64*9    = 150,994,944
#   layerN (N = 2, 3, 4; same count each): first conv stride 2, 3 more 3x3 convs, a 1x1
#   stride-2 downsample, e.g. layer2 128x16x16:
#       128*16*16*64*9 + 3 * 128*16*16*128*9 + 128*16*16*64 = 134,217,728   (x 3 layers)
#   fc 512->100 (the zoo's CIFAR-100 head):     512*100          =      51,200
#   total: 1,769,472 + 150,994,944 + 3 * 134,217,728 + 51,200 = 555,468,800 (the 0.56 GMACs
#   usually quoted for this network).
RESNET18_CIFAR_FWD_MACS = 555_468_800
# Of these, the stride-2 convolutions (first conv and downsample of layers 2, 3 and 4), each
# 128*16*16*64*9 + 128*16*16*64 = 20,971,520 MACs: the same in every stage, as channels
# double while the map halves. Their input gradients are lowered as col2im GEMMs with the
# forward's MACs, whose col2im ops add B*Ho*Wo*Cin*R*S partial products into dX, per sample
#   layer2 16*16*64*9 + 16*16*64 = 163,840; layer3 8*8*128*9 + 8*8*128 = 81,920;
#   layer4 4*4*256*9 + 4*4*256 = 40,960; in all 286,720.
RESNET18_CIFAR_STRIDE2_MACS = 3 * 20_971_520
RESNET18_CIFAR_COL2IM_PRODUCTS = 163_840 + 81_920 + 40_960
RESNET18_CIFAR_STEM_MACS = 1_769_472


def resnet18_cifar_phase_macs(batch: int) -> dict[str, int]:
    """MACs per phase of a ResNet-18 (CIFAR) training iteration from the README's GEMM table.

    fwd is (B*Ho*Wo) x Cout x (Cin*R*S) and bwd_weight Cout x (Cin*R*S) x (B*Ho*Wo): the same
    product. bwd_data has the forward's MACs for every conv (and the fc): (B*H*W) x Cin x
    (Cout*R*S) with H*W = Ho*Wo for the stride-1 "same" convs, (B*Ho*Wo) x (Cin*R*S) x Cout
    (col2im) for the stride-2 ones, whose zero-inserted transposed convolution would have
    4x the MACs; the stem has no bwd_data (its input is the network input). torch's
    FlopCounterMode counts the same: convolution_backward's input gradient costs as much as
    the forward convolution.
    """
    fwd = batch * RESNET18_CIFAR_FWD_MACS
    bwd_data = batch * (RESNET18_CIFAR_FWD_MACS - RESNET18_CIFAR_STEM_MACS)
    return {"fwd": fwd, "bwd_data": bwd_data, "bwd_weight": fwd, "update": 0}


def tiny_network():
    """conv1 (3->4, 3x3, pad 1) on 3x8x8, relu, conv2 (4->8, 3x3, stride 2, pad 1), fc 128->10."""
    b = NetworkBuilder("tiny", (3, 8, 8))
    x = b.conv("input", 4, 3, stride=1, padding=1, name="conv1")
    x = b.relu(x, name="relu1")
    x = b.conv(x, 8, 3, stride=2, padding=1, name="conv2")
    x = b.linear(x, 10, name="fc")
    b.loss(x)
    return b.build()


# MACs of every GEMM op of the tiny network at batch 2, by hand from the README's GEMM table.
# conv1: B=2, Cin=3, H=W=8, Cout=4, 3x3, stride 1, pad 1 -> Ho=Wo=8
#   fwd (2*8*8) x 4 x (3*9) = 128*4*27; bwd_weight 4 x 27 x 128; no bwd_data (first layer)
# conv2: Cin=4, H=W=8, Cout=8, 3x3, stride 2, pad 1 -> Ho=Wo=(8+2-3)//2+1=4
#   fwd (2*4*4) x 8 x (4*9) = 32*8*36; bwd_data (stride 2: col2im) (2*4*4) x (4*9) x 8
#   = 32*36*8, the forward's MACs (the zero-inserted (2*8*8) x 4 x (8*9) would be 4x), then a
#   col2im op adding its 32*36 = 1,152 partial products into dX (2*4*8*8 = 512 elements);
#   bwd_weight 8 x 36 x 32
# fc: 8*4*4=128 inputs, 10 outputs, 2 rows: 2*10*128 in each of fwd, bwd_data, bwd_weight
TINY_OP_MACS = {
    "conv1.fwd": 128 * 4 * 27, "conv1.bwd_weight": 4 * 27 * 128,
    "conv2.fwd": 32 * 8 * 36, "conv2.bwd_data": 32 * 36 * 8, "conv2.bwd_weight": 8 * 36 * 32,
    "fc.fwd": 2 * 10 * 128, "fc.bwd_data": 2 * 128 * 10, "fc.bwd_weight": 10 * 128 * 2,
}
TINY_PHASE_MACS = {"fwd": 13824 + 9216 + 2560, "bwd_data": 9216 + 2560,
                   "bwd_weight": 13824 + 9216 + 2560, "update": 0}


@pytest.fixture(scope="module")
def edge():
    return load_hwconfig(HWCONFIGS / "edge_16x16.yaml")


@pytest.fixture(scope="module")
def resnet18_cifar_result(edge):
    workload = load_workload("resnet18_cifar", TrainingOptions(batch=4, element_bytes=2))
    return workload, Simulation(edge, workload).run()


def test_resnet18_cifar_macs_per_phase_match_hand_count(resnet18_cifar_result):
    """The MACs of each phase of a ResNet-18 (CIFAR, batch 4) iteration equal the hand count
    (module constants: layer-by-layer forward MACs, 555,468,800 per sample, and the README's
    GEMM table for the backward phases); every MAC is issued on a dense array; the six
    stride-2 convs' col2im ops do the hand-counted adds on the vector unit and no MACs."""
    _, result = resnet18_cifar_result
    expected = resnet18_cifar_phase_macs(4)
    assert {phase: result["phase_stats"][phase]["macs"] for phase in expected} == expected
    assert expected["fwd"] == 2_221_875_200 and expected["bwd_data"] == 2_214_797_312
    assert result["macs"] == result["macs_issued"] == 2 * 2_221_875_200 + 2_214_797_312
    col2im = [r for r in result["ops"] if r["kind"] == "col2im"]
    assert len(col2im) == 6 and all(r["unit"] == "vector" and r["macs"] == 0 for r in col2im)
    assert sum(r["vector_ops"] for r in col2im) == 4 * RESNET18_CIFAR_COL2IM_PRODUCTS
    assert result["macs_skipped"] == 0
    assert set(result["invariants"]) == {"macs_conserved", "bytes_conserved", "bytes_by_class",
                                         "busy_within_run"}


def test_tiny_network_macs_per_op_match_hand_count():
    """Every GEMM op of a conv/conv/linear network has the MACs computed by hand from the
    README's GEMM table (TINY_OP_MACS), phases add up to the hand totals, vector ops do none,
    and the MAC energy is MACs x (fp16 multiply 1.1 pJ + fp32 add 0.9 pJ, Horowitz 2014)."""
    workload = training_iteration(tiny_network(), TrainingOptions(batch=2))
    result = Simulation(make_config(), workload).run()
    gemm_rows = {r["name"]: r["macs"] for r in result["ops"] if r["unit"] == "pe_array"}
    assert gemm_rows == TINY_OP_MACS
    assert all(r["macs"] == 0 for r in result["ops"] if r["unit"] == "vector")
    assert {p: result["phase_stats"][p]["macs"] for p in TINY_PHASE_MACS} == TINY_PHASE_MACS
    assert result["macs"] == result["macs_issued"] == 62976
    assert result["energy_pj"]["by_component"]["pe_array"]["mac"] == pytest.approx(
        62976 * (1.1 + 0.9))
    (col2im,) = [r for r in result["ops"] if r["kind"] == "col2im"]
    assert (col2im["name"], col2im["vector_ops"]) == ("conv2.bwd_data.col2im", 1152)


# One GEMM, M=20, N=12, K=30 on an 8x8 array, fold counts and fold lengths from the table in
# accelsim/hw/dataflow.py (SCALE-Sim's formulas):
#   os: ceil(M/8)*ceil(N/8) = 3*2 = 6 folds of K + 8 + 8 - 2 = 44 cycles   -> 264
#   ws: ceil(K/8)*ceil(N/8) = 4*2 = 8 folds of M + 2*8 + 8 - 2 = 42 cycles -> 336
#   is: ceil(K/8)*ceil(M/8) = 4*3 = 12 folds of N + 2*8 + 8 - 2 = 34 cycles -> 408
# SCALE-Sim v3 reports one cycle less (the 0-based index of the last cycle; README).
SCALESIM_REPORTED = {"os": 6 * 44 - 1, "ws": 8 * 42 - 1, "is": 12 * 34 - 1}


@pytest.mark.parametrize("flow", ["os", "ws", "is"])
def test_single_gemm_cycles_match_scalesim_fold_formula(flow):
    """A 20x12x30 GEMM on an 8x8 array with ideal DRAM and large buffers takes the hand-counted
    SCALE-Sim cycles plus one (SCALESIM_REPORTED): compute only, no stall."""
    result = Simulation(make_config(8, 8, flow), gemm_workload(20, 12, 30)).run()
    (row,) = result["ops"]
    assert result.total_cycles == SCALESIM_REPORTED[flow] + 1
    assert row["compute_cycles"] == SCALESIM_REPORTED[flow] + 1
    assert row["stall_cycles"] == 0


@pytest.mark.parametrize("flow", ["os", "ws", "is"])
def test_gemm_that_fits_on_chip_reads_each_operand_once(flow):
    """With every operand on chip, DRAM traffic is A (M*K) and B (K*N) read once and C (M*N)
    written once, 2 bytes each: 20x12x30 -> read (600 + 360) * 2 = 1920 B, written 240 * 2 =
    480 B, in the totals and in the op's row; DRAM energy is bytes / 8 x 1300 pJ per 64 bits
    (the config's figure)."""
    result = Simulation(make_config(8, 8, flow), gemm_workload(20, 12, 30)).run()
    (row,) = result["ops"]
    assert result["dram_bytes"] == {"read": 1920, "written": 480, "total": 2400}
    assert (row["dram_bytes_read"], row["dram_bytes_written"]) == (1920, 480)
    assert result["energy_pj"]["by_component"]["dram"] == pytest.approx(
        {"read": 1920 / 8 * 1300, "write": 480 / 8 * 1300})


def test_single_tile_gemm_waits_for_dram_by_hand():
    """An 8x8x1 GEMM on an 8x8 os array is one tile (no dimension can be split). With DRAM at
    16 B/cycle, no latency and a 1024 B/cycle link: the load of A and B (16 + 16 B) takes
    2 cycles, the fold 1 + 8 + 8 - 2 = 15 cycles, the store of C (64 * 2 B) 8 cycles:
    25 cycles, of which 10 are DRAM-bandwidth stalls; two transfers, 32 B read, 128 B written."""
    result = Simulation(make_config(8, 8, "os", ideal=False), gemm_workload(8, 8, 1),
                        keep_transfers=True).run()
    (row,) = result["ops"]
    assert result.total_cycles == 25
    assert row["compute_cycles"] == 15
    assert row["stalls"]["dram_bandwidth"] == 10
    assert row["stalls"]["dram_latency"] == row["stalls"]["interconnect"] == 0
    assert result["dram"]["transfers"] == 2
    assert [(t.start, t.end, t.nbytes, t.write, t.tag.op) for t in result.transfers] == [
        (0, 2, 32, False, "g.fwd"), (17, 25, 128, True, "g.fwd")]
    # the bandwidth chart: 100 bins of 0.25 cycles; 32 B over cycles 0-2 (8 bins of 4 B), then
    # 128 B over cycles 17-25 (32 bins of 4 B): 16 B per cycle, at 1 GHz 16 GB/s
    chart = result["dram_bandwidth"]
    assert chart["bin_cycles"] == 0.25
    rates = chart["gbytes_per_s"]
    assert rates[:8] == [16.0] * 8 and rates[8:68] == [0.0] * 60 and rates[68:] == [16.0] * 32
    assert Simulation(make_config(8, 8, "os", ideal=False),
                      gemm_workload(8, 8, 1)).run().transfers == []  # kept only when asked


def test_ops_respect_dependencies_and_units(resnet18_cifar_result, edge):
    """An op starts after all its predecessors end (in the graph as run, with its element-wise
    chains fused); ops on one unit never overlap."""
    workload, result = resnet18_cifar_result
    workload = fuse_elementwise(workload, edge.fusion.mode,
                                PE_ARRAY_KINDS.get(edge.pe_array.kind), edge.source)
    rows = {r["name"]: r for r in result["ops"]}
    assert set(rows) == {op.name for op in workload.ops()}
    for name in rows:
        for pred in workload.graph.predecessors(name):
            assert rows[pred]["end_cycle"] <= rows[name]["start_cycle"]
    for unit in ("pe_array", "vector"):
        spans = sorted((r["start_cycle"], r["end_cycle"]) for r in rows.values()
                       if r["unit"] == unit)
        for (_, end), (start, _) in zip(spans, spans[1:]):
            assert end <= start


def test_op_cycles_split_into_compute_and_stalls(resnet18_cifar_result):
    """Each op's cycles (end - start) are its compute cycles plus its DRAM and SRAM stalls
    (the pipeline gives every waited cycle a cause; README "Stalls")."""
    _, result = resnet18_cifar_result
    for row in result["ops"]:
        assert row["cycles"] == pytest.approx(
            row["compute_cycles"] + sum(row["stalls"][cause] for cause in STALL_CAUSES))


def test_runs_are_bit_identical(edge):
    """The same inputs give the same JSON, byte for byte."""
    workload = load_workload("mlp", TrainingOptions(batch=16))
    first = json.dumps(Simulation(edge, workload).run().data)
    second = json.dumps(Simulation(edge, workload).run().data)
    assert first == second


def test_forward_only_run(edge):
    """--phases fwd keeps the forward ops only: the hand-counted forward MACs of ResNet-18
    (CIFAR) at batch 2, nothing in the other phases."""
    workload = load_workload("resnet18_cifar", TrainingOptions(batch=2), ["fwd"])
    result = Simulation(edge, workload).run()
    assert {r["phase"] for r in result["ops"]} == {"fwd"}
    assert result["macs"] == 2 * RESNET18_CIFAR_FWD_MACS
    assert result["phases"]["bwd_weight"] == 0


def test_empty_phase_list_is_refused():
    """An empty --phases selects nothing and is an error naming the valid phases."""
    with pytest.raises(WorkloadError, match="expected at least one training phase"):
        load_workload("mlp", TrainingOptions(batch=2), [])


def test_more_bandwidth_never_slows_a_run():
    """Raising DRAM bandwidth on the edge config cannot lengthen the iteration."""
    workload = load_workload("mlp", TrainingOptions(batch=64))
    cycles = [Simulation(load_hwconfig(HWCONFIGS / "edge_16x16.yaml",
                                       [f"dram.bandwidth={bw}GB/s"]), workload).run().total_cycles
              for bw in (3.2, 12.8, 51.2, 204.8)]
    assert cycles == sorted(cycles, reverse=True)
    assert cycles[0] > cycles[-1]


class DropWeightGradients(Technique):
    """Drops every tile of every bwd_weight GEMM and counts its MACs as skipped."""

    name = "drop_wgrad"

    def transform(self, op, plan):
        if op.phase.value != "bwd_weight" or plan.unit != "pe_array":
            return plan
        return plan.without([True] * len(plan))


def test_user_technique_skips_work_and_keeps_mac_invariant(edge):
    """A technique a user registers for a while (no entry point) shortens the run; the MACs it drops (every
    weight-gradient GEMM of ResNet-18 CIFAR at batch 2) are reported as skipped, and the
    rest as issued, with the hand counts of resnet18_cifar_phase_macs."""
    workload = load_workload("resnet18_cifar", TrainingOptions(batch=2))
    expected = resnet18_cifar_phase_macs(2)
    base = Simulation(edge, workload).run()
    with TECHNIQUES.temporarily("drop_wgrad", DropWeightGradients):
        skipped = Simulation(edge, workload, [TechniqueSpec("drop_wgrad")]).run()
    assert "drop_wgrad" not in TECHNIQUES
    assert skipped["macs_skipped"] == expected["bwd_weight"]
    assert skipped["macs_issued"] == expected["fwd"] + expected["bwd_data"]
    assert skipped["phase_stats"]["bwd_weight"]["macs"] == 0
    assert skipped.total_cycles < base.total_cycles
    assert skipped["techniques"] == ["drop_wgrad"]


def test_deadlock_names_unfinished_ops(edge):
    """Ops that never finish are reported by name with what each waits on: here the check
    runs before the event loop has run any op, so the first op is ready but never completed
    and the next waits on it."""
    import simpy

    workload = load_workload("mlp", TrainingOptions(batch=2))
    ctx = RunContext(System(edge, simpy.Environment()), workload)
    driver = Driver(ctx, TechniqueChain())
    driver.start()
    with pytest.raises(SimulationError) as caught:
        driver.check_finished()
    message = str(caught.value)
    assert message.startswith(f"deadlock: {len(workload)} of {len(workload)} ops did not finish")
    assert "fc1.fwd: inputs ready but never completed on its unit" in message
    assert "waits on unfinished fc1.fwd" in message


def test_run_tile_budget(monkeypatch):
    """A run is refused once its ops need more tiles than the run budget (set to 10 here: the
    32x32x32 GEMM on an 8x8 array with 512 usable bytes per buffer is 16 tiles)."""
    from accelsim.sim import driver

    monkeypatch.setattr(driver, "MAX_TILES_PER_RUN", 10)
    with pytest.raises(SimulationError, match=r"the run needs more than 10 tiles \(op g.fwd "
                       r"brings it to 16\)"):
        Simulation(make_config(capacity="1KiB"), gemm_workload(32, 32, 32)).run()
