"""PNAG: dominance rule, ranking loss, evaluator, generator, budgets, store and CLI.

Everything runs on the ``nb201`` space with synthetic per-architecture tables
(a cost that grows with the convolutions, an accuracy with a known optimum),
so exact answers are known by enumerating the 15,625 architectures.
"""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from latency_kit.errors import LatkitError
from latency_kit.spaces import get_space
from nas.sources.accuracy import TableAccuracy
from nas.budget import BudgetContext, FeasibleRange
from nas.sources.costs import MAddsCost, TableCost
from nas.evaluator import dominance, fit_evaluator, kendall_tau, ranking_loss
from nas.pnag import PNAG, settings_from

OP_COST = {"none": 0.0, "skip_connect": 0.05, "nor_conv_1x1": 0.6, "nor_conv_3x3": 1.5,
           "avg_pool_3x3": 0.3}
OP_ACC = {"none": 0.0, "skip_connect": 1.0, "nor_conv_1x1": 2.0, "nor_conv_3x3": 3.5,
          "avg_pool_3x3": 0.5}


def synthetic(arch) -> tuple[float, float]:
    """(cost ms, accuracy %) of an nb201 arch: conv-heavy cells cost and score more."""
    weights = (1.0, 1.2, 0.8, 1.1, 0.9, 1.3)
    cost = 0.2 + sum(OP_COST[o] * w for o, w in zip(arch.ops, weights))
    acc = 60 + sum(OP_ACC[o] * w for o, w in zip(arch.ops, weights[::-1]))
    acc += 2.0 * (arch.ops[0] != "none") * (arch.ops[5] == "skip_connect")
    return round(cost, 4), round(acc, 4)


def synthetic_tables():
    """(space, every architecture, {arch: (ms, %)}, cost source, accuracy source)."""
    space = get_space("nb201")
    archs = [space.decode(list(ix)) for ix in itertools.product(range(5), repeat=6)]
    values = {a: synthetic(a) for a in archs}
    cost = TableCost.from_mapping(space, {a: v[0] for a, v in values.items()})
    acc = TableAccuracy.from_mapping(space, {a: v[1] for a, v in values.items()})
    return space, archs, values, cost, acc


@pytest.fixture(scope="session")
def nb201():
    return synthetic_tables()


@pytest.fixture(scope="session")
def model(nb201):
    space, _, _, cost, acc = nb201
    return PNAG(space, cost, acc, settings_from("tiny", gen_steps=80, eval_steps=80)).fit()


# -- dominance rule (eq. 5) and ranking loss (eq. 4) ---------------------------------
def test_dominance_both_under_budget_prefers_accuracy_and_ties_go_to_first():
    assert dominance(80, 70, 5, 1, 10) == 1      # more accurate wins, cost irrelevant
    assert dominance(70, 80, 1, 5, 10) == -1
    assert dominance(75, 75, 9, 1, 10) == 1      # tie in accuracy: +1 both ways
    assert dominance(75, 75, 1, 9, 10) == 1
    assert dominance(75, 75, 10, 10, 10) == 1    # cost equal to the budget fits


def test_dominance_otherwise_prefers_lower_cost():
    assert dominance(60, 90, 8, 12, 10) == 1     # only the first fits: cheaper wins
    assert dominance(90, 60, 12, 8, 10) == -1
    assert dominance(90, 60, 15, 12, 10) == -1   # both over budget: cheaper wins
    assert dominance(60, 90, 12, 15, 10) == 1
    assert dominance(60, 90, 12, 12, 10) == 1    # both over, equal cost: +1
    np.testing.assert_array_equal(dominance([80, 70], [70, 80], [1, 1], [1, 1], [10, 10]), [1, -1])


