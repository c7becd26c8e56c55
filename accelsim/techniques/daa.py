"""DAA: dynamic asymmetric architecture (Kurzum, Shomron, Gabbay, Weiser, IEEE CAL 2023).

The paper's abstract: the micro-architecture decides at run time the precision of each MAC; two
data streams share a systolic array and a value-based controller decides which stream gets the
higher-precision resource; 2x throughput on ResNet-18, 35% energy saving, < 0.5% accuracy loss.
Its PE internals are not public; the model here follows the same group's NB-SMT / SySMT
(Shomron and Weiser, MICRO 2020) and is an approximation:

* **PE.** Each PE of an output-stationary systolic array (``dataflow: os``) takes two operand
  pairs per cycle, the even and the odd reduction index of its output (k = 2j, 2j + 1), and owns
  one ``high``- and one ``low``-precision multiplier. A router compares a magnitude proxy of the
  two products (the sum of the operands' exponents) and detects zero operands: the larger
  product goes to the high-precision multiplier, the smaller to the low-precision one; when one
  product is zero the other gets the high-precision multiplier alone (the low one is gated), and
  a pair of zeros multiplies nothing. Both products are added into the output's accumulator.
* **Cycles.** A DAA GEMM streams its reduction at two indices per cycle: the part of each
  tile's compute cycles that streams K (the kind's ``stream_cycles`` column: folds x K block)
  becomes folds x ceil(K block / 2); fill and drain stay. SRAM bandwidth is unchanged, so a
  tile whose buffers cannot feed two pairs per cycle is stretched by the plan's
  ``sram_cycles`` as any other tile.
* **Energy, from the traced pair statistics.** For each op the trace records, at each sampled
  step, the share of product pairs with both products non-zero (b), exactly one (o) and none
  (:meth:`accelsim.workload.value_stats.ValueStats.daa`, measured on a sampled 32x32x16 operand
  tile). Of a tile's m MACs, rint(m (b + o / 2)) are non-zero products and are issued; the zero
  products are not multiplied (``macs_skipped``, so issued + skipped = the workload's MACs). Of
  the issued ones, rint(m b / 2) (one per pair with both non-zero) run on the low-precision
  multiplier: the plan's ``mac_share:<low>`` column, priced by the array at the hwconfig's
  ``energy.mult_pj[low]`` (Horowitz ISSCC 2014 by default), the rest at the op's precision
  (``high``, set with :meth:`Op.with_precision`). The router costs ``router_energy_pj`` per
  pair, zero pairs included.
* **Exponent gaps.** Which product of a pair is the smaller does not change the cost (one
  multiplier of each kind either way), so the gap statistics do not enter cycles or energy.
  They are reported: the mean ratio of the smaller to the larger product (how much the
  low-precision product weighs in its pair) and the share of both-non-zero pairs whose products'
  binary exponents differ by at most 1, where the exponent-sum proxy may order the pair wrongly
  (a product's exponent is the operands' exponent sum or one more): the router's ambiguous
  share.
* **Area** (reported, not in the cycle model): per PE, the low-precision multiplier, a second
  adder at accumulator width (two products per cycle into one accumulator) and the router, from
  Horowitz's ISSCC 2014 45 nm areas (:data:`AREA_UM2`; the router as three 8-bit adds: two
  exponent sums and their compare; zero detect and the operand swap multiplexers not counted).

Which training GEMMs use DAA is ``phases``. An op without traced pair statistics is an error
naming it, unless ``assumed_both_nonzero`` and ``assumed_one_nonzero`` are given (then listed
under ``assumed_ops``). The accuracy effect (the smaller product rounded to ``low``) is not
modelled here: the run counts work, time and energy.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field, model_validator

from accelsim.errors import ConfigError, WorkloadError
from accelsim.plan import MAC_SHARE
from accelsim.techniques.base import TECHNIQUES, Technique, TechniqueParams
from accelsim.workload.value_stats import STATISTICS

GEMM_PHASES = ("fwd", "bwd_data", "bwd_weight")
Datatype = Literal["fp32", "fp16", "bf16", "int8"]

#: Areas in um^2 at 45 nm (Horowitz, Computing's energy problem, ISSCC 2014, area table):
#: multipliers by operand datatype and adders by accumulator datatype (bf16 taken as fp16,
#: int32 add as the 32-bit integer add).
AREA_UM2 = {"mult": {"fp32": 7700.0, "fp16": 1640.0, "bf16": 1640.0, "int8": 282.0},
            "add": {"fp32": 4184.0, "fp16": 1360.0, "bf16": 1360.0, "int32": 137.0,
                    "int8": 36.0}}
#: The router: two exponent sums and their compare, each an 8-bit add (Horowitz: 0.03 pJ,
#: 36 um^2).
ROUTER_ADDS = 3
INT8_ADD_PJ, INT8_ADD_UM2 = 0.03, 36.0


class DaaParams(TechniqueParams):
    high: Datatype | None = Field(
        None, description="precision of the high-precision multiplier (the op's operands); "
        "unset: the array's datatype")
    low: Datatype = Field(
        "int8", description="precision of the low-precision multiplier; its multiply energy "
        "is the hwconfig's energy.mult_pj entry (Horowitz: int8 0.2 pJ, an 8-bit multiply "
        "standing in for a narrow floating-point one)")
    phases: list[Literal["fwd", "bwd_data", "bwd_weight"]] = Field(
        list(GEMM_PHASES), min_length=1, description="training GEMMs that run on DAA PEs")
    router_energy_pj: float = Field(
        ROUTER_ADDS * INT8_ADD_PJ, ge=0, allow_inf_nan=False, description="router energy "
        "per operand pair: two exponent sums and a compare, three 8-bit adds at Horowitz's "
        "0.03 pJ", json_schema_extra={"unit": "pJ"})
    assumed_both_nonzero: float | None = Field(
        None, ge=0, le=1, allow_inf_nan=False, description="share of pairs with both "
        "products non-zero, for GEMM ops without traced pair statistics (an assumption, "
        "reported); give with assumed_one_nonzero", json_schema_extra={"unit": "fraction"})
    assumed_one_nonzero: float | None = Field(
        None, ge=0, le=1, allow_inf_nan=False, description="share of pairs with exactly one "
        "product non-zero, for ops without traced pair statistics",
        json_schema_extra={"unit": "fraction"})

    @model_validator(mode="after")
    def _assumed(self) -> DaaParams:
        both, one = self.assumed_both_nonzero, self.assumed_one_nonzero
        if (both is None) != (one is None):
            raise ValueError("assumed_both_nonzero and assumed_one_nonzero together")
        if both is not None and both + one > 1:
            raise ValueError(f"assumed shares adding up to at most 1, got {both + one}")
        return self


def split_macs(macs: np.ndarray, both: float, one: float) -> tuple[np.ndarray, np.ndarray]:
    """(issued, low) MACs of tiles of ``macs`` products paired two by two, with shares
    ``both`` and ``one`` of the pairs having two and one non-zero products: the non-zero
    products are issued, one per both-non-zero pair runs on the low-precision multiplier."""
    macs = np.asarray(macs, dtype=np.int64)
    issued = np.minimum(macs, np.rint(macs * (both + one / 2.0)).astype(np.int64))
    low = np.minimum(issued, np.rint(macs * both / 2.0).astype(np.int64))
    return issued, low


@TECHNIQUES.register("daa")
class Daa(Technique):
    """Two operand pairs per PE and cycle on a high- and a low-precision multiplier
    (module docstring)."""

    name = "daa"
    Params = DaaParams
    description = ("dynamic asymmetric architecture: two MAC streams per PE on a high- and a "
                   "low-precision multiplier, value-based routing (Kurzum et al., IEEE CAL 2023)")
    applies_to = ("systolic",)

    def __init__(self, params: DaaParams, ctx) -> None:
        super().__init__(params, ctx)
        pe = ctx.system.pe_array
        where = f"--technique {self.name} (hwconfig {ctx.system.config.source})"
        if getattr(getattr(pe, "dataflow", None), "stream_dim", None) != "k":
            raise ConfigError(where, "pe_array.dataflow", "an output-stationary array (os): a "
                              "DAA PE pairs two reduction indices of its own output",
                              got=getattr(getattr(pe, "dataflow", None), "name", None))
        energy = ctx.system.config.energy
        self.high = params.high or pe.params.datatype
        self.accumulator = pe.params.accumulator
        for datatype in (self.high, params.low):
            if datatype not in energy.mult_pj:
                raise ConfigError(where, f"energy.mult_pj.{datatype}", "a multiply energy "
                                  "for each of DAA's precisions", choices=sorted(energy.mult_pj))
        if energy.mult_pj[params.low] >= energy.mult_pj[self.high]:
            raise ConfigError(where, f"{self.name}.low", f"a precision whose multiply costs "
                              f"less than the high one's ({self.high}: "
                              f"{energy.mult_pj[self.high]} pJ)",
                              got=f"{params.low} ({energy.mult_pj[params.low]} pJ)")
        self.ops: dict[str, dict] = {}
        self.pairs = 0
        self.macs_low = 0
        self.macs_high = 0
        self.macs_skipped = 0
        self.cycles_saved = 0

    def _affected(self, op) -> bool:
        return op.gemm is not None and op.phase.value in self.params.phases

    # -- statistics ----------------------------------------------------------------------------
    def attach(self, workload):
        """Take every affected op's pair statistics now, so a missing one fails before the
        run."""
        for op in workload.ops():
            if self._affected(op):
                self.statistics(op, workload)
        return workload

    def statistics(self, op, workload) -> dict:
        """Pair shares of ``op`` at the simulated step and where they came from."""
        if op.name in self.ops:
            return self.ops[op.name]
        p, stats = self.params, getattr(workload, "value_stats", None)
        if stats is not None and stats.has("daa", op.name):
            found = stats.daa(op.name, self.ctx.step, self.name)
            hist = np.asarray(found["exponent_gap_hist"], dtype=float)
            entry = {"both_nonzero": found["both_nonzero"], "one_nonzero": found["one_nonzero"],
                     "none": found["none"], "mean_ratio": found["mean_ratio"],
                     "ambiguous_share": float(hist[:2].sum()), "source": "traced"}
        elif p.assumed_both_nonzero is not None:
            entry = {"both_nonzero": p.assumed_both_nonzero,
                     "one_nonzero": p.assumed_one_nonzero,
                     "none": 1.0 - p.assumed_both_nonzero - p.assumed_one_nonzero,
                     "mean_ratio": None, "ambiguous_share": None, "source": "assumed"}
        else:
            held = "no value statistics" if stats is None else "value statistics without it"
            raise WorkloadError(workload.source, f"value_stats.ops.{op.name}.daa",
                                f"the paired-stream statistics of GEMM op {op.name}, needed "
                                f"by technique daa; they are recorded by "
                                f"{STATISTICS['daa'][1]} (see workloads/traced/FORMAT.md); or "
                                "give daa:assumed_both_nonzero=<share>,"
                                "assumed_one_nonzero=<share>", got=held)
        self.ops[op.name] = entry
        return entry

    # -- the op and its plan -------------------------------------------------------------------
    def prepare(self, op):
        if not self._affected(op):
            return op
        accumulator = op.precision.accumulator if op.precision else self.accumulator
        return op.with_precision(self.high, accumulator)

    def transform(self, op, plan):
        if not self._affected(op) or len(plan) == 0:
            return plan
        if "stream_cycles" not in plan.columns:
            raise ConfigError(f"--technique {self.name}", "pe_array", "a PE-array kind whose "
                              "plans give stream_cycles (systolic)")
        found = self.statistics(op, self.ctx.workload)
        macs = np.asarray(plan["macs"], dtype=np.int64)
        issued, low = split_macs(macs, found["both_nonzero"], found["one_nonzero"])
        compute = np.asarray(plan["compute_cycles"], dtype=np.int64)
        stream = np.asarray(plan["stream_cycles"], dtype=np.int64)
        folds = np.maximum(np.asarray(plan["folds"], dtype=np.int64), 1)
        paired = folds * -(-(stream // folds) // 2)
        # a technique earlier in the chain may have shortened compute already: two pairs a
        # cycle at most halve it
        cycles = np.maximum(compute - stream + paired, -(-compute // 2))
        share = np.divide(low, issued, out=np.zeros(len(plan)), where=issued > 0)
        column = MAC_SHARE + self.params.low
        if column in plan.columns:  # another technique already moved some MACs there
            share = np.minimum(1.0, share + plan[column])
        new = plan.with_columns(macs=issued, compute_cycles=cycles, stream_cycles=paired,
                                **{column: share}).with_skipped(int((macs - issued).sum()))
        pairs = int(((macs + 1) // 2).sum())
        self.pairs += pairs
        self.macs_low += int(low.sum())
        self.macs_high += int((issued - low).sum())
        self.macs_skipped += int((macs - issued).sum())
        self.cycles_saved += int((compute - cycles).sum())
        found["pairs"] = found.get("pairs", 0) + pairs
        return new

    # -- report --------------------------------------------------------------------------------
    def finalize(self, stats: dict) -> None:
        p, issued = self.params, self.macs_high + self.macs_low
        traced = [e for e in self.ops.values() if e["source"] == "traced" and e.get("pairs")]
        weight = sum(e["pairs"] for e in traced)

        def weighted(key: str) -> float | None:
            return (sum(e[key] * e["pairs"] for e in traced) / weight) if weight else None

        stats[self.name] = {
            "step": self.ctx.step, "high": self.high, "low": p.low,
            "accumulator": self.accumulator, "phases": list(p.phases),
            "pairs": self.pairs, "macs_high": self.macs_high, "macs_low": self.macs_low,
            "macs_skipped_zero": self.macs_skipped,
            "low_share": self.macs_low / issued if issued else 0.0,
            "both_nonzero": weighted("both_nonzero"), "one_nonzero": weighted("one_nonzero"),
            "mean_ratio": weighted("mean_ratio"),
            "router_ambiguous_share": weighted("ambiguous_share"),
            "compute_cycles_saved": self.cycles_saved,
            "area_um2_per_pe": self.area_um2_per_pe(),
            "assumed_ops": sorted(n for n, e in self.ops.items() if e["source"] == "assumed"),
            "ops": {name: dict(entry) for name, entry in self.ops.items()},
            "approximations": [
                "PE after NB-SMT/SySMT (the paper's internals are not public): two operand "
                "pairs per cycle, one high- and one low-precision multiplier",
                "pair shares measured on one sampled 32x32x16 operand tile per op and step",
                f"low-precision multiply priced at energy.mult_pj.{p.low}",
                "router energy: three 8-bit adds per pair (Horowitz ISSCC 2014); zero detect "
                "and operand multiplexers not counted",
                "accuracy not modelled"],
        }

    def energy_pj(self) -> dict[str, float]:
        return {"router": self.pairs * self.params.router_energy_pj}

    def area_um2_per_pe(self) -> float:
        """The low-precision multiplier, a second accumulator-width adder and the router."""
        return (AREA_UM2["mult"][self.params.low]
                + AREA_UM2["add"][self.accumulator]
                + ROUTER_ADDS * INT8_ADD_UM2)

    def area_mm2(self) -> float:
        return self.ctx.system.pe_array.pes * self.area_um2_per_pe() / 1e6
