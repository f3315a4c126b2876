"""``toy-eager``: a latency backend in one file that registers itself.

PyTorch eager mode on this CPU, timed with ``time.perf_counter``: no export,
no conversion, a real (if unoptimised) measurement.
"""

from __future__ import annotations

import time
from typing import Any

from latency_kit.backends import Backend, ModelSpec, Prepared, register_backend


@register_backend
class ToyEagerBackend(Backend):
    name = "toy-eager"
    runtime = "torch-eager"

    def fingerprint(self) -> dict[str, Any]:
        import torch

        return {"device": self.name, "runtime": self.runtime, "runtime_version": torch.__version__,
                "threads": torch.get_num_threads(), "precision": "fp32"}

    def prepare(self, spec: ModelSpec) -> Prepared:
        import torch

        return Prepared(spec, (spec.build_module(), torch.zeros(spec.input_shape)))

    def run_batch(self, prepared: Prepared, iterations: int) -> float:
        import torch

        module, x = prepared.state
        with torch.no_grad():
            start = time.perf_counter()
            for _ in range(iterations):
                module(x)
            return (time.perf_counter() - start) * 1000 / iterations
