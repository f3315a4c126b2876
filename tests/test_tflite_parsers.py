"""Parsers of TFLite/LiteRT ``benchmark_model`` output, on logs in the tools' own formats.

The inline samples below follow the line formats DESIGN.md section 4 quotes;
the logs in ``tests/fixtures/benchmark_model/`` (see its README.md) are laid
out field by field as the sources print them:

* statistics lines: ``Stat::OutputToStream`` / ``StatWithPercentiles`` in
  ``tensorflow/core/util/stats_calculator.h`` (now
  ``third_party/xla/xla/tsl/util/stats_calculator.h``), tensorflow/tensorflow;
* run order, summary and memory lines: ``BenchmarkModel::Run`` and
  ``BenchmarkLoggingListener::OnBenchmarkEnd`` in
  ``tflite/tools/benchmark/benchmark_model.cc`` (google-ai-edge/LiteRT;
  ``tensorflow/lite/tools/benchmark/benchmark_model.cc`` in tensorflow/tensorflow);
* LiteRT's ms block: ``litert/tools/benchmark_litert_model.h`` (google-ai-edge/LiteRT);
* delegate lines: ``BenchmarkTfLiteModel::Init`` in ``benchmark_tflite_model.cc``,
  ``tools/delegates/gpu_delegate_provider.cc``, ``Subgraph::ReplaceNodeSubsetsWithDelegateKernels``;
* op tables: ``StatsCalculator::HeaderString``/``ColumnString``/``GetStatsByNodeType``
  in ``stats_calculator.cc`` (8 columns, node type width 40; older
  ``tensorflow/core/util/stats_calculator.cc``: 9 columns with ``[start]``, width 24),
  under the headings of ``tflite/profiling/profile_summary_formatter.cc``;
* ``--help=true``: ``Flags::Usage`` in ``tflite/tools/command_line_flags.cc``.

They are inputs for the parser, not measurements; every number was written here.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from latency_kit.backends.tflite_bench import (parse_benchmark_output, parse_delegations,
                                               parse_help_flags, parse_ms_block, parse_op_table,
                                               parse_stats_line, parse_summary_line)
from latency_kit.errors import DeviceError

FIXTURES = Path(__file__).parent / "fixtures" / "benchmark_model"


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text()

CPU_LOG = """\
INFO: STARTING!
INFO: Log parameter values verbosely: [0]
INFO: Min num runs: [50]
INFO: Num threads: [1]
INFO: Graph: [/data/local/tmp/latkit/models/3f2a.tflite]
INFO: #threads used for CPU inference: [1]
INFO: Use xnnpack: [1]
INFO: Loaded model /data/local/tmp/latkit/models/3f2a.tflite
INFO: Created TensorFlow Lite XNNPACK delegate for CPU.
INFO: Explicitly applied XNNPACK delegate, and the model graph will be completely executed by the delegate.
INFO: The input model file size (MB): 21.7341
INFO: Initialized session in 855.012ms.
INFO: Running benchmark for at least 3 iterations and at least 0 seconds but terminate if exceeding 150 seconds.
INFO: count=3 first=49060 curr=34012 min=34012 max=49060 avg=39294 std=7038

INFO: Running benchmark for at least 50 iterations and at least 0 seconds but terminate if exceeding 150 seconds.
INFO: count=50 first=32891 curr=33978 min=32641 max=34005 avg=33209.4 std=450

INFO: Inference timings in us: Init: 855, First inference: 49060, Warmup (avg): 34825.1, Inference (avg): 33209.4
INFO: Note: as the benchmark tool itself affects memory footprint, the following is only APPROXIMATE to the actual memory footprint of the model at runtime. Take the information at your one's discretion.
INFO: Memory footprint delta from the start of the tool (MB): init=31.4531 overall=38.9062
"""

# Older builds print without the "INFO: " prefix and add percentiles.
PLAIN_LOG = """\
STARTING!
Num runs: [20]
count=5 first=1210 curr=1102 min=1098 max=1210 avg=1131.8 std=43 p5=1098 median=1110 p95=1210
count=20 first=1101 curr=1093 min=1087 max=1140 avg=1099.6 std=12 p5=1088 median=1097 p95=1131
Inference timings in us: Init: 12310, First inference: 1210, Warmup (avg): 1131.8, Inference (avg): 1099.6
"""

T = "\t"
OP_LOG = CPU_LOG + f"""\
INFO: Profiling Info for Benchmark Initialization:
============================== Run Order ==============================
{T}             [node type]{T}          [start]{T}  [first]{T} [avg ms]{T}     [%]{T}  [cdf%]{T}  [mem KB]{T}[times called]{T}[Name]
{T} ModifyGraphWithDelegate{T}            0.000{T}  812.114{T}  812.114{T} 99.310%{T} 99.310%{T} 22016.000{T}        1{T}ModifyGraphWithDelegate/0
{T}         AllocateTensors{T}          812.180{T}    5.640{T}    5.640{T}  0.690%{T}100.000%{T}     0.000{T}        1{T}AllocateTensors/0

