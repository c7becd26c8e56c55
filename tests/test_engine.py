"""Whole runs: invariants, determinism, phases, techniques and deadlock reports."""

from __future__ import annotations

import json

import numpy as np
import pytest

from accelsim.config.loader import load_hwconfig
from accelsim.errors import SimulationError, WorkloadError
from accelsim.sim.engine import Simulation
from accelsim.stats.records import STALL_CAUSES
from accelsim.techniques.base import Technique
from accelsim.techniques.chain import TechniqueChain
from accelsim.workload.loader import load_workload
from accelsim.workload.op import PHASES
from accelsim.workload.training import TrainingOptions
from tests.conftest import HWCONFIGS


@pytest.fixture(scope="module")
def edge():
    return load_hwconfig(HWCONFIGS / "edge_16x16.yaml")


@pytest.fixture(scope="module")
def resnet18_cifar_result(edge):
    workload = load_workload("resnet18_cifar", TrainingOptions(batch=4, element_bytes=2))
    return workload, Simulation(edge, workload).run()


def test_full_iteration_counts_every_mac(resnet18_cifar_result):
    """Issued + skipped MACs equal the workload's, and the ops' MACs add up per phase."""
    workload, result = resnet18_cifar_result
    assert result["macs_issued"] + result["macs_skipped"] == workload.macs
    by_phase = workload.macs_by_phase()
    for phase in PHASES:
        assert result["phase_stats"][phase]["macs"] == by_phase[phase]
    assert by_phase["bwd_weight"] == by_phase["fwd"]


def test_bytes_conserved_between_levels(resnet18_cifar_result):
    """DRAM bytes equal the sum over ops, and the SRAM fills plus vector loads."""
    _, result = resnet18_cifar_result
    ops = result["ops"]
    assert result["dram_bytes"]["read"] == sum(r["dram_bytes_read"] for r in ops)
    assert result["dram_bytes"]["written"] == sum(r["dram_bytes_written"] for r in ops)
    assert set(result["invariants"]) == {"macs_conserved", "bytes_conserved", "busy_within_run"}


def test_ops_respect_dependencies_and_units(resnet18_cifar_result):
    """An op starts after all its predecessors end; ops on one unit never overlap."""
    workload, result = resnet18_cifar_result
    rows = {r["name"]: r for r in result["ops"]}
    for name in rows:
        for pred in workload.graph.predecessors(name):
            assert rows[pred]["end_cycle"] <= rows[name]["start_cycle"]
    for unit in ("pe_array", "vector"):
        spans = sorted((r["start_cycle"], r["end_cycle"]) for r in rows.values()
                       if r["unit"] == unit)
        for (_, end), (start, _) in zip(spans, spans[1:]):
            assert end <= start
    assert result.total_cycles == max(r["end_cycle"] for r in rows.values())


def test_op_cycles_split_into_compute_and_stalls(resnet18_cifar_result):
    """Each op's cycles are its compute cycles plus its DRAM and SRAM stalls."""
    _, result = resnet18_cifar_result
    for row in result["ops"]:
        assert row["cycles"] == pytest.approx(
            row["compute_cycles"] + sum(row["stalls"][cause] for cause in STALL_CAUSES))


def test_energy_breakdown_adds_up(resnet18_cifar_result, edge):
    """Total energy is the sum of components; MAC energy is MACs x (fp16 mult + fp32 add)."""
    _, result = resnet18_cifar_result
    energy = result["energy_pj"]
    assert energy["total"] == pytest.approx(sum(sum(a.values())
                                                for a in energy["by_component"].values()))
    assert energy["by_component"]["pe_array"]["mac"] == pytest.approx(
        result["macs_issued"] * (1.1 + 0.9))


def test_runs_are_bit_identical(edge):
    """The same inputs give the same JSON, byte for byte."""
    workload = load_workload("mlp", TrainingOptions(batch=16))
    first = json.dumps(Simulation(edge, workload).run().data)
    second = json.dumps(Simulation(edge, workload).run().data)
    assert first == second


def test_forward_only_run(edge):
    """--phases fwd keeps the forward ops only."""
    workload = load_workload("resnet18_cifar", TrainingOptions(batch=2), ["fwd"])
    result = Simulation(edge, workload).run()
    assert {r["phase"] for r in result["ops"]} == {"fwd"}
    assert result["phases"]["bwd_weight"] == 0


def test_empty_phase_list_is_refused():
    """An empty --phases selects nothing and is an error naming the valid phases."""
    with pytest.raises(WorkloadError, match="expected at least one training phase"):
        load_workload("mlp", TrainingOptions(batch=2), [])


def test_more_bandwidth_never_slows_a_run():
    """Raising DRAM bandwidth on the edge config cannot lengthen the iteration."""
    workload = load_workload("mlp", TrainingOptions(batch=64))
    cycles = [Simulation(load_hwconfig(HWCONFIGS / "edge_16x16.yaml",
                                       [f"dram.bandwidth={bw}GB/s"]), workload).run().total_cycles
              for bw in (3.2, 12.8, 51.2, 204.8)]
    assert cycles == sorted(cycles, reverse=True)
    assert cycles[0] > cycles[-1]


class HalveWeightGradients(Technique):
    """Drops every second tile of every bwd_weight GEMM and counts its MACs as skipped."""

    name = "halve_wgrad"

    def transform(self, op, plan):
        if op.phase.value != "bwd_weight" or plan.unit != "pe_array":
            return plan
        return plan.without(np.arange(len(plan)) % 2 == 1)


def test_user_technique_skips_work_and_keeps_mac_invariant(edge):
    """A technique plugged in by a user shortens the run; issued + skipped stays exact."""
    workload = load_workload("resnet18_cifar", TrainingOptions(batch=2))
    base = Simulation(edge, workload).run()
    skipped = Simulation(edge, workload, TechniqueChain([HalveWeightGradients()])).run()
    assert skipped["macs_skipped"] > 0
    assert skipped["macs_issued"] + skipped["macs_skipped"] == workload.macs
    assert skipped.total_cycles < base.total_cycles
    assert skipped["techniques"] == ["halve_wgrad"]


class StarveBuffers(Technique):
    """Leaves the ops of one layer with no buffer slot, so they can never load a tile."""

    name = "starve"

    def transform(self, op, plan):
        if op.layer == "fc1" and op.phase.value == "fwd":
            plan.slots = 0
        return plan


def test_deadlock_names_unfinished_ops(edge):
    """A run that cannot finish reports which ops are stuck and on what."""
    workload = load_workload("mlp", TrainingOptions(batch=2))
    with pytest.raises(SimulationError) as caught:
        Simulation(edge, workload, TechniqueChain([StarveBuffers()])).run()
    message = str(caught.value)
    assert message.startswith(f"deadlock: {len(workload)} of {len(workload)} ops did not finish")
    assert "fc1.fwd: inputs ready but never completed on its unit" in message
    assert "waits on unfinished fc1.fwd" in message
