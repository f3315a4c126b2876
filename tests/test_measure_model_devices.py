"""``latkit measure --model`` and ``--ops`` beyond ONNX Runtime (issue 18):
phones, ``ssh://`` boards, TensorRT, torch-CUDA.

Sources the inputs follow (no number here is a measurement):

* ``tests/fixtures/benchmark_model/xnnpack_op_profiling.log`` (see its
  README.md): ``benchmark_model --use_xnnpack=true --enable_op_profiling=true``
  as a current build prints it. The Run Order table is laid out by
  ``StatsCalculator::HeaderString``/``ColumnString`` in
  ``third_party/xla/xla/tsl/util/stats_calculator.cc`` (tensorflow/tensorflow;
  8 columns, node type width 40), its rows named by
  ``ProfileSummarizer::ProcessProfiles`` in ``tflite/profiling/profile_summarizer.cc``
  and its heading by ``tflite/profiling/profile_summary_formatter.cc``
  (google-ai-edge/LiteRT). XNNPACK's own operators come from
  ``AddEventsToProfiler`` in ``xnnpack_delegate.cc``
  (``DELEGATE_PROFILED_OPERATOR_INVOKE_EVENT``): rows ``Delegate/<name>:<i>``
  right after the ``TfLiteXNNPackDelegate`` node that contains them.
* The TensorRT stand-ins follow the Python API: ``trt.IProfiler`` subclasses
  call ``IProfiler.__init__`` and implement ``report_layer_time(layer_name,
  ms)``, called once per layer per execution; engine inspector JSON as in the
  TensorRT developer guide ("Engine Inspector": ``{"Layers": [{"Name",
  "LayerType", "Inputs": [{"Name", "Dimensions", "Format/Datatype"}]}]}``, or
  plain layer names under ``LAYER_NAMES_ONLY``).
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from click.testing import CliRunner

import latency_kit
from latency_kit.backends import backend_class
from latency_kit.backends.android import AndroidBackend, file_input_flags
from latency_kit.backends.base import MODEL_FILE_DEVICES, Backend, ModelSpec
from latency_kit.backends.gpu import CudaRun, GpuBackend
from latency_kit.backends.litert import LiteRTBackend
from latency_kit.backends.ssh import SSHBackend
from latency_kit.backends.tensorrt import (TensorRTBackend, layer_collector, layer_op_times,
                                           parse_layer_info)
from latency_kit.backends.tflite_bench import (OpTiming, op_times, parse_benchmark_output,
                                               parse_op_table, row_ms)
from latency_kit.backends.torch_cuda import TorchCudaBackend
from latency_kit.cli import main
from latency_kit.errors import DeviceError, LatkitError
from latency_kit.measure.model import check_format, check_model_file, op_rows

FIXTURES = Path(__file__).parent / "fixtures" / "benchmark_model"
XNNPACK_LOG = (FIXTURES / "xnnpack_op_profiling.log").read_text()
SECTION = "Operator-wise Profiling Info for Regular Benchmark Runs"


def _cli(*args: str):
    return CliRunner().invoke(main, ["measure", *args])


def _one_line(result) -> str:
    assert result.exit_code != 0
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    return lines[0]


# -- benchmark_model's op table -------------------------------------------------

def test_run_order_table_current_layout() -> None:
    rows = parse_op_table(XNNPACK_LOG)
    assert [r.node_type for r in rows] == [
        "TfLiteXNNPackDelegate", "Convolution (NHWC, F32) IGEMM", "Convolution (NHWC, F32) DWConv",
        "Convolution (NHWC, F32) GEMM", "Convolution (NHWC, F32) DWConv",
        "Global Average Pooling (NWC, F32)", "Fully Connected (NC, F32) GEMM", "ARG_MAX"]
    assert rows[0].name == "[model/classifier/BiasAdd]:7" and rows[0].avg_ms == pytest.approx(1.688)
    assert rows[1].name == "Delegate/Convolution (NHWC, F32) IGEMM:0"
    assert rows[0].percent == pytest.approx(50.843) and rows[-1].cdf_percent == pytest.approx(100.0)
    assert all(r.times_called == 1 and r.start_ms is None for r in rows)


def test_op_times_count_the_delegate_once() -> None:
    result = parse_benchmark_output(XNNPACK_LOG)
    ops = op_times(result.ops)
    assert [o.name for o in ops] == [
        "TfLiteXNNPackDelegate (outside its operators)",
        "Delegate/Convolution (NHWC, F32) IGEMM:0", "Delegate/Convolution (NHWC, F32) DWConv:1",
        "Delegate/Convolution (NHWC, F32) GEMM:2", "Delegate/Convolution (NHWC, F32) DWConv:3",
        "Delegate/Global Average Pooling (NWC, F32):4", "Delegate/Fully Connected (NC, F32) GEMM:5",
        "[model/argmax]:6"]
    assert ops[0].run_ms == [pytest.approx(1.688 - 1.623)]
    assert ops[1].op_type == "Convolution (NHWC, F32) IGEMM" and ops[1].provider == "TfLiteXNNPackDelegate"
    assert ops[-1].op_type == "ARG_MAX" and ops[-1].provider == ""
    assert all(o.input_shapes == [] for o in ops)
    rows = op_rows(ops)
    total = sum(r.ms for r in rows)
    # the delegate node's 1.688 ms plus ARG_MAX's 0.009 ms, not the tool's double-counted 3.320 ms
    assert total == pytest.approx(1.697)
    assert abs(total - result.avg_ms) / result.avg_ms < 0.10
    assert sum(r.share for r in rows) == pytest.approx(1.0)


def test_op_times_without_delegate_operators_keep_the_delegate_node() -> None:
    ops = op_times(parse_op_table((FIXTURES / "gpu_partial_op_profiling.log").read_text()))
    assert [o.op_type for o in ops] == ["TfLiteGpuDelegateV2", "HARD_SWISH", "TfLiteGpuDelegateV2", "MEAN"]
    assert [o.provider for o in ops] == ["TfLiteGpuDelegateV2", "", "TfLiteGpuDelegateV2", ""]
    assert sum(o.run_ms[0] for o in ops) == pytest.approx(1.702 + 0.204 + 0.611 + 0.087)


def _row(node_type: str, avg: float, name: str, called: int = 1) -> OpTiming:
    return OpTiming(node_type, avg, avg, 0.0, 0.0, 0.0, called, name)


def test_op_times_per_delegate_type_when_partitions_merge_rows() -> None:
    """Operator indices restart per partition, so the tool may merge a second
    partition's operators into the first's rows: the residual is per delegate type."""
    rows = [_row("TfLiteXNNPackDelegate", 1.0, "[a]:5"), _row("Add (ND, F32)", 0.5, "Delegate/Add (ND, F32):0", 2),
            _row("TOPK_V2", 0.2, "[b]:3"), _row("TfLiteXNNPackDelegate", 0.6, "[c]:6")]
    ops = op_times(rows)
    assert [o.name for o in ops] == ["TfLiteXNNPackDelegate (outside its operators)",
                                     "Delegate/Add (ND, F32):0", "[b]:3"]
    assert ops[0].run_ms == [pytest.approx(0.6)] and ops[1].run_ms == [1.0]
    assert sum(o.run_ms[0] for o in ops) == pytest.approx(1.0 + 0.2 + 0.6)


def test_row_ms_is_per_call_times_calls_per_run() -> None:
    assert row_ms(_row("WHILE", 0.25, "[w]:1", called=4)) == 1.0
    assert row_ms(_row("IF", 0.25, "[i]:2", called=0)) == 0.25  # ran in fewer runs than all


def test_op_section_without_rows_is_an_error() -> None:
    head, _, tail = XNNPACK_LOG.partition(SECTION)
    table = tail.split("\n")
    header_at = next(i for i, line in enumerate(table) if "[node type]" in line)
    first_blank = next(i for i, line in enumerate(table) if i > header_at and not line.strip())
    empty = head + SECTION + "\n".join(table[:header_at + 1] + table[first_blank:])
    with pytest.raises(DeviceError, match="has no rows"):
        parse_op_table(empty)
    with pytest.raises(DeviceError, match="without its Run Order table"):
        parse_op_table(head + SECTION + ":\nINFO: nothing else\n")


# -- which device runs which file --------------------------------------------------

@pytest.mark.parametrize("device, suffix, needles", [
    ("cpu", ".tflite", ["tflite-cpu", "Android phone", "ssh://"]),
    ("tflite-cpu", ".onnx", ["--device cpu", "tensorrt"]),
    ("ssh://pi@board", ".onnx", ["--device cpu", "tensorrt"]),
    ("tensorrt", ".tflite", ["tflite-cpu", "ssh://"]),
    ("torch-cuda", ".onnx", ["cannot run a model file", "tensorrt", "--device cpu"]),
])
def test_check_model_file_names_the_devices_that_run_it(tmp_path, device, suffix, needles) -> None:
    path = tmp_path / f"m{suffix}"
    path.write_bytes(b"x")
    with pytest.raises(LatkitError) as err:
        check_model_file(path, device)
    assert all(n in str(err.value) for n in needles), str(err.value)


@pytest.mark.parametrize("device, suffix", [("tensorrt", ".onnx"), ("gpu", ".onnx"),
                                            ("ssh://pi@board", ".tflite"), ("cpu", ".onnx"),
                                            ("tflite-cpu", ".tflite")])
def test_check_model_file_accepts(tmp_path, device, suffix) -> None:
    path = tmp_path / f"m{suffix}"
    path.write_bytes(b"x")
    assert check_model_file(path, device) == path


def test_phone_runs_tflite_only(tmp_path) -> None:
    check_format(AndroidBackend, "pixel", tmp_path / "m.tflite")
    with pytest.raises(LatkitError, match="--device cpu"):
        check_format(AndroidBackend, "pixel", tmp_path / "m.onnx")


def test_model_formats_agree_with_the_advice() -> None:
    for device in ("cpu", "tflite-cpu", "tensorrt", "gpu", "ssh://pi@board", "torch-cuda"):
        assert set(backend_class(device).model_formats) <= set(MODEL_FILE_DEVICES)
    assert AndroidBackend.model_formats == (".tflite",)
    assert TorchCudaBackend.model_formats == ()
    for suffix, text in MODEL_FILE_DEVICES.items():
        runs = [d for d in ("cpu", "tflite-cpu", "tensorrt", "gpu", "ssh://pi@board")
                if suffix in backend_class(d).model_formats]
        assert all(d.split(":")[0] in text for d in runs), (suffix, runs)


def _gpu_choosing(inner: Backend) -> GpuBackend:
    """``--device gpu`` as opened on a machine where it chose ``inner``'s runtime."""
    gpu = object.__new__(GpuBackend)
    gpu.inner = inner
    gpu.runtime = inner.runtime  # type: ignore[misc]
    gpu.model_formats = inner.model_formats  # type: ignore[misc]
    return gpu


