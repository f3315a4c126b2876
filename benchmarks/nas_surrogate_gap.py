"""Where PNAG's gap to a 50x-query evolutionary search on Note10 comes from.

The setting of ``nas_ofa_note10.py``: ofa-mbv3, OFA's Note10 LUT as the cost,
OFA's published predictor as the accuracy source, the CLI's default preset.
PNAG is trained once per front-sweep surrogate (``PNAG(..., surrogate=)``),
with the same seed, so everything before the sweep (archive, active rounds,
evaluator, generator) is the same in every row and only the surrogate that
ranks the sweep's candidates differs. Every row spends the same accuracy
queries. Per budget (15-60 ms) the answer is compared with EVO at 50 times
those queries (OFA-style evolution, ``nas.baselines``).

Rows:

* ``kernel ridge (latkit)``: PNAG's default (``nas.surrogate.KernelRidgeSurrogate``);
* ``GP-UCB``: ``nas.surrogate.GaussianProcessUCB``, a Gaussian process (RBF +
  white noise, fitted every tenth budget) ranking by mean + 1 standard
  deviation, so unexplored networks are tried;
* ``source (bound)``: the sweep ranks with the accuracy source itself, its
  reads uncounted (``nas.surrogate.SourceSurrogate``). The gap left here is
  the sweep's search; the rest of the shipped gap is what the surrogate does
  not know;
* ``linear ridge``: ridge on the one-hot features (additive per decision);
* ``kernel ridge + MAdds``: kernel ridge with log MAdds and each stage's log
  MAdds added to the features, weighted three times.

For each row it also prints how the surrogate, fitted on the model's whole
archive, rates EVO@50x's answers: mean and worst (predicted - true) in pp.

    python benchmarks/nas_surrogate_gap.py [--seed 0] [--rows shipped source ...] [--set front_steps=30]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from _common import note10_arguments, note10_sources, setting_overrides
from nas.surrogate import GaussianProcessUCB, KernelRidgeSurrogate, SourceSurrogate, Surrogate

BUDGETS = [15, 20, 25, 30, 35, 40, 45, 50, 55, 60]


class LinearRidge(Surrogate):
    """Ridge regression on the one-hot features, penalty by cross-validation."""

    def __init__(self, features):
        self.features = features

    def fit(self, archs: Sequence[Any], values: np.ndarray) -> "LinearRidge":
        from sklearn.linear_model import RidgeCV

        self.model_ = RidgeCV(alphas=np.logspace(-2, 3, 12)).fit(self.features(archs), values)
        return self

    def predict(self, archs: Sequence[Any]) -> np.ndarray:
        return self.model_.predict(self.features(archs))


def with_madds(model, weight: int = 3):
    """The space's one-hot features plus log MAdds and each stage's log MAdds."""
    from latency_kit.spaces.ofa_mbv3 import stage_of

    space, cache = model.space, {}

    def extra(arch) -> np.ndarray:
        if arch not in cache:
            per: dict[str, float] = {}
            for block in space.blocks(arch):
                per[stage_of(block.key)] = per.get(stage_of(block.key), 0.0) + space.block_counts(block.key)[0]
            cache[arch] = np.log([sum(per.values())] + [1 + per[k] for k in sorted(per)])
        return cache[arch]

    def features(archs):
        rows = np.stack([extra(a) for a in archs])
        return np.concatenate([model.features(archs)] + [rows] * weight, axis=1)

    return features


ROWS = {
    "shipped": ("kernel ridge (latkit)", None),  # PNAG's default
    "ucb": ("GP-UCB", lambda m: GaussianProcessUCB(m.features)),
    "source": ("source (bound)", lambda m: SourceSurrogate(m.accuracy)),
    "linear": ("linear ridge", lambda m: LinearRidge(m.features)),
    "madds": ("kernel ridge + MAdds", lambda m: KernelRidgeSurrogate(with_madds(m), m.settings.seed)),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    note10_arguments(parser)
    parser.add_argument("--rows", nargs="+", default=list(ROWS), choices=list(ROWS))
    args = parser.parse_args()

    from nas.baselines import get_baseline
    from nas.pnag import PNAG, settings_for

    budgets = [float(b) for b in BUDGETS]
    results: dict[str, tuple[list[float], float, int, float, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        sources = note10_sources(Path(tmp))
        if sources is None:
            return 2
        space, cost, accuracy = sources
        settings = settings_for(accuracy, args.preset, seed=args.seed,
                                **setting_overrides(args.overrides))
        models = {}
        for row in args.rows:
            start = time.perf_counter()
            model = PNAG(space, cost, accuracy, settings, surrogate=ROWS[row][1]).fit()
            models[row] = (model, time.perf_counter() - start)
            print(f"{ROWS[row][0]}: trained in {models[row][1]:.0f} s", file=sys.stderr)
        queries = len(next(iter(models.values()))[0].lookups.scores)
        start = time.perf_counter()
        strong = get_baseline("evolution").search(space, accuracy, cost, budgets,
                                                  args.strong * queries, args.seed, free_cost=True)
        evo_s = time.perf_counter() - start
        evo_archs = [r.arch for r in strong]
        evo_true = np.array([r.score for r in strong])
        for row, (model, seconds) in models.items():
            gaps = [100 * (model.generate(b, margin_level=None).best.value - r.score)
                    for b, r in zip(budgets, strong)]
            surrogate = model.make_surrogate()
            surrogate.fit([a for a, _, _ in model.archive_], np.array([v for _, v, _ in model.archive_]))
            rated = 100 * (surrogate.predict(evo_archs) - evo_true)
            results[row] = (gaps, seconds, len(model.lookups.scores), float(rated.mean()),
                            float(rated.min()))
    load = os.getloadavg()[0]
    print(f"Note10 + OFA predictor, preset {args.preset} {' '.join(args.overrides)}, seed "
          f"{args.seed}: EVO@{args.strong}x "
          f"{args.strong * queries} accuracy queries ({evo_s:.0f} s); load average {load:.2f}\n")
    header = " | ".join(f"{b:g}" for b in BUDGETS)
    print(f"| sweep surrogate | queries | training s | mean gap pp | {header} | worst gap "
          f"| rates EVO@{args.strong}x's nets, mean (worst) pp |")
    print("|---|---|---|---|" + "---|" * len(BUDGETS) + "---|---|")
    for row, (gaps, seconds, used, rated_mean, rated_min) in results.items():
        cells = " | ".join(f"{g:+.2f}" for g in gaps)
        print(f"| {ROWS[row][0]} | {used} | {seconds:.0f} | {np.mean(gaps):+.2f} | {cells} "
              f"| {min(gaps):+.2f} | {rated_mean:+.2f} ({rated_min:+.2f}) |")
    print(f"\nPNAG - EVO@{args.strong}x per budget; the goal is >= -0.20 pp at every budget.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
