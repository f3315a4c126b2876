"""Torch modules of the NAS-Bench-201 CIFAR network (see ``latency_kit.spaces.nb201``).

Kept apart from the space so that resolving the space does not import torch.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from latency_kit.spaces.nb201 import CELLS_PER_STAGE, EDGES, STAGES, STEM_CHANNELS, is_degenerate


class ReLUConvBN(nn.Sequential):
    """NAS-Bench-201's ``nor_conv``: ReLU, convolution (no bias), BatchNorm."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1):
        super().__init__(nn.ReLU(), nn.Conv2d(cin, cout, kernel, stride, kernel // 2, bias=False),
                         nn.BatchNorm2d(cout))


def edge_module(op: str, channels: int) -> nn.Module:
    """The module of one cell edge (``none`` has none: the edge is dropped)."""
    if op == "skip_connect":
        return nn.Identity()
    if op == "nor_conv_1x1":
        return ReLUConvBN(channels, channels, 1)
    if op == "nor_conv_3x3":
        return ReLUConvBN(channels, channels, 3)
    if op == "avg_pool_3x3":
        return nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)
    raise ValueError(f"no module for nb201 op {op!r}")


def stem(channels: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(3, channels, 3, 1, 1, bias=False), nn.BatchNorm2d(channels))


class ResidualReduction(nn.Module):
    """The residual block between stages: two ReLU-Conv-BN (first stride 2) plus
    an average-pool + 1x1 convolution shortcut."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv_a = ReLUConvBN(cin, cout, 3, 2)
        self.conv_b = ReLUConvBN(cout, cout, 3, 1)
        self.shortcut = nn.Sequential(nn.AvgPool2d(2, stride=2), nn.Conv2d(cin, cout, 1, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shortcut(x) + self.conv_b(self.conv_a(x))


class Head(nn.Module):
    """BN, ReLU, global average pooling and the linear classifier."""

    def __init__(self, channels: int, classes: int):
        super().__init__()
        self.act = nn.Sequential(nn.BatchNorm2d(channels), nn.ReLU())
        self.classifier = nn.Linear(channels, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.act(x).mean((2, 3)))


class Cell(nn.Module):
    """One NAS-Bench-201 cell: node i sums its incoming edges; node 3 is the output.

    A degenerate cell (no path from the input to node 3 avoids ``none``) is
    ``x * 0`` and nothing else: the benchmark's ``none`` operation, which keeps
    the input in exported graphs where a constant zero would let ONNX
    Runtime drop the input altogether.
    """

    def __init__(self, ops: Sequence[str], channels: int):
        super().__init__()
        kept = [] if is_degenerate(ops) else [(e, op) for e, op in zip(EDGES, ops) if op != "none"]
        self.wiring = [edge for edge, _ in kept]
        self.edges = nn.ModuleList(edge_module(op, channels) for _, op in kept)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.wiring:
            return x.mul(0.0)
        # As in the benchmark's network, every non-``none`` edge runs, even from
        # a node whose inputs are all ``none`` (that node is zero).
        nodes: list[torch.Tensor | None] = [x, None, None, None]
        for (to, src), edge in zip(self.wiring, self.edges):
            if nodes[src] is None:
                nodes[src] = torch.zeros_like(x)
            out = edge(nodes[src])
            nodes[to] = out if nodes[to] is None else nodes[to] + out
        output = nodes[3]
        assert output is not None  # a cell that is not degenerate reaches node 3
        return output


class NB201Network(nn.Module):
    """The NAS-Bench-201 CIFAR network for one cell."""

    def __init__(self, ops: Sequence[str], classes: int = 10):
        super().__init__()
        layers: list[nn.Module] = [stem(STEM_CHANNELS)]
        previous = STEM_CHANNELS
        for s, (channels, _) in enumerate(STAGES):
            if s > 0:
                layers.append(ResidualReduction(previous, channels))
            layers += [Cell(ops, channels) for _ in range(CELLS_PER_STAGE)]
            previous = channels
        self.features = nn.Sequential(*layers)
        self.head = Head(previous, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))
