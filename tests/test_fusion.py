"""Element-wise ops fused into a GEMM's output stream (``fusion.mode: output_stream``), through
the whole engine, on hand-built graphs.

Expected figures are derived by hand: tensor sizes for bytes, SCALE-Sim's output-stationary
fold (K + rows + cols - 2 cycles per fold) for the array, elements x operations / lanes for
the vector lanes.
"""

from __future__ import annotations

import pytest

from accelsim.config.loader import load_hwconfig, validate_hwconfig
from accelsim.errors import ConfigError
from accelsim.hw.kinds import PE_ARRAY_KINDS
from accelsim.sim.engine import Simulation
from accelsim.sim.fusion import fuse_elementwise
from accelsim.workload.graph import Workload
from accelsim.workload.loader import load_workload
from accelsim.workload.op import Gemm, Op, Phase, Tensor
from accelsim.workload.training import TrainingOptions
from tests.conftest import HWCONFIGS, make_config

FP16 = 2
M = N = 64  # GEMM output: 4096 elements, 8 KiB
OUT = Tensor("c", M * N, FP16)


def gemm_op(k: int = 8, name: str = "g", phase: Phase = Phase.FWD) -> Op:
    return Op(name, name, phase, "linear",
              reads=(Tensor("a", M * k, FP16), Tensor("w", k * N, FP16)),
              writes=(OUT,), gemm=Gemm(M, N, k))


def eltwise(name: str, kind: str, reads: list[Tensor], out: str, ops: float = 1.0,
            phase: Phase = Phase.FWD) -> Op:
    return Op(name, name, phase, kind, tuple(reads), (Tensor(out, OUT.elements, FP16),),
              elements=OUT.elements, vector_ops=ops)


def run(ops: list[Op], fusion: str = "output_stream", lanes: int = 16,
        residency: str = "none") -> tuple[dict, dict]:
    config = make_config(fusion={"mode": fusion}, residency={"policy": residency},
                         vector_unit={"lanes": lanes, "buffer": "64KiB"})
    data = Simulation(config, Workload("hand", ops)).run().data
    return data, {row["name"]: row for row in data["ops"]}


def test_a_relu_after_a_gemm_moves_no_dram_bytes_for_the_gemm_output():
    """The GEMM's output never goes to DRAM: the fused op reads the operands and writes the
    ReLU's output; the ReLU's row is gone and its operations are the GEMM row's."""
    ops = [gemm_op(), eltwise("relu", "relu", [OUT], "d")]
    data, rows = run(ops)
    assert set(rows) == {"g"}
    g = rows["g"]
    assert g["dram_bytes_read"] == (64 * 8 + 8 * 64) * FP16  # a and w only
    assert g["dram_bytes_written"] == 4096 * FP16  # d; c never leaves
    assert g["vector_ops"] == 4096
    assert g["fused"] == "relu"
    assert data["dram_bytes"]["total"] == 2048 + 8192
    assert data["fusion"] == {"mode": "output_stream", "fused_gemms": 1, "fused_ops": 1}
    # unfused: c written by the GEMM and read back by the ReLU
    data, rows = run(ops, fusion="none")
    assert rows["g"]["dram_bytes_written"] == 8192 and rows["relu"]["dram_bytes_read"] == 8192
    assert data["dram_bytes"]["total"] == 2048 + 3 * 8192
    assert data["fusion"] == {"mode": "none", "fused_gemms": 0, "fused_ops": 0}


def test_a_fused_tile_lasts_the_longer_of_the_array_and_the_lanes():
    """One tile of 64 output-stationary folds on an 8x8 array, K = 8: 64 x (8 + 8 + 8 - 2) =
    1408 array cycles. Its 4096 outputs need 4096 ReLU operations: 256 cycles on 16 lanes
    (the array sets the pace), 4096 on one lane (the lanes do)."""
    ops = [gemm_op(), eltwise("relu", "relu", [OUT], "d")]
    _, rows = run(ops, lanes=16)
    assert rows["g"]["tiles"] == 1
    assert rows["g"]["compute_cycles"] == 1408
    _, rows = run(ops, lanes=1)
    assert rows["g"]["tiles"] == 1
    assert rows["g"]["compute_cycles"] == 4096
    # the energy of the operations is the vector unit's, fused or not
    fused, _ = run(ops, lanes=1)
    separate, _ = run(ops, lanes=1, fusion="none")
    assert fused["energy_pj"]["by_component"]["vector_unit"]["op"] == \
        separate["energy_pj"]["by_component"]["vector_unit"]["op"] == 4096 * 0.9


