"""Parse the output of TensorFlow Lite's (and LiteRT's) stock ``benchmark_model``.

Formats, as the tools' sources print them (TensorFlow/LiteRT paths; any
``INFO:``/``WARN:``/``VERBOSE:`` level and ``[file:line]`` prefix is ignored):

* ``BenchmarkModel::Run`` (``tflite/tools/benchmark/benchmark_model.cc``) runs
  twice, the warm-up first and the timed runs second; each prints
  ``Running benchmark for at least N iterations ...`` and then one statistics
  line from ``Stat::OutputToStream`` (``tensorflow/core/util/stats_calculator.h``,
  now ``xla/tsl/util/stats_calculator.h``), in microseconds, in one of the forms
  ``count=0``, ``count=1 curr=X``, ``count=N curr=X(all same)`` or
  ``count=N first=.. curr=.. min=.. max=.. avg=.. std=..``; builds using
  ``StatWithPercentiles`` append `` p5=.. median=.. p95=..``.
* ``BenchmarkLoggingListener::OnBenchmarkEnd`` prints
  ``Inference timings in us: Init: .., First inference: .., Warmup (avg): .., Inference (avg): ..``
  and the memory lines; with ``--report_peak_memory_footprint=true``,
  ``Overall peak memory footprint (MB) via periodic monitoring: X``.
  LiteRT's compiled-model tool (``litert/tools/benchmark_litert_model.h``)
  prints a ``========== BENCHMARK RESULTS ==========`` block in ms instead
  (``Inference (avg):      85.23 ms (50 runs)``, ``Peak memory:  35.20 MB``).
* ``BenchmarkTfLiteModel::Init`` (``benchmark_tflite_model.cc``) says per
  applied delegate whether the graph "will be completely", "will be partially
  ... w/ N delegate kernels" or "will not be" executed by it; a provider that
  could not create its delegate logs ``GPU acceleration is unsupported on this
  platform.`` (``tools/delegates/gpu_delegate_provider.cc``, ``nnapi_...``).
  The interpreter logs ``Replacing N out of M node(s) with delegate (K) node,
  yielding P partitions ...`` (older builds: ``Replacing N node(s) ...``).
* With ``--enable_op_profiling=true``, after ``Operator-wise Profiling Info for
  Regular Benchmark Runs:`` (``tflite/profiling/profile_summary_formatter.cc``)
  the tab-separated ``Run Order`` table of ``StatsCalculator`` (``HeaderString``/
  ``ColumnString`` in ``stats_calculator.cc``): current builds print
  ``[node type] [first] [avg ms] [%] [cdf%] [mem KB] [times called] [Name]``,
  older ones a ``[start]`` column as well. Columns are read by header name.
  The ``Summary by node type`` table that follows has other columns and is
  not read. With subgraphs the primary graph's table comes first (a control
  flow op's time includes its subgraphs'); only it is read. ``[avg ms]`` is
  per call (``Stat::avg``) and ``[times called]`` calls per run, so a node's
  time per run is their product. ``ProfileSummarizer::ProcessProfiles``
  (``tflite/profiling/profile_summarizer.cc``) puts an interpreter node in the
  table as ``[op type(/description)]`` and ``[output tensor names]:node index``,
  and a delegate's own operators (``DELEGATE_PROFILED_OPERATOR_INVOKE_EVENT``:
  XNNPACK's, e.g. ``Convolution (NHWC, F32) IGEMM``) as type = their name and
  ``Delegate/<name>:<index>``, right after the delegate node
  (``TfLiteXNNPackDelegate``) whose time already holds theirs;
  :func:`op_times` counts that time once.
* ``benchmark_model --help=true`` prints ``Flags::Usage``
  (``tflite/tools/command_line_flags.cc``): one ``\\t--name=default\\ttype...``
  line per flag.

Microseconds in the tool's output become milliseconds here. Every parser that
finds a section but cannot read it raises :class:`DeviceError`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from latency_kit.backends.base import OpTimes
from latency_kit.errors import DeviceError

_PREFIX = re.compile(r"^\s*(?:(?:INFO|WARN|WARNING|ERROR|VERBOSE):\s*)?(?:\[[^\]]*\]\s*)?")
_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_SUMMARY = re.compile(r"Inference timings in us:\s*(.*)$")
_SUMMARY_FIELD = re.compile(rf"([A-Za-z][A-Za-z ()]*?):\s*({_NUMBER})")
_STATS = re.compile(rf"^count=(\d+)((?:\s+[a-z0-9_]+={_NUMBER}(?:\(all same\))?)*)\s*$")
_STATS_FIELD = re.compile(rf"([a-z0-9_]+)=({_NUMBER})")
_RUN_START = "Running benchmark for at least"
_MS_BLOCK = "BENCHMARK RESULTS"
_MS_FIELD = re.compile(rf"^(Model initialization|Warmup \(first\)|Warmup \(avg\)|Inference \(avg\)"
                       rf"|Inference \(min\)|Inference \(max\)|Inference \(std\)):\s+({_NUMBER})"
                       rf"(?:\s*ms)?(?:\s*\((\d+) runs\))?\s*$")
_PEAK = (re.compile(rf"Overall peak memory footprint \(MB\) via periodic monitoring:\s*({_NUMBER})"),
         re.compile(rf"^Peak memory:\s+({_NUMBER})\s*MB"))
_APPLIED = re.compile(r"Explicitly applied (\S+) delegate, and the model graph will be "
                      r"(completely|partially) executed by the delegate(?: w/ (\d+) delegate kernels)?")
_NOT_APPLIED = re.compile(r"Though (\S+) delegate is explicitly applied, the model graph will not be"
                          r" executed by the delegate")
_UNSUPPORTED = re.compile(r"^(\S+) acceleration is unsupported on this platform")
_REPLACING = re.compile(r"Replacing (\d+)(?: out of (\d+))? node\(s\) with delegate \(([^)]*)\) node, "
                        r"yielding (\d+) partitions")
_GPU_LOSS = re.compile(r"Allow lower precision in gpu: \[(\d)\]", re.IGNORECASE)
_HELP_FLAG = re.compile(r"^--([A-Za-z0-9_]+)=")
_OPS_SECTION = "Operator-wise Profiling Info for Regular Benchmark Runs"
_TABLE_TITLE = re.compile(r"^=+ (.+?) =+$")
# Run Order columns every known layout has; [start] (older builds) and unknown extras are optional.
_OP_COLUMNS = ("node type", "first", "avg ms", "%", "cdf%", "mem kb", "times called", "name")
# Name prefix of a delegate's own operators in the table (profile_summarizer.cc).
DELEGATE_OP_PREFIX = "Delegate/"


@dataclass(frozen=True)
class RunStats:
    """One ``Stat::OutputToStream`` line (a warm-up or the timed runs), in ms.

    ``count=N curr=X(all same)`` and ``count=1 curr=X`` mean every run took
    ``X``, so mean, min, max and first are ``X`` and std is 0. ``avg_ms`` is
    ``None`` only for ``count=0`` (no run).
    """

    count: int
    avg_ms: float | None
    min_ms: float | None = None
    max_ms: float | None = None
    std_ms: float | None = None
    first_ms: float | None = None
    curr_ms: float | None = None
    p5_ms: float | None = None
    median_ms: float | None = None
    p95_ms: float | None = None


@dataclass(frozen=True)
class OpTiming:
    """One row of the op-profiling "Run Order" table (times in ms).

    ``start_ms`` is set only by older builds, whose table has a ``[start]`` column.
    """

    node_type: str
    first_ms: float
    avg_ms: float
    percent: float
    cdf_percent: float
    mem_kb: float
    times_called: int
    name: str
    start_ms: float | None = None


@dataclass(frozen=True)
class Delegation:
    """What ``benchmark_model`` said about one explicitly applied delegate.

    ``executed`` is ``"full"``, ``"partial"`` or ``"none"``; ``kernels`` the
    delegate kernels of a partial delegation; ``nodes``/``total_nodes`` and
    ``partitions`` come from the interpreter's ``Replacing ... node(s)`` line
    when it printed one (``total_nodes`` only in newer builds).
    """

    delegate: str
    executed: str
    kernels: int | None = None
    nodes: int | None = None
    total_nodes: int | None = None
    partitions: int | None = None


@dataclass(frozen=True)
class BenchmarkResult:
    """Everything parsed from one ``benchmark_model`` run (times in ms, memory in MB).

    ``delegations`` is keyed by the delegate's name as the tool prints it,
    upper-cased (``GPU``, ``NNAPI``, ``XNNPACK``).
    """

    avg_ms: float
    init_ms: float | None = None
    first_ms: float | None = None
    warmup_avg_ms: float | None = None
    runs: RunStats | None = None
    warmup: RunStats | None = None
    ops: list[OpTiming] = field(default_factory=list)
    peak_memory_mb: float | None = None
    delegations: dict[str, Delegation] = field(default_factory=dict)
    gpu_precision_loss_allowed: bool | None = None


def _strip(line: str) -> str:
    return _PREFIX.sub("", line, count=1).strip()


def parse_stats_line(line: str) -> RunStats | None:
    """A ``count=N ...`` statistics line (values in us) as :class:`RunStats`; else ``None``."""
    match = _STATS.match(_strip(line))
    if not match:
        return None
    count = int(match.group(1))
    values = {k: float(v) / 1e3 for k, v in _STATS_FIELD.findall(match.group(2))}
    curr = values.get("curr")
    if count == 0:
        return RunStats(count=0, avg_ms=None)
    if "avg" not in values:  # every run took the same time: only curr is printed
        if curr is None:
            raise DeviceError(f"benchmark_model statistics line has neither avg= nor curr=: {_strip(line)!r}")
        values = {**values, "avg": curr, "min": curr, "max": curr, "first": curr, "std": 0.0}
    return RunStats(count=count, avg_ms=values["avg"], min_ms=values.get("min"),
                    max_ms=values.get("max"), std_ms=values.get("std"), first_ms=values.get("first"),
                    curr_ms=curr, p5_ms=values.get("p5"), median_ms=values.get("median"),
                    p95_ms=values.get("p95"))


def parse_summary_line(line: str) -> dict[str, float] | None:
    """The ``Inference timings in us:`` fields, in ms, keyed by their names."""
    match = _SUMMARY.search(line)
    if not match:
        return None
    return {name.strip(): float(value) / 1e3 for name, value in _SUMMARY_FIELD.findall(match.group(1))}


def parse_ms_block(text: str) -> dict[str, float]:
    """LiteRT's ``BENCHMARK RESULTS`` block (``Inference (avg): 85.23 ms (50 runs)``), in ms.

    Empty when the log has no such block; raises ``DeviceError`` when the
    block is there but holds no ``Inference (avg)`` line.
    """
    found: dict[str, float] = {}
    inside = False
    for line in text.splitlines():
        body = _strip(line)
        if _MS_BLOCK in body:
            inside = True
            continue
        match = _MS_FIELD.match(body) if inside else None
        if match:
            found[match.group(1)] = float(match.group(2))
            if match.group(3) is not None:
                found[f"{match.group(1)} runs"] = float(match.group(3))
    if inside and "Inference (avg)" not in found:
        raise DeviceError("benchmark_model printed a BENCHMARK RESULTS block without an "
                          "'Inference (avg): X ms' line")
    return found


def parse_help_flags(text: str) -> set[str]:
    """Flag names listed by ``benchmark_model --help=true`` (``Flags::Usage``: ``\\t--name=default\\t...``)."""
    return {m.group(1) for line in text.splitlines() if (m := _HELP_FLAG.match(_strip(line)))}


def parse_delegations(text: str) -> dict[str, Delegation]:
    """Per delegate name (upper case): whether it executes the graph fully, partly or not at all."""
    found: dict[str, Delegation] = {}
    replaced: list[tuple[str, int, int | None, int]] = []
    for line in text.splitlines():
        body = _strip(line)
        if m := _APPLIED.search(body):
            kernels = int(m.group(3)) if m.group(3) else None
            found[m.group(1).upper()] = Delegation(m.group(1).upper(), "full" if m.group(2) == "completely"
                                                   else "partial", kernels)
        elif m := (_NOT_APPLIED.search(body) or _UNSUPPORTED.search(body)):
            found[m.group(1).upper()] = Delegation(m.group(1).upper(), "none", 0)
        elif m := _REPLACING.search(body):
            total = int(m.group(2)) if m.group(2) else None
            replaced.append((m.group(3), int(m.group(1)), total, int(m.group(4))))
    for name, delegation in list(found.items()):
        # kernel names: TfLiteGpuDelegateV2, TfLiteNnapiDelegate, TfLiteXNNPackDelegate
        counts = [r for r in replaced if name.lower() in r[0].lower()]
        if counts:
            _, nodes, total, partitions = counts[-1]
            found[name] = Delegation(name, delegation.executed, delegation.kernels, nodes, total, partitions)
    return found


def _op_header(line: str) -> list[str]:
    return [cell.strip().strip("[]").strip().lower() for cell in line.strip("\t\n ").split("\t")]


def _op_row(line: str, header: list[str], number: int) -> OpTiming:
    cells = line.rstrip("\n").split("\t")
    if cells and not cells[0].strip():
        cells = cells[1:]  # every field starts with a tab (InitField)
    if len(cells) < len(header):
        raise DeviceError(f"benchmark_model's Run Order row (log line {number}) has {len(cells)} columns, "
                          f"its header {len(header)}: {line.strip()[:120]!r}")
    last = len(header) - 1
    cells = [c.strip() for c in cells[:last]] + ["\t".join(cells[last:]).strip()]
    row = dict(zip(header, cells))
    try:
        return OpTiming(
            node_type=row["node type"], first_ms=float(row["first"]), avg_ms=float(row["avg ms"]),
            percent=float(row["%"].rstrip("%")), cdf_percent=float(row["cdf%"].rstrip("%")),
            mem_kb=float(row["mem kb"]), times_called=int(float(row["times called"])), name=row["name"],
            start_ms=float(row["start"]) if "start" in row else None)
    except ValueError:
        raise DeviceError(f"benchmark_model's Run Order row (log line {number}) is not numeric where its "
                          f"header says: {line.strip()[:120]!r}") from None


def parse_op_table(text: str) -> list[OpTiming]:
    """Rows of the "Run Order" table of the regular (not initialisation) runs, in run order.

    ``[]`` when the log has no op-profiling section. Raises ``DeviceError``
    when the section is there but its table is missing, lacks a column every
    layout has, or yields no row.
    """
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if _OPS_SECTION in line), None)
    if start is None:
        return []
    rest = iter(enumerate(lines[start + 1:], start + 2))
    for _, line in rest:
        title = _TABLE_TITLE.match(_strip(line))
        if title and title.group(1) == "Run Order":
            break
    else:
        raise DeviceError("benchmark_model printed the op-profiling section without its Run Order table")
    number, header_line = next(rest, (0, ""))
    header = _op_header(header_line)
    missing = [c for c in _OP_COLUMNS if c not in header]
    if missing or header[-1] != "name":
        raise DeviceError(f"benchmark_model's Run Order header (line {number}) lacks "
                          f"{', '.join(missing) or 'a last [Name] column'}: {header_line.strip()[:120]!r}")
    rows = []
    for number, line in rest:
        if not line.strip() or _TABLE_TITLE.match(_strip(line)):
            break
        rows.append(_op_row(line, header, number))
    if not rows:
        raise DeviceError("benchmark_model's Run Order table of the regular runs has no rows")
    return rows


def _peak_memory(text: str) -> float | None:
    for line in text.splitlines():
        body = _strip(line)
        for pattern in _PEAK:
            if m := pattern.search(body):
                return float(m.group(1))
    return None


def _run_stats(text: str) -> tuple[RunStats | None, RunStats | None]:
    """(warm-up, timed runs): the statistics lines in the order ``BenchmarkModel::Run`` prints them."""
    stats: list[RunStats] = []
    announced = 0
    for line in text.splitlines():
        body = _strip(line)
        if body.startswith(_RUN_START):
            announced += 1
            continue
        parsed = parse_stats_line(body)
        if parsed is not None:
            stats.append(parsed)
    if len(stats) > 2 or announced > 2:
        raise DeviceError(f"benchmark_model printed {max(len(stats), announced)} benchmark runs; "
                          "expected one warm-up and one timed run")
    return (stats[0] if stats else None), (stats[1] if len(stats) == 2 else None)


def parse_benchmark_output(text: str) -> BenchmarkResult:
    """Parse a whole ``benchmark_model`` log; ``DeviceError`` when it has no timings.

    The mean comes from ``Inference (avg)`` of the ``Inference timings in us``
    line, else from the timed runs' statistics line, else from LiteRT's ms block.
    """
    summary: dict[str, float] = {}
    for line in text.splitlines():
        found = parse_summary_line(line)
        if found is not None:
            summary = found
    warmup, runs = _run_stats(text)
    block = parse_ms_block(text)
    if runs is not None and runs.count == 0:
        raise DeviceError("benchmark_model ran no timed inference (count=0); check --num_runs and --max_secs")
    avg = summary.get("Inference (avg)")
    if avg is None and runs is not None:
        avg = runs.avg_ms
    if avg is None:
        avg = block.get("Inference (avg)")
    if avg is None:
        tail = " | ".join(line.strip() for line in text.strip().splitlines()[-3:])
        raise DeviceError(f"benchmark_model printed no inference timings; its last lines: {tail or '(none)'}"[:300])
    loss = next((m.group(1) == "1" for line in text.splitlines() if (m := _GPU_LOSS.search(line))), None)
    return BenchmarkResult(
        avg_ms=avg, init_ms=summary.get("Init", block.get("Model initialization")),
        first_ms=summary.get("First inference", block.get("Warmup (first)")),
        warmup_avg_ms=summary.get("Warmup (avg)", block.get("Warmup (avg)")), runs=runs, warmup=warmup,
        ops=parse_op_table(text), peak_memory_mb=_peak_memory(text), delegations=parse_delegations(text),
        gpu_precision_loss_allowed=loss)


def row_ms(row: OpTiming) -> float:
    """A table row's milliseconds per run: ``[avg ms]`` (per call) times
    ``[times called]`` (calls per run, integer-divided; a node that ran in
    fewer runs than all shows 0 and counts as one call)."""
    return row.avg_ms * max(row.times_called, 1)


def op_times(rows: list[OpTiming]) -> list[OpTimes]:
    """Per-node times (ms per run) from a Run Order table, each moment counted once.

    A delegate node directly followed by its own operators' rows
    (``Delegate/...``) is replaced by them and, where the node took longer
    than they add up to, one row ``<delegate> (outside its operators)`` with
    the difference (per delegate type: operator indices restart in each
    partition, so the tool may merge rows of different partitions). Other rows
    are kept as they are. ``provider`` is the delegate type for what a delegate
    ran, empty for the interpreter's own kernels; input shapes are empty (the
    table gives none). Every :class:`OpTimes` holds one value: the table is
    already an average over the profiled runs.
    """
    expanded = {prev.node_type for prev, row in zip(rows, rows[1:])
                if row.name.startswith(DELEGATE_OP_PREFIX) and not prev.name.startswith(DELEGATE_OP_PREFIX)}
    out: list[OpTimes] = []
    kernel_ms: dict[str, float] = {}
    inner_ms: dict[str, float] = {}
    kernel_at: dict[str, int] = {}
    current: str | None = None
    for row in rows:
        ms = row_ms(row)
        if row.name.startswith(DELEGATE_OP_PREFIX) and current is not None:
            inner_ms[current] += ms
            out.append(OpTimes(row.name, row.node_type, [], [ms], current))
        elif row.node_type in expanded and not row.name.startswith(DELEGATE_OP_PREFIX):
            current = row.node_type
            kernel_ms[current] = kernel_ms.get(current, 0.0) + ms
            inner_ms.setdefault(current, 0.0)
            kernel_at.setdefault(current, len(out))
        else:
            current = None
            delegate = row.node_type if "delegate" in row.node_type.lower() else ""
            out.append(OpTimes(row.name, row.node_type, [], [ms], delegate))
    for kernel, index in sorted(kernel_at.items(), key=lambda item: -item[1]):
        rest = kernel_ms[kernel] - inner_ms[kernel]
        if rest > 0:
            out.insert(index, OpTimes(f"{kernel} (outside its operators)", kernel, [], [rest], kernel))
    return out
