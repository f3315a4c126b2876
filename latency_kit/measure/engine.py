"""The measurement engine: warm up, time repeated batches, summarise robustly.

Each timed batch runs ``iterations`` inferences back to back (chosen so a batch
lasts about ``batch_ms``); the per-inference mean of each batch is one sample.
The stored value is the median of the samples, with percentiles, IQR, CV and
count beside it. An entry whose relative IQR stays above ``max_rel_iqr`` after
``retries`` re-measurements is kept but flagged.
"""

from __future__ import annotations

import math
import time
from dataclasses import replace
from typing import Callable, Sequence

import numpy as np

from latency_kit.backends.base import Backend, MeasureSettings, ModelSpec, Prepared
from latency_kit.stats import LatencyStats


def warm_up(backend: Backend, prepared: Prepared, settings: MeasureSettings) -> int:
    """Run until ``warmup_ms`` has passed; return iterations per timed batch."""
    runs, spent, last = 0, 0.0, math.inf
    deadline = time.perf_counter() + settings.warmup_ms / 1e3
    while runs < settings.min_warmup_runs or time.perf_counter() < deadline:
        last = backend.run_batch(prepared, 1)
        spent += last
        runs += 1
    per_run = max(min(last, spent / runs), 1e-6)
    return int(min(settings.max_iterations, max(1, round(settings.batch_ms / per_run))))


def time_batches(backend: Backend, prepared: Prepared, iterations: int, repeats: int) -> list[float]:
    """``repeats`` samples of mean milliseconds per inference."""
    return [backend.run_batch(prepared, iterations) for _ in range(repeats)]


def measure_prepared(backend: Backend, prepared: Prepared,
                     settings: MeasureSettings = MeasureSettings()) -> LatencyStats:
    """Measure an already prepared model, re-measuring while the spread is high.

    The statistics record what the backend says actually ran
    (``prepared.info["entry"]``, see :attr:`LatencyStats.run`).
    """
    iterations = warm_up(backend, prepared, settings)
    best: LatencyStats | None = None
    for _ in range(settings.retries + 1):
        stats = LatencyStats.from_samples(
            time_batches(backend, prepared, iterations, settings.repeats), iterations)
        if best is None or stats.rel_iqr < best.rel_iqr:
            best = stats
        if best.rel_iqr <= settings.max_rel_iqr:
            return best.with_run(prepared.info.get("entry"))
    assert best is not None
    return best.flag().with_run(prepared.info.get("entry"))


def measure(backend: Backend, spec: ModelSpec,
            settings: MeasureSettings = MeasureSettings()) -> LatencyStats:
    """Prepare, measure and release one model."""
    prepared = backend.prepare(spec)
    try:
        return measure_prepared(backend, prepared, settings)
    finally:
        backend.release(prepared)


def measure_interleaved(backend: Backend, specs: Sequence[ModelSpec], rounds: int = 3,
                        settings: MeasureSettings = MeasureSettings(),
                        on_round: Callable[[int], None] | None = None,
                        pause_s: float = 0.0,
                        on_model: Callable[[int, int], None] | None = None) -> list[LatencyStats]:
    """Ground-truth measurement of several models, interleaved in time.

    Every model is prepared once; then ``rounds`` times, each model in turn is
    warmed up and timed. A model's value is the median of its per-round
    medians, so a slow stretch of the machine hits one round of many models
    instead of every sample of one. Use this for validation, not for LUTs.
    ``on_round(r)`` is called after each round, ``on_model(r, i)`` after
    model ``i`` was timed in round ``r`` (for progress displays).
    """
    prepared = [backend.prepare(spec) for spec in specs]
    try:
        per_round: list[list[float]] = [[] for _ in specs]
        samples: list[list[float]] = [[] for _ in specs]
        iters = [1] * len(specs)
        for r in range(rounds):
            for i, prep in enumerate(prepared):
                iters[i] = warm_up(backend, prep, settings)
                batch = time_batches(backend, prep, iters[i], settings.repeats)
                samples[i].extend(batch)
                per_round[i].append(float(np.median(batch)))
                if on_model:
                    on_model(r, i)
            if on_round:
                on_round(r)
            if pause_s and r + 1 < rounds:
                time.sleep(pause_s)
        out = []
        for i in range(len(specs)):
            stats = LatencyStats.from_samples(samples[i], iters[i])
            out.append(replace(stats, median_ms=float(np.median(per_round[i])))
                       .with_run(prepared[i].info.get("entry")))
        return out
    finally:
        for prep in prepared:
            backend.release(prep)
