"""Technique controllers: stream filters between the workload and the hardware.

Importing the package registers the built-in techniques in
:data:`accelsim.techniques.base.TECHNIQUES`.
"""

from accelsim.techniques import ant  # noqa: F401  (registers "ant")
from accelsim.techniques import acrtc  # noqa: F401  (registers "acrtc")
from accelsim.techniques import confidence_skip  # noqa: F401  (registers "confidence_skip")
from accelsim.techniques import mquans  # noqa: F401  (registers "mquans")
from accelsim.techniques import daa  # noqa: F401  (registers "daa")
