"""Confidence skipping on the shipped traced ResNet-18 and on a zoo network.

The expected skipped MACs are computed here from the trace's own per-sample arrays (read with
numpy, not through accelsim) and from the workload's per-op MACs: a skipped sample's share of
every backward op.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from accelsim.config.loader import load_hwconfig
from accelsim.errors import AccelsimError
from accelsim.sim.engine import Simulation
from accelsim.techniques.chain import TechniqueSpec
from accelsim.workload.loader import load_workload
from accelsim.workload.training import TrainingOptions
from tests.conftest import ROOT

TRACED = ROOT / "workloads" / "traced" / "resnet18_cifar"
HW = ROOT / "hwconfigs" / "tpu_like_128x128.yaml"
BACKWARD = ("bwd_data", "bwd_weight")


def run(workload_ref: str, technique: str | None, batch: int = 32):
    config = load_hwconfig(HW)
    workload = load_workload(workload_ref, TrainingOptions(batch=batch,
                                                           element_bytes=config.element_bytes))
    specs = [TechniqueSpec.parse(technique)] if technique else []
    return workload, Simulation(config, workload, specs).run().data


def traced_confident(step: int, tau: float) -> int:
    """Samples of ``step`` predicted correctly with p_true >= tau, from the trace's arrays."""
    arrays = np.load(TRACED / "stats.npz")
    correct = arrays["confidence/correct"][step].astype(bool)
    p_true = arrays["confidence/p_true"][step]
    return int(np.count_nonzero(correct & (p_true >= tau)))


def backward_macs(workload) -> int:
    return sum(op.macs for op in workload.ops() if op.phase.value in BACKWARD)


def test_confident_samples_skip_their_share_of_every_backward_op():
    workload, base = run(str(TRACED), None)
    _, skip = run(str(TRACED), "confidence_skip:tau=0.9")
    stats = skip["technique_stats"]["confidence_skip"]
    step = stats["step"]
    skipped = traced_confident(step, 0.9)
    assert stats["skipped_samples"] == skipped > 0 and stats["samples"] == 32
    assert skip["macs_skipped"] == backward_macs(workload) * skipped // 32
    assert skip["macs_issued"] + skip["macs_skipped"] == base["macs"]
    assert skip["total_cycles"] < base["total_cycles"]
    fwd = [r for r in skip["ops"] if r["phase"] == "fwd"]
    assert sum(r["macs"] for r in fwd) == base["phase_stats"]["fwd"]["macs"]  # forward runs
    assert skip["energy_pj"]["by_component"]["technique.confidence_skip"] == {
        "decisions": 32 * 0.9}


def test_epsilon_is_the_squared_error_bound_of_tau():
    """epsilon = 2 (1 - tau)^2 decides exactly as tau does."""
    tau = 0.9
    _, by_tau = run(str(TRACED), f"confidence_skip:tau={tau}")
    _, by_eps = run(str(TRACED), f"confidence_skip:epsilon={2 * (1 - tau) ** 2!r}")
    assert math.isclose(by_eps["technique_stats"]["confidence_skip"]["tau"], tau)
    assert by_eps["macs_skipped"] == by_tau["macs_skipped"]


def test_holes_skip_the_same_macs_but_keep_the_tiles_time():
    """With samples left in place the backward GEMMs take as long as without skipping; the
    same MACs are skipped as when the kept samples are packed together."""
    _, base = run(str(TRACED), None)
    _, packed = run(str(TRACED), "confidence_skip:tau=0.9,mapping=repack")
    _, holes = run(str(TRACED), "confidence_skip:tau=0.9,mapping=holes")
    assert holes["macs_skipped"] == packed["macs_skipped"] > 0
    gemm = {r["name"]: r for r in base["ops"] if r["unit"] == "pe_array"}
    for row in holes["ops"]:
        if row["name"] in gemm and row["phase"] in BACKWARD:
            assert row["compute_cycles"] == gemm[row["name"]]["compute_cycles"]
    assert packed["total_cycles"] < holes["total_cycles"]


def test_a_workload_without_confidence_needs_an_assumed_fraction():
    with pytest.raises(AccelsimError, match="per-sample confidence"):
        run("mlp", "confidence_skip:tau=0.9", batch=4)
    workload, data = run("mlp", "confidence_skip:tau=0.9,assumed_skip_fraction=0.5", batch=4)
    assert data["macs_skipped"] == backward_macs(workload) // 2
    assert data["technique_stats"]["confidence_skip"]["source"] == "assumed"


@pytest.mark.parametrize("text", ["confidence_skip", "confidence_skip:tau=0.9,epsilon=0.02",
                                  "confidence_skip:tau=1.5"])
def test_threshold_parameters_are_checked(text):
    with pytest.raises(AccelsimError):
        TechniqueSpec.parse(text)
