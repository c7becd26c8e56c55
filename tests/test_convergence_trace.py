"""Convergence runs of the tracer: schedules, the digits data set, held-out evaluation, light
statistics, and the per-epoch skip rate of confidence skipping."""

from __future__ import annotations

import math

import numpy as np
import pytest

from accelsim.stats.confidence_trajectory import over_run, per_epoch, skipped
from accelsim.trace import TraceError
from accelsim.trace.digits import fit_images, from_arrays, select
from accelsim.trace.options import TraceOptions, parse_steps
from accelsim.trace.schedule import learning_rate, sparsity_at


# -- schedules (values derived by hand) --------------------------------------------------------
def test_cosine_schedule_with_warmup():
    # base 0.1, 10 steps, 2 warm-up steps: 0.1 * 1/2, 0.1 * 2/2, then the cosine over the
    # remaining 8 steps: u = (t - 2) / 8
    lr = [learning_rate(t, 0.1, 10, "cosine", warmup=2) for t in range(10)]
    assert lr[0] == pytest.approx(0.05)
    assert lr[1] == pytest.approx(0.1)
    assert lr[2] == pytest.approx(0.1)  # u = 0
    assert lr[6] == pytest.approx(0.05)  # u = 1/2: cos = 0
    assert lr[4] == pytest.approx(0.05 * (1 + math.sqrt(0.5)))  # u = 1/4: cos = sqrt(2)/2
    assert lr[9] == pytest.approx(0.05 * (1 - 0.9238795325))  # u = 7/8: cos = -cos(pi/8)


def test_step_schedule_and_constant():
    lr = [learning_rate(t, 0.1, 10, "step", warmup=1, milestones=(4, 7), gamma=0.1)
          for t in range(10)]
    assert lr[:4] == pytest.approx([0.1, 0.1, 0.1, 0.1])
    assert lr[4:7] == pytest.approx([0.01] * 3)
    assert lr[7:] == pytest.approx([0.001] * 3)
    assert learning_rate(5, 0.05, 10) == 0.05
    assert learning_rate(0, 0.05, 10, "constant", warmup=4) == pytest.approx(0.0125)


def test_sparsity_ramp():
    values = [sparsity_at(t, 0.9, dense=2, ramp=3) for t in range(7)]
    assert values == pytest.approx([0.0, 0.0, 0.3, 0.6, 0.9, 0.9, 0.9])
    assert sparsity_at(0, 0.9) == 0.9


def test_bad_schedule_options_are_one_error():
    base = dict(model="m:f", input_shape=(3, 8, 8), out="x")
    with pytest.raises(TraceError, match="--lr-schedule: expected one of constant, cosine"):
        TraceOptions(**base, lr_schedule="linear").validate()
    with pytest.raises(TraceError, match="--lr-milestones: expected increasing"):
        TraceOptions(**base, lr_schedule="step", lr_milestones=(30, 10)).validate()
    with pytest.raises(TraceError, match="--dataset: expected one of shapes, digits"):
        TraceOptions(**base, dataset="mnist").validate()
    with pytest.raises(TraceError, match="--lr-milestones: expected comma-separated"):
        parse_steps("10,x")
    assert parse_steps("300, 450") == (300, 450)


def test_light_statistics_and_evaluation_steps():
    options = TraceOptions(model="m:f", input_shape=(3, 8, 8), out="x", steps=100,
                           batch=32, train_size=320, stats_steps=3, eval_size=64)
    # 3 steps spread over 0..99 (0, 49.5 -> 50 by round-half-even... 49.5 rounds to 50? no:
    # round(49.5) == 50 in Python), each with its pair one epoch (10 steps) later
    assert options.sampled_steps() == [0, 10, 50, 60, 99]
    assert options.evaluated_steps() == [9, 19, 29, 39, 49, 59, 69, 79, 89, 99]
    options.eval_every = 40
    assert options.evaluated_steps() == [39, 79, 99]
    options.eval_size = 0
    assert options.evaluated_steps() == []


# -- the digits ---------------------------------------------------------------------------------
def test_fit_images_enlarges_and_centres():
    image = np.arange(64, dtype=np.float32).reshape(1, 8, 8)
    big = fit_images(image, (3, 32, 32))
    assert big.shape == (1, 3, 32, 32)
    # x4, no padding: pixel (r, c) of the 8x8 image fills rows 4r..4r+3, cols 4c..4c+3
    assert big[0, 2, 4 * 3 + 1, 4 * 5 + 3] == 3 * 8 + 5
    assert big[0, 0, 31, 31] == 63 and big[0, 1, 0, 0] == 0
    grey = fit_images(image, (1, 28, 28))
    # x3 = 24 rows, 2 rows of zeros above and below, 2 columns left and right
    assert grey.shape == (1, 1, 28, 28)
    assert not grey[0, 0, :2].any() and not grey[0, 0, 26:].any()
    assert grey[0, 0, 2 + 3 * 7, 2 + 3 * 7 + 2] == 63  # last pixel's block
    assert grey[0, 0, 2, 2 + 3] == 1
    flat = fit_images(image, (3 * 16 * 16,))
    assert flat.shape == (1, 768)
    with pytest.raises(ValueError, match="smaller than the 8x8"):
        fit_images(image, (3, 4, 4))


