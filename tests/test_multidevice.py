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
from nas.multidevice import MultiDevicePNAG, error_scale
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
                        gen_samples=8, candidates=48, rerank=3, rounds=2, front_budgets=8,
                        front_queries=2, front_steps=2)
    model = MultiDevicePNAG(space, accuracy, devices, settings, shots=8, pool_size=400).fit()
    return space, model, unseen


def test_generates_valid_archs_within_budget_for_unseen_device(trained):
    space, model, unseen = trained
    assert len(model.references_) == 8
    device = model.device("dev4", unseen.cost_many(model.references_))
    low, high = device.feasible.low, device.feasible.high
    answered = 0
    for budget in np.exp(np.linspace(np.log(low), np.log(high), 6)[1:-1]):
        try:
            result = model.generate(device, float(budget), n=2)
        except LatkitError as exc:  # near the floor the margin can leave nothing
            assert "with the margin" in str(exc)
            continue
        answered += 1
        for pick in result.picks:
            assert space.parse(space.format(pick.arch)) == pick.arch
            assert space.decode(space.encode(pick.arch)) == pick.arch
            assert pick.cost <= budget                       # what the model promises
            true = float(unseen.cost_many([pick.arch])[0])
            assert true <= budget, (true, budget)            # and the real device agrees
        fresh = model.search(device, float(budget), seed=1)  # the generator's own search
        assert fresh.best.cost * fresh.factor <= budget and fresh.factor == result.factor
    assert answered >= 2
    # active rounds and the front sweep queried beyond the random seed share of M
    assert len(model.archive_) > round(model.settings.archs * model.settings.seed_share)


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


class OffFamilyCost(SyntheticCost):
    """The unseen device plus a per-decision cost component none of the training
    devices has (``extra``): its truth differs from what the transfer can express."""

    def __init__(self, base: SyntheticCost, extra: np.ndarray):
        self.space, self.weights, self.level, self.extra = base.space, base.weights, base.level, extra

    def cost_many(self, archs):
        f = features(self.space, archs)
        return np.exp(self.level + f @ self.weights + f @ self.extra)


def test_margin_keeps_every_answer_within_budget_on_a_device_unlike_the_transfer(trained):
    space, model, unseen = trained
    dim = unseen.weights.shape[0]
    truth = OffFamilyCost(unseen, np.random.default_rng(5).normal(0, 0.01, dim))
    device = model.device("off", truth.cost_many(model.references_))
    low, high = device.feasible.low, device.feasible.high
    answered, overshoots_without = 0, 0
    for budget in np.exp(np.linspace(np.log(low), np.log(high), 16)[1:-1]):
        try:
            bare = model.generate(device, float(budget), n=2, safety=0.0)
            overshoots_without += sum(float(truth.cost_many([p.arch])[0]) > budget
                                      for p in bare.picks)
        except LatkitError:  # no queried network is predicted this cheap
            pass
        try:
            result = model.generate(device, float(budget), n=2)
        except LatkitError as exc:  # the margin leaves nothing under a budget near the floor
            assert "with the margin" in str(exc) and "held-out cases" in str(exc)
            continue
        answered += 1
        for rank, pick in enumerate(result.picks):
            assert pick.cost * result.factor <= budget                 # the promise
            assert float(truth.cost_many([pick.arch])[0]) <= budget    # the real device
            assert result.margin_ms(rank) == pytest.approx(pick.cost * (result.factor - 1))
    assert answered >= 5
    assert overshoots_without > 0  # without the margin this device breaks budgets
    # the report: the margin's target, its measured coverage, and the line users see
    margin = model.margin_
    assert margin.level == 0.99 and margin.devices == 4
    assert result.factor == margin.factor(error_scale(device)) > 1  # in the device's own error
    assert 0.5 < margin.coverage <= 1 and result.coverage == margin.coverage  # measured, held out
    assert bare.factor == 1.0 and bare.coverage == model.coverage_at(0.0) < result.coverage
    # answers come from the known front: never worse for a larger budget
    values = [model.generate(device, float(b)).best.value
              for b in np.exp(np.linspace(np.log(low), np.log(high), 16)[6:])]
    assert all(b >= a for a, b in zip(values, values[1:])), values
    line = result.describe()
    assert line.startswith(f"predicted {result.best.cost:.4g} ms, margin ")
    assert line.endswith(f"covers {100 * result.coverage:.1f}% of held-out cases")
    fields = result.margin_json()
    assert fields["predicted_ms"] == round(result.best.cost, 4)
    assert fields["coverage_target"] == 0.99 and fields["coverage"] == round(result.coverage, 4)


