"""A multilayer perceptron for MNIST-sized inputs: 784-512-256-10 with ReLU.

The input is a flattened 28x28 image (784 features); the linear layers have biases. Not a
published reference network: a small, fully connected workload for quick runs and tests.
"""

from __future__ import annotations

from functools import partial

from accelsim.workload.network import Network, NetworkBuilder
from accelsim.workload.zoo.registry import ZOO


def mlp(name: str, features: int = 784, hidden: tuple[int, ...] = (512, 256),
        classes: int = 10) -> Network:
    """Linear + ReLU for each ``hidden`` width, then a ``classes``-way linear and the loss."""
    b = NetworkBuilder(name, (features,))
    x = b.input_name
    for i, width in enumerate(hidden, start=1):
        x = b.relu(b.linear(x, width, name=f"fc{i}"), name=f"relu{i}")
    x = b.linear(x, classes, name=f"fc{len(hidden) + 1}")
    b.loss(x)
    return b.build()


ZOO.register("mlp")(partial(mlp, "mlp"))
