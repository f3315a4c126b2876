"""Baseline searches at equal queries: random, evolutionary (OFA-style), NSGA-II.

    from nas.baselines import get_baseline
    results = get_baseline("evolution").search(space, accuracy, cost,
                                               budgets=[10.0, 15.0], queries=2000, seed=0)

See ``nas.baselines.base`` for how queries are counted.
"""

from __future__ import annotations

from typing import Any

from latency_kit.errors import UnknownNameError

from nas.baselines.base import Baseline, PerBudgetBaseline, QueryCounter, SearchResult
from nas.baselines.evolution import Evolution
from nas.baselines.nsga2 import NSGA2
from nas.baselines.random_search import RandomSearch

BASELINES: dict[str, type[Baseline]] = {cls.name: cls for cls in (RandomSearch, Evolution, NSGA2)}


def baseline_names() -> list[str]:
    return sorted(BASELINES)


def get_baseline(name: str, **settings: Any) -> Baseline:
    """A baseline by name (``settings`` go to its constructor)."""
    if name not in BASELINES:
        raise UnknownNameError("baseline", name, baseline_names())
    return BASELINES[name](**settings)


__all__ = ["BASELINES", "Baseline", "Evolution", "NSGA2", "PerBudgetBaseline", "QueryCounter",
           "RandomSearch", "SearchResult", "baseline_names", "get_baseline"]
