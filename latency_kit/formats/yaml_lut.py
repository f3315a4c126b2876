"""OFA and ProxylessNAS per-block lookup tables (YAML).

Both tools write one mapping per file, block key -> statistics, and sum the
``mean`` of an architecture's blocks:

* OFA (``MBv3LatencyTable``), ``ofa-yaml``: ``{count, mean, std}`` in ms, one
  file per input resolution named ``<r>_lookup_table.yaml``. Keys are the
  ``ofa-mbv3`` space's own keys (``expand`` = middle channels, plus ``se``
  and ``hs`` flags), so an imported OFA table answers for that space directly.
* ProxylessNAS (``ProxylessNASLatencyTable``), ``proxyless-yaml``:
  ``{count, mean, var}``, one file. Its keys describe ProxylessNAS blocks
  (``expand`` = ratio, no se/hs), a space latkit does not build, so such a
  profile can be exported and inspected but only predicts for a space whose
  keys it holds.

The files are read with a safe loader that refuses a key repeated within one
file (:func:`~latency_kit.formats.checks.load_yaml`). Neither tool stores a
median: ``median_ms`` holds their mean, which is also the number they sum.
Means and spreads are read in the file's ``unit`` (ms unless given) and
stored in ms.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from latency_kit.errors import CorruptFileError
from latency_kit.lut import LatencyTable
from latency_kit.stats import LatencyStats
from latency_kit.formats._common import entry_fields, read_yaml, source_record, stats_from_mean
from latency_kit.formats.checks import check_plausible, unit_scale

_STEM = re.compile(r"^Conv-input:(\d+)x(\d+)x3-")
_FILE_RES = re.compile(r"(\d+)_lookup_table")


@dataclass(frozen=True)
class YamlFlavour:
    """How one tool spells its spread field and relates it to a std."""

    name: str
    spread: str  # "std" or "var"

    def std(self, spread: float) -> float:
        return math.sqrt(spread) if self.spread == "var" else spread

    def spread_of(self, stats: LatencyStats) -> float | None:
        if stats.cv is None:
            return None
        std = stats.cv * (stats.mean_ms if stats.mean_ms is not None else stats.median_ms)
        return std * std if self.spread == "var" else std


OFA = YamlFlavour("ofa-yaml", "std")
PROXYLESS = YamlFlavour("proxyless-yaml", "var")


@dataclass
class RawFile:
    """One imported file, verbatim (in its ``unit``): kept so an export can reproduce it exactly."""

    name: str
    entries: dict[str, dict[str, Any]]
    resolution: int | None = None
    record: dict[str, Any] = field(default_factory=dict)
    unit: str = "ms"


def read_file(path: str | Path, flavour: YamlFlavour, unit: str = "ms") -> RawFile:
    """Parse and validate one table; every problem is one ``CorruptFileError`` line.

    Raises :class:`LatkitError` when the median ``mean`` is no latency of a
    block in ``unit`` (see :data:`~latency_kit.formats.checks.PLAUSIBLE_MS`).
    """
    path = Path(path)
    data = read_yaml(path, f"{flavour.name} table")
    if not isinstance(data, dict) or not data:
        raise CorruptFileError(
            f"{path} is not a {flavour.name} table: expected a mapping of block keys to "
            f"{{count, mean, {flavour.spread}}}")
    entries = {}
    means = []
    for key, value in data.items():
        means.append(entry_fields(path, key, value, flavour.spread)[1] * unit_scale(unit))
        entries[key] = dict(value)
    check_plausible(means, "block", str(path), unit)
    resolution = None
    if flavour is OFA:
        resolution = ofa_resolution(path, entries)
    extra = {"resolution": resolution} if resolution else {}
    return RawFile(path.name, entries, resolution,
                   source_record(path, flavour.name, unit=unit, entries=len(entries), **extra),
                   unit)


def ofa_resolution(path: Path, entries: dict[str, Any]) -> int:
    """The input resolution of an OFA table: its stem key, else its file name."""
    found = {int(m.group(1)) for key in entries if (m := _STEM.match(key))}
    if len(found) == 1:
        return found.pop()
    if not found and (m := _FILE_RES.search(path.name)):
        return int(m.group(1))
    raise CorruptFileError(
        f"{path}: cannot tell the input resolution (expected one 'Conv-input:RxRx3-...' key, "
        f"found {sorted(found) or 'none'})")


def merge(files: Sequence[RawFile], flavour: YamlFlavour, space: str, name: str) -> LatencyTable:
    """One table from several files.

    A key found in several files (resolution-independent head blocks appear in
    every OFA file) gets the pooled statistics of all its measurements: the
    count-weighted mean and the pooled std (in ms: each file's ``unit`` is
    applied first; a ``var`` is the square of a std in that unit).
    """
    pooled: dict[str, list[tuple[int, float, float]]] = {}
    for raw in files:
        scale = unit_scale(raw.unit)
        for key, value in raw.entries.items():
            std = flavour.std(float(value[flavour.spread])) * scale
            pooled.setdefault(key, []).append(
                (int(value["count"]), float(value["mean"]) * scale, std))
    table = LatencyTable(space=space, name=name)
    for key, parts in pooled.items():
        table.add(key, _pool(parts))
    return table


def _pool(parts: list[tuple[int, float, float]]) -> LatencyStats:
    if len(parts) == 1:
        count, mean, std = parts[0]
        return stats_from_mean(mean, count, std)
    total = sum(c for c, _, _ in parts)
    weights = [c if total else 1 for c, _, _ in parts]
    wsum = float(sum(weights))
    mean = sum(w * m for w, (_, m, _) in zip(weights, parts)) / wsum
    second = sum(w * (s * s + m * m) for w, (_, m, s) in zip(weights, parts)) / wsum
    return stats_from_mean(mean, total, math.sqrt(max(second - mean * mean, 0.0)))


def entry_for(stats: LatencyStats, flavour: YamlFlavour) -> dict[str, Any]:
    """A latkit entry in the tool's spelling; ``mean`` carries latkit's median
    (the value latkit sums), and the spread is left out where unknown."""
    out: dict[str, Any] = {"count": int(stats.count), "mean": float(stats.median_ms)}
    spread = flavour.spread_of(stats)
    if spread is not None:
        out[flavour.spread] = float(spread)
    return out


def write_file(path: Path, entries: dict[str, dict[str, Any]]) -> None:
    import yaml

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(entries, default_flow_style=False, sort_keys=True))
