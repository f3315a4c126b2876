"""Pure helpers of the GPU backends: settings, cache keys, statistics, selection.

Nothing here imports torch, TensorRT or CUDA, so all of it is unit-tested on
machines without a GPU (``tests/test_gpu_pure.py``).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from latency_kit.errors import DeviceError, LatkitError

PRECISIONS = ("fp32", "fp16", "int8")
SUPPORTED_PRECISIONS = ("fp32", "fp16")
WORKSPACE_MB_RANGE = (16, 1 << 20)

# nvidia-smi --query-gpu fields and the fingerprint names they are stored under.
SMI_FIELDS = {
    "name": "smi_name",
    "driver_version": "driver",
    "clocks.sm": "sm_clock_mhz",
    "clocks.mem": "mem_clock_mhz",
    "clocks.max.sm": "max_sm_clock_mhz",
    "clocks.max.mem": "max_mem_clock_mhz",
    "pstate": "pstate",
    "temperature.gpu": "temperature_c",
    "power.limit": "power_limit_w",
}


def check_precision(precision: str) -> str:
    """``precision`` if a GPU backend can measure it; else a one-line ``LatkitError``.

    int8 is refused: a meaningful int8 engine needs calibration data or Q/DQ
    nodes in the graph (TensorRT 11 removed implicit int8), which latkit leaves out.
    """
    if precision == "int8":
        raise LatkitError(
            "precision int8 is not supported: it needs calibration data or a Q/DQ-quantized "
            "model, which latkit leaves out; use --precision fp16 or fp32")
    if precision not in SUPPORTED_PRECISIONS:
        raise LatkitError(
            f"unknown precision {precision!r}; known precisions: {', '.join(SUPPORTED_PRECISIONS)}")
    return precision


@dataclass(frozen=True)
class GpuSettings:
    """How a GPU backend builds and runs models.

    ``workspace_mb`` caps TensorRT's builder scratch memory; ``cuda_graph``
    replays each inference as one captured CUDA graph (less launch overhead,
    as ``trtexec --useCudaGraph``), and a model whose capture fails is refused
    rather than timed with plain launches (:func:`capture_failed`);
    ``warmup_ms`` is spent once per model in ``prepare`` so clocks ramp up
    before the engine's own warm-up.
    """

    precision: str = "fp32"
    workspace_mb: int = 1024
    cuda_graph: bool = True
    warmup_ms: float = 200.0

    def __post_init__(self) -> None:
        check_precision(self.precision)
        low, high = WORKSPACE_MB_RANGE
        if not low <= int(self.workspace_mb) <= high:
            raise LatkitError(f"workspace {self.workspace_mb} MB is out of range; use {low}-{high} MB")
        if self.warmup_ms < 0:
            raise LatkitError(f"warm-up must be >= 0 ms, not {self.warmup_ms}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def launch_mode(cuda_graph: bool) -> str:
    """How an entry's inferences were launched: ``"cuda-graph"`` (one replayed graph) or ``"eager"``."""
    return "cuda-graph" if cuda_graph else "eager"


def capture_failed(key: str, reason: str) -> DeviceError:
    """The one-line error for a model whose CUDA-graph capture failed under ``cuda_graph=True``.

    Graph replay and plain launches time different things (launch overhead
    dominates small GPU models, docs/gpu.md), so one table never holds both:
    the measurement stops and says how to time every entry with plain launches.
    """
    first = reason.strip().splitlines()[0][:70] if reason.strip() else "no reason given"
    return DeviceError(
        f"CUDA graph capture failed for {key[:60]} ({first}); graph replay and plain launches "
        "are not mixed in one table: re-measure with --no-cuda-graph (cuda_graph=False) into a "
        "new profile")


def slug(text: str) -> str:
    """``text`` reduced to a filesystem-safe lower-case name."""
    return re.sub(r"[^a-z0-9.]+", "-", text.lower()).strip("-") or "unknown"


def engine_cache_key(model_hash: str, trt_version: str, gpu_name: str, precision: str,
                     *extra: object) -> str:
    """The cache key of a built engine; any changed input gives a new key.

    An engine is only valid for the model, TensorRT version and GPU it was
    built on, at its precision; ``extra`` holds build settings (workspace).
    """
    parts = [model_hash, trt_version, gpu_name, precision, *map(str, extra)]
    digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:24]
    return f"{slug(gpu_name)}-trt{slug(trt_version)}-{precision}-{digest}"


def timing_cache_name(trt_version: str, gpu_name: str) -> str:
    """File name of the builder's timing cache, which is per GPU and TensorRT version."""
    return f"timing-{slug(gpu_name)}-trt{slug(trt_version)}.cache"


def file_hash(path: str | Path) -> str:
    """SHA-256 of a file's bytes (the model hash of engine cache keys)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def latency_summary(samples_ms: Sequence[float]) -> dict[str, float]:
    """trtexec-style summary of per-inference times: median, mean, min, max, p90/p95/p99."""
    arr = np.asarray(samples_ms, dtype=float)
    if arr.size == 0:
        raise ValueError("no samples to summarise")
    p50, p90, p95, p99 = np.percentile(arr, [50, 90, 95, 99])
    return {"median_ms": float(p50), "mean_ms": float(arr.mean()), "min_ms": float(arr.min()),
            "max_ms": float(arr.max()), "p90_ms": float(p90), "p95_ms": float(p95),
            "p99_ms": float(p99), "count": int(arr.size)}


def _smi_value(text: str) -> Any:
    text = text.strip()
    if not text or text.startswith("[") or text in ("N/A", "Not Supported"):
        return None
    try:
        number = float(text)
    except ValueError:
        return text
    return int(number) if number.is_integer() else number


def parse_nvidia_smi(output: str, fields: Sequence[str] = tuple(SMI_FIELDS)) -> list[dict[str, Any]]:
    """Rows of ``nvidia-smi --query-gpu=FIELDS --format=csv,noheader,nounits``.

    Keys are the fingerprint names of ``SMI_FIELDS``; unreadable values are None.
    """
    rows = []
    for line in output.strip().splitlines():
        values = [v.strip() for v in line.split(",")]
        if len(values) != len(fields):
            continue
        rows.append({SMI_FIELDS.get(f, f): _smi_value(v) for f, v in zip(fields, values)})
    return rows


def choose_gpu_runtime(cuda_ok: bool, cuda_why: str, trt_ok: bool, trt_why: str) -> tuple[str | None, str]:
    """Which runtime ``--device gpu`` uses, and a one-line note saying why.

    TensorRT when it imports and a CUDA GPU is usable, else torch-CUDA; with no
    usable GPU, ``None`` and the reason.
    """
    if not cuda_ok:
        return None, cuda_why
    if trt_ok:
        return "tensorrt", "gpu: measuring with TensorRT"
    return "torch-cuda", f"gpu: measuring with torch-CUDA, not TensorRT ({trt_why})"
