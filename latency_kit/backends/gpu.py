"""NVIDIA GPU measurement: shared CUDA timing and the ``--device gpu`` selection.

Both GPU backends (TensorRT, torch-CUDA) keep their device buffers, stream
and events in torch's CUDA API and time like ``trtexec``: inputs live on the
GPU before timing, iterations are enqueued back to back on one stream
(optionally as one replayed CUDA graph each), CUDA events bracket them, and
nothing is copied to or from the host in the timed region. Buffers are
filled on the model's own stream (:func:`fill_on`), which torch does not
synchronise with its default stream.

``--device gpu`` picks TensorRT when it imports and a GPU is usable, else
torch-CUDA, and says which (a log line, the CLI, the fingerprint's runtime).
"""

from __future__ import annotations

import inspect
import logging
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from typing import Any, Callable, TypeVar

from latency_kit.errors import DeviceError
from latency_kit.fingerprint import host_fingerprint
from latency_kit.backends.gpu_settings import (GpuSettings, SMI_FIELDS, capture_failed, choose_gpu_runtime,
                            latency_summary, launch_mode, parse_nvidia_smi)
from latency_kit.backends.base import Backend, ModelSpec, OpTimes, Prepared

log = logging.getLogger(__name__)
T = TypeVar("T")


def _cuda() -> Any:
    """torch's CUDA module (one place, so tests can stand a fake in for it)."""
    import torch

    return torch.cuda


def fill_on(stream: Any, fill: Callable[[], T]) -> T:
    """Run ``fill`` (allocations, weight copies, random inputs) ordered before ``stream``'s work.

    ``stream`` first waits for everything already queued on the current
    stream; then ``fill`` runs with ``stream`` current, so its kernels and
    copies are queued on ``stream`` itself. Work launched on ``stream`` later
    never reads a buffer before it is written, although torch's side streams
    do not synchronise with its default stream.
    """
    cuda = _cuda()
    stream.wait_stream(cuda.current_stream())
    with cuda.stream(stream):
        return fill()


def cuda_status() -> tuple[bool, str]:
    """Whether torch can use a CUDA GPU here, and if not, why (one line)."""
    import torch

    if torch.cuda.is_available() and torch.cuda.device_count() > 0:
        return True, ""
    if torch.version.cuda is None:
        hint = ("an NVIDIA GPU is present, but " if shutil.which("nvidia-smi") else "no NVIDIA GPU found and ")
        return False, (f"{hint}torch {torch.__version__} is a CPU-only build; run on a machine with "
                       "an NVIDIA GPU and a CUDA build of torch")
    return False, "no usable NVIDIA GPU found (torch.cuda.is_available() is False); check the driver"


