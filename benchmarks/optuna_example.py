"""A latency-aware Optuna search on a latkit profile, in seconds.

By default it imports OFA's published Samsung Note10 lookup tables from
``../shared/refdata`` into a temporary profile and scores architectures with
OFA's published ImageNet top-1 predictor (both real, published data), then
runs an NSGA-II study: maximise predicted top-1, minimise Note10 latency,
under a latency budget. With ``--device NAME`` it uses a stored profile of
yours instead (accuracy then falls back to a labelled proxy, the parameter
count, unless the space is ofa-mbv3 and the OFA predictor is present).

    python benchmarks/optuna_example.py --trials 200 --budget 30ms
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

REFDATA = Path(os.environ.get("LATKIT_REFDATA", Path(__file__).resolve().parents[2] / "shared" / "refdata"))


def note10_profile(home: Path):
    """Import OFA's Note10 LUTs (refdata) as the profile ``note10`` under ``home``."""
    from latency_kit.formats import import_tables

    files = sorted((REFDATA / "ofa" / "note10_lut").glob("*_lookup_table.yaml"))
    if not files:
        sys.exit(f"no Note10 tables under {REFDATA}; set LATKIT_REFDATA or pass --device NAME")
    return import_tables("ofa-yaml", files, "note10", out=home / "note10")


def accuracy_function(space):
    """OFA's top-1 predictor where available, else a labelled proxy; (fn, label)."""
    predictor = REFDATA / "ofa" / "acc_predictor.pth"
    if space.name == "ofa-mbv3" and predictor.is_file():
        from nas.sources.accuracy import OFAPredictorAccuracy

        source = OFAPredictorAccuracy(space, predictor)
        return (lambda arch: float(source.score_many([arch])[0]) * 100), "OFA predicted top-1 %"
    return (lambda arch: float(space.params(arch)) / 1e6), "proxy: params (M), not accuracy"


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", help="stored latkit profile (default: imported Note10)")
    parser.add_argument("--budget", default="30ms")
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    import optuna

    from latency_kit import load_profile
    from latency_kit.integrations.optuna import LatencyObjective

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        profile = load_profile(args.device) if args.device else note10_profile(Path(tmp))
        accuracy, label = accuracy_function(profile.space)
        started = time.perf_counter()
        # --- the three lines ---------------------------------------------------
        lat = LatencyObjective(profile, budget=args.budget)
        study = optuna.create_study(directions=lat.directions, sampler=lat.sampler(seed=args.seed))
        study.optimize(lat.wrap(accuracy), n_trials=args.trials)
        # ------------------------------------------------------------------------
        seconds = time.perf_counter() - started
        front = sorted(lat.best(study), key=lambda t: t.values[1])
        rows = [{"latency_ms": t.values[1], "score": t.values[0], "arch": t.user_attrs["arch"]}
                for t in front]
    print(f"profile {profile.name} ({profile.meta['space']}), budget {args.budget}, "
          f"{args.trials} trials in {seconds:.1f} s; score = {label}")
    print(f"{'latency ms':>10}  {'score':>7}  arch")
    for row in rows:
        print(f"{row['latency_ms']:10.2f}  {row['score']:7.2f}  {row['arch']}")
    if not rows:
        print("no trial met the budget; raise --budget or --trials")
    return rows


if __name__ == "__main__":
    main()
