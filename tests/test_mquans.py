"""Mquans computation reuse on the systolic array.

The single-layer workloads carry hand-written change rates; every expected figure below is
worked by hand from the model in :mod:`accelsim.techniques.mquans` (class rates mixed in the
class shares, the issued share of the stream, whole tiles of a GEMM whose buffers hold it at
once), not taken from the code under test.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from accelsim.config.loader import load_hwconfig
from accelsim.errors import ConfigError, WorkloadError
from accelsim.sim.engine import Simulation
from accelsim.techniques.chain import TechniqueSpec
from accelsim.workload.graph import Workload
from accelsim.workload.op import Gemm, Op, Phase, Tensor
from accelsim.workload.value_stats import ValueStats
from tests.conftest import ROOT, make_config

BITS = [2, 4, 6]
#: Rates per measured pair (rows) and bit-width (columns 2, 4, 6 bits). Means over the two
#: pairs: critical 0.5 at 6 bits, tolerant 0.25 at 4 bits; all 0.3 at 6 bits, 0.1 at 4 bits.
RATES = {"critical": [[0.1, 0.3, 0.4], [0.1, 0.3, 0.6]],
         "tolerant": [[0.05, 0.2, 0.5], [0.05, 0.3, 0.5]],
         "all": [[0.05, 0.1, 0.3], [0.05, 0.1, 0.3]]}


def stats(layers: dict[str, dict[str, list]], fraction: float = 0.25) -> ValueStats:
    """Value statistics holding Mquans change rates of ``layers`` (class -> rows)."""
    data = {"steps": [0, 8, 16, 24], "steps_per_epoch": 16,
            "params": {"mquans": {"bits": BITS, "critical_fraction": fraction,
                                  "pair_distance": 16}},
            "layers": {name: {"mquans_change_rate": {"pairs": [[0, 16], [8, 24]],
                                                     "rate": rates}}
                       for name, rates in layers.items()}}
    return ValueStats("<hand-built>", data, {}, {})


def fwd_op(m: int, n: int, k: int, layer: str = "g", phase: Phase = Phase.FWD) -> Op:
    name = f"{layer}.{phase.value}"
    return Op(name, layer, phase, "linear",
              reads=(Tensor(f"{name}.a", m * k, 2), Tensor(f"{layer}.w", k * n, 2)),
              writes=(Tensor(f"{name}.c", m * n, 2),), gemm=Gemm(m, n, k))


def run(ops, techniques=(), value_stats=None):
    """One run on an 8x8 os array, ideal DRAM, buffers holding each GEMM whole (one tile)."""
    workload = Workload("t", list(ops), value_stats=value_stats)
    return Simulation(make_config(), workload,
                      [TechniqueSpec.parse(t) for t in techniques]).run()


def row(result, name):
    return next(r for r in result["ops"] if r["name"] == name)


# -- hand-derived figures ------------------------------------------------------------------------
def test_changed_inputs_issue_their_share_of_macs_and_cycles():
    """64x64x64 on 8x8 os: one tile, 64 folds, compute 64*64 + 64*(8+8-2) = 4992 cycles,
    262,144 MACs. Critical 6 bits rate 0.5, tolerant 4 bits rate 0.25, a quarter critical:
    changed share 0.25*0.5 + 0.75*0.25 = 5/16. Issued MACs 81,920 (180,224 skipped), compute
    ceil(4992 * 5/16) = 1560. No weight row is skipped (64 inputs per row). Reuse state:
    4096 inputs at 0.25*6 + 0.75*4 = 4.5 bits = 2304 bytes, 4096 outputs at fp32 = 16,384
    bytes, read and written; 4096 * 11/16 = 2816 inputs reused."""
    op = fwd_op(64, 64, 64)
    base = run([op])
    result = run([op], ["mquans"], stats({"g": RATES}))
    before, after = row(base, "g.fwd"), row(result, "g.fwd")
    assert before["tiles"] == after["tiles"] == 1
    assert before["compute_cycles"] == 4992
    assert after["macs"] == 81_920 and after["macs_skipped"] == 180_224
    assert after["compute_cycles"] == 1560
    mq = result["technique_stats"]["mquans"]
    assert mq["macs_skipped"] == 180_224
    assert mq["compute_cycles_saved"] == 4992 - 1560
    assert mq["weight_bytes_skipped"] == 0
    assert mq["state_bytes_read"] == mq["state_bytes_written"] == 2304 + 16_384
    assert after["dram_bytes_read"] - before["dram_bytes_read"] == 2304 + 16_384
    assert after["dram_bytes_written"] - before["dram_bytes_written"] == 2304 + 16_384
    assert mq["inputs_compared"] == 4096 and mq["inputs_reused"] == 2816
    layer = mq["layers"]["g"]
    assert layer["critical_rate"] == pytest.approx(0.5)
    assert layer["tolerant_rate"] == pytest.approx(0.25)
    assert layer["changed_share"] == pytest.approx(5 / 16)
    assert layer["source"] == "traced"
    assert result["macs_issued"] + result["macs_skipped"] == result["macs"] == 262_144
    assert result["energy_pj"]["by_component"]["technique.mquans"]["quantize_compare"] \
        == pytest.approx(4096 * 0.06)


def test_lanes_skip_a_step_only_when_all_its_inputs_are_unchanged():
    """lanes=4: a step is issued unless the 4 inputs of its neuron are all unchanged:
    1 - 0.25*0.5^4 - 0.75*0.75^4 = 0.7470703125 of the stream. MACs 262,144 * that =
    195,840 exactly; compute ceil(4992 * 0.7470703125) = ceil(3729.375) = 3730."""
    result = run([fwd_op(64, 64, 64)], ["mquans:lanes=4"], stats({"g": RATES}))
    after = row(result, "g.fwd")
    assert after["macs"] == 195_840 and after["macs_skipped"] == 262_144 - 195_840
    assert after["compute_cycles"] == 3730
    assert result["technique_stats"]["mquans"]["layers"]["g"]["issued_share"] \
        == pytest.approx(0.7470703125)


def test_one_input_row_skips_the_weight_rows_of_unchanged_inputs():
    """M = 1 (one sample of a fully connected layer, Riera et al.'s case): each weight row
    meets one input, so 5/16 of the 64 rows are fetched: the 8192 weight bytes become 2560,
    5632 skipped. MACs 4096 -> 1280."""
    op = fwd_op(1, 64, 64)
    base = run([op])
    result = run([op], ["mquans"], stats({"g": RATES}))
    mq = result["technique_stats"]["mquans"]
    assert mq["weight_bytes_skipped"] == 5632
    assert row(result, "g.fwd")["macs"] == 1280
    state = (64 * 4.5 / 8) + 64 * 4  # 36 bytes of levels, 256 of fp32 outputs
    assert row(result, "g.fwd")["dram_bytes_read"] \
        == row(base, "g.fwd")["dram_bytes_read"] - 5632 + state


def test_unchanged_layer_issues_nothing_and_fetches_no_weights():
    """A layer whose inputs never change (the first layer reading the same image): no MAC, no
    compute cycle, no weight byte; only its previous outputs and levels move."""
    unchanged = {"all": [[0.0, 0.0, 0.0]] * 2}
    result = run([fwd_op(32, 16, 48)], ["mquans"], stats({"g": unchanged}))
    after = row(result, "g.fwd")
    assert after["macs"] == 0 and after["macs_skipped"] == 32 * 16 * 48
    assert after["compute_cycles"] == 0
    mq = result["technique_stats"]["mquans"]
    assert mq["weight_bytes_skipped"] == 48 * 16 * 2
    assert mq["layers"]["g"]["source"].startswith("traced (all neurons")


def test_state_of_a_strided_convolution_counts_the_inputs_it_reads():
    """A 1x1 stride-2 convolution (2 images, 4 channels of 8x8, 8 output channels of 4x4)
    reads a quarter of its input: 2*4*16 = 128 elements, not 512. State: 128 levels at 4.5
    bits = 72 bytes, 2*8*16 = 256 outputs at fp32 = 1024 bytes."""
    geometry = {"cin": 4, "cout": 8, "h": 8, "w": 8, "r": 1, "s": 1, "stride": 2, "pad": 0,
                "ho": 4, "wo": 4, "groups": 1, "dilation": 1, "transposed": False}
    op = Op("g.fwd", "g", Phase.FWD, "conv",
            reads=(Tensor("x", 2 * 4 * 64, 2), Tensor("g/weight", 8 * 4, 2)),
            writes=(Tensor("y", 2 * 8 * 16, 2),), gemm=Gemm(32, 8, 4), attrs=geometry)
    mq = run([op], ["mquans"], stats({"g": RATES}))["technique_stats"]["mquans"]
    assert mq["inputs_compared"] == 128
    assert mq["state_bytes_read"] == mq["state_bytes_written"] == 72 + 1024


def test_one_class_layer_mixes_the_all_rates_at_each_class_width():
    """Only `all` measured: critical share at 6 bits (0.3), tolerant at 4 bits (0.1):
    changed 0.25*0.3 + 0.75*0.1 = 0.15 of 262,144 MACs = 39,321.6 -> 39,322 issued."""
    result = run([fwd_op(64, 64, 64)], ["mquans"], stats({"g": {"all": RATES["all"]}}))
    assert row(result, "g.fwd")["macs"] == 39_322


def test_backward_gemms_run_in_full():
    """Only the forward GEMM is reused; a backward GEMM of the same layer is untouched."""
    ops = [fwd_op(64, 64, 64), fwd_op(64, 64, 64, phase=Phase.BWD_DATA)]
    base = run(ops)
    result = run(ops, ["mquans"], stats({"g": RATES}))
    assert row(result, "g.bwd_data") == {**row(base, "g.bwd_data"),
                                         **{k: row(result, "g.bwd_data")[k]
                                            for k in ("ready_cycle", "start_cycle",
                                                      "end_cycle", "stalls", "cycles",
                                                      "stall_cycles")}}
    assert row(result, "g.bwd_data")["macs_skipped"] == 0
    assert result["macs_issued"] + result["macs_skipped"] == result["macs"]


def test_assumed_rate_covers_layers_without_traced_rates():
    """A layer the trace has no rates for, with assumed_change_rate=0.5: half the MACs, and the
    layer is reported as assumed."""
    result = run([fwd_op(64, 64, 64, layer="h")], ["mquans:assumed_change_rate=0.5"],
                 stats({"g": RATES}))
    assert row(result, "h.fwd")["macs"] == 131_072
    mq = result["technique_stats"]["mquans"]
    assert mq["assumed_layers"] == ["h"] and mq["layers"]["h"]["source"] == "assumed"


def test_time_step_pairing_takes_the_assumed_rate_for_every_layer():
    """The trace measures epoch pairs only: with time_step pairing the assumed rate stands for
    every layer, the traced one too (0.25 of the MACs)."""
    result = run([fwd_op(64, 64, 64)], ["mquans:pairing=time_step,assumed_change_rate=0.25"],
                 stats({"g": RATES}))
    assert row(result, "g.fwd")["macs"] == 65_536
    assert result["technique_stats"]["mquans"]["assumed_layers"] == ["g"]


def test_repeatable():
    a = run([fwd_op(64, 64, 64)], ["mquans:lanes=8"], stats({"g": RATES}))
    b = run([fwd_op(64, 64, 64)], ["mquans:lanes=8"], stats({"g": RATES}))
    assert a["total_cycles"] == b["total_cycles"]
    assert a["technique_stats"] == b["technique_stats"]


# -- errors --------------------------------------------------------------------------------------
@pytest.mark.parametrize("text, words", [
    ("mquans:critical_bits=4,tolerant_bits=6", "must not exceed critical_bits"),
    ("mquans:lanes=0", "lanes"),
    ("mquans:critical_fraction=1.5", "critical_fraction"),
    ("mquans:assumed_change_rate=nan", "assumed_change_rate"),
    ("mquans:pairing=frames", "pairing"),
    ("mquans:bits=4", "bits"),
])
def test_bad_parameters_are_clear_errors(text, words):
    with pytest.raises(ConfigError) as caught:
        TechniqueSpec.parse(text)
    assert words in str(caught.value)


@pytest.mark.parametrize("text, words", [
    ("mquans:critical_bits=8", "a bit-width the trace measured"),
    ("mquans:critical_fraction=0.3", "the critical fraction the trace classified"),
    ("mquans:pairing=time_step", "time_step pairing is not measured"),
])
def test_parameters_the_trace_did_not_measure_are_refused(text, words):
    with pytest.raises(ConfigError) as caught:
        run([fwd_op(64, 64, 64)], [text], stats({"g": RATES}))
    assert words in str(caught.value)


def test_layer_without_rates_is_refused_by_name():
    with pytest.raises(WorkloadError) as caught:
        run([fwd_op(64, 64, 64, layer="h")], ["mquans"], stats({"g": RATES}))
    message = str(caught.value)
    assert "layer h" in message and "assumed_change_rate" in message


def test_workload_without_statistics_is_refused():
    with pytest.raises(WorkloadError) as caught:
        run([fwd_op(64, 64, 64)], ["mquans"])
    message = str(caught.value)
    assert "layer g" in message and "got 'no value statistics'" in message


def test_outer_product_array_is_refused():
    """Mquans needs a plan with operand-role columns per tile: on the outer-product array it
    is refused with the kinds it applies to."""
    config = load_hwconfig(ROOT / "hwconfigs" / "scnn_like.yaml")
    with pytest.raises(ConfigError) as caught:
        Simulation(config, Workload("t", [fwd_op(64, 64, 64)], value_stats=stats({"g": RATES})),
                   [TechniqueSpec.parse("mquans")]).run()
    assert "a PE-array kind it applies to, not outer_product" in str(caught.value)


# -- the traced ResNet-18 from the command line ----------------------------------------------------
def test_traced_resnet18_forward_from_the_cli(tmp_path):
    """The forward pass of the traced ResNet-18 on the edge array: every forward conv and the
    classifier reuse their inputs with traced rates; conv1 reads the same image every epoch
    and is skipped whole; MACs are conserved."""
    out = tmp_path / "mquans.json"
    subprocess.run([sys.executable, "-m", "accelsim", "run", "--hw",
                    str(ROOT / "hwconfigs/edge_16x16.yaml"), "--workload",
                    str(ROOT / "workloads/traced/resnet18_cifar"), "--phases", "fwd",
                    "--technique", "mquans:critical_bits=6,tolerant_bits=4", "--out", str(out)],
                   check=True, capture_output=True, text=True)
    data = json.loads(out.read_text())
    mq = data["technique_stats"]["mquans"]
    assert data["macs_issued"] + data["macs_skipped"] == data["macs"]
    assert mq["macs_skipped"] == data["macs_skipped"] > 0
    assert len(mq["layers"]) == 21 and not mq["assumed_layers"]
    assert all(r["source"].startswith("traced") for r in mq["layers"].values())
    assert mq["layers"]["conv1"]["changed_share"] == 0.0
    conv1 = next(r for r in data["ops"] if r["name"] == "conv1.fwd")
    assert conv1["macs"] == 0
    assert 0 < mq["inputs_reused_fraction"] < 1
