"""A latency margin from the cost model's own errors, with a measured coverage.

A predicted latency is off by some factor. The margin is a split-conformal
upper bound on that factor: from calibration cases (architectures of devices
whose true latency is known, each predicted by the few-shot model the device
would get from its reference measurements alone), the residuals
``r = log(true ms) - log(predicted ms)`` are sorted and the
``ceil((n + 1) * level)``-th smallest is the bound ``q``. An answer must then
fit with its prediction times ``exp(q)``: for a case exchangeable with the
calibration ones, the true latency is under ``predicted * exp(q)`` with
probability at least ``level``.

Devices are not exchangeable with architectures: one device's transfer can
be biased for all its networks at once. So the coverage is *measured* on
held-out devices: each calibration device in turn is left out, ``q`` is
computed from the others' residuals, and the share of the left-out device's
cases under it is counted. :attr:`ConformalMargin.coverage` is that share over
every case; it is what a new device can expect, and it can be below
``level``.

:func:`margin_of` builds one from a predictor's held-out errors
(:mod:`latency_kit.predict.heldout`): what ``latkit nas`` keeps below each
budget and ``latkit validate`` checks on fresh networks.

Typical use::

    margin = fit_margin({"pixel3": residuals_a, "raspi4": residuals_b}, level=0.99)
    margin.factor()             # multiply predicted ms by this before comparing to the budget
    margin.describe(12.0)       # 'predicted 12 ms, margin 0.8 ms, covers 98.7% of held-out cases'
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from latency_kit.errors import LatkitError
from latency_kit.predict.heldout import HeldOutErrors


def conformal_quantile(residuals: np.ndarray, level: float) -> float:
    """The split-conformal bound: the ``ceil((n + 1) * level)``-th smallest residual,
    ``inf`` when ``n`` is too small for ``level``. Raises ``ValueError`` for a level
    outside (0, 1) or no finite residuals."""
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    r = np.sort(np.asarray(residuals, dtype=float)[np.isfinite(residuals)])
    if not len(r):
        raise ValueError("no finite residuals")
    k = math.ceil((len(r) + 1) * level)
    return float(r[k - 1]) if k <= len(r) else math.inf


@dataclass(frozen=True)
class ConformalMargin:
    """The bound ``log_bound`` on log(true / predicted) at target ``level``, its
    ``coverage`` measured on held-out devices (share of ``cases`` in ``devices``
    devices), and the bound a device would get when left out, per device."""

    log_bound: float
    level: float
    coverage: float
    cases: int
    devices: int
    per_device: dict[str, float]

    def factor(self, scale: float = 1.0) -> float:
        """What to multiply a predicted latency by: ``exp(bound * scale)``, where
        ``scale`` turns residual units into log ms (1 for plain log residuals, a
        device's own error for normalised ones). At least 1: a bound below 0
        would loosen a budget, so it is not used."""
        return math.exp(max(self.log_bound, 0.0) * scale)

    def margin_ms(self, predicted_ms: float, scale: float = 1.0) -> float:
        """The headroom kept for a network predicted at ``predicted_ms`` (ms)."""
        return float(predicted_ms) * (self.factor(scale) - 1.0)

    def describe(self, predicted_ms: float, scale: float = 1.0) -> str:
        return (f"predicted {predicted_ms:.4g} ms, margin {self.margin_ms(predicted_ms, scale):.3g} "
                f"ms, covers {100 * self.coverage:.1f}% of held-out cases")

    def to_json(self) -> dict[str, Any]:
        return {"bound": self.log_bound, "level": self.level,
                "coverage": self.coverage, "cases": self.cases, "devices": self.devices}


def fit_margin(residuals: Mapping[str, np.ndarray], level: float = 0.99) -> ConformalMargin:
    """The conformal margin of residuals (log true - log predicted) grouped by
    device, with its coverage measured by leaving each device out.

    Raises ``LatkitError`` with fewer than 2 devices (nothing to hold out).
    """
    groups = {name: np.asarray(r, dtype=float)[np.isfinite(r)] for name, r in residuals.items()}
    groups = {name: r for name, r in groups.items() if len(r)}
    if len(groups) < 2:
        raise LatkitError("a measured margin needs residuals of at least 2 devices")
    everything = np.concatenate(list(groups.values()))
    covered, per_device = 0, {}
    for name, r in groups.items():
        others = np.concatenate([v for n, v in groups.items() if n != name])
        bound = max(conformal_quantile(others, level), 0.0)
        per_device[name] = bound
        covered += int(np.sum(r <= bound))
    return ConformalMargin(conformal_quantile(everything, level), level,
                           covered / len(everything), len(everything), len(groups), per_device)


DEFAULT_LEVEL = 0.95  # the coverage a budget margin aims at unless told otherwise
FEW_GROUPS = 5  # held-out devices below which a measured coverage is flagged as thin


@dataclass(frozen=True)
class BudgetMargin:
    """The margin of one latency predictor: a :class:`ConformalMargin` on its
    held-out errors (:class:`~latency_kit.predict.heldout.HeldOutErrors`),
    ``scale`` log ms per residual unit, and ``basis``, what was held out (for
    messages). ``factor`` multiplies a predicted latency before it is compared
    with a budget. ``asked`` is the level asked for (``margin.level`` is it,
    capped at what the cases support); ``few_groups`` is set when the coverage
    was measured on fewer than :data:`FEW_GROUPS` held-out devices, too few to
    stand for a new device unlike them."""

    margin: ConformalMargin
    scale: float
    basis: str
    asked: float = DEFAULT_LEVEL
    few_groups: bool = False

    @property
    def level(self) -> float:
        return self.margin.level

    @property
    def factor(self) -> float:
        return self.margin.factor(self.scale)

    @property
    def coverage(self) -> float:
        return self.margin.coverage

    def margin_ms(self, predicted_ms: float) -> float:
        return self.margin.margin_ms(predicted_ms, self.scale)

    def describe(self, predicted_ms: float) -> str:
        """'predicted 12 ms, margin 0.8 ms, covers 96.7% of held-out cases'."""
        return self.margin.describe(predicted_ms, self.scale)

    def to_json(self) -> dict[str, Any]:
        return {"factor": self.factor, "level": self.margin.level, "asked": self.asked,
                "coverage": self.coverage, "cases": self.margin.cases, "basis": self.basis}


def margin_of(errors: HeldOutErrors | None, level: float = DEFAULT_LEVEL) -> BudgetMargin | None:
    """The budget margin at target coverage ``level`` from a predictor's held-out
    errors; ``None`` for no errors (a measured table, MAdds) or fewer than 2
    groups.

    With few cases (a profile's 30 calibration networks), ``level`` is capped
    at what they can support, ``(n - 1) / n``, and the coverage is measured
    group by group (each network, or each source device, left out), so it is
    reported as found, possibly below ``level``. Raises ``ValueError`` for a
    level outside (0, 1).
    """
    if not isinstance(level, (int, float)) or not 0.0 < level < 1.0:
        raise ValueError(f"a margin level must be a number in (0, 1), got {level!r}")
    if errors is None or len(errors.groups) < 2:
        return None
    capped = min(level, (errors.cases - 1) / errors.cases)
    few = errors.by_device and len(errors.groups) < FEW_GROUPS
    return BudgetMargin(fit_margin(errors.groups, capped), errors.scale, errors.basis, level, few)
