"""The tile plan: what one op does, tile by tile, as one table of equal-length numpy columns.

A PE-array kind (or the vector unit) lowers an op to a :class:`TilePlan`; techniques change it;
the pipeline replays it as SimPy events. Every per-tile figure is a named column of one table,
so selecting tiles slices every column together and no list of fields is kept by hand.

Columns every plan has (:data:`CORE_COLUMNS`): ``compute_cycles`` (dataflow or lane cycles),
``sram_cycles`` (cycles the busiest SRAM buffer needs to feed the tile; a tile lasts the larger
of the two, so a technique that shortens compute gets the right SRAM stretch), ``macs``,
``vector_ops``, ``folds``, and the DRAM address pattern of the tile's loads and stores
(``load_visits`` / ``store_visits``: row visits per channel; ``load_channels`` /
``store_channels``: channels touched). Byte columns are per SRAM buffer (the plan's buffer names
are the interconnect endpoints their transfers go to): ``load:<buffer>`` (fetched from DRAM
before the tile), ``store:<buffer>`` (written back after it), ``access:<buffer>`` (moved
between the buffer and the unit). The same DRAM traffic is also kept per operand role
(``fetch:<role>``, ``drain:<role>``: ``ifmap`` / ``filter`` / ``ofmap`` of a GEMM, ``input`` /
``output`` of a vector op), so that the share of an operand found on chip
(:mod:`accelsim.sim.onchip`) can be taken off its own traffic. ``footprint`` gives the bytes
the op holds in each buffer while it runs (every slot). Columns are never changed in place: a
technique replaces them (:meth:`TilePlan.with_columns`), so derived per-buffer tables are
computed once per plan. A kind may add columns of its own (for example products and
redundant products of an outer-product array) and name which of them an op row reports
(``row_columns``, summed over tiles). ``mac_share:<datatype>`` columns (:data:`MAC_SHARE`) give
the share of a tile's MACs multiplied at another datatype than the op's; their shares add up
to at most 1.

:meth:`TilePlan.check` validates a plan after lowering and after every technique.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property

import numpy as np

from accelsim.errors import SimulationError

CORE_COLUMNS = ("compute_cycles", "sram_cycles", "macs", "vector_ops", "folds", "load_visits",
                "store_visits", "load_channels", "store_channels")
LOAD, STORE, ACCESS, FETCH, DRAIN = "load:", "store:", "access:", "fetch:", "drain:"
#: ``mac_share:<datatype>``: the share (0..1) of each tile's MACs whose multiply runs at
#: ``<datatype>`` instead of the op's operand datatype (a PE with multipliers of several
#: precisions); the array prices those multiplies at that datatype.
MAC_SHARE = "mac_share:"


@dataclass(frozen=True)
class TilePlan:
    """Per-tile figures of one op (module docstring) and its per-op scalars.

    ``unit``: ``pe_array`` or ``vector``; ``slots``: tiles that may be resident at once (2 when
    double-buffered); ``macs_skipped``: MACs of the op's workload that no tile issues (dropped
    by a technique, or never issued by a sparse kind); ``labels``: per-op text figures of the
    op row (e.g. ``mask_source``); ``detail``: a kind's per-op data for techniques that apply to
    that kind (read-only); ``footprint``: bytes held in each SRAM buffer while the op runs.
    """

    unit: str
    columns: Mapping[str, np.ndarray]
    slots: int = 2
    macs_skipped: int = 0
    row_columns: tuple[str, ...] = ()
    labels: Mapping[str, str] = field(default_factory=dict)
    detail: object = None
    footprint: Mapping[str, int] = field(default_factory=dict)

    @classmethod
    def build(cls, unit: str, *, loads: Mapping[str, np.ndarray],
              stores: Mapping[str, np.ndarray], access: Mapping[str, np.ndarray],
              fetches: Mapping[str, np.ndarray] | None = None,
              drains: Mapping[str, np.ndarray] | None = None,
              **columns_and_scalars) -> TilePlan:
        """A plan from its core columns, per-buffer and per-role byte tables and scalars;
        columns missing from :data:`CORE_COLUMNS` are zeros."""
        scalars = {k: columns_and_scalars.pop(k) for k in
                   ("slots", "macs_skipped", "row_columns", "labels", "detail", "footprint")
                   if k in columns_and_scalars}
        columns = dict(columns_and_scalars)
        length = len(next(iter(columns.values())))
        for name in CORE_COLUMNS:
            columns.setdefault(name, np.zeros(length, dtype=np.int64))
        for prefix, table in ((LOAD, loads), (STORE, stores), (ACCESS, access),
                              (FETCH, fetches or {}), (DRAIN, drains or {})):
            for buffer, values in table.items():
                columns[prefix + buffer] = values
        return cls(unit, {k: np.asarray(v) for k, v in columns.items()}, **scalars)

    def __len__(self) -> int:
        return len(self.columns["compute_cycles"])

    def __getitem__(self, column: str) -> np.ndarray:
        return self.columns[column]

    # -- derived figures -----------------------------------------------------------------------
    @property
    def tile_cycles(self) -> np.ndarray:
        """Cycles of each tile: compute, stretched where an SRAM buffer cannot keep up."""
        return np.maximum(self["compute_cycles"], np.ceil(self["sram_cycles"])).astype(np.int64)

    def _by_buffer(self, prefix: str) -> dict[str, np.ndarray]:
        return {name[len(prefix):]: values for name, values in self.columns.items()
                if name.startswith(prefix)}

    @cached_property
    def loads(self) -> dict[str, np.ndarray]:
        return self._by_buffer(LOAD)

    @cached_property
    def stores(self) -> dict[str, np.ndarray]:
        return self._by_buffer(STORE)

    @cached_property
    def array_access(self) -> dict[str, np.ndarray]:
        return self._by_buffer(ACCESS)

    @cached_property
    def fetches(self) -> dict[str, np.ndarray]:
        """DRAM bytes loaded per tile by operand role."""
        return self._by_buffer(FETCH)

    @cached_property
    def drains(self) -> dict[str, np.ndarray]:
        """DRAM bytes stored per tile by operand role."""
        return self._by_buffer(DRAIN)

    @cached_property
    def load_bytes(self) -> np.ndarray:
        return _total(self.loads.values(), len(self))

    @cached_property
    def store_bytes(self) -> np.ndarray:
        return _total(self.stores.values(), len(self))

    @property
    def macs_issued(self) -> int:
        return int(self["macs"].sum())

    def row_figures(self) -> dict[str, int | str]:
        """The kind's own op-row figures: its ``row_columns`` summed, and its labels."""
        return {**{name: int(self[name].sum()) for name in self.row_columns}, **self.labels}

    def traffic_figures(self) -> dict[str, dict]:
        """Op-row figures of the plan's traffic, summed over tiles: ``dram_bytes_by_role``
        (``read`` and ``written`` per operand role: the ``fetch:`` and ``drain:`` columns; an
        output role's reads are partial sums read back) and ``sram_array_bytes`` (bytes moved
        between each buffer and the unit: the ``access:`` columns)."""
        figures: dict[str, dict] = {}
        if self.fetches or self.drains:
            figures["dram_bytes_by_role"] = {
                "read": {role: int(v.sum()) for role, v in self.fetches.items()},
                "written": {role: int(v.sum()) for role, v in self.drains.items()}}
        if self.array_access:
            figures["sram_array_bytes"] = {name: int(v.sum())
                                           for name, v in self.array_access.items()}
        return figures

    # -- changes -------------------------------------------------------------------------------
    def with_columns(self, **changed: np.ndarray) -> TilePlan:
        """The plan with some columns replaced (or added)."""
        return replace(self, columns={**self.columns, **{k: np.asarray(v)
                                                         for k, v in changed.items()}})

    def with_skipped(self, macs: int) -> TilePlan:
        """The plan with ``macs`` more of the op's MACs counted as skipped (a technique that
        took them off the ``macs`` column)."""
        return replace(self, macs_skipped=self.macs_skipped + int(macs))

    def without(self, dropped: np.ndarray) -> TilePlan:
        """The plan with the tiles where ``dropped`` is true removed; their MACs are skipped."""
        keep = ~np.asarray(dropped, dtype=bool)
        return replace(self, columns={k: v[keep] for k, v in self.columns.items()},
                       macs_skipped=self.macs_skipped + int(self["macs"][~keep].sum()))

    def check(self, op_name: str, op_macs: int, after: str) -> None:
        """Raise :class:`SimulationError` naming ``after`` (the lowering or a technique) and the
        op when the plan is inconsistent: columns of different lengths, negative or non-finite
        figures, or MACs issued + skipped different from the op's workload MACs."""
        problems = []
        length = len(self)
        lengths_ok = all(len(values) == length for values in self.columns.values())
        if not lengths_ok or not all(not values.size or (np.isfinite(values).all()
                                                         and values.min() >= 0)
                                     for values in self.columns.values()):
            problems += _column_problems(self.columns, length)  # the slow path names them
        shares = [v for k, v in self.columns.items() if k.startswith(MAC_SHARE)]
        if not problems and shares and (sum(shares) > 1.0 + 1e-9).any():
            problems.append("mac_share columns add up to more than 1 in some tile")
        if self.macs_skipped < 0:
            problems.append(f"macs_skipped is negative ({self.macs_skipped})")
        if not problems and self.macs_issued + self.macs_skipped != op_macs:
            problems.append(f"MACs issued {self.macs_issued} + skipped {self.macs_skipped} != "
                            f"the op's {op_macs}")
        if self.slots < 1:
            problems.append(f"{self.slots} buffer slots")
        if problems:
            raise SimulationError(f"{after} left an invalid plan for op {op_name}: "
                                  + "; ".join(problems))


def _column_problems(columns: Mapping[str, np.ndarray], length: int) -> list[str]:
    """What is wrong with each column: its length, non-finite or negative values."""
    problems = []
    for name, values in columns.items():
        if len(values) != length:
            problems.append(f"column {name} has {len(values)} values for {length} tiles")
        elif not values.size:
            continue
        elif not np.isfinite(values).all():
            problems.append(f"column {name} has non-finite values")
        elif values.min() < 0:
            problems.append(f"column {name} has negative values (min {values.min()})")
    return problems


def _total(tables, length: int) -> np.ndarray:
    total = np.zeros(length, dtype=np.int64)
    for values in tables:
        total = total + values
    return total
