"""torch on an NVIDIA GPU (``--device torch-cuda``; ``--device gpu`` without TensorRT).

Measures the same networks and blocks with eager torch on CUDA, captured as a
CUDA graph where capture works, in fp32 or fp16 (module and input in half
precision, as the fp16 ONNX export TensorRT gets). Profiles made with it say
``runtime: torch-cuda``: these are torch latencies, not TensorRT ones.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from latency_kit.backends.base import ModelSpec, Prepared, model_file_advice
from latency_kit.backends.gpu import CudaBackend, fill_on
from latency_kit.errors import LatkitError


class TorchCudaBackend(CudaBackend):
    """Times torch modules of the search space on the current CUDA device."""

    name = "torch-cuda"
    runtime = "torch-cuda"

    def __init__(self, device: str = "torch-cuda", batch: int = 1, precision: str = "fp32",
                 cuda_graph: bool = True, warmup_ms: float = 200.0, cudnn_benchmark: bool = True):
        super().__init__(device, batch, precision, cuda_graph=cuda_graph, warmup_ms=warmup_ms)
        self.cudnn_benchmark = bool(cudnn_benchmark)
        self._saved_benchmark: bool | None = None

    def fingerprint(self) -> dict[str, Any]:
        import torch

        return {**super().fingerprint(), "runtime_version": torch.__version__.split("+")[0],
                "cudnn": torch.backends.cudnn.version(), "cudnn_benchmark": self.cudnn_benchmark,
                "tf32_conv": torch.backends.cudnn.allow_tf32,
                "tf32_matmul": torch.backends.cuda.matmul.allow_tf32}

    def prepare(self, spec: ModelSpec) -> Prepared:
        """A space's network or block on the GPU; ``LatkitError`` for a model file
        (``model_formats`` is empty: torch cannot run an ONNX or TFLite file)."""
        import torch

        if spec.kind == "file":
            suffix = Path(spec.key).suffix.lower()
            advice = model_file_advice(suffix) if suffix in (".onnx", ".tflite") else ""
            raise LatkitError(f"device {self.device} (torch-cuda) runs latkit's own torch modules, "
                              f"not model files like {spec.key}{'; ' + advice if advice else ''}")
        if self._saved_benchmark is None:  # restored in close(); eager timing needs it on throughout
            self._saved_benchmark = torch.backends.cudnn.benchmark
            torch.backends.cudnn.benchmark = self.cudnn_benchmark
        dtype = torch.float16 if self.settings.precision == "fp16" else torch.float32
        stream = torch.cuda.Stream()
        module, x = fill_on(stream, lambda: (
            spec.build_module().eval().to(device="cuda", dtype=dtype),
            torch.randn(spec.input_shape, device="cuda").to(dtype)))

        def enqueue() -> Any:
            return module(x)

        run = self.make_run(spec.key, stream, enqueue, {"module": module, "input": x})
        return self.prepared(spec, run)

    def close(self) -> None:
        if self._saved_benchmark is not None:
            import torch

            torch.backends.cudnn.benchmark = self._saved_benchmark
            self._saved_benchmark = None
