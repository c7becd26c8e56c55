"""Model factories to trace: the zoo's CIFAR ResNet-18 and MLP as ``torch.nn.Module`` s, and a
small ``torch.nn.TransformerEncoder`` classifier.

Module names follow the zoo (:mod:`accelsim.workload.zoo.resnet`, :mod:`~accelsim.workload.zoo.mlp`)
so traced layers get the zoo's layer names: ``conv1``/``bn1``/``relu1`` stem, blocks
``layer<s>.<i>.conv1`` ... ``.add`` (the residual sum, written in the block's ``forward``) and
``.relu``, shortcut ``downsample.0``/``.1``, ``avgpool``, ``fc``. Use them as
``--model accelsim.trace.models:resnet18_cifar`` (any importable factory works the same way).

:func:`transformer_encoder` reads an input of shape (sequence, d_model) directly as tokens (the
generated images of ``--input 16x64`` give rows as tokens), runs the encoder, averages the tokens
and classifies them; its attention runs as PyTorch dispatches it (the fused
scaled-dot-product attention op when dropout is 0, the ``bmm`` / softmax math path otherwise).
"""

from __future__ import annotations

from accelsim.trace import require_torch

torch = require_torch()
nn = torch.nn


class BasicBlock(nn.Module):
    def __init__(self, cin: int, planes: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU()
        self.downsample = None
        if stride != 1 or cin != planes:
            self.downsample = nn.Sequential(nn.Conv2d(cin, planes, 1, stride, bias=False),
                                            nn.BatchNorm2d(planes))

    def forward(self, x):
        y = self.bn2(self.conv2(self.relu1(self.bn1(self.conv1(x)))))
        shortcut = x if self.downsample is None else self.downsample(x)
        return self.relu(y + shortcut)


class ResNetCifar(nn.Module):
    """ResNet of basic blocks for 32x32 inputs (the zoo's ``resnet18_cifar`` layout; stage s
    has ``width * 2**s`` channels)."""

    def __init__(self, stages=(2, 2, 2, 2), classes: int = 10, width: int = 64) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, width, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu1 = nn.ReLU()
        cin = width
        for stage, blocks in enumerate(stages):
            planes = width * 2 ** stage
            layers = []
            for i in range(blocks):
                layers.append(BasicBlock(cin, planes, 2 if stage > 0 and i == 0 else 1))
                cin = planes
            setattr(self, f"layer{stage + 1}", nn.Sequential(*layers))
        self.stages = len(stages)
        self.avgpool = nn.AvgPool2d(4)
        self.fc = nn.Linear(cin, classes)

    def forward(self, x):
        x = self.relu1(self.bn1(self.conv1(x)))
        for stage in range(self.stages):
            x = getattr(self, f"layer{stage + 1}")(x)
        return self.fc(torch.flatten(self.avgpool(x), 1))


class MLP(nn.Module):
    """Linear + ReLU per hidden width, then the classifier (the zoo's ``mlp``: 784-512-256-10)."""

    def __init__(self, features: int = 784, hidden=(512, 256), classes: int = 10) -> None:
        super().__init__()
        widths = [features, *hidden]
        for i in range(len(hidden)):
            setattr(self, f"fc{i + 1}", nn.Linear(widths[i], widths[i + 1]))
            setattr(self, f"relu{i + 1}", nn.ReLU())
        setattr(self, f"fc{len(hidden) + 1}", nn.Linear(widths[-1], classes))
        self.depth = len(hidden)

    def forward(self, x):
        x = torch.flatten(x, 1)
        for i in range(1, self.depth + 1):
            x = getattr(self, f"relu{i}")(getattr(self, f"fc{i}")(x))
        return getattr(self, f"fc{self.depth + 1}")(x)


def resnet18_cifar(classes: int = 10, width: int = 64) -> nn.Module:
    """ResNet-18 for 32x32 inputs; ``width`` is the first stage's channels (64 as published;
    a narrower network trains faster on a CPU, with the same layers and GEMM shapes scaled)."""
    return ResNetCifar((2, 2, 2, 2), classes, width)


def mlp(features: int = 784, classes: int = 10) -> nn.Module:
    return MLP(features, (512, 256), classes)


class EncoderClassifier(nn.Module):
    """``torch.nn.TransformerEncoder`` (batch first), mean over tokens, then the classifier."""

    def __init__(self, d_model: int, heads: int, layers: int, feedforward: int, classes: int,
                 dropout: float, causal: bool) -> None:
        super().__init__()
        layer = nn.TransformerEncoderLayer(d_model, heads, feedforward, dropout=dropout,
                                           batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.fc = nn.Linear(d_model, classes)
        self.causal = causal

    def forward(self, x):
        mask = None
        if self.causal:
            mask = nn.Transformer.generate_square_subsequent_mask(x.shape[1], device=x.device)
        y = self.encoder(x, mask=mask, is_causal=self.causal)
        return self.fc(y.mean(dim=1))


def transformer_encoder(d_model: int = 64, heads: int = 4, layers: int = 2,
                        feedforward: int = 128, classes: int = 10, dropout: float = 0.0,
                        causal: bool = False) -> nn.Module:
    return EncoderClassifier(d_model, heads, layers, feedforward, classes, dropout, causal)
