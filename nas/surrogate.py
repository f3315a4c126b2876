"""A regression surrogate of the accuracy source, for ranking within one budget.

PNAG's evaluator R(alpha | B) learns the Pareto dominance rule over all
budgets at once. Where every candidate already fits the budget, dominance is
plain accuracy order, and a regression of the queried accuracies ranks
better: on ``ofa-mbv3`` with OFA's predictor as the accuracy source and the
Note10 table, fitted on a trained model's 665 queried networks, kernel ridge
regression reached Spearman 0.85 against the source on 1,000 networks under
45 ms drawn from an evolutionary search, R 0.66, linear ridge 0.82, a
Gaussian process with fitted kernel 0.79 (2026-11-29, this project's machine).

:class:`AccuracySurrogate` is that regression: kernel ridge with an RBF
kernel on standardised ``space.features``, its penalty and kernel width
chosen by 3-fold cross-validation (scikit-learn's ``GridSearchCV``).
"""

from __future__ import annotations

import numpy as np

ALPHAS = (0.03, 0.1, 0.3, 1.0)
WIDTHS = (0.1, 0.3, 1.0)  # RBF gamma times the feature count


class AccuracySurrogate:
    """Predicts the accuracy source's value from architecture features.

    ``fit(X (n, d), y (n,))`` returns self; ``predict(X (m, d))`` gives (m,)
    values in the accuracy source's unit. ``refit(X, y)`` refits with the
    hyperparameters of the last cross-validated fit (cheap, for a loop).
    """

    def __init__(self, seed: int = 0):
        self.seed = seed

    def fit(self, features: np.ndarray, values: np.ndarray) -> "AccuracySurrogate":
        from sklearn.kernel_ridge import KernelRidge
        from sklearn.model_selection import GridSearchCV, KFold
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        x, y = self._prepare(features, values)
        d = max(1, x.shape[1])
        grid = {"kernelridge__alpha": list(ALPHAS),
                "kernelridge__gamma": [w / d for w in WIDTHS]}
        pipe = make_pipeline(StandardScaler(), KernelRidge(kernel="rbf"))
        if len(y) >= 9:
            search = GridSearchCV(pipe, grid, cv=KFold(3, shuffle=True, random_state=self.seed))
            self.params_ = search.fit(x, y).best_params_
        else:
            self.params_ = {"kernelridge__alpha": 1.0, "kernelridge__gamma": WIDTHS[1] / d}
        return self.refit(features, values)

    def refit(self, features: np.ndarray, values: np.ndarray) -> "AccuracySurrogate":
        from sklearn.kernel_ridge import KernelRidge
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        x, y = self._prepare(features, values)
        self.model_ = make_pipeline(StandardScaler(), KernelRidge(kernel="rbf"))
        self.model_.set_params(**self.params_).fit(x, y)
        return self

    def predict(self, features: np.ndarray) -> np.ndarray:
        return self.model_.predict(np.asarray(features, dtype=float)) * self.scale_ + self.mean_

    def _prepare(self, features: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        y = np.asarray(values, dtype=float)
        self.mean_, self.scale_ = float(y.mean()), float(y.std()) or 1.0
        return np.asarray(features, dtype=float), (y - self.mean_) / self.scale_