def test_a_single_device_pnag_on_the_transfer_keeps_the_same_margin(trained):
    """MultiDevicePNAG.cost(device): the device's predicted latency as a cost source
    that carries the calibration, so a PNAG trained on it (as `latkit nas generate`
    on a few-shot profile) keeps the multi-device model's margin for that device."""
    from nas.margin import cost_margin

    space, model, unseen = trained
    device = model.device("dev4", unseen.cost_many(model.references_))
    cost = model.cost(device)
    assert cost.held_out_errors().scale == error_scale(device)
    margin = cost_margin(cost, 0.99)
    assert margin.factor == pytest.approx(model._factor(device, None)[0])
    assert margin.coverage == pytest.approx(model.margin_.coverage)


def test_generate_all_fits_every_device(trained):
    space, model, unseen = trained
    dim = unseen.weights.shape[0]
    truths = {"dev4": unseen,
              "off": OffFamilyCost(unseen, np.random.default_rng(6).normal(0, 0.01, dim))}
    devices = [model.device(n, t.cost_many(model.references_)) for n, t in truths.items()]
    budgets = [float(np.quantile(d.feasible.quantiles, 0.7)) for d in devices]
    pick, costs = model.generate_all(devices, budgets)
    for device, budget in zip(devices, budgets):
        assert costs[device.name] * model._factor(device, None)[0] <= budget
        assert float(truths[device.name].cost_many([pick.arch])[0]) <= budget
    # the best queried network that fits both: each device alone may do better, never worse
    for device, budget in zip(devices, budgets):
        assert model.generate(device, budget).best.value >= pick.value
    bigger, _ = model.generate_all(devices, [b * 1.2 for b in budgets])
    assert bigger.value >= pick.value


def test_conformal_quantile_and_held_out_coverage():
    from nas.margin import conformal_quantile, fit_margin

    r = np.arange(1.0, 100.0)                      # 99 residuals 1..99
    assert conformal_quantile(r, 0.9) == 90.0      # ceil(100 * 0.9) = 90th smallest
    assert conformal_quantile(r[:5], 0.99) == float("inf")
    # device c runs 0.3 slower in log terms than a and b predict: leaving it out shows it
    groups = {"a": np.linspace(-0.05, 0.05, 50), "b": np.linspace(-0.05, 0.05, 50),
              "c": np.full(50, 0.3)}
    margin = fit_margin(groups, level=0.9)
    assert margin.per_device["c"] == pytest.approx(0.05 * 40 / 49 + 0.0, abs=0.01)
    assert margin.coverage == pytest.approx(2 / 3, abs=0.02)   # c's cases are not covered
    assert margin.log_bound == pytest.approx(0.3)              # pooled, c is in
    with pytest.raises(LatkitError, match="at least 2 devices"):
        fit_margin({"a": r})


