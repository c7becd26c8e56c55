"""On-chip residency of tensors between ops: which bytes an op finds in SRAM, which it spills.

An accelerator's on-chip buffers hold more than the tiles of the op that is running: a tensor
one op produces can stay on chip until its consumers read it, and a tensor fetched from DRAM
can stay for a later reader. This module plans that residency over the workload's issue order,
the way a compiler's memory planner does, before the run:

* ``pool_bytes(op)`` is the on-chip capacity left for resident tensors while ``op`` runs (the
  buffers' capacity less the op's own working set). Resident bytes never exceed it.
* Residency is by prefix: a tensor may be partly resident (its first ``r`` bytes); a reader
  takes the resident share of what it reads from SRAM and the rest from DRAM.
* After an op, each tensor it read or wrote that has a later reader is a candidate to stay, the
  sooner-needed first; room is made by evicting other tensors by the policy:

  - ``liveness`` (default): a tensor with no later reader is dropped at once (never written
    back); a victim is the resident tensor whose next use is furthest away (Belady's
    MIN), and only if that is later than the candidate's next use. A victim produced on chip
    (dirty) is written back for the bytes evicted, once.
  - ``lru``: a cache that does not know the future: the least recently used tensor is evicted,
    dirty victims are written back whether or not anyone reads them again, and a dead tensor
    stays until it is evicted.

* An op's output that cannot stay (in whole or part) is written to DRAM by the op that
  produced it; an output nobody reads in the workload (updated weights, optimizer state) is
  always written. A tensor an op overwrites in place loses its stale copy.
* At the end, dirty tensors still resident that will be read again (under ``lru``: all dirty
  tensors) are flushed to DRAM by the last op, so nothing produced on chip is lost.

The plan is a :class:`ResidencyPlan`: per op, the bytes it reads from SRAM and from DRAM per
tensor, the bytes of its outputs it writes to DRAM, the bytes of evicted tensors it writes back,
and the resident bytes while it runs. :meth:`ResidencyPlan.check` verifies the byte balance of
every tensor and the capacity at every op.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from accelsim.errors import SimulationError
from accelsim.workload.op import Op

Policy = Literal["liveness", "lru"]
POLICIES: tuple[str, ...] = ("liveness", "lru")
NEVER = math.inf


@dataclass
class OpResidency:
    """What the residency plan means for one op; byte figures per tensor name."""

    sram_reads: dict[str, int] = field(default_factory=dict)  # read from on-chip copies
    dram_reads: dict[str, int] = field(default_factory=dict)  # read from DRAM
    dram_writes: dict[str, int] = field(default_factory=dict)  # own outputs written to DRAM
    writebacks: dict[str, int] = field(default_factory=dict)  # evicted dirty bytes written back
    resident_bytes: int = 0  # resident tensors' bytes while the op runs (its pool's use)
    pool_bytes: int = 0

    @property
    def bytes_from_sram(self) -> int:
        return sum(self.sram_reads.values())

    @property
    def bytes_to_dram(self) -> int:
        return sum(self.dram_writes.values()) + sum(self.writebacks.values())


@dataclass
class ResidencyPlan:
    policy: str
    ops: dict[str, OpResidency]
    peak_resident_bytes: int

    def check(self, ops: Sequence[Op]) -> None:
        """Raise :class:`SimulationError` if a tensor's bytes do not balance or a pool is
        exceeded: every byte read came from DRAM or from a resident copy; every produced byte
        with a later reader reached DRAM or was read from chip."""
        for op in ops:
            use = self.ops[op.name]
            if use.resident_bytes > use.pool_bytes:
                raise SimulationError(f"residency plan: {use.resident_bytes} bytes resident "
                                      f"during {op.name}, over its pool of {use.pool_bytes}")
            for tensor in _distinct(op.reads):
                got = use.sram_reads.get(tensor.name, 0) + use.dram_reads.get(tensor.name, 0)
                if got != tensor.bytes:
                    raise SimulationError(f"residency plan: {op.name} reads {got} bytes of "
                                          f"{tensor.name}, not its {tensor.bytes}")


@dataclass
class _TensorLife:
    """A tensor's size and the issue positions of its readers."""

    bytes: int
    readers: list[int]
    produced: bool

    def next_use(self, after: int) -> float:
        """Issue position of the first reader after position ``after`` (NEVER if none)."""
        for position in self.readers:
            if position > after:
                return position
        return NEVER


