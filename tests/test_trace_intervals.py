"""The tracer's sampled statistics and their confidence intervals: ACRTC hit rates over operand
tiles and Mquans change rates over sample pairs, against brute-forced exact values of synthetic
populations; the shipped folders carry the intervals; a folder without them still loads."""

from __future__ import annotations

import json
import shutil
from collections import OrderedDict

import numpy as np
import pytest
import torch

from accelsim.errors import WorkloadError
from accelsim.trace.collector import REUSE_SAMPLES, TILE, acrtc_estimate, sample_tiles
from accelsim.trace.stats import change, reuse
from accelsim.workload.value_stats import load_value_stats
from tests.conftest import ROOT

TRACED = ROOT / "workloads" / "traced"
K, ENTRIES = 8, 16  # masked low mantissa bits, buffer entries of the brute-forced point


def brute_dot4_hit_rate(a: np.ndarray, b: np.ndarray, k: int, entries: int) -> float:
    """LRU simulation of the dot4 lookups of a tile, order n, k-chunk, m; keys are the eight
    fp16 bit patterns with the low ``k`` bits cleared (an ordered dict as the buffer)."""
    mask = (0xFFFF << k) & 0xFFFF
    qa = [[int(v) & mask for v in row] for row in np.asarray(a, np.float16).view(np.uint16)]
    qb = [[int(v) & mask for v in row] for row in np.asarray(b, np.float16).view(np.uint16)]
    buffer: OrderedDict = OrderedDict()
    hit = lookups = 0
    for n in range(len(qb[0])):
        for c in range(len(qb) // 4):
            wkey = tuple(qb[c * 4 + j][n] for j in range(4))
            for m in range(len(qa)):
                key = tuple(qa[m][c * 4:c * 4 + 4]) + wkey
                lookups += 1
                if key in buffer:
                    hit += 1
                    buffer.move_to_end(key)
                else:
                    buffer[key] = True
                    if len(buffer) > entries:
                        buffer.popitem(last=False)
    return hit / lookups


def synthetic_linear() -> dict:
    """A linear layer's x (rows x in) and w (out x in) with coarse values whose reuse varies
    across the matrix: sparser, more repetitive rows at the top, denser ones below."""
    rng = np.random.default_rng(7)
    rows, inputs, outputs = 40, 36, 18
    levels = np.round(np.maximum(rng.normal(size=(rows, inputs)), 0) * 2) / 2
    keep = rng.random((rows, inputs)) < np.linspace(0.2, 0.9, rows)[:, None]
    x = torch.tensor(levels * keep, dtype=torch.float32)
    w = torch.tensor(np.round(rng.normal(size=(outputs, inputs)) * 4) / 4, dtype=torch.float32)
    return {"x": x, "w": w}


def test_acrtc_interval_covers_the_brute_forced_exact_hit_rate():
    """Exact hit rate of the op: the mean over every tile position the sampler can draw (all
    offsets, brute-forced LRU). The collector's interval from its 8 seeded tiles covers it, and
    over 40 seeds the 95% intervals cover it at least 32 times (expected 38; a binomial tail
    below 32 has probability < 1%)."""
    tensors = synthetic_linear()
    attrs = {"tokens": 1, "in_features": 36, "out_features": 18, "rows": 40}
    a_full, b_full = tensors["x"].numpy(), tensors["w"].t().numpy()
    rows, depth, cols = TILE
    exact = np.mean([brute_dot4_hit_rate(a_full[m:m + rows, d:d + depth],
                                         b_full[d:d + depth, n:n + cols], K, ENTRIES)
                     for m in range(40 - rows + 1) for d in range(36 - depth + 1)
                     for n in range(18 - cols + 1)])
    ki, ei = [0, 2, 4, 6, 8, 10].index(K), [16, 64, 256].index(ENTRIES)
    covered, widths = 0, []
    for seed in range(40):
        tiles = sample_tiles("linear", "fwd", tensors, attrs, None,
                             np.random.default_rng([seed, 0]), np.random.default_rng([seed, 1]))
        assert len(tiles) == REUSE_SAMPLES
        if seed == 0:  # the collector's record (all grid points)
            record = acrtc_estimate(tiles)
            mean = record["dot4"][ki][ei]
            low = record["interval"]["low"]["dot4"][ki][ei]
            high = record["interval"]["high"]["dot4"][ki][ei]
            assert record["interval"]["samples"] == REUSE_SAMPLES
        else:  # the same estimate at the one grid point
            found = reuse.sampled_hit_rate_tables(tiles, "dot4", (K,), (ENTRIES,))
            mean, low, high = (found[key][0][0] for key in ("mean", "low", "high"))
        assert low <= mean <= high
        covered += low <= exact <= high
        widths.append(high - low)
        if seed == 0:  # the recorded mean is the brute-forced tiles' mean; it covers
            assert mean == pytest.approx(np.mean([brute_dot4_hit_rate(a, b, K, ENTRIES)
                                                  for a, b in tiles]))
            assert low <= exact <= high
    assert covered >= 32, (covered, exact)
    assert 0 < np.mean(widths) < 0.5


def test_mquans_interval_covers_the_exact_rate_of_a_population():
    """512 sample pairs share one quantizer range (each image holds the range's ends); the
    exact change rate is their pooled share. 16 pairs drawn at random: their mean equals their
    pooled share, and the 95% interval covers the population's rate in at least 32 of 40
    draws."""
    rng = np.random.default_rng(3)
    pairs, channels = 512, 8
    before = np.clip(rng.normal(size=(pairs, channels, 4, 4)), -3.9, 3.9).astype(np.float32)
    before[:, 0, 0, 0], before[:, 0, 0, 1] = -4, 4
    noise = rng.gamma(0.5, 0.3, size=(pairs, 1, 1, 1))  # some samples change a lot
    after = (before + noise * rng.normal(size=before.shape)).astype(np.float32)
    after[:, 0, 0, :2] = before[:, 0, 0, :2]
    bits = change.BITS
    levels = {b: change.quantize(before, -4, 4, b) != change.quantize(after, -4, 4, b)
              for b in bits}
    exact = np.array([levels[b].mean() for b in bits])
    covered = 0
    for draw in range(40):
        chosen = np.random.default_rng(draw).choice(pairs, 16, replace=False)
        found = change.change_rates(before[chosen], after[chosen], 1)
        mean = np.array(found["rate"]["all"])
        low, high = np.array(found["low"]["all"]), np.array(found["high"]["all"])
        assert found["samples"] == 16
        assert mean == pytest.approx([levels[b][chosen].mean() for b in bits])
        assert (low <= mean + 1e-12).all() and (mean <= high + 1e-12).all()
        covered += bool(((low <= exact) & (exact <= high)).all())
    assert covered >= 32, covered


def test_mquans_classes_carry_intervals():
    rng = np.random.default_rng(0)
    before = rng.normal(size=(6, 8, 3, 3))
    after = before + 0.3 * rng.normal(size=before.shape)
    found = change.change_rates(before, after, 1, sensitivity=np.arange(8.0))
    assert set(found["rate"]) == set(found["low"]) == set(found["high"]) == {
        "all", "critical", "tolerant"}
    critical = (change.quantize(before, before.min(), before.max(), 4)
                != change.quantize(after, before.min(), before.max(), 4))[:, 6:]
    assert found["rate"]["critical"][change.BITS.index(4)] == pytest.approx(critical.mean())


@pytest.mark.parametrize("name", ["resnet18_cifar", "mlp"])
def test_shipped_folders_carry_intervals(name):
    stats = load_value_stats(TRACED / name)
    steps = len(stats.steps)
    ops = [op for op, entry in stats.data["ops"].items() if "acrtc_hit_rate" in entry]
    assert ops
    for op in ops:
        interval = stats.data["ops"][op]["acrtc_hit_rate"]["interval"]
        assert interval["samples"] == [REUSE_SAMPLES] * steps
        assert interval["confidence"] == 0.95
        low, high = stats.acrtc_hit_rate_interval(op, K, ENTRIES, "dot4")
        assert 0 <= low <= stats.acrtc_hit_rate(op, K, ENTRIES, "dot4") <= high <= 1
    layers = [layer for layer, entry in stats.data["layers"].items()
              if "mquans_change_rate" in entry]
    assert layers
    for layer in layers:
        entry = stats.data["layers"][layer]["mquans_change_rate"]
        assert set(entry["interval"]["low"]) == set(entry["rate"])
        for cls, rows in entry["rate"].items():
            low = np.array(entry["interval"]["low"][cls])
            high = np.array(entry["interval"]["high"][cls])
            assert (low <= np.array(rows) + 1e-5).all() and (np.array(rows) <= high + 1e-5).all()


def without_intervals(tmp_path, name: str = "mlp"):
    """A shipped folder as tracers before the intervals wrote it (interval keys removed)."""
    folder = tmp_path / name
    shutil.copytree(TRACED / name, folder)
    data = json.loads((folder / "stats.json").read_text())
    for op in data["ops"].values():
        op.get("acrtc_hit_rate", {}).pop("interval", None)
    for layer in data["layers"].values():
        layer.get("mquans_change_rate", {}).pop("interval", None)
    (folder / "stats.json").write_text(json.dumps(data))
    return folder


def test_folder_without_intervals_loads(tmp_path):
    folder = without_intervals(tmp_path)
    stats = load_value_stats(folder)
    op = next(n for n, entry in stats.data["ops"].items() if "acrtc_hit_rate" in entry)
    assert 0 <= stats.acrtc_hit_rate(op, K, ENTRIES) <= 1
    assert 0 <= stats.mquans_change_rate("fc2", 4) <= 1
    with pytest.raises(WorkloadError, match="acrtc_hit_rate.interval"):
        stats.acrtc_hit_rate_interval(op, K, ENTRIES)


def test_mquans_interval_of_the_wrong_shape_is_refused(tmp_path):
    folder = tmp_path / "mlp"
    shutil.copytree(TRACED / "mlp", folder)
    data = json.loads((folder / "stats.json").read_text())
    entry = data["layers"]["fc2"]["mquans_change_rate"]
    entry["interval"]["low"]["all"] = entry["interval"]["low"]["all"][:-1]
    (folder / "stats.json").write_text(json.dumps(data))
    with pytest.raises(WorkloadError, match="interval.low.all"):
        load_value_stats(folder)
