"""Accuracy surrogates: rank architectures within one budget in the front sweep.

PNAG's evaluator R(alpha | B) learns the Pareto dominance rule over all
budgets at once. Where every candidate already fits the budget, dominance is
plain accuracy order, and a regression of the queried accuracies ranks
better: on ``ofa-mbv3`` with OFA's predictor as the accuracy source and the
Note10 table, fitted on a trained model's 665 queried networks, kernel ridge
regression reached Spearman 0.85 against the source on 1,000 networks under
45 ms drawn from an evolutionary search, R 0.66, linear ridge 0.82, a
Gaussian process with fitted kernel 0.79 (2026-11-29, this project's machine).

Ranking alone is not the whole job, though: the sweep queries what the
surrogate rates best, and a surrogate fitted on a few hundred networks rates
the regions nobody queried too low (on Note10 it rated the best networks
found by a 50x-query evolution 1.3-1.6 pp below their true value).
:class:`GaussianProcessUCB` ranks by a Gaussian process's upper confidence
bound (mean + one standard deviation), so the sweep also tries networks it is
unsure of. On Note10 it cut the gap to EVO@50x from 0.85 / 1.01 / 0.93 pp
(kernel ridge, seeds 0-2) to 0.56 / 0.77 / 0.78 pp; on NAS-Bench-201
ImageNet16-120, where 665 queries cover 4% of the space, the exploration
cost regret (0.185 -> 0.199 pp mean over 12 settings, with half the bonus),
against a goal of 0.2 pp (``benchmarks/nas_surrogate_gap.py``,
``benchmarks/nas_nb201.py``, 2026-11-30). So kernel ridge stays the default.

The extension point is :class:`Surrogate`: ``fit(archs, values)``, ``refit``
and ``predict(archs)``. :class:`PNAG <nas.pnag.PNAG>` takes a factory for one
(``surrogate=``); the default is :class:`KernelRidgeSurrogate`::

    PNAG(space, cost, accuracy, surrogate=lambda m: GaussianProcessUCB(m.features))

:class:`SourceSurrogate` ranks with the accuracy source itself, uncounted: a
bound for benchmarks (``benchmarks/nas_surrogate_gap.py``), never a method.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Callable, Sequence

import numpy as np

ALPHAS = (0.03, 0.1, 0.3, 1.0)
WIDTHS = (0.1, 0.3, 1.0)  # RBF gamma times the feature count

Features = Callable[[Sequence[Any]], np.ndarray]


class Surrogate(ABC):
    """Predicts the accuracy source's value of architectures from the queried ones.

    ``fit(archs, values (n,))`` returns self and may choose hyperparameters;
    ``refit`` refits with the last ones (cheap, for a loop; by default a
    ``fit``); ``predict(archs)`` gives (m,) values in the accuracy source's
    unit. The front sweep fits one after every budget, so ``fit`` and
    ``refit`` should take well under a second on a thousand networks.
    """

    @abstractmethod
    def fit(self, archs: Sequence[Any], values: np.ndarray) -> "Surrogate":
        """Fit on ``archs`` and their ``values`` (n,); returns self."""

    def refit(self, archs: Sequence[Any], values: np.ndarray) -> "Surrogate":
        return self.fit(archs, values)

    @abstractmethod
    def predict(self, archs: Sequence[Any]) -> np.ndarray:
        """Predicted values (m,) of ``archs``, in the accuracy source's unit."""


