"""The emulation contract and the GEMMs of a layer's training step (torch).

An :class:`Emulation` is registered in :data:`accelsim.trace.numerics.NUMERICS` under the name
of the technique whose numerics it reproduces, with ``Params`` (pydantic, named as the
simulator technique's parameters where they mean the same), an ``approximation`` (one sentence:
what it approximates) and a :meth:`~Emulation.gemms` method giving, for one layer, the three
training GEMMs as the technique computes them. :func:`applied` puts an emulation on every
``Conv2d`` and ``Linear`` of a model for the duration of a ``with`` block: each forward goes
through :class:`_LayerStep`, a custom autograd Function whose forward is the emulation's forward
GEMM and whose backward its backward-data and backward-weight GEMMs (the bias is added outside,
so its gradient is torch's own). A fresh emulation is made for every training run: its state
(reuse state, sensitivities, random streams) never leaks from one run to the next.

:class:`LayerGemms` holds a layer's exact GEMMs (the forward and the two gradients of a
convolution or a linear layer, without bias); an emulation changes their operands or replaces
them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from contextlib import contextmanager
from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F

from accelsim.techniques.base import TechniqueParams
from accelsim.trace import TraceError

#: The training GEMMs, named as the simulator's phases.
PHASES = ("fwd", "bwd_data", "bwd_weight")


@dataclass(frozen=True)
class LayerGemms:
    """The exact GEMMs of one ``Conv2d`` or ``Linear`` (bias excluded)."""

    module: torch.nn.Module

    @property
    def is_conv(self) -> bool:
        return isinstance(self.module, torch.nn.Conv2d)

    def _conv_args(self) -> tuple:
        m = self.module
        return m.stride, m.padding, m.dilation, m.groups

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        if self.is_conv:
            return F.conv2d(x, w, None, *self._conv_args())
        return F.linear(x, w)

    def grad_input(self, dy: torch.Tensor, w: torch.Tensor, input_shape) -> torch.Tensor:
        if self.is_conv:
            return torch.nn.grad.conv2d_input(input_shape, w, dy, *self._conv_args())
        return dy @ w

    def grad_weight(self, x: torch.Tensor, dy: torch.Tensor, weight_shape) -> torch.Tensor:
        if self.is_conv:
            return torch.nn.grad.conv2d_weight(x, weight_shape, dy, *self._conv_args())
        return dy.reshape(-1, dy.shape[-1]).T @ x.reshape(-1, x.shape[-1])

    def channel_axis(self, x: torch.Tensor) -> int:
        """The axis of the input neurons' channels: 1 for a feature map, the last for a
        vector."""
        return 1 if self.is_conv else x.dim() - 1


class Gemms:
    """One layer's GEMMs under an emulation; the default computes them exactly."""

    def __init__(self, layer: LayerGemms) -> None:
        self.layer = layer

    def forward(self, x, w):
        return self.layer.forward(x, w)

    def grad_input(self, dy, w, x):
        return self.layer.grad_input(dy, w, x.shape)

    def grad_weight(self, x, dy, w):
        return self.layer.grad_weight(x, dy, w.shape)


class _LayerStep(torch.autograd.Function):
    """y = the emulation's forward GEMM; dx, dW = its backward GEMMs."""

    @staticmethod
    def forward(ctx, x, w, gemms: Gemms):
        ctx.save_for_backward(x, w)
        ctx.gemms = gemms
        return gemms.forward(x, w)

    @staticmethod
    def backward(ctx, dy):
        x, w = ctx.saved_tensors
        dx = ctx.gemms.grad_input(dy, w, x) if ctx.needs_input_grad[0] else None
        dw = ctx.gemms.grad_weight(x, dy, w) if ctx.needs_input_grad[1] else None
        return dx, dw, None


class Emulation(ABC):
    """Base class: a technique's numerics on the GEMM layers of one training run."""

    name: ClassVar[str] = "emulation"
    Params: ClassVar[type[TechniqueParams]] = TechniqueParams
    #: One sentence: what the emulation approximates (written into the accuracy document).
    approximation: ClassVar[str] = ""

    def __init__(self, params, seed: int, steps_per_epoch: int) -> None:
        self.params = params
        self.seed = seed
        self.steps_per_epoch = steps_per_epoch
        self.step = 0
        self.training = True

    def begin_step(self, step: int, losses: list[float]) -> None:
        """Called before training step ``step`` with the losses of the steps before it."""
        self.step = step

    @abstractmethod
    def gemms(self, name: str, layer: LayerGemms) -> Gemms:
        """The GEMMs of the layer ``name`` as the technique computes them."""

    def describe(self) -> dict:
        """What the emulation did over the run, beyond its parameters (for the document)."""
        return {}

    def layer_forward(self, name: str, module: torch.nn.Module, x: torch.Tensor):
        y = _LayerStep.apply(x, module.weight, self.gemms(name, LayerGemms(module)))
        if module.bias is None:
            return y
        return y + (module.bias.view(1, -1, 1, 1) if isinstance(module, torch.nn.Conv2d)
                    else module.bias)


def gemm_layers(model: torch.nn.Module) -> list[tuple[str, torch.nn.Module]]:
    """The ``Conv2d`` and ``Linear`` modules of ``model`` with their names, in order."""
    found = []
    for name, module in model.named_modules():
        if isinstance(module, torch.nn.Conv2d):
            if module.padding_mode != "zeros" or isinstance(module.padding, str):
                raise TraceError(f"--numerics: conv layer {name} has padding "
                                 f"{module.padding!r} ({module.padding_mode}); emulations "
                                 "take numeric zero padding only")
            found.append((name, module))
        elif isinstance(module, torch.nn.Linear):
            found.append((name, module))
    return found


@contextmanager
def applied(model: torch.nn.Module, emulation: Emulation):
    """Route the forward of every GEMM layer of ``model`` through ``emulation`` inside the
    block (an instance attribute shadows the class's ``forward``; removed afterwards)."""
    layers = gemm_layers(model)
    if not layers:
        raise TraceError("--numerics: the model has no Conv2d or Linear layer to apply the "
                         "technique to")
    for name, module in layers:
        module.forward = (lambda x, _n=name, _m=module: emulation.layer_forward(_n, _m, x))
    try:
        yield layers
    finally:
        for _, module in layers:
            del module.forward
