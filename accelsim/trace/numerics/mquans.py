"""Mquans' numerics: forward outputs updated from the paired previous input's, on quantised inputs.

**What the hardware does** (:mod:`accelsim.techniques.mquans`): a layer's input neurons are
linearly quantised, the ``critical_fraction`` most sensitive (largest mean |dL/dx|) to
``critical_bits``, the rest to ``tolerant_bits``; the forward output is updated from the output
of the paired previous input, ``out_t = out_{t-1} + sum over changed inputs of w_t (q_t -
q_{t-1})``, with ``pairing: epoch`` (the pairing ``accelsim trace`` measures): the same sample
one epoch earlier. Only forward GEMMs are reused; the backward GEMMs run in full.

**What this emulation computes**, per ``Conv2d`` / ``Linear`` in training, with the training
set read in the trace's fixed order (batch slot ``step mod steps_per_epoch`` holds the same
samples every epoch):

* the grid: ``2**b`` levels over ``[min, max]`` of the slot's input at its first visit (the
  first epoch), kept for that slot and layer afterwards (an input outside it is clipped to the
  end levels); a value maps to its level's centre (``lo + (q + 1/2) (hi - lo) / 2**b``), the
  levels of :func:`accelsim.trace.stats.change.quantize`;
* the classes: input channels ranked by mean |dL/dx| of the most recent backward pass of
  the layer; the top ``max(1, round(critical_fraction * C))`` take ``critical_bits``, the
  others ``tolerant_bits``. Before a layer's first backward pass, and for a layer whose input
  gets no gradient (the first layer), every channel takes ``critical_bits``;
* the forward: at the slot's first visit ``y = deq(q) W`` (quantised, nothing to reuse); at
  later visits ``y = y_prev + (deq(q) - deq(q_prev)) W_t`` with ``y_prev`` the output this
  layer produced for the slot one epoch earlier and ``deq(q_prev)`` the quantised input it was
  produced from (both kept per slot and layer; the reuse state of the hardware). An input
  whose level did not change adds nothing, as in the hardware. So ``y`` carries, besides the
  quantisation of its input, the weight drift ``deq(q_j) (W_j - W_{j+1})`` of every earlier
  epoch j of the slot (the stale part of the stored output) — the error epoch pairing brings;
* the backward: exact, from the unquantised input and the weights (dx = dy W, dW = dy^T x), as
  the hardware's backward GEMMs run in full on the stored activations;
* evaluation (held-out samples, no paired previous input): ``y = deq(q) W`` on the sample
  batch's own grid, classes as in training; with ``reuse: false`` training computes every
  forward this way too (the quantisation alone, to tell its cost from the reuse's).

**Approximations.** The grid of a slot is fixed at the slot's first epoch (the paper does not
say how ranges are chosen; Riera et al. fix them per layer); the class of a channel may change
from step to step as its sensitivity does (an input re-quantised at another bit-width counts as
changed). The bias is added after the reuse, exactly.
"""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field, model_validator

from accelsim.techniques.base import TechniqueParams
from accelsim.techniques.mquans import MquansParams
from accelsim.trace.numerics import NUMERICS
from accelsim.trace.numerics.base import Emulation, Gemms

_FIELDS = MquansParams.model_fields


class MquansNumericsParams(TechniqueParams):
    critical_bits: int = Field(6, ge=1, le=24, description=_FIELDS["critical_bits"].description,
                               json_schema_extra={"unit": "bits"})
    tolerant_bits: int = Field(4, ge=1, le=24, description=_FIELDS["tolerant_bits"].description,
                               json_schema_extra={"unit": "bits"})
    critical_fraction: float = _FIELDS["critical_fraction"]
    pairing: Literal["epoch"] = Field("epoch", description="consecutive inputs: the same "
                                      "sample one epoch later (the tracer's fixed order)")
    reuse: bool = Field(True, description="update the stored outputs (the technique); false: "
                        "quantisation alone, every forward computed in full from deq(q)")

    @model_validator(mode="after")
    def _classes(self) -> MquansNumericsParams:
        MquansParams(critical_bits=self.critical_bits, tolerant_bits=self.tolerant_bits,
                     critical_fraction=self.critical_fraction)
        return self


