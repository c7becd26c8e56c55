"""ResNets (He et al., CVPR 2016) as in torchvision, and their CIFAR variant.

ImageNet form (torchvision ``resnet18`` / ``resnet50``, "v1.5"): 7x7/2 stem conv (padding 3),
BN, ReLU, 3x3/2 max pool (padding 1), four stages of 64/128/256/512 planes with strides
1/2/2/2, global average pool and a 1000-way fully connected layer. The basic block is two 3x3
convs; the bottleneck is 1x1 - 3x3 - 1x1 (expansion 4) with the stride on the 3x3 conv. A
shortcut whose shape changes is a 1x1 conv (with the block's stride) + BN. Convs have no bias.

CIFAR form (as used by the confidence-skipping paper, after the widely used
``kuangliu/pytorch-cifar`` models): 3x32x32 input, 3x3/1 stem conv (padding 1) + BN + ReLU, no
max pool, the same four stages, a 4x4 global average pool and a ``classes``-way fc (100 for
CIFAR-100).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from accelsim.workload.network import Network, NetworkBuilder
from accelsim.workload.zoo.registry import ZOO

#: A block: (builder, input tensor, planes, stride, name prefix) -> output tensor.
Block = Callable[[NetworkBuilder, str, int, int, str], str]


def conv_bn(b: NetworkBuilder, x: str, cout: int, kernel: int, stride: int, padding: int,
            prefix: str, index: str = "", relu: bool = True) -> str:
    """``conv{index}`` + ``bn{index}`` (+ ``relu{index}``) under ``prefix``."""
    y = b.conv(x, cout, kernel, stride, padding, name=f"{prefix}conv{index}")
    y = b.batchnorm(y, name=f"{prefix}bn{index}")
    return b.relu(y, name=f"{prefix}relu{index}") if relu else y


def _shortcut(b: NetworkBuilder, x: str, cout: int, stride: int, prefix: str) -> str:
    """Identity, or a 1x1 conv + BN (torchvision's ``downsample``) when the shape changes."""
    if stride == 1 and b.shape(x)[0] == cout:
        return x
    y = b.conv(x, cout, 1, stride, 0, name=f"{prefix}downsample.0")
    return b.batchnorm(y, name=f"{prefix}downsample.1")


def basic_block(b: NetworkBuilder, x: str, planes: int, stride: int, prefix: str) -> str:
    y = conv_bn(b, x, planes, 3, stride, 1, prefix, "1")
    y = conv_bn(b, y, planes, 3, 1, 1, prefix, "2", relu=False)
    y = b.add(y, _shortcut(b, x, planes, stride, prefix), name=f"{prefix}add")
    return b.relu(y, name=f"{prefix}relu")


def bottleneck_block(b: NetworkBuilder, x: str, planes: int, stride: int, prefix: str) -> str:
    y = conv_bn(b, x, planes, 1, 1, 0, prefix, "1")
    y = conv_bn(b, y, planes, 3, stride, 1, prefix, "2")
    y = conv_bn(b, y, planes * 4, 1, 1, 0, prefix, "3", relu=False)
    y = b.add(y, _shortcut(b, x, planes * 4, stride, prefix), name=f"{prefix}add")
    return b.relu(y, name=f"{prefix}relu")


BLOCKS: dict[str, Block] = {"basic": basic_block, "bottleneck": bottleneck_block}


def resnet(name: str, block: str, stages: tuple[int, ...], cifar: bool = False,
           classes: int = 1000) -> Network:
    """A ResNet of ``block`` ("basic" or "bottleneck") blocks, ``stages[i]`` per stage."""
    make_block = BLOCKS[block]
    b = NetworkBuilder(name, (3, 32, 32) if cifar else (3, 224, 224))
    if cifar:
        x = conv_bn(b, b.input_name, 64, 3, 1, 1, "", "1")
    else:
        x = conv_bn(b, b.input_name, 64, 7, 2, 3, "", "1")
        x = b.maxpool(x, 3, 2, 1, name="maxpool")
    for stage, blocks in enumerate(stages):
        planes = 64 * 2 ** stage
        for i in range(blocks):
            stride = 2 if stage > 0 and i == 0 else 1
            x = make_block(b, x, planes, stride, f"layer{stage + 1}.{i}.")
    x = b.global_avgpool(x, name="avgpool")
    x = b.linear(x, classes, name="fc")
    b.loss(x)
    return b.build()


ZOO.register("resnet18")(partial(resnet, "resnet18", "basic", (2, 2, 2, 2)))
ZOO.register("resnet50")(partial(resnet, "resnet50", "bottleneck", (3, 4, 6, 3)))
ZOO.register("resnet18_cifar")(partial(resnet, "resnet18_cifar", "basic", (2, 2, 2, 2),
                                       cifar=True, classes=100))
ZOO.register("resnet50_cifar")(partial(resnet, "resnet50_cifar", "bottleneck", (3, 4, 6, 3),
                                       cifar=True, classes=100))
