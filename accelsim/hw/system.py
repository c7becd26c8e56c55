"""A built accelerator: the components of a :class:`HwConfig`, wired to one SimPy environment.

Off-chip traffic crosses the interconnect route of its endpoints and the DRAM. A transfer
holds its route's links and one DRAM *lane* for the time the slower of the two needs
(rounded up to whole cycles), then pays the DRAM latency and the route's hop latency, which
overlap other transfers (a DMA engine keeps several requests in flight). Links and lanes are
first-come-first-served servers kept as the cycle each is next free, so booking a transfer
costs no SimPy event; its requester waits for the landing cycle with one timeout. The DRAM has as
many lanes as links of the interconnect's bandwidth fit in its peak bandwidth, each with its
share of that bandwidth, so transfers on disjoint routes (crossbar, mesh) proceed in parallel
up to the DRAM's peak. With ``dram.ideal`` the off-chip path is free: transfers take no time
but are still counted.
"""

from __future__ import annotations

import math
from collections.abc import Generator
from dataclasses import dataclass

import numpy as np
import simpy

from accelsim.config.models import OPERAND_ROLES, HwConfig
from accelsim.hw.dram import Dram
from accelsim.hw.dram_pattern import AddressMap, burst_addresses, channel_bounds
from accelsim.hw.interconnect import Interconnect
from accelsim.hw.kinds import PE_ARRAY_KINDS
from accelsim.hw.sram import Sram
from accelsim.hw.vector_unit import VectorUnit
from accelsim.stats.transfers import TransferRecord, TransferTag

VECTOR_ENDPOINT = "vector_unit"
#: tiles above which :meth:`System.fetch_pattern` finds the distinct patterns first
DISTINCT_FIRST = 512


@dataclass(frozen=True, slots=True)
class TransferTimes:
    """Where the cycles of one transfer went, for stall attribution."""

    queue: float = 0.0  # waiting for links or a DRAM lane (bandwidth taken by others)
    data: float = 0.0  # bytes at the DRAM lane's peak bandwidth
    row_overhead: float = 0.0  # row activations and refresh beyond the data time
    link_extra: float = 0.0  # the route's busiest link slower than the DRAM
    dram_latency: float = 0.0
    hop_latency: float = 0.0

    def causes(self) -> dict[str, float]:
        return {"dram_bandwidth": self.queue + self.data,
                "dram_latency": self.row_overhead + self.dram_latency,
                "interconnect": self.link_extra + self.hop_latency}


@dataclass(frozen=True)
class TransferShapes:
    """Figures of many transfers that do not depend on when they start (numpy arrays, one
    entry per transfer), as :meth:`System.reserve` computes them: bytes, the address figures
    it records, the DRAM's data and overhead cycles, latencies, the cycles the transfer holds
    the lane and links (``hold``) and from its end until its data lands (``settle``), and its
    route (an index into ``routes``)."""

    nbytes: np.ndarray
    visits: np.ndarray
    channels: np.ndarray
    data: np.ndarray
    row_overhead: np.ndarray
    overhead: np.ndarray
    latency: np.ndarray
    link_busy: np.ndarray
    link_extra: np.ndarray
    hop: np.ndarray
    hold: np.ndarray
    settle: np.ndarray
    route: np.ndarray
    routes: list[tuple[str, ...]]

    def take(self, index: np.ndarray) -> TransferShapes:
        """The transfers at ``index``, in that order."""
        return TransferShapes(**{name: (getattr(self, name) if name == "routes"
                                        else getattr(self, name)[index])
                                 for name in self.__dataclass_fields__})

    def times(self, k: int, queue: float) -> TransferTimes:
        """Transfer ``k``'s :class:`TransferTimes` when it waited ``queue`` cycles."""
        return TransferTimes(queue, self.data[k].item(), self.row_overhead[k].item(),
                             self.link_extra[k].item(), self.latency[k].item(),
                             self.hop[k].item())


