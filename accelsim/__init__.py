"""accelsim: a discrete-event simulator of DNN training accelerators with a memory hierarchy.

The Python API is :func:`accelsim.simulate` (:mod:`accelsim.api`): a run spec in, a
:class:`~accelsim.stats.result.RunResult` out. The engine itself is
:class:`accelsim.sim.engine.Simulation`.
"""

__version__ = "0.1.0"
__all__ = ["simulate", "__version__"]


def __getattr__(name: str):
    """``accelsim.simulate`` without importing the engine on ``import accelsim``."""
    if name == "simulate":
        from accelsim.api import simulate

        return simulate
    raise AttributeError(f"module 'accelsim' has no attribute {name!r}")
