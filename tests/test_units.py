"""Budget parsing: milliseconds everywhere, MAdds on request, one-line errors."""

from __future__ import annotations

import math

import pytest

from latency_kit.errors import LatkitError
from latency_kit.units import Budget, parse_budget


@pytest.mark.parametrize("text, value, unit", [
    ("20ms", 20.0, "ms"),
    ("20 ms", 20.0, "ms"),
    (" 20ms ", 20.0, "ms"),
    ("0.02s", 20.0, "ms"),
    ("20000us", 20.0, "ms"),
    ("20000µs", 20.0, "ms"),
    ("1.5e1ms", 15.0, "ms"),
    ("20", 20.0, "ms"),
    (20, 20.0, "ms"),
    (12.5, 12.5, "ms"),
    ("300M", 300e6, "madds"),
    ("300 MAdds", 300e6, "madds"),
    ("1.2G", 1.2e9, "madds"),
])
def test_parses(text, value: float, unit: str) -> None:
    budget = parse_budget(text)
    assert budget.unit == unit
    assert budget.value == pytest.approx(value)


@pytest.mark.parametrize("text, fragment", [
    ("-5ms", "positive"),
    ("0", "positive"),
    ("0ms", "positive"),
    (0, "positive"),
    (math.inf, "finite"),
    ("abc", "cannot parse"),
    ("", "cannot parse"),
    ("20parsecs", "unknown budget unit"),
    ("20 ms ms", "cannot parse"),
    (True, "number"),
])
def test_errors_are_one_line(text, fragment: str) -> None:
    with pytest.raises(LatkitError) as info:
        parse_budget(text)
    message = str(info.value)
    assert fragment in message
    assert "\n" not in message
    # Every message names the input and shows a valid example to copy.
    assert repr(text) in message and "20ms" in message


def test_str_is_readable() -> None:
    assert str(parse_budget("20ms")) == "20 ms"
    assert str(parse_budget("300M")) == "300M MAdds"
    assert str(Budget(7.5, "ms")) == "7.5 ms"
