"""ACRTC reuse-buffer hit rates on an operand stream (numpy).

Model: a unit multiplies the operand pairs of a GEMM tile in the order n (outer), k, m (inner):
a weight-side value b[k, n] stays while activation-side values a[m, k] of consecutive rows
stream past, as in a weight-stationary array or a tensor core reusing B across M. Each lookup is
keyed on both operands as fp16 with the low ``k`` mantissa bits masked (k = 0 exact, k = 10 keeps
only sign and exponent). Granularity ``scalar`` looks up each product a*b; ``dot4`` looks up each
4-wide dot product (four consecutive k) keyed on all eight operands. The buffer is fully
associative with LRU replacement: a lookup hits when its key is among the ``entries`` most
recently used distinct keys (its LRU stack distance is below ``entries``); a miss inserts.
Products with a zero operand are looked up like any other.
"""

from __future__ import annotations

import numpy as np

FP16_MANTISSA_BITS = 10
MASKED_BITS = (0, 2, 4, 6, 8, 10)
ENTRIES = (16, 64, 256)
GRANULARITIES = ("scalar", "dot4")
DOT = 4


def masked_fp16(values: np.ndarray, k: int) -> np.ndarray:
    """The fp16 bit patterns of ``values`` with the low ``k`` mantissa bits cleared."""
    bits = np.asarray(values, dtype=np.float16).view(np.uint16)
    return bits & np.uint16((0xFFFF << k) & 0xFFFF)


def stream_keys(a: np.ndarray, b: np.ndarray, k: int, granularity: str) -> np.ndarray:
    """Integer lookup keys of the tile ``a`` (M x K) @ ``b`` (K x N) in stream order."""
    m, kk = a.shape
    n = b.shape[1]
    qa, qb = masked_fp16(a, k).astype(np.int64), masked_fp16(b, k).astype(np.int64)
    if granularity == "scalar":
        ni, ki, mi = np.meshgrid(np.arange(n), np.arange(kk), np.arange(m), indexing="ij")
        return (qa[mi, ki] << 16 | qb[ki, ni]).ravel()
    chunks = kk // DOT
    if chunks == 0:
        return np.zeros(0, dtype=np.int64)
    ni, ci, mi = np.meshgrid(np.arange(n), np.arange(chunks), np.arange(m), indexing="ij")
    offsets = np.arange(DOT)
    ks = ci[..., None] * DOT + offsets  # (n, chunks, m, 4)
    rows = np.concatenate([qa[mi[..., None], ks], qb[ks, ni[..., None]]], axis=-1)
    _, inverse = np.unique(rows.reshape(-1, 2 * DOT), axis=0, return_inverse=True)
    return inverse.reshape(-1).astype(np.int64)


def lru_stack_distances(keys: np.ndarray) -> np.ndarray:
    """Per lookup, the number of distinct keys used since the previous use of its key
    (``-1`` for a first use)."""
    n = len(keys)
    order = np.argsort(keys, kind="stable")
    same = keys[order][1:] == keys[order][:-1]
    prev = np.full(n, -1)
    nxt = np.full(n, n)
    prev[order[1:][same]] = order[:-1][same]
    nxt[order[:-1][same]] = order[1:][same]
    distances = np.full(n, -1)
    reused = np.nonzero(prev >= 0)[0]
    if len(reused):
        j = np.arange(n)
        window = ((j[None, :] > prev[reused, None]) & (j[None, :] < reused[:, None])
                  & (nxt[None, :] > reused[:, None]))
        distances[reused] = window.sum(axis=1)
    return distances


def hit_rates(keys: np.ndarray, entries=ENTRIES) -> list[float]:
    """LRU hit rate of the lookup stream ``keys`` for each buffer size in ``entries``."""
    if len(keys) == 0:
        return [0.0 for _ in entries]
    d = lru_stack_distances(keys)
    return [float(np.mean((d >= 0) & (d < e))) for e in entries]


def hit_rate_table(a: np.ndarray, b: np.ndarray, granularity: str, masked_bits=MASKED_BITS,
                   entries=ENTRIES) -> list[list[float]]:
    """Hit rates of the tile, one row per masked-bit count, one column per buffer size."""
    return [hit_rates(stream_keys(a, b, k, granularity), entries) for k in masked_bits]
