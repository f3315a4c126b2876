"""Predictor accuracy on held-out ofa-mbv3 networks (ONNX Runtime on this CPU by default).

For one device (``--device cpu``, or ``gpu`` on an NVIDIA machine), thread
count or batch, and one or more resolutions it:

1. builds (or reuses) a profile with ``--calibration`` calibration networks,
   exactly as ``latkit profile --calibrate N`` does, timing the build;
2. samples ``--heldout`` networks per resolution that are not calibration
   networks and measures their ground truth in ``--passes`` separate
   processes, each taking the median of ``--rounds`` interleaved rounds; the
   truth is the median over processes, each brought to their common level
   first (``latency_kit.measure.processes``; finished processes are journaled, so a
   rerun only runs the missing ones, and ``--passes`` can grow later);
3. prints, per resolution, the calibrated predictor next to the raw LUT sum
   and a MACs-linear fit on the same calibration networks (within ±5%, ±10%,
   RMSE, Kendall tau), a learning curve over the number of calibration
   networks, a cross-validated comparison of models and feature sets on the
   calibration networks (``--cv``), and the noise floor: how well one
   process's measurement agrees with the other processes' median, and with
   4 or more processes how well two independent truths (the medians of two
   halves of the processes) agree with each other, averaged over the ways to
   split them, and the Kendall tau a noise-free predictor could reach
   (``latency_kit.measure.validation``'s ``truth_noise`` and ``tau_ceiling``).

Examples::

    python benchmarks/predictor_accuracy.py                       # 1 thread, 224 px
    python benchmarks/predictor_accuracy.py --threads 2
    python benchmarks/predictor_accuracy.py --resolution 160
    python benchmarks/predictor_accuracy.py --resolution 160 --resolution 224 --cv
    python benchmarks/predictor_accuracy.py --passes 1 --skip-noise-floor   # cheaper
    python benchmarks/predictor_accuracy.py --device gpu --batch 32 --precision fp16
"""

from __future__ import annotations

import argparse
import itertools
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from latency_kit.api import build_profile
from latency_kit.measure.calibration import SETTINGS, sample_archs
from latency_kit.journal import read_journal
from latency_kit.paths import cache_dir
from latency_kit.predict.features import (DEFAULT_FEATURES, DEFAULT_RECIPE, GROUP_FEATURES,
                                          KERNEL_RECIPE, Recipe)
from latency_kit.predict.ridge import ridge_fit
from latency_kit.predict.predictor import LatencyPredictor, fit_predictor
from latency_kit.measure.processes import level_normalised, levels, measure_in_processes
from latency_kit.spaces import get_space
from latency_kit.stats import LatencyStats
from latency_kit.measure.validation import baselines, median_noise, metrics, tau_ceiling, truth_noise

HELDOUT_SEED = 1000
TARGETS = "targets: >=99% within ±10%, >=90% within ±5%, Kendall tau >= 0.95"
# Candidate (model, feature set) pairs compared by cross-validation; a Recipe
# also names the columns that get the larger ridge penalty.
FEATURE_SETS = {
    "lut": ("lut",),
    "lut+res": ("lut", "lut_x_res", "resolution"),
    "lut+macs": ("lut", "macs"),
    "lut+macs+params+act": ("lut", "macs", "params", "act", "blocks"),
    "groups": GROUP_FEATURES,
    "lut+groups+res": ("lut", *GROUP_FEATURES, "lut_x_res"),
    "groups+macs+act+res": ("lut", *GROUP_FEATURES, "lut_x_res", "macs", "act", "resolution"),
    "default": DEFAULT_FEATURES,
    "lut+macs+kernels (penalised)": KERNEL_RECIPE,
}
MODELS = {
    "ridge": dict(model="ridge", alpha=1e-3),
    "ridge a=0.1": dict(model="ridge", alpha=0.1),
    "ridge abs-err": dict(model="ridge", alpha=1e-3, relative=False),
    "huber": dict(model="huber", alpha=1e-3),
    "gbr": dict(model="gbr"),
}


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# -- ground truth over separate processes -------------------------------------------
def ground_truth(texts: list[str], args: argparse.Namespace, path: Path) -> np.ndarray:
    """Per process, the median of ``--rounds`` rounds: processes x networks (journaled in ``path``)."""
    log(f"ground truth: {args.passes} fresh processes measuring {len(texts)} networks, "
        f"{args.rounds} interleaved rounds each")
    options = {"threads": args.threads, "precision": args.precision}
    measure_in_processes(args.device, options, "ofa-mbv3", {"resolutions": args.resolution}, texts,
                         args.passes, args.rounds, args.batch, SETTINGS, path)
    passes = read_journal(path, "process")
    return np.array([[passes[str(p)]["stats"][t]["median_ms"] for t in texts]
                     for p in range(args.passes)])


