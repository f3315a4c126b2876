"""nas.api (the one entry point of `latkit nas`), the held-architectures protocol,
the one query cache and the budget's unit."""

from __future__ import annotations

import math

import numpy as np
import pytest

from latency_kit.errors import LatkitError
from latency_kit.spaces import get_space
from latency_kit.units import Budget
from nas import api
from nas.budget import FeasibleRange, estimate_range
from nas.sources import HeldArchitectures, held_archs
from nas.sources.accuracy import ProxyAccuracy, TableAccuracy
from nas.sources.cache import QueryCounter
from nas.sources.costs import MAddsCost, TableCost

from tests.test_nas_front import tables  # noqa: F401  # the module fixture


def test_load_or_fit_trains_once_then_loads_the_same_answers(tables):  # noqa: F811
    space, _, folder = tables
    specs = dict(space="nb201", cost=f"table:{folder / 'dev-a.csv'}",
                 accuracy=f"table:{folder / 'acc.csv'}", preset="tiny")
    first = api.load_or_fit(**specs)
    again = api.load_or_fit(**specs)
    assert first.trained and not again.trained and again.path == first.path
    for budget in ("2.5ms", "4ms", 7.0):
        assert again.model.generate(budget).best.arch == first.model.generate(budget).best.arch


def test_resolve_sources_takes_objects_and_applies_the_objectives_rule():
    space = get_space("nb201")
    madds = MAddsCost(space)
    with pytest.raises(LatkitError, match="same number"):
        api.resolve_sources(cost=madds, accuracy=ProxyAccuracy(space, "macs"))
    sources = api.resolve_sources(cost=madds, accuracy="proxy:params")
    assert sources.space is space and sources.cost is madds and sources.accuracy.name == "params"


def test_tables_hold_architectures_and_give_their_range():
    space = get_space("nb201")
    archs = [space.sample(i) for i in range(40)]
    cost = TableCost.from_mapping(space, {a: 1.0 + i for i, a in enumerate(archs)})
    accuracy = TableAccuracy.from_mapping(space, {a: 0.5 for a in archs[:10]})
    assert isinstance(cost, HeldArchitectures) and isinstance(accuracy, HeldArchitectures)
    assert not isinstance(MAddsCost(space), HeldArchitectures)
    assert held_archs(accuracy) == set(archs[:10]) and held_archs(MAddsCost(space)) is None
    feasible, cheapest = estimate_range(space, cost)
    assert (feasible.low, feasible.high) == cost.known_range() == (1.0, 40.0)
    assert cheapest == archs[0]


def test_one_cache_counts_queries_and_skips_what_a_table_lacks():
    space = get_space("nb201")
    archs = [space.sample(i) for i in range(6)]
    cost = TableCost.from_mapping(space, {a: 1.0 for a in archs[:4]})
    accuracy = TableAccuracy.from_mapping(space, {a: 0.5 for a in archs[:3]})
    cache = QueryCounter(accuracy, cost)  # no limit: PNAG's use
    assert list(cache.cost_many(archs)) == [1.0] * 4 + [math.inf] * 2
    assert list(cache.score_many(archs[2:4])) == [0.5, -math.inf]
    assert cache.cost_queries == 4 and cache.accuracy_queries == 1
    assert cache.remaining == math.inf and not cache.known_accuracy(archs[3])


def test_a_number_is_a_budget_in_the_cost_unit():
    madds = FeasibleRange(1e6, 1e8, "madds")
    assert madds.check(3e7) == (3e7, None) == madds.check("30M")
    with pytest.raises(LatkitError, match="MAdds budget"):
        madds.check(Budget(20.0, "ms"))
    assert FeasibleRange(1.0, 100.0, "ms").check(np.float64(20.0)) == (20.0, None)


@pytest.mark.parametrize("args, message", [
    (["--cost", "madds", "--accuracy", "proxy:params", "--budget", "300"],
     "is in ms but the cost is in madds; give a MAdds budget such as 300M"),
    (["--device", "amd-epyc-ort-1t", "--budget", "300M"],
     "is in madds but the cost is in ms; give a time such as 20ms"),
])
def test_a_budget_in_the_wrong_unit_is_refused_before_training(latkit_home, args, message):
    """The CLI knows the cost's unit from --cost/--device, so it refuses the
    budget in one line before anything is trained (no model is stored)."""
    from click.testing import CliRunner

    from latency_kit.cli import main
    from nas.store import models_dir

    result = CliRunner().invoke(main, ["nas", "generate", *args])
    assert result.exit_code != 0 and message in result.output
    assert "Traceback" not in result.output
    assert not models_dir().exists() or not any(models_dir().iterdir())
