"""The PE-array kind contract, and the registry every kind joins.

A kind is one module (or small package) that registers a subclass of :class:`PEArrayKind` in
:data:`PE_ARRAY_KINDS` under its name. The class owns:

* ``Params``: its pydantic parameters, a subclass of
  :class:`accelsim.config.models.PEArrayParams` with ``kind: Literal["<name>"]`` (the hwconfig's
  ``pe_array`` is a union of every kind's ``Params``, discriminated by ``kind``);
* :meth:`lower`: an op's lowering to a :class:`accelsim.plan.TilePlan`;
* :meth:`account`: its counters (the base counts MACs, cycles, tiles and MAC energy at the op's
  precision, or, for the share of a tile's MACs a plan column ``mac_share:<datatype>`` gives,
  with the multiply at that datatype: PEs with multipliers of several precisions; a kind adds
  its own counters with :attr:`counted_columns`);
* :meth:`energy`: its energy by action;
* optionally :meth:`prepare_workload`: how the workload's ops map onto the array before the run
  (the outer-product kind runs a conv's input-gradient GEMM and its col2im as one op, its
  accumulators adding each product into its output position);
* for on-chip residency (:mod:`accelsim.sim.onchip`): :attr:`reports_footprint` and
  :attr:`streamed_roles` (which buffers the tiles share with resident tensors), and
  optionally :meth:`input_roles` (which of a GEMM op's reads each operand role holds, when the
  array does not take them in the GEMM's order) and :meth:`stored_bytes_per_element` (the
  on-chip bytes of the tensors the array keeps between ops in another format than the
  workload's).

The engine calls these and nothing else: it never tests a kind's name. A third party adds a
kind through the entry-point group ``accelsim.pe_array`` (the entry point names the class).
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from accelsim.config.base import DATATYPE_BYTES
from accelsim.config.models import EnergyParams, PEArrayParams
from accelsim.errors import SimulationError
from accelsim.plan import MAC_SHARE
from accelsim.registry import Registry
from accelsim.workload.op import Op, Precision, Tensor

if TYPE_CHECKING:
    from accelsim.context import RunContext
    from accelsim.plan import TilePlan
    from accelsim.stats.records import OpRecord
    from accelsim.workload.graph import Workload


@dataclass
class PEArrayStats:
    """What the array did over a run."""

    macs: int = 0
    macs_skipped: int = 0
    busy_cycles: float = 0.0
    compute_cycles: float = 0.0
    tiles: int = 0
    mac_energy_pj: float = 0.0  # each op's MACs at its own precision
    #: kind-specific totals: each of the kind's ``counted_columns`` summed over every tile
    counters: dict[str, int] = field(default_factory=dict)


class PEArrayKind(abc.ABC):
    """Base of every PE-array kind: parameters, the resource that grants the array to one op at a
    time (in workload order), counters, and the hooks a kind implements."""

    name: ClassVar[str] = ""
    Params: ClassVar[type[PEArrayParams]] = PEArrayParams
    description: ClassVar[str] = ""
    #: plan columns whose totals the array counts (under ``stats.counters``)
    counted_columns: ClassVar[tuple[str, ...]] = ()
    #: True when :meth:`lower` gives the bytes an op holds per buffer (``TilePlan.footprint``);
    #: a kind that does not is taken to fill its buffers, leaving no room for tensors to stay
    #: on chip between ops (:mod:`accelsim.sim.residency`)
    reports_footprint: ClassVar[bool] = False
    #: True when :meth:`lower` gives, per tile, the finished output elements it writes out
    #: (plan column ``outputs``, stored at the operand width in the ``drain:ofmap`` column),
    #: so that element-wise work can run in the array's output stream (:mod:`accelsim.sim.fusion`)
    streams_outputs: ClassVar[bool] = False
    #: operand roles whose buffers only stream operands through to the array (FIFOs): they
    #: hold no tensor between ops, their whole capacity is the tiles' (a buffer that also holds
    #: another role is shared as usual)
    streamed_roles: ClassVar[tuple[str, ...]] = ()

    def __init__(self, env: simpy.Environment, params: PEArrayParams, energy: EnergyParams
                 ) -> None:
        self.params = params
        self.energy_table = energy
        import simpy  # here, not at import: validating a hwconfig needs no engine

        self.resource = simpy.PriorityResource(env, capacity=1)
        self.stats = PEArrayStats(counters=dict.fromkeys(self.counted_columns, 0))

    @property
    @abc.abstractmethod
    def pes(self) -> int:
        """Multipliers of the whole array (the peak MACs per cycle)."""

    # -- precision -----------------------------------------------------------------------------
    def precision(self, op: Op) -> Precision:
        """The op's operand and accumulator datatypes: its own, else the array's."""
        return op.precision or Precision(self.params.datatype, self.params.accumulator)

    def element_bytes(self, op: Op) -> tuple[int, int]:
        """(operand, accumulator) bytes per element of ``op``."""
        precision = self.precision(op)
        return DATATYPE_BYTES[precision.operand], DATATYPE_BYTES[precision.accumulator]

    def mult_pj(self, datatype: str, op_name: str) -> float:
        """One multiply of ``datatype`` from the hwconfig's energy table."""
        return self._energy_entry("mult_pj", datatype, op_name)

    def mac_pj(self, op: Op) -> float:
        """One MAC of ``op``: a multiply at its operand datatype, an add at its accumulator's."""
        precision = self.precision(op)
        return (self.mult_pj(precision.operand, op.name)
                + self._energy_entry("add_pj", precision.accumulator, op.name))

    def mac_energy_pj(self, op: Op, plan: TilePlan, macs: int) -> float:
        """Energy of the ``macs`` MACs ``op`` issued under ``plan``: each at :meth:`mac_pj`,
        except the share of each tile's MACs that a ``mac_share:<datatype>`` column gives,
        whose multiply runs at that datatype (the add stays at the accumulator's)."""
        energy = macs * self.mac_pj(op)
        operand = self.precision(op).operand
        tile_macs = None
        for column in plan.columns:
            if not column.startswith(MAC_SHARE):
                continue
            if tile_macs is None:
                tile_macs = np.asarray(plan["macs"], dtype=float)
            moved = float((tile_macs * plan[column]).sum())
            datatype = column[len(MAC_SHARE):]
            energy += moved * (self.mult_pj(datatype, op.name) - self.mult_pj(operand, op.name))
        return energy

    def _energy_entry(self, table: str, datatype: str, op_name: str) -> float:
        entries = getattr(self.energy_table, table)
        if datatype not in entries:
            raise SimulationError(f"op {op_name} runs at {datatype}, but the hwconfig's "
                                  f"energy.{table} has no {datatype} entry (it has "
                                  f"{', '.join(sorted(entries))})")
        return entries[datatype]

    # -- hooks ---------------------------------------------------------------------------------
    def prepare_workload(self, workload: Workload) -> Workload:
        """The workload as this array runs it (called once, before the run; its MACs must not
        change). The default: unchanged."""
        return workload

    def input_roles(self, op: Op) -> dict[str, tuple[Tensor, ...]]:
        """A GEMM op's input tensors by operand role as the array holds them (each role in the
        buffer the hwconfig gives it; the roles of the plan's ``fetch:<role>`` columns). The
        default: the GEMM's first read is the ``ifmap``, its second the ``filter``."""
        return {"ifmap": op.reads[:1], "filter": op.reads[1:2]}

    def stored_bytes_per_element(self, ops: Sequence[Op]) -> dict[str, float]:
        """On-chip bytes per element, by tensor name, of the tensors of ``ops`` that the array
        keeps between ops in another format than the workload's (compressed, or at
        accumulator width); a tensor not named stays as the workload sizes it. The default:
        none."""
        return {}

    @abc.abstractmethod
    def lower(self, op: Op, ctx: RunContext) -> TilePlan:
        """The tile plan of a GEMM op on this array."""

    def account(self, op: Op, plan: TilePlan, record: OpRecord) -> None:
        """Add what ``op`` did (its final plan and record) to the array's counters."""
        stats = self.stats
        stats.macs += record.macs
        stats.macs_skipped += record.macs_skipped
        stats.busy_cycles += record.cycles
        stats.compute_cycles += record.compute_cycles
        stats.tiles += record.tiles
        stats.mac_energy_pj += self.mac_energy_pj(op, plan, record.macs)
        for column in self.counted_columns:
            stats.counters[column] += int(plan[column].sum())

    def energy(self) -> dict[str, float]:
        """pJ by action of everything the array did."""
        return {"mac": self.stats.mac_energy_pj}

    def summary(self) -> dict:
        """The array's organisation and counters for the result."""
        return {"kind": self.name, "pes": self.pes, **self.stats.counters}


PE_ARRAY_KINDS: Registry[type[PEArrayKind]] = Registry("pe_array")
