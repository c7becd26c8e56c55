"""The GEMMs of a captured aten call, in the zoo's table (torch-free).

A ``convolution`` is one forward GEMM; a ``convolution_backward`` is up to two: the input
gradient (bwd_data) and the weight gradient (bwd_weight, with the bias gradient when there is
one), split by its ``output_mask`` exactly as :mod:`accelsim.workload.training` lays a conv layer
out. ``addmm`` / ``mm`` reading a parameter as the second operand (``x @ W.T``) is a linear layer;
its backward ``mm`` calls are bwd_data when they read the parameter and bwd_weight when they
produce a tensor of the parameter's shape. Conv and linear GEMMs take their shapes from
:func:`accelsim.workload.training.conv_gemms` and :func:`~accelsim.workload.training.layer_gemms`
(for a grouped conv: per group, ``count`` groups; a strided conv's bwd_data GEMM is the col2im
lowering's, its scatter-add op added when the workload is built), so traced and zoo workloads of
the same network agree GEMM by GEMM. Any other product
(``bmm``, ``mm`` of two activations) is a ``matmul`` with the shapes as run.

Each :class:`GemmPart` also names its operands A and B by role: ``x`` (a forward activation),
``w`` (a parameter), ``dy`` (an output gradient), or ``a`` / ``b`` for a product of two
activations (the operands as passed).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from accelsim.workload.op import Gemm, Phase
from accelsim.workload.training import conv_gemms, layer_gemms


@dataclass(frozen=True)
class GemmPart:
    phase: Phase
    kind: str  # conv | linear | matmul
    gemm: Gemm
    operands: tuple[str, str]
    attrs: dict


def _pair(v) -> list[int]:
    return list(v) if isinstance(v, (list, tuple)) else [v]


def _plain(values: list[int]):
    """An int when all spatial dimensions agree (the zoo's square kernels), else the list."""
    return values[0] if len(set(values)) == 1 else values


def conv_geometry(x_shape, w_shape, y_shape, stride, padding, dilation, transposed,
                  groups) -> dict:
    """Zoo-style conv attributes (``cin``, ``cout``, ``h``, ``w``, ``r``, ``s``, ``stride``,
    ``pad``, ``ho``, ``wo``) plus ``groups``, ``dilation`` and ``transposed``. Spatial sizes of
    a 1-D or 3-D convolution are folded into ``h``/``r``/``ho`` (``w = s = wo = 1``)."""
    cin = x_shape[1]
    cout = y_shape[1]
    spatial_in, spatial_out = list(x_shape[2:]), list(y_shape[2:])
    kernel = list(w_shape[2:])
    if len(kernel) == 2:
        (h, w), (r, s), (ho, wo) = spatial_in, kernel, spatial_out
    else:
        h, w, r, s = math.prod(spatial_in), 1, math.prod(kernel), 1
        ho, wo = math.prod(spatial_out), 1
    return {"cin": cin, "cout": cout, "h": h, "w": w, "r": r, "s": s,
            "stride": _plain(_pair(stride)), "pad": _plain(_pair(padding)), "ho": ho, "wo": wo,
            "groups": groups, "dilation": _plain(_pair(dilation)), "transposed": bool(transposed)}


def linear_geometry(rows: int, in_features: int, out_features: int, batch: int) -> dict:
    tokens = rows // batch if rows % batch == 0 else rows
    return {"tokens": tokens, "in_features": in_features, "out_features": out_features,
            "rows": rows}


def linear_gemms(g: dict, batch: int) -> dict[Phase, Gemm]:
    per = batch if g["rows"] == batch * g["tokens"] else 1
    return layer_gemms("linear", g, per)


class GemmResolver:
    """Finds the GEMM parts of calls; forward calls are looked up by index for backward ones."""

    def __init__(self, calls: list, tensors: list, batch: int) -> None:
        self.calls = calls
        self.tensors = tensors
        self.batch = batch
        self._cache: dict[int, list[GemmPart]] = {}

    def is_param(self, ref) -> bool:
        return self.tensors[ref.id].origin == "param"

    def role(self, ref) -> str:
        origin = self.tensors[ref.id].origin
        if origin == "param":
            return "w"
        return "x" if origin in ("forward", "input", "external") else "dy"

    def parts(self, call) -> list[GemmPart]:
        if call.index not in self._cache:
            self._cache[call.index] = self._parts(call)
        return self._cache[call.index]

    def forward_part(self, call) -> GemmPart | None:
        """The forward GEMM of the forward call whose autograd node ran ``call``."""
        if call.node_call is None:
            return None
        owner = self.calls[call.node_call]
        parts = self.parts(owner)
        return parts[0] if parts else None

    def _parts(self, call) -> list[GemmPart]:
        a = call.args
        if call.op == "convolution":
            x, w = a[0], a[1]
            g = conv_geometry(x.shape, w.shape, call.out_shapes[0], a[3], a[4], a[5], a[6], a[8])
            return [GemmPart(Phase.FWD, "conv", conv_gemms(g, x.shape[0])[Phase.FWD],
                             ("x", "w"), g)]
        if call.op == "convolution_backward":
            dy, x, w = a[0], a[1], a[2]
            g = conv_geometry(x.shape, w.shape, dy.shape, a[4], a[5], a[6], a[7], a[9])
            table = conv_gemms(g, x.shape[0])
            mask = a[10]
            parts = []
            if mask[0]:
                parts.append(GemmPart(Phase.BWD_DATA, "conv", table[Phase.BWD_DATA],
                                      ("dy", "w"), g))
            if mask[1]:
                parts.append(GemmPart(Phase.BWD_WEIGHT, "conv", table[Phase.BWD_WEIGHT],
                                      ("dy", "x"), g))
            return parts
        if call.op in ("mm", "addmm"):
            m1, m2 = (a[0], a[1]) if call.op == "mm" else (a[1], a[2])
            return [self._matrix_product(call, m1, m2)]
        if call.op in ("bmm", "baddbmm"):
            m1, m2 = (a[0], a[1]) if call.op == "bmm" else (a[1], a[2])
            gemm = Gemm(m1.shape[1], m2.shape[2], m1.shape[2], count=m1.shape[0])
            phase = Phase.FWD if call.stage == "forward" else Phase.BWD_DATA
            return [GemmPart(phase, "matmul", gemm, ("a", "b"),
                             {"count": m1.shape[0], "m": gemm.m, "n": gemm.n, "k": gemm.k})]
        return []

    def _matrix_product(self, call, m1, m2) -> GemmPart:
        (rows, inner), cols = m1.shape, m2.shape[1]
        raw = Gemm(rows, cols, inner)
        raw_attrs = {"count": 1, "m": rows, "n": cols, "k": inner}
        if call.stage == "forward":
            if self.is_param(m2) and not self.is_param(m1):
                g = linear_geometry(rows, inner, cols, self.batch)
                return GemmPart(Phase.FWD, "linear", linear_gemms(g, self.batch)[Phase.FWD],
                                ("x", "w"), g)
            return GemmPart(Phase.FWD, "matmul", raw, ("a", "b"), raw_attrs)
        owner = self.forward_part(call)
        reads_param = self.is_param(m1) or self.is_param(m2)
        if owner is not None and owner.kind == "linear":
            phase = Phase.BWD_DATA if reads_param else Phase.BWD_WEIGHT
            operands = ("dy", "w") if reads_param else ("dy", "x")
            return GemmPart(phase, "linear", linear_gemms(owner.attrs, self.batch)[phase],
                            operands, owner.attrs)
        return GemmPart(Phase.BWD_DATA, "matmul", raw, (self.role(m1), self.role(m2)),
                        raw_attrs)
