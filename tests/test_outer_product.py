"""The SCNN-like outer-product PE array: config, chunk-level cycle model, whole runs."""

from __future__ import annotations

import copy
import importlib.util
import json

import numpy as np
import pytest
import simpy
import yaml

from accelsim.config.loader import load_hwconfig, validate_hwconfig
from accelsim.errors import ConfigError
from accelsim.hw.kinds.outer_product.accumulators import bank_of, issue_intervals
from accelsim.hw.kinds.outer_product.model import OuterProductModel, chunk_model, op_geometry
from accelsim.hw.kinds.outer_product.rcp import Axis, conv_axes
from accelsim.hw.system import System
from accelsim.sim.engine import Simulation
from accelsim.context import RunContext
from accelsim.sim.lowering import lower
from accelsim.techniques.chain import TechniqueSpec
from accelsim.trace.dnnsim_export import read_samples, write_layer
from accelsim.workload.graph import Workload
from accelsim.workload.op import Gemm, Op, Phase, Tensor
from tests.conftest import HWCONFIGS, ROOT

SCNN = yaml.safe_load((HWCONFIGS / "scnn_like.yaml").read_text())
FLAT = Axis(1, 1, 1, -1, 0, 1, 1)
#: 1-D bwd_weight axis: x in 0..7 against dy at p in 0..7, R 3, pad 1 (valid: |x - p| <= 1).
WGRAD_1D = Axis(8, 8, 1, -1, 1, 1, 3)


def conv_op(phase: Phase, cin=16, cout=16, size=16, stride=1, batch=1, density=None) -> Op:
    """One 3x3 convolution op (pad 1) of the given phase, with its GEMM and geometry."""
    out = (size + 2 - 3) // stride + 1
    attrs = {"cin": cin, "cout": cout, "h": size, "w": size, "r": 3, "s": 3,
             "stride": stride, "pad": 1, "ho": out, "wo": out}
    if density is not None:
        attrs["density"] = density
    # bwd_data: the transposed-convolution GEMM at stride 1 (pad 1: H*W = Ho*Wo), else the
    # col2im GEMM (B*Ho*Wo) x (Cin*9) x Cout (README's table): the forward's MACs either way
    data = (Gemm(batch * size * size, cin, cout * 9) if stride == 1
            else Gemm(batch * out * out, cin * 9, cout))
    gemm = {Phase.FWD: Gemm(batch * out * out, cout, cin * 9),
            Phase.BWD_DATA: data,
            Phase.BWD_WEIGHT: Gemm(cout, cin * 9, batch * out * out)}[phase]
    reads = (Tensor(f"{phase}.a", batch * cin * size * size, 2),
             Tensor(f"{phase}.b", cin * cout * 9, 2))
    return Op(f"c.{phase}", "c", phase, "conv", reads, (Tensor(f"{phase}.y", 1000, 2),),
              gemm=gemm, attrs=attrs)


def run(ops, techniques=(), **pe):
    """Run ``ops`` on scnn_like.yaml (``pe`` overrides pe_array keys) with techniques given
    as command-line specs (``ant:granularity=row``)."""
    data = copy.deepcopy(SCNN)
    data["pe_array"].update(pe)
    config = validate_hwconfig(data, "<test>")
    specs = [TechniqueSpec.parse(text) for text in techniques]
    return Simulation(config, Workload("t", list(ops)), specs).run()


def lowered(op: Op, **pe):
    """The tile plan of ``op`` on scnn_like.yaml, as the engine lowers it."""
    data = copy.deepcopy(SCNN)
    data["pe_array"].update(pe)
    system = System(validate_hwconfig(data, "<test>"), simpy.Environment())
    return lower(op, RunContext(system, Workload("t", [op])))


def test_hwconfig_loads_with_scnn_parameters():
    """scnn_like.yaml: 8x8 PEs of 4x4 multipliers (1,024), 32 accumulator banks with queues
    4 deep, 1 GHz."""
    config = load_hwconfig(HWCONFIGS / "scnn_like.yaml")
    pe = config.pe_array
    assert (pe.kind, pe.rows, pe.cols, pe.multipliers_f, pe.multipliers_i,
            pe.accumulator_banks, pe.accumulator_queue_depth, config.clock) == (
        "outer_product", 8, 8, 4, 4, 32, 4, 1e9)


