"""``toy-chain``: a search space in one file that registers itself.

Three convolution layers on a 16x16 RGB input, each choosing its width (8 or
16 channels) and kernel (1 or 3), then a linear classifier. String form
``8k3-16k1-8k3``; JSON ``{"widths": [...], "kernels": [...]}``. Each layer
and the head is a block; its key says everything needed to rebuild it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import product
from typing import Any, Sequence

from latency_kit.errors import ArchError
from latency_kit.spaces import Block, Decision, SearchSpace, register_space

LAYERS = 3
WIDTHS = (8, 16)
KERNELS = (1, 3)
SIZE = 16
CLASSES = 10
_LAYER = re.compile(r"^(\d+)k(\d+)$")
_CONV_KEY = re.compile(rf"^toy-conv-input:{SIZE}x{SIZE}x(\d+)-output:(\d+)-kernel:(\d+)$")
_HEAD_KEY = re.compile(rf"^toy-head-input:{SIZE}x{SIZE}x(\d+)-output:{CLASSES}$")


@dataclass(frozen=True)
class ToyArch:
    widths: tuple[int, ...]
    kernels: tuple[int, ...]


@register_space
class ToyChain(SearchSpace[ToyArch]):
    name = "toy-chain"

    def decisions(self) -> list[Decision]:
        return [Decision(f"layer{i}.{what}", choices) for i in range(LAYERS)
                for what, choices in (("width", WIDTHS), ("kernel", KERNELS))]

    def encode(self, arch: ToyArch) -> list[int]:
        return [i for w, k in zip(arch.widths, arch.kernels) for i in (WIDTHS.index(w), KERNELS.index(k))]

    def decode(self, indices: Sequence[int]) -> ToyArch:
        if len(indices) != 2 * LAYERS:
            raise ArchError(f"toy-chain needs {2 * LAYERS} decisions, got {len(indices)}")
        return ToyArch(tuple(WIDTHS[int(i)] for i in indices[0::2]),
                       tuple(KERNELS[int(i)] for i in indices[1::2]))

    def parse(self, text: str) -> ToyArch:
        matches = [_LAYER.match(part) for part in str(text).split("-")]
        if len(matches) != LAYERS or not all(matches):
            raise ArchError(f"malformed toy-chain architecture {text!r}; write e.g. 8k3-16k1-8k3")
        return self._checked([int(m.group(1)) for m in matches], [int(m.group(2)) for m in matches])

    def format(self, arch: ToyArch) -> str:
        return "-".join(f"{w}k{k}" for w, k in zip(arch.widths, arch.kernels))

    def to_json(self, arch: ToyArch) -> dict[str, Any]:
        return {"widths": list(arch.widths), "kernels": list(arch.kernels)}

    def from_json(self, data: dict[str, Any]) -> ToyArch:
        try:
            return self._checked(list(data["widths"]), list(data["kernels"]))
        except (KeyError, TypeError):
            raise ArchError('toy-chain JSON needs "widths" and "kernels"') from None

    def _checked(self, widths: list[int], kernels: list[int]) -> ToyArch:
        if (len(widths) != LAYERS or len(kernels) != LAYERS or not set(widths) <= set(WIDTHS)
                or not set(kernels) <= set(KERNELS)):
            raise ArchError(f"toy-chain layers take widths {WIDTHS} and kernels {KERNELS}")
        return ToyArch(tuple(widths), tuple(kernels))

    def input_shape(self, arch: ToyArch, batch: int = 1) -> tuple[int, ...]:
        return (batch, 3, SIZE, SIZE)

    def blocks(self, arch: ToyArch) -> list[Block]:
        cins = (3, *arch.widths[:-1])
        return [*(_conv(c, w, k) for c, w, k in zip(cins, arch.widths, arch.kernels)),
                _head(arch.widths[-1])]

    def all_blocks(self) -> list[Block]:
        convs = [_conv(c, w, k) for c, w, k in product((3, *WIDTHS), WIDTHS, KERNELS)]
        return convs + [_head(w) for w in WIDTHS]

    def build_block(self, key: str):
        import torch
        from torch import nn

        torch.manual_seed(0)
        conv, head = _CONV_KEY.match(key), _HEAD_KEY.match(key)
        if conv:
            cin, cout, kernel = (int(g) for g in conv.groups())
            return nn.Sequential(nn.Conv2d(cin, cout, kernel, padding=kernel // 2), nn.ReLU()).eval()
        if head:
            return nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                                 nn.Linear(int(head.group(1)), CLASSES)).eval()
        raise KeyError(f"not a toy-chain block key: {key!r}")


def _conv(cin: int, cout: int, kernel: int) -> Block:
    return Block(f"toy-conv-input:{SIZE}x{SIZE}x{cin}-output:{cout}-kernel:{kernel}", (1, cin, SIZE, SIZE))


def _head(cin: int) -> Block:
    return Block(f"toy-head-input:{SIZE}x{SIZE}x{cin}-output:{CLASSES}", (1, cin, SIZE, SIZE))
