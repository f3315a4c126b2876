"""PNAG: train once per device, then generate an architecture for any budget.

Typical use::

    from nas.pnag import PNAG, Settings
    model = PNAG(space, cost, accuracy, Settings()).fit()
    result = model.generate("20ms")          # or a float in the cost's unit
    result.best.arch, result.best.cost, result.best.value

Training (``fit``):

1. estimate the feasible cost range of the space (:mod:`nas.budget`);
2. query the accuracy source on part of the M architectures of the *archive*
   (random ones) and fit the evaluator R(alpha|B) with the ranking loss over
   K budgets (eq. 4, 5);
3. active rounds spend the rest of M: for budgets across the range, R ranks
   mutations of the best archive architectures that fit (plus random ones),
   the best few are queried and R is refitted, so queries land near the front;
4. fit the generator by REINFORCE on budgets drawn across the range. The
   reward is the evaluator's standardised score when the architecture fits
   the budget (cost from the cost source), and a penalty that grows with the
   overshoot when it does not;
5. build the *front*: for ``front_budgets`` budgets from the cheapest
   architecture to the costliest one (the top corner included), an
   evolutionary search on an accuracy surrogate (:mod:`nas.surrogate`, refitted
   after each budget) starts from the best queried networks under the budget,
   the generator's samples and random networks, and the ``front_queries``
   best that fit are queried. The Pareto front of everything queried
   (archive, active rounds, sweep) is stored with the model (``front_``).

Generation (``generate``) reads the stored front: the answer for a budget is
the most accurate queried architecture whose cost is at most the budget. So
an answer depends only on the model and the budget, a larger budget never
gets a worse answer, and a saved and loaded model gives the same answers.
:meth:`PNAG.search` is the per-call search the front is built from (generator
samples ranked by the evaluator, the ``rerank`` best queried); with
``rerank=0, archive=False`` it shows what the generator and evaluator alone
choose. A budget is never exceeded.

Training policy (:func:`settings_for`): the preset and the accuracy source
decide the settings. A source that runs the network (``expensive``, such as
the synflow or NASWOT proxies) gets ``EXPENSIVE`` (fewer queries); a cheap
one (a table, ``macs``, ``params``, OFA's predictor) the full preset.
Settings passed explicitly are used as given.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Callable, Sequence

import numpy as np
import torch

from latency_kit.errors import LatkitError
from latency_kit.units import Budget

from nas.budget import BudgetContext, FeasibleRange, corner_archs, estimate_range, format_cost
from nas.evaluator import Evaluator, EvaluatorFit, fit_evaluator
from nas.generator import Generator, fit_generator
from nas.margin import DEFAULT_LEVEL, BudgetMargin, cost_margin
from nas.sources.base import AccuracySource, CostSource, one_torch_thread
from nas.sources.cache import QueryCounter
from nas.surrogate import KernelRidgeSurrogate, Surrogate

Progress = Callable[[str, int, int], None]
INFEASIBLE_FLOOR = -4.0  # reward of an infeasible sample before the overshoot penalty
MUTATION_RATE = 0.1  # per decision, as in OFA's evolutionary search
# Share of an active round's budgets placed above the costliest random
# architecture, up to the costliest one in the space (see ``_propose``).
UPPER_SHARE = 0.2
UPPER_GAP = 1.15  # ... when the costliest corner is this far above the costliest random one
# Bumped when training changes what a model learns from the same settings, so
# cached models trained by an older algorithm are not reused (nas.store).
ALGORITHM = 4
EVO_POPULATION = 100  # front sweep: OFA's evolutionary search population


@dataclass(frozen=True)
class Settings:
    """Training and generation settings. Fields in ``GENERATION_FIELDS`` do not
    change a trained model (they are not part of its cache key)."""

    archs: int = 300              # M: accuracy queries that train the evaluator
    rounds: int = 3               # active rounds that spend part of M near the front
    seed_share: float = 0.4       # share of M drawn at random before the first round
    round_budgets: int = 20       # budgets each active round proposes architectures for
    eval_budgets: int = 16        # K: budgets of the ranking loss
    eval_steps: int = 250
    eval_hidden: int = 128
    eval_layers: int = 3
    loss: str = "hinge"
    gen_steps: int = 250
    gen_hidden: int = 64
    gen_budgets: int = 8          # budgets per REINFORCE step
    gen_samples: int = 16         # samples per budget (the group baseline)
    gen_lr: float = 1e-3
    entropy: float = 0.05
    range_samples: int = 2000
    seed: int = 0
    candidates: int = 256         # samples per budget (front sweep and search)
    front_budgets: int = 40       # budgets of the front sweep, cheapest to costliest network (0: none)
    front_queries: int = 4        # accuracy queries per front-sweep budget
    front_steps: int = 10         # surrogate evolution generations per front-sweep budget
    rerank: int = 5               # search: accuracy queries per budget
    archive: bool = True          # search: also consider the queried architectures

    def training_key(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if k not in GENERATION_FIELDS}


GENERATION_FIELDS = ("rerank", "archive")
PRESETS: dict[str, Settings] = {
    "fast": Settings(archs=500, seed_share=0.24, rounds=5),
    "tiny": Settings(archs=80, eval_steps=40, eval_hidden=64, gen_steps=40, range_samples=300,
                     candidates=64, front_budgets=12, front_queries=2, front_steps=2),
    "bench": Settings(archs=1000, eval_steps=600, eval_hidden=256, gen_steps=600,
                      rerank=10, front_budgets=60, front_queries=6),
}
# What an accuracy source that runs the network (``expensive``) trains with:
# about a fifth of the queries (about 130), as each costs a network run (NASWOT: 13 s).
EXPENSIVE: dict[str, Any] = {"archs": 100, "rounds": 2, "front_budgets": 12, "front_queries": 2}


def settings_for(accuracy: Any, preset: str = "fast", **overrides: Any) -> Settings:
    """The settings PNAG trains with for this accuracy source and preset.

    The one training policy, used by the CLI and the Python API alike: a
    source whose ``expensive`` attribute is true (it runs the network per
    query) gets the ``EXPENSIVE`` query budget on top of the preset (except
    for ``tiny``); a cheap one (tables, ``macs``, ``params``, OFA's predictor)
    the preset as it is. ``overrides`` are used as given, over both.
    Raises ``LatkitError`` for an unknown preset or setting.
    """
    policy = EXPENSIVE if getattr(accuracy, "expensive", False) and preset != "tiny" else {}
    return settings_from(preset, **{**policy, **overrides})


def settings_from(preset: str = "fast", **overrides: Any) -> Settings:
    """A preset's settings with ``overrides``; raises ``LatkitError`` for unknown names."""
    if preset not in PRESETS:
        raise LatkitError(f"unknown preset {preset!r}; use one of {', '.join(PRESETS)}")
    known = {f.name for f in fields(Settings)}
    bad = set(overrides) - known
    if bad:
        raise LatkitError(f"unknown PNAG settings {sorted(bad)}; known: {sorted(known)}")
    return replace(PRESETS[preset], **overrides)


@dataclass
class Pick:
    """One generated architecture: its cost, its accuracy-source value, R's score."""

    arch: Any
    cost: float
    value: float
    score: float
    origin: str  # "generator" or "archive"


@dataclass
class Generation:
    """The answer for one budget, best first."""

    budget: float
    unit: str
    picks: list[Pick]
    note: str | None = None
    sampled: int = 0
    feasible: int = 0
    accuracy_queries: int = 0
    seconds: float = 0.0
    margin: BudgetMargin | None = None  # the cost's margin the picks were chosen under

    @property
    def best(self) -> Pick:
        return self.picks[0]


@dataclass
class FitReport:
    """What ``fit`` did: queries, timings and the evaluator's Kendall tau."""

    accuracy_queries: int = 0
    cost_queries: int = 0
    seconds: dict[str, float] = field(default_factory=dict)
    evaluator: dict[str, Any] = field(default_factory=dict)
    generator: dict[str, Any] = field(default_factory=dict)


def cached_features(space: Any, cache: dict[Any, np.ndarray], archs: Sequence[Any]) -> np.ndarray:
    """``space.features`` of ``archs`` as one float32 matrix, memoised in ``cache``."""
    out = []
    for a in archs:
        f = cache.get(a)
        if f is None:
            f = cache[a] = np.asarray(space.features(a), dtype=np.float32)
        out.append(f)
    return np.stack(out)


def check_objectives(cost: CostSource, accuracy: AccuracySource) -> None:
    """Refuse a pair whose two objectives are the same number: MAdds as the cost
    and the ``macs`` proxy as the accuracy. Raises ``LatkitError``."""
    if cost.unit == "madds" and getattr(accuracy, "name", None) == "macs" \
            and getattr(accuracy, "label", "") == "proxy_score":
        from nas.sources.proxies import proxy_names

        others = ", ".join(f"proxy:{n}" for n in proxy_names() if n != "macs")
        raise LatkitError("--cost madds with the macs proxy makes accuracy and cost the same "
                          f"number; pass --accuracy with {others}, or table:PATH or "
                          "ofa-predictor:PATH")


def stored_networks(state: dict[str, Any], evaluator_weights: dict[str, Any],
                    generator_weights: dict[str, Any]) -> tuple[Evaluator, Generator]:
    """The evaluator and generator of a stored model, from their configs
    (``state["evaluator"]``, ``state["generator"]``) and state dicts, in eval mode."""
    evaluator = Evaluator(**state["evaluator"])
    evaluator.load_state_dict(evaluator_weights)
    generator = Generator(**state["generator"])
    generator.load_state_dict(generator_weights)
    return evaluator.eval(), generator.eval()


def pareto_front(points: Sequence[tuple[Any, float, float]]) -> list[tuple[Any, float, float]]:
    """The Pareto front of ``(arch, value, cost)`` points: cost ascending, value
    strictly increasing. Of points with equal value the cheapest is kept; of
    equal value and cost, the first. Points with a non-finite value or cost
    are left out."""
    order = sorted((i for i, p in enumerate(points)
                    if np.isfinite(p[1]) and np.isfinite(p[2])),
                   key=lambda i: (points[i][2], -points[i][1], i))
    front: list[tuple[Any, float, float]] = []
    for i in order:
        if not front or points[i][1] > front[-1][1]:
            front.append(points[i])
    return front


class PNAG:
    """A budget-conditioned generator plus Pareto evaluator for one cost source.

    ``extra_context`` is appended to every budget's context vector (for a
    device embedding); it is fixed for one model. ``surrogate(model)`` makes
    the front sweep's :class:`~nas.surrogate.Surrogate` (default: kernel
    ridge on the space's features); it is not part of a stored model's
    training key, so pass it only to models you train and keep yourself.
    """

    def __init__(self, space: Any, cost: CostSource, accuracy: AccuracySource,
                 settings: Settings | None = None, extra_context: Sequence[float] = (),
                 surrogate: Callable[["PNAG"], Surrogate] | None = None):
        check_objectives(cost, accuracy)
        self.space, self.cost, self.accuracy = space, cost, accuracy
        self.settings = settings or settings_for(accuracy)
        self.extra_context = [float(x) for x in extra_context]
        self.surrogate = surrogate
        self.lookups = QueryCounter(accuracy, cost)
        self._features: dict[Any, np.ndarray] = {}
        self._decoded: dict[tuple[int, ...], Any] = {}

    # -- a stored model ----------------------------------------------------------
    def to_state(self) -> dict[str, Any]:
        """The fitted model as JSON-able fields (``nas.store`` writes them to
        ``meta.json``); the two networks' weights are ``evaluator_`` and
        ``generator_``'s state dicts."""
        space = self.space
        return {
            "space": space.name,
            "space_repr": repr(space),
            "cost": self.cost.identity(),
            "unit": self.unit,
            "accuracy": self.accuracy.identity(),
            "label": self.label,
            "settings": asdict(self.settings),
            "extra_context": self.extra_context,
            "feasible": self.feasible_.to_json(),
            "evaluator": self.evaluator_.config,
            "generator": self.generator_.config,
            "evaluator_fit": asdict(self.eval_fit_),
            "report": asdict(self.report_),
            "fallback": space.format(self.fallback_),
            "archive": [[space.format(a), v, c] for a, v, c in self.archive_],
            "front": [[space.format(a), v, c] for a, v, c in self.front_],
        }

    @classmethod
    def from_state(cls, space: Any, cost: CostSource, accuracy: AccuracySource,
                   state: dict[str, Any], evaluator_weights: dict[str, Any],
                   generator_weights: dict[str, Any]) -> "PNAG":
        """A fitted model from :meth:`to_state`'s fields and the networks' state
        dicts, for these sources (the caller checked that they match). The
        front is recomputed from the archive; every archived architecture's
        value and cost are known without a query."""
        model = cls(space, cost, accuracy, Settings(**state["settings"]),
                    state.get("extra_context", []))
        model.feasible_ = FeasibleRange.from_json(state["feasible"])
        model.context_ = BudgetContext(model.feasible_, model.extra_context)
        model.evaluator_, model.generator_ = stored_networks(state, evaluator_weights,
                                                            generator_weights)
        model.eval_fit_ = EvaluatorFit(**state["evaluator_fit"])
        model.report_ = FitReport(**state["report"])
        model.fallback_ = space.parse(state["fallback"])
        model.archive_ = [(space.parse(a), float(v), float(c)) for a, v, c in state["archive"]]
        for arch, value, cost_value in model.archive_:
            model.lookups.remember(arch, value, cost_value)
        model.front_ = pareto_front(model.archive_)
        return model

    # -- helpers ---------------------------------------------------------------
    @property
    def label(self) -> str:
        return getattr(self.accuracy, "label", "accuracy")

    @property
    def unit(self) -> str:
        return self.cost.unit

    def features(self, archs: Sequence[Any]) -> np.ndarray:
        return cached_features(self.space, self._features, archs)

    def make_surrogate(self) -> Surrogate:
        """A fresh front-sweep surrogate: the ``surrogate`` factory's, or kernel
        ridge on ``features``."""
        if self.surrogate is not None:
            return self.surrogate(self)
        return KernelRidgeSurrogate(self.features, self.settings.seed)

    def decode(self, indices: np.ndarray) -> list[Any]:
        out = []
        for row in indices.tolist():
            key = tuple(row)
            arch = self._decoded.get(key)
            if arch is None:
                arch = self._decoded[key] = self.space.decode(list(key))
            out.append(arch)
        return out

    def score(self, archs: Sequence[Any], budgets: np.ndarray) -> np.ndarray:
        """The evaluator's R(alpha | B) for paired architectures and budgets."""
        with torch.no_grad():
            x = torch.as_tensor(self.features(archs))
            c = torch.as_tensor(self.context_(np.asarray(budgets, dtype=float)))
            return self.evaluator_(x, c).numpy()

    # -- training --------------------------------------------------------------
    def _draw_archive(self, rng: np.random.Generator, m: int) -> list[Any]:
        pool = None
        held = self.lookups.cost_held
        if self.lookups.accuracy_held is not None:
            pool = [a for a in self.accuracy.archs() if held is None or a in held]
        elif held is not None:  # a partial cost table: only its architectures have a cost
            pool = list(self.cost.archs())
        if pool is not None:
            if not pool:
                raise LatkitError("the accuracy and cost tables share no architecture")
            return [pool[i] for i in rng.choice(len(pool), size=min(m, len(pool)), replace=False)]
        seen: dict[Any, None] = {}
        for _ in range(20 * m):
            if len(seen) >= m:
                break
            seen.setdefault(self.space.sample(rng))
        return list(seen)

    def fit(self, progress: Progress | None = None) -> "PNAG":
        """Train the evaluator and the generator; returns ``self``."""
        with one_torch_thread():
            return self._fit(progress)

    def _fit(self, progress: Progress | None) -> "PNAG":
        s = self.settings
        report = FitReport()
        tick = progress or (lambda stage, done, total: None)
        rng = np.random.default_rng(s.seed)
        t0 = time.perf_counter()
        tick("cost range", 0, 1)
        feasible, cheapest = estimate_range(self.space, self.cost, s.range_samples, s.seed)
        tick("cost range", 1, 1)
        t1 = time.perf_counter()
        n_seed = s.archs if s.rounds <= 0 else max(10, int(round(s.archs * s.seed_share)))
        archs = self._draw_archive(rng, n_seed)
        costs = self.lookups.cost_many(archs)
        archs = [a for a, c in zip(archs, costs) if np.isfinite(c)]
        self.archive_ = []
        self._query(archs, tick, s.archs)
        if not self.archive_:
            raise LatkitError("no architecture has both a cost and an accuracy; check that the "
                              "cost and accuracy sources cover the same space")
        costs = np.array([c for _, _, c in self.archive_])
        self.fallback_ = cheapest
        if costs.min() < feasible.low:
            self.fallback_, feasible.low = self.archive_[int(np.argmin(costs))][0], float(costs.min())
        self.feasible_ = feasible
        self.context_ = BudgetContext(feasible, self.extra_context)
        t2 = time.perf_counter()
        self._fit_evaluator(tick)
        left = s.archs - len(self.archive_)
        for r in range(max(s.rounds, 0)):
            per_round = left // (s.rounds - r)
            proposed = self._propose(per_round, rng)
            if not proposed:
                break
            left -= len(proposed)
            self._query(proposed, tick, s.archs)
            self._fit_evaluator(tick)
        t3 = time.perf_counter()
        self.generator_ = Generator([len(d.choices) for d in self.space.decisions()],
                                    self.context_.dim, s.gen_hidden)
        gfit = fit_generator(
            self.generator_, self._reward, feasible.sample, self.context_, steps=s.gen_steps,
            budgets_per_step=s.gen_budgets, samples_per_budget=s.gen_samples, lr=s.gen_lr,
            entropy=s.entropy, seed=s.seed, progress=lambda d, t: tick("generator", d, t))
        t4 = time.perf_counter()
        self._sweep_front(rng, tick)
        t5 = time.perf_counter()
        report.accuracy_queries = self.lookups.accuracy_queries
        report.cost_queries = self.lookups.cost_queries
        report.seconds = {"range": t1 - t0, "archive": t2 - t1, "evaluator": t3 - t2,
                          "generator": t4 - t3, "front": t5 - t4, "total": t5 - t0}
        report.evaluator = asdict(self.eval_fit_)
        report.generator = asdict(gfit)
        self.report_ = report
        return self

    def _query(self, archs: list[Any], tick: Progress, total: int) -> None:
        """Query the accuracy source on ``archs`` and add them to the archive."""
        chunk = max(1, total // 20)
        for start in range(0, len(archs), chunk):
            part = archs[start:start + chunk]
            values = self.lookups.score_many(part)
            costs = self.lookups.cost_many(part)
            self.archive_ += list(zip(part, values.tolist(), costs.tolist()))
            tick("accuracy queries", len(self.archive_), total)

    def _fit_evaluator(self, tick: Progress) -> None:
        """(Re)fit R on the whole archive over the evaluator's K budgets."""
        s = self.settings
        archs = [a for a, _, _ in self.archive_]
        values = np.array([v for _, v, _ in self.archive_])
        costs = np.array([c for _, _, c in self.archive_])
        self.evaluator_, self.eval_fit_ = fit_evaluator(
            self.features(archs), values, costs, self.feasible_.spread(s.eval_budgets),
            self.context_, hidden=s.eval_hidden, layers=s.eval_layers, steps=s.eval_steps,
            loss=s.loss, seed=s.seed, progress=lambda d, t: tick("evaluator", d, t))

    def _propose(self, count: int, rng: np.random.Generator) -> list[Any]:
        """An active round: ``count`` new architectures that R rates best near the front.

        For budgets spread over the range (jittered each round), the pool is
        mutations of the most accurate archive architectures that fit the
        budget plus random ones; R ranks the affordable unqueried ones and the
        best few per budget are proposed. This spends queries where the
        optimum of each budget lies, which random sampling rarely reaches.

        In a space that no table enumerates, random architectures stop well
        below the costliest one (in ``ofa-mbv3`` the largest network costs
        1.4x the costliest of 2,000 random ones), so there ``UPPER_SHARE`` of
        the budgets lie between the costliest random architecture and the
        costliest corner architecture; their pool also holds mutations of
        that corner, and R chooses among the pool's networks above the
        costliest random one: large budgets get large networks. The corner
        itself is queried once. A table's few costly outliers are not worth
        those queries.
        """
        s = self.settings
        n_budgets = max(1, min(s.round_budgets, count))
        quantiles = self.feasible_.quantiles or [self.feasible_.low, self.feasible_.high]
        top, top_cost = self._top_arch() if self.lookups.cost_held is None else (None, 0.0)
        n_upper = int(round(UPPER_SHARE * n_budgets)) if top_cost > UPPER_GAP * quantiles[-1] else 0
        n_lower = n_budgets - n_upper
        grid = (np.arange(n_lower) + rng.random(n_lower)) / n_lower
        budgets = np.interp(0.02 + 0.98 * grid, np.linspace(0, 1, len(quantiles)), quantiles)
        if n_upper:
            low, high = np.log(quantiles[-1]), np.log(top_cost)
            budgets = np.concatenate([budgets, np.exp(low + rng.random(n_upper) * (high - low))])
        per_budget = np.full(n_budgets, count // n_budgets)  # the remainder to random budgets
        per_budget[rng.permutation(n_budgets)[:count % n_budgets]] += 1
        known = {a for a, _, _ in self.archive_}
        chosen: dict[Any, None] = {}
        if n_upper and top not in known and self.lookups.known_accuracy(top):
            chosen[top] = None  # the answer above every budget where bigger is better
            per_budget[n_lower + int(np.argmax(per_budget[n_lower:]))] -= 1
        for i, (b, take) in enumerate(zip(budgets, per_budget)):
            grow = [self._mutate(top, rng) for _ in range(48)] if i >= n_lower else []
            pool = list(dict.fromkeys(self._neighbours(b, 96, rng) + grow
                                      + [self.space.sample(rng) for _ in range(32)]))
            pool = [a for a in pool if a not in known and a not in chosen
                    and self.lookups.known_accuracy(a)]
            if not pool:
                continue
            costs = self.lookups.cost_many(pool)
            upper = i >= n_lower and any(quantiles[-1] < c <= b for c in costs)
            pool = [a for a, c in zip(pool, costs) if c <= b and (not upper or c > quantiles[-1])]
            if not pool:
                continue
            scores = self.score(pool, np.full(len(pool), b))
            for j in np.argsort(-scores, kind="stable")[:take]:
                chosen[pool[j]] = None
        return list(chosen)

    def _top_arch(self) -> tuple[Any | None, float]:
        """The costliest corner architecture (``corner_archs``) with a finite cost, and
        that cost; ``(None, 0.0)`` when no corner has one."""
        corners = corner_archs(self.space)
        costs = self.lookups.cost_many(corners)
        finite = [i for i, c in enumerate(costs) if np.isfinite(c)]
        if not finite:
            return None, 0.0
        best = max(finite, key=lambda i: costs[i])
        return corners[best], float(costs[best])

    def _neighbours(self, budget: float, count: int, rng: np.random.Generator) -> list[Any]:
        """``count`` mutations of the four most accurate archive architectures within ``budget``."""
        fits = sorted((x for x in self.archive_ if x[2] <= budget), key=lambda x: -x[1])
        elites = [a for a, _, _ in fits[:4]]
        return [self._mutate(elites[i % len(elites)], rng) for i in range(count if elites else 0)]

    def _mutate(self, arch: Any, rng: np.random.Generator) -> Any:
        """``arch`` with 1 + Binomial(D - 1, 0.1) of its D decisions redrawn at random.

        About 1.5 changes in NB201's 6 decisions; about 5.5 in ``ofa-mbv3``'s
        46, so a step can reach a much larger network in a large space.
        """
        decisions = self.space.decisions()
        code = list(self.space.encode(arch))
        changes = 1 + int(rng.binomial(len(code) - 1, MUTATION_RATE))
        for i in rng.choice(len(code), size=changes, replace=False):
            code[i] = int(rng.integers(len(decisions[i].choices)))
        return self.space.decode(code)

    # -- the front -----------------------------------------------------------------
    def sweep_budgets(self) -> np.ndarray:
        """The front sweep's budgets, ascending, both ends of the feasible range
        included: half spaced evenly over the random architectures' cost
        quantiles (dense where most networks are), half log-spaced over the
        whole range (so the sparse ends, the largest networks included, are
        covered as densely as the middle)."""
        s, f = self.settings, self.feasible_
        quantiles = f.quantiles or [f.low, f.high]
        n = max(2, s.front_budgets)
        body = np.interp(np.linspace(0, 1, n - n // 2), np.linspace(0, 1, len(quantiles)),
                         quantiles)
        spread = np.exp(np.linspace(np.log(f.low), np.log(f.high), n // 2 + 2))
        return np.unique(np.clip(np.concatenate([body, spread]), f.low, f.high))

    def _sweep_front(self, rng: np.random.Generator, tick: Progress) -> None:
        """Step 5 of ``fit``: query near the front at every sweep budget, then store
        the Pareto front of every queried architecture in ``front_``.

        The cheapest and the costliest corner architectures are queried first,
        so every budget in the feasible range has an answer and the largest
        budgets can get the largest network. Budgets go from the cheapest up,
        so each starts from the best networks found below it; the accuracy
        surrogate is refitted after every budget (cross-validated every
        tenth), so it learns most where the front is.
        """
        s = self.settings
        if s.front_budgets <= 0:  # no sweep: the front of what training queried
            self.front_ = pareto_front(self.archive_)
            return
        known = {a for a, _, _ in self.archive_}
        ends = [self.fallback_]
        if self.lookups.cost_held is None:
            top, _ = self._top_arch()
            ends += [top] if top is not None else []
        self._query([a for a in dict.fromkeys(ends)
                     if a not in known and self.lookups.known_accuracy(a)], lambda *a: None, 1)
        budgets = self.sweep_budgets()
        surrogate = self.make_surrogate()
        for i, budget in enumerate(budgets):
            archs = [a for a, _, _ in self.archive_]
            values = np.array([v for _, v, _ in self.archive_])
            (surrogate.fit if i % 10 == 0 else surrogate.refit)(archs, values)
            chosen = self._improve(float(budget), s.front_queries, surrogate, rng)
            if chosen:
                self._query(chosen, lambda *a: None, s.archs)
            tick("front", i + 1, len(budgets))
        self.front_ = pareto_front(self.archive_)

    def _improve(self, budget: float, take: int, surrogate: Surrogate,
                 rng: np.random.Generator) -> list[Any]:
        """Up to ``take`` unqueried architectures within ``budget`` that the
        surrogate rates best, found by an evolutionary search on the surrogate.

        The population starts from the most accurate queried architectures
        that fit, the generator's samples for the budget and random
        architectures that fit; each of ``front_steps`` generations keeps the
        best quarter and adds children by mutation (each decision redrawn with
        probability ``MUTATION_RATE``) and by uniform crossover, as OFA's
        evolutionary search does. Children over the budget are dropped. Only
        cost lookups and the surrogate are used: no accuracy query is spent
        until the choice.
        """
        s = self.settings
        known = {a for a, _, _ in self.archive_}
        sizes = np.array([len(d.choices) for d in self.space.decisions()])
        fits = sorted((x for x in self.archive_ if x[2] <= budget), key=lambda x: -x[1])
        generator = torch.Generator().manual_seed(int(rng.integers(2**31)))
        start = ([a for a, _, _ in fits[:16]] + self._sample(budget, s.candidates, generator)
                 + [self.space.sample(rng) for _ in range(EVO_POPULATION)])
        pool: dict[Any, float] = {}

        def add(archs: list[Any]) -> None:
            archs = [a for a in dict.fromkeys(archs) if a not in pool]
            if archs:
                archs = [a for a, c in zip(archs, self.lookups.cost_many(archs)) if c <= budget]
            if archs:
                pool.update(zip(archs, surrogate.predict(archs).tolist()))

        add(start)
        if not pool:
            return []
        for _ in range(s.front_steps):
            parents = sorted(pool, key=lambda a: -pool[a])[:EVO_POPULATION // 4]
            codes = np.array([self.space.encode(a) for a in parents])
            n = EVO_POPULATION
            mutants = codes[rng.integers(len(codes), size=n)]
            redraw = rng.random(mutants.shape) < MUTATION_RATE
            mutants = np.where(redraw, (rng.random(mutants.shape) * sizes).astype(int), mutants)
            a, b = codes[rng.integers(len(codes), size=n)], codes[rng.integers(len(codes), size=n)]
            crossed = np.where(rng.random(a.shape) < 0.5, a, b)
            add(self.decode(np.concatenate([mutants, crossed])))
        ranked = sorted(pool, key=lambda a: -pool[a])
        return [a for a in ranked if a not in known and self.lookups.known_accuracy(a)][:take]

    def _sample(self, budget: float, count: int, generator: torch.Generator,
                hotter: float = 0.0, greedy: bool = True) -> list[Any]:
        """Distinct generator samples for ``budget``: ``count`` drawn, half at
        temperature ``1 + hotter`` and half at ``1.5 + hotter`` for variety,
        after the greedy one when ``greedy``."""
        ctx = torch.as_tensor(self.context_(np.full(max(count, 2), budget)))
        half = len(ctx) // 2
        with torch.no_grad():
            parts = [self.generator_.sample(ctx[:1], greedy=True)[0]] if greedy else []
            parts += [self.generator_.sample(ctx[:half], temperature=1.0 + hotter,
                                             generator=generator)[0],
                      self.generator_.sample(ctx[half:], temperature=1.5 + hotter,
                                             generator=generator)[0]]
        return list(dict.fromkeys(self.decode(torch.cat(parts).numpy())))

    def _reward(self, indices: np.ndarray, budgets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        archs = self.decode(indices)
        costs = self.lookups.cost_many(archs)
        fits = costs <= budgets
        z = (self.score(archs, budgets) - self.eval_fit_.score_mean) / self.eval_fit_.score_std
        overshoot = np.log(np.minimum(costs, 1e30) / budgets)
        penalty = INFEASIBLE_FLOOR - 4.0 * np.clip(overshoot, 0, 2)
        return np.where(fits, np.maximum(z, -3.0), penalty), fits

    # -- generation ------------------------------------------------------------
    def generate(self, budget: Budget | float | str, n: int = 1,
                 margin_level: float | None = DEFAULT_LEVEL) -> Generation:
        """The answer for ``budget``: the best ``n`` queried architectures that fit.

        The first is the front's point for the budget: the most accurate
        architecture queried in training whose cost, times the cost's margin,
        is at most ``budget`` (ties go to the cheaper one). Further picks are
        the next most accurate ones that fit. The answer depends on the model,
        the budget and ``margin_level`` alone, and is never worse for a larger
        budget. A float is read in the cost source's unit (ms or MAdds).

        The margin (:func:`nas.margin.cost_margin`, on the result as
        ``margin``) covers the cost's own prediction error at target coverage
        ``margin_level`` (0.95 by default), measured on networks the predictor
        was not fitted on, so the answer fits on the device as well as on the
        prediction. ``margin_level=None``, or a cost that is a measurement or
        a count (a table, MAdds), uses none.

        Raises ``LatkitError`` for a budget in the wrong unit or below the
        feasible range (the message gives the range), or when nothing fits
        under the budget less the margin.
        """
        if not hasattr(self, "front_"):
            raise RuntimeError("PNAG.generate needs a fitted or loaded model")
        start = time.perf_counter()
        margin = self.margin(margin_level)
        factor = self.margin_factor(margin_level)
        value, note = self.feasible_.check(budget, factor)
        limit = value / factor
        fits = [x for x in self.archive_ if x[2] <= limit and np.isfinite(x[1])]
        if not fits:
            kept = "" if margin is None else (
                f" divided by its margin (x{margin.factor:.3f}, for {100 * margin.coverage:.1f}% "
                "coverage; lower the level: --margin-level, margin_level=; or drop it: "
                "--no-margin, margin_level=None)")
            raise LatkitError(
                f"no architecture under {self.describe_budget(value)}{kept} has a known "
                f"{self.label}; the smallest answer costs {self.describe_budget(self.front_[0][2])} "
                f"(feasible range {self.feasible_.describe()})")
        order = sorted(range(len(fits)), key=lambda i: (-fits[i][1], fits[i][2], i))[:n]
        chosen = [fits[i] for i in order]
        scores = self.score([a for a, _, _ in chosen], np.full(len(chosen), value))
        picks = [Pick(a, float(c), float(v), float(r), "front")
                 for (a, v, c), r in zip(chosen, scores)]
        return Generation(value, self.unit, picks, note, 0, len(fits), 0,
                          time.perf_counter() - start, margin)

    def margin(self, level: float | None = DEFAULT_LEVEL) -> BudgetMargin | None:
        """The cost's budget margin at ``level`` (:func:`nas.margin.cost_margin`),
        computed once per level; ``None`` for ``level=None`` or a cost that is
        not a prediction."""
        if level is None:
            return None
        cache = self.__dict__.setdefault("_margins", {})
        if level not in cache:
            cache[level] = cost_margin(self.cost, level)
        return cache[level]

    def margin_factor(self, level: float | None = DEFAULT_LEVEL) -> float:
        """What a predicted cost is multiplied by before it meets a budget: the
        margin's factor at ``level``, 1 without a margin."""
        margin = self.margin(level)
        return 1.0 if margin is None else margin.factor

    def search(self, budget: Budget | float | str, n: int = 1, *, candidates: int | None = None,
               rerank: int | None = None, archive: bool | None = None,
               seed: int = 0, margin_level: float | None = DEFAULT_LEVEL) -> Generation:
        """A fresh search for one budget with the trained generator and evaluator.

        Samples ``candidates`` architectures for the budget (half at
        temperature 1, half hotter, plus the greedy one), keeps those that fit
        (their cost times the margin at ``margin_level``, as in :meth:`generate`),
        orders them by R, queries the accuracy source on the ``rerank`` best
        and returns the most accurate, also considering queried architectures
        that fit when ``archive``. With ``rerank=0, archive=False`` the choice
        is R's alone: what the generator itself has learned. Unlike
        :meth:`generate`, the answer depends on the seed and on what earlier
        searches queried. Raises ``LatkitError`` like :meth:`generate`.
        """
        if not hasattr(self, "generator_"):
            raise RuntimeError("PNAG.search needs a fitted or loaded model")
        with one_torch_thread():
            return self._search(budget, n, candidates, rerank, archive, seed, margin_level)

    def _search(self, budget: Budget | float | str, n: int, candidates: int | None,
                rerank: int | None, archive: bool | None, seed: int,
                margin_level: float | None) -> Generation:
        start = time.perf_counter()
        s = self.settings
        candidates = s.candidates if candidates is None else candidates
        rerank = s.rerank if rerank is None else rerank
        archive = s.archive if archive is None else archive
        margin, factor = self.margin(margin_level), self.margin_factor(margin_level)
        value, note = self.feasible_.check(budget, factor)
        limit = value / factor
        queries_before = self.lookups.accuracy_queries
        rng = torch.Generator().manual_seed(seed)
        pool: dict[Any, float] = {}
        for attempt in range(3):  # hotter each time nothing sampled fits
            archs = self._sample(limit, candidates, rng, 0.5 * attempt, greedy=attempt == 0)
            costs = self.lookups.cost_many(archs)
            pool.update({a: c for a, c in zip(archs, costs) if c <= limit})
            if pool:
                break
        n_sampled = len(archs)
        fallback_cost = self.lookups.cost_many([self.fallback_])[0]
        if not pool and fallback_cost <= limit:
            pool[self.fallback_] = fallback_cost
        known: dict[Any, float] = {}
        if archive:
            for arch, acc, cost in self.archive_:
                if cost <= limit:
                    pool.setdefault(arch, cost)
                    known[arch] = acc
        if not pool:
            kept = "" if margin is None else f" divided by its margin (x{margin.factor:.3f})"
            raise LatkitError(
                f"no architecture under {budget}{kept} was found; the feasible range is "
                f"{self.feasible_.describe()}")
        ranked = list(pool)
        scores = self.score(ranked, np.full(len(ranked), value))
        order = np.argsort(-scores, kind="stable")
        score_of = {ranked[i]: float(scores[i]) for i in range(len(ranked))}
        fresh = [ranked[i] for i in order if ranked[i] not in known
                 and self.lookups.known_accuracy(ranked[i])]
        queried = fresh[:max(rerank, n)]
        for arch, v in zip(queried, self.lookups.score_many(queried)):
            known[arch] = float(v)
        if rerank > 0 or archive:
            chosen = sorted(known, key=lambda a: (-known[a], -score_of[a]))[:n]
        else:
            chosen = queried[:n]
        if not chosen:  # the accuracy table holds none of them: R's choice, value unknown
            chosen = [ranked[i] for i in order[:n]]
        picks = [Pick(a, float(pool[a]), known.get(a, float("nan")), score_of[a],
                      "generator" if a in queried else "archive") for a in chosen]
        return Generation(value, self.unit, picks, note, n_sampled, len(pool),
                          self.lookups.accuracy_queries - queries_before, time.perf_counter() - start,
                          margin)

    def describe_budget(self, value: float) -> str:
        return format_cost(value, self.unit)
