"""Shared suite of the baseline searches (random, evolution, NSGA-II) on nb201.

Synthetic but complete tables over all 15,625 nb201 cells keep it fast and
make the exact optimum under each budget known.
"""

from __future__ import annotations

from itertools import product

import numpy as np
import pytest

from latency_kit.errors import UnknownNameError
from latency_kit.spaces import get_space
from latency_kit.spaces.nb201 import OPS, NB201Arch
from nas.sources.accuracy import TableAccuracy
from nas.baselines import BASELINES, QueryCounter, get_baseline
from nas.sources.costs import TableCost
from nas.sources import AccuracySource, CostSource

OP_COST = {"none": 0.0, "skip_connect": 0.1, "nor_conv_1x1": 1.0, "nor_conv_3x3": 3.0, "avg_pool_3x3": 0.5}
OP_GAIN = {"none": 0.0, "skip_connect": 2.0, "nor_conv_1x1": 3.0, "nor_conv_3x3": 5.0, "avg_pool_3x3": 1.0}


@pytest.fixture(scope="module")
def space():
    return get_space("nb201")


@pytest.fixture(scope="module")
def tables(space):
    rng = np.random.default_rng(0)
    archs = [NB201Arch(ops) for ops in product(OPS, repeat=6)]
    cost = {a: 1.0 + sum(OP_COST[o] for o in a.ops) + 0.05 * rng.random() for a in archs}
    acc = {a: sum(w * OP_GAIN[o] for w, o in zip((1, 2, 1, 3, 1, 2), a.ops)) + rng.random()
           for a in archs}
    return TableAccuracy.from_mapping(space, acc), TableCost.from_mapping(space, cost)


class Recording:
    """Wraps a source and records every architecture it was asked about."""

    def __init__(self, source):
        self.source, self.asked = source, set()

    def __getattr__(self, name):
        return getattr(self.source, name)

    def score_many(self, archs):
        self.asked |= set(archs)
        return self.source.score_many(archs)

    def cost_many(self, archs):
        self.asked |= set(archs)
        return self.source.cost_many(archs)


@pytest.fixture(params=sorted(BASELINES))
def name(request):
    return request.param


BUDGETS = [1.5, 4.0, 7.0, 12.0]


def test_within_budget_and_queries(space, tables, name) -> None:
    acc, cost = tables
    acc_rec, cost_rec = Recording(acc), Recording(cost)
    queries = 400
    results = get_baseline(name).search(space, acc_rec, cost_rec, BUDGETS, queries=queries, seed=1)
    assert [r.budget for r in results] == BUDGETS
    for r in results:
        assert r.feasible and r.arch is not None
        true_cost = cost.cost(r.arch)
        assert true_cost <= r.budget and r.cost == true_cost
        assert r.score == acc.score(r.arch)
        assert r.queries_used <= queries and r.cost_queries <= queries and r.accuracy_queries <= queries
    assert len(acc_rec.asked | cost_rec.asked) <= queries
    assert len(acc_rec.asked | cost_rec.asked) == results[0].queries_used
    # more budget never answers worse (answers come from one evaluated set)
    scores = [r.score for r in results]
    assert scores == sorted(scores)


def test_free_cost_counts_only_accuracy_queries(space, tables, name) -> None:
    acc, cost = tables
    acc_rec, cost_rec = Recording(acc), Recording(cost)
    queries = 120
    budgets = BUDGETS[1:]
    results = get_baseline(name).search(space, acc_rec, cost_rec, budgets, queries=queries, seed=1,
                                        free_cost=True)
    assert len(acc_rec.asked) <= queries and results[0].accuracy_queries == len(acc_rec.asked)
    assert results[0].queries_used == len(acc_rec.asked)
    for r in results:
        assert r.feasible and cost.cost(r.arch) <= r.budget and r.score == acc.score(r.arch)
    counted = get_baseline(name).search(space, acc, cost, budgets, queries=queries, seed=1)
    # with free cost lookups a method spends its whole allowance on accuracy queries
    assert results[0].accuracy_queries >= counted[0].accuracy_queries


def test_close_to_optimum(space, tables, name) -> None:
    acc, cost = tables
    results = get_baseline(name).search(space, acc, cost, [6.0], queries=1500, seed=0)
    best = max(acc.values[a] for a in acc.values if cost.values[a] <= 6.0)
    worst = min(acc.values.values())
    # within 15% of the score range from the exact optimum, with ~10% of the space queried
    assert results[0].score >= best - 0.15 * (best - worst)


def test_seeded(space, tables, name) -> None:
    acc, cost = tables
    one = get_baseline(name).search(space, acc, cost, BUDGETS, queries=200, seed=3)
    two = get_baseline(name).search(space, acc, cost, BUDGETS, queries=200, seed=3)
    assert [r.arch for r in one] == [r.arch for r in two]


@pytest.mark.parametrize("free_cost", [False, True])
def test_infeasible_budget(space, tables, name, free_cost) -> None:
    acc, cost = tables
    results = get_baseline(name).search(space, acc, cost, [0.5, 9.0], queries=150, seed=0,
                                        free_cost=free_cost)
    assert not results[0].feasible and results[0].arch is None and np.isnan(results[0].score)
    assert results[1].feasible and results[1].cost <= 9.0


def test_tiny_query_budget(space, tables, name) -> None:
    acc, cost = tables
    results = get_baseline(name).search(space, acc, cost, BUDGETS, queries=3, seed=0)
    assert all(r.queries_used <= 3 for r in results)
    assert all(r.cost <= r.budget for r in results if r.feasible)


def test_partial_cost_table(space, tables, name) -> None:
    """Architectures a cost table lacks never fit and use no query."""
    acc, cost = tables
    held = dict(list(cost.values.items())[::7])
    partial = TableCost.from_mapping(space, held)
    results = get_baseline(name).search(space, acc, partial, [5.0, 12.0], queries=200, seed=0)
    for r in results:
        if r.feasible:
            assert r.arch in held and held[r.arch] <= r.budget


class _Const(AccuracySource):
    def score_many(self, archs):
        return np.ones(len(archs))


class _Size(CostSource):
    def cost_many(self, archs):
        return np.array([float(sum(op != "none" for op in a.ops)) for a in archs])


def test_counter_counts_distinct(space) -> None:
    counter = QueryCounter(_Const(space), _Size(space), limit=3)
    a, b, c, d = (space.sample(i) for i in range(4))
    counter.cost_many([a, a, b])
    counter.score_many([a, b])
    assert len(counter.touched) == 2 and counter.remaining == 1
    assert counter.affordable([a, c, d]) == [a, c]
    with pytest.raises(RuntimeError):
        counter.cost_many([c, d])
    free = QueryCounter(_Const(space), _Size(space), limit=1, free_cost=True)
    free.cost_many([a, b, c])
    assert free.remaining == 1 and free.seen == {a, b, c} and free.costable([a, d]) == [a, d]
    free.score_many([b])
    assert free.remaining == 0 and free.affordable([b, c]) == [b]


def test_unknown_baseline() -> None:
    with pytest.raises(UnknownNameError):
        get_baseline("annealing")