Timings (microseconds): count=1 curr=817754
Memory (bytes): count=0
2 nodes observed

INFO: Operator-wise Profiling Info for Regular Benchmark Runs:
============================== Run Order ==============================
{T}             [node type]{T}          [start]{T}  [first]{T} [avg ms]{T}     [%]{T}  [cdf%]{T}  [mem KB]{T}[times called]{T}[Name]
{T}                 CONV_2D{T}            0.000{T}    1.412{T}    1.388{T}  4.182%{T}  4.182%{T}     0.000{T}        1{T}[model/conv2d]:0
{T}       DEPTHWISE_CONV_2D{T}            1.391{T}    0.861{T}    0.845{T}  2.546%{T}  6.728%{T}     0.000{T}        1{T}[model/dwconv]:1
{T}              HARD_SWISH{T}            2.238{T}    0.120{T}    0.119{T}  0.359%{T}  7.087%{T}     0.000{T}        1{T}[model/hswish]:2

============================== Top by Computation Time ==============================
{T}             [node type]{T}          [start]{T}  [first]{T} [avg ms]{T}     [%]{T}  [cdf%]{T}  [mem KB]{T}[times called]{T}[Name]
{T}                 CONV_2D{T}            0.000{T}    1.412{T}    1.388{T}  4.182%{T}  4.182%{T}     0.000{T}        1{T}[model/conv2d]:0

