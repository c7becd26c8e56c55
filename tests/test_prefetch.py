"""Prefetch across ops: the next op's first tile loads while the op before it computes.

Two 64x64x64 fp16 GEMMs on an 8x8 array, operands over a 16 B/cycle DRAM with no latency: the
cycles saved are the first tile's load time, derived by hand from the bytes prefetched.
"""

from __future__ import annotations

import numpy as np

from accelsim.plan import TilePlan
from accelsim.sim.engine import Simulation
from accelsim.sim.prefetch import first_tile_ready_bytes
from accelsim.workload.graph import Workload
from accelsim.workload.op import Gemm, Op, Phase, Tensor
from tests.conftest import make_config

FP16 = 2
N = 64
BANDWIDTH = 16  # B/cycle


def gemm(name: str, a: str, b: str, out: str) -> Op:
    return Op(name, name, Phase.FWD, "linear", reads=(Tensor(a, N * N, FP16),
                                                     Tensor(b, N * N, FP16)),
              writes=(Tensor(out, N * N, FP16),), gemm=Gemm(N, N, N))


def run(ops: list[Op], prefetch: str, **extra):
    config = make_config(ideal=False, dram_bandwidth=f"{BANDWIDTH}B/cycle", prefetch=prefetch,
                         **extra)
    result = Simulation(config, Workload("two", ops)).run().data
    return result, {row["name"]: row for row in result["ops"]}


def test_the_next_ops_first_tile_loads_while_the_op_before_computes():
    ops = [gemm("first", "x1", "w1", "y1"), gemm("second", "x2", "w2", "y2")]
    plain, _ = run(ops, "none")
    early, rows = run(ops, "across_ops")
    early_bytes = rows["second"]["prefetched_bytes"]
    assert early_bytes > 0
    # the second op's first tile loaded while the first op computed: the iteration saves its
    # load time (the tile's bytes at 16 B/cycle), less what it queued behind the first op's
    # last transfers
    saved = plain["total_cycles"] - early["total_cycles"]
    assert 0 < saved <= early_bytes / BANDWIDTH
    assert rows["second"]["stalls"]["dram_bandwidth"] < \
        {r["name"]: r for r in plain["ops"]}["second"]["stalls"]["dram_bandwidth"]
    assert plain["dram_bytes"] == early["dram_bytes"]  # the same bytes move either way


def test_an_input_still_being_produced_is_not_prefetched():
    # the second op reads the first's output: only its weights load early
    independent = [gemm("first", "x1", "w1", "y1"), gemm("second", "x2", "w2", "y2")]
    chained = [gemm("first", "x1", "w1", "y1"), gemm("second", "y1", "w2", "y2")]
    residency = {"policy": "none"}
    _, both = run(independent, "across_ops", residency=residency)
    plain, _ = run(chained, "none", residency=residency)
    early, weights_only = run(chained, "across_ops", residency=residency)
    first_tile = both["second"]["prefetched_bytes"]
    weights = weights_only["second"]["prefetched_bytes"]
    assert 0 < weights < first_tile  # the filter block of the first tile, not the ifmap's
    assert plain["total_cycles"] - early["total_cycles"] == weights / BANDWIDTH


def test_only_operands_in_dram_are_ready():
    op = gemm("g", "produced_elsewhere", "weights", "out")
    plan = TilePlan.build("pe_array", compute_cycles=np.array([10, 10]),
                          loads={"buf": np.array([48, 48])}, stores={}, access={},
                          fetches={"ifmap": np.array([32, 32]), "filter": np.array([16, 16]),
                                   "ofmap": np.array([0, 8])})
    ready = first_tile_ready_bytes(op, plan, lambda name: name == "weights")
    assert ready == {"filter": 16}


def test_prefetch_defaults_to_on_only_with_double_buffering():
    assert make_config().resolved_prefetch == "across_ops"
    assert make_config(double_buffered=False).resolved_prefetch == "none"
