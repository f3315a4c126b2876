"""Per-architecture latency tables: one measured number per whole network.

Benchmarks such as HELP, HW-NAS-Bench and BRP-NAS/Eagle publish, for every
NAS-Bench-201 cell, its end-to-end latency on a device. These readers turn
them into rows ``(architecture as written, value as written, place)``:

* :func:`read_table` (``table``, and ``--cost table:``): a CSV whose header
  names the columns ``arch`` and ``value`` (others are ignored; a UTF-8
  byte-order mark is accepted), or JSON lines ``{"arch": ..., "value": ...}``;
* :func:`read_help` (``help``): HELP's ``latency/<device>.pt`` list joined
  with its ``str_arch2idx.pt`` index (``{arch string: position}``);
* :func:`read_dict` (``dict``): a pickled or JSON dict keyed by arch string,
  by position (with an index file), or by NB201 op-id 6-tuple (Eagle);
  ``key_path`` picks a nested list or dict out of a HW-NAS-Bench-style
  ``{space: {dataset: {metric: [...]}}}``.

:func:`collect` then applies the common rules: each architecture is parsed in
the search space, and one found twice in a file (two spellings of one cell
included) is an error naming both places (``line 3``, ``position 12``, ``key
(3, 3, ...)``). An index must cover exactly the positions of a list: one
numbered from 1 instead of 0 is refused rather than shifting every value to
the next network. Pickles (``.pt`` included) are read only through
:mod:`latency_kit.safe_pickle`, which refuses anything but plain data.
"""

from __future__ import annotations

import csv
import numbers
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

from latency_kit.errors import CorruptFileError, LatkitError
from latency_kit.safe_pickle import safe_load
from latency_kit.formats._common import number, read_json_file, read_text
from latency_kit.formats.checks import clip, load_json, preview, quote, unique
from latency_kit.spaces.nb201 import EDGES, OPS as NB201_OPS, cell_string
JSON_LINES = (".jsonl", ".ndjson", ".json")
Row = tuple[Any, Any, str]  # (architecture as written, value as written, place in the file)


@dataclass
class ArchRows:
    """A file's rows, and for a list joined with an index how the join went:
    ``{"positions": P, "index": M, "matched": K}``."""

    rows: list[Row]
    joined: dict[str, int] | None = None


def nb201_string(ops: Iterable[Any]) -> str:
    """The NB201 cell string of six op ids (numbered as :data:`latency_kit.spaces.nb201.OPS`)
    or names, edge order of the string."""
    ops = tuple(ops)
    try:
        names = [o if isinstance(o, str) else NB201_OPS[int(o)] for o in ops]
    except (IndexError, TypeError, ValueError):
        names = []
    if len(names) != len(EDGES) or any(n not in NB201_OPS for n in names):
        raise CorruptFileError(f"not a NAS-Bench-201 op vector: {quote(ops)}")
    return cell_string(names)


# -- arch,value tables ----------------------------------------------------------------
def read_table(path: str | Path) -> ArchRows:
    """An ``arch,value`` CSV or a JSON-lines file (by suffix, else by its first character)."""
    path = Path(path)
    text = read_text(path, "latency table")
    json_lines = (path.suffix.lower() in JSON_LINES
                  or (path.suffix.lower() != ".csv" and text.lstrip().startswith("{")))
    rows = _json_rows(path, text) if json_lines else _csv_rows(path, text)
    if not rows:
        raise CorruptFileError(f"{path} has no rows; it needs the fields arch and value")
    return ArchRows(rows)


def _csv_rows(path: Path, text: str) -> list[Row]:
    reader = csv.DictReader(text.splitlines())
    fields = [(f or "").strip() for f in reader.fieldnames or []]
    if "arch" not in fields or "value" not in fields:
        raise CorruptFileError(f"{path}: the CSV header must name the columns arch and value "
                               f"(ms); found {preview(fields)}")
    reader.fieldnames = fields
    rows = []
    for row in reader:
        arch = (row.get("arch") or "").strip()
        if not arch:
            raise CorruptFileError(f"{path}, line {reader.line_num}: empty arch")
        rows.append((arch, row.get("value"), f"line {reader.line_num}"))
    return rows


