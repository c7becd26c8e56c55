"""PE-array kinds: the contract (:mod:`accelsim.hw.kinds.base`) and the built-in kinds.

Importing the package registers ``systolic``, ``outer_product`` and ``tensor_core`` in
:data:`PE_ARRAY_KINDS`; third-party kinds join through the entry-point group
``accelsim.pe_array``.
"""

from accelsim.hw.kinds.base import PE_ARRAY_KINDS, PEArrayKind, PEArrayStats
from accelsim.hw.kinds import outer_product, systolic, tensor_core  # noqa: F401  (register the kinds)

__all__ = ["PE_ARRAY_KINDS", "PEArrayKind", "PEArrayStats"]
