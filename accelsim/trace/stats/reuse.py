"""ACRTC reuse-buffer hit rates on an operand stream (numpy).

Model: a unit multiplies the operand pairs of a GEMM tile in the order n (outer), k, m (inner):
a weight-side value b[k, n] stays while activation-side values a[m, k] of consecutive rows
stream past, as in a weight-stationary array or a tensor core reusing B across M. Each lookup is
keyed on both operands as fp16 with the low ``k`` mantissa bits masked (k = 0 exact, k = 10 keeps
only sign and exponent); the masked bits are dropped from the key, so a scalar key is the
``2 * (16 - k)`` kept bits of the pair. Granularity ``scalar`` looks up each product a*b;
``dot4`` looks up each 4-wide dot product (four consecutive k) keyed on all eight operands (the
key is a dense code of the eight kept operand fields). Products with a zero operand are looked
up like any other. A miss inserts its key, evicting the least recently used one.

Buffer organisations (both exact):

* fully associative LRU: a lookup hits when its key is among the ``entries`` most recently used
  distinct keys, i.e. its LRU stack distance (:func:`lru_stack_distances`) is below ``entries``;
* set-associative LRU (``entries / ways`` sets of ``ways`` entries, each set its own LRU): a key
  lives in one set (:func:`set_index`), so a lookup hits when its stack distance within the
  substream of lookups to its set is below ``ways`` (:func:`set_stack_distances`).

Stack distances are computed offline in O(n log n) time and O(n) memory: the distance of a
reuse at position i whose previous use is at p is the number of distinct keys in (p, i), which
is the number of positions j in (p, i) whose own previous use lies before p (each distinct key
counted at its first use in the window); these range counts are answered for all lookups at
once, one bit level at a time, on a wavelet matrix of the previous-use positions
(:func:`range_count_below`).

Sampling: an op's hit rate is estimated from several independent operand tiles (different
images, positions, channels) and reported with a Student-t confidence interval over the tiles
(:func:`sampled_hit_rate_tables`, :func:`mean_interval`).
"""

from __future__ import annotations

import math

import numpy as np

FP16_MANTISSA_BITS = 10
MASKED_BITS = (0, 2, 4, 6, 8, 10)
ENTRIES = (16, 64, 256)
GRANULARITIES = ("scalar", "dot4")
DOT = 4
HASHINGS = ("low", "xor")


def masked_fp16(values: np.ndarray, k: int) -> np.ndarray:
    """The fp16 bit patterns of ``values`` with the low ``k`` mantissa bits cleared."""
    bits = np.asarray(values, dtype=np.float16).view(np.uint16)
    return bits & np.uint16((0xFFFF << k) & 0xFFFF)


def kept_fp16(values: np.ndarray, k: int) -> np.ndarray:
    """The ``16 - k`` kept bits of the fp16 patterns of ``values`` (masked bits dropped)."""
    return (masked_fp16(values, k) >> np.uint16(k)).astype(np.int64)


def key_bits(k: int, granularity: str) -> int:
    """Bits of a lookup key: the kept bits of both operands (scalar) or of all eight (dot4)."""
    return (2 if granularity == "scalar" else 2 * DOT) * (16 - k)


def stream_keys(a: np.ndarray, b: np.ndarray, k: int, granularity: str) -> np.ndarray:
    """Integer lookup keys of the tile ``a`` (M x K) @ ``b`` (K x N) in stream order."""
    m, kk = a.shape
    n = b.shape[1]
    qa, qb = kept_fp16(a, k), kept_fp16(b, k)
    if granularity == "scalar":
        ni, ki, mi = np.meshgrid(np.arange(n), np.arange(kk), np.arange(m), indexing="ij")
        return (qa[mi, ki] << (16 - k) | qb[ki, ni]).ravel()
    chunks = kk // DOT
    if chunks == 0:
        return np.zeros(0, dtype=np.int64)
    ni, ci, mi = np.meshgrid(np.arange(n), np.arange(chunks), np.arange(m), indexing="ij")
    offsets = np.arange(DOT)
    ks = ci[..., None] * DOT + offsets  # (n, chunks, m, 4)
    rows = np.concatenate([qa[mi[..., None], ks], qb[ks, ni[..., None]]], axis=-1)
    _, inverse = np.unique(rows.reshape(-1, 2 * DOT), axis=0, return_inverse=True)
    return inverse.reshape(-1).astype(np.int64)


# -- stack distances ----------------------------------------------------------------------------
def previous_use(keys: np.ndarray) -> np.ndarray:
    """Per lookup, the position of the previous lookup of the same key (``-1`` if none)."""
    keys = np.asarray(keys)
    n = len(keys)
    order = np.argsort(keys, kind="stable")
    same = keys[order][1:] == keys[order][:-1]
    prev = np.full(n, -1, dtype=np.int64)
    prev[order[1:][same]] = order[:-1][same]
    return prev


