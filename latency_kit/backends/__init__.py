"""Registry of backends and the device names that select them.

``open_backend("cpu", threads=1)`` returns a ready backend. Backends are
imported lazily so optional runtimes (TensorRT, LiteRT, adb) cost nothing
until used.

A new backend is one module with a :class:`~latency_kit.backends.base.Backend`
subclass that registers itself under a device name: in the
``latkit.backends`` entry-point group of its distribution (imported on first
use, found in every process, Ray workers included)::

    [project.entry-points."latkit.backends"]
    my-npu = "my_pkg.backend:NpuBackend"

or with the :func:`register_backend` class decorator (registered when its
module is imported). A name ending in ``://`` is a prefix (``ssh://`` serves
``ssh://user@host``). The entry named ``*`` is the resolver of every other
name that is not a typo of those: an attached device's, e.g. an Android
phone's model (``pixel``), found over adb here or, with ``attached=False``,
on a Ray worker. It passes :class:`latency_kit.testing.backends.BackendSuite`.
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Iterator, Mapping
from typing import Any, Protocol

from latency_kit.backends.base import Backend, ModelSpec, Prepared
from latency_kit.errors import UnknownNameError
from latency_kit.registry import Registry

BACKENDS: Registry[Any] = Registry("device", "latkit.backends")

register_backend = BACKENDS.register

PREFIX_END = "://"  # a registered name ending so is a prefix (ssh://)
RESOLVER = "*"  # the registered name of the resolver of attached devices' names
TYPO_CUTOFF = 0.75  # difflib ratio above which a name is a typo of a built-in one


class Resolver(Protocol):
    """What the ``*`` entry is: the backend class of a name no other entry serves.

    ``attached``: look for the device here (raise ``LatkitError`` saying how
    to attach it when it is not); without, it is attached elsewhere (a Ray
    worker) and is resolved unchecked. ``known`` is :func:`device_names`.
    """

    def __call__(self, device: str, attached: bool, known: list[str]) -> type[Backend]: ...


class _Names(Mapping[str, str]):
    """A read-only view of the registered names that are ``prefix`` or not."""

    def __init__(self, prefixes: bool):
        self.prefixes = prefixes

    def _names(self) -> list[str]:
        return [n for n in BACKENDS if n != RESOLVER and n.endswith(PREFIX_END) == self.prefixes]

    def __getitem__(self, name: str) -> str:
        if name not in self._names():
            raise KeyError(name)
        return BACKENDS[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._names())

    def __len__(self) -> int:
        return len(self._names())


# Exact device names and prefixes, as ``{name: "module:Class"}`` views of BACKENDS.
DEVICES: Mapping[str, str] = _Names(prefixes=False)
PREFIXES: Mapping[str, str] = _Names(prefixes=True)


def is_typo(device: str) -> bool:
    """Whether ``device`` is plainly a misspelt built-in name (``cpuu``, ``tflite_cpu``, ``ssh:/x``)."""
    names = [*DEVICES, *(p.rstrip(":/") for p in PREFIXES)]
    lowered = device.lower()
    return (bool(difflib.get_close_matches(lowered, names, n=1, cutoff=TYPO_CUTOFF))
            or any(mark in device for mark in ("/", "@")))


def backend_class(device: str, attached: bool = True) -> type[Backend]:
    """The backend class that serves ``device``.

    Registered names and prefixes resolve directly; a typo of one raises
    ``UnknownNameError`` with the known names. Any other name is an attached
    device's (a phone's model), resolved by the ``*`` entry (:class:`Resolver`):
    with ``attached`` it is looked for here and a missing one raises
    ``DeviceError`` (how to attach it); without, it is resolved unchecked, for
    a Ray farm whose worker has it attached.
    """
    if device in DEVICES:
        return BACKENDS.load(device)
    for prefix in PREFIXES:
        if device.startswith(prefix):
            return BACKENDS.load(prefix)
    if not device.strip() or is_typo(device) or RESOLVER not in BACKENDS:
        raise UnknownNameError("device", device, device_names())
    resolver: Resolver = BACKENDS.load(RESOLVER)
    return resolver(device, attached, device_names())


def device_names() -> list[str]:
    """Device names and prefixes that can be profiled."""
    return sorted(DEVICES) + [f"{p}..." for p in PREFIXES]


# Why an option given for a device whose backend does not take it is refused.
UNUSED_OPTION = {
    "precision": "measures fp32 only; --precision is for GPU devices",
    "cuda_graph": "has no CUDA graphs; --cuda-graph/--no-cuda-graph is for GPU devices "
                  "(gpu, tensorrt, torch-cuda)",
}


def refuse_unused(cls: type[Backend], device: str, **options: Any) -> None:
    """``LatkitError`` when an option that is not ``None`` is one the backend class
    ``cls`` (serving ``device``) does not take; ``open_backend`` drops those
    silently, so that defaults pass through unchanged."""
    from latency_kit.errors import LatkitError

    params = inspect.signature(cls.__init__).parameters
    for name, value in options.items():
        if value is not None and name not in params:
            raise LatkitError(f"device {device!r} "
                              f"{UNUSED_OPTION.get(name, f'takes no {name} option')}")


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


__all__ = ["BACKENDS", "Backend", "DEVICES", "ModelSpec", "PREFIXES", "Prepared", "Resolver",
           "backend_class", "device_names", "is_typo", "open_backend", "register_backend"]
