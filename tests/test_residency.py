"""The residency plan on hand-built graphs: bytes that stay on chip, spill, and are written back.

Every expected figure is derived by hand from the graph and the pool size in the test.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accelsim.sim.residency import plan_residency
from accelsim.workload.op import Op, Phase, Tensor

KIB = 1024


def t(name: str, nbytes: int) -> Tensor:
    return Tensor(name, nbytes, 1)


def op(name: str, reads=(), writes=(), phase=Phase.FWD, overwrites=()) -> Op:
    return Op(name, name, phase, "elementwise", tuple(reads), tuple(writes), elements=1,
              vector_ops=1.0, overwrites=tuple(overwrites))


def pool(nbytes: int):
    return lambda _op: nbytes


def dram_traffic(plan, name: str) -> tuple[int, int]:
    """(bytes of ``name`` read from DRAM, bytes of it written to DRAM) over the whole plan."""
    reads = sum(u.dram_reads.get(name, 0) for u in plan.ops.values())
    writes = sum(u.dram_writes.get(name, 0) + u.writebacks.get(name, 0)
                 for u in plan.ops.values())
    return reads, writes


def test_a_tensor_that_fits_never_goes_to_dram():
    x, y, z = t("x", 4 * KIB), t("y", 64 * KIB), t("z", 4 * KIB)
    ops = [op("produce", [x], [y]), op("consume", [y], [z])]
    plan = plan_residency(ops, pool(1024 * KIB))
    plan.check(ops)
    assert dram_traffic(plan, "y") == (0, 0)
    assert plan.ops["consume"].sram_reads == {"y": 64 * KIB}
    # x is an input (in DRAM) and z an output nobody reads (it must reach DRAM)
    assert dram_traffic(plan, "x") == (4 * KIB, 0)
    assert dram_traffic(plan, "z") == (0, 4 * KIB)


def test_a_tensor_that_does_not_fit_moves_exactly_its_spilled_bytes():
    x, y, z = t("x", 1 * KIB), t("y", 100 * KIB), t("z", 1 * KIB)
    ops = [op("produce", [x], [y]), op("consume", [y], [z])]
    plan = plan_residency(ops, pool(60 * KIB), keep_reads=False)
    plan.check(ops)
    # 60 KiB of y stay; the other 40 KiB are written by the producer and read by the consumer
    assert plan.ops["produce"].dram_writes["y"] == 40 * KIB
    assert plan.ops["consume"].dram_reads["y"] == 40 * KIB
    assert plan.ops["consume"].sram_reads["y"] == 60 * KIB
    assert dram_traffic(plan, "y") == (40 * KIB, 40 * KIB)


def test_an_activation_kept_for_backward_is_written_back_once():
    # fwd: in -> act -> h1 -> h2 -> h3; bwd reads h3 and act. The 64 KiB pool holds one 50 KiB
    # activation and 14 KiB more: h1 (needed sooner) pushes 36 KiB of act out, written back
    # then; the other 14 KiB of act stay on chip until bwd (later h's displace the dead h's).
    size = 50 * KIB
    act = t("act", size)
    ops = [op("fwd0", [t("in", size)], [act])]
    previous = act
    for i in range(1, 4):
        h = t(f"h{i}", size)
        ops.append(op(f"fwd{i}", [previous], [h]))
        previous = h
    ops.append(op("bwd", [previous, act], [t("grad", size)], phase=Phase.BWD_DATA))
    plan = plan_residency(ops, pool(64 * KIB), keep_reads=False)
    plan.check(ops)
    reads, writes = dram_traffic(plan, "act")
    assert writes == 36 * KIB  # once: the evicted bytes, at their eviction
    assert plan.ops["fwd1"].writebacks == {"act": 36 * KIB}
    assert reads == 36 * KIB  # the backward op reads those back ...
    assert plan.ops["bwd"].sram_reads["act"] == 14 * KIB  # ... and the rest from chip
    # the chain h1 -> h2 -> h3 passes on chip (each fits, read right after it is produced)
    for name in ("h1", "h2"):
        assert dram_traffic(plan, name) == (0, 0)


def test_an_activation_that_can_stay_until_backward_is_never_written():
    size = 50 * KIB
    act = t("act", size)
    ops = [op("fwd0", [t("in", size)], [act]), op("fwd1", [act], [t("h", size)]),
           op("bwd", [t("h", size), act], [t("grad", size)], phase=Phase.BWD_DATA)]
    plan = plan_residency(ops, pool(200 * KIB))
    assert dram_traffic(plan, "act") == (0, 0)


def test_liveness_keeps_the_sooner_needed_tensor_and_lru_the_more_recent():
    # a (read at op 4) and b (read at op 2) compete for a pool that holds one of them
    size = 10 * KIB
    a, b = t("a", size), t("b", size)
    ops = [op("make_a", [], [a]), op("make_b", [], [b]), op("use_b", [b], [t("c", 1)]),
           op("spacer", [t("w", 1)], [t("d", 1)]), op("use_a", [a], [t("e", 1)])]
    liveness = plan_residency(ops, pool(size), policy="liveness", keep_reads=False)
    lru = plan_residency(ops, pool(size), policy="lru", keep_reads=False)
    # liveness: a is kept until b arrives, then b (sooner) displaces a (written back); b on chip
    assert dram_traffic(liveness, "b") == (0, 0)
    assert dram_traffic(liveness, "a") == (size, size)
    # lru: b displaces a as well, but dead b is then written back when it is flushed at the end
    assert dram_traffic(lru, "a") == (size, size)
    assert dram_traffic(lru, "b")[1] == size


def test_a_tensor_replaced_in_place_loses_its_stale_copy():
    w = t("w", 8 * KIB)
    ops = [op("fwd", [w, t("x", 8)], [t("y", 8)]),
           op("update", [w, t("g", 8)], [t("w.next", 8 * KIB)], phase=Phase.UPDATE,
              overwrites=["w"]),
           op("next_read", [w], [t("z", 8)])]
    plan = plan_residency(ops, pool(1024 * KIB))
    assert plan.ops["update"].sram_reads.get("w") == 8 * KIB  # kept after the fwd read
    assert plan.ops["next_read"].dram_reads == {"w": 8 * KIB}  # the stale copy is gone


def test_unknown_policy_is_refused():
    with pytest.raises(ValueError, match="liveness"):
        plan_residency([], pool(1), policy="fifo")


# -- properties over random graphs ---------------------------------------------------------

@st.composite
def graphs(draw):
    """Random chains with skip connections: op i reads up to two earlier outputs or inputs."""
    count = draw(st.integers(1, 12))
    sizes = draw(st.lists(st.integers(1, 64), min_size=count, max_size=count))
    ops, produced = [], [t("input", draw(st.integers(1, 64)))]
    for i in range(count):
        reads = draw(st.lists(st.sampled_from(produced), min_size=1, max_size=2, unique=True))
        out = t(f"o{i}", sizes[i])
        ops.append(op(f"op{i}", reads, [out]))
        produced.append(out)
    return ops


@settings(max_examples=200, deadline=None)
@given(ops=graphs(), capacity=st.integers(0, 256), policy=st.sampled_from(["liveness", "lru"]),
       keep_reads=st.booleans())
def test_every_byte_balances_and_the_pool_holds(ops, capacity, policy, keep_reads):
    plan = plan_residency(ops, pool(capacity), policy=policy, keep_reads=keep_reads)
    plan.check(ops)
    assert plan.peak_resident_bytes <= capacity
    size = {w.name: w.bytes for o in ops for w in o.writes}
    written = dict.fromkeys(size, 0)
    for o in ops:  # no produced byte is read from DRAM before it reached DRAM
        use = plan.ops[o.name]
        for r in o.reads:
            if r.name in size:
                assert use.dram_reads.get(r.name, 0) <= written[r.name]
        for name in size:
            written[name] += use.dram_writes.get(name, 0) + use.writebacks.get(name, 0)
    for name, nbytes in size.items():  # and none is written twice
        assert written[name] <= nbytes
    # zero pool: the traffic of an engine without residency
    if capacity == 0:
        for o in ops:
            assert plan.ops[o.name].dram_reads == {r.name: r.bytes for r in o.reads}
    assert plan == plan_residency(ops, pool(capacity), policy=policy, keep_reads=keep_reads)


@settings(max_examples=100, deadline=None)
@given(ops=graphs(), policy=st.sampled_from(["liveness", "lru"]))
def test_an_unbounded_pool_reads_each_input_once_and_writes_only_final_outputs(ops, policy):
    plan = plan_residency(ops, pool(10**9), policy=policy)
    read_later = {r.name for o in ops for r in o.reads}
    for o in ops:
        for w in o.writes:
            reads, writes = dram_traffic(plan, w.name)
            assert reads == 0
            if policy == "liveness":
                assert writes == (0 if w.name in read_later else w.bytes)
    assert dram_traffic(plan, "input")[0] == next(r.bytes for o in ops for r in o.reads
                                                  if r.name == "input") \
        or all(r.name != "input" for o in ops for r in o.reads)
