"""What actually ran, per entry (``LatencyStats.run``), and one setting per table.

A backend puts it in ``Prepared.info["entry"]``: the Android backend the
delegate and how much of the graph it took (from ``benchmark_model``'s log,
see tests/fixtures/benchmark_model), the GPU backends their launch mode.
The engine stores it with the entry, the profile's fingerprint takes the
table-wide values, and a table whose entries ran differently is refused.
"""

from __future__ import annotations

import json

import pytest

from latency_kit.backends.base import Backend, ModelSpec, Prepared
from latency_kit.measure.engine import MeasureSettings, measure, measure_interleaved
from latency_kit.errors import LatkitError
from latency_kit.lut import LatencyTable
from latency_kit.measure.blocks import run_summary
from latency_kit.stats import LatencyStats

QUICK = MeasureSettings(warmup_ms=0.0, repeats=3, batch_ms=0.0, retries=0)


class Recording(Backend):
    """A backend whose "inference" is a fixed time and which says what ran."""

    name = "recording"
    runtime = "none"

    def __init__(self, entry):
        self.entry = entry

    def fingerprint(self):
        return {"device": self.name}

    def prepare(self, spec):
        return Prepared(spec, None, {"entry": dict(self.entry)} if self.entry else {})

    def run_batch(self, prepared, iterations):
        return 1.0


SPEC = ModelSpec("nb201", "block", "k", (1, 3, 32, 32))


def test_the_engine_stores_what_ran_with_the_entry() -> None:
    gpu = {"launch": "cuda-graph"}
    assert measure(Recording(gpu), SPEC, QUICK).run == gpu
    assert measure_interleaved(Recording(gpu), [SPEC], 1, QUICK)[0].run == gpu
    assert measure(Recording(None), SPEC, QUICK).run is None


def test_run_round_trips_and_old_entries_read_as_none() -> None:
    phone = {"delegate": "gpu", "delegation": "partial", "delegated_nodes": "40/44",
             "compute_precision": "fp16", "peak_memory_mb": 12.5}
    stats = LatencyStats(median_ms=2.0, count=5).with_run(phone)
    assert LatencyStats.from_dict(json.loads(json.dumps(stats.to_dict()))) == stats
    old = {"median_ms": 2.0, "count": 5, "cv": 0.01}  # an entry written before `run` existed
    assert LatencyStats.from_dict(old).run is None
    assert "run" not in LatencyStats.from_dict(old).to_dict()  # files stay as they were
    with pytest.raises(TypeError):
        LatencyStats.from_dict({**old, "run": "gpu"})


def _table(runs: dict[str, dict | None]) -> LatencyTable:
    table = LatencyTable("nb201")
    for key, run in runs.items():
        table.add(key, LatencyStats(median_ms=1.0, count=3).with_run(run))
    return table


def test_a_table_of_one_setting_joins_the_fingerprint_with_its_partial_entries() -> None:
    summary = run_summary(_table({
        "a": {"delegate": "gpu", "delegation": "full", "compute_precision": "fp16"},
        "b": {"delegate": "gpu", "delegation": "partial", "compute_precision": "fp16"}}))
    assert summary == {"delegate": "gpu", "compute_precision": "fp16", "partial_delegation": ["b"]}
    assert run_summary(_table({"a": None})) == {}  # backends that record nothing


def test_a_table_that_mixes_launch_modes_is_refused() -> None:
    with pytest.raises(LatkitError, match="launch 'cuda-graph' .* and 'eager'"):
        run_summary(_table({"a": {"launch": "cuda-graph"}, "b": {"launch": "eager"}}))