OUTER_ONLY = ("multipliers_f", "multipliers_i", "accumulator_banks", "accumulator_entries",
              "accumulator_queue_depth", "index_bits", "halo_elements_per_cycle", "operand_density")


@pytest.mark.parametrize("edit, message", [
    ({"multipliers_f": None}, "pe_array.multipliers_f: expected this required key (F, weight "
     "(B-operand) non-zeros per multiplier-array row, a weight chunk)"),
    ({"dataflow": "os"}, "pe_array.dataflow: expected a known key (valid choices: accumulator, "
     "accumulator_banks, accumulator_entries, accumulator_queue_depth, cols, datatype, "
     "halo_elements_per_cycle, index_bits, kind, multipliers_f, multipliers_i, "
     "operand_density, rows)"),
    ({"kind": "systolic", "dataflow": "os"}, "pe_array.multipliers_f: expected a known key "
     "(valid choices: accumulator, cols, dataflow, datatype, kind, rows)"),
    ({"kind": "systolic", **dict.fromkeys(OUTER_ONLY)}, "pe_array.dataflow: expected this "
     "required key (output-, weight- or input-stationary mapping of the GEMM)"),
    ({"kind": "mesh"}, "pe_array.kind: expected a known PE-array kind, got 'mesh' (valid "
     "choices: outer_product, systolic, tensor_core)"),
])
def test_kind_specific_fields_are_checked(edit, message):
    """Each kind's parameters are its own: required keys of a kind are required, another
    kind's keys are unknown keys listing the kind's own, an unknown kind lists the registered
    ones; one message each."""
    data = copy.deepcopy(SCNN)
    for key, value in edit.items():
        if value is None:
            data["pe_array"].pop(key, None)
        else:
            data["pe_array"][key] = value
    with pytest.raises(ConfigError) as caught:
        validate_hwconfig(data, "<test>")
    assert str(caught.value) == f"<test>: {message}"


def test_chunk_model_by_hand():
    """1-D dW, x and dy all non-zero in 0..7, F = I = 2, one PE: chunks a, b of two
    coordinates. 16 chunk pairs of 4 products (64); valid |x - p| <= 1: 8 + 7 + 7 = 22.
    A pair's output window is [2(a-b), 2(a-b) + 2]: it meets [0, 2] only for |a - b| <= 1
    (10 pairs), so 6 pairs (24 products, all RCPs) are anticipated at chunk granularity.
    Cycles: a == b pairs put two products on output 1 (2 cycles), |a - b| = 1 pairs have one
    valid product (1 cycle), the 6 other pairs cost 1 cycle each: 8 + 6 + 6 = 20. The pair
    boxes: chunk a covers x in [2a, 2a + 1], chunk b p in [2b, 2b + 1]."""
    a = np.ones((1, 1, 8), dtype=bool)
    b = np.ones((1, 1, 1, 8), dtype=bool)
    pairs = chunk_model(a, b, (FLAT, WGRAD_1D), f=2, i=2, banks=32, grid=(1, 1))
    assert (int(pairs.products.sum()), int(pairs.valid.sum()), len(pairs)) == (64, 22, 16)
    assert pairs.pe_cycles().tolist() == [20]
    assert pairs.products.tolist() == [4] * 16
    chunk_a = pairs.a_lo[1] // 2
    chunk_b = pairs.b_lo[1] // 2
    assert (pairs.a_hi[1] - pairs.a_lo[1]).tolist() == [1] * 16
    assert sorted(zip(chunk_a.tolist(), chunk_b.tolist())) == [(x, y) for x in range(4)
                                                               for y in range(4)]
    expected_cycles = np.where(chunk_a == chunk_b, 2, 1)
    assert pairs.cycles.tolist() == expected_cycles.tolist()


