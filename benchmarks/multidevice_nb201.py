"""One generator for many devices vs one generator per device, on NAS-Bench-201.

* multi-device: :class:`nas.multidevice.MultiDevicePNAG` trained once over
  HELP's 13 training devices (full tables). Each of HELP's 6 test devices is
  then given only its latency on the model's 10 reference architectures
  (looked up in its table, standing in for 10 measurements); no retraining.
* per-device: :class:`nas.pnag.PNAG` trained separately for each test device
  on that device's full table.

For budgets at the 10/30/50/70/90% latency quantiles of each test device,
the generated architecture's true latency (table) and accuracy are compared
with the exact optimum, found by enumerating all 15,625 architectures:
regret = best accuracy under the budget - accuracy of the generated one
(negative when a budget is overshot); satisfied = true latency <= budget.
A third row, per-device PNAG trained on the 10-shot predicted costs, splits
the cost of sharing one generator from the cost of knowing only 10 numbers.
Same settings and accuracy-query budget for all (``fast`` preset: M=300
archive queries, rerank 5 per budget).

    python benchmarks/multidevice_nb201.py [--refdata ../shared/refdata] [--quick]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from latency_kit.errors import LatkitError

from _common import HELP_TEST, HELP_TRAIN, REFDATA, help_nb201

QUANTILES = (0.1, 0.3, 0.5, 0.7, 0.9)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--refdata", type=Path,
                        default=REFDATA)
    parser.add_argument("--dataset", default="cifar10-test",
                        help="accuracy column of nb201_accuracies.json")
    parser.add_argument("--quick", action="store_true", help="small training settings (smoke run)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--safety", type=float, nargs="+", default=[0.0, 0.5, 1.0],
                        help="multi-device budget headroom, in leave-one-out standard errors")
    args = parser.parse_args()
    if not (args.refdata / "help" / "nasbench201").is_dir():
        print(f"reference data not found under {args.refdata}", file=sys.stderr)
        return 2
    import torch

    from latency_kit.spaces import SPACES, get_space
    from nas.sources.accuracy import TableAccuracy
    from nas.sources.costs import TableCost
    from nas.multidevice import MultiDevicePNAG, PredictedCost
    from nas.pnag import PNAG, settings_from

    if "nb201" not in SPACES:
        print("the nb201 space is not registered in latency_kit.spaces", file=sys.stderr)
        return 2
    torch.set_num_threads(args.threads)
    space = get_space("nb201")
    archs, lat = help_nb201(args.refdata, HELP_TRAIN + HELP_TEST)
    parsed = [space.parse(a) for a in archs]
    table = json.loads((args.refdata / "nb201_minibench" / "nb201_accuracies.json").read_text())
    col = table["columns"].index(args.dataset)
    by_str = {row[1]: float(row[col]) for row in table["rows"]}
    acc = np.array([by_str[a] for a in archs])
    accuracy = TableAccuracy.from_mapping(space, dict(zip(parsed, acc)))
    costs = {d: TableCost.from_mapping(space, dict(zip(parsed, lat[d]))) for d in HELP_TRAIN}
    settings = (settings_from("fast", archs=150, eval_steps=60, gen_steps=60)
                if args.quick else settings_from("fast"))

    started = time.perf_counter()
    multi = MultiDevicePNAG(space, accuracy, costs, settings, shots=10).fit()
    seconds = {f"multi-device, safety {k}": time.perf_counter() - started for k in args.safety}
    seconds.update({"per-device, full table": 0.0, "per-device, 10-shot costs": 0.0})
    trained_on = {**{f"multi-device, safety {k}": "13 devices once; 10 shots per test device"
                     for k in args.safety},
                  "per-device, full table": "each test device's full table",
                  "per-device, 10-shot costs": "10 shots per test device, retrained"}
    index = {a: i for i, a in enumerate(parsed)}
    rows, totals = [], {label: [] for label in seconds}
    for device in HELP_TEST:
        truth = lat[device]
        model = multi.device(device, [truth[index[a]] for a in multi.references_])
        generators = {f"multi-device, safety {k}": (lambda b, k=k: multi.generate(model, b, safety=k))
                      for k in args.safety}
        for label, cost in (("per-device, full table",
                             TableCost.from_mapping(space, dict(zip(parsed, truth)))),
                            ("per-device, 10-shot costs", PredictedCost(space, model))):
            t0 = time.perf_counter()
            single = PNAG(space, cost, accuracy, settings).fit()
            seconds[label] += time.perf_counter() - t0
            generators[label] = single.generate
        for q in QUANTILES:
            budget = float(np.quantile(truth, q))
            best = float(acc[truth <= budget].max())
            for label, generate in generators.items():
                try:
                    i = index[generate(budget).best.arch]
                    result = (best - acc[i], bool(truth[i] <= budget), truth[i])
                except LatkitError:
                    result = (float("nan"), False, float("nan"))
                totals[label].append(result)
                rows.append((device, q, budget, label, *result))
    print("| device | budget (quantile) | generator | regret (acc. points) | true ms | within budget |")
    print("|---|---|---|---|---|---|")
    for device, q, budget, label, regret, ok, ms in rows:
        print(f"| {device} | {budget:.2f} ms (q{int(q * 100)}) | {label} | {regret:.2f} | "
              f"{ms:.2f} | {'yes' if ok else 'NO'} |")
    print()
    print("| generator | trained on | mean regret, within-budget picks | mean regret, all | "
          "max regret | budgets satisfied | training s |")
    print("|---|---|---|---|---|---|---|")
    for label, vals in totals.items():
        regrets = np.array([v[0] for v in vals], dtype=float)
        fits = np.array([v[1] for v in vals], dtype=bool)
        within = f"{np.mean(regrets[fits]):.2f}" if fits.any() else "-"
        print(f"| {label} | {trained_on[label]} | {within} | {np.nanmean(regrets):.2f} | "
              f"{np.nanmax(regrets):.2f} | {int(fits.sum())}/{len(vals)} | {seconds[label]:.0f} |")
    print(f"\naccuracy: {args.dataset}; settings: {'quick' if args.quick else 'fast preset'}; "
          f"references: {[space.format(a) for a in multi.references_]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
