"""Several devices at once: their names, their budgets, and one network for all.

* :func:`check_device_names` -- every ``--device`` must be a stored profile or a
  backend of this machine (a measurable device is profiled first); anything
  else is one error line that names it;
* :func:`budget_plan` -- ``--budget`` texts to budgets per device: ``20ms``
  applies to every device, ``pixel=20ms`` to the device ``pixel`` only; a
  device that has budgets of its own uses those and not the shared ones;
* :func:`all_fit` -- the most accurate queried network whose cost fits every
  device's budget (each device's own cost source), what ``--all-fit`` answers.

Typical use::

    plan = budget_plan(["pixel=20ms", "gpu=2ms"], ["pixel", "gpu"])
    models = {d: api.load_or_fit(device=d).model for d in plan}
    answer = all_fit(models, {d: plan[d][0] for d in plan})
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from latency_kit.errors import LatkitError
from latency_kit.units import Budget, parse_budget

from nas.margin import DEFAULT_LEVEL
from nas.pnag import PNAG


def check_device_names(names: Sequence[str]) -> None:
    """Raise ``LatkitError`` (one line) for the first name that is neither a stored
    profile (``latkit devices``) nor a backend this machine can measure with,
    or for a name given twice."""
    from latency_kit.backends import DEVICES, PREFIXES
    from latency_kit.profiles.profile import find_profile, known_profiles

    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise LatkitError(f"--device {name!r} is given twice; list each device once")
        seen.add(name)
        if find_profile(name) is not None or name in DEVICES \
                or any(name.startswith(p) for p in PREFIXES):
            continue
        profiles = ", ".join(sorted(known_profiles())) or "(none)"
        raise LatkitError(f"--device {name!r} is neither a stored profile nor a backend on this "
                          f"machine; stored profiles: {profiles}; backends: "
                          f"{', '.join(sorted(DEVICES))}")


def budget_plan(texts: Sequence[str], devices: Sequence[str]) -> dict[str, list[Budget]]:
    """The budgets of each device, in the order given, from ``--budget`` texts.

    ``NAME=BUDGET`` is a budget of device ``NAME`` only; a plain ``BUDGET``
    belongs to every device that has no ``NAME=`` budget. Budgets are read by
    :func:`latency_kit.units.parse_budget` (``20ms``, ``0.02s``, ``300M``).
    Raises ``LatkitError`` for a name not among ``devices``, an unreadable
    budget, or a device left with no budget.
    """
    shared: list[Budget] = []
    own: dict[str, list[Budget]] = {}
    for text in texts:
        name, sep, value = text.partition("=")
        if not sep:
            shared.append(parse_budget(text))
            continue
        name = name.strip()
        if name not in devices:
            raise LatkitError(f"--budget {text!r} names device {name!r}, which is not among "
                              f"the --device names: {', '.join(devices)}")
        own.setdefault(name, []).append(parse_budget(value))
    plan = {d: own.get(d, shared) for d in devices}
    missing = [d for d, b in plan.items() if not b]
    if missing:
        raise LatkitError(f"no budget for device {missing[0]!r}; give --budget 20ms for every "
                          f"device or --budget {missing[0]}=20ms")
    return plan


@dataclass(frozen=True)
class AllFit:
    """The network that fits every device: its value (accuracy-source unit),
    its cost and budget on each device (the devices' unit, ms or MAdds), and
    how many queried networks were checked and fit all."""

    arch: Any
    value: float
    costs: dict[str, float]
    budgets: dict[str, float]
    checked: int
    fitting: int
    margins: dict[str, Any]  # each device's BudgetMargin (None: no margin)


def all_fit(models: Mapping[str, PNAG], budgets: Mapping[str, Budget | float | str],
            margin_level: float | None = DEFAULT_LEVEL) -> AllFit:
    """The most accurate network, among those any of ``models`` queried in
    training, whose cost on every device, times that device's margin at
    ``margin_level`` (:meth:`PNAG.margin`), is at most that device's budget.

    Each device's cost comes from its own model's cost source; ties go to the
    network with the smallest largest cost-to-budget ratio. The models must
    share a search space and an accuracy source (the same value for the same
    network). A larger budget on any device never gives a worse answer: the
    candidates are fixed and only the filter widens. Raises ``LatkitError``
    for models of different spaces or accuracy sources, a budget below a
    device's feasible range, or no network that fits them all.
    """
    if set(models) != set(budgets):
        raise ValueError("all_fit needs one budget per model")
    first = next(iter(models.values()))
    for name, model in models.items():
        if model.space.name != first.space.name:
            raise LatkitError(f"--all-fit needs one search space; device {name!r} is in "
                              f"{model.space.name}, another in {first.space.name}")
        if model.accuracy.identity() != first.accuracy.identity():
            raise LatkitError("--all-fit needs one accuracy source for every device")
    limits = {name: models[name].feasible_.check(budgets[name])[0] for name in models}
    margins = {name: models[name].margin(margin_level) for name in models}
    value_of: dict[Any, float] = {}
    for model in models.values():
        for arch, value, _ in model.archive_:
            if np.isfinite(value):
                value_of.setdefault(arch, float(value))
    archs = list(value_of)
    cost = np.stack([np.asarray(models[n].cost.cost_many(archs), dtype=float) for n in models],
                    axis=1)
    lim = np.array([limits[n] / models[n].margin_factor(margin_level) for n in models])
    worst = (cost / lim).max(axis=1)
    fit = np.flatnonzero((cost <= lim).all(axis=1))
    if not len(fit):
        tight = ", ".join(f"{n} {models[n].describe_budget(limits[n])}" for n in models)
        raise LatkitError(f"no network fits every device under its budget less its margin "
                          f"({tight}); the closest needs {worst.min():.2f} times that; raise the "
                          "budgets")
    best = min(fit, key=lambda i: (-value_of[archs[i]], worst[i], i))
    arch = archs[best]
    costs = {n: float(cost[best, k]) for k, n in enumerate(models)}
    return AllFit(arch, value_of[arch], costs, limits, len(archs), int(len(fit)), margins)
