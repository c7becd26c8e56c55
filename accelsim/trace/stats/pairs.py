"""DAA paired MAC streams (numpy).

Model (after NB-SMT / SySMT): each PE of an output-stationary array serves two MAC streams, the
even and the odd reduction indices of its output, c[m, n] = sum over k of a[m, k] * b[k, n]
taken as pairs (k = 2j, 2j + 1). For every pair of products of a sampled tile:

* ``both_nonzero``: both products non-zero (both streams need a multiplier);
* ``one_nonzero``: exactly one is (it gets the high-precision unit alone);
* ``none``: neither is;
* ``mean_ratio``: over pairs with both non-zero, the mean of min(|p0|, |p1|) / max(|p0|, |p1|);
* ``exponent_gap_hist``: over the same pairs, the share of each binary-exponent gap
  |floor(log2 |p0|) - floor(log2 |p1|)|, 0 .. 15 (the last bin holds 15 and more): the cheap
  magnitude proxy a controller compares.
"""

from __future__ import annotations

import numpy as np

GAP_BINS = 16


def pair_stats(a: np.ndarray, b: np.ndarray) -> dict:
    """Pair statistics of the tile ``a`` (M x K) @ ``b`` (K x N); K is cut to an even size."""
    k = a.shape[1] - a.shape[1] % 2
    if k == 0:
        return {"both_nonzero": 0.0, "one_nonzero": 0.0, "none": 1.0, "mean_ratio": 0.0,
                "exponent_gap_hist": [0.0] * GAP_BINS}
    a64, b64 = a[:, :k].astype(np.float64), b[:k].astype(np.float64)
    products = a64[:, :, None] * b64[None, :, :]  # (M, K, N)
    p0, p1 = np.abs(products[:, 0::2]), np.abs(products[:, 1::2])
    nz0, nz1 = p0 != 0, p1 != 0
    both = nz0 & nz1
    result = {"both_nonzero": float(both.mean()), "one_nonzero": float((nz0 ^ nz1).mean()),
              "none": float((~nz0 & ~nz1).mean())}
    if both.any():
        lo, hi = np.minimum(p0[both], p1[both]), np.maximum(p0[both], p1[both])
        gaps = np.abs(np.floor(np.log2(p0[both])) - np.floor(np.log2(p1[both])))
        hist = np.bincount(np.minimum(gaps, GAP_BINS - 1).astype(int), minlength=GAP_BINS)
        result["mean_ratio"] = float(np.mean(lo / hi))
        result["exponent_gap_hist"] = (hist / hist.sum()).tolist()
    else:
        result["mean_ratio"] = 0.0
        result["exponent_gap_hist"] = [0.0] * GAP_BINS
    return result
