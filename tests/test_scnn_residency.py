"""Activations kept in an outer-product array's activation RAMs between ops, on hand-built
two-layer graphs.

The figures are derived by hand. A small SCNN-like array (2 x 2 PEs of 2 x 2 multipliers) at
operand density 0.5 with 4-bit indices stores a non-zero in 2 + 0.5 bytes: 1.25 bytes per
element of an operand. Each layer is a 3x3 convolution (pad 1) of 4 -> 4 channels on one
16 x 16 image:

* x, y1, y2: 4 * 256 elements = 2048 bytes dense; compressed 1024 * 1.25 = 1280 bytes (the A
  operand fetched once, the outputs drained, and the bytes they take on chip);
* w: 4 * 4 * 9 = 144 weights, compressed 144 * 1.25 = 180 bytes (the B operand);
* a weight gradient's dY (B operand, 4 planes of 256): 1280 bytes; its dW leaves dense at
  the 4-byte accumulator width, and stays on chip so: 144 * 4 = 576 bytes.

The activation RAMs (``iaram``, ``ifmap``; ``oaram``, ``ofmap``; not double-buffered) give
``capacity - int(capacity * tile_share)`` each to the pool; the weight FIFO buffer streams
and gives nothing.
"""

from __future__ import annotations

import pytest
import simpy

from accelsim.config.loader import validate_hwconfig
from accelsim.hw.system import System
from accelsim.sim.engine import Simulation
from accelsim.workload.graph import Workload
from accelsim.workload.op import Gemm, Op, Phase, Tensor

SIZE, CHANNELS = 16, 4
ELEMENTS = CHANNELS * SIZE * SIZE  # 1024 per activation tensor
ATTRS = {"cin": CHANNELS, "cout": CHANNELS, "h": SIZE, "w": SIZE, "r": 3, "s": 3,
         "stride": 1, "pad": 1, "ho": SIZE, "wo": SIZE}
ACT = 1280  # compressed activation bytes
W = 180  # compressed weight bytes
DW = CHANNELS * CHANNELS * 9 * 4  # 576: a weight gradient at accumulator width


def config(capacity: int, tile_share: float, policy: str = "liveness"):
    """The small SCNN-like array with activation RAMs of ``capacity`` bytes each."""
    return validate_hwconfig({
        "name": "small_outer_product", "clock": "1GHz",
        "pe_array": {"kind": "outer_product", "rows": 2, "cols": 2, "multipliers_f": 2,
                     "multipliers_i": 2, "accumulator_banks": 32, "accumulator_entries": 32,
                     "index_bits": 4, "operand_density": 0.5, "datatype": "fp16",
                     "accumulator": "fp32"},
        "sram": {
            "iaram": {"capacity": capacity, "holds": ["ifmap"], "bandwidth": "64B/cycle",
                      "double_buffered": False},
            "weights": {"capacity": "1KiB", "holds": ["filter"], "bandwidth": "8B/cycle",
                        "double_buffered": True},
            "oaram": {"capacity": capacity, "holds": ["ofmap"], "bandwidth": "64B/cycle",
                      "double_buffered": False}},
        "dram": {"ideal": True, "bandwidth": "64B/cycle", "latency": "0ns",
                 "access_energy_pj_per_64b": 250},
        "interconnect": {"bandwidth": "64B/cycle", "latency": "0cycles"},
        "vector_unit": {"lanes": 16, "buffer": "64KiB"},
        "residency": {"policy": policy, "tile_share": tile_share, "keep_fetched": False},
    }, "<test>")


def conv(name: str, phase: Phase, reads: tuple[Tensor, Tensor], out: Tensor) -> Op:
    gemm = {Phase.FWD: Gemm(SIZE * SIZE, CHANNELS, CHANNELS * 9),
            Phase.BWD_WEIGHT: Gemm(CHANNELS, CHANNELS * 9, SIZE * SIZE)}[phase]
    return Op(f"{name}.{phase}", name, phase, "conv", reads, (out,), gemm=gemm, attrs=ATTRS)


def act(name: str) -> Tensor:
    return Tensor(name, ELEMENTS, 2)


def weights(name: str) -> Tensor:
    return Tensor(name, CHANNELS * CHANNELS * 9, 2)


def two_layers() -> list[Op]:
    """conv1: x, w1 -> y1; conv2: y1, w2 -> y2 (nobody reads y2)."""
    y1 = act("y1")
    return [conv("conv1", Phase.FWD, (act("x"), weights("w1")), y1),
            conv("conv2", Phase.FWD, (y1, weights("w2")), act("y2"))]


def run(ops: list[Op], capacity: int, tile_share: float, policy: str = "liveness"):
    result = Simulation(config(capacity, tile_share, policy), Workload("hand", ops)).run()
    return result.data, {row["name"]: row for row in result.data["ops"]}


def test_pool_by_hand():
    """Pool: two 4 KiB activation RAMs at a 0.5 tile share give 2 x 2048 bytes; the weight
    FIFOs (1 KiB, double-buffered: two slots of 512, one used since the RAMs are single
    buffers) give nothing."""
    data, _ = run(two_layers(), 4096, 0.5)
    onchip = data["onchip"]
    assert onchip["pool_bytes"] == 2 * 2048
    assert onchip["working_bytes"] == 2048 + 512 + 2048
    assert onchip["peak_resident_bytes"] == ACT  # y1, compressed


