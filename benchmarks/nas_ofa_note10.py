"""PNAG in the paper's mobile setting, on a laptop: ofa-mbv3 on a Samsung Note10.

Cost: OFA's official Note10 per-block lookup tables (160-224 px), imported as a
latkit profile and summed per architecture. Accuracy: OFA's published ImageNet
top-1 predictor (``ofa-predictor:``). The accuracy source is cheap, so PNAG
trains with the preset as it is (``nas.pnag.settings_for``), exactly as
``latkit nas generate --accuracy ofa-predictor:...`` does.

Budgets: 15-60 ms, plus each published w1.2 Note10 net's own LUT latency at
224 px. Per budget, side by side:

* PNAG's answer (one model for every budget, read from its stored front);
* OFA's published net (where the budget is its latency), scored by the same
  predictor under the same table;
* EVO at equal accuracy queries (``@1x``): OFA-style evolution per budget
  (population 100, parents 25%, mutation 0.1, ``nas.baselines``), cost
  lookups free as for PNAG, all budgets sharing PNAG's accuracy queries;
* EVO with 50 times PNAG's accuracy queries (``@50x``): a strong reference
  for "the best network that fits"; the gap to it is reported per budget.

It also checks monotonicity: PNAG's answers at 50 budgets across the whole
feasible range, never worse for a larger budget.

    python benchmarks/nas_ofa_note10.py [--preset fast|bench] [--seed 0]
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from _common import REFDATA, note10_arguments, note10_sources, setting_overrides

BUDGETS = [15, 20, 25, 30, 35, 40, 45, 50, 55, 60]


def published_nets(cost, accuracy):
    """(published ms, published top-1, LUT ms at 224 px, predictor top-1, arch) per w1.2 net."""
    from latency_kit.errors import LatkitError
    from latency_kit.formats.net_config import read_net_config

    out = []
    for folder in sorted((REFDATA / "ofa" / "specialized_net_configs").glob("note10_*")):
        match = re.search(r"lat-(\d+)ms_top1-([\d.]+)", folder.name)
        try:
            arch, _ = read_net_config(folder)
        except LatkitError as exc:  # the w1.0 nets are outside the w1.2 space
            print(f"skipped {folder.name}: {exc}", file=sys.stderr)
            continue
        out.append((int(match.group(1)), float(match.group(2)), cost.cost(arch),
                    accuracy.score(arch), arch))
    return sorted(out, key=lambda row: row[2])


def monotone_violations(model, points: int = 50) -> tuple[int, float]:
    """Violations of 'a larger budget is never worse' over ``points`` budgets, and the
    largest drop (in the accuracy source's unit)."""
    from nas.front import front_budgets

    budgets = front_budgets(model, points)
    values = [model.generate(float(b)).best.value for b in budgets]
    drops = [a - b for a, b in zip(values, values[1:]) if b < a]
    return len(drops), max(drops, default=0.0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    note10_arguments(parser)
    args = parser.parse_args()

    from nas.baselines import get_baseline
    from nas.pnag import PNAG, settings_for

    with tempfile.TemporaryDirectory() as tmp:
        sources = note10_sources(Path(tmp))
        if sources is None:
            return 2
        space, cost, accuracy = sources
        published = published_nets(cost, accuracy)
        model = PNAG(space, cost, accuracy, settings_for(accuracy, args.preset, seed=args.seed,
                                                         **setting_overrides(args.overrides)))
        start = time.perf_counter()
        model.fit()
        train_s = time.perf_counter() - start
        budgets = sorted(set(float(b) for b in BUDGETS) | {round(p[2], 2) for p in published})
        gens = [model.generate(b) for b in budgets]
        queries = len(model.lookups.scores)
        evo = {}
        for tag, q in (("1x", queries), (f"{args.strong}x", args.strong * queries)):
            t = time.perf_counter()
            evo[tag] = get_baseline("evolution").search(space, accuracy, cost, budgets, q,
                                                       args.seed, free_cost=True)
            print(f"EVO@{tag}: {q} accuracy queries, {time.perf_counter() - t:.0f} s",
                  file=sys.stderr)
        violations, drop = monotone_violations(model)
    load = os.getloadavg()[0]
    strong = f"{args.strong}x"
    print(f"PNAG ({args.preset}, seed {args.seed}): training {train_s:.1f} s (load average "
          f"{load:.2f}), evaluator tau {model.eval_fit_.tau:.3f}, {queries} accuracy queries, "
          f"front of {len(model.front_)} networks; feasible range {model.feasible_.describe()}")
    print(f"monotonicity over 50 budgets across the range: {violations} violations "
          f"(largest drop {100 * drop:.3f} pp)\n")
    print(f"| budget ms | PNAG top-1 | PNAG ms | OFA published net (top-1, ms) | EVO@1x top-1 "
          f"| EVO@{strong} top-1 | PNAG - EVO@{strong} pp |")
    print("|---|---|---|---|---|---|---|")
    pub_at = {round(p[2], 2): p for p in published}
    gaps = []
    for b, g, e1, e50 in zip(budgets, gens, evo["1x"], evo[strong]):
        pub = pub_at.get(b)
        pub_cell = f"{pub[0]} ms net: {100 * pub[3]:.2f} ({pub[2]:.2f})" if pub else ""
        gap = 100 * (g.best.value - e50.score) if e50.feasible else float("nan")
        gaps.append(gap)
        cell = (lambda r: f"{100 * r.score:.2f}" if r.feasible else "-")
        print(f"| {b:g} | {100 * g.best.value:.2f} | {g.best.cost:.2f} | {pub_cell} | {cell(e1)} "
              f"| {cell(e50)} | {gap:+.2f} |")
    beats_pub = sum(1 for b, g in zip(budgets, gens) if b in pub_at and g.best.value >= pub_at[b][3])
    beats_evo = sum(1 for g, e in zip(gens, evo["1x"]) if not e.feasible or g.best.value >= e.score)
    within = sum(1 for gap in gaps if gap >= -0.2)
    print(f"\nPNAG >= published net at its latency: {beats_pub}/{len(pub_at)}; PNAG >= EVO@1x: "
          f"{beats_evo}/{len(budgets)}; within 0.2 pp of EVO@{strong}: {within}/{len(budgets)} "
          f"(mean gap {np.nanmean(gaps):+.2f} pp)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
