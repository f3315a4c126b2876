"""Registry of search spaces: ``get_space("ofa-mbv3")``.

Spaces live in ``latency_kit`` because both profiling and NAS need them; the
``nas`` package re-exports them and never the reverse.

A new space is one module with a :class:`SearchSpace` subclass that registers
itself: declare it in the ``latkit.spaces`` entry-point group of its
distribution (imported on first use, and found in every process)::

    [project.entry-points."latkit.spaces"]
    my-space = "my_pkg.space:MySpace"

or decorate the class with :func:`register_space` (registered when its module
is imported). It passes :class:`latency_kit.testing.spaces.SpaceSuite`.
"""

from __future__ import annotations

from typing import Any, Sequence

from latency_kit.errors import LatkitError
from latency_kit.registry import Registry
from latency_kit.spaces.base import Block, Decision, SearchSpace

SPACES: Registry[type[SearchSpace]] = Registry("space", "latkit.spaces")

register_space = SPACES.register


def space_names() -> list[str]:
    return sorted(SPACES)


def space_class(name: str) -> type[SearchSpace]:
    """The class registered as ``name``; ``UnknownNameError`` if none is."""
    return SPACES.load(name)


def get_space(name: str, **options: Any) -> SearchSpace:
    """Instantiate the space registered as ``name`` (options go to its ``__init__``)."""
    return space_class(name)(**options)


def takes_resolution(space: str | SearchSpace | type[SearchSpace]) -> bool:
    """Whether ``space`` (a registered name, a space or its class) has an input-resolution
    option: a ``resolutions`` constructor argument and attribute (``ofa-mbv3``).

    The class says so with :attr:`SearchSpace.takes_resolution`. Raises
    ``UnknownNameError`` for an unregistered name.
    """
    cls = (space if isinstance(space, type) else type(space) if isinstance(space, SearchSpace)
           else space_class(space))
    return bool(cls.takes_resolution)


def resolution_options(space: str, resolutions: Sequence[int] | None) -> dict[str, Any]:
    """Constructor options of the space ``space`` for input ``resolutions``.

    ``{}`` when none are given. Given to a space without a resolution option
    they are a ``LatkitError`` (never silently dropped); for a name that is
    not registered they are passed on, and :func:`get_space` names the error.
    """
    if not resolutions:
        return {}
    if space in SPACES and not takes_resolution(space):
        raise LatkitError(f"space {space} has no input-resolution option; drop --resolution")
    return {"resolutions": tuple(int(r) for r in resolutions)}


__all__ = ["Block", "Decision", "SearchSpace", "SPACES", "get_space", "register_space",
           "resolution_options", "space_class", "space_names", "takes_resolution"]
