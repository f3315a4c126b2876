"""Which training-free proxy should ``proxy`` default to? Measure it.

For several hundred seeded random ``ofa-mbv3`` architectures, compare each
proxy's ranking with OFA's published ImageNet accuracy predictor
(``refdata/ofa/acc_predictor.pth``): Spearman rho and Kendall tau, plus the
compute time per architecture. MACs and params are the baselines a proxy must
beat. Optionally (``--nb201 N``) the same against NAS-Bench-201's real CIFAR-10
validation accuracies (``refdata/nb201_minibench``).

Usage::

    python benchmarks/proxy_choice.py --archs 300 --nb201 300

Prints a markdown table per space. The default proxy in ``nas/sources/proxies.py`` is
chosen from these figures (see ``benchmarks/results_proxies.md``).
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
from scipy.stats import kendalltau, spearmanr

from _common import REFDATA



def score_all(space, archs, names, reference):
    """{proxy: (scores, wall seconds, CPU seconds per architecture)}; prints as it goes.

    CPU time is reported next to wall time because on a shared machine wall
    time mostly measures the other processes.
    """
    from nas.sources.proxies import get_proxy

    out = {}
    for name in names:
        proxy = get_proxy(name)
        times, cpu, scores = [], [], []
        for arch in archs:
            started, started_cpu = time.perf_counter(), time.process_time()
            scores.append(proxy(space, arch))
            times.append(time.perf_counter() - started)
            cpu.append(time.process_time() - started_cpu)
        out[name] = (np.array(scores), times, cpu)
        print(f"  {name}: Spearman {spearmanr(reference, scores)[0]:.3f}, "
              f"{np.median(times) * 1e3:.1f} ms/arch median wall, "
              f"{np.median(cpu) * 1e3:.1f} ms CPU", flush=True)
    return out


def table(title, reference, results):
    lines = [f"### {title}", "",
             "| proxy | Spearman rho | Kendall tau | median ms/arch (wall) | median ms/arch (CPU) "
             "| mean ms/arch (wall) | total s |",
             "|---|---|---|---|---|---|---|"]
    for name, (scores, times, cpu) in sorted(results.items(),
                                             key=lambda kv: -spearmanr(reference, kv[1][0])[0]):
        rho = spearmanr(reference, scores)[0]
        tau = kendalltau(reference, scores)[0]
        lines.append(f"| {name} | {rho:.3f} | {tau:.3f} | {np.median(times) * 1e3:.1f} | "
                     f"{np.median(cpu) * 1e3:.1f} | {np.mean(times) * 1e3:.1f} | {np.sum(times):.1f} |")
    return "\n".join(lines)


def ofa_part(n: int, seed: int, names: list[str]) -> str:
    from latency_kit.spaces import get_space
    from nas.sources.accuracy import OFAPredictorAccuracy

    space = get_space("ofa-mbv3")
    rng = np.random.default_rng(seed)
    archs = [space.sample(rng) for _ in range(n)]
    predictor = OFAPredictorAccuracy(space, REFDATA / "ofa" / "acc_predictor.pth")
    reference = predictor.score_many(archs)
    print(f"ofa-mbv3: {n} archs, predicted top-1 {reference.min():.3f}-{reference.max():.3f}")
    return table(f"ofa-mbv3, {n} random architectures (seed {seed}), against OFA's accuracy predictor",
                 reference, score_all(space, archs, names, reference))


def nb201_part(n: int, seed: int, names: list[str]) -> str:
    from latency_kit.spaces import get_space

    data = json.load(open(REFDATA / "nb201_minibench" / "nb201_accuracies.json"))
    column = data["columns"].index("cifar10-val")
    rows = data["rows"]
    rng = np.random.default_rng(seed)
    picked = [rows[i] for i in rng.choice(len(rows), size=n, replace=False)]
    space = get_space("nb201")
    archs = [space.parse(row[1]) for row in picked]
    reference = np.array([row[column] for row in picked], dtype=float)
    print(f"nb201: {n} archs")
    return table(f"nb201, {n} random architectures (seed {seed}), against CIFAR-10 validation accuracy",
                 reference, score_all(space, archs, names, reference))


def main() -> None:
    from nas.sources.proxies import proxy_names

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archs", type=int, default=300, help="random ofa-mbv3 architectures")
    parser.add_argument("--nb201", type=int, default=0, help="random nb201 architectures (0: skip)")
    parser.add_argument("--seed", type=int, default=0)
    cheap_first = ["synflow", "macs", "params", "naswot", "grad_norm", "jacob_cov"]
    parser.add_argument("--proxies", nargs="*",
                        default=cheap_first + [n for n in proxy_names() if n not in cheap_first])
    args = parser.parse_args()
    if not (REFDATA / "ofa" / "acc_predictor.pth").is_file():
        raise SystemExit(f"reference data not found at {REFDATA} (set LATKIT_REFDATA)")
    started = time.perf_counter()
    parts = [ofa_part(args.archs, args.seed, args.proxies)] if args.archs else []
    if args.nb201:
        parts.append(nb201_part(args.nb201, args.seed, args.proxies))
    print()
    print("\n\n".join(parts))
    print(f"\n(total {time.perf_counter() - started:.0f} s; times include building each block once)")


if __name__ == "__main__":
    main()
