"""The GEMM operands of a captured call as matrices, and sampled tiles of them (torch).

For the GEMMs of :mod:`accelsim.trace.gemms` the operands A (M x K) and B (K x N) are, for a 2-D
convolution with input x, weight w and output gradient dy (im2col ordering: channel, kernel row,
kernel column):

========== ============================================ =========================================
phase      A                                            B
========== ============================================ =========================================
fwd        im2col(x): one row per output pixel          w as (Cin*R*S) x Cout
bwd_data   col2im-lowered (strided, or H*W != Ho*Wo):    w as Cout x (Cin*R*S)
           dy as (output pixels) x Cout
bwd_data   stride 1, H*W = Ho*Wo: im2col of dy padded    w flipped, as (Cout*R*S) x Cin
           (the transposed convolution): one row per
           input pixel
bwd_weight dy as Cout x (output pixels)                 im2col(x): (output pixels) x (Cin*R*S)
========== ============================================ =========================================

(:func:`accelsim.workload.training.col2im_lowered` decides between the two bwd_data forms; the
first's product is the partial products that col2im adds into dx.) For a linear layer x @ w.T
(fwd), dy @ w (bwd_data), dy.T @ x (bwd_weight). A grouped conv
is sampled in its first group; any other product is taken as passed (the first of a batch of
products). Only a tile is materialised: ``rows`` x ``depth`` of A and ``depth`` x ``cols`` of B
at a random (seeded) position, so statistics cost the same for every layer size.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from accelsim.workload.training import col2im_lowered


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().float().cpu().numpy()


def _start(size: int, want: int, rng: np.random.Generator, align: int = 1) -> int:
    if size <= want:
        return 0
    return int(rng.integers(0, (size - want) // align + 1)) * align


def im2col_rows(x: torch.Tensor, g: dict, first: int, count: int) -> torch.Tensor:
    """Rows ``first`` .. ``first + count`` of im2col(x) (rows are (image, output pixel))."""
    pixels = g["ho"] * g["wo"]
    i0, i1 = first // pixels, (first + count - 1) // pixels
    cols = F.unfold(x[i0:i1 + 1], (g["r"], g["s"]), dilation=g["dilation"], padding=g["pad"],
                    stride=g["stride"])  # (n, C*R*S, pixels)
    rows = cols.permute(0, 2, 1).reshape(-1, cols.shape[1])
    offset = first - i0 * pixels
    return rows[offset:offset + count]


def dilated_gradient(dy: torch.Tensor, g: dict) -> tuple[torch.Tensor, dict]:
    """dy with stride-1 zeros inserted and padded so that a stride-1 convolution with the
    flipped kernel gives the input gradient; and that convolution's geometry."""
    stride, dilation, pad = _two(g["stride"]), _two(g["dilation"]), _two(g["pad"])
    n, c, ho, wo = dy.shape
    spread = dy.new_zeros(n, c, (ho - 1) * stride[0] + 1, (wo - 1) * stride[1] + 1)
    spread[:, :, ::stride[0], ::stride[1]] = dy
    kernel = (g["r"], g["s"])
    edge = [(kernel[i] - 1) * dilation[i] - pad[i] for i in (0, 1)]
    spread = F.pad(spread, (edge[1], edge[1], edge[0], edge[0]))
    h = spread.shape[2] - (kernel[0] - 1) * dilation[0]
    w = spread.shape[3] - (kernel[1] - 1) * dilation[1]
    geometry = {"r": g["r"], "s": g["s"], "dilation": dilation, "pad": 0, "stride": 1,
                "ho": h, "wo": w}
    return spread, geometry


def _two(v) -> list[int]:
    v = list(v) if isinstance(v, (list, tuple)) else [v]
    return v * 2 if len(v) == 1 else v


