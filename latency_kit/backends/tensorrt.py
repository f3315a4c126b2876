"""TensorRT on an NVIDIA GPU (``--device tensorrt``; ``--device gpu`` prefers it).

Engines are built from the same cached ONNX export as ONNX Runtime uses, as
strongly typed networks: the precision lives in the graph (fp16 exports the
module in half precision). That is the only kind TensorRT 11 builds, and
TensorRT 10 builds it too, so one code path serves both; int8 (calibration or
Q/DQ nodes) is left out. The builder gets a workspace limit and a timing cache
on disk; finished engines are cached by (model hash, TensorRT version, GPU
name, precision, workspace). Timing, in :class:`~.gpu.CudaBackend`, brackets
``execute_async_v3`` launches (or their CUDA graph) with CUDA events.

Written against the TensorRT 10/11 Python API documentation; see
``docs/gpu.md`` for what has and has not been run on a GPU.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path
from typing import Any

from latency_kit.errors import DeviceError, MissingExtraError
from latency_kit.convert.onnx import spec_onnx
from latency_kit.backends.gpu_settings import engine_cache_key, file_hash, timing_cache_name
from latency_kit.paths import cache_dir
from latency_kit.backends.base import ModelSpec, Prepared
from latency_kit.backends.gpu import CudaBackend, cuda_status, fill_on, tensorrt_status

log = logging.getLogger(__name__)


def _write_bytes(path: Path, data: Any) -> None:
    """Write a bytes-like object (TensorRT ``IHostMemory``) atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(memoryview(data))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _set_timing_cache(config: Any, data: bytes) -> Any | None:
    """A timing cache made from ``data`` and attached to ``config``, or None if TensorRT refuses it.

    ``IBuilderConfig.create_timing_cache`` returns None for a blob it cannot
    read (the binding passes on ``createTimingCache``'s null pointer; NVIDIA/
    TensorRT ``python/src/infer/pyCore.cpp``), and ``set_timing_cache``
    returns False for a cache from another TensorRT or GPU.
    """
    try:
        cache = config.create_timing_cache(data)
        if cache is not None and config.set_timing_cache(cache, False):
            return cache
    except (RuntimeError, TypeError, ValueError):
        pass
    return None


def attach_timing_cache(config: Any, path: Path) -> Any:
    """The builder's timing cache from ``path``, attached to ``config``.

    A file TensorRT cannot use (truncated, garbage, from another version) is
    moved aside to ``<name>.corrupt`` with one warning, and the build starts
    from an empty cache that replaces it afterwards. ``DeviceError`` (one
    line) if the file cannot be read or moved, or TensorRT makes no empty cache.
    """
    try:
        data = path.read_bytes() if path.exists() else b""
    except OSError as exc:
        raise DeviceError(f"cannot read the TensorRT timing cache {path} ({exc.strerror}); "
                          "delete it and rerun") from None
    if data:
        cache = _set_timing_cache(config, data)
        if cache is not None:
            return cache
        aside = path.with_name(path.name + ".corrupt")
        try:
            os.replace(path, aside)
        except OSError as exc:
            raise DeviceError(f"TensorRT cannot use the timing cache {path} and it cannot be moved "
                              f"aside ({exc.strerror}); delete it and rerun") from None
        log.warning("TensorRT cannot use the timing cache %s; moved it to %s and starting an "
                    "empty one", path, aside.name)
    cache = _set_timing_cache(config, b"")
    if cache is None:
        raise DeviceError("TensorRT could not create an empty timing cache; check the TensorRT "
                          "installation (pip install 'latkit[gpu]')")
    return cache


