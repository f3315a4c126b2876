"""PNAG in the paper's mobile setting, on a laptop: ofa-mbv3 on a Samsung Note10.

Cost: OFA's official Note10 per-block lookup tables (160-224 px), imported as a
latkit profile and summed per architecture. Accuracy: OFA's published ImageNet
top-1 predictor (``ofa-predictor:``). Budgets 15-60 ms. Methods at equal
accuracy queries, cost lookups free (``@free``; see ``benchmarks/nas_nb201.py``
for the accounting), and EVO with every architecture PNAG touched (``@all``): PNAG
(one model, all budgets) and OFA-style evolution per budget (population 100,
parents 25%, mutation 0.1, from ``nas.baselines``), next to OFA's published
Note10 nets (their LUT latency at 224 px, the predictor's top-1 for them, and
the published top-1 after fine-tuning, which the predictor does not model).

    python benchmarks/nas_ofa_note10.py [--preset fast|bench] [--budgets 15 20 ...]
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

REFDATA = Path(os.environ.get("LATKIT_REFDATA", Path(__file__).resolve().parents[2] / "shared" / "refdata"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="bench", choices=["fast", "bench", "tiny"])
    parser.add_argument("--budgets", type=float, nargs="+",
                        default=[15, 20, 25, 30, 35, 40, 45, 50, 55, 60])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    luts = sorted((REFDATA / "ofa" / "note10_lut").glob("*_lookup_table.yaml"))
    predictor = REFDATA / "ofa" / "acc_predictor.pth"
    if not luts or not predictor.is_file():
        print(f"Note10 LUTs or predictor not found under {REFDATA}", file=sys.stderr)
        return 2

    from latency_kit.errors import LatkitError
    from latency_kit.formats import import_tables
    from latency_kit.formats.net_config import read_net_config
    from latency_kit.spaces import get_space
    from nas.accuracy import OFAPredictorAccuracy
    from nas.baselines import get_baseline
    from nas.costs import ProfileCost
    from nas.pnag import PNAG, settings_from

    space = get_space("ofa-mbv3")
    with tempfile.TemporaryDirectory() as tmp:
        profile = import_tables("ofa-yaml", luts, "note10", out=Path(tmp) / "note10")
        cost = ProfileCost(space, profile)
        accuracy = OFAPredictorAccuracy(space, predictor)
        model = PNAG(space, cost, accuracy, settings_from(args.preset, seed=args.seed))
        start = time.perf_counter()
        model.fit()
        train_s = time.perf_counter() - start
        budgets = [float(b) for b in args.budgets]
        t = time.perf_counter()
        gens = [model.generate(b) for b in budgets]
        per_budget_ms = 1000 * (time.perf_counter() - t) / len(budgets)
        acc_queries = len(model.lookups.values)
        all_queries = len(set(model.lookups.values) | set(model.lookups.costs))
        evo = {tag: get_baseline("evolution").search(space, accuracy, cost, budgets, q, args.seed,
                                                     free_cost=tag == "free")
               for tag, q in (("free", acc_queries), ("all", all_queries))}
        published = []
        for folder in sorted((REFDATA / "ofa" / "specialized_net_configs").glob("note10_*")):
            match = re.search(r"lat-(\d+)ms_top1-([\d.]+)", folder.name)
            try:
                arch, _ = read_net_config(folder)
            except LatkitError as exc:  # the w1.0 nets are outside the w1.2 space
                print(f"skipped {folder.name}: {exc}", file=sys.stderr)
                continue
            published.append((int(match.group(1)), float(match.group(2)), cost.cost(arch),
                              accuracy.score(arch)))

    print(f"PNAG ({args.preset}): training {train_s:.1f} s, evaluator tau "
          f"{model.eval_fit_.tau:.3f}, {acc_queries} accuracy queries, {all_queries} distinct "
          f"architectures costed or scored; {per_budget_ms:.0f} ms per budget")
    print(f"feasible range {model.feasible_.describe()}\n")
    print("| budget ms | PNAG top-1 | PNAG ms | EVO@free top-1 | EVO@free ms | EVO@all top-1 | EVO@all ms |")
    print("|---|---|---|---|---|---|---|")
    for b, g, ea, eb in zip(budgets, gens, evo["free"], evo["all"]):
        def cell(r):
            return (f"{100 * r.score:.2f} | {r.cost:.1f}" if r.feasible else "- | -")
        print(f"| {b:g} | {100 * g.best.value:.2f} | {g.best.cost:.1f} | {cell(ea)} | {cell(eb)} |")
    print(f"\nEVO accuracy queries: @free {evo['free'][0].accuracy_queries} (cost lookups free), "
          f"@all {evo['all'][0].accuracy_queries} (of {evo['all'][0].queries_used} distinct)\n")
    print("| OFA published note10 net | LUT ms (224 px) | predictor top-1 | published top-1 (fine-tuned) |"
          " PNAG top-1 at that LUT latency |")
    print("|---|---|---|---|---|")
    for lat, top1, lut_ms, pred in sorted(published):
        try:
            ours = f"{100 * model.generate(lut_ms).best.value:.2f}"
        except Exception as exc:  # below the feasible range, for instance
            ours = f"- ({exc})"
        print(f"| {lat} ms | {lut_ms:.1f} | {100 * pred:.2f} | {top1} | {ours} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
