"""GPU backends, the parts that need no GPU: settings, cache keys, statistics, selection."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from click.testing import CliRunner

from latency_kit.backends import DEVICES, backend_class, open_backend
from latency_kit.backends import gpu
from latency_kit.backends.gpu import GpuBackend, select_backend
from latency_kit.backends.tensorrt import TensorRTBackend
from latency_kit.backends.torch_cuda import TorchCudaBackend
from latency_kit.errors import DeviceError, LatkitError
from latency_kit.backends.gpu_settings import (GpuSettings, check_precision, choose_gpu_runtime,
                                      engine_cache_key, file_hash, latency_summary,
                                      parse_nvidia_smi, timing_cache_name)

from latency_kit.testing.backends import HEAD, block_spec

NO_GPU = "no NVIDIA GPU found here (test)"


@pytest.fixture
def gpu_state(monkeypatch):
    """Set what the selection sees: ``gpu_state(cuda=..., trt=...)``."""

    def set_state(cuda: bool, trt: bool) -> None:
        monkeypatch.setattr(gpu, "cuda_status", lambda: (cuda, "" if cuda else NO_GPU))
        monkeypatch.setattr(gpu, "tensorrt_status",
                            lambda: (trt, "" if trt else "tensorrt does not import (test)"))

    return set_state


def test_device_names_registered() -> None:
    assert {"gpu", "tensorrt", "torch-cuda"} <= set(DEVICES)
    assert backend_class("gpu") is GpuBackend
    assert backend_class("tensorrt").runtime == "tensorrt"
    assert backend_class("torch-cuda").runtime == "torch-cuda"


def test_precisions() -> None:
    assert check_precision("fp32") == "fp32" and check_precision("fp16") == "fp16"
    with pytest.raises(LatkitError, match="calibration"):
        check_precision("int8")
    with pytest.raises(LatkitError, match="known precisions: fp32, fp16"):
        check_precision("bf16")


def test_settings_validation() -> None:
    assert GpuSettings().to_dict() == {"precision": "fp32", "workspace_mb": 1024,
                                       "cuda_graph": True, "warmup_ms": 200.0}
    with pytest.raises(LatkitError, match="workspace 8 MB is out of range"):
        GpuSettings(workspace_mb=8)
    with pytest.raises(LatkitError, match="warm-up"):
        GpuSettings(warmup_ms=-1)
    with pytest.raises(LatkitError, match="int8"):
        TorchCudaBackend(precision="int8")


def test_engine_cache_key_changes_with_every_part() -> None:
    base = ("a" * 64, "10.13.0", "NVIDIA H100 80GB HBM3", "fp16", "workspace=1024")
    key = engine_cache_key(*base)
    assert key == engine_cache_key(*base)
    assert key.startswith("nvidia-h100-80gb-hbm3-trt10.13.0-fp16-")
    variants = {engine_cache_key(*base[:i], "other", *base[i + 1:]) for i in range(len(base))}
    assert len(variants) == len(base) and key not in variants
    assert timing_cache_name("10.13.0", "NVIDIA A100") != timing_cache_name("11.4.0", "NVIDIA A100")
    assert timing_cache_name("10.13.0", "NVIDIA A100") != timing_cache_name("10.13.0", "NVIDIA L4")


def test_file_hash(tmp_path) -> None:
    path = tmp_path / "model.onnx"
    path.write_bytes(b"x" * (3 << 20))
    assert file_hash(path) == hashlib.sha256(b"x" * (3 << 20)).hexdigest()


def test_latency_summary() -> None:
    samples = np.arange(1, 101, dtype=float)
    summary = latency_summary(samples[::-1])
    assert summary["median_ms"] == pytest.approx(50.5)
    assert summary["p90_ms"] == pytest.approx(90.1)
    assert summary["p99_ms"] == pytest.approx(99.01)
    assert (summary["min_ms"], summary["max_ms"], summary["count"]) == (1.0, 100.0, 100)
    with pytest.raises(ValueError):
        latency_summary([])


def test_parse_nvidia_smi() -> None:
    out = ("NVIDIA H100 80GB HBM3, 550.54.15, 1980, 2619, 1980, 2619, P0, 34, 700.00\n"
           "Tesla T4, 535.104.05, 300, 405, 1590, 5001, P8, [N/A], 70.00\n"
           "garbage line\n")
    rows = parse_nvidia_smi(out)
    assert len(rows) == 2
    assert rows[0] == {"smi_name": "NVIDIA H100 80GB HBM3", "driver": "550.54.15",
                       "sm_clock_mhz": 1980, "mem_clock_mhz": 2619, "max_sm_clock_mhz": 1980,
                       "max_mem_clock_mhz": 2619, "pstate": "P0", "temperature_c": 34,
                       "power_limit_w": 700}
    assert rows[1]["temperature_c"] is None and rows[1]["pstate"] == "P8"


def test_choose_runtime() -> None:
    assert choose_gpu_runtime(False, NO_GPU, True, "") == (None, NO_GPU)
    assert choose_gpu_runtime(True, "", True, "")[0] == "tensorrt"
    runtime, note = choose_gpu_runtime(True, "", False, "tensorrt does not import")
    assert runtime == "torch-cuda" and "not TensorRT" in note and "does not import" in note


@pytest.mark.parametrize("cuda, trt, expected", [
    (True, True, TensorRTBackend), (True, False, TorchCudaBackend), (False, True, None)])
def test_select_backend(gpu_state, cuda, trt, expected) -> None:
    gpu_state(cuda, trt)
    chosen, note = select_backend()
    assert chosen is expected
    assert GpuBackend.available() == ((True, "") if expected else (False, NO_GPU))
    if expected is None:
        assert note == NO_GPU


def test_gpu_backend_delegates_to_choice(gpu_state) -> None:
    gpu_state(True, False)
    backend = open_backend("gpu", threads=2, batch=4, precision="fp16", workspace_mb=None)
    assert isinstance(backend, GpuBackend) and isinstance(backend.inner, TorchCudaBackend)
    assert backend.runtime == "torch-cuda" and backend.inner.device == "gpu"
    assert backend.inner.batch == 4 and backend.inner.settings.precision == "fp16"
    assert "torch-CUDA, not TensorRT" in backend.note
    assert backend.note == GpuBackend.describe_choice()


def test_gpu_backend_without_gpu_is_one_clear_error(gpu_state) -> None:
    gpu_state(False, False)
    with pytest.raises(DeviceError) as info:
        GpuBackend()
    assert NO_GPU in str(info.value) and "\n" not in str(info.value)


def _cli(args: list[str]):
    from latency_kit.cli import main

    return CliRunner().invoke(main, args)


def test_cli_profile_gpu_without_gpu(gpu_state) -> None:
    gpu_state(False, False)
    result = _cli(["profile", "--device", "gpu"])
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [f"error: device 'gpu' is not usable here: {NO_GPU}"]


def test_cli_profile_gpu_here() -> None:
    """On this machine as it is: either a GPU is usable, or one line says why not."""
    ok, why = GpuBackend.available()
    if ok:
        pytest.skip("a GPU is usable here; tests/test_backend_gpu.py covers it")
    result = _cli(["profile", "--device", "gpu"])
    assert result.exit_code == 2 and len(result.stderr.strip().splitlines()) == 1
    assert why in result.stderr


def test_cli_precision_checks(gpu_state) -> None:
    gpu_state(True, True)
    result = _cli(["profile", "--device", "cpu", "--precision", "fp16"])
    assert result.exit_code == 2 and "fp32 only" in result.stderr
    result = _cli(["profile", "--device", "gpu", "--precision", "int8"])
    assert result.exit_code == 2 and "calibration" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_fp16_onnx_export(onnx_cache) -> None:
    """The fp16 graph TensorRT builds (strongly typed) really is fp16, and cached apart."""
    import onnx

    from latency_kit.convert.onnx import spec_onnx

    spec = block_spec(HEAD)
    half = spec_onnx(spec, onnx_cache, half=True)
    full = spec_onnx(spec, onnx_cache)
    assert half != full
    graph = onnx.load(str(half)).graph
    assert graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT16
    assert {init.data_type for init in graph.initializer} == {onnx.TensorProto.FLOAT16}
    assert onnx.load(str(full)).graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
