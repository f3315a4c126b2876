"""Use a latkit device profile in an Optuna study.

Three lines turn any accuracy function into a latency-aware multi-objective
search (accuracy up, predicted latency down, optionally under a budget)::

    lat = LatencyObjective("note10", budget="30ms")
    study = optuna.create_study(directions=lat.directions, sampler=lat.sampler(seed=0))
    study.optimize(lat.wrap(my_accuracy), n_trials=200)

``my_accuracy(arch)`` (or ``my_accuracy(trial, arch)``) scores one
architecture of the profile's space; :meth:`LatencyObjective.suggest` draws
that architecture from the trial, one ``suggest_categorical`` per decision of
the space. Each trial records ``latency_ms`` and ``arch`` (the string form) as
user attributes. With a budget, each trial also carries the constraint
``latency - budget`` (<= 0 means the budget is met): through
``trial.set_constraint`` on Optuna >= 5, or :meth:`LatencyObjective.constraints`
as the ``constraints_func`` of older Optuna's constrained samplers.

Optuna is imported only inside :meth:`LatencyObjective.sampler` (the ``search``
extra); the rest works with any object that has Optuna's trial methods.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable, Sequence

from latency_kit.errors import LatkitError, MissingExtraError
from latency_kit.profiles.profile import Profile, load_profile
from latency_kit.units import parse_budget

LATENCY_ATTR = "latency_ms"
ARCH_ATTR = "arch"


class LatencyObjective:
    """Latency as a second objective (and optional constraint) from a profile.

    ``profile`` is a loaded :class:`~latency_kit.profiles.profile.Profile` or a stored
    profile name; ``budget`` (``"30ms"``, ``0.03`` s as ``"0.03s"``, or ms as a
    number) enables :meth:`constraints`.
    """

    directions: Sequence[str] = ("maximize", "minimize")

    def __init__(self, profile: Profile | str, budget: str | float | None = None):
        self.profile = load_profile(profile) if isinstance(profile, str) else profile
        self.space = self.profile.space
        self.budget_ms: float | None = None
        if budget is not None:
            parsed = parse_budget(budget)
            if parsed.unit != "ms":
                raise LatkitError(f"the Optuna helper takes a latency budget (e.g. 30ms), not {parsed}")
            self.budget_ms = parsed.value

    def suggest(self, trial: Any) -> Any:
        """An architecture of the profile's space drawn from ``trial``."""
        picks = []
        for decision in self.space.decisions():
            choice = trial.suggest_categorical(decision.name, list(decision.choices))
            picks.append(decision.choices.index(choice))
        return self.space.decode(picks)

    def latency(self, arch: Any) -> float:
        """Predicted latency of ``arch`` on the profile's device, in ms."""
        return float(self.profile.predict(arch))

    def wrap(self, accuracy: Callable[..., float]) -> Callable[[Any], tuple[float, float]]:
        """An Optuna objective returning ``(accuracy(arch), latency_ms)``.

        ``accuracy`` takes ``(arch)`` or ``(trial, arch)``.
        """
        takes_trial = len(inspect.signature(accuracy).parameters) >= 2

        def objective(trial: Any) -> tuple[float, float]:
            arch = self.suggest(trial)
            ms = self.latency(arch)
            trial.set_user_attr(LATENCY_ATTR, ms)
            trial.set_user_attr(ARCH_ATTR, self.space.format(arch))
            if self.budget_ms is not None and hasattr(trial, "set_constraint"):  # Optuna >= 5
                trial.set_constraint(LATENCY_ATTR, ms - self.budget_ms)
            score = accuracy(trial, arch) if takes_trial else accuracy(arch)
            return float(score), ms

        return objective

    def constraints(self, trial: Any) -> list[float]:
        """Optuna ``constraints_func``: ``[latency - budget]`` (<= 0 is feasible)."""
        if self.budget_ms is None:
            raise LatkitError("constraints need a budget: LatencyObjective(profile, budget='30ms')")
        ms = trial.user_attrs.get(LATENCY_ATTR)
        if ms is None:  # a trial that failed before its latency was known
            return [float("inf")]
        return [float(ms) - self.budget_ms]

    def sampler(self, seed: int | None = None, **options: Any) -> Any:
        """An ``NSGAIISampler``, constrained by the budget when one was given."""
        try:
            import optuna
        except ImportError:
            raise MissingExtraError("optuna", "search") from None
        if self.budget_ms is not None and not hasattr(optuna.trial.Trial, "set_constraint"):
            options.setdefault("constraints_func", self.constraints)  # Optuna < 5
        return optuna.samplers.NSGAIISampler(seed=seed, **options)

    def best(self, study: Any) -> list[Any]:
        """The study's Pareto-optimal trials that meet the budget."""
        trials = study.best_trials
        if self.budget_ms is None:
            return trials
        return [t for t in trials if t.user_attrs.get(LATENCY_ATTR, float("inf")) <= self.budget_ms]
