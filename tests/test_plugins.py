"""A PE-array kind and a technique defined outside accelsim (``tests/plugins/toy_plugins.py``)
join through entry points and run from the command line with parameters.

Each test runs the CLI in a subprocess whose ``PYTHONPATH`` holds ``tests/plugins`` (the plugin
module and its ``.dist-info`` with ``entry_points.txt``), so the registries of this process
never see the plugins.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import yaml

from accelsim.workload.loader import load_workload
from accelsim.workload.training import TrainingOptions
from tests.conftest import HWCONFIGS, ROOT

PLUGINS = ROOT / "tests" / "plugins"
#: mlp from the zoo: 784 -> 512 -> 256 -> 10
LAYERS = ((784, 512), (512, 256), (256, 10))


def accelsim(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(PLUGINS), str(ROOT)])}
    return subprocess.run([sys.executable, "-m", "accelsim", *args], capture_output=True,
                          text=True, env=env, cwd=ROOT, check=False)


def toy_hwconfig(tmp_path) -> str:
    """edge_16x16.yaml with its systolic array replaced by 64 toy_dot lanes (no fusion)."""
    data = yaml.safe_load((HWCONFIGS / "edge_16x16.yaml").read_text())
    data["pe_array"] = {"kind": "toy_dot", "lanes": 64, "datatype": "fp16"}
    data["fusion"] = {"mode": "none"}  # the toy kind reports no output tiles to fuse into
    path = tmp_path / "toy.yaml"
    path.write_text(yaml.safe_dump(data))
    return str(path)


def test_plugins_are_listed():
    """`accelsim kinds` and `accelsim techniques` list the plugins with their parameters."""
    kinds = accelsim("kinds")
    assert kinds.returncode == 0, kinds.stderr
    assert "toy_dot" in kinds.stdout and "lanes" in kinds.stdout
    techniques = accelsim("techniques")
    assert techniques.returncode == 0, techniques.stderr
    assert "skip_samples" in techniques.stdout and "keep_fraction" in techniques.stdout
    assert "decision_energy_pj" in techniques.stdout


def test_plugin_kind_and_technique_run_with_parameters(tmp_path):
    """mlp at batch 4 on 64 toy_dot lanes with skip_samples keeping half of every batch in
    the backward GEMMs: fc1's forward takes ceil(4*784*512 / 64) = 25,088 cycles; half the
    backward MACs are skipped (weight gradients of all three layers, data gradients of the
    last two), by hand 2 * (784*512 + 2 * (512*256 + 256*10)) = 1,338,368; the backward
    vector ops shrink too (relu1's backward: 2 of 4 samples of 512 elements); the eight
    decisions (five backward GEMMs, the loss's and two ReLUs' backward) at 2 pJ each reach the
    total energy, which is 16 pJ above the same run at 0 pJ per decision."""
    hw = toy_hwconfig(tmp_path)
    results = {}
    for energy in ("2.0", "0.0"):
        out = tmp_path / f"r{energy}.json"
        done = accelsim("run", "--hw", hw, "--workload", "mlp", "--batch", "4", "--technique",
                        f"skip_samples:keep_fraction=0.5,decision_energy_pj={energy}",
                        "--out", str(out))
        assert done.returncode == 0, done.stderr
        results[energy] = json.loads(out.read_text())
    result = results["2.0"]
    rows = {row["name"]: row for row in result["ops"]}
    assert rows["fc1.fwd"]["compute_cycles"] == math.ceil(4 * 784 * 512 / 64)
    assert result["macs_skipped"] == 2 * (784 * 512 + 2 * (512 * 256 + 256 * 10))
    assert result["macs"] == 4 * 3 * sum(i * o for i, o in LAYERS) - 4 * 784 * 512
    assert rows["fc1.bwd_weight"]["samples_kept"] == 2
    relu = next(op for op in load_workload("mlp", TrainingOptions(batch=4)).ops()
                if op.name == "relu1.bwd_data")
    assert (rows["relu1.bwd_data"]["samples_kept"], rows["relu1.bwd_data"]["vector_ops"]) == (
        2, 2 * 512 * relu.vector_ops)
    assert result["technique_stats"]["skip_samples"] == {"decisions": 8}
    assert result["energy_pj"]["by_component"]["technique.skip_samples"] == {"decisions": 16.0}
    assert result["energy_pj"]["total"] - results["0.0"]["energy_pj"]["total"] == 16.0
    assert result["hwconfig_resolved"]["pe_array"] == {
        "kind": "toy_dot", "lanes": 64, "datatype": "fp16", "accumulator": "fp32"}
    assert result["pe_array"]["kind"] == "toy_dot"


def test_unknown_plugin_key_is_one_error(tmp_path):
    """A toy_dot hwconfig with a systolic key is one error listing toy_dot's own keys."""
    hw = toy_hwconfig(tmp_path)
    done = accelsim("run", "--hw", hw, "--workload", "mlp", "--set", "pe_array.dataflow=os")
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "pe_array.dataflow: expected a known key (valid choices: accumulator, " \
        "datatype, kind, lanes)" in done.stderr


def test_two_techniques_chain_in_order(tmp_path):
    """skip_samples (keep 1 of 2 samples of every backward GEMM) then ANT, on resnet18_cifar
    at batch 2 on scnn_like.yaml, against ANT alone: a weight-gradient conv then runs one
    image instead of two, each with the figures of an image, so its products, valid products,
    RCPs and RCPs anticipated are exactly half, while the forward ops compute as before;
    every MAC of the full batch is done or skipped."""
    runs = {}
    for name, techniques in (("ant", ["ant"]), ("both", ["skip_samples:keep_fraction=0.5",
                                                          "ant"])):
        out = tmp_path / f"{name}.json"
        flags = [arg for t in techniques for arg in ("--technique", t)]
        done = accelsim("run", "--hw", str(HWCONFIGS / "scnn_like.yaml"), "--workload",
                        "resnet18_cifar", "--batch", "2", "--phases", "fwd,bwd_weight",
                        *flags, "--out", str(out))
        assert done.returncode == 0, done.stderr
        runs[name] = json.loads(out.read_text())
    assert runs["both"]["techniques"] == ["skip_samples", "ant"]
    alone = {row["name"]: row for row in runs["ant"]["ops"]}
    for row in (r for r in runs["both"]["ops"] if r["unit"] == "pe_array"):
        reference = alone[row["name"]]
        if row["phase"] == "bwd_weight":
            assert row["samples_kept"] == 1
            for key in ("products_issued", "products_valid", "rcps", "rcps_anticipated"):
                assert 2 * row[key] == reference[key], (row["name"], key)
        elif row["phase"] == "fwd":  # its timing may differ: DRAM is shared with other ops
            assert row["compute_cycles"] == reference["compute_cycles"]
            assert row["products_issued"] == reference["products_issued"]
    both = runs["both"]
    assert both["macs"] == runs["ant"]["macs"]
    assert both["macs_issued"] + both["macs_skipped"] == both["macs"]
