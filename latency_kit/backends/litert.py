"""LiteRT on this host with XNNPACK (``--device tflite-cpu``).

Runs the same ``.tflite`` files a phone would run (converted by
:mod:`latency_kit.convert.tflite` with channel-last IO), through ``ai_edge_litert``'s
interpreter, whose default delegate is XNNPACK. A real measurement on x86 and
ARM Linux hosts, and the way CI exercises the whole TFLite path.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from latency_kit.errors import MissingExtraError
from latency_kit.fingerprint import host_fingerprint
from latency_kit.convert.tflite import cached_tflite, check_precision, converter_version
from latency_kit.runners import litert_runner
from latency_kit.backends.base import Backend, ModelSpec, Prepared


def require_litert() -> None:
    """Raise ``MissingExtraError`` unless ai-edge-litert and litert-torch are installed."""
    from importlib.util import find_spec

    for module, package in (("ai_edge_litert", "ai-edge-litert"), ("litert_torch", "litert-torch")):
        if find_spec(module) is None:
            raise MissingExtraError(package, "mobile")


def litert_available() -> tuple[bool, str]:
    """Whether the LiteRT runtime and converter are installed here, and if not, why."""
    try:
        require_litert()
    except MissingExtraError as exc:
        return False, str(exc)
    return True, ""


class LiteRTBackend(Backend):
    """Times ``.tflite`` models with the LiteRT interpreter and XNNPACK."""

    name = "tflite-cpu"
    runtime = "litert"
    fresh_processes = True

    def __init__(self, threads: int = 1, precision: str = "fp32", cache: str | Path | None = None):
        if threads < 1:
            raise ValueError("threads must be >= 1")
        self.threads = int(threads)
        self.precision = check_precision(precision)
        self.cache = cache

    @classmethod
    def available(cls) -> tuple[bool, str]:
        return litert_available()

    def fingerprint(self) -> dict[str, Any]:
        return {
            **host_fingerprint(),
            "device": self.name,
            "runtime": self.runtime,
            "runtime_version": litert_runner.runtime_version(),
            "converter": converter_version(),
            "delegate": "xnnpack",
            "threads": self.threads,
            "precision": self.precision,
            "layout": "nhwc",
        }

    def tflite_path(self, spec: ModelSpec) -> Path:
        """Convert ``spec`` once and return the cached ``.tflite`` file."""
        return cached_tflite(spec, self.precision, self.cache)

    def prepare(self, spec: ModelSpec) -> Prepared:
        require_litert()
        path = self.tflite_path(spec)
        return Prepared(spec, state=litert_runner.load(str(path), self.threads), info={"path": str(path)})

    def run_batch(self, prepared: Prepared, iterations: int) -> float:
        return litert_runner.time_invoke(prepared.state, iterations)