def test_split_is_deterministic_disjoint_and_class_filtered():
    labels = np.arange(100) % 10
    train, held = select(labels, 40, 20, 10, seed=3)
    again = select(labels, 40, 20, 10, seed=3)
    assert np.array_equal(train, again[0]) and np.array_equal(held, again[1])
    assert not set(train) & set(held) and len(train) == 40 and len(held) == 20
    assert not np.array_equal(train, select(labels, 40, 20, 10, seed=4)[0])
    few, _ = select(labels, 30, 0, 3, seed=0)
    assert set(labels[few]) == {0, 1, 2}
    with pytest.raises(ValueError, match="has 30 samples of 3 classes"):
        select(labels, 30, 1, 3, seed=0)


def test_from_arrays_normalises_over_the_training_samples():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 17, (50, 8, 8)).astype(np.float64)
    labels = np.arange(50) % 10
    train, held = from_arrays(images, labels, 30, 10, (3, 32, 32), 10, seed=1)
    assert train.images.shape == (30, 3, 32, 32) and held.images.shape == (10, 3, 32, 32)
    assert train.images.dtype == np.float32
    assert abs(float(train.images.mean())) < 1e-5
    assert float(train.images.std()) == pytest.approx(1.0, rel=1e-4)
    idx, _ = select(labels, 30, 10, 10, seed=1)
    assert np.array_equal(train.labels, labels[idx])
    assert train.describe()["classes"] == [str(c) for c in range(10)]


def test_bundled_digits():
    pytest.importorskip("sklearn")
    from accelsim.trace.dataset import make_datasets

    train, held = make_datasets("digits", 1024, 512, (3, 32, 32), 10, seed=0)
    assert train.images.shape == (1024, 3, 32, 32) and held.images.shape == (512, 3, 32, 32)
    assert set(train.labels) == set(range(10)) and set(held.labels) == set(range(10))
    again, _ = make_datasets("digits", 1024, 512, (3, 32, 32), 10, seed=0)
    assert np.array_equal(train.images, again.images)
    assert len(train) + len(held) <= 1797  # the bundled set's size
    with pytest.raises(ValueError, match="fewer than --train-size 1700"):
        make_datasets("digits", 1700, 200, (3, 32, 32), 10, seed=0)


def test_shapes_without_held_out_is_unchanged():
    from accelsim.trace.dataset import ShapesDataset, make_datasets

    train, held = make_datasets("shapes", 40, 0, (3, 16, 16), 10, seed=2)
    assert held is None
    assert np.array_equal(train.images, ShapesDataset(40, (3, 16, 16), seed=2).images)
    train, held = make_datasets("shapes", 40, 8, (3, 16, 16), 10, seed=2)
    assert len(train) == 40 and len(held) == 8


# -- the per-epoch skip rate (counted by hand) ----------------------------------------------------
def test_per_epoch_skip_rate_hand_counted():
    # 5 steps of 4 samples, 2 steps per epoch (the last epoch has 1 step), tau 0.9
    correct = np.array([[1, 0, 1, 1],
                        [1, 1, 1, 0],
                        [1, 1, 1, 1],
                        [0, 1, 1, 1],
                        [1, 1, 1, 1]], dtype=bool)
    p_true = np.array([[0.95, 0.99, 0.50, 0.90],   # skip: s0 (0.95), s3 (0.90 >= tau); s1 wrong
                       [0.89, 0.91, 0.99, 0.99],   # skip: s1, s2; s3 wrong
                       [0.90, 0.90, 0.90, 0.10],   # skip: s0, s1, s2
                       [0.99, 0.20, 0.93, 0.97],   # skip: s2, s3; s0 wrong
                       [0.91, 0.92, 0.93, 0.94]],  # skip: all 4
                      dtype=np.float32)
    mask = skipped(correct, p_true, 0.9)
    assert mask.sum(axis=1).tolist() == [2, 2, 3, 2, 4]
    epochs = per_epoch(mask, 2)
    assert [(e.first_step, e.last_step, e.samples, e.skipped) for e in epochs] == [
        (0, 1, 8, 4), (2, 3, 8, 5), (4, 4, 4, 4)]
    assert [e.rate for e in epochs] == [0.5, 0.625, 1.0]
    assert over_run(mask) == 13 / 20
    with pytest.raises(ValueError, match="steps_per_epoch"):
        per_epoch(mask, 0)


# -- traced convergence runs (torch) ---------------------------------------------------------------
TINY = ["trace", "--model", "tests.trace_models:tiny", "--input", "3x16x16", "--batch", "8",
        "--train-size", "16"]


