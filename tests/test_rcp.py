"""Exact RCP counting from coordinate masks, and the statistical fallback from densities."""

from __future__ import annotations

import numpy as np
import pytest

from accelsim.hw.kinds.outer_product.rcp import Axis, conv_axes, count_exact, count_expected, matmul_axes

#: The trivial axis of a 1-D example: one coordinate, every pair valid.
FLAT = Axis(1, 1, 1, -1, 0, 1, 1)


def _dense_1d(axis: Axis):
    """Counts of all-ones masks on a 1-D axis (the height axis is trivial)."""
    return count_exact(np.ones((1, axis.a_size)), np.ones((1, axis.b_size)), (FLAT, axis))


def test_forward_stride1_by_hand():
    """x in 0..4, taps r in 0..2, pad 1: o = x - r + 1 in [0, 5). r=0 gives x=0..3 (4),
    r=1 x=0..4 (5), r=2 x=1..4 (4): 13 valid of 15 products, 2 RCPs."""
    counts = _dense_1d(Axis(5, 3, 1, -1, 1, 1, 5))
    assert (int(counts.issued), int(counts.valid), int(counts.rcps)) == (15, 13, 2)


def test_forward_stride2_by_hand():
    """Stride 2, pad 1, W 5, R 3, Wo 3: x - r + 1 must be 0, 2 or 4. r=0: x=1,3; r=1:
    x=0,2,4; r=2: x=1,3: 7 valid (= Wo*R minus the 2 taps on padding), 8 RCPs."""
    axis = conv_axes({"h": 1, "w": 5, "r": 1, "s": 3, "stride": 2, "pad": 1, "ho": 1,
                      "wo": 3}, "fwd")[1]
    counts = _dense_1d(axis)
    assert (int(counts.valid), int(counts.rcps)) == (7, 8)


def test_backward_weight_by_hand():
    """dW = conv(x, dy): x in 0..4, dy at p in 0..4, R 3, pad 1: valid iff x - p + 1 in [0, 3),
    the tridiagonal of the 5x5 pairs: 5 + 4 + 4 = 13 valid, 12 RCPs."""
    axis = conv_axes({"h": 1, "w": 5, "r": 1, "s": 3, "stride": 1, "pad": 1, "ho": 1,
                      "wo": 5}, "bwd_weight")[1]
    counts = _dense_1d(axis)
    assert (int(counts.issued), int(counts.valid), int(counts.rcps)) == (25, 13, 12)


def test_backward_data_by_hand():
    """dX = conv_T(dy, w): x = q + r - 1 in [0, 5) for q in 0..4, r in 0..2: 4 + 5 + 4 = 13."""
    axis = conv_axes({"h": 1, "w": 5, "r": 1, "s": 3, "stride": 1, "pad": 1, "ho": 1,
                      "wo": 5}, "bwd_data")[1]
    assert int(_dense_1d(axis).valid) == 13


def test_two_dimensional_mask_by_hand():
    """One activation at (0, 0) of a 4x4 plane against a dense 3x3 kernel, pad 1: outputs
    (1 - r, 1 - s) are inside for r, s in {0, 1}: 4 valid of 9."""
    attrs = {"h": 4, "w": 4, "r": 3, "s": 3, "stride": 1, "pad": 1, "ho": 4, "wo": 4}
    a = np.zeros((4, 4), dtype=bool)
    a[0, 0] = True
    counts = count_exact(a, np.ones((3, 3), dtype=bool), conv_axes(attrs, "fwd"))
    assert (int(counts.issued), int(counts.valid)) == (9, 4)


def test_batched_pairs_and_invariant():
    """Counts broadcast over leading axes; issued = valid + RCPs for every pair."""
    rng = np.random.default_rng(1)
    attrs = {"h": 8, "w": 8, "r": 3, "s": 3, "stride": 2, "pad": 1, "ho": 4, "wo": 4}
    a = rng.random((6, 8, 8)) < 0.3
    b = rng.random((6, 3, 3)) < 0.3
    counts = count_exact(a, b, conv_axes(attrs, "fwd"))
    assert counts.issued.shape == (6,)
    assert np.array_equal(counts.issued, counts.valid + counts.rcps)
    single = count_exact(a[2], b[2], conv_axes(attrs, "fwd"))
    assert int(single.valid) == int(counts.valid[2])


def test_matmul_has_no_rcps():
    """A matrix product as a 1x1 convolution: every product of non-zeros is valid."""
    axes = matmul_axes(3, 4)
    counts = count_exact(np.ones((3, 4)), np.ones((1, 1)), axes)
    assert (int(counts.issued), int(counts.rcps)) == (12, 0)


@pytest.mark.parametrize("phase, attrs, pairs", [
    ("bwd_weight", {"h": 32, "w": 32, "r": 3, "s": 3, "stride": 1, "pad": 1, "ho": 32,
                    "wo": 32}, 512),
    ("fwd", {"h": 16, "w": 16, "r": 3, "s": 3, "stride": 2, "pad": 1, "ho": 8, "wo": 8},
     20000),
    ("bwd_data", {"h": 8, "w": 8, "r": 3, "s": 3, "stride": 1, "pad": 1, "ho": 8, "wo": 8},
     20000),
])
def test_statistical_fallback_agrees_with_exact(phase, attrs, pairs):
    """Expected counts from densities agree with exact counts on random masks of the same
    density (0.1, as 90% sparse training) within 2%. A 3x3 kernel plane holds 0.9 non-zeros
    on average, so the forward and backward-data cases take many pairs."""
    axes = conv_axes(attrs, phase)
    rng = np.random.default_rng(7)
    a = rng.random((pairs, axes[0].a_size, axes[1].a_size)) < 0.1
    b = rng.random((pairs, axes[0].b_size, axes[1].b_size)) < 0.1
    exact = count_exact(a, b, axes)
    expected = count_expected(0.1, 0.1, axes)
    for name in ("issued", "valid", "rcps"):
        got = float(getattr(exact, name).sum())
        want = float(getattr(expected, name)) * pairs
        assert got == pytest.approx(want, rel=0.02), name


def test_expected_bwd_weight_valid_share():
    """The valid share of dense bwd_weight pairs is ((3*32 - 2) / 32^2)^2 for a 3x3 kernel,
    pad 1, on a 32x32 plane: under 1% (TECHNIQUES.md)."""
    axes = conv_axes({"h": 32, "w": 32, "r": 3, "s": 3, "stride": 1, "pad": 1, "ho": 32,
                      "wo": 32}, "bwd_weight")
    counts = count_expected(1.0, 1.0, axes)
    assert float(counts.valid / counts.issued) == pytest.approx((94 / 1024) ** 2)
    assert float(counts.valid / counts.issued) < 0.01