def test_gpu_on_torch_cuda_refuses_files_and_ops(tmp_path) -> None:
    gpu = _gpu_choosing(object.__new__(TorchCudaBackend))
    with pytest.raises(LatkitError, match="cannot run a model file.*tensorrt"):
        check_format(gpu, "gpu", tmp_path / "m.onnx")
    with pytest.raises(LatkitError, match="torch-cuda.*no per-operator profiler"):
        gpu.check_profile_ops()
    trt = _gpu_choosing(object.__new__(TensorRTBackend))
    check_format(trt, "gpu", tmp_path / "m.onnx")
    trt.check_profile_ops()  # TensorRT has IProfiler


def test_torch_cuda_prepare_refuses_a_file() -> None:
    backend = object.__new__(TorchCudaBackend)
    backend.device = "torch-cuda"
    with pytest.raises(LatkitError, match="not model files.*tensorrt"):
        backend.prepare(ModelSpec.for_file("/x/net.onnx"))


def test_runtimes_without_an_op_profiler_say_so() -> None:
    for cls in (LiteRTBackend, SSHBackend, TorchCudaBackend):
        assert cls.profile_ops is Backend.profile_ops
    with pytest.raises(LatkitError, match="no per-operator profiler"):
        LiteRTBackend().check_profile_ops()
    for cls in (AndroidBackend, TensorRTBackend, GpuBackend):
        assert cls.profile_ops is not Backend.profile_ops


