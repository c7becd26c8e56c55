"""DAA's numerics: in each pair of products one is computed at high precision, one at low.

**What the hardware does** (TECHNIQUES.md section 3; statistics in
:mod:`accelsim.trace.stats.pairs`): each PE of an output-stationary array takes two operand
pairs per cycle, the even and the odd reduction index of its output (k = 2j and 2j + 1), and owns
one high- and one low-precision multiplier; a magnitude proxy routes the larger product to the
high-precision unit (if one product is zero, the other is the larger and takes it).

**What this emulation computes**, exactly per pair for every GEMM of ``phases``: with C = A B
(A of M x K, B of K x N, K padded to even with a zero), for every output and pair j the product
the router picks gets ``high``-precision operands and the other ``low``-precision ones; the
two products are summed in fp32 with the rest of the reduction. The parameters are the
simulator technique's (:class:`accelsim.techniques.daa.DaaParams`: ``high``, ``low``,
``phases``) with the same defaults on the reproduction's hwconfig
(``hwconfigs/scalesim_32x32_os.yaml``, an fp16 array; :mod:`accelsim.reproduce.daa`): ``high``
fp16, the array's datatype, which the simulator takes when ``high`` is unset (training has no
hwconfig, so the emulation names it), and ``low`` int8, the simulator's default, whose cost
model is an 8-bit integer multiply; ``router`` is the emulation's own (the simulator's router
is the exponent proxy with zero detect, the default here). The router (``router``):
``exponent`` (the hardware's proxy: the larger sum of the operands' binary exponents,
``frexp``; a zero operand counts as the smallest) or ``magnitude`` (the larger |product|);
ties go to the even stream. Rounding a product's operands is what a low-precision multiplier
does (its inputs are narrow): ``bf16`` and ``fp16`` round to nearest even in their own range
(fp16 values beyond 65504 saturate; small fp16 values go subnormal or to zero, as without loss
scaling); ``int8``, ``fp8_e4m3`` and ``fp8_e5m2`` scale the whole operand tensor (each GEMM
operand matrix, A and B separately, at every call) by its largest magnitude onto the format's
largest value first: for int8 symmetric max-abs scaling, x -> round(x * 127 / max|x|) with
round half to even, 255 levels, zero exact, dequantised by the same scale (the simulator's int8
cost model implies an 8-bit integer multiplier and nothing finer, such as per-channel scales);
the fp8 formats are kept as choices; ``fp32`` leaves operands as they are.

The GEMMs, as the trace lowers them (:mod:`accelsim.trace.operands`): a linear layer's
``x @ W.T`` (fwd), ``dy @ W`` (bwd_data) and ``dy.T @ x`` (bwd_weight); a convolution's
im2col(x) @ W (fwd, ``unfold``), dy @ W^T whose column sums ``fold`` adds into dx (bwd_data: the
col2im-lowered form, so pairs run along the output channels and fold's sums are exact), and
dy^T @ im2col(x) (bwd_weight). The products are materialised in chunks of output rows, so the
cost is a few passes over M x K x N elements per GEMM: tractable for an MLP or a small CNN, not
for ResNet-18 at batch 32 (about 5e10 products a step).
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import Field

from accelsim.techniques.base import TechniqueParams
from accelsim.techniques.daa import DaaParams, Datatype
from accelsim.trace import TraceError
from accelsim.trace.numerics import NUMERICS
from accelsim.trace.numerics.base import PHASES, Emulation, Gemms

#: The simulator's datatypes and the 8-bit floating-point formats.
Format = Datatype | Literal["fp8_e4m3", "fp8_e5m2"]
#: The array datatype of the reproduction's hwconfig (scalesim_32x32_os.yaml): the simulator's
#: ``high`` there.
ARRAY_DATATYPE = "fp16"
#: Largest magnitude of each per-tensor-scaled format.
SCALED = {"fp8_e4m3": 448.0, "fp8_e5m2": 57344.0, "int8": 127.0}
#: Elements of one chunk of products (bounds the memory of a paired GEMM).
CHUNK_ELEMENTS = 1 << 22
#: The exponent a zero operand is given by the router (below any fp32 exponent).
ZERO_EXPONENT = -1000


class DaaNumericsParams(TechniqueParams):
    high: Format = Field(
        ARRAY_DATATYPE, description="precision of the high-precision multiplier's operands; "
        "default the array datatype of the reproduction's hwconfig (fp16), which the "
        "simulator's daa takes when high is unset")
    low: Format = Field(
        DaaParams.model_fields["low"].default, description="precision of the low-precision multiplier's operands (8-bit "
        "formats scaled per operand tensor, int8 symmetric max-abs); default the simulator's")
    router: Literal["exponent", "magnitude"] = Field(
        "exponent", description="which product is the larger: the exponent-sum proxy or the "
        "exact magnitude")
    phases: list[Literal["fwd", "bwd_data", "bwd_weight"]] = Field(
        list(PHASES), min_length=1, description="training GEMMs that use DAA")


def rounded(x: torch.Tensor, fmt: str) -> torch.Tensor:
    """``x`` (fp32) with its values rounded to ``fmt`` and back (module docstring)."""
    if fmt == "fp32":
        return x
    if fmt == "bf16":
        return x.to(torch.bfloat16).float()
    if fmt == "fp16":
        return x.clamp(-65504.0, 65504.0).to(torch.float16).float()
    top = SCALED[fmt]
    amax = float(x.abs().max()) if x.numel() else 0.0
    if amax == 0.0:
        return x.clone()
    scale = amax / top
    y = x / scale
    if fmt == "int8":
        y = torch.round(y).clamp(-top, top)
    else:
        dtype = torch.float8_e4m3fn if fmt == "fp8_e4m3" else torch.float8_e5m2
        y = y.clamp(-top, top).to(dtype).float()
    return y * scale


def _exponents(x: torch.Tensor) -> torch.Tensor:
    _, exp = torch.frexp(x)
    return torch.where(x == 0, torch.full_like(exp, ZERO_EXPONENT), exp)


def paired_matmul(a: torch.Tensor, b: torch.Tensor, high: str, low: str,
                  router: str = "exponent") -> torch.Tensor:
    """``a @ b`` with each pair of products (reduction indices 2j, 2j + 1) split between a
    ``high``- and a ``low``-precision multiplier (module docstring)."""
    if a.shape[1] % 2:
        a = F.pad(a, (0, 1))
        b = F.pad(b, (0, 0, 0, 1))
    ah, al, bh, bl = rounded(a, high), rounded(a, low), rounded(b, high), rounded(b, low)
    j, n = a.shape[1] // 2, b.shape[1]
    out = torch.empty(a.shape[0], n, dtype=torch.float32)
    rows = max(1, CHUNK_ELEMENTS // max(1, j * n))
    if router == "exponent":
        ea, eb = _exponents(a), _exponents(b)
        gap_a = ea[:, 0::2] - ea[:, 1::2]  # even stream larger when gap_a >= eb odd - even
        gap_b = eb[1::2] - eb[0::2]
    for start in range(0, a.shape[0], rows):
        s = slice(start, start + rows)

        def products(x, y, stream):
            return x[s, stream::2, None] * y[None, stream::2, :]

        if router == "exponent":
            even_high = gap_a[s, :, None] >= gap_b[None]
        else:
            even_high = products(a, b, 0).abs() >= products(a, b, 1).abs()
        pair = torch.where(even_high, products(ah, bh, 0) + products(al, bl, 1),
                           products(al, bl, 0) + products(ah, bh, 1))
        out[s] = pair.sum(dim=1)
    return out


class _DaaGemms(Gemms):
    def __init__(self, layer, params: DaaNumericsParams) -> None:
        super().__init__(layer)
        self.p = params

    def _mm(self, a, b):
        return paired_matmul(a, b, self.p.high, self.p.low, self.p.router)

    def _conv(self):
        m = self.layer.module
        return dict(kernel_size=m.kernel_size, dilation=m.dilation, padding=m.padding,
                    stride=m.stride)

    def forward(self, x, w):
        if "fwd" not in self.p.phases:
            return super().forward(x, w)
        if not self.layer.is_conv:
            flat = x.reshape(-1, x.shape[-1])
            return self._mm(flat, w.T).reshape(*x.shape[:-1], w.shape[0])
        m = self.layer.module
        cols = F.unfold(x, **self._conv())  # (B, Cin*R*S, L)
        batch, depth, length = cols.shape
        a = cols.transpose(1, 2).reshape(batch * length, depth)
        y = self._mm(a, w.reshape(w.shape[0], -1).T)  # (B*L, Cout)
        ho, wo = self._out_size(x)
        return y.reshape(batch, ho, wo, m.out_channels).permute(0, 3, 1, 2).contiguous()

    def _out_size(self, x):
        m = self.layer.module
        size = []
        for i in range(2):
            span = m.dilation[i] * (m.kernel_size[i] - 1) + 1
            size.append((x.shape[2 + i] + 2 * m.padding[i] - span) // m.stride[i] + 1)
        return size

    def grad_input(self, dy, w, x):
        if "bwd_data" not in self.p.phases:
            return super().grad_input(dy, w, x)
        if not self.layer.is_conv:
            flat = dy.reshape(-1, dy.shape[-1])
            return self._mm(flat, w).reshape(*dy.shape[:-1], w.shape[1])
        batch, cout = dy.shape[:2]
        a = dy.permute(0, 2, 3, 1).reshape(-1, cout)  # (B*L, Cout)
        cols = self._mm(a, w.reshape(cout, -1))  # (B*L, Cin*R*S)
        length = dy.shape[2] * dy.shape[3]
        cols = cols.reshape(batch, length, -1).transpose(1, 2)
        return F.fold(cols, x.shape[2:], **self._conv())

    def grad_weight(self, x, dy, w):
        if "bwd_weight" not in self.p.phases:
            return super().grad_weight(x, dy, w)
        if not self.layer.is_conv:
            return self._mm(dy.reshape(-1, dy.shape[-1]).T, x.reshape(-1, x.shape[-1]))
        cout = dy.shape[1]
        cols = F.unfold(x, **self._conv())
        b = cols.transpose(1, 2).reshape(-1, cols.shape[1])  # (B*L, Cin*R*S)
        a = dy.permute(1, 0, 2, 3).reshape(cout, -1)  # (Cout, B*L)
        return self._mm(a, b).reshape(w.shape)


@NUMERICS.register("daa")
class DaaNumerics(Emulation):
    """Every pair of products split between a high- and a low-precision multiplier (module
    docstring)."""

    name = "daa"
    Params = DaaNumericsParams
    approximation = ("exact per pair of reduction indices: the product the router takes as "
                     "the larger is computed from operands rounded to the high precision, "
                     "the smaller from operands rounded to the low precision (8-bit formats "
                     "scaled per operand tensor, int8 symmetric max-abs); sums in fp32")

    def gemms(self, name, layer):
        if layer.is_conv and layer.module.groups != 1:
            raise TraceError(f"--numerics daa: conv layer {name} has groups="
                             f"{layer.module.groups}; the emulation takes ungrouped "
                             "convolutions")
        return _DaaGemms(layer, self.params)
