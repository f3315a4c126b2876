"""ofa-mbv3: the shared space suite plus OFA interoperability."""

from __future__ import annotations

import pytest

from latency_kit.errors import ArchError
from latency_kit.spaces import get_space
from latency_kit.spaces.ofa_mbv3 import OFAMobileNetV3

from latency_kit.testing.spaces import SpaceSuite


class TestOFA(SpaceSuite):
    @pytest.fixture
    def space(self):
        return get_space("ofa-mbv3")


def test_96_blocks_per_resolution() -> None:
    assert len(OFAMobileNetV3(resolutions=(224,)).all_blocks()) == 96
    assert len(OFAMobileNetV3(resolutions=(160, 224)).all_blocks()) == 192


def test_keys_match_ofa_note10_lut(refdata) -> None:
    yaml = pytest.importorskip("yaml")
    for res in (160, 176, 224):
        table = yaml.safe_load(open(refdata / "ofa" / "note10_lut" / f"{res}_lookup_table.yaml"))
        keys = {b.key for b in OFAMobileNetV3(resolutions=(res,)).all_blocks()}
        assert keys == set(table)


def test_bad_resolution_and_layer() -> None:
    space = get_space("ofa-mbv3")
    with pytest.raises(ArchError, match="resolution"):
        space.parse("r150_k3e3-k3e3_k3e3-k3e3_k3e3-k3e3_k3e3-k3e3_k3e3-k3e3")
    with pytest.raises(ArchError, match="kernel"):
        space.parse("r224_k9e3-k3e3_k3e3-k3e3_k3e3-k3e3_k3e3-k3e3_k3e3-k3e3")
    with pytest.raises(ArchError, match="depth"):
        space.parse("r224_k3e3_k3e3-k3e3_k3e3-k3e3_k3e3-k3e3_k3e3-k3e3")


def test_blocks_chain() -> None:
    """The network is exactly the chain of its LUT blocks."""
    import torch

    space = get_space("ofa-mbv3")
    arch = space.sample(9)
    x = torch.zeros(space.input_shape(arch))
    with torch.no_grad():
        for block in space.blocks(arch):
            assert tuple(x.shape) == tuple(block.input_shape), block.key
            x = space.build_block(block.key)(x)
    assert tuple(x.shape) == (1, 1000)
