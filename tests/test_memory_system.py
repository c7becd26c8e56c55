"""Interconnect topologies, stall accounting by cause, and the DRAM footprint."""

from __future__ import annotations

import csv
import subprocess
import sys

import pytest
import simpy

from accelsim.errors import SimulationError
from accelsim.hw.system import System
from accelsim.sim.engine import Simulation
from accelsim.stats.records import STALL_CAUSES
from accelsim.workload.loader import load_workload
from accelsim.workload.network import NetworkBuilder
from accelsim.workload.training import TrainingOptions, training_iteration
from tests.conftest import ROOT, make_config


def system_with(topology: str, **extra):
    config = make_config(8, 8, "os", ideal=False, dram_bandwidth="64B/cycle",
                         interconnect={"topology": topology, "bandwidth": "16B/cycle",
                                       "latency": "3cycles", **extra})
    env = simpy.Environment()
    return System(config, env), env


def test_mesh_route_and_hop_latency():
    """In a 3x3 mesh with memory at router (0,0), a buffer at (2,1) is 3 links away: XY
    routing goes (0,0)->(0,1)->(1,1)->(2,1); with injection that is 4 hops of 3 cycles."""
    system, env = system_with("mesh", mesh_rows=3, mesh_cols=3, placement={"ifmap": [2, 1]})
    route, latency = system.interconnect.route_of(("ifmap",))
    assert route == ("inject:ifmap", "mesh:0,0->0,1", "mesh:0,1->1,1", "mesh:1,1->2,1")
    assert latency == 12
    times, lands = system.reserve({"ifmap": 1600}, False)
    # 1600 B at 16 B/cycle = 100 cycles on the links (DRAM lane: 64/16 = 4 lanes of 16 B)
    assert lands == 100 + 12
    assert times.causes()["interconnect"] == 12


def test_bus_serialises_and_crossbar_overlaps():
    """Two 1600-byte transfers to two buffers: a 16 B/cycle bus carries them one after the
    other (done at 100 and 200); a crossbar gives each its own port and the 64 B/cycle DRAM
    has four 16 B/cycle lanes, so both finish at 100."""
    bus, _ = system_with("bus")
    ends = [bus.reserve({name: 1600}, False)[1] for name in ("ifmap", "filter")]
    assert ends == [100 + 3, 200 + 3]
    crossbar, _ = system_with("crossbar")
    ends = [crossbar.reserve({name: 1600}, False)[1] for name in ("ifmap", "filter")]
    assert ends == [100 + 3, 100 + 3]


def test_shared_link_contention_on_a_mesh():
    """Two buffers behind the same first mesh link contend for it; the second waits."""
    system, _ = system_with("mesh", mesh_rows=1, mesh_cols=3,
                            placement={"ifmap": [0, 1], "filter": [0, 2]})
    system.reserve({"ifmap": 1600}, False)
    second = system.reserve({"filter": 1600}, False)
    assert second[0].queue == 100  # the (0,0)->(0,1) link is busy for 100 cycles


def test_each_unit_timeline_is_fully_explained():
    """On each unit, compute + stalls of every op + dependency waits = the last op's end."""
    config = make_config(8, 8, "ws", ideal=False, capacity="16KiB", dram={
        "preset": "lpddr4_4266", "channels": 2, "latency": "40ns",
        "access_energy_pj_per_64b": 1300})
    result = Simulation(config, load_workload("mlp", TrainingOptions(batch=8))).run()
    for unit in ("pe_array", "vector"):
        rows = [r for r in result["ops"] if r["unit"] == unit]
        explained = sum(r["compute_cycles"] + sum(r["stalls"][c] for c in STALL_CAUSES)
                        + r["stalls"]["dependency"] for r in rows)
        assert explained == pytest.approx(max(r["end_cycle"] for r in rows))


def tiny_network():
    b = NetworkBuilder("tiny", (1, 4, 4))
    x = b.conv("input", 2, 3, padding=1, name="conv")
    x = b.relu(x, name="relu")
    x = b.linear(x, 3, bias=False, name="fc")
    b.loss(x)
    return b.build()


