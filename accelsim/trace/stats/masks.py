"""Sampled non-zero coordinate masks, bit-packed (numpy).

A mask is kept for a sample of a tensor: activations and output gradients ``(N, C, ...)`` keep
the first ``images`` samples and ``channels`` channels evenly spaced over C (all other axes whole);
weights ``(K, C, ...)`` keep the output channels sampled for the output gradient and the input
channels sampled for the activation, so the three masks of a layer line up. Masks are stored
with ``np.packbits`` (row-major, the shape alongside) in ``np.savez_compressed``.
"""

from __future__ import annotations

import numpy as np


def spaced(size: int, count: int) -> list[int]:
    """``count`` indices evenly spaced over ``range(size)`` (all of them if fewer)."""
    if size <= count:
        return list(range(size))
    return sorted({round(float(v)) for v in np.linspace(0, size - 1, count)})


def pack(mask: np.ndarray) -> np.ndarray:
    return np.packbits(mask.astype(bool).reshape(-1))

