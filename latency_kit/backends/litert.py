"""LiteRT on this host with XNNPACK (``--device tflite-cpu``).

Runs the same ``.tflite`` files a phone would run (converted by
:mod:`latency_kit.convert.tflite` with channel-last IO), through ``ai_edge_litert``'s
interpreter, whose default delegate is XNNPACK. A real measurement on x86 and
ARM Linux hosts, and the way CI exercises the whole TFLite path.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from latency_kit.errors import LatkitError, MissingExtraError
from latency_kit.fingerprint import host_fingerprint
from latency_kit.convert.tflite import cached_tflite, check_precision, converter_version
from latency_kit.runners import litert_runner
from latency_kit.backends.base import (Backend, ModelSpec, Prepared, random_input,
                                       resolve_input_shape)


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
    model_formats = (".tflite",)

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
        """Convert ``spec`` once and return the cached ``.tflite`` file (a file spec: its path)."""
        if spec.kind == "file":
            return Path(spec.key)
        return cached_tflite(spec, self.precision, self.cache)

    def prepare(self, spec: ModelSpec) -> Prepared:
        require_litert()
        path = self.tflite_path(spec)
        if spec.kind == "file":
            interpreter, shapes = load_file(spec, self.threads)
            return Prepared(spec, state=interpreter, info={"path": str(path), "inputs": shapes})
        return Prepared(spec, state=litert_runner.load(str(path), self.threads), info={"path": str(path)})

    def run_batch(self, prepared: Prepared, iterations: int) -> float:
        return litert_runner.time_invoke(prepared.state, iterations)


def file_interpreter(path: str, threads: int = 1) -> Any:
    """A LiteRT interpreter of the ``.tflite`` file ``path`` (tensors not allocated).

    Raises ``MissingExtraError`` without ai-edge-litert and ``LatkitError``
    with LiteRT's reason when the file does not load.
    """
    from importlib.util import find_spec

    if find_spec("ai_edge_litert") is None:
        raise MissingExtraError("ai-edge-litert", "mobile")
    from ai_edge_litert.interpreter import Interpreter

    try:
        with litert_runner.quiet_fds():
            return Interpreter(model_path=path, num_threads=int(threads))
    except Exception as exc:  # LiteRT raises ValueError/RuntimeError with the reason
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise LatkitError(f"LiteRT cannot load {path}: {reason}") from None


def file_input_shapes(spec: ModelSpec) -> tuple[dict[str, list[int]], bool]:
    """The shape to feed each input of the ``.tflite`` file ``spec.key``, read
    here with LiteRT, and whether any differs from the shape the file loads with.

    Dynamic dimensions (``-1`` in the shape signature) come from
    :func:`resolve_input_shape`. Used by the devices that run the file
    elsewhere (a phone, an ``ssh://`` board); raises as :func:`file_interpreter`
    and :func:`resolve_input_shape`.
    """
    interpreter = file_interpreter(spec.key)
    shapes, resized = {}, False
    for detail in interpreter.get_input_details():
        declared = [int(d) for d in detail.get("shape_signature", detail["shape"])]
        shape = list(resolve_input_shape(spec, detail["name"], declared))
        resized = resized or shape != [int(d) for d in detail["shape"]]
        shapes[detail["name"]] = shape
    return shapes, resized


def load_file(spec: ModelSpec, threads: int) -> tuple[Any, dict[str, list[int]]]:
    """An interpreter for the user's ``.tflite`` file ``spec.key`` with random
    inputs set, and the input shapes used; dynamic dimensions (``-1`` in the
    shape signature) come from :func:`resolve_input_shape`. Raises
    ``LatkitError`` with LiteRT's reason when the file does not load."""
    import numpy as np

    interpreter = file_interpreter(spec.key, threads)
    shapes = {}
    for detail in interpreter.get_input_details():
        declared = [int(d) for d in detail.get("shape_signature", detail["shape"])]
        shape = resolve_input_shape(spec, detail["name"], declared)
        if list(shape) != [int(d) for d in detail["shape"]]:
            interpreter.resize_tensor_input(detail["index"], list(shape))
        shapes[detail["name"]] = list(shape)
    interpreter.allocate_tensors()
    rng = np.random.default_rng(0)
    for detail in interpreter.get_input_details():
        interpreter.set_tensor(detail["index"], random_input(detail["shape"], detail["dtype"], rng))
    return interpreter, shapes
