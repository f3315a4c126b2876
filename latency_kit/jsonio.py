"""Atomic JSON writes and friendly JSON reads."""

from __future__ import annotations

import json
import os
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Any

from latency_kit.errors import CorruptFileError


def write_json(path: str | Path, data: Any) -> None:
    """Write ``data`` to ``path`` atomically (temp file, fsync, rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, default_mode())  # mkstemp makes 0600; use the usual umask
        with os.fdopen(fd, "w") as handle:
            json.dump(data, handle, indent=1, sort_keys=False)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def read_json(path: str | Path, what: str = "file", advice: str | None = None) -> Any:
    """Read JSON, turning a missing or corrupt file into one clear error
    (``CorruptFileError``). ``advice`` ends the message for a file that is not
    JSON; by default, for latkit's own files, to delete it and re-run the
    command that wrote it (never say that of a file the user gave)."""
    path = Path(path)
    try:
        with open(path) as handle:
            return json.load(handle)
    except FileNotFoundError:
        raise CorruptFileError(f"{what} {path} does not exist") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        advice = advice or "delete it and re-run the command that wrote it"
        raise CorruptFileError(f"{what} {path} is corrupt ({exc}); {advice}") from None
    except OSError as exc:
        raise CorruptFileError(f"cannot read {what} {path}: {exc.strerror or exc}") from None


@lru_cache(maxsize=1)
def default_mode() -> int:
    """Permission bits of a new regular file under this process's umask.

    Read from ``/proc`` where possible: setting the umask to learn it would
    briefly change it for every thread of the process.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return 0o666 & ~int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask
