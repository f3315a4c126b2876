"""Accuracy and cost sources: where the generator's two objectives come from.

Both are small base classes resolved from a spec string on the CLI:

* accuracy: ``table:PATH``, ``ofa-predictor:PATH``, ``proxy[:NAME]``, or the
  name of a callable registered under the ``latkit.accuracy`` entry point;
* cost: a device profile (``--device NAME``), ``table:PATH`` (ms) or ``madds``.

A source scores a batch of architectures of one space. Higher accuracy is
better; cost is in the source's ``unit`` (``"ms"`` or ``"madds"``).

A source that holds a fixed set of architectures (a table) also derives from
:class:`HeldArchitectures`: searches then draw from :meth:`~HeldArchitectures.archs`
only, and its cost range is :meth:`~HeldArchitectures.known_range`.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar, Iterable, Iterator, Mapping, Sequence

import numpy as np

from latency_kit.errors import LatkitError
from latency_kit.spaces import SearchSpace


class AccuracySource(ABC):
    """Scores architectures; higher is better.

    ``label`` is what the score is called in output: ``"accuracy"`` for real or
    predicted accuracy, ``"proxy_score"`` for training-free proxies, which must
    never be presented as accuracy. ``expensive`` is true for a source that
    runs a network (or anything slow) per query; PNAG's training policy
    (:func:`nas.pnag.settings_for`) then spends fewer queries.
    """

    label: ClassVar[str] = "accuracy"
    expensive: ClassVar[bool] = False

    def __init__(self, space: SearchSpace):
        self.space = space

    @abstractmethod
    def score_many(self, archs: Sequence[Any]) -> np.ndarray:
        """One score per architecture."""

    def score(self, arch: Any) -> float:
        return float(self.score_many([arch])[0])

    def identity(self) -> str:
        """A stable string that changes when the scores would (for caching)."""
        return type(self).__name__

    def describe(self) -> str:
        """The source as a user would name it (``table:PATH``, ``proxy:macs``)."""
        return self.identity().split("#", 1)[0]


class CostSource(ABC):
    """Cost of architectures in ``unit`` (``"ms"`` or ``"madds"``); lower is better."""

    unit: ClassVar[str] = "ms"

    def __init__(self, space: SearchSpace):
        self.space = space

    @abstractmethod
    def cost_many(self, archs: Sequence[Any]) -> np.ndarray:
        """One cost per architecture."""

    def cost(self, arch: Any) -> float:
        return float(self.cost_many([arch])[0])

    def identity(self) -> str:
        """A stable string that changes when the costs would (for caching)."""
        return type(self).__name__

    def known_range(self) -> tuple[float, float] | None:
        """Exact (min, max) cost over the space when the source knows it, else ``None``."""
        return None

    def held_out_errors(self) -> Any:
        """The cost's prediction errors on networks it was not fitted on
        (:class:`latency_kit.predict.heldout.HeldOutErrors`), from which
        :func:`nas.margin.cost_margin` builds a budget margin; ``None`` when the
        costs are measurements or counts (a table, MAdds), not predictions."""
        return None

    def describe(self) -> dict[str, Any]:
        """What a cost means, for output next to every answer: ``source`` (a
        device profile's name, a table's file name or ``madds``), ``unit``,
        and where known the ``batch`` size and ``precision`` it was measured at."""
        return {"source": type(self).__name__, "unit": self.unit}


class HeldArchitectures(ABC):
    """The "held architectures" protocol: a source that answers for a fixed set
    of architectures only (a table), not for the whole space.

    Derive a source from it (next to :class:`AccuracySource` or
    :class:`CostSource`) when it cannot answer for every architecture. PNAG,
    the baselines and the multi-device generator then draw architectures from
    :meth:`archs`, give the others cost ``inf`` (never fits) or no accuracy,
    and take the cost range of the table from :meth:`known_range`.
    """

    @abstractmethod
    def archs(self) -> list[Any]:
        """Every architecture the source holds, in its own (file) order."""

    @abstractmethod
    def known_range(self) -> tuple[float, float] | None:
        """``(smallest positive, largest)`` value held (for a cost source, in its
        ``unit``), or ``None`` when no value is positive."""


def held_archs(source: Any) -> set[Any] | None:
    """The architectures ``source`` holds (:class:`HeldArchitectures`), or ``None``
    when it answers for the whole space."""
    return set(source.archs()) if isinstance(source, HeldArchitectures) else None


def positive_range(values: Iterable[float]) -> tuple[float, float] | None:
    """``(smallest positive, largest)`` of ``values``, or ``None`` when none is positive."""
    array = np.asarray(list(values), dtype=float)
    positive = array[array > 0]
    return (float(positive.min()), float(array.max())) if positive.size else None


# -- shared helpers of the concrete sources ---------------------------------------

@contextmanager
def one_torch_thread() -> Iterator[None]:
    """Run small torch work (proxies, MAC counting) on one intra-op thread.

    Tiny networks gain nothing from more threads, and on a busy 2-core machine
    two threads ran them 7-80x slower than one (spin-waiting on each other).
    """
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def file_digest(path: str | Path) -> str:
    """A short content hash of a file, for source identities (cache keys)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()[:16]


