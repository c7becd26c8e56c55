"""DRAM: the time a transfer occupies the channels, from its size and its address pattern.

Two models, chosen by the hwconfig:

* with a ``preset`` (DDR4-3200, LPDDR4-4266, HBM2, HBM3): the bank-level model of
  :mod:`accelsim.hw.dram_pattern` with the timings of :mod:`accelsim.hw.dram_timing`. A
  transfer arrives with two figures its addresses set (:meth:`System.fetch_pattern`): the
  channels its column commands keep busy at peak (bank-group tCCD_L, a bank's own row
  changes and channel imbalance lower it) and its busiest channel's activation time in
  activation intervals (its row visits, more when tRRD_L or a bank's tRC makes them wait).
  It lasts the larger of the two times, stretched by refresh (tRFC every tREFI), and its
  first data comes tRCD + tCL (+ tRP for the row conflict) after the controller latency.
* without one: a peak-bandwidth server; a transfer over ``channels`` channels (default
  ``min(channels, ceil(bytes / interleave))``) streams at that share of the peak.

``ideal: true`` makes every transfer free (it is still counted). Each transfer's time is
split into data (bytes at the bandwidth its channels' column commands allow), overhead (row
activations beyond that, and refresh) and latency, which the stall accounting attributes to
DRAM bandwidth and DRAM latency.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from accelsim.config.models import DramParams
from accelsim.hw.dram_timing import PRESETS, DramTiming
from accelsim.stats.ordered_sum import ordered_sum
from accelsim.stats.rate_histogram import RateHistogram


@dataclass(frozen=True, slots=True)
class DramCost:
    """Cycles of one transfer: ``data + overhead`` on the bus, then ``latency``."""

    data: float
    overhead: float
    latency: float

    @property
    def busy(self) -> float:
        return self.data + self.overhead


@dataclass
class DramStats:
    bytes_read: int = 0
    bytes_written: int = 0
    busy_cycles: float = 0.0
    overhead_cycles: float = 0.0
    transfers: int = 0
    row_visits: float = 0.0  # activations in activation intervals, summed over channels
    bursts: float = 0.0
    #: bytes moved over time, accumulated as transfers happen (fixed memory)
    bandwidth: RateHistogram = field(default_factory=RateHistogram)
    #: every transfer (accelsim.stats.transfers.TransferRecord), kept only when asked for
    #: (by accelsim.hw.system.System.reserve, which knows its lane and requester)
    timeline: list = field(default_factory=list)

    @property
    def row_hit_rate(self) -> float:
        """Share of bursts that found their row open."""
        return 1.0 - self.row_visits / self.bursts if self.bursts else 0.0


class Dram:
    def __init__(self, params: DramParams, clock_hz: float,
                 keep_transfers: bool = False) -> None:
        self.params = params
        self.keep_transfers = keep_transfers
        self.clock_hz = clock_hz
        self.ideal = params.ideal
        self.channels = params.channels
        self.timing: DramTiming | None = None
        if params.preset is not None:
            timing = PRESETS[params.preset]
            if params.bandwidth is not None:
                wanted = params.bandwidth.bytes_per_cycle(clock_hz) * clock_hz
                timing = timing.with_data_rate(wanted / (self.channels * timing.bus_bytes))
            self.timing = timing
            peak = self.channels * timing.channel_bandwidth
            # per-transfer constants of the row-buffer model, in accelerator cycles
            self._channel_bytes_per_cycle = timing.channel_bandwidth / clock_hz
            self._activation_cycles = timing.activation_interval * clock_hz
            self._refresh_factor = timing.refresh_factor
            self._first_data_cycles = timing.first_data_seconds(row_conflict=True) * clock_hz
        else:
            peak = params.bandwidth.bytes_per_cycle(clock_hz) * clock_hz if params.bandwidth \
                else math.inf
        self.bytes_per_second = math.inf if self.ideal else peak
        self.bytes_per_cycle = self.bytes_per_second / clock_hz
        self.controller_latency = 0.0 if self.ideal else params.latency.cycles(clock_hz)
        self.stats = DramStats()

    @property
    def access_energy_pj_per_64b(self) -> float:
        """The hwconfig's figure, else its preset's published one."""
        own = self.params.access_energy_pj_per_64b  # required by DramParams without a preset
        return own if own is not None else self.timing.access_energy_pj_per_64b

    @property
    def row_bytes(self) -> int:
        return self.timing.row_bytes if self.timing else self.params.interleave

    def cost(self, nbytes: int, visits: float = 1.0, channels: float | None = None) -> DramCost:
        """Cycles of a transfer of ``nbytes`` whose busiest channel makes ``visits`` row visits
        (in activation intervals) while its column commands keep ``channels`` channels busy
        (default: as many as its size interleaves over; fractional when bank groups or
        channel imbalance hold it below that)."""
        if self.ideal or nbytes == 0:
            return DramCost(0.0, 0.0, 0.0)
        if channels is None:
            channels = min(self.channels, math.ceil(nbytes / self.params.interleave))
        channels = min(max(float(channels), 1e-9), self.channels)
        if self.timing is None:
            data = nbytes / (self.bytes_per_cycle * channels / self.channels)
            return DramCost(data, 0.0, self.controller_latency)
        per_channel = nbytes / channels
        visits = max(1.0, float(visits))
        data = per_channel / self._channel_bytes_per_cycle
        # the slower of column commands and activations; refresh stretches it all
        busy = max(data, visits * self._activation_cycles) / self._refresh_factor
        return DramCost(data, busy - data, self.controller_latency + self._first_data_cycles)

    def costs(self, nbytes: np.ndarray, visits: np.ndarray, channels: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray, float]:
        """:meth:`cost` of many transfers of at least one byte each, with their channels
        given: (data, overhead) arrays and the latency, the same numbers element by element."""
        nbytes = np.asarray(nbytes, dtype=float)
        channels = np.minimum(np.maximum(np.asarray(channels, dtype=float), 1e-9),
                              self.channels)
        if self.timing is None:
            data = nbytes / (self.bytes_per_cycle * channels / self.channels)
            return data, np.zeros_like(data), self.controller_latency
        visits = np.maximum(1.0, np.asarray(visits, dtype=float))
        data = nbytes / channels / self._channel_bytes_per_cycle
        busy = np.maximum(data, visits * self._activation_cycles) / self._refresh_factor
        return data, busy - data, self.controller_latency + self._first_data_cycles

    def record(self, nbytes: int, write: bool, start: float, end: float, cost: DramCost,
               visits: float, channels: float) -> None:
        if write:
            self.stats.bytes_written += nbytes
        else:
            self.stats.bytes_read += nbytes
        self.stats.transfers += 1
        self.stats.busy_cycles += end - start
        self.stats.overhead_cycles += cost.overhead
        if self.timing is not None and nbytes:
            self.stats.row_visits += max(1.0, visits) * channels
            self.stats.bursts += math.ceil(nbytes / self.timing.burst_bytes)
        if not self.ideal:
            self.stats.bandwidth.add(start, end, nbytes)

    def record_many(self, nbytes: np.ndarray, write: np.ndarray, start: np.ndarray,
                    end: np.ndarray, overhead: np.ndarray, visits: np.ndarray,
                    channels: np.ndarray) -> None:
        """:meth:`record` of each transfer in turn (its cost given by its ``overhead``), in
        bulk: every float counter is summed in the same order."""
        stats = self.stats
        write = write.astype(bool)
        stats.bytes_written += int(nbytes[write].sum())
        stats.bytes_read += int(nbytes[~write].sum())
        stats.transfers += len(nbytes)
        stats.busy_cycles = ordered_sum(stats.busy_cycles, end - start)
        stats.overhead_cycles = ordered_sum(stats.overhead_cycles, overhead)
        moved = nbytes != 0
        if self.timing is not None:
            stats.row_visits = ordered_sum(stats.row_visits,
                                           (np.maximum(1.0, visits) * channels)[moved])
            stats.bursts = ordered_sum(
                stats.bursts, np.ceil(nbytes[moved] / self.timing.burst_bytes))
        if not self.ideal:
            stats.bandwidth.add_many(start, end, nbytes)
