"""Engine statistics: summaries, flagging, warm-up and re-measurement.

The engine's logic is tested with a scripted backend whose ``run_batch``
returns given numbers, so each rule is checked exactly; the real timing path
is covered by the backend suite on ONNX Runtime.
"""

from __future__ import annotations

import math
from typing import Any, Iterable

import numpy as np
import pytest

from latency_kit.backends.base import Backend, ModelSpec, Prepared
from latency_kit.measure.engine import (MeasureSettings, measure, measure_interleaved, measure_prepared,
                                time_batches, warm_up)
from latency_kit.stats import LatencyStats

SPEC = ModelSpec("test", "block", "scripted", (1, 3, 8, 8))


class ScriptedBackend(Backend):
    """Returns scripted per-inference times; records every call."""

    name = "scripted"
    runtime = "script"

    def __init__(self, times: Iterable[float], default: float | None = None):
        self.times = list(times)
        self.default = default
        self.calls: list[int] = []
        self.prepared = self.released = 0

    def fingerprint(self) -> dict[str, Any]:
        return {"device": "scripted", "runtime": self.runtime, "runtime_version": "0"}

    def prepare(self, spec: ModelSpec) -> Prepared:
        self.prepared += 1
        return Prepared(spec, state="ready")

    def run_batch(self, prepared: Prepared, iterations: int) -> float:
        assert prepared.state == "ready"
        self.calls.append(iterations)
        if self.times:
            return self.times.pop(0)
        assert self.default is not None, "script ran out"
        return self.default

    def release(self, prepared: Prepared) -> None:
        self.released += 1
        super().release(prepared)


def noisy(n: int, center: float, rel_spread: float) -> list[float]:
    """``n`` values alternating around ``center`` with a given relative spread."""
    return [center * (1 + rel_spread * (1 if i % 2 else -1)) for i in range(n)]


# -- LatencyStats ---------------------------------------------------------------

def test_from_samples_summary() -> None:
    samples = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 100.0]
    stats = LatencyStats.from_samples(samples, iterations=4)
    assert stats.median_ms == 6.0
    assert stats.count == 11 and stats.iterations == 4
    assert stats.p10_ms == pytest.approx(np.percentile(samples, 10))
    assert stats.p90_ms == pytest.approx(np.percentile(samples, 90))
    assert stats.iqr_ms == pytest.approx(np.percentile(samples, 75) - np.percentile(samples, 25))
    assert stats.mean_ms == pytest.approx(np.mean(samples))
    assert stats.cv == pytest.approx(np.std(samples, ddof=1) / np.mean(samples))
    assert stats.rel_iqr == pytest.approx(stats.iqr_ms / 6.0)
    assert not stats.flagged


def test_median_ignores_one_outlier() -> None:
    stats = LatencyStats.from_samples([1.0] * 9 + [50.0])
    assert stats.median_ms == 1.0 and stats.iqr_ms == 0.0
    assert stats.cv > 1.0  # the CV does see the outlier


def test_single_sample() -> None:
    stats = LatencyStats.from_samples([2.5])
    assert stats.median_ms == 2.5 and stats.cv == 0.0 and stats.count == 1


@pytest.mark.parametrize("bad", [[], [1.0, -0.1], [1.0, math.nan], [math.inf]])
def test_from_samples_rejects_invalid(bad: list[float]) -> None:
    with pytest.raises(ValueError):
        LatencyStats.from_samples(bad)


def test_flag_and_dict_round_trip() -> None:
    stats = LatencyStats.from_samples([1.0, 1.1, 1.3], iterations=7).flag()
    assert stats.flagged
    assert LatencyStats.from_dict(stats.to_dict()) == stats


def test_from_dict_minimal_entry_keeps_spread_unknown() -> None:
    stats = LatencyStats.from_dict({"median_ms": 0.4, "count": 20})
    assert stats.median_ms == 0.4 and stats.count == 20
    assert stats.p10_ms is None and stats.cv is None and stats.rel_iqr == 0.0


@pytest.mark.parametrize("bad", [
    {"count": 3},
    {"median_ms": 1.0},
    {"median_ms": "1.0", "count": 3},
    {"median_ms": -1.0, "count": 3},
    {"median_ms": 1.0, "count": 0},
    {"median_ms": math.nan, "count": 3},
    {"median_ms": 1.0, "count": 3, "cv": "high"},
    [1.0, 3],
])
def test_from_dict_rejects_malformed(bad: Any) -> None:
    with pytest.raises((KeyError, TypeError, ValueError)):
        LatencyStats.from_dict(bad)


# -- warm-up ----------------------------------------------------------------------

def test_warm_up_picks_iterations_for_batch_duration() -> None:
    backend = ScriptedBackend([], default=0.25)
    settings = MeasureSettings(warmup_ms=0, min_warmup_runs=3, batch_ms=2.0)
    assert warm_up(backend, Prepared(SPEC, "ready"), settings) == 8  # 2.0 ms / 0.25 ms
    assert backend.calls == [1, 1, 1]


