"""The model zoo: reference networks by name, and a summary table of them.

``ZOO.get(name)()`` builds a network; ``describe_zoo()`` gives one row per entry (for
``accelsim workloads``). Importing this package registers every zoo module's networks.
"""

from __future__ import annotations

from typing import TypedDict

from accelsim.workload.zoo import bert, densenet, mlp, resnet, vgg, wrn  # noqa: F401 (register)
from accelsim.workload.zoo.registry import ZOO

__all__ = ["ZOO", "ZooRow", "describe_zoo"]


class ZooRow(TypedDict):
    """One zoo network: its name, per-sample input shape, parameters and forward GMACs."""

    name: str
    input_shape: tuple[int, ...]
    params: int
    forward_gmacs: float


def describe_zoo() -> list[ZooRow]:
    """One row per zoo entry, sorted by name; forward GMACs are per sample."""
    rows = []
    for name in ZOO.names():
        net = ZOO.get(name)()
        rows.append(ZooRow(name=name, input_shape=net.input_shape, params=net.params,
                           forward_gmacs=net.forward_macs_per_sample / 1e9))
    return rows
