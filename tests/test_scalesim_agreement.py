"""Compute cycles of dense layers agree with SCALE-Sim v3 for the os, ws and is dataflows.

Golden numbers: ``tests/golden/scalesim_v3_compute_cycles.json``, produced by running the real
SCALE-Sim (``pip install scalesim==3.0.0 numpy==2.3.5``, Python API with
``save_disk_space=True``, 10 MiB SRAMs so that memory never stalls) through
``scripts/scalesim_golden.py``. SCALE-Sim reports the 0-based index of the last busy cycle,
one less than the cycle count (``memory/double_buffered_scratchpad_mem.py:307``); and it
sizes the output with ceil((H - R + s) / s) (``topology_utils.py:285``), so for layer L7
(30x30 input, 7x7 kernel, stride 2) it computes a 13x13 output where the convolution has
12x12. The agreement test feeds SCALE-Sim's output size for that one layer.
"""

from __future__ import annotations

import json
import math

import pytest

from accelsim.sim.engine import Simulation
from accelsim.workload.graph import Workload
from accelsim.workload.op import Gemm, Op, Phase, Tensor
from tests.conftest import ROOT, make_config

GOLDEN = json.loads((ROOT / "tests/golden/scalesim_v3_compute_cycles.json").read_text())


def scalesim_gemm(layer: dict) -> Gemm:
    """SCALE-Sim's lowering: M = output pixels (its ceil rule), N = filters, K = R*S*C."""
    s = layer["stride"]
    ho = math.ceil((layer["ifmap_h"] - layer["filter_h"] + s) / s)
    wo = math.ceil((layer["ifmap_w"] - layer["filter_w"] + s) / s)
    k = layer["filter_h"] * layer["filter_w"] * layer["channels"]
    return Gemm(ho * wo, layer["filters"], k)


def single_op_workload(gemm: Gemm) -> Workload:
    op = Op("layer.fwd", "layer", Phase.FWD, "conv",
            reads=(Tensor("x", gemm.m * gemm.k, 2), Tensor("w", gemm.k * gemm.n, 2)),
            writes=(Tensor("y", gemm.m * gemm.n, 2),), gemm=gemm)
    return Workload("layer", [op])


@pytest.mark.parametrize("layer", GOLDEN["layers"],
                         ids=lambda l: f"{l['name']}-{l['rows']}x{l['cols']}-{l['dataflow']}")
def test_compute_cycles_match_scalesim(layer):
    """Within 1% of SCALE-Sim; exactly its count plus the one cycle of its 0-based report."""
    config = make_config(layer["rows"], layer["cols"], layer["dataflow"])
    result = Simulation(config, single_op_workload(scalesim_gemm(layer))).run()
    ours = result.total_cycles
    theirs = layer["scalesim_compute_cycles"]
    assert abs(ours - theirs) / theirs <= 0.01
    assert ours == theirs + 1


def test_golden_covers_all_dataflows_and_two_arrays():
    """The golden file holds every dataflow on both array sizes."""
    combos = {(l["dataflow"], l["rows"]) for l in GOLDEN["layers"]}
    assert combos == {(f, r) for f in ("os", "ws", "is") for r in (8, 32)}