def half_splits(count: int, limit: int = 200) -> list[tuple[list[int], list[int]]]:
    """Ways to split ``count`` processes into two disjoint halves of ``count // 2``.

    Every split (each counted once: the first half holds process 0), or
    ``limit`` of them drawn with a fixed seed when there are more. One split
    alone is a lottery: over the 10 splits of 6 processes at 224 px, two
    3-process truths agreed at τ 0.862-0.949.
    """
    half = count // 2
    if half < 1:
        return []
    splits = [list(first) for first in itertools.combinations(range(count), half) if first[0] == 0]
    if len(splits) > limit:
        picks = np.random.default_rng(0).choice(len(splits), limit, replace=False)
        splits = [splits[i] for i in sorted(picks)]
    # with an odd count, the last process not in the first half sits out
    return [(first, [p for p in range(count) if p not in first][:half]) for first in splits]


def split_medians(per_pass: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Two independent truths per split (:func:`half_splits`): each half's per-network median."""
    return [(np.median(per_pass[a], axis=0), np.median(per_pass[b], axis=0))
            for a, b in half_splits(len(per_pass))]


def noise_floor(per_pass: np.ndarray) -> dict[str, Any] | None:
    """How well one process agrees with the others, and two halves of the processes."""
    count = per_pass.shape[0]
    if count < 2:
        return None
    rel, taus = [], []
    for i in range(count):
        rest = np.median(np.delete(per_pass, i, axis=0), axis=0)
        rel.extend(np.abs(per_pass[i] - rest) / rest)
        # Kendall tau of one process's ranking against the others' medians
        taus.append(metrics(rest, per_pass[i])["kendall_tau"])
    rel_a = np.array(rel)
    spread = per_pass.max(axis=0) / per_pass.min(axis=0) - 1
    out: dict[str, Any] = {
        "processes": count, "kendall_tau": float(np.mean(taus)),
        "within_5pct": float(np.mean(rel_a <= 0.05)), "within_10pct": float(np.mean(rel_a <= 0.10)),
        "median_dev": float(np.median(rel_a)), "max_dev": float(rel_a.max()),
        "median_spread": float(np.median(spread)), "max_spread": float(np.max(spread))}
    half = count // 2
    if half >= 2:  # two independent truths, each from half the processes, over many splits
        splits = [metrics(first, second) for first, second in split_medians(per_pass)]
        split_taus = [m["kendall_tau"] for m in splits]
        out["split_half"] = {"processes_each": half, "splits": len(splits),
                             **{k: float(np.mean([m[k] for m in splits])) for k in splits[0]},
                             "kendall_tau_min": min(split_taus), "kendall_tau_max": max(split_taus)}
    return out


def process_noise(per_pass: np.ndarray) -> dict[str, float] | None:
    """The truth's noise by the package's estimator (:func:`truth_noise`, as
    ``latkit validate`` reports it), from the per-process medians ``[process, network]``."""
    return truth_noise([LatencyStats.from_samples(per_pass[:, i]) for i in range(per_pass.shape[1])])


def linear_oracle(table, archs, truth: np.ndarray) -> np.ndarray:
    """The profile's predictor model fitted on the held-out truth itself.

    In-sample, so not a predictor: it shows how well the predictor's
    features can rank these networks at best.
    """
    X = table.transform(archs, table.recipe.features)
    return ridge_fit(X, truth, np.ones(len(archs)), table.recipe.alphas(), relative=True).predict(X)


# -- repeated LUTs: how much of the error is the LUT's noise --------------------
def lut_repeats(profile, entries, archs, truth: np.ndarray, per_pass: np.ndarray, count: int,
                args: argparse.Namespace, cache: Path, tag: str, use: int) -> None:
    """Measure the LUT ``count`` - 1 more times; rank the held-out networks with each.

    The calibration networks and the truth stay the same; only the table
    changes. If the predictor's misses were the LUT's measurement noise, the
    per-network residuals of different tables would not agree. They are
    compared for the linear oracle (the profile's recipe fitted on the
    truth itself), so no calibration noise enters either.
    """
    tables = [profile.features]
    for i in range(1, count):
        again = build_profile(args.device, resolutions=args.resolution,
                              out=cache / f"lut-{tag}-{i}", threads=args.threads,
                              batch=args.batch, precision=args.precision, calibrate=0)
        tables.append(again.features)
    print(f"## The same LUT measured {count} times ({use} calibration networks)\n")
    print("| table | LUT sum τ | predictor τ | predictor within ±5% | linear oracle τ |\n"
          "|---|---|---|---|---|")
    residuals = []
    for i, table in enumerate(tables):
        oracle = linear_oracle(table, archs, truth)
        residuals.append(np.log(truth / oracle))
        pred = metrics(truth, fit_predictor(table, entries[:use]).predict_archs(table, archs))
        print(f"| {'profile' if i == 0 else f'again #{i}'} | "
              f"{metrics(truth, table.lut_sum(archs))['kendall_tau']:.3f} | "
              f"{pred['kendall_tau']:.3f} | {100 * pred['within_5pct']:.1f}% | "
              f"{metrics(truth, oracle)['kendall_tau']:.3f} |")
    res = np.array(residuals)
    corr = np.corrcoef(res)[np.triu_indices(count, 1)]
    shared = float(res.mean(axis=0).std())
    # The truth's own noise (the median over the processes), by the package's estimator.
    estimate = process_noise(per_pass)
    noise = estimate["noise_pct"] / 100 if estimate else 0.0
    print(f"\nOracle residuals: {100 * float(res.std(axis=1).mean()):.2f}% per table; correlation "
          f"between tables {corr.mean():.2f} (min {corr.min():.2f}); the part they share "
          f"{100 * shared:.2f}%, of which the truth's own noise (median of {len(per_pass)} "
          f"processes, `truth_noise`) is about {100 * noise:.2f}%, leaving about "
          f"{100 * np.sqrt(max(shared ** 2 - noise ** 2, 0.0)):.2f}% that no table "
          f"measured this way removes\n")


# -- speed --------------------------------------------------------------------------
SPEED_CODE = """
import json, sys, time
t0 = time.perf_counter()
from latency_kit import load_profile
from latency_kit.measure.calibration import sample_archs
t1 = time.perf_counter()
profile = load_profile(sys.argv[1])
t2 = time.perf_counter()
kind = profile.predictor_kind
profile.predict(profile.space.sample(0))
t3 = time.perf_counter()
texts = [profile.space.format(a) for a in sample_archs(profile.space, 1000, seed=7)]
t4 = time.perf_counter()
profile.predict_many(texts)
t5 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "load_s": t2 - t1, "refit_first_predict_s": t3 - t2,
                  "predict_1000_s": t5 - t4, "kind": kind,
                  "sklearn_imported": "sklearn" in sys.modules}))
"""


def speed(profile_dir: Path) -> dict:
    """Fresh-process timings: import, load, refit, 1,000 predictions; and the CLI."""
    out = subprocess.run([sys.executable, "-c", SPEED_CODE, str(profile_dir)], check=True,
                         capture_output=True, text=True).stdout
    result = json.loads(out)
    space = get_space("ofa-mbv3", resolutions=tuple(json.loads(
        (profile_dir / "profile.json").read_text())["space_options"]["resolutions"]))
    archs = profile_dir.parent / "speed-archs.txt"
    archs.write_text("\n".join(space.format(a) for a in sample_archs(space, 1000, seed=7)) + "\n")
    latkit = Path(sys.executable).with_name("latkit")
    started = time.perf_counter()
    subprocess.run([str(latkit), "predict", "--profile", str(profile_dir), "--arch-file", str(archs)],
                   check=True, capture_output=True)
    result["cli_predict_1000_s"] = time.perf_counter() - started
    return result


# -- evaluation ---------------------------------------------------------------------
def row(name: str, m: dict[str, float]) -> str:
    return (f"| {name} | {100 * m['within_5pct']:.1f}% | {100 * m['within_10pct']:.1f}% | "
            f"{m['rmse_ms']:.3f} | {m['kendall_tau']:.3f} |")


HEADER = "| method | within ±5% | within ±10% | RMSE ms | Kendall τ |\n|---|---|---|---|---|"


def cross_validate(profile, entries, folds: int = 5, repeats: int = 3) -> list[tuple[str, str, dict]]:
    """K-fold CV on the calibration networks for every (model, features) pair."""
    from sklearn.model_selection import RepeatedKFold, cross_val_predict

    archs = [profile.parse_arch(e["arch"]) for e in entries]
    y = np.array([e["stats"]["median_ms"] for e in entries])
    out = []
    for fname, feats in FEATURE_SETS.items():
        recipe = feats if isinstance(feats, Recipe) else Recipe(feats)
        X = profile.features.transform(archs, recipe.features)
        for mname, params in MODELS.items():
            scores = []
            for rep in range(repeats):
                cv = RepeatedKFold(n_splits=folds, n_repeats=1, random_state=rep)
                model = LatencyPredictor(features=recipe.features, penalised=recipe.penalised,
                                         **params)
                pred = cross_val_predict(model, X, y, cv=cv)
                scores.append(metrics(y, pred))
            out.append((mname, fname, {k: float(np.mean([s[k] for s in scores])) for k in scores[0]}))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu", help="cpu (ONNX Runtime), gpu, torch-cuda, ...")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--precision", default="fp32", help="GPU devices: fp32 or fp16")
    parser.add_argument("--resolution", type=int, action="append")
    parser.add_argument("--heldout", type=int, default=30, help="held-out networks per resolution")
    parser.add_argument("--heldout-seed", type=int, default=HELDOUT_SEED,
                        help="seed of the held-out sample (another seed: other networks)")
    parser.add_argument("--calibration", type=int, default=80, help="calibration networks measured")
    parser.add_argument("--curve", default="10,20,40,80", help="learning-curve sizes")
    parser.add_argument("--use", type=int, default=None,
                        help="calibration networks for the main table (default: latkit's default)")
    parser.add_argument("--passes", type=int, default=3, help="separate processes for ground truth")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds per process")
    parser.add_argument("--skip-noise-floor", action="store_true",
                        help="measure ground truth in one process only (sets --passes 1)")
    parser.add_argument("--cv", action="store_true", help="cross-validate models and feature sets")
    parser.add_argument("--luts", type=int, default=1,
                        help="measure the LUT this many times in all and rank the held-out networks "
                        "with each (needs --passes 2 or more)")
    parser.add_argument("--cache", type=Path, default=None, help="where profiles and truth are cached")
    args = parser.parse_args()
    args.resolution = sorted(set(args.resolution or [224]))
    if args.skip_noise_floor:
        args.passes = 1
    from latency_kit.measure.calibration import DEFAULT_CALIBRATION

    use = args.use or DEFAULT_CALIBRATION
    setting = f"{args.device}-{args.threads}t-b{args.batch}-{args.precision}"
    tag = f"{setting}-r{'-'.join(map(str, args.resolution))}"
    cache = args.cache or cache_dir() / "bench-predictor"
    cache.mkdir(parents=True, exist_ok=True)

    started = time.perf_counter()
    profile = build_profile(args.device, resolutions=args.resolution, out=cache / f"profile-{tag}",
                            threads=args.threads, batch=args.batch, precision=args.precision,
                            calibrate=args.calibration)
    log(f"profile ready in {time.perf_counter() - started:.0f} s this run "
        f"(stored build time {profile.meta.get('build_seconds')} s, LUT + {args.calibration} networks)")
    entries = profile.calibration()[:args.calibration]
    use = min(use, len(entries))  # the label must say how many networks were used
    space = profile.space
    heldout = sample_archs(space, args.heldout * len(args.resolution), args.heldout_seed,
                           exclude=[e["arch"] for e in entries])
    texts = [space.format(a) for a in heldout]
    seed = "" if args.heldout_seed == HELDOUT_SEED else f"-s{args.heldout_seed}"
    raw = ground_truth(texts, args, cache / f"truth-{tag}{seed}.jsonl")
    per_pass = level_normalised(raw)  # every process at the processes' common level
    truth = np.median(per_pass, axis=0)
    process_levels = levels(raw)
    process_levels /= levels(process_levels[None])[0]  # relative to their geometric mean

    fp = profile.meta.get("fingerprint", {})
    where = (f"{fp.get('gpu_name')}, batch {args.batch}, {args.precision}" if fp.get("gpu_name")
             else f"{args.threads} thread(s), {fp.get('cpu_model', '?')}")
    recipe = profile.features.recipe
    penalised = f" (penalised: {', '.join(recipe.penalised)})" if recipe.penalised else ""
    print(f"# Predictor accuracy: ofa-mbv3, {fp.get('runtime')} {fp.get('runtime_version')}, {where}\n")
    print(f"Held-out: {args.heldout} networks per resolution (seed {args.heldout_seed}, none in the "
          f"calibration set); truth = median over {args.passes} process(es) of the median of "
          f"{args.rounds} interleaved rounds, each process brought to the processes' common "
          f"level (their levels: {process_levels.min():.3f}-{process_levels.max():.3f} of the mean). "
          f"Profile build {profile.meta.get('build_seconds')} s "
          f"(LUT + {len(entries)} calibration networks). Predictor features: "
          f"{', '.join(recipe.features)}{penalised}. {TARGETS}.\n")
    res_of = np.array([a.resolution for a in heldout])
    for res in args.resolution:
        mask = res_of == res
        archs = [a for a, m in zip(heldout, mask) if m]
        print(f"## {res} px, {use} calibration networks\n\n{HEADER}")
        pred = fit_predictor(profile.features, entries[:use]).predict_archs(profile.features, archs)
        print(row(f"predictor ({use} nets)", metrics(truth[mask], pred)))
        if len(raw) > 1:  # the same against the median of the processes as they measured
            print(row("predictor, vs the plain median of processes",
                      metrics(np.median(raw, axis=0)[mask], pred)))
            # how far the machine's level moved from the profile's, process by process
            drift = levels(raw[:, mask] / pred)
        if profile.features.recipe != DEFAULT_RECIPE:  # what this runtime's recipe replaced
            old = fit_predictor(profile.features, entries[:use], features=DEFAULT_FEATURES,
                                penalised=())
            print(row("predictor, DEFAULT_FEATURES", metrics(
                truth[mask], old.predict_archs(profile.features, archs))))
        for name, values in baselines(profile, entries[:use], archs).items():
            print(row(name, metrics(truth[mask], values)))
        # What the predictor's features allow at best: the same linear model
        # fitted on the held-out truth itself (in-sample, so not a predictor).
        print(row("linear oracle (fit on this truth)",
                  metrics(truth[mask], linear_oracle(profile.features, archs, truth[mask]))))
        if len(raw) > 1:
            print(f"\nLevel: the processes measured {drift.min():.3f}-{drift.max():.3f} of the "
                  f"predictor's level (geometric mean of measured / predicted; in journal order: "
                  f"{' '.join(f'{d:.3f}' for d in drift)}). Within ±5% counts this level; "
                  f"Kendall τ does not.")
        print(f"\nLearning curve ({res} px):\n\n{HEADER}")
        for n in [int(x) for x in args.curve.split(",") if int(x) <= len(entries)]:
            p = fit_predictor(profile.features, entries[:n]).predict_archs(profile.features, archs)
            print(row(f"predictor, {n} calibration nets", metrics(truth[mask], p)))
        print()
    floor = noise_floor(per_pass)
    if floor:
        print(f"## Noise floor ({floor['processes']} processes, same networks)\n")
        print("One process's median against the median of the others:")
        print(f"within ±5% {100 * floor['within_5pct']:.1f}%, within ±10% "
              f"{100 * floor['within_10pct']:.1f}%, median |dev| {100 * floor['median_dev']:.1f}%, "
              f"max |dev| {100 * floor['max_dev']:.1f}%, Kendall τ {floor['kendall_tau']:.3f}; "
              f"spread max/min-1 per network: median "
              f"{100 * floor['median_spread']:.1f}%, max {100 * floor['max_spread']:.1f}%\n")
        if "split_half" in floor:
            half = floor["split_half"]
            h, tau = half["processes_each"], half["kendall_tau"]
            print(f"Two independent truths, each the median of {h} processes, against each "
                  f"other (mean over {half['splits']} ways to split the processes): within ±5% "
                  f"{100 * half['within_5pct']:.1f}%, within ±10% {100 * half['within_10pct']:.1f}%, "
                  f"Kendall τ {tau:.3f} (splits range {half['kendall_tau_min']:.3f}-"
                  f"{half['kendall_tau_max']:.3f}). A noise-free "
                  f"predictor would do better, since only one side of each comparison is noisy.\n")
        noise = process_noise(per_pass)
        if noise:
            half_truth = ""
            if "split_half" in floor:
                h = floor["split_half"]["processes_each"]
                sd = median_noise(noise["process_noise_pct"] / 100, h)
                half_truth = (f" (against a {h}-process truth "
                              f"≈ {tau_ceiling(np.median(per_pass, axis=0), sd):.3f})")
            print(f"The truth's noise from the processes' spread, assuming normal noise "
                  f"(`latency_kit.measure.validation.truth_noise`, as `latkit validate` prints it): one "
                  f"process ±{noise['process_noise_pct']:.2f}% per network, the median of "
                  f"{noise['processes']} ±{noise['noise_pct']:.2f}%; a noise-free predictor would "
                  f"reach Kendall τ ≈ {noise['kendall_tau_ceiling']:.3f} against this truth"
                  f"{half_truth}\n")
    if args.luts > 1 and len(per_pass) >= 2:
        lut_repeats(profile, entries, heldout, truth, per_pass, args.luts, args, cache, tag, use)
    sp = speed(Path(profile.path))
    print("## Speed (fresh process)\n")
    print(f"import latency_kit {sp['import_s']:.2f} s; load_profile {sp['load_s']:.3f} s; refit + first "
          f"predict {sp['refit_first_predict_s']:.3f} s ({sp['kind']}, scikit-learn imported: "
          f"{sp['sklearn_imported']}); predict 1,000 architecture strings {sp['predict_1000_s']:.3f} s; "
          f"`latkit predict --arch-file` with 1,000 lines, whole command {sp['cli_predict_1000_s']:.2f} s\n")
    if args.cv:
        print(f"## Cross-validation on the {len(entries)} calibration networks "
              "(5-fold, 3 repeats, mean)\n")
        print("| model | features | within ±5% | within ±10% | RMSE ms | Kendall τ |\n|---|---|---|---|---|---|")
        for mname, fname, m in cross_validate(profile, entries):
            print(row(f"{mname} | {fname}", m))
        print()
    print(f"Measured in {time.perf_counter() - started:.0f} s.")


if __name__ == "__main__":
    main()
