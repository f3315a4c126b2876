"""Budgets as model inputs: the feasible cost range and the context vector.

The generator and the evaluator never see a raw budget. They see a *context
vector*: features of the budget normalised over the device's feasible range
(log scale), optionally followed by extra features (a device embedding, for a
generator that serves several devices). Budgets are continuous, so a budget
never seen in training is just another point on the same scale.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from latency_kit.errors import LatkitError
from latency_kit.units import Budget, parse_budget

from nas.sources.base import HeldArchitectures, positive_range

FREQUENCIES = (1, 2, 3)  # Fourier features of the normalised log-budget


def format_cost(value: float, unit: str) -> str:
    """``12.3 ms`` or ``300M MAdds`` for a cost in ``unit`` (``"ms"`` or ``"madds"``)."""
    return str(Budget(float(value), unit))


def check_unit(budget: Budget, unit: str, context: str = "") -> None:
    """``LatkitError`` (ending in ``context``) when ``budget`` is not in the cost's
    ``unit`` (``"ms"`` or ``"madds"``): the one rule for a unit mix-up, used
    before training (the CLI) and at generation (:meth:`FeasibleRange.check`)."""
    if budget.unit != unit:
        want = ("a MAdds budget such as 300M (a bare number is read as ms)" if unit == "madds"
                else "a time such as 20ms")
        raise LatkitError(f"budget {budget} is in {budget.unit} but the cost is in {unit}; "
                          f"give {want}{context}")


@dataclass
class FeasibleRange:
    """The smallest and largest cost an architecture of the space can have.

    ``quantiles`` are cost quantiles of uniformly random architectures; they
    place training budgets where architectures actually are.
    """

    low: float
    high: float
    unit: str
    quantiles: list[float] = field(default_factory=list)

    def describe(self) -> str:
        return f"{format_cost(self.low, self.unit)} to {format_cost(self.high, self.unit)}"

    def check(self, budget: Budget | float | str,
              margin: float = 1.0) -> tuple[float, str | None]:
        """The budget as a number in this range's unit, and a note when it is above the
        range: above the costliest network times ``margin`` (the factor a
        predicted cost is multiplied by before it meets the budget), where
        every network fits.

        The one place where a budget's unit meets the cost's: a number is
        already in this unit (ms or MAdds), text is read by
        :func:`latency_kit.units.parse_budget` (``20ms``, ``300M``), and a
        :class:`Budget` must be in this unit. Raises :class:`LatkitError` for
        a budget in the wrong unit or below the smallest feasible cost,
        printing the feasible range.
        """
        if isinstance(budget, (int, float)):
            budget = Budget(float(budget), self.unit)  # type: ignore[arg-type]  # "ms" or "madds"
        elif not isinstance(budget, Budget):
            budget = parse_budget(budget)
        check_unit(budget, self.unit, f" (feasible range {self.describe()})")
        if budget.value < self.low:
            raise LatkitError(
                f"budget {budget} is below the smallest feasible cost of this space; "
                f"the feasible range is {self.describe()}")
        note = None
        if budget.value > self.high * margin:
            plus = (f" plus its margin ({format_cost(self.high * margin, self.unit)})"
                    if margin > 1.0 else "")
            note = (f"budget {budget} is above the costliest network of the space here "
                    f"({format_cost(self.high, self.unit)}){plus}, so every network fits and "
                    "the answer is the best one found; `latkit nas front` shows the answers "
                    "across the range")
        return budget.value, note

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Training budgets: half log-uniform over the range, half at random-architecture costs."""
        u = rng.random(n)
        log_uniform = np.exp(np.log(self.low) + u * (np.log(self.high) - np.log(self.low)))
        if not self.quantiles:
            return log_uniform
        q = np.interp(rng.random(n), np.linspace(0, 1, len(self.quantiles)), self.quantiles)
        return np.where(rng.random(n) < 0.5, log_uniform, q)

    def spread(self, k: int) -> np.ndarray:
        """``k`` budgets spread over the range where architectures lie (for the evaluator)."""
        if self.quantiles:
            grid = np.linspace(0, 1, len(self.quantiles))
            return np.interp(np.linspace(0.03, 1.0, k), grid, self.quantiles)
        return np.exp(np.linspace(np.log(self.low), np.log(self.high), k))

    def to_json(self) -> dict[str, Any]:
        return {"low": self.low, "high": self.high, "unit": self.unit, "quantiles": self.quantiles}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "FeasibleRange":
        return cls(float(data["low"]), float(data["high"]), str(data["unit"]),
                   [float(q) for q in data.get("quantiles", [])])


