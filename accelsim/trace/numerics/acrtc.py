"""ACRTC's numerics: what a reuse-buffer hit returns instead of the product it skips.

**What the hardware does** (:mod:`accelsim.techniques.acrtc`): each multiplier lane looks up its
operands, keyed with the low ``k`` fp16 mantissa bits masked; a hit returns the result stored by
the earlier lookup (a miss) that inserted the same masked key. In the stream the trace measures
hit rates on (:mod:`accelsim.trace.stats.reuse`: order n, k, m, a B element held while the A
column streams) consecutive lookups of a lane share the held element exactly, so a hit returns
``a' * b`` with ``b`` the current held element and ``a'`` an earlier streamed element of the
same masked key: only the streamed operand is perturbed, by at most one masked bucket. The
streamed operand is the layer input x in the forward GEMM and the output gradient dy in both
backward GEMMs (:mod:`accelsim.trace.operands`: A = im2col(x) for ``fwd``, A = dy for
``bwd_data`` and ``bwd_weight``).

**What this emulation computes.** Every streamed element of the GEMMs of ``phases`` is replaced
by its bucket representative, the element with its low mantissa bits cleared (truncated toward
zero), and the GEMM runs on that operand and the exact held one. The mask keeps ``10 - k``
explicit mantissa bits, the bits an fp16 key keeps, but is applied to the fp32 value (the
exact run trains in fp32; fp16's exponent range is not imposed, so no gradient underflows
because of the key's format). ``k`` follows ``k`` or ``schedule`` and the ``adaptive``
loss-plateau controller exactly as the simulator applies them (the controller sees this run's
own losses).

**Approximation.** (1) *Representative*: the real cached value comes from an earlier element
of the same bucket; the truncated element is the bucket's corner nearest zero, so its error
(less than one bucket: a relative ``2**(k - 10)``) bounds the per-product error of any hit, but
it is biased toward zero where the real one is not. (2) *Hits*: with ``hit_rate`` unset every
lookup is taken to hit, the largest perturbation the buffer can cause (real hit rates at k = 8
are 0.5 to 0.9 per op in the shipped trace, many of them exact-key hits of zeros, which this
emulation leaves exact too). With ``hit_rate = h`` each streamed element is replaced with
probability h (independent, seeded), a hit-rate-faithful share whose hits fall at random rather
than where keys repeat. A hit is decided per element, so a convolution input element hits in
all the windows that read it. ``granularity`` is not a parameter: a dot4 hit returns the sum of
four stored products ``a'_i * b_i`` with the same held ``b_i``, the same perturbation per
element.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
from pydantic import Field, model_validator

from accelsim.techniques.acrtc import (MANTISSA_BITS, AcrtcParams, AdaptiveParams, KPhase,
                                       tightenings)
from accelsim.techniques.base import TechniqueParams
from accelsim.trace import TraceError
from accelsim.trace.numerics import NUMERICS
from accelsim.trace.numerics.base import Emulation, Gemms

#: Explicit mantissa bits of fp32 and of fp16.
FP32_MANTISSA = 23


class AcrtcNumericsParams(TechniqueParams):
    k: int | None = AcrtcParams.model_fields["k"]
    schedule: list[KPhase] | None = AcrtcParams.model_fields["schedule"]
    adaptive: AdaptiveParams | None = AcrtcParams.model_fields["adaptive"]
    phases: list[Literal["fwd", "bwd_data", "bwd_weight"]] = AcrtcParams.model_fields["phases"]
    hit_rate: float | None = Field(
        None, ge=0, le=1, allow_inf_nan=False, description="share of streamed elements that "
        "hit (independent, seeded); unset: every lookup hits (the bound)",
        json_schema_extra={"unit": "fraction"})

    @model_validator(mode="after")
    def _strength(self) -> AcrtcNumericsParams:
        AcrtcParams(k=self.k, schedule=self.schedule, adaptive=self.adaptive)
        return self


def masked(x: torch.Tensor, k: int) -> torch.Tensor:
    """``x`` (fp32) with all but the top ``10 - k`` explicit mantissa bits cleared: the fp16
    key's kept bits, truncated toward zero, in fp32's exponent range."""
    if not 0 <= k <= MANTISSA_BITS:
        raise ValueError(f"k must be 0..{MANTISSA_BITS}, got {k}")
    cleared = FP32_MANTISSA - (MANTISSA_BITS - k)
    bits = x.contiguous().view(torch.int32)
    return (bits & torch.tensor(-(1 << cleared), dtype=torch.int32)).view(torch.float32)


class _AcrtcGemms(Gemms):
    def __init__(self, layer, emulation: AcrtcNumerics) -> None:
        super().__init__(layer)
        self.emulation = emulation

    def forward(self, x, w):
        return self.layer.forward(self.emulation.streamed(x, "fwd"), w)

    def grad_input(self, dy, w, x):
        return self.layer.grad_input(self.emulation.streamed(dy, "bwd_data"), w, x.shape)

    def grad_weight(self, x, dy, w):
        return self.layer.grad_weight(x, self.emulation.streamed(dy, "bwd_weight"), w.shape)


@NUMERICS.register("acrtc")
class AcrtcNumerics(Emulation):
    """Hits return the product of the masked streamed operand (module docstring)."""

    name = "acrtc"
    Params = AcrtcNumericsParams
    approximation = ("every lookup of the streamed operand (x forward, dy backward) hits and "
                     "returns the product of its bucket representative, the element with its "
                     "low k mantissa bits cleared, and the exact held operand: a bound on the "
                     "per-product error of a real hit, biased toward zero")

    def __init__(self, params, seed: int, steps_per_epoch: int) -> None:
        super().__init__(params, seed, steps_per_epoch)
        self.k = self._scheduled(0)
        self.k_by_step: list[int] = []
        self.tightened_at: list[int] = []
        self.generator = torch.Generator().manual_seed(seed)
        self.partial = params.hit_rate is not None and params.hit_rate < 1

    def _scheduled(self, step: int) -> int:
        p = self.params
        if p.k is not None:
            return p.k
        position = step
        if any(e.until_epoch is not None for e in p.schedule):
            position = step // self.steps_per_epoch
        for entry in p.schedule:
            if entry.bound is None or position < entry.bound[1]:
                return entry.k
        unit, bound = p.schedule[-1].bound
        raise TraceError(f"--numerics acrtc: schedule: an entry covering {unit} {position} "
                         f"(training step {step}); the last ends before {unit} {bound}: leave "
                         "its bound out to cover the rest of training")

    def begin_step(self, step: int, losses: list[float]) -> None:
        super().begin_step(step, losses)
        k = self._scheduled(step)
        a = self.params.adaptive
        if a is not None:
            window = a.window or self.steps_per_epoch
            if window >= 2 and len(losses) >= window:
                count, at, _ = tightenings(np.asarray(losses, dtype=float), step, window,
                                           a.threshold)
                self.tightened_at = at
                k = min(k, max(a.min_k, k - count * a.tighten_bits))
        self.k = k
        self.k_by_step.append(k)

    def streamed(self, t: torch.Tensor, phase: str) -> torch.Tensor:
        if phase not in self.params.phases or t.dtype != torch.float32:
            return t
        rep = masked(t, self.k)
        if not self.partial:
            return rep
        hit = torch.rand(t.shape, generator=self.generator) < self.params.hit_rate
        return torch.where(hit, rep, t)

    def gemms(self, name, layer):
        return _AcrtcGemms(layer, self)

    def describe(self) -> dict:
        changes = [[0, self.k_by_step[0]]] if self.k_by_step else []
        for step, k in enumerate(self.k_by_step):
            if changes and k != changes[-1][1]:
                changes.append([step, k])
        return {"k_from_step": changes, "adaptive_tightened_at_steps": self.tightened_at,
                "streamed_operands": {"fwd": "x", "bwd_data": "dy", "bwd_weight": "dy"},
                "phases": list(self.params.phases)}