def test_ranking_loss_hinge_and_logistic_on_hand_made_case():
    acc = torch.tensor([80.0, 70.0])
    cost = torch.tensor([5.0, 3.0])
    budgets = torch.tensor([10.0, 4.0])  # 10: both fit, arch 0 wins; 4: arch 1 cheaper wins
    scores = torch.tensor([[2.0, 0.0], [0.5, 0.0]])
    # budget 10: d01=+1, z=2 -> 0 ; d10=-1... pair (1,0): d=-1, z=(-1)(0-2)=2 -> 0
    # budget 4: d01=-1, z=(-1)(0.5)=-0.5 -> 1.5 ; pair (1,0): d=+1, z=(0-0.5)=-0.5 -> 1.5
    expected = (0 + 0 + 1.5 + 1.5) / (2 * 2 * 1)
    assert float(ranking_loss(scores, acc, cost, budgets, "hinge")) == pytest.approx(expected)
    logistic = (2 * np.log1p(np.exp(-2.0)) + 2 * np.log1p(np.exp(0.5))) / 4
    assert float(ranking_loss(scores, acc, cost, budgets, "logistic")) == pytest.approx(logistic, rel=1e-5)
    perfect = torch.tensor([[3.0, 0.0], [-3.0, 0.0]])
    assert float(ranking_loss(perfect, acc, cost, budgets, "hinge")) == 0.0


def test_kendall_tau_of_pairwise_order():
    acc = np.array([70.0, 80.0, 90.0])
    cost = np.array([1.0, 2.0, 3.0])
    budgets = np.array([10.0])
    assert kendall_tau(np.array([[1.0, 2.0, 3.0]]), acc, cost, budgets) == 1.0
    assert kendall_tau(np.array([[3.0, 2.0, 1.0]]), acc, cost, budgets) == -1.0
    # at budget 1.5 only arch 0 fits: the order becomes "cheaper first"
    assert kendall_tau(np.array([[3.0, 2.0, 1.0]]), acc, cost, np.array([1.5])) == 1.0


def test_evaluator_learns_known_ordering(nb201):
    space, archs, values, _, _ = nb201
    rng = np.random.default_rng(0)
    pick = [archs[i] for i in rng.choice(len(archs), 200, replace=False)]
    cost = np.array([values[a][0] for a in pick])
    acc = np.array([values[a][1] for a in pick])
    feasible = FeasibleRange(float(cost.min()), float(cost.max()), "ms")
    budgets = np.quantile(cost, np.linspace(0.1, 1.0, 6))
    features = np.stack([space.features(a) for a in pick])
    _, fit = fit_evaluator(features, acc, cost, budgets, BudgetContext(feasible), hidden=64,
                           steps=100, seed=0)
    assert fit.heldout_archs == 40
    assert fit.tau > 0.6, fit


# -- generation ----------------------------------------------------------------------
def test_generated_architectures_are_valid_and_within_budget(model, nb201):
    space, _, values, _, _ = nb201
    low, high = model.feasible_.low, model.feasible_.high
    rng = np.random.default_rng(1)
    budgets = np.concatenate([np.exp(rng.uniform(np.log(low * 1.01), np.log(high), 12)), [low]])
    for budget in budgets:  # continuous budgets: none of them is a training budget
        result = model.generate(float(budget), n=3)
        assert result.picks and len(result.picks) <= 3
        for pick in result.picks:
            assert space.parse(space.format(pick.arch)) == pick.arch
            assert pick.cost == values[pick.arch][0] <= budget
            assert pick.value == values[pick.arch][1]
        assert [p.value for p in result.picks] == sorted((p.value for p in result.picks), reverse=True)


def test_unseen_budget_generation_is_close_to_optimal(model, nb201):
    _, _, values, _, _ = nb201
    budgets = model.feasible_.spread(16)
    unseen = (budgets[4:12] + budgets[5:13]) / 2  # midway between evaluator budgets
    ranks = []  # share of the architectures under the budget that the answer beats or equals
    for b in unseen:
        under = np.array([a for c, a in values.values() if c <= b])
        ranks.append(float((under <= model.generate(float(b)).best.value).mean()))
    assert np.mean(ranks) > 0.95 and min(ranks) > 0.85, ranks
    pure = [model.search(float(b), rerank=0, archive=False) for b in unseen]
    assert all(p.best.cost <= b for p, b in zip(pure, unseen))
    assert all(p.accuracy_queries <= 1 for p in pure)


def test_active_rounds_spend_the_same_queries_closer_to_the_front(nb201):
    space, _, values, cost, acc = nb201
    costs = np.array([c for c, _ in values.values()])
    accs = np.array([a for _, a in values.values()])
    budgets = np.quantile(costs, np.linspace(0.05, 0.95, 12))
    optimum = np.array([accs[costs <= b].max() for b in budgets])
    regret = {}
    for rounds in (0, 2):
        settings = settings_from("tiny", archs=120, rounds=rounds, gen_steps=5, eval_steps=150,
                                 front_budgets=0)
        fitted = PNAG(space, cost, acc, settings).fit()
        archive = fitted.archive_
        assert len(archive) == len({a for a, _, _ in archive}) == 120  # M queries, no repeats
        assert all(values[a] == (c, v) for a, v, c in archive)
        best = [max(v for _, v, c in archive if c <= b) for b in budgets]
        regret[rounds] = float(np.mean(optimum - np.array(best)))
    assert regret[2] < 0.7 * regret[0], regret