def quantized(x: torch.Tensor, lo: float, hi: float, bits: torch.Tensor) -> torch.Tensor:
    """``x`` at the centres of ``2**bits`` levels over ``[lo, hi]`` (``bits`` broadcast over
    ``x``; values outside clipped to the end levels; a zero-width range maps to ``lo``)."""
    levels = torch.pow(2.0, bits.to(torch.float32))
    if hi <= lo:
        return torch.full_like(x, lo)
    q = torch.clamp(torch.floor((x - lo) * levels / (hi - lo)), torch.zeros_like(levels),
                    levels - 1)
    return lo + (q + 0.5) * (hi - lo) / levels


class _MquansGemms(Gemms):
    def __init__(self, layer, emulation: MquansNumerics, name: str) -> None:
        super().__init__(layer)
        self.emulation = emulation
        self.name = name

    def forward(self, x, w):
        e, layer = self.emulation, self.layer
        bits = e.bits(self.name, x, layer.channel_axis(x))
        if not e.training or not e.params.reuse:
            return layer.forward(quantized(x, float(x.min()), float(x.max()), bits), w)
        key = (self.name, e.step % e.steps_per_epoch)
        state = e.state.get(key)
        if state is None or state["input"].shape != x.shape:
            lo, hi = float(x.min()), float(x.max())
            q = quantized(x, lo, hi, bits)
            y = layer.forward(q, w)
        else:
            lo, hi = state["grid"]
            q = quantized(x, lo, hi, bits)
            delta = q - state["input"]
            e.changed += int((delta != 0).sum())
            e.compared += delta.numel()
            y = state["output"] + layer.forward(delta, w)
        e.state[key] = {"grid": (lo, hi), "input": q, "output": y.detach().clone()}
        return y

    def grad_input(self, dy, w, x):
        dx = super().grad_input(dy, w, x)
        axis = self.layer.channel_axis(dx)
        dims = [d for d in range(dx.dim()) if d != axis]
        self.emulation.sensitivity[self.name] = dx.abs().mean(dim=dims)
        return dx


@NUMERICS.register("mquans")
class MquansNumerics(Emulation):
    """Quantised inputs per neuron class, delta updates of stored outputs (module
    docstring)."""

    name = "mquans"
    Params = MquansNumericsParams
    approximation = ("forward GEMMs update the output stored one epoch earlier for the same "
                     "samples by the change of the per-class linearly quantised input "
                     "(stale-weight error included), each slot's quantisation range fixed at "
                     "its first epoch; backward GEMMs exact")

    def __init__(self, params, seed: int, steps_per_epoch: int) -> None:
        super().__init__(params, seed, steps_per_epoch)
        self.state: dict = {}
        self.sensitivity: dict[str, torch.Tensor] = {}
        self.changed = 0
        self.compared = 0

    def bits(self, name: str, x: torch.Tensor, axis: int) -> torch.Tensor:
        """Per input channel, its bit-width, shaped to broadcast over ``x``."""
        p = self.params
        channels = x.shape[axis]
        shape = [1] * x.dim()
        shape[axis] = channels
        found = self.sensitivity.get(name)
        bits = torch.full((channels,), p.critical_bits, dtype=torch.int32)
        if found is not None and len(found) == channels:
            count = max(1, round(p.critical_fraction * channels))
            bits.fill_(p.tolerant_bits)
            order = torch.argsort(-found, stable=True)
            bits[order[:count]] = p.critical_bits
        return bits.view(shape)

    def gemms(self, name, layer):
        return _MquansGemms(layer, self, name)

    def describe(self) -> dict:
        return {"reused_forward_inputs_changed_share":
                (self.changed / self.compared if self.compared else None),
                "first_layer_and_first_step_bits": self.params.critical_bits}
