"""Whole-network calibration measurements, stored with a profile.

The predictor learns the gap between the LUT sum and the real network from a
few seeded random architectures measured end to end. Only the measurements
are stored (never a fitted model), so the predictor is refit identically by
any scikit-learn version. The file, ``calibration.json``, is read and written
by :mod:`latency_kit.profiles.calibration_file`; this module measures.

Where the backend can be reopened in a fresh process (ONNX Runtime, LiteRT,
the GPU backends), each architecture's value is the median over
``processes`` fresh processes of that process's median (see
:mod:`latency_kit.measure.processes`: a process's level is not the next one's, and
the predictor should not learn the profiling process's). Elsewhere (phones,
boards, stand-ins) it is the median of ``rounds`` per-round medians in this
process, measured interleaved with the other networks of its chunk (see
:func:`latency_kit.measure.engine.measure_interleaved`). Finished chunks or processes
go to ``calibration.jsonl`` first, so an interrupted run resumes where it
stopped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from latency_kit import journal
from latency_kit.backends.base import Backend, ModelSpec
from latency_kit.measure.engine import MeasureSettings, measure_interleaved
from latency_kit.profiles.calibration_file import FILE, read_calibration, write_calibration
from latency_kit.spaces import SearchSpace
from latency_kit.stats import LatencyStats

JOURNAL = "calibration.jsonl"
# Whole networks last 3-30 ms here: one timed run per sample, a longer warm-up.
SETTINGS = MeasureSettings(warmup_ms=100.0, repeats=10, batch_ms=1.0)
ROUNDS = 3
CHUNK = 10
# Fresh processes per calibration network where the backend allows it, one
# round each: the same measuring time as ROUNDS rounds in one process.
PROCESSES = 3
PROCESS_ROUNDS = 1
# Calibration networks `latkit profile` measures by default (see the learning
# curve in benchmarks/results_predictor.md).
DEFAULT_CALIBRATION = 30


def sample_archs(space: SearchSpace, n: int, seed: int = 0,
                 exclude: Sequence[str] = ()) -> list[Any]:
    """``n`` distinct seeded random architectures, cycling through the resolutions.

    Prefix-stable: the first ``k`` of ``sample_archs(s, n, seed)`` are
    ``sample_archs(s, k, seed)``, so a profile can add calibration networks
    later. Architectures whose string is in ``exclude`` are skipped, and so are
    degenerate ones (:meth:`SearchSpace.is_degenerate`): a network that
    ignores its input is no anchor for the predictor.
    """
    rng = np.random.default_rng(seed)
    names = [d.name for d in space.decisions()]
    res_pos = names.index("resolution") if "resolution" in names else None
    res_count = len(space.decisions()[res_pos].choices) if res_pos is not None else 1
    seen = set(exclude)
    out: list[Any] = []
    attempts = 0
    while len(out) < n:
        attempts += 1
        if attempts > 100 * n + 100:
            raise ValueError(f"space {space.name} has fewer than {n} distinct architectures to sample")
        arch = space.sample(rng)
        if res_pos is not None:
            index = space.encode(arch)
            index[res_pos] = len(out) % res_count
            arch = space.decode(index)
        text = space.format(arch)
        if text not in seen and not space.is_degenerate(arch):
            seen.add(text)
            out.append(arch)
    return out


def measure_archs(backend: Backend, space: SearchSpace, archs: Sequence[Any], batch: int = 1,
                  rounds: int = ROUNDS, settings: MeasureSettings = SETTINGS, chunk: int = CHUNK,
                  journal_path: Path | None = None, known: dict[str, LatencyStats] | None = None,
                  progress: Callable[[int, int, str], None] | None = None) -> list[LatencyStats]:
    """Measure whole networks end to end, ``chunk`` at a time, interleaved.

    With ``journal_path``, finished chunks are journaled and networks already
    in the journal are not measured again; nor are those in ``known``.
    """
    texts = [space.format(a) for a in archs]
    done = dict(known or {})
    if journal_path:
        done.update((k, LatencyStats.from_dict(r["stats"]))
                    for k, r in journal.read_journal(journal_path, "arch").items())
    todo = [i for i, t in enumerate(texts) if t not in done]
    if progress:
        progress(len(archs) - len(todo), len(archs), "")
    for start in range(0, len(todo), chunk):
        part = todo[start:start + chunk]
        specs = [ModelSpec.for_arch(space, archs[i], batch) for i in part]
        for i, stats in zip(part, measure_interleaved(backend, specs, rounds, settings)):
            done[texts[i]] = stats
            if journal_path:
                journal.append(journal_path, {"arch": texts[i], "stats": stats.to_dict()})
        if progress:
            progress(len(archs) - len(todo) + start + len(part), len(archs), texts[part[-1]])
    return [done[t] for t in texts]


@dataclass(frozen=True)
class Reopen:
    """How a fresh process opens the same backend: ``open_backend(device, batch=, **options)``.

    ``options`` must be JSON values; ``processes`` is how many fresh
    processes measure each calibration network.
    """

    device: str
    options: dict[str, Any] = field(default_factory=dict)
    processes: int = PROCESSES

    @classmethod
    def of(cls, backend: Backend, device: str, options: dict[str, Any],
           processes: int = PROCESSES) -> "Reopen | None":
        """A ``Reopen`` for ``backend`` when it measures here and ``processes`` > 0, else None."""
        if processes < 1 or not getattr(type(backend), "fresh_processes", False):
            return None
        plain = (str, int, float, bool)
        return cls(device, {k: v for k, v in options.items() if isinstance(v, plain)}, processes)


def measure_networks(backend: Backend, space: SearchSpace, archs: Sequence[Any], batch: int = 1,
                     rounds: int = ROUNDS, settings: MeasureSettings = SETTINGS,
                     reopen: Reopen | None = None, space_options: dict[str, Any] | None = None,
                     journal_path: Path | None = None, known: dict[str, LatencyStats] | None = None,
                     progress: Callable[[int, int, str], None] | None = None,
                     ) -> tuple[list[LatencyStats], dict[str, Any]]:
    """Whole networks measured as calibration and validation do, and how.

    With ``reopen``, in ``reopen.processes`` fresh processes of
    ``PROCESS_ROUNDS`` rounds each; otherwise ``rounds`` interleaved rounds
    in this process (:func:`measure_archs`). Networks in ``known`` are not
    measured again. Returns the statistics and ``{"rounds": ..[, "processes": ..]}``.
    """
    if reopen is None:
        stats = measure_archs(backend, space, archs, batch, rounds, settings,
                              journal_path=journal_path, known=known, progress=progress)
        return stats, {"rounds": rounds}
    from latency_kit.measure.processes import measure_in_processes

    done = dict(known or {})
    texts = [space.format(a) for a in archs]
    todo = [t for t in texts if t not in done]
    if todo:
        done.update(zip(todo, measure_in_processes(
            reopen.device, reopen.options, space.name, space_options or {}, todo,
            reopen.processes, PROCESS_ROUNDS, batch, settings, journal_path, progress)))
    return [done[t] for t in texts], {"rounds": PROCESS_ROUNDS, "processes": reopen.processes}


def calibrate(profile_dir: Path, space: SearchSpace, backend: Backend, n: int, seed: int = 0,
              batch: int = 1, rounds: int = ROUNDS, settings: MeasureSettings = SETTINGS,
              progress: Callable[[int, int, str], None] | None = None,
              reopen: Reopen | None = None,
              space_options: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Measure ``n`` seeded calibration networks into ``profile_dir/calibration.json``.

    With ``reopen``, each network is measured in ``reopen.processes`` fresh
    processes instead of ``rounds`` rounds in this one (:func:`measure_networks`).
    Networks already stored (same architecture string) are reused, so asking
    for more later only measures the new ones. Returns the entries.
    """
    path, journal_path = profile_dir / FILE, profile_dir / JOURNAL
    stored = {e["arch"]: e for e in read_calibration(path)}
    archs = sample_archs(space, n, seed)
    known = {t: LatencyStats.from_dict(e["stats"]) for t, e in stored.items()}
    stats, how = measure_networks(backend, space, archs, batch, rounds, settings, reopen,
                                  space_options, journal_path, known, progress)
    entries = [{"arch": space.format(a), "stats": s.to_dict()} for a, s in zip(archs, stats)]
    new = {e["arch"] for e in entries}
    extra = [e for t, e in stored.items() if t not in new]
    write_calibration(path, entries + extra, seed=seed, **how, settings=settings.to_dict())
    journal_path.unlink(missing_ok=True)
    return entries + extra


def calibration_step(backend: Backend, n: int, seed: int = 0, rounds: int = ROUNDS,
                     settings: MeasureSettings = SETTINGS,
                     progress: Callable[[int, int, str], None] | None = None,
                     reopen: Reopen | None = None):
    """An ``after_lut`` hook for :func:`latency_kit.measure.blocks.profile_blocks`."""

    def step(profile) -> None:
        if n > 0:
            batch = int(profile.meta.get("fingerprint", {}).get("batch", 1))
            calibrate(profile.path, profile.space, backend, n, seed, batch, rounds, settings,
                      progress, reopen, profile.meta.get("space_options", {}))

    return step
