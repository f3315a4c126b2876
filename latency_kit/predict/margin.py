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
``level``. :attr:`ConformalMargin.devices_covered` counts the left-out devices
with at least ``level`` of their own cases under their bound.

A pooled share can hide one badly predicted device among many good ones.
:func:`fit_margin` can also take the bound in two steps (``device_level``):
each device's own ``level`` quantile, then the conformal quantile of those
over ``device_level`` of the devices. Measured with
``benchmarks/fewshot_margin.py`` (HELP's six unseen NAS-Bench-201 devices,
each a few-shot profile from the 13 source devices and 10 reference
measurements with 5% noise, 3,000 networks each; 2026-11-30): the pooled 95%
bound claimed 94.4% and covered 90.0% of their networks on average (68.1% on
pixel2); the two-step bound at 80% of devices covered 97.6% (worst 91.1%)
but its factor was about 15% larger (x1.31 against x1.14 on titan_rtx_256,
x3.8 against x1.9 on raspi4). Answers sit on the front, and there the pooled
bound already kept every answer within budget
(``benchmarks/multidevice_nb201.py``: 120 of 120 at 95%, per-device PNAG on
10-shot costs, 2.18 pp mean regret); the two-step one kept 119 of 119 and
left one budget unanswered, at 3.79 pp. So budgets use the pooled bound,
and the count of held-out devices it met is reported with it. With 2 or 3
source devices neither bound holds
(77-88% on average): too few devices to measure on, which
:class:`BudgetMargin` flags (``few_groups``).

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
    ``coverage`` measured on held-out groups (share of ``cases`` in ``devices``
    groups), the bound a group would get when left out, per group, and
    ``devices_covered``: the left-out groups with at least ``level`` of their
    own cases under that bound. ``device_level`` is the share of devices a
    two-step bound aims at (``None``: pooled)."""

    log_bound: float
    level: float
    coverage: float
    cases: int
    devices: int
    per_device: dict[str, float]
    devices_covered: int = 0
    device_level: float | None = None

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
        return {"bound": self.log_bound, "level": self.level, "coverage": self.coverage,
                "cases": self.cases, "devices": self.devices,
                "devices_covered": self.devices_covered, "device_level": self.device_level}


def fit_margin(residuals: Mapping[str, np.ndarray], level: float = 0.99,
               device_level: float | None = None) -> ConformalMargin:
    """The conformal margin of residuals (log true - log predicted) in groups,
    with its coverage measured by leaving each group out.

    ``device_level=None`` pools every residual (for groups of networks). With
    ``device_level`` the groups are devices, and the bound is the conformal
    quantile at ``device_level`` of each device's own ``level`` quantile
    (:func:`device_bounds`); ``device_level`` is capped at what the devices
    support, ``n / (n + 1)``, so with few devices it is their largest bound.
    Raises ``LatkitError`` with fewer than 2 groups (nothing to hold out).
    """
    groups = {name: np.asarray(r, dtype=float)[np.isfinite(r)] for name, r in residuals.items()}
    groups = {name: r for name, r in groups.items() if len(r)}
    if len(groups) < 2:
        raise LatkitError("a measured margin needs residuals of at least 2 devices")
    own = device_bounds(groups, level) if device_level is not None else {}

    def bound_of(names: list[str]) -> float:
        if device_level is None:
            return conformal_quantile(np.concatenate([groups[n] for n in names]), level)
        return conformal_quantile(np.array([own[n] for n in names]),
                                  min(device_level, len(names) / (len(names) + 1)))

    cases = sum(len(r) for r in groups.values())
    covered, devices_covered, per_device = 0, 0, {}
    for name, r in groups.items():
        bound = max(bound_of([n for n in groups if n != name]), 0.0)
        per_device[name] = bound
        covered += int(np.sum(r <= bound))
        devices_covered += int(np.mean(r <= bound) >= level)
    if device_level is not None:
        device_level = min(device_level, len(groups) / (len(groups) + 1))
    return ConformalMargin(bound_of(list(groups)), level, covered / cases, cases, len(groups),
                           per_device, devices_covered, device_level)


def device_bounds(groups: Mapping[str, np.ndarray], level: float) -> dict[str, float]:
    """Each device's own bound: the ``level`` conformal quantile of its residuals,
    or its largest residual where it has too few for ``level``."""
    out = {}
    for name, r in groups.items():
        q = conformal_quantile(r, level)
        out[name] = q if math.isfinite(q) else float(np.max(r))
    return out


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
    by_device: bool = False  # the held-out groups are devices (a transfer), not networks

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
        out = {"factor": self.factor, "level": self.margin.level, "asked": self.asked,
               "coverage": self.coverage, "cases": self.margin.cases, "basis": self.basis}
        if self.by_device:
            out.update(devices=self.margin.devices, devices_covered=self.margin.devices_covered)
        return out


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
    return BudgetMargin(fit_margin(errors.groups, capped), errors.scale, errors.basis, level, few,
                        errors.by_device)
