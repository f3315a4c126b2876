"""Parse the output of TensorFlow Lite's stock ``benchmark_model`` tool.

Two parts of its log are read (any ``INFO:`` or ``[file:line]`` prefixes are
ignored):

* the summary, e.g.
  ``Inference timings in us: Init: 855, First inference: 49060, Warmup (avg): 34825.1, Inference (avg): 33209.4``
  and the statistics line of the timed runs,
  ``count=50 first=32891 curr=33978 min=32641 max=34005 avg=33209.4 std=450``
  (the first ``count=`` line is the warm-up, the last one the timed runs);
* with ``--enable_op_profiling=true``, the tab-separated "Run Order" table of
  the regular runs: ``[node type] [start] [first] [avg ms] [%] [cdf%] [mem KB]
  [times called] [Name]``. The GPU delegate shows up as one node.

Microseconds in the tool's output become milliseconds here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..errors import DeviceError

_PREFIX = re.compile(r"^\s*(?:(?:INFO|WARNING|ERROR):\s*)?(?:\[[^\]]*\]\s*)?")
_LEVEL = re.compile(r"^\s*(?:INFO|WARNING|ERROR):\s*")
_SUMMARY = re.compile(r"Inference timings in us:\s*(.*)$")
_SUMMARY_FIELD = re.compile(r"([A-Za-z][A-Za-z ()]*?):\s*([-+0-9.eE]+)")
_STATS = re.compile(r"^count=\d+(?:\s+\w+=[-+0-9.eE]+)+\s*$")
_OPS_SECTION = "Operator-wise Profiling Info for Regular Benchmark Runs"


@dataclass(frozen=True)
class RunStats:
    """A ``count=... avg=... std=...`` line, converted to milliseconds."""

    count: int
    avg_ms: float
    min_ms: float | None = None
    max_ms: float | None = None
    std_ms: float | None = None
    first_ms: float | None = None
    median_ms: float | None = None


@dataclass(frozen=True)
class OpTiming:
    """One row of the op-profiling "Run Order" table (times in ms)."""

    node_type: str
    start_ms: float
    first_ms: float
    avg_ms: float
    percent: float
    cdf_percent: float
    mem_kb: float
    times_called: int
    name: str


@dataclass(frozen=True)
class BenchmarkResult:
    """Everything parsed from one ``benchmark_model`` run."""

    avg_ms: float
    init_ms: float | None = None
    first_ms: float | None = None
    warmup_avg_ms: float | None = None
    runs: RunStats | None = None
    warmup: RunStats | None = None
    ops: list[OpTiming] = field(default_factory=list)


def _strip(line: str) -> str:
    return _PREFIX.sub("", line, count=1).strip()


def parse_stats_line(line: str) -> RunStats | None:
    """A ``count=N first=.. avg=..`` line (values in us) as :class:`RunStats`."""
    text = _strip(line)
    if not _STATS.match(text):
        return None
    values = dict(part.split("=", 1) for part in text.split())
    ms = {k: float(v) / 1e3 for k, v in values.items() if k != "count"}
    if "avg" not in ms:
        return None
    return RunStats(count=int(values["count"]), avg_ms=ms["avg"], min_ms=ms.get("min"),
                    max_ms=ms.get("max"), std_ms=ms.get("std"), first_ms=ms.get("first"),
                    median_ms=ms.get("median"))


def parse_summary_line(line: str) -> dict[str, float] | None:
    """The ``Inference timings in us:`` fields, in ms, keyed by their names."""
    match = _SUMMARY.search(line)
    if not match:
        return None
    return {name.strip(): float(value) / 1e3 for name, value in _SUMMARY_FIELD.findall(match.group(1))}


def parse_op_table(text: str) -> list[OpTiming]:
    """Rows of the "Run Order" table of the regular (not initialisation) runs."""
    lines = text.splitlines()
    try:
        start = next(i for i, line in enumerate(lines) if _OPS_SECTION in line)
    except StopIteration:
        return []
    rows: list[OpTiming] = []
    in_table = False
    for line in lines[start + 1:]:
        body = _LEVEL.sub("", line, count=1).strip()
        if not in_table:
            in_table = "Run Order" in body
            continue
        if "[node type]" in body:
            continue
        cells = [c.strip() for c in body.split("\t") if c.strip()]
        if len(cells) < 9:
            break
        try:
            rows.append(OpTiming(
                node_type=cells[0], start_ms=float(cells[1]), first_ms=float(cells[2]),
                avg_ms=float(cells[3]), percent=float(cells[4].rstrip("%")),
                cdf_percent=float(cells[5].rstrip("%")), mem_kb=float(cells[6]),
                times_called=int(float(cells[7])), name=" ".join(cells[8:])))
        except ValueError:
            break
    return rows


def parse_benchmark_output(text: str) -> BenchmarkResult:
    """Parse a whole ``benchmark_model`` log; ``DeviceError`` when it has no timings."""
    summary: dict[str, float] | None = None
    stats: list[RunStats] = []
    for line in text.splitlines():
        found = parse_summary_line(line)
        if found is not None:
            summary = found
            continue
        parsed = parse_stats_line(line)
        if parsed is not None:
            stats.append(parsed)
    runs = stats[-1] if stats else None
    warmup = stats[-2] if len(stats) >= 2 else None
    avg = (summary or {}).get("Inference (avg)")
    if avg is None and runs is not None:
        avg = runs.avg_ms
    if avg is None:
        tail = " | ".join(line.strip() for line in text.strip().splitlines()[-3:])
        raise DeviceError(f"benchmark_model printed no inference timings; its last lines: {tail or '(none)'}")
    summary = summary or {}
    return BenchmarkResult(avg_ms=avg, init_ms=summary.get("Init"),
                           first_ms=summary.get("First inference"),
                           warmup_avg_ms=summary.get("Warmup (avg)"), runs=runs, warmup=warmup,
                           ops=parse_op_table(text))
