"""The ``tensor_core`` PE-array kind: GPU-like cores of MMA units, CTA tiles in waves
(registers on import)."""

from accelsim.hw.kinds.tensor_core.kind import TensorCoreArray, TensorCoreParams

__all__ = ["TensorCoreArray", "TensorCoreParams"]
