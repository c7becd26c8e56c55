"""The unit of work in a workload: an :class:`Op` reading and writing :class:`Tensor` s.

An op is either a GEMM (``gemm`` set: it runs on the PE array) or an elementwise/reduction op
over ``elements`` values (it runs on the vector unit, ``vector_ops`` operations per element).
Tensors are named; the workload graph derives its edges from who writes and who reads a name.

An op may carry its own :class:`Precision` (operand and accumulator datatypes; default: the
hwconfig's) and a :class:`BatchAxis` (which GEMM dimension carries the samples, and how many).
A technique may drop chosen samples' work (:meth:`Op.with_samples`): the op then issues the
GEMM of the kept samples (:attr:`Op.issued_gemm`), while :attr:`Op.macs` stays that of the full
batch, so the dropped MACs are counted as skipped, never lost.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Literal


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


@dataclass(frozen=True)
class Precision:
    """Datatypes of an op's multiplier operands and accumulator (``fp16``, ``int8``, ...)."""

    operand: str
    accumulator: str


#: Dimensions that can carry a batch's samples: a GEMM's, or a vector op's ``elements``.
BATCH_DIMS = ("m", "n", "k", "count", "elements")


@dataclass(frozen=True)
class BatchAxis:
    """The GEMM dimension ``dim`` is ``samples`` equal slices, one per sample."""

    dim: Literal["m", "n", "k", "count", "elements"]
    samples: int

    def __post_init__(self) -> None:
        if self.dim not in BATCH_DIMS or self.samples < 1:
            raise ValueError(f"a batch axis needs a dimension of {BATCH_DIMS} and >= 1 "
                             f"samples, got {self.dim!r} x {self.samples}")

    def shrink(self, gemm: Gemm, kept: int) -> Gemm:
        """``gemm`` restricted to ``kept`` of its samples."""
        size = getattr(gemm, self.dim)
        if size % self.samples:
            raise ValueError(f"GEMM dimension {self.dim}={size} is not {self.samples} "
                             "equal samples")
        return replace(gemm, **{self.dim: size // self.samples * kept})


@dataclass
class Op:
    """One operation of a training iteration.

    A GEMM op reads the tensor behind its A operand (M x K, the ``ifmap`` role) first and the
    tensor behind its B operand (K x N, the ``filter`` role) second; when an operand is an
    im2col view (a convolution), the tensor holds fewer elements than the operand, and a
    block of it is fetched as the distinct input elements its windows name
    (:mod:`accelsim.workload.conv_window`, from the geometry in ``attrs``).
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
    precision: Precision | None = None  # None: the hwconfig's datatypes
    batch: BatchAxis | None = None  # GEMM ops: the dimension that carries the samples
    samples_kept: int | None = None  # samples whose work is issued (None: all)

    @property
    def unit(self) -> str:
        """The hardware unit that executes the op: ``pe_array`` or ``vector``."""
        return "pe_array" if self.gemm is not None else "vector"

    @property
    def macs(self) -> int:
        """MACs of the op's full batch (the workload's figure)."""
        return self.gemm.macs if self.gemm is not None else 0

    @property
    def issued_share(self) -> float:
        """The share of the op's samples whose work is issued (1.0 unless some were dropped)."""
        if self.samples_kept is None:
            return 1.0
        return self.samples_kept / self.batch.samples

    @property
    def issued_elements(self) -> int:
        """Elements of a vector op's issued samples."""
        if self.samples_kept is None:
            return self.elements
        return self.elements // self.batch.samples * self.samples_kept

    @property
    def issued_gemm(self) -> Gemm | None:
        """The GEMM of the samples whose work is issued (all of them unless some were dropped)."""
        if self.gemm is None or self.samples_kept is None:
            return self.gemm
        return self.batch.shrink(self.gemm, self.samples_kept)

    def with_samples(self, kept: int) -> Op:
        """This op with only ``kept`` of its batch's samples issued (the rest dropped)."""
        if self.batch is None:
            raise ValueError(f"op {self.name} has no batch axis: its samples cannot be dropped")
        if not 0 <= kept <= self.batch.samples:
            raise ValueError(f"op {self.name}: {kept} kept samples of {self.batch.samples}")
        return replace(self, samples_kept=kept)

    def with_precision(self, operand: str, accumulator: str) -> Op:
        """This op at other datatypes."""
        return replace(self, precision=Precision(operand, accumulator))

    @property
    def bytes_read(self) -> int:
        return sum(t.bytes for t in self.reads)

    @property
    def bytes_written(self) -> int:
        return sum(t.bytes for t in self.writes)


def batch_axis_of(op: Op, batch: int) -> BatchAxis | None:
    """The dimension that carries a batch of ``batch`` samples in a GEMM op of a training
    iteration: ``count`` for batched products (one instance per sample and head), else ``m`` in
    the forward and backward-data GEMMs (rows are sample x position) and ``k`` in the
    backward-weight GEMM (the reduction runs over sample x position); ``elements`` for a vector
    op of the forward or backward pass (its elements are sample x position); None when that
    dimension is not a whole number of samples (the op is not per sample) and for weight
    updates."""
    gemm = op.gemm
    if batch < 1:
        return None
    if gemm is None:
        per_sample = op.phase is not Phase.UPDATE and op.elements and op.elements % batch == 0
        return BatchAxis("elements", batch) if per_sample else None
    if gemm.count > 1 and gemm.count % batch == 0:
        return BatchAxis("count", batch)
    dim = {Phase.FWD: "m", Phase.BWD_DATA: "m", Phase.BWD_WEIGHT: "k"}.get(op.phase)
    if dim is None or getattr(gemm, dim) % batch:
        return None
    return BatchAxis(dim, batch)
