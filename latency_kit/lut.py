"""The lookup table (LUT): measured latency per block key, as versioned JSON.

Schema (``latkit.lut`` version 1)::

    {
      "schema": "latkit.lut", "version": 1,
      "name": "<profile name>", "space": "ofa-mbv3", "unit": "ms",
      "fingerprint": {...},            # what the numbers depend on
      "settings": {...},               # how they were measured
      "entries": {
        "<block key>": {"median_ms": 0.41, "mean_ms": ..., "p10_ms": ...,
                         "p90_ms": ..., "iqr_ms": ..., "cv": ..., "count": 15,
                         "iterations": 5, "flagged": false}
      }
    }

Only ``median_ms`` and ``count`` are required in an entry, so tables from
other tools (which often give a mean and a count) import without inventing
numbers. Tables are never pickled.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

from latency_kit.errors import CorruptFileError, LatkitError, MissingEntryError
from latency_kit.jsonio import read_json, write_json
from latency_kit.stats import LatencyStats

SCHEMA = "latkit.lut"
VERSION = 1


@dataclass
class LatencyTable:
    """Block key -> :class:`LatencyStats`, plus the metadata they depend on."""

    space: str
    name: str = ""
    entries: dict[str, LatencyStats] = field(default_factory=dict)
    fingerprint: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)

    # -- queries -------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.entries)

    def __contains__(self, key: object) -> bool:
        return key in self.entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.entries)

    def query(self, key: str) -> float:
        """Median milliseconds of ``key``; ``MissingEntryError`` names key and profile."""
        try:
            return self.entries[key].median_ms
        except KeyError:
            raise MissingEntryError(key, self.name or "(unnamed)") from None

    def total(self, keys: Iterable[str]) -> float:
        """Sum of the medians of ``keys`` (a raw LUT estimate of a network)."""
        return sum(self.query(key) for key in keys)

    def missing(self, keys: Iterable[str]) -> list[str]:
        return [key for key in keys if key not in self.entries]

    # -- updates -------------------------------------------------------------
    def add(self, key: str, stats: LatencyStats) -> None:
        self.entries[key] = stats

    def merge(self, other: "LatencyTable", overwrite: bool = False) -> "LatencyTable":
        """Add ``other``'s entries (same space only); keep ours on conflict unless ``overwrite``."""
        if other.space != self.space:
            raise LatkitError(f"cannot merge a {other.space} table into a {self.space} table")
        for key, stats in other.entries.items():
            if overwrite or key not in self.entries:
                self.entries[key] = stats
        return self

    # -- persistence -----------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "version": VERSION,
            "name": self.name,
            "space": self.space,
            "unit": "ms",
            "fingerprint": self.fingerprint,
            "settings": self.settings,
            "entries": {k: v.to_dict() for k, v in sorted(self.entries.items())},
        }

    @classmethod
    def from_dict(cls, data: Any, source: str = "table") -> "LatencyTable":
        if not isinstance(data, dict) or data.get("schema") != SCHEMA:
            raise CorruptFileError(f"{source} is not a latkit LUT (schema {SCHEMA!r} expected)")
        if data.get("version") != VERSION:
            raise CorruptFileError(
                f"{source} has LUT version {data.get('version')}; this latkit reads version {VERSION}"
            )
        try:
            entries = {str(k): LatencyStats.from_dict(v) for k, v in data["entries"].items()}
            return cls(space=str(data["space"]), name=str(data.get("name", "")), entries=entries,
                       fingerprint=dict(data.get("fingerprint", {})),
                       settings=dict(data.get("settings", {})))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise CorruptFileError(f"{source} is corrupt: {exc}") from None

    def save(self, path: str | Path) -> None:
        write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: str | Path) -> "LatencyTable":
        return cls.from_dict(read_json(path, "lookup table"), source=str(path))
