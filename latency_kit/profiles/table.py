"""Profiles that hold one measured latency per whole architecture.

Per-architecture benchmarks (HELP, HW-NAS-Bench, BRP-NAS) give the end-to-end
latency of every architecture of a small space such as NAS-Bench-201, which
is better than any block sum. A ``kind: "table"`` profile stores them in
``table.json`` (schema ``latkit.archtable`` v1)::

    {"schema": "latkit.archtable", "version": 1, "space": "nb201", "unit": "ms",
     "entries": {"<arch string>": 3.61, ...}}

and ``predict`` looks the architecture up; an architecture that is not in the
table is an error (the table is the measurement, nothing is extrapolated).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from latency_kit.errors import ArchError, CorruptFileError, LatkitError
from latency_kit.jsonio import write_json
from latency_kit.lut import LatencyTable
from latency_kit.profiles.profile import Profile, ProfileMeta, read_data_file

TABLE_FILE = "table.json"
SCHEMA = "latkit.archtable"
VERSION = 1


def lookup_values(values: Mapping[Any, float], keys: Sequence[Any],
                  missing: Callable[[Any], str]) -> np.ndarray:
    """``values[key]`` for each of ``keys`` as an array (the table's unit);
    ``LatkitError(missing(key))`` for the first key the table does not hold.

    The one lookup of per-architecture tables (profiles here, NAS table sources).
    """
    out = np.empty(len(keys), dtype=float)
    for i, key in enumerate(keys):
        try:
            out[i] = values[key]
        except KeyError:
            raise LatkitError(missing(key)) from None
    return out


class TableProfile(Profile):
    """A profile answering from a per-architecture latency table."""

    def __init__(self, path: Path, meta: dict[str, Any], entries: dict[str, float]):
        super().__init__(path, meta, LatencyTable(space=str(meta.get("space", "")),
                                                  name=str(meta.get("name", path.name))))
        self.entries = entries

    predictor = None  # the table is the measurement; nothing is fitted
    linear_fit = None

    @property
    def predictor_kind(self) -> str:
        return "table"

    def key(self, arch: Any) -> str:
        """The table key of ``arch``: its string form in this profile's space."""
        if isinstance(arch, str):
            return canonical(self.meta["space"], arch)
        return self.space.format(arch)

    def predict_many(self, archs: Sequence[Any]) -> np.ndarray:
        return lookup_values(self.entries, [self.key(a) for a in archs], lambda key: (
            f"architecture {key!r} is not in the per-architecture table of profile "
            f"{self.name!r} ({len(self.entries)} architectures of {self.meta['space']})"))

    def architectures(self) -> list[Any]:
        """Every architecture the table holds, parsed in the profile's space (table order).

        A table may hold only part of the space (HW-NAS-Bench and BRP-NAS tables
        do); searches over it draw from these architectures only.
        """
        space = self.space
        return [space.parse(key) for key in self.entries]

    def lut_sum(self, arch: Any) -> float:
        """A per-architecture table has no blocks: the table value itself."""
        return float(self.predict_many([arch])[0])

    def lut_sum_many(self, archs: Sequence[Any]) -> np.ndarray:
        return self.predict_many(archs)

    def __repr__(self) -> str:
        return f"TableProfile({self.name!r}, space={self.meta.get('space')!r}, archs={len(self.entries)})"

    @classmethod
    def load(cls, path: str | Path) -> "TableProfile":
        path = Path(path)
        meta = ProfileMeta.read(path)
        data = read_data_file(path / TABLE_FILE, "architecture table", SCHEMA, VERSION)
        entries = data.get("entries")
        if not isinstance(entries, dict):
            raise CorruptFileError(f"{path / TABLE_FILE} has no entries")
        return cls(path, meta, {str(k): float(v) for k, v in entries.items()})


def canonical(space: str, arch: str) -> str:
    """``arch`` in the space's own string form where the space is registered."""
    return canonicalizer(space)(arch)


@lru_cache(maxsize=16)
def canonicalizer(space: str) -> Callable[[Any], str]:
    """A function giving the table key of an architecture of ``space`` written as
    a string or in the space's JSON form (strings stripped only, if unregistered).

    Raises :class:`~latency_kit.errors.ArchError` for an architecture that is
    not one of the space.
    """
    from latency_kit.spaces import SPACES, get_space

    if space not in SPACES:
        return lambda arch: _unregistered(space, arch)
    obj = get_space(space)
    return lambda arch: obj.format(obj.parse_any(arch))


def _unregistered(space: str, arch: Any) -> str:
    if not isinstance(arch, str):
        raise ArchError(f"space {space!r} is not registered here, so its architectures must be "
                        "written as strings")
    return arch.strip()


def write_table_profile(out: Path, name: str, space: str, entries: dict[str, float],
                        fingerprint: dict[str, Any]) -> TableProfile:
    """Write a complete ``kind: "table"`` profile to ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / TABLE_FILE, {"schema": SCHEMA, "version": VERSION, "space": space,
                                  "unit": "ms", "entries": entries})
    ProfileMeta.new(name, space, name, "imported", kind="table", fingerprint=fingerprint,
                    status="complete").write(out)
    return TableProfile.load(out)
