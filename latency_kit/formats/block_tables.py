"""Block lookup tables as CSV and latkit JSON (import and export).

CSV: a header ``key,median_ms,count,mean_ms,p10_ms,p90_ms,iqr_ms,cv,iterations,flagged``
and one row per block; only ``key``, ``median_ms`` and ``count`` must be filled
(empty cells are unknown values). JSON is latkit's own ``lut.json``
(:mod:`latency_kit.lut`).
"""

from __future__ import annotations

import csv
from dataclasses import fields
from pathlib import Path
from typing import Any

from ..errors import CorruptFileError
from ..jsonio import read_json
from ..lut import LatencyTable
from ..stats import LatencyStats
from ._common import read_text

COLUMNS = ["key"] + [f.name for f in fields(LatencyStats)]
_INTS = {"count", "iterations"}


def write_csv(path: Path, table: LatencyTable) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        for key, stats in sorted(table.entries.items()):
            row = stats.to_dict()
            writer.writerow([key] + [_cell(row[c]) for c in COLUMNS[1:]])


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    return str(value).lower() if isinstance(value, bool) else str(value)


def read_csv(path: str | Path, space: str, name: str) -> LatencyTable:
    reader = csv.DictReader(read_text(path, "LUT CSV").splitlines())
    if not reader.fieldnames or not {"key", "median_ms", "count"} <= set(reader.fieldnames):
        raise CorruptFileError(f"{path} needs a header with at least key, median_ms and count")
    table = LatencyTable(space=space, name=name)
    for line, row in enumerate(reader, start=2):
        values: dict[str, Any] = {}
        try:
            for column in COLUMNS[1:]:
                cell = (row.get(column) or "").strip()
                if not cell:
                    continue
                if column == "flagged":
                    values[column] = cell.lower() in ("true", "1", "yes")
                elif column in _INTS:
                    values[column] = int(cell)
                else:
                    values[column] = float(cell)
            table.add(str(row["key"]), LatencyStats.from_dict(values))
        except (KeyError, TypeError, ValueError) as exc:
            raise CorruptFileError(f"{path}:{line}: bad row ({exc})") from None
    if not table.entries:
        raise CorruptFileError(f"{path} has no rows")
    return table


def read_lut_json(path: str | Path) -> LatencyTable:
    return LatencyTable.from_dict(read_json(path, "lookup table"), source=str(path))
