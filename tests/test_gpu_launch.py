"""GPU timing logic without a GPU: launch modes, stream ordering, the TensorRT timing cache.

torch's CUDA module is replaced by :class:`FakeCuda`, which records which
stream is current whenever work is queued, and ``tensorrt`` by a module
with the same names and return conventions as the real Python API, so the
real code paths of ``latency_kit.backends.gpu`` and ``.tensorrt`` run here.
The same paths run for real in ``tests/test_backend_gpu.py`` where a GPU is.
"""

from __future__ import annotations

import logging
import struct
import sys
import types
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from latency_kit.backends import gpu
from latency_kit.backends.base import ModelSpec
from latency_kit.backends.gpu import fill_on
from latency_kit.backends.tensorrt import TensorRTBackend
from latency_kit.backends.torch_cuda import TorchCudaBackend
from latency_kit.errors import DeviceError
from latency_kit.backends.gpu_settings import launch_mode

KEY = "expanded_conv-input:7x7x192-output:7x7x192-expand:576-kernel:3-stride:1-idskip:1-se:1-hs:1"
SPEC = ModelSpec("ofa-mbv3", "block", KEY, (1, 192, 7, 7), (("resolutions", (224,)),))


class FakeStream:
    def __init__(self, name: str, log: list[tuple[str, ...]]):
        self.name, self.log = name, log

    def wait_stream(self, other: "FakeStream") -> None:
        self.log.append(("wait", self.name, other.name))

    def synchronize(self) -> None:
        self.log.append(("sync", self.name))


class FakeEvent:
    def __init__(self, cuda: "FakeCuda"):
        self.cuda, self.at = cuda, 0

    def record(self, stream: FakeStream) -> None:
        self.at = len(self.cuda.log)
        self.cuda.log.append(("record", stream.name))

    def synchronize(self) -> None:
        pass

    def elapsed_time(self, end: "FakeEvent") -> float:
        return 0.25 * (end.at - self.at - 1)  # 0.25 ms per launch logged in between


class FakeGraph:
    def __init__(self, cuda: "FakeCuda"):
        self.cuda = cuda

    def replay(self) -> None:
        self.cuda.log.append(("replay", self.cuda.current.name))


class FakeCuda:
    """Stands in for ``torch.cuda``: streams, stream contexts, graphs and events, logged."""

    def __init__(self, capture_error: str | None = None):
        self.log: list[tuple[str, ...]] = []
        self.default = FakeStream("default", self.log)
        self.current = self.default
        self.capture_error = capture_error

    def current_stream(self) -> FakeStream:
        return self.current

    @contextmanager
    def stream(self, stream: FakeStream):
        previous, self.current = self.current, stream
        try:
            yield
        finally:
            self.current = previous

    @contextmanager
    def graph(self, graph: FakeGraph, stream: FakeStream):
        previous, self.current = self.current, stream
        self.log.append(("capture", stream.name))
        try:
            yield
            if self.capture_error:  # torch raises when the capture is ended
                raise RuntimeError(self.capture_error)
        finally:
            self.current = previous

    def synchronize(self) -> None:
        self.log.append(("sync", "device"))

    def CUDAGraph(self) -> FakeGraph:  # noqa: N802 - torch's name
        return FakeGraph(self)

    def Event(self, enable_timing: bool = False) -> FakeEvent:  # noqa: N802 - torch's name
        return FakeEvent(self)


@pytest.fixture
def fake_cuda(monkeypatch):
    def install(capture_error: str | None = None) -> FakeCuda:
        cuda = FakeCuda(capture_error)
        monkeypatch.setattr(gpu, "_cuda", lambda: cuda)
        return cuda

    return install


def _launcher(cuda: FakeCuda):
    def enqueue() -> None:
        cuda.log.append(("launch", cuda.current.name))

    return enqueue


def test_inputs_are_filled_on_the_engine_stream_before_it_runs(fake_cuda) -> None:
    cuda = fake_cuda()
    engine = FakeStream("engine", cuda.log)
    buffers = fill_on(engine, lambda: cuda.log.append(("fill", cuda.current.name)) or {"x": 1})
    assert buffers == {"x": 1} and cuda.current is cuda.default
    run = TorchCudaBackend(warmup_ms=0).make_run(KEY, engine, _launcher(cuda), {})
    assert cuda.log[:3] == [("wait", "engine", "default"), ("fill", "engine"), ("launch", "engine")]
    queued = [entry for entry in cuda.log if entry[0] in ("launch", "capture", "replay")]
    assert all(entry[1] == "engine" for entry in queued)  # nothing on the default stream
    assert run.cuda_graph and run.launch.__name__ == "replay"


