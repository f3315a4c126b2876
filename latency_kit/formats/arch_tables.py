"""Per-architecture latency tables: one measured number per whole network.

Benchmarks such as HELP, HW-NAS-Bench and BRP-NAS/Eagle publish, for every
NAS-Bench-201 cell, its end-to-end latency on a device. These readers turn
them into ``{arch string: ms}``:

* ``table``: a CSV with the columns ``arch`` and ``value`` (ms);
* ``help``: HELP's ``latency/<device>.pt`` list plus its ``str_arch2idx.pt``
  index (``{arch string: position}``);
* ``dict``: a pickled or JSON dict keyed by arch string, by index (with an
  index file), or by NB201 op-id 6-tuple (Eagle); ``key_path`` picks a nested
  list or dict out of a HW-NAS-Bench-style ``{space: {dataset: {metric: [...]}}}``.

Pickles (``.pt`` included) are read only through
:mod:`latency_kit.safe_pickle`, which refuses anything but plain data.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any, Iterable

from ..errors import CorruptFileError, LatkitError
from ..safe_pickle import safe_load
from ._common import number, read_text

UNITS = {"ms": 1.0, "s": 1e3, "us": 1e-3}
# NAS-Bench-201 operations in the order BRP-NAS/Eagle numbers them.
NB201_OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")


def nb201_string(ops: Iterable[Any]) -> str:
    """The NB201 cell string of six op ids (or names), edge order of the string."""
    names = [NB201_OPS[int(o)] if not isinstance(o, str) else o for o in ops]
    if len(names) != 6 or any(n not in NB201_OPS for n in names):
        raise CorruptFileError(f"not a NAS-Bench-201 op vector: {tuple(ops)!r}")
    a = names
    return f"|{a[0]}~0|+|{a[1]}~0|{a[2]}~1|+|{a[3]}~0|{a[4]}~1|{a[5]}~2|"


def read_table_csv(path: str | Path) -> dict[str, float]:
    """``arch,value`` rows (value in ms); a header row is required."""
    text = read_text(path, "latency table")
    reader = csv.DictReader(text.splitlines())
    if not reader.fieldnames or not {"arch", "value"} <= set(reader.fieldnames):
        raise CorruptFileError(f"{path} needs a header with the columns 'arch' and 'value' (ms)")
    out: dict[str, float] = {}
    for line, row in enumerate(reader, start=2):
        arch = (row.get("arch") or "").strip()
        if not arch:
            raise CorruptFileError(f"{path}:{line}: empty arch")
        try:
            value = float(row["value"])
        except (TypeError, ValueError):
            raise CorruptFileError(f"{path}:{line}: value {row.get('value')!r} is not a number") from None
        out[arch] = number(value, f"{path}:{line}")
    if not out:
        raise CorruptFileError(f"{path} has no rows")
    return out


def write_table_csv(path: Path, entries: dict[str, float]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["arch", "value"])
        for arch, value in entries.items():
            writer.writerow([arch, repr(float(value))])


def read_index(path: str | Path) -> dict[int, str]:
    """An ``{arch string: index}`` file (HELP ``str_arch2idx.pt``, pickle or JSON) inverted."""
    data = _load_any(path)
    if not isinstance(data, dict) or not data:
        raise CorruptFileError(f"{path} is not an arch index: expected {{arch string: index}}")
    out: dict[int, str] = {}
    for arch, idx in data.items():
        if not isinstance(arch, str) or isinstance(idx, bool) or not isinstance(idx, int):
            raise CorruptFileError(f"{path}: entry {arch!r}: {idx!r} is not arch string -> index")
        out[int(idx)] = arch
    return out


def read_help(path: str | Path, index: dict[int, str] | None, unit: str = "ms") -> dict[str, float]:
    """A HELP ``latency/<device>.pt`` list joined with its index."""
    data = _load_any(path)
    if not isinstance(data, (list, tuple)):
        raise CorruptFileError(f"{path} is not a HELP latency list (found {type(data).__name__})")
    if index is None:
        raise LatkitError("--format help needs the arch index: pass --index str_arch2idx.pt")
    return _from_sequence(data, index, str(path), unit)


def read_dict(path: str | Path, index: dict[int, str] | None = None, unit: str = "ms",
              key_path: str | None = None) -> dict[str, float]:
    """A dict (pickle or JSON) of arch -> latency; see the module docstring."""
    data = _load_any(path)
    for part in (key_path.split("/") if key_path else []):
        if not isinstance(data, dict) or part not in data:
            known = ", ".join(map(str, list(data)[:10])) if isinstance(data, dict) else "(not a dict)"
            raise CorruptFileError(f"{path}: no key {part!r} along --key {key_path}; found {known}")
        data = data[part]
    if isinstance(data, (list, tuple)):
        if index is None:
            raise LatkitError(f"{path} holds a list indexed by architecture: pass --index")
        return _from_sequence(data, index, str(path), unit)
    if not isinstance(data, dict) or not data:
        raise CorruptFileError(f"{path} is not a latency dict (found {type(data).__name__})")
    scale = _scale(unit)
    out: dict[str, float] = {}
    for key, value in data.items():
        if isinstance(key, str):
            arch = key
        elif isinstance(key, tuple):
            arch = nb201_string(key)
        elif isinstance(key, int) and index is not None:
            if key not in index:
                raise CorruptFileError(f"{path}: index {key} is not in the arch index")
            arch = index[key]
        else:
            raise CorruptFileError(
                f"{path}: key {key!r} is neither an arch string, an op tuple nor (with --index) an index")
        out[arch] = number(_plain(value), f"{path}: {key!r}") * scale
    return out


def _from_sequence(values: Any, index: dict[int, str], where: str, unit: str) -> dict[str, float]:
    if len(values) != len(index):
        raise CorruptFileError(
            f"{where} has {len(values)} values but the arch index has {len(index)} architectures")
    scale = _scale(unit)
    return {index[i]: number(_plain(v), f"{where}[{i}]") * scale for i, v in enumerate(values)
            if i in index}


def _scale(unit: str) -> float:
    if unit not in UNITS:
        raise LatkitError(f"unknown unit {unit!r}; use one of {', '.join(UNITS)}")
    return UNITS[unit]


def _plain(value: Any) -> Any:
    """numpy scalars (allowed by the restricted unpickler) as Python numbers."""
    return value.item() if hasattr(value, "item") and not isinstance(value, (int, float)) else value


def _load_any(path: str | Path) -> Any:
    path = Path(path)
    if not path.is_file():
        raise CorruptFileError(f"{path} does not exist")
    if path.suffix.lower() == ".json":
        try:
            return json.loads(read_text(path, "table"))
        except json.JSONDecodeError as exc:
            raise CorruptFileError(f"{path} is not valid JSON: {exc}") from None
    return safe_load(path)
