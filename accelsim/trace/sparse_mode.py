"""Top-K sparse training without recording: a ``TorchDispatchMode`` that only sparsifies.

:class:`~accelsim.trace.capture.Capture` records every aten call of a step, which costs far
more than a small network's arithmetic. Steps whose graph and statistics are not kept (neither
sampled, masked nor the last) run without it; with sparse training they run under
:class:`TopkMode`, which applies the same Top-K to the same GEMM operands
(:data:`accelsim.trace.aten.GEMM_OPERANDS`, :func:`accelsim.trace.topk.sparsify`) and records
nothing, so training follows the same arithmetic as under the capture.
"""

from __future__ import annotations

from torch.utils._python_dispatch import TorchDispatchMode

from accelsim.trace.aten import GEMM_OPERANDS
from accelsim.trace.topk import backward_positions, sparsify_operands


class TopkMode(TorchDispatchMode):
    """Every GEMM operand Top-K sparsified at ``sparsity`` before its op runs."""

    def __init__(self, sparsity: float, dense: frozenset[int] = frozenset(),
                 sparse_gradients: bool = True) -> None:
        super().__init__()
        self.sparsity = sparsity
        self.dense = dense
        self.sparse_gradients = sparse_gradients
        self.backward = False  # set by the caller before the backward pass

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        positions = GEMM_OPERANDS.get(func._overloadpacket.__name__)
        if positions and func.namespace == "aten":
            if self.backward:
                positions = backward_positions(func._overloadpacket.__name__, positions,
                                               self.sparse_gradients)
            args = sparsify_operands(args, positions, self.sparsity, self.dense)
        return func(*args, **kwargs)
