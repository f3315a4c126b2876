"""Held-out errors of a latency predictor: what a budget margin is built from.

A predicted latency is off by some factor, and an answer that fits its budget
on the prediction may not fit on the device. The errors a predictor makes on
networks it was *not* fitted on say by how much. They are kept as residuals
``log(true ms) - log(predicted ms)``, in groups that are held out together:

* a calibrated profile (:func:`calibration_errors`): each calibration network
  is predicted by the fit on all the others (leave-one-out), one group per
  network; residuals are in log ms (``scale`` 1);
* a few-shot profile (:func:`transfer_errors`): each *source device* in turn
  plays the new device. Its reference latencies, times measurement noise,
  fit the transfer from the other sources, which then predicts the source's
  whole pool. One group per source device. Residuals are divided by that
  transfer's own leave-one-out error, so a bound on them is in units of a
  device's error; ``scale`` is the target device's own leave-one-out error
  (log ms), which turns such a bound back into log ms.

:mod:`latency_kit.predict.margin` turns these into a split-conformal margin
with its coverage measured group by group. Nothing here imports
scikit-learn or torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from latency_kit.predict.ridge import ridge_fit
from latency_kit.predict.transfer import ARCH_WEIGHT, DEFAULT_ALPHAS, FewShotTransfer, SourceScale

LOG_ERROR_FLOOR = 0.01  # a transfer's leave-one-out error below 1% is taken as 1%


@dataclass(frozen=True)
class HeldOutErrors:
    """Held-out residuals of one predictor, grouped by what was held out together.

    ``groups`` maps a group name (a network, a source device) to its
    residuals in units of ``scale`` log ms; ``basis`` says in words what was
    held out (for messages: "30 calibration networks, each left out");
    ``by_device`` is true when the groups are devices.
    """

    groups: dict[str, np.ndarray]
    scale: float
    basis: str
    by_device: bool = False  # groups are devices (a transfer), not networks

    @property
    def cases(self) -> int:
        return int(sum(len(r) for r in self.groups.values()))


def error_scale(loo_rmse_log: float) -> float:
    """A transfer's unit of error (log ms): its leave-one-out RMSE, at least
    :data:`LOG_ERROR_FLOOR`."""
    return max(float(loo_rmse_log), LOG_ERROR_FLOOR)


def calibration_errors(X: np.ndarray, y_ms: np.ndarray,
                       alphas: float | np.ndarray) -> HeldOutErrors | None:
    """Leave-one-out residuals of a profile's calibrated predictor.

    ``X`` is the (n, k) feature matrix of the n calibration networks and
    ``y_ms`` their (n,) measured ms; the predictor is refitted without each
    network in turn (:func:`latency_kit.predict.ridge.ridge_fit`, relative
    error, penalties ``alphas``) and predicts it. ``None`` with fewer than 3
    networks (too few to hold one out).
    """
    X, y = np.asarray(X, dtype=float), np.asarray(y_ms, dtype=float)
    n = len(y)
    if n < 3:
        return None
    groups = {}
    for i in range(n):
        keep = np.arange(n) != i
        fit = ridge_fit(X[keep], y[keep], np.ones(n - 1), alphas, relative=True)
        predicted = float(fit.predict(X[i:i + 1])[0])
        if predicted > 0 and y[i] > 0:
            groups[f"network {i}"] = np.array([np.log(y[i]) - np.log(predicted)])
    return HeldOutErrors(groups, 1.0, f"{n} calibration networks, each left out")


def transfer_errors(names: Sequence[str], ref_ms: np.ndarray, ref_feats: np.ndarray | None,
                    pool_ms: np.ndarray, pool_feats: np.ndarray | None, own_loo: float, *,
                    keep: np.ndarray | None = None, noise: float = 0.05, draws: int = 3,
                    seed: int = 0, alphas: Sequence[float] = DEFAULT_ALPHAS,
                    arch_weight: float = ARCH_WEIGHT) -> HeldOutErrors | None:
    """Held-out residuals of the few-shot transfer, one source device left out at a time.

    ``ref_ms`` (R, K): the K source devices' ms on the R reference
    architectures (features ``ref_feats``, (R, F)); ``pool_ms`` (P, K) and
    ``pool_feats`` (P, F): the same over a pool of architectures. Source k's
    reference ms, times ``exp(N(0, noise))`` (measurement noise; ``draws``
    draws, seeded by ``seed``), fit :class:`FewShotTransfer` from the other
    sources; its residuals over the pool (rows where ``keep``, default all)
    are divided by that fit's :func:`error_scale`. ``own_loo`` is the target
    device's own leave-one-out error (log ms), the result's ``scale``.
    ``None`` with fewer than 2 sources (nothing to leave out).
    """
    names = list(names)
    if len(names) < 2:
        return None
    rng = np.random.default_rng(seed)
    keep = np.ones(len(pool_ms), dtype=bool) if keep is None else np.asarray(keep, dtype=bool)
    groups = {}
    for k, name in enumerate(names):
        others = [j for j in range(len(names)) if j != k]
        scale = SourceScale.fit(pool_ms[:, others])
        z_refs, z_pool = scale.transform(ref_ms[:, others]), scale.transform(pool_ms[:, others])
        true = pool_ms[:, k]
        parts = []
        for _ in range(max(1, draws)):
            refs = ref_ms[:, k] * np.exp(rng.normal(0.0, noise, len(ref_ms)))
            model = FewShotTransfer(alphas, arch_weight).fit(z_refs, refs, ref_feats)
            pred = model.predict(z_pool, pool_feats)
            ok = keep & np.isfinite(true) & (true > 0) & np.isfinite(pred) & (pred > 0)
            parts.append((np.log(true[ok]) - np.log(pred[ok])) / error_scale(model.loo_rmse_log_))
        groups[name] = np.concatenate(parts)
    return HeldOutErrors(groups, error_scale(own_loo),
                         f"{len(names)} source devices, each left out and predicted from the "
                         f"others and {len(ref_ms)} reference measurements", by_device=True)
