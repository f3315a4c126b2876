"""The baseline interface and the query accounting shared by every baseline.

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

from nas.sources import AccuracySource, CostSource


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


class QueryCounter:
    """Caches both sources and counts distinct architectures against a limit.

    Architectures a table source does not hold get cost ``inf`` (never fit)
    or score ``-inf`` without using a query, so a partial table still works.
    """

    def __init__(self, accuracy: AccuracySource, cost: CostSource, limit: int,
                 free_cost: bool = False):
        if limit < 1:
            raise ValueError(f"query limit must be at least 1, got {limit}")
        self.accuracy, self.cost_source, self.limit = accuracy, cost, int(limit)
        self.free_cost = free_cost
        self.costs: dict[Any, float] = {}
        self.scores: dict[Any, float] = {}
        self.touched: set[Any] = set()
        self._cost_held = _held(cost)
        self._acc_held = _held(accuracy)

    @property
    def remaining(self) -> int:
        return self.limit - len(self.touched)

    def affordable(self, archs: Sequence[Any], stop_at: int | None = None) -> list[Any]:
        """The prefix of ``archs`` (deduplicated) that evaluating keeps within the
        limit, or within ``stop_at`` distinct architectures in all when given."""
        room = self.remaining if stop_at is None else min(self.remaining, stop_at - len(self.touched))
        out, new = [], 0
        for arch in dict.fromkeys(archs):
            if arch not in self.touched:
                if new >= room:
                    break
                new += 1
            out.append(arch)
        return out

    def costable(self, archs: Sequence[Any], stop_at: int | None = None) -> list[Any]:
        """The architectures of ``archs`` that may be costed: all of them when
        cost lookups are free, else :meth:`affordable`."""
        return list(dict.fromkeys(archs)) if self.free_cost else self.affordable(archs, stop_at)

    @property
    def seen(self) -> set[Any]:
        """Every architecture costed or scored so far."""
        return self.touched | self.costs.keys()

    def _spend(self, archs: list[Any]) -> None:
        new = {a for a in archs if a not in self.touched}
        if len(new) > self.remaining:
            raise RuntimeError(f"query limit {self.limit} exceeded: a baseline bug")
        self.touched |= new

    def cost_many(self, archs: Sequence[Any]) -> np.ndarray:
        todo = [a for a in dict.fromkeys(archs) if a not in self.costs]
        for arch in [a for a in todo if self._cost_held is not None and a not in self._cost_held]:
            self.costs[arch] = math.inf
        todo = [a for a in todo if a not in self.costs]
        if todo:
            if not self.free_cost:
                self._spend(todo)
            for arch, value in zip(todo, np.asarray(self.cost_source.cost_many(todo), dtype=float)):
                self.costs[arch] = float(value)
        return np.array([self.costs[a] for a in archs], dtype=float)

    def score_many(self, archs: Sequence[Any]) -> np.ndarray:
        todo = [a for a in dict.fromkeys(archs) if a not in self.scores]
        for arch in [a for a in todo if self._acc_held is not None and a not in self._acc_held]:
            self.scores[arch] = -math.inf
        todo = [a for a in todo if a not in self.scores]
        if todo:
            self._spend(todo)
            for arch, value in zip(todo, np.asarray(self.accuracy.score_many(todo), dtype=float)):
                self.scores[arch] = float(value)
        return np.array([self.scores[a] for a in archs], dtype=float)

    def best_under(self, budget: float) -> tuple[Any, float, float] | None:
        """The best-scoring evaluated architecture with cost <= ``budget``."""
        best = None
        for arch, score in self.scores.items():
            cost = self.costs.get(arch, math.inf)
            if cost <= budget and score > -math.inf and (best is None or score > best[1]):
                best = (arch, score, cost)
        return best

    @property
    def cost_queries(self) -> int:
        return sum(1 for v in self.costs.values() if v != math.inf or self._cost_held is None)

    @property
    def accuracy_queries(self) -> int:
        return sum(1 for v in self.scores.values() if v != -math.inf or self._acc_held is None)


def _held(source: Any) -> set[Any] | None:
    archs = getattr(source, "archs", None)
    return set(archs()) if callable(archs) else None


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
