"""The multi-device generator: one model, a new device from its reference latencies.

Devices are a synthetic family with known structure (a device's log-latency
mixes three latent per-decision cost vectors), over the real ofa-mbv3 space,
so generated architectures can be checked against the unseen device's true
latency. Tiny training settings: this tests plumbing and guarantees (valid
architectures, budgets respected), not search quality, which
``benchmarks/multidevice_nb201.py`` measures.
"""

from __future__ import annotations

import numpy as np
import pytest

from latency_kit.errors import LatkitError
from latency_kit.spaces import get_space
from nas.multidevice import MultiDevicePNAG
from nas.pnag import Settings
from nas.sources import AccuracySource, CostSource

LATENT = 3


class SyntheticCost(CostSource):
    """exp(level + features @ basis @ mix): a device of the synthetic family."""

    def __init__(self, space, basis: np.ndarray, mix: np.ndarray, level: float):
        super().__init__(space)
        self.weights, self.level = basis @ mix, level

    def cost_many(self, archs):
        return np.exp(self.level + features(self.space, archs) @ self.weights)


class SyntheticAccuracy(AccuracySource):
    def __init__(self, space, weights: np.ndarray):
        super().__init__(space)
        self.weights = weights

    def score_many(self, archs):
        return features(self.space, archs) @ self.weights


_FEATURES: dict = {}


def features(space, archs) -> np.ndarray:
    for a in archs:
        if a not in _FEATURES:
            _FEATURES[a] = space.features(a).astype(float)
    return np.stack([_FEATURES[a] for a in archs])


@pytest.fixture(scope="module")
def trained():
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny networks: extra threads only contend
    try:
        yield _train()
    finally:
        torch.set_num_threads(threads)


def _train():
    space = get_space("ofa-mbv3")
    rng = np.random.default_rng(0)
    dim = len(space.features(space.sample(0)))
    basis = rng.gamma(2.0, 0.02, size=(dim, LATENT))
    devices = {f"dev{k}": SyntheticCost(space, basis, rng.dirichlet(np.ones(LATENT)),
                                        float(rng.uniform(0, 2))) for k in range(5)}
    unseen = devices.pop("dev4")
    accuracy = SyntheticAccuracy(space, basis.sum(axis=1) + rng.normal(0, 0.01, dim))
    settings = Settings(archs=120, eval_steps=15, eval_hidden=32, gen_steps=6, gen_budgets=4,
                        gen_samples=8, candidates=48, rerank=3)
    model = MultiDevicePNAG(space, accuracy, devices, settings, shots=8, pool_size=400).fit()
    return space, model, unseen


def test_generates_valid_archs_within_budget_for_unseen_device(trained):
    space, model, unseen = trained
    assert len(model.references_) == 8
    device = model.device("dev4", unseen.cost_many(model.references_))
    low, high = device.feasible.low, device.feasible.high
    for budget in np.exp(np.linspace(np.log(low), np.log(high), 6)[1:-1]):
        result = model.generate(device, float(budget), n=2)
        for pick in result.picks:
            assert space.parse(space.format(pick.arch)) == pick.arch
            assert space.decode(space.encode(pick.arch)) == pick.arch
            assert pick.cost <= budget                       # what the model promises
            true = float(unseen.cost_many([pick.arch])[0])
            assert true <= budget * 1.05, (true, budget)     # and the real device agrees


def test_device_needs_every_reference(trained):
    space, model, unseen = trained
    with pytest.raises(LatkitError, match="needs 8 reference"):
        model.device("x", [1.0, 2.0])
    partial = {space.format(a): 1.0 for a in model.references_[:-1]}
    with pytest.raises(LatkitError, match="lacks measurements"):
        model.device("x", partial)
    device = model.device("dev4", unseen.cost_many(model.references_))
    with pytest.raises(LatkitError, match="below the smallest"):
        model.generate(device, device.feasible.low / 2)
