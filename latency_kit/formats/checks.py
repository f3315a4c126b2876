"""The rules every importer applies, one function per rule.

* Duplicates: :func:`unique` turns ``(key, value, place)`` rows into a dict
  and refuses a key found twice in one file, naming the key and both places
  (``line 3``, or ``position 12`` in a file without lines). YAML and JSON
  allow a repeated key and silently keep the last value; :func:`load_yaml`
  and :func:`load_json` apply the same rule to every mapping, with the lines
  the parser knows. Merging several files is not a duplicate (OFA's
  per-resolution files repeat the head blocks on purpose).
* Units: :func:`unit_scale` turns ``--unit`` into a factor to ms, and
  :func:`check_plausible` refuses a table whose median is no latency of what
  it holds (``PLAUSIBLE_MS``: a whole network, or one block), naming the
  unit that would fit.
* Short messages: :func:`quote` and :func:`preview` quote a value or a list
  of keys in a few dozen characters, so an error stays one line even when
  the file holds a huge nested table.

Every error is a :class:`~latency_kit.errors.CorruptFileError` (the file is
wrong) or a :class:`~latency_kit.errors.LatkitError` (an option is wrong).
"""

from __future__ import annotations

import json
import re
import reprlib
import statistics
from functools import lru_cache
from typing import Any, Callable, Hashable, Iterable, TypeVar

from latency_kit.errors import CorruptFileError, LatkitError

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

UNITS = {"ms": 1.0, "s": 1e3, "us": 1e-3}
# The median entry of a table must lie in this range (ms) for what it holds.
# A whole network: 10 us (a few GPU kernel launches) to 5 minutes. A block:
# 2 us (one small kernel) to 1 minute. Real tables sit well inside: HELP's
# 57 device tables have medians of 3.7-104 ms per network; OFA's Note10, our
# CPU and H100 block tables 0.04-1.9 ms per block.
PLAUSIBLE_MS = {"network": (0.01, 300_000.0), "block": (0.002, 60_000.0)}
QUOTE_CHARS = 100  # a NAS-Bench-201 cell string (93 characters) fits whole

_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = QUOTE_CHARS
_REPR.maxlist = _REPR.maxtuple = _REPR.maxdict = _REPR.maxset = 6
_REPR.maxlevel = 2


# -- short messages -----------------------------------------------------------------
def quote(value: Any, limit: int = QUOTE_CHARS) -> str:
    """``repr(value)`` in at most ``limit`` characters (containers are cut, never walked whole)."""
    return clip(_REPR.repr(value), limit)