def corner_archs(space: Any) -> list[Any]:
    """The architectures that take the same choice index in every decision.

    In spaces whose choices grow in size (``ofa-mbv3``), these include the
    smallest and the largest network, which random sampling almost never draws.
    """
    decisions = space.decisions()
    width = max(len(d.choices) for d in decisions)
    return [space.decode([min(i, len(d.choices) - 1) for d in decisions]) for i in range(width)]


def estimate_range(space: Any, cost: Any, samples: int = 2000,
                   seed: int = 0) -> tuple[FeasibleRange, Any]:
    """Cost range of ``space`` under ``cost``, and the cheapest architecture seen.

    A table source (``table:PATH``, or a per-architecture profile as
    ``--device``, which may hold only part of the space) is read whole: its
    range is exact and only its architectures count. Otherwise: the
    architectures that take the same choice index everywhere (the all-smallest
    and all-largest ones among them) plus ``samples`` random architectures.
    Quantiles come from random architectures (or table entries).
    """
    rng = np.random.default_rng(seed)
    held = isinstance(cost, HeldArchitectures)
    if held:  # a table: every architecture it holds
        archs = list(cost.archs())
        sample = rng.integers(len(archs), size=min(samples, len(archs)))
    else:
        archs = [space.sample(rng) for _ in range(samples)]
        sample = np.arange(len(archs))
        archs += corner_archs(space)
    values = np.asarray(cost.cost_many(archs), dtype=float)
    known = cost.known_range() if held else positive_range(values)
    if known is None:
        raise LatkitError("the cost source gives no positive costs for this space")
    low, high = float(known[0]), float(known[1])
    positive = np.where(values > 0, values, np.inf)
    cheapest = int(np.argmin(np.abs(positive - low)))  # the held low, or the nearest drawn
    quantiles = np.quantile(values[sample], np.linspace(0, 1, 101)).tolist()
    return FeasibleRange(low, high, cost.unit, [max(q, low) for q in quantiles]), archs[cheapest]


class BudgetContext:
    """Maps budgets to the context vector the networks condition on.

    Two positions of the budget, each clipped to [0, 1]: ``u``, its rank among
    the costs of random architectures (the quantiles of the feasible range), so
    budgets are spread evenly where architectures are even when a few
    degenerate ones make the range span decades; and ``v``, its position on the
    log scale of the whole range. Features: ``2u - 1``, sin/cos of ``pi*f*u``
    and ``2v - 1``. ``extra`` is appended unchanged (for instance a device
    embedding); ``dim`` is the total length, the ``context_dim`` of the
    generator and evaluator.
    """

    def __init__(self, feasible: FeasibleRange, extra: Sequence[float] = ()):
        self.feasible = feasible
        self.extra = np.asarray(list(extra), dtype=np.float32)
        q = np.log(np.maximum(np.asarray(feasible.quantiles or [feasible.low, feasible.high]), 1e-12))
        self._grid = q + np.arange(len(q)) * 1e-9  # strictly increasing for interpolation

    @property
    def dim(self) -> int:
        return 2 + 2 * len(FREQUENCIES) + len(self.extra)

    def position(self, budgets: np.ndarray | Sequence[float]) -> np.ndarray:
        """Position on the log scale of the feasible range, in [0, 1]."""
        b = np.maximum(np.asarray(budgets, dtype=float), 1e-12)
        lo, hi = math.log(self.feasible.low), math.log(self.feasible.high)
        return np.clip((np.log(b) - lo) / max(hi - lo, 1e-9), 0.0, 1.0)

    def rank(self, budgets: np.ndarray | Sequence[float]) -> np.ndarray:
        """Share of random architectures at or under the budget, in [0, 1]."""
        b = np.log(np.maximum(np.asarray(budgets, dtype=float), 1e-12))
        return np.interp(b, self._grid, np.linspace(0, 1, len(self._grid)))

    def __call__(self, budgets: np.ndarray | Sequence[float]) -> np.ndarray:
        u = self.rank(budgets)[:, None]
        parts = [2 * u - 1]
        for f in FREQUENCIES:
            parts += [np.sin(np.pi * f * u), np.cos(np.pi * f * u)]
        parts.append(2 * self.position(budgets)[:, None] - 1)
        out = np.concatenate(parts, axis=1).astype(np.float32)
        if len(self.extra):
            out = np.concatenate([out, np.repeat(self.extra[None], len(out), axis=0)], axis=1)
        return out
