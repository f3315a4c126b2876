"""Few-shot latency transfer on NAS-Bench-201 (HELP's device split).

Sources: HELP's 13 meta-training devices (its train + validation lists).
Targets: HELP's 6 test devices. For each target, N architectures are
"measured" (looked up in the target's table), the transfer of
``latency_kit.predict.transfer`` is fitted on them, and the Spearman rank correlation
between prediction and truth over all 15,625 architectures is reported, next
to a FLOPs baseline (which needs no measurement) in the same run.

Reference sets: ``latkit`` = farthest-point selection of ``select_references``
(what ``latkit lut reference`` lists); ``help10`` = HELP's 10 hardware-
embedding architectures; ``random`` = mean over 5 seeded random draws.

    python benchmarks/fewshot_nb201.py [--refdata ../shared/refdata]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

from latency_kit.predict.transfer import FewShotTransfer, SourceScale, select_references
from latency_kit.safe_pickle import safe_load
from latency_kit.spaces.nb201 import OPS as NB201_OPS

from _common import HELP_TEST, HELP_TRAIN, REFDATA, help_nb201


def nb201_ops(arch: str) -> list[int]:
    """Op index of each of the 6 edges of an NB201 cell string."""
    return [NB201_OPS.index(tok.split("~")[0])
            for node in arch.split("+") for tok in node.strip("|").split("|")]


def nb201_macs(archs: list[str]) -> np.ndarray:
    """MACs of the NB201 CIFAR network (the nb201 space's count when registered)."""
    from latency_kit.spaces import SPACES, get_space

    if "nb201" in SPACES:
        space = get_space("nb201")
        return np.array([space.macs(space.parse(a)) for a in archs], dtype=float)
    # Analytic: 3 stages of 5 cells at (C, H) = (16, 32), (32, 16), (64, 8); every
    # conv edge of a cell costs H*H*C*C*k*k; fixed stem, reduction blocks and head.
    fixed = 32 * 32 * 16 * 27 + 64 * 10
    for c_in, c_out, h in ((16, 32, 16), (32, 64, 8)):
        fixed += h * h * c_out * (9 * c_in + 9 * c_out + c_in)
    per_stage = sum(h * h * c * c for c, h in ((16, 32), (32, 16), (64, 8)))
    ops = np.array([nb201_ops(a) for a in archs])
    weight = 5 * per_stage * ((ops == 3).sum(1) * 9 + (ops == 2).sum(1))
    return fixed + weight.astype(float)


def load(refdata: Path):
    """Arch strings, latency per HELP device (ms) and HELP's 10 embedding architectures."""
    archs, lat = help_nb201(refdata, HELP_TRAIN + HELP_TEST)
    root = refdata / "help" / "nasbench201"
    help10 = [int(i) for i in safe_load(root / "hardware_embedding_index.pt")]
    return archs, lat, help10


def onehot(archs: list[str]) -> np.ndarray:
    ops = np.array([nb201_ops(a) for a in archs])
    return np.concatenate([(ops == k).astype(float) for k in range(len(NB201_OPS))], axis=1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--refdata", type=Path,
                        default=REFDATA)
    parser.add_argument("--shots", type=int, nargs="+", default=[5, 10, 20])
    parser.add_argument("--random-seeds", type=int, default=5)
    parser.add_argument("--cpu-check", type=int, default=0, metavar="K",
                        help="also measure 10 references + K random archs on this CPU (real device)")
    args = parser.parse_args()
    if not (args.refdata / "help" / "nasbench201").is_dir():
        print(f"reference data not found under {args.refdata}", file=sys.stderr)
        return 2
    started = time.perf_counter()
    archs, lat, help10 = load(args.refdata)
    source_ms = np.stack([lat[d] for d in HELP_TRAIN], axis=1)
    z = SourceScale.fit(source_ms).transform(source_ms)
    feats = onehot(archs)
    macs = nb201_macs(archs)

    def score(ref: list[int]) -> list[float]:
        out = []
        for device in HELP_TEST:
            model = FewShotTransfer().fit(z[ref], lat[device][ref], feats[ref])
            out.append(float(spearmanr(model.predict(z, feats), lat[device])[0]))
        return out

    rows = [("FLOPs (no measurement)", "-", [float(spearmanr(macs, lat[d])[0]) for d in HELP_TEST])]
    for n in args.shots:
        rows.append(("latkit transfer", f"{n} latkit", score(select_references(z, feats, n))))
        if n == len(help10):
            rows.append(("latkit transfer", f"{n} help10", score(help10)))
        draws = [score(list(np.random.default_rng(s).choice(len(archs), n, replace=False)))
                 for s in range(args.random_seeds)]
        rows.append(("latkit transfer", f"{n} random", list(np.mean(draws, axis=0))))
    header = "| method | N / references | " + " | ".join(HELP_TEST) + " | mean |"
    print(header)
    print("|" + "---|" * (len(HELP_TEST) + 3))
    for method, refs, values in rows:
        cells = " | ".join(f"{v:.3f}" for v in values)
        print(f"| {method} | {refs} | {cells} | **{np.mean(values):.3f}** |")
    print(f"\nsources: {', '.join(HELP_TRAIN)}; {time.perf_counter() - started:.1f} s")
    if args.cpu_check:
        cpu_check(args.cpu_check, archs, z, feats, macs)
    return 0


def cpu_check(count: int, archs: list[str], z: np.ndarray, feats: np.ndarray,
              macs: np.ndarray, shots: int = 10, rounds: int = 3) -> None:
    """Real device: this machine's ONNX Runtime CPU (1 thread) as the new device.

    Measures the ``shots`` references and ``count`` random held-out
    architectures interleaved (``measure_interleaved``), fits the transfer from
    HELP's 13 devices on the references and reports Spearman on the held-out
    ones, next to FLOPs. Needs a quiet machine: load makes CPU medians noisy.
    """
    from latency_kit.backends.base import ModelSpec
    from latency_kit.backends import open_backend
    from latency_kit.measure.engine import measure_interleaved
    from latency_kit.spaces import get_space

    space = get_space("nb201")
    refs = select_references(z, feats, shots)
    rng = np.random.default_rng(1)
    held = [int(i) for i in rng.choice(np.setdiff1d(np.arange(len(archs)), refs), count, replace=False)]
    specs = [ModelSpec.for_arch(space, space.parse(archs[i])) for i in refs + held]
    with open_backend("cpu", threads=1) as backend:
        stats = measure_interleaved(backend, specs, rounds=rounds)
    ms = np.array([s.median_ms for s in stats])
    model = FewShotTransfer().fit(z[refs], ms[:shots], feats[refs])
    pred = model.predict(z[held], feats[held])
    truth = ms[shots:]
    print(f"\nthis CPU (ONNX Runtime, 1 thread), {shots} measured references, {count} held-out "
          f"measured architectures: Spearman {spearmanr(pred, truth)[0]:.3f} "
          f"(FLOPs {spearmanr(macs[held], truth)[0]:.3f}); median |error| "
          f"{np.median(np.abs(pred / truth - 1)):.1%}; median CV of the measurements "
          f"{np.median([s.cv for s in stats]):.3f}")


if __name__ == "__main__":
    sys.exit(main())
