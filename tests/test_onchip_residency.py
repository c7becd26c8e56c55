"""Tensors that stay on chip between ops, through the whole engine, on hand-built graphs.

Expected bytes are derived by hand from the tensor sizes and the buffers (the residency pool is
the half of the buffers the tiles leave, by default).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from accelsim.sim.engine import Simulation
from accelsim.workload.graph import Workload
from accelsim.workload.op import Gemm, Op, Phase, Tensor
from tests.conftest import make_config

FP16 = 2


def gemm_op(name: str, m: int, n: int, k: int, a: str, b: str, out: str,
            phase: Phase = Phase.FWD) -> Op:
    return Op(name, name, phase, "linear",
              reads=(Tensor(a, m * k, FP16), Tensor(b, k * n, FP16)),
              writes=(Tensor(out, m * n, FP16),), gemm=Gemm(m, n, k))


def vector_op(name: str, reads: list[Tensor], out: Tensor, phase: Phase = Phase.FWD) -> Op:
    return Op(name, name, phase, "relu", tuple(reads), (out,), elements=out.elements,
              vector_ops=1.0)


def run(ops: list[Op], policy: str = "liveness", capacity: str = "64MiB", **residency):
    config = make_config(capacity=capacity, residency={"policy": policy, **residency})
    result = Simulation(config, Workload("hand", ops)).run()
    return result.data, {row["name"]: row for row in result.data["ops"]}


def test_a_produced_tensor_that_fits_never_touches_dram():
    c = Tensor("c", 64 * 64, FP16)  # 8 KiB
    ops = [gemm_op("g", 64, 64, 64, "a", "b", "c"),
           vector_op("relu", [c], Tensor("d", c.elements, FP16))]
    data, rows = run(ops)
    assert rows["g"]["dram_bytes_written"] == 0
    assert rows["g"]["onchip_bytes_kept"] == c.bytes
    assert rows["relu"]["dram_bytes_read"] == 0
    assert rows["relu"]["onchip_bytes_read"] == c.bytes
    assert rows["relu"]["dram_bytes_written"] == c.bytes  # d: nobody reads it, it must persist
    # the vector unit reads c out of the SRAM: 1024 64-bit SRAM accesses
    ofmap = data["sram"]["ofmap"]
    assert data["energy_pj"]["by_component"]["sram.ofmap"]["vector_exchange"] == \
        c.bytes / 8 * ofmap["access_energy_pj_per_64b"]
    # the same graph without residency moves c out and back in
    _, rows = run(ops, policy="none")
    assert rows["g"]["dram_bytes_written"] == c.bytes
    assert rows["relu"]["dram_bytes_read"] == c.bytes


def test_a_produced_tensor_that_does_not_fit_moves_exactly_its_spilled_bytes():
    c = Tensor("c", 256 * 256, FP16)  # 128 KiB, more than the 3 x 32 KiB of buffers
    ops = [gemm_op("g", 256, 256, 64, "a", "b", "c"),
           vector_op("relu", [c], Tensor("d", c.elements, FP16))]
    data, rows = run(ops, capacity="32KiB")
    onchip = data["onchip"]
    pool = 3 * 32 * 1024 // 2  # half of the three 32 KiB buffers (the default tile share)
    assert onchip["pool_bytes"] == pool
    assert onchip["peak_tile_bytes"] <= onchip["working_bytes"] == pool
    spilled = c.bytes - pool
    assert rows["g"]["dram_bytes_written"] == spilled
    assert rows["relu"]["dram_bytes_read"] == spilled
    assert rows["relu"]["onchip_bytes_read"] == pool
    assert onchip["peak_resident_bytes"] == pool


def test_an_activation_needed_in_the_backward_pass_is_written_back_once():
    # g produces act (64 KiB); a chain of 64 KiB vector ops follows, each output read right
    # away, so they displace act; bwd reads act and the chain's end (the saved activations)
    act = Tensor("act", 128 * 256, FP16)
    ops = [gemm_op("g", 128, 256, 64, "x", "w", "act")]
    previous = act
    for i in range(4):
        h = Tensor(f"h{i}", act.elements, FP16)
        ops.append(vector_op(f"f{i}", [previous], h))
        previous = h
    ops.append(vector_op("bwd", [act, previous], Tensor("grad", act.elements, FP16),
                         phase=Phase.BWD_DATA))
    data, rows = run(ops, capacity="48KiB")
    saved = data["dram_bytes_by_class"]["saved_activations"]
    assert saved["written"] > 0  # the pool cannot hold act and the chain: some of act spilled
    assert saved["written"] == saved["read"]  # what left the chip comes back once
    assert saved["read"] + rows["bwd"]["onchip_bytes_read"] == 2 * act.bytes  # bwd reads both
    assert saved["written"] <= 2 * act.bytes  # no byte written twice


def test_dram_traffic_is_split_by_tensor_class():
    # fwd GEMM (weights w, input x), a saved activation read by a backward GEMM
    act = Tensor("act", 64 * 64, FP16)
    ops = [gemm_op("fwd", 64, 64, 64, "x", "w", "act"),
           gemm_op("bwd", 64, 64, 64, "act", "dy", "dw", phase=Phase.BWD_WEIGHT)]
    data, _ = run(ops, policy="none")
    by_class = data["dram_bytes_by_class"]
    assert by_class["weights"]["read"] == 64 * 64 * FP16
    assert by_class["saved_activations"] == {"read": act.bytes, "written": act.bytes}
    assert by_class["gradients"]["written"] == 64 * 64 * FP16  # dw
    total = sum(v["read"] + v["written"] for v in by_class.values())
    assert total == data["dram_bytes"]["total"]


def test_residency_runs_are_deterministic():
    c = Tensor("c", 256 * 256, FP16)
    ops = [gemm_op("g", 256, 256, 64, "a", "b", "c"),
           vector_op("relu", [c], Tensor("d", c.elements, FP16))]
    first, _ = run(ops, capacity="32KiB", policy="lru")
    second, _ = run(ops, capacity="32KiB", policy="lru")
    assert json.dumps(first, sort_keys=True) == json.dumps(second, sort_keys=True)


def one_channel(nbytes):
    """The address pattern of contiguous transfers on a one-channel DRAM: one row visit."""
    return np.ones(len(nbytes)), np.ones(len(nbytes))


def test_partial_sum_spills_stay_when_the_output_stays_on_chip():
    """A plan whose first tile spills 100 bytes of partial sums (no finished outputs) and whose
    second tile drains the 50 finished bytes: with the whole output kept on chip, only the
    finished bytes leave the drain; the spill, which the reduction reads back, stays."""
    from accelsim.plan import TilePlan
    from accelsim.sim.onchip import serve_on_chip
    from accelsim.sim.residency import OpResidency

    op = gemm_op("g", 5, 5, 8, "a", "b", "c")  # c: 25 fp16 elements, 50 bytes
    plan = TilePlan.build("pe_array", compute_cycles=np.array([10, 10]), outputs=np.array([0, 25]),
                          loads={"buf": np.array([16, 16])}, stores={"buf": np.array([100, 50])},
                          access={}, fetches={"ifmap": np.array([8, 8]),
                                              "filter": np.array([8, 8])},
                          drains={"ofmap": np.array([100, 50])})
    use = OpResidency(dram_reads={"a": 80, "b": 80}, dram_writes={})
    served, figures = serve_on_chip(plan, op, use, {"ifmap": "buf", "filter": "buf",
                                                    "ofmap": "buf"}, one_channel)
    assert served.drains["ofmap"].tolist() == [100, 0]
    assert served.stores["buf"].tolist() == [100, 0]
    assert figures.kept_on_chip == 50


def test_a_write_back_keeps_its_own_channel_spread():
    """A tile that stores 64 B on one channel and writes back 64 KiB of an evicted tensor,
    which spreads over 16 channels: the tile's stores are busy on (64 + 65,536) /
    (64 / 1 + 65,536 / 16) = 15.77 channels, not on the one of its own small store, and make
    the two transfers' row visits (1 + 4)."""
    from accelsim.plan import TilePlan
    from accelsim.sim.onchip import serve_on_chip
    from accelsim.sim.residency import OpResidency

    op = vector_op("v", [Tensor("x", 32, FP16)], Tensor("y", 32, FP16))
    plan = TilePlan.build("vector", compute_cycles=np.array([10]), loads={"vec": np.array([64])},
                          stores={"vec": np.array([64])}, access={},
                          fetches={"input": np.array([64])}, drains={"output": np.array([64])},
                          store_visits=np.array([1.0]), store_channels=np.array([1.0]),
                          load_visits=np.array([1.0]), load_channels=np.array([1.0]))
    use = OpResidency(dram_reads={"x": 64}, dram_writes={"y": 64},
                      writebacks={"evicted": 65536})
    served, figures = serve_on_chip(plan, op, use, {"input": "vec", "output": "vec"},
                                    lambda b: (np.full(len(b), 4.0), np.full(len(b), 16.0)))
    assert served.stores["vec"].tolist() == [64 + 65536]
    assert served["store_channels"][0] == pytest.approx(65600 / (64 + 65536 / 16))
    assert served["store_visits"].tolist() == [5.0]
    assert figures.written_back == 65536