def test_schedule_and_held_out_are_recorded(tmp_path, capsys):
    pytest.importorskip("torch", exc_type=ImportError)
    import json

    from accelsim.cli import main
    from accelsim.workload.traced import load_traced
    from tests.conftest import HWCONFIGS

    out = tmp_path / "run"
    assert main([*TINY, "--steps", "6", "--eval-size", "16", "--lr-schedule", "cosine",
                 "--warmup-steps", "2", "--stats-steps", "2", "--out", str(out)]) == 0
    assert "held-out accuracy" in capsys.readouterr().out
    stats = json.loads((out / "stats.json").read_text())
    # base 0.05, 6 steps, 2 warm-up: 0.025, 0.05, then 0.025 (1 + cos(pi * u)), u = (t - 2) / 4
    c = math.cos
    assert stats["lr"] == pytest.approx([0.025, 0.05, 0.05, 0.025 * (1 + c(math.pi / 4)),
                                         0.025, 0.025 * (1 + c(3 * math.pi / 4))], rel=1e-5)
    assert stats["held_out"]["step"] == [1, 3, 5] and stats["held_out"]["samples"] == 16
    assert stats["steps"] == [0, 2, 5]  # 0 and 5, and 0's pair one epoch (2 steps) later
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["training"]["lr_schedule"] == {"kind": "cosine", "warmup_steps": 2}
    assert manifest["dataset"]["held_out"] == 16
    assert manifest["summary"]["held_out_accuracy_last"] == stats["held_out"]["accuracy"][-1]
    assert load_traced(out).value_stats.steps == [0, 2, 5]
    assert main(["run", "--hw", str(HWCONFIGS / "edge_16x16.yaml"), "--workload", str(out),
                 "--technique", "confidence_skip:tau=0.6", "--top", "1"]) == 0


@pytest.mark.parametrize("sparse", [False, True])
def test_unrecorded_steps_train_as_recorded_ones(sparse):
    """Steps run outside the capture (plain, or under TopkMode) give bit-identical training to
    steps recorded under it: the same losses and per-sample confidence."""
    pytest.importorskip("torch", exc_type=ImportError)
    from accelsim.trace.tracer import trace

    def run(**stats):
        return trace(TraceOptions(model="tests.trace_models:tiny", input_shape=(3, 16, 16),
                                  out="unused", batch=4, steps=4, train_size=8,
                                  sparse_training=sparse, sparsity=0.75,
                                  sparsity_dense_steps=1, sparsity_ramp_steps=2, **stats))

    every, few = run(stats_every=1), run(stats_steps=1, mask_steps=0)
    assert len(every.sampled) == 4 and len(few.sampled) == 1
    assert every.losses == few.losses
    assert np.array_equal(every.p_true, few.p_true)
    if sparse:
        assert few.sparsities == pytest.approx([0.0, 0.375, 0.75, 0.75])


def test_digits_trace_runs(tmp_path):
    pytest.importorskip("torch", exc_type=ImportError)
    pytest.importorskip("sklearn")
    import json

    from accelsim.cli import main

    out = tmp_path / "digits"
    assert main([*TINY, "--dataset", "digits", "--steps", "2", "--no-stats", "--eval-size",
                 "8", "--out", str(out)]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["dataset"]["name"] == "digits" and "x2" in manifest["dataset"]["fit"]


def test_dense_layers_keep_their_products_dense():
    """An op with an operand on a dense layer's parameter storage (a view of it too) runs on
    its operands as they are; any other op gets Top-K (0.8 of 10 values: the 2 largest)."""
    torch = pytest.importorskip("torch", exc_type=ImportError)
    from accelsim.trace.topk import sparsify_operands

    weight = torch.arange(1.0, 11.0)
    x = torch.tensor([3.0, -9.0, 1.0, 2.0, 8.0, 0.5, -1.0, 4.0, 2.5, 0.1])
    dense = frozenset({weight.untyped_storage().data_ptr()})
    kept = sparsify_operands((x, weight.view(2, 5)), (0, 1), 0.8, dense)
    assert kept[0] is x
    ran = sparsify_operands((x, x.clone()), (0, 1), 0.8, dense)
    assert ran[0].tolist() == [0, -9.0, 0, 0, 8.0, 0, 0, 0, 0, 0]
    assert sparsify_operands((x,), (0,), 0.0, dense)[0] is x


def test_dense_gradients_sparsify_weights_and_activations_only(tmp_path):
    """--dense-gradients (SWAT): a convolution's backward runs on Top-K x and w but the dense
    output gradient; the forward stays Top-K on both operands."""
    pytest.importorskip("torch", exc_type=ImportError)
    from accelsim.cli import main
    from accelsim.workload.traced import load_traced

    out = tmp_path / "swat"
    assert main([*TINY, "--steps", "2", "--sparsity", "0.75", "--sparse-training",
                 "--dense-gradients", "--stats-steps", "1", "--out", str(out)]) == 0
    stats = load_traced(out).value_stats
    roles = {op: {role: key for key, role in stats.operands(op).items()}
             for op in ("conv2.fwd", "conv2.bwd_weight")}
    for role in ("x", "w"):
        assert stats.density("conv2.fwd", roles["conv2.fwd"][role]) <= 0.3
    assert stats.density("conv2.bwd_weight", roles["conv2.bwd_weight"]["x"]) <= 0.3
    assert stats.density("conv2.bwd_weight", roles["conv2.bwd_weight"]["dy"]) > 0.5
