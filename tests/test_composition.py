"""Techniques stacked in one run: each MAC is skipped once, whatever the order.

On the SCNN-like array with the shipped ResNet-18 trace, confidence skipping drops the backward
work of confident samples (MACs) and ANT drops redundant Cartesian products (products that are
not MACs). Stacked in either order, the MACs issued are those of confidence skipping alone,
issued + skipped is the workload's MACs, and ANT still anticipates RCPs.
"""

from __future__ import annotations

import pytest

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


def test_daa_and_confidence_skipping_skip_each_mac_once():
    """On an output-stationary array with the traced mlp, DAA (zero products skipped) and
    confidence skipping (backward work of confident samples dropped) stack in either order:
    the same MACs issued, issued + skipped = the workload's MACs, and per backward GEMM op the
    MACs issued are DAA's alone scaled by the share of samples kept (a dropped sample's zero
    products are not skipped a second time), within one MAC per tile of rounding. With holes
    instead of repacking both orders agree within the same rounding."""
    import json

    from tests.conftest import make_config

    folder = ROOT / "workloads" / "traced" / "mlp"
    batch = json.loads((folder / "manifest.json").read_text())["batch"]
    config = make_config(16, 16, "os")

    def go(*techniques):
        workload = load_workload(str(folder), TrainingOptions(batch=batch))
        return Simulation(config, workload, [TechniqueSpec.parse(t) for t in techniques]).run()

    daa, skip = go("daa"), go("confidence_skip:tau=0.6")
    kept = 1 - skip["technique_stats"]["confidence_skip"]["skipped_fraction"]
    assert 0 < kept < 1
    first, second = go("daa", "confidence_skip:tau=0.6"), go("confidence_skip:tau=0.6", "daa")
    assert first["macs_issued"] == second["macs_issued"]
    for stacked in (first, second):
        assert stacked["macs_issued"] + stacked["macs_skipped"] == daa["macs"]
        assert stacked["macs_issued"] < min(daa["macs_issued"], skip["macs_issued"])
    for alone, both in zip(daa["ops"], first["ops"]):
        if both["unit"] == "pe_array" and both["phase"] != "fwd":
            assert both["macs"] == pytest.approx(alone["macs"] * kept, abs=both["tiles"] + 1)
    holes = [go(*order) for order in (("daa", "confidence_skip:tau=0.6,mapping=holes"),
                                      ("confidence_skip:tau=0.6,mapping=holes", "daa"))]
    tiles = sum(r["tiles"] for r in holes[0]["ops"])
    assert abs(holes[0]["macs_issued"] - holes[1]["macs_issued"]) <= tiles
    assert all(h["macs_issued"] + h["macs_skipped"] == daa["macs"] for h in holes)