def range_count_below(values: np.ndarray, lo: np.ndarray, hi: np.ndarray,
                      bound: np.ndarray) -> np.ndarray:
    """Per query q, the number of positions j in ``[lo[q], hi[q])`` with ``values[j] <
    bound[q]`` (non-negative integers; all queries at once).

    A wavelet matrix built and queried level by level, from the top bit down: at each level
    the values are stably partitioned by the bit (zeros first), and every query range, kept on
    the values whose higher bits equal its bound's, follows the bound's bit; when that bit is 1
    the range's values with a 0 there are all below the bound and are counted. O((n + q) log
    max) time, O(n + q) memory.
    """
    values = np.asarray(values, dtype=np.int64)
    lo, hi = np.asarray(lo, dtype=np.int64).copy(), np.asarray(hi, dtype=np.int64).copy()
    bound = np.asarray(bound, dtype=np.int64)
    count = np.zeros(len(lo), dtype=np.int64)
    if len(values) == 0 or len(lo) == 0:
        return count
    top = max(int(values.max()), int(bound.max()), 1).bit_length()
    zeros_before = np.zeros(len(values) + 1, dtype=np.int64)
    for level in reversed(range(top)):
        bit = (values >> level) & 1
        np.cumsum(bit == 0, out=zeros_before[1:])
        zeros = zeros_before[-1]
        z_lo, z_hi = zeros_before[lo], zeros_before[hi]
        one = ((bound >> level) & 1).astype(bool)
        count += np.where(one, z_hi - z_lo, 0)
        lo = np.where(one, zeros + lo - z_lo, z_lo)
        hi = np.where(one, zeros + hi - z_hi, z_hi)
        values = np.concatenate((values[bit == 0], values[bit == 1]))
    return count


def lru_stack_distances(keys: np.ndarray) -> np.ndarray:
    """Per lookup, the number of distinct keys used since the previous use of its key
    (``-1`` for a first use). O(n log n) time, O(n) memory (see the module docstring)."""
    prev = previous_use(keys)
    distances = np.full(len(prev), -1, dtype=np.int64)
    reused = np.nonzero(prev >= 0)[0]
    if len(reused):
        p = prev[reused]
        # positions j in (p, i) whose previous use is before p, i.e. prev[j] + 1 < p + 1
        distances[reused] = range_count_below(prev + 1, p + 1, reused, p + 1)
    return distances


def set_index(keys: np.ndarray, sets: int, hashing: str = "xor") -> np.ndarray:
    """Set of each key in a buffer of ``sets`` sets (a power of two): ``low`` its low
    log2(sets) bits, ``xor`` the XOR of all its log2(sets)-bit fields (XOR-based placement,
    González et al., ICS 1997), which spreads keys whose low bits are constant."""
    if sets < 1 or sets & (sets - 1):
        raise ValueError(f"sets must be a power of two, got {sets}")
    if hashing not in HASHINGS:
        raise ValueError(f"hashing must be one of {HASHINGS}, got {hashing!r}")
    keys = np.asarray(keys, dtype=np.int64)
    if np.any(keys < 0):
        raise ValueError("keys must be non-negative")
    mask = sets - 1
    if hashing == "low" or sets == 1:
        return keys & mask
    width = sets.bit_length() - 1
    index = np.zeros_like(keys)
    rest = keys.copy()
    while np.any(rest):
        index ^= rest & mask
        rest >>= width
    return index


def set_stack_distances(keys: np.ndarray, sets_of: np.ndarray) -> np.ndarray:
    """Per lookup, its LRU stack distance within the substream of lookups to its set
    (``sets_of``, one set per lookup, the same for equal keys); ``-1`` for a first use."""
    keys = np.asarray(keys)
    order = np.argsort(np.asarray(sets_of), kind="stable")
    distances = np.empty(len(keys), dtype=np.int64)
    distances[order] = lru_stack_distances(keys[order])
    return distances