# -- one-line errors through the CLI ----------------------------------------------

def test_cli_torch_cuda_file_is_one_line(tmp_path) -> None:
    (tmp_path / "m.onnx").write_bytes(b"x")
    line = _one_line(_cli("--device", "torch-cuda", "--model", str(tmp_path / "m.onnx")))
    assert "torch-cuda" in line and "tensorrt" in line and "--device cpu" in line


def test_cli_ssh_ops_fails_before_connecting(tmp_path) -> None:
    (tmp_path / "m.tflite").write_bytes(b"x")
    line = _one_line(_cli("--device", "ssh://nobody@192.0.2.1", "--model", str(tmp_path / "m.tflite"),
                          "--ops"))
    assert "no per-operator profiler" in line and "litert" in line


def test_cli_torch_cuda_ops_names_the_format_first(tmp_path) -> None:
    (tmp_path / "m.onnx").write_bytes(b"x")
    line = _one_line(_cli("--device", "torch-cuda", "--model", str(tmp_path / "m.onnx"), "--ops"))
    assert "cannot run a model file" in line


def test_cli_wrong_format_for_cpu_names_the_tflite_devices(tmp_path) -> None:
    (tmp_path / "m.tflite").write_bytes(b"x")
    line = _one_line(_cli("--device", "cpu", "--model", str(tmp_path / "m.tflite")))
    assert "tflite-cpu" in line and "ssh://user@host" in line and "phone" in line


