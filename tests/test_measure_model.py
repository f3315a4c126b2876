"""``latkit measure --model FILE`` and ``latency_kit.measure_model`` (issue 18, first part)."""

from __future__ import annotations

import json

import pytest
import torch
from click.testing import CliRunner

import latency_kit
from latency_kit.backends.onnxruntime import parse_ort_profile
from latency_kit.cli import main
from latency_kit.convert.onnx import export_onnx
from latency_kit.errors import LatkitError
from latency_kit.measure.engine import MeasureSettings

FAST = MeasureSettings(repeats=5, warmup_ms=20, batch_ms=2)


def _tiny() -> torch.nn.Module:
    return torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.ReLU(), torch.nn.Flatten(),
                               torch.nn.Linear(8 * 6 * 6, 4))


@pytest.fixture(scope="module")
def tiny_onnx(tmp_path_factory):
    return export_onnx(_tiny(), (1, 3, 8, 8), tmp_path_factory.mktemp("m") / "tiny.onnx")


@pytest.fixture(scope="module")
def dynamic_onnx(tmp_path_factory):
    path = tmp_path_factory.mktemp("m") / "dyn.onnx"
    torch.onnx.export(_tiny().eval(), (torch.zeros(1, 3, 8, 8),), str(path), input_names=["input"],
                      dynamic_axes={"input": {0: "batch"}}, dynamo=False)
    return path


@pytest.fixture(scope="module")
def conv_onnx(tmp_path_factory):
    """Big enough (~2 ms) that per-node times dominate ORT's per-run overhead."""
    net = torch.nn.Sequential(*[torch.nn.Sequential(torch.nn.Conv2d(32, 32, 3, padding=1),
                                                    torch.nn.ReLU()) for _ in range(4)])
    return export_onnx(net, (1, 32, 56, 56), tmp_path_factory.mktemp("m") / "conv.onnx")


def _cli(*args: str):
    return CliRunner().invoke(main, ["measure", *args])


