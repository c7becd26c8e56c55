"""DenseNet-BC (Huang et al., CVPR 2017) as in torchvision's ``densenet121``.

Stem: 7x7/2 conv (padding 3, 64 channels), BN, ReLU, 3x3/2 max pool (padding 1). Four dense
blocks of 6/12/24/16 layers with growth rate k = 32. A dense layer is BN-ReLU-1x1 conv (4k
channels)-BN-ReLU-3x3 conv (k channels, padding 1) and reads the channel concatenation of the
block input and every earlier layer's output in the block (one ``concat`` layer per dense layer,
as torchvision's memory-inefficient path, which copies the features each time). Transitions are
BN-ReLU-1x1 conv (compression 0.5)-2x2/2 average pool. Head: BN, ReLU, global average pool and
a 1000-way fc. Convs have no bias.
"""

from __future__ import annotations

from functools import partial

from accelsim.workload.network import Network, NetworkBuilder
from accelsim.workload.zoo.registry import ZOO


def _bn_relu_conv(b: NetworkBuilder, x: str, cout: int, kernel: int, padding: int,
                  prefix: str, index: str) -> str:
    y = b.batchnorm(x, name=f"{prefix}norm{index}")
    y = b.relu(y, name=f"{prefix}relu{index}")
    return b.conv(y, cout, kernel, 1, padding, name=f"{prefix}conv{index}")


def _dense_block(b: NetworkBuilder, x: str, layers: int, growth: int, bn_size: int,
                 prefix: str) -> str:
    """The concatenation of the block input and all ``layers`` new feature maps."""
    features = [x]
    for i in range(1, layers + 1):
        name = f"{prefix}denselayer{i}."
        inp = features[0] if len(features) == 1 else b.concat(features, name=f"{name}cat")
        y = _bn_relu_conv(b, inp, bn_size * growth, 1, 0, name, "1")
        features.append(_bn_relu_conv(b, y, growth, 3, 1, name, "2"))
    return b.concat(features, name=f"{prefix}cat")


def densenet(name: str, growth: int, blocks: tuple[int, ...], init_features: int = 64,
             bn_size: int = 4, compression: float = 0.5, classes: int = 1000) -> Network:
    """An ImageNet DenseNet-BC with ``blocks[i]`` dense layers in block ``i``."""
    b = NetworkBuilder(name, (3, 224, 224))
    x = b.conv(b.input_name, init_features, 7, 2, 3, name="conv0")
    x = b.batchnorm(x, name="norm0")
    x = b.relu(x, name="relu0")
    x = b.maxpool(x, 3, 2, 1, name="pool0")
    for i, layers in enumerate(blocks, start=1):
        x = _dense_block(b, x, layers, growth, bn_size, f"denseblock{i}.")
        if i < len(blocks):
            prefix = f"transition{i}."
            x = _bn_relu_conv(b, x, int(b.shape(x)[0] * compression), 1, 0, prefix, "")
            x = b.avgpool(x, 2, 2, name=f"{prefix}pool")
    x = b.batchnorm(x, name="norm5")
    x = b.relu(x, name="relu5")
    x = b.global_avgpool(x, name="avgpool")
    x = b.linear(x, classes, name="classifier")
    b.loss(x)
    return b.build()


ZOO.register("densenet121")(partial(densenet, "densenet121", 32, (6, 12, 24, 16)))