def test_bank_conflicts_cost_cycles():
    """Forward 1-D, x in 0..4, taps 0..2, pad 1, one chunk pair of 4 x 4 for x 0..3 and one
    for x 4: outputs 0..4 get 2, 3, 3, 2 products from the first pair (3 cycles) and the
    second pair has 2 valid products on distinct outputs (1 cycle). With one bank every
    valid product conflicts: 11 + 2 = 13 cycles."""
    axis = Axis(5, 3, 1, -1, 1, 1, 5)
    a, b = np.ones((1, 1, 5), bool), np.ones((1, 1, 1, 3), bool)
    wide = chunk_model(a, b, (FLAT, axis), f=4, i=4, banks=32, grid=(1, 1))
    narrow = chunk_model(a, b, (FLAT, axis), f=4, i=4, banks=1, grid=(1, 1))
    assert (int(wide.products.sum()), int(wide.valid.sum()), len(wide)) == (15, 13, 2)
    assert wide.pe_cycles().tolist() == [4]
    assert narrow.pe_cycles().tolist() == [13]


def test_planar_tiling_splits_the_plane_over_pes():
    """A 4x4 plane on a 2x2 grid: each PE holds a 2x2 tile (one activation chunk of 4) and
    multiplies it with the 9 weights (3 weight chunks of at most 4): 36 products and 3 chunk
    pairs per PE, 144 products and 12 pairs in all."""
    axes = conv_axes({"h": 4, "w": 4, "r": 3, "s": 3, "stride": 1, "pad": 1, "ho": 4,
                      "wo": 4}, "fwd")
    pairs = chunk_model(np.ones((1, 4, 4), bool), np.ones((1, 1, 3, 3), bool), axes, f=4,
                        i=4, banks=32, grid=(2, 2))
    assert pairs.products.sum() == 16 * 9
    assert pairs.valid.sum() == 100  # (3 * 4 - 2)^2 valid (input, tap) pairs
    assert len(pairs) == 12
    assert np.bincount(pairs.pe).tolist() == [3, 3, 3, 3]


def test_geometry_of_the_training_convolutions():
    """Per phase: which plane is split over the PEs (A) and which is broadcast (B)."""
    fwd, data, wgrad = (op_geometry(conv_op(p, cin=8, cout=4, size=16, stride=2, batch=3))
                        for p in (Phase.FWD, Phase.BWD_DATA, Phase.BWD_WEIGHT))
    assert (fwd.images, fwd.channels, fwd.outputs, fwd.a_shape, fwd.b_shape,
            fwd.out_shape) == (3, 8, 4, (16, 16), (3, 3), (8, 8))
    assert (data.channels, data.outputs, data.a_shape, data.b_shape,
            data.out_shape) == (4, 8, (8, 8), (3, 3), (16, 16))
    # every phase runs once per image: 3; the stride-2 bwd_data's col2im GEMM
    # (3*8*8) x (8*9) x 4 has the forward's dense MACs, 3*8*8*4*8*9 = 55,296
    assert (fwd.images, data.images, wgrad.images) == (3, 3, 3)
    assert fwd.dense_macs == data.dense_macs == wgrad.dense_macs == 55_296
    assert (wgrad.channels, wgrad.outputs, wgrad.a_shape, wgrad.b_shape, wgrad.out_shape,
            wgrad.b_shared) == (8, 4, (16, 16), (8, 8), (3, 3), True)


def test_run_rows_and_invariants():
    """A forward conv at density 0.1 on both operands: the row's products are the expected
    ones, 0.01 * (16*16 * 9) * 16 * 16 = 5898.24 issued and 0.01 * (3*16 - 2)^2 * 256 =
    5416.96 valid (to rounding per tile); MACs done are the valid products and MACs done +
    skipped are the dense MACs; issued = valid + RCPs."""
    op = conv_op(Phase.FWD)
    result = run([op])
    (row,) = result["ops"]
    tiles = row["tiles"]
    assert abs(row["products_issued"] - 5898.24) <= tiles
    assert abs(row["products_valid"] - 5416.96) <= tiles
    assert row["products_issued"] == row["products_valid"] + row["rcps"]
    assert row["rcps_anticipated"] == 0
    assert row["macs"] == row["products_valid"]
    assert row["macs"] + row["macs_skipped"] == op.macs
    assert result["invariants"]["macs_conserved"] == "ok"
    assert result["energy_pj"]["by_component"]["pe_array"]["rcp_mult"] == pytest.approx(
        row["rcps"] * 1.1)