# -- a phone: benchmark_model with the pushed file ---------------------------------

def _phone(tool_flags: frozenset[str], log: str, calls: list[list[str]]) -> AndroidBackend:
    """An :class:`AndroidBackend` whose adb shell answers with ``log`` (no phone needed)."""
    phone = object.__new__(AndroidBackend)
    phone.threads, phone.warmup_runs, phone.delegate = 1, 3, "cpu"
    phone.delegate_flags, phone.tool_flags, phone.core_mask = ["--use_xnnpack=true"], tool_flags, "f0"
    phone.op_profiling, phone.compute_precision, phone._lost, phone._warned = False, None, False, set()
    phone.binary = Path("android_aarch64_benchmark_model")
    phone.phone = SimpleNamespace(model="Pixel 8", serial="X1")
    phone.thermal_guard = lambda: {"cpu_temp_c": 35.0}  # type: ignore[method-assign]

    def shell(args: list[str], timeout: float = 30.0) -> str:
        calls.append(args)
        return log
    phone._shell = shell  # type: ignore[method-assign]
    return phone


def test_phone_profile_ops_runs_the_tool_with_op_profiling() -> None:
    calls: list[list[str]] = []
    phone = _phone(frozenset({"enable_op_profiling", "graph"}), XNNPACK_LOG, calls)
    prepared = latency_kit.backends.Prepared(
        ModelSpec.for_file("net.tflite"), state="/data/local/tmp/latkit/models/model-ab.tflite",
        info={"input_flags": ["--input_layer=x", "--input_layer_shape=2,8,8,3"]})
    phone.check_profile_ops()
    ops = phone.profile_ops(prepared, runs=20, warmup=7)
    args = calls[-1]
    assert args[:2] == ["taskset", "f0"] and "--enable_op_profiling=true" in args
    assert "--graph=/data/local/tmp/latkit/models/model-ab.tflite" in args
    assert "--warmup_runs=7" in args and "--num_runs=20" in args
    assert "--input_layer=x" in args and "--input_layer_shape=2,8,8,3" in args
    assert ops[0].name == "TfLiteXNNPackDelegate (outside its operators)" and len(ops) == 8
    assert prepared.info["entry"]["delegation"] == "partial"


def test_phone_without_op_section_or_flag_is_an_error() -> None:
    plain = (FIXTURES / "all_same.log").read_text()
    phone = _phone(frozenset({"enable_op_profiling"}), plain, [])
    prepared = latency_kit.backends.Prepared(ModelSpec.for_file("n.tflite"), state="/data/local/tmp/m.tflite")
    with pytest.raises(DeviceError, match="no 'Operator-wise Profiling Info"):
        phone.profile_ops(prepared, runs=5)
    old = _phone(frozenset({"graph", "num_runs"}), plain, [])
    with pytest.raises(LatkitError, match="does not list --enable_op_profiling"):
        old.check_profile_ops()


@pytest.fixture(scope="module")
def tiny_tflite(tmp_path_factory):
    pytest.importorskip("ai_edge_litert")
    pytest.importorskip("litert_torch")
    from latency_kit.convert.tflite import convert_module

    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU())
    return convert_module(net, (1, 3, 8, 8), tmp_path_factory.mktemp("m") / "tiny.tflite")


def test_phone_input_flags_from_the_file(tiny_tflite) -> None:
    shapes, flags = file_input_flags(ModelSpec.for_file(str(tiny_tflite)))
    (name, shape), = shapes.items()
    assert shape == [1, 8, 8, 3] and flags == []  # the file's own shapes: no flags
    shapes, flags = file_input_flags(ModelSpec.for_file(str(tiny_tflite), {name: (2, 8, 8, 3)}))
    assert shapes == {name: [2, 8, 8, 3]}
    assert flags == [f"--input_layer={name}", "--input_layer_shape=2,8,8,3"]
    with pytest.raises(LatkitError, match="dimensions"):
        file_input_flags(ModelSpec.for_file(str(tiny_tflite), {name: (2, 8)}))


