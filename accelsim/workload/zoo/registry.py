"""The zoo registry: every model-zoo network joins :data:`ZOO` under its name.

An entry is a zero-argument callable returning a fresh :class:`~accelsim.workload.network.Network`;
variants of one architecture are ``functools.partial`` s of one builder function.
"""

from __future__ import annotations

from collections.abc import Callable

from accelsim.registry import Registry
from accelsim.workload.network import Network

ZOO: Registry[Callable[[], Network]] = Registry("zoo")
