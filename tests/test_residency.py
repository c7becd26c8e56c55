"""The residency plan on hand-built graphs: bytes that stay on chip, spill, and are written back.

Every expected figure is derived by hand from the graph and the pool size in the test.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accelsim.sim.residency import Residency, check_balance, plan_residency
from accelsim.workload.op import Op, Phase, Tensor

KIB = 1024


def t(name: str, nbytes: int) -> Tensor:
    return Tensor(name, nbytes, 1)


def op(name: str, reads=(), writes=(), phase=Phase.FWD, overwrites=()) -> Op:
    return Op(name, name, phase, "elementwise", tuple(reads), tuple(writes), elements=1,
              vector_ops=1.0, overwrites=tuple(overwrites))


def dram_traffic(plan, name: str) -> tuple[int, int]:
    """(bytes of ``name`` read from DRAM, bytes of it written to DRAM) over the whole plan."""
    reads = sum(u.dram_reads.get(name, 0) for u in plan.values())
    writes = sum(u.dram_writes.get(name, 0) + u.writebacks.get(name, 0)
                 for u in plan.values())
    return reads, writes


def test_a_tensor_that_fits_never_goes_to_dram():
    x, y, z = t("x", 4 * KIB), t("y", 64 * KIB), t("z", 4 * KIB)
    ops = [op("produce", [x], [y]), op("consume", [y], [z])]
    plan = plan_residency(ops, 1024 * KIB)
    check_balance(ops, plan)
    assert dram_traffic(plan, "y") == (0, 0)
    assert plan["consume"].sram_reads == {"y": 64 * KIB}
    # x is an input (in DRAM) and z an output nobody reads (it must reach DRAM)
    assert dram_traffic(plan, "x") == (4 * KIB, 0)
    assert dram_traffic(plan, "z") == (0, 4 * KIB)


def test_a_tensor_that_does_not_fit_moves_exactly_its_spilled_bytes():
    x, y, z = t("x", 1 * KIB), t("y", 100 * KIB), t("z", 1 * KIB)
    ops = [op("produce", [x], [y]), op("consume", [y], [z])]
    plan = plan_residency(ops, 60 * KIB, keep_reads=False)
    check_balance(ops, plan)
    # 60 KiB of y stay; the other 40 KiB are written by the producer and read by the consumer
    assert plan["produce"].dram_writes["y"] == 40 * KIB
    assert plan["consume"].dram_reads["y"] == 40 * KIB
    assert plan["consume"].sram_reads["y"] == 60 * KIB
    assert dram_traffic(plan, "y") == (40 * KIB, 40 * KIB)


def test_an_activation_kept_for_backward_is_written_back_once():
    # fwd: in -> act -> h1 -> h2 -> h3; bwd reads h3 and act; a 64 KiB pool, 50 KiB tensors.
    # An op's input stays while it runs, so fwd1 keeps only 14 KiB of h1 beside act. fwd2
    # needs room for h2 (read at op 3) and act is read later (op 4): all of act is evicted
    # and written back, once, by fwd2; bwd reads it back from DRAM.
    size = 50 * KIB
    act = t("act", size)
    ops = [op("fwd0", [t("in", size)], [act])]
    previous = act
    for i in range(1, 4):
        h = t(f"h{i}", size)
        ops.append(op(f"fwd{i}", [previous], [h]))
        previous = h
    ops.append(op("bwd", [previous, act], [t("grad", size)], phase=Phase.BWD_DATA))
    plan = plan_residency(ops, 64 * KIB, keep_reads=False)
    check_balance(ops, plan)
    reads, writes = dram_traffic(plan, "act")
    assert writes == size  # once, at its eviction
    assert plan["fwd2"].writebacks == {"act": size}
    assert reads == size
    assert plan["fwd1"].dram_writes == {"h1": 36 * KIB}  # beside act, 14 KiB of h1 fit
    assert dram_traffic(plan, "h2") == (0, 0)  # it had act's room


def test_an_activation_that_can_stay_until_backward_is_never_written():
    size = 50 * KIB
    act = t("act", size)
    ops = [op("fwd0", [t("in", size)], [act]), op("fwd1", [act], [t("h", size)]),
           op("bwd", [t("h", size), act], [t("grad", size)], phase=Phase.BWD_DATA)]
    plan = plan_residency(ops, 200 * KIB)
    assert dram_traffic(plan, "act") == (0, 0)


def test_liveness_keeps_the_sooner_needed_tensor_and_lru_the_more_recent():
    # b (read at op 2) is made first, a (read at op 3) second; the pool holds one of them
    size = 10 * KIB
    a, b = t("a", size), t("b", size)
    ops = [op("make_b", [], [b]), op("make_a", [], [a]), op("use_b", [b], [t("c", 1)]),
           op("use_a", [a], [t("e", 1)])]
    liveness = plan_residency(ops, size, policy="liveness", keep_reads=False)
    lru = plan_residency(ops, size, policy="lru", keep_reads=False)
    # liveness keeps b (needed sooner): a is spilled by its producer and read back
    assert dram_traffic(liveness, "b") == (0, 0)
    assert liveness["make_a"].dram_writes == {"a": size}
    assert dram_traffic(liveness, "a") == (size, size)
    # lru keeps a (more recent): b is evicted dirty, written back, and read back
    assert lru["make_a"].writebacks == {"b": size}
    assert dram_traffic(lru, "b") == (size, size)
    assert dram_traffic(lru, "a") == (0, 0)


def test_lru_writes_back_a_dead_tensor_that_liveness_drops():
    size = 10 * KIB
    b, c = t("b", size), t("c", size)
    ops = [op("make_b", [], [b]), op("use_b", [b], [t("x", 1)]), op("make_c", [], [c]),
           op("use_c", [c], [t("y", 1)])]
    liveness = plan_residency(ops, size, policy="liveness", keep_reads=False)
    lru = plan_residency(ops, size, policy="lru", keep_reads=False)
    assert dram_traffic(liveness, "b") == (0, 0)
    assert lru["make_c"].writebacks == {"b": size}  # dead, but a cache cannot know


def test_a_tensor_in_use_by_a_running_op_is_not_evicted():
    # two ops overlap: r (reading big) has started and not finished when w starts and wants
    # room for its output; big is needed later too, so only its unused share may go
    size = 10 * KIB
    big, out = t("big", size), t("out", size)
    ops = [op("make", [], [big]), op("r", [big], [t("z", 1)]), op("w", [], [out]),
           op("use", [out, big], [t("y", 1)])]
    residency = Residency(ops, size, keep_reads=False)
    residency.begin(ops[0])
    residency.end(ops[0])
    residency.begin(ops[1])  # r runs ...
    use_w = residency.begin(ops[2])  # ... while w starts
    assert residency.resident["big"] == size  # untouched: r still reads it
    assert use_w.dram_writes == {"out": size}  # so out is spilled whole
    assert use_w.writebacks == {}


def test_a_tensor_replaced_in_place_loses_its_stale_copy():
    w = t("w", 8 * KIB)
    ops = [op("fwd", [w, t("x", 8)], [t("y", 8)]),
           op("update", [w, t("g", 8)], [t("w.next", 8 * KIB)], phase=Phase.UPDATE,
              overwrites=["w"]),
           op("next_read", [w], [t("z", 8)])]
    plan = plan_residency(ops, 1024 * KIB)
    assert plan["update"].sram_reads.get("w") == 8 * KIB  # kept after the fwd read
    assert plan["next_read"].dram_reads == {"w": 8 * KIB}  # the stale copy is gone


def test_unknown_policy_is_refused():
    with pytest.raises(ValueError, match="liveness"):
        plan_residency([], 1, policy="fifo")


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
    plan = plan_residency(ops, capacity, policy=policy, keep_reads=keep_reads)
    check_balance(ops, plan)
    assert max(use.resident_bytes for use in plan.values()) <= capacity
    size = {w.name: w.bytes for o in ops for w in o.writes}
    written = dict.fromkeys(size, 0)
    for o in ops:  # no produced byte is read from DRAM before it reached DRAM
        use = plan[o.name]
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
            assert plan[o.name].dram_reads == {r.name: r.bytes for r in o.reads}
    assert plan == plan_residency(ops, capacity, policy=policy, keep_reads=keep_reads)


@settings(max_examples=100, deadline=None)
@given(ops=graphs(), policy=st.sampled_from(["liveness", "lru"]))
def test_an_unbounded_pool_reads_each_input_once_and_writes_only_final_outputs(ops, policy):
    plan = plan_residency(ops, 10**9, policy=policy)
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
