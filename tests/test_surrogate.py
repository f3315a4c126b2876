"""The front sweep's surrogates: one shared suite for every ``nas.surrogate.Surrogate``.

On the ``nb201`` space with the synthetic tables of ``test_nas_pnag`` (an
accuracy that is a sum over the cell's edges plus one interaction), so a
surrogate fitted on a few hundred networks must rank the rest well.
"""

from __future__ import annotations

import numpy as np
import pytest

from nas.pnag import PNAG, settings_from
from nas.surrogate import GaussianProcessUCB, KernelRidgeSurrogate, SourceSurrogate, Surrogate
from tests.test_nas_pnag import synthetic_tables


@pytest.fixture(scope="module")
def tables():
    space, archs, _, cost, acc = synthetic_tables()
    return space, archs, cost, acc


def kernel_ridge(space, acc):
    return KernelRidgeSurrogate(lambda archs: np.stack([space.features(a) for a in archs]), seed=0)


def gaussian_ucb(space, acc):
    return GaussianProcessUCB(lambda archs: np.stack([space.features(a) for a in archs]))


def source(space, acc):
    return SourceSurrogate(acc)


MAKERS = [gaussian_ucb, kernel_ridge, source]


@pytest.mark.parametrize("make", MAKERS, ids=lambda f: f.__name__)
def test_surrogate_ranks_unseen_networks(tables, make):
    space, archs, _, acc = tables
    rng = np.random.default_rng(0)
    order = rng.permutation(len(archs))
    train = [archs[i] for i in order[:300]]
    test = [archs[i] for i in order[300:1300]]
    surrogate = make(space, acc)
    assert isinstance(surrogate, Surrogate)
    assert surrogate.fit(train, acc.score_many(train)) is surrogate
    predicted = surrogate.predict(test)
    assert predicted.shape == (len(test),) and np.isfinite(predicted).all()
    from scipy.stats import spearmanr
    assert spearmanr(predicted, acc.score_many(test)).statistic > 0.9
    # refit with the chosen hyperparameters on more data: still a ranking, same shape
    more = train + test[:200]
    assert surrogate.refit(more, acc.score_many(more)) is surrogate
    again = surrogate.predict(test[200:])
    assert again.shape == (len(test) - 200,)
    assert spearmanr(again, acc.score_many(test[200:])).statistic > 0.9


@pytest.mark.parametrize("make", [gaussian_ucb, kernel_ridge], ids=lambda f: f.__name__)
def test_fitted_surrogates_are_deterministic(tables, make):
    space, archs, _, acc = tables
    train, test = archs[::50], archs[1::97]
    a = make(space, acc).fit(train, acc.score_many(train)).predict(test)
    b = make(space, acc).fit(train, acc.score_many(train)).predict(test)
    assert np.array_equal(a, b)


def test_gaussian_ucb_is_optimistic_where_nothing_was_queried(tables):
    """The bound is above the mean by kappa standard deviations, most where no
    queried network is near."""
    space, archs, _, acc = tables
    train = [a for a in archs if a.ops[0] != "nor_conv_3x3"][::10]
    unseen = [a for a in archs if a.ops[0] == "nor_conv_3x3"][:100]
    seen = train[:100]
    ucb = gaussian_ucb(space, acc).fit(train, acc.score_many(train))
    mean = GaussianProcessUCB(ucb.features, kappa=0.0)
    mean.scaler_, mean.gp_ = ucb.scaler_, ucb.gp_
    bonus_unseen = ucb.predict(unseen) - mean.predict(unseen)
    bonus_seen = ucb.predict(seen) - mean.predict(seen)
    assert (bonus_seen >= 0).all() and bonus_unseen.mean() > 2 * bonus_seen.mean()


def test_source_surrogate_reads_the_source_itself(tables):
    space, archs, _, acc = tables
    assert np.array_equal(SourceSurrogate(acc).fit([], np.array([])).predict(archs[:50]),
                          acc.score_many(archs[:50]))


class Counting(KernelRidgeSurrogate):
    """The default surrogate, counting its calls (the factory PNAG is given)."""
    fits = predicts = 0

    def fit(self, archs, values):
        Counting.fits += 1
        return super().fit(archs, values)

    def predict(self, archs):
        Counting.predicts += 1
        return super().predict(archs)


def test_pnag_front_sweep_uses_the_given_surrogate_and_spends_the_same_queries(tables):
    space, _, cost, acc = tables
    settings = settings_from("tiny", gen_steps=40, eval_steps=40)
    default = PNAG(space, cost, acc, settings).fit()
    Counting.fits = Counting.predicts = 0
    custom = PNAG(space, cost, acc, settings,
                  surrogate=lambda m: Counting(m.features, m.settings.seed)).fit()
    assert Counting.fits >= 1 and Counting.predicts >= settings.front_budgets
    # the same class as the default, so the same front and the same query count
    assert [(space.format(a), v, c) for a, v, c in custom.front_] == \
        [(space.format(a), v, c) for a, v, c in default.front_]
    # the bound: ranking with the source itself reads it uncounted, queries stay the same
    bound = PNAG(space, cost, acc, settings, surrogate=lambda m: SourceSurrogate(m.accuracy)).fit()
    assert len(bound.archive_) == len(default.archive_)
    assert len(bound.lookups.scores) == len(default.lookups.scores)