def test_timed_launches_run_on_the_engine_stream(fake_cuda) -> None:
    cuda = fake_cuda()
    engine = FakeStream("engine", cuda.log)
    backend = TorchCudaBackend(warmup_ms=0)
    run = backend.make_run(KEY, engine, _launcher(cuda), {})
    del cuda.log[:]
    assert backend.time_launches(run, 4) == pytest.approx(0.25)
    assert cuda.log == [("record", "engine"), *[("replay", "engine")] * 4, ("record", "engine")]


@pytest.mark.parametrize("cuda_graph", [True, False])
def test_entry_records_its_launch_mode(fake_cuda, cuda_graph) -> None:
    cuda = fake_cuda()
    backend = TorchCudaBackend(cuda_graph=cuda_graph, warmup_ms=0)
    run = backend.make_run(KEY, FakeStream("engine", cuda.log), _launcher(cuda), {})
    info = backend.prepared(SPEC, run, engine="e.plan").info
    assert info == {"launch": launch_mode(cuda_graph), "cuda_graph": cuda_graph, "engine": "e.plan",
                    "entry": {"launch": launch_mode(cuda_graph)}}
    assert ("capture", "engine") in cuda.log if cuda_graph else ("capture", "engine") not in cuda.log


def test_failed_capture_is_refused_not_timed_eagerly(fake_cuda) -> None:
    cuda = fake_cuda("CUDA error: operation not permitted when stream is capturing\nmore detail")
    backend = TorchCudaBackend(cuda_graph=True, warmup_ms=0)
    with pytest.raises(DeviceError) as info:
        backend.make_run(KEY, FakeStream("engine", cuda.log), _launcher(cuda), {})
    message = str(info.value)
    assert "\n" not in message and len(message) <= 300
    assert "operation not permitted" in message and "--no-cuda-graph" in message
    assert KEY[:60] in message
    assert cuda.log[-1] == ("sync", "device")  # the failed capture is drained before the error
    # With graphs off the same model is timed with plain launches, and says so.
    run = TorchCudaBackend(cuda_graph=False, warmup_ms=0).make_run(
        KEY, FakeStream("engine", cuda.log), _launcher(cuda), {})
    assert not run.cuda_graph and launch_mode(run.cuda_graph) == "eager"


# -- TensorRT timing cache ----------------------------------------------------------


def fake_tensorrt() -> types.ModuleType:
    """A ``tensorrt`` module with the real Python API's names and return conventions.

    Sources: NVIDIA/TensorRT ``python/src/infer/pyCore.cpp`` binds
    ``IBuilderConfig.create_timing_cache(serialized_timing_cache)`` to
    ``createTimingCache`` and returns its pointer, so a blob TensorRT cannot
    read gives None (trtexec, ``samples/common/sampleEngines.cpp``, checks
    for exactly that: "TimingCache creation failed");
    ``set_timing_cache(cache, ignore_mismatch)`` returns a bool and
    ``ITimingCache.serialize()`` an ``IHostMemory`` (a buffer). The blob layout
    here (magic, count, 4-byte entries) is this fake's own: TensorRT's is opaque.
    """
    trt = types.ModuleType("tensorrt")
    trt.__version__ = "10.13.0"
    magic = b"FTC1"

    class ITimingCache:
        def __init__(self, entries: list[int]):
            self.entries = entries

        def serialize(self) -> bytes:
            return magic + struct.pack("<I", len(self.entries)) + struct.pack(
                f"<{len(self.entries)}I", *self.entries)

    class IBuilderConfig:
        def __init__(self) -> None:
            self.cache: ITimingCache | None = None
            self.profiling_verbosity = None

        def set_memory_pool_limit(self, pool: Any, size: int) -> None:
            self.workspace = size

        def create_timing_cache(self, blob: bytes) -> ITimingCache | None:
            blob = bytes(blob)
            if not blob:
                return ITimingCache([])
            if blob[:4] != magic or len(blob) < 8:
                return None
            (count,) = struct.unpack("<I", blob[4:8])
            if len(blob) != 8 + 4 * count:
                return None
            return ITimingCache(list(struct.unpack(f"<{count}I", blob[8:])))

        def set_timing_cache(self, cache: ITimingCache, ignore_mismatch: bool) -> bool:
            self.cache = cache
            return True

    class Builder:
        def __init__(self, logger: Any):
            self.logger = logger

        def create_network(self, flags: int) -> object:
            return object()

        def create_builder_config(self) -> IBuilderConfig:
            return IBuilderConfig()

        def build_serialized_network(self, network: Any, config: IBuilderConfig) -> bytes:
            config.cache.entries.append(len(config.cache.entries) + 1)  # one more tactic timed
            return b"plan"

    class OnnxParser:
        num_errors = 0

        def __init__(self, network: Any, logger: Any):
            pass

        def parse(self, data: bytes) -> bool:
            return data.startswith(b"onnx")

    class Logger:
        WARNING = 2

        def __init__(self, level: int):
            self.level = level

    trt.Logger, trt.Builder, trt.OnnxParser = Logger, Builder, OnnxParser
    trt.ITimingCache, trt.IBuilderConfig = ITimingCache, IBuilderConfig
    trt.NetworkDefinitionCreationFlag = types.SimpleNamespace(STRONGLY_TYPED=0)
    trt.MemoryPoolType = types.SimpleNamespace(WORKSPACE=0)
    trt.ProfilingVerbosity = types.SimpleNamespace(DETAILED=2)
    return trt


