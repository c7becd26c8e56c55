"""Tiny model factories for the tracer tests (importable as ``tests.trace_models:...``)."""

from __future__ import annotations

import torch
from torch import nn


class TinyNet(nn.Module):
    """Conv (stride 2, bias) + BN + in-place ReLU + max pool, a conv used on a shared input, a
    residual sum, global average pooling and a linear classifier."""

    def __init__(self, classes: int = 10) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, 2, 1, bias=True)
        self.bn1 = nn.BatchNorm2d(8)
        self.relu = nn.ReLU(inplace=True)
        self.pool = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(8, 8, 3, 1, 1, bias=False)
        self.fc = nn.Linear(8, classes)

    def forward(self, x):
        x = self.pool(self.relu(self.bn1(self.conv1(x))))
        x = x + self.conv2(x)
        return self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1))


def tiny(classes: int = 10) -> nn.Module:
    return TinyNet(classes)
