"""VGG-16 (Simonyan & Zisserman, ICLR 2015, configuration D), without batch norm.

ImageNet form (torchvision ``vgg16``): thirteen 3x3 convs (padding 1) each followed by ReLU,
five 2x2/2 max pools, and the classifier 25088-4096-4096-1000 with ReLU between the linear
layers. torchvision's adaptive average pool to 7x7 is the identity at 224x224 and is left out,
as is dropout (no arithmetic that the accelerator runs).

CIFAR form (after ``chengyangfu/pytorch-vgg-cifar10``'s ``vgg16``): the same thirteen convs on a
3x32x32 input (the five pools leave 512x1x1) and the classifier 512-512-512-``classes`` with
ReLU, 100 classes for CIFAR-100.

Note: torchvision's VGG convs carry a bias; :meth:`NetworkBuilder.conv` has none, so these
networks have 4,224 parameters (one per conv output channel) fewer than torchvision's count.
"""

from __future__ import annotations

from functools import partial

from accelsim.workload.network import Network, NetworkBuilder
from accelsim.workload.zoo.registry import ZOO

#: Configuration D: output channels of each conv, "M" for a 2x2/2 max pool.
VGG16_FEATURES: tuple[int | str, ...] = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M",
                                        512, 512, 512, "M", 512, 512, 512, "M")


def vgg(name: str, input_shape: tuple[int, int, int], hidden: tuple[int, ...],
        classes: int, features: tuple[int | str, ...] = VGG16_FEATURES) -> Network:
    """A VGG network: ``features`` then fully connected layers ``hidden`` + ``classes``."""
    b = NetworkBuilder(name, input_shape)
    x = b.input_name
    conv = pool = 0
    for item in features:
        if item == "M":
            pool += 1
            x = b.maxpool(x, 2, 2, name=f"pool{pool}")
        else:
            conv += 1
            x = b.conv(x, int(item), 3, 1, 1, bias=True, name=f"conv{conv}")
            x = b.relu(x, name=f"relu{conv}")
    for i, width in enumerate(hidden, start=1):
        x = b.linear(x, width, name=f"fc{i}")
        x = b.relu(x, name=f"fc{i}.relu")
    x = b.linear(x, classes, name=f"fc{len(hidden) + 1}")
    b.loss(x)
    return b.build()


ZOO.register("vgg16")(partial(vgg, "vgg16", (3, 224, 224), (4096, 4096), 1000))
ZOO.register("vgg16_cifar")(partial(vgg, "vgg16_cifar", (3, 32, 32), (512, 512), 100))
