"""Bytes moved over time, accumulated as transfers happen in a fixed amount of memory.

A transfer of ``b`` bytes over [start, end) cycles is spread evenly over that span into
:data:`FINE_BINS` bins of equal width; when a transfer ends beyond the last bin, neighbouring
bins are merged in pairs and the width doubles, so the histogram covers any run in the same
memory and every byte is kept. At the end :meth:`RateHistogram.resample` gives the bytes in any
number of equal bins over [0, total]: the fine bins are integrated (bytes taken as even inside
a fine bin, which they are exactly for transfers spanning whole fine bins) and cut at the new
edges. With 4,096 fine bins a 100-bin chart is off by at most one fine bin's bytes per edge.
"""

from __future__ import annotations

import numpy as np

FINE_BINS = 4096


class RateHistogram:
    """Bytes per fine bin of width ``width`` cycles, from cycle 0."""

    def __init__(self, width: float = 1.0) -> None:
        self.width = float(width)
        self.bins = np.zeros(FINE_BINS)
        self.total_bytes = 0.0

    def _cover(self, end: float) -> None:
        """Double the bin width until ``end`` falls inside the histogram."""
        while end > FINE_BINS * self.width:
            self.bins = self.bins.reshape(-1, 2).sum(axis=1)
            self.bins = np.concatenate((self.bins, np.zeros(FINE_BINS - len(self.bins))))
            self.width *= 2.0

    def add(self, start: float, end: float, nbytes: float) -> None:
        """``nbytes`` moved evenly over [start, end) (at ``start`` when the span is empty)."""
        if nbytes <= 0:
            return
        self.total_bytes += nbytes
        self._cover(max(end, start + 1e-9))
        width = self.width
        first = min(int(start // width), FINE_BINS - 1)
        if end <= start:
            self.bins[first] += nbytes
            return
        last = min(int(np.ceil(end / width)) - 1, FINE_BINS - 1)
        if first == last:
            self.bins[first] += nbytes
            return
        rate = nbytes / (end - start)
        self.bins[first] += rate * ((first + 1) * width - start)
        self.bins[last] += rate * (end - last * width)
        if last > first + 1:
            self.bins[first + 1:last] += rate * width

    def resample(self, total: float, count: int) -> np.ndarray:
        """Bytes in ``count`` equal bins over [0, ``total``) cycles."""
        if total <= 0:
            return np.zeros(count)
        fine_edges = np.arange(FINE_BINS + 1) * self.width
        cumulative = np.concatenate(([0.0], np.cumsum(self.bins)))
        edges = np.linspace(0.0, total, count + 1)
        at = np.interp(edges, fine_edges, cumulative)
        at[-1] = self.total_bytes  # every transfer ends by the run's end
        return np.diff(at)