def test_all_phases_and_linear_run():
    """fwd, bwd_data and bwd_weight convolutions and a sparse matrix product run; the matrix
    product has no RCPs, the weight gradient is dominated by them."""
    linear = Op("l.fwd", "l", Phase.FWD, "linear", (Tensor("x", 64 * 32, 2),
                Tensor("wl", 32 * 16, 2)), (Tensor("yl", 64 * 16, 2),), gemm=Gemm(64, 16, 32))
    ops = [conv_op(p) for p in (Phase.FWD, Phase.BWD_DATA, Phase.BWD_WEIGHT)] + [linear]
    rows = {r["name"]: r for r in run(ops)["ops"]}
    assert rows["l.fwd"]["rcps"] == 0 and rows["l.fwd"]["products_issued"] > 0
    wgrad = rows["c.bwd_weight"]
    assert wgrad["rcps"] / wgrad["products_issued"] > 0.9
    assert all(r["cycles"] > 0 for r in rows.values())


def test_dense_operands_cost_more_than_sparse():
    """The same layer at density 1 issues 100x the products and takes longer: on the 8x8 grid
    a PE holds a 2x2 tile of the 16x16 plane, one activation chunk, against 16 x 9 = 144
    weights of the group (Kc = 1024 // 16 = 64 >= 16), 36 weight chunks per channel: 16 x 36
    = 576 pairs, one cycle each when the banks keep up, plus the last halo exchange of 192
    cycles (see the halo test). Sparse, the multipliers mostly idle on partial chunks."""
    sparse = run([conv_op(Phase.FWD, density=0.1)])["ops"][0]
    dense = run([conv_op(Phase.FWD, density=1.0)])["ops"][0]
    assert dense["products_issued"] == pytest.approx(100 * sparse["products_issued"], rel=0.01)
    assert dense["compute_cycles"] == 576 + 192
    assert dense["compute_cycles"] > 2 * sparse["compute_cycles"]


# -- the accumulator banks and their queues ------------------------------------------------------
def dnnsim_bank(k: int, row: int, col: int) -> int:
    """DNNsim's SCNN accumulator mapping for F = 4 and 32 banks (``map_accumulator`` in
    core/src/SCNN.cpp, transcribed): bit 4 = k2 ^ row1 ^ col1, bit 3 = row0, bit 2 = col0,
    bits 1..0 = k1..k0."""
    return ((((k & 4) << 2) ^ ((row & 2) << 3) ^ ((col & 2) << 3)) + ((row & 1) << 3)
            + ((col & 1) << 2) + (k & 3)) % 32


def test_bank_mapping_is_dnnsims_interleave():
    """For F = 4 and 32 banks the bank of every output (k, row, col) with k < 16 and row, col
    < 8 is DNNsim's; the 4 output channels of a weight chunk times a 2x2 output neighbourhood
    take 16 distinct banks, and a column of outputs spreads over 4 banks where a flat index
    modulo 32 on a 32-wide plane would put it in one."""
    k, row, col = np.meshgrid(np.arange(16), np.arange(8), np.arange(8), indexing="ij")
    expected = np.vectorize(dnnsim_bank)(k, row, col)
    assert (bank_of(k, row, col, 32, 4) == expected).all()
    assert len(set(bank_of(np.arange(4)[:, None], [0, 0, 1, 1], [0, 1, 0, 1], 32, 4).ravel())) \
        == 16
    assert len(set(bank_of(0, np.arange(32), 0, 32, 4).tolist())) == 4


def stepped_cycles(loads: list[dict[int, int]], queue_depth: int) -> int:
    """Cycle-by-cycle reference of one PE: each cycle the next chunk pair issues if no bank
    has more than ``queue_depth`` products waiting, its products join their banks' queues,
    then every non-empty bank takes one; done when all pairs issued and all queues empty."""
    queues: dict[int, int] = {}
    cycle, issued = 0, 0
    while issued < len(loads) or any(queues.values()):
        if issued < len(loads) and max(queues.values(), default=0) <= queue_depth:
            for bank, count in loads[issued].items():
                queues[bank] = queues.get(bank, 0) + count
            issued += 1
        queues = {bank: count - 1 for bank, count in queues.items() if count > 1}
        cycle += 1
    return cycle