Number of nodes executed: 3
Timings (microseconds): count=50 first=32810 curr=33902 min=32588 max=33950 avg=33190.2 std=447
"""

GPU_LOG = """\
INFO: STARTING!
INFO: Use gpu: [1]
INFO: Created TensorFlow Lite delegate for GPU.
INFO: GPU delegate created.
INFO: Replacing 98 out of 98 node(s) with delegate (TfLiteGpuDelegateV2) node, yielding 1 partitions for the whole graph.
INFO: count=10 first=9120 curr=8011 min=7902 max=9120 avg=8164.5 std=341
INFO: count=50 first=8003 curr=7991 min=7850 max=8230 avg=7990.2 std=77
INFO: Inference timings in us: Init: 301223, First inference: 9120, Warmup (avg): 8164.5, Inference (avg): 7990.2
INFO: Operator-wise Profiling Info for Regular Benchmark Runs:
============================== Run Order ==============================
\t             [node type]\t          [start]\t  [first]\t [avg ms]\t     [%]\t  [cdf%]\t  [mem KB]\t[times called]\t[Name]
\t TfLiteGpuDelegateV2\t            0.000\t    8.980\t    7.962\t100.000%\t100.000%\t     0.000\t        1\t[TfLiteGpuDelegateV2]:98
"""


def test_summary_line() -> None:
    line = ("Inference timings in us: Init: 855, First inference: 49060, "
            "Warmup (avg): 34825.1, Inference (avg): 33209.4")
    assert parse_summary_line("INFO: " + line) == {
        "Init": 0.855, "First inference": 49.06, "Warmup (avg)": 34.8251,
        "Inference (avg)": 33.2094}
    assert parse_summary_line("INFO: Num threads: [1]") is None


def test_stats_line() -> None:
    stats = parse_stats_line("count=50 first=32891 curr=33978 min=32641 max=34005 avg=33209.4 std=450")
    assert stats.count == 50 and stats.avg_ms == pytest.approx(33.2094)
    assert (stats.min_ms, stats.max_ms, stats.std_ms) == (32.641, 34.005, 0.45)
    assert parse_stats_line("Timings (microseconds): count=50 first=1 avg=2") is None
    assert parse_stats_line("Memory (bytes): count=0") is None


def test_stats_line_every_form_of_stat_output_to_stream() -> None:
    """The four branches of ``Stat::OutputToStream`` plus ``StatWithPercentiles``'
    suffix (``xla/tsl/util/stats_calculator.h``, tensorflow/tensorflow)."""
    same = parse_stats_line("INFO: count=5 curr=41(all same)")
    assert (same.count, same.avg_ms, same.min_ms, same.max_ms, same.std_ms) == (5, 0.041, 0.041, 0.041, 0.0)
    one = parse_stats_line("count=1 curr=688 p5=688 median=688 p95=688")
    assert (one.count, one.avg_ms, one.first_ms, one.median_ms) == (1, 0.688, 0.688, 0.688)
    same_pct = parse_stats_line("count=4 curr=500(all same) p5=500 median=500 p95=500")
    assert same_pct.avg_ms == 0.5 and same_pct.p95_ms == 0.5
    big = parse_stats_line("count=3 first=1204551 curr=1187002 min=1187002 max=1204551 "
                           "avg=1.19389e+06 std=7512 p5=1187002 median=1190120 p95=1204551")
    assert big.avg_ms == pytest.approx(1193.89) and big.p5_ms == pytest.approx(1187.002)
    none = parse_stats_line("count=0")
    assert none.count == 0 and none.avg_ms is None


def test_cpu_log() -> None:
    result = parse_benchmark_output(CPU_LOG)
    assert result.avg_ms == pytest.approx(33.2094)
    assert result.init_ms == pytest.approx(0.855) and result.first_ms == pytest.approx(49.06)
    assert result.warmup.count == 3 and result.runs.count == 50
    assert result.runs.avg_ms == pytest.approx(result.avg_ms)
    assert result.ops == []


def test_plain_log_with_percentiles() -> None:
    result = parse_benchmark_output(PLAIN_LOG)
    assert result.avg_ms == pytest.approx(1.0996)
    assert result.runs.median_ms == pytest.approx(1.097) and result.warmup.count == 5


def test_op_table_skips_initialisation_and_summaries() -> None:
    result = parse_benchmark_output(OP_LOG)
    assert [op.node_type for op in result.ops] == ["CONV_2D", "DEPTHWISE_CONV_2D", "HARD_SWISH"]
    conv = result.ops[0]
    assert conv.avg_ms == pytest.approx(1.388) and conv.percent == pytest.approx(4.182)
    assert conv.times_called == 1 and conv.name == "[model/conv2d]:0"
    assert result.avg_ms == pytest.approx(33.2094)  # the table's "Timings" line is not the result


def test_gpu_delegate_is_one_node() -> None:
    ops = parse_op_table(GPU_LOG)
    assert len(ops) == 1 and ops[0].node_type == "TfLiteGpuDelegateV2"
    assert parse_benchmark_output(GPU_LOG).avg_ms == pytest.approx(7.9902)


def test_no_timings_is_device_error() -> None:
    log = "INFO: STARTING!\nERROR: Could not open '/data/local/tmp/latkit/models/x.tflite'.\n"
    with pytest.raises(DeviceError, match="Could not open"):
        parse_benchmark_output(log)


def test_warmup_and_timed_runs_in_the_order_run_prints_them() -> None:
    """``BenchmarkModel::Run`` runs the warm-up first, the timed runs second, each
    announced by "Running benchmark for at least ..." (``benchmark_model.cc``). A
    single timed run prints ``count=1 curr=X`` and must not be mistaken for nothing."""
    result = parse_benchmark_output(fixture("litert_one_timed_run.log"))
    assert result.warmup.count == 3 and result.warmup.avg_ms == pytest.approx(0.863)
    assert result.runs.count == 1 and result.runs.avg_ms == pytest.approx(0.688)
    assert result.runs.p95_ms == pytest.approx(0.688)


def test_all_same_timed_runs_are_the_timed_runs() -> None:
    """``count=5 curr=41(all same)``: every timed run took 41 us (``Stat::OutputToStream``)."""
    result = parse_benchmark_output(fixture("all_same.log"))
    assert result.runs.count == 5 and result.runs.avg_ms == pytest.approx(0.041)
    assert result.runs.std_ms == 0.0 and result.warmup.count == 3


def test_more_runs_than_warmup_and_timed_is_an_error() -> None:
    log = fixture("all_same.log")
    block = "INFO: Running benchmark for at least 5 iterations and at least 0 seconds but terminate if exceeding 150 seconds.\nINFO: count=5 curr=41(all same)\n"
    with pytest.raises(DeviceError, match="3 benchmark runs"):
        parse_benchmark_output(log + block)


def test_timed_runs_with_no_run_is_an_error() -> None:
    log = fixture("all_same.log").replace("count=5 curr=41(all same)", "count=0")
    log = log.replace("Inference (avg): 41", "Inference (avg): nan")
    with pytest.raises(DeviceError, match="no timed inference"):
        parse_benchmark_output(log)


def test_op_table_current_layout_by_header() -> None:
    """8 columns, ``[node type]`` right-aligned in 40 (``xla/tsl/util/stats_calculator.cc``
    ``HeaderString``/``ColumnString``); the init table, "Top by Computation Time" and
    "Summary by node type" (``GetStatsByNodeType``, other columns) are not rows."""
    ops = parse_benchmark_output(fixture("gpu_partial_op_profiling.log")).ops
    assert [op.node_type for op in ops] == ["TfLiteGpuDelegateV2", "HARD_SWISH", "TfLiteGpuDelegateV2", "MEAN"]
    assert ops[1].avg_ms == pytest.approx(0.204) and ops[1].first_ms == pytest.approx(0.219)
    assert ops[1].percent == pytest.approx(7.834) and ops[-1].cdf_percent == pytest.approx(100.0)
    assert ops[1].name == "[model/hswish_1]:41" and ops[1].times_called == 1
    assert all(op.start_ms is None for op in ops)


def test_op_table_older_layout_with_start_column() -> None:
    """9 columns with ``[start]``, type width 24 (``tensorflow/core/util/stats_calculator.cc``)."""
    ops = parse_op_table(fixture("cpu_start_column.log"))
    assert [op.node_type for op in ops] == ["CONV_2D", "DEPTHWISE_CONV_2D", "HARD_SWISH", "CONV_2D"]
    assert [op.start_ms for op in ops] == pytest.approx([0.0, 0.287, 0.463, 0.501])
    assert ops[2].avg_ms == pytest.approx(0.038) and ops[3].name == "[model/block/project]:3"


def test_op_table_ignores_unknown_extra_columns() -> None:
    log = fixture("gpu_partial_op_profiling.log")
    head, table = log.split("Operator-wise Profiling Info for Regular Benchmark Runs:\n", 1)
    lines = table.splitlines(keepends=True)
    lines[1] = lines[1].replace("\t[Name]", "\t  [flops]\t[Name]")
    for i in range(2, 6):
        cells = lines[i].split("\t")
        lines[i] = "\t".join(cells[:-1] + ["   1.500", cells[-1]])
    ops = parse_op_table(head + "Operator-wise Profiling Info for Regular Benchmark Runs:\n" + "".join(lines))
    assert len(ops) == 4 and ops[3].name == "[model/pool/Mean]:43" and ops[3].avg_ms == pytest.approx(0.087)


def test_op_table_present_but_unreadable_is_an_error() -> None:
    log = fixture("gpu_partial_op_profiling.log")
    head, table = log.split("Operator-wise Profiling Info for Regular Benchmark Runs:\n", 1)
    lines = table.splitlines(keepends=True)
    empty = head + "Operator-wise Profiling Info for Regular Benchmark Runs:\n" + "".join(lines[:2] + lines[6:])
    with pytest.raises(DeviceError, match="no rows"):
        parse_op_table(empty)
    no_avg = log.replace("[avg ms]", "[mean ms]")
    with pytest.raises(DeviceError, match="lacks avg ms"):
        parse_op_table(no_avg)
    garbled = log.replace("    1.702\t", "    n/a\t", 1)
    with pytest.raises(DeviceError, match=r"log line 62\) is not numeric"):
        parse_op_table(garbled)
    assert parse_op_table(fixture("all_same.log")) == []  # no op profiling asked for


def test_delegation_lines() -> None:
    """The three outcomes ``BenchmarkTfLiteModel::Init`` logs per applied delegate, the
    provider's "unsupported on this platform" warning and the interpreter's
    ``Replacing N out of M node(s)`` line."""
    gpu = parse_benchmark_output(fixture("gpu_partial_op_profiling.log")).delegations["GPU"]
    assert (gpu.executed, gpu.kernels, gpu.nodes, gpu.total_nodes, gpu.partitions) == ("partial", 2, 41, 44, 3)
    nnapi = parse_benchmark_output(fixture("nnapi_not_executed.log")).delegations["NNAPI"]
    assert nnapi.executed == "none"
    xnn = parse_benchmark_output(fixture("litert_one_timed_run.log")).delegations["XNNPACK"]
    assert (xnn.executed, xnn.nodes, xnn.total_nodes) == ("full", 12, 12)
    assert parse_delegations("WARN: GPU acceleration is unsupported on this platform.\n")["GPU"].executed == "none"
    old = "INFO: Replacing 98 node(s) with delegate (TfLiteGpuDelegateV2) node, yielding 1 partitions.\n" \
          "INFO: Explicitly applied GPU delegate, and the model graph will be completely executed by the delegate.\n"
    assert parse_delegations(old)["GPU"].nodes == 98 and parse_delegations(old)["GPU"].total_nodes is None
    assert parse_benchmark_output(fixture("cpu_start_column.log")).delegations == {}


def test_gpu_precision_echo() -> None:
    """``LOG_TOOL_PARAM`` echoes a set flag as "Allow lower precision in gpu: [1]"."""
    assert parse_benchmark_output(fixture("gpu_partial_op_profiling.log")).gpu_precision_loss_allowed is True
    assert parse_benchmark_output(fixture("all_same.log")).gpu_precision_loss_allowed is None


def test_peak_memory() -> None:
    """"Overall peak memory footprint (MB) via periodic monitoring: X" (benchmark_model.cc)
    and LiteRT's "Peak memory: X MB"; the older "Peak memory footprint (MB): init=..
    overall=.." is a footprint delta, not the monitored peak."""
    assert parse_benchmark_output(fixture("gpu_partial_op_profiling.log")).peak_memory_mb == pytest.approx(41.2539)
    assert parse_benchmark_output(fixture("litert_ms_block.log")).peak_memory_mb == pytest.approx(23.75)
    assert parse_benchmark_output(fixture("cpu_start_column.log")).peak_memory_mb is None


