"""Monotone answers and a used top of the range, on every shipped profile and on Note10.

For each cost source, with the default accuracy source (the ``macs`` proxy)
and the default training policy (what ``latkit nas generate --device NAME``
answers from; the shipped models are loaded, Note10 is trained here):

* **monotonicity**: the answers at 50 budgets log-spaced across the feasible
  range; a violation is a larger budget getting a lower score;
* **the top of the range**: at 8 budgets spread over the top 20% of the range,
  the answer next to an evolutionary search per budget with 50 times the
  model's accuracy queries (``nas.baselines`` evolution, cost lookups free).
  The ratio of the two scores and the share of the budget used are printed.

    python benchmarks/nas_monotone.py [--skip-note10]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

from _common import REFDATA



def load_shipped(name: str):
    """The shipped model of profile ``name`` for the default sources and policy."""
    from nas import api

    model, _, trained = api.load_or_fit(device=name)
    if trained:
        print(f"{name}: no shipped model for this code; trained one", file=sys.stderr)
    return model


def report(name: str, model, strong: int) -> None:
    from nas.baselines import get_baseline
    from nas.front import front_budgets

    values = [model.generate(float(b)).best.value for b in front_budgets(model, 50)]
    drops = [a - b for a, b in zip(values, values[1:]) if b < a]
    f = model.feasible_
    top = np.exp(np.linspace(np.log(f.low) + 0.8 * (np.log(f.high) - np.log(f.low)),
                             np.log(f.high), 8))
    top = np.clip(top, f.low, f.high)
    answers = [model.generate(float(b)).best for b in top]
    queries = strong * len(model.lookups.scores)
    evo = get_baseline("evolution").search(model.space, model.accuracy, model.cost, list(top),
                                           queries, 0, free_cost=True)
    unit = "MAdds" if model.unit == "madds" else "ms"
    print(f"\n### {name}: feasible range {f.describe()}; {len(model.front_)} front networks; "
          f"monotonicity over 50 budgets: {len(drops)} violations\n")
    print(f"| budget {unit} | answer {unit} | budget used | {model.label} | EVO@{strong}x "
          f"{model.label} | EVO@{strong}x {unit} | answer / EVO |")
    print("|---|---|---|---|---|---|---|")
    for b, a, e in zip(top, answers, evo):
        print(f"| {b:.4g} | {a.cost:.4g} | {a.cost / b:.0%} | {a.value:.4g} | {e.score:.4g} | "
              f"{e.cost:.4g} | {a.value / e.score:.3f} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--skip-note10", action="store_true")
    parser.add_argument("--strong", type=int, default=50)
    args = parser.parse_args()

    from latency_kit.paths import shipped_profiles_dir

    for profile in sorted(p for p in shipped_profiles_dir().iterdir() if (p / "nas").is_dir()):
        report(profile.name, load_shipped(profile.name), args.strong)
    luts = sorted((REFDATA / "ofa" / "note10_lut").glob("*_lookup_table.yaml"))
    if args.skip_note10 or not luts:
        return 0
    from latency_kit.formats import import_tables
    from latency_kit.spaces import get_space
    from nas.sources.accuracy import resolve_accuracy
    from nas.sources.costs import ProfileCost
    from nas.pnag import PNAG

    space = get_space("ofa-mbv3")
    with tempfile.TemporaryDirectory() as tmp:
        profile = import_tables("ofa-yaml", luts, "note10", out=Path(tmp) / "note10")
        cost = ProfileCost(space, profile)
        model = PNAG(cost.space, cost, resolve_accuracy(None, cost.space)).fit()
        report("note10 (imported OFA LUT)", model, args.strong)
    return 0


if __name__ == "__main__":
    sys.exit(main())