def test_ssh_board_takes_the_file_shapes_only(tiny_tflite, tmp_path) -> None:
    board = object.__new__(SSHBackend)
    board.device = "ssh://pi@board"
    (name, shape), = board.file_shapes(ModelSpec.for_file(str(tiny_tflite))).items()
    assert shape == [1, 8, 8, 3]
    with pytest.raises(LatkitError, match="--shape.*saved with"):
        board.file_shapes(ModelSpec.for_file(str(tiny_tflite), {name: (2, 8, 8, 3)}))
    (tmp_path / "bad.tflite").write_bytes(b"garbage")
    with pytest.raises(LatkitError, match="LiteRT cannot load"):
        board.file_shapes(ModelSpec.for_file(str(tmp_path / "bad.tflite")))


# -- TensorRT: IProfiler per layer ------------------------------------------------

class StandInIProfiler:
    """``tensorrt.IProfiler``'s Python API: subclasses call ``__init__`` and
    implement ``report_layer_time(layer_name, ms)``."""

    def __init__(self) -> None:
        self.initialised = True

    def report_layer_time(self, layer_name: str, ms: float) -> None:
        raise NotImplementedError


LAYERS = ["/conv1/Conv + /relu1/Relu", "Reformatting CopyNode for Input Tensor 0 to /pool/GlobalAveragePool",
          "/pool/GlobalAveragePool", "/fc/Gemm"]
LAYER_MS = [0.21, 0.01, 0.03, 0.05]
DETAILED = json.dumps({"Layers": [
    {"Name": LAYERS[0], "LayerType": "CaskConvolution",
     "Inputs": [{"Name": "input", "Dimensions": [1, 3, 224, 224], "Format/Datatype": "Row major linear FP32"}],
     "Outputs": [{"Name": "/relu1/Relu_output_0", "Dimensions": [1, 64, 112, 112],
                  "Format/Datatype": "Row major linear FP32"}],
     "ParameterType": "Convolution", "Kernel": [7, 7], "Stride": [2, 2], "Groups": 1},
    {"Name": LAYERS[1], "LayerType": "Reformat", "Inputs": [{"Name": "/relu1/Relu_output_0",
                                                             "Dimensions": [1, 64, 112, 112]}]},
    {"Name": LAYERS[2], "LayerType": "CaskPooling", "Inputs": [{"Dimensions": [1, 64, 112, 112]}]},
    {"Name": LAYERS[3], "LayerType": "CaskGemmMatrixMultiply", "Inputs": [{"Dimensions": [1, 64]}]},
], "Bindings": ["input", "output"]})


def _execute(profiler, scale: float = 1.0) -> None:
    """One execution as TensorRT reports it: each engine layer once, in order."""
    for name, ms in zip(LAYERS, LAYER_MS):
        profiler.report_layer_time(name, ms * scale)


def test_layer_collector_follows_iprofiler() -> None:
    collector = layer_collector(StandInIProfiler)()
    assert isinstance(collector, StandInIProfiler) and collector.initialised
    for scale in (5.0, 1.0, 1.1, 0.9):  # a slow first (warm-up) run, then three
        collector.next_run()
        _execute(collector, scale)
    collector.report_layer_time(LAYERS[3], 0.05)  # reported twice in the last run: adds up
    assert list(collector.order) == LAYERS and len(collector.runs) == 4
    ops = layer_op_times(collector.runs[1:], list(collector.order), parse_layer_info(DETAILED))
    assert [o.name for o in ops] == LAYERS
    assert ops[0].op_type == "CaskConvolution" and ops[0].input_shapes == [[1, 3, 224, 224]]
    assert ops[0].run_ms == pytest.approx([0.21, 0.231, 0.189]) and ops[0].provider == "TensorRT"
    assert ops[3].run_ms == pytest.approx([0.05, 0.055, 0.095])
    rows = op_rows(ops)
    assert rows[0].ms == pytest.approx(0.21) and sum(r.share for r in rows) == pytest.approx(1.0)


