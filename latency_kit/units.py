"""Parsing of latency budgets and durations.

Milliseconds are the unit of every API and file. Users may write budgets in
other time units (``20ms``, ``20 ms``, ``0.02s``, ``20000us``) or as a
multiply-add count (``300M``, ``1.2G``) for a MAdds cost model.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Literal

from latency_kit.errors import LatkitError

_TIME_UNITS = {"ms": 1.0, "s": 1000.0, "sec": 1000.0, "us": 1e-3, "µs": 1e-3, "ns": 1e-6}
_COUNT_UNITS = {"k": 1e3, "m": 1e6, "g": 1e9}
_PATTERN = re.compile(r"^\s*([-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*([a-zA-Zµ]*)\s*$")


@dataclass(frozen=True)
class Budget:
    """A cost budget: ``value`` in milliseconds (``unit='ms'``) or MAdds."""

    value: float
    unit: Literal["ms", "madds"]

    def __str__(self) -> str:
        if self.unit == "ms":
            return f"{self.value:g} ms"
        return f"{self.value / 1e6:g}M MAdds"


def parse_budget(text: str | float | int) -> Budget:
    """Parse ``20ms``, ``20 ms``, ``0.02s``, ``20000us`` or ``300M``.

    A bare number is read as milliseconds. Raises :class:`LatkitError` with a
    one-line reason for anything that is not a positive, finite budget.
    """
    if isinstance(text, bool):
        raise LatkitError(f"budget must be a number or text such as 20ms, got {text!r}")
    if isinstance(text, (int, float)):
        value, unit = float(text), "ms"
    else:
        match = _PATTERN.match(str(text))
        if not match:
            raise LatkitError(
                f"cannot parse budget {text!r}; write e.g. 20ms, 0.02s, 20000us or 300M (MAdds)"
            )
        value, unit = float(match.group(1)), match.group(2)
    lowered = unit.lower()
    if lowered in ("", *(_TIME_UNITS)):
        budget = Budget(value * _TIME_UNITS.get(lowered, 1.0), "ms")
    elif lowered in _COUNT_UNITS or lowered in ("madds", "mflops"):
        scale = _COUNT_UNITS.get(lowered, 1e6)
        budget = Budget(value * scale, "madds")
    else:
        raise LatkitError(
            f"unknown budget unit {unit!r} in {text!r}; use ms, s, us (e.g. 20ms) or M/G for MAdds"
        )
    if not math.isfinite(budget.value) or budget.value <= 0:
        raise LatkitError(f"budget must be positive and finite, got {text!r}; write e.g. 20ms or 300M")
    return budget