def tensorrt_status() -> tuple[bool, str]:
    """Whether the TensorRT Python package imports, and if not, why (one line)."""
    try:
        import tensorrt  # noqa: F401
    except (ImportError, OSError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return False, f"tensorrt does not import ({first}); install it with: pip install 'latkit[gpu]'"
    return True, ""


def nvidia_smi(gpu_name: str) -> dict[str, Any]:
    """Driver, clocks, P-state, temperature and power limit from ``nvidia-smi``.

    Empty when ``nvidia-smi`` is absent or fails. With several GPUs, the first
    whose name matches ``gpu_name`` (indices differ under CUDA_VISIBLE_DEVICES).
    """
    exe = shutil.which("nvidia-smi")
    if not exe:
        return {}
    cmd = [exe, f"--query-gpu={','.join(SMI_FIELDS)}", "--format=csv,noheader,nounits"]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=10, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    rows = parse_nvidia_smi(out)
    row = next((r for r in rows if r.get("smi_name") == gpu_name), rows[0] if rows else {})
    return {k: v for k, v in row.items() if k != "smi_name" and v is not None}


def gpu_fingerprint() -> dict[str, Any]:
    """The current CUDA device: name, capability, memory, SMs, CUDA, driver, clocks."""
    import torch

    index = torch.cuda.current_device()
    props = torch.cuda.get_device_properties(index)
    return {
        **host_fingerprint(),
        "gpu_name": props.name,
        "compute_capability": f"{props.major}.{props.minor}",
        "gpu_memory_gib": round(props.total_memory / 2**30, 1),
        "sm_count": props.multi_processor_count,
        "cuda": torch.version.cuda,
        "torch": torch.__version__,
        **nvidia_smi(props.name),
    }


@dataclass
class CudaRun:
    """What ``run_batch`` replays: ``launch`` enqueues one inference on ``stream``."""

    stream: Any
    launch: Callable[[], Any]
    cuda_graph: bool
    keep: dict[str, Any] = field(default_factory=dict)  # buffers, graph, engine: kept alive


class CudaBackend(Backend):
    """Base of the GPU backends: settings, fingerprint, graph capture, event timing."""

    name = "cuda"
    runtime = "cuda"
    fresh_processes = True

    def __init__(self, device: str = "gpu", batch: int = 1, precision: str = "fp32",
                 workspace_mb: int = 1024, cuda_graph: bool = True, warmup_ms: float = 200.0):
        self.device = device
        self.batch = int(batch)
        self.settings = GpuSettings(precision, workspace_mb, cuda_graph, warmup_ms)

    @classmethod
    def available(cls) -> tuple[bool, str]:
        return cuda_status()

    def fingerprint(self) -> dict[str, Any]:
        # cuda_graph is how every entry really ran: a failed capture stops the measurement.
        return {**gpu_fingerprint(), "device": self.device, "runtime": self.runtime,
                "precision": self.settings.precision, "batch": self.batch,
                "cuda_graph": self.settings.cuda_graph}

    @staticmethod
    def capture(key: str, stream: Any, enqueue: Callable[[], Any]) -> Any:
        """A CUDA graph of one ``enqueue`` on ``stream``; ``DeviceError`` where capture fails."""
        cuda = _cuda()
        graph = cuda.CUDAGraph()
        try:
            with cuda.graph(graph, stream=stream):
                enqueue()
        except RuntimeError as exc:
            cuda.synchronize()
            raise capture_failed(key, str(exc)) from None
        return graph

    def make_run(self, key: str, stream: Any, enqueue: Callable[[], Any],
                 keep: dict[str, Any]) -> CudaRun:
        """Warm ``enqueue`` up, capture it as a graph when asked, and spend the warm-up time.

        With ``cuda_graph`` on, a model that cannot be captured is refused
        (``DeviceError``), never timed with plain launches instead, so every
        entry measured under these settings was launched the same way.
        """
        import torch

        cuda = _cuda()
        with torch.no_grad(), cuda.stream(stream):
            for _ in range(3):
                enqueue()
        stream.synchronize()
        graph = None
        if self.settings.cuda_graph:
            with torch.no_grad():
                graph = self.capture(key, stream, enqueue)
        run = CudaRun(stream, graph.replay if graph is not None else enqueue, graph is not None,
                      {**keep, "graph": graph})
        deadline = time.perf_counter() + self.settings.warmup_ms / 1e3
        while time.perf_counter() < deadline:
            self.time_launches(run, 10)
        return run

    @staticmethod
    def prepared(spec: ModelSpec, run: CudaRun, **info: Any) -> Prepared:
        """``spec`` ready to time; ``info["launch"]`` says how its inferences are launched,
        and ``info["entry"]`` records it with the entry (:attr:`LatencyStats.run`)."""
        launch = launch_mode(run.cuda_graph)
        return Prepared(spec, run, {"launch": launch, "cuda_graph": run.cuda_graph,
                                    "entry": {"launch": launch}, **info})

    @staticmethod
    def time_launches(run: CudaRun, iterations: int) -> float:
        """Milliseconds per inference over ``iterations`` back-to-back launches (CUDA events)."""
        import torch

        cuda = _cuda()
        start = cuda.Event(enable_timing=True)
        end = cuda.Event(enable_timing=True)
        with torch.no_grad(), cuda.stream(run.stream):
            start.record(run.stream)
            for _ in range(iterations):
                run.launch()
            end.record(run.stream)
        end.synchronize()
        return start.elapsed_time(end) / iterations

    def run_batch(self, prepared: Prepared, iterations: int) -> float:
        return self.time_launches(prepared.state, iterations)

    def time_each(self, prepared: Prepared, iterations: int) -> list[float]:
        """Per-inference GPU times (ms), an event pair around each launch."""
        import torch

        cuda = _cuda()
        run: CudaRun = prepared.state
        pairs = [(cuda.Event(enable_timing=True), cuda.Event(enable_timing=True))
                 for _ in range(iterations)]
        with torch.no_grad(), cuda.stream(run.stream):
            for start, end in pairs:
                start.record(run.stream)
                run.launch()
                end.record(run.stream)
        pairs[-1][1].synchronize()
        return [start.elapsed_time(end) for start, end in pairs]

    def release(self, prepared: Prepared) -> None:
        if prepared.state is not None:
            prepared.state.stream.synchronize()
        prepared.state = None


def select_backend() -> tuple[type[CudaBackend] | None, str]:
    """The backend class ``--device gpu`` uses here, and a one-line note (or why none)."""
    cuda_ok, cuda_why = cuda_status()
    trt_ok, trt_why = tensorrt_status() if cuda_ok else (False, "")
    runtime, note = choose_gpu_runtime(cuda_ok, cuda_why, trt_ok, trt_why)
    if runtime == "tensorrt":
        from latency_kit.backends.tensorrt import TensorRTBackend
        return TensorRTBackend, note
    if runtime == "torch-cuda":
        from latency_kit.backends.torch_cuda import TorchCudaBackend
        return TorchCudaBackend, note
    return None, note


class GpuBackend(Backend):
    """``--device gpu``: TensorRT when importable, else torch-CUDA, on the current GPU.

    A thin delegate; ``runtime`` becomes the chosen backend's, so the profile
    names the runtime that really measured it.
    """

    name = "gpu"
    runtime = "tensorrt or torch-cuda"
    fresh_processes = True
    # What TensorRT runs; an opened backend lists its chosen runtime's (none for torch-cuda).
    model_formats = (".onnx",)

    def __init__(self, device: str = "gpu", batch: int = 1, precision: str = "fp32",
                 workspace_mb: int = 1024, cuda_graph: bool = True, warmup_ms: float = 200.0):
        GpuSettings(precision, workspace_mb, cuda_graph, warmup_ms)  # validate before probing
        cls, note = select_backend()
        if cls is None:
            raise DeviceError(f"device {device!r} is not usable here: {note}")
        log.info(note)
        self.note = note
        options = dict(device=device, batch=batch, precision=precision, workspace_mb=workspace_mb,
                       cuda_graph=cuda_graph, warmup_ms=warmup_ms)
        params = inspect.signature(cls.__init__).parameters
        self.inner = cls(**{k: v for k, v in options.items() if k in params})
        self.runtime = self.inner.runtime  # type: ignore[misc]
        self.model_formats = self.inner.model_formats  # type: ignore[misc]

    @classmethod
    def available(cls) -> tuple[bool, str]:
        chosen, note = select_backend()
        return chosen is not None, "" if chosen else note

    @classmethod
    def describe_choice(cls) -> str:
        """One line saying which runtime ``--device gpu`` will use here, and why."""
        return select_backend()[1]

    def fingerprint(self) -> dict[str, Any]:
        return {**self.inner.fingerprint(), "selection": self.note}

    def prepare(self, spec: ModelSpec) -> Prepared:
        return self.inner.prepare(spec)

    def run_batch(self, prepared: Prepared, iterations: int) -> float:
        return self.inner.run_batch(prepared, iterations)

    def profile_ops(self, prepared: Prepared, runs: int, warmup: int = 3) -> list[OpTimes]:
        """The chosen runtime's per-operator times (TensorRT: per engine layer)."""
        return self.inner.profile_ops(prepared, runs, warmup)

    def check_profile_ops(self) -> None:
        self.inner.check_profile_ops()

    def release(self, prepared: Prepared) -> None:
        self.inner.release(prepared)

    def close(self) -> None:
        self.inner.close()

    def __getattr__(self, name: str) -> Any:  # time_each, layer_times of the chosen backend
        if name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)


def trtexec_style(backend: Backend, spec: ModelSpec, duration_ms: float = 3000.0,
                  min_iterations: int = 10, max_iterations: int = 20000) -> dict[str, Any]:
    """One model timed like ``trtexec``: per-inference GPU times over ``duration_ms``.

    Returns the latency summary (median, mean, min, max, p90/p95/p99, count)
    and, for TensorRT, median per-layer times from ``IProfiler``.
    """
    prepared = backend.prepare(spec)
    try:
        per_run = max(backend.run_batch(prepared, min_iterations), 1e-3)
        iterations = min(max_iterations, max(min_iterations, int(duration_ms / per_run)))
        summary: dict[str, Any] = latency_summary(backend.time_each(prepared, iterations))
        layer_times = getattr(backend, "layer_times", None)
        if layer_times is not None:
            summary["layers_ms"] = layer_times(prepared)
        return summary
    finally:
        backend.release(prepared)
