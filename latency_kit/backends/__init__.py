"""Registry of backends and the device names that select them.

``open_backend("cpu", threads=1)`` returns a ready backend. Backends are
imported lazily so optional runtimes (TensorRT, LiteRT, adb) cost nothing
until used. To add one, write a :class:`~latency_kit.backends.base.Backend`
subclass and add its ``"module:Class"`` path to ``DEVICES`` (exact names) or
``PREFIXES`` (names such as ``ssh://user@host``).
"""

from __future__ import annotations

import inspect
from importlib import import_module
from typing import Any, Callable

from ..errors import UnknownNameError
from .base import Backend, ModelSpec, Prepared

DEVICES: dict[str, str] = {
    "cpu": "latency_kit.backends.onnxruntime:OnnxRuntimeBackend",
    "tflite-cpu": "latency_kit.backends.litert:LiteRTBackend",
    "android": "latency_kit.backends.android:AndroidBackend",
    "gpu": "latency_kit.backends.gpu:GpuBackend",
    "tensorrt": "latency_kit.backends.tensorrt:TensorRTBackend",
    "torch-cuda": "latency_kit.backends.torch_cuda:TorchCudaBackend",
}
PREFIXES: dict[str, str] = {
    "ssh://": "latency_kit.backends.ssh:SSHBackend",
}
# Resolvers tried, in order, for names that are neither in DEVICES nor PREFIXES
# (an attached phone's model, for instance). Each returns a Backend class or None.
FALLBACKS: list[str] = ["latency_kit.backends.android_discovery:resolve_phone"]


def _load(path: str) -> Any:
    module, attr = path.split(":")
    return getattr(import_module(module), attr)


def backend_class(device: str) -> type[Backend]:
    """The backend class that serves ``device``; raises ``UnknownNameError``."""
    if device in DEVICES:
        return _load(DEVICES[device])
    for prefix, path in PREFIXES.items():
        if device.startswith(prefix):
            return _load(path)
    for path in FALLBACKS:
        resolver: Callable[[str], type[Backend] | None] = _load(path)
        found = resolver(device)
        if found is not None:
            return found
    raise UnknownNameError("device", device, device_names())


def device_names() -> list[str]:
    """Device names and prefixes that can be profiled."""
    return sorted(DEVICES) + [f"{p}..." for p in PREFIXES]


def open_backend(device: str, **options: Any) -> Backend:
    """Instantiate the backend for ``device`` with the options it accepts.

    Options a backend does not take (``threads`` for a GPU, say) are dropped,
    so the CLI can pass its flags through unchanged. ``None`` means "default".
    """
    cls = backend_class(device)
    params = inspect.signature(cls.__init__).parameters
    kwargs = {k: v for k, v in options.items() if k in params and v is not None}
    if "device" in params:
        kwargs["device"] = device
    return cls(**kwargs)


__all__ = ["Backend", "ModelSpec", "Prepared", "DEVICES", "PREFIXES", "FALLBACKS",
           "backend_class", "device_names", "open_backend"]
