"""Per-op precision and the batch axis: what a technique can change about an op.

Expected figures are hand-derived from the GEMM sizes, the datatype widths and Horowitz's
per-operation energies (ISSCC 2014, 45 nm), or come from the same op built at the smaller
batch by the workload expander.
"""

from __future__ import annotations

import copy
from dataclasses import replace

import pytest

from accelsim.config.loader import validate_hwconfig
from accelsim.errors import SimulationError
from accelsim.sim.engine import Simulation
from accelsim.workload.graph import Workload
from accelsim.workload.loader import load_workload
from accelsim.workload.op import BatchAxis, Phase
from accelsim.workload.training import TrainingOptions
from tests.conftest import gemm_workload, make_config
from tests.test_outer_product import SCNN, conv_op


def with_precision(workload: Workload, operand: str, accumulator: str) -> Workload:
    return workload.with_ops([op.with_precision(operand, accumulator) for op in workload.ops()])


def test_int8_gemm_on_an_fp16_array_moves_half_the_bytes():
    """A 64x64x64 GEMM that fits on chip reads A and B once and writes C once: 3 * 64 * 64
    elements, 24,576 bytes at fp16 and 12,288 at int8. Its MACs cost an fp16 multiply and an
    fp32 add (1.1 + 0.9 pJ) at the array's own datatypes, an int8 multiply and an int32 add
    (0.2 + 0.1 pJ) at int8; the cycles do not change on a systolic array."""
    config = make_config()
    fp16 = Simulation(config, gemm_workload(64, 64, 64)).run()
    int8 = Simulation(config, with_precision(gemm_workload(64, 64, 64), "int8", "int32")).run()
    macs = 64 ** 3
    assert fp16["dram_bytes"]["total"] == 3 * 64 * 64 * 2
    assert int8["dram_bytes"]["total"] == 3 * 64 * 64 * 1
    assert fp16["energy_pj"]["by_component"]["pe_array"]["mac"] == pytest.approx(macs * 2.0)
    assert int8["energy_pj"]["by_component"]["pe_array"]["mac"] == pytest.approx(macs * 0.3)
    assert int8.total_cycles == fp16.total_cycles
    assert (int8["ops"][0]["datatype"], int8["ops"][0]["accumulator"]) == ("int8", "int32")


def test_sram_capacity_follows_the_op_precision():
    """An 8x8 array with 128 usable bytes per buffer: the smallest tile's 8x8 block of partial
    sums needs 256 bytes at fp32 (no tiling exists) but 128 at fp16, so the op runs at
    int8 x fp16 and fails at fp32 x fp32."""
    config = make_config(capacity="256B")
    Simulation(config, with_precision(gemm_workload(16, 16, 16), "int8", "fp16")).run()
    with pytest.raises(SimulationError, match="cannot be tiled"):
        Simulation(config, with_precision(gemm_workload(16, 16, 16), "fp32", "fp32")).run()


def test_precision_missing_from_the_energy_table_is_an_error():
    """An op at a datatype the hwconfig has no energy for is one error naming both."""
    config = make_config(energy={"mult_pj": {"fp16": 1.1}})
    with pytest.raises(SimulationError, match="runs at int8, but the hwconfig's "
                       r"energy.mult_pj has no int8 entry \(it has fp16\)"):
        Simulation(config, with_precision(gemm_workload(8, 8, 8), "int8", "fp32")).run()


def test_training_ops_carry_their_batch_axis():
    """In a training iteration at batch 4 the samples are the rows of the forward and
    backward-data GEMMs (batch x positions) and the reduction of the weight gradient; the
    weight update has none."""
    workload = load_workload("resnet18_cifar", TrainingOptions(batch=4))
    axes = {op.name: op.batch for op in workload.ops()}
    assert axes["conv1.fwd"] == BatchAxis("m", 4)
    assert axes["layer1.0.conv1.bwd_data"] == BatchAxis("m", 4)
    assert axes["layer1.0.conv1.bwd_weight"] == BatchAxis("k", 4)
    assert axes["fc.bwd_weight"] == BatchAxis("k", 4)
    assert axes["fc.update"] is None


