"""ANT (anticipating redundant Cartesian products) on the SCNN-like outer-product array.

Expected figures come from hand-worked chunk pairs and from a brute-force reference chunk
model written here (plain loops over every product), not from the code under test.
"""

from __future__ import annotations

import csv
import itertools
import subprocess
import sys

import numpy as np
import pytest

from accelsim.errors import ConfigError
from accelsim.hw.kinds.outer_product.model import chunk_model
from accelsim.hw.kinds.outer_product.rcp import Axis
from accelsim.sim.engine import Simulation
from accelsim.techniques.ant import anticipated_products, kept_pairs
from accelsim.techniques.chain import TechniqueSpec
from accelsim.workload.op import Phase
from tests.conftest import ROOT, gemm_workload, make_config
from tests.test_outer_product import (FLAT, WGRAD_1D, conv_op, dnnsim_bank, run,
                                      stepped_cycles)


# -- the check on hand-worked chunk pairs ---------------------------------------------------------
def test_granularities_on_hand_worked_pairs():
    """1-D dW, x and dy non-zero in 0..7 (R 3, pad 1), F = I = 2, one PE: 16 chunk pairs of
    4 products, 22 valid (|x - p| <= 1). Chunk a holds x in [2a, 2a+1], chunk b p in
    [2b, 2b+1]: the output window [2(a-b) - 1 + 1, ...] meets [0, 2] only for |a - b| <= 1, so
    6 pairs (24 products) are dropped at chunk granularity and their 6 cycles saved
    (20 -> 14). At stride 1 the bound check of a product is its validity: element
    granularity anticipates all 42 RCPs and drops the same 6 pairs. The row axis is trivial
    (one row): row granularity drops nothing."""
    a = np.ones((1, 1, 8), dtype=bool)
    b = np.ones((1, 1, 1, 8), dtype=bool)
    pairs = chunk_model(a, b, (FLAT, WGRAD_1D), f=2, i=2, banks=32, grid=(1, 1))
    expected = {"chunk": (10, 24, 14), "element": (10, 42, 14), "row": (16, 0, 20)}
    for granularity, (kept_count, anticipated, cycles) in expected.items():
        kept = kept_pairs(pairs, granularity)
        assert int(kept.sum()) == kept_count, granularity
        assert anticipated_products(pairs, kept, granularity) == anticipated, granularity
        assert pairs.pe_cycles(kept).tolist() == [cycles], granularity


# -- a whole op against a brute-force chunk model ---------------------------------------------------
def brute_force_pairs(a: np.ndarray, b: np.ndarray, axes: tuple[Axis, Axis], f: int, i: int,
                      banks: int, out_shape: tuple[int, int]) -> list[dict]:
    """Every chunk pair of one dense A plane against one B plane (one output channel) on one
    PE, by loops: A non-zeros in row-major order in chunks of ``i``, B non-zeros in chunks of
    ``f``; per pair its products, valid products, whether its coordinate boxes can reach the
    output window on both axes (chunk granularity), and its valid products per accumulator
    bank (DNNsim's mapping, ``dnnsim_bank``)."""
    a_points = [tuple(p) for p in np.argwhere(a)]
    b_points = [tuple(p) for p in np.argwhere(b)]

    def output(axis: Axis, x: int, u: int) -> float:
        return (axis.a_coef * x + axis.b_coef * u + axis.offset) / axis.divisor

    def valid(x: tuple, u: tuple) -> bool:
        outs = [output(axis, x[d], u[d]) for d, axis in enumerate(axes)]
        return all(o == int(o) and 0 <= o < axis.out_size for o, axis in zip(outs, axes))

    pairs = []
    for a_chunk in (a_points[s:s + i] for s in range(0, len(a_points), i)):
        for b_chunk in (b_points[s:s + f] for s in range(0, len(b_points), f)):
            products = list(itertools.product(a_chunk, b_chunk))
            good = [(x, u) for x, u in products if valid(x, u)]
            reach = True
            for d, axis in enumerate(axes):
                ends = [output(axis, x[d], u[d]) for x in a_chunk for u in b_chunk]
                reach &= max(ends) >= 0 and min(ends) <= axis.out_size - 1
            per_bank: dict[int, int] = {}
            for x, u in good:
                bank = dnnsim_bank(0, int(output(axes[0], x[0], u[0])),
                                   int(output(axes[1], x[1], u[1])))
                per_bank[bank] = per_bank.get(bank, 0) + 1
            pairs.append({"products": len(products), "valid": len(good), "reach": reach,
                          "loads": per_bank})
    return pairs


