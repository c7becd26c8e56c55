"""DRAM device timing: presets, the address-interleaving geometry and the row-buffer model.

A channel streams ``bus_bytes`` per beat at ``data_rate`` beats per second. Data is mapped
row : bank : column : channel from the high address bits down (Ramulator's RoBaCoCh order):
``interleave`` bytes go to one channel before the next, so a long sequential stream fills
one row of one bank in every channel, then moves on to the next bank. With an open-page
policy a *row visit* (one activation) serves every access to that row until the stream
leaves it. Consecutive visits go to different banks, so a bank's precharge and activation
overlap the previous visit's data transfer; what cannot be hidden are the activation-rate
limits of the device. The minimum time between two activations of one channel is

    t_act = max(tRRD, tFAW / 4, (tRAS + tRP) / banks)

(JEDEC: tRRD between any two activations, at most four in any tFAW window, and each bank
busy for a row cycle tRC = tRAS + tRP). A visit moving ``v`` bytes thus takes
``max(v / channel_bandwidth, t_act)``. All-bank refresh takes the channel away for tRFC
every tREFI, a factor ``1 - tRFC / tREFI`` on sustained bandwidth. The first data of a
transfer arrives tRCD + tCL after its first activation (tRP more when another row of that
bank was open).

The efficiency of a stream is therefore a closed form of the timing parameters (see
:meth:`DramTiming.stream_efficiency`): 1 for long sequential streams on every preset, and as
low as ``(burst / bandwidth) / t_act`` for random bursts.

Sources of the presets are named in each; core timings are kept in nanoseconds so that a
changed data rate (``dram.bandwidth`` set explicitly) keeps the device's analog timings.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

NS = 1e-9


@dataclass(frozen=True)
class DramTiming:
    """One channel's organisation and timing; times in seconds."""

    name: str
    bus_bytes: int  # data bus width of one channel
    data_rate: float  # beats per second on each data pin
    burst_length: int  # beats per access
    banks: int  # banks per channel, all ranks and bank groups together
    row_bytes: int  # row buffer (page) of one bank, per channel
    tCL: float
    tRCD: float
    tRP: float
    tRAS: float
    tRRD: float
    tFAW: float
    tRFC: float
    tREFI: float
    source: str

    @property
    def burst_bytes(self) -> int:
        return self.bus_bytes * self.burst_length

    @property
    def channel_bandwidth(self) -> float:
        """Peak bytes per second of one channel."""
        return self.bus_bytes * self.data_rate

    @property
    def activation_interval(self) -> float:
        """Minimum seconds between two row activations of one channel."""
        return max(self.tRRD, self.tFAW / 4, (self.tRAS + self.tRP) / self.banks)

    @property
    def refresh_factor(self) -> float:
        """Share of time a channel is not refreshing."""
        return 1.0 - self.tRFC / self.tREFI

    def visit_seconds(self, visit_bytes):
        """Seconds of one row visit moving ``visit_bytes`` (vectorised)."""
        return np.maximum(visit_bytes / self.channel_bandwidth, self.activation_interval)

    def stream_efficiency(self, visit_bytes: float) -> float:
        """Sustained / peak bandwidth of a stream whose row visits move ``visit_bytes``."""
        data = visit_bytes / self.channel_bandwidth
        return float(data / self.visit_seconds(visit_bytes) * self.refresh_factor)

    def first_data_seconds(self, row_conflict: bool = True) -> float:
        """Latency from a transfer's first request to its first data."""
        return self.tRCD + self.tCL + (self.tRP if row_conflict else 0.0)

    def with_data_rate(self, data_rate: float) -> DramTiming:
        return replace(self, data_rate=data_rate)


def _ddr4_3200() -> DramTiming:
    # JEDEC JESD79-4C speed bin DDR4-3200AA (22-22-22), tCK 0.625 ns, x8 devices, 8 Gb:
    # 16 banks (4 groups x 4), 1 KiB page per device -> 8 KiB per 64-bit rank; nRRD_S 4,
    # nFAW 34 (x8), tRFC1 350 ns (8 Gb), tREFI 7.8 us. As Ramulator 2's DDR4_3200AA preset.
    tck = 0.625 * NS
    return DramTiming("ddr4_3200", bus_bytes=8, data_rate=3200e6, burst_length=8, banks=16,
                      row_bytes=8192, tCL=22 * tck, tRCD=22 * tck, tRP=22 * tck,
                      tRAS=52 * tck, tRRD=4 * tck, tFAW=34 * tck, tRFC=350 * NS,
                      tREFI=7800 * NS,
                      source="JEDEC JESD79-4C DDR4-3200AA, x8 8Gb (Ramulator 2 DDR4_3200AA)")