@pytest.mark.parametrize("name", ["layer2.0.conv1.fwd", "layer2.0.conv1.bwd_data",
                                  "layer2.0.conv1.bwd_weight"])
def test_dropped_samples_run_as_the_smaller_batch(name):
    """Keeping 2 of 4 samples of a systolic GEMM issues exactly the op of batch 2 (the same
    cycles, MACs and DRAM bytes as the expander's batch-2 op); the other half of the MACs is
    skipped, and the workload's MACs stay those of batch 4."""
    config = make_config(rows=16, cols=16, capacity="64KiB")
    full = load_workload("resnet18_cifar", TrainingOptions(batch=4))
    half = load_workload("resnet18_cifar", TrainingOptions(batch=2))
    op = next(o for o in full.ops() if o.name == name)
    dropped = Simulation(config, Workload("t", [op.with_samples(2)])).run()
    small = Simulation(config, Workload("t", [half.op(name)])).run()
    (row,), (reference,) = dropped["ops"], small["ops"]
    for key in ("cycles", "macs", "dram_bytes_read", "dram_bytes_written", "tiles"):
        assert row[key] == reference[key], key
    assert dropped["macs"] == op.macs == 2 * reference["macs"]
    assert row["macs_skipped"] == op.macs - reference["macs"]
    assert (row["samples"], row["samples_kept"]) == (4, 2)


def test_dropped_samples_on_the_outer_product_array():
    """On the SCNN-like array the kept samples' products are those of the smaller batch, and
    every MAC of the full batch is either done or skipped."""
    config = validate_hwconfig(copy.deepcopy(SCNN), "<test>")
    op = replace(conv_op(Phase.BWD_WEIGHT, batch=4), batch=BatchAxis("k", 4))
    dropped = Simulation(config, Workload("t", [op.with_samples(2)])).run()["ops"][0]
    small = Simulation(config, Workload("t", [conv_op(Phase.BWD_WEIGHT, batch=2)])).run()
    reference = small["ops"][0]
    assert dropped["products_issued"] == reference["products_issued"]
    assert dropped["compute_cycles"] == reference["compute_cycles"]
    assert dropped["macs"] + dropped["macs_skipped"] == op.macs


def test_no_sample_kept_issues_nothing():
    """With every sample dropped the op issues no tile and skips all its MACs."""
    op = replace(gemm_workload(64, 8, 8).ops()[0], batch=BatchAxis("m", 8)).with_samples(0)
    result = Simulation(make_config(), Workload("t", [op])).run()
    (row,) = result["ops"]
    assert (row["tiles"], row["macs"], row["macs_skipped"], row["cycles"]) == (
        0, 0, 64 * 8 * 8, 0)



def test_vector_ops_carry_and_drop_samples():
    """Vector ops of the forward and backward passes carry their samples on their elements (a
    ReLU's backward, the col2im of a strided conv's input gradient); the weight update has
    none. Keeping 2 of 4 samples of the col2im issues half its element operations and half its
    DRAM bytes."""
    workload = load_workload("resnet18_cifar", TrainingOptions(batch=4))
    ops = {op.name: op for op in workload.ops()}
    col2im = next(op for op in ops.values() if op.kind == "col2im")
    assert col2im.batch == BatchAxis("elements", 4)
    assert ops["layer1.0.relu1.bwd_data"].batch == BatchAxis("elements", 4)
    assert ops["fc.update"].batch is None
    config = make_config()
    full = Simulation(config, Workload("t", [col2im])).run()["ops"][0]
    half = Simulation(config, Workload("t", [col2im.with_samples(2)])).run()["ops"][0]
    assert half["vector_ops"] * 2 == full["vector_ops"] == col2im.elements * col2im.vector_ops
    assert half["dram_bytes"] * 2 == full["dram_bytes"]
