"""The unit of work in a workload: an :class:`Op` reading and writing :class:`Tensor` s.

An op is either a GEMM (``gemm`` set: it runs on the PE array) or an elementwise/reduction op
over ``elements`` values (it runs on the vector unit, ``vector_ops`` operations per element).
Tensors are named; the workload graph derives its edges from who writes and who reads a name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


class Phase(str, Enum):
    """The four phases of a training iteration."""

    FWD = "fwd"
    BWD_DATA = "bwd_data"
    BWD_WEIGHT = "bwd_weight"
    UPDATE = "update"

    def __str__(self) -> str:
        return self.value


PHASES = tuple(p.value for p in Phase)


@dataclass(frozen=True)
class Tensor:
    """A named block of data in memory; a read may cover only part of it (``elements``)."""

    name: str
    elements: int
    element_bytes: int

    @property
    def bytes(self) -> int:
        return self.elements * self.element_bytes


@dataclass(frozen=True)
class Gemm:
    """``count`` independent products of an (m x k) by (k x n) matrix: m*n*k*count MACs."""

    m: int
    n: int
    k: int
    count: int = 1

    @property
    def macs(self) -> int:
        return self.m * self.n * self.k * self.count


@dataclass
class Op:
    """One operation of a training iteration.

    A GEMM op reads the tensor behind its A operand (M x K, the ``ifmap`` role) first and the
    tensor behind its B operand (K x N, the ``filter`` role) second; when an operand is an
    im2col view (a convolution), the tensor holds fewer elements than the operand, and each
    is fetched from DRAM once per use of the block rather than once per window.
    ``overwrites`` names tensors this op replaces in place (a weight update): every other reader
    of such a tensor must run before it.
    """

    name: str
    layer: str
    phase: Phase
    kind: str
    reads: tuple[Tensor, ...]
    writes: tuple[Tensor, ...]
    gemm: Gemm | None = None
    elements: int = 0
    vector_ops: float = 0.0
    overwrites: tuple[str, ...] = ()
    attrs: dict = field(default_factory=dict)

    @property
    def unit(self) -> str:
        """The hardware unit that executes the op: ``pe_array`` or ``vector``."""
        return "pe_array" if self.gemm is not None else "vector"

    @property
    def macs(self) -> int:
        return self.gemm.macs if self.gemm is not None else 0

    @property
    def bytes_read(self) -> int:
        return sum(t.bytes for t in self.reads)

    @property
    def bytes_written(self) -> int:
        return sum(t.bytes for t in self.writes)
