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

import math

import numpy as np

from accelsim.stats.ordered_sum import ordered_sum

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
        last = min(math.ceil(end / width) - 1, FINE_BINS - 1)
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

    def add_many(self, starts: np.ndarray, ends: np.ndarray, nbytes: np.ndarray) -> None:
        """:meth:`add` of each transfer in turn, in bulk, with the same result: the bins widen
        where the transfer that needs it comes, and every bin receives its parts in order."""
        moving = nbytes > 0
        starts = np.asarray(starts, dtype=float)[moving]
        ends = np.asarray(ends, dtype=float)[moving]
        nbytes = np.asarray(nbytes, dtype=float)[moving]
        reach = np.maximum(ends, starts + 1e-9)
        done = 0
        while done < len(starts):
            beyond = np.flatnonzero(reach[done:] > FINE_BINS * self.width)
            upto = done + int(beyond[0]) if len(beyond) else len(starts)
            if upto == done:
                self._cover(reach[done])
                upto = done + 1 + int(np.argmax(np.append(
                    reach[done + 1:] > FINE_BINS * self.width, True)))
            self._spread(starts[done:upto], ends[done:upto], nbytes[done:upto])
            done = upto

    def _spread(self, starts: np.ndarray, ends: np.ndarray, nbytes: np.ndarray) -> None:
        """Add transfers that all fall inside the current bins (see :meth:`add_many`)."""
        self.total_bytes = ordered_sum(self.total_bytes, nbytes)
        width = self.width
        first = np.minimum(starts // width, FINE_BINS - 1).astype(np.int64)
        last = np.minimum(np.ceil(ends / width) - 1, FINE_BINS - 1).astype(np.int64)
        whole = (ends <= starts) | (first == last)
        if whole.all():  # each transfer in one bin: its bytes go there, in order
            np.add.at(self.bins, first, nbytes)
            return
        span = ~whole
        rate = np.where(span, nbytes / np.where(span, ends - starts, 1.0), 0.0)
        head = np.where(whole, nbytes, rate * ((first + 1) * width - starts))
        tail = rate * (ends - last * width)
        inner = np.where(span, np.maximum(last - first - 1, 0), 0)
        # each transfer's parts: its first bin, its last bin (when it spans), the bins between
        order = np.arange(len(starts))
        inner_owner = np.repeat(order, inner)
        inner_bins = (np.repeat(first + 1, inner) + np.arange(inner.sum())
                      - np.repeat(np.cumsum(inner) - inner, inner))
        owner = np.concatenate((order, order[span], inner_owner))
        bins = np.concatenate((first, last[span], inner_bins))
        parts = np.concatenate((head, tail[span], (rate * width)[inner_owner]))
        sequence = np.argsort(owner, kind="stable")
        np.add.at(self.bins, bins[sequence], parts[sequence])