def _distinct(tensors) -> list:
    seen, out = set(), []
    for tensor in tensors:
        if tensor.name not in seen:
            seen.add(tensor.name)
            out.append(tensor)
    return out


def _lives(ops: Sequence[Op]) -> dict[str, _TensorLife]:
    lives: dict[str, _TensorLife] = {}
    for position, op in enumerate(ops):
        for tensor in _distinct(op.reads):
            life = lives.setdefault(tensor.name, _TensorLife(tensor.bytes, [], False))
            life.bytes = max(life.bytes, tensor.bytes)
            life.readers.append(position)
        for tensor in op.writes:
            life = lives.setdefault(tensor.name, _TensorLife(tensor.bytes, [], True))
            life.bytes, life.produced = max(life.bytes, tensor.bytes), True
    return lives


class _Pool:
    """Resident bytes per tensor, how many of them are dirty (produced on chip, not in DRAM),
    and when each tensor was last used."""

    def __init__(self) -> None:
        self.resident: dict[str, int] = {}
        self.dirty: dict[str, int] = {}
        self.last_use: dict[str, int] = {}

    @property
    def used(self) -> int:
        return sum(self.resident.values())

    def drop(self, name: str) -> int:
        """Forget ``name``; returns the bytes it held."""
        self.dirty.pop(name, None)
        self.last_use.pop(name, None)
        return self.resident.pop(name, 0)

    def shrink(self, name: str, nbytes: int) -> int:
        """Evict ``nbytes`` of ``name``, clean bytes first; returns the dirty bytes evicted."""
        clean = self.resident[name] - self.dirty.get(name, 0)
        dirty_out = max(0, nbytes - clean)
        left = self.resident[name] - nbytes
        if left:
            self.resident[name] = left
            if dirty_out:
                self.dirty[name] -= dirty_out
        else:
            self.drop(name)
        return dirty_out


def plan_residency(ops: Sequence[Op], pool_bytes: Callable[[Op], int],
                   policy: Policy = "liveness", keep_reads: bool = True) -> ResidencyPlan:
    """Plan the residency of ``ops`` issued in this order (module docstring).

    ``keep_reads``: tensors fetched from DRAM may stay for a later reader (otherwise only
    tensors produced on chip stay).
    """
    if policy not in POLICIES:
        raise ValueError(f"residency policy {policy!r}: expected one of {POLICIES}")
    lives = _lives(ops)
    pool = _Pool()
    plan: dict[str, OpResidency] = {}
    peak = 0
    for position, op in enumerate(ops):
        use = OpResidency(pool_bytes=max(0, int(pool_bytes(op))))
        plan[op.name] = use
        touched = {t.name for t in op.reads} | {t.name for t in op.writes}
        _fit(pool, use.pool_bytes, position, touched, lives, policy, use)
        for tensor in _distinct(op.reads):
            held = pool.resident.get(tensor.name, 0)
            from_sram = tensor.bytes * min(held, lives[tensor.name].bytes) \
                // lives[tensor.name].bytes if held else 0
            if from_sram:
                use.sram_reads[tensor.name] = from_sram
            if tensor.bytes - from_sram:
                use.dram_reads[tensor.name] = tensor.bytes - from_sram
            if held:
                pool.last_use[tensor.name] = position
        use.resident_bytes = pool.used
        for name in op.overwrites:  # the stale copy of a tensor replaced in place
            pool.drop(name)
        _keep(op, position, pool, use, lives, policy, keep_reads)
        use.resident_bytes = max(use.resident_bytes, pool.used)
        peak = max(peak, use.resident_bytes)
        if policy == "liveness":
            for name in [n for n in pool.resident if lives[n].next_use(position) is NEVER]:
                pool.drop(name)
    if ops:
        _flush(pool, plan[ops[-1].name], lives, len(ops) - 1, policy)
    return ResidencyPlan(policy, plan, peak)


