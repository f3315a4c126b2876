"""TensorRT on an NVIDIA GPU (``--device tensorrt``; ``--device gpu`` prefers it).

Engines are built from the same cached ONNX export as ONNX Runtime uses, as
strongly typed networks: the precision lives in the graph (fp16 exports the
module in half precision). That is the only kind TensorRT 11 builds, and
TensorRT 10 builds it too, so one code path serves both; int8 (calibration or
Q/DQ nodes) is left out. The builder gets a workspace limit and a timing cache
on disk; finished engines are cached by (model hash, TensorRT version, GPU
name, precision, workspace). Timing, in :class:`~.gpu.CudaBackend`, brackets
``execute_async_v3`` launches (or their CUDA graph) with CUDA events.

A user's ``.onnx`` file (``latkit measure --model``) is built as it is, in
the types it was saved with; a dynamic input dimension gets an optimisation
profile whose min, opt and max are the shape given (``--shape``). ``--ops``
times each engine layer with an ``IProfiler`` (:func:`layer_collector`) on a
second execution context; layers are named as TensorRT fused them, and their
type and input shapes come from the engine inspector (built with
``ProfilingVerbosity.DETAILED``).

Written against the TensorRT 10/11 Python API documentation; see
``docs/gpu.md`` for what has and has not been run on a GPU.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from latency_kit.errors import DeviceError, LatkitError, MissingExtraError
from latency_kit.convert.onnx import spec_onnx
from latency_kit.backends.gpu_settings import engine_cache_key, file_hash, timing_cache_name
from latency_kit.paths import cache_dir
from latency_kit.backends.base import ModelSpec, OpTimes, Prepared, resolve_input_shape
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


def layer_collector(base: type) -> type:
    """An ``IProfiler`` subclass of ``base`` that keeps each layer's time per inference.

    ``base`` is ``tensorrt.IProfiler`` (or a stand-in with its API): TensorRT
    calls ``report_layer_time(layer_name, ms)`` once per engine layer for
    every execution of a context whose ``profiler`` it is. Call
    ``next_run()`` before each execution; ``runs`` then holds one
    ``{layer name: ms}`` per execution (a layer reported twice in one run, as
    in a loop, adds up) and ``order`` the layer names in first-reported order.
    """

    class LayerTimes(base):  # type: ignore[misc, valid-type]
        def __init__(self) -> None:
            base.__init__(self)
            self.runs: list[dict[str, float]] = []
            self.order: dict[str, None] = {}

        def next_run(self) -> None:
            self.runs.append({})

        def report_layer_time(self, layer_name: str, ms: float) -> None:
            if not self.runs:
                self.runs.append({})
            run = self.runs[-1]
            run[layer_name] = run.get(layer_name, 0.0) + float(ms)
            self.order.setdefault(layer_name, None)

    return LayerTimes


def parse_layer_info(text: str) -> dict[str, tuple[str, list[list[int]]]]:
    """Per layer name, its type and input shapes from ``IEngineInspector.
    get_engine_information(LayerInformationFormat.JSON)``.

    The JSON is ``{"Layers": [...], "Bindings": [...]}``; with
    ``ProfilingVerbosity.DETAILED`` each layer is an object with ``Name``,
    ``LayerType`` (``CaskConvolution``, ``Reformat``, ...) and ``Inputs``
    (objects with ``Dimensions``), with ``LAYER_NAMES_ONLY`` a plain name
    (TensorRT developer guide, "Engine Inspector"). Text that is not such JSON
    gives ``{}``: the layer times stand without types.
    """
    try:
        layers = json.loads(text).get("Layers", [])
    except (ValueError, AttributeError):
        return {}
    found: dict[str, tuple[str, list[list[int]]]] = {}
    for layer in layers if isinstance(layers, list) else []:
        if isinstance(layer, str):
            found[layer] = ("", [])
        elif isinstance(layer, dict) and isinstance(layer.get("Name"), str):
            shapes = [[int(d) for d in i.get("Dimensions", [])] for i in layer.get("Inputs", [])
                      if isinstance(i, dict) and isinstance(i.get("Dimensions", []), list)]
            found[layer["Name"]] = (str(layer.get("LayerType", "")), shapes)
    return found


def layer_op_times(runs: list[dict[str, float]], order: list[str],
                   details: dict[str, tuple[str, list[list[int]]]] | None = None) -> list[OpTimes]:
    """One :class:`OpTimes` per engine layer, in ``order``: its ms in each run of
    ``runs`` (0 in a run that did not report it), type and input shapes from
    ``details`` (:func:`parse_layer_info`) where known. ``LatkitError`` when no
    run reported a layer."""
    if not runs or not any(runs):
        raise LatkitError("TensorRT's profiler reported no layer time (was the engine built "
                          "with profiling verbosity NONE?)")
    details = details or {}
    return [OpTimes(name, details.get(name, ("", []))[0], details.get(name, ("", []))[1],
                    [run.get(name, 0.0) for run in runs], "TensorRT") for name in order]


class TensorRTBackend(CudaBackend):
    """Builds, caches and times TensorRT engines of space blocks and networks."""

    name = "tensorrt"
    runtime = "tensorrt"
    model_formats = (".onnx",)

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
        extra: list[object] = [f"workspace={self.settings.workspace_mb}"]
        if spec.kind == "file":  # the user's file, in its own types, at the shapes asked for
            onnx = Path(spec.key)
            extra += [f"shapes={spec.input_shapes}", f"batch={spec.input_shape}"]
        else:
            onnx = spec_onnx(spec, self.cache / "onnx", half=half)
        gpu = torch.cuda.get_device_name()
        key = engine_cache_key(file_hash(onnx), trt.__version__, gpu, self.settings.precision, *extra)
        path = self.cache / "tensorrt" / f"{key}.engine"
        if path.exists():
            return path, False
        self.build_engine(onnx, path, self.cache / "tensorrt" / timing_cache_name(trt.__version__, gpu),
                          spec if spec.kind == "file" else None)
        return path, True

    def build_engine(self, onnx: Path, path: Path, timing_cache: Path,
                     file_spec: ModelSpec | None = None) -> None:
        """Build ``onnx`` into a serialized engine at ``path``, reusing and updating the timing cache.

        With ``file_spec`` (a user's model file) a file TensorRT cannot parse
        raises ``LatkitError`` with its first reason, and dynamic input
        dimensions get a one-shape optimisation profile
        (:func:`~latency_kit.backends.base.resolve_input_shape`, whose
        ``LatkitError`` names an input left without a shape).
        """
        trt = self._trt()
        builder = trt.Builder(self._logger)
        network = builder.create_network(1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED))
        parser = trt.OnnxParser(network, self._logger)
        parsed = parser.parse_from_file(str(onnx)) if file_spec else parser.parse(onnx.read_bytes())
        if not parsed:
            errors = [str(parser.get_error(i)) for i in range(parser.num_errors)]
            if file_spec:
                reason = (errors[0].strip().splitlines() if errors else ["no reason given"])[0]
                raise LatkitError(f"TensorRT cannot load {onnx}: {reason}")
            raise RuntimeError(f"TensorRT could not parse {onnx}: {'; '.join(errors)}")
        config = builder.create_builder_config()
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, self.settings.workspace_mb << 20)
        config.profiling_verbosity = trt.ProfilingVerbosity.DETAILED  # layer names for IProfiler
        if file_spec:
            profile = builder.create_optimization_profile()
            dynamic = False
            for i in range(network.num_inputs):
                tensor = network.get_input(i)
                declared = list(tensor.shape)
                shape = resolve_input_shape(file_spec, tensor.name, declared)
                if any(d < 0 for d in declared):
                    dynamic = True
                    profile.set_shape(tensor.name, shape, shape, shape)
            if dynamic:
                config.add_optimization_profile(profile)
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

    def input_shapes(self, engine: Any) -> dict[str, tuple[int, ...]]:
        """The shape fed to each input: its engine shape, or for a dynamic one the
        (single) shape of optimisation profile 0."""
        trt = self._trt()
        shapes = {}
        for i in range(engine.num_io_tensors):
            name = engine.get_tensor_name(i)
            if engine.get_tensor_mode(name) != trt.TensorIOMode.INPUT:
                continue
            shape = tuple(engine.get_tensor_shape(name))
            if any(d < 0 for d in shape):
                shape = tuple(engine.get_tensor_profile_shape(name, 0)[1])
            shapes[name] = shape
        return shapes

    def _bind(self, engine: Any, context: Any) -> dict[str, Any]:
        """Device buffers for every I/O tensor (inputs random: normal floats, small
        non-negative integers), bound to ``context`` with the input shapes set."""
        import torch

        trt = self._trt()
        dtypes = {getattr(trt, n): getattr(torch, n) for n in
                  ("float32", "float16", "bfloat16", "int32", "int64", "int8", "bool") if hasattr(trt, n)}
        inputs = self.input_shapes(engine)
        for name, shape in inputs.items():
            context.set_input_shape(name, shape)
        buffers = {}
        for i in range(engine.num_io_tensors):
            name = engine.get_tensor_name(i)
            shape = tuple(context.get_tensor_shape(name))
            if any(d < 0 for d in shape):
                raise RuntimeError(f"tensor {name} has a dynamic shape {shape}; expected static")
            dtype = dtypes[engine.get_tensor_dtype(name)]
            if name not in inputs:
                buffers[name] = torch.empty(shape, dtype=dtype, device="cuda")
            elif dtype.is_floating_point:
                buffers[name] = torch.randn(shape, device="cuda").to(dtype)
            else:
                buffers[name] = torch.randint(0, 2 if dtype == torch.bool else 4, shape,
                                              device="cuda").to(dtype)
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
        fed = self.input_shapes(engine)
        inputs = {n: list(b.shape) for n, b in buffers.items() if n in fed}
        # a file's network is strongly typed: it runs in the types it was saved with
        extra = {"inputs": inputs, "precision": "as saved in the file"} if spec.kind == "file" else {}
        return self.prepared(spec, run, engine=str(path), engine_built=built,
                             io={n: [list(b.shape), str(b.dtype)] for n, b in buffers.items()},
                             **extra)

    def _profiled_runs(self, prepared: Prepared, runs: int, warmup: int) -> Any:
        """An ``IProfiler`` (:func:`layer_collector`) after ``warmup + runs`` inferences
        on a second execution context (profiling slows inference and cannot be
        captured in a CUDA graph), each synchronised before the next."""
        trt = self._trt()
        run = prepared.state
        collector = layer_collector(trt.IProfiler)()
        engine = run.keep["engine"]
        context = engine.create_execution_context()
        for name, shape in self.input_shapes(engine).items():
            context.set_input_shape(name, shape)
        for name, buf in run.keep["buffers"].items():
            context.set_tensor_address(name, buf.data_ptr())
        context.profiler = collector
        for _ in range(warmup + runs):
            collector.next_run()
            if not context.execute_async_v3(run.stream.cuda_stream):
                raise DeviceError(f"TensorRT execute_async_v3 failed while profiling {prepared.spec.key}")
            run.stream.synchronize()
        del context
        return collector

    def profile_ops(self, prepared: Prepared, runs: int, warmup: int = 3) -> list[OpTimes]:
        """Per-layer times (ms) of ``runs`` inferences after ``warmup``, from
        ``IProfiler``; layers as TensorRT names them (fused: ``conv1 + relu1``),
        with type and input shapes from the engine inspector."""
        collector = self._profiled_runs(prepared, runs, warmup)
        engine = prepared.state.keep["engine"]
        try:
            trt = self._trt()
            info = engine.create_engine_inspector().get_engine_information(
                trt.LayerInformationFormat.JSON)
        except (AttributeError, RuntimeError, TypeError):
            info = ""
        return layer_op_times(collector.runs[warmup:], list(collector.order), parse_layer_info(info))

    def layer_times(self, prepared: Prepared, runs: int = 20) -> dict[str, float]:
        """Median milliseconds per engine layer over ``runs`` inferences, via ``IProfiler``
        (layers named as TensorRT fused them)."""
        collector = self._profiled_runs(prepared, runs, 0)
        return {name: float(np.median([run.get(name, 0.0) for run in collector.runs]))
                for name in collector.order}

    def release(self, prepared: Prepared) -> None:
        run = prepared.state
        super().release(prepared)
        if run is not None:  # graph and contexts go before the engine, the engine before the runtime
            for name in ("graph", "context", "buffers", "engine", "runtime"):
                run.keep.pop(name, None)