def mapping_digest(space: SearchSpace, values: Mapping[Any, float]) -> str:
    """A short hash of an {architecture: value} mapping (order-independent)."""
    lines = sorted(f"{space.format(a)}\t{float(v)!r}" for a, v in values.items())
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()[:16]


def read_arch_table(path: str | Path, space: SearchSpace) -> dict[Any, float]:
    """Read a per-architecture table: CSV or JSON lines with fields ``arch`` and ``value``.

    The importers' reader and rules (:mod:`latency_kit.formats.arch_tables`):
    a CSV header names ``arch`` and ``value`` (a UTF-8 byte-order mark is
    fine; other columns are ignored); in JSON lines, ``arch`` is the space's
    string form or its JSON form. Architectures are parsed in ``space``, so
    two spellings of one architecture are one entry, and a repeated one is an
    error naming both lines. Values must be finite numbers.
    """
    from latency_kit.formats.arch_tables import collect, read_table

    path = Path(path)
    if not path.is_file():
        raise LatkitError(f"table {path} does not exist; give table:PATH of a CSV or JSON-lines file")

    return collect(read_table(path).rows, space.parse_any, str(path), convert=_finite,
                   what=f"{space.name} architecture")


def _finite(value: Any, where: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise LatkitError(f"{where}: value {str(value)[:40]!r} is not a number") from None
    if not np.isfinite(number):
        raise LatkitError(f"{where}: value {str(value)[:40]!r} is not finite")
    return number


class ArchTableMixin(HeldArchitectures):
    """Per-architecture values for the table sources (``table:PATH`` or a mapping).

    ``values`` maps architectures to floats; ``origin`` is the resolved file
    path (or ``"mapping"``) and ``digest`` a hash of the content, both part of
    the source's identity.
    """

    space: SearchSpace

    def __init__(self, space: SearchSpace, values: Mapping[Any, float], origin: str, digest: str):
        super().__init__(space)  # type: ignore[call-arg]  # the source base class
        self.values: dict[Any, float] = dict(values)
        self.origin, self.digest = origin, digest

    @classmethod
    def from_file(cls, path: str | Path, space: SearchSpace):
        """The table in a CSV or JSON-lines file (see :func:`read_arch_table`)."""
        path = Path(path)
        return cls(space, read_arch_table(path, space), str(path.resolve()), file_digest(path))

    @classmethod
    def from_mapping(cls, space: SearchSpace, values: Mapping[Any, float]):
        """A table from ``{architecture or its string form: value}`` held in memory."""
        parsed = {space.parse(k) if isinstance(k, str) else k: float(v) for k, v in values.items()}
        return cls(space, parsed, "mapping", mapping_digest(space, parsed))

    def lookup_many(self, archs: Sequence[Any]) -> np.ndarray:
        from latency_kit.profiles.table import lookup_values

        return lookup_values(self.values, list(archs), lambda arch: (
            f"architecture {self.space.format(arch)} is not in table {self.origin} "
            f"({len(self.values)} entries); add it to the table or use another source"))

    def archs(self) -> list[Any]:
        """Every architecture the table holds (in file order)."""
        return list(self.values)

    def known_range(self) -> tuple[float, float] | None:
        return positive_range(self.values.values())

    def table_identity(self, kind: str) -> str:
        return f"{kind}:{self.origin}#{self.digest}"
