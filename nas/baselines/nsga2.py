"""NSGA-II (pymoo) on (cost, -accuracy), answering every budget from one run.

The decision vector is the space's choice indices (integer variables with
rounding repair). Each generation's new architectures cost one query each;
the run stops when the allowance is spent or twenty generations in a row
find nothing new. Each budget is then answered with the best feasible point
of the evaluated set's Pareto front (the most accurate evaluated
architecture within the budget always lies on it).
"""

from __future__ import annotations

import math

import numpy as np

from latency_kit.errors import MissingExtraError
from latency_kit.spaces import SearchSpace

from nas.baselines.base import Baseline, QueryCounter

_WORST = 1e30  # objective value of an architecture that could not be evaluated


class NSGA2(Baseline):
    name = "nsga2"

    def __init__(self, population: int = 100):
        self.population = population

    def explore(self, space: SearchSpace, counter: QueryCounter, budgets: list[float],
                rng: np.random.Generator) -> None:
        try:
            from pymoo.algorithms.moo.nsga2 import NSGA2 as PymooNSGA2
            from pymoo.core.problem import Problem
            from pymoo.core.termination import NoTermination
            from pymoo.operators.crossover.sbx import SBX
            from pymoo.operators.mutation.pm import PM
            from pymoo.operators.repair.rounding import RoundingRepair
            from pymoo.operators.sampling.rnd import IntegerRandomSampling
        except ImportError:
            raise MissingExtraError("pymoo", "search") from None

        upper = np.array([len(d.choices) - 1 for d in space.decisions()])
        problem = Problem(n_var=len(upper), n_obj=2, xl=np.zeros_like(upper), xu=upper, vtype=int)
        algorithm = PymooNSGA2(
            pop_size=max(2, min(self.population, counter.limit)),
            sampling=IntegerRandomSampling(),
            crossover=SBX(prob=0.9, eta=15, vtype=float, repair=RoundingRepair()),
            mutation=PM(eta=20, vtype=float, repair=RoundingRepair()),
            eliminate_duplicates=True,
        )
        algorithm.setup(problem, termination=NoTermination(), seed=int(rng.integers(2**31)),
                        verbose=False)
        stalls = 0
        while counter.remaining > 0 and stalls < 20:
            pop = algorithm.ask()
            archs = [space.decode([int(v) for v in row]) for row in np.rint(pop.get("X"))]
            before = len(counter.touched)
            keep = set(counter.affordable(archs))
            evaluated = [a for a in dict.fromkeys(archs) if a in keep]
            objectives = np.full((len(archs), 2), _WORST)
            if evaluated:
                costs = dict(zip(evaluated, counter.cost_many(evaluated)))
                scores = dict(zip(evaluated, counter.score_many(evaluated)))
                for i, arch in enumerate(archs):
                    if arch in keep and math.isfinite(costs[arch]) and math.isfinite(scores[arch]):
                        objectives[i] = (costs[arch], -scores[arch])
            pop.set("F", objectives)
            algorithm.tell(infills=pop)
            stalls = stalls + 1 if len(counter.touched) == before else 0
