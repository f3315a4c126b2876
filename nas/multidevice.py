"""One generator for many devices: PNAG conditioned on (budget, device embedding).

A device is described to the networks by its *embedding*: its log-latencies
on R reference architectures (chosen by :func:`latency_kit.predict.transfer.select_references`
over the training devices), centred, plus their mean level. A new device
needs only those R measurements, no retraining:

* its embedding conditions the generator and the evaluator;
* the few-shot transfer of :mod:`latency_kit.predict.transfer`, fitted on the same R
  measurements with the training devices as sources, predicts its latency
  for any architecture. Generation keeps only candidates whose predicted
  latency times a margin factor fits the budget. The factor is a
  split-conformal bound (:mod:`nas.margin`) on the transfer's errors, taken
  over the training devices, each predicted from the others and its own
  noisy reference measurements; its coverage is measured on held-out
  devices and reported with each answer.

Training, over the training devices, whose full cost tables are known:

1. pick the references; for each training device build the same few-shot
   cost model a new device would get, from the *other* training devices
   (leave one device out), so training sees the prediction error that test
   time will see; calibrate the margin the same way, with reference
   measurement noise (``reference_noise``, log-sd, 5% by default);
2. query accuracy on a random share of M architectures (the archive);
3. fit the evaluator R(alpha | B, device) with the PNAG ranking loss, labels
   from the devices' true costs; its architecture input includes the
   device's predicted latency of alpha on the budget's log scale;
4. active rounds, as single-device PNAG: the rest of M goes to the
   architectures R rates best near the fronts of training devices (a
   random subset of devices each round, on their true costs), R refitted
   after each round;
5. fit the generator by REINFORCE over (device, budget) tasks with the true
   costs of the training devices;
6. the front sweep of single-device PNAG on each training device's true
   costs (``front_budgets`` shared out over the devices).

Answers (:meth:`MultiDevicePNAG.generate`) come from the known front: the most
accurate queried architecture whose predicted latency on the device, times
the margin, fits the budget, so a larger budget never gets a worse answer;
:meth:`MultiDevicePNAG.search` samples the generator afresh.

Typical use::

    model = MultiDevicePNAG(space, accuracy, {"pixel3": cost1, ...}).fit()
    refs = model.references_                       # measure these on the new device
    device = model.device("phone-x", measured_ms)  # no retraining
    answer = model.generate(device, "20ms")
    answer.best, answer.describe()   # 'predicted 18.1 ms, margin 1.6 ms, covers 99.2% of held-out cases'
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import torch

from latency_kit.errors import LatkitError
from latency_kit.predict.heldout import HeldOutErrors, transfer_errors
from latency_kit.predict.heldout import error_scale as log_error_scale
from latency_kit.predict.transfer import (SAMPLED_POOL, FewShotTransfer, SourceScale, candidate_pool,
                                 log_ms, select_references)
from latency_kit.units import Budget

from nas.budget import BudgetContext, FeasibleRange
from nas.evaluator import Evaluator, ranking_loss
from nas.generator import Generator, fit_generator
from nas.margin import fit_margin
from nas.pnag import (INFEASIBLE_FLOOR, PNAG, Generation, Pick, Settings, cached_features,
                      stored_networks)
from nas.sources.base import AccuracySource, CostSource, held_archs

Progress = Callable[[str, int, int], None]


@dataclass
class DeviceModel:
    """What the multi-device generator knows of one device."""

    name: str
    embedding: np.ndarray                      # length R + 1
    predict: Callable[[Sequence[Any]], np.ndarray]
    feasible: FeasibleRange
    log_error: float                           # leave-one-out RMSE of the transfer (log ms)

    def context(self, budgets: np.ndarray) -> np.ndarray:
        return BudgetContext(self.feasible, self.embedding)(budgets)

    def position(self, costs: np.ndarray) -> np.ndarray:
        return BudgetContext(self.feasible).position(costs)


def error_scale(device: DeviceModel) -> float:
    """A device's unit of prediction error (log ms): its few-shot model's
    leave-one-out RMSE, at least :data:`~latency_kit.predict.heldout.LOG_ERROR_FLOOR`."""
    return log_error_scale(device.log_error)


def embedding_of(reference_ms: Sequence[float]) -> np.ndarray:
    """Centred log-latencies on the references, followed by their mean level."""
    logs = log_ms(reference_ms)
    return np.r_[logs - logs.mean(), logs.mean() / 5.0].astype(np.float32)


def _range(costs: np.ndarray) -> FeasibleRange:
    costs = costs[np.isfinite(costs) & (costs > 0)]
    quantiles = np.quantile(costs, np.linspace(0, 1, 101)).tolist()
    return FeasibleRange(float(costs.min()), float(costs.max()), "ms", quantiles)


class PredictedCost(CostSource):
    """A device's few-shot predicted latency as a cost source (ms), with the
    held-out errors of the transfer behind it where known (``errors``:
    :meth:`MultiDevicePNAG.cost` gives the model's calibration, in units of
    this device's own error), so a PNAG on it keeps a margin."""

    unit = "ms"

    def __init__(self, space: Any, device: DeviceModel, errors: HeldOutErrors | None = None):
        super().__init__(space)
        self.device = device
        self.errors = errors

    def held_out_errors(self) -> HeldOutErrors | None:
        return self.errors

    def cost_many(self, archs: Sequence[Any]) -> np.ndarray:
        return np.asarray(self.device.predict(list(archs)), dtype=float)

    def identity(self) -> str:
        return f"fewshot:{self.device.name}#{hash(self.device.embedding.tobytes()) & 0xffffffff:08x}"


class MultiDevicePNAG:
    """A PNAG generator and evaluator shared by several devices (see module docs)."""

    def __init__(self, space: Any, accuracy: AccuracySource, costs: Mapping[str, CostSource],
                 settings: Settings | None = None, shots: int = 10, safety: float | None = None,
                 pool_size: int = SAMPLED_POOL, margin_level: float = 0.99,
                 reference_noise: float = 0.05, noise_draws: int = 3):
        if len(costs) < 2:
            raise LatkitError("a multi-device generator needs at least 2 training devices")
        for name, cost in costs.items():
            if cost.unit != "ms":
                raise LatkitError(f"device {name!r}: multi-device generation needs latency in ms, "
                                  f"not {cost.unit}")
        self.space, self.accuracy, self.costs = space, accuracy, dict(costs)
        self.settings = settings or Settings()
        self.shots, self.safety, self.pool_size = shots, safety, pool_size
        self.margin_level, self.reference_noise = margin_level, reference_noise
        self.noise_draws = noise_draws
        self._features: dict[Any, np.ndarray] = {}

    # -- pieces ----------------------------------------------------------------
    def features(self, archs: Sequence[Any]) -> np.ndarray:
        return cached_features(self.space, self._features, archs)

    def _pool(self) -> list[Any]:
        held = [held_archs(c) for c in self.costs.values()]
        if all(h is not None for h in held):
            first = next(iter(self.costs.values())).archs()
            common = set.intersection(*held)
            return [a for a in first if a in common]
        return candidate_pool(self.space, sample=self.pool_size, seed=self.settings.seed)

    def _source_ms(self, names: Sequence[str], archs: Sequence[Any]) -> np.ndarray:
        return np.stack([np.asarray(self.costs[n].cost_many(list(archs)), dtype=float)
                         for n in names], axis=1)

    def _transfer(self, name: str, sources: list[str], reference_ms: np.ndarray,
                  measured: Sequence[Any] | None = None) -> DeviceModel:
        """Few-shot device model of ``name`` from its latencies on the references,
        or on the architectures ``measured`` (then the embedding is the model's
        prediction at the references)."""
        cols = [self.sources_.index(s) for s in sources]
        scale = SourceScale.fit(self.pool_ms_[:, cols])
        if measured is None:
            at, feats = self.pool_ms_[self.ref_idx_][:, cols], self.pool_feats_[self.ref_idx_]
        else:
            at, feats = self._source_ms(sources, measured), self.features(measured)
        model = FewShotTransfer().fit(scale.transform(at), reference_ms, feats)

        def predict(archs: Sequence[Any]) -> np.ndarray:
            archs = list(archs)
            return model.predict(scale.transform(self._source_ms(sources, archs)),
                                 self.features(archs))

        pool_pred = model.predict(scale.transform(self.pool_ms_[:, cols]), self.pool_feats_)
        embedding = embedding_of(reference_ms if measured is None else pool_pred[self.ref_idx_])
        return DeviceModel(name, embedding, predict, _range(pool_pred), model.loo_rmse_log_)

    def device(self, name: str, reference_ms: Sequence[float] | Mapping[Any, float]) -> DeviceModel:
        """The model of a new device from its latencies on :attr:`references_`.

        ``reference_ms`` is a list in the order of ``references_`` or a mapping
        {architecture or string: ms} that covers every reference.
        """
        if isinstance(reference_ms, Mapping):
            given = self._by_arch(reference_ms)
            missing = [self.space.format(a) for a in self.references_ if a not in given]
            if missing:
                raise LatkitError(f"device {name!r} lacks measurements of {len(missing)} reference "
                                  f"architectures, e.g. {missing[0]}")
            values = [given[a] for a in self.references_]
        else:
            values = [float(v) for v in reference_ms]
        if len(values) != len(self.references_):
            raise LatkitError(f"device {name!r} needs {len(self.references_)} reference "
                              f"measurements, got {len(values)}")
        return self._transfer(name, list(self.sources_), np.asarray(values, dtype=float))

    def _by_arch(self, measured: Mapping[Any, float]) -> dict[Any, float]:
        """{architecture: ms} from keys that are architectures or their strings."""
        return {self.space.parse(k) if isinstance(k, str) else k: float(v)
                for k, v in measured.items()}

    def device_from(self, name: str, measured: Mapping[Any, float]) -> DeviceModel:
        """A new device from its ms on any architectures, such as a few-shot
        profile's measurements (:meth:`device_from_profile`): where they cover
        :attr:`references_` this is :meth:`device`; otherwise the few-shot
        model is fitted on the measured architectures, and the device's
        embedding is its prediction at the references. The margin is the
        model's, in units of this fit's leave-one-out error. Raises
        ``LatkitError`` with fewer than 3 measurements or a non-positive one."""
        given = self._by_arch(measured)
        if all(a in given for a in self.references_):
            return self.device(name, given)
        if len(given) < 3:
            raise LatkitError(f"device {name!r} needs at least 3 measurements, got {len(given)}")
        ms = np.array(list(given.values()), dtype=float)
        if not np.all(np.isfinite(ms) & (ms > 0)):
            raise LatkitError(f"device {name!r}: every measurement must be a positive ms")
        return self._transfer(name, list(self.sources_), ms, list(given))

    def device_from_profile(self, profile: Any) -> DeviceModel:
        """A new device from a few-shot profile (``latkit profile --few-shot``,
        :class:`latency_kit.profiles.fewshot.FewShotProfile`): its measured
        architectures and ms (:meth:`device_from`). Raises ``LatkitError`` for
        a profile of another space or one without measurements."""
        if str(profile.meta.get("space")) != self.space.name:
            raise LatkitError(f"profile {profile.name!r} is for space {profile.meta.get('space')}, "
                              f"not {self.space.name}")
        rows = getattr(profile, "measurements", None)
        if not rows:
            raise LatkitError(f"profile {profile.name!r} holds no whole-network measurements; "
                              "give a few-shot profile")
        return self.device_from(profile.name, {r["arch"]: r["value_ms"] for r in rows})

    def _arch_input(self, device: DeviceModel, archs: Sequence[Any], feats: np.ndarray) -> np.ndarray:
        u = device.position(device.predict(archs))[:, None].astype(np.float32)
        return np.concatenate([feats, 2 * u - 1], axis=1)

    # -- training --------------------------------------------------------------
    def fit(self, progress: Progress | None = None) -> "MultiDevicePNAG":
        s = self.settings
        tick = progress or (lambda stage, done, total: None)
        rng = np.random.default_rng(s.seed)
        torch.manual_seed(s.seed)
        started = time.perf_counter()
        pool = self._prepare()
        tick("devices", 1, 1)
        # archive: part of M at random, the rest in active rounds near the devices' fronts
        held = held_archs(self.accuracy)
        candidates = [i for i, a in enumerate(pool) if held is None or a in held]
        if not candidates:
            raise LatkitError("the accuracy source holds none of the devices' architectures")
        n_seed = s.archs if s.rounds <= 0 else max(10, int(round(s.archs * s.seed_share)))
        pick = rng.choice(candidates, size=min(n_seed, len(candidates)), replace=False)
        self.archive_ = []
        self._query([pool[i] for i in pick])
        self._fit_evaluator(rng, tick)
        left = s.archs - len(self.archive_)
        for r in range(max(s.rounds, 0)):
            proposed = self._propose(left // (s.rounds - r), rng)
            if not proposed:
                break
            left -= len(proposed)
            self._query(proposed)
            self._fit_evaluator(rng, tick)
        self._fit_generator(rng, tick)
        self._sweep_fronts(rng, tick)
        self.seconds_ = time.perf_counter() - started
        return self

    def _prepare(self) -> list[Any]:
        """Step 1 of :meth:`fit`, from the training devices' costs alone (no
        accuracy query, no network): the pool, the references, each device's
        few-shot model from the others, and the calibrated margin. Deterministic
        for the settings' seed, so a stored model rebuilds it on load
        (:meth:`from_state`). Returns the pool."""
        self.sources_ = list(self.costs)
        pool = self._pool()
        self.pool_ms_ = self._source_ms(self.sources_, pool)
        self.pool_feats_ = self.features(pool)
        z = SourceScale.fit(self.pool_ms_).transform(self.pool_ms_)
        live = np.array([i for i, a in enumerate(pool) if not self.space.is_degenerate(a)])
        self.ref_idx_ = [int(live[i]) for i in select_references(z[live], self.pool_feats_[live],
                                                                   self.shots)]
        self.references_ = [pool[i] for i in self.ref_idx_]
        self.train_devices_ = {
            name: self._transfer(name, [n for n in self.sources_ if n != name],
                                 self.pool_ms_[self.ref_idx_, k])
            for k, name in enumerate(self.sources_)}
        self.true_ranges_ = {name: _range(self.pool_ms_[:, k]) for k, name in enumerate(self.sources_)}
        self._calibrate()
        return pool

    # -- a stored model ----------------------------------------------------------
    def to_state(self) -> dict[str, Any]:
        """The fitted model as JSON-able fields (:mod:`nas.multistore` writes them
        to ``meta.json``): the constructor's settings, the training devices'
        cost identities, the references and the archive (architecture, accuracy
        value). The two networks' weights are ``evaluator_`` and
        ``generator_``'s state dicts. What follows from the devices' costs
        (pool, few-shot models, margin) is rebuilt on load, not stored."""
        space = self.space
        return {
            "space": space.name,
            "space_repr": repr(space),
            "accuracy": self.accuracy.identity(),
            "devices": {name: cost.identity() for name, cost in self.costs.items()},
            "settings": asdict(self.settings),
            "options": {"shots": self.shots, "safety": self.safety, "pool_size": self.pool_size,
                        "margin_level": self.margin_level,
                        "reference_noise": self.reference_noise, "noise_draws": self.noise_draws},
            "references": [space.format(a) for a in self.references_],
            "archive": [[space.format(a), v] for a, v in self.archive_],
            "evaluator": self.evaluator_.config,
            "generator": self.generator_.config,
            "score": [self.score_mean_, self.score_std_],
            "seconds": self.seconds_,
        }

    @classmethod
    def from_state(cls, space: Any, accuracy: AccuracySource, costs: Mapping[str, CostSource],
                   state: dict[str, Any], evaluator_weights: dict[str, Any],
                   generator_weights: dict[str, Any]) -> "MultiDevicePNAG":
        """A fitted model from :meth:`to_state`'s fields and the networks' state
        dicts, for these sources (the caller checked their identities). The
        device side is rebuilt from ``costs`` (:meth:`_prepare`); no accuracy
        is queried. Raises ``LatkitError`` when the devices are not the ones
        trained on, in the same order, or their costs now pick other
        reference architectures."""
        names = list(state["devices"])
        if list(costs) != names:
            raise LatkitError(f"the model was trained on devices {', '.join(names)} (in that "
                              f"order), not {', '.join(costs)}")
        model = cls(space, accuracy, costs, Settings(**state["settings"]), **state["options"])
        model._prepare()
        if [space.format(a) for a in model.references_] != state["references"]:
            raise LatkitError("the training devices' costs now choose other reference "
                              "architectures than the stored model's; retrain it")
        model.archive_ = [(space.parse(a), float(v)) for a, v in state["archive"]]
        model.archive_true_ms_ = model._source_ms(model.sources_, [a for a, _ in model.archive_])
        model.evaluator_, model.generator_ = stored_networks(state, evaluator_weights,
                                                            generator_weights)
        model.score_mean_, model.score_std_ = (float(x) for x in state["score"])
        model.seconds_ = float(state["seconds"])
        return model

    def _query(self, archs: Sequence[Any]) -> None:
        """Query accuracy on ``archs`` (new ones only) and add them to the archive,
        with their true latency on every training device."""
        known = {a for a, _ in self.archive_}
        archs = [a for a in dict.fromkeys(archs) if a not in known]
        if not archs:
            return
        values = np.asarray(self.accuracy.score_many(archs), dtype=float)
        self.archive_ += list(zip(archs, values.tolist()))
        self.archive_true_ms_ = self._source_ms(self.sources_, [a for a, _ in self.archive_])

    def _train_view(self, name: str, settings: Settings | None = None) -> "_DeviceView":
        """The shared model as a single-device PNAG for training device ``name``,
        on its true costs (what its active rounds and front sweep search)."""
        return _DeviceView(self, self.train_devices_[name], self.costs[name],
                           self.true_ranges_[name], settings)

    def _propose(self, count: int, rng: np.random.Generator) -> list[Any]:
        """An active round (:meth:`nas.pnag.PNAG._propose`) shared out over the
        training devices: each of a random subset proposes the architectures R
        rates best near its own front, on its true costs."""
        names = list(rng.permutation(self.sources_))[:max(1, min(count, len(self.sources_)))]
        share = np.full(len(names), count // len(names))
        share[:count % len(names)] += 1
        chosen: dict[Any, None] = {}
        for name, take in zip(names, share):
            if take:
                chosen.update(dict.fromkeys(self._train_view(name)._propose(int(take), rng)))
        return list(chosen)

    def _sweep_fronts(self, rng: np.random.Generator, tick: Progress) -> None:
        """The front sweep (:meth:`nas.pnag.PNAG._sweep_front`) on each training
        device's true costs, its ``front_budgets`` shared out over the devices:
        queries where each device's optimum lies, so the archive answers any
        device, budget by budget, from a known front."""
        s = self.settings
        if s.front_budgets <= 0:
            return
        per_device = replace(s, front_budgets=max(2, s.front_budgets // len(self.sources_)))
        for k, name in enumerate(self.sources_):
            view = self._train_view(name, per_device)
            view._sweep_front(rng, lambda *a: None)
            self._query([a for a, v, _ in view.archive_ if np.isfinite(v)])
            tick("front", k + 1, len(self.sources_))

    def _calibrate(self) -> None:
        """The conformal margin (:mod:`nas.margin`): for each training device, the
        few-shot model it would get from the *other* devices and its reference
        latencies, each times ``exp(N(0, reference_noise))`` (measurement noise
        across processes), ``noise_draws`` times
        (:func:`latency_kit.predict.heldout.transfer_errors`). Residuals are log
        true - log predicted over the pool (references excluded), divided by
        that model's leave-one-out error (:func:`error_scale`): the bound is in
        units of a device's own error, so a well predicted device gets a small
        margin."""
        keep = np.ones(len(self.pool_ms_), dtype=bool)
        keep[self.ref_idx_] = False
        errors = transfer_errors(self.sources_, self.pool_ms_[self.ref_idx_],
                                 self.pool_feats_[self.ref_idx_], self.pool_ms_, self.pool_feats_,
                                 0.0, keep=keep, noise=self.reference_noise,
                                 draws=self.noise_draws, seed=self.settings.seed + 7919)
        if errors is None:
            raise LatkitError("a measured margin needs at least 2 training devices")
        self.margin_ = fit_margin(errors.groups, self.margin_level)
        self.calibration_errors_ = errors
        self.calibration_residuals_ = np.sort(np.concatenate(list(errors.groups.values())))

    def cost(self, device: DeviceModel) -> PredictedCost:
        """``device``'s predicted latency as a cost source for a single-device
        PNAG, carrying the calibration's held-out errors in units of this
        device's own leave-one-out error (what :meth:`generate`'s margin uses)."""
        return PredictedCost(self.space, device,
                             replace(self.calibration_errors_, scale=error_scale(device)))

    def coverage_at(self, bound: float) -> float:
        """Share of held-out calibration cases (normalised residuals, see
        :meth:`_calibrate`) at most ``bound``: the coverage of ``safety=bound``."""
        r = self.calibration_residuals_
        return float(np.searchsorted(r, bound, side="right") / len(r))

    def _fit_evaluator(self, rng: np.random.Generator, tick: Progress) -> None:
        """(Re)fit R on the whole archive, labels from the training devices' true costs."""
        s = self.settings
        archive = [a for a, _ in self.archive_]
        acc = np.array([v for _, v in self.archive_], dtype=float)
        feats = self.features(archive)
        inputs = {n: torch.as_tensor(self._arch_input(d, archive, feats))
                  for n, d in self.train_devices_.items()}
        acc_t = torch.as_tensor(acc, dtype=torch.float32)
        some = next(iter(self.train_devices_.values()))
        self.evaluator_ = Evaluator(feats.shape[1] + 1, some.context(np.ones(1)).shape[1],
                                    s.eval_hidden, s.eval_layers)
        opt = torch.optim.Adam(self.evaluator_.parameters(), lr=1e-3, weight_decay=1e-5)
        names = list(self.train_devices_)
        per_step = min(4, len(names))
        for step in range(s.eval_steps):
            loss = 0.0
            for name in rng.choice(names, size=per_step, replace=False):
                k = self.sources_.index(name)
                budgets = self.true_ranges_[name].sample(rng, 4)
                ctx = torch.as_tensor(self.train_devices_[name].context(budgets))
                idx = rng.choice(len(archive), size=min(256, len(archive)), replace=False)
                scores = self.evaluator_.grid(inputs[name][idx], ctx)
                cost = torch.as_tensor(self.archive_true_ms_[idx, k], dtype=torch.float32)
                loss = loss + ranking_loss(scores, acc_t[idx], cost,
                                           torch.as_tensor(budgets, dtype=torch.float32), s.loss)
            opt.zero_grad()
            loss.backward()
            opt.step()
            tick("evaluator", step + 1, s.eval_steps)
        self.evaluator_.eval()
        # score normalisation for the generator's reward (feasible archive pairs)
        with torch.no_grad():
            vals = []
            for name, device in self.train_devices_.items():
                k = self.sources_.index(name)
                budgets = self.true_ranges_[name].spread(8)
                grid = self.evaluator_.grid(inputs[name], torch.as_tensor(device.context(budgets))).numpy()
                vals.append(grid[self.archive_true_ms_[:, k][None, :] <= budgets[:, None]])
            ref = np.concatenate(vals)
        self.score_mean_, self.score_std_ = float(ref.mean()), float(ref.std() or 1.0)

    def score(self, device: DeviceModel, archs: Sequence[Any], budgets: np.ndarray) -> np.ndarray:
        """R(alpha | B, device) for paired architectures and budgets."""
        with torch.no_grad():
            x = torch.as_tensor(self._arch_input(device, archs, self.features(archs)))
            return self.evaluator_(x, torch.as_tensor(device.context(np.asarray(budgets, float)))).numpy()

    def _fit_generator(self, rng: np.random.Generator, tick: Progress) -> None:
        s = self.settings
        names = list(self.train_devices_)
        tasks: list[tuple[str, float]] = []
        some = next(iter(self.train_devices_.values()))
        self.generator_ = Generator([len(d.choices) for d in self.space.decisions()],
                                    some.context(np.ones(1)).shape[1], s.gen_hidden)

        def sample_tasks(r: np.random.Generator, n: int) -> np.ndarray:
            start = len(tasks)
            for name in r.choice(names, size=n):
                tasks.append((str(name), float(self.true_ranges_[name].sample(r, 1)[0])))
            return np.arange(start, start + n, dtype=float)

        def context(ids: np.ndarray) -> np.ndarray:
            keys = np.array([tasks[int(i)][0] for i in ids])
            budgets = np.array([tasks[int(i)][1] for i in ids])
            out = np.empty((len(ids), self.generator_.config["context_dim"]), dtype=np.float32)
            for name in dict.fromkeys(keys.tolist()):
                rows = np.flatnonzero(keys == name)
                out[rows] = self.train_devices_[name].context(budgets[rows])
            return out

        def reward(indices: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            archs = [self.space.decode(list(row)) for row in indices.tolist()]
            out, fits = np.empty(len(archs)), np.zeros(len(archs), dtype=bool)
            keys = np.array([tasks[int(i)][0] for i in ids])
            budgets = np.array([tasks[int(i)][1] for i in ids])
            for name in dict.fromkeys(keys.tolist()):
                rows = np.flatnonzero(keys == name)
                sub = [archs[i] for i in rows]
                costs = np.asarray(self.costs[name].cost_many(sub), dtype=float)
                b = budgets[rows]
                z = (self.score(self.train_devices_[name], sub, b) - self.score_mean_) / self.score_std_
                over = np.log(np.minimum(costs, 1e30) / b)
                ok = costs <= b
                out[rows] = np.where(ok, np.clip(z, -3, 3),
                                     INFEASIBLE_FLOOR - 4.0 * np.clip(over, 0, 2))
                fits[rows] = ok
            return out, fits

        self.gen_fit_ = fit_generator(
            self.generator_, reward, sample_tasks, context, steps=s.gen_steps,
            budgets_per_step=s.gen_budgets, samples_per_budget=s.gen_samples, lr=s.gen_lr,
            entropy=s.entropy, seed=s.seed, progress=lambda d, t: tick("generator", d, t))

    # -- generation ------------------------------------------------------------
    def _factor(self, device: DeviceModel,
                safety: float | None) -> tuple[float, float, float | None]:
        """The margin factor for ``device``, its measured coverage and its
        conformal level (``None`` for a ``safety`` multiple)."""
        safety = self.safety if safety is None else safety
        if safety is None:
            return (self.margin_.factor(error_scale(device)), self.margin_.coverage,
                    self.margin_.level)
        return math.exp(max(safety, 0.0) * error_scale(device)), self.coverage_at(safety), None

    def generate(self, device: DeviceModel, budget: Budget | float | str, n: int = 1, *,
                 safety: float | None = None) -> "DeviceGeneration":
        """The answer from the known front: the ``n`` most accurate queried
        architectures whose *predicted* latency (ms) on ``device``, times the
        margin factor, is at most ``budget`` (ties to the cheaper).

        As with :meth:`nas.pnag.PNAG.generate`, the answer depends on the model,
        the device and the budget alone and is never worse for a larger budget.
        The factor is the conformal margin :attr:`margin_` when ``safety`` is
        ``None`` (and the model's ``safety`` is too), else
        ``exp(safety * log_error)`` (``safety=0`` trusts the prediction). Picks'
        ``cost`` is the predicted ms without the margin; the answer reports the
        margin and its measured coverage (:meth:`DeviceGeneration.describe`).
        Raises ``LatkitError`` for a budget below the device's range or one
        that no queried architecture fits with the margin.
        """
        if not hasattr(self, "generator_"):
            raise RuntimeError("MultiDevicePNAG.generate needs a fitted model")
        start = time.perf_counter()
        factor, coverage, level = self._factor(device, safety)
        value, note = device.feasible.check(budget)
        archs = [a for a, _ in self.archive_]
        values = np.array([v for _, v in self.archive_], dtype=float)
        predicted = np.asarray(device.predict(archs), dtype=float)
        fits = np.flatnonzero((predicted * factor <= value) & np.isfinite(values))
        if not len(fits):
            raise self._nothing_fits(device, budget, factor, coverage)
        order = sorted(fits, key=lambda i: (-values[i], predicted[i], i))[:n]
        chosen = [archs[i] for i in order]
        scores = self.score(device, chosen, np.full(len(chosen), value))
        picks = [Pick(archs[i], float(predicted[i]), float(values[i]), float(r), "front")
                 for i, r in zip(order, scores)]
        return DeviceGeneration(value, "ms", picks, note, 0, len(fits), 0,
                                time.perf_counter() - start, factor=factor,
                                coverage=coverage, level=level)

    def generate_all(self, devices: Sequence[DeviceModel], budgets: Sequence[Any], *,
                     safety: float | None = None) -> tuple[Pick, dict[str, float]]:
        """One network for several devices: the most accurate queried architecture
        whose predicted latency on every device, times that device's margin
        factor (as in :meth:`generate`), is within that device's budget.

        Returns the pick (its ``cost`` the largest predicted ms over the
        devices) and the predicted ms per device name. Never worse when any
        budget grows. Raises ``LatkitError`` for a budget below a device's
        range or when no queried architecture fits every device.
        """
        if len(devices) != len(budgets) or not devices:
            raise ValueError("generate_all needs one budget per device")
        archs = [a for a, _ in self.archive_]
        values = np.array([v for _, v in self.archive_], dtype=float)
        ok = np.isfinite(values)
        predicted = {}
        for device, budget in zip(devices, budgets):
            value, _ = device.feasible.check(budget)
            predicted[device.name] = np.asarray(device.predict(archs), dtype=float)
            ok &= predicted[device.name] * self._factor(device, safety)[0] <= value
        if not ok.any():
            raise LatkitError("no queried architecture is predicted to fit every device under its "
                              "budget with the margins; raise the budgets")
        i = min(np.flatnonzero(ok), key=lambda j: (-values[j], max(p[j] for p in predicted.values()), j))
        costs = {name: float(p[i]) for name, p in predicted.items()}
        return Pick(archs[i], max(costs.values()), float(values[i]), float("nan"), "front"), costs

    def search(self, device: DeviceModel, budget: Budget | float | str, n: int = 1, *,
               safety: float | None = None, **options: Any) -> "DeviceGeneration":
        """A fresh search with the generator for ``device`` (see
        :meth:`nas.pnag.PNAG.search`: candidates, rerank, archive, seed), under
        the same margin as :meth:`generate`. Unlike :meth:`generate`, the answer
        depends on the seed and on what earlier searches queried."""
        if not hasattr(self, "generator_"):
            raise RuntimeError("MultiDevicePNAG.search needs a fitted model")
        factor, coverage, level = self._factor(device, safety)
        view = _DeviceView(self, device, _MarginCost(self.space, device, factor), device.feasible)
        try:
            result = view.search(budget, n, **{**options, "margin_level": None})  # cost has it
        except LatkitError as exc:
            if factor <= 1.0 or not str(exc).startswith("no architecture under"):
                raise
            raise self._nothing_fits(device, budget, factor, coverage) from None
        for pick in result.picks:
            pick.cost /= factor
        base = {f.name: getattr(result, f.name) for f in fields(Generation)}
        return DeviceGeneration(**base, factor=factor, coverage=coverage, level=level)

    def _nothing_fits(self, device: DeviceModel, budget: Any, factor: float,
                      coverage: float) -> LatkitError:
        margin = (f" with the margin (predictions times {factor:.3f}, covering "
                  f"{100 * coverage:.1f}% of held-out cases); raise the budget or "
                  "pass safety=0 to trust the prediction") if factor > 1.0 else "; raise the budget"
        return LatkitError(f"no architecture of device {device.name!r} is predicted under "
                           f"{budget}{margin} (feasible range {device.feasible.describe()})")


@dataclass
class DeviceGeneration(Generation):
    """A multi-device answer with its margin: each pick's ``cost`` is the predicted
    ms, ``factor`` what the prediction was multiplied by to fit the budget,
    ``coverage`` the share of held-out calibration cases whose true latency
    that factor covers, ``level`` the conformal target (``None`` for a
    ``safety`` multiple)."""

    factor: float = 1.0
    coverage: float = float("nan")
    level: float | None = None

    def margin_ms(self, rank: int = 0) -> float:
        """The headroom (ms) kept for the ``rank``-th pick."""
        return self.picks[rank].cost * (self.factor - 1.0)

    def describe(self, rank: int = 0) -> str:
        """``predicted X ms, margin Y ms, covers Z% of held-out cases``."""
        return (f"predicted {self.picks[rank].cost:.4g} ms, margin {self.margin_ms(rank):.3g} ms, "
                f"covers {100 * self.coverage:.1f}% of held-out cases")

    def margin_json(self, rank: int = 0) -> dict[str, Any]:
        """The margin fields of an answer: ``predicted_ms``, ``margin_ms``,
        ``margin_factor``, ``coverage`` (0-1) and ``coverage_target``."""
        return {"predicted_ms": round(self.picks[rank].cost, 4),
                "margin_ms": round(self.margin_ms(rank), 4),
                "margin_factor": round(self.factor, 4), "coverage": round(self.coverage, 4),
                "coverage_target": self.level}


class _MarginCost(PredictedCost):
    """Predicted latency times a safety margin: what must fit the budget."""

    def __init__(self, space: Any, device: DeviceModel, margin: float):
        super().__init__(space, device)
        self.margin = margin

    def cost_many(self, archs: Sequence[Any]) -> np.ndarray:
        return super().cost_many(archs) * self.margin


class _DeviceView(PNAG):
    """The shared model seen as a fitted single-device PNAG for ``device``, with
    ``cost`` (a training device's true cost, or a prediction with a margin)
    over ``feasible``; its archive is the shared archive at that cost."""

    def __init__(self, model: MultiDevicePNAG, device: DeviceModel, cost: CostSource,
                 feasible: FeasibleRange, settings: Settings | None = None):
        super().__init__(model.space, cost, model.accuracy, settings or model.settings)
        self.model, self.device = model, device
        self.evaluator_ = model.evaluator_
        if hasattr(model, "generator_"):
            self.generator_ = model.generator_
        self.context_, self.feasible_ = device.context, feasible
        listed = [a for a, _ in model.archive_]
        costs = self.lookups.cost_many(listed)
        self.archive_ = [(a, acc, float(c)) for (a, acc), c in zip(model.archive_, costs)]
        self.fallback_ = listed[int(np.argmin(costs))]

    def features(self, archs: Sequence[Any]) -> np.ndarray:
        return self.model._arch_input(self.device, archs, self.model.features(archs))
