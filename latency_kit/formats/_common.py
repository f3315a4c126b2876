"""Pieces shared by the importers: reading files into one clear error, hashing,
and turning another tool's (count, mean, spread) into :class:`LatencyStats`.

The rules every importer applies (duplicates, units, short messages) live in
:mod:`latency_kit.formats.checks`."""

from __future__ import annotations

import hashlib
import math
from pathlib import Path
from typing import Any

from latency_kit.errors import CorruptFileError
from latency_kit.stats import LatencyStats
from latency_kit.formats.checks import load_json, load_yaml, quote


def sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def source_record(path: str | Path, fmt: str, **extra: Any) -> dict[str, Any]:
    """What a profile's fingerprint says about one imported file."""
    path = Path(path)
    return {"file": str(path.resolve()), "name": path.name, "format": fmt,
            "sha256": sha256(path), **extra}


def read_text(path: str | Path, what: str) -> str:
    """The file as UTF-8 text; a leading byte-order mark (Excel's CSV) is dropped."""
    try:
        return Path(path).read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise CorruptFileError(f"{what} {path} does not exist") from None
    except UnicodeDecodeError as exc:
        raise CorruptFileError(f"{what} {path} is not UTF-8 text ({exc.reason} at byte "
                               f"{exc.start}); save it as UTF-8") from None
    except OSError as exc:
        raise CorruptFileError(f"cannot read {what} {path}: {exc.strerror or exc}") from None


def read_yaml(path: str | Path, what: str) -> Any:
    """Safe YAML (no code execution) that refuses repeated keys
    (:func:`~latency_kit.formats.checks.load_yaml`); errors are ``CorruptFileError``."""
    return load_yaml(read_text(path, what), str(path))


def read_json_file(path: str | Path, what: str) -> Any:
    """JSON that refuses repeated keys (:func:`~latency_kit.formats.checks.load_json`)."""
    return load_json(read_text(path, what), str(path))


def number(value: Any, where: str) -> float:
    """A finite, non-negative float, or ``CorruptFileError`` naming ``where``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise CorruptFileError(f"{where}: expected a number, got {quote(value)}")
    value = float(value)
    if not math.isfinite(value) or value < 0:
        raise CorruptFileError(f"{where}: expected a finite latency >= 0, got {value!r}")
    return value


def stats_from_mean(mean: float, count: int, std: float | None) -> LatencyStats:
    """Stats for a table that gives a mean (and maybe a std) per entry.

    Such tools store no median, so ``median_ms`` holds their mean (the value
    they sum themselves); percentiles and IQR stay ``None`` (never invented),
    and ``cv`` is std / mean where a std is given.
    """
    cv = (std / mean) if (std is not None and mean > 0) else None
    return LatencyStats(median_ms=mean, count=int(count), mean_ms=mean, cv=cv)


def entry_fields(path: Path, key: Any, value: Any, spread: str) -> tuple[int, float, float]:
    """``count``, ``mean`` and ``spread`` (``std`` or ``var``) of one YAML entry."""
    where = f"{path}: entry {quote(key)}"
    if not isinstance(key, str) or not isinstance(value, dict):
        raise CorruptFileError(f"{where} must map a block key to {{count, mean, {spread}}}")
    missing = [f for f in ("count", "mean", spread) if f not in value]
    if missing:
        raise CorruptFileError(f"{where} lacks {', '.join(missing)}")
    count = value["count"]
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise CorruptFileError(f"{where}: count must be a whole number, got {quote(count)}")
    return count, number(value["mean"], where), number(value[spread], where)
