"""Build time of a CPU lookup table and how its raw sum compares with whole networks.

On this machine (ONNX Runtime, ``--threads`` intra-op threads) it prints:

(a) the wall time to build the complete ``ofa-mbv3`` profile at one
    resolution in a fresh temporary directory (ONNX export included, no
    calibration networks) and its entry count, against the goal of at most
    2 minutes on 2 cores;
(b) for ``-n`` seeded random architectures at that resolution, the measured
    whole-network latency next to the raw sum of their LUT entries, and their
    ratio, with a summary: mean ratio, share of networks whose raw sum is
    within ±5% / ±10% of the measurement, and Kendall tau.

The ground truth is ``latency_kit.measure.engine.measure_interleaved``: every network
is timed once per round, rounds spread in time (``--pause`` seconds apart),
and each network's value is the median of its per-round medians.

The raw sum is not expected to match exactly: standalone blocks pay layout
reorders and per-run overhead that the fused network does not, and head layers
run slower inside the network. The calibrated predictor closes that gap
(benchmarks/predictor_accuracy.py).

Examples::

    python benchmarks/profile_cpu.py                      # 1 thread, 224 px, 20 networks, 3 rounds
    python benchmarks/profile_cpu.py --threads 2 --resolution 160 -n 40 --rounds 5
    python benchmarks/profile_cpu.py --profile ~/.local/share/latkit/profiles/cpu   # skip (a)
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

GOAL_SECONDS = 120.0
# Whole networks last 3-30 ms: one run per timed batch, a longer warm-up.
WHOLE_NETWORK_SETTINGS = dict(warmup_ms=100.0, repeats=10, batch_ms=1.0)


def build(resolution: int, threads: int, root: Path):
    """Part (a): a complete profile in a fresh directory, timed end to end."""
    from latency_kit.api import build_profile

    os.environ["LATKIT_HOME"] = str(root / "home")  # fresh ONNX export cache as well
    started = time.perf_counter()
    profile = build_profile(device="cpu", resolutions=(resolution,), out=root / "profile",
                            threads=threads, calibrate=0)
    return profile, time.perf_counter() - started


def ground_truth(profile, archs, threads: int, rounds: int, pause: float) -> list[float]:
    """Part (b): interleaved whole-network medians (ms)."""
    from latency_kit.backends.base import ModelSpec
    from latency_kit.backends import open_backend
    from latency_kit.measure.engine import MeasureSettings, measure_interleaved

    specs = [ModelSpec.for_arch(profile.space, arch) for arch in archs]
    with open_backend("cpu", threads=threads) as backend:
        stats = measure_interleaved(backend, specs, rounds=rounds, settings=MeasureSettings(**WHOLE_NETWORK_SETTINGS),
                                    pause_s=pause,
                                    on_round=lambda r: print(f"  round {r + 1}/{rounds} done",
                                                             flush=True))
    return [s.median_ms for s in stats]


def summarise(measured: np.ndarray, raw: np.ndarray) -> dict[str, float]:
    from scipy.stats import kendalltau

    ratio = measured / raw
    error = np.abs(raw / measured - 1.0)
    return {
        "mean_ratio": float(ratio.mean()),
        "median_ratio": float(np.median(ratio)),
        "within_5": float(np.mean(error <= 0.05)),
        "within_10": float(np.mean(error <= 0.10)),
        "tau": float(kendalltau(measured, raw).statistic),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=1, help="ONNX Runtime intra-op threads")
    parser.add_argument("--resolution", type=int, default=224, help="input resolution (160-224)")
    parser.add_argument("-n", type=int, default=20, help="random architectures for part (b)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds of ground truth")
    parser.add_argument("--pause", type=float, default=2.0, help="seconds between rounds")
    parser.add_argument("--seed", type=int, default=0, help="seed of the architectures")
    parser.add_argument("--profile", type=Path, default=None,
                        help="use this existing profile and skip part (a)")
    args = parser.parse_args()

    from rich.console import Console
    from rich.table import Table

    from latency_kit.fingerprint import host_fingerprint
    from latency_kit.profiles.profile import Profile
    from latency_kit.spaces.ofa_mbv3 import OFAMobileNetV3

    out = Console(width=max(Console().width, 150))  # room for the architecture strings
    host = host_fingerprint()
    out.print(f"host: {host['cpu_model']}, {host['cores']} cores, governor {host['governor']}, "
              f"{platform.system()}; load average at start {os.getloadavg()[0]:.1f}")

    with tempfile.TemporaryDirectory(prefix="latkit-bench-") as tmp:
        if args.profile:
            profile = Profile.load(args.profile)
            out.print(f"(a) skipped: using {args.profile} ({len(profile.lut)} entries)")
        else:
            out.print(f"(a) building the {args.resolution} px ofa-mbv3 profile, "
                      f"{args.threads} thread(s), in a fresh directory ...")
            profile, seconds = build(args.resolution, args.threads, Path(tmp))
            cvs = [e.cv for e in profile.lut.entries.values() if e.cv is not None]
            flagged = sum(e.flagged for e in profile.lut.entries.values())
            verdict = "met" if seconds <= GOAL_SECONDS else "MISSED"
            out.print(f"(a) profile build: {len(profile.lut)} entries in {seconds:.1f} s "
                      f"(goal <= {GOAL_SECONDS:.0f} s: {verdict}); median CV "
                      f"{np.median(cvs):.3f}, {flagged} flagged")

        space = OFAMobileNetV3(resolutions=(args.resolution,))
        rng = np.random.default_rng(args.seed)
        archs = [space.sample(rng) for _ in range(args.n)]
        raw = np.array([profile.lut.total(b.key for b in space.blocks(a)) for a in archs])
        out.print(f"(b) measuring {args.n} whole networks, {args.rounds} interleaved rounds ...")
        started = time.perf_counter()
        measured = np.array(ground_truth(profile, archs, args.threads, args.rounds, args.pause))
        truth_seconds = time.perf_counter() - started

    table = Table(title=f"ofa-mbv3 @ {args.resolution} px, ONNX Runtime CPU, "
                        f"{args.threads} thread(s): measured vs raw LUT sum")
    for column in ("#", "architecture", "MMACs", "measured ms", "LUT sum ms", "measured/sum"):
        if column == "architecture":
            table.add_column(column, overflow="fold")  # never cut a string off
        else:
            table.add_column(column, justify="right", no_wrap=True)
    for i, (arch, m, r) in enumerate(zip(archs, measured, raw)):
        table.add_row(str(i), space.format(arch), f"{space.macs(arch) / 1e6:.0f}", f"{m:.2f}",
                      f"{r:.2f}", f"{m / r:.3f}")
    out.print(table)
    s = summarise(measured, raw)
    out.print(
        f"summary over {args.n} networks: mean ratio {s['mean_ratio']:.3f} (median "
        f"{s['median_ratio']:.3f}); raw sum within ±5%: {s['within_5']:.0%}, within ±10%: "
        f"{s['within_10']:.0%}; Kendall tau {s['tau']:.3f}; measured range "
        f"{measured.min():.2f}-{measured.max():.2f} ms; ground truth took {truth_seconds:.0f} s; "
        f"load average at end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