@pytest.fixture
def trt_build(tmp_path, monkeypatch):
    """``build(timing_cache_path)``: one engine build through ``TensorRTBackend.build_engine``."""
    monkeypatch.setitem(sys.modules, "tensorrt", fake_tensorrt())
    backend = TensorRTBackend(warmup_ms=0, cache=tmp_path)
    onnx = tmp_path / "m.onnx"
    onnx.write_bytes(b"onnx graph")

    def build(timing: Path) -> Path:
        engine = tmp_path / "m.engine"
        backend.build_engine(onnx, engine, timing)
        assert engine.read_bytes() == b"plan"
        return timing

    return build


def _entries(path: Path) -> list[int]:
    cache = fake_tensorrt().IBuilderConfig().create_timing_cache(path.read_bytes())
    assert cache is not None, f"{path} is not a readable timing cache"
    return cache.entries


def test_timing_cache_grows_across_builds(trt_build, tmp_path, caplog) -> None:
    timing = tmp_path / "timing.cache"
    assert _entries(trt_build(timing)) == [1]
    assert _entries(trt_build(timing)) == [1, 2]
    assert not caplog.records


@pytest.mark.parametrize("damage", ["truncated", "garbage"])
def test_corrupt_timing_cache_is_moved_aside_and_rebuilt(trt_build, tmp_path, caplog, damage) -> None:
    timing = trt_build(tmp_path / "timing.cache")
    trt_build(timing)
    good = timing.read_bytes()
    bad = good[:-3] if damage == "truncated" else b"\x00garbage\xff" * 7
    timing.write_bytes(bad)
    with caplog.at_level(logging.WARNING, logger="latency_kit.backends.tensorrt"):
        trt_build(timing)
        trt_build(timing)
    assert _entries(timing) == [1, 2]  # rebuilt from empty, then reused
    assert (tmp_path / "timing.cache.corrupt").read_bytes() == bad
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "timing.cache.corrupt" in warnings[0].getMessage()


def test_unreadable_timing_cache_is_one_line_error(trt_build, tmp_path) -> None:
    timing = tmp_path / "timing.cache"
    timing.mkdir()  # reading it fails with IsADirectoryError
    with pytest.raises(DeviceError) as info:
        trt_build(timing)
    assert "\n" not in str(info.value) and "delete it" in str(info.value)


@pytest.mark.plumbing
def test_measure_cli_passes_the_launch_mode_and_reports_it(monkeypatch) -> None:
    """Plumbing only: ``--no-cuda-graph`` reaches the backend, its ``info`` reaches ``--json``."""
    import json

    from click.testing import CliRunner

    import latency_kit.api as api
    from latency_kit.backends.base import Backend, Prepared
    from latency_kit.cli import main

    opened: dict[str, Any] = {}

    class Recorder(Backend):
        name = runtime = "recorder"

        def __init__(self, **options: Any):
            opened.update(options)

        def fingerprint(self) -> dict[str, Any]:
            return {"device": "recorder", "runtime": self.runtime}

        def prepare(self, spec: ModelSpec) -> Prepared:
            return Prepared(spec, None, {"launch": launch_mode(opened["cuda_graph"] is not False)})

        def run_batch(self, prepared: Prepared, iterations: int) -> float:
            return 0.5

    # `latkit measure` is one call of api.measure_arch, which opens the backend
    monkeypatch.setattr(api, "open_backend", lambda device, **options: Recorder(**options))
    arch = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"
    result = CliRunner().invoke(main, ["measure", "--device", "gpu", "--space", "nb201", "--arch",
                                       arch, "--repeats", "3", "--no-cuda-graph", "--json"])
    assert result.exit_code == 0, result.output
    assert opened["cuda_graph"] is False
    assert json.loads(result.stdout)["info"] == {"launch": "eager"}
    text = CliRunner().invoke(main, ["measure", "--device", "gpu", "--space", "nb201", "--arch",
                                     arch, "--repeats", "3"])
    assert opened["cuda_graph"] is None and "cuda-graph launches" in text.output
