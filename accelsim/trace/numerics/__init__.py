"""Training with a technique's numerical effect applied (``accelsim trace --numerics``).

The simulator counts a technique's work; this package measures what the technique does to
training. An *emulation* replaces the forward of every ``torch.nn.Conv2d`` and
``torch.nn.Linear`` of a model by one that computes the layer's GEMMs as the technique's
hardware would (:mod:`.base`: the contract and the layer GEMMs; one module per technique:
:mod:`.acrtc`, :mod:`.mquans`, :mod:`.daa`). :mod:`.training` trains a model exactly and with
an emulation from the same seed and data order and records both curves; :mod:`.report` writes
them as an ``accelsim.accuracy/1`` document. Each emulation's docstring says exactly what it
emulates and where it approximates the hardware.
"""

from __future__ import annotations

from accelsim.registry import Registry

#: Emulations by technique name; each module registers its class on import.
NUMERICS: Registry = Registry("numerics")


def load_builtin() -> None:
    """Import the built-in emulations (they need torch), which registers them."""
    from accelsim.trace.numerics import acrtc, daa, mquans  # noqa: F401
