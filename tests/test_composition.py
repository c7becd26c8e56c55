"""Techniques stacked in one run: each MAC is skipped once, whatever the order.

On the SCNN-like array with the shipped ResNet-18 trace, confidence skipping drops the backward
work of confident samples (MACs) and ANT drops redundant Cartesian products (products that are
not MACs). Stacked in either order, the MACs issued are those of confidence skipping alone,
issued + skipped is the workload's MACs, and ANT still anticipates RCPs.
"""

from __future__ import annotations

from accelsim.config.loader import load_hwconfig
from accelsim.sim.engine import Simulation
from accelsim.techniques.chain import TechniqueSpec
from accelsim.workload.loader import load_workload
from accelsim.workload.training import TrainingOptions
from tests.conftest import HWCONFIGS, ROOT

TRACED = str(ROOT / "workloads" / "traced" / "resnet18_cifar")


def run(*techniques: str) -> dict:
    config = load_hwconfig(HWCONFIGS / "scnn_like.yaml")
    workload = load_workload(TRACED, TrainingOptions(batch=32))
    return Simulation(config, workload, [TechniqueSpec.parse(t) for t in techniques]).run()


def test_stacked_techniques_skip_each_mac_once_in_either_order():
    skip = run("confidence_skip:tau=0.9")
    first = run("confidence_skip:tau=0.9", "ant")
    second = run("ant", "confidence_skip:tau=0.9")
    for stacked in (first, second):
        assert stacked["macs_issued"] == skip["macs_issued"]
        assert stacked["macs_issued"] + stacked["macs_skipped"] == skip["macs"]
        assert stacked["technique_stats"]["ant"]["anticipated_fraction"] > 0.5
        assert stacked["total_cycles"] < skip["total_cycles"]
    assert first["macs_skipped"] == second["macs_skipped"]
    assert (first["technique_stats"]["ant"]["rcps_total"]
            == second["technique_stats"]["ant"]["rcps_total"])
