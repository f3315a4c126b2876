"""``calibration.json``: the one reader and writer of a profile's calibration file.

The file holds the whole-network measurements the predictor is fitted on
(schema ``latkit.calibration`` version 1)::

    {
      "schema": "latkit.calibration", "version": 1, "unit": "ms",
      "seed": 0, "rounds": 3, "settings": {...MeasureSettings...},
      "entries": [{"arch": "r224_k3e4-...", "stats": {...LatencyStats...}}, ...]
    }

Only measurements are stored, never a fitted model, so every load refits the
same predictor. How the entries are measured is
:mod:`latency_kit.measure.calibration`'s business; this module only owns the
file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from latency_kit.errors import CorruptFileError
from latency_kit.jsonio import read_json, write_json

SCHEMA = "latkit.calibration"
VERSION = 1
FILE = "calibration.json"


def read_calibration_file(path: Path) -> dict[str, Any]:
    """The whole calibration file at ``path``, checked (``{"entries": []}`` when absent).

    Raises :class:`~latency_kit.errors.CorruptFileError` when the file is not a
    latkit calibration file or has another version.
    """
    if not path.exists():
        return {"entries": []}
    data = read_json(path, "calibration file")
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise CorruptFileError(f"{path} is not a latkit calibration file")
    if data.get("version") != VERSION:
        raise CorruptFileError(f"{path} has calibration version {data.get('version')}; "
                               f"this latkit reads version {VERSION}")
    return data


def read_calibration(path: Path) -> list[dict[str, Any]]:
    """The entries (``{"arch", "stats"}``, ms) of a calibration file (``[]`` when absent)."""
    return list(read_calibration_file(path).get("entries", []))


def write_calibration(path: Path, entries: Sequence[dict[str, Any]], **info: Any) -> None:
    """Write ``entries`` and ``info`` (seed, rounds, settings...) as a calibration file."""
    write_json(path, {"schema": SCHEMA, "version": VERSION, "unit": "ms", **info,
                      "entries": list(entries)})
