"""Wide residual networks WRN-d-k (Zagoruyko & Komodakis, BMVC 2016) for CIFAR.

3x32x32 input, 3x3 stem conv to 16 channels, then three groups of n = (d - 4) / 6 pre-activation
wide basic blocks with 16k, 32k and 64k channels and strides 1, 2, 2. A block is
BN-ReLU-3x3 conv (stride)-BN-ReLU-3x3 conv, added to the shortcut; where the channel count or
size changes the shortcut is a 1x1 conv (with the stride) of the block's BN-ReLU'd input,
otherwise the input itself (as in the authors' PyTorch code). Head: BN, ReLU, 8x8 global
average pool and a ``classes``-way fc (100 for CIFAR-100). Convs have no bias; dropout is left
out (no accelerator arithmetic). ``wide_resnet`` is WRN-28-10, the paper's headline network.
"""

from __future__ import annotations

from functools import partial

from accelsim.workload.network import Network, NetworkBuilder
from accelsim.workload.zoo.registry import ZOO


def _wide_block(b: NetworkBuilder, x: str, cout: int, stride: int, prefix: str) -> str:
    pre = b.relu(b.batchnorm(x, name=f"{prefix}bn1"), name=f"{prefix}relu1")
    y = b.conv(pre, cout, 3, stride, 1, name=f"{prefix}conv1")
    y = b.relu(b.batchnorm(y, name=f"{prefix}bn2"), name=f"{prefix}relu2")
    y = b.conv(y, cout, 3, 1, 1, name=f"{prefix}conv2")
    if stride == 1 and b.shape(x)[0] == cout:
        shortcut = x
    else:
        shortcut = b.conv(pre, cout, 1, stride, 0, name=f"{prefix}shortcut")
    return b.add(y, shortcut, name=f"{prefix}add")


def wide_resnet(name: str, depth: int, width: int, classes: int = 100) -> Network:
    """WRN-``depth``-``width``; ``depth`` must be 6n + 4."""
    if (depth - 4) % 6:
        raise ValueError(f"WRN depth must be 6n + 4, got {depth}")
    blocks = (depth - 4) // 6
    b = NetworkBuilder(name, (3, 32, 32))
    x = b.conv(b.input_name, 16, 3, 1, 1, name="conv1")
    for group in range(3):
        for i in range(blocks):
            stride = 2 if group > 0 and i == 0 else 1
            x = _wide_block(b, x, 16 * width * 2 ** group, stride, f"block{group + 1}.{i}.")
    x = b.relu(b.batchnorm(x, name="bn"), name="relu")
    x = b.global_avgpool(x, name="avgpool")
    x = b.linear(x, classes, name="fc")
    b.loss(x)
    return b.build()


ZOO.register("wrn16_8")(partial(wide_resnet, "wrn16_8", 16, 8))
ZOO.register("wrn28_10")(partial(wide_resnet, "wrn28_10", 28, 10))
ZOO.register("wide_resnet")(partial(wide_resnet, "wide_resnet", 28, 10))