def clip(text: str, limit: int = 150) -> str:
    """``text`` on one line, cut to ``limit`` characters with "…"."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def preview(keys: Iterable[Any], count: int = 5) -> str:
    """The first ``count`` keys, then "…" and how many there are in all."""
    keys = list(keys)
    shown = ", ".join(quote(k, 40) if not isinstance(k, str) else k[:40] for k in keys[:count])
    return shown if len(keys) <= count else f"{shown}, … ({len(keys)} in all)"


# -- duplicates ---------------------------------------------------------------------
def duplicate_error(source: str, what: str, key: Any, first: str, second: str) -> CorruptFileError:
    """The one message for a key found twice in one file."""
    return CorruptFileError(f"{source}: {what} {quote(key)} appears twice, at {first} and "
                            f"{second}; keep one")


def unique(rows: Iterable[tuple[K, V, str]], source: str, what: str = "key",
           shown: Callable[[K], Any] | None = None) -> dict[K, V]:
    """``{key: value}`` of ``(key, value, place)`` rows; a repeated key is a
    :class:`CorruptFileError` naming it (as ``shown(key)``, if given) and both places."""
    out: dict[K, V] = {}
    places: dict[K, str] = {}
    for key, value, place in rows:
        if key in places:
            raise duplicate_error(source, what, shown(key) if shown else key, places[key], place)
        out[key] = value
        places[key] = place
    return out


def load_yaml(text: str, source: str) -> Any:
    """``yaml.safe_load`` that refuses repeated keys; syntax errors keep line and column."""
    import yaml

    loader = _unique_key_loader()(text)
    loader.source = source
    try:
        return loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
        what = "; ".join(p for p in (exc.context, exc.problem) if p)
        raise CorruptFileError(f"{where}: not valid YAML: {clip(what)}") from None
    except yaml.YAMLError as exc:
        raise CorruptFileError(f"{source}: not valid YAML: {clip(str(exc))}") from None
    finally:
        loader.dispose()


@lru_cache(maxsize=1)
def _unique_key_loader() -> type:
    import yaml

    class UniqueKeyLoader(yaml.SafeLoader):
        """A safe loader whose mappings refuse a repeated key (line numbers from the node marks)."""

        source = "YAML"

        def construct_mapping(self, node: Any, deep: bool = False) -> dict:
            if isinstance(node, yaml.MappingNode):
                rows = []
                for key_node, _ in node.value:
                    if key_node.tag == "tag:yaml.org,2002:merge":
                        continue  # '<<' merges may be overridden; that is no repetition
                    key = self.construct_object(key_node, deep=True)
                    try:
                        hash(key)
                    except TypeError:
                        continue  # the safe loader refuses an unhashable key itself
                    rows.append((key, None, f"line {key_node.start_mark.line + 1}"))
                unique(rows, self.source)
            return super().construct_mapping(node, deep=deep)

    return UniqueKeyLoader


class _Repeated(Exception):
    """Raised inside ``json.loads`` when an object repeats a key."""


def _pairs_once(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        raise _Repeated
    return out


def load_json(text: str, source: str, first_line: int = 1) -> Any:
    """``json.loads`` that refuses repeated keys; errors name line and column
    (``first_line`` is the line ``text`` starts on, for one line of a JSON-lines file)."""
    try:
        return json.loads(text, object_pairs_hook=_pairs_once)
    except json.JSONDecodeError as exc:
        raise CorruptFileError(f"{source}:{exc.lineno + first_line - 1}:{exc.colno}: "
                               f"not valid JSON: {exc.msg}") from None
    except _Repeated:
        raise _json_repeat(text, source, first_line) from None


_WS = re.compile(r"\s*")


def _json_repeat(text: str, source: str, first_line: int) -> CorruptFileError:
    """The error for the first object that repeats a key, with both lines.

    Only on this error path: the text is decoded again by the pure-Python
    scanner, whose object hook sees where each object starts.
    """
    from json.decoder import JSONObject
    from json.scanner import py_make_scanner

    decoder = json.JSONDecoder()

    def parse_object(s_and_end: tuple[str, int], *rest: Any) -> Any:
        seen: dict[str, int] = {}
        for key, pos in _object_keys(*s_and_end):
            if key in seen:
                raise duplicate_error(source, "key", key, _line(text, seen[key], first_line),
                                      _line(text, pos, first_line))
            seen[key] = pos
        return JSONObject(s_and_end, *rest)

    decoder.parse_object = parse_object  # type: ignore[assignment]
    decoder.scan_once = py_make_scanner(decoder)
    try:
        decoder.decode(text)
    except CorruptFileError as exc:
        return exc
    return CorruptFileError(f"{source}: a JSON object repeats a key")


def _object_keys(text: str, pos: int) -> list[tuple[str, int]]:
    """The keys of the JSON object whose ``{`` is just before ``pos``, with their offsets."""
    from json.decoder import scanstring

    plain = json.JSONDecoder()
    keys = []
    while True:
        pos = _WS.match(text, pos).end()
        if pos >= len(text) or text[pos] != '"':
            return keys
        key, end = scanstring(text, pos + 1)
        keys.append((key, pos))
        pos = _WS.match(text, _WS.match(text, end).end() + 1).end()  # past ':'
        _, pos = plain.raw_decode(text, pos)
        pos = _WS.match(text, pos).end()
        if pos >= len(text) or text[pos] != ",":
            return keys
        pos += 1


def _line(text: str, offset: int, first_line: int) -> str:
    return f"line {text.count(chr(10), 0, offset) + first_line}"


# -- units --------------------------------------------------------------------------
def unit_scale(unit: str | None) -> float:
    """Milliseconds per ``unit`` (``None`` is ms); an unknown unit is a :class:`LatkitError`."""
    if unit is None:
        return 1.0
    if unit not in UNITS:
        raise LatkitError(f"unknown unit {unit!r}; use one of {', '.join(UNITS)}")
    return UNITS[unit]


def check_plausible(values_ms: Iterable[float], holds: str, source: str, unit: str | None,
                    fix: str = "pass --unit {unit}") -> float:
    """The median of ``values_ms``; a :class:`LatkitError` if it is no latency of
    one ``holds`` (``"network"`` or ``"block"``, see ``PLAUSIBLE_MS``).

    The message names the median, the range and, where one fits, the unit the
    file is probably in (``fix`` is the advice, ``{unit}`` filled in).
    """
    values = list(values_ms)
    if not values:
        raise CorruptFileError(f"{source} holds no latencies")
    median = statistics.median(values)
    low, high = PLAUSIBLE_MS[holds]
    if low <= median <= high:
        return median
    read_as = unit or "ms"
    raw = median / UNITS[read_as]
    fits = [u for u in UNITS if u != read_as and low <= raw * UNITS[u] <= high]
    advice = fix.format(unit=fits[0]) if fits else "check the file's unit"
    side = "below" if median < low else "above"
    raise LatkitError(f"{source}: median {median:.3g} ms per {holds} (read as {read_as}) is {side} "
                      f"the plausible {_ms(low)} to {_ms(high)}; {advice}")


def _ms(value: float) -> str:
    if value < 1:
        return f"{value * 1e3:g} us"
    if value >= 60_000:
        return f"{value / 60_000:g} min"
    return f"{value:g} ms"
