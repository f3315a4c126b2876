"""Validate a profile's predictor against fresh whole-network measurements.

``validate_profile`` samples architectures that are not calibration networks,
measures them end to end (interleaved rounds; each value is the median of its
per-round medians) and scores three predictions side by side: the profile's
calibrated predictor, the raw LUT sum, and a linear fit on MACs calibrated on
the same calibration networks. Where the truth is the median over fresh
processes, it also says how noisy that truth is and the Kendall tau a
noise-free predictor could reach against it (:func:`truth_noise`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from latency_kit.backends.base import Backend
from latency_kit.measure.anchor import reanchor_command
from latency_kit.measure.calibration import ROUNDS, SETTINGS, Reopen, measure_networks, sample_archs
from latency_kit.measure.engine import MeasureSettings
from latency_kit.errors import LatkitError
from latency_kit.predict.margin import margin_of
from latency_kit.stats import LatencyStats

METHODS = ("predictor", "lut_sum", "macs_linear")
# Validation networks use another seed stream than calibration (seed 0).
VALIDATION_SEED = 1
# A predictor level outside this range (measured / predicted, geometric mean)
# means the profile's ms are not this machine's now: a 2-core machine's hourly
# drift stays within it (6%), another machine of the same kind does not (5x).
LEVEL_RANGE = (0.8, 1.25)


def metrics(measured: Sequence[float], predicted: Sequence[float]) -> dict[str, float]:
    """Share within ±5% and ±10% of measured, RMSE (ms) and Kendall tau."""
    from scipy.stats import kendalltau

    y = np.asarray(measured, dtype=float)
    p = np.asarray(predicted, dtype=float)
    rel = np.abs(p - y) / y
    tau = float(kendalltau(y, p).statistic) if len(y) > 1 else float("nan")
    return {
        "within_5pct": float(np.mean(rel <= 0.05)),
        "within_10pct": float(np.mean(rel <= 0.10)),
        "rmse_ms": float(np.sqrt(np.mean((p - y) ** 2))),
        "kendall_tau": tau,
    }


def median_noise(process_sd: float, processes: int, draws: int = 20000) -> float:
    """Relative noise of a median over ``processes`` values that each carry ``process_sd``.

    Normal noise, simulated with a fixed seed: the median of 3 keeps 0.67 of
    one value's noise, of 6 about 0.47, of 12 about 0.35.
    """
    z = np.random.default_rng(0).standard_normal((draws, max(1, processes)))
    return process_sd * float(np.median(z, axis=1).std())


def tau_ceiling(measured: Sequence[float], noise: float, draws: int = 200) -> float:
    """Expected Kendall tau of a noise-free predictor against ``measured``.

    ``noise`` is the truth's relative noise per network (standard deviation
    of its log). However good a predictor is, its ranking can agree with a
    noisy truth only as far as the truth agrees with itself; this says how
    far, by drawing that noise onto the measured values (fixed seed).
    """
    from scipy.stats import kendalltau

    y = np.asarray(measured, dtype=float)
    if y.size < 2:
        return float("nan")
    rng = np.random.default_rng(0)
    return float(np.mean([kendalltau(y, y * np.exp(rng.normal(0.0, noise, y.size))).statistic
                          for _ in range(draws)]))


def truth_noise(stats: Sequence[LatencyStats]) -> dict[str, float] | None:
    """The noise of a truth measured over fresh processes, and the tau it allows.

    Each network's statistics describe its per-process medians, already at
    the processes' common level (:func:`latency_kit.measure.processes.combine`), so
    their spread (``cv``) is noise in the ranking. One process's noise is
    pooled over the networks by the median of their variances (scaled by
    the median of a chi-square, so normal noise comes out unbiased): a slow
    stretch that hits a few networks in one process moves their median far
    less than their variance, and the pooled mean would call the whole
    truth noisy. None when fewer than 2 processes or networks.
    """
    from scipy.stats import chi2

    counts = {s.count for s in stats}
    if len(stats) < 2 or len(counts) != 1 or min(counts) < 2:
        return None
    processes = counts.pop()
    variance = float(np.median([(s.cv or 0.0) ** 2 for s in stats]))
    process_sd = float(np.sqrt(variance * (processes - 1) / chi2.median(processes - 1)))
    noise = median_noise(process_sd, processes)
    return {"processes": processes, "process_noise_pct": 100 * process_sd,
            "noise_pct": 100 * noise,
            "kendall_tau_ceiling": tau_ceiling([s.median_ms for s in stats], noise)}


@dataclass
class MacsLinear:
    """Baseline: latency = a * MACs + b, least squares on calibration networks."""

    coef_: tuple[float, float] = (0.0, 0.0)

    def fit(self, macs: Sequence[float], y: Sequence[float]) -> "MacsLinear":
        a, b = np.polyfit(np.asarray(macs, float), np.asarray(y, float), 1)
        self.coef_ = (float(a), float(b))
        return self

    def predict(self, macs: Sequence[float]) -> np.ndarray:
        return self.coef_[0] * np.asarray(macs, float) + self.coef_[1]


def baselines(profile, entries: Sequence[dict[str, Any]], archs: Sequence[Any]) -> dict[str, np.ndarray]:
    """Predictions of ``archs`` by the raw LUT sum and by a MACs fit on ``entries``."""
    table = profile.features
    out = {"lut_sum": table.lut_sum(archs)}
    if len(entries) >= 2:
        cal = [profile.parse_arch(e["arch"]) for e in entries]
        y = [float(e["stats"]["median_ms"]) for e in entries]
        fit = MacsLinear().fit(table.transform(cal, ("macs",))[:, 0], y)
        out["macs_linear"] = fit.predict(table.transform(archs, ("macs",))[:, 0])
    return out


@dataclass
class ValidationReport:
    """Measured and predicted ms per architecture, and the scores per method."""

    profile: str
    archs: list[str]
    measured_ms: list[float]
    predicted_ms: dict[str, list[float]]
    scores: dict[str, dict[str, float]] = field(default_factory=dict)
    # the truth's own noise (:func:`truth_noise`), where it was measured over processes
    truth: dict[str, float] | None = None
    # the command that re-anchors the profile (:func:`latency_kit.measure.anchor.reanchor_command`)
    reanchor: str = ""
    # the budget margin checked on these networks (:func:`margin_check`), where the profile has one
    margin: dict[str, Any] | None = None

    @property
    def predictor_level(self) -> float:
        """Geometric mean of measured / predicted: how far the device's level moved.

        On a shared machine the whole level drifts (the 2-core CPU here ran
        6% slower one hour than the hour before); within ±5% counts that
        drift, Kendall tau does not. Far from 1, the profile holds the level
        of the hour it was measured in; a fresh profile takes today's.
        """
        ratio = np.asarray(self.measured_ms) / np.asarray(self.predicted_ms["predictor"])
        return float(np.exp(np.log(ratio).mean()))

    def level_warning(self) -> str | None:
        """One line when :attr:`predictor_level` is outside :data:`LEVEL_RANGE`, else ``None``."""
        level = self.predictor_level
        low, high = LEVEL_RANGE
        if low <= level <= high:
            return None
        return (f"warning: the networks ran at {level:.3f} of the predictor's level (outside "
                f"{low}-{high}): profile {self.profile!r} holds another machine's or another "
                f"hour's ms; re-measure its calibration networks here with `{self.reanchor}`")

    def to_dict(self) -> dict[str, Any]:
        return {"profile": self.profile, "n": len(self.archs), **self.scores, "truth": self.truth,
                "margin": self.margin,
                "predictor_level": self.predictor_level, "level_warning": self.level_warning(),
                "networks": [{"arch": a, "measured_ms": m,
                              **{f"{k}_ms": v[i] for k, v in self.predicted_ms.items()}}
                             for i, (a, m) in enumerate(zip(self.archs, self.measured_ms))]}


def validate_profile(profile, backend: Backend, n: int = 30, seed: int = VALIDATION_SEED,
                     rounds: int = ROUNDS, settings: MeasureSettings = SETTINGS,
                     progress: Callable[[int, int, str], None] | None = None,
                     reopen: Reopen | None = None) -> ValidationReport:
    """Measure ``n`` fresh random networks on ``backend`` and score the predictions.

    With ``reopen`` each network's truth is the median over fresh processes,
    as for calibration (:func:`latency_kit.measure.calibration.measure_networks`).
    """
    entries = profile.calibration()
    if profile.predictor_kind == "lut-sum":
        raise LatkitError(f"profile {profile.name!r} has no calibration networks; "
                          "re-run `latkit profile` with --calibrate N (N > 0)")
    archs = sample_archs(profile.space, n, seed, exclude=[e["arch"] for e in entries])
    predicted = {"predictor": profile.predict_many(archs), **baselines(profile, entries, archs)}
    batch = int(profile.meta.get("fingerprint", {}).get("batch", 1))
    stats, _ = measure_networks(backend, profile.space, archs, batch, rounds, settings, reopen,
                                profile.meta.get("space_options", {}), progress=progress)
    measured = [s.median_ms for s in stats]
    report = ValidationReport(profile.name, [profile.space.format(a) for a in archs], measured,
                              {k: [float(x) for x in v] for k, v in predicted.items()})
    report.scores = {k: metrics(measured, predicted[k]) for k in METHODS if k in predicted}
    report.truth = truth_noise(stats) if reopen else None
    report.reanchor = reanchor_command(profile)
    report.margin = margin_check(profile, measured, predicted["predictor"])
    return report


def margin_check(profile, measured_ms: Sequence[float],
                 predicted_ms: Sequence[float]) -> dict[str, Any] | None:
    """How the profile's budget margin (:func:`latency_kit.predict.margin.margin_of`
    at its default level, the one ``latkit nas`` keeps) fares on networks it
    never saw: ``factor``, ``level``, the ``held_out_coverage`` it claims (its
    calibration networks, each left out), and ``covered`` of ``n`` fresh
    networks measured at most predicted x factor. ``None`` without a margin."""
    margin = margin_of(profile.held_out_errors)
    if margin is None:
        return None
    within = np.asarray(measured_ms) <= np.asarray(predicted_ms) * margin.factor
    return {"factor": margin.factor, "level": margin.margin.level,
            "held_out_coverage": margin.coverage, "covered": int(within.sum()), "n": len(within)}
