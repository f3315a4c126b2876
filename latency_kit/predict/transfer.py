"""Few-shot latency transfer: predict a new device from N whole-network measurements.

The idea (measured on HELP's NAS-Bench-201 tables, see
``benchmarks/results_fewshot.md``): latency rankings of different devices are
largely spanned by each other, so the new device's log-latency is modelled as
a linear function of the *source* devices' log-latencies of the same
architecture, plus a small per-decision term for what no source device sees::

    log t_new(a) ~ b + c * mean_k z_k(a) + sum_k w_k z_k(a) + sum_j v_j onehot_j(a)

``z_k`` is source device k's log-latency standardised over a pool of
architectures. The mean-of-sources term is unpenalised (the prior "the new
device ranks like the average device"); ``w`` and ``v`` are ridge-penalised,
with the penalty chosen by exact leave-one-out error on the N measurements.
Everything is a closed form, so a stored profile refits identically.

The N reference architectures are chosen by farthest-point sampling in the
same feature space over a pool of candidates, so they cover the directions in
which devices disagree. Nothing here needs a particular search space: the pool
is every architecture of a small space (or of the source tables) or a seeded
sample of a large one, and the per-decision term uses ``space.features``.
Reference pools leave out degenerate architectures (:func:`usable`).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from latency_kit.errors import LatkitError

DEFAULT_ALPHAS = (0.01, 0.1, 1.0, 10.0, 100.0)
ARCH_WEIGHT = 0.5        # scale of the one-hot decision features next to standardised sources
LOG_FLOOR_MS = 1e-3      # some tables hold ~0 ms for degenerate architectures
MIN_MEASUREMENTS = 3
TYPICAL_Z = 2.0          # reference candidates: every source within 2 sd of its pool mean
ENUMERATE_LIMIT = 20_000  # spaces at most this large are enumerated whole
SAMPLED_POOL = 2_000      # pool size for larger spaces


def log_ms(values: Any) -> np.ndarray:
    """Natural log of milliseconds, floored so near-zero table entries stay finite."""
    return np.log(np.maximum(np.asarray(values, dtype=float), LOG_FLOOR_MS))


@dataclass(frozen=True)
class SourceScale:
    """Per-source mean and spread of log-latency over the candidate pool."""

    mean: np.ndarray
    scale: np.ndarray

    @classmethod
    def fit(cls, source_ms: np.ndarray) -> "SourceScale":
        logs = log_ms(source_ms)
        scale = logs.std(axis=0)
        return cls(logs.mean(axis=0), np.where(scale > 1e-12, scale, 1.0))

    def transform(self, source_ms: np.ndarray) -> np.ndarray:
        return (log_ms(source_ms) - self.mean) / self.scale

    def to_dict(self) -> dict[str, list[float]]:
        return {"mean": [float(v) for v in self.mean], "scale": [float(v) for v in self.scale]}

    @classmethod
    def from_dict(cls, data: dict[str, Sequence[float]]) -> "SourceScale":
        return cls(np.asarray(data["mean"], dtype=float), np.asarray(data["scale"], dtype=float))


def design(z: np.ndarray, arch_features: np.ndarray | None,
           arch_weight: float = ARCH_WEIGHT) -> tuple[np.ndarray, np.ndarray]:
    """(unpenalised columns, penalised columns) of the transfer model."""
    z = np.asarray(z, dtype=float)
    mean = z.mean(axis=1) if z.shape[1] else np.zeros(len(z))
    free = np.c_[np.ones(len(z)), mean]
    if arch_features is None or arch_weight == 0:
        return free, z
    return free, np.c_[z, arch_weight * np.asarray(arch_features, dtype=float)]


def _solve(free: np.ndarray, pen: np.ndarray, y: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    design_ = np.c_[free, pen]
    penalty = np.r_[np.zeros(free.shape[1]), np.full(pen.shape[1], alpha)]
    gram = design_.T @ design_ + np.diag(penalty) + 1e-9 * np.eye(design_.shape[1])
    hat_inv = np.linalg.solve(gram, design_.T)
    return hat_inv @ y, design_ @ hat_inv


class FewShotTransfer:
    """Ridge transfer from source-device latencies to a new device (sklearn style).

    ``fit(z, y_ms, arch_features)`` takes standardised source log-latencies
    ``z`` (n x K, from :class:`SourceScale`), the new device's measured ms and
    optional per-decision features; ``predict`` returns milliseconds.
    """

    def __init__(self, alphas: Sequence[float] = DEFAULT_ALPHAS, arch_weight: float = ARCH_WEIGHT):
        self.alphas = alphas
        self.arch_weight = arch_weight

    def fit(self, z: np.ndarray, y_ms: Sequence[float],
            arch_features: np.ndarray | None = None) -> "FewShotTransfer":
        y = log_ms(y_ms)
        if len(y) < MIN_MEASUREMENTS:
            raise LatkitError(f"few-shot transfer needs at least {MIN_MEASUREMENTS} measurements, "
                              f"got {len(y)}")
        free, pen = design(z, arch_features, self.arch_weight)
        best: tuple[float, float] | None = None
        for alpha in self.alphas:
            _, hat = _solve(free, pen, y, float(alpha))
            leverage = np.minimum(np.diag(hat), 1 - 1e-6)
            loo = float(np.mean(((y - hat @ y) / (1 - leverage)) ** 2))
            if best is None or loo < best[0] - 1e-12:
                best = (loo, float(alpha))
        assert best is not None
        self.alpha_ = best[1]
        self.loo_rmse_log_ = math.sqrt(best[0])
        self.coef_, hat = _solve(free, pen, y, self.alpha_)
        self.train_rmse_log_ = float(np.sqrt(np.mean((hat @ y - y) ** 2)))
        return self

    def predict(self, z: np.ndarray, arch_features: np.ndarray | None = None) -> np.ndarray:
        free, pen = design(z, arch_features, self.arch_weight)
        return np.exp(np.c_[free, pen] @ self.coef_)


def select_references(z_pool: np.ndarray, arch_features: np.ndarray | None, n: int,
                      arch_weight: float = ARCH_WEIGHT, typical_z: float = TYPICAL_Z) -> list[int]:
    """Indices of ``n`` diverse pool rows (farthest-point sampling).

    Candidates are the *typical* rows (every source within ``typical_z``
    standard deviations; all rows if too few are typical): near-zero
    degenerate networks would otherwise be picked first, and their latency is
    mostly a timer floor. Starts from the row closest to the median mean
    source log-latency, then repeatedly adds the candidate farthest from every
    row chosen so far. Deterministic; ties break on the lower index.
    """
    if n > len(z_pool):
        raise LatkitError(f"asked for {n} reference architectures but only {len(z_pool)} "
                          f"candidates exist; use -n 1..{len(z_pool)}")
    if n < 1:
        raise LatkitError("the number of reference architectures must be at least 1")
    z_pool = np.asarray(z_pool, dtype=float)
    spread = np.abs(z_pool).max(axis=1) if z_pool.shape[1] else np.zeros(len(z_pool))
    typical = np.flatnonzero(spread <= typical_z)
    if len(typical) < n:
        typical = np.arange(len(z_pool))
    free, pen = design(z_pool[typical],
                       None if arch_features is None else arch_features[typical], arch_weight)
    points = np.c_[free[:, 1:], pen]
    mean = free[:, 1]
    start = int(np.argmin(np.abs(mean - np.median(mean))))
    chosen = [start]
    dist = np.linalg.norm(points - points[start], axis=1)
    while len(chosen) < n:
        dist[chosen] = -1.0
        nxt = int(np.argmax(dist))
        chosen.append(nxt)
        dist = np.minimum(dist, np.linalg.norm(points - points[nxt], axis=1))
    return [int(typical[i]) for i in chosen]


def space_size(space: Any) -> int:
    """Number of decision combinations of ``space`` (an upper bound on its size)."""
    return math.prod(len(d.choices) for d in space.decisions())


def usable(space: Any, archs: Sequence[Any]) -> list[Any]:
    """``archs`` without the degenerate ones (:meth:`SearchSpace.is_degenerate`).

    A degenerate architecture's output ignores its input (e.g. a NAS-Bench-201
    cell whose every path to the output passes through ``none``). Devices
    measure them inconsistently (in HELP's tables most take under 0.1 ms on
    pixel3 and several ms on the Xeons), and their accuracy is chance, so they
    make poor reference architectures.
    """
    return [a for a in archs if not space.is_degenerate(a)]


def candidate_pool(space: Any, limit: int = ENUMERATE_LIMIT, sample: int = SAMPLED_POOL,
                   seed: int = 0) -> list[Any]:
    """Every architecture of a small space, else a seeded sample of distinct ones."""
    decisions = space.decisions()
    if space_size(space) <= limit:
        seen: dict[Any, None] = {}
        for combo in itertools.product(*(range(len(d.choices)) for d in decisions)):
            seen.setdefault(space.decode(list(combo)), None)
        return list(seen)
    rng = np.random.default_rng(seed)
    seen = {}
    for _ in range(sample * 5):
        seen.setdefault(space.sample(rng), None)
        if len(seen) >= sample:
            break
    return list(seen)


def arch_features(space: Any, archs: Sequence[Any]) -> np.ndarray:
    """One-hot decision features of ``archs`` (``space.features``), stacked."""
    return np.stack([space.features(a) for a in archs]).astype(float)