def test_footprint_by_hand():
    """Batch 1, fp16. Resident: input 16 x 2 B, labels 4 B, conv weights 18 x (2 + 4 + 4) B
    (copy, fp32 master, fp32 momentum), fc weights 96 x 10 B: 32 + 4 + 180 + 960 = 1176 B.
    Ops one after another in workload order, a tensor living from its writer's start to its
    last reader's end; the peak is during fc.bwd_weight: the relu activation (kept for fc's
    and relu's backward, 64 B), the logits' gradient (6 B), the gradient of fc's input
    (64 B) and fc's weight gradient (192 B): 326 B live, 1502 B in all."""
    workload = training_iteration(tiny_network(), TrainingOptions(batch=1, element_bytes=2))
    from accelsim.stats.footprint import planned_footprint
    usage = planned_footprint(workload)
    assert usage["resident_bytes"] == 1176
    assert usage["peak_bytes"] == 1502


def test_workload_too_big_for_dram_is_refused():
    """A DRAM smaller than the footprint stops the run before simulating, with the sizes."""
    config = make_config(8, 8, "os", ideal=True, dram={
        "ideal": True, "latency": "0ns", "capacity": "1KiB", "access_energy_pj_per_64b": 1})
    workload = training_iteration(tiny_network(), TrainingOptions(batch=1, element_bytes=2))
    with pytest.raises(SimulationError) as caught:
        Simulation(config, workload).run()
    assert str(caught.value).startswith(
        "<test>: dram.capacity: workload tiny needs 0.00 GiB of DRAM")
    assert "but the hwconfig has 0.00 GiB" in str(caught.value)


def test_residency_study_keeps_the_mlps_activations_on_chip(tmp_path):
    """The residency study runs the MLP at two SRAM sizes with and without residency: at 4 MiB
    every activation of batch 64 (at most 64 x 512 fp16 = 64 KiB) stays on chip, so residency
    moves less DRAM traffic than off and serves bytes from chip; the CSV and plot are written."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts/residency_study.py"), "--hw",
         str(ROOT / "hwconfigs/edge_16x16.yaml"), "--workloads", "mlp", "--batch", "64",
         "--sizes", "0.125", "4", "--workers", "1", "--out", str(tmp_path)],
        capture_output=True, text=True, check=True)
    with open(tmp_path / "residency.csv", newline="") as handle:
        rows = {(float(r["sram_mib"]), r["mode"]): r for r in csv.DictReader(handle)}
    big_off, big_on = rows[(4.0, "off")], rows[(4.0, "residency")]
    assert float(big_on["dram_gib"]) < float(big_off["dram_gib"])
    assert float(big_on["on_chip_gib"]) > 0 == float(big_off["on_chip_gib"])
    assert float(big_on["saved_activations_gib"]) < float(big_off["saved_activations_gib"])
    assert (tmp_path / "residency.png").stat().st_size > 1000
    assert "wrote" in done.stdout


def test_bandwidth_study_finds_a_knee(tmp_path):
    """The study script sweeps bandwidth for the MLP, writes its CSV and plots, and the
    iteration time never rises with bandwidth."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts/bandwidth_study.py"), "--hw",
         str(ROOT / "hwconfigs/edge_16x16.yaml"), "--workload", "mlp", "--batch", "64",
         "--bandwidths", "1", "4", "16", "64", "--workers", "1", "--out", str(tmp_path)],
        capture_output=True, text=True, check=True)
    assert "knee:" in done.stdout
    rows = (tmp_path / "sweep.csv").read_text().splitlines()[1:]
    times = [float(row.split(",")[1]) for row in rows]
    assert times == sorted(times, reverse=True)
    for name in ("iteration_time.png", "roofline.png", "dram_bandwidth.png"):
        assert (tmp_path / name).stat().st_size > 1000