def test_active_rounds_reach_networks_larger_than_any_random_one():
    """ofa-mbv3: random draws stop far below the largest network; the rounds go above them."""
    from nas.sources.accuracy import resolve_accuracy

    space = get_space("ofa-mbv3", resolutions=(224,))
    cost, acc = MAddsCost(space), resolve_accuracy("proxy:params", space)  # bigger is better
    largest = {}
    for rounds in (0, 3):
        settings = settings_from("tiny", archs=100, rounds=rounds, gen_steps=5, eval_steps=60,
                                 front_budgets=0)
        fitted = PNAG(space, cost, acc, settings).fit()
        random_top = fitted.feasible_.quantiles[-1]  # the costliest of 300 random networks
        largest[rounds] = max(c for _, _, c in fitted.archive_) / random_top
    assert largest[0] <= 1.0, largest  # without rounds, nothing above the random draws
    assert largest[3] > 1.05, largest


def test_budget_above_range_returns_best_with_note(model, nb201):
    _, _, values, _, _ = nb201
    result = model.generate(model.feasible_.high * 3)
    assert result.note and "above the costliest network" in result.note
    assert result.best.cost <= model.feasible_.high


@pytest.mark.parametrize("budget, message", [
    ("-5ms", "positive"), ("0ms", "positive"), ("0", "positive"), ("fast", "cannot parse"),
    ("20 parsecs", "unknown budget unit"), ("300M", "MAdds"), ("0.0001ms", "feasible range"),
])
def test_bad_budgets_are_user_errors(model, budget, message):
    with pytest.raises(LatkitError, match=message):
        model.generate(budget)


def test_below_minimum_error_prints_range(model):
    with pytest.raises(LatkitError) as info:
        model.generate(model.feasible_.low * 0.5)
    assert model.feasible_.describe() in str(info.value)


def test_ms_budget_with_madds_cost_is_an_error():
    space = get_space("nb201")
    feasible = FeasibleRange(1e6, 1e8, "madds")
    assert MAddsCost(space).unit == "madds"
    with pytest.raises(LatkitError, match="MAdds budget"):
        feasible.check("20ms")
    assert feasible.check("30M") == (30e6, None)


def test_store_round_trip(model, nb201, tmp_path):
    from nas import store

    space, _, _, cost, acc = nb201
    key = store.cache_key(space, cost, acc, model.settings)
    path = store.save(model, tmp_path / "m", key)
    assert store.find(key, cost, None) is None  # not under LATKIT_HOME/nas
    loaded = store.load(path, space, cost, acc)
    for budget in model.feasible_.spread(5):
        a, b = model.generate(float(budget), n=2), loaded.generate(float(budget), n=2)
        assert [p.arch for p in a.picks] == [p.arch for p in b.picks]


def test_context_vector_appends_extra_features():
    feasible = FeasibleRange(1.0, 100.0, "ms")
    plain, extra = BudgetContext(feasible), BudgetContext(feasible, [0.5, -1.0])
    assert extra.dim == plain.dim + 2
    out = extra(np.array([1.0, 10.0, 1000.0]))
    assert out.shape == (3, extra.dim)
    np.testing.assert_allclose(out[:, plain.dim - 1], [-1.0, 0.0, 1.0], atol=1e-6)  # log position
    np.testing.assert_allclose(out[:, -2:], [[0.5, -1.0]] * 3)