def test_weight_gradient_op_matches_brute_force():
    """A dense 4x4 bwd_weight conv (one channel in and out, 3x3, pad 1) on a 1x1 grid of
    4x4 multipliers: the op's cycles, RCPs, anticipated RCPs, checks and energy with ANT (chunk
    granularity, 1-cycle comparator latency, 0.12 pJ per check) equal a brute-force chunk
    model whose pairs run through a cycle-by-cycle simulation of the accumulator queues
    (4 deep). ANT changes the energy by exactly +0.12 pJ per check - 1.1 pJ (an fp16 multiply)
    per anticipated RCP; MACs are unchanged."""
    op = conv_op(Phase.BWD_WEIGHT, cin=1, cout=1, size=4, density=1.0)
    x = np.ones((4, 4), dtype=bool)
    axes = (Axis(4, 4, 1, -1, 1, 1, 3), Axis(4, 4, 1, -1, 1, 1, 3))
    pairs = brute_force_pairs(x, x, axes, f=4, i=4, banks=32, out_shape=(3, 3))
    products = sum(p["products"] for p in pairs)
    valid = sum(p["valid"] for p in pairs)
    dropped = [p for p in pairs if not p["reach"]]
    assert products == 256 and 0 < len(dropped) < len(pairs)

    pe = {"rows": 1, "cols": 1}
    base = run([op], **pe)
    ant = run([op], ["ant"], **pe)
    (b_row,), (a_row,) = base["ops"], ant["ops"]
    assert b_row["products_issued"] == a_row["products_issued"] == products
    assert a_row["rcps"] == products - valid
    base_cycles = stepped_cycles([p["loads"] for p in pairs], 4)
    kept_cycles = stepped_cycles([p["loads"] for p in pairs if p["reach"]], 4)
    assert b_row["compute_cycles"] == base_cycles
    # the 9 outputs' banks bound both runs (a dropped pair frees a multiplier cycle only);
    # ANT never makes a tile slower than without it
    assert a_row["compute_cycles"] == min(base_cycles, kept_cycles + 1)
    assert a_row["rcps_anticipated"] == sum(p["products"] for p in dropped)
    assert a_row["macs"] == b_row["macs"] == valid
    stats = ant["technique_stats"]["ant"]
    assert stats["checks"] == len(pairs)
    assert stats["rcps_missed"] == products - valid - a_row["rcps_anticipated"]
    comparators = ant["energy_pj"]["by_component"]["technique.ant"]["comparators"]
    assert comparators == pytest.approx(len(pairs) * 0.12)
    delta = ant["energy_pj"]["total"] - base["energy_pj"]["total"]
    assert delta == pytest.approx(len(pairs) * 0.12 - a_row["rcps_anticipated"] * 1.1)
    assert ant["technique_area_mm2"] == {"ant": 0.0017}


def test_parameters_from_the_command_line():
    """``ant:granularity=row,comparator_energy_pj=0.2``: the row check and the given energy
    per check. On the 4x4 op above the row axis alone still drops pairs (its boxes miss on
    the row axis), never more than the chunk check."""
    op = conv_op(Phase.BWD_WEIGHT, cin=1, cout=1, size=4, density=1.0)
    chunk = run([op], ["ant"], rows=1, cols=1)
    row = run([op], ["ant:granularity=row,comparator_energy_pj=0.2"], rows=1, cols=1)
    stats = row["technique_stats"]["ant"]
    assert stats["granularity"] == "row"
    assert row["energy_pj"]["by_component"]["technique.ant"]["comparators"] == pytest.approx(
        stats["checks"] * 0.2)
    assert stats["rcps_anticipated"] <= chunk["technique_stats"]["ant"]["rcps_anticipated"]
    assert row["run"]["techniques"] == [{"name": "ant", "params": {
        "granularity": "row", "comparator_latency_cycles": 1, "comparator_energy_pj": 0.2,
        "area_mm2": 0.0017}}]


