"""accelsim: a discrete-event simulator of DNN training accelerators with a memory hierarchy.

The public entry points are :class:`accelsim.sim.engine.Simulation`, the hwconfig loader
:func:`accelsim.config.loader.load_hwconfig` and the workload builders in
:mod:`accelsim.workload`.
"""

__version__ = "0.1.0"
