"""Calibration measured in fresh processes (``latency_kit.measure.processes``).

Real ONNX Runtime measurements of two small NB201 networks, each in its own
child process; resuming from the journal must not start a child again.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from latency_kit.measure import processes
from latency_kit.backends import open_backend
from latency_kit.measure.calibration import Reopen
from latency_kit.measure.engine import MeasureSettings
from latency_kit.errors import DeviceError
from latency_kit.journal import read_journal
from latency_kit.spaces import get_space
from latency_kit.stats import LatencyStats

QUICK = MeasureSettings(warmup_ms=5.0, repeats=3, batch_ms=0.5)


def _archs(n: int = 2) -> list[str]:
    space = get_space("nb201")
    return [space.format(space.sample(seed)) for seed in range(n)]


def _per_process(rows: list[list[float]]) -> list[list[LatencyStats]]:
    return [[LatencyStats(median_ms=m, count=5) for m in row] for row in rows]


def test_combine_takes_the_median_of_process_medians() -> None:
    # three processes at the same level (geometric mean 1.0), ranking the networks differently
    rows = [[1.0, 1.0], [1.3, 1 / 1.3], [1.1, 1 / 1.1]]
    stats = processes.combine(_per_process(rows))
    assert [s.median_ms for s in stats] == pytest.approx([1.1, 1 / 1.1])
    assert [s.count for s in stats] == [3, 3]  # one value per process
    assert stats[0].p10_ms < stats[0].median_ms < stats[0].p90_ms


def test_combine_brings_every_process_to_the_common_level() -> None:
    # the second and third process measured everything 6% and 12% slower
    rows = [[10.0, 20.0, 30.0], [10.6, 21.2, 31.8], [11.2, 22.4, 33.6]]
    stats = processes.combine(_per_process(rows))
    level = np.exp(np.log([1.0, 1.06, 1.12]).mean())
    assert [s.median_ms for s in stats] == pytest.approx([10 * level, 20 * level, 30 * level])
    assert all(s.p90_ms - s.p10_ms == pytest.approx(0, abs=1e-9) for s in stats)
    # with one network per process, the result is the processes' geometric mean
    one = processes.combine(_per_process([[1.0], [1.21]]))
    assert one[0].median_ms == pytest.approx(1.1)


def test_each_process_measures_every_network_and_resume_starts_none(tmp_path, monkeypatch) -> None:
    archs = _archs()
    journal = tmp_path / "calibration.jsonl"
    seen = []
    stats = processes.measure_in_processes(
        "cpu", {"threads": 1}, "nb201", {}, archs, processes=2, settings=QUICK,
        journal_path=journal, progress=lambda done, total, arch: seen.append((done, total)))
    assert [s.count for s in stats] == [2, 2] and all(s.median_ms > 0 for s in stats)
    records = read_journal(journal, "process")
    assert sorted(records) == ["0", "1"]
    assert all(set(r["stats"]) == set(archs) for r in records.values())
    assert seen[-1] == (4, 4)
    # the stage shows before each child has prepared anything, then one tick per network
    assert seen[:4] == [(0, 4), (1, 4), (2, 4), (2, 4)] and seen[4:6] == [(3, 4), (4, 4)]

    def no_child(*args, **kwargs):
        raise AssertionError("a journaled process was measured again")

    monkeypatch.setattr(processes, "_run_child", no_child)
    again = processes.measure_in_processes("cpu", {"threads": 1}, "nb201", {}, archs, processes=2,
                                           settings=QUICK, journal_path=journal)
    assert [s.median_ms for s in again] == [s.median_ms for s in stats]

    started = []
    monkeypatch.setattr(processes, "_run_child", lambda request, *args: started.append(request)
                        or {arch: stats[0].to_dict() for arch in request["archs"]})
    processes.measure_in_processes("cpu", {"threads": 1}, "nb201", {}, archs, processes=2,
                                   rounds=2, settings=QUICK, journal_path=journal)
    assert len(started) == 2  # journaled with 1 round; asked for 2: measured again


def test_a_failing_child_is_one_clear_error() -> None:
    with pytest.raises(DeviceError, match="fresh process failed: .*no-such-device"):
        processes.measure_in_processes("no-such-device", {}, "nb201", {}, _archs(1), processes=1,
                                       settings=QUICK)


def test_reopen_only_for_backends_that_measure_here(onnx_cache: Path) -> None:
    with open_backend("cpu", threads=1, cache=onnx_cache) as backend:
        reopen = Reopen.of(backend, "cpu", {"threads": 1, "serial": None, "out": Path("x")})
        assert reopen == Reopen("cpu", {"threads": 1}, 3)
        assert Reopen.of(backend, "cpu", {}, processes=0) is None

    class Remote:  # a backend that does not set fresh_processes (a phone, a board)
        pass

    assert Reopen.of(Remote(), "pixel", {}) is None  # type: ignore[arg-type]