def gemm_tile(kind: str, phase: str, tensors: dict[str, torch.Tensor], attrs: dict,
              shape: tuple[int, int, int], rng: np.random.Generator,
              raw: tuple[torch.Tensor, torch.Tensor] | None = None):
    """A (rows x depth) and B (depth x cols) tiles of a GEMM as numpy arrays, or None when the
    layout is not one of the table's (a 1-D or 3-D convolution)."""
    rows, depth, cols = shape
    if kind == "conv":
        if attrs.get("transposed") or tensors["w"].dim() != 4:
            return None
        groups = attrs.get("groups", 1)
        w = tensors["w"][: tensors["w"].shape[0] // groups]
        cin, cout = w.shape[1], w.shape[0]
        g = dict(attrs, dilation=_two(attrs["dilation"]), pad=_two(attrs["pad"]),
                 stride=_two(attrs["stride"]))
        if phase == "fwd":
            x = tensors["x"][:, :cin]
            m = x.shape[0] * g["ho"] * g["wo"]
            m0, k0, n0 = (_start(m, rows, rng), _start(cin * g["r"] * g["s"], depth, rng),
                          _start(cout, cols, rng))
            a = im2col_rows(x, g, m0, min(rows, m))[:, k0:k0 + depth]
            b = w.reshape(cout, -1).t()[k0:k0 + depth, n0:n0 + cols]
        elif phase == "bwd_data" and col2im_lowered(attrs):
            dy = tensors["dy"][:, :cout]
            rows_of_dy = dy.permute(0, 2, 3, 1).reshape(-1, cout)
            m0, k0, n0 = (_start(rows_of_dy.shape[0], rows, rng), _start(cout, depth, rng),
                          _start(cin * g["r"] * g["s"], cols, rng))
            a = rows_of_dy[m0:m0 + rows, k0:k0 + depth]
            b = w.reshape(cout, -1)[k0:k0 + depth, n0:n0 + cols]
        elif phase == "bwd_data":
            spread, gd = dilated_gradient(tensors["dy"][:, :cout], g)
            m = spread.shape[0] * gd["ho"] * gd["wo"]
            m0, k0, n0 = (_start(m, rows, rng), _start(cout * g["r"] * g["s"], depth, rng),
                          _start(cin, cols, rng))
            a = im2col_rows(spread, gd, m0, min(rows, m))[:, k0:k0 + depth]
            b = w.flip(2, 3).permute(0, 2, 3, 1).reshape(-1, cin)[k0:k0 + depth, n0:n0 + cols]
        else:
            x, dy = tensors["x"][:, :cin], tensors["dy"][:, :cout]
            pixels = dy.shape[0] * g["ho"] * g["wo"]
            m0, k0, n0 = (_start(cout, rows, rng), _start(pixels, depth, rng),
                          _start(cin * g["r"] * g["s"], cols, rng))
            count = min(depth, pixels)
            a = dy.permute(1, 0, 2, 3).reshape(cout, -1)[m0:m0 + rows, k0:k0 + count]
            b = im2col_rows(x, g, k0, count)[:, n0:n0 + cols]
        return _np(a), _np(b)
    if kind == "linear":
        out_f, in_f = attrs["out_features"], attrs["in_features"]
        matrices = {"fwd": lambda: (tensors["x"].reshape(-1, in_f), tensors["w"].t()),
                    "bwd_data": lambda: (tensors["dy"].reshape(-1, out_f), tensors["w"]),
                    "bwd_weight": lambda: (tensors["dy"].reshape(-1, out_f).t(),
                                           tensors["x"].reshape(-1, in_f))}
        a_full, b_full = matrices[phase]()
    elif raw is not None:
        a_full, b_full = (t[0] if t.dim() == 3 else t for t in raw)
    else:
        return None
    m0 = _start(a_full.shape[0], rows, rng)
    k0 = _start(a_full.shape[1], depth, rng)
    n0 = _start(b_full.shape[1], cols, rng)
    return (_np(a_full[m0:m0 + rows, k0:k0 + depth]), _np(b_full[k0:k0 + depth, n0:n0 + cols]))
