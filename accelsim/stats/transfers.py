"""The record of one DRAM transfer, kept only when a run asks for every transfer.

A run keeps these (``keep_transfers``: ``accelsim run --timeline`` or ``--scalesim-reports``)
to draw the timeline and to date each operand's DRAM traffic; otherwise only the bandwidth
histogram of :mod:`accelsim.stats.rate_histogram` is accumulated. ``lane`` is the DRAM lane that
carried the transfer (:mod:`accelsim.hw.system`: lanes are first-come-first-served servers, so
one lane's transfers never overlap in time); ``tag`` names the op that asked for it and whether
it was an early fetch of the op's first tile (:mod:`accelsim.sim.prefetch`);
``bytes_by_endpoint`` splits its bytes over the SRAM buffers (or the vector unit) it filled or
drained.
"""

from __future__ import annotations

from typing import NamedTuple


class TransferTag(NamedTuple):
    """Who asked for a transfer: the op's name, and whether it prefetched the op's first tile."""

    op: str
    prefetch: bool = False


class TransferRecord(NamedTuple):
    """One DRAM transfer (module docstring): its bus time [start, end) in cycles."""

    start: float
    end: float
    nbytes: int
    write: bool
    lane: int
    tag: TransferTag | None
    bytes_by_endpoint: dict[str, int]
