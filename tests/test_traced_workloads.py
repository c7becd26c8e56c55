"""Shipped traced workloads (workloads/traced/): they load and run without torch, match the zoo,
carry value statistics with the documented definitions, and fail clearly when one is missing."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections import Counter

import numpy as np
import pytest

from accelsim.cli import main
from accelsim.config.loader import load_hwconfig
from accelsim.errors import WorkloadError
from accelsim.sim.engine import Simulation
from accelsim.workload.loader import load_workload
from accelsim.workload.op import PHASES, Phase
from accelsim.workload.traced import load_traced
from accelsim.workload.training import TrainingOptions, training_iteration
from accelsim.workload.value_stats import require
from accelsim.workload.zoo.mlp import mlp
from accelsim.workload.zoo.resnet import resnet
from tests.conftest import HWCONFIGS, ROOT

TRACED = ROOT / "workloads" / "traced"
RESNET = TRACED / "resnet18_cifar"
MLP = TRACED / "mlp"


def gemms(workload) -> dict[str, tuple]:
    return {op.name: (op.gemm.m, op.gemm.n, op.gemm.k, op.gemm.count)
            for op in workload.ops() if op.gemm is not None}


@pytest.mark.parametrize("folder", [RESNET, MLP], ids=lambda p: p.name)
def test_shipped_workload_loads_with_traced_batch(folder):
    """A traced folder loads through the loader; the batch is the traced one."""
    manifest = json.loads((folder / "manifest.json").read_text())
    workload = load_workload(str(folder), TrainingOptions(batch=None))
    assert workload.meta["batch"] == manifest["batch"]
    assert workload.meta["traced"] is True
    assert {op.phase.value for op in workload.ops()} == set(PHASES)
    assert workload.value_stats is not None
    assert sum(f.stat().st_size for f in folder.iterdir()) < 1_000_000


def test_other_batch_is_refused():
    """A traced workload's shapes are fixed: another batch is one clear error."""
    with pytest.raises(WorkloadError, match="expected the traced batch 32"):
        load_workload(str(RESNET), TrainingOptions(batch=16))


def test_resnet18_matches_zoo_gemm_for_gemm():
    """Traced ResNet-18 (CIFAR, 10 classes) and the zoo's: same GEMMs, same MACs per phase."""
    traced = load_traced(RESNET)
    classes = json.loads((RESNET / "manifest.json").read_text())["classes"]
    zoo = training_iteration(resnet("resnet18_cifar", "basic", (2, 2, 2, 2), cifar=True,
                                    classes=classes), TrainingOptions(batch=32))
    assert gemms(traced) == gemms(zoo)
    assert traced.macs_by_phase() == zoo.macs_by_phase()


def test_resnet18_matches_zoo_default_apart_from_the_classifier():
    """Against the zoo's default resnet18_cifar (100 classes) only the fc GEMMs differ, in N."""
    traced = gemms(load_traced(RESNET))
    zoo = gemms(load_workload("resnet18_cifar", TrainingOptions(batch=32)))
    assert traced.keys() == zoo.keys()
    differing = {name for name in traced if traced[name] != zoo[name]}
    assert differing == {"fc.fwd", "fc.bwd_data", "fc.bwd_weight"}
    assert Counter(traced["fc.fwd"]) - Counter(zoo["fc.fwd"]) == Counter({10: 1})


def test_mlp_matches_zoo():
    """The traced MLP is the zoo's mlp (784-512-256-10) GEMM for GEMM."""
    traced = load_traced(MLP)
    zoo = training_iteration(mlp("mlp"), TrainingOptions(batch=32))
    assert gemms(traced) == gemms(zoo)
    assert traced.macs_by_phase() == zoo.macs_by_phase()


def test_traced_graph_has_zoo_structure():
    """Names, dependencies and the update ops follow the zoo's layout."""
    w = load_traced(RESNET)
    names = set(w.graph.nodes)
    for name in ("conv1.fwd", "conv1.bwd_weight", "conv1.update", "layer1.0.add.fwd",
                 "layer2.0.downsample.0.bwd_data", "fc.bwd_weight", "bn1.bwd_data"):
        assert name in names
    assert "conv1.bwd_data" not in names  # the first layer has no input gradient
    assert "layer1.0.conv2.bwd_data" in w.graph.predecessors("layer1.0.conv1.bwd_data") or \
        any("layer1.0.conv2" in p or "layer1.0.relu1" in p
            for p in w.graph.predecessors("layer1.0.relu1.bwd_data"))
    assert "conv1.bwd_weight" in w.graph.predecessors("conv1.update")


