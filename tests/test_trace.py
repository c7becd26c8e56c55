"""The tracer (needs torch): real training steps captured into a workload folder that the
simulator runs; GEMMs as in the zoo; operand tiles that really are the GEMMs' operands."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the tracer needs torch (pip install 'accelsim[trace]')",
                            exc_type=ImportError)

from accelsim.cli import main
from accelsim.trace.dataset import SHAPES, ShapesDataset
from accelsim.trace.operands import gemm_tile
from accelsim.trace.options import TraceOptions
from accelsim.trace.tracer import trace
from accelsim.workload.loader import load_workload
from accelsim.workload.traced import load_traced
from accelsim.workload.training import TrainingOptions
from tests.conftest import HWCONFIGS

F = torch.nn.functional


def test_trace_command_writes_a_runnable_workload(tmp_path, capsys):
    """`accelsim trace` of an importable factory, then `accelsim run` of the folder."""
    out = tmp_path / "tiny"
    code = main(["trace", "--model", "tests.trace_models:tiny", "--input", "3x16x16",
                 "--batch", "8", "--steps", "3", "--train-size", "16", "--stats-every", "1",
                 "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    assert "traced tiny" in capsys.readouterr().out
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["format"] == "accelsim.traced/1" and manifest["batch"] == 8
    workload = load_traced(out)
    names = set(workload.graph.nodes)
    # in-place ReLU, stride-2 conv with bias, max pool, a residual sum on a shared input
    for name in ("conv1.fwd", "conv1.bwd_weight", "relu.bwd_data", "pool.bwd_data",
                 "add.fwd", "pool.grad_accumulate", "fc.bwd_data", "fc.update"):
        assert name in names, name
    assert "conv1.bwd_data" not in names
    stats = workload.value_stats
    assert stats.steps == [0, 1, 2]
    assert {"density", "acrtc_hit_rate", "daa", "masks", "sensitivity", "confidence",
            "mquans_change_rate"} <= set(stats.names())
    assert main(["run", "--hw", str(HWCONFIGS / "edge_16x16.yaml"), "--workload", str(out),
                 "--top", "1"]) == 0


def test_trace_without_statistics_loads_and_runs(tmp_path, capsys):
    """`accelsim trace --no-stats` records the graph and per-sample confidence only: the folder
    loads (no sampled steps, the confidence of each of the 2 steps) and runs."""
    out = tmp_path / "bare"
    code = main(["trace", "--model", "tests.trace_models:tiny", "--input", "3x16x16",
                 "--batch", "8", "--steps", "2", "--train-size", "16", "--no-stats",
                 "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    stats = load_traced(out).value_stats
    assert stats.steps == []
    assert len(stats.confidence(1)["p_max"]) == 8
    assert main(["run", "--hw", str(HWCONFIGS / "edge_16x16.yaml"), "--workload", str(out),
                 "--top", "1"]) == 0


def test_bad_factory_is_one_error(capsys):
    code = main(["trace", "--model", "tests.trace_models:nothing", "--input", "3x16x16",
                 "--out", "unused"])
    assert code == 2
    assert "has no attribute 'nothing'" in capsys.readouterr().err


def test_resnet18_trace_matches_zoo_with_its_class_count(tmp_path):
    """Traced resnet18_cifar built with the zoo's 100 classes: every GEMM equals the zoo's."""
    result = trace(TraceOptions(model="accelsim.trace.models:resnet18_cifar",
                                model_args={"classes": 100}, input_shape=(3, 32, 32),
                                out=str(tmp_path), batch=2, steps=1, train_size=2, stats=False))
    traced = {op.name: op.gemm for op in result.graph.ops if op.gemm is not None}
    zoo = load_workload("resnet18_cifar", TrainingOptions(batch=2))
    assert traced == {op.name: op.gemm for op in zoo.ops() if op.gemm is not None}
    # every GEMM op reads its A operand first and its B second, as the zoo's (the zoo keeps a
    # linear layer's bias inside its weight tensor, the trace apart, after the operands)
    def operands(ops):
        return {op.name: [t.elements for t in op.reads[:1 if op.kind == "linear" else 2]]
                for op in ops if op.gemm is not None}

    assert operands(result.graph.ops) == operands(zoo.ops())
    macs = {}
    for op in result.graph.ops:
        macs[op.phase.value] = macs.get(op.phase.value, 0) + op.macs
    assert macs == zoo.macs_by_phase()


def test_sparse_training_runs_on_topk_operands(tmp_path):
    """--sparse-training: every GEMM operand keeps about 1 - sparsity of its values."""
    out = tmp_path / "sparse"
    assert main(["trace", "--model", "tests.trace_models:tiny", "--input", "3x16x16",
                 "--batch", "8", "--steps", "2", "--train-size", "16", "--sparsity", "0.75",
                 "--sparse-training", "--out", str(out)]) == 0
    stats = load_traced(out).value_stats
    for op in ("conv2.fwd", "conv2.bwd_data", "conv2.bwd_weight", "fc.bwd_weight"):
        for operand in ("a", "b"):
            assert stats.density(op, operand) <= 0.25 + 0.05, (op, operand)


@pytest.mark.parametrize("stride,padding,groups", [(1, 1, 1), (2, 1, 1), (2, 0, 2)])
def test_conv_tiles_are_the_gemm_operands(stride, padding, groups):
    """A tile covering the whole GEMM multiplies out to the conv's real results; for bwd_data
    of a stride-2 conv that is the col2im GEMM's partial products, which torch's col2im
    (F.fold) adds up into torch's own input gradient; at stride 1 ("same" padding) the
    transposed convolution's rows are the input gradient itself."""
    torch.manual_seed(0)
    x = torch.randn(2, 4, 7, 7, requires_grad=True)
    w = torch.randn(6, 4 // groups, 3, 3, requires_grad=True)
    y = F.conv2d(x, w, stride=stride, padding=padding, groups=groups)
    dy = torch.randn_like(y)
    y.backward(dy)
    attrs = {"cin": 4, "cout": 6, "h": 7, "w": 7, "r": 3, "s": 3, "stride": stride,
             "pad": padding, "ho": y.shape[2], "wo": y.shape[3], "groups": groups,
             "dilation": 1, "transposed": False}
    tensors = {"x": x.detach(), "w": w.detach(), "dy": dy}
    rng = np.random.default_rng(0)
    big = (10_000, 10_000, 10_000)
    g_out = 6 // groups
    a, b = gemm_tile("conv", "fwd", tensors, attrs, big, rng)
    expected = y.detach()[:, :g_out].permute(0, 2, 3, 1).reshape(-1, g_out).numpy()
    assert np.allclose(a @ b, expected, atol=1e-4)
    a, b = gemm_tile("conv", "bwd_weight", tensors, attrs, big, rng)
    assert np.allclose(a @ b, w.grad[:g_out].reshape(g_out, -1).numpy(), atol=1e-4)
    a, b = gemm_tile("conv", "bwd_data", tensors, attrs, big, rng)
    g_in = 4 // groups
    dx = x.grad[:, :g_in]
    rows = a @ b
    if stride == 1:  # one row per input pixel of the transposed convolution
        assert a.shape == (2 * 7 * 7, g_out * 9) and b.shape == (g_out * 9, g_in)
        full = rows.reshape(2, 7, 7, g_in).transpose(0, 3, 1, 2)
    else:  # col2im: one row of Cin*R*S partial products per output pixel of the conv
        pixels = y.shape[2] * y.shape[3]
        assert a.shape == (2 * pixels, g_out) and b.shape == (g_out, g_in * 9)
        cols = torch.from_numpy(rows).reshape(2, pixels, g_in * 9).permute(0, 2, 1)
        full = F.fold(cols, (7, 7), 3, padding=padding, stride=stride).numpy()
    assert np.allclose(full, dx.numpy(), atol=1e-4)


def test_linear_tiles_are_the_gemm_operands():
    x, w, dy = torch.randn(5, 6), torch.randn(3, 6), torch.randn(5, 3)
    attrs = {"in_features": 6, "out_features": 3, "tokens": 1, "rows": 5}
    tensors = {"x": x, "w": w, "dy": dy}
    big = (100, 100, 100)
    rng = np.random.default_rng(0)
    for phase, expected in (("fwd", x @ w.t()), ("bwd_data", dy @ w), ("bwd_weight", dy.t() @ x)):
        a, b = gemm_tile("linear", phase, tensors, attrs, big, rng)
        assert np.allclose(a @ b, expected.numpy(), atol=1e-5), phase


def test_dataset_is_seeded_and_balanced():
    a = ShapesDataset(200, (3, 32, 32), seed=1)
    b = ShapesDataset(200, (3, 32, 32), seed=1)
    assert np.array_equal(a.images, b.images) and np.array_equal(a.labels, b.labels)
    assert set(a.labels) == set(range(len(SHAPES)))
    flat = ShapesDataset(20, (784,), classes=4)
    assert flat.images.shape == (20, 784) and flat.labels.max() < 4
    x0, _ = a.batch(0, 32)
    x6, _ = a.batch(6, 32)  # 200 // 32 = 6 steps per epoch: step 6 repeats step 0
    assert np.array_equal(x0, x6)


def test_topk_threshold_of_structured_planes():
    """Feature maps whose first column is small and interior large: a sample that lands on
    one column of every plane would miss the interior. Top-K at 90% of a 32x64x32x32 tensor
    keeps 10% of it (within half a point)."""
    torch = pytest.importorskip("torch", reason="the tracer needs torch")
    from accelsim.trace.topk import topk_mask

    generator = torch.Generator().manual_seed(1)
    x = torch.rand(32, 64, 32, 32, generator=generator) + 1.0
    x[..., 0] = torch.rand(32, 64, 32, generator=generator) * 0.1
    kept = float(topk_mask(x, 0.9).float().mean())
    assert abs(kept - 0.10) < 0.005
