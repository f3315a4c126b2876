"""Evolutionary search per budget, as in Once-for-All's ``EvolutionFinder``.

A population of 100 feasible architectures; each generation keeps the best
25% as parents and fills the rest with children: half by mutation (each
decision resampled with probability 0.1), half by crossover (each decision
taken from one of two parents). Children over the budget are discarded, as
OFA does by resampling. Every new architecture costs one query (see
``nas.baselines.base``), so the search stops when its share of queries is
spent or when ten generations in a row find nothing new.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from latency_kit.spaces import SearchSpace

from nas.baselines.base import PerBudgetBaseline, QueryCounter, sample_distinct


class Evolution(PerBudgetBaseline):
    name = "evolution"

    def __init__(self, population: int = 100, parent_ratio: float = 0.25,
                 mutation_prob: float = 0.1, mutation_ratio: float = 0.5):
        self.population, self.parent_ratio = population, parent_ratio
        self.mutation_prob, self.mutation_ratio = mutation_prob, mutation_ratio

    def search_budget(self, space: SearchSpace, counter: QueryCounter, budget: float,
                      stop_at: int, rng: np.random.Generator) -> None:
        sizes = [len(d.choices) for d in space.decisions()]
        population: list[Any] = []
        stalls = 0
        while len(population) < self.population and len(counter.touched) < stop_at and stalls < 10:
            want = self.population - len(population)
            found = self._feasible(counter, sample_distinct(space, want, rng), budget, stop_at)
            stalls = stalls + 1 if not found else 0
            population += [a for a in found if a not in population]
        if not population:
            return
        parents_n = max(1, int(round(self.parent_ratio * self.population)))
        mutants_n = int(round(self.mutation_ratio * self.population))
        stalls = 0
        while len(counter.touched) < stop_at and stalls < 10:
            scores = counter.score_many(population)
            parents = [population[i] for i in np.argsort(-scores, kind="stable")[:parents_n]]
            encoded = [space.encode(p) for p in parents]
            children = []
            for _ in range(mutants_n):
                genes = list(encoded[rng.integers(len(encoded))])
                for i, size in enumerate(sizes):
                    if rng.random() < self.mutation_prob:
                        genes[i] = int(rng.integers(size))
                children.append(space.decode(genes))
            for _ in range(self.population - parents_n - mutants_n):
                a, b = (encoded[i] for i in rng.integers(len(encoded), size=2))
                children.append(space.decode([x if rng.random() < 0.5 else y for x, y in zip(a, b)]))
            before = len(counter.touched)
            fit = self._feasible(counter, children, budget, stop_at)
            stalls = stalls + 1 if len(counter.touched) == before else 0
            population = list(dict.fromkeys(parents + fit))

    @staticmethod
    def _feasible(counter: QueryCounter, archs: list[Any], budget: float, stop_at: int) -> list[Any]:
        """Evaluate ``archs`` within the query share; return those within budget."""
        keep = counter.costable(archs, stop_at)
        if not keep:
            return []
        costs = counter.cost_many(keep)
        fit = counter.affordable([a for a, c in zip(keep, costs) if c <= budget], stop_at)
        if fit:
            counter.score_many(fit)
        return fit
