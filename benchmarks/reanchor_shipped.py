"""Re-anchor a shipped profile on this machine and validate it before and after.

Goal (issue 17): after ``latkit profile --reanchor``, ``latkit validate`` on
the same machine is within ±5% for at least 90% of networks.

One run, in a fresh ``LATKIT_HOME`` (the shipped profile is never changed):

1. validate the shipped profile here: 30 fresh networks, each the median of
   3 fresh processes (truth A), scored against the stored predictor;
2. re-anchor it (its calibration networks measured here, 3 processes each);
3. score the re-anchored predictor against truth A, and beside it the
   baseline of a single scale factor (the stored predictor times the level
   that re-anchoring found);
4. validate again, twice (truths B and C, measured after re-anchoring);
5. the truth's own ceiling: one truth as a predictor of another (A of B,
   C of B), and the level between them (geometric mean of the ratios): on
   a shared machine the whole level drifts by minutes.

    python benchmarks/reanchor_shipped.py [--profile amd-epyc-ort-1t] [-n 30]

Measure on a quiet machine: the load average is printed at the start and end.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np


def row(name: str, scores: dict[str, float]) -> str:
    return (f"| {name} | {100 * scores['within_5pct']:.1f}% | {100 * scores['within_10pct']:.1f}% "
            f"| {scores['rmse_ms']:.3f} | {scores['kendall_tau']:.3f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="amd-epyc-ort-1t")
    parser.add_argument("-n", type=int, default=30)
    parser.add_argument("--processes", type=int, default=3)
    args = parser.parse_args()
    os.environ["LATKIT_HOME"] = tempfile.mkdtemp(prefix="latkit-reanchor-")

    from latency_kit import load_profile
    from latency_kit.measure.anchor import host_note, profile_backend, reanchor
    from latency_kit.measure.load import describe_load
    from latency_kit.measure.validation import metrics, validate_profile

    print(f"start {time.strftime('%H:%M:%S', time.gmtime())} UTC, {describe_load()}")
    shipped = load_profile(args.profile)
    print(host_note(shipped) or "profile measured on this host")
    backend, reopen = profile_backend(shipped, processes=args.processes)
    started = time.perf_counter()
    try:
        before = validate_profile(shipped, backend, n=args.n, reopen=reopen)
        done = reanchor(shipped, backend, reopen)
        fresh = load_profile(args.profile)
        after = validate_profile(fresh, backend, n=args.n, reopen=reopen)
        again = validate_profile(fresh, backend, n=args.n, reopen=reopen)
    finally:
        backend.close()
    archs = [fresh.parse_arch(a) for a in before.archs]
    truth_a = np.asarray(before.measured_ms)
    stored = np.asarray(before.predicted_ms["predictor"])
    print(f"\nre-anchored at level {done.level:.3f} (new / old calibration ms, "
          f"{done.networks} networks); {time.perf_counter() - started:.0f} s in all")
    print(f"{args.n} fresh networks, truth = median of {args.processes} fresh processes\n")
    print("| predictor | within ±5% | within ±10% | RMSE ms | Kendall τ |")
    print("|---|---|---|---|---|")
    print(row("stored (before), truth A", metrics(truth_a, stored)))
    print(row("baseline: stored × level, truth A", metrics(truth_a, stored * done.level)))
    print(row("re-anchored (refit), truth A", metrics(truth_a, fresh.predict_many(archs))))
    print(row("re-anchored (refit), truth B", after.scores["predictor"]))
    print(row("re-anchored (refit), truth C", again.scores["predictor"]))
    print(row("ceiling: truth A as a predictor of truth B", metrics(after.measured_ms, truth_a)))
    print(row("ceiling: truth C as a predictor of truth B",
              metrics(after.measured_ms, again.measured_ms)))

    def level(x, y) -> float:
        return float(np.exp(np.mean(np.log(np.asarray(x) / np.asarray(y)))))

    print(f"\npredictor level before {before.predictor_level:.3f}, after "
          f"{after.predictor_level:.3f} (B) and {again.predictor_level:.3f} (C); truth levels "
          f"B/A {level(after.measured_ms, truth_a):.3f}, C/B "
          f"{level(again.measured_ms, after.measured_ms):.3f}; "
          f"end {time.strftime('%H:%M:%S', time.gmtime())} UTC, {describe_load()}")


if __name__ == "__main__":
    main()
