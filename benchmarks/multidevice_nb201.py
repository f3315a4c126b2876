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
regret = best accuracy under the budget - accuracy of the generated one;
satisfied = true latency <= budget. Same settings and accuracy-query budget
for both (``fast`` preset: M=300 archive queries, rerank 5 per budget).

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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fewshot_nb201 import HELP_TEST, HELP_TRAIN, load  # noqa: E402

QUANTILES = (0.1, 0.3, 0.5, 0.7, 0.9)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--refdata", type=Path,
                        default=Path(__file__).resolve().parents[2] / "shared" / "refdata")
    parser.add_argument("--dataset", default="cifar10-test",
                        help="accuracy column of nb201_accuracies.json")
    parser.add_argument("--quick", action="store_true", help="small training settings (smoke run)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    args = parser.parse_args()
    if not (args.refdata / "help" / "nasbench201").is_dir():
        print(f"reference data not found under {args.refdata}", file=sys.stderr)
        return 2
    import torch

    from latency_kit.spaces import SPACES, get_space
    from nas.accuracy import TableAccuracy
    from nas.costs import TableCost
    from nas.multidevice import MultiDevicePNAG
    from nas.pnag import PNAG, settings_from

    if "nb201" not in SPACES:
        print("the nb201 space is not registered in latency_kit.spaces", file=sys.stderr)
        return 2
    torch.set_num_threads(args.threads)
    space = get_space("nb201")
    archs, lat, _ = load(args.refdata)
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
    multi_seconds = time.perf_counter() - started
    rows, totals = [], {"multi": [], "per-device": []}
    per_device_seconds = 0.0
    for device in HELP_TEST:
        truth = lat[device]
        index = {a: i for i, a in enumerate(parsed)}
        model = multi.device(device, [truth[index[a]] for a in multi.references_])
        t0 = time.perf_counter()
        single = PNAG(space, TableCost.from_mapping(space, dict(zip(parsed, truth))), accuracy,
                      settings).fit()
        per_device_seconds += time.perf_counter() - t0
        for q in QUANTILES:
            budget = float(np.quantile(truth, q))
            best = float(acc[truth <= budget].max())
            for label, generate in (("multi", lambda b: multi.generate(model, b)),
                                    ("per-device", lambda b: single.generate(b))):
                try:
                    arch = generate(budget).best.arch
                    i = index[arch]
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
    print("| generator | trained on | mean regret | max regret | budgets satisfied | training s |")
    print("|---|---|---|---|---|---|")
    for label, seconds, trained in (("multi-device", multi_seconds, "13 devices, once; 10 shots per test device"),
                                    ("per-device", per_device_seconds, "each test device's full table")):
        vals = totals["multi" if label == "multi-device" else "per-device"]
        regrets = np.array([v[0] for v in vals], dtype=float)
        ok = sum(v[1] for v in vals)
        print(f"| {label} | {trained} | {np.nanmean(regrets):.2f} | {np.nanmax(regrets):.2f} | "
              f"{ok}/{len(vals)} | {seconds:.0f} |")
    print(f"\naccuracy: {args.dataset}; settings: {'quick' if args.quick else 'fast preset'}; "
          f"references: {[space.format(a) for a in multi.references_]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