def test_shipped_resnet_runs_on_tpu_like(tmp_path, capsys):
    """`accelsim run --workload workloads/traced/resnet18_cifar` runs end to end."""
    out = tmp_path / "r.json"
    code = main(["run", "--hw", str(HWCONFIGS / "tpu_like_128x128.yaml"), "--workload",
                 str(RESNET), "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    data = json.loads(out.read_text())
    assert data["macs"] == load_traced(RESNET).macs
    assert data["workload_meta"]["batch"] == 32


def test_workload_without_stats_still_runs(tmp_path):
    """Statistics are optional: a folder without them loads and simulates."""
    folder = tmp_path / "bare"
    folder.mkdir()
    for name in ("manifest.json", "graph.json"):
        shutil.copy(MLP / name, folder / name)
    workload = load_traced(folder)
    assert workload.value_stats is None
    config = load_hwconfig(str(HWCONFIGS / "edge_16x16.yaml"))
    result = Simulation(config, workload).run()
    assert result.data["macs"] == workload.macs
    with pytest.raises(WorkloadError) as error:
        require(workload, "masks", "fc1", technique="ant")
    text = str(error.value)
    assert str(folder) in text and "'masks'" in text and "ant" in text
    assert "only traced workloads carry" in text


def test_zoo_workload_has_no_stats_and_says_so():
    workload = load_workload("resnet18_cifar", TrainingOptions(batch=2))
    with pytest.raises(WorkloadError, match="zoo:resnet18_cifar: value_stats.confidence"):
        require(workload, "confidence", technique="confidence_skip")


def test_missing_statistic_names_folder_statistic_and_provider():
    stats = load_traced(MLP).value_stats
    with pytest.raises(WorkloadError) as error:
        stats.require("acrtc_hit_rate", "no_such_op.fwd", technique="acrtc")
    text = str(error.value)
    assert text.startswith(f"{MLP}: value_stats.acrtc_hit_rate")
    assert "no_such_op.fwd" in text and "technique acrtc" in text and "accelsim trace" in text


def test_densities_and_topk():
    stats = load_traced(RESNET).value_stats
    op = "layer2.0.conv1.fwd"
    assert stats.operands(op) == {"a": "x", "b": "w"}
    x_density = stats.density(op, "a")
    assert 0.2 < x_density < 0.9  # post-ReLU activations
    assert stats.density(op, "b") > 0.99  # dense weights
    sparsity = stats.params["sparsity"]
    assert stats.density(op, "b", topk=True) == pytest.approx(1 - sparsity, abs=0.02)
    assert stats.operands("layer2.0.conv1.bwd_weight") == {"a": "dy", "b": "x"}


def test_masks_unpack_to_their_sampled_shape():
    stats = load_traced(RESNET).value_stats
    for role in ("x", "w", "dy"):
        mask, index = stats.masks("layer3.0.conv1", role)
        assert mask.dtype == bool and mask.ndim == 4
        assert 0.0 < mask.mean() < 0.5  # Top-K 90% over the whole tensor, sampled
    x, index = stats.masks("layer3.0.conv1", "x", step=0)
    assert x.shape[:2] == (len(index["images"]), len(index["channels"]))
    w, windex = stats.masks("layer3.0.conv1", "w")
    assert w.shape[:2] == (len(windex["out_channels"]), len(windex["in_channels"]))


def test_acrtc_hit_rates_grow_with_masked_bits_and_entries():
    stats = load_traced(RESNET).value_stats
    grid = stats.params["acrtc"]
    for op in ("layer1.0.conv2.fwd", "layer3.1.conv1.bwd_data", "fc.bwd_weight"):
        table = np.array([[stats.acrtc_hit_rate(op, k, e) for e in grid["entries"]]
                          for k in grid["k"]])
        assert ((0 <= table) & (table <= 1)).all()
        assert (np.diff(table, axis=0) >= -1e-9).all() and (np.diff(table, axis=1) >= -1e-9).all()


def test_daa_pair_fractions():
    stats = load_traced(RESNET).value_stats
    daa = stats.daa("layer2.1.conv2.fwd")
    assert daa["both_nonzero"] + daa["one_nonzero"] + daa["none"] == pytest.approx(1, abs=1e-3)
    assert sum(daa["exponent_gap_hist"]) == pytest.approx(1, abs=1e-2)
    assert 0 < daa["mean_ratio"] <= 1


def test_mquans_and_sensitivity():
    stats = load_traced(RESNET).value_stats
    bits = stats.params["mquans"]["bits"]
    rates = [stats.mquans_change_rate("layer2.0.conv1", b) for b in bits]
    assert all(np.diff(rates) >= -1e-9)  # finer quantization changes more often
    assert stats.mquans_change_rate("conv1", bits[-1]) == 0.0  # same image, same input
    critical = stats.mquans_change_rate("layer2.0.conv1", 4, "critical")
    assert 0 <= critical <= 1
    dy = stats.sensitivity("layer2.0.conv1")
    assert dy.shape == (len(stats.steps), 128) and (dy >= 0).all()


def test_confidence_moves_as_training_learns():
    """Per-sample confidence at every step; accuracy and confidence rise over the trace."""
    for folder in (RESNET, MLP):
        stats = load_traced(folder).value_stats
        steps = stats.require("confidence")["steps"]
        first = [stats.confidence(s) for s in range(4)]
        last = [stats.confidence(s) for s in range(steps - 4, steps)]
        accuracy = [np.mean([c["correct"].mean() for c in part]) for part in (first, last)]
        p_max = [np.mean([c["p_max"].mean() for c in part]) for part in (first, last)]
        assert accuracy[1] > accuracy[0] + 0.2
        assert p_max[1] > p_max[0] + 0.1
        c = first[0]
        assert np.allclose(c["p_max"][c["correct"]], c["p_true"][c["correct"]], atol=1e-3)


def test_unknown_format_is_refused(tmp_path):
    folder = tmp_path / "future"
    shutil.copytree(MLP, folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["format"] = "accelsim.traced/99"
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(WorkloadError, match="expected format 'accelsim.traced/1'"):
        load_traced(folder)


BLOCK_TORCH = """
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ImportError("torch is blocked")
sys.meta_path.insert(0, Block())
from accelsim.cli import main
"""


def test_without_torch_traced_workloads_run_and_trace_says_what_to_install():
    """With torch not importable: the shipped workloads still run; `accelsim trace` is one
    error naming the optional dependency."""
    run = BLOCK_TORCH + (f"code = main(['run', '--hw', {str(HWCONFIGS / 'edge_16x16.yaml')!r}, "
                         f"'--workload', {str(MLP)!r}, '--top', '1'])\n"
                         "assert 'torch' not in sys.modules\nsys.exit(code)")
    done = subprocess.run([sys.executable, "-c", run], cwd=ROOT, capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stderr
    trace = BLOCK_TORCH + ("sys.exit(main(['trace', '--model', 'x:y', '--input', '3x32x32', "
                           "'--out', 'unused']))")
    done = subprocess.run([sys.executable, "-c", trace], cwd=ROOT, capture_output=True,
                          text=True, check=False)
    assert done.returncode == 2
    assert done.stderr.startswith("error: accelsim trace needs PyTorch")
    assert "accelsim[trace]" in done.stderr and "Traceback" not in done.stderr


def test_update_ops_follow_the_run_optimizer():
    """Update ops are rebuilt with the run's optimizer, like the zoo's."""
    sgd = load_traced(MLP, TrainingOptions(batch=None, optimizer="sgd"))
    adam = load_traced(MLP, TrainingOptions(batch=None, optimizer="adam"))
    update = [op for op in adam.ops() if op.phase is Phase.UPDATE]
    assert len(update) == 3
    assert adam.op("fc1.update").bytes_read > sgd.op("fc1.update").bytes_read


def test_folders_traced_with_call_order_reads_load_operands_first():
    """The shipped folders were traced when a linear layer's reads followed addmm's arguments
    (bias, x, W) and a conv's weight gradient read x before dy: they load with the A and B
    operands first, as the zoo's ops read them."""
    from accelsim.workload.traced import load_traced

    mlp = load_traced(ROOT / "workloads" / "traced" / "mlp")
    assert [t.name for t in mlp.op("fc1.fwd").reads] == ["input", "fc1/weight", "fc1/bias"]
    resnet = load_traced(ROOT / "workloads" / "traced" / "resnet18_cifar")
    op = resnet.op("layer1.0.conv1.bwd_weight")
    assert [t.name for t in op.reads] == ["grad(layer1.0.conv1)", "relu1"]