def test_an_activation_that_fits_the_activation_rams_never_touches_dram():
    data, rows = run(two_layers(), 4096, 0.5)
    assert rows["conv1.fwd"]["dram_bytes_read"] == ACT + W
    assert rows["conv1.fwd"]["dram_bytes_written"] == 0  # y1 stays in the OARAM
    assert rows["conv1.fwd"]["onchip_bytes_kept"] == ACT
    assert rows["conv2.fwd"]["dram_bytes_read"] == W  # only its weights stream in
    assert rows["conv2.fwd"]["onchip_bytes_read"] == ACT
    assert rows["conv2.fwd"]["dram_bytes_written"] == ACT  # y2: nobody reads it, it persists
    assert data["sram"]["iaram"]["filled_bytes"] == ACT  # x only
    # without residency y1 goes out and comes back
    _, rows = run(two_layers(), 4096, 0.5, policy="none")
    assert rows["conv1.fwd"]["dram_bytes_written"] == ACT
    assert rows["conv2.fwd"]["dram_bytes_read"] == ACT + W


def test_an_activation_that_does_not_fit_moves_exactly_its_spilled_bytes():
    """Activation RAMs of 2560 bytes at a 0.875 tile share: a pool of 2 x 320 = 640 bytes,
    half of y1's 1280 on-chip bytes: half stays, half spills, so conv1 writes and conv2 reads
    back half of y1's 1280 compressed bytes."""
    data, rows = run(two_layers(), 2560, 0.875)
    assert data["onchip"]["pool_bytes"] == 640
    spilled = ACT // 2
    assert rows["conv1.fwd"]["dram_bytes_written"] == spilled
    assert rows["conv1.fwd"]["onchip_bytes_kept"] == ACT - spilled
    assert rows["conv2.fwd"]["dram_bytes_read"] == W + spilled
    assert rows["conv2.fwd"]["onchip_bytes_read"] == ACT - spilled
    assert data["onchip"]["peak_resident_bytes"] == 640


def test_a_weight_gradient_reads_its_activation_from_the_activation_ram():
    """A weight gradient's GEMM reads dY then x; the array takes x as its A operand, held in
    the IARAM, and dY as its B operand, streamed through the weight FIFOs. With y1 kept, the
    IARAM is filled only with conv1's x, and the weight buffer with w1 and dY."""
    y1, dy = act("y1"), act("dy")
    ops = [conv("conv1", Phase.FWD, (act("x"), weights("w1")), y1),
           conv("conv2", Phase.BWD_WEIGHT, (dy, y1), weights("w2.grad"))]
    data, rows = run(ops, 4096, 0.5)
    wgrad = rows["conv2.bwd_weight"]
    assert wgrad["dram_bytes_read"] == ACT  # dY only
    assert wgrad["onchip_bytes_read"] == ACT  # y1, from chip
    assert wgrad["dram_bytes_written"] == DW
    assert data["sram"]["iaram"]["filled_bytes"] == ACT
    assert data["sram"]["weights"]["filled_bytes"] == W + ACT


def update(gradient: Tensor) -> Op:
    """A vector op reading a weight gradient (an optimizer step) and writing new weights."""
    out = Tensor("w2.next", gradient.elements, 2)
    return Op("w2.update", "conv2", Phase.UPDATE, "sgd", (gradient,), (out,),
              elements=gradient.elements, vector_ops=1.0)


@pytest.mark.parametrize("capacity, share, kept", [(4096, 0.5, DW), (2048, 0.875, 512)])
def test_a_weight_gradient_stays_at_accumulator_width(capacity, share, kept):
    """dW (144 weights) takes 576 bytes on chip, not its 288 fp16 bytes: a pool of 2 x 2048
    keeps it whole; a pool of 2 x (2048 - 1792) = 512 keeps 512 of 576, so the weight gradient
    writes the other 64 of its 576 bytes and the update reads the same share, 64 / 576, of
    its 288 fp16 bytes (32) from DRAM."""
    grad = Tensor("w2.grad", CHANNELS * CHANNELS * 9, 2)
    ops = [conv("conv2", Phase.BWD_WEIGHT, (act("dy"), act("x")), grad), update(grad)]
    data, rows = run(ops, capacity, share)
    assert data["onchip"]["peak_resident_bytes"] == kept
    assert rows["conv2.bwd_weight"]["dram_bytes_written"] == DW - kept
    assert rows["w2.update"]["dram_bytes_read"] == grad.bytes * (DW - kept) // DW


def test_stored_bytes_by_hand():
    """The array's on-chip bytes per element: an op's own densities (A 0.25, B 0.5) give
    0.25 * 2.5 = 0.625 and 0.5 * 2.5 = 1.25; its outputs follow A's density; a weight
    gradient's output is dense at 4 bytes; a tensor only a vector op touches is not named."""
    linear = Op("fc.fwd", "fc", Phase.FWD, "linear", (Tensor("a", 64, 2), Tensor("b", 64, 2)),
                (Tensor("c", 64, 2),), gemm=Gemm(8, 8, 8), attrs={"density": {"a": 0.25,
                                                                              "b": 0.5}})
    grad = Tensor("w.grad", 144, 2)
    ops = [linear, conv("conv", Phase.BWD_WEIGHT, (act("dy"), act("x")), grad), update(grad)]
    system = System(config(4096, 0.5), simpy.Environment())
    assert system.pe_array.stored_bytes_per_element(ops) == {
        "a": 0.625, "b": 1.25, "c": 0.625, "x": 1.25, "dy": 1.25, "w.grad": 4.0}