class KernelRidgeSurrogate(Surrogate):
    """Kernel ridge with an RBF kernel on standardised architecture features.

    ``features(archs)`` gives an (n, d) matrix (PNAG passes the space's
    one-hot ``features``, memoised). The penalty and kernel width are chosen
    by 3-fold cross-validation (scikit-learn's ``GridSearchCV``) in ``fit``
    and kept by ``refit``.
    """

    def __init__(self, features: Features, seed: int = 0):
        self.features, self.seed = features, seed

    def fit(self, archs: Sequence[Any], values: np.ndarray) -> "KernelRidgeSurrogate":
        from sklearn.model_selection import GridSearchCV, KFold

        x, y = self._prepare(archs, values)
        d = max(1, x.shape[1])
        grid = {"kernelridge__alpha": list(ALPHAS),
                "kernelridge__gamma": [w / d for w in WIDTHS]}
        if len(y) >= 9:
            search = GridSearchCV(_pipeline(), grid, cv=KFold(3, shuffle=True, random_state=self.seed))
            self.params_ = search.fit(x, y).best_params_
        else:
            self.params_ = {"kernelridge__alpha": 1.0, "kernelridge__gamma": WIDTHS[1] / d}
        return self.refit(archs, values)

    def refit(self, archs: Sequence[Any], values: np.ndarray) -> "KernelRidgeSurrogate":
        x, y = self._prepare(archs, values)
        self.model_ = _pipeline().set_params(**self.params_).fit(x, y)
        return self

    def predict(self, archs: Sequence[Any]) -> np.ndarray:
        x = np.asarray(self.features(archs), dtype=float)
        return self.model_.predict(x) * self.scale_ + self.mean_

    def _prepare(self, archs: Sequence[Any], values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        y = np.asarray(values, dtype=float)
        self.mean_, self.scale_ = float(y.mean()), float(y.std()) or 1.0
        return np.asarray(self.features(archs), dtype=float), (y - self.mean_) / self.scale_


class GaussianProcessUCB(Surrogate):
    """A Gaussian process's upper confidence bound on standardised features.

    Kernel: constant x RBF (one length scale) + white noise, ``normalize_y``;
    its hyperparameters are fitted by maximum likelihood (scikit-learn's
    ``GaussianProcessRegressor``, L-BFGS-B from fixed starting values, so a
    fit is deterministic) in ``fit`` and kept by ``refit``. ``predict`` gives
    mean + ``kappa`` x standard deviation, in the accuracy source's unit.
    """

    def __init__(self, features: Features, kappa: float = 1.0):
        self.features, self.kappa = features, kappa

    def fit(self, archs: Sequence[Any], values: np.ndarray) -> "GaussianProcessUCB":
        from sklearn.gaussian_process.kernels import RBF, ConstantKernel, WhiteKernel

        return self._fit(archs, values, ConstantKernel(1.0) * RBF(10.0) + WhiteKernel(0.1), True)

    def refit(self, archs: Sequence[Any], values: np.ndarray) -> "GaussianProcessUCB":
        return self._fit(archs, values, self.gp_.kernel_, False)

    def _fit(self, archs: Sequence[Any], values: np.ndarray, kernel: Any,
             optimise: bool) -> "GaussianProcessUCB":
        import warnings

        from sklearn.exceptions import ConvergenceWarning
        from sklearn.gaussian_process import GaussianProcessRegressor
        from sklearn.preprocessing import StandardScaler

        x = np.asarray(self.features(archs), dtype=float)
        self.scaler_ = StandardScaler().fit(x)
        self.gp_ = GaussianProcessRegressor(kernel, normalize_y=True,
                                            optimizer="fmin_l_bfgs_b" if optimise else None)
        with warnings.catch_warnings():  # a bound reached is fine for a ranking
            warnings.simplefilter("ignore", ConvergenceWarning)
            self.gp_.fit(self.scaler_.transform(x), np.asarray(values, dtype=float))
        return self

    def predict(self, archs: Sequence[Any]) -> np.ndarray:
        x = self.scaler_.transform(np.asarray(self.features(archs), dtype=float))
        mean, std = self.gp_.predict(x, return_std=True)
        return mean + self.kappa * std


class SourceSurrogate(Surrogate):
    """Ranks with the accuracy source itself, without counting its queries.

    A bound for benchmarks: with it the front sweep ranks by the truth, so
    the gap left between a sweep with it and one with a fitted surrogate is
    what the surrogate does not know. Never a way to answer a budget: the
    source's reads here are not counted as accuracy queries.
    """

    def __init__(self, accuracy: Any):
        self.accuracy = accuracy

    def fit(self, archs: Sequence[Any], values: np.ndarray) -> "SourceSurrogate":
        return self

    def predict(self, archs: Sequence[Any]) -> np.ndarray:
        return np.asarray(self.accuracy.score_many(list(archs)), dtype=float)


def _pipeline() -> Any:
    from sklearn.kernel_ridge import KernelRidge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), KernelRidge(kernel="rbf"))
