"""The fast tile replay (accelsim.sim.fast_forward) gives the figures of the per-tile reference
replay (``sim.reference: true``): identical cycles, bytes and counts, the same op rows and CSV,
floating-point energy within 1e-9 relative.

Reference cases: every shipped hwconfig with a small network and ResNet-18, techniques off and
on (each technique on the PE-array kinds it applies to). CI runs small batches and the forward
and backward-data phases; larger cases are marked slow.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from accelsim.config.loader import load_hwconfig
from accelsim.sim.engine import Simulation
from accelsim.techniques.chain import TechniqueSpec
from accelsim.workload.loader import load_workload
from accelsim.workload.training import TrainingOptions

ROOT = Path(__file__).resolve().parent.parent
HWCONFIGS = sorted(p.name for p in (ROOT / "hwconfigs").glob("*.yaml"))
#: a technique for each kind it applies to (assumed rates where it needs traced statistics)
TECHNIQUES = {"scnn_like.yaml": ["ant"],
              "tensor_core_like.yaml": ["acrtc:k=4,assumed_hit_rate=0.4"],
              "tpu_like_128x128.yaml": ["mquans:assumed_change_rate=0.3"],
              "edge_16x16.yaml": ["confidence_skip:tau=0.9,assumed_skip_fraction=0.3"],
              "scalesim_32x32_os.yaml": ["mquans:assumed_change_rate=0.3"]}
#: result keys that say how the run was made, not what it computed
PROVENANCE = {"run", "hwconfig_source", "hwconfig_resolved", "hwconfig"}
#: (path, key) of figures that count the engine's own work, not the simulated machine's
ENGINE_WORK = {("simulation", "simpy_events")}


def _run(hw: str, workload: str, batch: int, phases, techniques, reference: bool, tmp: Path):
    config = load_hwconfig(ROOT / "hwconfigs" / hw, [f"sim.reference={str(reference).lower()}"])
    options = TrainingOptions(batch=batch, element_bytes=config.element_bytes)
    network = load_workload(workload, options, phases)
    result = Simulation(config, network, [TechniqueSpec.parse(t) for t in techniques]).run()
    csv = tmp / f"{'reference' if reference else 'fast'}.csv"
    result.write_csv(csv)
    return result, csv.read_text()


def _compare(fast, reference, path: tuple = ()) -> list[str]:
    """Differences between two result trees (empty when they agree)."""
    if isinstance(reference, dict):
        problems = []
        if set(fast) != set(reference):
            return [f"{'.'.join(path)}: keys {sorted(set(fast) ^ set(reference))}"]
        for key in reference:
            if not path and key in PROVENANCE or (path[-1:] + (key,)) in ENGINE_WORK:
                continue
            problems += _compare(fast[key], reference[key], path + (str(key),))
        return problems
    if isinstance(reference, (list, tuple)):
        if len(fast) != len(reference):
            return [f"{'.'.join(path)}: {len(fast)} items, reference {len(reference)}"]
        return [p for i, (a, b) in enumerate(zip(fast, reference))
                for p in _compare(a, b, path + (str(i),))]
    where = ".".join(path)
    if type(fast) is not type(reference):
        return [f"{where}: {fast!r} ({type(fast).__name__}), reference {reference!r}"]
    if isinstance(reference, float) and "energy_pj" in path:
        if not math.isclose(fast, reference, rel_tol=1e-9, abs_tol=1e-12):
            return [f"{where}: {fast!r}, reference {reference!r}"]
        return []
    if fast != reference and not (isinstance(reference, float) and math.isnan(reference)
                                  and math.isnan(fast)):
        return [f"{where}: {fast!r}, reference {reference!r}"]
    return []


def _check(tmp_path, hw, workload, batch, phases, techniques=()):
    fast, fast_csv = _run(hw, workload, batch, phases, techniques, False, tmp_path)
    reference, reference_csv = _run(hw, workload, batch, phases, techniques, True, tmp_path)
    problems = _compare(fast.data, reference.data)
    assert not problems, "\n".join(problems[:20])
    assert fast_csv == reference_csv
    # the fast replay is not the reference under another name: it saves SimPy events
    assert (fast["simulation"]["simpy_events"]
            <= reference["simulation"]["simpy_events"])
    return fast, reference


@pytest.mark.parametrize("hw", HWCONFIGS)
@pytest.mark.parametrize("techniques", [(), "on"], ids=["plain", "technique"])
def test_small_network_matches_reference(tmp_path, hw, techniques):
    """Every shipped hwconfig, the small ResNet of workloads/, a whole training iteration."""
    techniques = TECHNIQUES[hw] if techniques == "on" else ()
    _check(tmp_path, hw, str(ROOT / "workloads" / "small_resnet.yaml"), 4, None, techniques)


@pytest.mark.parametrize("hw", HWCONFIGS)
def test_resnet18_matches_reference(tmp_path, hw):
    """Every shipped hwconfig, ResNet-18 at batch 1, forward and backward-data phases."""
    _check(tmp_path, hw, "resnet18", 1, ["fwd", "bwd_data"])


def test_halved_sram_matches_reference_and_saves_events(tmp_path):
    """Small buffers (many tiles per op): same figures, and far fewer SimPy events."""
    fast, reference = _check(tmp_path, "edge_16x16.yaml", "resnet18_cifar", 2, None)
    assert fast["simulation"]["simpy_events"] * 4 < reference["simulation"]["simpy_events"]


@pytest.mark.slow
@pytest.mark.parametrize("hw", HWCONFIGS)
@pytest.mark.parametrize("techniques", [(), "on"], ids=["plain", "technique"])
def test_resnet18_training_matches_reference(tmp_path, hw, techniques):
    """Every shipped hwconfig, ResNet-18 at batch 4, the whole training iteration."""
    techniques = TECHNIQUES[hw] if techniques == "on" else ()
    _check(tmp_path, hw, "resnet18", 4, None, techniques)