class System:
    def __init__(self, config: HwConfig, env: simpy.Environment,
                 keep_transfers: bool = False) -> None:
        self.config = config
        self.env = env
        self.clock_hz = config.clock
        self.pe_array = PE_ARRAY_KINDS.get(config.pe_array.kind)(env, config.pe_array,
                                                                config.energy)
        # a kind that does not report its tiles' footprint gets whole buffers: nothing stays
        # on chip beside its tiles (accelsim.sim.residency); nor does a buffer that only
        # streams operands (the kind's streamed_roles)
        share = (config.residency.resolved_tile_share if self.pe_array.reports_footprint
                 else 1.0)
        streamed = self.pe_array.streamed_roles
        only_streamed = ({config.buffer_for(role) for role in streamed}
                         - {config.buffer_for(role) for role in OPERAND_ROLES
                            if role not in streamed})
        #: buffers that may hold tensors between ops (all but those that only stream)
        self.pooled_buffers = frozenset(config.sram) - only_streamed
        self.srams = {name: Sram(name, params, config.clock,
                                 share if name in self.pooled_buffers else 1.0)
                      for name, params in config.sram.items()}
        #: the SRAM buffer holding each GEMM operand role (ifmap, filter, ofmap)
        self.buffer_of_role = {role: config.buffer_for(role) for role in OPERAND_ROLES}
        self.dram = Dram(config.dram, config.clock, keep_transfers)
        self.vector = VectorUnit(env, config.vector_unit)
        self.interconnect = Interconnect(config.interconnect, config.clock,
                                         [*self.srams, VECTOR_ENDPOINT])
        self.lanes = 1
        if not self.dram.ideal and config.interconnect.topology != "bus":
            self.lanes = max(1, math.floor(self.dram.bytes_per_cycle
                                           / self.interconnect.bytes_per_cycle))
        self._lane_free_at = [0.0] * self.lanes
        self._link_free_at = dict.fromkeys(self.interconnect.links, 0.0)
        self._patterns: dict[tuple[float, float, float], tuple[float, float]] = {}

    def unit(self, name: str):
        return self.pe_array if name == "pe_array" else self.vector

    def by_buffer(self, by_role: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Per-role figures added up per SRAM buffer."""
        buffers = self.buffer_of_role
        grouped: dict[str, np.ndarray] = {}
        for role, values in by_role.items():
            grouped[buffers[role]] = grouped.get(buffers[role], 0) + values
        return grouped

    def hold(self, footprint_by_role: dict[str, np.ndarray], what: str) -> dict[str, int]:
        """Check that every tile's blocks fit their buffers; returns the bytes the op holds in
        each buffer while it runs (its largest tile, in every slot)."""
        held = {}
        for name, nbytes in self.by_buffer(footprint_by_role).items():
            largest = int(np.max(nbytes)) if np.size(nbytes) else 0
            self.srams[name].check_fits(largest, what)
            held[name] = largest * self.slots
        return held

    @property
    def slots(self) -> int:
        """Tiles that may be resident at once: 2 when every buffer is double-buffered."""
        return 2 if self.double_buffered else 1

    def fetch_pattern(self, nbytes, rows=1, cols=1, matrix_cols: int = 1
                      ) -> tuple[np.ndarray, np.ndarray]:
        """(row visits per channel, channels) of moving ``nbytes`` per tile, for
        :meth:`Dram.cost`, from the addresses the tile touches.

        ``blocked`` layout: each block is one contiguous segment. ``row_major``: a block is
        ``rows`` segments of its row length (``cols`` of a ``matrix_cols``-wide matrix), one
        matrix row apart. Each distinct pattern is decoded once
        (:func:`accelsim.hw.dram_pattern.channel_bounds`); with a preset, ``channels`` is the
        transfer's bytes over what one channel moves at peak in its busiest channel's column
        time (the channels touched when bursts spread over bank groups and channels evenly,
        fewer when one channel or bank group carries more) and ``visits`` is that channel's
        activation time in activation intervals (its row visits when they spread over bank
        groups and banks; more when tRRD_L or a bank's tRC makes them wait). Without a
        preset, ``channels`` is the transfer's bytes over its busiest channel's.
        """
        nbytes = np.asarray(nbytes, dtype=float)
        if self.dram.ideal:
            ones = np.where(nbytes > 0, 1.0, 0.0)
            return ones, ones
        shape = nbytes.shape
        nbytes = nbytes.ravel()
        if self.dram.params.layout == "blocked":
            seg, count = nbytes, np.ones_like(nbytes)
            stride = nbytes
        else:
            count = np.broadcast_to(np.maximum(rows, 1), shape).ravel().astype(float)
            seg = nbytes / count
            cols = np.broadcast_to(np.maximum(cols, 1), shape).ravel()
            stride = np.maximum(seg * np.broadcast_to(matrix_cols, shape).ravel() / cols, seg)
        moving = nbytes > 0
        keys = np.stack([np.where(moving, np.ceil(seg), 0), count, np.ceil(stride)], axis=1)
        which = None
        if len(keys) > DISTINCT_FIRST:  # many tiles, few patterns: look each pattern up once
            keys, which = _distinct_rows(keys)
        figures = np.array([self._pattern_figures(*key) for key in keys.tolist()]
                           ).reshape(-1, 2)
        if which is not None:
            figures = figures[which]
        visits = np.where(moving, figures[:, 0], 0.0)
        channels = np.where(moving, nbytes * figures[:, 1], 0.0)  # figures: channels per byte
        return visits.reshape(shape), channels.reshape(shape)

    def _pattern_figures(self, seg: float, count: float, stride: float) -> tuple[float, float]:
        """(visits, channels per byte moved) of one pattern, cached per System."""
        key = (seg, count, stride) if seg > 0 else (0.0, 0.0, 0.0)
        figures = self._patterns.get(key)
        if figures is None:
            figures = self._patterns[key] = self._decode_pattern(*key)
        return figures

    def _decode_pattern(self, seg: float, count: float, stride: float) -> tuple[float, float]:
        if seg <= 0:
            return 0.0, 0.0
        dram = self.dram
        timing = dram.timing
        if timing is not None:
            amap = AddressMap.of(timing, dram.channels, dram.params.interleave)
        else:
            interleave = dram.params.interleave
            amap = AddressMap(dram.channels, interleave, 1, 1, interleave, min(64, interleave))
        addresses, scale = burst_addresses(seg, count, stride, amap.burst_bytes)
        bounds = channel_bounds(addresses, amap, timing, scale)
        moved = seg * count
        if timing is None:
            return 1.0, 1.0 / (bounds.busiest_share * moved)
        column = max(bounds.column_seconds, moved / (dram.channels * timing.channel_bandwidth))
        return (bounds.activation_seconds / timing.activation_interval,
                1.0 / (column * timing.channel_bandwidth))

    @property
    def double_buffered(self) -> bool:
        return all(s.params.double_buffered for s in self.srams.values())

    @property
    def offchip_bytes_per_cycle(self) -> float:
        """Sustainable off-chip bandwidth seen by one stream of transfers."""
        if self.dram.ideal:
            return math.inf
        return min(self.dram.bytes_per_cycle / self.lanes, self.interconnect.bytes_per_cycle)

    def reserve(self, bytes_by_endpoint: dict[str, int], write: bool, visits: float = 1.0,
                channels: float | None = None, now: float | None = None,
                tag: TransferTag | None = None
                ) -> tuple[TransferTimes, float]:
        """Book a transfer requested now; returns its times and the cycle its data lands.

        The transfer takes its route's links and the earliest-free DRAM lane at the first
        cycle all of them are free (first come, first served: a later request never
        overtakes an earlier one), holds them for the slower of the DRAM and link times, and
        its data lands the DRAM and hop latencies later. Booking is arithmetic; the caller
        waits for the returned cycle with one timeout. ``tag``: who asked, kept with the
        transfer when the DRAM keeps every transfer (:mod:`accelsim.stats.transfers`).

        ``now``: the cycle of the request when its caller keeps the time itself (default the
        environment's).
        """
        if now is None:
            now = self.env.now
        nbytes = sum(bytes_by_endpoint.values())
        if self.dram.ideal:
            self.dram.record(nbytes, write, now, now, self.dram.cost(0), 0, 0)
            self.interconnect.record(nbytes, write, 0.0)
            return TransferTimes(), now
        route, hop_latency = self.interconnect.route_of(tuple(bytes_by_endpoint))
        lanes = self._lane_free_at
        lane = 0 if self.lanes == 1 else min(range(self.lanes), key=lanes.__getitem__)
        start = max(now, lanes[lane])
        for name in route:
            start = max(start, self._link_free_at[name])
        cost = self.dram.cost(nbytes, visits, channels)
        dram_busy = cost.busy * self.lanes
        link_busy = self.interconnect.busy_cycles(bytes_by_endpoint)
        end = start + math.ceil(max(dram_busy, link_busy) - 1e-9)
        self._lane_free_at[lane] = end
        for name in route:
            self._link_free_at[name] = end
        channels = channels if channels is not None else self.dram.channels
        self.dram.record(nbytes, write, start, end, cost, visits, channels)
        self.interconnect.record(nbytes, write, link_busy)
        if self.dram.keep_transfers:
            self.dram.stats.timeline.append(TransferRecord(start, end, nbytes, write, lane, tag,
                                                           bytes_by_endpoint))
        times = TransferTimes(
            queue=start - now, data=cost.data * self.lanes,
            row_overhead=cost.overhead * self.lanes,
            link_extra=max(0.0, link_busy - dram_busy), dram_latency=cost.latency,
            hop_latency=hop_latency)
        return times, end + math.ceil(times.dram_latency + times.hop_latency - 1e-9)

    def transfer_shapes(self, bytes_by_endpoint: dict[str, np.ndarray], visits: np.ndarray,
                        channels: np.ndarray) -> TransferShapes:
        """What :meth:`reserve` would compute, before the start, of each of many transfers
        (one per index of the arrays; each moves the bytes of the endpoints where it has
        any, at least one); for a non-ideal DRAM."""
        endpoints = list(bytes_by_endpoint)
        table = np.stack([np.asarray(bytes_by_endpoint[ep], dtype=np.int64)
                          for ep in endpoints], axis=1)
        present = table != 0
        nbytes = table.sum(axis=1)
        data, overhead, latency = self.dram.costs(nbytes, visits, channels)
        latency = np.full(len(nbytes), latency, dtype=float)
        link_busy = self.interconnect.busy_many(table, endpoints)
        codes = present @ (1 << np.arange(len(endpoints)))  # which endpoints, as bits
        patterns, route = np.unique(codes, return_inverse=True)
        routes, hops = [], []
        for code in patterns.tolist():
            links, hop = self.interconnect.route_of(
                tuple(ep for bit, ep in enumerate(endpoints) if code >> bit & 1))
            routes.append(links)
            hops.append(hop)
        hop = np.array(hops, dtype=float)[route.reshape(-1)]
        dram_busy = (data + overhead) * self.lanes
        return TransferShapes(
            nbytes=nbytes, visits=np.asarray(visits, dtype=float),
            channels=np.asarray(channels, dtype=float), data=data * self.lanes,
            row_overhead=overhead * self.lanes, overhead=overhead, latency=latency,
            link_busy=link_busy, link_extra=np.maximum(0.0, link_busy - dram_busy), hop=hop,
            hold=np.ceil(np.maximum(dram_busy, link_busy) - 1e-9),
            settle=np.ceil(latency + hop - 1e-9), route=route.reshape(-1), routes=routes)

    def single_lane_free(self) -> float | None:
        """The cycle the off-chip path falls free when one DRAM lane carries every transfer
        (no link is then busy beyond it), else ``None``; also ``None`` when every transfer
        is kept for the timeline, which records each with its requester one by one."""
        if self.dram.ideal or self.lanes != 1 or self.dram.keep_transfers:
            return None
        free = self._lane_free_at[0]
        if any(link > free for link in self._link_free_at.values()):
            return None
        return free

    def commit(self, shapes: TransferShapes, write: np.ndarray, start: np.ndarray,
               end: np.ndarray) -> None:
        """Record transfers booked in order on the single lane (:meth:`single_lane_free`) over
        [start, end) and take the lane and their links until they end, as :meth:`reserve`
        does one by one."""
        if len(start) == 0:
            return
        self.dram.record_many(shapes.nbytes, write, start, end, shapes.overhead,
                              shapes.visits, shapes.channels)
        self.interconnect.record_many(shapes.nbytes, write, shapes.link_busy)
        self._lane_free_at[0] = end[-1].item()
        for index in np.unique(shapes.route):
            last = int(np.flatnonzero(shapes.route == index)[-1])
            for name in shapes.routes[index]:
                self._link_free_at[name] = end[last].item()

    def transfer(self, bytes_by_endpoint: dict[str, int], write: bool, visits: float = 1.0,
                 channels: float | None = None, tag: TransferTag | None = None) -> Generator:
        """A transfer as a SimPy process body: book it, wait until its data lands."""
        times, lands = self.reserve(bytes_by_endpoint, write, visits, channels, tag=tag)
        if lands > self.env.now:
            yield self.env.timeout(lands - self.env.now)
        return times


def _distinct_rows(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct rows of a 2-D array (in lexicographic order) and each row's index among
    them, as ``np.unique(keys, axis=0, return_inverse=True)`` gives them, by a sort on the
    columns rather than on whole rows (far faster for many rows)."""
    order = np.lexsort(keys.T[::-1])
    ordered = keys[order]
    first = np.ones(len(keys), dtype=bool)
    first[1:] = (ordered[1:] != ordered[:-1]).any(axis=1)
    inverse = np.empty(len(keys), dtype=np.intp)
    inverse[order] = np.cumsum(first) - 1
    return ordered[first], inverse
