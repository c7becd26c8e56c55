"""Mquans: criticality-based multi-precision computation reuse (Qi, Wang, Zhu, Zhang, ICA3PP 2019).

Computation reuse after Riera, Arnau and González (ISCA 2018): a layer's inputs are linearly
quantized, and its outputs are updated from those of the paired previous input,

    out_t = out_{t-1} + sum over changed inputs i of w_i * (q_t[i] - q_{t-1}[i]),

so an input whose quantized level did not change skips its weight fetch and all its MACs. Mquans
quantizes the input neurons of each layer at two bit-widths chosen by criticality: the
``critical_fraction`` of neurons with the largest sensitivity keep ``critical_bits``, the
tolerant rest ``tolerant_bits`` (fewer bits, so more of them repeat).

**What the model takes from the trace.** The change rates come from the traced workload
(:meth:`accelsim.workload.value_stats.ValueStats.mquans_change_rate`,
:mod:`accelsim.trace.stats.change`): per GEMM layer, per neuron class and per bit-width, the
share of the layer's input elements whose level changed between the paired inputs, mean over
the measured pairs. The trace ranks a layer's *input* neurons by mean |dL/dx| of that layer,
which is the mean |dL/dy| of the neurons producing them; its critical share is
``params.mquans.critical_fraction``, which ``critical_fraction`` must equal (else an error), and
only the bit-widths it measured can be asked for. A layer with one class only (the first layer,
whose input gradient is never computed) uses the all-neuron rate at each class's bit-width,
mixed in the class shares. A forward GEMM layer without traced rates is refused naming the
layer, unless ``assumed_change_rate`` is given: it is then used for that layer, for both
classes, and the layer is listed under ``assumed_layers``.

**Pairing.** ``pairing`` says what "consecutive inputs" are: ``epoch`` (the same sample one
epoch later, which is what ``accelsim trace`` measures) or ``time_step`` (successive time steps
of a sequence, not measured by the tracer: only with ``assumed_change_rate``, which then
stands for every layer). With ``epoch``
pairing the weights have changed between the two passes, so out_{t-1} + delta is not the exact
out_t (it misses q_{t-1}·(w_t - w_{t-1})); this model counts the work and the traffic of the
reuse, not its effect on accuracy, which the paper measures and this simulator does not.

**Which GEMMs.** The forward GEMM of every layer (phase ``fwd``): that is the product whose
input is the traced layer input. The backward GEMMs are not reused: ``bwd_data`` multiplies
the output gradient dy, whose change between epochs is not measured and whose previous
product (the previous dx of the sample) is not kept; ``bwd_weight`` sums dy·x over the batch
into one weight gradient, so no per-sample previous result exists to update. Both run in full.

**Per tile** of a forward GEMM (the plan contract: the kind's plan must report operand roles,
``fetch:ifmap`` / ``fetch:filter`` / ``fetch:ofmap`` and ``drain:ofmap``), with ``f`` the critical
fraction and ``r_c``, ``r_t`` the class change rates:

* changed share of inputs ``r = f r_c + (1 - f) r_t``;
* issued share of the streamed reduction ``s``: with ``lanes`` unset, every changed input is
  issued on its own and unchanged ones not at all (Riera et al.'s engine, one input and its
  weight row per step), ``s = r``. With ``lanes = L``, a streamed step carries one input neuron
  for L rows of the GEMM at once (an output-stationary array: the K dimension is streamed, M
  spread over the rows), and is skipped only when all L inputs are unchanged; with changes
  taken as independent between rows (an approximation: the trace records rates, not where the
  changes fall), ``s = 1 - f (1 - r_c)^L - (1 - f) (1 - r_t)^L``;
* MACs issued ``rint(macs * s)``, the rest to ``macs_skipped`` (issued + skipped = the
  workload's MACs; in a step issued with ``lanes``, the lanes whose delta is zero still count
  as issued MACs); compute cycles ``ceil(compute * s)``, fill and drain of the folds included
  (an approximation that overstates the saving by at most the fill/drain share of a tile);
  ``sram_cycles`` and the array-side SRAM access of the buffers holding the ifmap and filter
  (and not the ofmap) scaled by ``s``: the edges read only the issued steps (exact for the
  output-stationary flow, where both are edges; on a weight- or input-stationary flow the
  stationary operand's loads are scaled too, and the DRAM share of a single-ported buffer's
  cycles is scaled with the rest: approximations);
* filter fetch: a weight row is fetched unless every input it meets is unchanged. The share
  needed is ``1 - f (1 - r_c)^M - (1 - f) (1 - r_t)^M`` with M the GEMM's rows (the op's inputs
  per weight row, changes independent). A tile meets only its own block of M rows, so its true
  chance of skipping is higher: this is a lower bound on the weight bytes skipped. With a
  batch it is close to nothing, except where no input changes.
* the reuse state, kept per sample in DRAM from one pairing to the next: the previous
  quantized inputs (``f critical_bits + (1 - f) tolerant_bits`` bits per input element the
  GEMM reads: M x K, or a convolution's distinct input elements) and the previous outputs at
  accumulator width. Each forward op reads both (``fetch:ofmap``: the previous outputs are the
  initial partial sums) and writes both anew (``drain:ofmap``), spread over its tiles in
  proportion to the outputs each finishes (or its MACs). These bytes are in the plan's DRAM
  traffic, priced by the DRAM model. Where residency keeps part of the layer's output on chip,
  :mod:`accelsim.sim.onchip` takes the same share off the tiles' output drains, the state
  write included: an approximation that undercounts the state write there.
* the delta unit: every input element is quantized and compared with its stored level,
  ``delta_pj`` each (two 8-bit integer operations at Horowitz's 0.03 pJ, ISSCC 2014, 45 nm),
  reported under ``technique.mquans``. Accuracy, and the quantization of critical inputs
  beyond what the trace measured, are not modelled.

``finalize`` reports under ``technique_stats["mquans"]``: the parameters as applied, input
elements compared and reused, MACs skipped, weight bytes skipped, compute cycles saved, the
reuse-state bytes read and written, and per layer the rates used and where they came from.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Literal

import numpy as np
from pydantic import Field, model_validator

from accelsim.errors import ConfigError, SimulationError, WorkloadError
from accelsim.plan import ACCESS, DRAIN, FETCH, LOAD, STORE
from accelsim.techniques.base import TECHNIQUES, Technique, TechniqueParams
from accelsim.workload.conv_window import im2col_views
from accelsim.workload.op import Phase
from accelsim.workload.value_stats import STATISTICS

#: Plan columns a kind must report for the reuse to be applied tile by tile.
ROLE_COLUMNS = (FETCH + "ifmap", FETCH + "filter", FETCH + "ofmap", DRAIN + "ofmap")


class MquansParams(TechniqueParams):
    critical_bits: int = Field(
        6, ge=1, le=64, description="bit-width of the critical input neurons (one of the "
        "widths the trace measured)", json_schema_extra={"unit": "bits"})
    tolerant_bits: int = Field(
        4, ge=1, le=64, description="bit-width of the tolerant input neurons, at most "
        "critical_bits (one of the widths the trace measured)",
        json_schema_extra={"unit": "bits"})
    critical_fraction: float = Field(
        0.25, ge=0, le=1, allow_inf_nan=False, description="share of a layer's input neurons "
        "that are critical (largest mean |dL/dy| of the neurons producing them); must equal "
        "what the trace measured", json_schema_extra={"unit": "fraction"})
    pairing: Literal["epoch", "time_step"] = Field(
        "epoch", description="what consecutive inputs are: the same sample one epoch later "
        "(measured by accelsim trace) or successive time steps of a sequence (only with "
        "assumed_change_rate)")
    lanes: int | None = Field(
        None, ge=1, le=1024, description="inputs of one neuron a streamed step issues "
        "together (rows of an output-stationary array), skipped only when all are unchanged; "
        "unset: each changed input issued on its own (Riera et al.'s reuse engine)",
        json_schema_extra={"unit": "inputs"})
    assumed_change_rate: float | None = Field(
        None, ge=0, le=1, allow_inf_nan=False, description="change rate used for forward "
        "GEMM layers without traced rates (reported as assumed); unset: such a layer is an "
        "error", json_schema_extra={"unit": "fraction"})
    delta_pj: float = Field(
        0.06, ge=0, allow_inf_nan=False, description="quantizing one input and comparing it "
        "with its stored level: two 8-bit integer operations at 0.03 pJ (Horowitz, ISSCC "
        "2014, 45 nm)", json_schema_extra={"unit": "pJ"})
    area_mm2: float = Field(
        0.0, ge=0, allow_inf_nan=False, description="area of the quantize-and-compare unit "
        "(not given by the paper; 0 unless stated)", json_schema_extra={"unit": "mm2"})

    @model_validator(mode="after")
    def _critical_has_more_bits(self) -> MquansParams:
        if self.tolerant_bits > self.critical_bits:
            raise ValueError(f"tolerant_bits ({self.tolerant_bits}) must not exceed "
                             f"critical_bits ({self.critical_bits}): critical neurons keep "
                             "more bits")
        return self


def changed_share(fraction: float, critical: float, tolerant: float) -> float:
    """Share of inputs whose level changed: the class rates mixed in the class shares."""
    return fraction * critical + (1 - fraction) * tolerant


def any_changed_share(fraction: float, critical: float, tolerant: float, group: int) -> float:
    """Share of groups of ``group`` inputs of one neuron with at least one changed input
    (changes independent within a group; the neuron critical with probability
    ``fraction``)."""
    return 1.0 - (fraction * (1.0 - critical) ** group
                  + (1.0 - fraction) * (1.0 - tolerant) ** group)


def spread(total: int, weights: np.ndarray) -> np.ndarray:
    """``total`` whole bytes over tiles in proportion to ``weights`` (evenly if all zero)."""
    weights = np.asarray(weights, dtype=float)
    if len(weights) == 0:
        return np.zeros(0, dtype=np.int64)
    if weights.sum() <= 0:
        weights = np.ones_like(weights)
    cumulative = np.floor(np.cumsum(weights) / weights.sum() * total + 1e-9).astype(np.int64)
    cumulative[-1] = total
    return np.diff(np.concatenate(([0], cumulative)))


def layer_inputs(op) -> int:
    """Input elements the issued forward GEMM reads: its A operand's M x K elements, or for
    an im2col view of a convolution the distinct input elements its windows name (padding
    excluded, :meth:`~accelsim.workload.conv_window.ConvWindow.unique_inputs`)."""
    gemm = op.issued_gemm
    for view in im2col_views(op):
        if view.role == "ifmap":
            rows, cols = getattr(gemm, view.pixel_dim), getattr(gemm, view.window_dim)
            return int(view.window.unique_inputs(0, rows, 0, cols)) * gemm.count
    return gemm.m * gemm.k * gemm.count


@TECHNIQUES.register("mquans")
class Mquans(Technique):
    """Reuses a forward GEMM's previous outputs for its unchanged inputs (module docstring)."""

    name = "mquans"
    Params = MquansParams
    description = ("criticality-based multi-precision computation reuse "
                   "(Qi et al., ICA3PP 2019)")
    applies_to = ("systolic", "tensor_core")

    def __init__(self, params: MquansParams, ctx) -> None:
        super().__init__(params, ctx)
        self.layers: dict[str, dict] = {}
        self.inputs = 0
        self.inputs_reused = 0.0
        self.macs_skipped = 0
        self.weight_bytes_skipped = 0
        self.cycles_saved = 0
        self.state_read = 0
        self.state_written = 0

    # -- the workload's statistics ---------------------------------------------------------------
    def attach(self, workload):
        """Check the parameters against what the trace measured and take the rates of every
        forward GEMM layer now, so that a missing statistic fails before the run."""
        self.check_measured(workload)
        for op in workload.ops():
            if op.phase is Phase.FWD and op.gemm is not None:
                self.rates(op, workload)
        return workload

    def check_measured(self, workload) -> None:
        stats = getattr(workload, "value_stats", None)
        grid = (stats.params.get("mquans") if stats is not None else None)
        if grid is None:
            return
        p, source = self.params, f"{workload.source}: value_stats.params.mquans"
        if p.pairing != "epoch" and p.assumed_change_rate is None:
            raise ConfigError(source, "pairing", "the pairing the trace measured: 'epoch' (the "
                              "same sample in consecutive epochs, pair distance "
                              f"{grid['pair_distance']} steps); time_step pairing is not "
                              "measured by accelsim trace", got=p.pairing)
        for key, bits in (("critical_bits", p.critical_bits),
                          ("tolerant_bits", p.tolerant_bits)):
            if bits not in grid["bits"]:
                raise ConfigError(source, key, "a bit-width the trace measured",
                                  choices=[str(b) for b in grid["bits"]], got=bits)
        if not math.isclose(p.critical_fraction, grid["critical_fraction"], abs_tol=1e-9):
            raise ConfigError(source, "critical_fraction", "the critical fraction the trace "
                              f"classified neurons with ({grid['critical_fraction']})",
                              got=p.critical_fraction)

    def rates(self, op, workload) -> dict:
        """The class change rates of ``op``'s layer and where they came from."""
        if op.layer in self.layers:
            return self.layers[op.layer]
        p = self.params
        stats = getattr(workload, "value_stats", None)
        if stats is not None and stats.has("mquans_change_rate", op.layer) \
                and p.pairing == "epoch":
            classes = stats.require("mquans_change_rate", op.layer, self.name)["rate"]
            if "critical" in classes and "tolerant" in classes:
                found = (stats.mquans_change_rate(op.layer, p.critical_bits, "critical"),
                         stats.mquans_change_rate(op.layer, p.tolerant_bits, "tolerant"))
                source = "traced"
            else:
                found = (stats.mquans_change_rate(op.layer, p.critical_bits, "all"),
                         stats.mquans_change_rate(op.layer, p.tolerant_bits, "all"))
                source = "traced (all neurons at each class's bit-width)"
        elif p.assumed_change_rate is not None:
            found = (p.assumed_change_rate, p.assumed_change_rate)
            source = "assumed"
        else:
            held = ("no value statistics" if stats is None
                    else "value statistics without it")
            raise WorkloadError(workload.source, f"value_stats.layers.{op.layer}",
                                f"the Mquans input change rate of layer {op.layer} (forward "
                                f"op {op.name}), needed by technique mquans; it is recorded by "
                                f"{STATISTICS['mquans_change_rate'][1]} (see "
                                "workloads/traced/FORMAT.md); or give "
                                "mquans:assumed_change_rate=<rate>", got=held)
        critical, tolerant = found
        changed = changed_share(p.critical_fraction, critical, tolerant)
        if p.lanes is None:
            issued = changed
        else:
            issued = any_changed_share(p.critical_fraction, critical, tolerant, p.lanes)
        self.layers[op.layer] = {"critical_rate": critical, "tolerant_rate": tolerant,
                                 "changed_share": changed, "issued_share": issued,
                                 "source": source}
        return self.layers[op.layer]

    # -- the plan -------------------------------------------------------------------------------
    def transform(self, op, plan):
        if op.phase is not Phase.FWD or op.gemm is None or len(plan) == 0:
            return plan
        missing = [c for c in ROLE_COLUMNS if c not in plan.columns]
        if missing:
            raise SimulationError(f"technique mquans needs a plan reporting operand roles; the "
                                  f"plan of op {op.name} lacks {', '.join(missing)}")
        p, system = self.params, self.ctx.system
        found = self.rates(op, self.ctx.workload)
        issued_share, changed = found["issued_share"], found["changed_share"]
        gemm = op.issued_gemm
        weight_share = any_changed_share(p.critical_fraction, found["critical_rate"],
                                         found["tolerant_rate"], gemm.m)
        buffer_of = system.buffer_of_role
        columns: dict[str, np.ndarray] = {}

        macs = plan["macs"].astype(np.int64)
        issued = np.rint(macs * issued_share).astype(np.int64)
        compute = np.ceil(plan["compute_cycles"] * issued_share).astype(np.int64)
        columns["macs"] = issued
        columns["compute_cycles"] = compute
        columns["sram_cycles"] = plan["sram_cycles"] * issued_share
        edges = {buffer_of[r] for r in ("ifmap", "filter")} - {buffer_of["ofmap"]}
        for name in edges:
            if ACCESS + name in plan.columns:
                columns[ACCESS + name] = np.rint(plan[ACCESS + name] * issued_share
                                                 ).astype(np.int64)

        loads = {n: np.asarray(v, dtype=np.int64) for n, v in plan.loads.items()}
        stores = {n: np.asarray(v, dtype=np.int64) for n, v in plan.stores.items()}
        filter_fetch = np.asarray(plan[FETCH + "filter"], dtype=np.int64)
        kept_filter = np.rint(filter_fetch * weight_share).astype(np.int64)
        columns[FETCH + "filter"] = kept_filter
        loads[buffer_of["filter"]] = loads[buffer_of["filter"]] - (filter_fetch - kept_filter)

        _, psum_bytes = system.pe_array.element_bytes(op)
        input_elements = layer_inputs(op)
        outputs = gemm.m * gemm.n * gemm.count
        state_bits = p.critical_fraction * p.critical_bits \
            + (1 - p.critical_fraction) * p.tolerant_bits
        state_bytes = math.ceil(input_elements * state_bits / 8) + outputs * psum_bytes
        weights = plan["outputs"] if "outputs" in plan.columns else macs
        state = spread(state_bytes, weights)
        ofmap = buffer_of["ofmap"]
        columns[FETCH + "ofmap"] = plan[FETCH + "ofmap"] + state
        columns[DRAIN + "ofmap"] = plan[DRAIN + "ofmap"] + state
        loads[ofmap] = loads.get(ofmap, np.zeros(len(plan), dtype=np.int64)) + state
        stores[ofmap] = stores.get(ofmap, np.zeros(len(plan), dtype=np.int64)) + state
        columns.update({LOAD + n: v for n, v in loads.items()})
        columns.update({STORE + n: v for n, v in stores.items()})
        from accelsim.sim.onchip import scaled_visits  # the engine's: imported at run start

        new = plan.with_columns(**columns)
        new = new.with_columns(
            load_visits=scaled_visits(plan["load_visits"], plan.load_bytes, new.load_bytes),
            store_visits=scaled_visits(plan["store_visits"], plan.store_bytes,
                                       new.store_bytes))
        skipped = int((macs - issued).sum())
        new = replace(new, macs_skipped=plan.macs_skipped + skipped)

        self.inputs += input_elements
        self.inputs_reused += input_elements * (1.0 - changed)
        self.macs_skipped += skipped
        self.weight_bytes_skipped += int((filter_fetch - kept_filter).sum())
        self.cycles_saved += int((plan["compute_cycles"] - compute).sum())
        self.state_read += state_bytes
        self.state_written += state_bytes
        return new

    def finalize(self, stats: dict) -> None:
        p = self.params
        stats["mquans"] = {
            "pairing": p.pairing,
            "critical_bits": p.critical_bits,
            "tolerant_bits": p.tolerant_bits,
            "critical_fraction": p.critical_fraction,
            "lanes": p.lanes,
            "phases": ["fwd"],
            "inputs_compared": self.inputs,
            "inputs_reused": int(round(self.inputs_reused)),
            "inputs_reused_fraction": self.inputs_reused / self.inputs if self.inputs else 0.0,
            "macs_skipped": self.macs_skipped,
            "weight_bytes_skipped": self.weight_bytes_skipped,
            "compute_cycles_saved": self.cycles_saved,
            "state_bytes_read": self.state_read,
            "state_bytes_written": self.state_written,
            "assumed_layers": sorted(n for n, r in self.layers.items()
                                     if r["source"] == "assumed"),
            "layers": {name: dict(rates) for name, rates in self.layers.items()},
        }

    def energy_pj(self) -> dict[str, float]:
        return {"quantize_compare": self.inputs * self.params.delta_pj}

    def area_mm2(self) -> float:
        return self.params.area_mm2
