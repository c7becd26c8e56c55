"""The ``systolic`` PE-array kind: its dataflows, tiler and lowering (registers on import)."""

from accelsim.hw.kinds.systolic.kind import SystolicArray, SystolicParams

__all__ = ["SystolicArray", "SystolicParams"]