def test_bad_parameter_lists_the_valid_ones():
    """A misspelt parameter is one error naming it and listing every parameter with its type
    and default; a bad value names the key and the valid choices."""
    with pytest.raises(ConfigError) as caught:
        TechniqueSpec.parse("ant:granularty=row")
    assert str(caught.value) == (
        "--technique ant:granularty=row: ant.granularty: expected a known key (valid "
        "choices: area_mm2 (float, default 0.0017), comparator_energy_pj (float, default "
        "0.12), comparator_latency_cycles (int, default 1), granularity ('element' | 'chunk' "
        "| 'row', default 'chunk'))")
    with pytest.raises(ConfigError) as caught:
        TechniqueSpec.parse("ant:granularity=tile")
    assert "ant.granularity: expected one of the valid choices, got 'tile'" in str(caught.value)


def test_stride_two_rcps_are_missed_by_bound_checks():
    """At stride 2 three quarters of a dense forward plane's in-bounds products land between
    output coordinates (off the stride on either axis): in bounds, so even element granularity
    misses them; it anticipates under half of the RCPs."""
    op = conv_op(Phase.FWD, stride=2)
    stats = run([op], ["ant:granularity=element"])["technique_stats"]["ant"]
    assert 0 < stats["anticipated_fraction"] < 0.5


def test_named_on_a_systolic_array_is_an_error():
    """ANT applies to outer-product arrays only: on a systolic array it is refused with the
    kinds it applies to, not silently ignored."""
    with pytest.raises(ConfigError) as caught:
        Simulation(make_config(), gemm_workload(64, 64, 64),
                   [TechniqueSpec.parse("ant")]).run()
    message = str(caught.value)
    assert "a PE-array kind it applies to, not systolic" in message
    assert "(valid choices: outer_product)" in message


def test_reproduction_script_runs(tmp_path):
    """scripts/reproduce_ant.py on one small network writes its table and chart. The
    weight-gradient RCP share follows the paper's estimate: for a 3x3 kernel against 32x32,
    16x16, 8x8 and 4x4 gradient planes the valid fraction is about (3/P)^2, so RCPs are well
    over 90% of the bwd_weight products."""
    pytest.importorskip("matplotlib")
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts/reproduce_ant.py"), "--networks",
         "resnet18_cifar", "--batch", "1", "--jobs", "1", "--out", str(tmp_path)],
        capture_output=True, text=True, check=True)
    assert "statistical fallback" in done.stdout
    with open(tmp_path / "ant_reproduction.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["phase"] for r in rows] == ["fwd", "bwd_data", "bwd_weight", "all"]
    wgrad = rows[2]
    assert float(wgrad["rcp_share"]) > 0.9
    assert float(wgrad["pe_speedup"]) > 1.0
    assert (tmp_path / "ant_reproduction.png").stat().st_size > 0
    # the energy split by component adds up to each run's total energy, whose ratio is the
    # reduction, which stays within its bound (the baseline less its RCP multiplies; 1% of
    # slack, since residency decided as ops start may differ between the two runs)
    with open(tmp_path / "ant_networks.csv") as handle:
        network = next(csv.DictReader(handle))
    base, ant = ({key: float(value) for key, value in network.items()
                  if key.startswith(run + "_") and key.endswith("_uj")}
                 for run in ("base", "ant"))
    assert sum(base.values()) / sum(ant.values()) == pytest.approx(
        float(network["energy_reduction"]), rel=1e-9)
    assert base["base_pe_array_uj"] > 0 and base["base_dram_uj"] > 0
    assert base["base_technique_uj"] == 0 < ant["ant_technique_uj"]
    assert float(network["energy_reduction"]) <= float(network["energy_bound"]) * 1.01
    assert network["onchip_policy"] == "liveness"
    assert "RCP multiplies are" in done.stdout
