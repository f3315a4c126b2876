"""Torch building blocks of MobileNetV3-style networks (OFA's definitions)."""

from __future__ import annotations

import torch
from torch import nn

from latency_kit.spaces.channels import make_divisible


def activation(hswish: bool) -> nn.Module:
    return nn.Hardswish() if hswish else nn.ReLU()


def conv_bn_act(cin: int, cout: int, kernel: int, stride: int, act: nn.Module | None,
                groups: int = 1, bn: bool = True) -> nn.Sequential:
    layers: list[nn.Module] = [
        nn.Conv2d(cin, cout, kernel, stride, kernel // 2, groups=groups, bias=not bn)
    ]
    if bn:
        layers.append(nn.BatchNorm2d(cout))
    if act is not None:
        layers.append(act)
    return nn.Sequential(*layers)


class SqueezeExcite(nn.Module):
    """OFA's SE: global pool, reduce by 4 (rounded to 8), ReLU, expand, h-sigmoid."""

    def __init__(self, channels: int):
        super().__init__()
        mid = make_divisible(channels // 4)
        self.reduce = nn.Conv2d(channels, mid, 1, bias=True)
        self.expand = nn.Conv2d(mid, channels, 1, bias=True)
        self.act = nn.ReLU()
        self.gate = nn.Hardsigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = x.mean((2, 3), keepdim=True)
        scale = self.gate(self.expand(self.act(self.reduce(scale))))
        return x * scale


class MBConv(nn.Module):
    """Mobile inverted bottleneck: 1x1 expand, depthwise kxk, optional SE, 1x1 project."""

    def __init__(self, cin: int, cout: int, mid: int, kernel: int, stride: int,
                 residual: bool, se: bool, hswish: bool):
        super().__init__()
        layers: list[nn.Module] = []
        if mid != cin:
            layers.append(conv_bn_act(cin, mid, 1, 1, activation(hswish)))
        layers.append(conv_bn_act(mid, mid, kernel, stride, activation(hswish), groups=mid))
        if se:
            layers.append(SqueezeExcite(mid))
        layers.append(conv_bn_act(mid, cout, 1, 1, None))
        self.body = nn.Sequential(*layers)
        self.residual = residual

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.body(x)
        return out + x if self.residual else out


class GlobalAvgPool(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean((2, 3), keepdim=True)


class Classifier(nn.Module):
    """Flatten an N x C x 1 x 1 map and apply a linear layer."""

    def __init__(self, cin: int, classes: int):
        super().__init__()
        self.linear = nn.Linear(cin, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(torch.flatten(x, 1))
