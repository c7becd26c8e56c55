"""Confidence skipping: no backward work for samples the network already predicts confidently
(Shin, Kim, Jo, Park, DAC 2020).

After the forward pass, each sample's confidence decides whether its error back-propagation
and weight-gradient work run, in every layer; the forward pass and the weight update always
run. With softmax cross-entropy the output error of a sample is e = p - onehot(y), and

    ||e||^2 = (1 - p_true)^2 + sum over the other classes of p_j^2 <= 2 (1 - p_true)^2,

so a correctly predicted sample with p_true >= tau has a squared error of at most
2 (1 - tau)^2: an error budget ``epsilon`` gives tau = 1 - sqrt(epsilon / 2). The technique
takes either (``epsilon`` or ``tau``).

The per-sample (correct, p_true) come from the traced training step being simulated (the
trace records them at every step, :meth:`accelsim.workload.value_stats.ValueStats.confidence`);
a workload without them needs ``assumed_skip_fraction``, which is reported as an assumption.

Every backward op with a batch axis (GEMMs and the vector ops of the backward passes) is
affected, through the op's batch axis:

* ``mapping: repack`` (default): the kept samples are packed together
  (:meth:`accelsim.workload.op.Op.with_samples`): the op issues the kept samples' GEMM, so its
  cycles, traffic and energy shrink;
* ``mapping: holes``: the samples stay where a spatial batch mapping put them; a skipped
  sample's share of every tile's MACs is not done (no multiply energy) but the tiles take as
  long and move the same bytes: the array has holes.

Skipped MACs go to ``macs_skipped``. The decision (one compare of p_true against tau per
sample) costs ``decision_energy_pj``. ``finalize`` reports under
``technique_stats["confidence_skip"]`` the step, tau, the samples skipped, the source of the
decisions and the mapping.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from pydantic import Field, model_validator

from accelsim.errors import ConfigError
from accelsim.stats.confidence_trajectory import skipped
from accelsim.techniques.base import TECHNIQUES, Technique, TechniqueParams
from accelsim.workload.op import Phase

BACKWARD = (Phase.BWD_DATA, Phase.BWD_WEIGHT)


class ConfidenceSkipParams(TechniqueParams):
    epsilon: float | None = Field(
        None, gt=0, lt=2, description="error budget: a sample whose squared output error is "
        "at most epsilon skips its backward work (tau = 1 - sqrt(epsilon / 2)); give epsilon or "
        "tau")
    tau: float | None = Field(None, gt=0.5, lt=1, description="confidence threshold on the "
                              "true class's softmax probability; give epsilon or tau")
    mapping: Literal["repack", "holes"] = Field(
        "repack", description="repack: kept samples are packed together, the backward ops "
        "shrink; holes: samples keep their place in a spatial batch mapping, skipped ones "
        "leave idle MACs but the tiles take as long")
    assumed_skip_fraction: float | None = Field(
        None, ge=0, le=1, description="share of each batch skipped, for a workload without "
        "traced per-sample confidence (an assumption, reported as such)")
    decision_energy_pj: float = Field(
        0.9, ge=0, description="one compare of p_true with tau per sample: an fp32 add at "
        "Horowitz's ISSCC 2014 (45 nm) figure", json_schema_extra={"unit": "pJ"})

    @model_validator(mode="after")
    def _one_threshold(self) -> ConfidenceSkipParams:
        if (self.epsilon is None) == (self.tau is None):
            raise ValueError("exactly one of epsilon (error budget) or tau (threshold)")
        return self

    @property
    def threshold(self) -> float:
        return self.tau if self.tau is not None else 1.0 - math.sqrt(self.epsilon / 2.0)


@TECHNIQUES.register("confidence_skip")
class ConfidenceSkip(Technique):
    """Drop the backward work of confidently predicted samples (module docstring)."""

    name = "confidence_skip"
    Params = ConfidenceSkipParams
    description = ("skip error back-propagation and weight gradients of samples predicted "
                   "with confidence >= tau (Shin et al., DAC 2020)")

    def __init__(self, params: ConfidenceSkipParams, ctx) -> None:
        super().__init__(params, ctx)
        self.samples, self.skipped, self.source = self._decide()
        self.decided_ops = 0

    def _decide(self) -> tuple[int, int, str]:
        """(samples per batch, samples skipped, where the decisions come from)."""
        batch = self.ctx.workload.meta.get("batch")
        stats = self.ctx.value_stats
        if self.params.assumed_skip_fraction is not None:
            if not isinstance(batch, int):
                raise ConfigError("confidence_skip", "assumed_skip_fraction",
                                  "a workload with a batch size")
            return batch, round(batch * self.params.assumed_skip_fraction), "assumed"
        if stats is None or not stats.has("confidence") or self.ctx.step is None:
            raise ConfigError(self.ctx.workload.source, "confidence_skip",
                              "a traced workload with per-sample confidence (accelsim trace "
                              "records it at every step), or the parameter "
                              "assumed_skip_fraction")
        confidence = stats.confidence(self.ctx.step, self.name)
        confident = skipped(confidence["correct"], confidence["p_true"], self.params.threshold)
        return len(confident), int(np.count_nonzero(confident)), f"traced step {self.ctx.step}"

    def _kept(self, op) -> int | None:
        """Samples of ``op`` whose work is issued, or None when the op is not affected."""
        if op.phase not in BACKWARD or op.batch is None or not self.skipped:
            return None
        if op.batch.samples != self.samples:
            raise ConfigError(self.ctx.workload.source, f"ops.{op.name}",
                              f"a batch of {self.samples} samples, as the confidence "
                              f"statistics have", got=op.batch.samples)
        return self.samples - self.skipped

    def prepare(self, op):
        kept = self._kept(op)
        if kept is None or self.params.mapping != "repack":
            return op
        self.decided_ops += 1
        return op.with_samples(kept)

    def transform(self, op, plan):
        kept = self._kept(op)
        if kept is None or self.params.mapping != "holes" or len(plan) == 0:
            return plan
        self.decided_ops += 1
        macs = np.asarray(plan["macs"], dtype=np.int64)
        from accelsim.sim.onchip import scaled  # the engine's: imported when a run starts

        done = scaled(macs, kept, self.samples)  # the kept samples' share, exact in total
        return plan.with_columns(macs=done).with_skipped(int((macs - done).sum()))

    def finalize(self, stats: dict) -> None:
        stats[self.name] = {"step": self.ctx.step, "tau": self.params.threshold,
                            "samples": self.samples, "skipped_samples": self.skipped,
                            "skipped_fraction": self.skipped / self.samples if self.samples
                            else 0.0, "source": self.source, "mapping": self.params.mapping,
                            "ops_affected": self.decided_ops}

    def energy_pj(self) -> dict[str, float]:
        return {"decisions": self.samples * self.params.decision_energy_pj}
