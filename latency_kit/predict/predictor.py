"""The latency predictor: LUT features of an architecture -> whole-network ms.

The raw sum of a profile's block entries is not the latency of the network:
standalone blocks pay layout reorders and per-run overheads that the network
does not, while head layers and late stages run slower inside it (DESIGN.md
§4). :class:`LatencyPredictor` learns that gap from a few whole-network
measurements (the profile's ``calibration.json``), on the features of
:class:`latency_kit.predict.features.FeatureTable`.

This is the scikit-learn face of the predictor. Its engine, and the one fit
of a profile's predictor, is :mod:`latency_kit.predict.ridge` (numpy only);
``Profile.predictor`` is that fit wrapped by :meth:`LatencyPredictor.from_fit`,
not a second fit.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from latency_kit.predict.features import DEFAULT_ALPHA, DEFAULT_FEATURES, PENALTY, FeatureTable, Recipe
from latency_kit.predict.ridge import LinearFit, calibration_data, ridge_fit

# -- the estimator ------------------------------------------------------------
try:  # scikit-learn >= 1.6
    from sklearn.utils.validation import validate_data as _validate_data
except ImportError:  # pragma: no cover - older scikit-learn
    def _validate_data(estimator, X, y="no_validation", reset=True, **kw):  # type: ignore
        return estimator._validate_data(X, y, reset=reset, **kw)

from sklearn.base import BaseEstimator, RegressorMixin  # noqa: E402
from sklearn.utils.validation import _check_sample_weight, check_is_fitted  # noqa: E402

MODELS = ("ridge", "huber", "gbr")


class LatencyPredictor(RegressorMixin, BaseEstimator):
    """Whole-network latency (ms) from a feature matrix of architectures.

    ``X`` is a precomputed feature matrix (see :class:`FeatureTable`); ``y``
    the measured milliseconds. ``features`` names the :class:`FeatureTable`
    columns that :meth:`fit_archs` and :meth:`predict_archs` put in ``X``
    (``fit``/``predict`` take any matrix). ``model`` picks the regressor:

    - ``"ridge"``: linear, with a small L2 penalty on standardised features
      (closed form in numpy: :func:`latency_kit.predict.ridge.ridge_fit`);
    - ``"huber"``: linear, robust to the odd calibration net measured during a
      slow stretch of the machine;
    - ``"gbr"``: gradient-boosted trees (needs many more calibration nets).

    With ``relative=True`` the linear models minimise squared *relative*
    error (sample weights 1/y²), which is what ±5%/±10% accuracy asks for.
    The ``penalised`` features (a :class:`~latency_kit.predict.features.Recipe`'s)
    get the ridge penalty ``penalty`` instead of ``alpha``; ``X`` must then
    have exactly the ``features`` columns. Deterministic for a fixed
    ``random_state``.
    """

    def __init__(self, features: tuple[str, ...] = DEFAULT_FEATURES, model: str = "ridge",
                 alpha: float = DEFAULT_ALPHA, relative: bool = True, n_estimators: int = 200,
                 random_state: int = 0, penalised: tuple[str, ...] = (), penalty: float = PENALTY):
        self.features = features
        self.model = model
        self.alpha = alpha
        self.relative = relative
        self.n_estimators = n_estimators
        self.random_state = random_state
        self.penalised = penalised
        self.penalty = penalty

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.positive_only = True
        return tags

    def fit(self, X, y, sample_weight=None) -> "LatencyPredictor":
        X, y = _validate_data(self, X, y, y_numeric=True, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        weight = _check_sample_weight(sample_weight, X, dtype=np.float64, ensure_non_negative=True)
        if not weight.sum() > 0:
            raise ValueError("sample weights sum to zero; give some positive weight")
        if self.model not in MODELS:
            raise ValueError(f"model must be one of {MODELS}, got {self.model!r}")
        # Every model sees the same standardised features; ridge is the numpy core
        # that profiles use directly (latency_kit.predict.ridge.ridge_fit).
        self.linear_ = ridge_fit(X, y, weight, self._alphas(X.shape[1]), self.relative)
        self.estimator_ = None
        if self.model != "ridge":
            fit_weight = weight / y**2 if self.relative else weight
            self.estimator_ = self._sklearn_estimator()
            fit_weight = fit_weight * (weight.sum() / fit_weight.sum())
            self.estimator_.fit(self._standardise(X), y, sample_weight=fit_weight)
        return self

    @classmethod
    def from_fit(cls, fit: LinearFit, recipe: Recipe) -> "LatencyPredictor":
        """The ridge predictor of ``recipe`` around an engine fit already made, not refitted.

        ``fit`` is :func:`latency_kit.predict.ridge.fit_calibration`'s result
        (``Profile.predictor`` wraps the profile's own fit this way); it
        becomes :attr:`linear_`. ``predict`` then gives ``fit``'s numbers.
        """
        predictor = cls(features=recipe.features, penalised=recipe.penalised)
        predictor.linear_ = fit
        predictor.estimator_ = None
        predictor.n_features_in_ = len(fit.coef)
        return predictor

    def _alphas(self, columns: int) -> float | np.ndarray:
        if not self.penalised:
            return self.alpha
        if columns != len(self.features):
            raise ValueError(f"X has {columns} columns; with penalised features it must have "
                             f"the {len(self.features)} columns of features={self.features}")
        return Recipe(tuple(self.features), tuple(self.penalised)).alphas(self.alpha, self.penalty)

    def _sklearn_estimator(self):
        if self.model == "huber":
            from sklearn.linear_model import HuberRegressor

            return HuberRegressor(alpha=self.alpha, epsilon=1.35, max_iter=1000)
        from sklearn.ensemble import GradientBoostingRegressor

        return GradientBoostingRegressor(n_estimators=self.n_estimators, max_depth=2,
                                         learning_rate=0.05, random_state=self.random_state)

    def _standardise(self, X: np.ndarray) -> np.ndarray:
        return (X - self.linear_.mean) / self.linear_.scale

    def predict(self, X) -> np.ndarray:
        check_is_fitted(self, "linear_")
        X = _validate_data(self, X, reset=False, dtype=np.float64)
        if self.estimator_ is None:
            return self.linear_.predict(X)
        return np.asarray(self.estimator_.predict(self._standardise(X)), dtype=float)

    def fit_archs(self, table: FeatureTable, archs: Sequence[Any], y) -> "LatencyPredictor":
        """Fit on architectures (their ``features`` columns from ``table``)."""
        return self.fit(table.transform(archs, self.features), y)

    def predict_archs(self, table: FeatureTable, archs: Sequence[Any]) -> np.ndarray:
        """Predicted ms of architectures (their ``features`` columns from ``table``)."""
        return self.predict(table.transform(archs, self.features))


def fit_predictor(table: FeatureTable, entries: Sequence[dict[str, Any]],
                  **params: Any) -> LatencyPredictor | None:
    """Fit a predictor on calibration ``entries`` (``{"arch", "stats"}``); ``None`` if empty.

    Deterministic: the same entries give the same predictor on every load.
    """
    if not entries:
        return None
    recipe = table.recipe
    predictor = LatencyPredictor(**{"features": recipe.features, "penalised": recipe.penalised,
                                    **params})
    return predictor.fit(*calibration_data(table, entries, predictor.features))
