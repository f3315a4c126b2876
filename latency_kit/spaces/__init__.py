"""Registry of search spaces: ``get_space("ofa-mbv3")``.

Spaces live in ``latency_kit`` because both profiling and NAS need them; the
``nas`` package re-exports them and never the reverse. Register a new space by
adding its ``"module:Class"`` path to ``SPACES`` (imported lazily).
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from latency_kit.errors import UnknownNameError
from latency_kit.spaces.base import Block, Decision, SearchSpace

SPACES: dict[str, str] = {
    "ofa-mbv3": "latency_kit.spaces.ofa_mbv3:OFAMobileNetV3",
    "nb201": "latency_kit.spaces.nb201:NASBench201",
}


def space_names() -> list[str]:
    return sorted(SPACES)


def get_space(name: str, **options: Any) -> SearchSpace:
    """Instantiate the space registered as ``name`` (options go to its ``__init__``)."""
    if name not in SPACES:
        raise UnknownNameError("space", name, space_names())
    module, cls = SPACES[name].split(":")
    return getattr(import_module(module), cls)(**options)


__all__ = ["Block", "Decision", "SearchSpace", "SPACES", "get_space", "space_names"]
