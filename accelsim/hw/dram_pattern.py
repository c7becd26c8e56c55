"""How an address pattern meets a DRAM's channels, bank groups and banks.

Address mapping (from the high address bits down): row : bank : column : bank group :
channel : ``interleave`` bytes. A sequential stream thus puts ``interleave`` bytes in each
channel in turn, then moves to the next bank group of every channel, and fills a row of one
bank in each bank group before it moves to the next bank; consecutive interleave blocks of a
channel alternate bank groups, which is how controllers hide tCCD_L.

A transfer's bursts are decoded to (channel, bank group, bank, row) from the addresses it
touches (:func:`burst_addresses` of ``count`` segments of ``seg`` bytes every ``stride``).
With an open-page policy in address order, a *row visit* (one activation) starts at a burst
whose bank last had another row open. Each channel's busy time is the largest of the bounds
its bursts and visits set (JEDEC command spacing; an approximation that assumes the
controller reorders requests freely within those bounds, as a first-ready FCFS scheduler
over a deep queue does):

* column bound: ``bursts * max(burst, tCCD_S)``, per bank group ``bursts * max(burst,
  tCCD_L)`` (a stream held in one bank group runs at burst / tCCD_L of peak), and per bank
  ``visits * (tRCD + tRTP + tRP) + (bursts - visits) * max(burst, tCCD_L)`` (a bank cannot
  overlap its own precharge and activation with its data);
* activation bound: ``visits * max(tRRD_S, tFAW / 4)``, per bank group ``visits * tRRD_L``,
  and per bank its row cycles ``visits * tRC`` (a same-bank row-miss stream runs at burst /
  tRC of peak).

The transfer lasts as long as its busiest channel. Long patterns are sampled: a prefix of at
most :data:`MAX_BURSTS` bursts (whole segments where possible) is decoded and its bounds
scaled to the whole pattern, which is exact for the periodic patterns of tiled layouts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from accelsim.hw.dram_timing import DramTiming

MAX_BURSTS = 1 << 13


@dataclass(frozen=True)
class AddressMap:
    """Geometry of the address mapping (module docstring)."""

    channels: int
    interleave: int
    bank_groups: int
    banks_per_group: int
    row_bytes: int
    burst_bytes: int

    @classmethod
    def of(cls, timing: DramTiming, channels: int, interleave: int) -> AddressMap:
        return cls(channels, interleave, timing.bank_groups, timing.banks_per_group,
                   timing.row_bytes, timing.burst_bytes)

    def decode(self, addresses: np.ndarray) -> dict[str, np.ndarray]:
        """(channel, bank_group, bank, row, column) of byte addresses; ``bank`` counts the
        banks of one bank group, ``column`` the bursts of a row."""
        a = np.asarray(addresses, dtype=np.int64)
        block, offset = np.divmod(a, self.interleave)
        block, channel = np.divmod(block, self.channels)
        block, group = np.divmod(block, self.bank_groups)
        blocks_per_row = max(1, self.row_bytes // self.interleave)
        block, column_block = np.divmod(block, blocks_per_row)
        row, bank = np.divmod(block, self.banks_per_group)
        column = (column_block * self.interleave + offset) // self.burst_bytes
        return {"channel": channel, "bank_group": group, "bank": bank, "row": row,
                "column": column}


def burst_addresses(seg: int, count: int, stride: int, burst_bytes: int,
                    max_bursts: int = MAX_BURSTS) -> tuple[np.ndarray, float]:
    """Start addresses of the bursts of ``count`` segments of ``seg`` bytes every ``stride``
    (segments from address 0), in access order; at most ``max_bursts`` of them. Returns the
    addresses and the factor the sample is scaled by to stand for the whole pattern."""
    seg, count, stride = max(int(seg), 1), max(int(count), 1), max(int(stride), 1)
    per_segment = -(-seg // burst_bytes)
    segments = min(count, max(1, max_bursts // per_segment))
    within = np.arange(min(per_segment, max_bursts), dtype=np.int64) * burst_bytes
    starts = np.arange(segments, dtype=np.int64) * stride
    addresses = (starts[:, None] + within[None, :]).ravel()
    return addresses, count * per_segment / addresses.size


@dataclass(frozen=True)
class ChannelBounds:
    """Seconds the busiest channel needs for a pattern's column commands and for its row
    activations, its row visits, the channels it touches and the share of its bytes the
    busiest channel carries."""

    column_seconds: float
    activation_seconds: float
    visits: float
    channels_touched: int
    busiest_share: float


def channel_bounds(addresses: np.ndarray, amap: AddressMap, timing: DramTiming | None,
                   scale: float = 1.0) -> ChannelBounds:
    """Bounds of a burst sequence (module docstring), scaled by ``scale``. Without a timing
    only the channels' shares of the bursts are found."""
    where = amap.decode(addresses)
    channels = amap.channels
    channel = where["channel"]
    bursts = np.bincount(channel, minlength=channels).astype(float)
    touched = int(np.count_nonzero(bursts))
    share = float(bursts.max() / bursts.sum())
    if timing is None:
        return ChannelBounds(0.0, 0.0, 0.0, touched, share)
    groups, per_group = amap.bank_groups, amap.banks_per_group
    group = channel * groups + where["bank_group"]
    bank = group * per_group + where["bank"]
    n_banks = channels * groups * per_group
    # open page in access order: a visit starts where a bank's row differs from its last one
    order = np.argsort(bank, kind="stable")
    sorted_bank, sorted_row = bank[order], where["row"][order]
    starts = np.ones(sorted_bank.size, dtype=bool)
    starts[1:] = (sorted_bank[1:] != sorted_bank[:-1]) | (sorted_row[1:] != sorted_row[:-1])
    visits_of_bank = np.bincount(sorted_bank[starts], minlength=n_banks).astype(float)
    bursts_of_bank = np.bincount(bank, minlength=n_banks).astype(float)
    visits_of_group = visits_of_bank.reshape(channels * groups, per_group).sum(axis=1)
    bursts_of_group = bursts_of_bank.reshape(channels * groups, per_group).sum(axis=1)
    visits = visits_of_group.reshape(channels, groups).sum(axis=1)
    t = timing
    long, short = t.column_interval_long, t.column_interval_short
    # a bank's own bursts and row changes: it cannot overlap its precharge with its data
    bank_busy = (visits_of_bank * (t.tRCD + t.tRTP + t.tRP)
                 + (bursts_of_bank - visits_of_bank) * long)
    column = np.maximum.reduce([
        bursts * short, _max_per_channel(bursts_of_group * long, channels, groups),
        bank_busy.reshape(channels, groups * per_group).max(axis=1)])
    activation = np.maximum.reduce([
        visits * t.activation_interval,
        _max_per_channel(visits_of_group * t.tRRD_L, channels, groups),
        (visits_of_bank * t.tRC).reshape(channels, groups * per_group).max(axis=1)])
    busiest = int(np.argmax(np.maximum(column, activation)))
    return ChannelBounds(float(column.max()) * scale, float(activation.max()) * scale,
                         float(visits[busiest]) * scale, touched, share)


def _max_per_channel(per_group: np.ndarray, channels: int, groups: int) -> np.ndarray:
    """Largest figure of a channel's bank groups."""
    return per_group.reshape(channels, groups).max(axis=1)
