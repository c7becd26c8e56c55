"""On-chip residency of tensors between ops: which bytes an op finds in SRAM, which it spills.

An accelerator's on-chip buffers hold more than the tiles of the op that is running: a tensor
one op produces can stay on chip until its consumers read it, and a tensor fetched from DRAM
can stay for a later reader. :class:`Residency` decides this as ops start, in the order they
really start (ops on different units overlap, and an op whose inputs are ready may start before
one issued earlier), knowing the workload's issue order as the future:

* ``pool_bytes`` is the on-chip capacity left for resident tensors beside the ops' own working
  sets. Resident bytes never exceed it.
* Residency is by prefix: a tensor may be partly resident (its first ``r`` bytes); a reader
  takes the resident share of what it reads from SRAM and the rest from DRAM.
* When an op starts, each tensor it reads or writes that a later op reads is a candidate to
  stay, the sooner-needed first; room is made by evicting tensors no running op uses, by the
  policy:

  - ``liveness`` (default): a tensor whose readers have all run is dropped (never written
    back); a victim is the resident tensor whose next reader comes furthest in the issue order
    (Belady's MIN), and only if it comes later than the candidate's. A victim produced on chip
    (dirty) is written back for the bytes evicted, once, by the op that evicts it.
  - ``lru``: a cache that does not know the future: the least recently used tensor is evicted,
    dirty victims are written back whether or not anyone reads them again, and a dead tensor
    stays until it is evicted.

* An op's output that cannot stay (in whole or part) is written to DRAM by the op that
  produces it; an output nobody reads in the workload (updated weights, optimizer state) is
  always written, so nothing that outlives the iteration is left on chip. A tensor an op
  overwrites in place loses its stale copy.

Each op gets an :class:`OpResidency`: the bytes it reads from SRAM and from DRAM per tensor, the
bytes of its outputs it writes to DRAM, the bytes of evicted tensors it writes back, and the
resident bytes once it has started. :func:`plan_residency` runs the ops one after another (the
schedule of a single in-order unit), for tests and studies.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from accelsim.errors import SimulationError
from accelsim.workload.op import Op, Tensor

Policy = Literal["liveness", "lru"]
POLICIES: tuple[str, ...] = ("liveness", "lru")
NEVER = math.inf


@dataclass
class OpResidency:
    """What residency means for one op; byte figures per tensor name."""

    sram_reads: dict[str, int] = field(default_factory=dict)  # read from on-chip copies
    dram_reads: dict[str, int] = field(default_factory=dict)  # read from DRAM
    dram_writes: dict[str, int] = field(default_factory=dict)  # own outputs written to DRAM
    writebacks: dict[str, int] = field(default_factory=dict)  # evicted dirty bytes written back
    resident_bytes: int = 0  # resident tensors' bytes once the op has started

    @property
    def bytes_from_sram(self) -> int:
        return sum(self.sram_reads.values())


def _distinct(tensors: Sequence[Tensor]) -> list[Tensor]:
    seen, out = set(), []
    for tensor in tensors:
        if tensor.name not in seen:
            seen.add(tensor.name)
            out.append(tensor)
    return out


class Residency:
    """Resident tensors of one run, decided op by op as ops start (module docstring)."""

    def __init__(self, ops: Sequence[Op], pool_bytes: int, policy: Policy = "liveness",
                 keep_reads: bool = True) -> None:
        if policy not in POLICIES:
            raise ValueError(f"residency policy {policy!r}: expected one of {POLICIES}")
        self.pool_bytes = max(0, int(pool_bytes))
        self.policy = policy
        self.keep_reads = keep_reads
        self.position = {op.name: i for i, op in enumerate(ops)}
        self.size: dict[str, int] = {}
        self.readers: dict[str, list[int]] = {}  # issue positions of readers not yet started
        for op in ops:
            for tensor in [*_distinct(op.reads), *op.writes]:
                self.size[tensor.name] = max(self.size.get(tensor.name, 0), tensor.bytes)
            for tensor in _distinct(op.reads):
                self.readers.setdefault(tensor.name, []).append(self.position[op.name])
        self.resident: dict[str, int] = {}
        self.dirty: dict[str, int] = {}  # resident bytes produced on chip, not in DRAM
        self.last_use: dict[str, int] = {}
        self.running: dict[str, set[str]] = {}  # op -> tensors it uses while it runs
        self.clock = 0  # start count, for LRU
        self.peak_bytes = 0

    @property
    def used(self) -> int:
        return sum(self.resident.values())

    def next_use(self, name: str) -> float:
        """Issue position of the next reader of ``name`` that has not started (NEVER if none)."""
        pending = self.readers.get(name)
        return pending[0] if pending else NEVER

    # -- events --------------------------------------------------------------------------------
    def begin(self, op: Op) -> OpResidency:
        """``op`` starts: what it reads from where, and what of its outputs stays."""
        use = OpResidency()
        self.clock += 1
        reads = _distinct(op.reads)
        self.skip(op)  # it is no longer a pending reader of what it reads
        touched = {t.name for t in reads} | {t.name for t in op.writes}
        self.running[op.name] = touched
        for tensor in reads:
            held = self.resident.get(tensor.name, 0)
            from_sram = tensor.bytes * held // self.size[tensor.name] if held else 0
            if from_sram:
                use.sram_reads[tensor.name] = from_sram
                self.last_use[tensor.name] = self.clock
            if tensor.bytes - from_sram:
                use.dram_reads[tensor.name] = tensor.bytes - from_sram
        for name in op.overwrites:  # the stale copy of a tensor replaced in place
            self._drop(name)
        self._keep(op, reads, use)
        use.resident_bytes = self.used
        self.peak_bytes = max(self.peak_bytes, use.resident_bytes)
        if use.resident_bytes > self.pool_bytes:
            raise SimulationError(f"residency: {use.resident_bytes} bytes resident after "
                                  f"{op.name} started, over the pool of {self.pool_bytes}")
        return use

    def skip(self, op: Op) -> None:
        """``op`` issues no work (a technique dropped all of it): it reads and writes nothing,
        and is no longer a pending reader."""
        for tensor in _distinct(op.reads):
            pending = self.readers.get(tensor.name)
            if pending and self.position[op.name] in pending:
                pending.remove(self.position[op.name])

    def end(self, op: Op) -> None:
        """``op`` finished: what it used may be evicted; under ``liveness`` tensors nobody will
        read again are dropped."""
        self.running.pop(op.name, None)
        if self.policy == "liveness":
            in_use = set().union(*self.running.values()) if self.running else set()
            for name in [n for n in self.resident
                         if self.next_use(n) is NEVER and n not in in_use]:
                self._drop(name)

    # -- decisions -----------------------------------------------------------------------------
    def _keep(self, op: Op, reads: list[Tensor], use: OpResidency) -> None:
        """Keep what ``op`` reads or writes on chip where a later reader needs it; outputs
        that cannot stay are written to DRAM by ``op``."""
        outputs = {t.name for t in op.writes}
        candidates = [(self.next_use(t.name), 0, t.name) for t in op.writes]
        if self.keep_reads:
            candidates += [(self.next_use(t.name), 1, t.name) for t in reads
                           if t.name not in outputs and t.name not in op.overwrites]
        for next_use, _, name in sorted(candidates):
            want = self.size[name] - self.resident.get(name, 0)
            if next_use is not NEVER and want > 0:
                room = self.pool_bytes - self.used
                if room < want:
                    room += self._evict(want - room, next_use, use)
                kept = min(want, room)
                if kept:
                    self.resident[name] = self.resident.get(name, 0) + kept
                    self.last_use[name] = self.clock
                    if name in outputs:
                        self.dirty[name] = self.dirty.get(name, 0) + kept
            spilled = self.size[name] - self.resident.get(name, 0)
            if name in outputs and spilled:
                use.dram_writes[name] = spilled

    def _evict(self, need: int, before: float, use: OpResidency) -> int:
        """Evict up to ``need`` bytes of tensors no running op uses, as the policy allows;
        dirty bytes still needed (any, under ``lru``) are written back by the op starting.
        Returns the bytes freed."""
        in_use = set().union(*self.running.values())
        if self.policy == "liveness":
            ranked = sorted(((self.next_use(n), not self.dirty.get(n, 0), n)
                             for n in self.resident if n not in in_use), reverse=True)
            victims = [name for next_use, _, name in ranked if next_use > before]
        else:
            victims = [name for _, name in sorted((self.last_use.get(n, 0), n)
                                                  for n in self.resident if n not in in_use)]
        freed = 0
        for name in victims:
            if freed >= need:
                break
            nbytes = min(need - freed, self.resident[name])
            dirty_out = self._shrink(name, nbytes)
            if dirty_out and (self.policy == "lru" or self.next_use(name) is not NEVER):
                use.writebacks[name] = use.writebacks.get(name, 0) + dirty_out
            freed += nbytes
        return freed

    def _shrink(self, name: str, nbytes: int) -> int:
        """Evict ``nbytes`` of ``name``, clean bytes first; returns the dirty bytes evicted."""
        clean = self.resident[name] - self.dirty.get(name, 0)
        dirty_out = max(0, nbytes - clean)
        left = self.resident[name] - nbytes
        if left:
            self.resident[name] = left
            if dirty_out:
                self.dirty[name] -= dirty_out
        else:
            self._drop(name)
        return dirty_out

    def _drop(self, name: str) -> None:
        self.dirty.pop(name, None)
        self.last_use.pop(name, None)
        self.resident.pop(name, None)

    @property
    def dirty_bytes(self) -> int:
        """Bytes produced on chip and still only there (at the end of a run: tensors nobody
        reads again, which an ``lru`` cache would write back when it evicts them)."""
        return sum(self.dirty.values())


def plan_residency(ops: Sequence[Op], pool_bytes: int, policy: Policy = "liveness",
                   keep_reads: bool = True) -> dict[str, OpResidency]:
    """Residency of ``ops`` run one after another in this order."""
    residency = Residency(ops, pool_bytes, policy, keep_reads)
    plan = {}
    for op in ops:
        plan[op.name] = residency.begin(op)
        residency.end(op)
    return plan


def check_balance(ops: Sequence[Op], plan: dict[str, OpResidency]) -> None:
    """Raise :class:`SimulationError` unless every op reads each of its tensors whole, from
    DRAM or from chip."""
    for op in ops:
        use = plan[op.name]
        for tensor in _distinct(op.reads):
            got = use.sram_reads.get(tensor.name, 0) + use.dram_reads.get(tensor.name, 0)
            if got != tensor.bytes:
                raise SimulationError(f"residency: {op.name} reads {got} bytes of "
                                      f"{tensor.name}, not its {tensor.bytes}")
