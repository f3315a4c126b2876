"""The latency predictor's fit: weighted ridge in numpy, and the one fit of a profile.

A profile's predictor is fitted here and only here (:func:`fit_calibration`):
ridge on the profile's recipe (:attr:`latency_kit.predict.features.FeatureTable.recipe`)
over its calibration networks, relative error, closed form. ``Profile.predict``
uses the fitted :class:`LinearFit`; ``Profile.predictor`` wraps the same
object in the scikit-learn estimator
(:meth:`latency_kit.predict.predictor.LatencyPredictor.from_fit`), so both give
the same numbers from one fit. Nothing here imports scikit-learn, so loading a
profile and fitting stays well under a second.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from latency_kit.predict.features import FeatureTable, Recipe


def ridge_fit(X: np.ndarray, y: np.ndarray, weight: np.ndarray, alpha: float | np.ndarray,
              relative: bool) -> "LinearFit":
    """Weighted ridge on standardised features; ``relative`` weights rows by 1/y².

    ``X`` is (n, k) features, ``y`` (n,) measured ms, ``weight`` (n,) sample
    weights; ``alpha`` is one penalty for every column or (k,), one per
    column. Returns a :class:`LinearFit` whose ``predict`` gives ms. Equivalent
    to scikit-learn's ``Ridge`` with sample weights on the standardised
    matrix (the intercept is not penalised).
    """
    fit_weight = weight / np.maximum(np.abs(y), 1e-12) ** 2 if relative else weight
    fit_weight = fit_weight * (weight.sum() / fit_weight.sum())  # same total as the user's
    mean = np.average(X, axis=0, weights=weight)
    scale = np.sqrt(np.average((X - mean) ** 2, axis=0, weights=weight))
    scale = np.where(scale > 1e-12 * np.maximum(1.0, np.abs(mean)), scale, 1.0)
    Z = (X - mean) / scale
    z_mean = np.average(Z, axis=0, weights=fit_weight)
    y_mean = float(np.average(y, weights=fit_weight))
    Zc, yc = Z - z_mean, y - y_mean
    penalty = np.broadcast_to(np.asarray(alpha, dtype=float), (Z.shape[1],))
    gram = (Zc * fit_weight[:, None]).T @ Zc + np.diag(penalty)
    coef = np.linalg.lstsq(gram, (Zc * fit_weight[:, None]).T @ yc, rcond=None)[0]
    return LinearFit(mean, scale, coef, y_mean - float(z_mean @ coef))


class LinearFit:
    """A fitted linear model on standardised features: ``((X - mean) / scale) @ coef + b``."""

    def __init__(self, mean: np.ndarray, scale: np.ndarray, coef: np.ndarray, intercept: float):
        self.mean, self.scale, self.coef, self.intercept = mean, scale, coef, intercept

    def predict(self, X: np.ndarray) -> np.ndarray:
        """(n,) predictions (ms) for an (n, k) feature matrix."""
        return ((np.asarray(X, float) - self.mean) / self.scale) @ self.coef + self.intercept


def calibration_data(table: FeatureTable, entries: Sequence[dict[str, Any]],
                     names: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Feature matrix (architectures x ``names``) and measured ms of calibration
    ``entries`` (``{"arch", "stats"}``, as in ``calibration.json``)."""
    archs = [table.space.parse(e["arch"]) for e in entries]
    y = np.array([float(e["stats"]["median_ms"]) for e in entries])
    return table.transform(archs, names), y


def fit_calibration(table: FeatureTable, entries: Sequence[dict[str, Any]]) -> LinearFit | None:
    """A profile's predictor: ridge on ``table.recipe``, relative error; ``None`` without entries.

    Deterministic (a closed-form solve), so every load gives the same model;
    the same numbers as ``LatencyPredictor`` with the recipe's features fitted
    on the same entries.
    """
    if not entries:
        return None
    X, y = calibration_data(table, entries, table.recipe.features)
    return ridge_fit(X, y, np.ones(len(y)), table.recipe.alphas(), relative=True)


def describe(recipe: Recipe) -> str:
    """How :func:`fit_calibration` predicts with ``recipe``, as one line (in NAS cache keys)."""
    alphas = ",".join(f"{a:g}" for a in recipe.alphas())
    return f"ridge({','.join(recipe.features)}; alpha {alphas})"
