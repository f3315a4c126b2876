"""nb201: the shared space suite plus NAS-Bench-201 specifics."""

from __future__ import annotations

import json
from itertools import product

import pytest

from latency_kit.errors import ArchError
from latency_kit.spaces import get_space
from latency_kit.spaces.nb201 import OPS, NB201Arch

from latency_kit.testing.spaces import SpaceSuite

EXAMPLE = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"


class TestNB201(SpaceSuite):
    @pytest.fixture
    def space(self):
        return get_space("nb201")


def test_standard_string() -> None:
    space = get_space("nb201")
    arch = space.parse(EXAMPLE)
    assert arch.ops == ("nor_conv_3x3", "nor_conv_3x3", "avg_pool_3x3", "skip_connect",
                        "nor_conv_3x3", "skip_connect")
    assert space.format(arch) == EXAMPLE
    assert space.to_json(arch) == {"ops": list(arch.ops)}
    assert len(space.decisions()) == 6 and all(d.choices == OPS for d in space.decisions())


def test_malformed_strings() -> None:
    space = get_space("nb201")
    for bad in ("|nor_conv_3x3~0|+|nor_conv_3x3~0|", "|conv~0|+|none~0|none~1|+|none~0|none~1|none~2|",
                "|none~1|+|none~0|none~1|+|none~0|none~1|none~2|",
                "|none~0|+|none~0|+|none~0|none~1|none~2|", "none~0+|none~0|none~1|+|a~0|b~1|c~2|"):
        with pytest.raises(ArchError):
            space.parse(bad)
    with pytest.raises(ArchError):
        space.from_json({"ops": ["none"] * 5})
    with pytest.raises(ArchError):
        space.decode([0, 1, 2, 3, 4, 5])


def test_all_15625_round_trip_and_unique() -> None:
    space = get_space("nb201")
    strings = {space.format(NB201Arch(ops)) for ops in product(OPS, repeat=6)}
    assert len(strings) == 15625
    assert all(space.format(space.parse(s)) == s for s in list(strings)[::97])


def test_refdata_strings_parse(refdata) -> None:
    data = json.loads((refdata / "nb201_minibench" / "nb201_accuracies.json").read_text())
    space = get_space("nb201")
    rows = data["rows"]
    assert all(space.format(space.parse(row[1])) == row[1] for row in rows[::50])


def test_blocks_and_network_structure() -> None:
    """13 distinct blocks; the network has 15 cells and the NB201 parameter count."""
    space = get_space("nb201")
    assert len(space.all_blocks()) == 1 + 9 + 2 + 1
    conv3 = space.parse("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+"
                        "|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|")
    empty = space.parse("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|")
    net = space.build(conv3)
    assert sum(type(m).__name__ == "Cell" for m in net.modules()) == 15
    # Counted by hand: 15 cells x 6 edges x (9 C^2 + 2C) + stem + reductions + head
    # = 1,531,546, the 1.53 M that NAS-Bench-201 reports for its largest CIFAR-10 cell.
    params = sum(p.numel() for p in net.parameters())
    expected = sum(5 * 6 * (9 * c * c + 2 * c) for c in (16, 32, 64))
    expected += 3 * 9 * 16 + 2 * 16  # stem
    expected += sum(9 * a * b + 2 * b + 9 * b * b + 2 * b + a * b for a, b in ((16, 32), (32, 64)))
    expected += 2 * 64 + 64 * 10 + 10  # head
    assert params == expected == 1_531_546
    assert space.params(conv3) == expected  # the block sum counts the same parameters
    assert space.macs(conv3) > space.macs(empty) > 0
    assert not any(k.key.startswith("nb201-edge") for k in space.blocks(empty))


def test_network_matches_blocks_macs() -> None:
    """MACs from the block list equal MACs counted on the whole network."""
    from latency_kit.spaces.counting import count_macs_params

    space = get_space("nb201")
    for seed in range(3):
        arch = space.sample(seed)
        macs, params = count_macs_params(space.build(arch), space.input_shape(arch))
        assert (macs, params) == (space.macs(arch), space.params(arch))


def test_classes_option() -> None:
    import torch

    space = get_space("nb201", classes=100)
    arch = space.parse(EXAMPLE)
    assert space.build(arch)(torch.zeros(2, 3, 32, 32)).shape == (2, 100)
    assert space != get_space("nb201")


def test_profile_cli_accepts_nb201_without_resolution() -> None:
    """`latkit profile --space nb201` must not trip over ofa-mbv3's default --resolution."""
    from click.testing import CliRunner

    from latency_kit.cli import main

    result = CliRunner().invoke(main, ["profile", "--device", "no-such-device", "--space", "nb201"])
    assert result.exit_code == 2
    assert "resolution" not in result.output and "no-such-device" in result.output
    result = CliRunner().invoke(main, ["profile", "--device", "cpu", "--space", "nb201",
                                       "--resolution", "160"])
    assert result.exit_code == 2 and "no input-resolution option" in result.output