def test_litert_ms_block() -> None:
    """``BenchmarkLoggingListener::OnBenchmarkEnd`` in ``litert/tools/benchmark_litert_model.h``."""
    log = fixture("litert_ms_block.log")
    block = parse_ms_block(log)
    assert block["Inference (avg)"] == 1.88 and block["Inference (avg) runs"] == 531
    assert block["Warmup (first)"] == 2.41 and block["Inference (std)"] == 0.03
    result = parse_benchmark_output(log)
    assert result.avg_ms == pytest.approx(1.88247)  # the timed runs' us line is more precise
    assert (result.init_ms, result.first_ms, result.warmup_avg_ms) == (41.07, 2.41, 2.0)
    only_block = "\n".join(line for line in log.splitlines() if "count=" not in line)
    assert parse_benchmark_output(only_block).avg_ms == 1.88
    with pytest.raises(DeviceError, match="without an 'Inference \\(avg\\)"):
        parse_ms_block("\n".join(line for line in log.splitlines() if "Inference (avg)" not in line))


def test_help_flags() -> None:
    """``benchmark_model --help=true`` lists ``\\t--name=default\\ttype\\toptional\\t...``."""
    current = parse_help_flags(fixture("help_current.log"))
    assert {"report_peak_memory_footprint", "gpu_precision_loss_allowed", "use_gpu"} <= current
    old = parse_help_flags(fixture("help_old.log"))
    assert "use_gpu" in old and "report_peak_memory_footprint" not in old
    assert parse_help_flags("INFO: STARTING!\nERROR: Please specify the name of your TF Lite input file with --graph\n") == set()
