"""ACRTC: adaptive computation reuse for tensor cores (Servais and Atoofian, ACM TECS 2021).

Each multiplier lane of the MMA units has a small reuse buffer
(:class:`accelsim.hw.reuse_buffer.ReuseBuffer`) keyed on its operands as fp16 with the low
``k`` mantissa bits masked (``k`` is the reuse *strength*: more masked bits, more operands look
alike, more hits, less precision). ``granularity: scalar`` looks up every product (one lookup
per MAC); ``dot4`` looks up every 4-wide dot product keyed on its eight operands (one lookup
per 4 MACs). A hit returns the stored result and skips that work; a miss computes it and
inserts it. The buffer is one per lane because a buffer answers one lookup per cycle (a buffer
shared by a unit's 64 lanes would need 64 ports): ``pes / width`` buffers in all.

**Strength over training.** ``k`` is either fixed (``k``) or follows ``schedule``, a list of
``{until_step: S, k: K}`` (or ``until_epoch``) entries in increasing order, each applying up to
(not including) its bound; the last may omit its bound and then covers the rest of training.
``adaptive`` adds a controller driven by the training loss the trace records at every step
(``value_stats.confidence.loss``): it is replayed from the first step to the simulated one; at
step t, with the losses of the ``window`` steps before t, the trend is minus the least-squares
slope over the mean loss (the relative loss decrease per step); when it falls below
``threshold`` (the loss has flattened, or rises, which gives a negative trend: training is in
a phase that tolerates less precision relaxation), the controller tightens by
``tighten_bits`` fewer masked bits, at most once per ``window`` steps and never below
``min_k``. The k applied at the simulated step is the
scheduled one less the tightenings so far. The controller only tightens (it never loosens
again); the window defaults to one epoch of the trace, so that with the trace's fixed batch
order every batch weighs once in the trend.

**Hit rates** come from the traced workload
(:meth:`accelsim.workload.value_stats.ValueStats.acrtc_hit_rate`, measured by
:mod:`accelsim.trace.stats.reuse`) for the op, at the simulated step (the nearest sampled step),
at the applied k (the largest measured k not above it: fewer masked bits, so never more hits
than the applied k would give) and at ``entries`` (one of the measured sizes, else an error).
What the trace measures, and so what this model inherits: one fully associative LRU buffer,
empty at the start, fed the products of one sampled 32 x 8 x 4 operand corner of the op in the
order n, k, m (a weight held while activations stream); each lane's stream is taken to reuse
as that stream does. With ``associativity`` set, the buffer's energy and area are those of the
set-associative buffer but the hit rate is still the fully associative one (an upper bound).
A GEMM op without traced rates is an error naming it, unless ``assumed_hit_rate`` is given: it
is then used for that op and the op is listed under ``assumed_ops``.

**Per tile** of every GEMM op of the chosen ``phases`` (forward, backward-data and
backward-weight GEMMs by default), with h the op's hit rate and ``width`` 1 (scalar) or 4
(dot4):

* lookups ``ceil(macs / width)`` (a ragged dot product counts as one lookup), hits
  ``rint(lookups * h)``, misses and insertions the rest (:meth:`ReuseBuffer.record`); MACs of
  the hits, ``min(macs, hits * width)``, go to ``macs_skipped`` (issued + skipped = the
  workload's MACs), so the array's MAC energy counts only the misses;
* compute cycles ``max(ceil(compute * (1 - s)), ceil(compute / lookup_rate)) +
  lookup_latency_cycles`` (the second term only with ``lookup_rate`` set), with s the share
  of MMA issue slots freed, set by ``issue``:

  - ``lookup`` (default): each hit frees its slot; the misses of several MMAs are packed into
    full MMAs, s = h. This is the paper's claim (ACRTC reports a training speedup from reuse
    on tensor cores, which needs hits to free issue slots); on a real 4x4x4 unit, whose lanes
    take fixed rows and columns, packing misses of different MMAs needs an operand crossbar
    that is not modelled: an upper bound on the speedup.
  - ``mma``: an MMA is skipped only when all its g lookups hit (g = mma_m * mma_n * mma_k /
    width: 64 scalar or 16 dot4 lookups on a 4x4x4 unit); hits taken as independent
    (the trace records rates, not where hits fall), s = h^g. Hits cluster (a zero activation
    hits along its row), so this is a lower bound; the truth lies between the two modes.

  The lookup is pipelined ahead of the MMA, so its latency is paid once per tile, as the
  lookup stage fills where a tile's stream starts (an upper bound: the kind charges no MMA
  fill because warps hide it, and they could hide this too). Its throughput: with
  ``lookup_rate`` unset the lookup stage keeps ahead of the MMA units, as the paper's speedup
  needs (an assumption: one single-ported buffer per lane answers one lookup per cycle, the
  rate at which the lane multiplied before, so it alone would free no time); with
  ``lookup_rate = r`` lookups per buffer per cycle, a tile's MMA cycles are bounded below by
  ``ceil(compute / r)`` (its lookups over the lanes' buffers). The area of extra ports is
  not modelled.
  The operands are still read to form the keys: a tile's operand reads (``sram_cycles``, the
  array access bytes) and DRAM traffic do not change, and bound the tile as before.
* ``mma_ops`` (MMAs issued) scaled by (1 - s), rounded up.

**Costs.** The buffers' lookup and insertion energy (per action, from
:class:`ReuseBuffer`: CAM tag search, SRAM result read, LRU update; or the given figures) are
reported under ``technique.acrtc``; the area of the ``pes / width`` buffers under the
technique's area. Keys are sized for the smallest k the parameters can apply
(``2 (16 - k)`` bits scalar, ``8 (16 - k)`` dot4), results at fp16 (scalar product) or fp32
(dot-product partial sum) unless ``result_bits`` is given. Accuracy is not modelled: the
paper measures it, this simulator counts the work.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Literal

import numpy as np
from pydantic import Field, ValidationError, model_validator

from accelsim.errors import ConfigError, SimulationError, WorkloadError
from accelsim.hw.reuse_buffer import ReuseBuffer, ReuseBufferParams
from accelsim.techniques.base import TECHNIQUES, Technique, TechniqueParams
from accelsim.workload.value_stats import STATISTICS

#: fp16 mantissa bits: k masks at most all of them.
MANTISSA_BITS = 10
#: fp16 operand bits.
OPERAND_BITS = 16
#: Operands of a dot-product lookup (four pairs) and MACs it covers.
DOT = 4
WIDTH = {"scalar": 1, "dot4": DOT}
#: Result bits of a stored scalar product (fp16) and dot-product partial sum (fp32).
RESULT_BITS = {"scalar": 16, "dot4": 32}
GEMM_PHASES = ("fwd", "bwd_data", "bwd_weight")


class KPhase(TechniqueParams):
    """One entry of the k schedule: ``k`` up to (not including) ``until_step`` or
    ``until_epoch``; without either, to the end of training (last entry only)."""

    until_step: int | None = Field(None, ge=1, le=2**24, description="first step this entry "
                                   "no longer applies to", json_schema_extra={"unit": "steps"})
    until_epoch: int | None = Field(None, ge=1, le=2**24, description="first epoch this entry "
                                    "no longer applies to",
                                    json_schema_extra={"unit": "epochs"})
    k: int = Field(ge=0, le=MANTISSA_BITS, description="masked low mantissa bits",
                   json_schema_extra={"unit": "bits"})

    @model_validator(mode="after")
    def _one_bound(self) -> KPhase:
        if self.until_step is not None and self.until_epoch is not None:
            raise ValueError("until_step or until_epoch, not both")
        return self

    @property
    def bound(self) -> tuple[str, int] | None:
        if self.until_step is not None:
            return "step", self.until_step
        if self.until_epoch is not None:
            return "epoch", self.until_epoch
        return None


class AdaptiveParams(TechniqueParams):
    """The loss-plateau controller (module docstring)."""

    signal: Literal["loss"] = Field("loss", description="training-phase signal: the loss the "
                                    "trace records at every step")
    window: int | None = Field(None, ge=2, le=2**20, description="steps of loss the trend is "
                               "fitted over (unset: one epoch of the trace)",
                               json_schema_extra={"unit": "steps"})
    threshold: float = Field(0.005, ge=0, le=1, allow_inf_nan=False, description="relative "
                             "loss decrease per step below which the loss has flattened",
                             json_schema_extra={"unit": "fraction per step"})
    tighten_bits: int = Field(2, ge=1, le=MANTISSA_BITS, description="masked bits taken off "
                              "at each plateau", json_schema_extra={"unit": "bits"})
    min_k: int = Field(0, ge=0, le=MANTISSA_BITS, description="fewest masked bits the "
                       "controller goes down to", json_schema_extra={"unit": "bits"})


class AcrtcParams(TechniqueParams):
    k: int | None = Field(None, ge=0, le=MANTISSA_BITS, description="masked low mantissa bits, "
                          "fixed over training; give k or schedule",
                          json_schema_extra={"unit": "bits"})
    schedule: list[KPhase] | None = Field(None, min_length=1, max_length=1024, description=(
        "k over training: entries {until_step | until_epoch, k} in increasing order, the last "
        "may be open; give k or schedule"))
    adaptive: AdaptiveParams | None = Field(None, description="loss-plateau controller that "
                                            "tightens k (unset: k as given)")
    granularity: Literal["scalar", "dot4"] = Field(
        "dot4", description="what a lookup covers: one product (scalar) or a 4-wide dot "
        "product (dot4)")
    issue: Literal["lookup", "mma"] = Field(
        "lookup", description="lookup: each hit frees its MMA slot (misses packed); mma: an "
        "MMA is skipped only when all its lookups hit (hits independent)")
    phases: list[Literal["fwd", "bwd_data", "bwd_weight"]] = Field(
        list(GEMM_PHASES), min_length=1, description="phases whose GEMMs look up")
    entries: int = Field(16, ge=1, le=2**20, description="entries of each lane's buffer (a "
                         "size the trace measured)", json_schema_extra={"unit": "entries"})
    associativity: int | None = Field(None, ge=1, le=2**20, description="ways per set (unset: "
                                      "fully associative, as the trace measured)")
    result_bits: int | None = Field(None, ge=1, le=1024, description="bits of a stored result "
                                    "(unset: 16 scalar, 32 dot4)",
                                    json_schema_extra={"unit": "bits"})
    lookup_latency_cycles: int = Field(1, ge=0, le=1024, description="cycles from key to "
                                       "result, paid once per tile (pipelined)",
                                       json_schema_extra={"unit": "cycles"})
    lookup_rate: int | None = Field(None, ge=1, le=64, description="lookups each buffer "
                                    "answers per cycle, bounding the cycles hits can free "
                                    "(unset: the lookup stage keeps ahead of the MMA units)",
                                    json_schema_extra={"unit": "lookups/cycle"})
    lookup_energy_pj: float | None = Field(None, ge=0, allow_inf_nan=False, description=(
        "energy of a lookup (unset: the reuse buffer's model)"),
        json_schema_extra={"unit": "pJ"})
    insertion_energy_pj: float | None = Field(None, ge=0, allow_inf_nan=False, description=(
        "energy of an insertion (unset: the reuse buffer's model)"),
        json_schema_extra={"unit": "pJ"})
    assumed_hit_rate: float | None = Field(None, ge=0, le=1, allow_inf_nan=False, description=(
        "hit rate of GEMM ops without traced rates (reported as assumed); unset: such an op "
        "is an error"), json_schema_extra={"unit": "fraction"})

    @model_validator(mode="after")
    def _strength(self) -> AcrtcParams:
        if (self.k is None) == (self.schedule is None):
            raise ValueError("exactly one of k (fixed) or schedule (k over training)")
        if self.schedule is not None:
            bounds = [entry.bound for entry in self.schedule]
            if any(b is None for b in bounds[:-1]):
                raise ValueError("a bound (until_step or until_epoch) on every schedule entry "
                                 "but the last")
            units = {b[0] for b in bounds if b is not None}
            if len(units) > 1:
                raise ValueError("schedule bounds all in steps or all in epochs, not both kinds")
            values = [b[1] for b in bounds if b is not None]
            if any(later <= earlier for earlier, later in zip(values, values[1:])):
                raise ValueError(f"schedule bounds in increasing order, got {values}")
        try:
            self.buffer_params()
        except ValidationError as error:
            raise ValueError("reuse buffer parameters: " + "; ".join(
                e["msg"].removeprefix("Value error, ") for e in error.errors())) from None
        return self

    @property
    def smallest_k(self) -> int:
        """The fewest masked bits the parameters can apply (the widest key)."""
        ks = [self.k] if self.k is not None else [e.k for e in self.schedule]
        low = min(ks)
        if self.adaptive is not None:
            low = min(low, self.adaptive.min_k)
        return low

    def buffer_params(self) -> ReuseBufferParams:
        operands = 2 * WIDTH[self.granularity]
        return ReuseBufferParams(
            entries=self.entries, associativity=self.associativity,
            key_bits=operands * (OPERAND_BITS - self.smallest_k),
            result_bits=self.result_bits or RESULT_BITS[self.granularity],
            lookup_latency_cycles=self.lookup_latency_cycles,
            lookup_energy_pj=self.lookup_energy_pj,
            insertion_energy_pj=self.insertion_energy_pj)


def loss_trend(losses: np.ndarray) -> float:
    """Relative loss decrease per step over ``losses`` (consecutive steps): minus the
    least-squares slope over the mean loss (0 when the mean is 0)."""
    y = np.asarray(losses, dtype=float)
    x = np.arange(len(y), dtype=float)
    x -= x.mean()
    slope = float((x * (y - y.mean())).sum() / (x * x).sum())
    mean = float(y.mean())
    return -slope / mean if mean > 0 else 0.0


def tightenings(losses: np.ndarray, step: int, window: int, threshold: float
                ) -> tuple[int, list[int], float | None]:
    """Replay of the controller up to ``step``: how many times it tightened, at which steps,
    and the trend it saw at ``step`` (None before a window of losses exists). At step t it
    sees the losses of steps t - window .. t - 1, and tightens when their trend is below
    ``threshold`` and its last tightening is at least ``window`` steps back."""
    at: list[int] = []
    trend = None
    for t in range(window, step + 1):
        trend = loss_trend(losses[t - window:t])
        if trend < threshold and (not at or t - at[-1] >= window):
            at.append(t)
    return len(at), at, trend


@TECHNIQUES.register("acrtc")
class Acrtc(Technique):
    """Reuse buffers per multiplier lane, k scheduled and adapted (module docstring)."""

    name = "acrtc"
    Params = AcrtcParams
    description = ("adaptive computation reuse for tensor cores: masked-operand reuse "
                   "buffers, strength over training (Servais & Atoofian, ACM TECS 2021)")
    applies_to = ("tensor_core",)

    def __init__(self, params: AcrtcParams, ctx) -> None:
        super().__init__(params, ctx)
        self.buffer = ReuseBuffer(params.buffer_params())
        self.width = WIDTH[params.granularity]
        self.ops: dict[str, dict] = {}
        self.macs_skipped = 0
        self.cycles_saved = 0
        self.mma_ops_skipped = 0
        self.strength = self._strength()

    # -- k at the simulated step -------------------------------------------------------------
    def _where(self) -> str:
        return f"{self.ctx.workload.source}: technique acrtc"

    def _strength(self) -> dict:
        """The k applied at the simulated step and how it was reached."""
        p, step, stats = self.params, self.ctx.step, self.ctx.value_stats
        result: dict = {"step": step, "epoch": None}
        if p.k is not None:
            scheduled = p.k
        else:
            if step is None:
                raise ConfigError(self._where(), "schedule", "a simulated training step "
                                  "(--step, or a traced workload) to place it in the schedule")
            units = {e.bound[0] for e in p.schedule if e.bound is not None}
            if "epoch" in units:
                if stats is None:
                    raise ConfigError(self._where(), "schedule", "until_step bounds: "
                                      "until_epoch needs the steps per epoch of a traced "
                                      "workload")
                result["epoch"] = stats.epoch_of(step)
            position = result["epoch"] if "epoch" in units else step
            entry = next((e for e in p.schedule if e.bound is None or position < e.bound[1]),
                         None)
            if entry is None:
                unit, bound = p.schedule[-1].bound
                raise ConfigError(self._where(), "schedule", f"an entry covering {unit} "
                                  f"{position} (the simulated step {step}); the last ends "
                                  f"before {unit} {bound}: leave its bound out to cover the "
                                  "rest of training")
            scheduled = entry.k
        result["k_scheduled"] = scheduled
        k = scheduled
        if p.adaptive is not None:
            k, adaptive = self._adapt(scheduled)
            result["adaptive"] = adaptive
        result["k"] = k
        return result

    def _adapt(self, scheduled: int) -> tuple[int, dict]:
        a, step, stats = self.params.adaptive, self.ctx.step, self.ctx.value_stats
        if stats is None or not stats.has("confidence") or step is None:
            raise ConfigError(self._where(), "adaptive", "a traced workload recording the "
                              "training loss at every step (accelsim trace does), simulated "
                              "at a step")
        losses = np.asarray(stats.require("confidence", None, self.name)["loss"], dtype=float)
        window = a.window if a.window is not None else int(stats.data.get("steps_per_epoch",
                                                                           1))
        if window < 2:
            raise ConfigError(self._where(), "adaptive.window", "at least 2 steps", got=window)
        if step > len(losses):
            raise ConfigError(self._where(), "adaptive", f"a simulated step at most "
                              f"{len(losses)} (the trace recorded the loss of steps 0.."
                              f"{len(losses) - 1})", got=step)
        count, at, trend = tightenings(losses, step, window, a.threshold)
        k = min(scheduled, max(a.min_k, scheduled - count * a.tighten_bits))
        return k, {"signal": a.signal, "window": window, "threshold": a.threshold,
                   "trend_at_step": trend, "tightened_at_steps": at, "tightenings": count}

    # -- hit rates -----------------------------------------------------------------------------
    def _affected(self, op) -> bool:
        return op.gemm is not None and op.phase.value in self.params.phases

    def attach(self, workload):
        """Check the buffer size against the trace and take every affected op's hit rate now,
        so that a missing statistic fails before the run."""
        stats = getattr(workload, "value_stats", None)
        grid = stats.params.get("acrtc") if stats is not None else None
        if grid is not None and self.params.entries not in grid["entries"]:
            raise ConfigError(f"{workload.source}: value_stats.params.acrtc", "entries",
                              "a buffer size the trace measured",
                              choices=[str(e) for e in grid["entries"]],
                              got=self.params.entries)
        for op in workload.ops():
            if self._affected(op):
                self.rate(op, workload)
        return workload

    def rate(self, op, workload) -> dict:
        """The hit rate of ``op`` at the applied k and where it came from."""
        if op.name in self.ops:
            return self.ops[op.name]
        p, k = self.params, self.strength["k"]
        stats = getattr(workload, "value_stats", None)
        if stats is not None and stats.has("acrtc_hit_rate", op.name):
            grid = stats.params["acrtc"]["k"]
            if k < min(grid):
                raise WorkloadError(workload.source, "value_stats.params.acrtc.k", "a "
                                    f"measured k at or below the applied k = {k}", got=grid)
            measured = max(g for g in grid if g <= k)
            found = stats.acrtc_hit_rate(op.name, k, p.entries, p.granularity,
                                         step=self.ctx.step, technique=self.name)
            entry = {"hit_rate": found, "k_measured": measured, "source": "traced"}
        elif p.assumed_hit_rate is not None:
            entry = {"hit_rate": p.assumed_hit_rate, "k_measured": None, "source": "assumed"}
        else:
            held = "no value statistics" if stats is None else "value statistics without it"
            raise WorkloadError(workload.source, f"value_stats.ops.{op.name}.acrtc_hit_rate",
                                f"the ACRTC hit rate of GEMM op {op.name}, needed by "
                                f"technique acrtc; it is recorded by "
                                f"{STATISTICS['acrtc_hit_rate'][1]} (see "
                                "workloads/traced/FORMAT.md); or give "
                                "acrtc:assumed_hit_rate=<rate>", got=held)
        self.ops[op.name] = entry
        return entry

    def freed_share(self, hit_rate: float) -> float:
        """Share of MMA issue slots the hits free (``issue``, module docstring)."""
        if self.params.issue == "lookup":
            return hit_rate
        return hit_rate ** self.lookups_per_mma

    @property
    def lookups_per_mma(self) -> int:
        pe = self.ctx.system.pe_array
        macs = getattr(pe, "mma_macs", None)
        if macs is None:
            raise SimulationError("technique acrtc with issue=mma needs a PE-array kind with "
                                  "MMA units (mma_macs)")
        return max(1, macs // self.width)

    @property
    def buffers(self) -> int:
        """One buffer per multiplier lane: per MAC unit (scalar) or per 4 (dot4)."""
        return math.ceil(self.ctx.system.pe_array.pes / self.width)

    # -- the plan -------------------------------------------------------------------------------
    def transform(self, op, plan):
        if not self._affected(op) or len(plan) == 0:
            return plan
        found = self.rate(op, self.ctx.workload)
        h = found["hit_rate"]
        macs = np.asarray(plan["macs"], dtype=np.int64)
        lookups = -(-macs // self.width)
        outcome = self.buffer.record(op.name, lookups, h)
        hits = np.rint(lookups * h).astype(np.int64)
        skipped = np.minimum(macs, hits * self.width)
        freed = self.freed_share(h)
        compute = np.asarray(plan["compute_cycles"], dtype=np.int64)
        busy = np.ceil(compute * (1.0 - freed)).astype(np.int64)
        if self.params.lookup_rate is not None:
            busy = np.maximum(busy, -(-compute // self.params.lookup_rate))
        latency = np.where(lookups > 0, self.params.lookup_latency_cycles, 0)
        columns = {"macs": macs - skipped, "compute_cycles": busy + latency}
        if "mma_ops" in plan.columns:
            mma = np.asarray(plan["mma_ops"], dtype=np.int64)
            columns["mma_ops"] = np.ceil(mma * (1.0 - freed)).astype(np.int64)
            self.mma_ops_skipped += int((mma - columns["mma_ops"]).sum())
        new = plan.with_columns(**columns)
        new = replace(new, macs_skipped=plan.macs_skipped + int(skipped.sum()))

        self.macs_skipped += int(skipped.sum())
        self.cycles_saved += int((compute - columns["compute_cycles"]).sum())
        found["lookups"] = found.get("lookups", 0) + outcome.lookups
        found["freed_share"] = freed
        return new

    def finalize(self, stats: dict) -> None:
        p, total = self.params, self.buffer.total()
        stats[self.name] = {
            **self.strength,
            "granularity": p.granularity,
            "issue": p.issue,
            "lookup_rate": p.lookup_rate,
            "phases": list(p.phases),
            "entries": p.entries,
            "associativity": p.associativity,
            "buffers": self.buffers,
            "key_bits": self.buffer.params.key_bits,
            "storage_bits_per_buffer": self.buffer.storage_bits,
            "lookup_energy_pj_each": self.buffer.lookup_energy_pj,
            "insertion_energy_pj_each": self.buffer.insertion_energy_pj,
            "lookups": total.lookups,
            "hits": total.hits,
            "misses": total.misses,
            "insertions": total.insertions,
            "hit_rate": total.hit_rate,
            "macs_skipped": self.macs_skipped,
            "mma_ops_skipped": self.mma_ops_skipped,
            "compute_cycles_saved": self.cycles_saved,
            "assumed_ops": sorted(n for n, r in self.ops.items() if r["source"] == "assumed"),
            "ops": {name: dict(entry) for name, entry in self.ops.items()},
            "approximations": [
                "hit rates of a fully associative LRU buffer fed sampled 32x32x16 operand "
                "tiles of each op, each from an empty buffer (accelsim trace, mean of 8 tiles "
                "with a 95% interval), taken for every lane's stream",
                "issue=lookup packs misses of different MMAs (upper bound on the speedup); "
                "issue=mma takes hits as independent (lower bound)",
                "lookup latency paid once per tile (pipelined)",
                ("lookup stage keeps ahead of the MMA units" if p.lookup_rate is None else
                 f"{p.lookup_rate} lookups per buffer per cycle bound the freed cycles"),
                "accuracy not modelled"],
        }

    def energy_pj(self) -> dict[str, float]:
        return self.buffer.energy_pj()

    def area_mm2(self) -> float:
        return self.buffers * self.buffer.area_mm2