def _json_rows(path: Path, text: str) -> list[Row]:
    rows = []
    for line_no, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        row = load_json(line, str(path), first_line=line_no)
        if not isinstance(row, dict) or "arch" not in row or "value" not in row:
            raise CorruptFileError(f"{path}, line {line_no}: each JSON line needs the fields "
                                   "arch and value")
        arch = row["arch"].strip() if isinstance(row["arch"], str) else row["arch"]
        rows.append((arch, row["value"], f"line {line_no}"))
    return rows


def write_table_csv(path: Path, entries: dict[str, float]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["arch", "value"])
        for arch, value in entries.items():
            writer.writerow([arch, repr(float(value))])


# -- HELP lists and dicts ---------------------------------------------------------------
def read_index(path: str | Path) -> dict[int, str]:
    """An ``{arch string: position}`` file (HELP ``str_arch2idx.pt``, pickle or JSON), inverted.

    Two architectures at one position are an error naming both.
    """
    data = _load_any(path)
    if not isinstance(data, dict) or not data:
        raise CorruptFileError(f"{path} is not an arch index: expected {{arch string: position}}")
    rows = []
    for n, (arch, idx) in enumerate(data.items(), 1):
        idx = _plain(idx)
        if not isinstance(arch, str) or not _is_int(idx):
            raise CorruptFileError(f"{path}: entry {n} ({quote(arch)}): {quote(idx)} is not "
                                   "arch string -> position")
        rows.append((int(idx), arch, f"entry {n}"))
    return unique(rows, str(path), "position")


def read_help(path: str | Path, index: dict[int, str] | None,
              index_name: str = "the index") -> ArchRows:
    """A HELP ``latency/<device>.pt`` list joined with its index."""
    data = _as_list(_load_any(path))
    if not isinstance(data, list):
        raise CorruptFileError(f"{path} is not a HELP latency list (found {type(data).__name__})")
    if index is None:
        raise LatkitError("--format help needs the arch index: pass --index str_arch2idx.pt")
    return _from_list(data, index, str(path), index_name)


def read_dict(path: str | Path, index: dict[int, str] | None = None, key_path: str | None = None,
              index_name: str = "the index") -> ArchRows:
    """A dict (pickle or JSON) of arch -> latency; see the module docstring."""
    data = _load_any(path)
    walked: list[str] = []
    for part in (key_path.split("/") if key_path else []):
        if not isinstance(data, dict) or part not in data:
            known = f"keys there: {preview(data)}" if isinstance(data, dict) else "not a dict there"
            raise CorruptFileError(f"{path}: no key {part!r} along --key {key_path}; {known}")
        data = data[part]
        walked.append(part)
    data = _as_list(data)
    if isinstance(data, list):
        if index is None:
            raise LatkitError(f"{path} holds a list indexed by architecture: pass --index")
        return _from_list(data, index, str(path), index_name)
    if not isinstance(data, dict) or not data:
        raise CorruptFileError(f"{path} is not a latency dict (found {type(data).__name__})")
    if any(isinstance(_as_list(v), (dict, list)) for v in data.values()):
        prefix = "/".join(walked + ["KEY"])
        raise CorruptFileError(f"{path} holds nested tables, not latencies, at this level; pick "
                               f"one with --key {prefix} (keys: {preview(data)})")
    keys = [_plain(k) for k in data]
    positions = {int(k) for k in keys if _is_int(k)}
    joined = None
    if positions and index is not None:
        joined = _check_join(str(path), positions, index, index_name, exact=False)
    rows = []
    for key, value in zip(keys, data.values()):
        place = f"key {quote(key, 40)}"
        if isinstance(key, str):
            arch: Any = key.strip()
        elif isinstance(key, tuple):
            arch = nb201_string(key)
        elif _is_int(key) and index is not None:
            arch = index[int(key)]
        else:
            raise CorruptFileError(f"{path}: key {quote(key)} is neither an arch string, an op "
                                   "tuple nor (with --index) a position")
        rows.append((arch, value, place))
    return ArchRows(rows, joined)


