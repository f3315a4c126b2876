"""Parsers of TFLite ``benchmark_model`` output, on logs in the tool's documented format.

The samples below are written by hand in the exact line format DESIGN.md
section 4 quotes (summary line, ``count=`` statistics lines, the tab-separated
op-profiling table); they are inputs for the parser, not measurements.
"""

from __future__ import annotations

import pytest

from latency_kit.backends.tflite_bench import (parse_benchmark_output, parse_op_table,
                                               parse_stats_line, parse_summary_line)
from latency_kit.errors import DeviceError

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
