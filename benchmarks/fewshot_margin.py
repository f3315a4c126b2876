"""How well a few-shot profile's budget margin covers a real unseen device.

HELP's NAS-Bench-201 tables: each of the 6 unseen devices becomes a few-shot
profile (``latency_kit.profiles.fewshot.build_fewshot_profile``) from K source
devices (table profiles) and its own latency on the 10 reference networks,
each times ``exp(N(0, 5%))`` (measurement noise across processes). Its margin
(``latency_kit.predict.margin.margin_of``, level 95%) is then checked on the
device's *true* table over 3,000 random networks: the share whose true
latency is under predicted x factor. Side by side per device:

* the margin latkit uses: the pooled split-conformal bound over every
  held-out source residual, with its claimed (leave-one-device-out) coverage
  and the held-out devices it met (``devices_covered``);
* for comparison, a two-step bound: each held-out source device's own 95%
  quantile, then the conformal quantile over those at 80% of devices
  (``fit_margin(..., device_level=0.8)``).

K is 13 (HELP's whole source split) or, with ``--sources 2 3``, random
subsets (4 draws each) to show how a margin measured on few devices fares.

    python benchmarks/fewshot_margin.py [--sources 13 3 2] [--seed 0]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

from _common import HELP_TEST, HELP_TRAIN, REFDATA, help_nb201

SHOTS, NOISE, LEVEL, DEVICE_LEVEL, NETWORKS = 10, 0.05, 0.95, 0.8, 3000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sources", type=int, nargs="+", default=[13])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if not (REFDATA / "help" / "nasbench201").is_dir():
        print(f"HELP's NAS-Bench-201 tables not found under {REFDATA}", file=sys.stderr)
        return 2
    from latency_kit.predict.margin import fit_margin, margin_of
    from latency_kit.profiles.fewshot import build_fewshot_profile, reference_archs
    from latency_kit.profiles.table import write_table_profile
    from latency_kit.spaces import get_space

    keys, lat = help_nb201(REFDATA, HELP_TRAIN + HELP_TEST)
    space = get_space("nb201")
    row = {k: i for i, k in enumerate(keys)}
    rng = np.random.default_rng(args.seed)
    sample = rng.choice(len(keys), NETWORKS, replace=False)
    archs = [space.parse(keys[i]) for i in sample]
    print("| sources | device | claimed coverage | devices covered | factor | covered on the "
          "true table | two-step factor | two-step covered |")
    print("|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        stored = {d: write_table_profile(root / d, d, "nb201", dict(zip(keys, lat[d].tolist())), {})
                  for d in HELP_TRAIN}
        for k in args.sources:
            draws = [HELP_TRAIN] if k >= len(HELP_TRAIN) else [
                tuple(rng.choice(HELP_TRAIN, k, replace=False)) for _ in range(4)]
            summary = {"latkit (pooled)": [], "two-step": []}
            for d, names in enumerate(draws):
                sources = [stored[n] for n in names]
                refs = reference_archs(space, sources, SHOTS)
                for device in HELP_TEST:
                    truth = lat[device]
                    shots = [(a, truth[row[space.format(a)]] * float(np.exp(rng.normal(0, NOISE))))
                             for a in refs]
                    profile = build_fewshot_profile("nb201", sources, shots, device,
                                                    out=root / f"{device}-{k}-{d}")
                    errors = profile.held_out_errors
                    margin = margin_of(errors, LEVEL)
                    predicted = profile.predict_many(archs)
                    true = truth[sample]
                    covered = float(np.mean(true <= predicted * margin.factor))
                    two = fit_margin(errors.groups, LEVEL, DEVICE_LEVEL).factor(errors.scale)
                    covered2 = float(np.mean(true <= predicted * two))
                    summary["latkit (pooled)"].append(covered)
                    summary["two-step"].append(covered2)
                    print(f"| {k} | {device} | {100 * margin.coverage:.1f}% | "
                          f"{margin.margin.devices_covered}/{margin.margin.devices} | "
                          f"{margin.factor:.3f} | {100 * covered:.1f}% | {two:.3f} | "
                          f"{100 * covered2:.1f}% |", flush=True)
            for name, values in summary.items():
                print(f"| {k} | **{name}, mean over {len(values)}** | | | | "
                      f"**{100 * np.mean(values):.1f}%** (worst {100 * np.min(values):.1f}%) | | |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
