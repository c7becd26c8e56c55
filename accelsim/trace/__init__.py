"""Workloads traced from real PyTorch training steps (``accelsim trace``).

The tracer (:mod:`accelsim.trace.tracer`) runs real training steps of any ``torch.nn.Module``
factory on a generated dataset (:mod:`accelsim.trace.dataset`), captures every aten op with a
dispatch mode (:mod:`accelsim.trace.capture`), builds the zoo-shaped workload graph
(:mod:`accelsim.trace.builder`, :mod:`accelsim.trace.gemms`), gathers value statistics
(:mod:`accelsim.trace.collector` and the torch-free :mod:`accelsim.trace.stats`) and writes a
versioned workload folder (:mod:`accelsim.trace.writer`), read back without torch by
:mod:`accelsim.workload.traced`.

torch is an optional dependency (``pip install 'accelsim[trace]'``): this package imports it
only in the modules that need it; :func:`require_torch` turns its absence into one clear error.
"""

from __future__ import annotations

from accelsim.errors import AccelsimError


class TraceError(AccelsimError):
    """A trace that cannot run: torch missing, a model factory that does not import or build,
    an input shape the dataset cannot render."""


def require_torch():
    """The ``torch`` module, or a :class:`TraceError` saying how to install it."""
    try:
        import torch
    except ImportError:
        raise TraceError("accelsim trace needs PyTorch, an optional dependency: "
                         "pip install 'accelsim[trace]' (or pip install torch)") from None
    return torch