def queued(loads: list[dict[int, int]], queue_depth: int) -> int:
    """Cycles of one PE's chunk pairs by the model (one stream)."""
    pair = [p for p, load in enumerate(loads) for _ in load]
    bank = [b for load in loads for b in load]
    count = [c for load in loads for c in load.values()]
    return int(issue_intervals(np.zeros(len(loads), int), np.array(pair, int),
                               np.array(bank, int), np.array(count, int), queue_depth).sum())


@pytest.mark.parametrize("depth", [0, 1, 4, 16])
def test_queue_hand_examples(depth):
    """By hand: 5 pairs of 16 products all to one bank take 16 cycles each at any queue depth
    (the bank accepts one update per cycle; the multipliers wait once its queue is full);
    5 pairs of 16 products on 16 distinct banks take 1 cycle each (multiplier-bound); pairs
    putting 2, 0, 2, 0 products on bank 0 take 2 + 1 + 2 + 1 = 6 cycles in lockstep (depth 0)
    and 4 with any queue (the bank's 4 updates and the 4 issues overlap)."""
    one_bank = [{0: 16}] * 5
    spread = [{bank: 1 for bank in range(16)}] * 5
    bursts = [{0: 2}, {}, {0: 2}, {}]
    assert queued(one_bank, depth) == stepped_cycles(one_bank, depth) == 80
    assert queued(spread, depth) == stepped_cycles(spread, depth) == 5
    assert queued(bursts, depth) == stepped_cycles(bursts, depth) == (6 if depth == 0 else 4)


def test_queue_model_matches_the_stepped_reference():
    """Random bank loads of 3 PEs (200 pairs each, up to 16 products on 32 banks, skewed to
    low banks) at depths 0, 2 and 8: per PE, the model's cycles equal the cycle-by-cycle
    reference, and they fall with depth between the banks' and multipliers' bound and the
    lockstep sum."""
    rng = np.random.default_rng(7)
    streams = [[dict(zip(*np.unique(rng.integers(0, 32, rng.integers(0, 17)) // 2,
                                    return_counts=True)))
                for _ in range(200)] for _ in range(3)]
    for depth in (0, 2, 8):
        stream = np.repeat(np.arange(3), 200)
        pair = [p for p, load in enumerate(sum(streams, [])) for _ in load]
        bank = [int(b) for load in sum(streams, []) for b in load]
        count = [int(c) for load in sum(streams, []) for c in load.values()]
        intervals = issue_intervals(stream, np.array(pair, int), np.array(bank, int),
                                    np.array(count, int), depth)
        per_pe = np.bincount(stream, weights=intervals).astype(int).tolist()
        assert per_pe == [stepped_cycles(loads, depth) for loads in streams], depth
        for loads, cycles in zip(streams, per_pe):
            busiest = max(sum(load.get(b, 0) for load in loads) for b in range(32))
            lockstep = sum(max(load.values(), default=1) for load in loads)
            assert max(len(loads), busiest) <= cycles <= lockstep


def test_dense_layer_reaches_its_multipliers():
    """A dense forward 3x3 conv, 64 -> 64 channels on 32x32 (ResNet-18-CIFAR's first stage):
    a PE holds a 4x4 tile (4 activation chunks); Kc = 1024 // 36 = 28 (a tile's reach is
    6x6), so groups of 28, 28 and 8 output channels have 63, 63 and 18 weight chunks per
    channel. The multiplier bound is 64 x 4 x (63 + 63 + 18) = 36,864 cycles; the halo
    exchanges (20 partial sums per output channel) overlap the next group but the last,
    20 x 8 = 160. The banks keep up: exactly 37,024 cycles, 95% of the 1,024 multipliers
    doing valid products (SCNN reports dense layers at about 0.79x of a dense accelerator of
    equal multipliers). A dense chunk pair (4 output channels at one tap, 4 activations of a
    tile row) has 16 outputs in distinct banks under the interleaved mapping, so even the
    lockstep array (queue depth 0) takes as long."""
    op = conv_op(Phase.FWD, cin=64, cout=64, size=32, density=1.0)
    (row,) = run([op])["ops"]
    assert row["compute_cycles"] == 36_864 + 160
    assert 0.9 < row["products_valid"] / (row["compute_cycles"] * 1024) <= 1.0
    (lockstep,) = run([op], accumulator_queue_depth=0)["ops"]
    assert lockstep["compute_cycles"] == row["compute_cycles"]


