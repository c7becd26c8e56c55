"""Technique controllers: stream filters between the workload and the hardware.

Importing the package lists the built-in techniques in
:data:`accelsim.techniques.base.TECHNIQUES`; each module is imported (and registers its class)
when the technique is first asked for, so that a run spec is validated without the engine.
"""

from accelsim.techniques.base import TECHNIQUES

for _name in ("ant", "acrtc", "confidence_skip", "mquans", "daa"):
    TECHNIQUES.register_deferred(_name, f"accelsim.techniques.{_name}")
