"""Named extension points that register themselves, loaded lazily.

A :class:`Registry` maps names (``"ofa-mbv3"``, ``"cpu"``) to objects
(a space class, a backend class). Entries come from two places:

* the entry-point ``group`` of installed distributions, e.g. in a plugin's
  ``pyproject.toml``::

      [project.entry-points."latkit.spaces"]
      my-space = "my_pkg.space:MySpace"

  latkit declares its own spaces and backends the same way, so nothing is
  imported until a name is asked for (optional runtimes cost nothing);
* :meth:`Registry.register`, as a class decorator in the module that defines
  the object (``@register_space``), or with a ``"module:attr"`` path.

Entry points are read once, on the first look-up, never at import.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from importlib import import_module
from typing import Any, Callable, Generic, TypeVar, overload

from latency_kit.errors import LatkitError, UnknownNameError

T = TypeVar("T")


class Registry(Mapping[str, str], Generic[T]):
    """Names of one kind of extension and where each lives.

    As a mapping it gives each name's ``"module:attr"`` path (a decorated
    object's own path), in registration order; :meth:`load` imports it.
    ``kind`` names the extension in errors ("space", "device").
    """

    def __init__(self, kind: str, group: str):
        self.kind = kind
        self.group = group
        self._paths: dict[str, str] = {}
        self._loaded: dict[str, T] = {}
        self._discovered = False

    # -- registering -------------------------------------------------------------
    @overload
    def register(self, name: type, path: None = None) -> type: ...

    @overload
    def register(self, name: str | None = None, path: str | None = None) -> Callable[[T], T]: ...

    def register(self, name: Any = None, path: str | None = None) -> Any:
        """Register an object under ``name``.

        ``@registry.register`` (bare) uses the decorated class's ``name``
        attribute; ``@registry.register("name")`` an explicit one;
        ``registry.register("name", "module:attr")`` a path imported on first
        use. A later registration of a name replaces the earlier one.
        """
        if path is not None:
            self._paths[str(name)] = path
            self._loaded.pop(str(name), None)
            return None
        if isinstance(name, type):
            return self._add(str(getattr(name, "name")), name)
        return lambda obj: self._add(str(name if name is not None else getattr(obj, "name")), obj)

    def unregister(self, name: str) -> None:
        """Forget ``name`` (for tests that register a stand-in)."""
        self._discover()
        self._paths.pop(name, None)
        self._loaded.pop(name, None)

    def _add(self, name: str, obj: T) -> T:
        self._paths[name] = f"{getattr(obj, '__module__', '?')}:{getattr(obj, '__qualname__', name)}"
        self._loaded[name] = obj
        return obj

    # -- looking up --------------------------------------------------------------
    def load(self, name: str) -> T:
        """The object registered as ``name``; ``UnknownNameError`` (listing the
        known names) when there is none."""
        self._discover()
        if name not in self._loaded:
            if name not in self._paths:
                raise UnknownNameError(self.kind, name, sorted(self._paths))
            module, _, attr = self._paths[name].partition(":")
            obj: Any = import_module(module)
            for part in attr.split("."):
                obj = getattr(obj, part)
            self._loaded[name] = obj
        return self._loaded[name]

    def __getitem__(self, name: str) -> str:
        self._discover()
        return self._paths[name]

    def __iter__(self) -> Iterator[str]:
        self._discover()
        return iter(list(self._paths))

    def __len__(self) -> int:
        self._discover()
        return len(self._paths)

    def __contains__(self, name: object) -> bool:
        self._discover()
        return name in self._paths

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {self.group!r})"

    def _discover(self) -> None:
        if self._discovered:
            return
        from importlib.metadata import entry_points

        found = {entry.name: entry.value for entry in entry_points(group=self.group)}
        if not found:
            raise LatkitError(f"no {self.kind} is registered under the entry-point group "
                              f"{self.group!r}: latkit's metadata is missing; install it "
                              "(pip install -e . in a clone)")
        self._discovered = True
        self._paths = {**found, **self._paths}  # decorators that ran first win