def _keep(op: Op, position: int, pool: _Pool, use: OpResidency,
          lives: dict[str, _TensorLife], policy: str, keep_reads: bool) -> None:
    """Keep what ``op`` read or wrote on chip where it pays; outputs that cannot stay are
    written to DRAM by ``op``."""
    outputs = {t.name for t in op.writes}
    candidates = [(lives[t.name].next_use(position), 0, t.name) for t in op.writes]
    if keep_reads:
        candidates += [(lives[t.name].next_use(position), 1, t.name)
                       for t in _distinct(op.reads)
                       if t.name not in outputs and t.name not in op.overwrites]
    touched = {name for _, _, name in candidates}
    for next_use, _, name in sorted(candidates):
        life = lives[name]
        want = life.bytes - pool.resident.get(name, 0)
        kept = 0
        if next_use is not NEVER and want > 0:
            room = use.pool_bytes - pool.used
            if room < want:
                room += _evict(pool, want - room, position, next_use, touched, lives, policy,
                               use)
            kept = min(want, room)
            if kept:
                pool.resident[name] = pool.resident.get(name, 0) + kept
                pool.last_use[name] = position
                if name in outputs:
                    pool.dirty[name] = pool.dirty.get(name, 0) + kept
        spilled = life.bytes - pool.resident.get(name, 0)
        if name in outputs and spilled:
            use.dram_writes[name] = spilled


def _evict(pool: _Pool, need: int, position: int, before: float, protected: set[str],
           lives: dict[str, _TensorLife], policy: str, use: OpResidency) -> int:
    """Evict up to ``need`` bytes of tensors other than ``protected`` whose eviction the policy
    allows; dirty bytes that are still needed (any, under ``lru``) are written back by the
    op. Returns the bytes freed."""
    if policy == "liveness":
        victims = sorted(((lives[n].next_use(position), not pool.dirty.get(n, 0), n)
                          for n in pool.resident if n not in protected), reverse=True)
        victims = [v for v in victims if v[0] > before]
    else:
        victims = sorted((pool.last_use.get(n, -1), n) for n in pool.resident
                         if n not in protected)
    freed = 0
    for victim in victims:
        if freed >= need:
            break
        name = victim[-1]
        nbytes = min(need - freed, pool.resident[name])
        still_needed = policy == "lru" or lives[name].next_use(position) is not NEVER
        dirty_out = pool.shrink(name, nbytes)
        if dirty_out and still_needed:
            use.writebacks[name] = use.writebacks.get(name, 0) + dirty_out
        freed += nbytes
    return freed


def _fit(pool: _Pool, capacity: int, position: int, protected: set[str],
         lives: dict[str, _TensorLife], policy: str, use: OpResidency) -> None:
    """Shrink the resident set to the op's pool before it runs: other tensors first, then, if
    the pool is smaller than its own inputs, those too."""
    over = pool.used - capacity
    if over > 0:
        over -= _evict(pool, over, position, -NEVER, protected, lives, policy, use)
    if over > 0:
        _evict(pool, over, position, -NEVER, set(), lives, policy, use)


def _flush(pool: _Pool, last: OpResidency, lives: dict[str, _TensorLife], position: int,
           policy: str) -> None:
    """Write back, at the last op, dirty tensors still resident that are needed later."""
    for name, dirty in sorted(pool.dirty.items()):
        if dirty and (policy == "lru" or lives[name].next_use(position) is not NEVER):
            last.writebacks[name] = last.writebacks.get(name, 0) + dirty