def test_partial_sums_still_spill_and_only_finished_outputs_are_replaced():
    """A weight-stationary GEMM (512 x 64 x 64) on 16 KiB buffers and a 16 B/cycle DRAM
    spills partial sums between its reduction blocks. Fused with a ReLU whose output is fp32
    (4 bytes where the GEMM's finished output has 2), the fused op reads what the GEMM read
    and writes what it wrote, less the 512 x 64 finished outputs at 2 bytes, plus the ReLU's
    at 4: the spills are unchanged."""
    c = Tensor("c", 512 * 64, FP16)
    gemm = Op("g", "g", Phase.FWD, "linear", (Tensor("a", 512 * 64, FP16),
                                              Tensor("w", 64 * 64, FP16)), (c,),
              gemm=Gemm(512, 64, 64))
    relu = Op("relu", "relu", Phase.FWD, "relu", (c,), (Tensor("d", c.elements, 4),),
              elements=c.elements, vector_ops=1.0)
    rows = {}
    for mode in ("none", "output_stream"):
        config = make_config(dataflow="ws", capacity="16KiB", ideal=False,
                             dram_bandwidth="16B/cycle", fusion={"mode": mode})
        data = Simulation(config, Workload("hand", [gemm, relu])).run().data
        rows[mode] = {row["name"]: row for row in data["ops"]}["g"]
    alone, fused = rows["none"], rows["output_stream"]
    assert alone["dram_bytes_written"] > c.bytes  # partial sums spill
    assert fused["dram_bytes_read"] == alone["dram_bytes_read"]
    assert fused["dram_bytes_written"] == alone["dram_bytes_written"] - c.bytes + 4 * c.elements
    assert fused["vector_ops"] == c.elements


def test_the_second_input_of_a_residual_add_is_still_read():
    """add(c, r): the residual r (8 KiB) streams in from DRAM; c does not go out."""
    r = Tensor("r", OUT.elements, FP16)
    data, rows = run([gemm_op(), eltwise("add", "add", [OUT, r], "s")])
    assert set(rows) == {"g"}
    assert rows["g"]["dram_bytes_read"] == 2048 + r.bytes
    assert rows["g"]["dram_bytes_written"] == 8192
    assert data["dram_bytes"]["read"] == 2048 + r.bytes


def test_a_backward_chain_absorbs_the_gradient_sum_and_the_relu_mask():
    """As in a residual block's backward pass: the data-gradient GEMM's output is summed with
    another gradient contribution, then masked by the saved ReLU output; both element-wise ops
    join the GEMM (2 x 4096 operations) and both other inputs are read."""
    other = Tensor("grad(y)@add", OUT.elements, FP16)
    saved = Tensor("relu_out", OUT.elements, FP16)
    ops = [gemm_op(phase=Phase.BWD_DATA),
           eltwise("sum", "grad_accumulate", [other, OUT], "grad(y)", phase=Phase.BWD_DATA),
           eltwise("relu.bwd", "relu", [Tensor("grad(y)", OUT.elements, FP16), saved],
                   "grad(x)", phase=Phase.BWD_DATA)]
    data, rows = run(ops)
    assert set(rows) == {"g"}
    g = rows["g"]
    assert g["vector_ops"] == 2 * 4096
    assert g["dram_bytes_read"] == 2048 + other.bytes + saved.bytes
    assert g["dram_bytes_written"] == 8192
    assert g["fused"] == "sum,relu.bwd"
    assert data["fusion"]["fused_ops"] == 2


def test_a_chain_that_forks_is_not_fused():
    """c has two readers (a ReLU and a backward op that saves it): nothing is fused, and the
    run is figure for figure the run without fusion."""
    ops = [gemm_op(), eltwise("relu", "relu", [OUT], "d"),
           eltwise("keep", "relu", [OUT, Tensor("dy", OUT.elements, FP16)], "dx",
                   phase=Phase.BWD_DATA)]
    fused, rows = run(ops)
    separate, _ = run(ops, fusion="none")
    assert set(rows) == {"g", "relu", "keep"}
    assert rows["g"]["dram_bytes_written"] == 8192
    assert fused["fusion"]["fused_gemms"] == 0
    for key in ("total_cycles", "energy_pj", "dram_bytes", "ops", "onchip"):
        assert fused[key] == separate[key]


def test_no_fusion_leaves_every_figure_as_without_the_key():
    """``fusion: none`` and a hwconfig without the key give bit-identical results."""
    ops = [gemm_op(), eltwise("relu", "relu", [OUT], "d")]
    explicit, _ = run(ops, fusion="none")
    config = make_config(vector_unit={"lanes": 16, "buffer": "64KiB"})
    default = Simulation(config, Workload("hand", ops)).run().data
    for data in (explicit, default):
        data.pop("hwconfig_resolved")
        data.pop("hwconfig")
        data.pop("versions")
    assert explicit == default