def hits(keys: np.ndarray, entries: int, ways: int | None = None,
         hashing: str = "xor") -> np.ndarray:
    """Which lookups of ``keys`` hit in an LRU buffer of ``entries`` entries, fully associative
    (``ways`` None or ``entries``) or of ``ways`` ways per set."""
    if ways is None or ways == entries:
        d = lru_stack_distances(keys)
        return (d >= 0) & (d < entries)
    if ways < 1 or entries % ways:
        raise ValueError(f"ways must divide entries, got {ways} ways of {entries} entries")
    d = set_stack_distances(keys, set_index(keys, entries // ways, hashing))
    return (d >= 0) & (d < ways)


def hit_rates(keys: np.ndarray, entries=ENTRIES, ways: int | None = None,
              hashing: str = "xor") -> list[float]:
    """LRU hit rate of the lookup stream ``keys`` for each buffer size in ``entries`` (fully
    associative unless ``ways`` is given)."""
    if len(keys) == 0:
        return [0.0 for _ in entries]
    if ways is None:
        d = lru_stack_distances(keys)
        return [float(np.mean((d >= 0) & (d < e))) for e in entries]
    return [float(np.mean(hits(keys, e, min(ways, e), hashing))) for e in entries]


def hit_rate_table(a: np.ndarray, b: np.ndarray, granularity: str, masked_bits=MASKED_BITS,
                   entries=ENTRIES, ways: int | None = None) -> list[list[float]]:
    """Hit rates of the tile, one row per masked-bit count, one column per buffer size."""
    return [hit_rates(stream_keys(a, b, k, granularity), entries, ways) for k in masked_bits]


# -- estimates with a stated spread -------------------------------------------------------------
def t_two_sided_probability(t: float, df: int) -> float:
    """P(|T| <= t) for Student's t with ``df`` degrees of freedom (closed form of Abramowitz &
    Stegun 26.7.3-4 for integer df)."""
    theta = math.atan(t / math.sqrt(df))
    c2 = math.cos(theta) ** 2
    series, term = 1.0, 1.0
    if df % 2:
        if df == 1:
            return 2 * theta / math.pi
        for j in range(1, (df - 3) // 2 + 1):
            term *= 2 * j / (2 * j + 1) * c2
            series += term
        return 2 / math.pi * (theta + math.sin(theta) * math.cos(theta) * series)
    for j in range(1, (df - 2) // 2 + 1):
        term *= (2 * j - 1) / (2 * j) * c2
        series += term
    return math.sin(theta) * series


def t_quantile(confidence: float, df: int) -> float:
    """The t with P(|T| <= t) = ``confidence`` (bisection on the closed form)."""
    if not 0 < confidence < 1 or df < 1:
        raise ValueError(f"need 0 < confidence < 1 and df >= 1, got {confidence}, {df}")
    lo, hi = 0.0, 1.0
    while t_two_sided_probability(hi, df) < confidence:
        lo, hi = hi, 2 * hi
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if t_two_sided_probability(mid, df) < confidence:
            lo = mid
        else:
            hi = mid
        if hi - lo <= 1e-12 * hi:
            break
    return 0.5 * (lo + hi)


def mean_interval(samples, confidence: float = 0.95, limits=(0.0, 1.0)):
    """Mean over the first axis of ``samples`` (one row per independent sample) and its
    Student-t confidence interval: mean -/+ t(confidence, s-1) * std / sqrt(s), clipped to
    ``limits`` (None: unclipped). With one sample the spread is unknown and the interval is
    ``limits``. Returns (mean, low, high), arrays of the trailing shape.

    The coverage is the stated one when the mean of the samples is close to normal; with few
    samples from a strongly skewed population (most tiles reusing little, a few a lot) the
    interval is too narrow, and more samples are the remedy."""
    x = np.asarray(samples, dtype=float)
    s = x.shape[0]
    if s == 0:
        raise ValueError("no samples")
    mean = x.mean(axis=0)
    if s == 1:
        lo_lim, hi_lim = limits if limits is not None else (-np.inf, np.inf)
        return mean, np.full_like(mean, lo_lim), np.full_like(mean, hi_lim)
    half = t_quantile(confidence, s - 1) * x.std(axis=0, ddof=1) / math.sqrt(s)
    low, high = mean - half, mean + half
    if limits is not None:
        low, high = np.clip(low, *limits), np.clip(high, *limits)
    return mean, low, high


def sampled_hit_rate_tables(tiles, granularity: str, masked_bits=MASKED_BITS, entries=ENTRIES,
                            ways: int | None = None, confidence: float = 0.95) -> dict:
    """Hit-rate tables of an op estimated from independent operand ``tiles`` (pairs ``(a,
    b)`` of equal shapes, each streamed into an empty buffer): ``mean``, ``low`` and ``high``
    (``[k][entries]``, the t-interval over the tiles' own tables) and ``samples``."""
    tables = np.array([hit_rate_table(a, b, granularity, masked_bits, entries, ways)
                       for a, b in tiles], dtype=float)
    mean, low, high = mean_interval(tables, confidence)
    return {"mean": mean.tolist(), "low": low.tolist(), "high": high.tolist(),
            "samples": len(tables)}
