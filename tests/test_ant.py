"""ANT: anticipated RCPs are dropped before the multipliers, on an outer-product array."""

from __future__ import annotations

import csv
import subprocess
import sys

import pytest

from accelsim.sim.engine import Simulation
from accelsim.techniques.ant import Ant, AntParams
from accelsim.techniques.base import TECHNIQUES
from accelsim.techniques.chain import TechniqueChain
from accelsim.workload.op import Phase
from tests.conftest import ROOT, gemm_workload, make_config
from tests.test_outer_product import conv_op, run


def test_registered_with_its_params():
    """`--technique ant` names the class; the comparator area is the paper's 0.0017 mm2."""
    assert TECHNIQUES.get("ant") is Ant
    params = AntParams()
    assert (params.granularity, params.area_mm2) == ("chunk", 0.0017)
    with pytest.raises(ValueError):
        AntParams(granularity="block")


def test_weight_gradient_speedup_and_stats():
    """On a bwd_weight conv (16 channels in and out, 16x16, batch 1, 90% sparse) ANT drops
    anticipated chunk pairs: fewer cycles, fewer multiplies, the same MACs; the stats add
    up (total = anticipated + missed) and match the op rows."""
    op = conv_op(Phase.BWD_WEIGHT)
    base = run([op])
    ant = run([op], ["ant"])
    (b_row,), (a_row,) = base["ops"], ant["ops"]
    assert a_row["compute_cycles"] < b_row["compute_cycles"]
    assert a_row["macs"] == b_row["macs"]
    assert a_row["rcps"] == b_row["rcps"]
    assert 0 < a_row["rcps_anticipated"] <= a_row["rcps"]
    stats = ant["technique_stats"]["ant"]
    assert stats["rcps_total"] == a_row["rcps"]
    assert stats["rcps_anticipated"] == a_row["rcps_anticipated"]
    assert stats["rcps_total"] == stats["rcps_anticipated"] + stats["rcps_missed"]
    assert stats["energy_pj"] == pytest.approx(stats["checks"] * 0.12)
    assert stats["area_mm2"] == 0.0017
    pe = ant["energy_pj"]["by_component"]["pe_array"]
    assert pe["rcp_mult"] == pytest.approx((a_row["rcps"] - a_row["rcps_anticipated"]) * 1.1)
    assert pe["rcp_mult"] < base["energy_pj"]["by_component"]["pe_array"]["rcp_mult"]
    assert ant["invariants"]["macs_conserved"] == "ok"


def test_element_granularity_anticipates_every_rcp_at_stride_one():
    """At stride 1 the coordinate-bound check of a product is its validity test: element
    granularity anticipates every RCP; chunk granularity fewer (boxes are coarser), row
    granularity (one axis) fewer still; none is slower than no ANT."""
    op = conv_op(Phase.BWD_WEIGHT)
    base = run([op])["ops"][0]["compute_cycles"]
    stats, cycles = {}, {}
    for granularity in ("element", "chunk", "row"):
        result = run([op], [Ant(AntParams(granularity=granularity))])
        stats[granularity] = result["technique_stats"]["ant"]
        cycles[granularity] = result["ops"][0]["compute_cycles"]
    assert stats["element"]["anticipated_fraction"] == pytest.approx(1.0)
    assert stats["chunk"]["anticipated_fraction"] < 1.0
    assert stats["row"]["rcps_anticipated"] <= stats["chunk"]["rcps_anticipated"]
    assert cycles["element"] <= cycles["chunk"] <= cycles["row"] <= base


def test_stride_two_rcps_are_missed_by_bound_checks():
    """At stride 2 half the forward products land between output coordinates: in bounds but
    not a multiple of the stride, so even element granularity misses them."""
    op = conv_op(Phase.FWD, stride=2)
    stats = run([op], [Ant(AntParams(granularity="element"))])["technique_stats"]["ant"]
    assert 0 < stats["anticipated_fraction"] < 0.5


def test_systolic_ops_pass_unchanged():
    """On a systolic array there are no chunk pairs: ANT changes nothing, reports zeros."""
    config = make_config()
    base = Simulation(config, gemm_workload(64, 64, 64)).run()
    ant = Simulation(config, gemm_workload(64, 64, 64), TechniqueChain.from_names(["ant"])).run()
    assert ant.total_cycles == base.total_cycles
    assert ant["technique_stats"]["ant"]["rcps_total"] == 0
    assert "products_issued" not in ant["ops"][0]


def test_reproduction_script_runs(tmp_path):
    """scripts/reproduce_ant.py on one small network: table, geomeans beside the paper's,
    the mask source said, CSV and chart written."""
    pytest.importorskip("matplotlib")
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts/reproduce_ant.py"), "--networks",
         "resnet18_cifar", "--batch", "1", "--jobs", "1", "--out", str(tmp_path)],
        capture_output=True, text=True, check=True)
    assert "statistical fallback" in done.stdout
    assert "3.71x" in done.stdout and "4.40x" in done.stdout
    with open(tmp_path / "ant_reproduction.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["phase"] for r in rows] == ["fwd", "bwd_data", "bwd_weight", "all"]
    wgrad = rows[2]
    assert float(wgrad["rcp_share"]) > 0.9
    assert float(wgrad["pe_speedup"]) > 1.0
    assert (tmp_path / "ant_reproduction.png").stat().st_size > 0