def test_the_chain_intermediate_never_occupies_the_residency_pool():
    """With residency, only the chain's output (d, 8 KiB) is held for its reader (a softmax,
    not element-wise); unfused, c and d are both held while the ReLU runs."""
    d = Tensor("d", OUT.elements, FP16)
    ops = [gemm_op(), eltwise("relu", "relu", [OUT], "d"),
           eltwise("next", "softmax", [d], "e", ops=5.0)]
    fused, _ = run(ops, residency="liveness")
    separate, _ = run(ops, residency="liveness", fusion="none")
    assert fused["onchip"]["peak_resident_bytes"] == d.bytes
    assert separate["onchip"]["peak_resident_bytes"] == OUT.bytes + d.bytes


def test_a_chain_is_not_fused_across_an_in_place_overwrite_of_what_the_gemm_reads():
    """The add's residual r is produced after the update that overwrites the GEMM's weight w:
    the fused op would have to run after that update, reading the new w. Produced before
    it, the chain fuses."""
    r = Tensor("r", OUT.elements, FP16)
    update = Op("upd", "upd", Phase.UPDATE, "linear", (Tensor("w", 8 * N, FP16),),
                (Tensor("w.next", 8 * N, FP16),), elements=8 * N, vector_ops=2.0,
                overwrites=("w",))
    producer = eltwise("p", "relu", [Tensor("x", OUT.elements, FP16)], "r")
    add = eltwise("add", "add", [OUT, r], "s")
    _, rows = run([gemm_op(), update, producer, add])
    assert "add" in rows and rows["g"]["dram_bytes_written"] == 8192
    _, rows = run([gemm_op(), producer, update, add])
    assert "add" not in rows and rows["g"]["fused"] == "add"


def test_a_kind_that_does_not_report_its_output_tiles_refuses_fusion():
    """The outer-product kind's plans give no finished outputs per tile: one error naming the
    key and the choice it allows."""
    config = load_hwconfig(HWCONFIGS / "scnn_like.yaml", ["fusion.mode=output_stream"])
    with pytest.raises(ConfigError) as error:
        Simulation(config, Workload("hand", [gemm_op(), eltwise("relu", "relu", [OUT], "d")])
                   ).run()
    assert "fusion.mode" in str(error.value) and "outer_product" in str(error.value)


def test_an_unknown_fusion_mode_names_the_key_and_the_choices():
    data = make_config().model_dump(mode="json")
    data["fusion"] = {"mode": "epilogue"}
    with pytest.raises(ConfigError) as error:
        validate_hwconfig(data, "hw.yaml")
    message = str(error.value)
    assert "hw.yaml" in message and "fusion.mode" in message
    assert "none" in message and "output_stream" in message


def test_every_shipped_hwconfig_states_its_fusion_choice():
    """Each shipped hwconfig sets ``fusion.mode`` itself, with a comment."""
    for path in sorted(HWCONFIGS.glob("*.yaml")):
        text = path.read_text()
        assert "\nfusion:\n  mode: " in text, path.name
        line = text.split("\nfusion:\n  mode: ")[1].splitlines()[0]
        assert "#" in line, path.name


def test_resnet50_fuses_the_hand_counted_backward_chains():
    """ResNet-50 (torchvision v1.5: stride 2 on the 3x3 conv2 of layers 2-4's first blocks).
    Forward: nothing fuses, each conv's output is also the saved input of its batch norm's
    backward. Backward, by hand over the 16 bottleneck blocks: conv3's input gradient takes
    relu2's backward (16); conv2's takes relu1's (13: the three stride-2 conv2s scatter
    through col2im); conv1's takes the sum of the block input's gradient contributions, then
    the previous block's final ReLU backward (15 x 2), or only the sum in layer1.0, whose input
    is the max pool's output (1). 45 GEMMs absorb 60 ops; every MAC and vector operation is
    kept."""
    workload = load_workload("resnet50", TrainingOptions(batch=1))
    fused = fuse_elementwise(workload, "output_stream", PE_ARRAY_KINDS.get("systolic"),
                             "<test>")
    heads = [op for op in fused.ops() if op.gemm is not None and op.vector_ops]
    assert len(heads) == 45
    assert len(workload) - len(fused) == 60
    assert {op.phase for op in heads} == {Phase.BWD_DATA}
    assert fused.macs == workload.macs

    def vector_work(w):
        return sum(op.vector_ops * op.elements for op in w.ops())

    assert vector_work(fused) == vector_work(workload)
