"""Size bounds of every workload source, and the checks that apply them.

A workload file is input like any other: a dimension of 10^9, a batch of 10^9 or a depthwise
row of a million channels must be one clear :class:`~accelsim.errors.WorkloadError`, not an
hour of simulation or an exhausted memory. The bounds are far above every real network (the
reasons are beside each), and they are the same for the zoo, YAML files, SCALE-Sim CSV files
and traced folders. ``workloads/README.md`` and ``workloads/traced/FORMAT.md`` state them.

* :data:`MAX_DIM` bounds every per-layer, per-sample dimension a YAML or CSV file gives or
  implies: channels, height, width, features, tokens, kernel, stride, padding, ``m n k count``
  of a matmul, the flattened features of a linear layer, a convolution's window
  ``Cin * R * S``.
* :data:`MAX_BATCH` bounds the batch of a run.
* :data:`MAX_ELEMENTS` bounds one tensor (batch included), one op's element count and, in a
  traced graph, every count (GEMM dimensions and geometry there have the batch and the spatial
  sizes of 1-D / 3-D convolutions folded in).
* :data:`MAX_MACS` bounds the MACs of one training iteration.
* :data:`MAX_LAYERS`, :data:`MAX_OPS`, :data:`MAX_NAME`, :data:`MAX_FILE_BYTES` and
  :data:`MAX_ARRAY_BYTES` bound how much a file may hold.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from accelsim.errors import WorkloadError
from accelsim.workload.op import Op

#: Per-layer, per-sample dimension: 16,777,216. Real extremes are far below: vocabularies of
#: 256k, feature widths of 50k, 8k-pixel image sides, 1M-token sequences (2^20).
MAX_DIM = 2**24
#: Batch of a run: 65,536, the largest per-step batches of large-batch training (LARS, LAMB).
MAX_BATCH = 2**16
#: Elements of one tensor, batch included: 68,719,476,736, about 80 times the largest
#: activation of a real training step on one device (8e8: batch 256 x 64 x 224 x 224).
MAX_ELEMENTS = 2**36
#: MACs of one training iteration: 2^53 = 9,007,199,254,740,992, the largest count a JSON
#: number (an IEEE double) holds exactly; a training step of an 8-billion-parameter language
#: model over 65,536 tokens (1.6e15 MACs) fits.
MAX_MACS = 2**53
#: Layers of a YAML network and rows of a SCALE-Sim file: 16,384 (real networks have a few
#: hundred to a few thousand).
MAX_LAYERS = 2**14
#: Ops of a traced graph: 131,072 (a traced ResNet-18 has 220).
MAX_OPS = 2**17
#: Characters of a layer, op or tensor name.
MAX_NAME = 256
#: Bytes of a JSON or CSV workload file: 64 MiB (a traced ResNet-18 graph is 68 KB).
MAX_FILE_BYTES = 2**26
#: Decompressed bytes of one ``.npz`` archive of a traced folder: 256 MiB (the shipped ones
#: hold under 2 MB).
MAX_ARRAY_BYTES = 2**28
#: Vector-unit operations per element of one op.
MAX_VECTOR_OPS = 2**24


def power_of_two(value: int) -> str:
    """``16,777,216 (2^24)``: a bound as messages print it."""
    exponent = value.bit_length() - 1
    return f"{value:,} (2^{exponent})" if value == 1 << exponent else f"{value:,}"


def check_ops(ops: Iterable[Op], source: str, where: Callable[[Op], str], total_key: str,
              batch: int | None = None) -> None:
    """Every tensor, element count and GEMM dimension of ``ops`` at most :data:`MAX_ELEMENTS`
    and their MACs together at most :data:`MAX_MACS`, else one :class:`WorkloadError` at
    ``where(op)`` (or ``total_key`` for the MACs)."""
    at_batch = f" at batch {batch}" if batch is not None else ""
    total = 0
    for op in ops:
        sizes = [(t.name, t.elements) for t in (*op.reads, *op.writes)]
        sizes.append((f"op {op.name}", op.elements))
        if op.gemm is not None:
            sizes += [(f"op {op.name} GEMM {dim}", getattr(op.gemm, dim))
                      for dim in ("m", "n", "k", "count")]
            total += op.gemm.macs
            if op.gemm.macs > MAX_MACS:
                raise WorkloadError(source, where(op), f"an op of at most "
                                    f"{power_of_two(MAX_MACS)} MACs",
                                    got=f"op {op.name}: {op.gemm.macs:,} MACs{at_batch}")
        for name, size in sizes:
            if size > MAX_ELEMENTS:
                raise WorkloadError(source, where(op), f"tensors and ops of at most "
                                    f"{power_of_two(MAX_ELEMENTS)} elements (batch included)",
                                    got=f"{name}: {size:,} elements{at_batch}")
    if total > MAX_MACS:
        raise WorkloadError(source, total_key, f"a training iteration of at most "
                            f"{power_of_two(MAX_MACS)} MACs", got=f"{total:,} MACs{at_batch}")
