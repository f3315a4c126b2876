"""The shared test suite every search space must pass, shipped with latkit
(as ``optuna.testing`` is) so a third-party space is checked the same way.

Subclass :class:`SpaceSuite` and provide a ``space`` fixture::

    from latency_kit.testing.spaces import SpaceSuite

    class TestMySpace(SpaceSuite):
        @pytest.fixture
        def space(self):
            return get_space("my-space")

It needs no other fixture; a network is built and run once, with torch on the CPU.
"""

from __future__ import annotations

import numpy as np
import pytest

from latency_kit.errors import ArchError
from latency_kit.spaces import SearchSpace, space_class, takes_resolution


class SpaceSuite:
    @pytest.fixture
    def space(self) -> SearchSpace:  # pragma: no cover - overridden
        raise NotImplementedError

    def test_registered(self, space: SearchSpace) -> None:
        assert issubclass(type(space), space_class(space.name))

    def test_resolution_option_declared(self, space: SearchSpace) -> None:
        if takes_resolution(space):
            assert all(int(r) > 0 for r in getattr(space, "resolutions"))

    def test_sample_is_seeded(self, space: SearchSpace) -> None:
        a = [space.format(space.sample(np.random.default_rng(7))) for _ in range(2)]
        assert a[0] == a[1]

    def test_string_round_trip(self, space: SearchSpace) -> None:
        rng = np.random.default_rng(1)
        for _ in range(30):
            arch = space.sample(rng)
            assert space.parse(space.format(arch)) == arch

    def test_json_round_trip(self, space: SearchSpace) -> None:
        import json

        rng = np.random.default_rng(2)
        for _ in range(30):
            arch = space.sample(rng)
            assert space.from_json(json.loads(json.dumps(space.to_json(arch)))) == arch

    def test_encode_decode(self, space: SearchSpace) -> None:
        rng = np.random.default_rng(3)
        decisions = space.decisions()
        for _ in range(30):
            arch = space.sample(rng)
            idx = space.encode(arch)
            assert len(idx) == len(decisions)
            assert all(0 <= i < len(d.choices) for i, d in zip(idx, decisions))
            assert space.decode(idx) == arch

    def test_features_fixed_length(self, space: SearchSpace) -> None:
        rng = np.random.default_rng(4)
        lengths = {space.features(space.sample(rng)).shape for _ in range(5)}
        assert len(lengths) == 1

    def test_malformed_string(self, space: SearchSpace) -> None:
        with pytest.raises(ArchError):
            space.parse("not-an-architecture")

    def test_blocks_have_keys_in_all_blocks(self, space: SearchSpace) -> None:
        every = {b.key for b in space.all_blocks()}
        rng = np.random.default_rng(5)
        for _ in range(10):
            for block in space.blocks(space.sample(rng)):
                assert block.key in every

    def test_network_runs(self, space: SearchSpace) -> None:
        import torch

        arch = space.sample(0)
        with torch.no_grad():
            out = space.build(arch)(torch.zeros(space.input_shape(arch)))
        assert out.ndim == 2 and out.shape[0] == 1

    def test_macs_positive(self, space: SearchSpace) -> None:
        arch = space.sample(0)
        assert space.macs(arch) > 0 and space.params(arch) > 0