class TensorRTBackend(CudaBackend):
    """Builds, caches and times TensorRT engines of space blocks and networks."""

    name = "tensorrt"
    runtime = "tensorrt"

    def __init__(self, device: str = "tensorrt", batch: int = 1, precision: str = "fp32",
                 workspace_mb: int = 1024, cuda_graph: bool = True, warmup_ms: float = 200.0,
                 cache: str | Path | None = None):
        super().__init__(device, batch, precision, workspace_mb, cuda_graph, warmup_ms)
        self.cache = Path(cache) if cache else cache_dir()
        self._logger: Any = None

    @classmethod
    def available(cls) -> tuple[bool, str]:
        ok, why = tensorrt_status()
        return cuda_status() if ok else (ok, why)

    def _trt(self) -> Any:
        try:
            import tensorrt as trt
        except ImportError:
            raise MissingExtraError("tensorrt", "gpu") from None
        if self._logger is None:
            self._logger = trt.Logger(trt.Logger.WARNING)
        return trt

    def fingerprint(self) -> dict[str, Any]:
        trt = self._trt()
        return {**super().fingerprint(), "runtime_version": trt.__version__,
                "workspace_mb": self.settings.workspace_mb, "network": "strongly typed",
                "exporter": "torch (torchscript) -> ONNX"}

    def cached_engine(self, spec: ModelSpec) -> tuple[Path, bool]:
        """The cached engine of ``spec`` (built now if absent) and whether it was built."""
        import torch

        trt = self._trt()
        half = self.settings.precision == "fp16"
        onnx = spec_onnx(spec, self.cache / "onnx", half=half)
        gpu = torch.cuda.get_device_name()
        key = engine_cache_key(file_hash(onnx), trt.__version__, gpu, self.settings.precision,
                               f"workspace={self.settings.workspace_mb}")
        path = self.cache / "tensorrt" / f"{key}.engine"
        if path.exists():
            return path, False
        self.build_engine(onnx, path, self.cache / "tensorrt" / timing_cache_name(trt.__version__, gpu))
        return path, True

    def build_engine(self, onnx: Path, path: Path, timing_cache: Path) -> None:
        """Build ``onnx`` into a serialized engine at ``path``, reusing and updating the timing cache."""
        trt = self._trt()
        builder = trt.Builder(self._logger)
        network = builder.create_network(1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED))
        parser = trt.OnnxParser(network, self._logger)
        if not parser.parse(onnx.read_bytes()):
            errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
            raise RuntimeError(f"TensorRT could not parse {onnx}: {errors}")
        config = builder.create_builder_config()
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, self.settings.workspace_mb << 20)
        config.profiling_verbosity = trt.ProfilingVerbosity.DETAILED  # layer names for IProfiler
        cache = attach_timing_cache(config, timing_cache)
        plan = builder.build_serialized_network(network, config)
        if plan is None:
            raise DeviceError(f"TensorRT could not build an engine from {onnx.name} (its log above "
                              "says why); a larger workspace_mb may help")
        _write_bytes(path, plan)
        _write_bytes(timing_cache, cache.serialize())

    def _load(self, spec: ModelSpec) -> tuple[Any, Any, Path, bool]:
        trt = self._trt()
        runtime = trt.Runtime(self._logger)
        path, built = self.cached_engine(spec)
        engine = runtime.deserialize_cuda_engine(path.read_bytes())
        if engine is None and not built:  # a stale or damaged cache entry: rebuild once
            path.unlink(missing_ok=True)
            path, built = self.cached_engine(spec)
            engine = runtime.deserialize_cuda_engine(path.read_bytes())
        if engine is None:
            raise RuntimeError(f"TensorRT could not deserialize {path}")
        return runtime, engine, path, built

    def _bind(self, engine: Any, context: Any) -> dict[str, Any]:
        """Device buffers for every I/O tensor (inputs random), bound to ``context``."""
        import torch

        trt = self._trt()
        dtypes = {getattr(trt, n): getattr(torch, n) for n in
                  ("float32", "float16", "bfloat16", "int32", "int64", "int8", "bool") if hasattr(trt, n)}
        buffers = {}
        for i in range(engine.num_io_tensors):
            name = engine.get_tensor_name(i)
            shape = tuple(engine.get_tensor_shape(name))
            if any(d < 0 for d in shape):
                raise RuntimeError(f"tensor {name} has a dynamic shape {shape}; expected static")
            dtype = dtypes[engine.get_tensor_dtype(name)]
            if engine.get_tensor_mode(name) == trt.TensorIOMode.INPUT:
                buffers[name] = torch.randn(shape, device="cuda").to(dtype)
            else:
                buffers[name] = torch.empty(shape, dtype=dtype, device="cuda")
            context.set_tensor_address(name, buffers[name].data_ptr())
        return buffers

    def prepare(self, spec: ModelSpec) -> Prepared:
        import torch

        runtime, engine, path, built = self._load(spec)
        context = engine.create_execution_context()
        stream = torch.cuda.Stream()
        buffers = fill_on(stream, lambda: self._bind(engine, context))
        handle = stream.cuda_stream
        if not context.execute_async_v3(handle):
            raise RuntimeError(f"TensorRT execute_async_v3 failed for {spec.key}")

        def enqueue() -> None:
            context.execute_async_v3(handle)

        run = self.make_run(spec.key, stream, enqueue, {"runtime": runtime, "engine": engine,
                                                        "context": context, "buffers": buffers})
        return self.prepared(spec, run, engine=str(path), engine_built=built,
                             io={n: [list(b.shape), str(b.dtype)] for n, b in buffers.items()})

    def layer_times(self, prepared: Prepared, runs: int = 20) -> dict[str, float]:
        """Median milliseconds per engine layer over ``runs`` inferences, via ``IProfiler``.

        Uses a second execution context (profiling slows inference and cannot
        be captured in a CUDA graph); layers are named as TensorRT fused them.
        """
        import numpy as np

        trt = self._trt()

        class Collector(trt.IProfiler):
            def __init__(self) -> None:
                trt.IProfiler.__init__(self)
                self.times: dict[str, list[float]] = {}

            def report_layer_time(self, layer_name: str, ms: float) -> None:
                self.times.setdefault(layer_name, []).append(ms)

        run = prepared.state
        collector = Collector()
        context = run.keep["engine"].create_execution_context()
        for name, buf in run.keep["buffers"].items():
            context.set_tensor_address(name, buf.data_ptr())
        context.profiler = collector
        for _ in range(runs):
            context.execute_async_v3(run.stream.cuda_stream)
            run.stream.synchronize()
        del context
        return {name: float(np.median(times)) for name, times in collector.times.items()}

    def release(self, prepared: Prepared) -> None:
        run = prepared.state
        super().release(prepared)
        if run is not None:  # graph and contexts go before the engine, the engine before the runtime
            for name in ("graph", "context", "buffers", "engine", "runtime"):
                run.keep.pop(name, None)