# -- CLI end to end --------------------------------------------------------------------
def test_cli_generate_on_nb201_tables(tmp_path, nb201):
    from latency_kit.cli import main

    space, archs, values, _, _ = nb201
    rng = np.random.default_rng(0)
    subset = [archs[i] for i in rng.choice(len(archs), 2500, replace=False)]
    for name, col in (("cost.csv", 0), ("acc.csv", 1)):
        lines = ["arch,value"] + [f"{space.format(a)},{values[a][col]}" for a in subset]
        (tmp_path / name).write_text("\n".join(lines) + "\n")
    base = ["nas", "generate", "--space", "nb201", "--cost", f"table:{tmp_path / 'cost.csv'}",
            "--accuracy", f"table:{tmp_path / 'acc.csv'}", "--preset", "tiny"]
    args = base + ["--budget", "3ms", "--budget", "4.5 ms", "--budget", "0.006s", "-n", "2", "--json"]
    runner = CliRunner()
    first = runner.invoke(main, args)
    assert first.exit_code == 0, first.output
    rows = json.loads(first.stdout)
    assert [r["budget_ms"] for r in rows] == [3.0, 4.5, 6.0]
    for row in rows:
        arch = space.parse(row["arch"])
        assert row["latency_ms"] == values[arch][0] <= row["budget_ms"]
        assert row["accuracy"] == values[arch][1]
        assert len(row["alternatives"]) == 1
    again = runner.invoke(main, args)  # cached: same answer, no training
    assert again.exit_code == 0 and json.loads(again.stdout) == rows
    low = runner.invoke(main, base + ["--budget", "0.01ms"])
    assert low.exit_code == 2 and "feasible range" in low.output
    madds = runner.invoke(main, base + ["--budget", "300M"])
    assert madds.exit_code == 2 and "MAdds" in madds.output


def test_cli_train_stores_a_model_that_generate_reuses(tmp_path, nb201, latkit_home):
    from latency_kit.cli import main

    space, archs, values, _, _ = nb201
    for name, col in (("cost.csv", 0), ("acc.csv", 1)):
        lines = ["arch,value"] + [f"{space.format(a)},{values[a][col]}" for a in archs[::5]]
        (tmp_path / name).write_text("\n".join(lines) + "\n")
    sources = ["--space", "nb201", "--cost", f"table:{tmp_path / 'cost.csv'}",
               "--accuracy", f"table:{tmp_path / 'acc.csv'}", "--preset", "tiny",
               "--name", "synthetic"]
    runner = CliRunner()
    trained = runner.invoke(main, ["nas", "train", *sources, "--json"])
    assert trained.exit_code == 0, trained.output
    summary = json.loads(trained.stdout)
    assert summary["path"] == str(latkit_home / "nas" / "synthetic")
    assert summary["space"] == "nb201" and summary["label"] == "accuracy"
    assert summary["accuracy_queries"] >= settings_from("tiny").archs
    assert -1.0 <= summary["evaluator_kendall_tau"] <= 1.0
    assert 0 < summary["feasible"]["low"] < summary["feasible"]["high"]
    stored = sorted(p.name for p in (latkit_home / "nas" / "synthetic").iterdir())
    assert stored, "nas train wrote nothing"
    generated = runner.invoke(main, ["nas", "generate", *sources, "--budget", "4ms", "--json"])
    assert generated.exit_code == 0, generated.output
    row = json.loads(generated.stdout)[0]
    arch = space.parse(row["arch"])
    assert row["latency_ms"] == values[arch][0] <= 4.0
    human = runner.invoke(main, ["nas", "generate", *sources, "--budget", "4ms"])
    assert human.exit_code == 0 and "stored model" in human.output  # not retrained
    bad = runner.invoke(main, ["nas", "train", "--space", "nb201", "--cost", "table:/nope.csv"])
    assert bad.exit_code == 2 and bad.output.startswith("error:") and bad.output.count("\n") == 1


def test_shipped_profiles_carry_a_generator_for_the_default_command():
    """`latkit nas generate --device <shipped>` must answer from the shipped model,
    not retrain: its stored key must match what this code computes."""
    from latency_kit.paths import shipped_profiles_dir
    from nas import store
    from nas.sources.accuracy import resolve_accuracy
    from nas.sources.costs import resolve_cost
    from nas.pnag import settings_for

    shipped = [p for p in shipped_profiles_dir().iterdir() if (p / "nas").is_dir()]
    assert shipped, "no shipped profile has a trained generator"
    for profile in shipped:
        cost = resolve_cost(None, profile.name, None)
        accuracy = resolve_accuracy(None, cost.space)
        key = store.cache_key(cost.space, cost, accuracy, settings_for(accuracy))
        assert store.find(key, cost) == profile / "nas" / key, (
            f"{profile.name}: no stored model with key {key}; retrain it with "
            f"`latkit nas train --device {profile.name}` and copy it into device_profiles/")
