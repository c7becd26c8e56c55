"""The on-chip network between DRAM and the on-chip endpoints (SRAM buffers, vector unit).

Topologies:

* ``bus``: one link that every transfer crosses (one hop);
* ``crossbar``: one port link per endpoint, non-blocking inside (one hop);
* ``mesh``: a ``mesh_rows`` x ``mesh_cols`` grid of routers joined by links in both
  directions; a transfer follows the XY route between the memory controller's router and its
  endpoint's router (hops = links on the route + 1 for injection).

Each link is a first-come-first-served server (:mod:`accelsim.hw.system` books it): transfers
whose routes share a link take turns on it (link contention); a transfer holds every link of
its route for ``bytes through the busiest link / link bandwidth`` cycles and pays ``hops x
hop latency``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from accelsim.config.models import InterconnectParams
from accelsim.stats.ordered_sum import ordered_sum


@dataclass
class LinkStats:
    bytes_down: int = 0  # DRAM -> chip
    bytes_up: int = 0  # chip -> DRAM
    busy_cycles: float = 0.0


def _xy_route(start: tuple[int, int], end: tuple[int, int]) -> list[str]:
    """Links of the dimension-ordered route from ``start`` to ``end`` (columns first)."""
    links, (row, col) = [], start
    while col != end[1]:
        step = 1 if end[1] > col else -1
        links.append(f"mesh:{row},{col}->{row},{col + step}")
        col += step
    while row != end[0]:
        step = 1 if end[0] > row else -1
        links.append(f"mesh:{row},{col}->{row + step},{col}")
        row += step
    return links


class Interconnect:
    def __init__(self, params: InterconnectParams, clock_hz: float,
                 endpoints: list[str]) -> None:
        self.params = params
        self.bytes_per_cycle = params.bandwidth.bytes_per_cycle(clock_hz)
        self.hop_latency = params.latency.cycles(clock_hz)
        self.routes: dict[str, list[str]] = {}
        self.hops: dict[str, int] = {}
        if params.topology == "bus":
            for name in endpoints:
                self.routes[name], self.hops[name] = ["bus"], 1
        elif params.topology == "crossbar":
            for name in endpoints:
                self.routes[name], self.hops[name] = [f"port:{name}"], 1
        else:
            for name, node in self._placement(endpoints).items():
                self.routes[name] = [f"inject:{name}"] + _xy_route(params.memory_node, node)
                self.hops[name] = len(self.routes[name])
        self._route_cache: dict[tuple[str, ...], tuple[tuple[str, ...], float]] = {}
        #: Every link, by name, in a global order.
        self.links = sorted({link for route in self.routes.values() for link in route})
        self.stats = LinkStats()

    def _placement(self, endpoints: list[str]) -> dict[str, tuple[int, int]]:
        p = self.params
        free = [(r, c) for r in range(p.mesh_rows) for c in range(p.mesh_cols)
                if (r, c) != tuple(p.memory_node)]
        placed = {name: tuple(node) for name, node in p.placement.items()}
        free = [node for node in free if node not in placed.values()] or [tuple(p.memory_node)]
        for index, name in enumerate(n for n in endpoints if n not in placed):
            placed[name] = free[index % len(free)]
        return placed

    def route_of(self, endpoints: tuple[str, ...]) -> tuple[tuple[str, ...], float]:
        """The links a transfer to or from ``endpoints`` holds, and its hop latency."""
        known = self._route_cache.get(endpoints)
        if known is None:
            links = tuple(sorted({link for name in endpoints for link in self.routes[name]}))
            known = self._route_cache[endpoints] = (links, self.latency_cycles(endpoints))
        return known

    def busy_cycles(self, bytes_by_endpoint: dict[str, int]) -> float:
        """Cycles on the busiest link of the transfer's route."""
        if len(bytes_by_endpoint) == 1 or self.params.topology == "bus":
            return sum(bytes_by_endpoint.values()) / self.bytes_per_cycle
        per_link: dict[str, int] = {}
        for name, nbytes in bytes_by_endpoint.items():
            for link in self.routes[name]:
                per_link[link] = per_link.get(link, 0) + nbytes
        return max(per_link.values(), default=0) / self.bytes_per_cycle

    def busy_many(self, table: np.ndarray, endpoints: list[str]) -> np.ndarray:
        """:meth:`busy_cycles` of many transfers: ``table`` holds each transfer's bytes (a
        row) per endpoint (a column, in the order of ``endpoints``)."""
        if len(endpoints) == 1 or self.params.topology == "bus":
            return table.sum(axis=1) / self.bytes_per_cycle
        per_link: dict[str, np.ndarray] = {}
        for column, name in enumerate(endpoints):
            for link in self.routes[name]:
                per_link[link] = per_link.get(link, 0) + table[:, column]
        return np.max(np.stack(list(per_link.values())), axis=0) / self.bytes_per_cycle

    def latency_cycles(self, endpoints: Iterable[str]) -> float:
        return max((self.hops[name] for name in endpoints), default=0) * self.hop_latency

    def record(self, nbytes: int, write: bool, busy: float) -> None:
        if write:
            self.stats.bytes_up += nbytes
        else:
            self.stats.bytes_down += nbytes
        self.stats.busy_cycles += busy

    def record_many(self, nbytes: np.ndarray, write: np.ndarray, busy: np.ndarray) -> None:
        """:meth:`record` of each transfer in turn, in bulk (busy cycles summed in order)."""
        write = write.astype(bool)
        self.stats.bytes_up += int(nbytes[write].sum())
        self.stats.bytes_down += int(nbytes[~write].sum())
        self.stats.busy_cycles = ordered_sum(self.stats.busy_cycles, busy)
