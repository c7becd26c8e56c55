"""DAA: two operand pairs per PE and cycle on a high- and a low-precision multiplier; cycles,
MACs and energy against hand-derived figures and the trace's pair statistics."""

from __future__ import annotations

import json

import pytest

from accelsim.errors import ConfigError, WorkloadError
from accelsim.sim.engine import Simulation
from accelsim.techniques.chain import TechniqueSpec
from accelsim.workload.loader import load_workload
from accelsim.workload.training import TrainingOptions
from tests.conftest import ROOT, gemm_workload, make_config

MLP = ROOT / "workloads" / "traced" / "mlp"
ASSUMED = "daa:assumed_both_nonzero=0.5,assumed_one_nonzero=0.25"


def run(config, workload, *techniques, step=None):
    return Simulation(config, workload, [TechniqueSpec.parse(t) for t in techniques],
                      step=step).run()


def mlp():
    batch = json.loads((MLP / "manifest.json").read_text())["batch"]
    return load_workload(str(MLP), TrainingOptions(batch=batch))


def test_small_gemm_cycles_macs_and_energy_by_hand():
    """8 x 8 x 64 on an 8x8 output-stationary array (one fold, ideal DRAM): the baseline fold
    takes K + rows + cols - 2 = 64 + 14 = 78 cycles; DAA streams two reduction indices per
    cycle, 32 + 14 = 46. Of the 4096 products, paired 2048 times with half the pairs both
    non-zero and a quarter one non-zero: 1024 + 512 = 1536 products on the high-precision
    (fp16) multiplier, 1024 on the low one (int8), 4096 - 2560 = 1536 zero products skipped.
    MAC energy (fp32 accumulate, 0.9 pJ an add): 1536 x (1.1 + 0.9) + 1024 x (0.2 + 0.9)
    = 3072 + 1126.4 = 4198.4 pJ against 4096 x 2.0 = 8192 pJ; the router 2048 pairs x
    0.09 pJ = 184.32 pJ."""
    config = make_config(8, 8, "os")
    base = run(config, gemm_workload(8, 8, 64))
    daa = run(config, gemm_workload(8, 8, 64), ASSUMED)
    assert base["ops"][0]["compute_cycles"] == 78
    assert daa["ops"][0]["compute_cycles"] == 46
    assert daa["ops"][0]["datatype"] == "fp16"
    assert (daa["macs_issued"], daa["macs_skipped"], daa["macs"]) == (2560, 1536, 4096)
    assert base["energy_pj"]["by_component"]["pe_array"]["mac"] == pytest.approx(8192.0)
    assert daa["energy_pj"]["by_component"]["pe_array"]["mac"] == pytest.approx(4198.4)
    assert daa["energy_pj"]["by_component"]["technique.daa"]["router"] == pytest.approx(184.32)
    stats = daa["technique_stats"]["daa"]
    assert (stats["macs_high"], stats["macs_low"], stats["macs_skipped_zero"]) == (
        1536, 1024, 1536)
    assert stats["assumed_ops"] == ["g.fwd"]
    # per PE: int8 multiplier 282 + fp32 adder 4184 + router 3 x 36 um^2 (Horowitz 45 nm)
    assert daa["technique_area_mm2"]["daa"] == pytest.approx(64 * 4574 / 1e6)


def test_odd_reduction_and_several_folds():
    """16 x 8 x 7 on 8x8 os: two folds of 7 + 14 = 21 cycles each (42); with DAA each fold
    streams ceil(7 / 2) = 4 cycles: 2 x (4 + 14) = 36."""
    config = make_config(8, 8, "os")
    assert run(config, gemm_workload(16, 8, 7))["ops"][0]["compute_cycles"] == 42
    assert run(config, gemm_workload(16, 8, 7), ASSUMED)["ops"][0]["compute_cycles"] == 36


def test_traced_pair_shares_set_the_issued_macs():
    """On the traced mlp at its last step, every GEMM op issues its non-zero products: the
    share both_nonzero + one_nonzero / 2 of its MACs that stats.json records for that op
    (rounded per tile), and issued + skipped is the workload's MACs."""
    stats = json.loads((MLP / "stats.json").read_text())
    last = stats["steps"].index(max(stats["steps"]))
    result = run(make_config(16, 16, "os"), mlp(), "daa", step=max(stats["steps"]))
    assert result["macs_issued"] + result["macs_skipped"] == result["macs"]
    checked = 0
    for row in result["ops"]:
        if row["unit"] != "pe_array":
            continue
        pair = stats["ops"][row["name"]]["daa"]
        share = pair["both_nonzero"][last] + pair["one_nonzero"][last] / 2
        total = row["macs"] + row["macs_skipped"]
        assert row["macs"] == pytest.approx(total * share, abs=row["tiles"])
        checked += 1
    assert checked >= 6


def test_phases_parameter_limits_the_gemms():
    """``phases=[fwd]``: only forward GEMMs change precision and cycles; the backward ones
    keep the baseline's compute cycles and issue every MAC."""
    spec = TechniqueSpec("daa", {"phases": ["fwd"]})
    config = make_config(16, 16, "os")
    base = run(config, mlp())
    only = Simulation(config, mlp(), [spec]).run()
    for a, b in zip(base["ops"], only["ops"]):
        if b["unit"] != "pe_array":
            continue
        if b["phase"] == "fwd":
            assert b["compute_cycles"] < a["compute_cycles"]
        else:
            assert b["compute_cycles"] == a["compute_cycles"] and b["macs_skipped"] == 0


def test_refusals():
    """A weight-stationary array, a kind DAA does not apply to, a low precision that is not
    cheaper, and a workload without pair statistics are each one clear error."""
    with pytest.raises(ConfigError, match="output-stationary"):
        run(make_config(8, 8, "ws"), gemm_workload(8, 8, 8), ASSUMED)
    with pytest.raises(ConfigError, match="costs less"):
        run(make_config(8, 8, "os"), gemm_workload(8, 8, 8), ASSUMED + ",low=fp32")
    with pytest.raises(WorkloadError, match="paired-stream statistics"):
        run(make_config(8, 8, "os"), gemm_workload(8, 8, 8), "daa")
    with pytest.raises(ConfigError, match="together"):
        TechniqueSpec.parse("daa:assumed_both_nonzero=0.5")
    from accelsim.config.loader import load_hwconfig
    from tests.conftest import HWCONFIGS
    with pytest.raises(ConfigError, match="applies to"):
        run(load_hwconfig(HWCONFIGS / "tensor_core_like.yaml"), gemm_workload(8, 8, 8), ASSUMED)