def test_dropping_tiles_keeps_product_figures_aligned():
    """TilePlan.without on an outer-product plan cuts the per-tile product figures with the
    tiles: the row figures of the kept tiles remain, the dropped tiles' MACs are skipped."""
    plan = lowered(conv_op(Phase.FWD, batch=2))
    assert len(plan) == 2 and len(plan["products_issued"]) == 2
    kept = plan.without(np.array([True, False]))
    assert kept.row_figures()["products_issued"] == int(plan["products_issued"][1])
    assert kept.macs_skipped == plan.macs_skipped + int(plan["macs"][0])
    assert all(len(values) == 1 for values in kept.columns.values())


def test_halo_exchange_overlaps_the_next_group():
    """Forward 3x3, pad 1, 16x16 plane on the 8x8 grid: a PE holds a 2x2 tile whose products
    reach 2 + 3 - 1 = 4 outputs per axis, of which it owns 2: 16 - 4 = 12 halo partial sums
    per output channel, one per cycle. With double-buffered accumulators a tile lasts
    max(its multiplier cycles, the previous tile's halo) and the last adds its own halo."""
    config = validate_hwconfig(copy.deepcopy(SCNN), "<test>")
    model = OuterProductModel(config.pe_array, 2, 4)
    op = conv_op(Phase.FWD, batch=2)
    geom = op_geometry(op)
    assert model.halo_cycles(geom, np.array([16])).tolist() == [192]
    tiles = model.tiles(op, {"ifmap": 1 << 20, "filter": 1 << 20, "ofmap": 1 << 20})
    first, last = tiles.compute_cycles.tolist()
    assert last == max(first, 192) + 192


def test_sampled_op_agrees_with_the_whole_op():
    """A forward conv too large for the chunk model's budget (64 channels of 32x32 against 16
    output channels at density 0.5: 2,304 products per plane pair, so 8 of the 64 channels are
    sampled and scaled by 8). Its products are the exact expectations, by hand
    0.25 * (1024 * 9) * 64 * 16 = 2,359,296 issued and 0.25 * (3*32 - 2)^2 * 1024 = 2,262,016
    valid. Its multiplier cycles (the tile's cycles less its halo exchange, 16 output channels
    x (6*6 - 4*4) partial sums at one per cycle = 320) agree within 3% with the slowest PE of
    the chunk model run on all 64 channels (no sampling), averaged over three draws of random
    masks of the same density (the draws themselves differ by up to 4%). Scaling the busiest
    sampled PE by 8 instead would overstate it by about 10%."""
    op = conv_op(Phase.FWD, cin=64, cout=16, size=32, density=0.5)
    (row,) = run([op])["ops"]
    assert row["products_issued"] == 2_359_296
    assert row["products_valid"] == 2_262_016
    slowest = []
    for seed in range(3):
        rng = np.random.default_rng(100 + seed)
        a = rng.random((64, 32, 32)) < 0.5
        b = np.broadcast_to(rng.random((64, 16, 3, 3)) < 0.5, (64, 16, 3, 3))
        whole = chunk_model(a, b, op_geometry(op).axes, f=4, i=4, banks=32, grid=(8, 8),
                            queue_depth=4)
        slowest.append(whole.pe_cycles().max())
    assert row["compute_cycles"] - 320 == pytest.approx(np.mean(slowest), rel=0.03)


