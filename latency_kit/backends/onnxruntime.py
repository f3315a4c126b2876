"""ONNX Runtime on the local CPU (``--device cpu``).

Sessions use ``ORT_ENABLE_ALL`` (lower levels split h-swish and made a
depthwise conv 9x slower here), sequential execution and a configurable
intra-op thread count (default 1). Inputs and outputs are bound once with
IOBinding so the timed loop holds inference only.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from bisect import bisect_right
from pathlib import Path
from typing import Any

import numpy as np

from latency_kit.convert.onnx import OPSET, spec_onnx
from latency_kit.fingerprint import host_fingerprint
from latency_kit.paths import cache_dir
from latency_kit.errors import LatkitError
from latency_kit.backends.base import (Backend, ModelSpec, OpTimes, Prepared, random_input,
                                       resolve_input_shape)

# ONNX tensor element types (``NodeArg.type``) and their numpy dtypes.
_DTYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16, "tensor(double)": np.float64,
           "tensor(int64)": np.int64, "tensor(int32)": np.int32, "tensor(int8)": np.int8,
           "tensor(uint8)": np.uint8, "tensor(bool)": np.bool_}


class OnnxRuntimeBackend(Backend):
    """Times ONNX models exported from the search space with ONNX Runtime."""

    name = "cpu"
    runtime = "onnxruntime"
    fresh_processes = True
    model_formats = (".onnx",)

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
        """Export ``spec`` to ONNX once and return the cached file (a file spec: its path)."""
        if spec.kind == "file":
            return Path(spec.key)
        return spec_onnx(spec, self.cache)

    def session(self, spec: ModelSpec, profile_dir: str | None = None,
                optimized_path: str | None = None):
        """An ``InferenceSession`` of ``spec`` with this backend's options; with
        ``profile_dir``, ORT's profiler writes its trace there; with
        ``optimized_path``, ORT saves the graph it executes (after fusions and
        layout changes) there."""
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        if profile_dir:
            options.enable_profiling = True
            options.profile_file_prefix = os.path.join(profile_dir, "ort")
        if optimized_path:
            options.optimized_model_filepath = optimized_path
        path = self.onnx_path(spec)
        if spec.kind != "file":
            return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        try:
            return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # ORT raises several types, all with the reason as text
            reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise LatkitError(f"onnxruntime cannot load {path}: {reason}") from None

    def prepare(self, spec: ModelSpec) -> Prepared:
        session = self.session(spec)
        if spec.kind == "file":
            feeds = file_feeds(session, spec)
        else:
            feed = np.random.default_rng(0).standard_normal(spec.input_shape).astype(np.float32)
            feeds = {session.get_inputs()[0].name: feed}
        binding = self._bind(session, feeds)
        info = {"inputs": {k: list(v.shape) for k, v in feeds.items()}} if spec.kind == "file" else {}
        return Prepared(spec, state=(session, binding, feeds), info=info)

    @staticmethod
    def _bind(session, feeds: dict[str, np.ndarray]):
        binding = session.io_binding()
        for name, value in feeds.items():
            binding.bind_cpu_input(name, value)
        for output in session.get_outputs():
            binding.bind_output(output.name, "cpu")
        return binding

    def profile_ops(self, prepared: Prepared, runs: int, warmup: int = 3) -> list[OpTimes]:
        """Per-node times of ``runs`` inferences (after ``warmup`` untimed ones) from
        ORT's profiler, on a second session of the same model and inputs."""
        feeds = prepared.state[2]
        with tempfile.TemporaryDirectory() as tmp:
            session = self.session(prepared.spec, profile_dir=tmp)
            binding = self._bind(session, feeds)
            for _ in range(warmup + runs):
                session.run_with_iobinding(binding)
            trace = session.end_profiling()
            with open(trace) as handle:
                events = json.load(handle)
        return parse_ort_profile(events, skip_runs=warmup)

    def run_batch(self, prepared: Prepared, iterations: int) -> float:
        session, binding, _ = prepared.state
        run = session.run_with_iobinding
        start = time.perf_counter()
        for _ in range(iterations):
            run(binding)
        return (time.perf_counter() - start) * 1e3 / iterations


