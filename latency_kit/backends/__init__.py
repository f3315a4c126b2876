"""Registry of backends and the device names that select them.

``open_backend("cpu", threads=1)`` returns a ready backend. Backends are
imported lazily so optional runtimes (TensorRT, LiteRT, adb) cost nothing
until used. To add one, write a :class:`~latency_kit.backends.base.Backend`
subclass and add its ``"module:Class"`` path to ``DEVICES`` (exact names) or
``PREFIXES`` (names such as ``ssh://user@host``). Any other name that is not a
typo of those is an attached device's: an Android phone's model (``pixel``),
found over adb here or, with ``attached=False``, on a Ray worker.
"""

from __future__ import annotations

import difflib
import inspect
from importlib import import_module
from typing import Any, Callable

from latency_kit.errors import LatkitError, UnknownNameError
from latency_kit.backends.base import Backend, ModelSpec, Prepared

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
# nor a typo of them (an attached phone's model, for instance). Each returns a
# Backend class or None.
FALLBACKS: list[str] = ["latency_kit.backends.android_discovery:resolve_phone"]
# Builds the error for a name no resolver serves (called with the name and device_names()).
UNRESOLVED = "latency_kit.backends.android_discovery:missing_phone_error"
# What such a name is when the device is attached elsewhere (a Ray worker's phone).
ELSEWHERE = "latency_kit.backends.android:AndroidBackend"
TYPO_CUTOFF = 0.75  # difflib ratio above which a name is a typo of a built-in one


def _load(path: str) -> Any:
    module, attr = path.split(":")
    return getattr(import_module(module), attr)


def is_typo(device: str) -> bool:
    """Whether ``device`` is plainly a misspelt built-in name (``cpuu``, ``tflite_cpu``, ``ssh:/x``)."""
    names = [*DEVICES, *(p.rstrip(":/") for p in PREFIXES)]
    lowered = device.lower()
    return (bool(difflib.get_close_matches(lowered, names, n=1, cutoff=TYPO_CUTOFF))
            or any(mark in device for mark in ("/", "@")))


def backend_class(device: str, attached: bool = True) -> type[Backend]:
    """The backend class that serves ``device``.

    Built-in names and prefixes resolve directly; a typo of one raises
    ``UnknownNameError`` with the known names. Any other name is an attached
    device's (a phone's model): with ``attached`` it is looked for here
    (``FALLBACKS``) and a missing one raises the ``UNRESOLVED`` error
    (``DeviceError``: how to attach it); without, it resolves to ``ELSEWHERE``
    unchecked, for a Ray farm whose worker has it attached.
    """
    if device in DEVICES:
        return _load(DEVICES[device])
    for prefix, path in PREFIXES.items():
        if device.startswith(prefix):
            return _load(path)
    if not device.strip() or is_typo(device):
        raise UnknownNameError("device", device, device_names())
    if not attached:
        return _load(ELSEWHERE)
    for path in FALLBACKS:
        resolver: Callable[[str], type[Backend] | None] = _load(path)
        found = resolver(device)
        if found is not None:
            return found
    error: LatkitError = _load(UNRESOLVED)(device, device_names())
    raise error


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


__all__ = ["Backend", "ModelSpec", "Prepared", "DEVICES", "PREFIXES", "FALLBACKS", "UNRESOLVED",
           "ELSEWHERE", "backend_class", "device_names", "is_typo", "open_backend"]