def test_per_axis_stride_and_dilation():
    """A traced convolution records stride and padding per axis: a [2, 1]-strided 3x3 conv
    on 16x16 (pad [1, 0]) has an 8 x 14 output, so its forward axes divide by 2 on the height
    and by 1 on the width. A dilated conv is not a plain outer-product convolution: it runs as
    a sparse matrix product (every product valid)."""
    op = conv_op(Phase.FWD)
    op.attrs.update(stride=[2, 1], pad=[1, 0], ho=8, wo=14)
    height, width = op_geometry(op).axes
    assert (height.divisor, height.offset, height.out_size) == (2, 1, 8)
    assert (width.divisor, width.offset, width.out_size) == (1, 0, 14)
    dilated = conv_op(Phase.FWD)
    dilated.attrs["dilation"] = [2, 2]
    assert not op_geometry(dilated).conv


# -- DNNsim's SCNN model on the same masks -------------------------------------------------------
def _dnnsim_compare():
    spec = importlib.util.spec_from_file_location("dnnsim_compare",
                                                  ROOT / "scripts" / "dnnsim_compare.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_forward_cycles_against_dnnsim_goldens():
    """DNNsim's SCNN cycles (tests/golden/dnnsim_scnn/cycles.json, with provenance) of 7
    ResNet-18-CIFAR layers, dense and Top-K, on the masks stored beside them. DNNsim differs
    from accelsim in four documented ways: it tiles the zero-padded input rounded up to the
    grid, runs chunk pairs in lockstep (no bank queues), synchronises the PEs after every
    input channel and pre-filters strided products by phase. With the first three aligned
    (accelsim's chunk pairs on DNNsim's tiling, queue depth 0, per-channel maxima), every
    stride-1 layer's multiplier cycles (DNNsim's cycles less its halo, ``idle_halo`` over the
    1,024 multipliers) equal DNNsim's exactly; strided layers cost DNNsim fewer cycles (it
    never issues off-stride products). The bank queues never cost cycles."""
    compare = _dnnsim_compare()
    golden = ROOT / "tests" / "golden" / "dnnsim_scnn"
    samples = json.loads((golden / "cycles.json").read_text())["samples"]
    layers = compare.saved_layers(golden / "masks.npz")
    cycles = {tuple(key.split("/")): value for key, value in samples.items()}
    rows = compare.table(layers, cycles)
    assert len(rows) == 14
    for row in rows:
        key = (row["layer"], row["density"])
        assert row["dnnsim_tiling"] <= row["lockstep"], key
        if layers[row["layer"]]["stride"] == 1:
            assert row["lockstep_barrier"] == row["dnnsim_multipliers"], key
        else:
            assert row["dnnsim_multipliers"] < row["lockstep"], key


def test_dnnsim_inputs_and_report(tmp_path):
    """A layer written for DNNsim: model.csv names it with stride and padding, the traces are
    0/1 float32 arrays of the masks' shapes; a cycles report in DNNsim's layout reads back per
    layer and sample, stopping at the next section."""
    x = np.zeros((2, 3, 5, 5), dtype=bool)
    x[0, 1, 2, 3] = True
    w = np.ones((4, 3, 3, 3), dtype=bool)
    write_layer(tmp_path, "net", "c1", x, w, stride=2, pad=1)
    assert (tmp_path / "models/net/model.csv").read_text() == "c1,conv,2,1\n"
    act = np.load(tmp_path / "net_traces/net/act-c1-0.npy")
    wgt = np.load(tmp_path / "net_traces/net/wgt-c1.npy")
    assert act.dtype == wgt.dtype == np.float32 and act.shape == (2, 3, 5, 5)
    assert act.sum() == 1 and act[0, 1, 2, 3] == 1 and wgt.shape == (4, 3, 3, 3)
    report = tmp_path / "report.csv"
    report.write_text("SCNN Number of Cycles for net\n\n\nPer sample scalar results:\n"
                      "Layer,Sample,cycles,idle_halo\nc1,0,418,40960\nc1,1,420,40960\n\n"
                      "Layer scalar results:\nLayer,Sample,cycles,idle_halo\nc1,ALL,419,40960\n")
    assert read_samples(report) == {"c1": {"cycles": [418, 420], "idle_halo": [40960, 40960]}}
    with pytest.raises(ValueError, match="masks of a 2-D convolution"):
        write_layer(tmp_path, "net", "c1", x[0], w, stride=1, pad=0)
