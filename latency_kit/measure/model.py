"""Measure a user's own model file (``latkit measure --model``).

An ``.onnx`` file runs on ``cpu`` (ONNX Runtime) or an NVIDIA GPU through
TensorRT (``tensorrt``, ``gpu``); a ``.tflite`` file on ``tflite-cpu``
(LiteRT), an Android phone (``benchmark_model``) or an ``ssh://`` board
(LiteRT), through the same engine as every other measurement
(:func:`latency_kit.measure.engine.measure_prepared`). Each backend lists the
suffixes it runs in ``model_formats``. With ``ops=True`` the runtime's own
profiler breaks the model down per node: ONNX Runtime's node events,
``benchmark_model --enable_op_profiling`` on a phone, TensorRT's
``IProfiler`` (layers as TensorRT fused them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from latency_kit.backends import backend_class, open_backend
from latency_kit.backends.base import (MODEL_FILE_DEVICES, Backend, MeasureSettings, ModelSpec,
                                       model_file_advice, no_op_profiler)
from latency_kit.errors import LatkitError
from latency_kit.measure.engine import measure_prepared
from latency_kit.stats import LatencyStats

# Model-file suffix -> the device that runs it on this host (all devices: MODEL_FILE_DEVICES).
FORMATS = {".onnx": "cpu", ".tflite": "tflite-cpu"}
# How hard ``measure_model`` measures unless told: as ``latkit measure``.
DEFAULT_SETTINGS = MeasureSettings(repeats=30, warmup_ms=200, batch_ms=20)


@dataclass(frozen=True)
class OpRow:
    """One node of a model: op type, node name, input shapes, median ms over the
    profiled runs and its share of the nodes' total (0-1)."""

    name: str
    op_type: str
    input_shapes: list[list[int]]
    ms: float
    share: float
    provider: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "op_type": self.op_type, "input_shapes": self.input_shapes,
                "ms": self.ms, "share": self.share, "provider": self.provider}


@dataclass
class ModelMeasurement:
    """What :func:`measure_model` returns: end-to-end statistics (ms), the
    fingerprint, the input shapes fed and, with ``ops``, the per-node rows."""

    path: str
    device: str
    stats: LatencyStats
    inputs: dict[str, list[int]]
    fingerprint: dict[str, Any]
    ops: list[OpRow] | None = None
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def ops_ms(self) -> float:
        """The sum of the nodes' median times (ms); 0 without ``ops``."""
        return sum(op.ms for op in self.ops or [])

    def to_dict(self) -> dict[str, Any]:
        data = {"model": self.path, "device": self.device, "latency_ms": self.stats.median_ms,
                **self.stats.to_dict(), "inputs": self.inputs, "fingerprint": self.fingerprint}
        if self.ops is not None:
            data["ops_total_ms"] = self.ops_ms
            data["ops"] = [op.to_dict() for op in self.ops]
        return data


def check_model_file(path: str | Path, device: str) -> Path:
    """``path`` if ``device`` can run it.

    Raises ``LatkitError`` (one line) for an unknown suffix (naming the
    formats and their devices), a format the device's backend does not list in
    ``model_formats`` (naming the devices that run it) and a missing file.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in MODEL_FILE_DEVICES:
        known = "; ".join(model_file_advice(s) for s in MODEL_FILE_DEVICES)
        raise LatkitError(f"{path}: unknown model format {suffix or '(no extension)'!r}; {known}")
    check_format(backend_class(device), device, path)
    if not path.is_file():
        raise LatkitError(f"{path}: no such model file")
    return path


def check_format(backend: Backend | type[Backend], device: str, path: Path) -> None:
    """``LatkitError`` unless ``backend`` (a class, or an opened backend whose
    runtime was chosen at open, as ``gpu``'s) lists ``path``'s suffix in
    ``model_formats``; the message names the devices that run it."""
    suffix = path.suffix.lower()
    formats = getattr(backend, "model_formats", ())
    if suffix in formats:
        return
    what = (f"device {device} ({backend.runtime}) cannot run a model file" if not formats
            else f"device {device} ({backend.runtime}) runs {', '.join(formats)} files only")
    raise LatkitError(f"{path} is a {suffix} model and {what}; {model_file_advice(suffix)}")


def measure_model(path: str | Path, device: str = "cpu",
                  shapes: Mapping[str, Sequence[int]] | None = None, batch: int | None = None,
                  threads: int = 1, settings: MeasureSettings | None = None,
                  ops: bool = False) -> ModelMeasurement:
    """Measure the model file ``path`` end to end on ``device`` (latencies in ms).

    Static input shapes are read from the model; ``shapes`` (``{input name:
    dims}``) sets dynamic ones and ``batch`` fills a dynamic first dimension.
    Inputs are random (normal floats, small non-negative integers). With
    ``ops``, the runtime's profiler adds a per-node breakdown
    (``ModelMeasurement.ops``), timed over ``settings.repeats`` extra runs.

    Raises ``LatkitError`` for an unknown extension, a file the device does not
    run (naming the devices that do), a file the runtime cannot load (with its
    reason), a dynamic dimension without a shape, and ``ops`` on a runtime
    without a per-operator profiler (before anything is timed); ``DeviceError``
    when the device is lost or its tool fails.
    """
    path = check_model_file(path, device)
    cls = backend_class(device)
    if ops and cls.profile_ops is Backend.profile_ops:
        raise LatkitError(no_op_profiler(cls.runtime, device))
    settings = settings or DEFAULT_SETTINGS
    spec = ModelSpec.for_file(str(path), shapes, batch)
    with open_backend(device, threads=threads) as backend:
        check_format(backend, device, path)  # gpu picks its runtime when opened
        if ops:
            backend.check_profile_ops()
        prepared = backend.prepare(spec)
        try:
            stats = measure_prepared(backend, prepared, settings)
            # warm the profiled session as long as the engine warmed its own
            warmup = max(3, round(settings.warmup_ms / max(stats.median_ms, 1e-3)))
            rows = op_rows(backend.profile_ops(prepared, settings.repeats, warmup)) if ops else None
        finally:
            backend.release(prepared)
        fingerprint = {**backend.fingerprint(), "model": str(path),
                       "inputs": prepared.info.get("inputs", {})}
    return ModelMeasurement(str(path), device, stats, dict(prepared.info.get("inputs", {})),
                            fingerprint, rows, {k: v for k, v in prepared.info.items() if k != "inputs"})


def op_rows(times: Sequence[Any]) -> list[OpRow]:
    """Per-node rows from a backend's ``OpTimes``: the median over runs and the
    share of the nodes' total, in the order the nodes ran."""
    medians = [float(np.median(t.run_ms)) for t in times]
    total = sum(medians) or 1.0
    return [OpRow(t.name, t.op_type, t.input_shapes, ms, ms / total, t.provider)
            for t, ms in zip(times, medians)]
