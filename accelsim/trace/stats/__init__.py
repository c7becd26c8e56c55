"""Value statistics as numpy functions (torch-free): the definitions of ``FORMAT.md``.

:mod:`.reuse` (ACRTC reuse-buffer hit rates), :mod:`.pairs` (DAA paired MAC streams),
:mod:`.change` (Mquans input change rates), :mod:`.masks` (sampled, bit-packed coordinate masks).
The collector (:mod:`accelsim.trace.collector`) feeds them operand tiles of real training steps.
"""