def test_a_stored_model_answers_as_the_trained_one(trained, tmp_path):
    """Saved and loaded (nas.multistore), the model rebuilds its device side from
    the same costs and gives the same references, margin and answers, and the
    same fresh search for a seed: no training, no accuracy query."""
    from latency_kit.errors import CorruptFileError
    from nas.multistore import load, save

    space, model, unseen = trained
    save(model, tmp_path / "multi")
    loaded = load(tmp_path / "multi", space, model.accuracy, model.costs)
    assert loaded.references_ == model.references_ and loaded.archive_ == model.archive_
    assert loaded.margin_ == model.margin_
    measured = unseen.cost_many(model.references_)
    a, b = model.device("dev4", measured), loaded.device("dev4", measured)
    answered = 0
    for budget in np.exp(np.linspace(np.log(a.feasible.low), np.log(a.feasible.high), 6)[1:-1]):
        try:
            first = model.generate(a, float(budget), n=2)
        except LatkitError:
            continue
        again = loaded.generate(b, float(budget), n=2)
        assert [(p.arch, p.cost, p.value, p.score) for p in again.picks] == \
            [(p.arch, p.cost, p.value, p.score) for p in first.picks]
        assert (again.factor, again.coverage) == (first.factor, first.coverage)
        answered += 1
    assert answered >= 2
    budget = float(np.sqrt(a.feasible.low * a.feasible.high))
    assert loaded.search(b, budget, seed=3).best.arch == model.search(a, budget, seed=3).best.arch

    class Other(type(unseen)):
        def identity(self):
            return "OtherCost"

    names = list(model.costs)
    with pytest.raises(LatkitError, match="trained on devices"):
        load(tmp_path / "multi", space, model.accuracy, dict(reversed(list(model.costs.items()))))
    changed = dict(model.costs)
    changed[names[0]] = Other.__new__(Other)
    changed[names[0]].__dict__.update(model.costs[names[0]].__dict__)
    with pytest.raises(LatkitError, match=f"costs of {names[0]} changed"):
        load(tmp_path / "multi", space, model.accuracy, changed)
    with pytest.raises(LatkitError, match="trained on space"):
        load(tmp_path / "multi", get_space("nb201"), model.accuracy, model.costs)
    (tmp_path / "multi" / "meta.json").write_text("{not json")
    with pytest.raises(CorruptFileError, match="give the directory"):
        load(tmp_path / "multi", space, model.accuracy, model.costs)


def test_a_device_joins_from_measurements_of_any_networks(trained):
    """A few-shot profile measures its own reference networks, not necessarily
    the model's: the device joins from any measured networks, and its answers
    still fit its true latency; measurements that cover the references are
    exactly ``device()``."""
    space, model, unseen = trained
    covering = dict(zip(model.references_, unseen.cost_many(model.references_)))
    assert np.array_equal(model.device_from("dev4", covering).embedding,
                          model.device("dev4", list(covering.values())).embedding)
    rng = np.random.default_rng(5)
    others = [space.sample(rng) for _ in range(10)]
    device = model.device_from("dev4", dict(zip(others, unseen.cost_many(others))))
    assert device.embedding.shape == model.device("dev4", list(covering.values())).embedding.shape
    answered = 0
    for budget in np.exp(np.linspace(np.log(device.feasible.low), np.log(device.feasible.high), 6)[1:-1]):
        try:
            result = model.generate(device, float(budget))
        except LatkitError:
            continue
        answered += 1
        assert float(unseen.cost_many([result.best.arch])[0]) <= budget
    assert answered >= 2
    with pytest.raises(LatkitError, match="at least 3 measurements"):
        model.device_from("x", dict(zip(others[:2], [1.0, 2.0])))
    with pytest.raises(LatkitError, match="positive ms"):
        model.device_from("x", dict(zip(others[:3], [1.0, -2.0, 3.0])))

    class Profile:  # what device_from_profile reads of a FewShotProfile
        name, meta = "phone-x", {"space": "ofa-mbv3"}
        measurements = [{"arch": space.format(a), "value_ms": float(v)}
                        for a, v in zip(others, unseen.cost_many(others))]

    assert np.array_equal(model.device_from_profile(Profile()).embedding, device.embedding)
    Profile.meta = {"space": "nb201"}
    with pytest.raises(LatkitError, match="is for space nb201"):
        model.device_from_profile(Profile())