def test_warm_up_uses_the_faster_of_last_and_mean() -> None:
    # The first run is slow (cold); the last run sets the pace.
    backend = ScriptedBackend([10.0, 0.5], default=0.5)
    settings = MeasureSettings(warmup_ms=0, min_warmup_runs=2, batch_ms=5.0)
    assert warm_up(backend, Prepared(SPEC, "ready"), settings) == 10


@pytest.mark.parametrize("per_run, expected", [(50.0, 1), (1e-5, 200)])
def test_warm_up_iterations_are_clamped(per_run: float, expected: int) -> None:
    backend = ScriptedBackend([], default=per_run)
    settings = MeasureSettings(warmup_ms=0, min_warmup_runs=2, batch_ms=2.0, max_iterations=200)
    assert warm_up(backend, Prepared(SPEC, "ready"), settings) == expected


def test_warm_up_runs_for_its_time_budget() -> None:
    backend = ScriptedBackend([], default=0.1)
    warm_up(backend, Prepared(SPEC, "ready"), MeasureSettings(warmup_ms=20, min_warmup_runs=1))
    assert len(backend.calls) > 1  # the scripted calls are instant, so the clock decides


def test_time_batches_passes_iterations() -> None:
    backend = ScriptedBackend([1.0, 2.0, 3.0])
    assert time_batches(backend, Prepared(SPEC, "ready"), 6, 3) == [1.0, 2.0, 3.0]
    assert backend.calls == [6, 6, 6]


# -- re-measure and flag ------------------------------------------------------------

WARM = MeasureSettings(warmup_ms=0, min_warmup_runs=2, repeats=8, batch_ms=2.0,
                       max_rel_iqr=0.10, retries=2)


def test_quiet_measurement_is_accepted_at_once() -> None:
    backend = ScriptedBackend([1.0, 1.0] + noisy(8, 1.0, 0.01))
    stats = measure_prepared(backend, Prepared(SPEC, "ready"), WARM)
    assert not stats.flagged and stats.count == 8 and stats.iterations == 2
    assert backend.calls == [1, 1] + [2] * 8  # no re-measurement


def test_noisy_then_quiet_is_remeasured_not_flagged() -> None:
    backend = ScriptedBackend([1.0, 1.0] + noisy(8, 1.0, 0.5) + noisy(8, 2.0, 0.01))
    stats = measure_prepared(backend, Prepared(SPEC, "ready"), WARM)
    assert not stats.flagged
    assert stats.median_ms == pytest.approx(2.0)  # the quiet round's numbers are kept
    assert len(backend.calls) == 2 + 16


def test_always_noisy_is_flagged_keeping_the_least_noisy_round() -> None:
    rounds = noisy(8, 1.0, 0.6) + noisy(8, 3.0, 0.3) + noisy(8, 2.0, 0.9)
    backend = ScriptedBackend([1.0, 1.0] + rounds)
    stats = measure_prepared(backend, Prepared(SPEC, "ready"), WARM)
    assert stats.flagged
    assert stats.median_ms == pytest.approx(3.0)
    assert stats.rel_iqr > WARM.max_rel_iqr
    assert len(backend.calls) == 2 + 8 * (WARM.retries + 1)


def test_measure_prepares_and_releases_once() -> None:
    backend = ScriptedBackend([], default=0.5)
    measure(backend, SPEC, WARM)
    assert backend.prepared == 1 and backend.released == 1


def test_measure_releases_on_error() -> None:
    class Failing(ScriptedBackend):
        def run_batch(self, prepared: Prepared, iterations: int) -> float:
            raise RuntimeError("device went away")

    backend = Failing([])
    with pytest.raises(RuntimeError):
        measure(backend, SPEC, WARM)
    assert backend.released == 1


def test_interleaved_median_of_round_medians() -> None:
    settings = MeasureSettings(warmup_ms=0, min_warmup_runs=1, repeats=3, batch_ms=1.0)
    # Per round and model: 1 warm-up run, then 3 timed batches.
    # Model A's rounds have medians 1, 5, 2 -> 2; model B's 10, 10, 30 -> 10.
    script = []
    for a, b in [(1.0, 10.0), (5.0, 10.0), (2.0, 30.0)]:
        script += [a, a, a, a, b, b, b, b]
    backend = ScriptedBackend(script)
    seen: list[int] = []
    out = measure_interleaved(backend, [SPEC, SPEC], rounds=3, settings=settings,
                              on_round=seen.append)
    assert [s.median_ms for s in out] == [2.0, 10.0]
    assert [s.count for s in out] == [9, 9]
    assert seen == [0, 1, 2]
    assert backend.prepared == 2 and backend.released == 2
