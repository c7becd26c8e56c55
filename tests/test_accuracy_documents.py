"""The shipped accuracy documents (workloads/accuracy/<workload>/<technique>.json) read back
torch-free with the agreed schema, and their exact runs learn."""

from __future__ import annotations

import json

import pytest

from accelsim.errors import WorkloadError
from accelsim.trace.numerics.report import load
from tests.conftest import ROOT

SHIPPED = sorted((ROOT / "workloads" / "accuracy").glob("*/*.json"))


def test_the_studies_are_shipped():
    assert {(p.parent.name, p.stem) for p in SHIPPED} >= {
        ("resnet18_cifar", "acrtc"), ("resnet18_cifar", "mquans"), ("mlp", "daa")}


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_shipped_document(path):
    """Named as its folder and file; the final figures are the last evaluations'; the exact
    run's held-out accuracy ends at least 30 points above where it started (10 classes)."""
    doc = load(path)
    assert (doc["workload"], doc["technique"]) == (path.parent.name, path.stem)
    exact, run, final = doc["exact"], doc["technique_run"], doc["final"]
    assert exact["eval_steps"] == run["eval_steps"]
    assert exact["eval_steps"][0] == 0 and exact["eval_steps"][-1] == doc["steps"]
    assert final["exact_accuracy"] == exact["test_accuracy"][-1]
    assert final["technique_accuracy"] == run["test_accuracy"][-1]
    assert final["difference_pp"] == pytest.approx(
        100 * (final["technique_accuracy"] - final["exact_accuracy"]))
    assert exact["test_accuracy"][-1] >= exact["test_accuracy"][0] + 0.30


def test_daa_study_describes_the_reproduced_design():
    """The DAA study that ``accelsim reproduce daa`` quotes ran the precisions and phases the
    simulator's daa uses, parameters unset, on the reproduction's hwconfig."""
    from accelsim.config.loader import load_hwconfig
    from accelsim.reproduce.daa import HW
    from accelsim.sim.engine import Simulation
    from accelsim.techniques.chain import TechniqueSpec
    from tests.conftest import HWCONFIGS, gemm_workload

    doc = load(ROOT / "workloads" / "accuracy" / "mlp" / "daa.json")
    result = Simulation(load_hwconfig(HWCONFIGS / f"{HW}.yaml"), gemm_workload(8, 8, 8),
                        [TechniqueSpec.parse("daa:assumed_both_nonzero=0.5,"
                                             "assumed_one_nonzero=0.25")]).run()
    used = result["technique_stats"]["daa"]
    assert {key: doc["params"][key] for key in ("high", "low", "phases")} == {
        key: used[key] for key in ("high", "low", "phases")}
    assert doc["params"]["router"] == "exponent"


def test_load_names_what_is_wrong(tmp_path):
    path = tmp_path / "x.json"
    path.write_text(json.dumps({"schema": "accelsim.run/1"}))
    with pytest.raises(WorkloadError, match="schema"):
        load(path)
    good = json.loads(SHIPPED[0].read_text())
    del good["technique_run"]["eval_steps"]
    path.write_text(json.dumps(good))
    with pytest.raises(WorkloadError, match="technique_run.eval_steps"):
        load(path)
