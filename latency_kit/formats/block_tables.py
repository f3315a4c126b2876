"""Block lookup tables as CSV and latkit JSON (import and export).

CSV: a header ``key,median_ms,count,mean_ms,p10_ms,p90_ms,iqr_ms,cv,iterations,flagged``
and one row per block; only ``key``, ``median_ms`` and ``count`` must be filled
(empty cells are unknown values). JSON is latkit's own ``lut.json``
(:mod:`latency_kit.lut`). Both are read under the rules of
:mod:`latency_kit.formats.checks` (one key per file, plausible block latencies).
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any, Iterator

from latency_kit.errors import CorruptFileError, LatkitError
from latency_kit.lut import LatencyTable
from latency_kit.stats import LatencyStats
from latency_kit.formats._common import read_json_file, read_text
from latency_kit.formats.checks import check_plausible, clip, preview, unique, unit_scale

# The CSV's columns, fixed (a LatencyStats field added later, such as a dict,
# does not change the format; such fields are not exported to CSV).
COLUMNS = ["key", "median_ms", "count", "mean_ms", "p10_ms", "p90_ms", "iqr_ms", "cv",
           "iterations", "flagged"]
_INTS = {"count", "iterations"}
_TIMES = {"median_ms", "mean_ms", "p10_ms", "p90_ms", "iqr_ms"}  # scaled by --unit; cv is a ratio


def write_csv(path: Path, table: LatencyTable) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        for key, stats in sorted(table.entries.items()):
            row = stats.to_dict()
            writer.writerow([key] + [_cell(row.get(c)) for c in COLUMNS[1:]])


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    return str(value).lower() if isinstance(value, bool) else str(value)


def read_csv(path: str | Path, space: str, name: str, unit: str = "ms") -> LatencyTable:
    """A block LUT CSV; times in ``unit`` (ms unless given) are stored in ms.

    A UTF-8 byte-order mark is accepted; a key found on two lines is an error
    naming both, and so is a median that is no latency of a block.
    """
    reader = csv.DictReader(read_text(path, "LUT CSV").splitlines())
    fields = [(f or "").strip() for f in reader.fieldnames or []]
    if not {"key", "median_ms", "count"} <= set(fields):
        raise CorruptFileError(f"{path} needs a header with at least key, median_ms and count; "
                               f"found {preview(fields)}")
    reader.fieldnames = fields
    scale = unit_scale(unit)

    def rows() -> Iterator[tuple[str, LatencyStats, str]]:
        for row in reader:
            place = f"line {reader.line_num}"
            try:
                values = {column: _value(column, cell, scale) for column in COLUMNS[1:]
                          if (cell := (row.get(column) or "").strip())}
                yield (row["key"] or "").strip(), LatencyStats.from_dict(values), place
            except (KeyError, TypeError, ValueError) as exc:
                raise CorruptFileError(f"{path}, {place}: bad row ({clip(str(exc))})") from None

    table = LatencyTable(space=space, name=name, entries=unique(rows(), str(path), "block key"))
    if not table.entries:
        raise CorruptFileError(f"{path} has no rows")
    check_plausible((s.median_ms for s in table.entries.values()), "block", str(path), unit)
    return table


def _value(column: str, cell: str, scale: float) -> Any:
    if column == "flagged":
        return cell.lower() in ("true", "1", "yes")
    if column in _INTS:
        return int(cell)
    return float(cell) * scale if column in _TIMES else float(cell)


def read_lut_json(path: str | Path, unit: str | None = None) -> LatencyTable:
    """A latkit ``lut.json`` (always ms: ``unit`` may only be ``None`` or ``"ms"``)."""
    if unit not in (None, "ms"):
        raise LatkitError(f"{path}: a latkit lut.json is in ms (its 'unit' field); drop --unit {unit}")
    table = LatencyTable.from_dict(read_json_file(path, "lookup table"), source=str(path))
    check_plausible((s.median_ms for s in table.entries.values()), "block", str(path), "ms",
                    fix="check how the file was written")
    return table