def _lpddr4_4266() -> DramTiming:
    # JEDEC JESD209-4B LPDDR4-4266, one x16 channel, BL16, 8 banks, 2 KiB page; tRCD 18 ns,
    # tRPpb 18 ns, tRAS 42 ns, tRRD 10 ns, tFAW 40 ns, RL 36 tCK at 2133 MHz (16.9 ns),
    # tRFCab 280 ns (8 Gb per channel), tREFI 3.904 us.
    return DramTiming("lpddr4_4266", bus_bytes=2, data_rate=4266e6, burst_length=16, banks=8,
                      row_bytes=2048, tCL=36 / 2.133e9, tRCD=18 * NS, tRP=18 * NS,
                      tRAS=42 * NS, tRRD=10 * NS, tFAW=40 * NS, tRFC=280 * NS,
                      tREFI=3904 * NS, source="JEDEC JESD209-4B LPDDR4-4266, x16 channel")


def _hbm2() -> DramTiming:
    # JEDEC JESD235 HBM2 at 2 Gb/s per pin, pseudo-channel mode: one 64-bit pseudo-channel
    # (16 per stack, 256 GB/s), BL4, 16 banks, 1 KiB page; tCK 1 ns: CL 7, RCD 7, RP 7,
    # RAS 17, RRD_S 2, FAW 15, tRFC 260 ns (4 Gb), tREFI 3.9 us (Ramulator 2 HBM2_2Gbps).
    return DramTiming("hbm2", bus_bytes=8, data_rate=2000e6, burst_length=4, banks=16,
                      row_bytes=1024, tCL=7 * NS, tRCD=7 * NS, tRP=7 * NS, tRAS=17 * NS,
                      tRRD=2 * NS, tFAW=15 * NS, tRFC=260 * NS, tREFI=3900 * NS,
                      source="JEDEC JESD235 HBM2 2 Gb/s, pseudo-channel (Ramulator 2 HBM2_2Gbps)")


def _hbm3() -> DramTiming:
    # JEDEC JESD238 HBM3 at 6.4 Gb/s per pin: 32 pseudo-channels of 32 bits per stack
    # (819 GB/s), BL8, 16 banks per pseudo-channel, 1 KiB page. Core timings in ns are those
    # of the HBM2 preset (array timings change little between generations; the public
    # JESD238 summary gives rates, not a speed-bin table): an approximation.
    return DramTiming("hbm3", bus_bytes=4, data_rate=6400e6, burst_length=8, banks=16,
                      row_bytes=1024, tCL=7 * NS, tRCD=7 * NS, tRP=7 * NS, tRAS=17 * NS,
                      tRRD=2 * NS, tFAW=15 * NS, tRFC=260 * NS, tREFI=3900 * NS,
                      source="JEDEC JESD238 HBM3 6.4 Gb/s, 32-bit pseudo-channel; core "
                             "timings of HBM2 (approximation)")


PRESETS = {t.name: t for t in (_ddr4_3200(), _lpddr4_4266(), _hbm2(), _hbm3())}


def visits_per_channel(seg_bytes, count, stride, channels: int, interleave: int,
                       row_bytes: int):
    """Row visits one channel makes for ``count`` segments of ``seg_bytes`` every ``stride``.

    Vectorised over numpy arrays. A segment of at least ``channels * interleave`` bytes
    spreads evenly over all channels; a shorter one covers ceil(seg / interleave) channels,
    so each channel sees a share of the segments, ``stride / k`` apart in its own address
    space. Segments closer than a row share rows (the rows of their span are visited once
    each); segments farther apart visit their own rows.
    """
    seg = np.asarray(seg_bytes, dtype=float)
    count = np.asarray(count, dtype=float)
    stride = np.asarray(stride, dtype=float)
    per_segment = np.minimum(np.ceil(seg / interleave), channels)
    seen = np.maximum(count * per_segment / channels, np.minimum(count, 1.0))
    local_seg = seg / per_segment
    local_stride = stride / per_segment
    span = (seen - 1) * local_stride + local_seg
    packed = np.ceil(span / row_bytes)
    separate = seen * np.ceil(local_seg / row_bytes)
    return np.where(local_stride < row_bytes, packed, separate)


def channels_used(seg_bytes, count, channels: int, interleave: int):
    """Channels a pattern touches (vectorised)."""
    per_segment = np.minimum(np.ceil(np.asarray(seg_bytes, dtype=float) / interleave), channels)
    return np.minimum(np.asarray(count, dtype=float) * per_segment, channels)

