"""What the latency predictor asks of a space: block costs and block groupings.

Both hooks have defaults, so a space that overrides neither (the toy space
here, or NAS-Bench-201) still gets features; ``ofa-mbv3`` overrides both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import pytest

from latency_kit.lut import LatencyTable
from latency_kit.predict.features import (ARCH_COLUMNS, BLOCK_COLUMNS, DEFAULT_RECIPE, GENERIC_RECIPE,
                                          GROUP_FEATURES, KERNEL_FEATURES, KERNEL_RECIPE, FeatureTable,
                                          recipe_for)
from latency_kit.spaces import get_space
from latency_kit.spaces.base import Block, BlockGrouping, Decision, SearchSpace
from latency_kit.spaces.ofa_mbv3 import OFAMobileNetV3, stage_of
from latency_kit.stats import LatencyStats

WIDTHS = (4, 8)


@dataclass(frozen=True)
class Toy:
    width: int


class ToySpace(SearchSpace[Toy]):
    """One 3x3 convolution of 4 or 8 channels on a 3x8x8 input; no predictor hooks."""

    name = "toy-hooks"

    def decisions(self) -> list[Decision]:
        return [Decision("width", WIDTHS)]

    def encode(self, arch: Toy) -> list[int]:
        return [WIDTHS.index(arch.width)]

    def decode(self, indices: Sequence[int]) -> Toy:
        return Toy(WIDTHS[indices[0]])

    def parse(self, text: str) -> Toy:
        return Toy(int(text.removeprefix("w")))

    def format(self, arch: Toy) -> str:
        return f"w{arch.width}"

    def to_json(self, arch: Toy) -> dict[str, Any]:
        return {"width": arch.width}

    def from_json(self, data: dict[str, Any]) -> Toy:
        return Toy(int(data["width"]))

    def input_shape(self, arch: Toy, batch: int = 1) -> tuple[int, ...]:
        return (batch, 3, 8, 8)

    def blocks(self, arch: Toy) -> list[Block]:
        return [Block(f"conv{arch.width}", (1, 3, 8, 8))]

    def all_blocks(self) -> list[Block]:
        return [self.blocks(Toy(w))[0] for w in WIDTHS]

    def build_block(self, key: str):
        import torch

        return torch.nn.Conv2d(3, int(key.removeprefix("conv")), 3, padding=1, bias=False).eval()


def test_defaults_need_no_override() -> None:
    pytest.importorskip("torch")
    space = ToySpace()
    assert space.block_groupings() == ()
    assert recipe_for(space, "onnxruntime") == GENERIC_RECIPE
    assert space.block_costs("conv8") == (8 * 3 * 9 * 64, 8 * 3 * 9, 3 * 8 * 8)  # torch-counted
    lut = LatencyTable(space=space.name, name="toy")
    for key, ms in (("conv4", 1.0), ("conv8", 2.5)):
        lut.add(key, LatencyStats.from_dict({"median_ms": ms, "count": 1}))
    table = FeatureTable(space, lut)
    assert table.names == (*BLOCK_COLUMNS, *ARCH_COLUMNS)
    X = table.transform([Toy(4), Toy(8)], ("lut", "macs", "blocks", "resolution"))
    assert X.tolist() == [[1.0, 4 * 3 * 9 * 64 / 1e6, 1.0, 8.0], [2.5, 8 * 3 * 9 * 64 / 1e6, 1.0, 8.0]]


def test_ofa_groups_every_block_once() -> None:
    space = get_space("ofa-mbv3", resolutions=(160,))
    stages, kernels = space.block_groupings()
    assert tuple(f"lut:{g}" for g in stages.groups) == GROUP_FEATURES
    assert tuple(f"lut:{g}" for g in kernels.groups) == KERNEL_FEATURES
    for block in space.all_blocks():
        assert stages.group_of(block.key) in stages.groups
        assert kernels.group_of(block.key) in kernels.groups
    assert recipe_for(space, "onnxruntime") == KERNEL_RECIPE
    assert get_space("nb201").block_groupings() == ()


def test_a_runtime_recipe_needs_the_space_columns() -> None:
    """A space grouping its blocks by stage only cannot take the per-kernel recipe."""

    class StagesOnly(OFAMobileNetV3):
        def block_groupings(self) -> tuple[BlockGrouping, ...]:
            return (BlockGrouping(("stem", "s1", "s2", "s3", "s4", "s5", "head"), stage_of),)

    assert recipe_for(StagesOnly(), "onnxruntime") == DEFAULT_RECIPE
    assert recipe_for(StagesOnly(), "torch-cuda") == DEFAULT_RECIPE
