"""The ``outer_product`` PE-array kind (SCNN-like): its RCP geometry (:mod:`.rcp`), chunk and
tile model (:mod:`.model`) and registered kind (:mod:`.kind`; registers on import)."""

from accelsim.hw.kinds.outer_product.kind import OuterProductArray, OuterProductParams

__all__ = ["OuterProductArray", "OuterProductParams"]
