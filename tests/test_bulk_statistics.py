"""Statistics recorded in bulk equal the same transfers recorded one at a time, bit for bit:
the bandwidth histogram (bins widen where the transfer that needs it comes) and float counters
summed in order."""

from __future__ import annotations

import numpy as np

from accelsim.stats.ordered_sum import ordered_sum
from accelsim.stats.rate_histogram import FINE_BINS, RateHistogram


def test_ordered_sum_rounds_after_each_addition():
    """1e16 + 1 + 1 rounds to 1e16 twice one by one; a pairwise sum would give 1e16 + 2."""
    assert ordered_sum(1e16, np.array([1.0, 1.0])) == 1e16
    assert ordered_sum(0.0, np.array([0.1] * 10)) == sum([0.1] * 10)
    assert ordered_sum(3.5, np.array([])) == 3.5


def test_add_many_equals_add_one_by_one():
    """Short and long transfers, zero-length and empty ones, and ends far enough out that the
    bins double several times inside one call."""
    rng = np.random.default_rng(7)
    starts = np.cumsum(rng.integers(0, 40, 3000)).astype(float)
    ends = starts + rng.integers(0, 300, 3000)
    ends[::97] = starts[::97]  # zero-length transfers
    nbytes = rng.integers(0, 5000, 3000).astype(float)
    nbytes[::13] = 0  # nothing moved
    starts[-5:] += 3 * FINE_BINS * 8  # far out: several doublings at once
    ends[-5:] = starts[-5:] + 1000
    one, bulk = RateHistogram(), RateHistogram()
    for s, e, b in zip(starts, ends, nbytes):
        one.add(float(s), float(e), float(b))
    bulk.add_many(starts[:1200], ends[:1200], nbytes[:1200])
    bulk.add_many(starts[1200:], ends[1200:], nbytes[1200:])
    assert bulk.width == one.width > 1
    assert bulk.total_bytes == one.total_bytes
    assert np.array_equal(bulk.bins, one.bins)


def test_add_many_of_transfers_inside_one_bin_each():
    """Wide bins (after a far transfer): every short transfer falls in one bin, several in the
    same bin, added in order."""
    one, bulk = RateHistogram(), RateHistogram()
    for histogram in (one, bulk):
        histogram.add(0.0, 64.0 * FINE_BINS, 3.0)  # bins 64 cycles wide
    starts = np.arange(0.0, 6400.0, 16.0)
    ends = starts + 8.0
    nbytes = np.full(len(starts), 0.1)
    for s, e, b in zip(starts, ends, nbytes):
        one.add(float(s), float(e), float(b))
    bulk.add_many(starts, ends, nbytes)
    assert np.array_equal(bulk.bins, one.bins) and bulk.total_bytes == one.total_bytes