def _from_list(values: list[Any], index: dict[int, str], where: str, index_name: str) -> ArchRows:
    if not values:
        raise CorruptFileError(f"{where} holds an empty list")
    joined = _check_join(where, set(range(len(values))), index, index_name, exact=True)
    return ArchRows([(index[i], v, f"position {i}") for i, v in enumerate(values)], joined)


def _check_join(source: str, positions: set[int], index: dict[int, str], index_name: str,
                exact: bool) -> dict[str, int]:
    """How ``positions`` of ``source`` join with ``index``; a partial or shifted join is an error.

    A list (``exact``) must be covered exactly; a dict keyed by position may
    hold fewer positions than the index (a partial table), never others.
    """
    held = set(index)
    unmatched = sorted(positions - held)
    unused = sorted(held - positions) if exact else []
    if not unmatched and not unused:
        return {"positions": len(positions), "index": len(held), "matched": len(positions)}
    what = "values" if exact else "positions"
    but = "but" if len(positions) != len(held) else "and"
    head = (f"{source} has {len(positions)} {what} {but} the arch index {index_name} has "
            f"{len(held)} architectures")
    low, high = min(held), max(held)
    if min(positions) == 0 and low == 1 and high == len(held):
        raise CorruptFileError(f"{head}: the index numbers them from 1 to {high} but positions start "
                               "at 0, so every value would go to the next network; renumber the "
                               "index from 0")
    if min(positions) == low + 1 and max(positions) == high + 1:
        raise CorruptFileError(f"{head}: {source} numbers positions from {low + 1} but the index "
                               f"from {low}; renumber one of them")
    parts = [f"{len(unmatched)} {what} have no architecture (e.g. {unmatched[:3]})"] if unmatched else []
    if unused:
        parts.append(f"{len(unused)} index positions have no value (e.g. {unused[:3]})")
    raise CorruptFileError(f"{head}: {' and '.join(parts)}; the index must cover exactly the "
                           "table's positions")


# -- the common rules -------------------------------------------------------------------
def collect(rows: Iterable[Row], parse: Callable[[Any], Any], source: str,
            convert: Callable[[Any, str], float] | None = None,
            what: str = "architecture") -> dict[Any, float]:
    """``{parse(arch): convert(value)}`` of ``rows``.

    ``convert`` defaults to :func:`latency_value` (ms as written). A row whose
    architecture does not parse, or whose value is no latency, is one
    ``CorruptFileError`` naming its place; an architecture found twice (after
    parsing, so two spellings of one cell count) names both places.
    """
    convert = convert or latency_value
    written: dict[Any, Any] = {}  # the first spelling of each architecture, for messages

    def parsed() -> Iterable[tuple[Any, float, str]]:
        for arch, value, place in rows:
            try:
                key = parse(arch)
            except LatkitError as exc:
                raise CorruptFileError(f"{source}, {place}: bad {what} {quote(arch)}: "
                                       f"{clip(str(exc))}") from None
            written.setdefault(key, arch)
            yield key, convert(value, f"{source}, {place}"), place

    return unique(parsed(), source, what, shown=written.get)


def latency_value(value: Any, where: str) -> float:
    """A latency as written: a number, or a CSV cell holding one (finite, >= 0)."""
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            raise CorruptFileError(f"{where}: value {quote(value)} is not a number") from None
    return number(_plain(value), where)


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _plain(value: Any) -> Any:
    """numpy scalars (allowed by the restricted unpickler) as Python numbers."""
    if hasattr(value, "item") and getattr(value, "ndim", None) == 0:
        return value.item()
    return value


def _as_list(value: Any) -> Any:
    """Tuples and 1-d numpy arrays as lists; anything else unchanged."""
    if isinstance(value, tuple) or getattr(value, "ndim", None) == 1:
        return list(value)
    return value


def _load_any(path: str | Path) -> Any:
    path = Path(path)
    if not path.is_file():
        raise CorruptFileError(f"{path} does not exist")
    if path.suffix.lower() == ".json":
        return read_json_file(path, "table")
    return safe_load(path)
