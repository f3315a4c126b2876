"""Build a ``tflite-cpu`` profile of ofa-mbv3 at 224 px on this host and check it.

Reports:

1. the build time of ``latkit profile --device tflite-cpu`` (block LUT plus
   ``--calibrate`` calibration networks), with how much of it was litert-torch
   conversion (conversions are cached, so a rerun with the same cache skips it);
2. for ``--networks`` seeded random networks that are not calibration networks:
   the raw LUT sum against the measured whole-network latency (median of 3
   interleaved rounds, LiteRT + XNNPACK, same process);
3. the calibrated predictor (``Profile.predict``) on the same networks.

Example (the figures in benchmarks/results_tflite.md)::

    python benchmarks/profile_tflite.py --calibrate 15 --networks 20

Set ``LATKIT_HOME`` to keep the profile and the conversion cache between runs.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

HELDOUT_SEED = 1000


def within(pred: np.ndarray, truth: np.ndarray, tol: float) -> float:
    return float(np.mean(np.abs(pred / truth - 1) <= tol))


def kendall(a: np.ndarray, b: np.ndarray) -> float:
    from scipy.stats import kendalltau

    return float(kendalltau(a, b).statistic)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calibrate", type=int, default=15, help="calibration networks")
    parser.add_argument("--networks", type=int, default=20, help="held-out networks to check")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=None, help="profile directory")
    args = parser.parse_args()
    os.environ.setdefault("LATKIT_HOME", tempfile.mkdtemp(prefix="latkit-bench-"))

    from latency_kit.convert import tflite
    from latency_kit.api import build_profile
    from latency_kit.backends import open_backend
    from latency_kit.measure.calibration import measure_archs, sample_archs
    from latency_kit.fingerprint import cpu_model
    from latency_kit.profiles.profile import load_profile
    from latency_kit.spaces import get_space

    conversion_s = [0.0]
    convert = tflite.convert_module

    def timed_convert(*a, **k):
        start = time.perf_counter()
        try:
            return convert(*a, **k)
        finally:
            conversion_s[0] += time.perf_counter() - start

    tflite.convert_module = timed_convert  # count conversion time; behaviour unchanged

    out = args.out or Path(os.environ["LATKIT_HOME"]) / "profiles" / "tflite-cpu-bench"
    started = time.perf_counter()
    profile = build_profile(device="tflite-cpu", resolutions=(224,), out=out,
                            calibrate=args.calibrate, threads=args.threads)
    build_s = time.perf_counter() - started
    build_conv = conversion_s[0]

    space = get_space("ofa-mbv3", resolutions=(224,))
    calib = {space.format(a) for a in sample_archs(space, args.calibrate, 0)}
    archs = sample_archs(space, args.networks, HELDOUT_SEED, exclude=calib)
    with open_backend("tflite-cpu", threads=args.threads) as backend:
        started = time.perf_counter()
        truth_stats = measure_archs(backend, space, archs)
        truth_s = time.perf_counter() - started
    truth = np.array([s.median_ms for s in truth_stats])
    profile = load_profile(out)
    lut = np.array([profile.lut_sum(a) for a in archs])
    pred = np.asarray(profile.predict_many(archs), dtype=float)
    kind = getattr(profile, "predictor_kind", "lut-sum")

    print(f"host: {cpu_model()}, threads {args.threads}, ofa-mbv3 @224, LiteRT + XNNPACK fp32")
    print(f"profile build: {build_s:.1f} s ({len(profile.lut)} blocks + {args.calibrate} calibration "
          f"networks; litert-torch conversion {build_conv:.1f} s of it)")
    print(f"ground truth: {args.networks} networks, 3 interleaved rounds, {truth_s:.1f} s "
          f"(conversion included: {conversion_s[0] - build_conv:.1f} s)")
    print(f"latency range: {truth.min():.2f}-{truth.max():.2f} ms")
    print()
    print("| estimate | measured/estimate (median) | within ±5% | within ±10% | Kendall tau |")
    print("|---|---|---|---|---|")
    for name, est in (("raw LUT sum", lut), (f"predictor ({kind})", pred)):
        print(f"| {name} | {np.median(truth / est):.3f} | {within(est, truth, 0.05):.0%} | "
              f"{within(est, truth, 0.10):.0%} | {kendall(est, truth):.3f} |")


if __name__ == "__main__":
    main()
