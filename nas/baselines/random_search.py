"""Random search per budget: sample, keep what fits, answer with the best."""

from __future__ import annotations

import numpy as np

from latency_kit.spaces import SearchSpace

from nas.baselines.base import PerBudgetBaseline, QueryCounter, sample_distinct


class RandomSearch(PerBudgetBaseline):
    """Uniform samples over the space's decisions; accuracy is asked only of
    samples within the budget (their cost query already counted them)."""

    name = "random"

    def __init__(self, batch: int = 256):
        self.batch = batch

    def search_budget(self, space: SearchSpace, counter: QueryCounter, budget: float,
                      stop_at: int, rng: np.random.Generator) -> None:
        stalls = 0
        while len(counter.touched) < stop_at and stalls < 5:
            room = stop_at - len(counter.touched)
            n = self.batch if counter.free_cost else min(self.batch, room)
            archs = counter.costable(sample_distinct(space, n, rng, exclude=counter.seen), stop_at)
            before = len(counter.touched)
            if archs:
                costs = counter.cost_many(archs)
                feasible = [a for a, c in zip(archs, costs) if c <= budget]
                if feasible:
                    counter.score_many(counter.affordable(feasible, stop_at))
            # free cost lookups never use up the allowance: stop after batches that find nothing
            idle = not archs or (counter.free_cost and len(counter.touched) == before)
            stalls = stalls + 1 if idle else 0