def file_feeds(session, spec: ModelSpec) -> dict[str, np.ndarray]:
    """Random inputs for every input of ``session``, shaped by :func:`resolve_input_shape`."""
    rng = np.random.default_rng(0)
    feeds = {}
    for arg in session.get_inputs():
        if arg.type not in _DTYPES:
            raise LatkitError(f"input {arg.name} of {spec.key} has type {arg.type}, which latkit "
                              f"cannot fill ({', '.join(_DTYPES)})")
        feeds[arg.name] = random_input(resolve_input_shape(spec, arg.name, arg.shape),
                                       _DTYPES[arg.type], rng)
    return feeds


def parse_ort_profile(events: list[dict[str, Any]], skip_runs: int = 0) -> list[OpTimes]:
    """Per-node times from an ONNX Runtime profiling trace (``end_profiling()``'s JSON).

    The trace is a list of Chrome-trace events (onnxruntime ``profiler.cc``):
    each inference is a ``"cat": "Session"`` event named ``model_run``, and each
    node run inside it a ``"cat": "Node"`` event named ``<node>_kernel_time``
    with ``dur`` in microseconds and ``args`` holding ``op_name``, ``provider``
    and ``input_type_shape`` (a list of ``{type: dims}``). A node's time in a
    run is the sum of its kernel events inside that run (a node in a loop runs
    several times); the first ``skip_runs`` runs are dropped. Nodes are listed
    in the order they first ran. Raises ``LatkitError`` when the trace has node
    events but none of the expected form, or no runs after ``skip_runs``.
    """
    nodes = [e for e in events if isinstance(e, dict) and e.get("cat") == "Node"]
    kernels = [e for e in nodes if str(e.get("name", "")).endswith("_kernel_time")
               and isinstance(e.get("dur"), (int, float)) and isinstance(e.get("args"), dict)
               and "op_name" in e["args"]]
    if nodes and not kernels:
        raise LatkitError("the ONNX Runtime profile has node events but none in the known form "
                          "(<node>_kernel_time with dur and args.op_name)")
    runs = sorted((e["ts"], e["ts"] + e["dur"]) for e in events if isinstance(e, dict)
                  and e.get("cat") == "Session" and e.get("name") == "model_run")
    if runs:
        runs = runs[skip_runs:]
    elif kernels:  # no run markers: the whole trace is one run
        runs = [(min(k["ts"] for k in kernels), max(k["ts"] + k["dur"] for k in kernels))]
    if not runs:
        raise LatkitError("the ONNX Runtime profile holds no profiled run")
    starts = [start for start, _ in runs]
    per_node: dict[str, tuple[dict[str, Any], list[float]]] = {}
    for event in sorted(kernels, key=lambda e: e["ts"]):
        run = _run_index(starts, event["ts"])
        if run < 0 or event["ts"] > runs[run][1]:
            continue
        name = event["name"][: -len("_kernel_time")]
        args, times = per_node.setdefault(name, (event["args"], [0.0] * len(runs)))
        times[run] += event["dur"] / 1e3
    return [OpTimes(name, args["op_name"], _shapes(args.get("input_type_shape", [])), times,
                    str(args.get("provider", ""))) for name, (args, times) in per_node.items()]


def _run_index(starts: list[float], ts: float) -> int:
    return bisect_right(starts, ts) - 1


def _shapes(typed: list[Any]) -> list[list[int]]:
    """``[{"float": [1, 3, 8, 8]}, ...]`` -> ``[[1, 3, 8, 8], ...]``."""
    return [list(next(iter(entry.values()))) if isinstance(entry, dict) and entry else []
            for entry in typed]
