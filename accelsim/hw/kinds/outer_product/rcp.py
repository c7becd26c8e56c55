"""Redundant Cartesian products (RCPs) of an outer-product convolution, counted from masks.

An outer-product accelerator multiplies every non-zero of an operand plane A (coordinates
``x`` per spatial axis) with every non-zero of an operand plane B (coordinates ``u``). The
product lands at output coordinate ``o = (a_coef * x + b_coef * u + offset) / divisor`` on each
axis; it is *valid* when ``o`` is integral and inside ``[0, out_size)`` on both axes, else it
is an RCP, computed and thrown away. The three training convolutions (input x, weight w,
output gradient dy; stride s, padding p):

=========== ====== ======= =================================== ==========
phase       A      B       output coordinate                   range
=========== ====== ======= =================================== ==========
fwd         x      w (r)   (x - r + p) / s                     [0, Wo)
bwd_data    dy (q) w (r)   q * s + r - p   (the input position) [0, W)
bwd_weight  x      dy (q)  x - q * s + p   (the kernel tap)     [0, R)
=========== ====== ======= =================================== ==========

Validity is separable by axis, so the valid pairs of two masks are a matrix product:
``valid = sum(B * (V_h @ A @ V_w.T))`` with ``V[u, x]`` the validity of a coordinate pair on
one axis. :func:`count_exact` does that for any batch of plane pairs; :func:`count_expected`
gives the expectation for independent random masks of given densities (the statistical
fallback when a workload has no masks).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Axis:
    """One spatial axis of an outer-product convolution (see the module docstring)."""

    a_size: int
    b_size: int
    a_coef: int
    b_coef: int
    offset: int
    divisor: int
    out_size: int

    def numerator(self, x, u):
        return self.a_coef * np.asarray(x) + self.b_coef * np.asarray(u) + self.offset

    def in_bounds(self, x, u) -> np.ndarray:
        """The coordinate-bound check (what a comparator sees): ``0 <= o <= out_size - 1``
        before the integrality test."""
        num = self.numerator(x, u)
        return (num >= 0) & (num <= (self.out_size - 1) * self.divisor)

    def valid(self, x, u) -> np.ndarray:
        num = self.numerator(x, u)
        return self.in_bounds(x, u) & (num % self.divisor == 0)

    def output(self, x, u) -> np.ndarray:
        return self.numerator(x, u) // self.divisor

    def validity(self) -> np.ndarray:
        """``V[u, x]``: whether A coordinate x and B coordinate u give a valid output."""
        u, x = np.meshgrid(np.arange(self.b_size), np.arange(self.a_size), indexing="ij")
        return self.valid(x, u)

    def boxes_may_hit(self, x_lo, x_hi, u_lo, u_hi) -> np.ndarray:
        """Whether any coordinate pair in the boxes [x_lo, x_hi] x [u_lo, u_hi] can be in
        bounds (the chunk-level anticipation test; conservative: false only for RCPs)."""
        ends = [self.numerator(x, u) for x in (x_lo, x_hi) for u in (u_lo, u_hi)]
        low, high = np.minimum.reduce(ends), np.maximum.reduce(ends)
        return (high >= 0) & (low <= (self.out_size - 1) * self.divisor)


def per_axis(value, axis: int) -> int:
    """A stride or padding of one spatial axis: a number (both axes), or per axis as a list
    (``[height, width]``, as traced convolutions record them)."""
    if isinstance(value, (list, tuple)):
        return int(value[axis] if len(value) > axis else value[-1])
    return int(value)


def conv_axes(attrs: dict, phase: str) -> tuple[Axis, Axis]:
    """The (height, width) axes of a convolution's ``phase`` from its geometry attributes
    (``h w r s stride pad ho wo``; stride and pad a number or one per axis)."""
    axes = []
    for axis, (size, kernel, out) in enumerate((("h", "r", "ho"), ("w", "s", "wo"))):
        n, k, o = int(attrs[size]), int(attrs[kernel]), int(attrs[out])
        stride = per_axis(attrs.get("stride", 1), axis)
        pad = per_axis(attrs.get("pad", 0), axis)
        if phase == "fwd":
            axes.append(Axis(n, k, 1, -1, pad, stride, o))
        elif phase == "bwd_data":
            axes.append(Axis(o, k, stride, 1, -pad, 1, n))
        elif phase == "bwd_weight":
            axes.append(Axis(n, o, 1, -stride, pad, 1, k))
        else:
            raise ValueError(f"no outer-product convolution for phase {phase!r}")
    return axes[0], axes[1]


def matmul_axes(height: int, width: int) -> tuple[Axis, Axis]:
    """A matrix product A (rows x K) . B (K x N) as a 1x1 convolution: for each reduction index
    the column of A (its rows laid out as a ``height`` x ``width`` plane, so that they spread
    over a PE grid) meets the row of B; every product is valid."""
    return (Axis(height, 1, 1, 0, 0, 1, height), Axis(width, 1, 1, 0, 0, 1, width))


@dataclass(frozen=True)
class Counts:
    """Products of plane pairs: issued (non-zero x non-zero), valid, and RCPs."""

    issued: np.ndarray
    valid: np.ndarray

    @property
    def rcps(self) -> np.ndarray:
        return self.issued - self.valid


def count_exact(a_mask: np.ndarray, b_mask: np.ndarray, axes: tuple[Axis, Axis]) -> Counts:
    """Exact counts for plane pairs: ``a_mask`` (..., Ha, Wa) and ``b_mask`` (..., Hb, Wb)
    broadcast over their leading axes; one count per pair."""
    a = np.asarray(a_mask, dtype=np.float64)
    b = np.asarray(b_mask, dtype=np.float64)
    vh = axes[0].validity().astype(np.float64)
    vw = axes[1].validity().astype(np.float64)
    reach = np.einsum("ux,...xy,vy->...uv", vh, a, vw, optimize=True)
    valid = np.einsum("...uv,...uv->...", reach, b)
    issued = a.sum(axis=(-2, -1)) * b.sum(axis=(-2, -1))
    return Counts(np.rint(issued).astype(np.int64), np.rint(valid).astype(np.int64))


def count_expected(a_density, b_density, axes: tuple[Axis, Axis]) -> Counts:
    """Expected counts of one plane pair for independent masks of the given densities."""
    h, w = axes
    pairs = h.a_size * w.a_size * h.b_size * w.b_size
    valid_pairs = int(h.validity().sum()) * int(w.validity().sum())
    both = np.asarray(a_density, dtype=float) * np.asarray(b_density, dtype=float)
    return Counts(both * pairs, both * valid_pairs)
