"""The baseline interface and its query rules (counted by :class:`nas.sources.cache.QueryCounter`).

**Equal queries.** A *query* is one distinct architecture evaluated by a
source. A search gets ``queries`` as its total allowance over all budgets:
the number of distinct architectures it may send to the cost source and to
the accuracy source together (an architecture costed and scored counts once;
asking again for one already evaluated is free). ``SearchResult`` reports the
two sources' counts separately, each at most ``queries``. PNAG's training
queries are counted the same way (distinct architectures), so comparing
methods at the same ``queries`` is comparing them at equal information.

With ``free_cost=True`` only accuracy queries count and cost lookups are free,
as they are for PNAG's generator (a LUT or a table answers thousands): the
comparison at equal *accuracy* queries.

Every method answers each budget with the most accurate architecture among
all those it evaluated whose cost is at most the budget; with none, the
result is ``feasible=False`` and ``arch=None``. An over-budget architecture is
never returned as feasible.
"""

from __future__ import annotations

import math
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar, Sequence

import numpy as np

from latency_kit.spaces import SearchSpace

from nas.sources.base import AccuracySource, CostSource
from nas.sources.cache import QueryCounter


@dataclass(frozen=True)
class SearchResult:
    """A baseline's answer for one budget (cost and budget in the cost source's unit)."""

    budget: float
    arch: Any | None
    score: float  # nan when nothing feasible was found
    cost: float  # nan when nothing feasible was found
    feasible: bool
    queries_used: int  # distinct architectures evaluated by the whole search
    cost_queries: int
    accuracy_queries: int
    seconds: float  # wall time of the whole search (all budgets)


class Baseline(ABC):
    """A search method answering several budgets within a total query allowance."""

    name: ClassVar[str]

    def search(self, space: SearchSpace, accuracy: AccuracySource, cost: CostSource,
               budgets: Sequence[float], queries: int, seed: int = 0,
               free_cost: bool = False) -> list[SearchResult]:
        """Search, then answer each budget (see the module docstring for the rules)."""
        started = time.perf_counter()
        counter = QueryCounter(accuracy, cost, queries, free_cost)
        rng = np.random.default_rng(seed)
        self.explore(space, counter, [float(b) for b in budgets], rng)
        seconds = time.perf_counter() - started
        results = []
        for budget in budgets:
            best = counter.best_under(float(budget))
            arch, score, value = best if best else (None, math.nan, math.nan)
            results.append(SearchResult(float(budget), arch, score, value, best is not None,
                                        len(counter.touched), counter.cost_queries,
                                        counter.accuracy_queries, seconds))
        return results

    @abstractmethod
    def explore(self, space: SearchSpace, counter: QueryCounter, budgets: list[float],
                rng: np.random.Generator) -> None:
        """Spend at most ``counter.remaining`` queries evaluating architectures."""


class PerBudgetBaseline(Baseline):
    """A method that runs one search per budget, splitting the queries evenly.

    Budgets run from the largest down; a budget's unused share passes on to the
    next one, and what earlier runs evaluated is cached (free to look at again).
    """

    def explore(self, space: SearchSpace, counter: QueryCounter, budgets: list[float],
                rng: np.random.Generator) -> None:
        order = sorted(budgets, reverse=True)
        for i, budget in enumerate(order):
            share = counter.remaining // (len(order) - i)
            if share > 0:
                self.search_budget(space, counter, budget, counter.limit - counter.remaining + share, rng)

    @abstractmethod
    def search_budget(self, space: SearchSpace, counter: QueryCounter, budget: float,
                      stop_at: int, rng: np.random.Generator) -> None:
        """Search for ``budget`` until ``len(counter.touched)`` reaches ``stop_at``."""


def sample_distinct(space: SearchSpace, n: int, rng: np.random.Generator,
                    exclude: set[Any] | frozenset[Any] = frozenset(), tries: int = 20) -> list[Any]:
    """Up to ``n`` distinct random architectures not in ``exclude``."""
    out: dict[Any, None] = {}
    for _ in range(max(1, n) * tries):
        if len(out) >= n:
            break
        arch = space.sample(rng)
        if arch not in exclude:
            out.setdefault(arch)
    return list(out)
