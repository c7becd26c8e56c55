"""ACRTC computation reuse on the tensor-core kind.

The single-GEMM runs use a hand-given hit rate (``assumed_hit_rate``) or hand-built value
statistics; every expected figure is worked by hand from the model in
:mod:`accelsim.techniques.acrtc`, not taken from the code under test.

The GEMM: 32 x 32 x 16 on 4 cores of 2 MMA units (4x4x4), CTA tiles 16 x 16 x 8, ideal DRAM
(:func:`tests.test_tensor_core.small_config`): 4 CTA tiles in one wave, K in two chunks of 8,
so 2 plan tiles, each 16 cycles (a CTA's 4 x 4 x 2 = 32 MMAs over 2 units), 8192 MACs and
4 x 32 = 128 MMAs. The array has 4 x 2 x 64 = 512 multipliers.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from accelsim.errors import ConfigError, WorkloadError
from accelsim.sim.engine import Simulation
from accelsim.techniques.acrtc import loss_trend, tightenings
from accelsim.techniques.chain import TechniqueSpec
from accelsim.workload.graph import Workload
from accelsim.workload.value_stats import ValueStats
from tests.conftest import HWCONFIGS, ROOT, gemm_workload, make_config
from tests.test_tensor_core import small_config

KS = [0, 2, 4, 6, 8, 10]
ENTRIES = [16, 64, 256]


def spec(name: str = "acrtc", **params) -> TechniqueSpec:
    return TechniqueSpec(name, params, "<test>")


def run(techniques=(), value_stats=None, step=None, m=32, n=32, k=16):
    workload = gemm_workload(m, n, k)
    if value_stats is not None:
        workload = Workload("g", workload.ops(), value_stats=value_stats)
    return Simulation(small_config(), workload, list(techniques), step=step).run()


def row(result):
    return next(r for r in result["ops"] if r["name"] == "g.fwd")


def hand_stats(loss=None) -> ValueStats:
    """Hit rates of op g.fwd at sampled steps 0 and 10 (5 steps per epoch): at step 0 the
    scalar rate is k / 20 for every size, at step 10 k / 10 (dot4: half of those)."""
    def tables(scale):
        return [[[k * scale] * len(ENTRIES) for k in KS]]
    scalar = tables(1 / 20) + tables(1 / 10)
    dot4 = tables(1 / 40) + tables(1 / 20)
    data = {"steps": [0, 10], "steps_per_epoch": 5,
            "params": {"acrtc": {"k": KS, "entries": ENTRIES,
                                 "granularities": ["scalar", "dot4"], "mantissa_bits": 10}},
            "ops": {"g.fwd": {"operands": {"a": "x", "b": "w"},
                              "acrtc_hit_rate": {"scalar": scalar, "dot4": dot4}}}}
    if loss is not None:
        data["confidence"] = {"loss": loss}
    return ValueStats("<hand-built>", data, {}, {})


# -- hand-derived figures ------------------------------------------------------------------------
def test_scalar_hits_free_their_slots():
    """Scalar, issue=lookup, hit rate 0.25: per tile 8192 lookups, 2048 hits (2048 MACs
    skipped, 6144 issued), 6144 misses inserted; compute ceil(16 x 0.75) + 1 (lookup latency)
    = 13 cycles per tile, 26 in all (32 without); MMAs ceil(128 x 0.75) = 96 per tile. Lookup
    energy 16,384 x 0.5 pJ = 8192 pJ, insertions 12,288 x 0.25 pJ = 3072 pJ."""
    base = run()
    result = run([spec(k=8, granularity="scalar", assumed_hit_rate=0.25,
                       lookup_energy_pj=0.5, insertion_energy_pj=0.25)])
    assert row(base)["compute_cycles"] == 32
    after = row(result)
    assert after["macs"] == 12_288 and after["macs_skipped"] == 4096
    assert after["compute_cycles"] == 26
    assert result["macs_issued"] + result["macs_skipped"] == result["macs"] == 16_384
    stats = result["technique_stats"]["acrtc"]
    assert (stats["lookups"], stats["hits"], stats["misses"], stats["insertions"]) \
        == (16_384, 4096, 12_288, 12_288)
    assert stats["macs_skipped"] == 4096
    assert stats["mma_ops_skipped"] == 2 * (128 - 96)
    assert stats["compute_cycles_saved"] == 32 - 26
    assert stats["buffers"] == 512
    assert stats["assumed_ops"] == ["g.fwd"]
    energy = result["energy_pj"]["by_component"]["technique.acrtc"]
    assert energy["lookup"] == pytest.approx(8192)
    assert energy["insertion"] == pytest.approx(3072)
    # the array's MAC energy counts only the misses
    assert result["energy_pj"]["by_component"]["pe_array"]["mac"] == pytest.approx(
        base["energy_pj"]["by_component"]["pe_array"]["mac"] * 12_288 / 16_384)


@pytest.mark.parametrize("rate, cycles", [(1, 2 * 17), (2, 2 * 13), (4, 2 * 13)])
def test_lookup_rate_bounds_the_cycles_hits_free(rate, cycles):
    """Scalar, hit rate 0.25, each buffer answering ``rate`` lookups per cycle: a tile's
    lookups need 16 / rate cycles, so it takes max(ceil(16 x 0.75), ceil(16 / rate)) + 1:
    17 at one lookup per cycle (no time freed), 13 at 2 or 4. The MACs skipped do not
    depend on it."""
    result = run([spec(k=8, granularity="scalar", assumed_hit_rate=0.25, lookup_rate=rate)])
    assert row(result)["compute_cycles"] == cycles
    assert row(result)["macs_skipped"] == 4096


def test_buffer_area_is_one_buffer_per_lane():
    """Scalar, k = 8: a key is 2 x (16 - 8) = 16 bits; 16 entries fully associative: one set,
    16 tag bits (CAM cells, 10/6 of an SRAM bit), 16 result + 1 valid + 4 LRU bits: 16 x
    (16 x 10/6 + 21) = 762.67 SRAM-bit equivalents x 1.215 um^2 = 926.64 um^2 per buffer;
    512 buffers: 0.47444 mm^2."""
    result = run([spec(k=8, granularity="scalar", assumed_hit_rate=0.0)])
    assert result["technique_stats"]["acrtc"]["key_bits"] == 16
    assert result["technique_area_mm2"]["acrtc"] == pytest.approx(
        512 * 16 * (16 * 10 / 6 + 21) * 600 * 0.045 ** 2 / 1e6)


def test_dot4_lookups_cover_four_macs():
    """dot4, hit rate 0.5: per tile 2048 lookups, 1024 hits skipping 4096 MACs; compute
    ceil(16 x 0.5) + 1 = 9 per tile; 128 buffers (512 multipliers / 4); the keys of eight
    operands at k = 8 are 64 bits."""
    result = run([spec(k=8, granularity="dot4", assumed_hit_rate=0.5)])
    after = row(result)
    assert after["macs"] == 8192 and after["macs_skipped"] == 8192
    assert after["compute_cycles"] == 18
    stats = result["technique_stats"]["acrtc"]
    assert (stats["lookups"], stats["hits"]) == (4096, 2048)
    assert stats["buffers"] == 128 and stats["key_bits"] == 64


def test_mma_issue_skips_an_mma_only_when_all_its_lookups_hit():
    """issue=mma, scalar, hit rate 0.5: an MMA's 64 lookups all hit with probability
    0.5^64, so no slot is freed: 16 + 1 cycles per tile; the hits still skip their MACs
    (4096 per tile). Hit rate 1 (dot4): every MMA is skipped, only the lookup latency is
    left (1 cycle per tile), no MMA is issued."""
    half = run([spec(k=8, granularity="scalar", issue="mma", assumed_hit_rate=0.5)])
    assert row(half)["compute_cycles"] == 34 and row(half)["macs_skipped"] == 8192
    full = run([spec(k=8, granularity="dot4", issue="mma", assumed_hit_rate=1.0)])
    assert row(full)["compute_cycles"] == 2 and row(full)["macs"] == 0
    assert full["pe_array"]["mma_ops"] == 0


# -- k over training -----------------------------------------------------------------------------
@pytest.mark.parametrize("step, k, rate", [(3, 10, 0.5), (5, 6, 0.3), (9, 2, 0.2),
                                           (10, 2, 0.2)])
def test_schedule_in_steps_picks_k_and_the_rate_at_that_k(step, k, rate):
    """Schedule k = 10 before step 4, 6 before step 8, 2 after. The rate is read at the
    nearest sampled step (0 for steps 3 and 5, 10 for 9 and 10): k / 20 or k / 10."""
    schedule = [{"until_step": 4, "k": 10}, {"until_step": 8, "k": 6}, {"k": 2}]
    result = run([spec(schedule=schedule, granularity="scalar")], hand_stats(), step=step)
    stats = result["technique_stats"]["acrtc"]
    assert stats["k"] == stats["k_scheduled"] == k
    assert stats["ops"]["g.fwd"]["hit_rate"] == pytest.approx(rate)
    assert stats["ops"]["g.fwd"]["source"] == "traced"


@pytest.mark.parametrize("step, epoch, k", [(4, 0, 8), (5, 1, 5), (10, 2, 5)])
def test_schedule_in_epochs_and_an_unmeasured_k(step, epoch, k):
    """5 steps per epoch: k = 8 in epoch 0, 5 afterwards; k = 5 reads the table at the
    largest measured k below it, 4 (rate 4 / 20 at step 5, 4 / 10 at step 10)."""
    schedule = [{"until_epoch": 1, "k": 8}, {"k": 5}]
    result = run([spec(schedule=schedule, granularity="scalar")], hand_stats(), step=step)
    stats = result["technique_stats"]["acrtc"]
    assert (stats["epoch"], stats["k"]) == (epoch, k)
    expected = {4: 8 / 20, 5: 4 / 20, 10: 4 / 10}[step]
    assert stats["ops"]["g.fwd"]["hit_rate"] == pytest.approx(expected)
    assert stats["ops"]["g.fwd"]["k_measured"] == (8 if step == 4 else 4)


#: Loss falling by 0.1 a step for 10 steps (2.0 .. 1.1), then flat at 1.0.
LOSS = [2.0 - 0.1 * t for t in range(10)] + [1.0] * 10


def test_loss_trend_by_hand():
    """Losses 1.2, 1.1, 1.0, 1.0: slope sum(x dy) / sum(x^2) = -0.35 / 5 = -0.07 over a mean
    of 1.075: a relative decrease of 0.0651 per step; a flat window: 0."""
    assert loss_trend([1.2, 1.1, 1.0, 1.0]) == pytest.approx(0.07 / 1.075)
    assert loss_trend([1.0] * 4) == 0.0


def test_controller_tightens_at_each_plateau():
    """Window 4, threshold 0.01: the windows ending before step 14 all hold a falling loss
    (at step 13, 1.1, 1.0, 1.0, 1.0: trend 0.03 / 1.025 = 0.029); at step 14 the window is
    flat: tighten; again at 18 (a window later), not at 15..17."""
    assert tightenings(LOSS, 13, 4, 0.01)[0] == 0
    count, at, trend = tightenings(LOSS, 19, 4, 0.01)
    assert (count, at, trend) == (2, [14, 18], 0.0)


@pytest.mark.parametrize("step, min_k, k", [(13, 0, 8), (14, 0, 6), (19, 0, 4), (19, 5, 5)])
def test_adaptive_k_from_the_traced_loss(step, min_k, k):
    """k = 8 less 2 bits at each plateau (steps 14 and 18), never below min_k."""
    adaptive = {"window": 4, "threshold": 0.01, "tighten_bits": 2, "min_k": min_k}
    result = run([spec(k=8, adaptive=adaptive, granularity="scalar")], hand_stats(LOSS),
                 step=step)
    stats = result["technique_stats"]["acrtc"]
    assert (stats["k_scheduled"], stats["k"]) == (8, k)


# -- errors --------------------------------------------------------------------------------------
@pytest.mark.parametrize("params, message", [
    ({}, "exactly one of k"),
    ({"k": 4, "schedule": [{"k": 2}]}, "exactly one of k"),
    ({"k": 11}, "acrtc.k"),
    ({"schedule": [{"k": 2}, {"until_step": 4, "k": 1}]}, "every schedule entry but the last"),
    ({"schedule": [{"until_step": 8, "k": 4}, {"until_step": 4, "k": 2}]}, "increasing order"),
    ({"schedule": [{"until_step": 4, "k": 4}, {"until_epoch": 4, "k": 2}]}, "not both kinds"),
    ({"schedule": [{"until_step": 4, "until_epoch": 1, "k": 4}]}, "not both"),
    ({"k": 4, "associativity": 3}, "reuse buffer parameters: associativity 3 must divide"),
    ({"k": 4, "granularity": "dot8"}, "granularity"),
    ({"k": 4, "adaptive": {"window": 1}}, "window"),
    ({"k": 4, "speed": 2}, "speed"),
])
def test_bad_parameters_are_clear_errors(params, message):
    with pytest.raises(ConfigError, match=message):
        spec(**params)


def test_op_without_hit_rate_is_named():
    with pytest.raises(WorkloadError, match=r"g\.fwd.*assumed_hit_rate"):
        run([spec(k=4)])


def test_unmeasured_buffer_size_and_step_beyond_schedule_are_errors():
    with pytest.raises(ConfigError, match="entries: expected a buffer size the trace "
                                          "measured, got 32"):
        run([spec(k=4, entries=32)], hand_stats(), step=0)
    with pytest.raises(ConfigError, match="step 9"):
        run([spec(schedule=[{"until_step": 8, "k": 4}], assumed_hit_rate=0.1)], step=9)
    with pytest.raises(ConfigError, match="loss"):
        run([spec(k=4, adaptive={}, assumed_hit_rate=0.1)], step=3)


def test_only_on_the_tensor_core_kind():
    with pytest.raises(ConfigError, match="tensor_core"):
        Simulation(make_config(), gemm_workload(8, 8, 8),
                   [spec(k=4, assumed_hit_rate=0.1)]).run()


# -- the traced workload from the command line ---------------------------------------------------
def test_traced_resnet18_on_the_v100_like_config(tmp_path):
    """ResNet-18 (CIFAR) traced, tensor_core_like.yaml, k = 8, dot4, at the trace's last
    step: every GEMM op has traced rates; MACs issued + skipped are the workload's; the
    iteration is faster and the buffers' energy is in the total."""
    out = tmp_path / "acrtc.json"
    done = subprocess.run(
        [sys.executable, "-m", "accelsim", "run", "--hw",
         str(HWCONFIGS / "tensor_core_like.yaml"), "--workload",
         str(ROOT / "workloads/traced/resnet18_cifar"), "--technique", "acrtc:k=8",
         "--quiet", "--out", str(out)], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    data = json.loads(out.read_text())
    stats = data["technique_stats"]["acrtc"]
    assert stats["step"] == 49 and stats["k"] == 8 and stats["assumed_ops"] == []
    assert len(stats["ops"]) == 62
    assert data["macs_issued"] + data["macs_skipped"] == data["macs"]
    assert stats["macs_skipped"] == data["macs_skipped"] > 0
    assert data["energy_pj"]["by_component"]["technique.acrtc"]["lookup"] > 0
    assert data["technique_area_mm2"]["acrtc"] > 0


def test_schedule_and_controller_on_the_traced_loss():
    """The shipped trace (16 steps per epoch) at step 20, epoch 1: the schedule gives k = 8.
    Over steps 0..15 the loss rose then fell back: its least-squares slope is -0.01277 a step
    over a mean of 3.597, a relative decrease of 0.36% a step, below the 0.5% threshold, so
    the controller (window one epoch) tightens at step 16 and at no other step up to 20 (it
    waits a window): k = 8 - 2 = 6. The trend it reports at step 20 is that of steps 4..19,
    computed here with numpy's least-squares fit."""
    import numpy as np

    from accelsim.api import simulate

    folder = ROOT / "workloads/traced/resnet18_cifar"
    loss = json.loads((folder / "stats.json").read_text())["confidence"]["loss"]
    first = np.asarray(loss[:16])
    assert -np.polyfit(np.arange(16), first, 1)[0] / first.mean() == pytest.approx(
        0.01277 / 3.597, rel=1e-3)
    schedule = [{"until_epoch": 1, "k": 10}, {"until_epoch": 2, "k": 8}, {"k": 6}]
    result = simulate({"hwconfig": str(HWCONFIGS / "tensor_core_like.yaml"),
                       "workload": str(folder), "step": 20,
                       "techniques": [{"name": "acrtc", "params": {
                           "schedule": schedule,
                           "adaptive": {"threshold": 0.005, "min_k": 2}}}]})
    stats = result["technique_stats"]["acrtc"]
    assert (stats["epoch"], stats["k_scheduled"], stats["k"]) == (1, 8, 6)
    assert stats["adaptive"]["window"] == 16
    assert stats["adaptive"]["tightened_at_steps"] == [16]
    window = np.asarray(loss[4:20])
    expected = -np.polyfit(np.arange(16), window, 1)[0] / window.mean()
    assert stats["adaptive"]["trend_at_step"] == pytest.approx(expected)