def test_measure_onnx_file_cli_json(tiny_onnx):
    result = _cli("--device", "cpu", "--model", str(tiny_onnx), "--repeats", "5", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["latency_ms"] > 0 and data["count"] == 5
    assert data["inputs"] == {"input": [1, 3, 8, 8]}
    assert data["fingerprint"]["runtime"] == "onnxruntime"


def test_measure_model_api_dynamic_shape(dynamic_onnx):
    result = latency_kit.measure_model(dynamic_onnx, shapes={"input": (2, 3, 8, 8)}, settings=FAST)
    assert result.inputs == {"input": [2, 3, 8, 8]} and result.stats.median_ms > 0
    assert latency_kit.measure_model(dynamic_onnx, batch=3, settings=FAST).inputs == {"input": [3, 3, 8, 8]}


def test_dynamic_dim_without_shape_is_one_line(dynamic_onnx):
    result = _cli("--device", "cpu", "--model", str(dynamic_onnx))
    assert result.exit_code != 0
    line = result.output.strip()
    assert "\n" not in line and "input" in line and "dimension 0" in line and "--shape" in line


@pytest.mark.parametrize("name, content, needle", [
    ("bad.onnx", b"not a model", "onnxruntime cannot load"),
    ("net.pt", b"x", "unknown model format"),
])
def test_file_errors(tmp_path, name, content, needle):
    (tmp_path / name).write_bytes(content)
    result = _cli("--device", "cpu", "--model", str(tmp_path / name))
    assert result.exit_code != 0 and needle in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_tflite_on_cpu_names_the_device(tmp_path):
    (tmp_path / "m.tflite").write_bytes(b"x")
    with pytest.raises(LatkitError, match="--device tflite-cpu"):
        latency_kit.measure_model(tmp_path / "m.tflite", device="cpu")


def test_arch_and_model_are_exclusive(tiny_onnx):
    both = _cli("--device", "cpu", "--model", str(tiny_onnx), "--arch", "x")
    neither = _cli("--device", "cpu")
    assert both.exit_code != 0 and neither.exit_code != 0 and "one of --arch" in neither.output


def test_ops_table_and_json(tiny_onnx):
    table = _cli("--device", "cpu", "--model", str(tiny_onnx), "--repeats", "5", "--ops")
    assert table.exit_code == 0, table.output
    assert "Conv" in table.output
    data = json.loads(_cli("--device", "cpu", "--model", str(tiny_onnx), "--repeats", "5",
                           "--ops", "--json").output)
    assert {op["op_type"] for op in data["ops"]} >= {"Conv", "Gemm"}
    assert sum(op["share"] for op in data["ops"]) == pytest.approx(1.0)


def test_ops_sum_to_end_to_end_time(conv_onnx):
    """The premise of per-op tables: in-graph node times add up to the graph's
    time. Retried, since the two timings are taken one after the other on a
    shared machine."""
    ratios = []
    for _ in range(3):
        result = latency_kit.measure_model(conv_onnx, ops=True,
                                           settings=MeasureSettings(repeats=15, warmup_ms=200, batch_ms=20))
        ratios.append(result.ops_ms / result.stats.median_ms)
        if abs(ratios[-1] - 1) <= 0.10:
            return
    pytest.fail(f"node sum / end-to-end: {ratios}")


def test_parse_real_ort_trace(tiny_onnx, tmp_path):
    """Parsing a trace captured here from a real ONNX Runtime run."""
    import numpy as np
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.enable_profiling = True
    options.profile_file_prefix = str(tmp_path / "ort")
    session = ort.InferenceSession(str(tiny_onnx), options, providers=["CPUExecutionProvider"])
    for _ in range(4):
        session.run(None, {"input": np.zeros((1, 3, 8, 8), np.float32)})
    events = json.loads(open(session.end_profiling()).read())
    ops = parse_ort_profile(events, skip_runs=1)
    assert ops and all(len(op.run_ms) == 3 for op in ops)
    conv = next(op for op in ops if op.op_type == "Conv")
    assert conv.input_shapes[0] == [1, 3, 8, 8] and all(t > 0 for t in conv.run_ms)


def _event(name, ts, dur, cat="Node", **args):
    return {"cat": cat, "pid": 1, "tid": 1, "dur": dur, "ts": ts, "ph": "X", "name": name, "args": args}


def test_parse_fixture_trace():
    """A hand-written trace in the form of onnxruntime's ``profiler.cc`` (Chrome
    trace events: ``model_run`` session events, ``<node>_kernel_time`` node events
    with ``args.op_name``/``provider``/``input_type_shape``), as ORT 1.2x writes it."""
    events = []
    for run, start in enumerate((100, 200)):
        events.append(_event("model_run", start, 50, cat="Session"))
        events.append(_event("conv_kernel_time", start + 5, 30 + run * 10, op_name="Conv",
                             provider="CPUExecutionProvider",
                             input_type_shape=[{"float": [1, 3, 8, 8]}, {"float": [8, 3, 3, 3]}]))
        events.append(_event("relu_fence_before", start + 36, 1, op_name="Relu"))
        events.append(_event("relu_kernel_time", start + 37, 4, op_name="Relu",
                             input_type_shape=[{"float": [1, 8, 6, 6]}]))
    ops = parse_ort_profile(events)
    assert [op.name for op in ops] == ["conv", "relu"]
    assert ops[0].run_ms == [0.03, 0.04] and ops[0].input_shapes == [[1, 3, 8, 8], [8, 3, 3, 3]]
    assert parse_ort_profile(events, skip_runs=1)[0].run_ms == [0.04]
    with pytest.raises(LatkitError, match="none in the known form"):
        parse_ort_profile([_event("x", 0, 1, other=1)])


@pytest.fixture(scope="module")
def tiny_tflite(tmp_path_factory):
    pytest.importorskip("ai_edge_litert")
    pytest.importorskip("litert_torch")
    from latency_kit.convert.tflite import convert_module

    return convert_module(_tiny(), (1, 3, 8, 8), tmp_path_factory.mktemp("m") / "tiny.tflite")


def test_measure_tflite_file(tiny_tflite):
    result = latency_kit.measure_model(tiny_tflite, device="tflite-cpu", settings=FAST)
    assert result.stats.median_ms > 0 and result.inputs == {next(iter(result.inputs)): [1, 8, 8, 3]}
    ops = _cli("--device", "tflite-cpu", "--model", str(tiny_tflite), "--ops")
    assert ops.exit_code == 2 and "no per-operator profiler" in ops.output
    assert len(ops.output.strip().splitlines()) == 1


def test_corrupt_tflite(tmp_path):
    pytest.importorskip("ai_edge_litert")
    (tmp_path / "bad.tflite").write_bytes(b"garbage")
    with pytest.raises(LatkitError, match="LiteRT cannot load"):
        latency_kit.measure_model(tmp_path / "bad.tflite", device="tflite-cpu", settings=FAST)
