"""An append-only JSON-lines journal that survives being killed mid-write.

Each finished measurement is one line, written with a single ``write`` on an
``O_APPEND`` descriptor and fsynced, so a kill leaves at most one truncated
last line, which :func:`read_journal` ignores. Keys are unique on read, so a
resumed run neither loses nor duplicates an entry.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def append(path: Path, record: dict[str, Any]) -> None:
    line = (json.dumps(record, sort_keys=True) + "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)


def read_journal(path: Path, key: str = "key") -> dict[str, dict[str, Any]]:
    """Records by ``record[key]``; a truncated or garbled line is skipped."""
    out: dict[str, dict[str, Any]] = {}
    if not path.exists():
        return out
    with open(path, "rb") as handle:
        for raw in handle:
            try:
                record = json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError):
                continue
            if isinstance(record, dict) and key in record:
                out[str(record[key])] = record
    return out
