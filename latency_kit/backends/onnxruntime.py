"""ONNX Runtime on the local CPU (``--device cpu``).

Sessions use ``ORT_ENABLE_ALL`` (lower levels split h-swish and made a
depthwise conv 9x slower here), sequential execution and a configurable
intra-op thread count (default 1). Inputs and outputs are bound once with
IOBinding so the timed loop holds inference only.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from latency_kit.convert.onnx import OPSET, spec_onnx
from latency_kit.fingerprint import host_fingerprint
from latency_kit.paths import cache_dir
from latency_kit.backends.base import Backend, ModelSpec, Prepared


class OnnxRuntimeBackend(Backend):
    """Times ONNX models exported from the search space with ONNX Runtime."""

    name = "cpu"
    runtime = "onnxruntime"
    fresh_processes = True

    def __init__(self, threads: int = 1, cache: str | Path | None = None):
        if threads < 1:
            raise ValueError("threads must be >= 1")
        self.threads = int(threads)
        self.cache = Path(cache) if cache else cache_dir() / "onnx"

    def fingerprint(self) -> dict[str, Any]:
        import onnxruntime as ort
        import torch

        return {
            **host_fingerprint(),
            "device": "cpu",
            "runtime": self.runtime,
            "runtime_version": ort.__version__,
            "exporter": f"torch {torch.__version__.split('+')[0]} (torchscript)",
            "opset": OPSET,
            "threads": self.threads,
            "precision": "fp32",
            "execution_mode": "sequential",
            "graph_optimization": "ORT_ENABLE_ALL",
        }

    def onnx_path(self, spec: ModelSpec) -> Path:
        """Export ``spec`` to ONNX once and return the cached file."""
        return spec_onnx(spec, self.cache)

    def prepare(self, spec: ModelSpec) -> Prepared:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        session = ort.InferenceSession(str(self.onnx_path(spec)), options,
                                       providers=["CPUExecutionProvider"])
        feed = np.random.default_rng(0).standard_normal(spec.input_shape).astype(np.float32)
        binding = session.io_binding()
        binding.bind_cpu_input(session.get_inputs()[0].name, feed)
        for output in session.get_outputs():
            binding.bind_output(output.name, "cpu")
        return Prepared(spec, state=(session, binding, feed))

    def run_batch(self, prepared: Prepared, iterations: int) -> float:
        session, binding, _ = prepared.state
        run = session.run_with_iobinding
        start = time.perf_counter()
        for _ in range(iterations):
            run(binding)
        return (time.perf_counter() - start) * 1e3 / iterations
