"""One cache in front of a cost source and an accuracy source, with query accounting.

PNAG and the baselines both look architectures up through a
:class:`QueryCounter`: each source is asked once per distinct architecture,
architectures a table source (:class:`~nas.sources.base.HeldArchitectures`)
does not hold get cost ``inf`` (never fits) or score ``-inf`` without asking
it, and every distinct architecture sent to a source is counted, against a
limit when one is given (the baselines' equal-queries rule, see
:mod:`nas.baselines.base`).
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from nas.sources.base import AccuracySource, CostSource, held_archs


class QueryCounter:
    """Caches both sources and counts distinct architectures, within ``limit`` when given.

    ``costs`` and ``scores`` map architectures to what the sources answered
    (ms or MAdds, and the accuracy source's value). ``touched`` holds every
    architecture that used a query: both sources count, once per
    architecture; with ``free_cost`` cost lookups are free. Asking for more
    than ``limit`` distinct architectures raises ``RuntimeError`` (callers
    keep within it with :meth:`affordable`); ``limit=None`` is no limit.
    """

    def __init__(self, accuracy: AccuracySource, cost: CostSource, limit: int | None = None,
                 free_cost: bool = False):
        if limit is not None and limit < 1:
            raise ValueError(f"query limit must be at least 1, got {limit}")
        self.accuracy, self.cost_source = accuracy, cost
        self.limit = None if limit is None else int(limit)
        self.free_cost = free_cost
        self.costs: dict[Any, float] = {}
        self.scores: dict[Any, float] = {}
        self.touched: set[Any] = set()
        self.cost_held = held_archs(cost)
        self.accuracy_held = held_archs(accuracy)

    @property
    def remaining(self) -> int | float:
        """Distinct architectures that may still be evaluated (``inf`` without a limit)."""
        return math.inf if self.limit is None else self.limit - len(self.touched)

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

    def known_accuracy(self, arch: Any) -> bool:
        """Whether the accuracy source can score ``arch`` (a table holds it, or it is no table)."""
        return self.accuracy_held is None or arch in self.accuracy_held

    def remember(self, arch: Any, score: float, cost: float) -> None:
        """Take an architecture's known score and cost (of a stored model) without a query."""
        self.scores[arch], self.costs[arch] = float(score), float(cost)

    def _spend(self, archs: list[Any]) -> None:
        new = {a for a in archs if a not in self.touched}
        if len(new) > self.remaining:
            raise RuntimeError(f"query limit {self.limit} exceeded: a baseline bug")
        self.touched |= new

    def cost_many(self, archs: Sequence[Any]) -> np.ndarray:
        """Cost of each of ``archs`` in the cost source's unit (``inf``: not in its table)."""
        self._fill(self.costs, self.cost_held, math.inf, self.cost_source.cost_many, archs,
                   spend=not self.free_cost)
        return np.array([self.costs[a] for a in archs], dtype=float)

    def score_many(self, archs: Sequence[Any]) -> np.ndarray:
        """The accuracy source's value of each of ``archs`` (``-inf``: not in its table)."""
        self._fill(self.scores, self.accuracy_held, -math.inf, self.accuracy.score_many, archs,
                   spend=True)
        return np.array([self.scores[a] for a in archs], dtype=float)

    def _fill(self, cache: dict[Any, float], held: set[Any] | None, missing: float,
              ask: Any, archs: Sequence[Any], spend: bool) -> None:
        todo = [a for a in dict.fromkeys(archs) if a not in cache]
        if held is not None:
            cache.update((a, missing) for a in todo if a not in held)
            todo = [a for a in todo if a in held]
        if todo:
            if spend:
                self._spend(todo)
            for arch, value in zip(todo, np.asarray(ask(todo), dtype=float)):
                cache[arch] = float(value)

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
        """Architectures the cost source answered for (not those outside its table)."""
        return sum(1 for v in self.costs.values() if v != math.inf or self.cost_held is None)

    @property
    def accuracy_queries(self) -> int:
        """Architectures the accuracy source answered for (not those outside its table)."""
        return sum(1 for v in self.scores.values() if v != -math.inf or self.accuracy_held is None)