def test_layer_info_forms() -> None:
    names_only = parse_layer_info(json.dumps({"Layers": LAYERS, "Bindings": []}))
    assert names_only == {name: ("", []) for name in LAYERS}
    assert parse_layer_info("not json") == {} and parse_layer_info("") == {}
    ops = layer_op_times([{LAYERS[0]: 0.2}], [LAYERS[0]], {})
    assert ops[0].op_type == "" and ops[0].input_shapes == []
    with pytest.raises(LatkitError, match="no layer time"):
        layer_op_times([{}], [], {})


class _FakeContext:
    def __init__(self, engine: "_FakeEngine") -> None:
        self.engine, self.profiler, self.addresses, self.shapes = engine, None, {}, {}

    def set_input_shape(self, name: str, shape) -> None:
        self.shapes[name] = tuple(shape)

    def set_tensor_address(self, name: str, ptr: int) -> None:
        self.addresses[name] = ptr

    def execute_async_v3(self, stream: int) -> bool:
        assert set(self.addresses) == {"input", "output"} and self.shapes == {"input": (1, 3, 224, 224)}
        if self.profiler is not None:
            _execute(self.profiler)
        self.engine.executions += 1
        return True


class _FakeEngine:
    num_io_tensors = 2

    def __init__(self, trt) -> None:
        self.trt, self.executions = trt, 0

    def get_tensor_name(self, i: int) -> str:
        return ["input", "output"][i]

    def get_tensor_mode(self, name: str):
        return self.trt.TensorIOMode.INPUT if name == "input" else self.trt.TensorIOMode.OUTPUT

    def get_tensor_shape(self, name: str):
        return (1, 3, 224, 224) if name == "input" else (1, 10)

    def create_execution_context(self) -> _FakeContext:
        return _FakeContext(self)

    def create_engine_inspector(self):
        return SimpleNamespace(get_engine_information=lambda fmt: DETAILED if fmt == "json" else "")


def test_tensorrt_profile_ops_on_a_stand_in(monkeypatch) -> None:
    """``TensorRTBackend.profile_ops``'s plumbing against a stand-in ``tensorrt``
    module (no GPU): a second context, the profiler set, warm-up runs dropped."""
    trt = SimpleNamespace(IProfiler=StandInIProfiler, LayerInformationFormat=SimpleNamespace(JSON="json"),
                          TensorIOMode=SimpleNamespace(INPUT="in", OUTPUT="out"))
    monkeypatch.setattr(TensorRTBackend, "_trt", lambda self: trt)
    engine = _FakeEngine(trt)
    stream = SimpleNamespace(cuda_stream=7, synchronize=lambda: None)
    buffers = {"input": SimpleNamespace(data_ptr=lambda: 1), "output": SimpleNamespace(data_ptr=lambda: 2)}
    run = CudaRun(stream, lambda: None, False, {"engine": engine, "buffers": buffers})
    prepared = latency_kit.backends.Prepared(ModelSpec.for_file("net.onnx"), state=run)
    backend = TensorRTBackend()
    ops = backend.profile_ops(prepared, runs=4, warmup=2)
    assert engine.executions == 6
    assert [o.name for o in ops] == LAYERS and all(len(o.run_ms) == 4 for o in ops)
    assert ops[2].op_type == "CaskPooling" and ops[2].run_ms == pytest.approx([0.03] * 4)
    assert backend.layer_times(prepared, runs=3) == pytest.approx(dict(zip(LAYERS, LAYER_MS)))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs an NVIDIA GPU with CUDA torch")
def test_tensorrt_file_with_ops_on_a_gpu(tmp_path) -> None:
    """On a GPU with TensorRT: a user's ONNX file end to end and per layer."""
    pytest.importorskip("tensorrt")
    from latency_kit.convert.onnx import export_onnx
    from latency_kit.measure.engine import MeasureSettings

    net = torch.nn.Sequential(*[torch.nn.Sequential(torch.nn.Conv2d(32, 32, 3, padding=1), torch.nn.ReLU())
                                for _ in range(4)])
    path = export_onnx(net, (1, 32, 56, 56), tmp_path / "conv.onnx")
    result = latency_kit.measure_model(path, device="tensorrt", ops=True,
                                       settings=MeasureSettings(repeats=5, warmup_ms=50, batch_ms=5))
    assert result.stats.median_ms > 0 and result.inputs
    assert result.ops and all(op.provider == "TensorRT" for op in result.ops)
    assert sum(op.share for op in result.ops) == pytest.approx(1.0)
